//! Many items per request: small files uploaded in batches (a few requests
//! per batch instead of three per file), new folders created a level at a
//! time; each batch recorded in one ledger transaction, as downloads are a
//! few hundred at a time.

use drive_wire::RevisionId;

use super::*;
use crate::transfer::{Pending, BATCH_FILES, BATCH_FILE_MAX};

/// Downloads recorded in the ledger at once.
const RECORD_DOWNLOADS: usize = 256;

impl Engine {
    /// Records a download put in its place, in one ledger transaction with
    /// others once [`RECORD_DOWNLOADS`] wait; the pass records the rest when
    /// its transfers end ([`Engine::record_downloads`]). One the client
    /// stopped before recording is found in place by the next pass, which
    /// compares it with the server's revision and records it.
    pub(super) async fn record_download(&self, pass: &PassContext<'_>, path: String, entry: Entry) -> Result<()> {
        let full = {
            let mut waiting = pass.downloaded.lock().unwrap_or_else(|p| p.into_inner());
            waiting.push((path, entry));
            (waiting.len() >= RECORD_DOWNLOADS).then(|| std::mem::take(&mut *waiting))
        };
        match full {
            Some(entries) => self.with_ledger(move |l| l.put_entries(&entries)).await,
            None => Ok(()),
        }
    }

    /// Records the downloads still waiting (see [`Engine::record_download`]).
    pub(super) async fn record_downloads(&self, pass: &PassContext<'_>) -> Result<()> {
        let entries = std::mem::take(&mut *pass.downloaded.lock().unwrap_or_else(|p| p.into_inner()));
        if entries.is_empty() {
            return Ok(());
        }
        self.with_ledger(move |l| l.put_entries(&entries)).await
    }

    /// Splits a pass's transfers into batches of small new or edited files
    /// (when there are at least two) and the rest, one at a time.
    pub(super) fn batches(transfers: Vec<Op>, local: &HashMap<String, LocalItem>) -> (Vec<Vec<Op>>, Vec<Op>) {
        let small = |op: &Op| match op {
            Op::Upload { path, .. } => local
                .get(path)
                .is_some_and(|item| item.kind == LocalKind::File && item.size <= BATCH_FILE_MAX),
            _ => false,
        };
        let (small, rest): (Vec<Op>, Vec<Op>) = transfers.into_iter().partition(small);
        if small.len() < 2 {
            return (Vec::new(), small.into_iter().chain(rest).collect());
        }
        let mut batches = Vec::new();
        let mut small = small.into_iter().peekable();
        while small.peek().is_some() {
            batches.push(small.by_ref().take(BATCH_FILES).collect());
        }
        (batches, rest)
    }

    /// The file an upload sends, or `None` when there is nothing to send
    /// (its name is held on the server by an aliased twin: it was kept as a
    /// conflicted copy instead).
    pub(super) async fn pending_upload(
        &self,
        path: &str,
        base: Option<RevisionId>,
        local: &HashMap<String, LocalItem>,
        tree: &Mutex<RemoteTree>,
    ) -> Result<Option<Pending>> {
        let parent_id = Self::parent_id(tree, path)?;
        if base.is_none() && self.keep_clear_of_aliases(path, tree).await? {
            return Ok(None);
        }
        let known = local.get(path).and_then(|item| {
            let stats = Stats {
                size: item.size,
                mtime_ns: item.mtime_ns,
                inode: item.inode,
            };
            item.chunks.clone().map(|chunks| (stats, chunks))
        });
        let name = tree
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remote_name(path)
            .to_owned();
        Ok(Some(Pending {
            path: self.local(path),
            parent_id,
            name,
            base,
            known,
        }))
    }

