//! The file tree: folders, files, their revisions and the trash.
//!
//! Every query is scoped by owner: another user's node reads as not found,
//! exactly like a node that does not exist.

mod folders;
pub mod nodes;
pub mod revisions;
mod trash;

use drive_wire::{Node, NodeId, NodeKind, UserId};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    storage::metadata::to_datetime,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(nodes::router())
        .merge(folders::router())
        .merge(trash::router())
        .merge(revisions::router())
}

pub const NODE_COLUMNS: &str = "id, owner_id, parent_id, name, kind, size, revision_id, modified, trashed_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeRow {
    pub id: NodeId,
    pub owner_id: UserId,
    pub parent_id: Option<NodeId>,
    pub name: String,
    pub kind: String,
    pub size: i64,
    pub revision_id: Option<i64>,
    pub modified: i64,
    pub trashed_at: Option<i64>,
}

/// The `kind` column, which holds only these two values.
pub fn kind_from_column(kind: &str) -> NodeKind {
    if kind == "file" {
        NodeKind::File
    } else {
        NodeKind::Folder
    }
}

impl NodeRow {
    pub fn kind(&self) -> NodeKind {
        kind_from_column(&self.kind)
    }

    pub fn is_live(&self) -> bool {
        self.trashed_at.is_none()
    }
}

/// The node as its owner sees it; [`crate::shares::Visible::present`] gives
/// it as anyone else allowed sees it.
impl From<NodeRow> for Node {
    fn from(row: NodeRow) -> Self {
        Node {
            id: row.id,
            parent_id: row.parent_id,
            kind: row.kind(),
            name: row.name,
            size: row.size.max(0) as u64,
            revision: row.revision_id,
            modified: to_datetime(row.modified),
            trashed_at: row.trashed_at.map(to_datetime),
            read_only: false,
            share_id: None,
        }
    }
}

/// A node of `owner`, live or trashed.
pub async fn owned_node<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    db: E,
    owner: UserId,
    id: NodeId,
) -> ApiResult<NodeRow> {
    sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1 AND owner_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::NotFound)
}

/// The live child named `name` in `parent`, if any.
pub async fn live_child<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    db: E,
    parent: NodeId,
    name: &str,
) -> ApiResult<Option<NodeRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE parent_id = $1 AND name = $2 AND trashed_at IS NULL"
    ))
    .bind(parent)
    .bind(name)
    .fetch_optional(db)
    .await?)
}

pub async fn root_id<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(db: E, owner: UserId) -> ApiResult<NodeId> {
    sqlx::query_scalar("SELECT root_id FROM users WHERE id = $1")
        .bind(owner)
        .fetch_one(db)
        .await
        .map_err(ApiError::from)
}
