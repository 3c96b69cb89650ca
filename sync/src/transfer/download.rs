//! Downloads: a revision fetched block by block into a temp file of the
//! state dir (blocks the old local copy holds are copied, not fetched),
//! verified, synced and given the server's modification time; or, for a
//! small file whose blocks all came inline with its manifest, kept in
//! memory and written by the engine's trip that puts it in place.

use super::*;
use crate::{
    folder::temp_dir,
    fs::{in_its_folder, WriteFile},
};

/// Blocks fetched ahead at once, per file downloaded (written in order).
const PARALLEL_FETCHES: usize = 8;
/// A download's bytes are sent on to the disk, without waiting, each time
/// this many more were written.
const START_SYNC_EVERY: u64 = 16 * 1024 * 1024;
/// A download of this many bytes or more is written around the page cache.
const UNBUFFERED_FROM: u64 = 16 * 1024 * 1024;

/// A revision fetched and verified; the engine puts it in its place.
pub struct Fetched {
    pub content: Content,
    pub content_id: String,
}

/// A fetched revision's content.
pub enum Content {
    /// In a temp file of the state dir: durable, with the server's
    /// modification time.
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
        let (tmp_path, mut file) = create_temp(fs.as_ref(), &tmp_dir, false).map_err(io_err("creating a temp file"))?;
        let tmp = TempFile(Some((fs.clone(), tmp_path.clone())));
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_err("writing a temp file"))?;
        fs.set_mtime(&tmp_path, mtime_ns)
            .map_err(io_err("setting the modification time"))?;
        Ok(tmp)
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
    let tmp_dir = temp_dir(root);
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

    let total: u64 = manifest.blocks.iter().map(|block| block.size).sum();
    let unbuffered = total >= UNBUFFERED_FROM;
    let (tmp_path, mut file) = offload(fs, move |fs| create_temp(fs, &tmp_dir, unbuffered))
        .await
        .map_err(io_err("creating a temp file"))?;
    let tmp = TempFile(Some((fs.clone(), tmp_path.clone())));

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
                    let hash = block.hash;
                    let read = offload(fs, move |fs| {
                        read_block(fs, &target, offset, size).map(|bytes| (hash_of(&bytes) == hash, bytes))
                    });
                    if let Ok((true, bytes)) = read.await {
                        told();
                        return Ok((slot, bytes));
                    }
                }
                // A small block may come with the manifest.
                let bytes = match block.inline_bytes() {
                    Some(bytes) => bytes,
                    None => remote.get_block(&block).await?,
                };
                // Hashed off the thread that drives the transfers.
                let (hash, size) = (block.hash, block.size);
                let (intact, bytes) = offload(fs, move |_| {
                    (bytes.len() as u64 == size && hash_of(&bytes) == hash, bytes)
                })
                .await;
                if !intact {
                    return Err(TransferError::Corrupt(hash));
                }
                progress.bytes(Direction::Down, size);
                told();
                Ok((slot, bytes))
            }
        })
        .buffered(PARALLEL_FETCHES);
    // Blocks are fetched while earlier ones are being written: the two
    // sides are joined, and a channel of a few blocks keeps the order.
    let (ready, mut arrived) = tokio::sync::mpsc::channel(PARALLEL_FETCHES);
    let fetching = async move {
        futures::pin_mut!(blocks);
        while let Some(block) = blocks.next().await {
            if ready.send(block?).await.is_err() {
                break;
            }
        }
        Ok::<_, TransferError>(())
    };
    let writing = async move {
        let mut unsynced = 0;
        while let Some((_slot, bytes)) = arrived.recv().await {
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
        Ok::<_, TransferError>(file)
    };
    let ((), mut file) = tokio::try_join!(fetching, writing)?;
    // Durable before it takes the place of anything: a crash never leaves
    // an empty or torn file where a good one was.
    offload(fs, move |_| file.sync_all())
        .await
        .map_err(io_err("syncing a temp file"))?;
    offload(fs, move |fs| fs.set_mtime(&tmp_path, mtime_ns))
        .await
        .map_err(io_err("setting the modification time"))?;
    Ok(Fetched {
        content: Content::Ready(tmp),
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

/// A new temp file in `dir`, open for writing (`unbuffered`: around the
/// page cache), and where it is. `dir` (the state dir's temp folder, made
/// when the engine opens) is made again only if it went missing.
fn create_temp(fs: &dyn Fs, dir: &Path, unbuffered: bool) -> std::io::Result<(PathBuf, Box<dyn WriteFile>)> {
    let path = dir.join(format!("{PARTIAL_PREFIX}{}", rand::random::<u64>()));
    let file = in_its_folder(fs, &path, || match unbuffered {
        true => fs.create_unbuffered(&path),
        false => fs.create(&path),
    })?;
    Ok((path, file))
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

    /// The file under a ready name, before it is swapped with a local one:
    /// what the swap leaves in its place may be the user's, which a clean-up
    /// after a crash keeps (in the local trash) where it removes a partial
    /// download. Removed if the rename fails.
    pub fn into_ready(mut self) -> std::io::Result<TempFile> {
        let Some((fs, path)) = self.0.take() else {
            return Ok(self);
        };
        let ready = path.with_file_name(format!("{READY_PREFIX}{}", rand::random::<u64>()));
        match fs.rename(&path, &ready) {
            Ok(()) => Ok(TempFile(Some((fs, ready)))),
            Err(e) => {
                self.0 = Some((fs, path));
                Err(e)
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some((fs, path)) = self.0.take() {
            let _ = fs.remove_file(&path);
        }
    }
}
