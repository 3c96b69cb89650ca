//! Carrying out a pass's operations: structural ones in an order that keeps
//! parents ahead of children, transfers in parallel, then deletions children
//! first; each result recorded in the ledger only once it is really done.

use super::*;
use crate::transfer::BATCH_FILES;

/// What one pass's operations share: the scan, ledger and remote tree it
/// was planned from, and its downloads waiting to be recorded.
pub(super) struct PassContext<'a> {
    pub local: &'a HashMap<String, LocalItem>,
    pub ledger: &'a HashMap<String, Entry>,
    /// Paths this pass moves out of a share before restoring the server's
    /// version there: the restore must find them free, not as scanned.
    pub vacated: HashSet<String>,
    pub tree: Mutex<RemoteTree>,
    /// The manifests of its small downloads, asked for in batches.
    pub manifests: tokio::sync::Mutex<manifests::Prefetch>,
    /// Downloads in place, waiting to be recorded in the ledger together
    /// (see [`Engine::record_download`]).
    pub downloaded: Mutex<Vec<(String, Entry)>>,
}

impl Engine {
    /// Executes one pass's operations, structural ones in an order that keeps
    /// parents ahead of children, transfers in parallel. Returns what failed.
    pub(super) async fn execute(
        &self,
        ops: Vec<Op>,
        local: &HashMap<String, LocalItem>,
        ledger: &HashMap<String, Entry>,
        tree: RemoteTree,
    ) -> Vec<PathError> {
        let mut errors = Vec::new();
        let depth = |op: &Op| op.path().matches('/').count();
        let vacated = ops
            .iter()
            .filter_map(|op| match op {
                Op::MoveOutOfShare { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        let pass = PassContext {
            local,
            ledger,
            vacated,
            tree: Mutex::new(tree),
            manifests: Default::default(),
            downloaded: Mutex::default(),
        };
        let (mut structural, rest): (Vec<Op>, Vec<Op>) = ops.into_iter().partition(|op| {
            matches!(
                op,
                Op::MkdirRemote { .. }
                    | Op::MkdirLocal { .. }
                    | Op::MoveRemote { .. }
                    | Op::MoveLocal { .. }
                    | Op::MoveBack { .. }
                    | Op::MoveOutOfShare { .. }
            )
        });
        let (transfers, mut finishing): (Vec<Op>, Vec<Op>) = rest
            .into_iter()
            .partition(|op| matches!(op, Op::Upload { .. } | Op::Download { .. } | Op::Compare { .. }));
        // The user's items leave a share first: the folder or file restored in
        // their place must not find them there.
        structural.sort_by_key(|op| {
            (
                !matches!(op, Op::MoveOutOfShare { .. }),
                depth(op),
                !matches!(op, Op::MkdirRemote { .. } | Op::MkdirLocal { .. }),
            )
        });
        // Children before parents, so a folder is empty when its turn comes.
        finishing.sort_by_key(|op| std::cmp::Reverse(depth(op)));

        let mut structural = structural.into_iter().peekable();
        while let Some(op) = structural.next() {
            // New folders a level at a time, in batches.
            let level = depth(&op);
            let batched = |next: &Op| matches!(next, Op::MkdirRemote { .. }) && depth(next) == level;
            if batched(&op) && structural.peek().is_some_and(batched) {
                let mut folders = vec![op];
                while let Some(next) = structural.next_if(batched) {
                    folders.push(next);
                }
                while !folders.is_empty() {
                    let rest = folders.split_off(folders.len().min(BATCH_FILES));
                    for (op, result) in self
                        .mkdir_batch(std::mem::replace(&mut folders, rest), &pass.tree)
                        .await
                    {
                        self.note(&op, result, &mut errors);
                    }
                }
                continue;
            }
            let result = self.apply(&op, &pass).await;
            self.note(&op, result, &mut errors);
        }
        pass.queue_manifests(&transfers).await;
        // Batches of small files, two at a time (each sends its blocks side
        // by side: one may send while the other commits), from the start
        // beside the other transfers: large files do not wait for the last
        // batch.
        let (batches, singles) = Self::batches(transfers, local);
        let batched = futures::stream::iter(batches)
            .map(|ops| self.upload_batch(ops, local, &pass.tree))
            .buffer_unordered(2)
            .collect::<Vec<_>>();
        let one_by_one = futures::stream::iter(singles)
            .map(|op| async {
                let result = self.apply(&op, &pass).await;
                (op, result)
            })
            .buffer_unordered(PARALLEL_FILES)
            .collect::<Vec<_>>();
        let (batched, one_by_one) = futures::join!(batched, one_by_one);
        pass.clear_manifests().await;
        for (op, result) in batched.into_iter().flatten().chain(one_by_one) {
            self.note(&op, result, &mut errors);
        }
        if let Err(error) = self.record_downloads(&pass).await {
            // In place, and found there by the next pass.
            tracing::warn!(%error, "recording this pass's last downloads failed");
        }
        for op in finishing {
            let result = self.apply(&op, &pass).await;
            self.note(&op, result, &mut errors);
        }
        errors
    }

    pub(super) fn note(&self, op: &Op, result: Result<()>, errors: &mut Vec<PathError>) {
        match result {
            Ok(()) => {
                tracing::debug!(?op, "done");
                self.progress.finished(op, None);
            }
            Err(err) => {
                let message = err.to_string();
                tracing::warn!(?op, error = %message, "not synced yet");
                self.progress.finished(op, Some(&message));
                errors.push(PathError {
                    path: op.path().to_owned(),
                    message,
                });
            }
        }
    }

    /// Where a relative path lives on disk: under the folder, by its names,
    /// or where the last scan found it spelled otherwise (NFD, another case).
    pub(super) fn local(&self, rel: &str) -> PathBuf {
        let respelled = self.disk_paths.lock().unwrap_or_else(|p| p.into_inner());
        scanner::disk_path(&respelled, &self.root, rel)
    }

    pub(super) fn parent_id(tree: &Mutex<RemoteTree>, path: &str) -> Result<i64> {
        let tree = tree.lock().unwrap_or_else(|p| p.into_inner());
        tree.parent_id(path)
            .ok_or_else(|| EngineError::Refused("its folder is not on the server yet".into()))
    }

    pub(super) fn entry_for(kind: NodeKind, node: &Node, stats: Stats, content_id: Option<String>) -> Entry {
        Entry {
            kind,
            node_id: node.id,
            revision: node.revision,
            size: stats.size,
            mtime_ns: stats.mtime_ns,
            inode: stats.inode,
            content_id,
        }
    }

    /// Records the server's answer to this client's own change at `path`,
    /// in the ledger's mirror and in this pass's tree.
    pub(super) async fn record_remote(&self, tree: &Mutex<RemoteTree>, path: &str, node: Node) -> Result<()> {
        let noted = node.clone();
        self.with_ledger(move |l| l.note_remote(&noted)).await?;
        let mut tree = tree.lock().unwrap_or_else(|p| p.into_inner());
        tree.place(path, RemoteNode::from(&node));
        Ok(())
    }

    pub(super) async fn apply(&self, op: &Op, pass: &PassContext<'_>) -> Result<()> {
        let PassContext {
            local,
            ledger,
            vacated,
            tree,
            ..
        } = pass;
        match op {
            Op::MkdirRemote { path } => {
                let parent = Self::parent_id(tree, path)?;
                if self.keep_clear_of_aliases(path, tree).await? {
                    return Ok(());
                }
                let node = self.remote.create_folder(parent, file_name(path)).await?;
                let stats =
                    transfer::stats(self.fs.as_ref(), &self.local(path)).map_err(io_err(format!("reading {path}")))?;
                let entry = Self::entry_for(NodeKind::Folder, &node, stats, None);
                let at = path.clone();
                self.with_ledger(move |l| l.put_entry(&at, &entry)).await?;
                self.record_remote(tree, path, node).await
            }
            Op::MkdirLocal { path, node_id } => {
                self.note_restored(path, pass);
                let local = self.local(path);
                self.fs
                    .create_dir_all(&local)
                    .map_err(io_err(format!("creating {path}")))?;
                let stats = transfer::stats(self.fs.as_ref(), &local).map_err(io_err(format!("reading {path}")))?;
                let entry = Entry {
                    kind: NodeKind::Folder,
                    node_id: *node_id,
                    revision: None,
                    size: 0,
                    mtime_ns: stats.mtime_ns,
                    inode: stats.inode,
                    content_id: None,
                };
                let path = path.clone();
                self.with_ledger(move |l| l.put_entry(&path, &entry)).await
            }
            Op::MoveRemote { from, to, node_id } => {
                let parent = Self::parent_id(tree, to)?;
                if self.keep_clear_of_aliases(to, tree).await? {
                    return Ok(());
                }
                let node = self
                    .remote
                    .update_node(*node_id, Some(file_name(to)), Some(parent))
                    .await?;
                let (old, new) = (from.clone(), to.clone());
                self.with_ledger(move |l| l.rename_tree(&old, &new)).await?;
                self.record_remote(tree, to, node).await
            }
            Op::MoveLocal { from, to } => {
                let target = self.local(to);
                // A case-only rename on a case-insensitive file system finds
                // the item itself at its new name.
                let itself = |a: &Path, b: &Path| match (
                    transfer::stats(self.fs.as_ref(), a),
                    transfer::stats(self.fs.as_ref(), b),
                ) {
                    (Ok(a), Ok(b)) if a.inode != 0 => a.inode == b.inode,
                    // No inodes (Windows): a case-only rename is itself.
                    (Ok(_), Ok(_)) => self.rules.case_insensitive && self.rules.fold(from) == self.rules.fold(to),
                    _ => false,
                };
                if self.fs.exists(&target) && !itself(&self.local(from), &target) {
                    return Err(EngineError::Refused(format!("{to} already exists locally")));
                }
                self.fs
                    .rename(&self.local(from), &target)
                    .map_err(io_err(format!("moving {from} to {to}")))?;
                let (from, to) = (from.clone(), to.clone());
                self.with_ledger(move |l| l.rename_tree(&from, &to)).await
            }
            Op::MoveBack { from, to } => {
                let target = self.local(to);
                if self.fs.exists(&target) {
                    return Err(EngineError::Refused(format!("{to} already exists locally")));
                }
                self.fs
                    .rename(&self.local(from), &target)
                    .map_err(io_err(format!("moving {from} back to {to}")))?;
                // The ledger never followed the move: it still has `to`.
                tracing::warn!(
                    "{from} is in a folder shared with you as a viewer, where nothing can be added: it was moved back to {to}"
                );
                Ok(())
            }
            Op::MoveOutOfShare { path, folder } => {
                let copy = self.move_aside(path, folder)?;
                tracing::warn!("{path} is in a folder shared with you as a viewer: your change was kept as {copy}");
                let path = path.clone();
                self.with_ledger(move |l| l.remove_tree(&path)).await
            }
            Op::Upload { path, base } => {
                let Some(file) = self.pending_upload(path, *base, local, tree).await? else {
                    return Ok(());
                };
                let uploaded = transfer::upload(&self.fs, self.remote.as_ref(), file, self.progress.clone()).await?;
                let entry = Self::entry_for(
                    NodeKind::File,
                    &uploaded.node,
                    uploaded.stats,
                    Some(uploaded.content_id),
                );
                let at = path.clone();
                self.with_ledger(move |l| l.put_entry(&at, &entry)).await?;
                self.record_remote(tree, path, uploaded.node).await
            }
            Op::Download {
                path,
                node_id,
                revision,
            } => {
                self.note_restored(path, pass);
                let expected = match (local.get(path), ledger.get(path)) {
                    // Moved out of a share by this pass: the path must now be free.
                    _ if vacated.contains(path) => None,
                    (Some(item), Some(_)) if item.kind == LocalKind::File => Some(Stats {
                        size: item.size,
                        mtime_ns: item.mtime_ns,
                        inode: item.inode,
                    }),
                    (None, _) => None,
                    _ => return Err(EngineError::Refused(format!("{path} is in the way locally"))),
                };
                let fetched = transfer::fetch(
                    &self.fs,
                    self.remote.as_ref(),
                    &self.root,
                    expected.is_some().then(|| self.local(path)).as_deref(),
                    (*node_id, *revision),
                    self.queued_manifest(pass, *node_id, *revision).await,
                    self.progress.clone(),
                )
                .await?;
                let Fetched { content, content_id } = fetched;
                let (target, at) = (self.local(path), path.clone());
                let stats = offload(&self.fs, move |fs| Self::put(fs, content, &target, &at, expected)).await?;
                let entry = Entry {
                    kind: NodeKind::File,
                    node_id: *node_id,
                    revision: Some(*revision),
                    size: stats.size,
                    mtime_ns: stats.mtime_ns,
                    inode: stats.inode,
                    content_id: Some(content_id),
                };
                self.record_download(pass, path.clone(), entry).await
            }
            Op::Compare {
                path,
                node_id,
                revision,
            } => {
                let manifest = self.remote.manifest(*node_id, Some(*revision)).await?;
                let item = local
                    .get(path)
                    .ok_or_else(|| EngineError::Refused("it vanished".into()))?;
                if item.content_id.as_deref() == Some(transfer::manifest_content_id(&manifest).as_str()) {
                    let entry = Entry {
                        kind: NodeKind::File,
                        node_id: *node_id,
                        revision: Some(*revision),
                        size: item.size,
                        mtime_ns: item.mtime_ns,
                        inode: item.inode,
                        content_id: item.content_id.clone(),
                    };
                    let path = path.clone();
                    self.with_ledger(move |l| l.put_entry(&path, &entry)).await
                } else {
                    self.keep_conflicted_copy(path, tree).await
                }
            }
            Op::Conflict { path } => self.keep_conflicted_copy(path, tree).await,
            Op::TrashRemote { path, node_id } => {
                match self.remote.trash(*node_id).await {
                    Ok(()) | Err(RemoteError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                let (path, id) = (path.clone(), *node_id);
                self.with_ledger(move |l| {
                    l.note_remote_gone(id)?;
                    l.remove_tree(&path)
                })
                .await
            }
            Op::DeleteLocal { path, kind } => {
                self.delete_local(path, *kind, ledger)?;
                let path = path.clone();
                self.with_ledger(move |l| l.remove_tree(&path)).await
            }
            Op::Record {
                path,
                node_id,
                revision,
                kind,
            } => {
                // As scanned, with the content id it goes with: an edit made
                // since then must still read as a change.
                let stats = match local.get(path) {
                    Some(item) => Stats {
                        size: item.size,
                        mtime_ns: item.mtime_ns,
                        inode: item.inode,
                    },
                    None => transfer::stats(self.fs.as_ref(), &self.local(path))
                        .map_err(io_err(format!("reading {path}")))?,
                };
                let entry = Entry {
                    kind: *kind,
                    node_id: *node_id,
                    revision: *revision,
                    size: stats.size,
                    mtime_ns: stats.mtime_ns,
                    inode: stats.inode,
                    content_id: local.get(path).and_then(|item| item.content_id.clone()),
                };
                let path = path.clone();
                self.with_ledger(move |l| l.put_entry(&path, &entry)).await
            }
            Op::Forget { path } => {
                let path = path.clone();
                self.with_ledger(move |l| l.remove_tree(&path)).await
            }
        }
    }
}
