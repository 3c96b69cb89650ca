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
    fs::{offload, Fs, Meta, SharedFs},
    io_error::{io_err, IoError},
    progress::{Direction, Progress, TransferOf},
    remote::RemoteError,
    server::Server,
};

/// Temp files of downloads under way: only ever partial content.
pub const PARTIAL_PREFIX: &str = "download-";
/// Temp files of complete downloads waiting to take their place, or what a
/// swap put in their place: perhaps the user's.
pub const READY_PREFIX: &str = "ready-";

mod batch;
mod download;

pub use batch::{upload_batch, BATCH_FILES, BATCH_FILE_MAX};
pub use download::{fetch, manifest_content_id, Content, Fetched, TempFile};

/// Blocks in flight at once, per file uploaded.
const PARALLEL_BLOCKS: usize = 8;

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

impl From<Meta> for Stats {
    fn from(meta: Meta) -> Self {
        Stats {
            size: meta.len,
            mtime_ns: meta.mtime_ns,
            inode: meta.inode,
        }
    }
}

pub fn stats(fs: &dyn Fs, path: &Path) -> std::io::Result<Stats> {
    fs.metadata(path).map(Stats::from)
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
