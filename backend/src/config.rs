//! Server configuration: flags, each with an environment variable.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};

use crate::{auth::client_ip::Cidr, storage::metadata::redact_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BlobStoreKind {
    /// Files under DATA_DIR, served by this server through its own presigned URLs.
    Local,
    /// An S3-compatible object store; clients reach it directly.
    S3,
}

/// Who may create an account through `POST /api/v1/auth/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Anyone who can reach the server.
    Open,
    /// Only with a single-use invite token (`drive-server invite create`).
    Invite,
    /// Nobody: accounts are made with `drive-server user add`.
    Closed,
}

#[derive(Clone, Parser)]
#[command(
    name = "drive-server",
    version,
    about = "The drive server: accounts, files, blocks, changes feed",
    after_help = "Without a command, serves. The commands act directly on the database of \
                  --data-dir (or --database-url) and exit; they may run while the server runs:\n  \
                  drive-server --data-dir DIR user add EMAIL      (password read from standard input)\n  \
                  drive-server --data-dir DIR user list\n  \
                  drive-server --data-dir DIR user disable EMAIL\n  \
                  drive-server --data-dir DIR user enable EMAIL\n  \
                  drive-server --data-dir DIR invite create [--expires 7d]"
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

    /// Where block bytes and photo objects are kept.
    #[arg(long, env = "DRIVE_BLOB_STORE", value_enum, default_value_t = BlobStoreKind::Local)]
    pub blob_store: BlobStoreKind,

    /// S3 endpoint URL, e.g. http://127.0.0.1:3900 (default: AWS).
    #[arg(long, env = "DRIVE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// The S3 endpoint as clients reach it, for the presigned URLs they get,
    /// when the server reaches the store by an internal name (default:
    /// --s3-endpoint). The URLs are signed for this host: a proxy in front
    /// of the store must pass the Host header through.
    #[arg(long, env = "DRIVE_S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,

    /// S3 region (default: the AWS SDK's chain, e.g. AWS_REGION).
    #[arg(long, env = "DRIVE_S3_REGION")]
    pub s3_region: Option<String>,

    /// S3 bucket (required with --blob-store s3).
    #[arg(long, env = "DRIVE_S3_BUCKET", required_if_eq("blob_store", "s3"))]
    pub s3_bucket: Option<String>,

    /// Prefix of every object key, so several deployments can share a bucket.
    #[arg(long, env = "DRIVE_S3_PREFIX", default_value = "")]
    pub s3_prefix: String,

    /// Path-style addressing (http://host/bucket/key), as Garage and MinIO want.
    #[arg(long, env = "DRIVE_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// S3 access key id. Without it (and the secret) the AWS SDK's default
    /// chain is used: environment, profile, web identity, instance role.
    #[arg(
        long,
        env = "DRIVE_S3_ACCESS_KEY_ID",
        hide_env_values = true,
        requires = "s3_secret_access_key"
    )]
    pub s3_access_key_id: Option<String>,

    /// S3 secret access key.
    #[arg(
        long,
        env = "DRIVE_S3_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "s3_access_key_id"
    )]
    pub s3_secret_access_key: Option<String>,

    /// Blocks no revision uses are deleted once untouched this long, in
    /// seconds: an upload has this long between asking and committing.
    #[arg(long, env = "DRIVE_GC_GRACE", default_value_t = 24 * 3600)]
    pub gc_grace: u64,

    /// How long a block that `POST /uploads` answered as missing counts
    /// against the uploader's quota while it is not committed, in seconds
    /// (the lifetime of an upload; see docs/API.md, "Quota and uploads in
    /// flight"). Asking again does not extend it. Keep it under --gc-grace.
    #[arg(long, env = "DRIVE_UPLOAD_RESERVATION", default_value_t = 3600)]
    pub upload_reservation: u64,

    /// Seconds between garbage collection passes (one pass per interval across
    /// all instances sharing the database).
    #[arg(long, env = "DRIVE_GC_INTERVAL", default_value_t = 3600)]
    pub gc_interval: u64,

    /// Do not run garbage collection passes in this instance.
    #[arg(long, env = "DRIVE_NO_GC_WORKER")]
    pub no_gc_worker: bool,

    /// Run one garbage collection pass, print what it removed and exit.
    #[arg(long)]
    pub gc_once: bool,

    /// Login attempts allowed per minute for one account.
    #[arg(long, env = "DRIVE_LOGIN_RATE_PER_ACCOUNT", default_value_t = 10)]
    pub login_rate_per_account: u32,

    /// Login attempts allowed per minute from one address.
    #[arg(long, env = "DRIVE_LOGIN_RATE_PER_IP", default_value_t = 60)]
    pub login_rate_per_ip: u32,

    /// Who may create an account through the API: `open` (anyone), `invite`
    /// (with a token from `drive-server invite create`) or `closed` (only
    /// `drive-server user add`).
    #[arg(long, env = "DRIVE_REGISTRATION", value_enum, default_value_t = Registration::Open)]
    pub registration: Registration,

    /// Registration attempts allowed per hour from one address.
    #[arg(long, env = "DRIVE_REGISTER_RATE_PER_IP", default_value_t = 20)]
    pub register_rate_per_ip: u32,

    /// Reverse proxies whose forwarded client address is believed: an
    /// address or CIDR block (e.g. `127.0.0.1/32`, `10.0.0.0/8`), repeatable
    /// or comma-separated. When the peer is one, the client is the
    /// right-most address of `X-Forwarded-For` (else of `Forwarded: for=`)
    /// that is not a trusted proxy; otherwise the peer, whatever the headers
    /// say. Rate limits and the audit log use that address.
    #[arg(long = "trusted-proxy", env = "DRIVE_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<Cidr>,

    /// Password hashes (argon2, about 19 MiB each) computed at once; more
    /// wait their turn, up to --hash-queue-timeout. Default: the number of CPUs.
    #[arg(long, env = "DRIVE_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Seconds a sign-in, registration or link password waits for its turn
    /// to be hashed before it is answered 503 with Retry-After.
    #[arg(long, env = "DRIVE_HASH_QUEUE_TIMEOUT", default_value_t = 10)]
    pub hash_queue_timeout: u64,

    /// Log format on standard error.
    #[arg(long, env = "DRIVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Check the database and blob store for consistency, print what is wrong and exit.
    #[arg(long)]
    pub check: bool,

    /// An administration command instead of serving.
    #[command(subcommand)]
    pub command: Option<AdminCommand>,
}

