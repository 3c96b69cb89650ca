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
    ledger::Ledger,
    profile::{Account, Profile},
    scanner::IGNORE_FILE,
    selective::{self, Exclusions, Folder},
    service::{ServiceConfig, SyncService},
    share::{self, LinkOptions},
    throttle::Limits,
};
use serde::Serialize;

use crate::{
    error::{io_err, DesktopError, Result},
    issues::{self, Issue, Notices},
    settings::Settings,
};

/// Full rescans at least this often, on top of watching the folder.
const RESCAN: Duration = Duration::from_secs(300);
/// Activities sent to a window that opens.
const ACTIVITY_SHOWN: usize = 100;
/// The activity history, kept across restarts, next to the settings.
const HISTORY_FILE: &str = "activity.jsonl";
/// How long signing in waits for the server to take a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// The tray's and the window's words before sign-in and a folder.
pub const NOT_SET_UP: &str = "Not set up";

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
        let label = status.label();
        Self { status, label }
    }
}

/// Space on the server.
#[derive(Debug, Clone, Serialize)]
pub struct Quota {
    pub used_bytes: u64,
    /// 0: no limit.
    pub quota_bytes: u64,
    /// "1.2 GB of 10 GB used", or "1.2 GB used" with no limit.
    pub label: String,
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
    pub issues: Vec<Issue>,
    pub settings: SettingsView,
    pub ignore: String,
    pub version: String,
}

pub struct Desktop {
    profile: Profile,
    settings: Mutex<Settings>,
    monitor: Arc<Monitor>,
    service: tokio::sync::Mutex<Option<SyncService>>,
    notices: Notices,
}

impl Desktop {
    pub fn open(home: &Path) -> Result<Self> {
        let profile = Profile::open(home)?;
        let settings = Settings::load(home);
        let monitor = Arc::new(Monitor::new());
        monitor.keep_history(&home.join(HISTORY_FILE));
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
            notices: Notices::default(),
        })
    }

    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// Signed in with a folder chosen.
    pub fn is_set_up(&self) -> bool {
        self.account().is_some() && self.folder().is_some()
    }

    /// A status for the windows: "Not set up" until signed in with a folder.
    pub fn status_view(&self, status: Status) -> StatusView {
        let mut view = StatusView::from(status);
        if !self.is_set_up() {
            view.label = NOT_SET_UP.to_owned();
        }
        view
    }

    /// What needs the user now.
    pub fn issues(&self) -> Vec<Issue> {
        if !self.is_set_up() {
            return Vec::new();
        }
        let folder = self.folder();
        issues::collect(
            &self.monitor.status(),
            &self.monitor.recent(drive_sync::activity::HISTORY),
            |path| issues::exists_in(folder.as_deref(), path),
        )
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
            default_server: std::env::var("DRIVE_SERVER")
                .ok()
                .or(settings.last_server)
                .unwrap_or_default(),
            status: self.status_view(self.monitor.status()),
            activity: self.monitor.recent(ACTIVITY_SHOWN),
            issues: self.issues(),
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
        let address = reqwest::Url::parse(server).map_err(|_| DesktopError::BadServerUrl)?;
        let host = address.host_str().ok_or(DesktopError::BadServerUrl)?.to_owned();
        self.update_settings(|s| s.last_server = Some(server.to_owned()))?;
        // A refused or unanswered connection fails in seconds, not after
        // the retries meant for a sync that lost the network for a moment.
        // (Through a proxy the server itself is not dialled: no such check.)
        if !behind_proxy() {
            let port = address.port_or_known_default().unwrap_or(443);
            // An IPv6 literal is written in brackets in a URL, not to connect.
            let dial = host.trim_start_matches('[').trim_end_matches(']');
            let connecting = tokio::net::TcpStream::connect((dial, port));
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::info!(%error, %server, "the server did not take a connection");
                    return Err(DesktopError::NotAnswering(host));
                }
                Err(_) => return Err(DesktopError::NotAnswering(host)),
            }
        }
        let device = gethostname::gethostname().to_string_lossy().into_owned();
        let account = self
            .profile
            .sign_in(server, email, password, &device, create)
            .await
            .map_err(|error| DesktopError::from(error).with_host(&host))?;
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
        self.notices.clear();
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

    /// The account's folders, and whether each syncs on this computer.
    pub fn folders(&self) -> Result<Vec<Folder>> {
        Ok(selective::folders(&self.ledger()?)?)
    }

    /// Syncs the folder at `path` (as the server names it) on this computer
    /// again, or leaves it on the server only (see [`drive_sync::selective`]);
    /// a running sync starts a pass at once.
    pub async fn set_folder_synced(&self, path: &str, synced: bool) -> Result<()> {
        let ledger = self.ledger()?;
        let changed = if synced {
            Exclusions::include_in(&ledger, path)?
        } else {
            Exclusions::exclude_in(&ledger, path)?.is_some()
        };
        if changed {
            tracing::info!(%path, synced, "selective sync changed");
        }
        if let Some(service) = self.service.lock().await.as_ref() {
            service.nudge();
        }
        Ok(())
    }

    /// The web app's page of the folder that holds `item` (a path in the
    /// synced folder): `/files` for the top, `/files/ID` for a synced folder.
    fn folder_page(&self, item: &str) -> Option<String> {
        match item.trim_matches('/').rsplit_once('/') {
            None => Some("/files".to_owned()),
            Some((folder, _)) => {
                let id = self.ledger().ok()?.node_id(folder).ok()??;
                Some(format!("/files/{id}"))
            }
        }
    }

    /// The synced folder's ledger.
    fn ledger(&self) -> Result<Ledger> {
        let folder = self.folder().ok_or(DesktopError::NoFolder)?;
        Ok(Ledger::open(&self.profile.ledger_for(&folder)?)?)
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

    /// Space used on the server, and the account's quota.
    pub async fn quota(&self) -> Result<Quota> {
        if self.account().is_none() {
            return Err(DesktopError::NotSignedIn);
        }
        let remote = match self.service.lock().await.as_ref() {
            Some(service) => service.remote().clone(),
            None => self.profile.connect()?,
        };
        let me = remote.me().await.map_err(drive_sync::profile::ProfileError::from)?;
        let used = drive_sync::activity::human_bytes(me.used_bytes);
        let label = if me.quota_bytes == 0 {
            format!("{used} used")
        } else {
            format!("{used} of {} used", drive_sync::activity::human_bytes(me.quota_bytes))
        };
        Ok(Quota {
            used_bytes: me.used_bytes,
            quota_bytes: me.quota_bytes,
            label,
        })
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
    pub async fn web_url(&self, item: Option<&str>) -> Result<String> {
        let account = self.account().ok_or(DesktopError::NotSignedIn)?;
        let remote = match self.service.lock().await.as_ref() {
            Some(service) => service.remote().clone(),
            None => self.profile.connect()?,
        };
        match crate::web::handoff_url(&remote).await {
            // Landing on the item's folder, when it is known as synced.
            Ok(url) => Ok(match item.and_then(|item| self.folder_page(item)) {
                Some(page) => format!("{url}&to={page}"),
                None => url,
            }),
            Err(error) => {
                tracing::warn!(%error, "no hand-off URL: opening the server's root");
                Ok(account.server)
            }
        }
    }
}

/// Whether HTTP goes through a proxy (reqwest follows these variables).
fn behind_proxy() -> bool {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// `~/Drive` -> `/home/ann/Drive`.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}
