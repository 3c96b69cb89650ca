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
//! tree at no cost per folder.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet, VecDeque},
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard},
    time::{Duration, Instant, UNIX_EPOCH},
};

use notify::{
    event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode},
    EventKind, RecursiveMode, Watcher as _,
};
use tokio::sync::mpsc;

use crate::scanner::STATE_DIR;

/// How long the folder must be quiet before a burst of events counts as one.
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// A burst that goes on is still reported at least this often.
pub const LONGEST_BURST: Duration = Duration::from_secs(1);
/// How often the folders that cannot be watched are listed for changes.
pub const POLL_UNWATCHED: Duration = Duration::from_secs(10);
/// The least watch limit suggested to the user.
const LEAST_SUGGESTED_LIMIT: u64 = 524_288;
/// Where Linux keeps the per-user inotify watch limit.
const LIMIT_FILE: &str = "/proc/sys/fs/inotify/max_user_watches";

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

    /// The relevant event paths seen so far (tests only).
    #[cfg(test)]
    fn seen(&self) -> Vec<PathBuf> {
        lock(&self.tree).seen.clone()
    }
}

enum Message {
    Event(notify::Result<notify::Event>),
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
    let limit = match options.budget {
        Some(budget) => Some(budget as u64),
        None => read_limit(),
    };
    let mut tree = Tree {
        root: root.to_owned(),
        state_dir: root.join(STATE_DIR),
        os_watcher,
        per_folder: options.per_folder,
        budget: options.budget.unwrap_or(usize::MAX),
        limit,
        poll: options.poll,
        watched: BTreeSet::new(),
        unwatched: BTreeMap::new(),
        warned: false,
        #[cfg(test)]
        seen: Vec::new(),
    };
    if options.per_folder {
        // A folder that cannot be listed cannot be watched, nor polled.
        std::fs::read_dir(root).map_err(|error| notify::Error::io(error).add_path(root.to_owned()))?;
        tree.add(root);
        tree.tell();
    }
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
            Ok(Message::Event(Ok(event))) => {
                let mut tree = lock(tree);
                tree.follow(&event);
                relevant = is_relevant(&event, &tree.state_dir);
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

/// The watched tree, kept by the worker.
struct Tree {
    root: PathBuf,
    state_dir: PathBuf,
    os_watcher: notify::RecommendedWatcher,
    per_folder: bool,
    /// At most this many watches of ours.
    budget: usize,
    limit: Option<u64>,
    poll: Duration,
    watched: BTreeSet<PathBuf>,
    /// The folders without a watch, with what their listing looked like.
    unwatched: BTreeMap<PathBuf, u64>,
    /// The user was told that part of the tree cannot be watched.
    warned: bool,
    #[cfg(test)]
    seen: Vec<PathBuf>,
}

/// Why a folder got no watch.
enum Refused {
    /// The budget or the OS limit is spent.
    Limit,
    /// It is gone, or cannot be read: the scan says so if it matters.
    Other,
}

impl Tree {
    fn coverage(&self) -> Coverage {
        let folders = if self.per_folder {
            self.watched.len() + self.unwatched.len()
        } else {
            0
        };
        Coverage {
            root: self.root.clone(),
            folders,
            watched: if self.per_folder { self.watched.len() } else { 0 },
            limit: self.limit,
            poll: self.poll,
        }
    }

    /// Warns, once, when part of the tree cannot be watched.
    fn tell(&mut self) {
        if self.warned {
            return;
        }
        if let Some(advice) = self.coverage().advice() {
            tracing::warn!("{advice}");
            self.warned = true;
        }
    }

    fn watch_one(&mut self, dir: &Path) -> Result<(), Refused> {
        if self.watched.len() >= self.budget {
            return Err(Refused::Limit);
        }
        match self.os_watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir.to_owned());
                Ok(())
            }
            Err(error) if is_limit(&error) => Err(Refused::Limit),
            Err(error) => {
                tracing::debug!(%error, dir = %dir.display(), "cannot watch a folder");
                Err(Refused::Other)
            }
        }
    }

    /// Watches `start` and the folders under it, breadth-first, as far as
    /// the limit allows; the rest is listed for polling.
    fn add(&mut self, start: &Path) {
        let mut queue = VecDeque::from([start.to_owned()]);
        // Once the limit is met, the rest is not tried (each try costs a
        // round trip to the OS watcher).
        let mut spent = false;
        while let Some(dir) = queue.pop_front() {
            if dir.starts_with(&self.state_dir) || self.watched.contains(&dir) || self.unwatched.contains_key(&dir) {
                continue;
            }
            let limited = spent
                || match self.watch_one(&dir) {
                    Ok(()) => false,
                    Err(Refused::Limit) => true,
                    Err(Refused::Other) => continue,
                };
            spent = limited;
            let Some(listing) = list(&dir) else {
                // Gone already, or unreadable: nothing to watch there.
                if !limited {
                    self.forget(&dir);
                }
                continue;
            };
            if limited {
                self.unwatched.insert(dir.clone(), listing.fingerprint);
            }
            queue.extend(listing.folders);
        }
    }

    /// Stops tracking `path` and everything under it (removed or moved
    /// away; inotify has dropped those watches already).
    fn forget(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .watched
            .range(path.to_owned()..)
            .take_while(|p| p.starts_with(path))
            .cloned()
            .collect();
        for dir in gone {
            let _ = self.os_watcher.unwatch(&dir);
            self.watched.remove(&dir);
        }
        let gone: Vec<PathBuf> = self
            .unwatched
            .range(path.to_owned()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
            .collect();
        for dir in gone {
            self.unwatched.remove(&dir);
        }
    }

    /// Keeps the watches in step with the tree: a folder that appears (made
    /// or moved in) is watched with what is under it; one that goes is
    /// forgotten.
    fn follow(&mut self, event: &notify::Event) {
        if !self.per_folder {
            return;
        }
        match event.kind {
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                for path in &event.paths {
                    self.forget(path);
                }
            }
            EventKind::Create(CreateKind::Folder | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Any)) => {
                for path in &event.paths {
                    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir());
                    if is_dir && path.starts_with(&self.root) {
                        self.add(path);
                    }
                }
                self.tell();
            }
            _ => {}
        }
    }

    /// Lists the folders without a watch and says whether any changed;
    /// first tries to watch them again (the limit may have been raised, or
    /// watches freed).
    fn poll_unwatched(&mut self) -> bool {
        if self.unwatched.is_empty() {
            return false;
        }
        let mut changed = false;
        let mut retry: Vec<PathBuf> = self.unwatched.keys().cloned().collect();
        retry.sort_by_key(|dir| dir.components().count());
        for dir in retry {
            match self.watch_one(&dir) {
                Ok(()) => {
                    // What changed before the watch is caught by the pass
                    // this asks for.
                    self.unwatched.remove(&dir);
                    changed = true;
                }
                Err(Refused::Limit) => break,
                Err(Refused::Other) => {}
            }
        }
        let dirs: Vec<PathBuf> = self.unwatched.keys().cloned().collect();
        let mut known: HashSet<PathBuf> = HashSet::new();
        for dir in dirs {
            match list(&dir) {
                None => {
                    self.forget(&dir);
                    changed = true;
                }
                Some(listing) => {
                    if self.unwatched.insert(dir, listing.fingerprint) != Some(listing.fingerprint) {
                        changed = true;
                    }
                    known.extend(listing.folders);
                }
            }
        }
        // Folders made under unwatched ones: no event told of them.
        let new: Vec<PathBuf> = known
            .into_iter()
            .filter(|dir| !self.watched.contains(dir) && !self.unwatched.contains_key(dir))
            .collect();
        for dir in new {
            self.add(&dir);
            changed = true;
        }
        if self.unwatched.is_empty() {
            tracing::info!(root = %self.root.display(), "every folder is watched now");
            // Should the tree outgrow the limit again, the user is told again.
            self.warned = false;
        }
        self.tell();
        changed
    }
}

