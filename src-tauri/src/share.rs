//! "Copy share link": a public link from the engine, put on the clipboard
//! (which this long-running app owns, so it outlives the file manager's
//! request) and announced by a desktop notification, failures included.

use std::path::Path;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_notification::NotificationExt;

use crate::{desktop::Desktop, error::Result};

pub async fn copy_share_link<R: Runtime>(app: &AppHandle<R>, path: &Path) -> Result<String> {
    let desktop = app.state::<Desktop>();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    match desktop.share(path).await {
        Ok(url) => {
            let copied = app
                .try_state::<tauri_plugin_clipboard_manager::Clipboard<R>>()
                .is_some()
                && app.clipboard().write_text(url.clone()).is_ok();
            let body = if copied {
                format!("The link to {name} is on the clipboard.")
            } else {
                format!("The link to {name}: {url}")
            };
            notify(app, "Share link copied", &body);
            Ok(url)
        }
        Err(error) => {
            notify(app, "No share link", &format!("{name}: {error}"));
            Err(error)
        }
    }
}

/// Shows a desktop notification, and keeps it in the app's record of them
/// (shown or not: with no notification service there is only the record).
pub(crate) fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    let shown = app.try_state::<tauri_plugin_notification::Notification<R>>().is_some()
        && match app.notification().builder().title(title).body(body).show() {
            Ok(()) => true,
            Err(error) => {
                // No notification daemon (a bare session): the link is still copied.
                tracing::warn!(%error, "could not show a notification");
                false
            }
        };
    tracing::info!(title, body, shown, "notification");
    if let Some(desktop) = app.try_state::<Desktop>() {
        desktop.notices().record(title, body, shown);
    }
}
