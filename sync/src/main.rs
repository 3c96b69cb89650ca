//! `drive`: the headless sync client.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use drive_wire::{CreateShareRequest, Share, ShareRole};
use sha2::{Digest, Sha256};

use drive_sync::{
    app_socket,
    engine::{Engine, Report},
    guard::DeleteGuard,
    profile::Profile,
    progress::{Direction, Progress},
    remote::RemoteError,
    share::LinkOptions,
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
struct ShareArgs {
    path: PathBuf,
    /// The link stops working after this long, e.g. `7d`, `12h`, `30min`.
    #[arg(long, value_parser = humantime::parse_duration)]
    expires: Option<Duration>,
    /// Ask for a password that visitors must give (from the terminal).
    #[arg(long)]
    password: bool,
    /// Read the link's password from standard input instead.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
    /// Completed downloads allowed before the link stops working.
    #[arg(long)]
    max_downloads: Option<u32>,
    /// Do not copy the URL to the clipboard.
    #[arg(long)]
    no_copy: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Role {
    Viewer,
    Editor,
}

impl From<Role> for ShareRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => ShareRole::Viewer,
            Role::Editor => ShareRole::Editor,
        }
    }
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
fn profile() -> anyhow::Result<Profile> {
    Ok(Profile::open(&Profile::default_home()?)?)
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

/// How `drive sync --once` and `drive status` end when not everything is
/// in sync: the message, and the exit status that tells why.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Unfinished {
    code: u8,
    message: String,
}

const EXIT_PENDING: u8 = 3;
const EXIT_HELD: u8 = 4;
const EXIT_LEFT_OUT: u8 = 5;

fn outcome(dir: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    let (code, message) = if let Some(held) = &report.held {
        let confirm = format!("drive sync {} --once --confirm-deletions", dir.display());
        let message = format!("deletions held: {held}; run `{confirm}` to send them, or restore the files");
        (EXIT_HELD, message)
    } else if !report.in_sync() {
        let count = report.pending.len().max(report.errors.len());
        (EXIT_PENDING, format!("{count} paths are not in sync yet"))
    } else if !report.complete() {
        let count = report.skipped.len() + report.unsyncable.len();
        (EXIT_LEFT_OUT, format!("in sync, but {count} items were left out"))
    } else {
        return Ok(());
    };
    Err(Unfinished { code, message }.into())
}

/// What a report leaves out or holds back, in words, one line each.
fn report_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(held) = &report.held {
        lines.push(format!("deletions held: {held}"));
        lines.extend(held.paths.iter().map(|path| format!("  held: {path}")));
    }
    for error in &report.errors {
        lines.push(format!("not synced: {}: {}", error.path, error.message));
    }
    for item in &report.unsyncable {
        lines.push(format!(
            "can't be synced on this device: {} ({})",
            item.path, item.message
        ));
    }
    for skipped in &report.skipped {
        lines.push(format!("skipped {}: {}", skipped.path, skipped.message));
    }
    lines
}

