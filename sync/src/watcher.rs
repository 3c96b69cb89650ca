//! Watches the local folder and tells the engine that something changed.
//! Events are only hints: the engine always rescans, so a missed or merged
//! event costs nothing but latency, and an overflow or watcher error simply
//! asks for a rescan.

use std::{path::Path, time::Duration};

use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult};
use tokio::sync::mpsc;

use crate::scanner::STATE_DIR;

/// How long the folder must be quiet before a burst of events counts as one.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the OS watch alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>,
}

/// Starts watching `root`; every debounced burst that touches something
/// other than the state dir sends one message on the returned channel.
pub fn watch(root: &Path) -> notify::Result<(Watcher, mpsc::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(1);
    let state_dir = root.join(STATE_DIR);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let relevant = match result {
            Ok(events) => events
                .iter()
                .any(|event| event.need_rescan() || event.paths.iter().any(|p| !p.starts_with(&state_dir))),
            Err(errors) => {
                for error in errors {
                    tracing::warn!(%error, "the folder watcher erred; rescanning");
                }
                true
            }
        };
        if relevant {
            // A full channel already holds a wake-up: nothing is lost.
            let _ = tx.try_send(());
        }
    })?;
    debouncer.watch(root, RecursiveMode::Recursive)?;
    Ok((Watcher { _debouncer: debouncer }, rx))
}
