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

#[cfg(test)]
mod tests {
    use super::*;

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
