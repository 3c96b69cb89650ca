//! Many files per request: step 1 and step 3 of an upload for a whole batch
//! of files, each file standing or falling on its own, in one write
//! transaction per step (see docs/API.md, "Batches"). The single-file routes
//! are batches of one, so both follow exactly the same rules.
//!
//! A file's own failure (a 4xx: a stale base revision, a name taken, a
//! folder it may not write in, a quota it would exceed) is its outcome; the
//! others go on. A failure of the server (a 5xx: the database or the store)
//! fails the whole request, and nothing of it was written.

use std::collections::{BTreeSet, HashMap};

use drive_wire::{
    CommitBatch, CommitOutcome, PlanBatch, PlanOutcome, UploadBatch, MAX_BATCH_BLOCKS, MAX_BATCH_FILES,
    MAX_INLINE_BLOCK,
};
use sha2::{Digest, Sha256};

use super::bulk;
use super::*;
use crate::storage::inline;

/// A file's own failure stays its outcome; the server's fails the request.
pub(crate) fn own<T>(result: ApiResult<T>) -> ApiResult<ApiResult<T>> {
    match result {
        Err(err) if err.status().is_server_error() => Err(err),
        other => Ok(other),
    }
}

/// Opens the savepoint of one item of a batch, closed by [`end_item`].
pub(crate) async fn begin_item(tx: &mut Tx) -> ApiResult<()> {
    sqlx::query("SAVEPOINT batch_item").execute(&mut **tx).await?;
    Ok(())
}

/// Closes the savepoint of [`begin_item`] on the item's `outcome`: its own
/// failure undoes its writes only and is its outcome; the server's fails the
/// request (and its transaction with it).
pub(crate) async fn end_item<T>(tx: &mut Tx, outcome: ApiResult<T>) -> ApiResult<ApiResult<T>> {
    let outcome = own(outcome)?;
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO SAVEPOINT batch_item")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT batch_item").execute(&mut **tx).await?;
    Ok(outcome)
}

/// The one outcome of a batch of one.
pub(crate) fn single<T>(outcomes: Vec<ApiResult<T>>) -> ApiResult<T> {
    outcomes.into_iter().next().unwrap_or_else(|| {
        Err(ApiError::internal(std::io::Error::other(
            "a batch of one had no outcome",
        )))
    })
}

/// Refuses an empty batch, or one of more than [`MAX_BATCH_FILES`] `items`
/// (files, folders): every batch route's first check.
pub(crate) fn check_batch_len(count: usize, items: &str) -> ApiResult<()> {
    if count == 0 || count > MAX_BATCH_FILES {
        return Err(ApiError::BadRequest(format!(
            "a batch has 1 to {MAX_BATCH_FILES} {items}, not {count}"
        )));
    }
    Ok(())
}

/// Refuses a batch too large to answer in one transaction.
fn check_batch(batch: &UploadBatch) -> ApiResult<()> {
    check_batch_len(batch.files.len(), "files")?;
    let blocks: usize = batch.files.iter().map(|file| file.blocks.len()).sum();
    if blocks > MAX_BATCH_BLOCKS {
        return Err(ApiError::BadRequest(format!(
            "a batch names at most {MAX_BATCH_BLOCKS} blocks, not {blocks}; send big files on their own"
        )));
    }
    Ok(())
}

/// The distinct blocks of the files still standing, with their sizes. A
/// file naming a block with another size than an earlier file did is
/// refused, as a file naming one block with two sizes is.
fn union_of<T>(files: &mut [ApiResult<T>], content: impl Fn(&T) -> &Content) -> BTreeMap<BlockHash, u64> {
    let mut sizes = BTreeMap::new();
    for file in files.iter_mut() {
        let Ok(item) = file else { continue };
        let content = content(item);
        let clash = content
            .sizes
            .iter()
            .find(|&(hash, size)| sizes.get(hash).is_some_and(|known| known != size));
        if let Some((hash, _)) = clash {
            *file = Err(ApiError::InvalidBlocks(format!(
                "block {hash} is listed with two sizes in this batch"
            )));
            continue;
        }
        sizes.extend(content.sizes.iter().map(|(&hash, &size)| (hash, size)));
    }
    sizes
}

