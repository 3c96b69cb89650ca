//! The app's own settings, in `desktop.json` next to the profile's
//! configuration: which folder syncs, paused or not, speed limits. (Ignore
//! patterns live in the folder's `.driveignore`, where the engine reads them;
//! start-at-login is the autostart plugin's entry, asked when needed.)

use std::path::{Path, PathBuf};

use drive_sync::throttle::Limits;
use serde::{Deserialize, Serialize};

const FILE: &str = "desktop.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub folder: Option<PathBuf>,
    pub paused: bool,
    pub limits: Limits,
    /// The server signed in to last, offered again at the next sign-in.
    pub last_server: Option<String>,
}

impl Settings {
    /// The settings in `home`; defaults when there are none or they are
    /// unreadable (with a warning: a damaged file must not keep the app from
    /// starting).
    pub fn load(home: &Path) -> Settings {
        let path = home.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, path = %path.display(), "unreadable settings; using defaults");
                Settings::default()
            }),
            Err(_) => Settings::default(),
        }
    }

    /// Writes atomically (temp file, rename).
    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        let path = home.join(FILE);
        let temp = home.join(format!("{FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&temp, json)?;
        std::fs::rename(temp, path)
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn settings_survive_a_round_trip_and_damage() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(home.path()), Settings::default());
        let settings = Settings {
            folder: Some("/home/ann/Drive".into()),
            paused: true,
            limits: Limits {
                up_kib: NonZeroU32::new(512),
                down_kib: None,
            },
            last_server: Some("https://drive.example.com".into()),
        };
        settings.save(home.path()).unwrap();
        assert_eq!(Settings::load(home.path()), settings);
        std::fs::write(home.path().join(FILE), "{not json").unwrap();
        assert_eq!(Settings::load(home.path()), Settings::default());
    }
}
