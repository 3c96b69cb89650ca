//! Reads the local folder: every file and folder with its quick-check stats,
//! and the content id of each file, re-hashing only files whose size, mtime
//! or inode differ from the ledger.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use drive_wire::names::validate_name;

use crate::{
    chunker::{self, Chunk},
    fs::{FileKind, Fs, Meta},
    ledger::Entry,
    local_names::FsRules,
    remote_tree::{ancestors, is_within, RemoteTree},
};

/// Name of the hidden state directory inside a synced folder.
pub const STATE_DIR: &str = ".drive";
use crate::ignore_rules::IgnoreRules;
pub use crate::ignore_rules::IGNORE_FILE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    File,
    Folder,
}

#[derive(Debug, Clone)]
pub struct LocalItem {
    pub kind: LocalKind,
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    /// For files: the identity of the content.
    pub content_id: Option<String>,
    /// For files hashed in this scan: their blocks (saves a second pass to upload).
    pub chunks: Option<Vec<Chunk>>,
}

/// A path left alone, and why (a symlink, an unreadable file, a bad name).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct Scan {
    pub items: HashMap<String, LocalItem>,
    pub skipped: Vec<Skipped>,
    /// Files being written to while they were read: left for a later pass.
    pub changing: Vec<String>,
    /// Where an item lives on disk when its name there is not in NFC (the
    /// key): the engine reads and writes it there.
    pub disk_paths: HashMap<String, PathBuf>,
    /// The ignore rules the scan applied (built-in patterns and every
    /// `.driveignore` it found), for the engine to apply to the rest.
    pub ignore: IgnoreRules,
}

/// Where the item at `rel` is on disk: under the folder by its names, or
/// under the nearest folder (or itself) that `disk_paths` says the disk
/// spells otherwise.
pub fn disk_path(disk_paths: &HashMap<String, PathBuf>, root: &Path, rel: &str) -> PathBuf {
    if !disk_paths.is_empty() {
        for prefix in std::iter::once(rel).chain(ancestors(rel)) {
            if let Some(disk) = disk_paths.get(prefix) {
                let rest = rel[prefix.len()..].trim_start_matches('/');
                return if rest.is_empty() {
                    disk.clone()
                } else {
                    local_path(disk, rest)
                };
            }
        }
    }
    local_path(root, rel)
}

/// Joins a relative `/`-path onto the folder root.
pub fn local_path(root: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(root.to_path_buf(), |path, name| path.join(name))
}

/// The relative `/`-path of `path`, its names in Unicode NFC as the server
/// keeps them, and whether the disk spells it otherwise (NFD, as macOS
/// often writes names).
pub(crate) fn relative(root: &Path, path: &Path) -> Result<(String, bool), String> {
    let rel = path.strip_prefix(root).map_err(|_| "outside the folder".to_owned())?;
    let mut names = Vec::new();
    let mut respelled = false;
    for component in rel.components() {
        let name = component
            .as_os_str()
            .to_str()
            .ok_or_else(|| "the name is not valid UTF-8".to_owned())?;
        let valid = validate_name(name).map_err(|e| e.to_string())?;
        respelled |= valid != name;
        names.push(valid);
    }
    Ok((names.join("/"), respelled))
}

/// Why an item whose name differs from another's only by its Unicode form is
/// left alone.
const TWIN: &str = "another item here has the same name in another Unicode form; rename one of them to sync it";

/// Reads the folder. The folder itself unreadable is an error (never an
/// empty folder whose files were all deleted); anything below it that cannot
/// be read is skipped and reported. Ignore rules are read as the walk goes,
/// each folder's `.driveignore` before its entries, from the disk itself, so
/// that what the scan leaves out and what the engine treats as ignored are
/// one and the same.
pub fn scan(fs: &dyn Fs, root: &Path, ledger: &HashMap<String, Entry>) -> std::io::Result<Scan> {
    let mut result = Scan {
        items: HashMap::new(),
        skipped: Vec::new(),
        changing: Vec::new(),
        disk_paths: HashMap::new(),
        ignore: IgnoreRules::new(root),
    };
    fs.read_dir(root)?;
    // Folders still to read: where they are on disk, and their relative path.
    let mut folders = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = folders.pop() {
        let ignore_file = dir.join(IGNORE_FILE);
        if fs.metadata(&ignore_file).is_ok_and(|meta| meta.is_file()) {
            if let Ok(bytes) = fs.read(&ignore_file) {
                result.ignore.add_file(&rel_dir, &String::from_utf8_lossy(&bytes));
            }
        }
        let mut names = match fs.read_dir(&dir) {
            Ok(names) => names,
            Err(e) => {
                result.skipped.push(Skipped {
                    path: rel_dir,
                    reason: format!("cannot read the folder: {e}"),
                });
                continue;
            }
        };
        // In one order whatever the disk's: a scan is reproducible.
        names.sort();
        for name in names {
            if rel_dir.is_empty() && name == STATE_DIR {
                continue;
            }
            if let Some(folder) = result.visit(fs, root, &dir.join(name), ledger) {
                folders.push(folder);
            }
        }
    }
    Ok(result)
}