async fn sync(dir: PathBuf, once: bool, rescan: u64, confirm_deletions: bool, max_files: usize) -> anyhow::Result<()> {
    let profile = profile()?;
    let remote = profile.connect()?;
    let ledger = profile.ledger_for(&dir)?;
    let mut engine = Engine::open(&dir, &ledger, remote, Arc::new(Bars::new()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    engine.set_delete_guard(DeleteGuard {
        max_files,
        ..DeleteGuard::default()
    });
    if confirm_deletions {
        engine.confirm_deletions();
    }
    if once {
        let report = engine.sync_once().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        for line in report_lines(&report) {
            eprintln!("{line}");
        }
        if report.in_sync() {
            eprintln!("Up to date ({} operations)", report.done);
        }
        return outcome(&dir, &report);
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
    let profile = profile()?;
    let remote = profile.connect()?;
    let ledger = profile.ledger_for(&dir)?;
    let engine = Engine::observe(&dir, &ledger, remote)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, mut report) = engine.pending().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let last = engine
        .last_report()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .unwrap_or_default();
    // What failed last time and is still planned.
    report.errors = last
        .errors
        .into_iter()
        .filter(|error| report.pending.contains(&error.path))
        .collect();
    if report.in_sync() {
        println!("up to date");
    } else if !report.pending.is_empty() {
        println!("{} pending", report.pending.len());
        for path in &report.pending {
            println!("  {path}");
        }
    }
    for line in report_lines(&report) {
        println!("{line}");
    }
    outcome(&dir, &report)
}

async fn unlink(dir: PathBuf) -> anyhow::Result<()> {
    profile()?.unlink(&dir)?;
    eprintln!(
        "{} is no longer linked; its next sync compares it with the server and deletes nothing",
        dir.display()
    );
    Ok(())
}

async fn share(args: ShareArgs) -> anyhow::Result<()> {
    let plain = args.expires.is_none() && !args.password && !args.password_stdin && args.max_downloads.is_none();
    if plain && !args.no_copy {
        // The desktop app, when it runs, makes the link, keeps it on the
        // clipboard and tells the user.
        let local = std::path::absolute(&args.path).with_context(|| format!("opening {}", args.path.display()))?;
        match app_socket::ask(&app_socket::Request::Share(local)).await {
            Ok(Some(app_socket::Reply::Link(url))) => {
                println!("{url}");
                eprintln!("Copied to the clipboard by the desktop app");
                return Ok(());
            }
            Ok(Some(app_socket::Reply::Error(message))) => bail!("{message}"),
            Ok(Some(app_socket::Reply::Ok(()))) => bail!("the desktop app gave no link"),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "asking the desktop app failed; asking the server directly"),
        }
    }
    let profile = profile()?;
    let path = profile.drive_path(&args.path)?;
    let password = if args.password || args.password_stdin {
        Some(read_password(args.password_stdin)?)
    } else {
        None
    };
    let expires_at = args
        .expires
        .map(|after| chrono::TimeDelta::from_std(after).map(|after| chrono::Utc::now() + after))
        .transpose()
        .context("the expiry is too far away")?;
    let remote = profile.connect()?;
    let options = LinkOptions {
        expires_at,
        password,
        max_downloads: args.max_downloads,
    };
    let url = drive_sync::share::public_link(&remote, &path, options).await?;
    println!("{url}");
    if !args.no_copy {
        match copy_to_clipboard(&url) {
            Ok(()) => eprintln!("Copied to the clipboard"),
            Err(error) => eprintln!("(not copied to the clipboard: {error:#})"),
        }
    }
    Ok(())
}

/// On X11 and Wayland the clipboard's content lives in the process that set
/// it, so a detached `drive hold-clipboard` keeps it; elsewhere the system
/// keeps it.
fn copy_to_clipboard(text: &str) -> anyhow::Result<()> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            bail!("no graphical session");
        }
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("hold-clipboard")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting the clipboard keeper")?;
        let mut stdin = child.stdin.take().context("no pipe to the clipboard keeper")?;
        std::io::Write::write_all(&mut stdin, text.as_bytes())?;
        return Ok(());
    }
    arboard::Clipboard::new()?.set_text(text)?;
    Ok(())
}

fn hold_clipboard() -> anyhow::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let mut clipboard = arboard::Clipboard::new()?;
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use arboard::SetExtLinux;
        clipboard.set().wait().text(text)?;
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    clipboard.set_text(text)?;
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

