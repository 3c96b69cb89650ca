//! Reading the tree, creating folders, renaming, moving and trashing.

use axum::{extract::State, http::StatusCode};
use drive_wire::{
    names::{split_path, validate_name},
    ChangeKind, CreateFolderRequest, ListQuery, Node, NodeId, NodeKind, PathQuery, SortKey, SortOrder,
    UpdateNodeRequest, UserId,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{live_child, live_folder, owned_node, root_id, NodeRow, NODE_COLUMNS};
use crate::{
    auth::AuthUser,
    changes,
    error::{ApiError, ApiResult, Json, Path, Query},
    state::AppState,
    storage::metadata::{now_ms, Tx},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_node, update_node, trash_node))
        .routes(routes!(list_children))
        .routes(routes!(lookup))
        .routes(routes!(create_folder))
}

/// A file or folder.
#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Node id")),
    responses((status = 200, body = Node), (status = 404, body = drive_wire::ErrorBody)))]
async fn get_node(State(state): State<AppState>, auth: AuthUser, Path(id): Path<NodeId>) -> ApiResult<Json<Node>> {
    Ok(Json(owned_node(state.db.reader(), auth.user_id, id).await?.into()))
}

/// The live contents of a folder, folders first, then sorted as asked.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/children", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Folder id"), ListQuery),
    responses((status = 200, body = [Node]), (status = 400, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn list_children(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<NodeId>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<Node>>> {
    live_folder(state.db.reader(), auth.user_id, id).await?;
    // Both parts come from fixed strings, never from the request.
    let column = match query.sort {
        SortKey::Name => "name",
        SortKey::Size => "size",
        SortKey::Modified => "modified",
    };
    let order = match query.order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    let rows: Vec<NodeRow> = sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE parent_id = $1 AND owner_id = $2 AND trashed_at IS NULL \
         ORDER BY kind = 'file', {column} {order}, name {order}, id"
    ))
    .bind(id)
    .bind(auth.user_id)
    .fetch_all(state.db.reader())
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Find a live node by its path from the root folder.
#[utoipa::path(get, path = "/api/v1/lookup", tag = "tree", security(("bearer" = [])), params(PathQuery),
    responses((status = 200, body = Node), (status = 400, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn lookup(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<PathQuery>,
) -> ApiResult<Json<Node>> {
    let names = split_path(&query.path)?;
    let db = state.db.reader();
    let mut node = owned_node(db, auth.user_id, root_id(db, auth.user_id).await?).await?;
    for name in names {
        if node.kind() != NodeKind::Folder {
            return Err(ApiError::NotFound);
        }
        node = live_child(db, node.id, &name).await?.ok_or(ApiError::NotFound)?;
    }
    Ok(Json(node.into()))
}

/// Create a folder.
#[utoipa::path(post, path = "/api/v1/folders", tag = "tree", security(("bearer" = [])), request_body = CreateFolderRequest,
    responses((status = 201, body = Node), (status = 400, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody)))]
async fn create_folder(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CreateFolderRequest>,
) -> ApiResult<(StatusCode, Json<Node>)> {
    let name = validate_name(&req.name)?;
    let mut tx = state.db.begin().await?;
    live_folder(&mut *tx, auth.user_id, req.parent_id).await?;
    let now = now_ms();
    let id: NodeId = sqlx::query_scalar(
        "INSERT INTO nodes (owner_id, parent_id, name, kind, modified, created_at) \
         VALUES ($1, $2, $3, 'folder', $4, $4) RETURNING id",
    )
    .bind(auth.user_id)
    .bind(req.parent_id)
    .bind(&name)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    changes::append(&mut tx, auth.user_id, id, ChangeKind::Created).await?;
    let node = owned_node(&mut *tx, auth.user_id, id).await?;
    tx.commit().await?;
    state.changes.wake(auth.user_id);
    tracing::info!(node_id = id, "folder created");
    Ok((StatusCode::CREATED, Json(node.into())))
}

/// Whether `ancestor` is `node` or one of the folders above it.
async fn is_ancestor_or_self(tx: &mut Tx, ancestor: NodeId, node: NodeId) -> ApiResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "WITH RECURSIVE up(id, parent_id) AS ( \
             SELECT id, parent_id FROM nodes WHERE id = $1 \
             UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id) \
         SELECT id FROM up WHERE id = $2",
    )
    .bind(node)
    .bind(ancestor)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// Rename and/or move a file or folder.
#[utoipa::path(patch, path = "/api/v1/nodes/{id}", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Node id")), request_body = UpdateNodeRequest,
    responses((status = 200, body = Node), (status = 400, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody)))]
async fn update_node(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<NodeId>,
    Json(req): Json<UpdateNodeRequest>,
) -> ApiResult<Json<Node>> {
    let new_name = req.name.as_deref().map(validate_name).transpose()?;
    let mut tx = state.db.begin().await?;
    let node = live_node(&mut tx, auth.user_id, id).await?;
    let Some(current_parent) = node.parent_id else {
        return Err(ApiError::InvalidMove("the root folder cannot be renamed or moved"));
    };
    let parent = req.parent_id.unwrap_or(current_parent);
    if parent != current_parent {
        live_folder(&mut *tx, auth.user_id, parent).await?;
        if is_ancestor_or_self(&mut tx, id, parent).await? {
            return Err(ApiError::InvalidMove("a folder cannot be moved into itself"));
        }
    }
    let name = new_name.unwrap_or_else(|| node.name.clone());
    if parent == current_parent && name == node.name {
        tx.commit().await?;
        return Ok(Json(node.into()));
    }
    sqlx::query("UPDATE nodes SET parent_id = $1, name = $2 WHERE id = $3")
        .bind(parent)
        .bind(&name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    changes::append(&mut tx, auth.user_id, id, ChangeKind::Moved).await?;
    let node = owned_node(&mut *tx, auth.user_id, id).await?;
    tx.commit().await?;
    state.changes.wake(auth.user_id);
    tracing::info!(node_id = id, parent_id = parent, "node moved");
    Ok(Json(node.into()))
}

/// A node of `owner` that is not in the trash.
pub async fn live_node(tx: &mut Tx, owner: UserId, id: NodeId) -> ApiResult<NodeRow> {
    let node = owned_node(&mut **tx, owner, id).await?;
    if !node.is_live() {
        return Err(ApiError::NotFound);
    }
    Ok(node)
}

/// Move a file or folder, with everything under it, to the trash.
#[utoipa::path(delete, path = "/api/v1/nodes/{id}", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Node id")),
    responses((status = 204), (status = 400, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn trash_node(State(state): State<AppState>, auth: AuthUser, Path(id): Path<NodeId>) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let node = live_node(&mut tx, auth.user_id, id).await?;
    if node.parent_id.is_none() {
        return Err(ApiError::InvalidMove("the root folder cannot be trashed"));
    }
    sqlx::query(
        "WITH RECURSIVE sub(id) AS ( \
             SELECT $1 \
             UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id WHERE n.trashed_at IS NULL) \
         UPDATE nodes SET trashed_at = $2, trash_root = $1 WHERE id IN (SELECT id FROM sub)",
    )
    .bind(id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    changes::append(&mut tx, auth.user_id, id, ChangeKind::Trashed).await?;
    tx.commit().await?;
    state.changes.wake(auth.user_id);
    tracing::info!(node_id = id, "node trashed");
    Ok(StatusCode::NO_CONTENT)
}