/// What a batch asks of the database once, not per file (most files of a
/// batch share a few folders): the writable folders, who hears of a change
/// in each, the accounts' `(used, quota)`. One per phase: the transaction
/// asks again.
#[derive(Default)]
pub(super) struct Lookups {
    folders: HashMap<NodeId, shares::Visible>,
    audiences: HashMap<NodeId, Vec<UserId>>,
    accounts: HashMap<UserId, (i64, i64)>,
}

impl Lookups {
    pub(super) async fn account(&mut self, conn: &mut Connection, user: UserId) -> ApiResult<(i64, i64)> {
        if let Some(&account) = self.accounts.get(&user) {
            return Ok(account);
        }
        let account: (i64, i64) = sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
        self.accounts.insert(user, account);
        Ok(account)
    }

    pub(super) async fn audience(&mut self, conn: &mut Connection, folder: NodeId) -> ApiResult<Vec<UserId>> {
        if let Some(users) = self.audiences.get(&folder) {
            return Ok(users.clone());
        }
        let users = shares::audience(conn, folder).await?;
        self.audiences.insert(folder, users.clone());
        Ok(users)
    }

    pub(super) async fn writable(
        &mut self,
        conn: &mut Connection,
        user: UserId,
        id: NodeId,
    ) -> ApiResult<shares::Visible> {
        if let Some(folder) = self.folders.get(&id) {
            return Ok(folder.clone());
        }
        let folder = shares::writable_folder(conn, user, id).await?;
        self.folders.insert(id, folder.clone());
        Ok(folder)
    }
}

/// A file of step 1 on its way to its plan.
pub(super) struct Planned {
    pub(super) content: Content,
    /// The file's growth, when the uploader pays for it (their own folder).
    pub(super) growth: Option<i64>,
    /// Its blocks missing for the uploader.
    pub(super) missing: Vec<(BlockHash, u64)>,
    /// The reservation token of each missing block.
    pub(super) tokens: BTreeMap<BlockHash, String>,
}

/// The checks of step 1 that only read: the content, where it would land,
/// the owner's quota.
async fn check_plan(
    conn: &mut Connection,
    lookups: &mut Lookups,
    user: UserId,
    req: &CommitRequest,
) -> ApiResult<Planned> {
    let content = check_content(req)?;
    let folder = lookups.writable(conn, user, req.parent_id).await?;
    let target = resolve_in(conn, user, folder, req, &content.name).await?;
    let old_size = target.existing.map_or(0, |node| node.size.max(0) as u64);
    check_quota(lookups.account(conn, target.owner).await?, old_size, content.size)?;
    Ok(Planned {
        growth: (target.owner == user).then(|| content.size as i64 - old_size as i64),
        content,
        missing: Vec::new(),
        tokens: BTreeMap::new(),
    })
}

