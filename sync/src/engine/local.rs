//! The engine's changes to local files beyond transfers: deletions the
//! server caused (into the folder's local trash), conflicted copies, and
//! items moved out of read-only shares.

use super::*;

impl Engine {
    /// Deletes a local file or folder the server deleted, but only what is
    /// exactly as last synced: anything else is kept and reported. Files go
    /// to the folder's local trash, recoverable for 30 days.
    pub(super) fn delete_local(&self, path: &str, kind: LocalKind, ledger: &HashMap<String, Entry>) -> Result<()> {
        let target = self.local(path);
        let unchanged = |rel: &str, at: &Path| self.as_synced(rel, at, ledger);
        match kind {
            LocalKind::File => {
                if !unchanged(path, &target) {
                    return Err(EngineError::Refused("it changed locally; kept".into()));
                }
                self.state.trash(path, &target)?;
                Ok(())
            }
            LocalKind::Folder => {
                // Deepest first. What is in sync goes to the trash, and so do
                // ignored droppings (`.DS_Store`), which would otherwise keep
                // the folder, and with it the server's deletion, from
                // happening here. What is not known to be in sync (written
                // meanwhile) stays, and so do its folders: the next pass
                // uploads it again rather than lose it.
                let ignore = self.ignore.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for (entry, rel, is_dir) in self.deepest_first(&target) {
                    if is_dir {
                        let _ = self.fs.remove_dir(&entry);
                    } else if is_within(&rel, path) && (unchanged(&rel, &entry) || ignore.is_ignored(&rel, false)) {
                        self.state.trash(&rel, &entry)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// What is at `target` and under it, deepest first: each item's path
    /// on disk, its path in the folder (NFC, whatever the disk's spelling)
    /// and whether it is a folder. What has no such name is left out.
    fn deepest_first(&self, target: &Path) -> Vec<(PathBuf, String, bool)> {
        let mut entries = walk(self.fs.as_ref(), target);
        entries.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        entries
            .into_iter()
            .filter_map(|entry| {
                let (rel, _) = scanner::relative(&self.root, &entry).ok()?;
                let is_dir = self.fs.metadata(&entry).is_ok_and(|meta| meta.is_dir());
                Some((entry, rel, is_dir))
            })
            .collect()
    }

    /// Whether the item at `at` (`rel` in the folder) is exactly as the
    /// ledger last synced it.
    fn as_synced(&self, rel: &str, at: &Path, ledger: &HashMap<String, Entry>) -> bool {
        let Some(entry) = ledger.get(rel) else { return false };
        match transfer::stats(self.fs.as_ref(), at) {
            Ok(stats) if entry.kind == NodeKind::Folder => stats.inode == entry.inode || entry.inode == 0,
            Ok(stats) => stats.size == entry.size && stats.mtime_ns == entry.mtime_ns && stats.inode == entry.inode,
            Err(_) => false,
        }
    }

    /// Removes from this device a folder excluded from sync (see
    /// [`crate::selective`]): what in it is exactly as synced (so on the
    /// server) is deleted, ignored droppings go to the local trash, anything
    /// else stays, to be sent on the next pass. Returns the topmost paths
    /// now gone, for the ledger to forget.
    pub(super) fn remove_excluded(&self, folder: &str, ledger: &HashMap<String, Entry>) -> Vec<String> {
        let ignore = self.ignore.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (entry, rel, is_dir) in self.deepest_first(&self.local(folder)) {
            if is_dir {
                // Gone if empty by now.
                let _ = self.fs.remove_dir(&entry);
            } else if self.as_synced(&rel, &entry, ledger) {
                if let Err(error) = self.fs.remove_file(&entry) {
                    tracing::warn!(path = %rel, %error, "could not remove a file of an excluded folder");
                }
            } else if ignore.is_ignored(&rel, false) {
                let _ = self.state.trash(&rel, &entry);
            } else {
                tracing::info!(path = %rel, "kept on this device until it is on the server");
            }
        }
        // What the ledger knew here and is gone now, topmost only.
        let gone: HashSet<&str> = ledger
            .keys()
            .map(String::as_str)
            .filter(|path| is_within(path, folder) && !self.fs.exists(&self.local(path)))
            .collect();
        gone.iter()
            .filter(|path| !ancestors(path).any(|above| gone.contains(above)))
            .map(|path| path.to_string())
            .collect()
    }

    /// Puts a fetched revision's `content` at `path` (see [`Engine::place`]).
    /// A new small file held in memory is written where it goes in one step
    /// ([`Fs::write_new`]) where the file system can; otherwise, and for
    /// everything else, through a temp file. Runs on the blocking pool.
    pub(super) fn put(
        fs: &dyn Fs,
        content: Content,
        target: &Path,
        path: &str,
        expected: Option<Stats>,
    ) -> Result<Stats> {
        if let (Content::Bytes { bytes, mtime_ns, .. }, None) = (&content, expected) {
            match in_its_folder(fs, target, || fs.write_new(target, bytes, *mtime_ns)) {
                Ok(meta) => return Ok(meta.into()),
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(EngineError::Transfer(TransferError::Changed))
                }
                Err(e) => return Err(io_err(format!("writing {path}"))(e).into()),
            }
        }
        Self::place(fs, content.into_file()?, target, path, expected)
    }

    /// Puts a fetched revision (`file`) at `path`, which must still be as `expected`
    /// (`None`: nothing there), so that an edit made meanwhile is never
    /// overwritten. A new file takes a free name in one step; a file
    /// replaced is swapped in one step and the old one checked once out of
    /// the way, and swapped back if it changed. Where the file system
    /// cannot swap, a check then a rename (a window of microseconds).
    /// Runs on the blocking pool; `target` is `path` on the disk, and a new
    /// file's folder is created if need be.
    fn place(fs: &dyn Fs, file: TempFile, target: &Path, path: &str, expected: Option<Stats>) -> Result<Stats> {
        // Taken before, not after, it is in place (a rename keeps them): an
        // edit made right after must read as a change to the next scan.
        let placed = transfer::stats(fs, file.path()).map_err(io_err("reading a temp file"))?;
        let changed = || EngineError::Transfer(TransferError::Changed);
        let placing = |e: std::io::Error| io_err(format!("moving into {path}"))(e).into();
        let file = match expected {
            None => file,
            Some(_) => file.into_ready().map_err(io_err("naming a temp file ready"))?,
        };
        let tmp = file.path().to_path_buf();
        match expected {
            None => match in_its_folder(fs, target, || fs.rename_noreplace(&tmp, target)) {
                // Nothing was in its place: nothing is left to remove.
                Ok(()) => {
                    file.keep();
                    return Ok(placed);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(changed()),
                Err(e) => return Err(placing(e)),
            },
            Some(expected) => match fs.exchange(&tmp, target) {
                Ok(()) => {
                    // The old file, out of the way: as synced, the server has
                    // it; otherwise it is the user's, and goes back (if it
                    // cannot, it stays, to be kept in the local trash).
                    if transfer::stats(fs, &tmp).ok() != Some(expected) {
                        if let Err(e) = fs.exchange(&tmp, target) {
                            file.keep();
                            return Err(placing(e));
                        }
                        return Err(changed());
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => return Err(changed()),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    if transfer::stats(fs, target).ok() != Some(expected) {
                        return Err(changed());
                    }
                    fs.rename(&tmp, target).map_err(placing)?;
                }
                Err(e) => return Err(placing(e)),
            },
        }
        // Removes what a swap left in the temp file's place.
        drop(file);
        Ok(placed)
    }

    /// Moves the local version aside as `NAME (conflicted copy HOST DATE).EXT`;
    /// the next pass downloads the server's version and uploads the copy.
    /// Beside the original, or out of the share if the original is in one that
    /// would refuse the copy.
    pub(super) async fn keep_conflicted_copy(&self, path: &str, tree: &Mutex<RemoteTree>) -> Result<()> {
        let viewer = {
            let tree = tree.lock().unwrap_or_else(|p| p.into_inner());
            tree.read_only(path).then(|| tree.outside_share(path))
        };
        let folder = match &viewer {
            Some(outside) => outside.as_str(),
            None => path.rsplit_once('/').map_or("", |(parent, _)| parent),
        };
        let copy = self.move_aside(path, folder)?;
        if viewer.is_some() {
            tracing::warn!(
                "{path} is in a folder shared with you as a viewer and changed on both sides: your version was kept as {copy}"
            );
        } else {
            tracing::warn!(path, copy = %copy, "changed on both sides: kept the local version as a conflicted copy");
        }
        let path = path.to_owned();
        self.with_ledger(move |l| l.remove_tree(&path)).await
    }

    /// A local item, new or renamed here, whose name the server gives to
    /// another item this device keeps under a case alias (a folder deleted
    /// on the server coming back with edits inside, a case-only rename onto
    /// a twin's name): it takes a conflicted copy's name, which the next
    /// pass sends. Returns whether it did.
    pub(super) async fn keep_clear_of_aliases(&self, path: &str, tree: &Mutex<RemoteTree>) -> Result<bool> {
        // Only a disk that folds case has aliases.
        if !self.rules.case_insensitive || !tree.lock().unwrap_or_else(|p| p.into_inner()).name_held_elsewhere(path) {
            return Ok(false);
        }
        let folder = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        let copy = self.move_aside(path, folder)?;
        tracing::warn!(path, copy = %copy, "the name is taken on the server by another item: kept as a conflicted copy");
        let path = path.to_owned();
        self.with_ledger(move |l| l.remove_tree(&path)).await?;
        Ok(true)
    }

    /// Renames the local item at `path` to a conflicted copy in `folder`;
    /// returns the copy's path.
    pub(super) fn move_aside(&self, path: &str, folder: &str) -> Result<String> {
        let date = chrono::Local::now().format("%Y-%m-%d").to_string();
        let copy = free_conflicted_path(|rel| self.fs.exists(&self.local(rel)), path, folder, &self.host, &date)
            .ok_or_else(|| EngineError::Refused("too many conflicted copies".into()))?;
        self.fs
            .rename(&self.local(path), &self.local(&copy))
            .map_err(io_err(format!("keeping a conflicted copy of {path}")))?;
        Ok(copy)
    }

    /// Says why a path deleted or moved away here comes back: it is in a
    /// share, where the deletion cannot be sent.
    pub(super) fn note_restored(&self, path: &str, pass: &PassContext<'_>) {
        let restored = !pass.local.contains_key(path) && pass.ledger.contains_key(path) && !pass.vacated.contains(path);
        if restored && pass.tree.lock().unwrap_or_else(|p| p.into_inner()).read_only(path) {
            tracing::warn!(
                "{path} is in a folder shared with you as a viewer: it cannot be deleted or moved there, so it was downloaded again"
            );
        }
    }
}

/// The first free `NAME (conflicted copy HOST DATE[ N]).EXT` for the item at
/// `path`, in `folder` ("" for the root); `None` once 99 are taken.
fn free_conflicted_path(
    taken: impl Fn(&str) -> bool,
    path: &str,
    folder: &str,
    host: &str,
    date: &str,
) -> Option<String> {
    (1..100)
        .map(|n| {
            let name = conflicted_name(file_name(path), host, date, n);
            if folder.is_empty() {
                name
            } else {
                format!("{folder}/{name}")
            }
        })
        .find(|candidate| !taken(candidate))
}

/// Everything under `dir`, itself included, without following links.
fn walk(fs: &dyn crate::fs::Fs, dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut index = 0;
    while index < found.len() {
        let folder = found[index].clone();
        if fs.metadata(&folder).is_ok_and(|meta| meta.is_dir()) {
            let mut names = fs.read_dir(&folder).unwrap_or_default();
            names.sort();
            found.extend(names.into_iter().map(|name| folder.join(name)));
        }
        index += 1;
    }
    found
}

/// `report (conflicted copy laptop 2026-11-25).pdf`, then ` 2`, ` 3`... if taken.
pub fn conflicted_name(name: &str, host: &str, date: &str, n: u32) -> String {
    crate::local_names::tagged(name, &format!("conflicted copy {host} {date}"), n)
}

#[cfg(test)]
mod tests {
    use super::{conflicted_name, free_conflicted_path};

    #[test]
    fn conflicted_names_keep_the_extension() {
        assert_eq!(
            conflicted_name("a.txt", "h", "2026-11-25", 1),
            "a (conflicted copy h 2026-11-25).txt"
        );
        assert_eq!(conflicted_name(".bashrc", "h", "d", 1), ".bashrc (conflicted copy h d)");
        assert_eq!(
            conflicted_name("Makefile", "h", "d", 2),
            "Makefile (conflicted copy h d 2)"
        );
    }

    #[test]
    fn a_copy_leaving_a_share_takes_a_free_name_in_the_folder_holding_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a (conflicted copy h d).txt"), "taken").unwrap();
        assert_eq!(
            free_conflicted_path(|rel| root.path().join(rel).exists(), "Shared/docs/a.txt", "", "h", "d").as_deref(),
            Some("a (conflicted copy h d 2).txt")
        );
        assert_eq!(
            free_conflicted_path(|rel| root.path().join(rel).exists(), "Shared/a.txt", "mine", "h", "d").as_deref(),
            Some("mine/a (conflicted copy h d).txt")
        );
    }
}
