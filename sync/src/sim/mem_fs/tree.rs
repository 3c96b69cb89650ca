//! The inode tree of [`MemFs`](super::MemFs) and its POSIX rules: what
//! each call does to names and inodes, and which error it fails with.

use std::{
    collections::BTreeMap,
    io::{self, ErrorKind},
    path::{Component, Path, PathBuf},
};

use rand::{rngs::StdRng, Rng};

use super::FsMode;
use crate::fs::FileKind;

/// The inode of "/".
pub(super) const ROOT: u64 = 1;
/// The virtual clock at start: 2020-09-13, in ns since the epoch.
const START_NS: i64 = 1_600_000_000 * 1_000_000_000;
/// How far the virtual clock moves on each mutation.
const TICK_NS: i64 = 1_000;

pub(super) enum Node {
    /// `data` is what readers see, `durable` what survives a crash.
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
        durable_mtime_ns: i64,
    },
    /// Stored spelling -> inode.
    Dir { children: BTreeMap<String, u64> },
    /// No target: never followed, like a dangling link.
    Symlink,
}

pub(super) struct Inode {
    pub(super) node: Node,
    pub(super) mtime_ns: i64,
    /// Whether a folder names it; an unlinked inode lives on while open.
    pub(super) linked: bool,
    /// Open handles and lock guards.
    pub(super) open: u32,
}

pub(super) struct State {
    pub(super) mode: FsMode,
    pub(super) inodes: BTreeMap<u64, Inode>,
    pub(super) next_ino: u64,
    pub(super) now_ns: i64,
    /// Bumped by a crash: handles of an older epoch belong to a dead process.
    pub(super) epoch: u64,
    /// Locked inode -> the token of the guard that holds it.
    pub(super) locks: BTreeMap<u64, u64>,
    pub(super) next_token: u64,
    /// The failure rate and its generator.
    pub(super) faults: Option<(f64, StdRng)>,
    /// The components of the folder mutations must stay in.
    pub(super) jail: Option<Vec<String>>,
    pub(super) escapes: Vec<PathBuf>,
}

/// How [`State::remove`] removes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Removal {
    /// `remove_file`: anything but a folder.
    File,
    /// `remove_dir`: an empty folder.
    EmptyDir,
    /// `remove_dir_all`: a folder and all in it, or a link.
    Tree,
    /// The user's delete: anything.
    Any,
}

pub(super) fn error(kind: ErrorKind, path: &Path) -> io::Error {
    io::Error::new(kind, format!("{kind}: {}", path.display()))
}

/// The components of an absolute path, `.` and `..` resolved by name.
pub(super) fn parse(path: &Path) -> io::Result<Vec<String>> {
    if !path.has_root() {
        return Err(error(ErrorKind::InvalidInput, path));
    }
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(name) => match name.to_str() {
                Some(name) => parts.push(name.to_owned()),
                None => return Err(error(ErrorKind::InvalidInput, path)),
            },
            Component::Prefix(_) => return Err(error(ErrorKind::InvalidInput, path)),
        }
    }
    Ok(parts)
}

/// Whether Windows refuses `name`.
pub(super) fn bad_windows_name(name: &str) -> bool {
    const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    let stem = name.split('.').next().unwrap_or("").to_uppercase();
    let device = RESERVED.contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && matches!(stem.as_bytes()[3], b'1'..=b'9'));
    device
        || name.is_empty()
        || name.ends_with('.')
        || name.ends_with(' ')
        || name.chars().any(|c| c.is_control() || "<>:\"\\|?*/".contains(c))
}

impl State {
    pub(super) fn new(mode: FsMode) -> Self {
        let mut state = Self {
            mode,
            inodes: BTreeMap::new(),
            next_ino: ROOT,
            now_ns: START_NS,
            epoch: 0,
            locks: BTreeMap::new(),
            next_token: 0,
            faults: None,
            jail: None,
            escapes: Vec::new(),
        };
        state.alloc(Node::Dir {
            children: BTreeMap::new(),
        });
        state
    }

