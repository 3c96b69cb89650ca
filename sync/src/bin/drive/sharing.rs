//! Sharing from the command line: public links (on the clipboard), shares
//! with people, and the invitations others sent.

use std::{io::Read, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use drive_wire::{CreateShareRequest, Share, ShareRole};

use drive_sync::{app_socket, remote::RemoteError, share::LinkOptions};

use crate::{profile, read_password};

#[derive(clap::Args)]
pub(crate) struct ShareArgs {
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
pub(crate) enum Role {
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

pub(crate) async fn share(args: ShareArgs) -> anyhow::Result<()> {
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

pub(crate) fn hold_clipboard() -> anyhow::Result<()> {
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

pub(crate) async fn shares() -> anyhow::Result<()> {
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

pub(crate) async fn invite(path: PathBuf, email: String, role: ShareRole) -> anyhow::Result<()> {
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

pub(crate) async fn accept(id: Option<i64>, all: bool) -> anyhow::Result<()> {
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

pub(crate) async fn uninvite(id: i64) -> anyhow::Result<()> {
    let remote = profile()?.connect()?;
    match remote.delete_share(id).await {
        Err(RemoteError::NotFound) => bail!("you have no share {id}"),
        other => other.map_err(|e| anyhow::anyhow!("{e}"))?,
    }
    eprintln!("Share {id} ended");
    Ok(())
}

pub(crate) async fn unshare(id: i64) -> anyhow::Result<()> {
    let remote = profile()?.connect()?;
    match remote.revoke_link(id).await {
        Err(RemoteError::NotFound) => bail!("you have no link {id}"),
        other => other.map_err(|e| anyhow::anyhow!("{e}"))?,
    }
    eprintln!("Link {id} revoked");
    Ok(())
}
