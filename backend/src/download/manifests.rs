//! Manifests: the blocks of a file revision in order, each with a presigned
//! GET URL and, for one kept in the database, its bytes. A batch is read with
//! a few statements for all of its files (nodes, revisions, blocks, inline
//! bytes), not a handful per file.

use std::collections::HashMap;

use axum::{extract::State, http::StatusCode};
use drive_wire::{
    BlockHash, Manifest, ManifestBatch, ManifestOutcome, ManifestOutcomes, ManifestRequest, NodeId, NodeKind,
    RevisionId, RevisionQuery, UserId, MAX_BATCH_BLOCKS,
};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Json, Path, Query},
    shares,
    state::AppState,
    storage::{
        inline,
        metadata::{placeholders, to_datetime, Connection, ROWS_PER_STATEMENT},
    },
    tree::{NodeRow, NODE_COLUMNS},
    uploads::{check_batch_len, own, single},
};

/// The blocks of a file revision, in order, each with a presigned GET URL.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/manifest", tag = "downloads", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id"), RevisionQuery),
    responses((status = 200, body = Manifest), (status = 400, body = drive_wire::ErrorBody, description = "`not_a_file`"),
        (status = 404, body = drive_wire::ErrorBody)))]
pub(super) async fn manifest(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
    Query(query): Query<RevisionQuery>,
) -> ApiResult<Json<Manifest>> {
    let file = ManifestRequest {
        id,
        revision: query.revision,
    };
    Ok(Json(single(manifests_of(&state, auth.user_id, &[file]).await?)?))
}

/// Many files' manifests at once (a client downloading many small files):
/// one outcome per file, in request order, each the answer
/// `/nodes/{id}/manifest` would give. A file whose blocks would take the
/// batch past 20,000 is refused on its own (400): ask for it alone.
#[utoipa::path(post, path = "/api/v1/manifests/batch", tag = "downloads", security(("bearer" = [])),
    request_body = ManifestBatch,
    responses((status = 200, description = "One outcome per file, in request order", body = ManifestOutcomes),
        (status = 400, description = "Malformed, empty or too large batch", body = drive_wire::ErrorBody),
        (status = 401, description = "Not signed in", body = drive_wire::ErrorBody)))]
pub(super) async fn manifests(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(batch): Json<ManifestBatch>,
) -> ApiResult<Json<ManifestOutcomes>> {
    check_batch_len(batch.files.len(), "files")?;
    let mut blocks = 0;
    let mut files = Vec::with_capacity(batch.files.len());
    for manifest in manifests_of(&state, auth.user_id, &batch.files).await? {
        let outcome = match own(manifest)? {
            Ok(manifest) if blocks + manifest.blocks.len() > MAX_BATCH_BLOCKS => Err(ApiError::BadRequest(format!(
                "this batch's manifests list more than {MAX_BATCH_BLOCKS} blocks; ask for this one alone"
            ))),
            other => other,
        };
        files.push(match outcome {
            Ok(manifest) => {
                blocks += manifest.blocks.len();
                ManifestOutcome {
                    status: StatusCode::OK.as_u16(),
                    manifest: Some(manifest),
                    error: None,
                }
            }
            Err(err) => ManifestOutcome {
                status: err.status().as_u16(),
                manifest: None,
                error: Some(err.detail()),
            },
        });
    }
    Ok(Json(ManifestOutcomes { files }))
}

/// A revision's size and modification time, and the file it belongs to.
struct RevisionRow {
    node: NodeId,
    size: i64,
    modified: i64,
}

