//! Who may do what to a node. Every route that touches the tree asks here, so
//! the rule lives in one place: the owner may do anything; a grantee may read
//! everything under a share they accepted, and write there if they are an
//! editor; anyone else is told the node does not exist.

use crate::storage::metadata::Connection;
use drive_wire::{Node, NodeId, NodeKind, ShareId, ShareRole, UserId};

use crate::{
    error::{ApiError, ApiResult},
    tree::{NodeRow, NODE_COLUMNS},
};

/// The nearest share above (or on) a node that the viewer accepted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Grant {
    pub share_id: ShareId,
    role: String,
    /// The shared node: the top of what the grantee sees.
    pub share_root: NodeId,
    pub mount_name: String,
    /// The grantee's root folder, where the share is mounted.
    pub mount_parent: NodeId,
}

impl Grant {
    pub fn role(&self) -> ShareRole {
        role_from_name(&self.role)
    }
}

pub fn role_name(role: ShareRole) -> &'static str {
    match role {
        ShareRole::Viewer => "viewer",
        ShareRole::Editor => "editor",
    }
}

pub fn role_from_name(name: &str) -> ShareRole {
    // The column is constrained to these two values; read anything else as
    // the weaker role.
    if name == "editor" {
        ShareRole::Editor
    } else {
        ShareRole::Viewer
    }
}

/// A node as one viewer may see it.
#[derive(Debug, Clone)]
pub struct Visible {
    pub row: NodeRow,
    /// `None` when the viewer owns the node.
    pub grant: Option<Grant>,
}

impl Visible {
    pub fn is_owner(&self) -> bool {
        self.grant.is_none()
    }

    pub fn can_write(&self) -> bool {
        self.grant.as_ref().is_none_or(|g| g.role() == ShareRole::Editor)
    }

    /// The root of a share, as its grantee sees it: a mount in their tree.
    pub fn is_mount(&self) -> bool {
        self.grant.as_ref().is_some_and(|g| g.share_root == self.row.id)
    }

    /// Another node seen through the same share (a child of this folder).
    pub fn with_row(self, row: NodeRow) -> Self {
        Visible { row, grant: self.grant }
    }

    pub fn owner_id(&self) -> UserId {
        self.row.owner_id
    }

    /// Refuses writes of a viewer.
    pub fn writable(self) -> ApiResult<Self> {
        if self.can_write() {
            Ok(self)
        } else {
            Err(ApiError::ReadOnly)
        }
    }

    pub fn live(self) -> ApiResult<Self> {
        if self.row.is_live() {
            Ok(self)
        } else {
            Err(ApiError::NotFound)
        }
    }

    pub fn folder(self) -> ApiResult<Self> {
        if self.row.kind() == NodeKind::Folder {
            Ok(self)
        } else {
            Err(ApiError::NotAFolder)
        }
    }

    /// The wire form for this viewer: a share's root shows where it is
    /// mounted in their tree, and a viewer's nodes say they are read-only.
    pub fn present(self) -> Node {
        let mount = self.is_mount();
        let read_only = !self.can_write();
        let mut node: Node = self.row.into();
        node.read_only = read_only;
        if let (true, Some(grant)) = (mount, self.grant) {
            node.parent_id = Some(grant.mount_parent);
            node.name = grant.mount_name;
            node.share_id = Some(grant.share_id);
        }
        node
    }
}

/// The nearest accepted share of `viewer` on `node` or one of its ancestors.
async fn grant(conn: &mut Connection, viewer: UserId, node: NodeId) -> ApiResult<Option<Grant>> {
    Ok(sqlx::query_as(
        "WITH RECURSIVE up(id, parent_id, depth) AS ( \
             SELECT id, parent_id, 0 FROM nodes WHERE id = $1 \
             UNION ALL SELECT n.id, n.parent_id, up.depth + 1 FROM nodes n JOIN up ON n.id = up.parent_id) \
         SELECT s.id AS share_id, s.role, s.node_id AS share_root, s.mount_name, u.root_id AS mount_parent \
         FROM up JOIN shares s ON s.node_id = up.id JOIN users u ON u.id = s.grantee_id \
         WHERE s.grantee_id = $2 AND s.accepted_at IS NOT NULL \
         ORDER BY up.depth LIMIT 1",
    )
    .bind(node)
    .bind(viewer)
    .fetch_optional(conn)
    .await?)
}

