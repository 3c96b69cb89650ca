//! Reads the local folder: every file and folder with its quick-check stats,
//! and the content id of each file, re-hashing only files whose size, mtime
//! or inode differ from the ledger.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use drive_wire::names::validate_name;
use ignore::{overrides::OverrideBuilder, WalkBuilder};

use crate::{
    chunker::{self, Chunk},
    ledger::Entry,
};

/// Name of the hidden state directory inside a synced folder.
pub const STATE_DIR: &str = ".drive";
use crate::ignore_rules::BUILTIN_IGNORES;
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

#[derive(Debug, Default)]
pub struct Scan {
    pub items: HashMap<String, LocalItem>,
    pub skipped: Vec<Skipped>,
    /// Files being written to while they were read: left for a later pass.
    pub changing: Vec<String>,
    /// Where an item lives on disk when its name there is not in NFC (the
    /// key): the engine reads and writes it there.
    pub disk_paths: HashMap<String, PathBuf>,
}

impl Scan {
    /// The `.driveignore` files found, by relative path.
    pub fn ignore_files(&self) -> impl Iterator<Item = &str> {
        self.items
            .keys()
            .map(String::as_str)
            .filter(|rel| crate::remote_tree::file_name(rel) == IGNORE_FILE)
    }
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
fn relative(root: &Path, path: &Path) -> Result<(String, bool), String> {
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

pub fn scan(root: &Path, ledger: &HashMap<String, Entry>) -> Scan {
    let mut overrides = OverrideBuilder::new(root);
    for pattern in BUILTIN_IGNORES {
        // In overrides, a leading '!' means "ignore".
        let _ = overrides.add(&format!("!{pattern}"));
    }
    let _ = overrides.add(&format!("!/{STATE_DIR}/"));
    let mut walk = WalkBuilder::new(root);
    walk.hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE);
    if let Ok(overrides) = overrides.build() {
        walk.overrides(overrides);
    }

    let mut result = Scan::default();
    for entry in walk.build() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = match &err {
                    ignore::Error::WithPath { path, .. } => {
                        relative(root, path).map_or_else(|_| path.display().to_string(), |(rel, _)| rel)
                    }
                    _ => String::new(),
                };
                result.skipped.push(Skipped {
                    path,
                    reason: err.to_string(),
                });
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let rel = match relative(root, entry.path()) {
            Ok((rel, respelled)) => {
                // One name, two spellings (possible on Linux): the NFC one
                // syncs, the other is left alone.
                if respelled && (result.items.contains_key(&rel) || result.disk_paths.contains_key(&rel)) {
                    result.skipped.push(Skipped {
                        path: entry.path().display().to_string(),
                        reason: TWIN.into(),
                    });
                    continue;
                }
                if respelled {
                    result.disk_paths.insert(rel.clone(), entry.path().to_path_buf());
                } else if let Some(twin) = result.disk_paths.remove(&rel) {
                    result.items.remove(&rel);
                    result.skipped.push(Skipped {
                        path: twin.display().to_string(),
                        reason: TWIN.into(),
                    });
                }
                rel
            }
            Err(reason) => {
                result.skipped.push(Skipped {
                    path: entry.path().display().to_string(),
                    reason,
                });
                continue;
            }
        };
        let Some(file_type) = entry.file_type() else { continue };
        if file_type.is_symlink() {
            result.skipped.push(Skipped {
                path: rel,
                reason: "symbolic links are not synced".into(),
            });
            continue;
        }
        let (size, mtime_ns, inode, is_dir) = match stat(entry.path()) {
            Ok(stats) => stats,
            Err(e) => {
                result.skipped.push(Skipped {
                    path: rel,
                    reason: e.to_string(),
                });
                continue;
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
            result.items.insert(rel, item);
            continue;
        }
        if !file_type.is_file() {
            result.skipped.push(Skipped {
                path: rel,
                reason: "not a regular file".into(),
            });
            continue;
        }
        let known = ledger.get(&rel).filter(|e| {
            e.kind == drive_wire::NodeKind::File && e.size == size && e.mtime_ns == mtime_ns && e.inode == inode
        });
        let (content_id, chunks) = match known {
            Some(entry) => (entry.content_id.clone(), None),
            None => match chunker::chunk_file(entry.path()) {
                // A file written to while it was read would give a torn hash.
                Ok(_) if stat(entry.path()).ok() != Some((size, mtime_ns, inode, false)) => {
                    result.changing.push(rel);
                    continue;
                }
                Ok(chunks) => (Some(chunker::content_id(&chunks)), Some(chunks)),
                Err(e) => {
                    result.skipped.push(Skipped {
                        path: rel,
                        reason: format!("cannot read: {e}"),
                    });
                    continue;
                }
            },
        };
        result.items.insert(
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
    }
    result
}
