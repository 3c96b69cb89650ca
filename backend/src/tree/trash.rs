//! The trash: what was deleted, until it is restored or purged for good.
//! Purging frees quota; the blocks it leaves unreferenced are for the garbage
//! collector, never deleted inline, since another revision may share them.

use axum::{extract::State, http::StatusCode};
use drive_wire::{ChangeKind, Node, NodeId, UserId};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{owned_node, root_id, NodeRow, NODE_COLUMNS};
use crate::{
    auth::AuthUser,
    changes,
    error::{ApiError, ApiResult, Json, Path},
    state::AppState,
    storage::metadata::Tx,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_trash, empty_trash))
        // Two paths: `routes!` with both would serve each method on both.
        .routes(routes!(restore))
        .routes(routes!(purge))
}

/// What is in the trash: the nodes that were deleted (not their contents).
#[utoipa::path(get, path = "/api/v1/trash", tag = "trash", security(("bearer" = [])),
    responses((status = 200, body = [Node])))]
async fn list_trash(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Vec<Node>>> {
    let rows: Vec<NodeRow> = sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE owner_id = $1 AND trash_root = id ORDER BY trashed_at DESC, id"
    ))
    .bind(auth.user_id)
    .fetch_all(state.db.reader())
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// A node the user trashed (not one that went along inside a trashed folder).
async fn trashed_root(tx: &mut Tx, owner: UserId, id: NodeId) -> ApiResult<NodeRow> {
    let node = owned_node(&mut **tx, owner, id).await?;
    let is_root: Option<i64> = sqlx::query_scalar("SELECT id FROM nodes WHERE id = $1 AND trash_root = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if is_root.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(node)
}

/// Bring a node back with everything that was trashed with it: into its old
/// folder if that is still there, else into the root folder.
#[utoipa::path(post, path = "/api/v1/trash/{id}/restore", tag = "trash", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trashed node id")),
    responses((status = 200, body = Node), (status = 404, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody)))]
async fn restore(State(state): State<AppState>, auth: AuthUser, Path(id): Path<NodeId>) -> ApiResult<Json<Node>> {
    let mut tx = state.db.begin().await?;
    let node = trashed_root(&mut tx, auth.user_id, id).await?;
    let parent_is_live = match node.parent_id {
        Some(parent) => owned_node(&mut *tx, auth.user_id, parent).await?.is_live(),
        None => false,
    };
    let parent = if parent_is_live {
        node.parent_id
    } else {
        Some(root_id(&mut *tx, auth.user_id).await?)
    };
    sqlx::query("UPDATE nodes SET parent_id = $1 WHERE id = $2")
        .bind(parent)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE nodes SET trashed_at = NULL, trash_root = NULL WHERE trash_root = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let audience = changes::append(&mut tx, id, ChangeKind::Restored).await?;
    let node = owned_node(&mut *tx, auth.user_id, id).await?;
    tx.commit().await?;
    state.changes.wake(&audience);
    tracing::info!(node_id = id, "node restored");
    Ok(Json(node.into()))
}

/// Deletes a trashed node and everything under it for good, and frees its quota.
async fn purge_in(tx: &mut Tx, owner: UserId, id: NodeId) -> ApiResult<()> {
    const SUBTREE: &str = "WITH RECURSIVE sub(id) AS ( \
             SELECT $1 UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id)";
    let freed: i64 = sqlx::query_scalar(&format!(
        "{SUBTREE} SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM nodes WHERE kind = 'file' AND id IN (SELECT id FROM sub)"
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(&format!("{SUBTREE} DELETE FROM nodes WHERE id IN (SELECT id FROM sub)"))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE users SET used_bytes = used_bytes - $1 WHERE id = $2")
        .bind(freed)
        .bind(owner)
        .execute(&mut **tx)
        .await?;
    // Grantees lost it when it went to the trash; only the owner's feed
    // still holds it.
    changes::append_for(tx, owner, id, ChangeKind::Purged).await?;
    Ok(())
}

/// Delete a trashed node for good.
#[utoipa::path(delete, path = "/api/v1/trash/{id}", tag = "trash", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Trashed node id")),
    responses((status = 204), (status = 404, body = drive_wire::ErrorBody)))]
async fn purge(State(state): State<AppState>, auth: AuthUser, Path(id): Path<NodeId>) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    trashed_root(&mut tx, auth.user_id, id).await?;
    purge_in(&mut tx, auth.user_id, id).await?;
    tx.commit().await?;
    state.changes.wake(&[auth.user_id]);
    tracing::info!(node_id = id, "node purged");
    Ok(StatusCode::NO_CONTENT)
}

/// Delete everything in the trash for good.
#[utoipa::path(delete, path = "/api/v1/trash", tag = "trash", security(("bearer" = [])),
    responses((status = 204)))]
async fn empty_trash(State(state): State<AppState>, auth: AuthUser) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let roots: Vec<NodeId> = sqlx::query_scalar("SELECT id FROM nodes WHERE owner_id = $1 AND trash_root = id")
        .bind(auth.user_id)
        .fetch_all(&mut *tx)
        .await?;
    for id in &roots {
        // An earlier purge in this loop may already have taken it with its folder.
        let still_there: Option<i64> = sqlx::query_scalar("SELECT id FROM nodes WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if still_there.is_some() {
            purge_in(&mut tx, auth.user_id, *id).await?;
        }
    }
    tx.commit().await?;
    state.changes.wake(&[auth.user_id]);
    tracing::info!(purged = roots.len(), "trash emptied");
    Ok(StatusCode::NO_CONTENT)
}
