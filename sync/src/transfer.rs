//! Moving one file's content: uploads send only the blocks the server lacks;
//! downloads fetch only the blocks the old local copy does not already hold,
//! and land atomically (temp file, verify, fsync, rename, mtime).

use std::{
    collections::HashMap,
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use chrono::{DateTime, Utc};
use drive_wire::{BlockHash, CommitRequest, Manifest, Node, NodeId, PresignedBlock, RevisionId};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{
    chunker::{self, Chunk},
    fs::{offload, Fs, SharedFs},
    io_error::{io_err, IoError},
    progress::{Direction, Progress, TransferOf},
    remote::RemoteError,
    scanner::STATE_DIR,
    server::Server,
};

/// Temp files of downloads under way: only ever partial content.
pub const PARTIAL_PREFIX: &str = "download-";
/// Temp files of complete downloads waiting to take their place, or what a
/// swap put in their place: perhaps the user's.
pub const READY_PREFIX: &str = "ready-";

mod batch;

pub use batch::{upload_batch, BATCH_FILES, BATCH_FILE_MAX};

/// Blocks in flight at once, per file uploaded.
const PARALLEL_BLOCKS: usize = 4;
/// Blocks fetched ahead at once, per file downloaded (written in order).
const PARALLEL_FETCHES: usize = 8;
/// A download's bytes are sent on to the disk, without waiting, each time
/// this many more were written.
const START_SYNC_EVERY: u64 = 16 * 1024 * 1024;

/// Block bytes held in memory at once by all the transfers of the process,
/// in units of [`SLOT_UNIT`]: 64 MiB, so sixteen blocks of the largest size,
/// or a thousand small ones, move side by side.
static BLOCK_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1024);
const SLOT_UNIT: u64 = 64 * 1024;

/// Room for a block of `size` bytes in memory, held until dropped.
async fn block_slot(size: u64) -> tokio::sync::SemaphorePermit<'static> {
    let units = u32::try_from(size.div_ceil(SLOT_UNIT))
        .unwrap_or(u32::MAX)
        .clamp(1, 1024);
    // The semaphore is never closed, so acquiring cannot fail.
    BLOCK_SLOTS
        .acquire_many(units)
        .await
        .expect("the block semaphore is never closed")
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the file changed while it was being transferred; it will be retried")]
    Changed,
    #[error("block {0} arrived corrupted")]
    Corrupt(BlockHash),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Io(#[from] IoError),
    /// The batch this file was in failed as a whole, for this reason.
    #[error("{0}")]
    Batch(String),
}

/// Local stats of a file after a transfer, for the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

pub fn stats(fs: &dyn Fs, path: &Path) -> std::io::Result<Stats> {
    let meta = fs.metadata(path)?;
    Ok(Stats {
        size: meta.len,
        mtime_ns: meta.mtime_ns,
        inode: meta.inode,
    })
}

fn read_block(fs: &dyn Fs, path: &Path, offset: u64, size: u64) -> Result<Vec<u8>, TransferError> {
    let mut file = fs.open(path).map_err(io_err(format!("opening {}", path.display())))?;
    file.seek(SeekFrom::Start(offset)).map_err(io_err("seeking"))?;
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(size)
        .read_to_end(&mut bytes)
        .map_err(|_| TransferError::Changed)?;
    if bytes.len() as u64 != size {
        return Err(TransferError::Changed);
    }
    Ok(bytes)
}

fn hash_of(bytes: &[u8]) -> BlockHash {
    BlockHash::from_bytes(Sha256::digest(bytes).into())
}

pub struct Uploaded {
    pub node: Node,
    pub stats: Stats,
    pub content_id: String,
}

/// A file to upload: `path` as `name` in folder `parent_id`, based on
/// `base` (none for a new file). `known` are its chunks from the scan, used
/// if taken with the same stats.
pub struct Pending {
    pub path: PathBuf,
    pub parent_id: NodeId,
    pub name: String,
    pub base: Option<RevisionId>,
    pub known: Option<(Stats, Vec<Chunk>)>,
}

