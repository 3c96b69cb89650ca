//! Uploading content in three steps (see docs/API.md): ask which blocks are
//! missing, PUT them to presigned URLs, commit. Step 1 and step 3 take the
//! same request, so a client that crashed in between simply starts again and
//! is told only what is still missing.
//!
//! # Proof of possession
//!
//! A block counts as *present for a user* only if
//!
//! - content the user can read uses it: a revision (current or past, live or
//!   trashed) of a node they own, or of a node inside a share they accepted;
//!   or
//! - the user's own upload of it was verified within the upload's lifetime:
//!   step 1 answered it as missing to them and reserved it (below) with a
//!   random token, the PUT URL handed to them is bound to that token (signed
//!   into the local store's URL with the user's id; a signed
//!   `x-amz-meta-upload` header of the S3 presigned PUT), and bytes with the
//!   block's SHA-256 and size came through it while the reservation lived.
//!   The local store's PUT endpoint records that (`uploaded_at`) once the
//!   bytes are verified and durable, in the background ([`ProofLog`]: the
//!   next step 1 or commit waits for it); an S3 upload goes straight to the
//!   store, so the
//!   next step 1 or commit asks the store (a HEAD: the object's size and its
//!   `upload` metadata, which the last PUT wrote) and records it then.
//!
//! Every other block is *missing* for the user exactly as if the server had
//! never seen it, even when its bytes are stored for someone else: step 1
//! lists it (with a URL, and reserves it), the commit refuses it with
//! `missing_blocks`, and the bytes must be sent; they still dedupe in the
//! store, which is content-addressed. No answer depends on what others
//! stored: a known hash named with a wrong size is missing like an unknown
//! one (its PUT then fails: no bytes of that size have that hash), and the
//! PUT verifies the bytes and answers 201 whether or not the block was
//! stored already (it skips only the final rename). So knowing a hash is not
//! having the bytes: a user who learned one cannot commit a file naming it
//! and read someone else's data (the "Dropship" attack), nor learn whether
//! anyone stores a given file.
//!
//! The possession of the whole block list is one indexed query per request
//! ([`standings`]): the references of the named blocks
//! (`revision_blocks(hash)`), kept when the node is the user's, or when a
//! walk up from a node of someone who shares with the user reaches a share
//! they accepted; and the user's reservations. The commit asks it again in
//! its transaction, of the database alone.
//!
//! The cost: a user re-uploads bytes the server already has from someone
//! else (network and time, not storage), and reserves them against their
//! quota until the commit; the query grows with the number of revisions that
//! use the named blocks (a block common to many files, such as one of
//! zeros, costs the most); an upload's PUTs prove nothing once its
//! reservations expire, so a commit after that asks for the bytes again; on
//! S3 each block uploaded and not yet proven costs a HEAD, and since the
//! proof is "the object's last PUT was this upload's", two users uploading
//! the same block at the same moment may see one of them asked for it again.
//! What remains observable: on the local store a PUT of a block stored
//! already skips the rename and directory fsync (it still writes, fsyncs and
//! verifies the temp file), and an S3 HEAD of an existing object may take
//! another time than one of a missing object; both need the bytes (or the
//! uploader's own reservation) in the first place.
//!
//! # Quota and uploads in flight
//!
//! A block the server answers as missing at step 1 is *reserved* for the
//! uploader: a row `(user_id, hash, size, expires_at)` in
//! `upload_reservations`, alive for `--upload-reservation` (1 hour by
//! default, well under the garbage collector's `--gc-grace`). A live
//! reservation counts against the uploader's quota like committed bytes do,
//! so blocks PUT but never committed cannot pile up past the quota (they
//! used to: nothing counted them until a commit). The rule:
//!
//! - Step 1 refuses with 413 `quota_exceeded` when `used + held + cost`
//!   exceeds the quota, where `held` is the uploader's live reservations of
//!   blocks *not* in this request and `cost` what this upload takes: the
//!   file's growth or the bytes it holds (its blocks reserved already plus
//!   those it reserves now), whichever is larger; a replacement that shrinks
//!   the file is credited what it frees (`cost = holds - shrink`). A block
//!   already reserved by the uploader counts once, whatever the number of
//!   requests naming it; a block present for the uploader (see above) is
//!   not missing, so reserves nothing. Only a request that reserves something
//!   new or grows a file can be refused.
//! - Asking again for a block whose reservation is live leaves it as it is:
//!   re-asking does not extend it, so an upload cannot hold quota forever.
//!   Once expired it is ignored by every check, and the next ask reserves it
//!   anew (and it counts again). The garbage collector deletes expired rows.
//! - A commit deletes the committer's reservations of the blocks it commits,
//!   in its transaction, before it charges the file to the owner's quota;
//!   that charge (like a restore's) is refused when the owner's used bytes,
//!   the growth and the owner's remaining live reservations together exceed
//!   the quota. So a committed file counts once: as used bytes, not also as
//!   reservations.
//!
//! The cost: an account near its quota is refused uploads it could commit,
//! for up to `--upload-reservation` after an abandoned upload (the room comes
//! back by itself when the reservations expire); an edit needs room for its
//! new blocks until it is committed, even when the file does not grow; and
//! every step 1 that reserves something is a write transaction that takes
//! the uploader's `users` row, so one user's uploads take turns there. In
//! an editor's upload into someone else's folder the blocks are reserved
//! against the editor (the uploader), the commit is charged to the owner.

