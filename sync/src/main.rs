//! `drive`: the headless sync client.

use std::{
    io::{IsTerminal, Read},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

use drive_sync::{
    credentials::CredentialStore,
    engine::Engine,
    progress::{Direction, Progress},
    remote::{Remote, Session},
};

#[derive(Parser)]
#[command(name = "drive", version, about = "Keeps a folder in sync with your drive")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account and sign in.
    Register(SignIn),
    /// Sign in to an existing account.
    Login(SignIn),
    /// Sign out and forget the tokens.
    Logout,
    /// Sync a folder: continuously, or once with --once.
    Sync {
        dir: PathBuf,
        /// One full reconcile both ways; exit 0 only if both sides agree.
        #[arg(long)]
        once: bool,
        /// Seconds between full rescans, on top of watching the folder.
        #[arg(long, default_value_t = 60)]
        rescan: u64,
    },
    /// Show whether a folder is up to date, and what is pending or failing.
    Status { dir: PathBuf },
}

#[derive(clap::Args)]
struct SignIn {
    #[arg(long)]
    server: String,
    #[arg(long)]
    email: String,
    /// Read the password from standard input instead of the terminal.
    #[arg(long)]
    password_stdin: bool,
    /// Name of this device in the account's session list (default: host name).
    #[arg(long)]
    device: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Config {
    server: String,
    email: String,
}

/// Where the client keeps its configuration, credentials and ledgers.
fn home() -> anyhow::Result<PathBuf> {
    let home = match std::env::var_os("DRIVE_HOME") {
        Some(home) => PathBuf::from(home),
        None => dirs::config_dir()
            .context("no configuration directory; set DRIVE_HOME")?
            .join("drive"),
    };
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    Ok(home)
}

fn account_key(config: &Config) -> String {
    format!("{} {}", config.server, config.email)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from standard input")?;
        text.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("Password: ").context("reading the password from the terminal")?
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

async fn sign_in(args: SignIn, register: bool) -> anyhow::Result<()> {
    let home = home()?;
    let password = read_password(args.password_stdin)?;
    let device = args
        .device
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    let server = args.server.trim_end_matches('/').to_owned();
    let session = if register {
        Remote::register(&server, &args.email, &password, &device).await
    } else {
        Remote::login(&server, &args.email, &password, &device).await
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = Config {
        server,
        email: session.user.email.clone(),
    };
    let store = CredentialStore::open(&home);
    store
        .save(&account_key(&config), &serde_json::to_string(&session)?)
        .context("storing the tokens")?;
    std::fs::write(home.join("config.json"), serde_json::to_vec_pretty(&config)?)
        .context("writing the configuration")?;
    eprintln!("Signed in as {} on {}", config.email, config.server);
    Ok(())
}

fn signed_in(home: &Path) -> anyhow::Result<(Config, CredentialStore, Session)> {
    let config: Config = std::fs::read(home.join("config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .context("not signed in: run `drive login --server URL --email EMAIL` first")?;
    let store = CredentialStore::open(home);
    let secret = store
        .load(&account_key(&config))
        .context("reading the stored tokens")?
        .context("no stored tokens: run `drive login` again")?;
    let session: Session = serde_json::from_str(&secret).context("the stored tokens are unreadable; sign in again")?;
    Ok((config, store, session))
}

fn connect(home: &Path) -> anyhow::Result<Remote> {
    let (config, store, session) = signed_in(home)?;
    let key = account_key(&config);
    // Refresh tokens are single-use: every rotation must be stored at once.
    let remote = Remote::new(session, move |session: &Session| match serde_json::to_string(session) {
        Ok(secret) => {
            if let Err(error) = store.save(&key, &secret) {
                tracing::error!(%error, "could not store the refreshed tokens");
            }
        }
        Err(error) => tracing::error!(%error, "could not serialize the refreshed tokens"),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(remote)
}

fn ledger_path(home: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("opening {}", dir.display()))?;
    let ledgers = home.join("ledgers");
    std::fs::create_dir_all(&ledgers)?;
    let id = hex::encode(&Sha256::digest(dir.to_string_lossy().as_bytes())[..8]);
    Ok(ledgers.join(format!("{id}.db")))
}

/// Draws progress (files, bytes, rate) on a terminal; silent otherwise.
struct Bars {
    bar: indicatif::ProgressBar,
    bytes: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl Bars {
    fn new() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            bytes: Default::default(),
            started: std::time::Instant::now(),
        }
    }
}

impl Progress for Bars {
    fn planned(&self, ops: &[drive_sync::planner::Op]) {
        self.bar.set_length(ops.len() as u64);
        self.bar.set_position(0);
    }

    fn finished(&self, _op: &drive_sync::planner::Op, _error: Option<&str>) {
        self.bar.inc(1);
    }

    fn bytes(&self, _direction: Direction, bytes: u64) {
        let total = self.bytes.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed) + bytes;
        let rate = total as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!(
            "{} moved, {}/s",
            indicatif::HumanBytes(total),
            indicatif::HumanBytes(rate as u64)
        ));
    }
}

async fn sync(dir: PathBuf, once: bool, rescan: u64) -> anyhow::Result<()> {
    let home = home()?;
    let remote = connect(&home)?;
    let ledger = ledger_path(&home, &dir)?;
    let engine = Engine::open(&dir, &ledger, remote, Arc::new(Bars::new()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if once {
        let report = engine.sync_once().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        for skipped in &report.skipped {
            eprintln!("skipped {}: {}", skipped.path, skipped.message);
        }
        if report.in_sync() {
            eprintln!("Up to date ({} operations)", report.done);
            return Ok(());
        }
        for error in &report.errors {
            eprintln!("not synced: {}: {}", error.path, error.message);
        }
        bail!(
            "{} paths are not in sync",
            report.pending.len().max(report.errors.len())
        );
    }
    eprintln!("Syncing {} (Ctrl-C to stop)", engine.root().display());
    engine
        .run(Duration::from_secs(rescan), shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("Stopped");
    Ok(())
}

async fn status(dir: PathBuf) -> anyhow::Result<()> {
    let home = home()?;
    let remote = connect(&home)?;
    let ledger = ledger_path(&home, &dir)?;
    let engine = Engine::open(&dir, &ledger, remote, Arc::new(drive_sync::progress::Quiet))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (pending, skipped) = engine.pending().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let last = engine
        .last_report()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .unwrap_or_default();
    if pending.is_empty() && last.errors.is_empty() {
        println!("up to date");
    } else if !pending.is_empty() {
        println!("{} pending", pending.len());
        for op in &pending {
            println!("  {}", op.path());
        }
    }
    if !last.errors.is_empty() {
        println!("errors");
        for error in &last.errors {
            println!("  {}: {}", error.path, error.message);
        }
    }
    for skip in &skipped {
        println!("skipped {}: {}", skip.path, skip.message);
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRIVE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Register(args) => sign_in(args, true).await,
        Command::Login(args) => sign_in(args, false).await,
        Command::Logout => logout().await,
        Command::Sync { dir, once, rescan } => sync(dir, once, rescan).await,
        Command::Status { dir } => status(dir).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("drive: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn logout() -> anyhow::Result<()> {
    let home = home()?;
    let (config, store, _) = signed_in(&home)?;
    if let Ok(remote) = connect(&home) {
        if let Err(error) = remote.logout().await {
            eprintln!("warning: the server did not confirm the sign-out: {error}");
        }
    }
    store
        .delete(&account_key(&config))
        .context("deleting the stored tokens")?;
    let _ = std::fs::remove_file(home.join("config.json"));
    eprintln!("Signed out");
    Ok(())
}
