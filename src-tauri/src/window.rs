//! The one window: first-run setup until signed in with a folder, the
//! preferences and activity afterwards (the web view picks from the
//! snapshot). Closing it hides it; the app lives on in the tray.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

pub const MAIN: &str = "main";

/// Shows the window, creating it the first time.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Drive")
        .inner_size(880.0, 600.0)
        .min_inner_size(640.0, 480.0)
        .center()
        .build();
    match built {
        Ok(window) => {
            let hide = window.clone();
            window.on_window_event(move |event| {
                if let WindowEvent::CloseRequested { api, .. } = event {
                    api.prevent_close();
                    let _ = hide.hide();
                }
            });
        }
        Err(error) => tracing::error!(%error, "could not open the window"),
    }
}
