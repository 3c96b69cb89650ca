//! Server configuration: flags, each with an environment variable.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use crate::storage::metadata::redact_url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Parser)]
#[command(
    name = "drive-server",
    version,
    about = "The drive server: accounts, files, blocks, changes feed"
)]
pub struct Config {
    /// Directory for the embedded SQLite database, the blob store and the server's keys.
    #[arg(long, env = "DRIVE_DATA_DIR")]
    pub data_dir: PathBuf,

    /// The metadata database: `postgres://USER:PASSWORD@HOST/DB` for several
    /// instances sharing one database; SQLite in DATA_DIR/metadata.db when not given.
    #[arg(long, env = "DRIVE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "DRIVE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Base URL clients reach this server at; presigned URLs start with it.
    /// Defaults to http://<bound address>.
    #[arg(long, env = "DRIVE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Secret for signing access tokens and blob URLs. Generated and kept in
    /// DATA_DIR/secret when not given; several instances must share one.
    #[arg(long, env = "DRIVE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Storage quota of a new account, in bytes.
    #[arg(long, env = "DRIVE_DEFAULT_QUOTA", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub default_quota: u64,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "DRIVE_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,

    /// Lifetime of an unused refresh token (a session), in seconds.
    #[arg(long, env = "DRIVE_REFRESH_TOKEN_TTL", default_value_t = 60 * 24 * 3600)]
    pub refresh_token_ttl: u64,

    /// Lifetime of a presigned block URL, in seconds.
    #[arg(long, env = "DRIVE_PRESIGN_TTL", default_value_t = 900)]
    pub presign_ttl: u64,

    /// Lifetime of a presigned profile photo URL, in seconds.
    #[arg(long, env = "DRIVE_PHOTO_URL_TTL", default_value_t = 300)]
    pub photo_url_ttl: u64,

    /// Do not process profile photo jobs in this instance: they wait in the
    /// database for an instance that does (or for this one's next start).
    #[arg(long, env = "DRIVE_NO_PHOTO_WORKER")]
    pub no_photo_worker: bool,

    /// Login attempts allowed per minute for one account.
    #[arg(long, env = "DRIVE_LOGIN_RATE_PER_ACCOUNT", default_value_t = 10)]
    pub login_rate_per_account: u32,

    /// Login attempts allowed per minute from one address.
    #[arg(long, env = "DRIVE_LOGIN_RATE_PER_IP", default_value_t = 60)]
    pub login_rate_per_ip: u32,

    /// Log format on standard error.
    #[arg(long, env = "DRIVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Check the database and blob store for consistency, print what is wrong and exit.
    #[arg(long)]
    pub check: bool,
}

impl Config {
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl)
    }

    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl)
    }

    pub fn presign_ttl(&self) -> Duration {
        Duration::from_secs(self.presign_ttl)
    }

    pub fn photo_url_ttl(&self) -> Duration {
        Duration::from_secs(self.photo_url_ttl)
    }

    /// `--database-url`, or the embedded default.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("metadata.db").display()))
    }
}

/// Printed at start: every setting, secrets masked.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data_dir = {}", self.data_dir.display())?;
        writeln!(f, "database_url = {}", redact_url(&self.database_url()))?;
        writeln!(f, "listen = {}", self.listen)?;
        writeln!(
            f,
            "public_url = {}",
            self.public_url.as_deref().unwrap_or("(http://<bound address>)")
        )?;
        writeln!(
            f,
            "secret = {}",
            if self.secret.is_some() {
                "****"
            } else {
                "(DATA_DIR/secret)"
            }
        )?;
        writeln!(f, "default_quota = {}", self.default_quota)?;
        writeln!(f, "access_token_ttl = {} s", self.access_token_ttl)?;
        writeln!(f, "refresh_token_ttl = {} s", self.refresh_token_ttl)?;
        writeln!(f, "presign_ttl = {} s", self.presign_ttl)?;
        writeln!(f, "photo_url_ttl = {} s", self.photo_url_ttl)?;
        writeln!(f, "photo_worker = {}", !self.no_photo_worker)?;
        writeln!(f, "login_rate_per_account = {}/min", self.login_rate_per_account)?;
        writeln!(f, "login_rate_per_ip = {}/min", self.login_rate_per_ip)?;
        write!(f, "log_format = {:?}", self.log_format)
    }
}
