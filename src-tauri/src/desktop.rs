//! The app's state, apart from any window: the profile (account, tokens in
//! the keyring), the settings, the engine's monitor and the running sync
//! service. Every operation delegates to the engine library; commands, tray
//! and socket only call these.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use drive_sync::{
    activity::{Activity, Monitor, Status, Summary},
    guard::Choice,
    profile::{Account, Profile},
    scanner::IGNORE_FILE,
    service::{ServiceConfig, SyncService},
    share::{self, LinkOptions},
    throttle::Limits,
};
use serde::Serialize;

use crate::{
    error::{io_err, DesktopError, Result},
    settings::Settings,
};

/// Full rescans at least this often, on top of watching the folder.
const RESCAN: Duration = Duration::from_secs(300);
/// Activities sent to a window that opens.
const ACTIVITY_SHOWN: usize = 100;

/// The account as the windows show it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub server: String,
    pub email: String,
    /// Where the tokens are kept, in words.
    pub keyring: String,
}

/// The status with its one-line label.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    #[serde(flatten)]
    pub status: Status,
    pub label: String,
}

impl From<Status> for StatusView {
    fn from(status: Status) -> Self {
        let label = status.summary.label();
        Self { status, label }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    pub paused: bool,
    pub up_kib: Option<u32>,
    pub down_kib: Option<u32>,
    pub autostart: bool,
}

/// Everything a window shows when it opens; events keep it current.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The monitor's event number when the snapshot was taken: events with a
    /// larger one may be missing from it (see `Monitor::seq`).
    pub seq: u64,
    pub account: Option<AccountView>,
    pub folder: Option<PathBuf>,
    pub default_folder: PathBuf,
    pub default_server: String,
    pub status: StatusView,
    pub activity: Vec<Activity>,
    pub settings: SettingsView,
    pub ignore: String,
    pub version: String,
}

pub struct Desktop {
    profile: Profile,
    settings: Mutex<Settings>,
    monitor: Arc<Monitor>,
    service: tokio::sync::Mutex<Option<SyncService>>,
}

