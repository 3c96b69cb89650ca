//! The drive desktop app: a tray icon, a window for first-run setup and
//! preferences, "Copy share link" in file managers, all thin over the sync
//! engine (`drive-sync`), which does the syncing in the background.
//!
//! - [`desktop`]: the app's state, delegating to the engine library
//! - [`commands`]: what the web view invokes; [`events`]: what it hears
//! - [`tray`], [`window`]: what the user sees
//! - [`ipc`], [`share`], [`file_manager`]: share links from outside the app
//! - [`settings`], [`error`], [`launch`]

pub mod commands;
pub mod desktop;
pub mod error;
pub mod events;
pub mod file_manager;
pub mod ipc;
pub mod issues;
pub mod launch;
pub mod settings;
pub mod share;
pub mod tray;
pub mod web;
pub mod window;

use tauri::{AppHandle, Manager, Runtime};

use crate::{desktop::Desktop, launch::Launch};

/// Registers every command (for the app and for tests with the mock runtime).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::get_snapshot,
        commands::sign_in,
        commands::sign_out,
        commands::pick_folder,
        commands::choose_folder,
        commands::set_paused,
        commands::decide_held,
        commands::set_limits,
        commands::set_autostart,
        commands::set_ignore,
        commands::get_folders,
        commands::set_folder_synced,
        commands::open_folder,
        commands::open_web,
        commands::copy_share_link,
        commands::get_quota,
        commands::get_notices,
        commands::open_item,
        commands::reveal_item,
        commands::share_item,
        commands::quit,
    ])
}

/// Stops syncing cleanly, then exits.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        app.state::<Desktop>().stop().await;
        app.exit(0);
    });
}

/// Runs the app until the user quits.
pub fn run(launch: Launch, desktop: Desktop) -> anyhow::Result<()> {
    let mut builder = tauri::Builder::default();
    // Under WebDriver every test launch must be a fresh app.
    if std::env::var_os("TAURI_WEBVIEW_AUTOMATION").is_none() {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            // A second launch: its requests come here, then it exits.
            let requests = Launch::parse(argv.into_iter().skip(1), std::path::Path::new(&cwd)).requests();
            launch::handle(app, requests);
        }));
    }
    let builder = builder
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![launch::HIDDEN]),
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .manage(desktop)
        .setup(move |app| {
            if let Some(home) = dirs::home_dir() {
                app.manage(Integration { home });
            }
            let handle = app.handle().clone();
            if let Err(error) = tray::create(&handle) {
                // No tray (no appindicator, no D-Bus): the window is the way in.
                tracing::warn!(%error, "no tray icon");
            }
            events::forward(&handle);
            ipc::listen(&handle);
            let desktop = handle.state::<Desktop>();
            let configured = desktop.account().is_some() && desktop.folder().is_some();
            if configured {
                file_manager_entries(&handle, true);
                tauri::async_runtime::block_on(desktop.start())?;
            }
            if !configured || !launch.hidden {
                window::show(&handle);
            }
            launch::handle(&handle, launch.requests());
            Ok(())
        });
    let app = with_commands(builder).build(tauri::generate_context!())?;
    app.run(|_app, event| {
        // Closing the last window keeps the app in the tray; only Quit exits.
        if let tauri::RunEvent::ExitRequested { api, code: None, .. } = event {
            api.prevent_exit();
        }
    });
    Ok(())
}

/// The user's home, where the file managers' entries go; managed only by
/// the real app (tests with the mock runtime leave the user's menus alone).
struct Integration {
    home: std::path::PathBuf,
}

/// Installs (or removes) the file managers' "Copy share link" for this user.
pub fn file_manager_entries<R: Runtime>(app: &AppHandle<R>, install: bool) {
    let Some(integration) = app.try_state::<Integration>() else {
        return;
    };
    let result = if install {
        std::env::current_exe().and_then(|exe| file_manager::install(&integration.home, &exe))
    } else {
        file_manager::uninstall(&integration.home)
    };
    if let Err(error) = result {
        tracing::warn!(%error, "could not update the file managers' share entries");
    }
}
