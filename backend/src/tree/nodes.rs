//! Reading the tree, creating folders, renaming, moving and trashing.

use axum::{extract::State, http::StatusCode};
use drive_wire::{
    names::{split_path, validate_name},
    ChangeKind, ListQuery, Node, NodeId, NodeKind, PathQuery, SortKey, SortOrder, UpdateNodeRequest, UserId,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{live_child, root_id, NodeRow, NODE_COLUMNS};
use crate::{
    auth::AuthUser,
    changes,
    error::{ApiError, ApiResult, Json, Path, Query},
    shares,
    state::AppState,
    storage::metadata::{now_ms, Tx},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_node, update_node, trash_node))
        .routes(routes!(list_children))
        .routes(routes!(lookup))
}

/// A file or folder.
#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Node id")),
    responses((status = 200, body = Node), (status = 404, body = drive_wire::ErrorBody)))]
async fn get_node(State(state): State<AppState>, auth: AuthUser, Path(id): Path<NodeId>) -> ApiResult<Json<Node>> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(Json(shares::visible(&mut conn, auth.user_id, id).await?.present()))
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
    let mut conn = state.db.reader().acquire().await?;
    let folder = shares::visible(&mut conn, auth.user_id, id).await?.live()?.folder()?;
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
        "SELECT {NODE_COLUMNS} FROM nodes WHERE parent_id = $1 AND trashed_at IS NULL \
         ORDER BY kind = 'file', {column} {order}, name {order}, id"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    // Children are seen through the same share as their folder.
    let mut nodes: Vec<Node> = rows
        .into_iter()
        .map(|row| {
            shares::Visible {
                row,
                grant: folder.grant.clone(),
            }
            .present()
        })
        .collect();
    let mounts = shares::mounts_in(&mut conn, auth.user_id, id).await?;
    if !mounts.is_empty() {
        nodes.extend(mounts.into_iter().map(shares::Visible::present));
        nodes.sort_by(|a, b| {
            let by_column = match query.sort {
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Size => a.size.cmp(&b.size),
                SortKey::Modified => a.modified.cmp(&b.modified),
            }
            .then_with(|| a.name.cmp(&b.name));
            let by_column = match query.order {
                SortOrder::Asc => by_column,
                SortOrder::Desc => by_column.reverse(),
            };
            (a.kind == NodeKind::File)
                .cmp(&(b.kind == NodeKind::File))
                .then(by_column)
        });
    }
    Ok(Json(nodes))
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
    let mut conn = state.db.reader().acquire().await?;
    let mut node = root_id(&mut *conn, auth.user_id).await?;
    let mut kind = NodeKind::Folder;
    for name in names {
        if kind != NodeKind::Folder {
            return Err(ApiError::NotFound);
        }
        let child = match live_child(&mut *conn, node, &name).await? {
            Some(child) => child,
            None => {
                shares::mount_named(&mut conn, auth.user_id, node, &name)
                    .await?
                    .ok_or(ApiError::NotFound)?
                    .row
            }
        };
        (node, kind) = (child.id, child.kind());
    }
    Ok(Json(shares::visible(&mut conn, auth.user_id, node).await?.present()))
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
    responses((status = 200, body = Node), (status = 400, body = drive_wire::ErrorBody, description = "`invalid_name`, `invalid_move`, `cross_owner_move`, `not_a_folder`"),
        (status = 403, body = drive_wire::ErrorBody, description = "`read_only`: in a folder shared with the caller as a viewer"), (status = 404, body = drive_wire::ErrorBody),
        (status = 409, body = drive_wire::ErrorBody, description = "`name_taken`")))]