/// A file read and cut into blocks, with the request that commits it.
struct Staged {
    path: PathBuf,
    before: Stats,
    chunks: Vec<Chunk>,
    request: CommitRequest,
}

impl Staged {
    fn uploaded(&self, node: Node) -> Uploaded {
        Uploaded {
            node,
            stats: self.before,
            content_id: chunker::content_id(&self.chunks),
        }
    }
}

async fn stage(fs: &SharedFs, file: Pending) -> Result<Staged, TransferError> {
    let Pending {
        path,
        parent_id,
        name,
        base,
        known,
    } = file;
    let before = stats(fs.as_ref(), &path).map_err(io_err(format!("reading {}", path.display())))?;
    let chunks = match known {
        Some((stats, chunks)) if stats == before => chunks,
        _ => {
            let path = path.clone();
            offload(fs, move |fs| chunker::chunk_file(fs, &path))
                .await
                .map_err(io_err("reading the file"))?
        }
    };
    let request = CommitRequest {
        parent_id,
        name,
        base_revision: base,
        blocks: chunks.iter().map(Chunk::block_ref).collect(),
        modified: DateTime::<Utc>::from_timestamp_nanos(before.mtime_ns),
        inline: Vec::new(),
    };
    Ok(Staged {
        path,
        before,
        chunks,
        request,
    })
}

/// Reads the block at `offset` of `path` and checks it is still `hash`: the
/// file was rewritten since it was hashed otherwise.
async fn read_checked(
    fs: &SharedFs,
    path: &Path,
    hash: BlockHash,
    offset: u64,
    size: u64,
) -> Result<Vec<u8>, TransferError> {
    let path = path.to_path_buf();
    let bytes = offload(fs, move |fs| read_block(fs, &path, offset, size)).await?;
    if hash_of(&bytes) != hash {
        return Err(TransferError::Changed);
    }
    Ok(bytes)
}

/// Sends the block of `size` bytes at `offset` of `path` as `block`, read as it is now and
/// not hashed again: the store refuses bytes that are not the block's hash
/// (the server verifies what it receives; an S3 store, the checksum signed
/// into the URL), so a block torn by an edit since the scan is never
/// stored. Only when the store refuses is the block hashed again, to tell
/// an edited file (`Changed`, synced once it settles) from a failure.
async fn send_block(
    fs: &SharedFs,
    remote: &dyn Server,
    path: &Path,
    block: &PresignedBlock,
    (offset, size): (u64, u64),
) -> Result<(), TransferError> {
    let at = path.to_path_buf();
    let bytes = offload(fs, move |fs| read_block(fs, &at, offset, size)).await?;
    let Err(refused) = remote.put_block(block, bytes).await else {
        return Ok(());
    };
    match read_checked(fs, path, block.hash, offset, size).await {
        Ok(_) => Err(refused.into()),
        Err(_) => Err(TransferError::Changed),
    }
}

