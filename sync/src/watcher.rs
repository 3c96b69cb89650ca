//! Watches the local folder and tells the engine that something changed.
//! Events are only hints: the engine always rescans, so a missed or merged
//! event costs nothing but latency, and an overflow or watcher error simply
//! asks for a rescan.

use std::{path::Path, time::Duration};

use notify::{
    event::{AccessKind, AccessMode},
    EventKind, RecursiveMode,
};
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
            Ok(events) => events.iter().any(|event| is_relevant(event, &state_dir)),
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

/// Whether an event may mean something to sync. Opening or reading a file or
/// folder is not: the engine's own scan opens every folder, and counting that
/// would start a pass after every pass. A file closed after writing is.
fn is_relevant(event: &notify::Event, state_dir: &Path) -> bool {
    if event.need_rescan() {
        return true;
    }
    let only_looked_at = matches!(
        event.kind,
        EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write)
    );
    !only_looked_at && event.paths.iter().any(|p| !p.starts_with(state_dir))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use notify::{
        event::{AccessKind, AccessMode, CreateKind, Flag, ModifyKind},
        Event, EventKind,
    };

    use super::is_relevant;

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn reads_and_the_state_dir_do_not_count_changes_do() {
        let state = Path::new("/d/.drive");
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        let read_closed = EventKind::Access(AccessKind::Close(AccessMode::Read));
        let written = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert!(!is_relevant(&event(open, "/d"), state));
        assert!(!is_relevant(&event(read_closed, "/d/a.txt"), state));
        assert!(is_relevant(&event(written, "/d/a.txt"), state));
        assert!(is_relevant(
            &event(EventKind::Create(CreateKind::File), "/d/a.txt"),
            state
        ));
        assert!(is_relevant(
            &event(EventKind::Modify(ModifyKind::Any), "/d/a.txt"),
            state
        ));
        assert!(!is_relevant(
            &event(EventKind::Create(CreateKind::File), "/d/.drive/tmp/x"),
            state
        ));
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(is_relevant(&overflow, state));
    }
}