use std::collections::BTreeMap;

use crate::storage::{
    metadata::{placeholders, Connection},
    presign::UploadGrant,
    StorageError,
};
use axum::{extract::State, http::StatusCode};
use drive_wire::{names::validate_name, BlockHash, ChangeKind, CommitRequest, Node, NodeId, UploadPlan, UserId};
use futures::{StreamExt, TryStreamExt};
use rand::RngCore;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    changes,
    error::{ApiError, ApiResult, Json},
    shares,
    state::AppState,
    storage::metadata::{now_ms, value_rows, Tx, ROWS_PER_STATEMENT},
    tree::{live_child, revisions::store_revision, NodeRow},
};

/// Largest block accepted; content-defined chunking stays far below it.
pub const MAX_BLOCK_SIZE: u64 = 16 * 1024 * 1024;

mod batch;
mod bulk;
mod possession;
mod proofs;

pub(crate) use batch::{begin_item, check_batch_len, end_item, node_outcome, own, single};
use batch::{commit_files, prepare_files, Planned};
pub use possession::record_uploads;
use possession::{missing_for, standings, touch_blocks};
pub use proofs::ProofLog;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(prepare))
        .routes(routes!(commit))
        .routes(routes!(batch::prepare_batch))
        .routes(routes!(batch::commit_batch))
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

