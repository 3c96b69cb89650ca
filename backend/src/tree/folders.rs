//! Creating folders: one (`/folders`) or many in one transaction
//! (`/folders/batch`, a level of a new tree at a time), each folder standing
//! or falling on its own with the answer `/folders` would give it. The
//! single route is a batch of one.

use std::collections::BTreeSet;

use axum::{extract::State, http::StatusCode};
use drive_wire::{
    names::validate_name, ChangeKind, CreateFolderRequest, FolderBatch, FolderBatchOutcomes, Node, NodeId, UserId,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    changes,
    error::{ApiResult, Json},
    shares,
    state::AppState,
    storage::metadata::{now_ms, Tx},
    uploads::{begin_item, check_batch_len, end_item, node_outcome, single},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_folder))
        .routes(routes!(create_folder_batch))
}

/// Create a folder.
#[utoipa::path(post, path = "/api/v1/folders", tag = "tree", security(("bearer" = [])), request_body = CreateFolderRequest,
    responses((status = 201, body = Node), (status = 400, body = drive_wire::ErrorBody), (status = 403, body = drive_wire::ErrorBody, description = "`read_only`: in a folder shared with the caller as a viewer"),
        (status = 404, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody, description = "`name_taken`")))]
async fn create_folder(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CreateFolderRequest>,
) -> ApiResult<(StatusCode, Json<Node>)> {
    let nodes = create_folders(&state, auth.user_id, std::slice::from_ref(&req)).await?;
    Ok((StatusCode::CREATED, Json(single(nodes)?)))
}

/// Create many folders, in order, in one transaction: each folder's node,
/// or its own error.
#[utoipa::path(post, path = "/api/v1/folders/batch", tag = "tree", security(("bearer" = [])), request_body = FolderBatch,
    responses((status = 200, description = "One outcome per folder, in request order", body = FolderBatchOutcomes),
        (status = 400, description = "Malformed, empty or too large batch", body = drive_wire::ErrorBody),
        (status = 401, description = "Not signed in", body = drive_wire::ErrorBody)))]
async fn create_folder_batch(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(batch): Json<FolderBatch>,
) -> ApiResult<Json<FolderBatchOutcomes>> {
    check_batch_len(batch.folders.len(), "folders")?;
    let nodes = create_folders(&state, auth.user_id, &batch.folders).await?;
    Ok(Json(FolderBatchOutcomes {
        folders: nodes.into_iter().map(node_outcome).collect(),
    }))
}

/// Creates `reqs` in order in one transaction (the journal's turn taken
/// once), each in a savepoint of its own: a folder's own failure undoes its
/// writes only; the server's fails the whole request.
async fn create_folders(
    state: &AppState,
    user: UserId,
    reqs: &[CreateFolderRequest],
) -> ApiResult<Vec<ApiResult<Node>>> {
    let mut tx = state.db.begin().await?;
    changes::take_journal_turn(&mut tx).await?;
    let mut nodes = Vec::with_capacity(reqs.len());
    let mut audience = BTreeSet::new();
    for req in reqs {
        begin_item(&mut tx).await?;
        let outcome = create_one(&mut tx, user, req).await;
        let outcome = end_item(&mut tx, outcome).await?;
        nodes.push(outcome.map(|(node, users)| {
            audience.extend(users);
            node
        }));
    }
    tx.commit().await?;
    state.changes.wake(&audience.into_iter().collect::<Vec<_>>());
    let created = nodes.iter().filter(|node| node.is_ok()).count();
    tracing::info!(folders = reqs.len(), created, "folders created");
    Ok(nodes)
}

/// One folder, inside the batch's transaction: its node, and who must hear
/// of it.
async fn create_one(tx: &mut Tx, user: UserId, req: &CreateFolderRequest) -> ApiResult<(Node, Vec<UserId>)> {
    let name = validate_name(&req.name)?;
    let parent = shares::writable_folder(tx, user, req.parent_id).await?;
    shares::ensure_no_mount(tx, user, req.parent_id, &name).await?;
    let id: NodeId = sqlx::query_scalar(
        "INSERT INTO nodes (owner_id, parent_id, name, kind, modified, created_at) \
         VALUES ($1, $2, $3, 'folder', $4, $4) RETURNING id",
    )
    .bind(parent.owner_id())
    .bind(req.parent_id)
    .bind(&name)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    let audience = shares::audience(tx, id).await?;
    changes::append_in_turn(tx, &audience, id, ChangeKind::Created).await?;
    let node = shares::visible(tx, user, id).await?.present();
    tracing::debug!(node_id = id, "folder created");
    Ok((node, audience))
}
