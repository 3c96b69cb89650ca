//! The engine's activity, for people: a [`Progress`] observer that keeps a
//! status summary ("up to date", "syncing 3 files", "offline"...), the last
//! things that happened to files, and broadcasts both as [`Event`]s. The
//! desktop app shows them in its tray and windows; nothing here knows about it.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use drive_wire::NodeId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{
    engine::PathError,
    guard::Held,
    planner::Op,
    progress::{Direction, Progress, RunState, TransferOf},
    watcher::Coverage,
};

/// Activity entries kept (in memory, and in the history file when there is one).
pub const HISTORY: usize = 300;
/// Transfers' progress is told at most this often (start and end at once).
const TRANSFER_TOLD_EVERY: Duration = Duration::from_millis(250);
/// What a conflicted copy's name carries (see `engine::conflicted_name`).
const CONFLICTED_COPY: &str = "(conflicted copy ";

/// Where syncing stands, in one word and a few numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Summary {
    /// Signed in and a folder chosen, but the first pass has not ended yet.
    Starting,
    UpToDate,
    /// Something changed in the folder: the pass it starts is looking at it
    /// (hashing a big file takes a while before anything is planned).
    Checking,
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
            Summary::Checking => "Looking at your changes…".to_owned(),
            Summary::Syncing { files: 1 } => "Syncing 1 file".to_owned(),
            Summary::Syncing { files } => format!("Syncing {files} files"),
            Summary::Paused => "Paused".to_owned(),
            Summary::Offline { .. } => "Offline: the server cannot be reached".to_owned(),
            Summary::Behind { held: 1, .. } => "1 deleted file waits for your choice".to_owned(),
            Summary::Behind { held: files @ 2.., .. } => format!("{files} deleted files wait for your choice"),
            Summary::Behind {
                failed: 0, pending: 1, ..
            } => "1 item waiting to sync".to_owned(),
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
    /// Files moving now, with their progress.
    pub transfers: Vec<Transfer>,
    /// Bytes the current pass still has to move, as far as known (uploads
    /// from their size on disk, downloads once they start).
    pub bytes_left: u64,
    /// Local items left alone (symlinks, unreadable files, names the
    /// server cannot take), with why in words.
    pub skipped: Vec<PathError>,
}

impl Status {
    /// `summary`, with nothing moved, failed or left alone yet.
    pub fn new(seq: u64, summary: Summary) -> Self {
        Self {
            seq,
            summary,
            errors: Vec::new(),
            held: None,
            last_synced: None,
            watching: None,
            uploaded_bytes: 0,
            downloaded_bytes: 0,
            transfers: Vec::new(),
            bytes_left: 0,
            skipped: Vec::new(),
        }
    }

    /// One line for a status label or a tray menu: the summary, and while
    /// syncing, what is left ("Syncing 3 files — 42 MB left").
    pub fn label(&self) -> String {
        match self.summary {
            Summary::Syncing { .. } if self.bytes_left > 0 => {
                format!("{} — {} left", self.summary.label(), human_bytes(self.bytes_left))
            }
            _ => self.summary.label(),
        }
    }
}

/// `42 MB`, `1.5 GB`, `900 B`: powers of 1024, one decimal below 10, as
/// the app's windows write sizes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for next in UNITS {
        value /= 1024.0;
        unit = next;
        if value < 1024.0 {
            break;
        }
    }
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// One file moving.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transfer {
    /// Relative to the synced folder, `/`-separated.
    pub path: String,
    pub upload: bool,
    pub done: u64,
    pub total: u64,
    /// Average since it started, once it has moved something.
    pub bytes_per_second: Option<u64>,
    /// At that speed.
    pub seconds_left: Option<u64>,
}

impl Eq for Transfer {}

/// A transfer under way, as the monitor follows it.
struct Moving {
    upload: bool,
    started: Instant,
    /// Bytes done when it started (blocks the other side had).
    first: u64,
    done: u64,
    total: u64,
}

impl Moving {
    fn view(&self, path: &str) -> Transfer {
        let elapsed = self.started.elapsed().as_secs_f64();
        let moved = self.done.saturating_sub(self.first);
        let speed = (elapsed > 0.2 && moved > 0).then(|| (moved as f64 / elapsed) as u64);
        Transfer {
            path: path.to_owned(),
            upload: self.upload,
            done: self.done,
            total: self.total,
            bytes_per_second: speed,
            seconds_left: speed
                .filter(|&speed| speed > 0)
                .map(|speed| self.total.saturating_sub(self.done).div_ceil(speed)),
        }
    }
}

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The conflicted copy of a file changed on both sides, sent to the
    /// server beside the other version.
    ConflictCopy,
    MovedOutOfShare,
}

