//! Syncing as a background service, for apps: opens the engine (retrying
//! while the server cannot be reached), runs it until stopped, and lets the
//! caller pause, resume and limit its speed while it runs. Everything it does
//! is reported to a [`Monitor`].

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::{watch, Notify};

use crate::{
    activity::{Monitor, Summary},
    engine::{Engine, Nudge, PathError},
    guard::{Choice, Decisions},
    planner::Op,
    progress::{Direction, Progress, RunState, TransferOf},
    remote::Remote,
    throttle::Throttle,
    watcher::Coverage,
};

/// How long to wait before trying to open the engine again.
const OPEN_RETRY: Duration = Duration::from_secs(5);

pub struct ServiceConfig {
    /// The local folder to sync (must exist).
    pub root: PathBuf,
    pub ledger: PathBuf,
    pub remote: Remote,
    pub monitor: Arc<Monitor>,
    /// Start paused.
    pub paused: bool,
    /// Full rescans at least this often, on top of watching the folder.
    pub rescan: Duration,
}

/// A running engine. Dropping it stops the engine without waiting for it.
pub struct SyncService {
    remote: Remote,
    decisions: Decisions,
    nudge: Nudge,
    paused: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SyncService {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl SyncService {
    /// Starts syncing on a thread of its own (with its own runtime), so
    /// that scans, hashing and transfers never hold up the caller's runtime.
    pub fn start(config: ServiceConfig) -> Self {
        let (paused, paused_rx) = watch::channel(config.paused);
        let (stop, stop_rx) = watch::channel(false);
        let remote = config.remote.clone();
        let decisions = Decisions::default();
        let shared = decisions.clone();
        let nudge = Nudge::default();
        let nudged = nudge.clone();
        config.monitor.set_summary(if config.paused {
            Summary::Paused
        } else {
            Summary::Starting
        });
        let thread = std::thread::Builder::new().name("drive-sync".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "cannot start the sync runtime");
                    config.monitor.state(&RunState::Failed {
                        message: format!("cannot start syncing: {error}"),
                    });
                    return;
                }
            };
            runtime.block_on(serve(config, shared, nudged, paused_rx, stop_rx));
        });
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                tracing::error!(%error, "cannot start the sync thread");
                None
            }
        };
        Self {
            remote,
            decisions,
            nudge,
            paused,
            stop,
            thread,
        }
    }

    /// Pauses (no new pass starts; one under way finishes) or resumes.
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// The user's choice for the deletions held back (see
    /// [`crate::guard`]): a pass starts at once to carry it out.
    pub fn decide(&self, choice: Choice) {
        self.decisions.decide(choice);
    }

    /// Asks for a pass now: after a change the folder does not show, such
    /// as what is excluded from sync.
    pub fn nudge(&self) {
        self.nudge.nudge();
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// The speed limits of this service's transfers.
    pub fn throttle(&self) -> &Throttle {
        self.remote.throttle()
    }

    /// The connection this service syncs through.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Stops syncing and waits until the engine has let go of the folder.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::warn!("the sync thread ended badly");
            }
        }
    }
}

/// The monitor as the engine's observer, which also rings `passed` after
/// every pass (when the pass's report is saved), so that what the report
/// alone says (the items left alone) reaches the monitor too.
struct Observer {
    monitor: Arc<Monitor>,
    passed: Arc<Notify>,
}

impl Progress for Observer {
    fn planned(&self, ops: &[Op]) {
        self.monitor.planned(ops);
    }
    fn finished(&self, op: &Op, error: Option<&str>) {
        self.monitor.finished(op, error);
    }
    fn bytes(&self, direction: Direction, bytes: u64) {
        self.monitor.bytes(direction, bytes);
    }
    fn transfer(&self, file: TransferOf<'_>, done: u64, total: u64) {
        self.monitor.transfer(file, done, total);
    }
    fn state(&self, state: &RunState) {
        self.monitor.state(state);
        self.passed.notify_one();
    }
    fn watching(&self, coverage: &Coverage) {
        self.monitor.watching(coverage);
    }
}

/// After every pass, tells the monitor the local items the pass left alone
/// (symlinks, unreadable files, names the server cannot take), from the
/// report the engine saved. Never ends.
async fn follow_reports(engine: &Engine, monitor: &Monitor, passed: &Notify) {
    loop {
        passed.notified().await;
        match engine.last_report().await {
            Ok(Some(report)) => {
                let skipped: Vec<PathError> = report.skipped;
                monitor.set_skipped(skipped);
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "no report of the last pass"),
        }
    }
}

/// Opens the engine (retrying while that fails for a reason that may pass)
/// and runs it until `stop` turns true.
async fn serve(
    config: ServiceConfig,
    decisions: Decisions,
    nudge: Nudge,
    paused: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let monitor = config.monitor.clone();
    monitor.set_root(&config.root);
    // Leaves "up to date" as soon as the folder changes, not once the pass
    // that follows has hashed what changed.
    let _changes = {
        let monitor = monitor.clone();
        crate::watcher::on_change(&config.root, move || monitor.changed_here())
    };
    let passed = Arc::new(Notify::new());
    let mut engine = loop {
        let progress: Arc<dyn Progress> = Arc::new(Observer {
            monitor: monitor.clone(),
            passed: passed.clone(),
        });
        match Engine::open(&config.root, &config.ledger, config.remote.clone(), progress).await {
            Ok(engine) => break engine,
            Err(error) => {
                tracing::warn!(%error, "cannot start syncing yet");
                let state = error.run_state();
                monitor.state(&state);
                if matches!(state, RunState::SignedOut { .. }) {
                    return;
                }
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(OPEN_RETRY) => {}
        }
    };
    engine.share_decisions(decisions);
    engine.share_nudge(nudge);
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let ran = tokio::select! {
        ran = engine.run_with(config.rescan, paused, stopped) => ran,
        () = follow_reports(&engine, &monitor, &passed) => Ok(()),
    };
    if let Err(error) = ran {
        tracing::error!(%error, "syncing stopped");
        monitor.state(&error.run_state());
    }
}
