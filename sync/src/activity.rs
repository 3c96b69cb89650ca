//! The engine's activity, for people: a [`Progress`] observer that keeps a
//! status summary ("up to date", "syncing 3 files", "offline"...), the last
//! things that happened to files, and broadcasts both as [`Event`]s. The
//! desktop app shows them in its tray and windows; nothing here knows about it.

use std::{collections::VecDeque, sync::Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::{
    engine::PathError,
    guard::Held,
    planner::Op,
    progress::{Direction, Progress, RunState},
    watcher::Coverage,
};

/// Activity entries kept in memory.
pub const HISTORY: usize = 200;

/// Where syncing stands, in one word and a few numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Summary {
    /// Signed in and a folder chosen, but the first pass has not ended yet.
    Starting,
    UpToDate,
    Syncing {
        files: usize,
    },
    Paused,
    Offline {
        message: String,
    },
    /// Some paths could not be synced; the details are in `Status::errors`.
    Behind {
        pending: usize,
        failed: usize,
        /// Files deleted here whose deletion on the server waits for a choice.
        held: usize,
    },
    SignedOut {
        message: String,
    },
    Error {
        message: String,
    },
}

impl Summary {
    /// One line for a status label or a tray menu.
    pub fn label(&self) -> String {
        match self {
            Summary::Starting => "Starting…".to_owned(),
            Summary::UpToDate => "Up to date".to_owned(),
            Summary::Syncing { files: 1 } => "Syncing 1 file".to_owned(),
            Summary::Syncing { files } => format!("Syncing {files} files"),
            Summary::Paused => "Paused".to_owned(),
            Summary::Offline { .. } => "Offline: the server cannot be reached".to_owned(),
            Summary::Behind { held: 1, .. } => "1 deleted file waits for your choice".to_owned(),
            Summary::Behind { held: files @ 2.., .. } => format!("{files} deleted files wait for your choice"),
            Summary::Behind { failed: 0, pending, .. } => format!("{pending} items waiting to sync"),
            Summary::Behind { failed: 1, .. } => "1 item could not be synced".to_owned(),
            Summary::Behind { failed, .. } => format!("{failed} items could not be synced"),
            Summary::SignedOut { .. } => "Signed out: sign in again".to_owned(),
            Summary::Error { .. } => "Sync error: retrying".to_owned(),
        }
    }
}

/// The status and its details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The monitor's event number when this status was set: of two
    /// statuses, the larger `seq` is the newer, so a window that gets a
    /// snapshot and events in any order keeps the latest.
    pub seq: u64,
    pub summary: Summary,
    /// Paths that failed in the last pass, with the reason in words.
    pub errors: Vec<PathError>,
    /// Deletions held back until the user keeps or confirms them.
    pub held: Option<Held>,
    /// When both sides last agreed.
    pub last_synced: Option<DateTime<Utc>>,
    /// When the system's limit leaves folders unwatched: what that means
    /// and how to raise the limit, in words.
    pub watching: Option<String>,
    /// Bytes of content moved since start, each way.
    pub uploaded_bytes: u64,
    pub downloaded_bytes: u64,
}

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Uploaded,
    Downloaded,
    FolderCreated,
    Moved,
    Restored,
    DeletedOnServer,
    DeletedHere,
    ConflictKept,
    MovedOutOfShare,
}

impl Action {
    /// The operations worth telling a person about; bookkeeping ones are not.
    fn of(op: &Op) -> Option<Action> {
        Some(match op {
            Op::Upload { .. } => Action::Uploaded,
            Op::Download { .. } => Action::Downloaded,
            Op::MkdirRemote { .. } | Op::MkdirLocal { .. } => Action::FolderCreated,
            Op::MoveRemote { .. } | Op::MoveLocal { .. } => Action::Moved,
            Op::MoveBack { .. } => Action::Restored,
            Op::TrashRemote { .. } => Action::DeletedOnServer,
            Op::DeleteLocal { .. } => Action::DeletedHere,
            Op::Conflict { .. } => Action::ConflictKept,
            Op::MoveOutOfShare { .. } => Action::MovedOutOfShare,
            Op::Compare { .. } | Op::Record { .. } | Op::Forget { .. } => return None,
        })
    }

