//! The tray icon and its menu. On Linux (appindicator) a tray has no click
//! and no tooltip, so the status is the menu's first, disabled item and the
//! icon's picture; the menu is built once and its items edited in place (it
//! cannot be replaced there). Issues put a red dot on the icon, their count
//! in its title (shown beside the icon by appindicator) and a menu item
//! that opens them.

use std::sync::Mutex;

use drive_sync::activity::Summary;
use tauri::{
    image::Image,
    menu::{Menu, MenuItem, PredefinedMenuItem, Submenu},
    tray::{TrayIcon, TrayIconBuilder},
    AppHandle, Manager, Runtime,
};

use tauri::Emitter;

use crate::{commands, desktop::Desktop, events, window};

/// Asks the window to show a view (its id: "issues").
pub const SHOW_VIEW: &str = "drive://show-view";

/// Recently changed files listed in the menu.
const RECENT: usize = 5;

/// Menu entries that do something, as typed ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    Issues,
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
            TrayItem::Issues => "issues".into(),
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
            "issues" => TrayItem::Issues,
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
        Summary::Starting | Summary::Checking | Summary::Syncing { .. } => include_bytes!("../icons/tray-syncing.png"),
        Summary::Paused => include_bytes!("../icons/tray-paused.png"),
        Summary::Offline { .. } => include_bytes!("../icons/tray-offline.png"),
        Summary::Behind { .. } | Summary::Error { .. } => include_bytes!("../icons/tray-error.png"),
        Summary::SignedOut { .. } => include_bytes!("../icons/tray-signed-out.png"),
    }
}

/// The tray picture with a red dot in its top right corner (the issues'
/// badge), from a decoded RGBA picture.
pub fn with_badge(rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut out = rgba.to_vec();
    let (w, h) = (width as i64, height as i64);
    let radius = (w.min(h) as f64 * 0.22).max(2.0);
    let (cx, cy) = (w as f64 - radius - 0.5, radius + 0.5);
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
            let i = ((y * w + x) * 4) as usize;
            if i + 3 >= out.len() {
                continue;
            }
            let colour: Option<[u8; 4]> = if d <= radius - 1.0 {
                Some([0xdc, 0x26, 0x26, 0xff])
            } else if d <= radius + 0.5 {
                Some([0xff, 0xff, 0xff, 0xff])
            } else {
                None
            };
            if let Some(colour) = colour {
                out[i..i + 4].copy_from_slice(&colour);
            }
        }
    }
    out
}

/// Handles on what changes, and what is shown now (to skip no-op updates).
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    issues: MenuItem<R>,
    open_folder: MenuItem<R>,
    open_web: MenuItem<R>,
    recent_menu: Submenu<R>,
    recent: Vec<MenuItem<R>>,
    /// Stands in the submenu while no file is listed.
    no_recent: MenuItem<R>,
    pause: MenuItem<R>,
    shown: Mutex<Shown>,
}

