//! Many small files in one go: one request for step 1 and one for step 3 per
//! batch (each file answered on its own), and the blocks of all of them PUT
//! side by side, each distinct block once. The smallest files skip steps 1
//! and 2: their bytes travel inline with the commit.

use std::sync::Mutex;

use drive_wire::{InlineBlock, PresignedBlock, MAX_INLINE_BLOCK};

use super::*;

/// Files up to this size go in batches: a few blocks at most, read whole.
pub const BATCH_FILE_MAX: u64 = 1024 * 1024;
/// Files per batch: a few requests per thousand files, and a commit that
/// stays a short transaction on the server.
pub const BATCH_FILES: usize = 500;

/// Blocks in flight at once for a batch.
const PARALLEL_BATCH_BLOCKS: usize = 32;

/// Uploads `files`; one outcome per file, in order. A failure of the whole
/// call (the server unreachable) is every open file's outcome; files
/// committed before it keep theirs.
pub async fn upload_batch(
    fs: &SharedFs,
    remote: &dyn Server,
    files: Vec<Pending>,
    progress: Arc<dyn Progress>,
) -> Vec<Result<Uploaded, TransferError>> {
    let mut outcomes: Vec<Option<Result<Uploaded, TransferError>>> = Vec::with_capacity(files.len());
    let mut staged = Vec::with_capacity(files.len());
    for file in files {
        match stage(fs, file).await {
            Ok(file) => {
                staged.push(Some(file));
                outcomes.push(None);
            }
            Err(error) => {
                staged.push(None);
                outcomes.push(Some(Err(error)));
            }
        }
    }
    if let Err(error) = attempt_all(fs, remote, &staged, &mut outcomes, &progress).await {
        let message = error.to_string();
        for outcome in outcomes.iter_mut().filter(|outcome| outcome.is_none()) {
            *outcome = Some(Err(TransferError::Batch(message.clone())));
        }
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or_else(|| Err(TransferError::Batch("it was not committed".into()))))
        .collect()
}