    fn words(self) -> &'static str {
        match self {
            Action::Uploaded => "Uploaded",
            Action::Downloaded => "Downloaded",
            Action::FolderCreated => "Folder created",
            Action::Moved => "Moved",
            Action::Restored => "Put back",
            Action::DeletedOnServer => "Deleted from the server",
            Action::DeletedHere => "Deleted here",
            Action::ConflictKept => "Changed on both sides: your version kept as a copy",
            Action::MovedOutOfShare => "Moved out of a read-only share",
        }
    }

    fn failed_words(self) -> &'static str {
        match self {
            Action::Uploaded => "Could not upload",
            Action::Downloaded => "Could not download",
            Action::FolderCreated => "Could not create the folder",
            Action::Moved => "Could not move",
            Action::Restored => "Could not put back",
            Action::DeletedOnServer => "Could not delete from the server",
            Action::DeletedHere => "Could not delete here",
            Action::ConflictKept | Action::MovedOutOfShare => "Could not keep a copy of",
        }
    }
}

/// One thing that happened to one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// The monitor's event number, shared with [`Status::seq`].
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Relative to the synced folder, `/`-separated.
    pub path: String,
    pub action: Action,
    /// The action in words ("Uploaded", "Could not download").
    pub text: String,
    /// Why it failed, in words.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Event {
    Status(Status),
    Activity(Activity),
}

struct Inner {
    /// The last event number given out.
    seq: u64,
    status: Status,
    /// Operations of the current pass not finished yet.
    remaining: usize,
    history: VecDeque<Activity>,
}

/// Watches an engine; share it as the engine's `Arc<dyn Progress>`.
pub struct Monitor {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Event>,
}

impl Default for Monitor {
    fn default() -> Self {
        Self::new()
    }
}

impl Monitor {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                seq: 0,
                status: Status {
                    seq: 0,
                    summary: Summary::Starting,
                    errors: Vec::new(),
                    held: None,
                    last_synced: None,
                    watching: None,
                    uploaded_bytes: 0,
                    downloaded_bytes: 0,
                },
                remaining: 0,
                history: VecDeque::new(),
            }),
            events: broadcast::channel(256).0,
        }
    }

    /// Every status change and activity from now on. A receiver that lags
    /// behind loses the oldest events; `status()` and `recent()` catch it up.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The last event number given out: whatever a caller reads after this
    /// includes at least every event up to it.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    /// The last `n` activities, newest first.
    pub fn recent(&self, n: usize) -> Vec<Activity> {
        self.lock().history.iter().rev().take(n).cloned().collect()
    }

    /// The last `n` distinct files that were uploaded or downloaded, newest first.
    pub fn recent_files(&self, n: usize) -> Vec<String> {
        let inner = self.lock();
        let mut files: Vec<String> = Vec::new();
        for activity in inner.history.iter().rev() {
            if files.len() == n {
                break;
            }
            let moved = matches!(activity.action, Action::Uploaded | Action::Downloaded);
            if moved && activity.error.is_none() && !files.contains(&activity.path) {
                files.push(activity.path.clone());
            }
        }
        files
    }

    /// Sets the summary from outside the engine (before it runs: starting,
    /// signed out, a folder that cannot be opened).
    pub fn set_summary(&self, summary: Summary) {
        let status = {
            let mut inner = self.lock();
            if inner.status.summary == summary {
                return;
            }
            inner.status.summary = summary;
            inner.status.seq = inner.next_seq();
            inner.status.clone()
        };
        let _ = self.events.send(Event::Status(status));
    }

    /// Forgets the activity and the status (after signing out).
    pub fn reset(&self) {
        {
            let mut inner = self.lock();
            inner.history.clear();
            inner.status.errors.clear();
            inner.status.last_synced = None;
        }
        self.set_summary(Summary::Starting);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish_status(&self, inner: &mut Inner) {
        inner.status.seq = inner.next_seq();
        let _ = self.events.send(Event::Status(inner.status.clone()));
    }
}

