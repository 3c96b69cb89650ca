//! The tray icon and its menu. On Linux (appindicator) a tray has no click
//! and no tooltip, so the status is the menu's first, disabled item and the
//! icon's picture; the menu is built once and its items edited in place (it
//! cannot be replaced there).

use std::sync::Mutex;

use drive_sync::activity::Summary;
use tauri::{
    image::Image,
    menu::{Menu, MenuItem, PredefinedMenuItem, Submenu},
    tray::{TrayIcon, TrayIconBuilder},
    AppHandle, Manager, Runtime,
};

use crate::{commands, desktop::Desktop, events, window};

/// Recently changed files listed in the menu.
const RECENT: usize = 5;

/// Menu entries that do something, as typed ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    OpenFolder,
    OpenWeb,
    Recent(usize),
    Pause,
    Preferences,
    Quit,
}

impl TrayItem {
    pub fn id(self) -> String {
        match self {
            TrayItem::OpenFolder => "open-folder".into(),
            TrayItem::OpenWeb => "open-web".into(),
            TrayItem::Recent(n) => format!("recent-{n}"),
            TrayItem::Pause => "pause".into(),
            TrayItem::Preferences => "preferences".into(),
            TrayItem::Quit => "quit".into(),
        }
    }

    pub fn parse(id: &str) -> Option<TrayItem> {
        Some(match id {
            "open-folder" => TrayItem::OpenFolder,
            "open-web" => TrayItem::OpenWeb,
            "pause" => TrayItem::Pause,
            "preferences" => TrayItem::Preferences,
            "quit" => TrayItem::Quit,
            other => TrayItem::Recent(other.strip_prefix("recent-")?.parse().ok()?),
        })
    }
}

/// Which picture the tray shows for a state.
pub fn icon_for(summary: &Summary, paused: bool) -> &'static [u8] {
    match summary {
        _ if paused => include_bytes!("../icons/tray-paused.png"),
        Summary::UpToDate => include_bytes!("../icons/tray-idle.png"),
        Summary::Starting | Summary::Syncing { .. } => include_bytes!("../icons/tray-syncing.png"),
        Summary::Paused => include_bytes!("../icons/tray-paused.png"),
        Summary::Offline { .. } => include_bytes!("../icons/tray-offline.png"),
        Summary::Behind { .. } | Summary::Error { .. } => include_bytes!("../icons/tray-error.png"),
        Summary::SignedOut { .. } => include_bytes!("../icons/tray-signed-out.png"),
    }
}

/// Handles on what changes, and what is shown now (to skip no-op updates).
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    recent: Vec<MenuItem<R>>,
    pause: MenuItem<R>,
    shown: Mutex<Shown>,
}

#[derive(Default, PartialEq)]
struct Shown {
    label: String,
    icon: usize,
    paused: Option<bool>,
    recent: Vec<String>,
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    let recent: Vec<MenuItem<R>> = (0..RECENT)
        .map(|n| MenuItem::with_id(app, TrayItem::Recent(n).id(), "—", false, None::<&str>))
        .collect::<tauri::Result<_>>()?;
    let recent_refs: Vec<&dyn tauri::menu::IsMenuItem<R>> = recent
        .iter()
        .map(|item| item as &dyn tauri::menu::IsMenuItem<R>)
        .collect();
    let recent_menu = Submenu::with_items(app, "Recently changed files", true, &recent_refs)?;
    let pause = MenuItem::with_id(app, TrayItem::Pause.id(), "Pause syncing", true, None::<&str>)?;
    let item = |what: TrayItem, text: &str| MenuItem::with_id(app, what.id(), text, true, None::<&str>);
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &item(TrayItem::OpenFolder, "Open folder")?,
            &item(TrayItem::OpenWeb, "Open on the web")?,
            &recent_menu,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &item(TrayItem::Preferences, "Preferences…")?,
            &PredefinedMenuItem::separator(app)?,
            &item(TrayItem::Quit, "Quit Drive")?,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("drive")
        .icon(Image::from_bytes(include_bytes!("../icons/tray-syncing.png"))?)
        .tooltip("Drive")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(Tray {
        icon,
        status,
        recent,
        pause,
        shown: Mutex::new(Shown::default()),
    });
    refresh(app);
    Ok(())
}