/// `row` as `viewer` may see it, or `None` if they may not.
pub async fn view(conn: &mut Connection, viewer: UserId, row: NodeRow) -> ApiResult<Option<Visible>> {
    if row.owner_id == viewer {
        return Ok(Some(Visible { row, grant: None }));
    }
    Ok(grant(conn, viewer, row.id).await?.map(|grant| Visible {
        row,
        grant: Some(grant),
    }))
}

/// A node `viewer` may read, live or trashed; 404 for anyone else, exactly as
/// for a node that does not exist.
pub async fn visible(conn: &mut Connection, viewer: UserId, id: NodeId) -> ApiResult<Visible> {
    let row: NodeRow = sqlx::query_as(&format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ApiError::NotFound)?;
    view(conn, viewer, row).await?.ok_or(ApiError::NotFound)
}

/// A live folder `viewer` may put things in.
pub async fn writable_folder(conn: &mut Connection, viewer: UserId, id: NodeId) -> ApiResult<Visible> {
    visible(conn, viewer, id).await?.live()?.folder()?.writable()
}

/// The share mounted as `name` in `folder`, if `folder` is `viewer`'s root.
pub async fn mount_named(
    conn: &mut Connection,
    viewer: UserId,
    folder: NodeId,
    name: &str,
) -> ApiResult<Option<Visible>> {
    let node: Option<NodeId> = sqlx::query_scalar(
        "SELECT s.node_id FROM shares s JOIN users u ON u.id = s.grantee_id \
         WHERE s.grantee_id = $1 AND u.root_id = $2 AND s.mount_name = $3 AND s.accepted_at IS NOT NULL",
    )
    .bind(viewer)
    .bind(folder)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    match node {
        Some(id) => Ok(Some(visible(conn, viewer, id).await?)),
        None => Ok(None),
    }
}

/// Refuses `name` in `folder` when a share is mounted there under that name,
/// as the unique index does for real children.
pub async fn ensure_no_mount(conn: &mut Connection, viewer: UserId, folder: NodeId, name: &str) -> ApiResult<()> {
    match mount_named(conn, viewer, folder, name).await? {
        Some(_) => Err(ApiError::NameTaken),
        None => Ok(()),
    }
}

/// The live shares mounted in `folder` (only ever `viewer`'s root).
pub async fn mounts_in(conn: &mut Connection, viewer: UserId, folder: NodeId) -> ApiResult<Vec<Visible>> {
    let ids: Vec<NodeId> = sqlx::query_scalar(
        "SELECT s.node_id FROM shares s JOIN users u ON u.id = s.grantee_id JOIN nodes n ON n.id = s.node_id \
         WHERE s.grantee_id = $1 AND u.root_id = $2 AND s.accepted_at IS NOT NULL AND n.trashed_at IS NULL",
    )
    .bind(viewer)
    .bind(folder)
    .fetch_all(&mut *conn)
    .await?;
    let mut mounts = Vec::with_capacity(ids.len());
    for id in ids {
        mounts.push(visible(conn, viewer, id).await?);
    }
    Ok(mounts)
}

/// Everyone whose tree holds `node`: its owner and every grantee of an
/// accepted share on it or above it. Their feeds get its changes.
pub async fn audience(conn: &mut Connection, node: NodeId) -> ApiResult<Vec<UserId>> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE up(id, parent_id) AS ( \
             SELECT id, parent_id FROM nodes WHERE id = $1 \
             UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id) \
         SELECT owner_id FROM nodes WHERE id = $1 \
         UNION SELECT s.grantee_id FROM shares s JOIN up ON s.node_id = up.id WHERE s.accepted_at IS NOT NULL",
    )
    .bind(node)
    .fetch_all(conn)
    .await?)
}
