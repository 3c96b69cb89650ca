//! The engine: runs passes of scan -> plan -> execute until local and remote
//! agree, and keeps doing so as the folder and the server change.

use std::{
    collections::{HashMap, HashSet},
    io::ErrorKind,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use drive_wire::{Node, NodeId, NodeKind};
use futures::StreamExt;

use crate::{
    folder::{FolderError, Link, StateDir},
    fs::{in_its_folder, offload, DiskFs, Fs, SharedFs},
    guard::{Choice, Decisions, DeleteGuard, Held},
    ignore_rules::IgnoreRules,
    io_error::{io_err, IoError},
    ledger::{Entry, Ledger, LedgerError, RemoteNode},
    local_names::FsRules,
    planner::{self, Op, Subtrees},
    progress::{Progress, RunState},
    remote::{Remote, RemoteError},
    remote_tree::{ancestors, file_name, is_within, LocalView, RemoteTree},
    scanner::{self, LocalItem, LocalKind, Scan},
    selective::{Exclusions, SelectiveError, Stages},
    server::SharedServer,
    transfer::{self, Content, Fetched, Stats, TempFile, TransferError},
};

/// The ledger's meta key for the last pass's [`Report`] (JSON).
pub(crate) const LAST_REPORT: &str = "last_report";
/// Passes per `sync_once` before giving up on converging.
const MAX_PASSES: usize = 8;
/// Files transferred at once. Small downloads each wait on an fsync: on
/// the disks measured, 32 in flight sync about a quarter more files per
/// second than 16.
const PARALLEL_FILES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Selective(#[from] SelectiveError),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// What this failure means for a running engine, for people watching it.
    pub fn run_state(&self) -> RunState {
        let remote = match self {
            EngineError::Remote(error) | EngineError::Transfer(TransferError::Remote(error)) => Some(error),
            _ => None,
        };
        let message = self.to_string();
        match remote {
            Some(RemoteError::Unauthorized { .. } | RemoteError::InvalidCredentials) => RunState::SignedOut { message },
            Some(error) if error.is_transient() => RunState::Offline { message },
            _ => RunState::Failed { message },
        }
    }
}

/// A path that could not be synced, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathError {
    pub path: String,
    pub message: String,
}

/// The outcome of bringing both sides into agreement.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Report {
    /// Operations carried out.
    pub done: usize,
    /// Operations still planned when the last pass ended, and files being
    /// written to (synced once they settle).
    pub pending: Vec<String>,
    pub errors: Vec<PathError>,
    /// Local paths left alone (symlinks, unreadable files, bad names).
    pub skipped: Vec<PathError>,
    /// Server items that cannot exist on this device (their names), left
    /// on the server.
    pub unsyncable: Vec<PathError>,
    /// Deletions on the server waiting for a confirmation.
    pub held: Option<Held>,
    /// Folders excluded from sync that still hold something on this device
    /// that the server does not have, and why.
    pub kept: Vec<PathError>,
}

impl Report {
    /// Nothing is pending, failing or held: both sides agree on everything
    /// this device can sync.
    pub fn in_sync(&self) -> bool {
        self.pending.is_empty() && self.errors.is_empty() && self.held.is_none()
    }

    /// In sync, and nothing was left out on either side.
    pub fn complete(&self) -> bool {
        self.in_sync() && self.skipped.is_empty() && self.unsyncable.is_empty() && self.kept.is_empty()
    }

    /// What failed, and what cannot be synced here, in words, for people
    /// (held deletions are told apart: they wait for a choice).
    pub fn problems(&self) -> Vec<PathError> {
        let unsyncable = self.unsyncable.iter().map(|item| PathError {
            path: item.path.clone(),
            message: format!("can't be synced on this device: {}", item.message),
        });
        self.errors
            .iter()
            .cloned()
            .chain(unsyncable)
            .chain(self.kept.iter().cloned())
            .collect()
    }
}

/// What an engine runs on: the real disk and a server over HTTP, or the
/// simulation's models of both.
#[derive(Clone)]
pub struct Setup {
    pub fs: SharedFs,
    pub server: SharedServer,
    /// This device's name, for conflicted copies.
    pub host: String,
}