/// Brings the tray in line with the app's state; cheap when nothing changed.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let (Some(tray), Some(desktop)) = (app.try_state::<Tray<R>>(), app.try_state::<Desktop>()) else {
        return;
    };
    let summary = desktop.monitor().status().summary;
    let paused = desktop.settings().paused && desktop.account().is_some();
    let label = match (&summary, paused) {
        (Summary::SignedOut { .. }, _) => summary.label(),
        (_, true) => "Paused".to_owned(),
        _ => summary.label(),
    };
    let picture = icon_for(&summary, paused);
    let recent = desktop.monitor().recent_files(RECENT);
    let mut shown = tray.shown.lock().unwrap_or_else(|p| p.into_inner());
    let result = (|| -> tauri::Result<()> {
        if shown.label != label {
            tray.status.set_text(&label)?;
            tray.icon.set_tooltip(Some(format!("Drive: {label}")))?;
            shown.label = label;
        }
        if shown.icon != picture.as_ptr() as usize {
            tray.icon.set_icon(Some(Image::from_bytes(picture)?))?;
            shown.icon = picture.as_ptr() as usize;
        }
        if shown.paused != Some(paused) {
            tray.pause
                .set_text(if paused { "Resume syncing" } else { "Pause syncing" })?;
            shown.paused = Some(paused);
        }
        if shown.recent != recent {
            for (n, item) in tray.recent.iter().enumerate() {
                match recent.get(n) {
                    Some(path) => {
                        item.set_text(path)?;
                        item.set_enabled(true)?;
                    }
                    None => {
                        item.set_text(if n == 0 { "No files yet" } else { "—" })?;
                        item.set_enabled(false)?;
                    }
                }
            }
            shown.recent = recent;
        }
        Ok(())
    })();
    if let Err(error) = result {
        tracing::warn!(%error, "could not update the tray");
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(item) = TrayItem::parse(id) else { return };
    let desktop = app.state::<Desktop>();
    match item {
        TrayItem::OpenFolder => match desktop.folder() {
            Some(folder) => report(commands::open_path(app, &folder.to_string_lossy())),
            None => window::show(app),
        },
        TrayItem::OpenWeb => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let desktop = app.state::<Desktop>();
                report(commands::open_web(app.clone(), desktop).await);
            });
        }
        TrayItem::Recent(n) => {
            let path = app
                .try_state::<Tray<R>>()
                .and_then(|tray| tray.shown.lock().ok()?.recent.get(n).cloned());
            if let Some(local) = path.and_then(|p| desktop.local_path(&p)) {
                report(commands::open_path(app, &local.to_string_lossy()));
            }
        }
        TrayItem::Pause => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let desktop = app.state::<Desktop>();
                let paused = !desktop.settings().paused;
                if let Err(error) = desktop.set_paused(paused).await {
                    tracing::warn!(%error, "could not pause or resume");
                }
                events::changed(&app);
            });
        }
        TrayItem::Preferences => window::show(app),
        TrayItem::Quit => crate::quit(app),
    }
}

fn report<T>(result: Result<T, crate::error::CommandError>) {
    if let Err(error) = result {
        tracing::warn!(message = %error.message, "a tray action failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_round_trip() {
        for item in [
            TrayItem::OpenFolder,
            TrayItem::OpenWeb,
            TrayItem::Recent(0),
            TrayItem::Recent(4),
            TrayItem::Pause,
            TrayItem::Preferences,
            TrayItem::Quit,
        ] {
            assert_eq!(TrayItem::parse(&item.id()), Some(item));
        }
        assert_eq!(TrayItem::parse("status"), None);
        assert_eq!(TrayItem::parse("recent-x"), None);
    }

    #[test]
    fn the_icon_follows_the_state() {
        let idle = icon_for(&Summary::UpToDate, false);
        let syncing = icon_for(&Summary::Syncing { files: 2 }, false);
        let offline = icon_for(&Summary::Offline { message: String::new() }, false);
        let error = icon_for(&Summary::Error { message: String::new() }, false);
        let paused = icon_for(&Summary::UpToDate, true);
        let all = [idle, syncing, offline, error, paused];
        for (i, a) in all.iter().enumerate() {
            assert!(a.starts_with(b"\x89PNG"));
            for b in &all[i + 1..] {
                assert_ne!(a, b, "each state has its own picture");
            }
        }
    }
}
