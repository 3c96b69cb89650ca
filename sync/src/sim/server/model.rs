//! The simulated server's state and its operations. Each operation copies
//! the rules of a `drive-server` handler, in the same order, so that the
//! engine meets the same answers (and the same precedence among them) as it
//! would over HTTP; the backend file each one mirrors is named on it.
//!
//! Everything here is synchronous: [`super::World`] holds the state behind a
//! mutex and no await ever happens with it held.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use drive_wire::{
    names::validate_name, BlockHash, ChangeKind, CommitRequest, Manifest, Node, NodeId, NodeKind, PresignedBlock,
    RevisionId, UploadPlan, User, UserId,
};
use sha2::{Digest, Sha256};

use crate::remote::RemoteError;

mod views;

pub(super) type Result<T> = std::result::Result<T, RemoteError>;

/// Changes per page of the feed (the backend's default is 1000): small, so
/// that `has_more` and paging are exercised.
pub const PAGE: usize = 7;
/// The identity of the simulated server's database, sent with every page.
pub const SERVER_ID: &str = "5e55a1e0-0000-4000-8000-00000000000a";
/// Largest block accepted (backend/src/uploads.rs `MAX_BLOCK_SIZE`).
const MAX_BLOCK_SIZE: u64 = 16 * 1024 * 1024;
/// Lifetime of a presigned URL.
const PRESIGN_TTL_MS: i64 = 3_600_000;
/// Where the clock starts: 2026-01-01T00:00:00Z.
const EPOCH_MS: i64 = 1_767_225_600_000;
/// How far the clock moves with each change: one second, so that times
/// differ even where they are kept to the second.
const TICK_MS: i64 = 1000;
/// The quota of the simulated account: large enough never to get in the way.
const QUOTA: u64 = 1 << 40;
const USER_ID: UserId = 1;

/// A file or folder, live or trashed (purges are not modelled).
#[derive(Debug, Clone)]
pub(super) struct NodeRec {
    pub id: NodeId,
    /// `None` only for the root folder.
    pub parent: Option<NodeId>,
    pub name: String,
    pub kind: NodeKind,
    /// Bytes of the current revision; 0 for folders.
    pub size: u64,
    /// Current revision of a file; `None` for folders.
    pub revision: Option<RevisionId>,
    /// Milliseconds: the client's modification time of the current revision
    /// (files) or the creation time (folders).
    pub modified_ms: i64,
    pub trashed_ms: Option<i64>,
}

impl NodeRec {
    fn is_live(&self) -> bool {
        self.trashed_ms.is_none()
    }
}

/// A revision ever committed: never deleted.
#[derive(Debug, Clone)]
pub(super) struct RevisionRec {
    pub node: NodeId,
    /// Blocks in file order.
    pub blocks: Vec<BlockHash>,
    pub size: u64,
    pub modified_ms: i64,
}

/// One line of the changes journal.
#[derive(Debug, Clone)]
struct Entry {
    seq: i64,
    kind: ChangeKind,
    node: NodeId,
    at_ms: i64,
}

/// All of the server: one user's tree, every revision, the block store and
/// the journal.
#[derive(Debug)]
pub(super) struct State {
    root: NodeId,
    used_bytes: u64,
    nodes: BTreeMap<NodeId, NodeRec>,
    revisions: BTreeMap<RevisionId, RevisionRec>,
    blocks: HashMap<BlockHash, Vec<u8>>,
    /// Blocks that came inline with a commit: a manifest carries their bytes.
    inline: HashSet<BlockHash>,
    journal: Vec<Entry>,
    next_node: NodeId,
    next_revision: RevisionId,
    clock_ms: i64,
}

