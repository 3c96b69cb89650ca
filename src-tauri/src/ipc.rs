//! The local socket other processes use to reach this app
//! (`drive_sync::app_socket`): `drive share` and a second `drive-desktop
//! --share` ask it for links; a second launch asks it to show the window.

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

/// Hands a launch's requests to the app already running, if one is.
/// Returns the process's exit code when it did (the caller then exits).
pub fn forward(requests: &[Request]) -> Option<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let mut code = std::process::ExitCode::SUCCESS;
    for request in requests {
        match runtime.block_on(app_socket::ask(request)) {
            Ok(Some(Reply::Link(url))) => println!("{url}"),
            Ok(Some(Reply::Ok(()))) => {}
            Ok(Some(Reply::Error(message))) => {
                eprintln!("drive-desktop: {message}");
                code = std::process::ExitCode::FAILURE;
            }
            // No app running: this process becomes the app.
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(%error, "the running app did not answer");
                return None;
            }
        }
    }
    Some(code)
}