async fn update_node(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<NodeId>,
    Json(req): Json<UpdateNodeRequest>,
) -> ApiResult<Json<Node>> {
    let new_name = req.name.as_deref().map(validate_name).transpose()?;
    let mut tx = state.db.begin().await?;
    let node = shares::visible(&mut tx, auth.user_id, id).await?.live()?;
    if let (true, Some(grant)) = (node.is_mount(), &node.grant) {
        // A grantee's mount lives in their root only; its name is theirs.
        if req.parent_id.is_some_and(|parent| parent != grant.mount_parent) {
            return Err(ApiError::CrossOwnerMove);
        }
        if let Some(name) = new_name.filter(|name| *name != grant.mount_name) {
            shares::rename_mount(&mut tx, auth.user_id, grant.share_id, id, &name).await?;
        }
        let node = shares::visible(&mut tx, auth.user_id, id).await?.present();
        tx.commit().await?;
        state.changes.wake(&[auth.user_id]);
        return Ok(Json(node));
    }
    let node = node.writable()?;
    let Some(current_parent) = node.row.parent_id else {
        return Err(ApiError::InvalidMove("the root folder cannot be renamed or moved"));
    };
    let parent = req.parent_id.unwrap_or(current_parent);
    if parent != current_parent {
        let destination = shares::writable_folder(&mut tx, auth.user_id, parent).await?;
        // Content stays with its owner: their quota, their trash.
        if destination.owner_id() != node.owner_id() {
            return Err(ApiError::CrossOwnerMove);
        }
        if is_ancestor_or_self(&mut tx, id, parent).await? {
            return Err(ApiError::InvalidMove("a folder cannot be moved into itself"));
        }
    }
    let name = new_name.unwrap_or_else(|| node.row.name.clone());
    if parent == current_parent && name == node.row.name {
        tx.commit().await?;
        return Ok(Json(node.present()));
    }
    shares::ensure_no_mount(&mut tx, auth.user_id, parent, &name).await?;
    let before = shares::audience(&mut tx, id).await?;
    sqlx::query("UPDATE nodes SET parent_id = $1, name = $2 WHERE id = $3")
        .bind(parent)
        .bind(&name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let mut audience = changes::append(&mut tx, id, ChangeKind::Moved).await?;
    // Moved into a share: its new grantees learn the whole subtree.
    for &user in audience.iter().filter(|user| !before.contains(user)) {
        changes::append_subtree(&mut tx, user, id, ChangeKind::Created).await?;
    }
    // Moved out of a share: its grantees read this change as the node gone.
    let left: Vec<UserId> = before.into_iter().filter(|user| !audience.contains(user)).collect();
    for &user in &left {
        changes::append_for(&mut tx, user, id, ChangeKind::Moved).await?;
    }
    audience.extend(left);
    let node = shares::visible(&mut tx, auth.user_id, id).await?.present();
    tx.commit().await?;
    state.changes.wake(&audience);
    tracing::info!(node_id = id, parent_id = parent, "node moved");
    Ok(Json(node))
}

/// Move a file or folder, with everything under it, to the trash.
#[utoipa::path(delete, path = "/api/v1/nodes/{id}", tag = "tree", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Node id")),
    responses((status = 204), (status = 400, body = drive_wire::ErrorBody, description = "`invalid_move`: the root folder"),
        (status = 403, body = drive_wire::ErrorBody, description = "`read_only`: in a folder shared with the caller as a viewer"), (status = 404, body = drive_wire::ErrorBody)))]
async fn trash_node(State(state): State<AppState>, auth: AuthUser, Path(id): Path<NodeId>) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let node = shares::visible(&mut tx, auth.user_id, id).await?.live()?;
    if let (true, Some(grant)) = (node.is_mount(), &node.grant) {
        // A grantee deleting the whole share from their tree leaves it; the
        // owner's content is untouched.
        shares::leave(&mut tx, auth.user_id, grant.share_id).await?;
        tx.commit().await?;
        state.changes.wake(&[auth.user_id]);
        return Ok(StatusCode::NO_CONTENT);
    }
    let node = node.writable()?;
    if node.row.parent_id.is_none() {
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
    let audience = changes::append(&mut tx, id, ChangeKind::Trashed).await?;
    tx.commit().await?;
    state.changes.wake(&audience);
    tracing::info!(node_id = id, "node trashed");
    Ok(StatusCode::NO_CONTENT)
}