    pub(super) fn tick(&mut self) -> i64 {
        self.now_ns += TICK_NS;
        self.now_ns
    }

    /// An injected failure, at the configured rate.
    pub(super) fn fault(&mut self) -> io::Result<()> {
        if let Some((rate, rng)) = &mut self.faults {
            if rng.gen::<f64>() < *rate {
                return Err(io::Error::other("injected I/O error"));
            }
        }
        Ok(())
    }

    /// Refuses (and records) a mutation of a path outside the jail.
    pub(super) fn check_jail(&mut self, paths: &[&Path]) -> io::Result<()> {
        let Some(root) = &self.jail else { return Ok(()) };
        let fold = |name: &String| {
            if self.mode.case_insensitive {
                name.to_lowercase()
            } else {
                name.clone()
            }
        };
        let mut refused = None;
        for path in paths {
            let inside = parse(path).is_ok_and(|parts| {
                parts.len() >= root.len() && root.iter().zip(&parts).all(|(a, b)| fold(a) == fold(b))
            });
            if !inside {
                self.escapes.push(path.to_path_buf());
                refused = Some(error(ErrorKind::PermissionDenied, path));
            }
        }
        refused.map_or(Ok(()), Err)
    }

    pub(super) fn check_name(&self, name: &str, path: &Path) -> io::Result<()> {
        if self.mode.windows_names && bad_windows_name(name) {
            return Err(error(ErrorKind::InvalidInput, path));
        }
        Ok(())
    }

    pub(super) fn inode(&self, ino: u64) -> &Inode {
        &self.inodes[&ino]
    }

    pub(super) fn inode_mut(&mut self, ino: u64) -> &mut Inode {
        self.inodes.get_mut(&ino).expect("a live inode")
    }

    pub(super) fn kind(&self, ino: u64) -> FileKind {
        match self.inode(ino).node {
            Node::File { .. } => FileKind::File,
            Node::Dir { .. } => FileKind::Dir,
            Node::Symlink => FileKind::Symlink,
        }
    }

    pub(super) fn children(&self, ino: u64) -> Option<&BTreeMap<String, u64>> {
        match &self.inode(ino).node {
            Node::Dir { children } => Some(children),
            _ => None,
        }
    }

    pub(super) fn children_mut(&mut self, ino: u64) -> &mut BTreeMap<String, u64> {
        match &mut self.inode_mut(ino).node {
            Node::Dir { children } => children,
            _ => unreachable!("not a folder"),
        }
    }

    /// The stored spelling and inode of `name` in folder `dir`.
    pub(super) fn entry(&self, dir: u64, name: &str) -> Option<(String, u64)> {
        let children = self.children(dir)?;
        if let Some(&ino) = children.get(name) {
            return Some((name.to_owned(), ino));
        }
        if !self.mode.case_insensitive {
            return None;
        }
        let folded = name.to_lowercase();
        children
            .iter()
            .find(|(n, _)| n.to_lowercase() == folded)
            .map(|(n, &ino)| (n.clone(), ino))
    }

    /// The inodes from the root to `parts`, which must all be folders but
    /// the last.
    pub(super) fn walk(&self, parts: &[String], path: &Path) -> io::Result<Vec<u64>> {
        let mut chain = vec![ROOT];
        for name in parts {
            let dir = *chain.last().expect("the root");
            match self.kind(dir) {
                FileKind::Dir => {}
                FileKind::File | FileKind::Other => return Err(error(ErrorKind::NotADirectory, path)),
                FileKind::Symlink => return Err(error(ErrorKind::NotFound, path)),
            }
            let (_, ino) = self.entry(dir, name).ok_or_else(|| error(ErrorKind::NotFound, path))?;
            chain.push(ino);
        }
        Ok(chain)
    }

    /// The inode at `path` (the last component not followed).
    pub(super) fn lookup(&self, path: &Path) -> io::Result<u64> {
        Ok(*self.walk(&parse(path)?, path)?.last().expect("the root"))
    }

