//! The local socket other processes use to reach this app
//! (`drive_sync::app_socket`): `drive share` and a second `drive-desktop
//! --share` ask it for links; a second launch asks it to show the window
//! (the asking side is in main.rs).

use tauri::{AppHandle, Runtime};

use drive_sync::app_socket::{self, Reply, Request};

use crate::{share, window};

/// Starts answering on the socket; a warning (and no socket) if another app
/// already answers or the socket cannot be made.
pub fn listen<R: Runtime>(app: &AppHandle<R>) {
    let Some(path) = app_socket::socket_path() else { return };
    let app = app.clone();
    let served = tauri::async_runtime::block_on(async move {
        app_socket::serve(&path, move |request| {
            let app = app.clone();
            async move { answer(&app, request).await }
        })
    });
    if let Err(error) = served {
        tracing::warn!(%error, "not listening for share requests");
    }
}

async fn answer<R: Runtime>(app: &AppHandle<R>, request: Request) -> Reply {
    match request {
        Request::Share(path) => match share::copy_share_link(app, &path).await {
            Ok(url) => Reply::Link(url),
            Err(error) => Reply::Error(error.to_string()),
        },
        Request::Show(()) => {
            window::show(app);
            Reply::Ok(())
        }
    }
}