impl Action {
    /// The operations worth telling a person about; bookkeeping ones are not.
    fn of(op: &Op) -> Option<Action> {
        Some(match op {
            Op::Upload { path, .. } if is_conflicted_copy(path) => Action::ConflictCopy,
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
            Action::ConflictCopy => "Conflict: your version of a file changed on both sides, kept beside the other",
            Action::MovedOutOfShare => "Moved out of a read-only share",
        }
    }

    fn failed_words(self) -> &'static str {
        match self {
            Action::Uploaded | Action::ConflictCopy => "Could not upload",
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

/// Whether the file at `path` is a conflicted copy the engine made.
pub fn is_conflicted_copy(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|name| name.contains(CONFLICTED_COPY))
}

/// The file a conflicted copy was made of: `a/report (conflicted copy h d).txt`
/// -> `a/report.txt`.
pub fn conflict_original(path: &str) -> Option<String> {
    let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
    let start = name.find(CONFLICTED_COPY)?;
    let end = start + name[start..].find(')')?;
    let original = format!("{}{}", name[..start].trim_end(), &name[end + 1..]);
    Some(if dir.is_empty() {
        original
    } else {
        format!("{dir}/{original}")
    })
}

/// One thing that happened to one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The synced folder, to name uploads relative to it.
    root: Option<PathBuf>,
    /// The current pass's downloads, by node.
    downloads: HashMap<NodeId, String>,
    /// The current pass's uploads not started, with their size on disk.
    waiting: HashMap<String, u64>,
    moving: BTreeMap<String, Moving>,
    /// When the transfers were last told.
    told: Option<Instant>,
    /// Where the history is kept across restarts, and lines written to it
    /// since it was last rewritten.
    history_file: Option<(PathBuf, usize)>,
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
                status: Status::new(0, Summary::Starting),
                remaining: 0,
                history: VecDeque::new(),
                root: None,
                downloads: HashMap::new(),
                waiting: HashMap::new(),
                moving: BTreeMap::new(),
                told: None,
                history_file: None,
            }),
            events: broadcast::channel(256).0,
        }
    }

    /// Keeps the history in `path` (one JSON line an activity), so that it
    /// survives restarts: what is there is loaded now (the last [`HISTORY`]
    /// entries, numbered anew), and every activity from now on is added.
    /// A damaged line is skipped; a file that cannot be read starts empty.
    pub fn keep_history(&self, path: &Path) {
        let loaded: Vec<Activity> = match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "cannot read the activity history");
                Vec::new()
            }
        };
        let mut inner = self.lock();
        let skip = loaded.len().saturating_sub(HISTORY);
        let mut history: VecDeque<Activity> = loaded.into_iter().skip(skip).collect();
        // Newer than what was loaded: what happened since this monitor started.
        history.extend(inner.history.drain(..));
        while history.len() > HISTORY {
            history.pop_front();
        }
        for activity in history.iter_mut() {
            activity.seq = inner.next_seq();
        }
        inner.history = history;
        inner.history_file = Some((path.to_owned(), 0));
        inner.rewrite_history();
    }

    /// Names uploads relative to `root` (the synced folder).
    pub fn set_root(&self, root: &Path) {
        self.lock().root = Some(root.to_owned());
    }

    /// Something changed in the folder (the watcher says so at once): an
    /// app that said "up to date" stops saying it until the pass that
    /// follows has looked.
    pub fn changed_here(&self) {
        let mut inner = self.lock();
        if inner.status.summary == Summary::UpToDate {
            inner.status.summary = Summary::Checking;
            self.publish_status(&mut inner);
        }
    }

    /// The local items the last pass left alone.
    pub fn set_skipped(&self, skipped: Vec<PathError>) {
        let mut inner = self.lock();
        if inner.status.skipped != skipped {
            inner.status.skipped = skipped;
            self.publish_status(&mut inner);
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
            inner.status.skipped.clear();
            inner.status.last_synced = None;
            inner.clear_transfers();
            inner.rewrite_history();
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

    fn clear_transfers(&mut self) {
        self.downloads.clear();
        self.waiting.clear();
        self.moving.clear();
        self.status.transfers.clear();
        self.status.bytes_left = 0;
    }

    /// The status's transfers and bytes left, from what is moving and waiting.
    fn update_transfers(&mut self) {
        self.status.transfers = self.moving.iter().map(|(path, moving)| moving.view(path)).collect();
        let moving: u64 = self.moving.values().map(|m| m.total.saturating_sub(m.done)).sum();
        self.status.bytes_left = moving + self.waiting.values().sum::<u64>();
    }

    /// The path relative to the folder of an upload's local path.
    fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root.as_ref()?).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// Adds one activity to the history file (rewritten whole, to the
    /// last [`HISTORY`], once it holds twice that).
    fn append_history(&mut self, activity: &Activity) {
        let Some((path, lines)) = self.history_file.as_mut() else {
            return;
        };
        *lines += 1;
        if *lines >= HISTORY {
            self.rewrite_history();
            return;
        }
        let appended = serde_json::to_string(activity)
            .map_err(std::io::Error::other)
            .and_then(|line| {
                let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&*path)?;
                writeln!(file, "{line}")
            });
        if let Err(error) = appended {
            tracing::warn!(%error, "cannot keep the activity history");
        }
    }

    fn rewrite_history(&mut self) {
        let Some((path, lines)) = self.history_file.as_mut() else {
            return;
        };
        *lines = 0;
        let mut text = String::new();
        for activity in &self.history {
            if let Ok(line) = serde_json::to_string(activity) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        let temp = path.with_extension("tmp");
        let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &*path));
        if let Err(error) = written {
            tracing::warn!(%error, "cannot keep the activity history");
        }
    }
}