/// Where the request would write in `folder` (the request's, known to be
/// writable), or 409 if the client's view is out of date.
async fn resolve_in(
    conn: &mut Connection,
    caller: UserId,
    folder: shares::Visible,
    req: &CommitRequest,
    name: &str,
) -> ApiResult<Target> {
    let existing = match live_child(&mut *conn, req.parent_id, name).await? {
        Some(child) => Some(folder.clone().with_row(child)),
        // A file shared with the caller, mounted in their root (only a
        // root, with no parent, has mounts).
        None if folder.row.parent_id.is_none() => shares::mount_named(conn, caller, req.parent_id, name).await?,
        None => None,
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

/// Whether a file of `new_size` replacing `old_size` fits in the owner's
/// quota as it stands (`(used, quota)`, read once per request): the quick
/// check of step 1, before reservations are weighed.
fn check_quota((used, quota): (i64, i64), old_size: u64, new_size: u64) -> ApiResult<()> {
    let (used, quota) = (used.max(0) as u64, quota.max(0) as u64);
    let needed = new_size.saturating_sub(old_size);
    if needed > 0 && used + needed > quota {
        return Err(ApiError::QuotaExceeded { used, quota, needed });
    }
    Ok(())
}

/// Records blocks found in the store, verified: a row `--check` marked
/// damaged is whole again. A row the garbage collector is deleting stays as
/// it is (its object is going): the upload finds it missing and sends it
/// again.
pub async fn register_blocks(tx: &mut Tx, blocks: &[(BlockHash, u64)]) -> ApiResult<()> {
    let now = now_ms();
    // Each hash once per statement: PostgreSQL refuses to update a row twice in one.
    let blocks: BTreeMap<BlockHash, u64> = blocks.iter().copied().collect();
    let blocks: Vec<(BlockHash, u64)> = blocks.into_iter().collect();
    for chunk in blocks.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO blocks (hash, size, created_at, touched_at) VALUES {} \
             ON CONFLICT (hash) DO UPDATE SET touched_at = excluded.touched_at, damaged_at = NULL",
            value_rows(1, chunk.len(), 4)
        );
        let mut query = sqlx::query(&sql);
        for (hash, size) in chunk {
            query = query.bind(hash.to_string()).bind(*size as i64).bind(now).bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The user's reservations that have not expired at `now`: hash -> (size,
/// token).
async fn live_reservation_rows(
    conn: &mut Connection,
    user: UserId,
    now: i64,
) -> ApiResult<BTreeMap<BlockHash, (u64, Option<String>)>> {
    let rows: Vec<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT hash, size, token FROM upload_reservations WHERE user_id = $1 AND expires_at > $2")
            .bind(user)
            .bind(now)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(hash, size, token)| Some((hash.parse().ok()?, (size.max(0) as u64, token))))
        .collect())
}

/// The user's reservations that have not expired at `now`: hash -> size.
async fn live_reservations(conn: &mut Connection, user: UserId, now: i64) -> ApiResult<BTreeMap<BlockHash, u64>> {
    Ok(sizes_of(&live_reservation_rows(conn, user, now).await?))
}

fn sizes_of(rows: &BTreeMap<BlockHash, (u64, Option<String>)>) -> BTreeMap<BlockHash, u64> {
    rows.iter().map(|(&hash, &(size, _))| (hash, size)).collect()
}

/// A new reservation token: 128 random bits in hex.
fn new_token() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Bytes of the user's reservations that have not expired at `now`.
pub async fn reserved_bytes(conn: &mut Connection, user: UserId, now: i64) -> ApiResult<u64> {
    Ok(live_reservations(conn, user, now).await?.values().sum())
}

/// The quota rule of step 1 (see the module documentation): the blocks of
/// `missing` to reserve now, or 413 if the upload does not fit. `growth` is
/// the file's, when the uploader pays for it (their own folder).
fn assess(
    used: i64,
    quota: i64,
    live: &BTreeMap<BlockHash, u64>,
    content: &Content,
    missing: &[(BlockHash, u64)],
    growth: Option<i64>,
) -> ApiResult<Vec<(BlockHash, u64)>> {
    let (mut held_own, mut held_other) = (0u64, 0u64);
    for (hash, &size) in live {
        if content.sizes.contains_key(hash) {
            held_own += size;
        } else {
            held_other += size;
        }
    }
    let fresh: Vec<(BlockHash, u64)> = missing
        .iter()
        .filter(|(hash, _)| !live.contains_key(hash))
        .copied()
        .collect();
    let new: u64 = fresh.iter().map(|(_, size)| size).sum();
    let holds = i64::try_from(held_own + new).unwrap_or(i64::MAX);
    let cost = match growth {
        Some(growth) if growth >= 0 => growth.max(holds),
        Some(shrink) => holds.saturating_add(shrink),
        None => holds,
    };
    let taken = used
        .max(0)
        .saturating_add(i64::try_from(held_other).unwrap_or(i64::MAX));
    let adds = new > 0 || growth.is_some_and(|growth| growth > 0);
    if adds && taken.saturating_add(cost) > quota {
        return Err(ApiError::QuotaExceeded {
            used: taken as u64,
            quota: quota.max(0) as u64,
            needed: cost.max(0) as u64,
        });
    }
    Ok(fresh)
}

/// Checks step 1 of each file against the uploader's quota, in order, and
/// reserves the blocks it answers as missing (see the module
/// documentation): each file gets the token of each missing block's
/// reservation, which its PUT URL is bound to, or its 413. A reservation
/// that is live stays as it is; an expired one is replaced (with a new
/// token, and no upload proven). One transaction for all the files, which
/// takes the uploader's `users` row first, so that their step 1s and commits
/// take turns (on PostgreSQL) and two of them cannot both pass on the same
/// room.
async fn reserve(state: &AppState, user: UserId, files: &mut [ApiResult<Planned>]) -> ApiResult<()> {
    let now = now_ms();
    if files.iter().flatten().all(|planned| planned.missing.is_empty()) {
        // Nothing to reserve: the check alone, as the commit will make it.
        let mut conn = state.db.reader().acquire().await?;
        let (used, quota): (i64, i64) = sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
        let live = live_reservations(&mut conn, user, now).await?;
        for file in files.iter_mut() {
            let Ok(planned) = file else { continue };
            if let Err(err) = assess(used, quota, &live, &planned.content, &[], planned.growth) {
                *file = Err(err);
            }
        }
        return Ok(());
    }
    let mut tx = state.db.begin().await?;
    let (used, quota): (i64, i64) =
        sqlx::query_as("UPDATE users SET used_bytes = used_bytes WHERE id = $1 RETURNING used_bytes, quota_bytes")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
    let mut rows = live_reservation_rows(&mut tx, user, now).await?;
    let lifetime = i64::try_from(state.config.upload_reservation().as_millis()).unwrap_or(i64::MAX);
    let mut reserved = 0;
    // Each block once: a later file naming it finds it in `rows`.
    let mut made: Vec<(BlockHash, u64, String)> = Vec::new();
    for file in files.iter_mut() {
        let Ok(planned) = file else { continue };
        // Live reservations of missing blocks keep their token, unless they
        // have none (made before tokens were) or were made for another size:
        // those are made anew.
        let mut renew = Vec::new();
        for &(hash, size) in &planned.missing {
            match rows.get(&hash) {
                Some((held, Some(token))) if *held == size => {
                    planned.tokens.insert(hash, token.clone());
                }
                Some(_) => renew.push((hash, size)),
                None => {}
            }
        }
        let fresh = match assess(
            used,
            quota,
            &sizes_of(&rows),
            &planned.content,
            &planned.missing,
            planned.growth,
        ) {
            Ok(fresh) => fresh,
            Err(err) => {
                *file = Err(err);
                continue;
            }
        };
        for &(hash, size) in fresh.iter().chain(&renew) {
            let token = new_token();
            // Later files of the batch find it live, and count it.
            rows.insert(hash, (size, Some(token.clone())));
            planned.tokens.insert(hash, token.clone());
            made.push((hash, size, token));
        }
        reserved += fresh.len();
    }
    let expires = now.saturating_add(lifetime);
    for chunk in made.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO upload_reservations (user_id, hash, size, created_at, expires_at, token, uploaded_at) \
             VALUES {} \
             ON CONFLICT (user_id, hash) DO UPDATE \
             SET size = excluded.size, created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 token = excluded.token, uploaded_at = NULL \
             WHERE upload_reservations.expires_at <= excluded.created_at \
                OR upload_reservations.token IS NULL OR upload_reservations.size <> excluded.size",
            value_rows(1, chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for (hash, size, token) in chunk {
            query = query
                .bind(user)
                .bind(hash.to_string())
                .bind(*size as i64)
                .bind(now)
                .bind(expires)
                .bind(token.as_str())
                .bind(None::<i64>);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    if reserved > 0 {
        tracing::debug!(blocks = reserved, "upload reserved");
    }
    Ok(())
}

/// Deletes the user's reservations of `hashes`, expired or not (a commit of
/// those blocks).
async fn release_reservations(tx: &mut Tx, user: UserId, hashes: &[BlockHash]) -> ApiResult<()> {
    let hashes: Vec<String> = hashes.iter().map(ToString::to_string).collect();
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "DELETE FROM upload_reservations WHERE user_id = $1 AND hash IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(user);
        for hash in chunk {
            query = query.bind(hash);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Step 1: which blocks the server lacks, each with a presigned PUT URL.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", security(("bearer" = [])), request_body = CommitRequest,
    responses((status = 200, body = UploadPlan), (status = 400, body = drive_wire::ErrorBody),
        (status = 403, body = drive_wire::ErrorBody, description = "`read_only`: a folder shared with the caller as a viewer"),
        (status = 404, body = drive_wire::ErrorBody, description = "`not_found`: no such folder, or one the caller may not see"),
        (status = 409, body = drive_wire::ErrorBody, description = "`stale_revision` or `name_taken`"),
        (status = 413, body = drive_wire::ErrorBody, description = "`quota_exceeded`")))]
async fn prepare(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CommitRequest>,
) -> ApiResult<Json<UploadPlan>> {
    let plans = prepare_files(&state, auth.user_id, std::slice::from_ref(&req)).await?;
    Ok(Json(single(plans)?))
}

/// Step 3: make the uploaded blocks the file's new revision.
#[utoipa::path(post, path = "/api/v1/commits", tag = "uploads", security(("bearer" = [])), request_body = CommitRequest,
    responses((status = 201, body = Node), (status = 400, body = drive_wire::ErrorBody),
        (status = 403, body = drive_wire::ErrorBody, description = "`read_only`: a folder shared with the caller as a viewer"),
        (status = 404, body = drive_wire::ErrorBody, description = "`not_found`: no such folder, or one the caller may not see"),
        (status = 409, body = drive_wire::ErrorBody, description = "`stale_revision` or `name_taken`"),
        (status = 413, body = drive_wire::ErrorBody, description = "`quota_exceeded`")))]
async fn commit(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CommitRequest>,
) -> ApiResult<(StatusCode, Json<Node>)> {
    let nodes = commit_files(&state, auth.user_id, std::slice::from_ref(&req)).await?;
    Ok((StatusCode::CREATED, Json(single(nodes)?)))
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