    /// The folder that holds `path`, and the last component as given; the
    /// root has none (`root_error`).
    pub(super) fn parent(&self, path: &Path, root_error: ErrorKind) -> io::Result<(u64, String)> {
        let mut parts = parse(path)?;
        let name = parts.pop().ok_or_else(|| error(root_error, path))?;
        let dir = *self.walk(&parts, path)?.last().expect("the root");
        match self.kind(dir) {
            FileKind::Dir => Ok((dir, name)),
            FileKind::Symlink => Err(error(ErrorKind::NotFound, path)),
            _ => Err(error(ErrorKind::NotADirectory, path)),
        }
    }

    pub(super) fn alloc(&mut self, node: Node) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let mtime_ns = self.tick();
        let node = match node {
            Node::File { data, durable, .. } => Node::File {
                data,
                durable,
                durable_mtime_ns: mtime_ns,
            },
            node => node,
        };
        self.inodes.insert(
            ino,
            Inode {
                node,
                mtime_ns,
                linked: true,
                open: 0,
            },
        );
        ino
    }

    /// Marks a folder changed.
    pub(super) fn touch(&mut self, dir: u64) {
        let now = self.tick();
        self.inode_mut(dir).mtime_ns = now;
    }

    pub(super) fn link(&mut self, dir: u64, name: String, ino: u64) {
        self.children_mut(dir).insert(name, ino);
        self.touch(dir);
    }

    /// Removes the entry `name` (stored spelling) from `dir` and drops what
    /// it named.
    pub(super) fn unlink(&mut self, dir: u64, name: &str) {
        let ino = self.children_mut(dir).remove(name).expect("an entry");
        self.touch(dir);
        self.drop_link(ino);
    }

    pub(super) fn drop_link(&mut self, ino: u64) {
        let inode = self.inode_mut(ino);
        inode.linked = false;
        if let Node::Dir { children } = &mut inode.node {
            for child in std::mem::take(children).into_values() {
                self.drop_link(child);
            }
        }
        self.maybe_free(ino);
    }

    pub(super) fn maybe_free(&mut self, ino: u64) {
        if self
            .inodes
            .get(&ino)
            .is_some_and(|inode| !inode.linked && inode.open == 0)
        {
            self.inodes.remove(&ino);
        }
    }

    /// Creates or truncates the file at `path` (`truncate` false: opens it
    /// as it is), like `open(O_CREAT)`.
    pub(super) fn create_file(&mut self, path: &Path, truncate: bool) -> io::Result<u64> {
        let (dir, name) = self.parent(path, ErrorKind::IsADirectory)?;
        let Some((_, ino)) = self.entry(dir, &name) else {
            self.check_name(&name, path)?;
            let ino = self.alloc(Node::File {
                data: Vec::new(),
                durable: Vec::new(),
                durable_mtime_ns: 0,
            });
            self.link(dir, name, ino);
            return Ok(ino);
        };
        match self.kind(ino) {
            FileKind::File if truncate => {
                let now = self.tick();
                let inode = self.inode_mut(ino);
                inode.mtime_ns = now;
                // The truncation is metadata: it survives a crash too.
                inode.node = Node::File {
                    data: Vec::new(),
                    durable: Vec::new(),
                    durable_mtime_ns: now,
                };
                Ok(ino)
            }
            FileKind::File => Ok(ino),
            FileKind::Dir => Err(error(ErrorKind::IsADirectory, path)),
            _ => Err(error(ErrorKind::NotFound, path)),
        }
    }

    pub(super) fn mkdir_all(&mut self, path: &Path) -> io::Result<()> {
        let parts = parse(path)?;
        let mut dir = ROOT;
        for (i, name) in parts.iter().enumerate() {
            dir = match self.entry(dir, name) {
                Some((_, ino)) => match self.kind(ino) {
                    FileKind::Dir => ino,
                    FileKind::File if i + 1 < parts.len() => return Err(error(ErrorKind::NotADirectory, path)),
                    _ => return Err(error(ErrorKind::AlreadyExists, path)),
                },
                None => {
                    self.check_name(name, path)?;
                    let ino = self.alloc(Node::Dir {
                        children: BTreeMap::new(),
                    });
                    self.link(dir, name.clone(), ino);
                    ino
                }
            };
        }
        Ok(())
    }

    /// POSIX `rename`: replaces a file, or an empty folder with a folder.
    pub(super) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = self.parent(from, ErrorKind::ResourceBusy)?;
        let (from_stored, ino) = self
            .entry(from_dir, &from_name)
            .ok_or_else(|| error(ErrorKind::NotFound, from))?;
        let (to_dir, to_name) = self.parent(to, ErrorKind::ResourceBusy)?;
        let target = self.entry(to_dir, &to_name);
        if let Some((stored, target_ino)) = &target {
            if *target_ino == ino {
                // The same entry: a no-op, or a change of case.
                if *stored != to_name {
                    self.check_name(&to_name, to)?;
                    self.children_mut(to_dir).remove(stored);
                    self.link(to_dir, to_name, ino);
                }
                return Ok(());
            }
            let is_dir = self.kind(ino) == FileKind::Dir;
            match (is_dir, self.children(*target_ino)) {
                (false, Some(_)) => return Err(error(ErrorKind::IsADirectory, to)),
                (true, None) => return Err(error(ErrorKind::NotADirectory, to)),
                (true, Some(children)) if !children.is_empty() => {
                    return Err(error(ErrorKind::DirectoryNotEmpty, to));
                }
                _ => {}
            }
        }
        self.check_name(&to_name, to)?;
        let mut to_parent = parse(to)?;
        to_parent.pop();
        if self.walk(&to_parent, to)?.contains(&ino) {
            // A folder into itself.
            return Err(error(ErrorKind::InvalidInput, to));
        }
        if let Some((stored, _)) = target {
            self.unlink(to_dir, &stored);
        }
        self.children_mut(from_dir).remove(&from_stored);
        self.touch(from_dir);
        self.link(to_dir, to_name, ino);
        Ok(())
    }

    pub(super) fn remove(&mut self, path: &Path, how: Removal) -> io::Result<()> {
        let (dir, name) = self.parent(path, ErrorKind::ResourceBusy)?;
        let (stored, ino) = self.entry(dir, &name).ok_or_else(|| error(ErrorKind::NotFound, path))?;
        let kind = match (how, self.children(ino)) {
            (Removal::File, Some(_)) => Some(ErrorKind::IsADirectory),
            (Removal::EmptyDir, None) => Some(ErrorKind::NotADirectory),
            (Removal::EmptyDir, Some(children)) if !children.is_empty() => Some(ErrorKind::DirectoryNotEmpty),
            (Removal::Tree, None) if self.kind(ino) == FileKind::File => Some(ErrorKind::NotADirectory),
            _ => None,
        };
        if let Some(kind) = kind {
            return Err(error(kind, path));
        }
        self.unlink(dir, &stored);
        Ok(())
    }

    pub(super) fn file_mut(&mut self, ino: u64) -> (&mut Vec<u8>, &mut Vec<u8>, &mut i64, &mut i64) {
        let inode = self.inode_mut(ino);
        match &mut inode.node {
            Node::File {
                data,
                durable,
                durable_mtime_ns,
            } => (data, durable, &mut inode.mtime_ns, durable_mtime_ns),
            _ => unreachable!("not a file"),
        }
    }

    /// Calls `f` on everything below `dir`, with its path after `prefix`.
    pub(super) fn visit(&self, dir: u64, prefix: &str, f: &mut dyn FnMut(String, &Node)) {
        for (name, &ino) in self.children(dir).into_iter().flatten() {
            let path = format!("{prefix}{name}");
            let node = &self.inode(ino).node;
            if let Node::Dir { .. } = node {
                self.visit(ino, &format!("{path}/"), f);
            }
            f(path, node);
        }
    }
}
