//! Manifests: the blocks of a file revision in order, each with a presigned
//! GET URL and, for one kept in the database, its bytes. A batch is read with
//! a few statements for all of its files ([`resolve_many`], then the inline
//! bytes), not a handful per file.

use axum::{extract::State, http::StatusCode};
use drive_wire::{
    BlockHash, Manifest, ManifestBatch, ManifestOutcome, ManifestOutcomes, ManifestRequest, RevisionQuery, UserId,
    MAX_BATCH_BLOCKS,
};

use super::resolve::resolve_many;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Json, Path, Query},
    state::AppState,
    storage::{inline, metadata::to_datetime},
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

/// The manifests of `files` as `user` may read them, in order (see
/// [`resolve_many`]), with the bytes of the blocks kept in the database
/// read at once for all of them.
async fn manifests_of(
    state: &AppState,
    user: UserId,
    files: &[ManifestRequest],
) -> ApiResult<Vec<ApiResult<Manifest>>> {
    let resolved = resolve_many(state, user, files).await?;
    let all: Vec<(BlockHash, u64)> = resolved
        .iter()
        .flatten()
        .flat_map(|file| file.blocks.iter().copied())
        .collect();
    let inline = inline::read_many(state.db.reader(), &all).await?;
    let ttl = state.config.presign_ttl();
    let mut manifests = Vec::with_capacity(resolved.len());
    for file in resolved {
        let file = match file {
            Ok(file) => file,
            Err(err) => {
                manifests.push(Err(err));
                continue;
            }
        };
        let mut blocks = Vec::with_capacity(file.blocks.len());
        for (hash, size) in file.blocks {
            let mut block = state.blobs.presign_get(hash, size, ttl).await?;
            // Kept in the database: its bytes come with the manifest.
            block.data = inline.get(&hash).map(|bytes| drive_wire::inline_data(bytes));
            blocks.push(block);
        }
        manifests.push(Ok(Manifest {
            node_id: file.node.id,
            revision: file.revision,
            size: file.size,
            modified: to_datetime(file.modified),
            blocks,
        }));
    }
    Ok(manifests)
}
