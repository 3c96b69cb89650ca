//! Syncing as a background service, for apps: opens the engine (retrying
//! while the server cannot be reached), runs it until stopped, and lets the
//! caller pause, resume and limit its speed while it runs. Everything it does
//! is reported to a [`Monitor`].

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    activity::{Monitor, Summary},
    engine::Engine,
    guard::{Choice, Decisions},
    progress::{Progress, RunState},
    remote::Remote,
    throttle::Throttle,
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
            runtime.block_on(serve(config, shared, paused_rx, stop_rx));
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

/// Opens the engine (retrying while that fails for a reason that may pass)
/// and runs it until `stop` turns true.
async fn serve(
    config: ServiceConfig,
    decisions: Decisions,
    paused: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let monitor = config.monitor.clone();
    let mut engine = loop {
        let progress: Arc<dyn Progress> = monitor.clone();
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
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    if let Err(error) = engine.run_with(config.rescan, paused, stopped).await {
        tracing::error!(%error, "syncing stopped");
        monitor.state(&error.run_state());
    }
}