async fn shares() -> anyhow::Result<()> {
    let remote = profile()?.connect()?;
    let links = remote.links().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let people = remote.shares().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Links");
    if links.is_empty() {
        println!("  none");
    }
    for link in links {
        let state = if link.revoked {
            "revoked".to_owned()
        } else if link.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
            "expired".to_owned()
        } else if link.max_downloads.is_some_and(|max| link.downloads >= u64::from(max)) {
            "download limit reached".to_owned()
        } else {
            match link.expires_at {
                Some(at) => format!("active until {}", at.format("%Y-%m-%d %H:%M UTC")),
                None => "active".to_owned(),
            }
        };
        let downloads = match link.max_downloads {
            Some(max) => format!("{}/{max} downloads", link.downloads),
            None => format!("{} downloads", link.downloads),
        };
        let lock = if link.has_password { ", password" } else { "" };
        let path = link.path.as_deref().unwrap_or("(in the trash)");
        println!("{:>6}  {path}  {state}, {downloads}{lock}", link.id);
    }
    println!("Shared by you");
    if people.shared_by_me.is_empty() {
        println!("  none");
    }
    for share in &people.shared_by_me {
        let state = if share.accepted_at.is_some() {
            "accepted"
        } else {
            "not accepted yet"
        };
        println!(
            "{:>6}  {}  with {} as {}, {state}",
            share.id,
            share.name,
            share.grantee_email,
            role_word(share)
        );
    }
    println!("Shared with you");
    if people.shared_with_me.is_empty() {
        println!("  none");
    }
    for share in &people.shared_with_me {
        let state = match &share.mount_name {
            Some(name) if share.accepted_at.is_some() => format!("in your folder as {name}"),
            _ => format!("not accepted yet: drive accept {}", share.id),
        };
        println!(
            "{:>6}  {}  from {} as {}, {state}",
            share.id,
            share.name,
            share.owner_email,
            role_word(share)
        );
    }
    Ok(())
}

fn role_word(share: &Share) -> &'static str {
    match share.role {
        ShareRole::Viewer => "viewer",
        ShareRole::Editor => "editor",
    }
}

async fn invite(path: PathBuf, email: String, role: ShareRole) -> anyhow::Result<()> {
    let profile = profile()?;
    let drive_path = profile.drive_path(&path)?;
    let remote = profile.connect()?;
    let node = match remote.lookup(&drive_path).await {
        Err(RemoteError::NotFound) => {
            bail!("{drive_path} is not on the server yet: let `drive sync` upload it first")
        }
        other => other.map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let request = CreateShareRequest {
        node_id: node.id,
        email: email.clone(),
        role,
    };
    let share = remote
        .create_share(&request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Shared {drive_path} with {} as {} (share {}); it syncs to their folder once they accept it",
        share.grantee_email,
        role_word(&share),
        share.id
    );
    Ok(())
}

async fn accept(id: Option<i64>, all: bool) -> anyhow::Result<()> {
    let remote = profile()?.connect()?;
    let ids: Vec<i64> = if all {
        let list = remote.shares().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        list.shared_with_me
            .iter()
            .filter(|share| share.accepted_at.is_none())
            .map(|share| share.id)
            .collect()
    } else {
        id.into_iter().collect()
    };
    if ids.is_empty() {
        println!("No shares waiting to be accepted");
    }
    for id in ids {
        let share = match remote.accept_share(id).await {
            Err(RemoteError::NotFound) => bail!("no share {id} is offered to you"),
            other => other.map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let name = share.mount_name.unwrap_or(share.name);
        println!(
            "Accepted {name} from {}: it syncs into your folder as {name}",
            share.owner_email
        );
    }
    Ok(())
}

async fn uninvite(id: i64) -> anyhow::Result<()> {
    let remote = profile()?.connect()?;
    match remote.delete_share(id).await {
        Err(RemoteError::NotFound) => bail!("you have no share {id}"),
        other => other.map_err(|e| anyhow::anyhow!("{e}"))?,
    }
    eprintln!("Share {id} ended");
    Ok(())
}

async fn unshare(id: i64) -> anyhow::Result<()> {
    let remote = profile()?.connect()?;
    match remote.revoke_link(id).await {
        Err(RemoteError::NotFound) => bail!("you have no link {id}"),
        other => other.map_err(|e| anyhow::anyhow!("{e}"))?,
    }
    eprintln!("Link {id} revoked");
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
        Command::Sync {
            dir,
            once,
            rescan,
            confirm_deletions,
            hold_deletions_over,
        } => sync(dir, once, rescan, confirm_deletions, hold_deletions_over).await,
        Command::Status { dir } => status(dir).await,
        Command::Unlink { dir } => unlink(dir).await,
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