impl Progress for Monitor {
    fn planned(&self, ops: &[Op]) {
        let mut inner = self.lock();
        inner.remaining = ops.len();
        inner.status.summary = Summary::Syncing { files: ops.len() };
        inner.clear_transfers();
        for op in ops {
            match op {
                Op::Download { path, node_id, .. } => {
                    inner.downloads.insert(*node_id, path.clone());
                }
                Op::Upload { path, .. } => {
                    let size = inner
                        .root
                        .as_ref()
                        .map(|root| path.split('/').fold(root.clone(), |at, part| at.join(part)))
                        .and_then(|local| std::fs::metadata(local).ok())
                        .map_or(0, |meta| meta.len());
                    inner.waiting.insert(path.clone(), size);
                }
                _ => {}
            }
        }
        inner.update_transfers();
        self.publish_status(&mut inner);
    }

    fn transfer(&self, file: TransferOf<'_>, done: u64, total: u64) {
        let mut inner = self.lock();
        let (path, upload) = match file {
            TransferOf::Upload(local) => match inner.relative(local) {
                Some(path) => (path, true),
                None => return,
            },
            TransferOf::Download(node) => match inner.downloads.get(&node) {
                Some(path) => (path.clone(), false),
                None => return,
            },
        };
        inner.waiting.remove(&path);
        let started = !inner.moving.contains_key(&path);
        let moving = inner.moving.entry(path).or_insert_with(|| Moving {
            upload,
            started: Instant::now(),
            first: done,
            done,
            total,
        });
        moving.done = done.max(moving.done);
        moving.total = total;
        let due = inner.told.is_none_or(|told| told.elapsed() >= TRANSFER_TOLD_EVERY);
        if started || due || done >= total {
            inner.told = Some(Instant::now());
            inner.update_transfers();
            self.publish_status(&mut inner);
        }
    }

