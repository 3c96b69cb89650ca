//! A process that can die at any step: the engine's file system and server
//! wrapped so that, from a chosen call on, nothing more takes effect (the
//! process is gone), and so that a user's edit can land between two of the
//! engine's calls.

use std::{
    ffi::OsString,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use drive_wire::{ChangesPage, CommitRequest, Manifest, Node, NodeId, PresignedBlock, RevisionId, UploadPlan, User};

use super::{mem_fs::MemFs, server::SimServer};
use crate::{
    fs::{Fs, LockGuard, Meta, ReadFile, WriteFile},
    remote::RemoteError,
    server::Server,
};

/// What happens at a given call of the engine's: it dies there, or a user
/// edit lands just before it.
#[derive(Debug, Default)]
pub struct Fate {
    /// Calls made since the fate was set.
    calls: u64,
    /// Dies at this call (and every one after).
    die_at: Option<u64>,
    /// Writes these bytes to this path just before this call.
    edit_at: Option<(u64, PathBuf, Vec<u8>)>,
    /// An edit that landed, for the driver's record.
    landed: Option<(PathBuf, Vec<u8>)>,
}

/// One process's fate, shared by its file system and its server.
#[derive(Debug, Clone, Default)]
pub struct Process(Arc<Mutex<Fate>>);

fn dead() -> io::Error {
    io::Error::other("the process died")
}

impl Process {
    /// A new life: counts from zero; dies at call `die_at` if given; writes
    /// `edit` (path and bytes) on `fs` just before call `edit.0`.
    pub fn reset(&self, die_at: Option<u64>, edit: Option<(u64, PathBuf, Vec<u8>)>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Fate {
            die_at,
            edit_at: edit,
            ..Fate::default()
        };
    }

    pub fn is_dead(&self) -> bool {
        let fate = self.0.lock().unwrap_or_else(|p| p.into_inner());
        fate.die_at.is_some_and(|at| fate.calls >= at)
    }

    /// The edit that landed during this life, if any.
    pub fn take_landed(&self) -> Option<(PathBuf, Vec<u8>)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).landed.take()
    }

    /// Counts one call; fails if the process is dead by now.
    fn call(&self, fs: &MemFs) -> io::Result<()> {
        let mut fate = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if fate.die_at.is_some_and(|at| fate.calls >= at) {
            return Err(dead());
        }
        if fate.edit_at.as_ref().is_some_and(|(at, _, _)| *at == fate.calls) {
            if let Some((_, path, bytes)) = fate.edit_at.take() {
                if fs.user_write(&path, &bytes).is_ok() {
                    tracing::debug!(path = %path.display(), "the user writes, mid-sync");
                    fate.landed = Some((path, bytes));
                }
            }
        }
        fate.calls += 1;
        Ok(())
    }
}

/// The engine's file system in a process that may die.
#[derive(Debug)]
pub struct DyingFs {
    pub fs: MemFs,
    pub process: Process,
}

impl DyingFs {
    fn call(&self) -> io::Result<()> {
        self.process.call(&self.fs)
    }
}

struct DyingWriter {
    inner: Box<dyn WriteFile>,
    fs: MemFs,
    process: Process,
}

impl Write for DyingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.process.call(&self.fs)?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl WriteFile for DyingWriter {
    fn sync_all(&mut self) -> io::Result<()> {
        self.process.call(&self.fs)?;
        self.inner.sync_all()
    }
}

impl Fs for DyingFs {
    fn metadata(&self, path: &Path) -> io::Result<Meta> {
        self.call()?;
        self.fs.metadata(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.call()?;
        self.fs.read_dir(path)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        self.call()?;
        self.fs.open(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        self.call()?;
        Ok(Box::new(DyingWriter {
            inner: self.fs.create(path)?,
            fs: self.fs.clone(),
            process: self.process.clone(),
        }))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.create_dir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.rename(from, to)
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.rename_noreplace(from, to)
    }

    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.exchange(a, b)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.remove_dir(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.call()?;
        self.fs.remove_dir_all(path)
    }

    fn set_mtime(&self, path: &Path, mtime_ns: i64) -> io::Result<()> {
        self.call()?;
        self.fs.set_mtime(path, mtime_ns)
    }

    fn write_new(&self, path: &Path, bytes: &[u8], mtime_ns: i64) -> io::Result<Meta> {
        self.call()?;
        self.fs.write_new(path, bytes, mtime_ns)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.call()?;
        self.fs.canonicalize(path)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        self.call()?;
        self.fs.try_lock(path)
    }

    fn blocks(&self) -> bool {
        false
    }
}

/// The server as a process that may die sees it: calls after its death
/// never arrive.
#[derive(Debug)]
pub struct DyingServer {
    pub server: SimServer,
    pub fs: MemFs,
    pub process: Process,
}

type Result<T> = std::result::Result<T, RemoteError>;

impl DyingServer {
    fn call(&self) -> Result<()> {
        self.process.call(&self.fs).map_err(|e| RemoteError::Server {
            status: 599,
            message: e.to_string(),
        })
    }
}

#[async_trait::async_trait]
impl Server for DyingServer {
    fn address(&self) -> String {
        self.server.address()
    }

    async fn me(&self) -> Result<User> {
        self.call()?;
        self.server.me().await
    }

    async fn changes(&self, since: i64, wait: Duration) -> Result<ChangesPage> {
        self.call()?;
        self.server.changes(since, wait).await
    }

    async fn create_folder(&self, parent_id: NodeId, name: &str) -> Result<Node> {
        self.call()?;
        self.server.create_folder(parent_id, name).await
    }

    async fn update_node(&self, id: NodeId, name: Option<&str>, parent_id: Option<NodeId>) -> Result<Node> {
        self.call()?;
        self.server.update_node(id, name, parent_id).await
    }

    async fn trash(&self, id: NodeId) -> Result<()> {
        self.call()?;
        self.server.trash(id).await
    }

    async fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Result<Manifest> {
        self.call()?;
        self.server.manifest(id, revision).await
    }

    async fn prepare_upload(&self, request: &CommitRequest) -> Result<UploadPlan> {
        self.call()?;
        self.server.prepare_upload(request).await
    }

    async fn commit(&self, request: &CommitRequest) -> Result<Node> {
        self.call()?;
        self.server.commit(request).await
    }

    async fn prepare_uploads(&self, files: &[CommitRequest]) -> Result<Vec<Result<UploadPlan>>> {
        self.call()?;
        self.server.prepare_uploads(files).await
    }

    async fn commit_many(&self, files: &[CommitRequest]) -> Result<Vec<Result<Node>>> {
        self.call()?;
        self.server.commit_many(files).await
    }

    async fn put_block(&self, block: &PresignedBlock, bytes: Vec<u8>) -> Result<()> {
        self.call()?;
        self.server.put_block(block, bytes).await
    }

    async fn get_block(&self, block: &PresignedBlock) -> Result<Vec<u8>> {
        self.call()?;
        self.server.get_block(block).await
    }
}
