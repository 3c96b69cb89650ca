//! What a launch asks for: `drive-desktop [--hidden] [--share PATH...]`, and
//! handing those requests to the app (this one, or the one already running).

use std::path::{Path, PathBuf};

use drive_sync::app_socket::Request;
use tauri::{AppHandle, Runtime};

use crate::{share, window};

/// Start in the tray without showing the window (start at login passes it).
pub const HIDDEN: &str = "--hidden";
pub const SHARE: &str = "--share";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Launch {
    pub hidden: bool,
    /// Absolute paths to make share links to.
    pub share: Vec<PathBuf>,
    /// Anything else a launch asks (a second launch from the menu: show the window).
    pub show: bool,
}

impl Launch {
    /// Parses arguments (without the program name); relative paths are
    /// taken from `cwd` (file managers pass them relative to the folder shown).
    pub fn parse(args: impl IntoIterator<Item = String>, cwd: &Path) -> Launch {
        let mut launch = Launch::default();
        let mut sharing = false;
        for arg in args {
            match arg.as_str() {
                HIDDEN => launch.hidden = true,
                SHARE => sharing = true,
                _ if sharing => launch.share.push(cwd.join(&arg)),
                _ => {}
            }
        }
        launch.show = !launch.hidden && launch.share.is_empty();
        launch
    }

    pub fn requests(&self) -> Vec<Request> {
        let mut requests: Vec<Request> = self.share.iter().cloned().map(Request::Share).collect();
        if self.show {
            requests.push(Request::Show(()));
        }
        requests
    }
}

/// Carries out a launch's requests in this app.
pub fn handle<R: Runtime>(app: &AppHandle<R>, requests: Vec<Request>) {
    for request in requests {
        match request {
            Request::Show(()) => window::show(app),
            Request::Share(path) => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    if let Err(error) = share::copy_share_link(&app, &path).await {
                        tracing::warn!(%error, path = %path.display(), "no share link");
                    }
                });
            }
        }
    }
}

/// The build folder (a Cargo target directory: it holds `CACHEDIR.TAG` and
/// `.rustc_info.json`) that `exe` runs from, if it does.
pub fn build_folder(exe: &Path) -> Option<&Path> {
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file() && dir.join(".rustc_info.json").is_file())
}

/// Why start at login cannot point at this app, if it cannot. The autostart
/// plugin writes the running binary's path (or the AppImage's, when run
/// from one) into ~/.config/autostart: the installed `/usr/bin/drive-desktop`
/// for the packages. A binary in a build folder moves or is cleaned away,
/// so it is never written there.
pub fn start_at_login_refusal(exe: &Path, appimage: Option<&Path>) -> Option<String> {
    if appimage.is_some() {
        return None;
    }
    build_folder(exe).map(|folder| {
        format!(
            "Start at login works with the installed app; this one runs from a build folder ({})",
            folder.display()
        )
    })
}

/// The same for this process.
pub fn start_at_login_refused() -> Option<String> {
    let appimage = std::env::var_os("APPIMAGE").map(PathBuf::from);
    match std::env::current_exe() {
        Ok(exe) => start_at_login_refusal(&exe, appimage.as_deref()),
        Err(error) => Some(format!("Start at login needs this app's path: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_at_login_never_points_into_a_build_folder() {
        let temp = tempfile::tempdir().unwrap();
        let target = temp.path().join("target");
        std::fs::create_dir_all(target.join("debug")).unwrap();
        std::fs::write(
            target.join("CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55",
        )
        .unwrap();
        std::fs::write(target.join(".rustc_info.json"), "{}").unwrap();
        let built = target.join("debug/drive-desktop");
        assert_eq!(build_folder(&built), Some(target.as_path()));
        assert!(start_at_login_refusal(&built, None)
            .unwrap()
            .contains("runs from a build folder"));
        // Run from an AppImage, the plugin writes the AppImage's path.
        assert_eq!(
            start_at_login_refusal(&built, Some(Path::new("/home/ann/Drive.AppImage"))),
            None
        );
        // Installed.
        assert_eq!(start_at_login_refusal(Path::new("/usr/bin/drive-desktop"), None), None);
        assert_eq!(build_folder(&temp.path().join("bin/drive-desktop")), None);
    }

    fn parse(args: &[&str]) -> Launch {
        Launch::parse(args.iter().map(|s| s.to_string()), Path::new("/home/ann/Drive/docs"))
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse(&[]),
            Launch {
                show: true,
                ..Launch::default()
            }
        );
        assert!(parse(&["--hidden"]).hidden);
        assert!(!parse(&["--hidden"]).show);
        let launch = parse(&["--share", "a b.txt", "/tmp/x"]);
        assert_eq!(
            launch.share,
            [PathBuf::from("/home/ann/Drive/docs/a b.txt"), PathBuf::from("/tmp/x")]
        );
        assert_eq!(
            launch.requests(),
            [
                Request::Share("/home/ann/Drive/docs/a b.txt".into()),
                Request::Share("/tmp/x".into())
            ]
        );
        assert_eq!(parse(&[]).requests(), [Request::Show(())]);
    }
}