/// The manifests of `files` as `user` may read them, in order: each the
/// manifest of the asked revision (the current one by default) of a file
/// `user` may read, live or trashed, or why not (404, `not_a_file`). The
/// outer error is one the whole batch fails with (the database).
async fn manifests_of(
    state: &AppState,
    user: UserId,
    files: &[ManifestRequest],
) -> ApiResult<Vec<ApiResult<Manifest>>> {
    let db = state.db.reader();
    let mut conn = db.acquire().await?;
    let nodes: HashMap<NodeId, NodeRow> = select_in(
        &mut conn,
        &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id IN (ids)"),
        files.iter().map(|file| file.id),
    )
    .await?
    .into_iter()
    .map(|row: NodeRow| (row.id, row))
    .collect();
    let mut wanted = Vec::with_capacity(files.len());
    for file in files {
        wanted.push(match nodes.get(&file.id) {
            Some(row) => revision_to_read(&mut conn, user, row.clone(), file.revision).await,
            None => Err(ApiError::NotFound),
        });
    }
    let asked = || wanted.iter().filter_map(|revision| revision.as_ref().ok().copied());
    let revisions: HashMap<RevisionId, RevisionRow> = select_in(
        &mut conn,
        "SELECT id, node_id, size, modified FROM revisions WHERE id IN (ids)",
        asked(),
    )
    .await?
    .into_iter()
    .map(|(id, node, size, modified): (RevisionId, NodeId, i64, i64)| (id, RevisionRow { node, size, modified }))
    .collect();
    let mut blocks: HashMap<RevisionId, Vec<(BlockHash, u64)>> = HashMap::new();
    let rows: Vec<(RevisionId, String, i64)> = select_in(
        &mut conn,
        "SELECT rb.revision_id, rb.hash, b.size FROM revision_blocks rb JOIN blocks b ON b.hash = rb.hash \
         WHERE rb.revision_id IN (ids) ORDER BY rb.revision_id, rb.position",
        asked(),
    )
    .await?;
    for (revision, hash, size) in rows {
        let hash = hash
            .parse()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed block hash {hash:?} in the database")))?;
        blocks.entry(revision).or_default().push((hash, size.max(0) as u64));
    }
    drop(conn);
    let all: Vec<(BlockHash, u64)> = blocks.values().flatten().copied().collect();
    let inline = inline::read_many(db, &all).await?;

    let ttl = state.config.presign_ttl();
    let mut manifests = Vec::with_capacity(files.len());
    for (file, wanted) in files.iter().zip(wanted) {
        let revision = match wanted {
            Ok(revision) => revision,
            Err(err) => {
                manifests.push(Err(err));
                continue;
            }
        };
        let Some(row) = revisions.get(&revision).filter(|row| row.node == file.id) else {
            manifests.push(Err(ApiError::NotFound));
            continue;
        };
        let mut listed = Vec::new();
        for &(hash, size) in blocks.get(&revision).map(Vec::as_slice).unwrap_or_default() {
            let mut block = state.blobs.presign_get(hash, size, ttl).await?;
            // Kept in the database: its bytes come with the manifest.
            block.data = inline.get(&hash).map(|bytes| drive_wire::inline_data(bytes));
            listed.push(block);
        }
        manifests.push(Ok(Manifest {
            node_id: file.id,
            revision,
            size: row.size.max(0) as u64,
            modified: to_datetime(row.modified),
            blocks: listed,
        }));
    }
    Ok(manifests)
}

/// The revision of `row` to read for `user`: `revision`, or the current one
/// of a file they may read.
async fn revision_to_read(
    conn: &mut Connection,
    user: UserId,
    row: NodeRow,
    revision: Option<RevisionId>,
) -> ApiResult<RevisionId> {
    let node = shares::view(conn, user, row).await?.ok_or(ApiError::NotFound)?.row;
    if node.kind() != NodeKind::File {
        return Err(ApiError::NotAFile);
    }
    revision.or(node.revision_id).ok_or(ApiError::NotFound)
}

/// The rows of `select` for `ids`: a statement per [`ROWS_PER_STATEMENT`]
/// distinct ids, with its `(ids)` replaced by their placeholders.
async fn select_in<T>(conn: &mut Connection, select: &str, ids: impl Iterator<Item = i64>) -> ApiResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows = Vec::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = select.replace("(ids)", &format!("({})", placeholders(1, chunk.len())));
        let mut query = sqlx::query_as::<_, T>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}
