//! Engine events to the windows and the tray: every status change and
//! activity the monitor broadcasts is emitted to the web view, and the tray
//! follows.

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

use drive_sync::activity::Event;

use crate::{desktop::Desktop, desktop::StatusView, share::notify, tray};

pub const STATUS: &str = "drive://status";
pub const ACTIVITY: &str = "drive://activity";
/// Something not carried by the other two changed (account, folder, settings):
/// windows fetch a new snapshot.
pub const CHANGED: &str = "drive://changed";

/// Tells windows and tray that settings or the account changed.
pub fn changed<R: Runtime>(app: &AppHandle<R>) {
    if let Err(error) = app.emit(CHANGED, ()) {
        tracing::warn!(%error, "could not tell the windows");
    }
    tray::refresh(app);
}

/// Forwards the monitor's events until the app ends.
pub fn forward<R: Runtime>(app: &AppHandle<R>) {
    let mut events = app.state::<Desktop>().monitor().subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // Held deletions are announced once, when they start being held.
        let mut held = false;
        loop {
            let sent = match events.recv().await {
                Ok(Event::Status(status)) => {
                    if let (Some(deletions), false) = (&status.held, held) {
                        let body = format!("{deletions}. Open Drive to keep them or delete them.");
                        notify(&app, "Files deleted here were not deleted on the server", &body);
                    }
                    held = status.held.is_some();
                    tray::refresh(&app);
                    app.emit(STATUS, StatusView::from(status))
                }
                Ok(Event::Activity(activity)) => {
                    tray::refresh(&app);
                    app.emit(ACTIVITY, activity)
                }
                // Windows catch up with a snapshot.
                Err(RecvError::Lagged(_)) => app.emit(CHANGED, ()),
                Err(RecvError::Closed) => return,
            };
            if let Err(error) = sent {
                tracing::warn!(%error, "could not send an event to the windows");
            }
        }
    });
}
