//! Uploading content in three steps (see docs/API.md): ask which blocks are
//! missing, PUT them to presigned URLs, commit. Step 1 and step 3 take the
//! same request, so a client that crashed in between simply starts again and
//! is told only what is still missing.

use std::collections::BTreeMap;

use crate::storage::metadata::Connection;
use axum::{extract::State, http::StatusCode};
use drive_wire::{names::validate_name, BlockHash, ChangeKind, CommitRequest, Node, NodeId, UploadPlan, UserId};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    changes,
    error::{ApiError, ApiResult, Json},
    shares,
    state::AppState,
    storage::metadata::{now_ms, Tx},
    tree::{live_child, revisions::store_revision, NodeRow},
};

/// Largest block accepted; content-defined chunking stays far below it.
pub const MAX_BLOCK_SIZE: u64 = 16 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(prepare)).routes(routes!(commit))
}

/// A commit request that passed the checks that need no database.
struct Content {
    name: String,
    /// Blocks in file order.
    order: Vec<BlockHash>,
    /// Each distinct block with its size.
    sizes: BTreeMap<BlockHash, u64>,
    size: u64,
    modified: i64,
}

fn check_content(req: &CommitRequest) -> ApiResult<Content> {
    let name = validate_name(&req.name)?;
    let mut sizes = BTreeMap::new();
    let mut size: u64 = 0;
    for block in &req.blocks {
        if block.size == 0 || block.size > MAX_BLOCK_SIZE {
            return Err(ApiError::InvalidBlocks(format!(
                "block {} is {} bytes; blocks are 1 to {MAX_BLOCK_SIZE} bytes",
                block.hash, block.size
            )));
        }
        if *sizes.entry(block.hash).or_insert(block.size) != block.size {
            return Err(ApiError::InvalidBlocks(format!(
                "block {} is listed with two sizes",
                block.hash
            )));
        }
        size += block.size;
    }
    Ok(Content {
        name,
        order: req.blocks.iter().map(|b| b.hash).collect(),
        sizes,
        size,
        modified: req.modified.timestamp_millis(),
    })
}

/// Where a commit lands: the owner of the folder (who pays the quota) and
/// the file it replaces (`None`: a new file).
struct Target {
    owner: UserId,
    existing: Option<NodeRow>,
}

/// Where the request would write, or 409 if the client's view is out of date.
async fn resolve_target(conn: &mut Connection, caller: UserId, req: &CommitRequest, name: &str) -> ApiResult<Target> {
    let folder = shares::writable_folder(conn, caller, req.parent_id).await?;
    let existing = match live_child(&mut *conn, req.parent_id, name).await? {
        Some(child) => Some(folder.clone().with_row(child)),
        // A file shared with the caller, mounted in their root.
        None => shares::mount_named(conn, caller, req.parent_id, name).await?,
    };
    let existing = match (existing, req.base_revision) {
        (None, None) => None,
        (None, Some(_)) => return Err(ApiError::StaleRevision(None)),
        (Some(node), _) if node.row.kind() != drive_wire::NodeKind::File => return Err(ApiError::NameTaken),
        (Some(node), Some(base)) if node.row.revision_id == Some(base) => Some(node.writable()?),
        (Some(node), _) => return Err(ApiError::StaleRevision(Some(Box::new(node.present())))),
    };
    Ok(Target {
        owner: existing.as_ref().map_or(folder.owner_id(), |node| node.owner_id()),
        existing: existing.map(|node| node.row),
    })
}

async fn check_quota(conn: &mut Connection, owner: UserId, old_size: u64, new_size: u64) -> ApiResult<()> {
    let (used, quota): (i64, i64) = sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
        .bind(owner)
        .fetch_one(conn)
        .await?;
    let (used, quota) = (used.max(0) as u64, quota.max(0) as u64);
    let needed = new_size.saturating_sub(old_size);
    if needed > 0 && used + needed > quota {
        return Err(ApiError::QuotaExceeded { used, quota, needed });
    }
    Ok(())
}

