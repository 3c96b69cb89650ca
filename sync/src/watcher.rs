//! Watches the local folder and tells the engine that something changed.
//! Events are only hints: the engine always rescans, so a missed or merged
//! event costs nothing but latency, and an overflow or watcher error simply
//! asks for a rescan.
//!
//! On Linux inotify needs one watch per folder and the kernel caps them per
//! user (`fs.inotify.max_user_watches`), so folders are watched one by one,
//! breadth-first (the top of the tree first), until the cap is reached;
//! folders created later are watched as they appear. What cannot be watched
//! is checked every [`POLL_UNWATCHED`] by listing it (no reading, no
//! hashing), and [`Coverage::advice`] says, with the numbers, how to raise
//! the cap. Elsewhere (macOS, Windows) one recursive watch holds the whole
//! tree at no cost per folder. Folders the sync ignores (`node_modules/`
//! in a `.driveignore`, say) get no watch once the engine has told the
//! watcher its rules, and changes to ignored files wake nothing.

use std::{
    path::{Path, PathBuf},
    sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use notify::{
    event::{AccessKind, AccessMode},
    EventKind, RecursiveMode, Watcher as _,
};
use tokio::sync::mpsc;

use crate::ignore_rules::IgnoreRules;
use tree::Tree;

/// How long the folder must be quiet before a burst of events counts as one.
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// A burst that goes on is still reported at least this often.
pub const LONGEST_BURST: Duration = Duration::from_secs(1);
/// How often the folders that cannot be watched are listed for changes.
pub const POLL_UNWATCHED: Duration = Duration::from_secs(10);
/// The least watch limit suggested to the user.
const LEAST_SUGGESTED_LIMIT: u64 = 524_288;

/// How much of the folder is watched for changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub root: PathBuf,
    /// Folders in the tree (the folder itself included), as far as they are
    /// known; 0 where one recursive watch holds the tree (no count is kept).
    pub folders: usize,
    /// Folders with a watch.
    pub watched: usize,
    /// The watch limit: `fs.inotify.max_user_watches` on Linux.
    pub limit: Option<u64>,
    /// How often the folders without a watch are checked.
    pub poll: Duration,
}

impl Coverage {
    /// Folders the OS would not let us watch.
    pub fn unwatched(&self) -> usize {
        self.folders.saturating_sub(self.watched)
    }

    /// Every folder is watched.
    pub fn complete(&self) -> bool {
        self.unwatched() == 0
    }

    /// A limit that holds this tree with room for other programs: the next
    /// power of two above twice the folders, at least 524,288, and above
    /// the current limit (other programs use watches too).
    pub fn suggested_limit(&self) -> u64 {
        let needed = (2 * self.folders as u64 + 1).next_power_of_two();
        let mut suggested = needed.max(LEAST_SUGGESTED_LIMIT);
        if let Some(limit) = self.limit {
            if suggested <= limit {
                suggested = (limit + 1).next_power_of_two();
            }
        }
        suggested
    }

    /// What the user should know and do when part of the folder cannot be
    /// watched, in words; `None` when all of it is.
    pub fn advice(&self) -> Option<String> {
        if self.complete() {
            return None;
        }
        let limit = match self.limit {
            Some(limit) => format!("the system allows {limit} watched folders per user"),
            None => "the system's limit of watched folders is reached".to_owned(),
        };
        let n = self.suggested_limit();
        Some(format!(
            "Only {watched} of the {folders} folders in {root} can be watched for changes: {limit} \
             (fs.inotify.max_user_watches), shared with other programs. Changes in the other {unwatched} \
             folders are found by checking them every {poll} s instead, so they sync later. To raise the \
             limit now: `sudo sysctl fs.inotify.max_user_watches={n}`; to keep it after a restart: \
             `echo fs.inotify.max_user_watches={n} | sudo tee /etc/sysctl.d/90-drive.conf`. The rest of the \
             folder is then watched within {poll} s, without a restart.",
            watched = self.watched,
            folders = self.folders,
            root = self.root.display(),
            unwatched = self.unwatched(),
            poll = self.poll.as_secs().max(1),
        ))
    }
}

