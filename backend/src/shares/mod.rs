//! Sharing with people: an owner shares a file or folder with another user as
//! viewer or editor; the grantee accepts, and it is mounted in their root
//! folder, so that its subtree reads, syncs and changes like their own. The
//! access rule every tree route follows is in [`access`].

mod access;

use crate::storage::metadata::Connection;
use axum::{extract::State, http::StatusCode};
use drive_wire::{
    AuditKind, ChangeKind, CreateShareRequest, NodeId, Share, ShareId, ShareList, ShareRole, UpdateShareRequest, UserId,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use access::{audience, ensure_no_mount, mount_named, mounts_in, view, visible, writable_folder, Visible};
use access::{role_from_name, role_name};

use crate::{
    audit,
    auth::{normalize_email, AuthUser},
    changes,
    error::{ApiError, ApiResult, Json, Path},
    state::AppState,
    storage::metadata::{now_ms, to_datetime, Tx},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(update, delete))
        .routes(routes!(accept))
}

const SHARE_COLUMNS: &str = "s.id, s.node_id, n.name, n.kind, s.role, s.owner_id, o.email AS owner_email, \
     s.grantee_id, g.email AS grantee_email, s.created_at, s.accepted_at, s.mount_name";
const SHARE_FROM: &str =
    "shares s JOIN nodes n ON n.id = s.node_id JOIN users o ON o.id = s.owner_id JOIN users g ON g.id = s.grantee_id";

#[derive(Debug, sqlx::FromRow)]
struct ShareRow {
    id: ShareId,
    node_id: NodeId,
    name: String,
    kind: String,
    role: String,
    owner_id: UserId,
    owner_email: String,
    grantee_id: UserId,
    grantee_email: String,
    created_at: i64,
    accepted_at: Option<i64>,
    mount_name: Option<String>,
}

impl ShareRow {
    fn role(&self) -> ShareRole {
        role_from_name(&self.role)
    }
}

impl From<ShareRow> for Share {
    fn from(row: ShareRow) -> Self {
        Share {
            id: row.id,
            node_id: row.node_id,
            role: row.role(),
            kind: crate::tree::kind_from_column(&row.kind),
            name: row.name,
            owner_id: row.owner_id,
            owner_email: row.owner_email,
            grantee_id: row.grantee_id,
            grantee_email: row.grantee_email,
            created_at: to_datetime(row.created_at),
            accepted_at: row.accepted_at.map(to_datetime),
            mount_name: row.mount_name,
        }
    }
}

/// A share the caller is party to (owner or grantee); 404 for anyone else.
async fn share_of(conn: &mut Connection, caller: UserId, id: ShareId) -> ApiResult<ShareRow> {
    sqlx::query_as(&format!(
        "SELECT {SHARE_COLUMNS} FROM {SHARE_FROM} WHERE s.id = $1 AND (s.owner_id = $2 OR s.grantee_id = $2)"
    ))
    .bind(id)
    .bind(caller)
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::NotFound)
}

struct ShareEvent<'a> {
    share: &'a ShareRow,
    kind: AuditKind,
    actor: UserId,
    role: ShareRole,
}

async fn record(tx: &mut Tx, event: ShareEvent<'_>) -> ApiResult<()> {
    audit::record(
        tx,
        audit::Event {
            owner_id: event.share.owner_id,
            kind: event.kind,
            actor_id: Some(event.actor),
            node_id: Some(event.share.node_id),
            link_id: None,
            share_id: Some(event.share.id),
            ip: None,
            detail: Some(format!("{} as {}", event.share.grantee_email, role_name(event.role))),
        },
    )
    .await
}

