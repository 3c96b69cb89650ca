//! The manifests of a pass's small downloads, asked for in batches: a
//! download that finds its own missing asks for it and the ones queued
//! after it in one request (500 at most), so that many small files cost a
//! request per batch, not one each. The next batch is asked for while the
//! last one is half used, so downloads do not wait for it; no more than two
//! batches are held at once.

use std::collections::VecDeque;

use chrono::Utc;
use drive_wire::{Manifest, RevisionId};
use tracing::Instrument;

use super::*;
use crate::transfer::{BATCH_FILES, BATCH_FILE_MAX};

type Key = (NodeId, RevisionId);

/// Manifests queued for this pass's downloads, those fetched already, and
/// the batch being asked for.
#[derive(Default)]
pub(super) struct Prefetch {
    queue: VecDeque<Key>,
    ready: HashMap<Key, Manifest>,
    asked: Option<tokio::task::JoinHandle<Vec<(Key, Manifest)>>>,
}

impl Prefetch {
    /// Takes a batch off the queue, from its `at`th manifest on.
    fn take_batch(&mut self, at: usize) -> Vec<Key> {
        let end = self.queue.len().min(at + BATCH_FILES);
        self.queue.drain(at..end).collect()
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        if let Some(asked) = self.asked.take() {
            asked.abort();
        }
    }
}

/// A manifest whose URLs stay valid this long after it is taken is used;
/// an older one is asked for again.
const FRESH_FOR: chrono::Duration = chrono::Duration::seconds(60);

impl PassContext<'_> {
    /// Queues the manifests of the small downloads among `ops`, in order.
    pub(super) async fn queue_manifests(&self, ops: &[Op]) {
        let queue: VecDeque<(NodeId, RevisionId)> = {
            let tree = self.tree.lock().unwrap_or_else(|p| p.into_inner());
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
        // One alone gains nothing from a batch.
        let mut fresh = Prefetch::default();
        if queue.len() > 1 {
            fresh.queue = queue;
        }
        *self.manifests.lock().await = fresh;
    }

    /// Forgets what this pass queued (and stops asking).
    pub(super) async fn clear_manifests(&self) {
        *self.manifests.lock().await = Prefetch::default();
    }
}

impl Engine {
    /// The manifest of a queued download, fetched with those queued after
    /// it; `None` for one not queued, or when its batch failed: the download
    /// then asks for its own.
    pub(super) async fn queued_manifest(
        &self,
        pass: &PassContext<'_>,
        id: NodeId,
        revision: RevisionId,
    ) -> Option<Manifest> {
        let mut prefetch = pass.manifests.lock().await;
        let key = (id, revision);
        let manifest = loop {
            if let Some(manifest) = prefetch.ready.remove(&key) {
                break manifest;
            }
            if let Some(asked) = prefetch.asked.take() {
                let manifests = asked.await.unwrap_or_default();
                prefetch.ready.extend(manifests);
                continue;
            }
            let at = prefetch.queue.iter().position(|&queued| queued == key)?;
            prefetch.asked = Some(self.ask_manifests(prefetch.take_batch(at)));
        };
        // Half of the batch used: the next one is asked for now.
        if prefetch.asked.is_none() && prefetch.ready.len() < BATCH_FILES / 2 && !prefetch.queue.is_empty() {
            prefetch.asked = Some(self.ask_manifests(prefetch.take_batch(0)));
        }
        let deadline = Utc::now() + FRESH_FOR;
        manifest
            .blocks
            .iter()
            .all(|block| block.data.is_some() || block.expires_at > deadline)
            .then_some(manifest)
    }

    /// Asks for the manifests of `batch` in the background; those that came.
    fn ask_manifests(&self, batch: Vec<Key>) -> tokio::task::JoinHandle<Vec<(Key, Manifest)>> {
        let remote = self.remote.clone();
        let asking = async move {
            let asked: Vec<(NodeId, Option<RevisionId>)> = batch.iter().map(|&(id, rev)| (id, Some(rev))).collect();
            match remote.manifests(&asked).await {
                Ok(manifests) => batch
                    .into_iter()
                    .zip(manifests)
                    .filter_map(|(key, manifest)| Some((key, manifest.ok()?)))
                    .collect(),
                Err(error) => {
                    tracing::debug!(%error, "a batch of manifests failed: each download asks for its own");
                    Vec::new()
                }
            }
        };
        tokio::spawn(asking.instrument(tracing::Span::current()))
    }
}