impl Desktop {
    pub fn open(home: &Path) -> Result<Self> {
        let profile = Profile::open(home)?;
        let settings = Settings::load(home);
        let monitor = Arc::new(Monitor::new());
        if profile.account().is_none() {
            monitor.set_summary(Summary::SignedOut {
                message: "not signed in".into(),
            });
        }
        Ok(Self {
            profile,
            settings: Mutex::new(settings),
            monitor,
            service: tokio::sync::Mutex::new(None),
        })
    }

    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    pub fn account(&self) -> Option<Account> {
        self.profile.account()
    }

    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Result<Settings> {
        let mut settings = self.settings.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut settings);
        settings
            .save(self.profile.home())
            .map_err(io_err("saving the settings"))?;
        Ok(settings.clone())
    }

    /// The folder syncing (or to sync), once chosen.
    pub fn folder(&self) -> Option<PathBuf> {
        self.settings().folder
    }

    pub fn default_folder() -> PathBuf {
        dirs::home_dir().unwrap_or_default().join("Drive")
    }

    pub fn snapshot(&self, autostart: bool) -> Snapshot {
        let settings = self.settings();
        let ignore = settings
            .folder
            .as_ref()
            .and_then(|folder| std::fs::read_to_string(folder.join(IGNORE_FILE)).ok())
            .unwrap_or_default();
        Snapshot {
            seq: self.monitor.seq(),
            account: self.account().map(|account| AccountView {
                server: account.server,
                email: account.email,
                keyring: self.profile.credential_backend().to_string(),
            }),
            folder: settings.folder,
            default_folder: Self::default_folder(),
            default_server: std::env::var("DRIVE_SERVER").unwrap_or_default(),
            status: self.monitor.status().into(),
            activity: self.monitor.recent(ACTIVITY_SHOWN),
            settings: SettingsView {
                paused: settings.paused,
                up_kib: settings.limits.up_kib.map(|n| n.get()),
                down_kib: settings.limits.down_kib.map(|n| n.get()),
                autostart,
            },
            ignore,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    pub async fn sign_in(&self, server: &str, email: &str, password: &str, create: bool) -> Result<Account> {
        let server = server.trim();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(DesktopError::BadServerUrl);
        }
        let device = gethostname::gethostname().to_string_lossy().into_owned();
        let account = self.profile.sign_in(server, email, password, &device, create).await?;
        self.start().await?;
        Ok(account)
    }

    /// Stops syncing, ends the session and forgets the folder's sync state:
    /// another account's ledger must never be compared with this folder.
    pub async fn sign_out(&self) -> Result<()> {
        self.stop().await;
        if self.profile.account().is_some() {
            if let Some(error) = self.profile.sign_out().await? {
                tracing::warn!(%error, "the server did not confirm the sign-out");
            }
        }
        if let Some(folder) = self.folder() {
            // The folder's ledger and its link to this account: whoever signs
            // in next starts with a first sync that compares and deletes nothing.
            if let Err(error) = self.profile.unlink(&folder) {
                tracing::warn!(%error, "could not forget the folder's sync state");
            }
        }
        self.update_settings(|s| s.folder = None)?;
        self.monitor.reset();
        self.monitor.set_summary(Summary::SignedOut {
            message: "signed out".into(),
        });
        Ok(())
    }

    /// Makes `path` the synced folder (creating it) and starts syncing it.
    pub async fn choose_folder(&self, path: &Path) -> Result<PathBuf> {
        if self.profile.account().is_none() {
            return Err(DesktopError::NotSignedIn);
        }
        let path = expand_home(path);
        if !path.is_absolute() {
            return Err(DesktopError::RelativeFolder);
        }
        if path.exists() && !path.is_dir() {
            return Err(DesktopError::NotAFolder(path));
        }
        std::fs::create_dir_all(&path).map_err(io_err(format!("creating {}", path.display())))?;
        let path = std::fs::canonicalize(&path).map_err(io_err(format!("opening {}", path.display())))?;
        self.stop().await;
        self.update_settings(|s| s.folder = Some(path.clone()))?;
        self.start().await?;
        Ok(path)
    }

    /// Starts syncing if signed in with a folder chosen (and not already).
    pub async fn start(&self) -> Result<()> {
        let mut service = self.service.lock().await;
        if service.is_some() {
            return Ok(());
        }
        let settings = self.settings();
        let Some(folder) = settings.folder else { return Ok(()) };
        if self.profile.account().is_none() {
            return Ok(());
        }
        std::fs::create_dir_all(&folder).map_err(io_err(format!("creating {}", folder.display())))?;
        let remote = self.profile.connect()?;
        remote.throttle().set(settings.limits);
        let ledger = self.profile.ledger_for(&folder)?;
        *service = Some(SyncService::start(ServiceConfig {
            root: folder,
            ledger,
            remote,
            monitor: self.monitor.clone(),
            paused: settings.paused,
            rescan: RESCAN,
        }));
        Ok(())
    }

    pub async fn stop(&self) {
        if let Some(service) = self.service.lock().await.take() {
            service.stop().await;
        }
    }

    pub async fn is_running(&self) -> bool {
        self.service.lock().await.is_some()
    }

    pub async fn set_paused(&self, paused: bool) -> Result<()> {
        self.update_settings(|s| s.paused = paused)?;
        if let Some(service) = self.service.lock().await.as_ref() {
            service.set_paused(paused);
        }
        Ok(())
    }

    /// The user's choice for the deletions held back: keep the files (they
    /// download again) or delete them on the server too.
    pub async fn decide_held(&self, choice: Choice) -> Result<()> {
        match self.service.lock().await.as_ref() {
            Some(service) => {
                service.decide(choice);
                Ok(())
            }
            None => Err(DesktopError::NoFolder),
        }
    }

    pub async fn set_limits(&self, limits: Limits) -> Result<()> {
        self.update_settings(|s| s.limits = limits)?;
        if let Some(service) = self.service.lock().await.as_ref() {
            service.throttle().set(limits);
        }
        Ok(())
    }

    /// Writes the folder's `.driveignore` (the engine reads it on every scan).
    pub fn set_ignore(&self, patterns: &str) -> Result<()> {
        let folder = self.folder().ok_or(DesktopError::NoFolder)?;
        let mut text = patterns.trim_end().to_owned();
        if !text.is_empty() {
            text.push('\n');
        }
        std::fs::write(folder.join(IGNORE_FILE), text).map_err(io_err("saving the ignore patterns"))?;
        Ok(())
    }

    /// The full local path of a path relative to the synced folder.
    pub fn local_path(&self, relative: &str) -> Option<PathBuf> {
        let folder = self.folder()?;
        Some(
            relative
                .split('/')
                .filter(|p| !p.is_empty())
                .fold(folder, |path, part| path.join(part)),
        )
    }

    /// A public link to the file or folder at the local `path`.
    pub async fn share(&self, path: &Path) -> Result<String> {
        let folder = self.folder().ok_or(DesktopError::NoFolder)?;
        let path = std::fs::canonicalize(path).map_err(io_err(format!("opening {}", path.display())))?;
        if !path.starts_with(&folder) {
            return Err(DesktopError::OutsideFolder(path));
        }
        let drive_path = self.profile.drive_path(&path)?;
        let remote = match self.service.lock().await.as_ref() {
            Some(service) => service.remote().clone(),
            None => self.profile.connect()?,
        };
        Ok(share::public_link(&remote, &drive_path, LinkOptions::default()).await?)
    }

    /// What "Open on the web" opens: a one-time URL into the web app signed
    /// in, or the server's root when the server cannot make one (an older
    /// server, no network), where the web app asks to sign in.
    pub async fn web_url(&self) -> Result<String> {
        let account = self.account().ok_or(DesktopError::NotSignedIn)?;
        let remote = match self.service.lock().await.as_ref() {
            Some(service) => service.remote().clone(),
            None => self.profile.connect()?,
        };
        match crate::web::handoff_url(&remote).await {
            Ok(url) => Ok(url),
            Err(error) => {
                tracing::warn!(%error, "no hand-off URL: opening the server's root");
                Ok(account.server)
            }
        }
    }
}

/// `~/Drive` -> `/home/ann/Drive`.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}