impl Setup {
    /// This machine's disk and `remote`.
    pub fn local(remote: Remote) -> Self {
        Self {
            fs: DiskFs::shared(),
            server: Arc::new(remote),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }
}

pub struct Engine {
    root: PathBuf,
    fs: SharedFs,
    remote: SharedServer,
    ledger: Arc<Mutex<Ledger>>,
    progress: Arc<dyn Progress>,
    host: String,
    state: StateDir,
    /// What the folder's file system can hold, probed at start.
    rules: FsRules,
    guard: DeleteGuard,
    /// What the user chose for the deletions held back, for the next pass.
    decisions: Decisions,
    /// Items whose names the disk spells otherwise than NFC, by relative
    /// path, as the last scan found them.
    disk_paths: Mutex<HashMap<String, PathBuf>>,
    /// The ignore rules of the last scan.
    ignore: Mutex<Arc<IgnoreRules>>,
    nudge: Nudge,
}

impl Engine {
    /// Opens the engine that syncs `root`: takes the folder's lock (one
    /// engine per folder), checks that the folder and its ledger belong to
    /// the signed-in account, and probes the file system.
    pub async fn open(root: &Path, ledger_path: &Path, remote: Remote, progress: Arc<dyn Progress>) -> Result<Self> {
        Self::open_on(Setup::local(remote), root, ledger_path, progress).await
    }

    /// [`Engine::open`] on another file system or server.
    pub async fn open_on(setup: Setup, root: &Path, ledger_path: &Path, progress: Arc<dyn Progress>) -> Result<Self> {
        Self::open_with(setup, root, ledger_path, progress, true).await
    }

    /// Opens the engine to look, not to sync (`drive status` beside a
    /// running sync): no lock is taken, and it writes neither the ledger (it
    /// works on a copy in memory) nor the folder's link. Only
    /// [`Engine::pending`] and [`Engine::last_report`] are meant for it.
    pub async fn observe(root: &Path, ledger_path: &Path, remote: Remote) -> Result<Self> {
        let setup = Setup::local(remote);
        Self::open_with(setup, root, ledger_path, Arc::new(crate::progress::Quiet), false).await
    }

    async fn open_with(
        setup: Setup,
        root: &Path,
        ledger_path: &Path,
        progress: Arc<dyn Progress>,
        lock: bool,
    ) -> Result<Self> {
        let Setup { fs, server, host } = setup;
        // A missing or unreadable folder (a disk not mounted) is an error
        // here, never an empty folder whose files were all deleted.
        let opening = io_err(format!("opening the folder {}", root.display()));
        let root = fs.canonicalize(root).map_err(opening)?;
        if !fs.metadata(&root).is_ok_and(|meta| meta.is_dir()) {
            return Err(EngineError::Refused(format!("{} is not a folder", root.display())));
        }
        let (shared, at) = (fs.clone(), root.clone());
        let (state, rules) = offload(&fs, move |fs| -> Result<_> {
            let state = StateDir::open(shared, &at, lock)?;
            let rules = FsRules::probe(fs, &state.tmp())
                .map_err(io_err("probing what names the folder's file system holds"))?
                .under(&at);
            Ok((state, rules))
        })
        .await?;
        let ledger_path = ledger_path.to_path_buf();
        let ledger = offload(&fs, move |_| match lock {
            true => Ledger::open(&ledger_path),
            false => Ledger::snapshot(&ledger_path),
        })
        .await?;
        let ignore = Mutex::new(Arc::new(IgnoreRules::new(&root)));
        let engine = Self {
            root,
            fs,
            remote: server,
            ledger: Arc::new(Mutex::new(ledger)),
            progress,
            host,
            state,
            rules,
            guard: DeleteGuard::default(),
            decisions: Decisions::default(),
            disk_paths: Mutex::default(),
            ignore,
            nudge: Nudge::default(),
        };
        tracing::info!(folder = %engine.root.display(), ?rules, "opened");
        engine.check_account().await?;
        Ok(engine)
    }

    /// Lets the next pass send the deletions held back by the mass-delete
    /// guard (the user confirmed them).
    pub fn confirm_deletions(&self) {
        self.decisions.decide(Choice::Delete);
    }

