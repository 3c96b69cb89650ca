//! The commands the web view invokes: each delegates to [`Desktop`] (and so
//! to the engine library), then tells the windows and the tray what changed.

use std::{num::NonZeroU32, path::PathBuf};

use drive_sync::{guard::Choice, profile::Account, throttle::Limits};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::{
    desktop::{Desktop, Quota, Snapshot},
    error::{CommandError, DesktopError},
    events,
    issues::Notice,
    share,
};

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Whether start-at-login is on (false where the plugin is absent: tests).
fn autostart_enabled<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .and_then(|manager| manager.is_enabled().ok())
        .unwrap_or(false)
}

#[tauri::command]
pub async fn get_snapshot<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>) -> Result<Snapshot> {
    Ok(desktop.snapshot(autostart_enabled(&app)))
}

#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    server: String,
    email: String,
    password: String,
    create: bool,
) -> Result<Account> {
    let account = desktop.sign_in(&server, &email, &password, create).await?;
    events::changed(&app);
    Ok(account)
}

#[tauri::command]
pub async fn sign_out<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>) -> Result<()> {
    desktop.sign_out().await?;
    crate::file_manager_entries(&app, false);
    events::changed(&app);
    Ok(())
}

/// The system's folder picker; `None` when the user cancels.
#[tauri::command]
pub async fn pick_folder<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>) -> Result<Option<PathBuf>> {
    use tauri_plugin_dialog::DialogExt;
    let start = desktop.folder().unwrap_or_else(Desktop::default_folder);
    let start = start
        .ancestors()
        .find(|dir| dir.is_dir())
        .map(PathBuf::from)
        .unwrap_or_default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose the folder to sync")
        .set_directory(start)
        .pick_folder(move |picked| {
            let _ = tx.send(picked);
        });
    let picked = rx.await.ok().flatten();
    Ok(picked.and_then(|path| path.into_path().ok()))
}

#[tauri::command]
pub async fn choose_folder<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    path: PathBuf,
) -> Result<PathBuf> {
    let folder = desktop.choose_folder(&path).await?;
    crate::file_manager_entries(&app, true);
    events::changed(&app);
    Ok(folder)
}

#[tauri::command]
pub async fn set_paused<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, paused: bool) -> Result<()> {
    desktop.set_paused(paused).await?;
    events::changed(&app);
    Ok(())
}

/// Keep (`keep`) or delete on the server (`delete`) the files whose
/// deletion the engine held back.
#[tauri::command]
pub async fn decide_held<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, choice: Choice) -> Result<()> {
    desktop.decide_held(choice).await?;
    events::changed(&app);
    Ok(())
}

/// Limits in KiB/s; `None` (or 0) is no limit.
#[tauri::command]
pub async fn set_limits<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    up_kib: Option<u32>,
    down_kib: Option<u32>,
) -> Result<()> {
    let limits = Limits {
        up_kib: up_kib.and_then(NonZeroU32::new),
        down_kib: down_kib.and_then(NonZeroU32::new),
    };
    desktop.set_limits(limits).await?;
    events::changed(&app);
    Ok(())
}

#[tauri::command]
pub async fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<()> {
    let manager = app
        .try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .ok_or_else(|| CommandError::unavailable("start at login"))?;
    if enabled {
        if let Some(message) = crate::launch::start_at_login_refused() {
            return Err(CommandError {
                kind: crate::error::ErrorKind::Unsupported,
                message,
            });
        }
    }
    let result = if enabled { manager.enable() } else { manager.disable() };
    result.map_err(|error| CommandError::failed(format!("could not change start at login: {error}")))?;
    events::changed(&app);
    Ok(())
}

/// Stops syncing cleanly and exits, as the tray's "Quit Drive" does (the way
/// out from the window where no tray host shows the icon).
#[tauri::command]
pub async fn quit<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    crate::quit(&app);
    Ok(())
}

#[tauri::command]
pub async fn set_ignore<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, patterns: String) -> Result<()> {
    desktop.set_ignore(&patterns)?;
    events::changed(&app);
    Ok(())
}

