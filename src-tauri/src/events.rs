//! Engine events to the windows and the tray: every status change and
//! activity the monitor broadcasts is emitted to the web view, the issues
//! they make are sent when they change (each new one announced by a desktop
//! notification), and the tray follows.

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

use drive_sync::activity::Event;

use crate::{desktop::Desktop, issues, share::notify, tray};

pub const STATUS: &str = "drive://status";
pub const ACTIVITY: &str = "drive://activity";
/// The list of issues, whenever it changes.
pub const ISSUES: &str = "drive://issues";
/// Something not carried by the others changed (account, folder, settings):
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
        let mut issues_sent = Vec::new();
        loop {
            let desktop = app.state::<Desktop>();
            let sent = match events.recv().await {
                Ok(Event::Status(status)) => app.emit(STATUS, desktop.status_view(status)),
                Ok(Event::Activity(activity)) => app.emit(ACTIVITY, activity),
                // Windows catch up with a snapshot.
                Err(RecvError::Lagged(_)) => app.emit(CHANGED, ()),
                Err(RecvError::Closed) => return,
            };
            if let Err(error) = sent {
                tracing::warn!(%error, "could not send an event to the windows");
            }
            let now = desktop.issues();
            if now != issues_sent {
                let new = desktop.notices().to_announce(&now);
                if let Some((title, body)) = issues::announcement(&new) {
                    notify(&app, &title, &body);
                }
                if let Err(error) = app.emit(ISSUES, &now) {
                    tracing::warn!(%error, "could not send the issues to the windows");
                }
                issues_sent = now;
            }
            tray::refresh(&app);
        }
    });
}
