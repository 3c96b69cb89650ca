//! A file system in memory for the simulation: the engine's [`Fs`] on an
//! inode table that can be case-insensitive (macOS), refuse Windows names
//! (exFAT), lose what was not synced in a power loss ([`MemFs::crash`]), fail
//! calls at a seeded rate ([`MemFs::set_faults`]) and record every write
//! outside the synced folder ([`MemFs::jail`]).
//!
//! Everything is deterministic: inode numbers come from a counter, times from
//! a virtual clock that advances on every mutation, and faults from a seeded
//! generator. Paths are absolute; `..` is resolved by name; links are never
//! followed (a symlink is an entry with no target, like a dangling one).

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fmt,
    io::{self, ErrorKind, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
};

use rand::{rngs::StdRng, SeedableRng};

use crate::fs::{FileKind, Fs, LockGuard, Meta, ReadFile, WriteFile};

#[cfg(test)]
mod tests;
mod tree;

use tree::{error, parse, Node, Removal, State, ROOT};

/// How the file system treats names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsMode {
    /// Names that differ only in case are the same entry; the stored spelling
    /// is the one created (or last renamed to).
    pub case_insensitive: bool,
    /// Names Windows refuses (`<>:"\|?*`, control characters, reserved
    /// device names, a trailing dot or space) fail with `InvalidInput`.
    pub windows_names: bool,
}

impl FsMode {
    /// Linux: case-sensitive, any name.
    pub fn posix() -> Self {
        Self::default()
    }

    /// macOS: case-insensitive, any name.
    pub fn case_insensitive() -> Self {
        Self {
            case_insensitive: true,
            windows_names: false,
        }
    }

    /// Windows or exFAT: case-insensitive, Windows names only.
    pub fn windows() -> Self {
        Self {
            case_insensitive: true,
            windows_names: true,
        }
    }
}

/// The file system in memory; clones share it.
#[derive(Clone)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl MemFs {
    pub fn new(mode: FsMode) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(mode))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state for a mutation of `paths`: inside the jail, and not hit by
    /// an injected fault.
    fn mutate(&self, paths: &[&Path]) -> io::Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        state.check_jail(paths)?;
        state.fault()?;
        Ok(state)
    }

    pub fn mode(&self) -> FsMode {
        self.lock().mode
    }

    /// From now on, fails each mutation, open and read with probability
    /// `rate` (0 turns faults off), drawn from a generator seeded by `seed`.
    pub fn set_faults(&self, rate: f64, seed: u64) {
        self.lock().faults = (rate > 0.0).then(|| (rate, StdRng::seed_from_u64(seed)));
    }

    /// From now on, refuses (`PermissionDenied`) and records every
    /// mutation of a path that is not `root` or below it.
    pub fn jail(&self, root: &Path) {
        self.lock().jail = Some(parse(root).expect("an absolute jail"));
    }

    /// The paths of the mutations the jail refused, in order.
    pub fn escapes(&self) -> Vec<PathBuf> {
        self.lock().escapes.clone()
    }

    /// A power loss: each file goes back to what was last synced (empty if
    /// never), with that time; the tree of names stays as it is (metadata
    /// is journaled). The process dies: its locks are released, its handles
    /// fail from now on and unlinked files it held open are gone.
    pub fn crash(&self) {
        let mut state = self.lock();
        state.epoch += 1;
        state.locks.clear();
        state.inodes.retain(|_, inode| inode.linked);
        for inode in state.inodes.values_mut() {
            inode.open = 0;
            if let Node::File {
                data,
                durable,
                durable_mtime_ns,
            } = &mut inode.node
            {
                data.clone_from(durable);
                inode.mtime_ns = *durable_mtime_ns;
            }
        }
    }

    /// The user writes the file at `path` in place (parent folders created),
    /// long enough ago to be durable. No jail, no faults.
    pub fn user_write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(parent) = path.parent() {
            state.mkdir_all(parent)?;
        }
        let ino = state.create_file(path, false)?;
        let now = state.tick();
        let (data, durable, mtime_ns, durable_mtime_ns) = state.file_mut(ino);
        *data = bytes.to_vec();
        *durable = bytes.to_vec();
        *mtime_ns = now;
        *durable_mtime_ns = now;
        Ok(())
    }

    /// The user makes the folder at `path` and its parents.
    pub fn user_mkdir(&self, path: &Path) -> io::Result<()> {
        self.lock().mkdir_all(path)
    }

    /// The user renames `from` to `to`, with the rules of [`Fs::rename`].
    pub fn user_rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.lock().rename(from, to)
    }

    /// The user deletes the file, link or whole folder at `path`.
    pub fn user_remove(&self, path: &Path) -> io::Result<()> {
        self.lock().remove(path, Removal::Any)
    }

    /// The user makes a symbolic link at `path` (parent folders created).
    pub fn user_symlink(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(parent) = path.parent() {
            state.mkdir_all(parent)?;
        }
        let (dir, name) = state.parent(path, ErrorKind::AlreadyExists)?;
        if state.entry(dir, &name).is_some() {
            return Err(error(ErrorKind::AlreadyExists, path));
        }
        state.check_name(&name, path)?;
        let ino = state.alloc(Node::Symlink);
        state.link(dir, name, ino);
        Ok(())
    }

    /// Everything below the folder `root` by relative `/`-path: a file's
    /// content (as readers see it), `None` for a folder; links are left out.
    pub fn snapshot(&self, root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
        let state = self.lock();
        let mut out = BTreeMap::new();
        if let Ok(ino) = state.lookup(root) {
            state.visit(ino, "", &mut |path, node| match node {
                Node::File { data, .. } => {
                    out.insert(path, Some(data.clone()));
                }
                Node::Dir { .. } => {
                    out.insert(path, None);
                }
                Node::Symlink => {}
            });
        }
        out
    }

    /// Every path, for debugging: folders end in `/`, links in `@`.
    pub fn all_paths(&self) -> Vec<String> {
        let state = self.lock();
        let mut paths = Vec::new();
        state.visit(ROOT, "/", &mut |path, node| {
            paths.push(match node {
                Node::File { .. } => path,
                Node::Dir { .. } => path + "/",
                Node::Symlink => path + "@",
            })
        });
        paths.sort();
        paths
    }

    /// A handle on `ino`, which it keeps alive.
    fn handle(&self, state: &mut State, ino: u64) -> Handle {
        state.inode_mut(ino).open += 1;
        Handle {
            state: self.state.clone(),
            ino,
            epoch: state.epoch,
            pos: 0,
        }
    }
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new(FsMode::posix())
    }
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemFs")
            .field("mode", &state.mode)
            .field("inodes", &state.inodes.len())
            .finish()
    }
}