/// Uploads one file, its blocks side by side.
pub async fn upload(
    fs: &SharedFs,
    remote: &dyn Server,
    file: Pending,
    progress: Arc<dyn Progress>,
) -> Result<Uploaded, TransferError> {
    let staged = stage(fs, file).await?;
    let Staged {
        path,
        before,
        chunks,
        request,
    } = &staged;
    let by_hash: HashMap<BlockHash, &Chunk> = chunks.iter().map(|c| (c.hash, c)).collect();
    // Twice at most: a block the server lost between the plan and the commit
    // is simply sent again.
    let mut attempts = 0;
    let node = loop {
        attempts += 1;
        let plan = remote.prepare_upload(request).await?;
        // The file's own progress: blocks the server already has are done.
        let total: u64 = chunks.iter().map(|c| c.size).sum();
        let missing: u64 = plan
            .missing
            .iter()
            .filter_map(|block| by_hash.get(&block.hash).map(|c| c.size))
            .sum();
        let done = AtomicU64::new(total.saturating_sub(missing));
        progress.transfer(TransferOf::Upload(path), done.load(Ordering::Relaxed), total);
        futures::stream::iter(plan.missing.into_iter().map(Ok::<_, TransferError>))
            .try_for_each_concurrent(PARALLEL_BLOCKS, |block| {
                let chunk = by_hash.get(&block.hash).map(|c| (c.offset, c.size));
                let path = path.clone();
                let (progress, done) = (progress.clone(), &done);
                async move {
                    let (offset, size) = chunk.ok_or(TransferError::Changed)?;
                    let _slot = block_slot(size).await;
                    send_block(fs, remote, &path, &block, (offset, size)).await?;
                    progress.bytes(Direction::Up, size);
                    let now = done.fetch_add(size, Ordering::Relaxed) + size;
                    progress.transfer(TransferOf::Upload(&path), now.min(total), total);
                    Ok(())
                }
            })
            .await?;
        if stats(fs.as_ref(), path).ok() != Some(*before) {
            return Err(TransferError::Changed);
        }
        match remote.commit(request).await {
            Ok(node) => break node,
            Err(RemoteError::MissingBlocks(_)) if attempts < 2 => continue,
            Err(e) => return Err(e.into()),
        }
    };
    Ok(staged.uploaded(node))
}

/// A revision fetched and verified; the engine puts it in its place.
pub struct Fetched {
    pub content: Content,
    pub content_id: String,
}

/// A fetched revision's content.
pub enum Content {
    /// In a temp file of the state dir: durable, with the server's
    /// modification time, under a ready name.
    Ready(TempFile),
    /// All of it came with the manifest (a small file): still in memory, to
    /// be written by the same trip to the blocking pool that puts it in its
    /// place.
    Bytes {
        fs: SharedFs,
        tmp_dir: PathBuf,
        bytes: Vec<u8>,
        mtime_ns: i64,
    },
}

impl Content {
    /// The content as a ready temp file, written first if it is in memory.
    /// Blocking.
    pub fn into_file(self) -> Result<TempFile, IoError> {
        let (fs, tmp_dir, bytes, mtime_ns) = match self {
            Content::Ready(file) => return Ok(file),
            Content::Bytes {
                fs,
                tmp_dir,
                bytes,
                mtime_ns,
            } => (fs, tmp_dir, bytes, mtime_ns),
        };
        let tmp_path = tmp_dir.join(format!("{PARTIAL_PREFIX}{}", rand::random::<u64>()));
        let tmp = TempFile(Some((fs.clone(), tmp_path.clone())));
        fs.write(&tmp_path, &bytes)
            .or_else(|e| match e.kind() {
                // The state dir's temp folder is made when the engine opens.
                std::io::ErrorKind::NotFound => fs.create_dir_all(&tmp_dir).and_then(|()| fs.write(&tmp_path, &bytes)),
                _ => Err(e),
            })
            .map_err(io_err("writing a temp file"))?;
        let ready = make_ready(fs.as_ref(), &tmp_path, mtime_ns).map_err(io_err("setting the modification time"))?;
        tmp.keep();
        Ok(TempFile(Some((fs, ready))))
    }
}

/// The content id of a remote revision, comparable with a local file's.
pub fn manifest_content_id(manifest: &Manifest) -> String {
    let chunks: Vec<Chunk> = manifest
        .blocks
        .iter()
        .scan(0u64, |offset, block| {
            let chunk = Chunk {
                hash: block.hash,
                offset: *offset,
                size: block.size,
            };
            *offset += block.size;
            Some(chunk)
        })
        .collect();
    chunker::content_id(&chunks)
}

