//! `drive`: the headless sync client.

mod selective;
mod sharing;
mod syncing;

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    time::Duration,
};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

use drive_sync::{guard::DeleteGuard, profile::Profile};

use sharing::{accept, hold_clipboard, invite, share, shares, uninvite, unshare, Role, ShareArgs};
use syncing::{status, sync, unlink, Unfinished};

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
    ///
    /// With --once, the exit status tells how it ended: 0 both sides agree on
    /// everything; 3 something is still pending or failed (try again); 4
    /// deletions on the server are held, waiting for --confirm-deletions; 5
    /// in sync, but some items were left out (skipped here, or names this
    /// device cannot hold); 1 the sync could not run.
    Sync {
        dir: PathBuf,
        /// One full reconcile both ways; exit 0 only if both sides agree.
        #[arg(long)]
        once: bool,
        /// Seconds between full rescans, on top of watching the folder.
        #[arg(long, default_value_t = 60)]
        rescan: u64,
        /// Send the deletions that were held back because there were many
        /// of them (all synced files, over 1,000, or over half of them).
        #[arg(long)]
        confirm_deletions: bool,
        /// Hold deletions on the server of more files than this in one pass
        /// (besides all synced files, or over half of more than 50).
        #[arg(long, default_value_t = DeleteGuard::default().max_files)]
        hold_deletions_over: usize,
    },
    /// Show whether a folder is up to date, and what is pending, failing,
    /// held or left out (exit status as for `sync --once`).
    Status { dir: PathBuf },
    /// Stop syncing a folder inside a synced folder on this device (selective
    /// sync): it stays on the server, and is removed here once everything in
    /// it is there. Nothing absent from it is ever deleted on the server.
    Exclude { path: PathBuf },
    /// Sync an excluded folder on this device again: the next sync downloads it.
    Include { path: PathBuf },
    /// List what is excluded from sync in a synced folder.
    Excluded { dir: PathBuf },
    /// Forget a folder's link to this account and its sync state; its next
    /// sync compares contents with the server and deletes nothing.
    Unlink { dir: PathBuf },
    /// Create a public link to a file or folder inside a synced folder: prints
    /// the URL alone on standard output and copies it to the clipboard.
    Share(ShareArgs),
    /// List your public links.
    Shares,
    /// Revoke a public link, by the id `drive shares` shows.
    Unshare { id: i64 },
    /// Share a file or folder inside a synced folder with another user; once
    /// they accept, it syncs to their folder too.
    Invite {
        path: PathBuf,
        /// The email they signed up with.
        email: String,
        /// `viewer` reads and downloads; `editor` also changes, adds and deletes.
        #[arg(long, value_enum, default_value_t = Role::Viewer)]
        role: Role,
    },
    /// Accept a share from another user: it appears at the top of your folder.
    Accept {
        /// The share's id, as `drive shares` shows it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Accept every pending share.
        #[arg(long)]
        all: bool,
    },
    /// Stop sharing with someone, or leave a share of someone else's, by the
    /// id `drive shares` shows.
    Uninvite { id: i64 },
    /// Keeps text on the X11/Wayland clipboard until another program takes it
    /// over (the clipboard there lives in a process; `share` starts this one).
    #[command(hide = true)]
    HoldClipboard,
    /// Prints the SHA-256 speed of one core with the hasher the engine uses
    /// (for `scripts/bench`).
    #[command(hide = true)]
    HashSpeed,
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

/// The client's profile (`DRIVE_HOME`): account, tokens, ledgers.
pub(crate) fn profile() -> anyhow::Result<Profile> {
    Ok(Profile::open(&Profile::default_home()?)?)
}

pub(crate) fn read_password(from_stdin: bool) -> anyhow::Result<String> {
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
    let profile = profile()?;
    let password = read_password(args.password_stdin)?;
    let device = args
        .device
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    let account = profile
        .sign_in(&args.server, &args.email, &password, &device, register)
        .await?;
    eprintln!("Signed in as {} on {}", account.email, account.server);
    Ok(())
}

fn hash_speed() {
    const MIB: usize = 1024 * 1024;
    let data: Vec<u8> = (0..256 * MIB)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let started = std::time::Instant::now();
    let mut rounds = 0;
    while rounds < 2 || started.elapsed() < Duration::from_secs(2) {
        std::hint::black_box(Sha256::digest(&data));
        rounds += 1;
    }
    let rate = (rounds * data.len()) as f64 / MIB as f64 / started.elapsed().as_secs_f64();
    println!("sha256: {rate:.0} MiB/s (sha2 crate, one core)");
}

pub(crate) async fn shutdown_signal() {
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
        Command::Sync {
            dir,
            once,
            rescan,
            confirm_deletions,
            hold_deletions_over,
        } => sync(dir, once, rescan, confirm_deletions, hold_deletions_over).await,
        Command::Status { dir } => status(dir).await,
        Command::Unlink { dir } => unlink(dir).await,
        Command::Exclude { path } => selective::exclude(path),
        Command::Include { path } => selective::include(path),
        Command::Excluded { dir } => selective::list(dir),
        Command::Share(args) => share(args).await,
        Command::Shares => shares().await,
        Command::Unshare { id } => unshare(id).await,
        Command::Invite { path, email, role } => invite(path, email, role.into()).await,
        Command::Accept { id, all } => accept(id, all).await,
        Command::Uninvite { id } => uninvite(id).await,
        Command::HoldClipboard => hold_clipboard(),
        Command::HashSpeed => {
            hash_speed();
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) if error.is::<Unfinished>() => {
            let code = error.downcast_ref::<Unfinished>().map_or(1, |u| u.code);
            eprintln!("drive: {error}");
            std::process::ExitCode::from(code)
        }
        Err(error) => {
            eprintln!("drive: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn logout() -> anyhow::Result<()> {
    if let Some(error) = profile()?.sign_out().await? {
        eprintln!("warning: the server did not confirm the sign-out: {error}");
    }
    eprintln!("Signed out");
    Ok(())
}