impl Fs for MemFs {
    fn metadata(&self, path: &Path) -> io::Result<Meta> {
        let state = self.lock();
        let ino = state.lookup(path)?;
        let inode = state.inode(ino);
        let len = match &inode.node {
            Node::File { data, .. } => data.len() as u64,
            _ => 0,
        };
        Ok(Meta {
            kind: state.kind(ino),
            len,
            mtime_ns: inode.mtime_ns,
            inode: ino,
        })
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let state = self.lock();
        let ino = state.lookup(path)?;
        match state.children(ino) {
            Some(children) => Ok(children.keys().map(OsString::from).collect()),
            None if state.kind(ino) == FileKind::Symlink => Err(error(ErrorKind::NotFound, path)),
            None => Err(error(ErrorKind::NotADirectory, path)),
        }
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        let mut state = self.lock();
        state.fault()?;
        let ino = state.lookup(path)?;
        match state.kind(ino) {
            FileKind::File => Ok(Box::new(Reader(self.handle(&mut state, ino)))),
            FileKind::Dir => Err(error(ErrorKind::IsADirectory, path)),
            _ => Err(error(ErrorKind::NotFound, path)),
        }
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        let mut state = self.mutate(&[path])?;
        let ino = state.create_file(path, true)?;
        Ok(Box::new(Writer(self.handle(&mut state, ino))))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.mutate(&[path])?.mkdir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.mutate(&[from, to])?.rename(from, to)
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.mutate(&[from, to])?;
        if state.lookup(to).is_ok() {
            return Err(error(ErrorKind::AlreadyExists, to));
        }
        state.rename(from, to)
    }

