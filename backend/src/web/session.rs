//! Browser sessions. The page keeps its access token in memory only; the
//! refresh token lives in an HttpOnly cookie that script cannot read
//! (`drive_refresh`, sent only to `/api/v1/web`), and every request that
//! spends it needs the CSRF token: the `X-CSRF-Token` header must equal the
//! `drive_csrf` cookie, which only a page of this origin can read (a
//! double-submit token; both cookies are also `SameSite=Strict`). Sign-in and
//! rotation are those of `/api/v1/auth` (same limits, errors and rules).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use drive_wire::{LoginRequest, TokenPair, WebSession};
use rand::RngCore;

use crate::{
    auth::{self, tokens, AuthError, ClientIp},
    error::{ApiError, ApiResult, Json},
    state::AppState,
    storage::metadata::now_ms,
};

/// The refresh token's cookie (HttpOnly).
pub const REFRESH_COOKIE: &str = "drive_refresh";
/// The CSRF token's cookie (readable by the page).
pub const CSRF_COOKIE: &str = "drive_csrf";
/// The header that must repeat the CSRF cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Where the refresh cookie is sent: the web session routes only.
const REFRESH_PATH: &str = "/api/v1/web";

/// Whether the request came over HTTPS, so that cookies get `Secure`: the
/// configured public URL is `https://`, or a trusted proxy (`--trusted-proxy`)
/// says `X-Forwarded-Proto: https`.
pub struct Https(pub bool);

impl FromRequestParts<AppState> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.public_url.starts_with("https://") {
            return Ok(Self(true));
        }
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(Self(false));
        };
        let peer = peer.ip().to_canonical();
        let trusted = state.config.trusted_proxy.iter().any(|cidr| cidr.contains(peer));
        // Read only from a proxy that is believed about the client at all.
        let forwarded_https = trusted
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        Ok(Self(forwarded_https))
    }
}

/// The value of the cookie `name` in the request, if any (the first one).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 403 `csrf` unless the `X-CSRF-Token` header equals the `drive_csrf` cookie.
fn check_csrf(headers: &HeaderMap) -> ApiResult<()> {
    let header = headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok());
    match (header, cookie(headers, CSRF_COOKIE)) {
        (Some(given), Some(expected)) if constant_time_eq(given.trim().as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::Csrf),
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `Set-Cookie` values that open a browser session: the refresh token
/// and a new CSRF token, both for the refresh token's lifetime.
pub fn session_cookies(state: &AppState, refresh_token: &str, https: bool) -> Vec<HeaderValue> {
    let max_age = state.config.refresh_token_ttl().as_secs();
    let secure = if https { "; Secure" } else { "" };
    [
        format!("{REFRESH_COOKIE}={refresh_token}; Path={REFRESH_PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"),
        format!("{CSRF_COOKIE}={}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}", random_token()),
    ]
    .iter()
    .filter_map(|cookie| HeaderValue::from_str(cookie).ok())
    .collect()
}

/// The `Set-Cookie` values that end a browser session.
fn cleared_cookies(https: bool) -> Vec<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    [
        format!("{REFRESH_COOKIE}=; Path={REFRESH_PATH}; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
        format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0{secure}"),
    ]
    .iter()
    .filter_map(|cookie| HeaderValue::from_str(cookie).ok())
    .collect()
}

/// `response` with `cookies` set and never stored by a cache.
fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    let headers = response.headers_mut();
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The answer of a sign-in or refresh: the access token in the body, the
/// refresh token in its cookie (the CSRF cookie is renewed with it).
fn answer(state: &AppState, pair: TokenPair, https: bool) -> Response {
    let cookies = session_cookies(state, &pair.refresh_token, https);
    let body = WebSession {
        access_token: pair.access_token,
        expires_in: pair.expires_in,
        user: pair.user,
    };
    with_cookies(Json(body).into_response(), cookies)
}

/// Signs in like `POST /api/v1/auth/login` (the same limits, checks and
/// errors); the refresh token is set as the HttpOnly cookie `drive_refresh`
/// (Path=/api/v1/web) and a CSRF token as the cookie `drive_csrf` (Path=/),
/// both SameSite=Strict, Secure over HTTPS.
#[utoipa::path(post, path = "/api/v1/web/login", tag = "web", request_body = LoginRequest,
    responses((status = 200, body = WebSession,
            description = "Signed in; sets the cookies `drive_refresh` (HttpOnly) and `drive_csrf`",
            headers(("set-cookie" = String, description = "drive_refresh and drive_csrf"))),
        (status = 401, body = drive_wire::ErrorBody, description = "`invalid_credentials`"),
        (status = 403, body = drive_wire::ErrorBody, description = "`account_disabled`"),
        (status = 429, body = drive_wire::ErrorBody), (status = 503, body = drive_wire::ErrorBody)))]