/// Share a file or folder with another user, or change the role of an
/// existing share of it with them.
#[utoipa::path(post, path = "/api/v1/shares", tag = "shares", security(("bearer" = [])), request_body = CreateShareRequest,
    responses((status = 201, body = Share), (status = 400, body = drive_wire::ErrorBody), (status = 403, body = drive_wire::ErrorBody),
        (status = 404, body = drive_wire::ErrorBody), (status = 409, body = drive_wire::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<CreateShareRequest>,
) -> ApiResult<(StatusCode, Json<Share>)> {
    let email = normalize_email(&req.email)?;
    let mut tx = state.db.begin().await?;
    let node = visible(&mut tx, auth.user_id, req.node_id).await?.live()?;
    if !node.is_owner() {
        return Err(ApiError::OwnerOnly);
    }
    if node.row.parent_id.is_none() {
        return Err(ApiError::BadRequest("the root folder cannot be shared".into()));
    }
    let grantee: UserId = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::UnknownUser)?;
    if grantee == auth.user_id {
        return Err(ApiError::BadRequest("you cannot share with yourself".into()));
    }
    // One share per node and grantee at most, and none nested in another,
    // accepted or not: the grantee would see the inner one twice.
    let nested: Option<ShareId> = sqlx::query_scalar(
        "WITH RECURSIVE up(id, parent_id) AS ( \
             SELECT id, parent_id FROM nodes WHERE id = (SELECT parent_id FROM nodes WHERE id = $1) \
             UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id), \
         sub(id) AS ( \
             SELECT id FROM nodes WHERE parent_id = $1 \
             UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) \
         SELECT s.id FROM shares s WHERE s.grantee_id = $2 \
         AND (s.node_id IN (SELECT id FROM up) OR s.node_id IN (SELECT id FROM sub)) LIMIT 1",
    )
    .bind(req.node_id)
    .bind(grantee)
    .fetch_optional(&mut *tx)
    .await?;
    if nested.is_some() {
        return Err(ApiError::AlreadyShared);
    }
    let id: ShareId = sqlx::query_scalar(
        "INSERT INTO shares (node_id, owner_id, grantee_id, role, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (node_id, grantee_id) DO UPDATE SET role = excluded.role RETURNING id",
    )
    .bind(req.node_id)
    .bind(auth.user_id)
    .bind(grantee)
    .bind(role_name(req.role))
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await?;
    let share = share_of(&mut tx, auth.user_id, id).await?;
    // The role may have changed on an accepted share: the grantee's feed
    // must carry the new read-only flags.
    if share.accepted_at.is_some() {
        changes::append_subtree(&mut tx, grantee, req.node_id, ChangeKind::Updated).await?;
    }
    record(
        &mut tx,
        ShareEvent {
            share: &share,
            kind: AuditKind::ShareCreated,
            actor: auth.user_id,
            role: req.role,
        },
    )
    .await?;
    tx.commit().await?;
    state.changes.wake(&[grantee]);
    tracing::info!(share_id = id, node_id = req.node_id, grantee, "shared");
    Ok((StatusCode::CREATED, Json(share.into())))
}

/// What the caller shares with others and what others share with them,
/// newest first.
#[utoipa::path(get, path = "/api/v1/shares", tag = "shares", security(("bearer" = [])),
    responses((status = 200, body = ShareList)))]
async fn list(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<ShareList>> {
    let rows: Vec<ShareRow> = sqlx::query_as(&format!(
        "SELECT {SHARE_COLUMNS} FROM {SHARE_FROM} WHERE s.owner_id = $1 OR s.grantee_id = $1 ORDER BY s.id DESC"
    ))
    .bind(auth.user_id)
    .fetch_all(state.db.reader())
    .await?;
    let (mine, theirs): (Vec<ShareRow>, Vec<ShareRow>) = rows.into_iter().partition(|r| r.owner_id == auth.user_id);
    Ok(Json(ShareList {
        shared_by_me: mine.into_iter().map(Into::into).collect(),
        shared_with_me: theirs.into_iter().map(Into::into).collect(),
    }))
}

/// Change the role of a share (its owner only).
#[utoipa::path(patch, path = "/api/v1/shares/{id}", tag = "shares", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Share id")), request_body = UpdateShareRequest,
    responses((status = 200, body = Share), (status = 403, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<ShareId>,
    Json(req): Json<UpdateShareRequest>,
) -> ApiResult<Json<Share>> {
    let mut tx = state.db.begin().await?;
    let share = share_of(&mut tx, auth.user_id, id).await?;
    if share.owner_id != auth.user_id {
        return Err(ApiError::OwnerOnly);
    }
    if share.role() == req.role {
        return Ok(Json(share.into()));
    }
    sqlx::query("UPDATE shares SET role = $1 WHERE id = $2")
        .bind(role_name(req.role))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if share.accepted_at.is_some() {
        changes::append_subtree(&mut tx, share.grantee_id, share.node_id, ChangeKind::Updated).await?;
    }
    record(
        &mut tx,
        ShareEvent {
            share: &share,
            kind: AuditKind::ShareRoleChanged,
            actor: auth.user_id,
            role: req.role,
        },
    )
    .await?;
    let updated = share_of(&mut tx, auth.user_id, id).await?;
    tx.commit().await?;
    state.changes.wake(&[share.grantee_id]);
    tracing::info!(share_id = id, role = role_name(req.role), "share role changed");
    Ok(Json(updated.into()))
}

/// Accept a share: it appears in the caller's root folder, under its own name
/// or, when that is taken there, a numbered one.
#[utoipa::path(post, path = "/api/v1/shares/{id}/accept", tag = "shares", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Share id")),
    responses((status = 200, body = Share), (status = 404, body = drive_wire::ErrorBody)))]