/// Step 1 for each of `reqs`: which blocks the server lacks for the
/// uploader, each with a presigned PUT URL, reserved against their quota.
pub(super) async fn prepare_files(
    state: &AppState,
    user: UserId,
    reqs: &[CommitRequest],
) -> ApiResult<Vec<ApiResult<UploadPlan>>> {
    // The PUTs answered before this request count.
    state.proofs.flush().await;
    let mut files = Vec::with_capacity(reqs.len());
    {
        let mut conn = state.db.reader().acquire().await?;
        let mut lookups = Lookups::default();
        for req in reqs {
            files.push(own(check_plan(&mut conn, &mut lookups, user, req).await)?);
        }
    }
    let sizes = union_of(&mut files, |planned| &planned.content);
    let missing: BTreeSet<(BlockHash, u64)> = missing_for(state, user, &sizes).await?.into_iter().collect();
    for planned in files.iter_mut().flatten() {
        planned.missing = planned
            .content
            .sizes
            .iter()
            .map(|(&hash, &size)| (hash, size))
            .filter(|block| missing.contains(block))
            .collect();
    }
    reserve(state, user, &mut files).await?;
    let ttl = state.config.presign_ttl();
    let mut plans = Vec::with_capacity(files.len());
    for file in files {
        let planned = match file {
            Ok(planned) => planned,
            Err(err) => {
                plans.push(Err(err));
                continue;
            }
        };
        let mut urls = Vec::with_capacity(planned.missing.len());
        for (hash, size) in planned.missing {
            let token = planned.tokens.get(&hash).cloned().ok_or_else(|| {
                ApiError::internal(std::io::Error::other(format!(
                    "block {hash} was reserved without a token"
                )))
            })?;
            let grant = UploadGrant { user_id: user, token };
            urls.push(state.blobs.presign_put(hash, size, &grant, ttl).await?);
        }
        tracing::debug!(
            blocks = planned.content.sizes.len(),
            missing = urls.len(),
            "upload planned"
        );
        plans.push(Ok(UploadPlan { missing: urls }));
    }
    Ok(plans)
}

/// The blocks `req` sent inline, checked: each is one of the file's own
/// blocks, small enough, of its listed size and SHA-256.
fn inline_of(req: &CommitRequest, content: &Content) -> ApiResult<BTreeMap<BlockHash, Vec<u8>>> {
    let mut blocks = BTreeMap::new();
    for block in &req.inline {
        let hash = block.hash;
        let Some(&size) = content.sizes.get(&hash) else {
            return Err(ApiError::InvalidBlocks(format!(
                "inline block {hash} is not one of the file's blocks"
            )));
        };
        if size > MAX_INLINE_BLOCK {
            return Err(ApiError::InvalidBlocks(format!(
                "block {hash} is {size} bytes; only blocks of at most {MAX_INLINE_BLOCK} bytes travel inline"
            )));
        }
        let bytes = block
            .bytes()
            .ok_or_else(|| ApiError::InvalidBlocks(format!("inline block {hash} is not base64")))?;
        if bytes.len() as u64 != size {
            return Err(ApiError::SizeMismatch);
        }
        if Sha256::digest(&bytes).as_slice() != hash.as_bytes() {
            return Err(ApiError::HashMismatch);
        }
        blocks.insert(hash, bytes);
    }
    Ok(blocks)
}

