//! Proofs of the local store's verified PUTs, recorded in the background in
//! groups: the proofs waiting at a moment share one write transaction (a
//! group commit). A PUT is answered once its bytes are durable, without
//! waiting for its proof: the writer is often busy with a batch's commit,
//! and a proof is not the user's data. Step 1 and step 3 first wait for every
//! proof queued before them ([`ProofLog::flush`]), so a client that was told
//! its PUT succeeded finds it counted. A proof lost to a crash (or to a
//! failed group) costs only a re-upload: the block then reads as missing.

use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::storage::Db;

/// Proofs per transaction at most.
const GROUP: usize = 256;

/// The queue of proofs to record, and the task that records them.
pub struct ProofLog {
    queue: mpsc::UnboundedSender<Queued>,
}

enum Queued {
    Proof {
        grant: UploadGrant,
        hash: BlockHash,
        size: u64,
    },
    /// Answered once every proof queued before it is recorded (or failed).
    Flush(oneshot::Sender<()>),
}

impl ProofLog {
    /// Starts the recording task (on the current Tokio runtime).
    pub fn start(db: Db) -> Self {
        let (queue, mut queued) = mpsc::unbounded_channel::<Queued>();
        tokio::spawn(async move {
            while let Some(first) = queued.recv().await {
                let (mut proofs, mut flushes) = (Vec::new(), Vec::new());
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item {
                        Queued::Proof { grant, hash, size } => proofs.push((grant, hash, size)),
                        Queued::Flush(done) => flushes.push(done),
                    }
                    if proofs.len() < GROUP {
                        next = queued.try_recv().ok();
                    }
                }
                if !proofs.is_empty() {
                    // In hash order, as other writers of many block rows take them.
                    proofs.sort_by_key(|(_, hash, _)| *hash);
                    if let Err(error) = record_group(&db, &proofs).await {
                        tracing::warn!(%error, proofs = proofs.len(), "upload proofs were not recorded: those blocks will be asked for again");
                    }
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        Self { queue }
    }

    /// Queues the proof that the bytes of `hash` came through `grant`'s URL
    /// and are stored: the block's row, and the grantee's upload proven.
    pub fn record(&self, grant: UploadGrant, hash: BlockHash, size: u64) {
        if self.queue.send(Queued::Proof { grant, hash, size }).is_err() {
            tracing::warn!(%hash, "the proof log is closed: the block will be asked for again");
        }
    }

    /// Waits until every proof queued so far is recorded (or failed).
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }
}

async fn record_group(db: &Db, proofs: &[(UploadGrant, BlockHash, u64)]) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let blocks: Vec<(BlockHash, u64)> = proofs.iter().map(|(_, hash, size)| (*hash, *size)).collect();
    register_blocks(&mut tx, &blocks).await?;
    record_uploads(&mut tx, proofs).await?;
    tx.commit().await?;
    Ok(())
}