/// Fetches a revision into a temp file in the state dir of the folder
/// `root`. `old` is the local copy it replaces, if any: blocks it already
/// holds are copied, not fetched. `manifest` is the revision's, when it came
/// in a batch; it is asked for otherwise.
pub async fn fetch(
    fs: &SharedFs,
    remote: &dyn Server,
    root: &Path,
    old: Option<&Path>,
    (node_id, revision): (NodeId, RevisionId),
    manifest: Option<Manifest>,
    progress: Arc<dyn Progress>,
) -> Result<Fetched, TransferError> {
    let manifest = match manifest {
        Some(manifest) => manifest,
        None => remote.manifest(node_id, Some(revision)).await?,
    };
    let tmp_dir = root.join(STATE_DIR).join("tmp");
    let mtime_ns = manifest.modified.timestamp_nanos_opt().unwrap_or_default();
    let content_id = manifest_content_id(&manifest);
    if let Some(bytes) = inline_content(&manifest)? {
        let total = bytes.len() as u64;
        progress.bytes(Direction::Down, total);
        progress.transfer(TransferOf::Download(node_id), total, total);
        return Ok(Fetched {
            content: Content::Bytes {
                fs: fs.clone(),
                tmp_dir,
                bytes,
                mtime_ns,
            },
            content_id,
        });
    }
    let target = old.map(Path::to_path_buf).unwrap_or_default();

    // Blocks the old local copy already holds are copied, not fetched.
    let local_blocks: HashMap<BlockHash, (u64, u64)> = match old {
        Some(_) => {
            let target = target.clone();
            offload(fs, move |fs| chunker::chunk_file(fs, &target).unwrap_or_default())
                .await
                .into_iter()
                .map(|c| (c.hash, (c.offset, c.size)))
                .collect()
        }
        None => HashMap::new(),
    };

    let tmp_path = tmp_dir.join(format!("{PARTIAL_PREFIX}{}", rand::random::<u64>()));
    let created = tmp_path.clone();
    let mut file = offload(fs, move |fs| {
        fs.create_dir_all(&tmp_dir)?;
        fs.create(&created)
    })
    .await
    .map_err(io_err("creating a temp file"))?;
    let tmp = TempFile(Some((fs.clone(), tmp_path.clone())));

    let total: u64 = manifest.blocks.iter().map(|block| block.size).sum();
    let done = AtomicU64::new(0);
    progress.transfer(TransferOf::Download(node_id), 0, total);
    // Slots are taken in block order, so the block the writer waits for
    // always holds one: blocks fetched ahead can never starve it.
    let blocks = futures::stream::iter(manifest.blocks.iter().cloned())
        .then(|block| async move { (block_slot(block.size).await, block) })
        .map(|(slot, block)| {
            let local = local_blocks.get(&block.hash).copied();
            let target = target.clone();
            let (progress, done) = (progress.clone(), &done);
            let size = block.size;
            let told = {
                let progress = progress.clone();
                move || {
                    let now = done.fetch_add(size, Ordering::Relaxed) + size;
                    progress.transfer(TransferOf::Download(node_id), now.min(total), total);
                }
            };
            async move {
                if let Some((offset, size)) = local {
                    if let Ok(bytes) = offload(fs, move |fs| read_block(fs, &target, offset, size)).await {
                        if hash_of(&bytes) == block.hash {
                            told();
                            return Ok((slot, bytes));
                        }
                    }
                }
                // A small block may come with the manifest.
                let bytes = match block.inline_bytes() {
                    Some(bytes) => bytes,
                    None => remote.get_block(&block).await?,
                };
                if bytes.len() as u64 != block.size || hash_of(&bytes) != block.hash {
                    return Err(TransferError::Corrupt(block.hash));
                }
                progress.bytes(Direction::Down, block.size);
                told();
                Ok((slot, bytes))
            }
        })
        .buffered(PARALLEL_FETCHES);
    futures::pin_mut!(blocks);
    let mut unsynced = 0;
    while let Some(bytes) = blocks.next().await {
        let (_slot, bytes) = bytes?;
        unsynced += bytes.len() as u64;
        // A large file goes to the disk as it comes, not all at the end.
        let start_sync = unsynced >= START_SYNC_EVERY;
        if start_sync {
            unsynced = 0;
        }
        file = offload(fs, move |_| {
            file.write_all(&bytes)?;
            if start_sync {
                file.start_sync();
            }
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(io_err("writing a temp file"))?;
    }
    // Durable before it takes the place of anything: a crash never leaves
    // an empty or torn file where a good one was.
    offload(fs, move |_| file.sync_all())
        .await
        .map_err(io_err("syncing a temp file"))?;
    let ready = offload(fs, move |fs| make_ready(fs, &tmp_path, mtime_ns))
        .await
        .map_err(io_err("setting the modification time"))?;
    tmp.keep();
    Ok(Fetched {
        content: Content::Ready(TempFile(Some((fs.clone(), ready)))),
        content_id,
    })
}

/// The whole content of `manifest` if every block came with it, checked;
/// `None` if some must be fetched.
fn inline_content(manifest: &Manifest) -> Result<Option<Vec<u8>>, TransferError> {
    if manifest.blocks.iter().any(|block| block.data.is_none()) {
        return Ok(None);
    }
    let mut content = Vec::new();
    for block in &manifest.blocks {
        let bytes = block.inline_bytes().ok_or(TransferError::Corrupt(block.hash))?;
        if bytes.len() as u64 != block.size || hash_of(&bytes) != block.hash {
            return Err(TransferError::Corrupt(block.hash));
        }
        content.extend_from_slice(&bytes);
    }
    Ok(Some(content))
}

/// Gives a complete, synced download at `tmp_path` the server's
/// modification time and a ready name, so that a clean-up after a crash
/// tells it from a partial one (what a swap leaves in its place is the
/// user's); where it is now.
fn make_ready(fs: &dyn Fs, tmp_path: &Path, mtime_ns: i64) -> std::io::Result<PathBuf> {
    fs.set_mtime(tmp_path, mtime_ns)?;
    let ready = tmp_path.with_file_name(format!("{READY_PREFIX}{}", rand::random::<u64>()));
    fs.rename(tmp_path, &ready)?;
    Ok(ready)
}

/// A temp file, removed on drop unless it was put in its place.
pub struct TempFile(Option<(SharedFs, PathBuf)>);

impl TempFile {
    pub fn path(&self) -> &Path {
        self.0.as_ref().map_or(Path::new(""), |(_, path)| path)
    }

    /// It was renamed into place: nothing to remove.
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some((fs, path)) = self.0.take() {
            let _ = fs.remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        progress::Quiet,
        sim::{
            mem_fs::{FsMode, MemFs},
            server::{Faults, SimServer, World},
        },
    };

    fn bytes(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
            .collect()
    }

    /// An upload whose blocks are read without hashing them again: an edit
    /// made since the scan is refused by the store, told as `Changed`, and
    /// nothing is committed; the file as it is then uploads whole.
    #[tokio::test(flavor = "current_thread")]
    async fn a_file_edited_since_its_scan_is_refused_as_changed_and_then_sent_whole() {
        let world = World::new();
        let server = SimServer::new(world.clone(), Faults::none());
        let mem = MemFs::new(FsMode::posix());
        let fs: SharedFs = Arc::new(mem.clone());
        let path = PathBuf::from("/big.bin");
        let size = 3 * chunker::MIN_CHUNK as usize;
        mem.user_write(&path, &bytes(1, size)).unwrap();
        let scanned = chunker::chunk_file(fs.as_ref(), &path).unwrap();
        // Rewritten in place since the scan; the scan's chunks are offered
        // as still good (same stats).
        mem.user_write(&path, &bytes(2, size)).unwrap();
        let now = stats(fs.as_ref(), &path).unwrap();
        let pending = |known| Pending {
            path: path.clone(),
            parent_id: world.root_id(),
            name: "big.bin".into(),
            base: None,
            known,
        };
        let sent = upload(&fs, &server, pending(Some((now, scanned))), Arc::new(Quiet)).await;
        assert!(matches!(sent, Err(TransferError::Changed)), "{:?}", sent.err());
        assert!(!world.tree().contains_key("big.bin"), "nothing committed");

        let uploaded = upload(&fs, &server, pending(None), Arc::new(Quiet)).await.unwrap();
        assert_eq!(world.tree()["big.bin"].as_deref(), Some(&bytes(2, size)[..]));
        assert_eq!(uploaded.stats, now);
    }
}
