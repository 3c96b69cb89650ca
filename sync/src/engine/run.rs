//! The engine running in the background: a pass after every local change
//! (watched), every remote change (long-polled), and every so often anyway;
//! paused and resumed on demand.

use super::*;

/// How long a running engine waits before trying again when the server
/// cannot be reached.
const OFFLINE_RETRY: Duration = Duration::from_secs(5);

/// Asks a running engine for a pass now (a setting that the folder's
/// contents do not show changed, such as what is excluded from sync).
/// Clones share one engine's.
#[derive(Debug, Clone, Default)]
pub struct Nudge(Arc<tokio::sync::Notify>);

impl Nudge {
    pub fn nudge(&self) {
        self.0.notify_one();
    }

    async fn nudged(&self) {
        self.0.notified().await;
    }
}

impl Engine {
    /// Syncs until `stop` resolves: after every local change (watched),
    /// every remote change (long-polled), and at least every `rescan` anyway,
    /// since a watcher can miss events.
    pub async fn run(&self, rescan: Duration, stop: impl std::future::Future<Output = ()>) -> Result<()> {
        let (_never_paused, paused) = tokio::sync::watch::channel(false);
        self.run_with(rescan, paused, stop).await
    }

    /// [`Engine::run`], pausable: while `paused` holds `true` no pass starts
    /// (one under way finishes). Every change of state goes to the progress
    /// observer's [`Progress::state`].
    pub async fn run_with(
        &self,
        rescan: Duration,
        mut paused: tokio::sync::watch::Receiver<bool>,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        // Watching a big tree takes a walk of it: off the async threads. The
        // watcher lists by itself the folders the OS limit leaves unwatched
        // (every `watcher::POLL_UNWATCHED`), so `rescan` stays as it is.
        let root = self.root.clone();
        let watching = tokio::task::spawn_blocking(move || crate::watcher::watch(&root)).await;
        let (watcher, mut local_events) = match watching {
            Ok(Ok((watcher, events))) => (Some(watcher), events),
            Ok(Err(error)) => {
                tracing::warn!(
                    %error,
                    "cannot watch the folder for changes; rescanning all of it every {} s instead",
                    rescan.as_secs()
                );
                (None, tokio::sync::mpsc::channel(1).1)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch the folder for changes; rescanning instead");
                (None, tokio::sync::mpsc::channel(1).1)
            }
        };
        let mut coverage_told = None;
        tokio::pin!(stop);
        let mut purged = std::time::Instant::now();
        loop {
            // How much of the folder is watched, whenever it changes (the
            // watcher warns in the log once by itself).
            if let Some(watcher) = &watcher {
                let coverage = watcher.coverage();
                if coverage_told.as_ref() != Some(&coverage) {
                    self.progress.watching(&coverage);
                    coverage_told = Some(coverage);
                }
            }
            // A long-running engine keeps its local trash to its 30 days too.
            if purged.elapsed() > Duration::from_secs(24 * 3600) {
                self.state.purge_old_trash();
                purged = std::time::Instant::now();
            }
            if *paused.borrow_and_update() {
                self.progress.state(&RunState::Paused);
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    changed = paused.changed() => {
                        // The sender is gone: nobody can resume any more.
                        if changed.is_err() {
                            std::future::pending::<()>().await;
                        }
                        continue;
                    }
                }
            }
            let state = match self.sync_once().await {
                Ok(report) if report.in_sync() && report.unsyncable.is_empty() && report.kept.is_empty() => {
                    tracing::info!(done = report.done, "up to date");
                    RunState::UpToDate
                }
                Ok(report) => {
                    tracing::warn!(
                        pending = report.pending.len(),
                        errors = report.errors.len(),
                        held = report.held.as_ref().map_or(0, |held| held.files),
                        unsyncable = report.unsyncable.len(),
                        "not in sync yet"
                    );
                    // Held deletions and names this device cannot hold are
                    // shown with the errors, in words.
                    RunState::Behind {
                        pending: report.pending.len(),
                        errors: report.problems(),
                        held: report.held,
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "sync pass failed; retrying");
                    error.run_state()
                }
            };
            // What the pass's scan ignores is not watched.
            if let Some(watcher) = &watcher {
                watcher.ignore(self.ignore.lock().unwrap_or_else(|p| p.into_inner()).clone());
            }
            let offline = matches!(state, RunState::Offline { .. });
            self.progress.state(&state);
            let remote_change = async {
                if offline {
                    // Nothing to long-poll: try a pass again after a pause.
                    tokio::time::sleep(OFFLINE_RETRY).await;
                    return;
                }
                loop {
                    let cursor = self.with_ledger(|l| l.cursor()).await.unwrap_or_default();
                    match self.remote.changes(cursor, Duration::from_secs(25)).await {
                        // A feed that went backwards answers at once: the
                        // pass relists.
                        Ok(page) if !page.changes.is_empty() || page.cursor < cursor => return,
                        Ok(_) => {}
                        Err(error) => {
                            // Offline or the server is down: retry after a pause.
                            tracing::debug!(%error, "waiting for remote changes failed");
                            tokio::time::sleep(OFFLINE_RETRY).await;
                            return;
                        }
                    }
                }
            };
            tokio::select! {
                () = &mut stop => return Ok(()),
                Some(()) = local_events.recv() => {}
                () = remote_change => {}
                () = tokio::time::sleep(rescan) => {}
                Ok(()) = paused.changed() => {}
                () = self.decisions.made() => {}
                () = self.nudge.nudged() => {}
            }
        }
    }
}