async fn accept(State(state): State<AppState>, auth: AuthUser, Path(id): Path<ShareId>) -> ApiResult<Json<Share>> {
    let mut tx = state.db.begin().await?;
    let share = share_of(&mut tx, auth.user_id, id).await?;
    if share.grantee_id != auth.user_id {
        return Err(ApiError::NotFound);
    }
    if share.accepted_at.is_some() {
        return Ok(Json(share.into()));
    }
    let root = crate::tree::root_id(&mut *tx, auth.user_id).await?;
    let mount_name = free_name(&mut tx, auth.user_id, root, &share.name).await?;
    sqlx::query("UPDATE shares SET accepted_at = $1, mount_name = $2 WHERE id = $3")
        .bind(now_ms())
        .bind(&mount_name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    changes::append_subtree(&mut tx, auth.user_id, share.node_id, ChangeKind::Created).await?;
    record(
        &mut tx,
        ShareEvent {
            share: &share,
            kind: AuditKind::ShareAccepted,
            actor: auth.user_id,
            role: share.role(),
        },
    )
    .await?;
    let accepted = share_of(&mut tx, auth.user_id, id).await?;
    tx.commit().await?;
    state.changes.wake(&[auth.user_id]);
    tracing::info!(share_id = id, mount_name, "share accepted");
    Ok(Json(accepted.into()))
}

/// `name`, or `name (2)`, `name (3)`... before the extension: the first that
/// is free in `folder` for `user`.
async fn free_name(tx: &mut Tx, user: UserId, folder: NodeId, name: &str) -> ApiResult<String> {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 1u32.. {
        let candidate = if n == 1 {
            name.to_owned()
        } else {
            format!("{stem} ({n}){ext}")
        };
        let taken = crate::tree::live_child(&mut **tx, folder, &candidate).await?.is_some()
            || mount_named(tx, user, folder, &candidate).await?.is_some();
        if !taken {
            return Ok(candidate);
        }
    }
    unreachable!("some numbered name is free")
}

/// Revoke a share (its owner) or leave it (its grantee). Either way it leaves
/// the grantee's tree; nothing of the owner's content changes.
#[utoipa::path(delete, path = "/api/v1/shares/{id}", tag = "shares", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Share id")),
    responses((status = 204), (status = 404, body = drive_wire::ErrorBody)))]
async fn delete(State(state): State<AppState>, auth: AuthUser, Path(id): Path<ShareId>) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let share = share_of(&mut tx, auth.user_id, id).await?;
    end(&mut tx, &share, auth.user_id).await?;
    tx.commit().await?;
    state.changes.wake(&[share.grantee_id]);
    Ok(StatusCode::NO_CONTENT)
}

/// The grantee trashed or deleted the mount: they leave the share.
pub async fn leave(tx: &mut Tx, grantee: UserId, share_id: ShareId) -> ApiResult<()> {
    let share = share_of(tx, grantee, share_id).await?;
    end(tx, &share, grantee).await
}

async fn end(tx: &mut Tx, share: &ShareRow, actor: UserId) -> ApiResult<()> {
    sqlx::query("DELETE FROM shares WHERE id = $1")
        .bind(share.id)
        .execute(&mut **tx)
        .await?;
    if share.accepted_at.is_some() {
        changes::append_for(tx, share.grantee_id, share.node_id, ChangeKind::Purged).await?;
    }
    let kind = if actor == share.owner_id {
        AuditKind::ShareRevoked
    } else {
        AuditKind::ShareLeft
    };
    record(
        tx,
        ShareEvent {
            share,
            kind,
            actor,
            role: share.role(),
        },
    )
    .await?;
    tracing::info!(share_id = share.id, ?kind, "share ended");
    Ok(())
}

/// The grantee renamed their mount of a share.
pub async fn rename_mount(tx: &mut Tx, grantee: UserId, share_id: ShareId, node: NodeId, name: &str) -> ApiResult<()> {
    let root = crate::tree::root_id(&mut **tx, grantee).await?;
    if crate::tree::live_child(&mut **tx, root, name).await?.is_some() {
        return Err(ApiError::NameTaken);
    }
    sqlx::query("UPDATE shares SET mount_name = $1 WHERE id = $2")
        .bind(name)
        .bind(share_id)
        .execute(&mut **tx)
        .await?;
    changes::append_for(tx, grantee, node, ChangeKind::Moved).await
}