impl Inner {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

impl Progress for Monitor {
    fn planned(&self, ops: &[Op]) {
        let mut inner = self.lock();
        inner.remaining = ops.len();
        inner.status.summary = Summary::Syncing { files: ops.len() };
        self.publish_status(&mut inner);
    }

    fn finished(&self, op: &Op, error: Option<&str>) {
        let mut inner = self.lock();
        inner.remaining = inner.remaining.saturating_sub(1);
        let left = inner.remaining.max(1);
        if let Summary::Syncing { files } = &mut inner.status.summary {
            if *files != left {
                *files = left;
                self.publish_status(&mut inner);
            }
        }
        let Some(action) = Action::of(op) else { return };
        let activity = Activity {
            seq: inner.next_seq(),
            at: Utc::now(),
            path: op.path().to_owned(),
            action,
            text: if error.is_some() {
                action.failed_words()
            } else {
                action.words()
            }
            .to_owned(),
            error: error.map(str::to_owned),
        };
        if inner.history.len() == HISTORY {
            inner.history.pop_front();
        }
        inner.history.push_back(activity.clone());
        drop(inner);
        let _ = self.events.send(Event::Activity(activity));
    }

    fn bytes(&self, direction: Direction, bytes: u64) {
        let mut inner = self.lock();
        match direction {
            Direction::Up => inner.status.uploaded_bytes += bytes,
            Direction::Down => inner.status.downloaded_bytes += bytes,
        }
    }

    fn watching(&self, coverage: &Coverage) {
        let mut inner = self.lock();
        let advice = coverage.advice();
        if inner.status.watching != advice {
            inner.status.watching = advice;
            self.publish_status(&mut inner);
        }
    }