/// How to watch; [`Options::default`] is what the engine uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// At most this many folder watches (the tests' stand-in for the OS
    /// limit); `None`: as many as the OS allows.
    pub budget: Option<usize>,
    /// How often the folders without a watch are listed for changes.
    pub poll: Duration,
    /// One watch per folder (Linux); otherwise one recursive watch.
    pub per_folder: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            budget: None,
            poll: POLL_UNWATCHED,
            per_folder: cfg!(target_os = "linux"),
        }
    }
}

/// Keeps the OS watch alive; dropping it stops watching.
pub struct Watcher {
    tree: Arc<Mutex<Tree>>,
    worker: std_mpsc::Sender<Message>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The worker drops the OS watcher as it ends.
        let _ = self.worker.send(Message::Stop);
    }
}

impl Watcher {
    /// How much of the folder is watched now.
    pub fn coverage(&self) -> Coverage {
        lock(&self.tree).coverage()
    }

    /// Whether `dir` has a watch of its own (per-folder watching only).
    pub fn is_watched(&self, dir: &Path) -> bool {
        lock(&self.tree).watched.contains(dir)
    }

    /// Takes the sync's ignore rules, as of its last scan: the folders they
    /// ignore are not watched, and changes there wake nothing. Until the
    /// first call, everything is watched.
    pub fn ignore(&self, rules: Arc<IgnoreRules>) {
        let _ = self.worker.send(Message::Ignore(rules));
    }

    /// The relevant event paths seen so far (tests only).
    #[cfg(test)]
    fn seen(&self) -> Vec<PathBuf> {
        lock(&self.tree).seen.clone()
    }
}

enum Message {
    Event(notify::Result<notify::Event>),
    Ignore(Arc<IgnoreRules>),
    Stop,
}

/// Starts watching `root`; every debounced burst that touches something
/// other than the state dir sends one message on the returned channel.
pub fn watch(root: &Path) -> notify::Result<(Watcher, mpsc::Receiver<()>)> {
    watch_with(root, Options::default())
}

/// [`watch`] with other [`Options`]. Returns once every folder that can be
/// watched is, so a scan started afterwards misses nothing.
pub fn watch_with(root: &Path, options: Options) -> notify::Result<(Watcher, mpsc::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(1);
    let (events, inbox) = std_mpsc::channel();
    let sender = events.clone();
    let mut os_watcher = notify::recommended_watcher(move |event| {
        let _ = sender.send(Message::Event(event));
    })?;
    if !options.per_folder {
        os_watcher.watch(root, RecursiveMode::Recursive)?;
    }
    let tree = Tree::new(root, os_watcher, &options)?;
    let tree = Arc::new(Mutex::new(tree));
    let shared = Arc::clone(&tree);
    std::thread::Builder::new()
        .name("drive-watcher".into())
        .spawn(move || work(&shared, &inbox, &tx))
        .map_err(notify::Error::io)?;
    Ok((Watcher { tree, worker: events }, rx))
}

