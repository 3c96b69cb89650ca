//! Proofs of the local store's verified PUTs, recorded in groups: the PUTs
//! waiting at a moment share one write transaction (a group commit), since a
//! transaction each was most of what a small block cost. A PUT is answered
//! only once its own proof is committed, so an acknowledged upload is still
//! a recorded one.

use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::storage::Db;

/// Proofs per transaction at most.
const GROUP: usize = 256;

/// The queue of proofs to record, and the task that records them.
pub struct ProofLog {
    queue: mpsc::UnboundedSender<Waiting>,
}

struct Waiting {
    grant: UploadGrant,
    hash: BlockHash,
    size: u64,
    /// Whether the grant's reservation was live; `None`: the group failed.
    done: oneshot::Sender<Option<bool>>,
}

impl ProofLog {
    /// Starts the recording task (on the current Tokio runtime).
    pub fn start(db: Db) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Waiting>();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match waiting.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                // In hash order, as other writers of many block rows take them.
                group.sort_by_key(|proof| proof.hash);
                match record_group(&db, &group).await {
                    Ok(proven) => {
                        for (proof, proven) in group.into_iter().zip(proven) {
                            let _ = proof.done.send(Some(proven));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, proofs = group.len(), "a group of upload proofs failed: each is recorded alone");
                        for proof in group {
                            let _ = proof.done.send(None);
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Records that the bytes of `hash` came through `grant`'s URL and are
    /// stored: the block's row, and the proof of the grantee's upload.
    /// Returns whether the grant's reservation was live.
    pub async fn record(&self, db: &Db, grant: UploadGrant, hash: BlockHash, size: u64) -> ApiResult<bool> {
        let (done, answer) = oneshot::channel();
        let waiting = Waiting {
            grant: grant.clone(),
            hash,
            size,
            done,
        };
        if self.queue.send(waiting).is_ok() {
            if let Ok(Some(proven)) = answer.await {
                return Ok(proven);
            }
        }
        // The group failed: alone, to answer this PUT's own error.
        let mut tx = db.begin().await?;
        register_blocks(&mut tx, &[(hash, size)]).await?;
        let proven = record_upload(&mut tx, &grant, hash, size).await?;
        tx.commit().await?;
        Ok(proven)
    }
}

async fn record_group(db: &Db, group: &[Waiting]) -> ApiResult<Vec<bool>> {
    let mut tx = db.begin().await?;
    let blocks: Vec<(BlockHash, u64)> = group.iter().map(|proof| (proof.hash, proof.size)).collect();
    register_blocks(&mut tx, &blocks).await?;
    let mut proven = Vec::with_capacity(group.len());
    for proof in group {
        proven.push(record_upload(&mut tx, &proof.grant, proof.hash, proof.size).await?);
    }
    tx.commit().await?;
    Ok(proven)
}