pub(super) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Https(https): Https,
    Json(mut req): Json<LoginRequest>,
) -> Result<Response, AuthError> {
    if req.device_name.as_deref().is_none_or(|name| name.trim().is_empty()) {
        req.device_name = Some("Web browser".to_owned());
    }
    let pair = auth::sign_in(&state, ip, req).await?;
    Ok(answer(&state, pair, https))
}

/// A new access token for the browser session of the `drive_refresh`
/// cookie, which is spent and replaced like `POST /api/v1/auth/refresh`
/// replaces a refresh token (a spent one revokes its session). Needs the
/// header `X-CSRF-Token` equal to the `drive_csrf` cookie.
#[utoipa::path(post, path = "/api/v1/web/refresh", tag = "web",
    params(("x-csrf-token" = String, Header, description = "The value of the `drive_csrf` cookie")),
    responses((status = 200, body = WebSession, description = "A new access token; the refresh cookie is replaced"),
        (status = 401, body = drive_wire::ErrorBody,
            description = "`unauthorized`: no refresh cookie; `invalid_token`: it is invalid, expired or spent (the cookies are cleared)"),
        (status = 403, body = drive_wire::ErrorBody,
            description = "`csrf`: the X-CSRF-Token header is missing or does not match; `account_disabled`")))]
pub(super) async fn refresh(State(state): State<AppState>, Https(https): Https, headers: HeaderMap) -> Response {
    if let Err(error) = check_csrf(&headers) {
        return error.into_response();
    }
    let Some(token) = cookie(&headers, REFRESH_COOKIE) else {
        return ApiError::Unauthorized("no session cookie").into_response();
    };
    match auth::rotate(&state, token).await {
        Ok(pair) => answer(&state, pair, https),
        Err(error @ (ApiError::InvalidToken | ApiError::AccountDisabled)) => {
            with_cookies(error.into_response(), cleared_cookies(https))
        }
        Err(error) => error.into_response(),
    }
}

/// Signs the browser session out: its session is revoked (as
/// `POST /api/v1/auth/logout` does) and both cookies are cleared. Needs the
/// header `X-CSRF-Token` equal to the `drive_csrf` cookie; without a valid
/// refresh cookie there is nothing to revoke, and the answer is the same.
#[utoipa::path(post, path = "/api/v1/web/logout", tag = "web",
    params(("x-csrf-token" = String, Header, description = "The value of the `drive_csrf` cookie")),
    responses((status = 204, description = "Signed out; the cookies are cleared"),
        (status = 403, body = drive_wire::ErrorBody, description = "`csrf`: the X-CSRF-Token header is missing or does not match")))]
pub(super) async fn logout(
    State(state): State<AppState>,
    Https(https): Https,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_csrf(&headers)?;
    if let Some(token) = cookie(&headers, REFRESH_COOKIE) {
        let mut tx = state.db.begin().await?;
        let revoked = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE refresh_hash = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(tokens::hash_refresh_token(token))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if revoked.rows_affected() > 0 {
            tracing::info!("web session signed out");
        }
    }
    Ok(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        cleared_cookies(https),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("drive_csrf_x=1; drive_csrf=abc; drive_refresh=drt_1"),
        );
        assert_eq!(cookie(&headers, CSRF_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, REFRESH_COOKIE), Some("drt_1"));
        assert_eq!(cookie(&headers, "other"), None);
    }

    #[test]
    fn csrf_needs_the_header_to_repeat_the_cookie() {
        let mut headers = HeaderMap::new();
        assert!(check_csrf(&headers).is_err());
        headers.insert(header::COOKIE, HeaderValue::from_static("drive_csrf=abc"));
        assert!(check_csrf(&headers).is_err());
        headers.insert(CSRF_HEADER, HeaderValue::from_static("abd"));
        assert!(check_csrf(&headers).is_err());
        headers.insert(CSRF_HEADER, HeaderValue::from_static("abc"));
        assert!(check_csrf(&headers).is_ok());
        headers.insert(header::COOKIE, HeaderValue::from_static("drive_csrf="));
        headers.insert(CSRF_HEADER, HeaderValue::from_static(""));
        assert!(check_csrf(&headers).is_err(), "an empty token proves nothing");
    }
}
