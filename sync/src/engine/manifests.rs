//! The manifests of a pass's small downloads, asked for in batches: a
//! download that finds its own missing asks for it and the ones queued
//! after it in one request (500 at most), so that many small files cost a
//! request per batch, not one each, and no more than a batch is held at once.

use std::collections::VecDeque;

use chrono::Utc;
use drive_wire::{Manifest, RevisionId};

use super::*;
use crate::transfer::{BATCH_FILES, BATCH_FILE_MAX};

/// Manifests queued for this pass's downloads, and those fetched already.
#[derive(Default)]
pub(super) struct Prefetch {
    queue: VecDeque<(NodeId, RevisionId)>,
    ready: HashMap<(NodeId, RevisionId), Manifest>,
}

/// A manifest whose URLs stay valid this long after it is taken is used;
/// an older one is asked for again.
const FRESH_FOR: chrono::Duration = chrono::Duration::seconds(60);

impl Engine {
    /// Queues the manifests of the small downloads among `ops`, in order.
    pub(super) async fn queue_manifests(&self, ops: &[Op], tree: &Mutex<RemoteTree>) {
        let queue: VecDeque<(NodeId, RevisionId)> = {
            let tree = tree.lock().unwrap_or_else(|p| p.into_inner());
            ops.iter()
                .filter_map(|op| match op {
                    Op::Download {
                        path,
                        node_id,
                        revision,
                    } if tree.get(path).is_some_and(|node| node.size <= BATCH_FILE_MAX) => Some((*node_id, *revision)),
                    _ => None,
                })
                .collect()
        };
        let mut prefetch = self.manifests.lock().await;
        // One alone gains nothing from a batch.
        prefetch.queue = if queue.len() > 1 { queue } else { VecDeque::new() };
        prefetch.ready.clear();
    }

    /// The manifest of a queued download, fetched with those queued after
    /// it; `None` for one not queued, or when the batch failed: the download
    /// then asks for its own.
    pub(super) async fn queued_manifest(&self, id: NodeId, revision: RevisionId) -> Option<Manifest> {
        let mut prefetch = self.manifests.lock().await;
        let key = (id, revision);
        if !prefetch.ready.contains_key(&key) {
            let at = prefetch.queue.iter().position(|&queued| queued == key)?;
            let end = prefetch.queue.len().min(at + BATCH_FILES);
            let batch: Vec<(NodeId, RevisionId)> = prefetch.queue.drain(at..end).collect();
            let asked: Vec<(NodeId, Option<RevisionId>)> = batch.iter().map(|&(id, rev)| (id, Some(rev))).collect();
            match self.remote.manifests(&asked).await {
                Ok(manifests) => {
                    for (key, manifest) in batch.into_iter().zip(manifests) {
                        if let Ok(manifest) = manifest {
                            prefetch.ready.insert(key, manifest);
                        }
                    }
                }
                Err(error) => tracing::debug!(%error, "a batch of manifests failed: each download asks for its own"),
            }
        }
        let manifest = prefetch.ready.remove(&key)?;
        let deadline = Utc::now() + FRESH_FOR;
        manifest
            .blocks
            .iter()
            .all(|block| block.data.is_some() || block.expires_at > deadline)
            .then_some(manifest)
    }

    /// Forgets what this pass queued.
    pub(super) async fn clear_manifests(&self) {
        *self.manifests.lock().await = Prefetch::default();
    }
}
