//! File revisions: each commit adds one; old ones can be listed and restored.

use axum::extract::State;
use drive_wire::{BlockHash, ChangeKind, Node, NodeId, NodeKind, Revision, RevisionId, UserId};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    changes,
    error::{ApiError, ApiResult, Json, Path},
    shares,
    state::AppState,
    storage::metadata::{now_ms, to_datetime, Tx},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_revisions))
        .routes(routes!(restore_revision))
}

/// Charges `growth` bytes to `owner` if their used bytes, `needed` and
/// their live upload reservations fit in their quota (shrinking always
/// does), in one statement; whether it did.
pub(crate) async fn charge_quota(
    tx: &mut Tx,
    owner: UserId,
    growth: i64,
    needed: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let charged = sqlx::query(
        "UPDATE users SET used_bytes = used_bytes + $1 WHERE id = $2 AND ($1 <= 0 OR used_bytes + $3 + \
           (SELECT CAST(COALESCE(SUM(r.size), 0) AS BIGINT) FROM upload_reservations r \
            WHERE r.user_id = $2 AND r.expires_at > $4) <= quota_bytes)",
    )
    .bind(growth)
    .bind(owner)
    .bind(needed)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(charged.rows_affected() == 1)
}

/// Makes `blocks` the new current content of file `node_id`, charging the
/// size difference to the owner's quota. Growth is refused when the owner's
/// used bytes, the growth and the owner's live upload reservations (see
/// `uploads`) together exceed the quota; a commit releases the reservations
/// of its own blocks before it comes here, so they do not count twice.
///
/// `base` is the revision the caller checked the file is at: where writers
/// run concurrently (PostgreSQL), another commit may have moved it on since,
/// and then this one answers 409 instead of overwriting it. Likewise the
/// quota is checked and charged in one statement.
pub async fn store_revision(
    tx: &mut Tx,
    owner: UserId,
    node_id: NodeId,
    base: Option<RevisionId>,
    blocks: &[BlockHash],
    size: u64,
    modified: i64,
) -> ApiResult<RevisionId> {
    let size = i64::try_from(size).map_err(|_| ApiError::InvalidBlocks("the file is too large".into()))?;
    let old_size: i64 = sqlx::query_scalar("SELECT size FROM nodes WHERE id = $1")
        .bind(node_id)
        .fetch_one(&mut **tx)
        .await?;
    let growth = size - old_size;
    let now = now_ms();
    // The owner's row first, in a statement of its own: the check below then
    // reads the reservations after every step 1 or commit of this owner that
    // held the row has committed. (On PostgreSQL a statement that waited for
    // the row rechecks it, but not its subquery, which would still count the
    // reservations that a commit it waited for released.)
    sqlx::query("UPDATE users SET used_bytes = used_bytes WHERE id = $1")
        .bind(owner)
        .execute(&mut **tx)
        .await?;
    if !charge_quota(tx, owner, growth, growth, now).await? {
        let (used, quota): (i64, i64) = sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
            .bind(owner)
            .fetch_one(&mut **tx)
            .await?;
        let reserved = crate::uploads::reserved_bytes(tx, owner, now).await?;
        return Err(ApiError::QuotaExceeded {
            used: (used.max(0) as u64).saturating_add(reserved),
            quota: quota.max(0) as u64,
            needed: growth.max(0) as u64,
        });
    }
    let revision: RevisionId = sqlx::query_scalar(
        "INSERT INTO revisions (node_id, size, modified, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(node_id)
    .bind(size)
    .bind(modified)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    for (position, hash) in blocks.iter().enumerate() {
        sqlx::query("INSERT INTO revision_blocks (revision_id, position, hash) VALUES ($1, $2, $3)")
            .bind(revision)
            .bind(position as i64)
            .bind(hash.to_string())
            .execute(&mut **tx)
            .await?;
    }
    let moved = sqlx::query(
        "UPDATE nodes SET size = $1, revision_id = $2, modified = $3 \
         WHERE id = $4 AND revision_id IS NOT DISTINCT FROM $5",
    )
    .bind(size)
    .bind(revision)
    .bind(modified)
    .bind(node_id)
    .bind(base)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Err(ApiError::StaleRevision(None));
    }
    Ok(revision)
}

