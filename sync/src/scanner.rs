//! Reads the local folder: every file and folder with its quick-check stats,
//! and the content id of each file, re-hashing only files whose size, mtime
//! or inode differ from the ledger.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use drive_wire::names::validate_name;

use crate::{
    chunker::{self, Chunk},
    ledger::Entry,
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

/// Stats of one path, for the quick check.
pub fn stat(path: &Path) -> std::io::Result<(u64, i64, u64, bool)> {
    let meta = std::fs::symlink_metadata(path)?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Ok((meta.len(), mtime_ns, inode, meta.is_dir()))
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
pub fn scan(root: &Path, ledger: &HashMap<String, Entry>) -> std::io::Result<Scan> {
    let mut result = Scan {
        items: HashMap::new(),
        skipped: Vec::new(),
        changing: Vec::new(),
        disk_paths: HashMap::new(),
        ignore: IgnoreRules::new(root),
    };
    std::fs::read_dir(root)?;
    // Folders still to read: where they are on disk, and their relative path.
    let mut folders = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = folders.pop() {
        let ignore_file = dir.join(IGNORE_FILE);
        if ignore_file.is_file() {
            result.ignore.add_file(&rel_dir, &ignore_file);
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                result.skipped.push(Skipped {
                    path: rel_dir,
                    reason: format!("cannot read the folder: {e}"),
                });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    result.skipped.push(Skipped {
                        path: rel_dir.clone(),
                        reason: format!("cannot read the folder: {e}"),
                    });
                    continue;
                }
            };
            if rel_dir.is_empty() && entry.file_name() == STATE_DIR {
                continue;
            }
            if let Some(folder) = result.visit(root, &entry, ledger) {
                folders.push(folder);
            }
        }
    }
    Ok(result)
}

impl Scan {
    /// Looks at one entry of a folder; returns it if it is a folder to read.
    fn visit(
        &mut self,
        root: &Path,
        entry: &std::fs::DirEntry,
        ledger: &HashMap<String, Entry>,
    ) -> Option<(PathBuf, String)> {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            self.skipped.push(Skipped {
                path: path.display().to_string(),
                reason: "cannot read its type".into(),
            });
            return None;
        };
        let rel = match relative(root, &path) {
            Ok((rel, respelled)) => {
                if self.ignore.is_ignored(&rel, file_type.is_dir()) {
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
        if file_type.is_symlink() {
            self.skipped.push(Skipped {
                path: rel,
                reason: "symbolic links are not synced".into(),
            });
            return None;
        }
        let (size, mtime_ns, inode, is_dir) = match stat(&path) {
            Ok(stats) => stats,
            Err(e) => {
                self.skipped.push(Skipped {
                    path: rel,
                    reason: e.to_string(),
                });
                return None;
            }
        };
        if is_dir {
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
        if !file_type.is_file() {
            self.skipped.push(Skipped {
                path: rel,
                reason: "not a regular file".into(),
            });
            return None;
        }
        let known = ledger.get(&rel).filter(|e| {
            e.kind == drive_wire::NodeKind::File && e.size == size && e.mtime_ns == mtime_ns && e.inode == inode
        });
        let (content_id, chunks) = match known {
            Some(entry) => (entry.content_id.clone(), None),
            None => match chunker::chunk_file(&path) {
                // A file written to while it was read would give a torn hash.
                Ok(_) if stat(&path).ok() != Some((size, mtime_ns, inode, false)) => {
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
