//! The desktop app's "Open on the web": it asks for a one-time URL with its
//! bearer token and opens it in the browser, which then gets a browser
//! session of its own (the cookies of [`super::session`]) and lands on the
//! app signed in. A code is 256 random bits, stored as its SHA-256, valid
//! for 60 seconds and only once.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use drive_wire::HandoffUrl;
use serde::Deserialize;

use super::session::{session_cookies, Https};
use crate::{
    auth::{self, tokens, AuthUser},
    error::{ApiError, ApiResult, Json, Query},
    state::AppState,
    storage::{metadata::now_ms, Db},
};

/// How long a hand-off code may wait for its browser.
const CODE_TTL_MS: i64 = 60_000;

/// A one-time URL (valid 60 seconds) that opens the web app signed in as
/// the caller, in a new session of its own.
#[utoipa::path(post, path = "/api/v1/web/handoff", tag = "web", security(("bearer" = [])),
    responses((status = 200, body = HandoffUrl, description = "`{public_url}/web/handoff?code=...`")))]
pub(super) async fn create(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<HandoffUrl>> {
    let (code, code_hash) = tokens::new_refresh_token();
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO web_handoffs (code_hash, user_id, expires_at) VALUES ($1, $2, $3)")
        .bind(code_hash)
        .bind(auth.user_id)
        .bind(now_ms() + CODE_TTL_MS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = auth.user_id, "web hand-off code made");
    Ok(Json(HandoffUrl {
        url: format!("{}/web/handoff?code={code}", state.public_url),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CodeQuery {
    /// The code of a hand-off URL.
    code: String,
    /// Where in the app to land: a folder's page (`/files` or `/files/ID`);
    /// anything else lands on the app's start.
    to: Option<String>,
}

/// `to` if it is a page of the app that the hand-off may lead to, else `/`:
/// never another origin (`//host`, `https://...`) nor a path of the API.
fn landing(to: Option<&str>) -> &str {
    let Some(to) = to else { return "/" };
    let folder = to.strip_prefix("/files").filter(|rest| {
        rest.is_empty()
            || rest
                .strip_prefix('/')
                .is_some_and(|id| !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()))
    });
    if folder.is_some() {
        to
    } else {
        "/"
    }
}

/// Spends a hand-off code: a new browser session for its user (the cookies
/// `drive_refresh` and `drive_csrf`) and a redirect to the app. A used,
/// expired or unknown code answers 410 with a page that links to the
/// sign-in.
#[utoipa::path(get, path = "/web/handoff", tag = "web", params(CodeQuery),
    responses((status = 303, description = "Signed in: the cookies are set; to `to` if it is a folder's page, else `/`",
            headers(("location" = String), ("set-cookie" = String))),
        (status = 410, content_type = "text/html", body = String,
            description = "The code was used already, has expired or never existed (or the account is disabled)")))]
pub(super) async fn consume(
    State(state): State<AppState>,
    Https(https): Https,
    Query(query): Query<CodeQuery>,
) -> ApiResult<Response> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let user_id: Option<i64> = sqlx::query_scalar(
        "UPDATE web_handoffs SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id",
    )
    .bind(now)
    .bind(tokens::hash_refresh_token(query.code.trim()))
    .fetch_optional(&mut *tx)
    .await?;
    let disabled: Option<i64> = match user_id {
        Some(id) => {
            sqlx::query_scalar("SELECT disabled_at FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
        }
        None => None,
    };
    let Some(user_id) = user_id.filter(|_| disabled.is_none()) else {
        // The code is spent all the same (a disabled account's, too).
        tx.commit().await?;
        return Ok(gone());
    };
    let user = auth::load_user(&mut *tx, user_id).await?;
    let pair = auth::open_session(
        &state,
        &mut tx,
        user,
        Some("Web browser (from the desktop app)".to_owned()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user_id,
        session_id = pair.session_id,
        "signed in on the web through a hand-off"
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    let to = HeaderValue::from_str(landing(query.to.as_deref())).unwrap_or(HeaderValue::from_static("/"));
    headers.insert(header::LOCATION, to);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    for cookie in session_cookies(&state, &pair.refresh_token, https) {
        headers.append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The page of a code that cannot be used.
fn gone() -> Response {
    let page = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Link expired</title></head>\
        <body><h1>This sign-in link cannot be used</h1>\
        <p>It was used already or has expired (it works once, within a minute). \
        Choose \u{201c}Open on the web\u{201d} in the desktop app again, or <a href=\"/\">sign in</a>.</p></body></html>";
    let mut response = (StatusCode::GONE, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Deletes the codes past their expiry (used or not); run by the housekeeping.
pub async fn purge(db: &Db) {
    let result = async {
        let mut tx = db.begin().await?;
        sqlx::query("DELETE FROM web_handoffs WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(error = %error, "purging expired web hand-off codes");
    }
}

#[cfg(test)]
mod tests {
    use super::landing;

    #[test]
    fn a_hand_off_lands_on_a_folder_page_or_the_start_never_elsewhere() {
        assert_eq!(landing(None), "/");
        assert_eq!(landing(Some("/files")), "/files");
        assert_eq!(landing(Some("/files/42")), "/files/42");
        for bad in [
            "//evil.example",
            "https://evil.example/files/1",
            "/files/",
            "/files/1/2",
            "/files/x",
            "/files/99999999999999999999",
            "/api/v1/me",
            "/files/1\r\nSet-Cookie: a=b",
            "",
        ] {
            assert_eq!(landing(Some(bad)), "/", "{bad:?}");
        }
    }
}