impl Scan {
    /// On a file system that folds case, a new local item whose path
    /// differs only by case from one the ledger knows (and misses here) or
    /// from a new remote one is one and the same place on disk: it is keyed
    /// by that spelling (the disk's kept in `disk_paths`), so that the two
    /// are compared rather than each trying to take the other's place
    /// forever. The same item (inode) under another case is a case-only
    /// rename, left for the planner to send.
    pub fn adopt_known_case(
        &mut self,
        root: &Path,
        remote: &RemoteTree,
        ledger: &HashMap<String, Entry>,
        rules: FsRules,
    ) {
        if !rules.case_insensitive {
            return;
        }
        let mut known: HashMap<String, &String> = remote
            .paths()
            .filter(|(path, _)| !ledger.contains_key(*path))
            .map(|(path, _)| (rules.fold(path), path))
            .collect();
        known.extend(ledger.keys().map(|path| (rules.fold(path), path)));
        let mut new: Vec<String> = self
            .items
            .keys()
            .filter(|path| !ledger.contains_key(*path) && remote.get(path).is_none())
            .cloned()
            .collect();
        // Folders before what is in them.
        new.sort_by_key(|path| path.matches('/').count());
        for path in new {
            let Some(item) = self.items.get(&path) else {
                continue;
            };
            let Some(&target) = known.get(&rules.fold(&path)) else {
                continue;
            };
            let renamed = ledger
                .get(target)
                .is_some_and(|entry| entry.inode != 0 && entry.inode == item.inode);
            if renamed || self.items.contains_key(target) {
                continue;
            }
            let disk = disk_path(&self.disk_paths, root, &path);
            let respell = |key: String| match is_within(&key, &path) {
                true => format!("{target}{}", &key[path.len()..]),
                false => key,
            };
            self.items = std::mem::take(&mut self.items)
                .into_iter()
                .map(|(key, item)| (respell(key), item))
                .collect();
            self.disk_paths = std::mem::take(&mut self.disk_paths)
                .into_iter()
                .map(|(key, at)| (respell(key), at))
                .collect();
            self.disk_paths.insert(target.clone(), disk);
        }
    }

    /// Looks at one entry of a folder; returns it if it is a folder to read.
    fn visit(
        &mut self,
        fs: &dyn Fs,
        root: &Path,
        path: &Path,
        ledger: &HashMap<String, Entry>,
    ) -> Option<(PathBuf, String)> {
        let path = path.to_path_buf();
        let meta = match fs.metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                self.skipped.push(Skipped {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
                return None;
            }
        };
        let rel = match relative(root, &path) {
            Ok((rel, respelled)) => {
                if self.ignore.is_ignored(&rel, meta.is_dir()) {
                    return None;
                }
                // One name, two spellings (possible on Linux): the NFC one
                // syncs, the other is left alone.
                if respelled && (self.items.contains_key(&rel) || self.disk_paths.contains_key(&rel)) {
                    self.skipped.push(Skipped {
                        path: path.display().to_string(),
                        reason: TWIN.into(),
                    });
                    return None;
                }
                if respelled {
                    self.disk_paths.insert(rel.clone(), path.clone());
                } else if let Some(twin) = self.disk_paths.remove(&rel) {
                    self.items.remove(&rel);
                    self.skipped.push(Skipped {
                        path: twin.display().to_string(),
                        reason: TWIN.into(),
                    });
                }
                rel
            }
            Err(reason) => {
                self.skipped.push(Skipped {
                    path: path.display().to_string(),
                    reason,
                });
                return None;
            }
        };
        let Meta {
            kind,
            len: size,
            mtime_ns,
            inode,
        } = meta;
        match kind {
            FileKind::Symlink => {
                self.skipped.push(Skipped {
                    path: rel,
                    reason: "symbolic links are not synced".into(),
                });
                return None;
            }
            FileKind::Other => {
                self.skipped.push(Skipped {
                    path: rel,
                    reason: "not a regular file".into(),
                });
                return None;
            }
            FileKind::File | FileKind::Dir => {}
        }
        if kind == FileKind::Dir {
            let item = LocalItem {
                kind: LocalKind::Folder,
                size: 0,
                mtime_ns,
                inode,
                content_id: None,
                chunks: None,
            };
            self.items.insert(rel.clone(), item);
            return Some((path, rel));
        }
        let known = ledger.get(&rel).filter(|e| {
            e.kind == drive_wire::NodeKind::File && e.size == size && e.mtime_ns == mtime_ns && e.inode == inode
        });
        let (content_id, chunks) = match known {
            Some(entry) => (entry.content_id.clone(), None),
            None => match chunker::chunk_file(fs, &path) {
                // A file written to while it was read would give a torn hash.
                Ok(_) if fs.metadata(&path).ok() != Some(meta) => {
                    self.changing.push(rel);
                    return None;
                }
                Ok(chunks) => (Some(chunker::content_id(&chunks)), Some(chunks)),
                Err(e) => {
                    self.skipped.push(Skipped {
                        path: rel,
                        reason: format!("cannot read: {e}"),
                    });
                    return None;
                }
            },
        };
        self.items.insert(
            rel,
            LocalItem {
                kind: LocalKind::File,
                size,
                mtime_ns,
                inode,
                content_id,
                chunks,
            },
        );
        None
    }
}