/// Step 3 for each of `reqs`, in one transaction: each file whose blocks are
/// all present for the uploader becomes its node's new revision.
pub(super) async fn commit_files(
    state: &AppState,
    user: UserId,
    reqs: &[CommitRequest],
) -> ApiResult<Vec<ApiResult<Node>>> {
    let mut files: Vec<ApiResult<Content>> = reqs.iter().map(check_content).collect();
    // Blocks sent inline are checked now and stored with the commit.
    let mut inline = BTreeMap::new();
    for (file, req) in files.iter_mut().zip(reqs) {
        let Ok(content) = file else { continue };
        match inline_of(req, content) {
            Ok(blocks) => inline.extend(blocks),
            Err(err) => *file = Err(err),
        }
    }
    // Asked first so that a caller who may not write here learns nothing
    // about which blocks the store holds.
    let mut lookups = Lookups::default();
    {
        let mut conn = state.db.reader().acquire().await?;
        for (file, req) in files.iter_mut().zip(reqs) {
            if file.is_ok() {
                if let Err(err) = own(lookups.writable(&mut conn, user, req.parent_id).await)? {
                    *file = Err(err);
                }
            }
        }
    }
    let sizes = union_of(&mut files, |content| content);
    // The PUTs answered before this request count.
    state.proofs.flush().await;
    let missing: BTreeSet<BlockHash> = missing_for(state, user, &sizes)
        .await?
        .into_iter()
        .map(|(hash, _)| hash)
        .collect();
    let mut tx = state.db.begin().await?;
    // Touched and checked again inside the transaction: the garbage collector
    // marks a block for deletion only if untouched and unused, in one
    // statement, so either it marked it first (and the block reads as
    // missing here: the client uploads it again) or this commit's touch and
    // revision come first and keep it. Possession too is asked again here,
    // of the database alone (uploads the store proved are recorded by now).
    // Bytes sent inline prove possession as a PUT does, once stored.
    let hashes: Vec<BlockHash> = sizes.keys().copied().collect();
    let now = now_ms();
    inline::store(&mut tx, &inline, now).await?;
    touch_blocks(&mut tx, &hashes, now).await?;
    let standings = standings(&mut tx, user, &hashes, now).await?;
    for file in files.iter_mut() {
        let Ok(content) = file else { continue };
        let lost: Vec<BlockHash> = content
            .sizes
            .iter()
            .filter(|&(hash, &size)| {
                let standing = standings.get(hash);
                if inline.contains_key(hash) {
                    return !standing.is_some_and(|standing| standing.stored(size));
                }
                missing.contains(hash) || !standing.is_some_and(|standing| standing.present(size))
            })
            .map(|(&hash, _)| hash)
            .collect();
        if !lost.is_empty() {
            *file = Err(ApiError::MissingBlocks(lost));
        }
    }
    // The account rows first, in id order, then the reservations: step 1
    // takes them in that order too (on PostgreSQL, another order could
    // deadlock with it). A file is its folder owner's, but in a root, where
    // a file shared with the caller may be mounted: those are looked up.
    // Where each file lands is asked again per file below, after the files
    // before it.
    let mut accounts = BTreeSet::from([user]);
    // Asked again in the transaction: a folder may have gone since.
    let mut lookups = Lookups::default();
    for (file, req) in files.iter_mut().zip(reqs) {
        let Ok(content) = file else { continue };
        let folder = match own(lookups.writable(&mut tx, user, req.parent_id).await)? {
            Ok(folder) => folder,
            Err(err) => {
                *file = Err(err);
                continue;
            }
        };
        if folder.row.parent_id.is_some() {
            accounts.insert(folder.owner_id());
            continue;
        }
        match own(resolve_in(&mut tx, user, folder, req, &content.name).await)? {
            Ok(target) => {
                accounts.insert(target.owner);
            }
            Err(err) => *file = Err(err),
        }
    }
    for account in accounts {
        sqlx::query("UPDATE users SET used_bytes = used_bytes WHERE id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    // The journal's turn once for the batch's appends.
    changes::take_journal_turn(&mut tx).await?;
    let mut bulk = bulk::commit_new(&mut tx, &mut lookups, user, reqs, &files).await?;
    let mut nodes = Vec::with_capacity(files.len());
    let mut audience = BTreeSet::new();
    for (i, (file, req)) in files.into_iter().zip(reqs).enumerate() {
        if let Some((node, users)) = bulk.remove(&i) {
            audience.extend(users);
            nodes.push(Ok(node));
            continue;
        }
        let content = match file {
            Ok(content) => content,
            Err(err) => {
                nodes.push(Err(err));
                continue;
            }
        };
        // Each file on its own: a failure undoes its writes only.
        begin_item(&mut tx).await?;
        let outcome = commit_one(&mut tx, &mut lookups, user, req, &content).await;
        let outcome = end_item(&mut tx, outcome).await?;
        nodes.push(outcome.map(|(node, users)| {
            audience.extend(users);
            node
        }));
    }
    tx.commit().await?;
    state.changes.wake(&audience.into_iter().collect::<Vec<_>>());
    let committed = nodes.iter().filter(|node| node.is_ok()).count();
    metrics::counter!("drive_commits_total").increment(committed as u64);
    tracing::info!(files = reqs.len(), committed, "files committed");
    Ok(nodes)
}

/// One file of step 3, inside the batch's transaction: its node's new
/// revision, and who must hear of it.
async fn commit_one(
    tx: &mut Tx,
    lookups: &mut Lookups,
    user: UserId,
    req: &CommitRequest,
    content: &Content,
) -> ApiResult<(Node, Vec<UserId>)> {
    let folder = lookups.writable(tx, user, req.parent_id).await?;
    let target = resolve_in(tx, user, folder, req, &content.name).await?;
    // Before the quota charge, which counts the owner's live reservations:
    // the committed blocks count once, as the file.
    let hashes: Vec<BlockHash> = content.sizes.keys().copied().collect();
    release_reservations(tx, user, &hashes).await?;
    let (node_id, base, kind) = match target.existing {
        Some(node) => (node.id, node.revision_id, ChangeKind::Updated),
        None => (
            create_file(tx, target.owner, req.parent_id, &content.name).await?,
            None,
            ChangeKind::Created,
        ),
    };
    store_revision(
        tx,
        target.owner,
        node_id,
        base,
        &content.order,
        content.size,
        content.modified,
    )
    .await?;
    // A new file has no shares of its own: its folder's audience is its.
    let audience = match kind {
        ChangeKind::Created => lookups.audience(tx, req.parent_id).await?,
        _ => shares::audience(tx, node_id).await?,
    };
    changes::append_in_turn(tx, &audience, node_id, kind).await?;
    let node = shares::visible(tx, user, node_id).await?.present();
    tracing::debug!(
        node_id,
        size = content.size,
        blocks = content.order.len(),
        "file committed"
    );
    Ok((node, audience))
}

fn plan_outcome(result: ApiResult<UploadPlan>) -> PlanOutcome {
    match result {
        Ok(plan) => PlanOutcome {
            status: StatusCode::OK.as_u16(),
            plan: Some(plan),
            error: None,
        },
        Err(err) => PlanOutcome {
            status: err.status().as_u16(),
            plan: None,
            error: Some(err.detail()),
        },
    }
}

/// The outcome of a file (or a folder) of a batch, as the single route
/// would have answered it.
pub(crate) fn node_outcome(result: ApiResult<Node>) -> CommitOutcome {
    match result {
        Ok(node) => CommitOutcome {
            status: StatusCode::CREATED.as_u16(),
            node: Some(node),
            error: None,
        },
        Err(err) => CommitOutcome {
            status: err.status().as_u16(),
            node: None,
            error: Some(err.detail()),
        },
    }
}

/// Step 1 for many files: each file's plan, or its own error.
#[utoipa::path(post, path = "/api/v1/uploads/batch", tag = "uploads", security(("bearer" = [])), request_body = UploadBatch,
    responses((status = 200, description = "One outcome per file, in request order", body = PlanBatch),
        (status = 400, description = "Malformed, empty or too large batch", body = drive_wire::ErrorBody),
        (status = 401, description = "Not signed in", body = drive_wire::ErrorBody)))]
pub(super) async fn prepare_batch(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(batch): Json<UploadBatch>,
) -> ApiResult<Json<PlanBatch>> {
    check_batch(&batch)?;
    let plans = prepare_files(&state, auth.user_id, &batch.files).await?;
    Ok(Json(PlanBatch {
        files: plans.into_iter().map(plan_outcome).collect(),
    }))
}

/// Step 3 for many files, in one transaction: each file's node, or its own
/// error.
#[utoipa::path(post, path = "/api/v1/commits/batch", tag = "uploads", security(("bearer" = [])), request_body = UploadBatch,
    responses((status = 200, description = "One outcome per file, in request order", body = CommitBatch),
        (status = 400, description = "Malformed, empty or too large batch", body = drive_wire::ErrorBody),
        (status = 401, description = "Not signed in", body = drive_wire::ErrorBody)))]
pub(super) async fn commit_batch(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(batch): Json<UploadBatch>,
) -> ApiResult<Json<CommitBatch>> {
    check_batch(&batch)?;
    let nodes = commit_files(&state, auth.user_id, &batch.files).await?;
    Ok(Json(CommitBatch {
        files: nodes.into_iter().map(node_outcome).collect(),
    }))
}