/// Blocks among `sizes` that the metadata knows and that the garbage
/// collector is not deleting, with their recorded sizes; and those it is
/// deleting (which count as missing: their objects are about to go).
async fn known_blocks(
    conn: &mut Connection,
    sizes: &BTreeMap<BlockHash, u64>,
) -> ApiResult<(BTreeMap<BlockHash, u64>, Vec<BlockHash>)> {
    let hashes: Vec<String> = sizes.keys().map(ToString::to_string).collect();
    let mut known = BTreeMap::new();
    let mut deleting = Vec::new();
    // Stay well under SQLite's limit on bound parameters.
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "SELECT hash, size, deleting_at FROM blocks WHERE hash IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, i64, Option<i64>)>(&sql);
        for hash in chunk {
            query = query.bind(hash);
        }
        for (hash, size, deleting_at) in query.fetch_all(&mut *conn).await? {
            let Ok(hash) = hash.parse() else { continue };
            if deleting_at.is_some() {
                deleting.push(hash);
            } else {
                known.insert(hash, size.max(0) as u64);
            }
        }
    }
    Ok((known, deleting))
}

/// `$from, $from+1, ...`: `count` numbered placeholders.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Marks blocks as just used by an upload, which keeps them from the garbage
/// collector for its grace period. Blocks being deleted are left alone.
async fn touch_blocks(conn: &mut Connection, hashes: &[BlockHash], now: i64) -> ApiResult<()> {
    let hashes: Vec<String> = hashes.iter().map(ToString::to_string).collect();
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "UPDATE blocks SET touched_at = $1 WHERE deleting_at IS NULL AND hash IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(now);
        for hash in chunk {
            query = query.bind(hash);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Splits the request's blocks into those the store holds (registering any
/// the metadata did not know yet) and those still missing. Every block held
/// is touched, so that what the client is told it need not upload stays for
/// the garbage collector's grace period.
async fn sort_blocks(state: &AppState, content: &Content) -> ApiResult<Vec<(BlockHash, u64)>> {
    let (known, deleting) = known_blocks(&mut *state.db.reader().acquire().await?, &content.sizes).await?;
    let mut missing = Vec::new();
    let mut found = Vec::new();
    for (&hash, &size) in &content.sizes {
        let stored = match known.get(&hash) {
            Some(&stored) => Some(stored),
            // Its object may still be there, but not for long: upload it again.
            None if deleting.contains(&hash) => None,
            None => state.blobs.stored_size(hash).await.map_err(ApiError::internal)?,
        };
        match stored {
            Some(stored) if stored != size => {
                return Err(ApiError::InvalidBlocks(format!(
                    "block {hash} is {stored} bytes, not {size}"
                )));
            }
            Some(_) if !known.contains_key(&hash) => found.push((hash, size)),
            Some(_) => {}
            None => missing.push((hash, size)),
        }
    }
    let held: Vec<BlockHash> = known.keys().copied().collect();
    if !found.is_empty() || !held.is_empty() {
        let mut tx = state.db.begin().await?;
        register_blocks(&mut tx, &found).await?;
        touch_blocks(&mut tx, &held, now_ms()).await?;
        tx.commit().await?;
    }
    Ok(missing)
}

/// Records blocks found in the store. A row the garbage collector is
/// deleting stays as it is (its object is going): the upload finds it
/// missing and sends it again.
pub async fn register_blocks(tx: &mut Tx, blocks: &[(BlockHash, u64)]) -> ApiResult<()> {
    let now = now_ms();
    for (hash, size) in blocks {
        sqlx::query(
            "INSERT INTO blocks (hash, size, created_at, touched_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (hash) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(hash.to_string())
        .bind(*size as i64)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Step 1: which blocks the server lacks, each with a presigned PUT URL.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", security(("bearer" = [])), request_body = CommitRequest,
    responses((status = 200, body = UploadPlan), (status = 400, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody), (status = 413, body = drive_wire::ErrorBody)))]
async fn prepare(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CommitRequest>,
) -> ApiResult<Json<UploadPlan>> {
    let content = check_content(&req)?;
    let mut conn = state.db.reader().acquire().await?;
    let target = resolve_target(&mut conn, auth.user_id, &req, &content.name).await?;
    let old_size = target.existing.map_or(0, |node| node.size.max(0) as u64);
    check_quota(&mut conn, target.owner, old_size, content.size).await?;
    drop(conn);
    let missing = sort_blocks(&state, &content).await?;
    let ttl = state.config.presign_ttl();
    let mut urls = Vec::with_capacity(missing.len());
    for (hash, size) in missing {
        urls.push(
            state
                .blobs
                .presign_put(hash, size, ttl)
                .await
                .map_err(ApiError::internal)?,
        );
    }
    let missing = urls;
    tracing::debug!(blocks = content.sizes.len(), missing = missing.len(), "upload planned");
    Ok(Json(UploadPlan { missing }))
}

/// Step 3: make the uploaded blocks the file's new revision.
#[utoipa::path(post, path = "/api/v1/commits", tag = "uploads", security(("bearer" = [])), request_body = CommitRequest,
    responses((status = 201, body = Node), (status = 400, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody), (status = 413, body = drive_wire::ErrorBody)))]
async fn commit(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CommitRequest>,
) -> ApiResult<(StatusCode, Json<Node>)> {
    let content = check_content(&req)?;
    // Asked first so that a caller who may not write here learns nothing
    // about which blocks the store holds.
    shares::writable_folder(&mut *state.db.reader().acquire().await?, auth.user_id, req.parent_id).await?;
    let missing = sort_blocks(&state, &content).await?;
    if !missing.is_empty() {
        return Err(ApiError::MissingBlocks(
            missing.into_iter().map(|(hash, _)| hash).collect(),
        ));
    }
    let mut tx = state.db.begin().await?;
    // Touched and checked again inside the transaction: the garbage collector
    // marks a block for deletion only if untouched and unused, in one
    // statement, so either it marked it first (and the block reads as
    // missing here: the client uploads it again) or this commit's touch and
    // revision come first and keep it.
    let hashes: Vec<BlockHash> = content.sizes.keys().copied().collect();
    touch_blocks(&mut tx, &hashes, now_ms()).await?;
    let (present, _) = known_blocks(&mut tx, &content.sizes).await?;
    let lost: Vec<BlockHash> = content
        .sizes
        .keys()
        .filter(|h| !present.contains_key(h))
        .copied()
        .collect();
    if !lost.is_empty() {
        return Err(ApiError::MissingBlocks(lost));
    }
    let target = resolve_target(&mut tx, auth.user_id, &req, &content.name).await?;
    let (node_id, base, kind) = match target.existing {
        Some(node) => (node.id, node.revision_id, ChangeKind::Updated),
        None => (
            create_file(&mut tx, target.owner, req.parent_id, &content.name).await?,
            None,
            ChangeKind::Created,
        ),
    };
    store_revision(
        &mut tx,
        target.owner,
        node_id,
        base,
        &content.order,
        content.size,
        content.modified,
    )
    .await?;
    let audience = changes::append(&mut tx, node_id, kind).await?;
    let node = shares::visible(&mut tx, auth.user_id, node_id).await?.present();
    tx.commit().await?;
    state.changes.wake(&audience);
    metrics::counter!("drive_commits_total").increment(1);
    tracing::info!(
        node_id,
        size = content.size,
        blocks = content.order.len(),
        "file committed"
    );
    Ok((StatusCode::CREATED, Json(node)))
}

async fn create_file(tx: &mut Tx, owner: UserId, parent: NodeId, name: &str) -> ApiResult<NodeId> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO nodes (owner_id, parent_id, name, kind, modified, created_at) \
         VALUES ($1, $2, $3, 'file', $4, $4) RETURNING id",
    )
    .bind(owner)
    .bind(parent)
    .bind(name)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}
