//! Extractors that identify the caller.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header::AUTHORIZATION, request::Parts},
};
use drive_wire::{SessionId, UserId};

use super::client_ip::client_ip;
use crate::{error::ApiError, state::AppState, storage::metadata::now_ms};

/// A caller with a valid access token of a session that is still open.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: UserId,
    pub session_id: SessionId,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized("no bearer token"))?;
        let claims = state
            .tokens
            .verify(token.trim())
            .ok_or(ApiError::Unauthorized("the access token is invalid or expired"))?;
        // Checked on every request so that signing a device out takes effect
        // at once, not when its access token expires (and disabling an account).
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2 \
             AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.disabled_at IS NULL",
        )
        .bind(claims.sid)
        .bind(claims.sub)
        .bind(now_ms())
        .fetch_optional(state.db.reader())
        .await?;
        if open.is_none() {
            return Err(ApiError::Unauthorized("this session was signed out"));
        }
        tracing::Span::current().record("user_id", claims.sub);
        Ok(Self {
            user_id: claims.sub,
            session_id: claims.sid,
        })
    }
}

/// The client's address, for rate limits and the audit log: the peer, or
/// what trusted proxies forwarded (see [`super::client_ip::client_ip`]).
/// Unspecified when the server was not started with connection info
/// (in-process tests).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => client_ip(peer.ip(), &parts.headers, &state.config.trusted_proxy),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        Ok(Self(ip))
    }
}