/// Twice at most: a block the server lost between the plan and the commit
/// is simply sent again.
async fn attempt_all(
    fs: &SharedFs,
    remote: &dyn Server,
    staged: &[Option<Staged>],
    outcomes: &mut [Option<Result<Uploaded, TransferError>>],
    progress: &Arc<dyn Progress>,
) -> Result<(), TransferError> {
    for attempt in 1..=2 {
        let open: Vec<usize> = (0..staged.len())
            .filter(|&i| outcomes[i].is_none() && staged[i].is_some())
            .collect();
        if open.is_empty() {
            break;
        }
        // The first time, a small file's bytes go with its commit (the
        // server keeps them in its database) and it skips step 1; one the
        // server asks for again, or a server that does not take them, goes
        // the usual way the second time.
        let (direct, planned): (Vec<usize>, Vec<usize>) = open.iter().partition(|&&i| {
            attempt == 1
                && staged[i]
                    .as_ref()
                    .is_some_and(|file| file.before.size <= MAX_INLINE_BLOCK)
        });
        let mut inline = HashMap::new();
        for (i, read) in read_inline(fs, staged, &direct).await {
            match read {
                Ok(blocks) => {
                    inline.insert(i, blocks);
                }
                Err(error) => outcomes[i] = Some(Err(error)),
            }
        }
        let plans = match planned.is_empty() {
            true => Vec::new(),
            false => {
                let requests: Vec<CommitRequest> = planned
                    .iter()
                    .filter_map(|&i| staged[i].as_ref().map(|file| file.request.clone()))
                    .collect();
                remote.prepare_uploads(&requests).await?
            }
        };
        // Each distinct missing block once, read from the first file with it.
        let mut blocks: HashMap<BlockHash, (PresignedBlock, usize)> = HashMap::new();
        for (&i, plan) in planned.iter().zip(plans) {
            match plan {
                Ok(plan) => {
                    for block in plan.missing {
                        blocks.entry(block.hash).or_insert((block, i));
                    }
                }
                Err(error) => outcomes[i] = Some(Err(error.into())),
            }
        }
        // A file that changed fails alone; a server that cannot be reached
        // fails the batch.
        let failed = Mutex::new(Vec::new());
        futures::stream::iter(blocks.into_values().map(Ok::<_, TransferError>))
            .try_for_each_concurrent(PARALLEL_BATCH_BLOCKS, |(block, i)| {
                let (failed, progress) = (&failed, progress.clone());
                async move {
                    let Some(file) = staged[i].as_ref() else { return Ok(()) };
                    let Some(chunk) = file.chunks.iter().find(|chunk| chunk.hash == block.hash) else {
                        return Ok(());
                    };
                    let _slot = block_slot(chunk.size).await;
                    match send_block(fs, remote, &file.path, &block, (chunk.offset, chunk.size)).await {
                        Ok(()) => progress.bytes(Direction::Up, chunk.size),
                        Err(TransferError::Remote(error)) if error.is_transient() => return Err(error.into()),
                        Err(error) => failed.lock().unwrap_or_else(|p| p.into_inner()).push((i, error)),
                    }
                    Ok(())
                }
            })
            .await?;
        for (i, error) in failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            outcomes[i].get_or_insert(Err(error));
        }
        // Files changed on disk since they were read are not committed.
        let mut open = Vec::new();
        for (i, file) in staged.iter().enumerate() {
            let Some(file) = file else { continue };
            if outcomes[i].is_some() {
                continue;
            }
            if stats(fs.as_ref(), &file.path).ok() == Some(file.before) {
                open.push((i, file));
            } else {
                outcomes[i] = Some(Err(TransferError::Changed));
            }
        }
        if open.is_empty() {
            break;
        }
        let requests: Vec<CommitRequest> = open
            .iter()
            .map(|&(i, file)| CommitRequest {
                inline: inline.remove(&i).unwrap_or_default(),
                ..file.request.clone()
            })
            .collect();
        let nodes = remote.commit_many(&requests).await?;
        for (((i, file), node), request) in open.into_iter().zip(nodes).zip(&requests) {
            outcomes[i] = match node {
                Ok(node) => {
                    let sent: u64 = request.inline.iter().filter_map(|block| block_size(file, block)).sum();
                    if sent > 0 {
                        progress.bytes(Direction::Up, sent);
                    }
                    Some(Ok(file.uploaded(node)))
                }
                Err(RemoteError::MissingBlocks(_)) if attempt < 2 => None,
                Err(error) => Some(Err(error.into())),
            };
        }
    }
    Ok(())
}

/// The bytes of the blocks of files `direct`, read side by side and checked
/// against their hashes, to go inline with their commits.
async fn read_inline(
    fs: &SharedFs,
    staged: &[Option<Staged>],
    direct: &[usize],
) -> Vec<(usize, Result<Vec<InlineBlock>, TransferError>)> {
    futures::stream::iter(direct.iter().copied())
        .map(|i| async move {
            let Some(file) = staged[i].as_ref() else {
                return (i, Ok(Vec::new()));
            };
            let mut blocks = Vec::with_capacity(file.chunks.len());
            for chunk in &file.chunks {
                match read_checked(fs, &file.path, chunk.hash, chunk.offset, chunk.size).await {
                    Ok(bytes) => blocks.push(InlineBlock::new(chunk.hash, &bytes)),
                    Err(error) => return (i, Err(error)),
                }
            }
            (i, Ok(blocks))
        })
        .buffer_unordered(PARALLEL_BATCH_BLOCKS)
        .collect()
        .await
}

/// The size of a block `file` sent inline.
fn block_size(file: &Staged, block: &InlineBlock) -> Option<u64> {
    file.chunks
        .iter()
        .find(|chunk| chunk.hash == block.hash)
        .map(|chunk| chunk.size)
}