/// The worker: follows events (watching new folders at once), debounces
/// them into wake-ups, and lists the unwatched folders every so often.
fn work(tree: &Mutex<Tree>, inbox: &std_mpsc::Receiver<Message>, wake: &mpsc::Sender<()>) {
    let poll = lock(tree).poll;
    // A burst: when it started, and when it was last added to.
    let mut burst: Option<(Instant, Instant)> = None;
    let mut next_poll = Instant::now() + poll;
    loop {
        let now = Instant::now();
        let due = burst.map(|(first, last)| (last + DEBOUNCE).min(first + LONGEST_BURST));
        let until = due.map_or(next_poll, |due| due.min(next_poll));
        let mut relevant = false;
        match inbox.recv_timeout(until.saturating_duration_since(now)) {
            Ok(Message::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            Ok(Message::Ignore(rules)) => lock(tree).ignore(rules),
            Ok(Message::Event(Ok(event))) => {
                let mut tree = lock(tree);
                tree.follow(&event);
                relevant = is_relevant(&event, |path| tree.skips(path, None));
                #[cfg(test)]
                if relevant {
                    tree.seen.extend(event.paths.iter().cloned());
                }
            }
            Ok(Message::Event(Err(error))) => {
                if matches!(error.kind, notify::ErrorKind::MaxFilesWatch) {
                    tracing::warn!(
                        %error,
                        "the system's limit of watched folders is reached; raise fs.inotify.max_user_watches"
                    );
                } else {
                    tracing::warn!(%error, "the folder watcher erred; rescanning");
                }
                relevant = true;
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if relevant {
            if burst.is_none() {
                let root = lock(tree).root.clone();
                tell_hooks(&std::fs::canonicalize(&root).unwrap_or(root));
            }
            burst = Some((burst.map_or(now, |(first, _)| first), now));
        }
        if burst.is_some_and(|(first, last)| now >= last + DEBOUNCE || now >= first + LONGEST_BURST) {
            burst = None;
            // A full channel already holds a wake-up: nothing is lost.
            let _ = wake.try_send(());
        }
        if now >= next_poll {
            next_poll = now + poll;
            if lock(tree).poll_unwatched() {
                let _ = wake.try_send(());
            }
        }
    }
}

/// A callback told of a change under a watched folder.
type Hook = Arc<dyn Fn() + Send + Sync>;

/// Who hears of changes as they happen, by folder (see [`on_change`]).
static HOOKS: Mutex<Vec<(u64, PathBuf, Hook)>> = Mutex::new(Vec::new());
static NEXT_HOOK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Keeps an [`on_change`] hook registered; dropping it unregisters it.
#[must_use = "the hook is removed when this is dropped"]
pub struct OnChange(u64);

impl Drop for OnChange {
    fn drop(&mut self) {
        lock_hooks().retain(|(id, _, _)| *id != self.0);
    }
}

/// Calls `hook` (on the watcher's thread) at the first event of every
/// burst of changes under the watched folder `root`: at once, before the
/// debounce and before the pass the burst starts, whose scan may take
/// seconds hashing a big file. An app leaves "up to date" with it the
/// moment something changes. `root` is compared as given and canonical.
pub fn on_change(root: &Path, hook: impl Fn() + Send + Sync + 'static) -> OnChange {
    let id = NEXT_HOOK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    lock_hooks().push((id, root, Arc::new(hook)));
    OnChange(id)
}

fn lock_hooks() -> MutexGuard<'static, Vec<(u64, PathBuf, Hook)>> {
    HOOKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tells the hooks of `root` (outside the lock: a hook may register another).
fn tell_hooks(root: &Path) {
    let hooks: Vec<Hook> = lock_hooks()
        .iter()
        .filter(|(_, at, _)| at == root)
        .map(|(_, _, hook)| Arc::clone(hook))
        .collect();
    for hook in hooks {
        hook();
    }
}

fn lock(tree: &Mutex<Tree>) -> MutexGuard<'_, Tree> {
    tree.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether an event may mean something to sync. Opening or reading a file or
/// folder is not: the engine's own scan opens every folder, and counting that
/// would start a pass after every pass. A file closed after writing is.
/// Neither is a change to paths the sync `skips` (the state dir, ignored
/// files).
fn is_relevant(event: &notify::Event, skips: impl Fn(&Path) -> bool) -> bool {
    if event.need_rescan() {
        return true;
    }
    let only_looked_at = matches!(
        event.kind,
        EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write)
    );
    !only_looked_at && event.paths.iter().any(|p| !skips(p))
}

#[cfg(test)]
mod tests;
mod tree;