/// Commands that act directly on the database and exit.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage invitations (for `--registration invite`).
    #[command(subcommand)]
    Invite(InviteCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create an account, whatever `--registration` says. The password is the
    /// first line of standard input (at least 8 characters).
    Add {
        email: String,
        /// Read the password from standard input (the default; for scripts
        /// that like to say so).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts: email, id, created, disabled, used/quota bytes.
    List,
    /// Disable an account: it can no longer sign in or refresh (403
    /// `account_disabled`), and its sessions are revoked now.
    Disable { email: String },
    /// Enable a disabled account again.
    Enable { email: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum InviteCommand {
    /// Create a single-use invite token and print it (it is shown only once).
    Create {
        /// How long the invite is valid: a number with s, m, h or d (e.g. 7d, 12h).
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        expires: Duration,
    },
}

/// `90s`, `30m`, `12h`, `7d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 7d, 12h, 30m or 90s"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{text:?} is not a duration like 7d, 12h, 30m or 90s")),
    };
    match number.checked_mul(unit) {
        Some(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!("{text:?} is not a positive duration")),
    }
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

    pub fn gc_grace(&self) -> Duration {
        Duration::from_secs(self.gc_grace)
    }

    pub fn upload_reservation(&self) -> Duration {
        Duration::from_secs(self.upload_reservation.max(1))
    }

    pub fn gc_interval(&self) -> Duration {
        Duration::from_secs(self.gc_interval.max(1))
    }

    /// `--hash-concurrency`, or the number of CPUs.
    pub fn hash_concurrency(&self) -> usize {
        self.hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1)
    }

    pub fn hash_queue_timeout(&self) -> Duration {
        Duration::from_secs(self.hash_queue_timeout.max(1))
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
        writeln!(f, "blob_store = {:?}", self.blob_store)?;
        if self.blob_store == BlobStoreKind::S3 {
            let or_default = |v: &Option<String>| v.clone().unwrap_or_else(|| "(SDK default)".into());
            writeln!(f, "s3_endpoint = {}", or_default(&self.s3_endpoint))?;
            writeln!(f, "s3_region = {}", or_default(&self.s3_region))?;
            writeln!(f, "s3_bucket = {}", self.s3_bucket.as_deref().unwrap_or_default())?;
            writeln!(f, "s3_prefix = {:?}", self.s3_prefix)?;
            writeln!(f, "s3_path_style = {}", self.s3_path_style)?;
            writeln!(
                f,
                "s3_credentials = {}",
                if self.s3_access_key_id.is_some() {
                    "**** (flags)"
                } else {
                    "(SDK default chain)"
                }
            )?;
        }
        writeln!(f, "gc_grace = {} s", self.gc_grace)?;
        writeln!(f, "gc_interval = {} s", self.gc_interval)?;
        writeln!(f, "upload_reservation = {} s", self.upload_reservation)?;
        writeln!(f, "gc_worker = {}", !self.no_gc_worker)?;
        writeln!(f, "login_rate_per_account = {}/min", self.login_rate_per_account)?;
        writeln!(f, "login_rate_per_ip = {}/min", self.login_rate_per_ip)?;
        writeln!(f, "registration = {:?}", self.registration)?;
        writeln!(f, "register_rate_per_ip = {}/h", self.register_rate_per_ip)?;
        let proxies: Vec<String> = self.trusted_proxy.iter().map(ToString::to_string).collect();
        writeln!(
            f,
            "trusted_proxy = {}",
            if proxies.is_empty() {
                "(none: the peer is the client)".to_owned()
            } else {
                proxies.join(",")
            }
        )?;
        writeln!(f, "hash_concurrency = {}", self.hash_concurrency())?;
        writeln!(f, "hash_queue_timeout = {} s", self.hash_queue_timeout)?;
        write!(f, "log_format = {:?}", self.log_format)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_duration;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        for bad in ["", "d", "0d", "7w", "-1d", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