/// The account's folders, for choosing which sync on this computer.
#[tauri::command]
pub async fn get_folders(desktop: State<'_, Desktop>) -> Result<Vec<drive_sync::selective::Folder>> {
    Ok(desktop.folders()?)
}

#[tauri::command]
pub async fn set_folder_synced<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    path: String,
    synced: bool,
) -> Result<()> {
    desktop.set_folder_synced(&path, synced).await?;
    events::changed(&app);
    Ok(())
}

#[tauri::command]
pub async fn open_folder<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>) -> Result<()> {
    let folder = desktop.folder().ok_or(DesktopError::NoFolder)?;
    open_path(&app, &folder.to_string_lossy())
}

#[tauri::command]
pub async fn open_web<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, path: Option<String>) -> Result<()> {
    // Signed in already: a one-time hand-off URL (to the folder of `path`,
    // an item in the synced folder, if given), else the server's root.
    let url = desktop.web_url(path.as_deref()).await?;
    use tauri_plugin_opener::OpenerExt;
    app.opener().open_url(url, None::<&str>).map_err(|error| {
        tracing::warn!(%error, "could not open the browser");
        CommandError::failed("Could not open the web browser.".into())
    })
}

/// Space used on the server and the quota, asked now.
#[tauri::command]
pub async fn get_quota(desktop: State<'_, Desktop>) -> Result<Quota> {
    Ok(desktop.quota().await?)
}

/// The desktop notifications given, newest first (what the user was told
/// while the window was closed; tests read it too).
#[tauri::command]
pub async fn get_notices(desktop: State<'_, Desktop>) -> Result<Vec<Notice>> {
    Ok(desktop.notices().given())
}

/// The local path of `path` (relative to the synced folder), which must exist.
fn item_path(desktop: &Desktop, path: &str) -> Result<PathBuf> {
    let local = desktop.local_path(path).ok_or(DesktopError::NoFolder)?;
    if !local.exists() {
        return Err(CommandError {
            kind: crate::error::ErrorKind::Invalid,
            message: format!("{path} is not in your Drive folder any more."),
        });
    }
    Ok(local)
}

/// Opens a synced file (relative path) in its default app.
#[tauri::command]
pub async fn open_item<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, path: String) -> Result<()> {
    let local = item_path(&desktop, &path)?;
    open_path(&app, &local.to_string_lossy())
}

/// Shows a synced file (relative path) selected in its folder.
#[tauri::command]
pub async fn reveal_item<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, path: String) -> Result<()> {
    let local = item_path(&desktop, &path)?;
    use tauri_plugin_opener::OpenerExt;
    app.opener()
        .reveal_item_in_dir(&local)
        .map_err(|_| CommandError::failed(format!("Could not show {path} in its folder.")))
}

/// "Copy share link" for a synced file (relative path).
#[tauri::command]
pub async fn share_item<R: Runtime>(app: AppHandle<R>, desktop: State<'_, Desktop>, path: String) -> Result<String> {
    let local = item_path(&desktop, &path)?;
    Ok(share::copy_share_link(&app, &local).await?)
}

/// Makes a public link to `path`, copies it and tells the user; returns it.
#[tauri::command]
pub async fn copy_share_link<R: Runtime>(app: AppHandle<R>, path: PathBuf) -> Result<String> {
    Ok(share::copy_share_link(&app, &path).await?)
}

pub fn open_path<R: Runtime>(app: &AppHandle<R>, path: &str) -> Result<()> {
    use tauri_plugin_opener::OpenerExt;
    app.opener().open_path(path, None::<&str>).map_err(|error| {
        tracing::warn!(%error, path, "could not open");
        CommandError::failed(format!("Could not open {path}."))
    })
}

impl CommandError {
    fn failed(message: String) -> Self {
        CommandError {
            kind: crate::error::ErrorKind::Failed,
            message,
        }
    }

    fn unavailable(what: &str) -> Self {
        CommandError {
            kind: crate::error::ErrorKind::Unsupported,
            message: format!("{what} is not available here"),
        }
    }
}
