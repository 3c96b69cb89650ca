//! The audit log of sharing and links: who did what to which shared file or
//! folder, and when. Each event is written in the transaction of the change
//! it records, so the log neither claims what did not happen nor misses what
//! did. The owner of the content reads it.

use std::net::IpAddr;

use axum::extract::State;
use drive_wire::{AuditEvent, AuditKind, AuditPage, AuditQuery, LinkId, NodeId, ShareId, UserId};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Json, Query},
    state::AppState,
    storage::metadata::{now_ms, to_datetime, Tx},
};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// One event to record; `owner_id` is whose content it concerns.
pub struct Event {
    pub owner_id: UserId,
    pub kind: AuditKind,
    pub actor_id: Option<UserId>,
    pub node_id: Option<NodeId>,
    pub link_id: Option<LinkId>,
    pub share_id: Option<ShareId>,
    pub ip: Option<IpAddr>,
    pub detail: Option<String>,
}

fn kind_name(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::LinkCreated => "link_created",
        AuditKind::LinkRevoked => "link_revoked",
        AuditKind::LinkDownloaded => "link_downloaded",
        AuditKind::LinkPasswordFailed => "link_password_failed",
        AuditKind::ShareCreated => "share_created",
        AuditKind::ShareRoleChanged => "share_role_changed",
        AuditKind::ShareRevoked => "share_revoked",
        AuditKind::ShareAccepted => "share_accepted",
        AuditKind::ShareLeft => "share_left",
    }
}

fn kind_from_name(name: &str) -> Option<AuditKind> {
    [
        AuditKind::LinkCreated,
        AuditKind::LinkRevoked,
        AuditKind::LinkDownloaded,
        AuditKind::LinkPasswordFailed,
        AuditKind::ShareCreated,
        AuditKind::ShareRoleChanged,
        AuditKind::ShareRevoked,
        AuditKind::ShareAccepted,
        AuditKind::ShareLeft,
    ]
    .into_iter()
    .find(|kind| kind_name(*kind) == name)
}

/// Appends `event` to the log inside `tx`.
pub async fn record(tx: &mut Tx, event: Event) -> ApiResult<()> {
    // An unspecified address means the server runs without connection info
    // (in-process tests): there is no address to keep.
    let ip = event.ip.filter(|ip| !ip.is_unspecified()).map(|ip| ip.to_string());
    sqlx::query(
        "INSERT INTO audit_events (owner_id, at, kind, actor_id, node_id, link_id, share_id, ip, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(event.owner_id)
    .bind(now_ms())
    .bind(kind_name(event.kind))
    .bind(event.actor_id)
    .bind(event.node_id)
    .bind(event.link_id)
    .bind(event.share_id)
    .bind(ip)
    .bind(event.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: i64,
    kind: String,
    actor_id: Option<UserId>,
    actor_email: Option<String>,
    node_id: Option<NodeId>,
    link_id: Option<LinkId>,
    share_id: Option<ShareId>,
    ip: Option<String>,
    detail: Option<String>,
}

/// The audit log of the caller's shared content, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage)))]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT e.id, e.at, e.kind, e.actor_id, u.email AS actor_email, e.node_id, e.link_id, e.share_id, e.ip, e.detail \
         FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id \
         WHERE e.owner_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3",
    )
    .bind(auth.user_id)
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(state.db.reader())
    .await?;
    let next_before = (rows.len() == limit as usize)
        .then(|| rows.last().map(|row| row.id))
        .flatten();
    let events = rows
        .into_iter()
        .map(|row| {
            let kind = kind_from_name(&row.kind)
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown audit kind {}", row.kind)))?;
            Ok(AuditEvent {
                id: row.id,
                at: to_datetime(row.at),
                kind,
                actor_id: row.actor_id,
                actor_email: row.actor_email,
                node_id: row.node_id,
                link_id: row.link_id,
                share_id: row.share_id,
                ip: row.ip,
                detail: row.detail,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(AuditPage { events, next_before }))
}
