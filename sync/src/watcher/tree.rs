//! The watched tree, kept by the watcher's worker: on Linux one watch per
//! folder, breadth-first until the limit, the rest listed for polling; the
//! state dir and the folders the sync ignores get no watch.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet, VecDeque},
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use notify::{
    event::{CreateKind, ModifyKind, RenameMode},
    EventKind, RecursiveMode, Watcher as _,
};

use super::Coverage;
use crate::{ignore_rules::IgnoreRules, scanner};

/// Where Linux keeps the per-user inotify watch limit.
const LIMIT_FILE: &str = "/proc/sys/fs/inotify/max_user_watches";

/// The watched tree, kept by the worker.
pub(super) struct Tree {
    pub(super) root: PathBuf,
    state_dir: PathBuf,
    /// What the sync ignores, once the engine said (see [`Tree::ignore`]).
    ignore: Option<Arc<IgnoreRules>>,
    os_watcher: notify::RecommendedWatcher,
    per_folder: bool,
    /// At most this many watches of ours.
    budget: usize,
    limit: Option<u64>,
    pub(super) poll: Duration,
    pub(super) watched: BTreeSet<PathBuf>,
    /// The folders without a watch, with what their listing looked like.
    unwatched: BTreeMap<PathBuf, u64>,
    /// The user was told that part of the tree cannot be watched.
    warned: bool,
    #[cfg(test)]
    pub(super) seen: Vec<PathBuf>,
}

/// Why a folder got no watch.
enum Refused {
    /// The budget or the OS limit is spent.
    Limit,
    /// It is gone, or cannot be read: the scan says so if it matters.
    Other,
}

impl Tree {
    /// The tree of `root`, watched through `os_watcher` (which holds all of
    /// it already unless `per_folder`): with per-folder watches, every
    /// folder that can be is watched on return.
    pub(super) fn new(
        root: &Path,
        os_watcher: notify::RecommendedWatcher,
        options: &super::Options,
    ) -> notify::Result<Self> {
        let mut tree = Tree {
            root: root.to_owned(),
            state_dir: root.join(scanner::STATE_DIR),
            ignore: None,
            os_watcher,
            per_folder: options.per_folder,
            budget: options.budget.unwrap_or(usize::MAX),
            limit: options.budget.map(|budget| budget as u64).or_else(read_limit),
            poll: options.poll,
            watched: BTreeSet::new(),
            unwatched: BTreeMap::new(),
            warned: false,
            #[cfg(test)]
            seen: Vec::new(),
        };
        if tree.per_folder {
            // A folder that cannot be listed cannot be watched, nor polled.
            std::fs::read_dir(root).map_err(|error| notify::Error::io(error).add_path(root.to_owned()))?;
            tree.add(root);
            tree.tell();
        }
        Ok(tree)
    }

    /// Whether changes at `path` are none of the sync's business: it is in
    /// the state dir, or ignored (`is_dir` unknown: ignored as a file and
    /// as a folder alike).
    pub(super) fn skips(&self, path: &Path, is_dir: Option<bool>) -> bool {
        if path.starts_with(&self.state_dir) {
            return true;
        }
        let Some(rules) = &self.ignore else {
            return false;
        };
        let Ok((rel, _)) = scanner::relative(&self.root, path) else {
            return false;
        };
        match is_dir {
            _ if rel.is_empty() => false,
            Some(is_dir) => rules.is_ignored(&rel, is_dir),
            None => rules.is_ignored(&rel, false) && rules.is_ignored(&rel, true),
        }
    }

    /// Takes the sync's ignore rules (as of its last scan): the folders
    /// they ignore lose their watches, and those they no longer ignore get
    /// theirs.
    pub(super) fn ignore(&mut self, rules: Arc<IgnoreRules>) {
        if self.ignore.as_deref() == Some(&*rules) {
            return;
        }
        let before = self.ignore.replace(rules);
        if !self.per_folder {
            return;
        }
        let tracked = self.watched.iter().chain(self.unwatched.keys());
        let ignored: Vec<PathBuf> = tracked.filter(|dir| self.skips(dir, Some(true))).cloned().collect();
        for dir in ignored {
            self.forget(&dir);
        }
        // Without rules before, every folder was tracked; otherwise the
        // tracked ones are walked for folders no longer ignored under them.
        let mut queue = VecDeque::new();
        if before.is_some() {
            queue.push_back(self.root.clone());
        }
        while let Some(dir) = queue.pop_front() {
            if self.skips(&dir, Some(true)) {
                continue;
            }
            if !self.watched.contains(&dir) && !self.unwatched.contains_key(&dir) {
                self.add(&dir);
            } else if let Some(listing) = list(&dir) {
                queue.extend(listing.folders);
            }
        }
        self.tell();
    }

    pub(super) fn coverage(&self) -> Coverage {
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
    pub(super) fn tell(&mut self) {
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
            if self.skips(&dir, Some(true)) || self.watched.contains(&dir) || self.unwatched.contains_key(&dir) {
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

    /// Stops tracking `path` and everything under it: removed or moved away
    /// (inotify has dropped those watches already), or now ignored.
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
    pub(super) fn follow(&mut self, event: &notify::Event) {
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
    pub(super) fn poll_unwatched(&mut self) -> bool {
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
            .filter(|dir| {
                !self.watched.contains(dir) && !self.unwatched.contains_key(dir) && !self.skips(dir, Some(true))
            })
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