    fn finished(&self, op: &Op, error: Option<&str>) {
        let mut inner = self.lock();
        inner.remaining = inner.remaining.saturating_sub(1);
        let left = inner.remaining.max(1);
        let was_moving = inner.moving.remove(op.path()).is_some();
        let was_waiting = inner.waiting.remove(op.path()).is_some_and(|size| size > 0);
        let moved = was_moving || was_waiting;
        if moved {
            inner.update_transfers();
        }
        if let Summary::Syncing { files } = &mut inner.status.summary {
            if *files != left || moved {
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
        inner.append_history(&activity);
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
        inner.clear_transfers();
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
        // A file still being written when the pass looked is one item, too.
        monitor.state(&RunState::Behind {
            pending: 1,
            errors: Vec::new(),
            held: None,
        });
        assert_eq!(monitor.status().summary.label(), "1 item waiting to sync");
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
    fn a_change_leaves_up_to_date_at_once_and_only_up_to_date() {
        let monitor = Monitor::new();
        monitor.state(&RunState::UpToDate);
        monitor.changed_here();
        assert_eq!(monitor.status().summary, Summary::Checking);
        assert_eq!(monitor.status().label(), "Looking at your changes…");
        monitor.state(&RunState::Paused);
        monitor.changed_here();
        assert_eq!(monitor.status().summary, Summary::Paused, "paused stays paused");
    }

    #[test]
    fn transfers_show_each_file_and_what_is_left() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("big.bin"), vec![0u8; 3 << 20]).unwrap();
        std::fs::write(root.path().join("small.txt"), vec![0u8; 1000]).unwrap();
        let monitor = Monitor::new();
        monitor.set_root(root.path());
        let download = Op::Download {
            path: "docs/in.pdf".into(),
            node_id: 9,
            revision: 1,
        };
        monitor.planned(&[upload("big.bin"), upload("small.txt"), download.clone()]);
        let status = monitor.status();
        assert_eq!(status.bytes_left, (3 << 20) + 1000, "uploads by their size");
        assert_eq!(status.label(), "Syncing 3 files — 3.0 MB left");

        let big = root.path().join("big.bin");
        monitor.transfer(TransferOf::Upload(&big), 1 << 20, 3 << 20);
        monitor.transfer(TransferOf::Download(9), 0, 500);
        monitor.transfer(TransferOf::Download(10), 0, 1 << 30); // not planned: ignored
        let status = monitor.status();
        let paths: Vec<&str> = status.transfers.iter().map(|t| t.path.as_str()).collect();
        assert_eq!(paths, ["big.bin", "docs/in.pdf"]);
        assert!(status.transfers[0].upload && !status.transfers[1].upload);
        assert_eq!(
            (status.transfers[0].done, status.transfers[0].total),
            (1 << 20, 3 << 20)
        );
        assert_eq!(status.bytes_left, (2 << 20) + 1000 + 500);

        // The end of a transfer is told at once; the finished file leaves.
        monitor.transfer(TransferOf::Upload(&big), 3 << 20, 3 << 20);
        assert_eq!(monitor.status().transfers[0].done, 3 << 20);
        monitor.finished(&upload("big.bin"), None);
        let status = monitor.status();
        assert_eq!(status.transfers.len(), 1);
        assert_eq!(status.bytes_left, 1000 + 500);
        assert_eq!(status.summary, Summary::Syncing { files: 2 });
        monitor.state(&RunState::UpToDate);
        assert!(monitor.status().transfers.is_empty());
        assert_eq!(monitor.status().bytes_left, 0);
    }

    #[test]
    fn sizes_are_written_for_people() {
        assert_eq!(human_bytes(900), "900 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(42 << 20), "42 MB");
        assert_eq!(human_bytes(3 << 30), "3.0 GB");
    }

    #[test]
    fn conflicted_copies_are_told_as_conflicts() {
        let copy = "docs/plan (conflicted copy laptop 2026-12-02).txt";
        assert!(is_conflicted_copy(copy));
        assert!(!is_conflicted_copy("docs (conflicted copy x)/plan.txt"));
        assert_eq!(conflict_original(copy).as_deref(), Some("docs/plan.txt"));
        assert_eq!(
            conflict_original("Makefile (conflicted copy h d 2)").as_deref(),
            Some("Makefile")
        );
        let monitor = Monitor::new();
        monitor.finished(&upload(copy), None);
        let activity = &monitor.recent(1)[0];
        assert_eq!(activity.action, Action::ConflictCopy);
        assert!(activity.text.starts_with("Conflict"), "{}", activity.text);
    }

    #[test]
    fn the_history_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("activity.jsonl");
        let monitor = Monitor::new();
        monitor.keep_history(&file);
        for n in 0..HISTORY + 5 {
            monitor.finished(&upload(&format!("f{n}")), None);
        }
        drop(monitor);
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{text}{{not json\n")).unwrap();

        let again = Monitor::new();
        again.keep_history(&file);
        let recent = again.recent(usize::MAX);
        assert_eq!(recent.len(), HISTORY, "the last ones, a damaged line skipped");
        assert_eq!(recent[0].path, format!("f{}", HISTORY + 4));
        assert_eq!(recent[0].seq, again.seq(), "numbered anew");
        again.reset();
        let empty = Monitor::new();
        empty.keep_history(&file);
        assert!(empty.recent(10).is_empty(), "signing out forgets it");
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