#[derive(Default, PartialEq)]
struct Shown {
    label: String,
    icon: usize,
    badge: bool,
    issues: Option<usize>,
    set_up: Option<bool>,
    paused: Option<bool>,
    recent: Option<Vec<String>>,
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    // Files are added to the submenu as there are some: no placeholders.
    let recent: Vec<MenuItem<R>> = (0..RECENT)
        .map(|n| MenuItem::with_id(app, TrayItem::Recent(n).id(), "", true, None::<&str>))
        .collect::<tauri::Result<_>>()?;
    let no_recent = MenuItem::with_id(app, "no-recent", "No files synced yet", false, None::<&str>)?;
    let recent_menu = Submenu::with_items(app, "Recently changed files", false, &[&no_recent])?;
    // Disabled until signed in with a folder (refresh turns them on).
    let item =
        |what: TrayItem, text: &str, enabled: bool| MenuItem::with_id(app, what.id(), text, enabled, None::<&str>);
    let issues = item(TrayItem::Issues, "No problems", false)?;
    let open_folder = item(TrayItem::OpenFolder, "Open folder", false)?;
    let open_web = item(TrayItem::OpenWeb, "Open on the web", false)?;
    let pause = item(TrayItem::Pause, "Pause syncing", false)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &issues,
            &PredefinedMenuItem::separator(app)?,
            &open_folder,
            &open_web,
            &recent_menu,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &item(TrayItem::Preferences, "Preferences…", true)?,
            &PredefinedMenuItem::separator(app)?,
            &item(TrayItem::Quit, "Quit Drive", true)?,
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
        issues,
        open_folder,
        open_web,
        recent_menu,
        recent,
        no_recent,
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
    let status = desktop.monitor().status();
    let set_up = desktop.is_set_up();
    let paused = desktop.settings().paused && set_up;
    let summary = &status.summary;
    let label = match (summary, paused) {
        (_, _) if !set_up => crate::desktop::NOT_SET_UP.to_owned(),
        (Summary::SignedOut { .. }, _) => summary.label(),
        (_, true) => "Paused".to_owned(),
        _ => status.label(),
    };
    // Not set up: the neutral picture of "signed out".
    let picture = if set_up {
        icon_for(summary, paused)
    } else {
        include_bytes!("../icons/tray-signed-out.png")
    };
    let issues = desktop.issues().len();
    let recent = if set_up {
        desktop.monitor().recent_files(RECENT)
    } else {
        Vec::new()
    };
    let mut shown = tray.shown.lock().unwrap_or_else(|p| p.into_inner());
    let result = (|| -> tauri::Result<()> {
        if shown.label != label {
            tray.status.set_text(&label)?;
            tray.icon.set_tooltip(Some(format!("Drive: {label}")))?;
            shown.label = label;
        }
        let badge = issues > 0;
        if shown.icon != picture.as_ptr() as usize || shown.badge != badge {
            let image = Image::from_bytes(picture)?;
            let image = if badge {
                let rgba = with_badge(image.rgba(), image.width(), image.height());
                Image::new_owned(rgba, image.width(), image.height())
            } else {
                image
            };
            tray.icon.set_icon(Some(image))?;
            shown.icon = picture.as_ptr() as usize;
            shown.badge = badge;
        }
        if shown.issues != Some(issues) {
            // appindicator shows the title beside the icon: the count.
            tray.icon
                .set_title(if badge { Some(issues.to_string()) } else { None })?;
            tray.issues.set_text(match issues {
                0 => "No problems".to_owned(),
                1 => "1 problem needs you…".to_owned(),
                n => format!("{n} problems need you…"),
            })?;
            tray.issues.set_enabled(badge)?;
            shown.issues = Some(issues);
        }
        if shown.set_up != Some(set_up) {
            for item in [&tray.open_folder, &tray.open_web, &tray.pause] {
                item.set_enabled(set_up)?;
            }
            shown.set_up = Some(set_up);
        }
        if shown.paused != Some(paused) {
            tray.pause
                .set_text(if paused { "Resume syncing" } else { "Pause syncing" })?;
            shown.paused = Some(paused);
        }
        if shown.recent.as_ref() != Some(&recent) {
            // Only the files there are: the items are taken out and put
            // back (appindicator cannot hide an item).
            let before = shown.recent.as_ref().map_or(0, Vec::len);
            if before == 0 {
                let _ = tray.recent_menu.remove(&tray.no_recent);
            }
            for item in tray.recent.iter().take(before) {
                let _ = tray.recent_menu.remove(item);
            }
            for (item, path) in tray.recent.iter().zip(&recent) {
                item.set_text(path)?;
                tray.recent_menu.append(item)?;
            }
            if recent.is_empty() {
                tray.recent_menu.append(&tray.no_recent)?;
            }
            tray.recent_menu.set_enabled(set_up && !recent.is_empty())?;
            shown.recent = Some(recent);
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
        TrayItem::Issues => {
            window::show(app);
            if let Err(error) = app.emit(SHOW_VIEW, "issues") {
                tracing::warn!(%error, "could not show the issues");
            }
        }
        TrayItem::OpenFolder => match desktop.folder() {
            Some(folder) => report(commands::open_path(app, &folder.to_string_lossy())),
            None => window::show(app),
        },
        TrayItem::OpenWeb => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let desktop = app.state::<Desktop>();
                report(commands::open_web(app.clone(), desktop, None).await);
            });
        }
        TrayItem::Recent(n) => {
            let path = app
                .try_state::<Tray<R>>()
                .and_then(|tray| tray.shown.lock().ok()?.recent.as_ref()?.get(n).cloned());
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
            TrayItem::Issues,
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
        assert_eq!(icon_for(&Summary::Checking, false), syncing);
    }

    #[test]
    fn the_badge_is_a_red_dot_in_the_top_right_corner() {
        let (w, h) = (32u32, 32u32);
        let clear = vec![0u8; (w * h * 4) as usize];
        let badged = with_badge(&clear, w, h);
        let pixel = |x: u32, y: u32| &badged[((y * w + x) * 4) as usize..((y * w + x) * 4 + 4) as usize];
        assert_eq!(pixel(w - 8, 7), [0xdc, 0x26, 0x26, 0xff], "red near the corner");
        assert_eq!(pixel(2, h - 2), [0, 0, 0, 0], "the rest is left alone");
        assert_eq!(badged.len(), clear.len());
    }
}