fn to_datetime(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A 400 with the server's code (backend/src/error.rs `ApiError::code`).
pub(super) fn rejected(code: &str, message: impl Into<String>) -> RemoteError {
    RemoteError::Rejected {
        status: 400,
        code: code.to_owned(),
        message: message.into(),
    }
}

pub(super) fn not_a_folder() -> RemoteError {
    rejected("not_a_folder", "this is not a folder")
}

fn name(raw: &str) -> Result<String> {
    validate_name(raw).map_err(|error| rejected("invalid_name", error.to_string()))
}

/// The SHA-256 of `bytes`, as the block store names them.
pub(super) fn hash_of(bytes: &[u8]) -> BlockHash {
    BlockHash::from_bytes(Sha256::digest(bytes).into())
}

/// A commit request that passed the checks that need no state
/// (backend/src/uploads.rs `check_content`).
struct Content {
    name: String,
    order: Vec<BlockHash>,
    sizes: BTreeMap<BlockHash, u64>,
    size: u64,
    modified_ms: i64,
}

fn check_content(req: &CommitRequest) -> Result<Content> {
    let name = name(&req.name)?;
    let mut sizes = BTreeMap::new();
    let mut size = 0;
    for block in &req.blocks {
        if block.size == 0 || block.size > MAX_BLOCK_SIZE {
            let message = format!(
                "block {} is {} bytes; blocks are 1 to {MAX_BLOCK_SIZE} bytes",
                block.hash, block.size
            );
            return Err(rejected("invalid_blocks", message));
        }
        if *sizes.entry(block.hash).or_insert(block.size) != block.size {
            return Err(rejected(
                "invalid_blocks",
                format!("block {} is listed with two sizes", block.hash),
            ));
        }
        size += block.size;
    }
    Ok(Content {
        name,
        order: req.blocks.iter().map(|block| block.hash).collect(),
        sizes,
        size,
        modified_ms: req.modified.timestamp_millis(),
    })
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// A fresh account: an empty root folder, an empty feed (registering
    /// appends no change: backend/src/auth/mod.rs).
    pub fn new() -> Self {
        let root = NodeRec {
            id: 1,
            parent: None,
            name: String::new(),
            kind: NodeKind::Folder,
            size: 0,
            revision: None,
            modified_ms: EPOCH_MS,
            trashed_ms: None,
        };
        Self {
            root: root.id,
            used_bytes: 0,
            nodes: BTreeMap::from([(root.id, root)]),
            revisions: BTreeMap::new(),
            blocks: HashMap::new(),
            inline: HashSet::new(),
            journal: Vec::new(),
            next_node: 2,
            next_revision: 1,
            clock_ms: EPOCH_MS,
        }
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    /// Moves the clock on and returns the new time.
    pub fn tick(&mut self) -> i64 {
        self.clock_ms += TICK_MS;
        self.clock_ms
    }

    /// A node, live or trashed; 404 when there is none.
    fn node(&self, id: NodeId) -> Result<&NodeRec> {
        self.nodes.get(&id).ok_or(RemoteError::NotFound)
    }

    /// A live node: a trashed one reads as 404 (shares::Visible::live).
    fn live(&self, id: NodeId) -> Result<&NodeRec> {
        self.node(id).and_then(|node| {
            if node.is_live() {
                Ok(node)
            } else {
                Err(RemoteError::NotFound)
            }
        })
    }

    /// A live folder to put things in (shares::writable_folder): 404, or 400
    /// `not_a_folder`.
    fn writable_folder(&self, id: NodeId) -> Result<&NodeRec> {
        let node = self.live(id)?;
        if node.kind == NodeKind::Folder {
            Ok(node)
        } else {
            Err(not_a_folder())
        }
    }

    /// The live child named `name` (exactly: names are compared as stored,
    /// case-sensitively, like the unique index `nodes_live_name`).
    pub fn live_child(&self, parent: NodeId, name: &str) -> Option<&NodeRec> {
        self.nodes
            .values()
            .find(|node| node.parent == Some(parent) && node.is_live() && node.name == name)
    }

    fn live_children(&self, parent: NodeId) -> impl Iterator<Item = &NodeRec> {
        self.nodes
            .values()
            .filter(move |node| node.parent == Some(parent) && node.is_live())
    }

    /// The node as the API presents it to its owner.
    fn present(node: &NodeRec) -> Node {
        Node {
            id: node.id,
            parent_id: node.parent,
            name: node.name.clone(),
            kind: node.kind,
            size: node.size,
            revision: node.revision,
            modified: to_datetime(node.modified_ms),
            trashed_at: node.trashed_ms.map(to_datetime),
            read_only: false,
            share_id: None,
        }
    }

    fn present_id(&self, id: NodeId) -> Result<Node> {
        self.node(id).map(Self::present)
    }

    fn append(&mut self, node: NodeId, kind: ChangeKind, at_ms: i64) {
        let seq = self.journal.last().map_or(1, |last| last.seq + 1);
        self.journal.push(Entry { seq, kind, node, at_ms });
    }

    /// The newest seq of the feed, 0 when it is empty.
    pub fn head(&self) -> i64 {
        self.journal.last().map_or(0, |last| last.seq)
    }

    pub fn me(&self) -> User {
        User {
            id: USER_ID,
            email: "sim@example.org".to_owned(),
            root_id: self.root,
            quota_bytes: QUOTA,
            used_bytes: self.used_bytes,
            created_at: to_datetime(EPOCH_MS),
        }
    }

    /// backend/src/tree/nodes.rs `create_folder`: a taken name (by a file
    /// or a folder) is 409 `name_taken`, never an idempotent success.
    pub fn create_folder(&mut self, parent: NodeId, raw_name: &str) -> Result<Node> {
        let name = name(raw_name)?;
        self.writable_folder(parent)?;
        if self.live_child(parent, &name).is_some() {
            return Err(RemoteError::NameTaken);
        }
        let now = self.tick();
        let id = self.next_node;
        self.next_node += 1;
        let node = NodeRec {
            id,
            parent: Some(parent),
            name,
            kind: NodeKind::Folder,
            size: 0,
            revision: None,
            modified_ms: now,
            trashed_ms: None,
        };
        let presented = Self::present(&node);
        self.nodes.insert(id, node);
        self.append(id, ChangeKind::Created, now);
        Ok(presented)
    }

    /// Whether `ancestor` is `node` or a folder above it, trashed or not.
    fn is_ancestor_or_self(&self, ancestor: NodeId, node: NodeId) -> bool {
        let mut at = Some(node);
        while let Some(id) = at {
            if id == ancestor {
                return true;
            }
            at = self.nodes.get(&id).and_then(|node| node.parent);
        }
        false
    }

    /// backend/src/tree/nodes.rs `update_node`: rename and/or move. One
    /// `Moved` change, for the node only (not its subtree); nothing at all
    /// when neither the name nor the parent changes.
    pub fn update_node(&mut self, id: NodeId, new_name: Option<&str>, new_parent: Option<NodeId>) -> Result<Node> {
        let new_name = new_name.map(name).transpose()?;
        let node = self.live(id)?;
        let Some(current_parent) = node.parent else {
            return Err(rejected("invalid_move", "the root folder cannot be renamed or moved"));
        };
        let parent = new_parent.unwrap_or(current_parent);
        if parent != current_parent {
            self.writable_folder(parent)?;
            if self.is_ancestor_or_self(id, parent) {
                return Err(rejected("invalid_move", "a folder cannot be moved into itself"));
            }
        }
        let name = new_name.unwrap_or_else(|| node.name.clone());
        if parent == current_parent && name == node.name {
            return Ok(Self::present(node));
        }
        if self.live_child(parent, &name).is_some() {
            return Err(RemoteError::NameTaken);
        }
        let now = self.tick();
        if let Some(node) = self.nodes.get_mut(&id) {
            node.parent = Some(parent);
            node.name = name;
        }
        self.append(id, ChangeKind::Moved, now);
        self.present_id(id)
    }

    /// backend/src/tree/nodes.rs `trash_node`: the node and its live subtree
    /// go to the trash at once, with one `Trashed` change for the node only.
    pub fn trash(&mut self, id: NodeId) -> Result<()> {
        if self.live(id)?.parent.is_none() {
            return Err(rejected("invalid_move", "the root folder cannot be trashed"));
        }
        let now = self.tick();
        let mut pending = vec![id];
        while let Some(at) = pending.pop() {
            pending.extend(self.live_children(at).map(|child| child.id));
            if let Some(node) = self.nodes.get_mut(&at) {
                node.trashed_ms = Some(now);
            }
        }
        self.append(id, ChangeKind::Trashed, now);
        Ok(())
    }

    fn presign(&self, hash: BlockHash, size: u64) -> PresignedBlock {
        PresignedBlock {
            hash,
            size,
            url: format!("sim://block/{hash}"),
            expires_at: to_datetime(self.clock_ms + PRESIGN_TTL_MS),
            headers: BTreeMap::new(),
            data: None,
        }
    }

    /// backend/src/download.rs `resolve`: a file, live or trashed, and one
    /// of its revisions (the current one by default).
    pub fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Result<Manifest> {
        let node = self.node(id)?;
        if node.kind != NodeKind::File {
            return Err(rejected("not_a_file", "this is not a file"));
        }
        let revision = revision.or(node.revision).ok_or(RemoteError::NotFound)?;
        let rec = self
            .revisions
            .get(&revision)
            .filter(|rec| rec.node == id)
            .ok_or(RemoteError::NotFound)?;
        let blocks = rec
            .blocks
            .iter()
            .map(|hash| {
                let bytes = self.blocks.get(hash);
                let mut block = self.presign(*hash, bytes.map_or(0, |bytes| bytes.len() as u64));
                if self.inline.contains(hash) {
                    block.data = bytes.map(|bytes| drive_wire::inline_data(bytes));
                }
                block
            })
            .collect();
        Ok(Manifest {
            node_id: id,
            revision,
            size: rec.size,
            modified: to_datetime(rec.modified_ms),
            blocks,
        })
    }

    /// backend/src/uploads.rs `resolve_target`: the file a commit replaces
    /// (`None`: it makes a new one), or why it cannot land.
    fn resolve_target(&self, req: &CommitRequest, name: &str) -> Result<Option<NodeId>> {
        self.writable_folder(req.parent_id)?;
        match (self.live_child(req.parent_id, name), req.base_revision) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(RemoteError::StaleRevision { current: None }),
            (Some(node), _) if node.kind != NodeKind::File => Err(RemoteError::NameTaken),
            (Some(node), Some(base)) if node.revision == Some(base) => Ok(Some(node.id)),
            (Some(node), _) => Err(RemoteError::StaleRevision {
                current: Some(Self::present(node)),
            }),
        }
    }

    /// 413 when growing by `needed` bytes does not fit (reservations of
    /// uploads in flight are not modelled).
    fn check_quota(&self, old_size: u64, new_size: u64) -> Result<()> {
        let needed = new_size.saturating_sub(old_size);
        if needed > 0 && self.used_bytes + needed > QUOTA {
            let message = format!(
                "this would exceed the storage quota ({} of {QUOTA} bytes used, {needed} more needed)",
                self.used_bytes
            );
            return Err(RemoteError::QuotaExceeded { message });
        }
        Ok(())
    }

    /// backend/src/uploads.rs `sort_blocks`: the blocks not stored yet; a
    /// stored block of another size is 400 `invalid_blocks`.
    fn missing_blocks(&self, content: &Content) -> Result<Vec<(BlockHash, u64)>> {
        let mut missing = Vec::new();
        for (&hash, &size) in &content.sizes {
            match self.blocks.get(&hash).map(|bytes| bytes.len() as u64) {
                Some(stored) if stored != size => {
                    return Err(rejected(
                        "invalid_blocks",
                        format!("block {hash} is {stored} bytes, not {size}"),
                    ))
                }
                Some(_) => {}
                None => missing.push((hash, size)),
            }
        }
        Ok(missing)
    }

    /// backend/src/uploads/batch.rs `inline_of` and storage/inline.rs
    /// `store`: the blocks sent with a commit, checked, then kept.
    fn store_inline(&mut self, req: &CommitRequest, content: &Content) -> Result<()> {
        let mut checked = Vec::new();
        for block in &req.inline {
            let bytes = block.bytes().unwrap_or_default();
            let fits = content.sizes.get(&block.hash) == Some(&(bytes.len() as u64))
                && bytes.len() as u64 <= drive_wire::MAX_INLINE_BLOCK;
            if !fits || Sha256::digest(&bytes).as_slice() != block.hash.as_bytes() {
                return Err(rejected(
                    "invalid_blocks",
                    format!("inline block {} is not its bytes", block.hash),
                ));
            }
            checked.push((block.hash, bytes));
        }
        for (hash, bytes) in checked {
            if !self.blocks.contains_key(&hash) {
                self.inline.insert(hash);
            }
            self.blocks.entry(hash).or_insert(bytes);
        }
        Ok(())
    }

    /// backend/src/uploads.rs `prepare`: the same refusals as a commit
    /// (stale revision, taken name, quota) before anything is uploaded.
    pub fn prepare_upload(&self, req: &CommitRequest) -> Result<UploadPlan> {
        let content = check_content(req)?;
        let target = self.resolve_target(req, &content.name)?;
        let old_size = target.and_then(|id| self.nodes.get(&id)).map_or(0, |node| node.size);
        self.check_quota(old_size, content.size)?;
        let missing = self.missing_blocks(&content)?;
        Ok(UploadPlan {
            missing: missing
                .into_iter()
                .map(|(hash, size)| self.presign(hash, size))
                .collect(),
        })
    }

    /// backend/src/uploads.rs `commit` and tree/revisions.rs
    /// `store_revision`: a new file (`Created`) or a new revision of the
    /// file at that name (`Updated`).
    pub fn commit(&mut self, req: &CommitRequest) -> Result<Node> {
        let content = check_content(req)?;
        self.writable_folder(req.parent_id)?;
        self.store_inline(req, &content)?;
        let missing = self.missing_blocks(&content)?;
        if !missing.is_empty() {
            return Err(RemoteError::MissingBlocks(
                missing.into_iter().map(|(hash, _)| hash).collect(),
            ));
        }
        let target = self.resolve_target(req, &content.name)?;
        let old_size = target.and_then(|id| self.nodes.get(&id)).map_or(0, |node| node.size);
        self.check_quota(old_size, content.size)?;
        let now = self.tick();
        let (id, kind) = match target {
            Some(id) => (id, ChangeKind::Updated),
            None => {
                let id = self.next_node;
                self.next_node += 1;
                let node = NodeRec {
                    id,
                    parent: Some(req.parent_id),
                    name: content.name,
                    kind: NodeKind::File,
                    size: 0,
                    revision: None,
                    modified_ms: now,
                    trashed_ms: None,
                };
                self.nodes.insert(id, node);
                (id, ChangeKind::Created)
            }
        };
        let revision = self.next_revision;
        self.next_revision += 1;
        self.revisions.insert(
            revision,
            RevisionRec {
                node: id,
                blocks: content.order,
                size: content.size,
                modified_ms: content.modified_ms,
            },
        );
        self.used_bytes = (self.used_bytes + content.size).saturating_sub(old_size);
        if let Some(node) = self.nodes.get_mut(&id) {
            node.size = content.size;
            node.revision = Some(revision);
            node.modified_ms = content.modified_ms;
        }
        self.append(id, kind, now);
        self.present_id(id)
    }

    /// The block store's PUT (backend/src/storage/local.rs): the size is
    /// checked first, then the SHA-256. Storing a block again is fine.
    pub fn put_block(&mut self, block: &PresignedBlock, bytes: Vec<u8>) -> Result<()> {
        if bytes.len() as u64 != block.size {
            return Err(rejected(
                "size_mismatch",
                "the uploaded bytes do not match the size the URL was signed for",
            ));
        }
        if hash_of(&bytes) != block.hash {
            return Err(rejected(
                "hash_mismatch",
                "the uploaded bytes do not match the block's SHA-256",
            ));
        }
        self.blocks.entry(block.hash).or_insert(bytes);
        Ok(())
    }

    pub fn get_block(&self, block: &PresignedBlock) -> Result<Vec<u8>> {
        self.blocks.get(&block.hash).cloned().ok_or(RemoteError::NotFound)
    }

    /// Stores `bytes` as a block without a round trip (for the web user).
    pub fn store_block(&mut self, bytes: &[u8]) -> BlockHash {
        let hash = hash_of(bytes);
        self.blocks.entry(hash).or_insert_with(|| bytes.to_vec());
        hash
    }
}