    /// Uploads a batch of `Op::Upload`s; what each came to.
    pub(super) async fn upload_batch(
        &self,
        ops: Vec<Op>,
        local: &HashMap<String, LocalItem>,
        tree: &Mutex<RemoteTree>,
    ) -> Vec<(Op, Result<()>)> {
        let mut results = Vec::with_capacity(ops.len());
        let (mut sending, mut files) = (Vec::new(), Vec::new());
        for op in ops {
            let pending = match &op {
                Op::Upload { path, base } => self.pending_upload(path, *base, local, tree).await,
                other => Err(EngineError::Refused(format!("{other:?} is not an upload"))),
            };
            match pending {
                Ok(Some(file)) => {
                    sending.push(op);
                    files.push(file);
                }
                Ok(None) => results.push((op, Ok(()))),
                Err(error) => results.push((op, Err(error))),
            }
        }
        let uploaded = transfer::upload_batch(&self.fs, self.remote.as_ref(), files, self.progress.clone()).await;
        let mut done = Vec::new();
        for (op, outcome) in sending.into_iter().zip(uploaded) {
            match outcome {
                Ok(uploaded) => {
                    let entry = Self::entry_for(
                        NodeKind::File,
                        &uploaded.node,
                        uploaded.stats,
                        Some(uploaded.content_id),
                    );
                    let path = op.path().to_owned();
                    done.push((op, (path, entry, uploaded.node)));
                }
                Err(error) => results.push((op, Err(error.into()))),
            }
        }
        results.extend(self.record_batch(done, tree).await);
        results
    }

    /// Creates the folders of `ops` (`Op::MkdirRemote`s of one level: their
    /// parents are on the server) in one request; what each came to.
    pub(super) async fn mkdir_batch(&self, ops: Vec<Op>, tree: &Mutex<RemoteTree>) -> Vec<(Op, Result<()>)> {
        let mut results = Vec::with_capacity(ops.len());
        let (mut sending, mut folders) = (Vec::new(), Vec::new());
        for op in ops {
            let path = op.path().to_owned();
            let parent = match Self::parent_id(tree, &path) {
                Ok(parent) => parent,
                Err(error) => {
                    results.push((op, Err(error)));
                    continue;
                }
            };
            match self.keep_clear_of_aliases(&path, tree).await {
                Ok(false) => {
                    folders.push((parent, file_name(&path).to_owned()));
                    sending.push(op);
                }
                Ok(true) => results.push((op, Ok(()))),
                Err(error) => results.push((op, Err(error))),
            }
        }
        if sending.is_empty() {
            return results;
        }
        let created = match self.remote.create_folders(&folders).await {
            Ok(created) => created,
            Err(error) => {
                let message = format!("creating folders: {error}");
                results.extend(
                    sending
                        .into_iter()
                        .map(|op| (op, Err(EngineError::Refused(message.clone())))),
                );
                return results;
            }
        };
        let mut done = Vec::with_capacity(sending.len());
        for (op, node) in sending.into_iter().zip(created) {
            let path = op.path().to_owned();
            let stats = match node {
                Ok(node) => transfer::stats(self.fs.as_ref(), &self.local(&path))
                    .map_err(|e| io_err(format!("reading {path}"))(e).into())
                    .map(|stats| (node, stats)),
                Err(error) => Err(error.into()),
            };
            match stats {
                Ok((node, stats)) => {
                    let entry = Self::entry_for(NodeKind::Folder, &node, stats, None);
                    done.push((op, (path, entry, node)));
                }
                Err(error) => results.push((op, Err(error))),
            }
        }
        results.extend(self.record_batch(done, tree).await);
        results
    }

    /// Records what the server created or committed for a batch, in one
    /// ledger transaction and in this pass's tree.
    async fn record_batch(
        &self,
        done: Vec<(Op, (String, Entry, Node))>,
        tree: &Mutex<RemoteTree>,
    ) -> Vec<(Op, Result<()>)> {
        let (ops, records): (Vec<Op>, Vec<(String, Entry, Node)>) = done.into_iter().unzip();
        match self
            .with_ledger(move |l| l.record_synced(&records).map(|()| records))
            .await
        {
            Ok(records) => {
                let mut tree = tree.lock().unwrap_or_else(|p| p.into_inner());
                ops.into_iter()
                    .zip(records)
                    .map(|(op, (path, _, node))| {
                        tree.place(&path, RemoteNode::from(&node));
                        (op, Ok(()))
                    })
                    .collect()
            }
            Err(error) => {
                let message = format!("recording what the server did: {error}");
                ops.into_iter()
                    .map(|op| (op, Err(EngineError::Refused(message.clone()))))
                    .collect()
            }
        }
    }
}