/// The blocks of a revision of `node_id`, in file order, with their sizes.
pub async fn revision_blocks<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    db: E,
    node_id: NodeId,
    revision: RevisionId,
) -> ApiResult<Vec<(BlockHash, u64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT rb.hash, b.size FROM revision_blocks rb \
         JOIN revisions r ON r.id = rb.revision_id JOIN blocks b ON b.hash = rb.hash \
         WHERE r.id = $1 AND r.node_id = $2 ORDER BY rb.position",
    )
    .bind(revision)
    .bind(node_id)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(hash, size)| Ok((stored_hash(&hash)?, size.max(0) as u64)))
        .collect()
}

/// A block hash as the database stores it (hex); one that does not parse is
/// the server's fault.
pub(crate) fn stored_hash(hash: &str) -> ApiResult<BlockHash> {
    hash.parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed block hash {hash:?} in the database")))
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    id: RevisionId,
    node_id: NodeId,
    size: i64,
    modified: i64,
    created_at: i64,
    block_count: i64,
}

/// Revisions of a file, newest first.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/revisions", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id")),
    responses((status = 200, body = [Revision]), (status = 400, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn list_revisions(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<NodeId>,
) -> ApiResult<Json<Vec<Revision>>> {
    let node = shares::visible(&mut *state.db.reader().acquire().await?, auth.user_id, id).await?;
    if node.row.kind() != NodeKind::File {
        return Err(ApiError::NotAFile);
    }
    let rows: Vec<RevisionRow> = sqlx::query_as(
        "SELECT r.id, r.node_id, r.size, r.modified, r.created_at, \
                (SELECT COUNT(*) FROM revision_blocks rb WHERE rb.revision_id = r.id) AS block_count \
         FROM revisions r WHERE r.node_id = $1 ORDER BY r.id DESC",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| Revision {
                id: row.id,
                node_id: row.node_id,
                size: row.size.max(0) as u64,
                block_count: row.block_count.max(0) as u64,
                modified: to_datetime(row.modified),
                created_at: to_datetime(row.created_at),
            })
            .collect(),
    ))
}

/// Make an old revision current again, as a new revision (history is kept).
#[utoipa::path(post, path = "/api/v1/nodes/{id}/revisions/{rev}/restore", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id"), ("rev" = i64, Path, description = "Revision id")),
    responses((status = 200, body = Node), (status = 400, body = drive_wire::ErrorBody, description = "`not_a_file`"),
        (status = 403, body = drive_wire::ErrorBody, description = "`read_only`: in a folder shared with the caller as a viewer"), (status = 404, body = drive_wire::ErrorBody),
        (status = 409, body = drive_wire::ErrorBody, description = "`stale_revision`: the file changed meanwhile"),
        (status = 413, body = drive_wire::ErrorBody, description = "`quota_exceeded`")))]
async fn restore_revision(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, rev)): Path<(NodeId, RevisionId)>,
) -> ApiResult<Json<Node>> {
    let mut tx = state.db.begin().await?;
    let node = shares::visible(&mut tx, auth.user_id, id).await?.live()?.writable()?;
    if node.row.kind() != NodeKind::File {
        return Err(ApiError::NotAFile);
    }
    let (size, modified): (i64, i64) =
        sqlx::query_as("SELECT size, modified FROM revisions WHERE id = $1 AND node_id = $2")
            .bind(rev)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ApiError::NotFound)?;
    let blocks: Vec<BlockHash> = revision_blocks(&mut *tx, id, rev)
        .await?
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    // The owner's quota pays for it, whoever restores it.
    let base = node.row.revision_id;
    store_revision(
        &mut tx,
        node.owner_id(),
        id,
        base,
        &blocks,
        size.max(0) as u64,
        modified,
    )
    .await?;
    let audience = changes::append(&mut tx, id, ChangeKind::Updated).await?;
    let node = shares::visible(&mut tx, auth.user_id, id).await?.present();
    tx.commit().await?;
    state.changes.wake(&audience);
    tracing::info!(node_id = id, revision = rev, "revision restored");
    Ok(Json(node))
}