    /// Takes choices about held deletions from `decisions` (shared with
    /// whoever asks the user); a running engine starts a pass on each.
    pub fn share_decisions(&mut self, decisions: Decisions) {
        self.decisions = decisions;
    }

    /// Takes requests for a pass from `nudge` (shared with the app); the
    /// engine's own settings changes nudge it too.
    pub fn share_nudge(&mut self, nudge: Nudge) {
        self.nudge = nudge;
    }

    /// Sets when deletions on the server wait for a confirmation.
    pub fn set_delete_guard(&mut self, guard: DeleteGuard) {
        self.guard = guard;
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn with_ledger<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ledger) -> crate::ledger::Result<T> + Send + 'static,
    ) -> Result<T> {
        let ledger = self.ledger.clone();
        offload(&self.fs, move |_| {
            let mut ledger = ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut ledger)
        })
        .await
        .map_err(Into::into)
    }

    /// Applies the server's changes since the ledger's cursor; with `wait`,
    /// first waits up to that long for one. Returns whether anything changed.
    pub async fn pull(&self, wait: Duration) -> Result<bool> {
        let mut any = false;
        let mut wait = wait;
        loop {
            let (cursor, known_server) = self.with_ledger(|l| Ok((l.cursor()?, l.meta("server_id")?))).await?;
            let page = self.remote.changes(cursor, wait).await?;
            let other_server = known_server.is_some_and(|known| !page.server_id.is_empty() && known != page.server_id);
            if other_server {
                self.check_same_person().await?;
            }
            if other_server || page.cursor < cursor {
                // Restored from a backup, or another database behind the same
                // address: the cursor and the agreed state mean nothing there.
                // Relist and compare, as on a first sync: nothing is deleted
                // on that basis.
                tracing::warn!(
                    cursor,
                    answered = page.cursor,
                    other_server,
                    "the server's changes feed went backwards; relisting and comparing"
                );
                self.with_ledger(|l| l.relist()).await?;
                any = true;
                wait = Duration::ZERO;
                continue;
            }
            if !page.server_id.is_empty() {
                let id = page.server_id.clone();
                self.with_ledger(move |l| l.set_meta("server_id", &id)).await?;
            }
            any |= !page.changes.is_empty();
            let has_more = page.has_more;
            self.with_ledger(move |l| l.apply_changes(&page)).await?;
            if !has_more {
                return Ok(any);
            }
            wait = Duration::ZERO;
        }
    }

    /// Runs passes until both sides agree (or passes run out).
    pub async fn sync_once(&self) -> Result<Report> {
        let mut report = Report::default();
        for number in 1.. {
            let pass = self.plan_pass().await?;
            report = Report {
                done: report.done,
                errors: std::mem::take(&mut report.errors),
                ..Self::report_of(&pass)
            };
            if pass.ops.is_empty() && pass.ready.is_empty() {
                report.errors.clear();
                break;
            }
            if number > MAX_PASSES {
                break;
            }
            if !pass.ready.is_empty() {
                self.remove_excluded_folders(&pass.ready, &pass.ledger).await?;
                if pass.ops.is_empty() {
                    continue;
                }
            }
            tracing::info!(pass = number, ops = pass.ops.len(), "sync pass");
            self.progress.planned(&pass.ops);
            let planned = pass.ops.len();
            let errors = self.execute(pass.ops, &pass.items, &pass.ledger, pass.tree).await;
            report.done += planned.saturating_sub(errors.len());
            report.errors = errors;
        }
        let _ = self.save_report(&report).await;
        Ok(report)
    }

    async fn save_report(&self, report: &Report) -> Result<()> {
        let json = serde_json::to_string(report).unwrap_or_default();
        self.with_ledger(move |l| l.set_meta(LAST_REPORT, &json)).await
    }

    /// The report of the last `sync_once`, if any.
    pub async fn last_report(&self) -> Result<Option<Report>> {
        let json = self.with_ledger(|l| l.meta(LAST_REPORT)).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}

mod account;
mod batch;
mod execute;
mod local;
mod manifests;
mod pass;
mod run;
mod selective;

use execute::PassContext;
pub use local::conflicted_name;
pub use run::Nudge;