/// Whether a watch failed for the lack of watches.
fn is_limit(error: &notify::Error) -> bool {
    match &error.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => is_enospc(io),
        _ => false,
    }
}

#[cfg(target_os = "linux")]
fn is_enospc(error: &std::io::Error) -> bool {
    error.raw_os_error() == Some(libc::ENOSPC)
}

#[cfg(not(target_os = "linux"))]
fn is_enospc(_error: &std::io::Error) -> bool {
    false
}

/// The per-user watch limit, where the OS has one.
fn read_limit() -> Option<u64> {
    std::fs::read_to_string(LIMIT_FILE).ok()?.trim().parse().ok()
}

/// What a folder holds, for polling.
struct Listing {
    /// Changes when an entry is added, removed, renamed, resized or touched.
    fingerprint: u64,
    /// The folders in it (not the links to folders), by name order.
    folders: Vec<PathBuf>,
}

fn list(dir: &Path) -> Option<Listing> {
    let mut fingerprint: u64 = 0;
    let mut folders = Vec::new();
    let mut count: u64 = 0;
    for entry in std::fs::read_dir(dir).ok()? {
        let Ok(entry) = entry else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        entry.file_name().hash(&mut hasher);
        meta.is_dir().hash(&mut hasher);
        meta.len().hash(&mut hasher);
        if let Ok(modified) = meta.modified() {
            modified
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .hash(&mut hasher);
        }
        // In any order the OS lists them.
        fingerprint = fingerprint.wrapping_add(hasher.finish());
        count += 1;
        if meta.is_dir() {
            folders.push(entry.path());
        }
    }
    folders.sort();
    Some(Listing {
        fingerprint: fingerprint ^ count.rotate_left(32),
        folders,
    })
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
mod tests;