    fn state(&self, state: &RunState) {
        let mut inner = self.lock();
        inner.remaining = 0;
        inner.status.summary = match state {
            RunState::UpToDate => {
                inner.status.errors.clear();
                inner.status.held = None;
                inner.status.last_synced = Some(Utc::now());
                Summary::UpToDate
            }
            RunState::Behind { pending, errors, held } => {
                inner.status.errors = errors.clone();
                inner.status.held = held.clone();
                Summary::Behind {
                    pending: *pending,
                    failed: errors.len(),
                    held: held.as_ref().map_or(0, |held| held.files),
                }
            }
            RunState::Paused => Summary::Paused,
            RunState::Offline { message } => Summary::Offline {
                message: message.clone(),
            },
            RunState::SignedOut { message } => Summary::SignedOut {
                message: message.clone(),
            },
            RunState::Failed { message } => Summary::Error {
                message: message.clone(),
            },
        };
        self.publish_status(&mut inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(path: &str) -> Op {
        Op::Upload {
            path: path.to_owned(),
            base: None,
        }
    }

    #[test]
    fn a_pass_counts_down_and_ends_up_to_date() {
        let monitor = Monitor::new();
        let mut events = monitor.subscribe();
        assert_eq!(monitor.status().summary, Summary::Starting);
        monitor.planned(&[upload("a.txt"), upload("b.txt"), upload("c.txt")]);
        assert_eq!(monitor.status().summary, Summary::Syncing { files: 3 });
        monitor.finished(&upload("a.txt"), None);
        assert_eq!(monitor.status().summary, Summary::Syncing { files: 2 });
        monitor.finished(&upload("b.txt"), None);
        monitor.finished(&upload("c.txt"), None);
        monitor.state(&RunState::UpToDate);
        let status = monitor.status();
        assert_eq!(status.summary, Summary::UpToDate);
        assert_eq!(status.summary.label(), "Up to date");
        assert!(status.last_synced.is_some());

        let mut kinds = Vec::new();
        let mut seqs = Vec::new();
        while let Ok(event) = events.try_recv() {
            kinds.push(match event {
                Event::Status(status) => {
                    seqs.push(status.seq);
                    status.summary.label()
                }
                Event::Activity(activity) => {
                    seqs.push(activity.seq);
                    format!("{} {}", activity.text, activity.path)
                }
            });
        }
        // Every event numbered in order, the last status bearing the last number.
        assert_eq!(seqs, (1..=7).collect::<Vec<u64>>());
        assert_eq!((monitor.seq(), status.seq), (7, 7));
        assert_eq!(
            kinds,
            [
                "Syncing 3 files",
                "Syncing 2 files",
                "Uploaded a.txt",
                "Syncing 1 file",
                "Uploaded b.txt",
                "Uploaded c.txt",
                "Up to date"
            ]
        );
    }

    #[test]
    fn failures_are_told_in_words_and_kept_in_the_status() {
        let monitor = Monitor::new();
        let download = Op::Download {
            path: "docs/report.pdf".into(),
            node_id: 7,
            revision: 3,
        };
        monitor.planned(std::slice::from_ref(&download));
        monitor.finished(&download, Some("cannot reach the server: connection refused"));
        let errors = vec![PathError {
            path: "docs/report.pdf".into(),
            message: "cannot reach the server: connection refused".into(),
        }];
        monitor.state(&RunState::Behind {
            pending: 1,
            errors: errors.clone(),
            held: None,
        });
        let status = monitor.status();
        assert_eq!(status.summary.label(), "1 item could not be synced");
        assert_eq!(status.errors, errors);
        let activity = &monitor.recent(10)[0];
        assert_eq!(activity.text, "Could not download");
        assert_eq!(
            activity.error.as_deref(),
            Some("cannot reach the server: connection refused")
        );
        // A failed transfer is not a recent file.
        assert!(monitor.recent_files(5).is_empty());
    }

    #[test]
    fn recent_files_are_distinct_newest_first_and_skip_bookkeeping() {
        let monitor = Monitor::new();
        for path in ["a", "b", "a", "c"] {
            monitor.finished(&upload(path), None);
        }
        monitor.finished(&Op::Forget { path: "gone".into() }, None);
        monitor.finished(&Op::MkdirRemote { path: "dir".into() }, None);
        assert_eq!(monitor.recent_files(2), ["c", "a"]);
        assert_eq!(monitor.recent_files(10), ["c", "a", "b"]);
        assert_eq!(monitor.recent(1)[0].text, "Folder created");
        assert_eq!(monitor.recent(10).len(), 5);
    }

    #[test]
    fn history_is_bounded() {
        let monitor = Monitor::new();
        for n in 0..HISTORY + 10 {
            monitor.finished(&upload(&format!("f{n}")), None);
        }
        assert_eq!(monitor.recent(usize::MAX).len(), HISTORY);
        assert_eq!(monitor.recent(1)[0].path, format!("f{}", HISTORY + 9));
    }

    #[test]
    fn a_folder_partly_watched_is_explained_until_it_is_whole() {
        let monitor = Monitor::new();
        let mut coverage = Coverage {
            root: std::path::PathBuf::from("/home/a/Drive"),
            folders: 50,
            watched: 20,
            limit: Some(20),
            poll: std::time::Duration::from_secs(10),
        };
        monitor.watching(&coverage);
        let advice = monitor.status().watching.expect("the status says so");
        assert!(
            advice.contains("20 of the 50 folders") && advice.contains("max_user_watches"),
            "{advice}"
        );
        coverage.watched = 50;
        monitor.watching(&coverage);
        assert_eq!(monitor.status().watching, None);
    }

    #[test]
    fn states_map_to_summaries() {
        let monitor = Monitor::new();
        monitor.state(&RunState::Paused);
        assert_eq!(monitor.status().summary.label(), "Paused");
        monitor.state(&RunState::Offline {
            message: "cannot reach the server".into(),
        });
        assert_eq!(
            monitor.status().summary.label(),
            "Offline: the server cannot be reached"
        );
        monitor.state(&RunState::SignedOut {
            message: "sign in again".into(),
        });
        assert!(matches!(monitor.status().summary, Summary::SignedOut { .. }));
        let mut events = monitor.subscribe();
        monitor.set_summary(Summary::Starting);
        monitor.set_summary(Summary::Starting);
        assert!(events.try_recv().is_ok());
        assert!(events.try_recv().is_err(), "an unchanged summary is not sent again");
    }
}