    /// Through a third name, all under one lock: one step to everyone else.
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        let mut state = self.mutate(&[a, b])?;
        state.lookup(a)?;
        state.lookup(b)?;
        let via = a.with_file_name(".mem-fs-exchange");
        state.rename(a, &via)?;
        state.rename(b, a)?;
        state.rename(&via, b)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.mutate(&[path])?.remove(path, Removal::File)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.mutate(&[path])?.remove(path, Removal::EmptyDir)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.mutate(&[path])?.remove(path, Removal::Tree)
    }

    /// Sets the time; it is metadata, so it survives a crash.
    fn set_mtime(&self, path: &Path, mtime_ns: i64) -> io::Result<()> {
        let mut state = self.mutate(&[path])?;
        let ino = state.lookup(path)?;
        state.tick();
        let inode = state.inode_mut(ino);
        match &mut inode.node {
            Node::Symlink => return Err(error(ErrorKind::NotFound, path)),
            Node::File { durable_mtime_ns, .. } => *durable_mtime_ns = mtime_ns,
            Node::Dir { .. } => {}
        }
        inode.mtime_ns = mtime_ns;
        Ok(())
    }

    /// As on a disk with unnamed files: the file appears whole and durable,
    /// or not at all.
    fn write_new(&self, path: &Path, bytes: &[u8], mtime_ns: i64) -> io::Result<Meta> {
        let mut state = self.mutate(&[path])?;
        if state.lookup(path).is_ok() {
            return Err(error(ErrorKind::AlreadyExists, path));
        }
        let ino = state.create_file(path, false)?;
        state.tick();
        let (data, durable, mtime, durable_mtime) = state.file_mut(ino);
        *data = bytes.to_vec();
        durable.clone_from(data);
        (*mtime, *durable_mtime) = (mtime_ns, mtime_ns);
        Ok(Meta {
            kind: FileKind::File,
            len: bytes.len() as u64,
            mtime_ns,
            inode: ino,
        })
    }

    /// The path with `.`, `..` resolved and the stored spelling of each name.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let state = self.lock();
        let parts = parse(path)?;
        let chain = state.walk(&parts, path)?;
        if state.kind(*chain.last().expect("the root")) == FileKind::Symlink {
            return Err(error(ErrorKind::NotFound, path));
        }
        let mut out = PathBuf::from("/");
        for (dir, name) in chain.iter().zip(&parts) {
            out.push(state.entry(*dir, name).expect("walked").0);
        }
        Ok(out)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let mut state = self.lock();
        state.check_jail(&[path])?;
        let ino = state.create_file(path, false)?;
        if state.locks.contains_key(&ino) {
            return Ok(None);
        }
        let token = state.next_token;
        state.next_token += 1;
        state.locks.insert(ino, token);
        Ok(Some(Box::new(Lock {
            handle: self.handle(&mut state, ino),
            token,
        })))
    }

    fn blocks(&self) -> bool {
        false
    }
}

/// An open file: keeps its inode alive, follows it through renames.
struct Handle {
    state: Arc<Mutex<State>>,
    ino: u64,
    /// The process that opened it: one crash ago, it is dead.
    epoch: u64,
    pos: u64,
}

impl Handle {
    /// The state for a call on this handle: not hit by a fault, and the
    /// process alive.
    fn live(&self) -> io::Result<MutexGuard<'_, State>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.fault()?;
        if state.epoch != self.epoch {
            return Err(io::Error::other("file handle from before a crash"));
        }
        Ok(state)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.epoch == self.epoch {
            state.inode_mut(self.ino).open -= 1;
            state.maybe_free(self.ino);
        }
    }
}

struct Writer(Handle);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let pos = self.0.pos as usize;
        let mut state = self.0.live()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let now = state.tick();
        let (data, _, mtime_ns, _) = state.file_mut(self.0.ino);
        if data.len() < pos + buf.len() {
            data.resize(pos + buf.len(), 0);
        }
        data[pos..pos + buf.len()].copy_from_slice(buf);
        *mtime_ns = now;
        drop(state);
        self.0.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteFile for Writer {
    fn sync_all(&mut self) -> io::Result<()> {
        let mut state = self.0.live()?;
        let (data, durable, mtime_ns, durable_mtime_ns) = state.file_mut(self.0.ino);
        durable.clone_from(data);
        *durable_mtime_ns = *mtime_ns;
        Ok(())
    }
}

/// Reads what the inode holds at the time of each read.
struct Reader(Handle);

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let state = self.0.live()?;
        let Node::File { data, .. } = &state.inode(self.0.ino).node else {
            unreachable!("not a file")
        };
        let start = (self.0.pos as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        drop(state);
        self.0.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Reader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, offset) = match to {
            SeekFrom::Start(pos) => (pos as i64, 0),
            SeekFrom::Current(offset) => (self.0.pos as i64, offset),
            SeekFrom::End(offset) => {
                let state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
                let len = match &state.inodes.get(&self.0.ino).map(|inode| &inode.node) {
                    Some(Node::File { data, .. }) => data.len() as i64,
                    _ => 0,
                };
                (len, offset)
            }
        };
        let pos = base.checked_add(offset).filter(|pos| *pos >= 0);
        let pos = pos.ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "seek before the start"))?;
        self.0.pos = pos as u64;
        Ok(self.0.pos)
    }
}

/// A held lock on an inode; also keeps it open.
struct Lock {
    handle: Handle,
    token: u64,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let mut state = self.handle.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.epoch == self.handle.epoch && state.locks.get(&self.handle.ino) == Some(&self.token) {
            state.locks.remove(&self.handle.ino);
        }
    }
}
