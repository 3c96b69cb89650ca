//! Public links to a file or folder: created, listed and revoked by their
//! owner through the JSON API, opened by anyone who has the URL through a
//! small HTML page served here (`/s/{token}`), with downloads of a file, of a
//! file inside a linked folder, or of a whole folder as a streamed zip.
//!
//! A token is 32 random bytes (base64url); the server keeps only its SHA-256.
//! A link may expire, have a password (argon2id; once given, an HttpOnly
//! cookie scoped to the link carries an HMAC proof) and a download limit.

use std::net::IpAddr;

use axum::{
    extract::{rejection::FormRejection, Form, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use drive_wire::{AuditKind, CreateLinkRequest, Link, LinkId, NodeKind};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

mod html;
mod zip;

use html::{enc, esc, html, html_error, human_size, no_referrer, password_page, when};
pub(crate) use zip::{collect_selected, collect_tree, zip_headers, zip_response};

use crate::{
    audit::{self, Event},
    auth::{password, AuthUser, ClientIp},
    download::{bytes_range, file_response, requested_range},
    error::{ApiError, ApiResult, Json, Path, Query},
    shares,
    state::AppState,
    storage::metadata::{now_ms, to_datetime},
    tree::{live_child, owned_node, revisions::revision_blocks, NodeRow, NODE_COLUMNS},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
        .routes(routes!(page, unlock))
        .routes(routes!(download))
        .routes(routes!(zip))
}

const COOKIE: &str = "drive_link";
const LINK_COLUMNS: &str =
    "id, owner_id, node_id, created_at, expires_at, password_hash, max_downloads, downloads, revoked_at";

#[derive(Debug, Clone, sqlx::FromRow)]
struct LinkRow {
    id: LinkId,
    owner_id: i64,
    node_id: i64,
    created_at: i64,
    expires_at: Option<i64>,
    password_hash: Option<String>,
    max_downloads: Option<i64>,
    downloads: i64,
    revoked_at: Option<i64>,
}

impl LinkRow {
    fn to_wire(&self, url: Option<String>, path: Option<String>) -> Link {
        Link {
            id: self.id,
            node_id: self.node_id,
            path,
            url,
            created_at: to_datetime(self.created_at),
            expires_at: self.expires_at.map(to_datetime),
            has_password: self.password_hash.is_some(),
            max_downloads: self.max_downloads.map(|n| n.clamp(0, u32::MAX as i64) as u32),
            downloads: self.downloads.max(0) as u64,
            revoked: self.revoked_at.is_some(),
        }
    }

    fn exhausted(&self) -> bool {
        self.max_downloads.is_some_and(|max| self.downloads >= max)
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

// ---------------------------------------------------------------- owner API

/// Creates a public link to a file or folder of the caller.
#[utoipa::path(post, path = "/api/v1/links", tag = "links", security(("bearer" = [])), request_body = CreateLinkRequest,
    responses((status = 201, body = Link, description = "The link, with its URL (shown only now)"),
        (status = 400, body = drive_wire::ErrorBody), (status = 403, body = drive_wire::ErrorBody), (status = 404, body = drive_wire::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ClientIp(ip): ClientIp,
    Json(req): Json<CreateLinkRequest>,
) -> ApiResult<(StatusCode, Json<Link>)> {
    let node = shares::visible(&mut *state.db.reader().acquire().await?, auth.user_id, req.node_id)
        .await?
        .live()?;
    // Publishing is the owner's decision, not a grantee's.
    if !node.is_owner() {
        return Err(ApiError::OwnerOnly);
    }
    let node = node.row;
    let now = now_ms();
    let expires_at = req.expires_at.map(|t| t.timestamp_millis());
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::BadRequest("expires_at is in the past".into()));
    }
    if req.max_downloads == Some(0) {
        return Err(ApiError::BadRequest("max_downloads must be at least 1".into()));
    }
    let password_hash = match req.password {
        Some(p) if p.is_empty() => return Err(ApiError::BadRequest("a link password cannot be empty".into())),
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let token = new_token();
    let mut tx = state.db.begin().await?;
    let id: LinkId = sqlx::query_scalar(
        "INSERT INTO links (token_hash, owner_id, node_id, created_at, expires_at, password_hash, max_downloads) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(hash_token(&token))
    .bind(auth.user_id)
    .bind(node.id)
    .bind(now)
    .bind(expires_at)
    .bind(&password_hash)
    .bind(req.max_downloads.map(i64::from))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event {
            owner_id: auth.user_id,
            kind: AuditKind::LinkCreated,
            actor_id: Some(auth.user_id),
            node_id: Some(node.id),
            link_id: Some(id),
            share_id: None,
            ip: Some(ip),
            detail: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(link_id = id, node_id = node.id, "link created");
    let row = LinkRow {
        id,
        owner_id: auth.user_id,
        node_id: node.id,
        created_at: now,
        expires_at,
        password_hash,
        max_downloads: req.max_downloads.map(i64::from),
        downloads: 0,
        revoked_at: None,
    };
    let url = format!("{}/s/{token}", state.public_url);
    let path = node_path(&state, node.id).await?;
    Ok((StatusCode::CREATED, Json(row.to_wire(Some(url), path))))
}

/// The caller's links, newest first (revoked ones included, marked so).
#[utoipa::path(get, path = "/api/v1/links", tag = "links", security(("bearer" = [])),
    responses((status = 200, body = Vec<Link>)))]
async fn list(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Vec<Link>>> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM links WHERE owner_id = $1 ORDER BY id DESC"
    ))
    .bind(auth.user_id)
    .fetch_all(state.db.reader())
    .await?;
    let mut links = Vec::with_capacity(rows.len());
    for row in &rows {
        links.push(row.to_wire(None, node_path(&state, row.node_id).await?));
    }
    Ok(Json(links))
}

/// The `/`-separated path of a live node from its owner's root (`/` for the
/// root); `None` when the node or one of its folders is in the trash.
async fn node_path(state: &AppState, id: i64) -> ApiResult<Option<String>> {
    let names: Vec<(String, Option<i64>)> = sqlx::query_as(
        "WITH RECURSIVE up(id, parent_id, name, trashed_at, depth) AS ( \
             SELECT id, parent_id, name, trashed_at, 0 FROM nodes WHERE id = $1 \
             UNION ALL \
             SELECT n.id, n.parent_id, n.name, n.trashed_at, up.depth + 1 FROM nodes n JOIN up ON n.id = up.parent_id) \
         SELECT name, trashed_at FROM up ORDER BY depth DESC",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?;
    if names.is_empty() || names.iter().any(|(_, trashed)| trashed.is_some()) {
        return Ok(None);
    }
    let path: Vec<&str> = names
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !name.is_empty())
        .collect();
    Ok(Some(format!("/{}", path.join("/"))))
}

/// Revokes a link of the caller: it answers 410 from now on.
#[utoipa::path(delete, path = "/api/v1/links/{id}", tag = "links", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Link id")),
    responses((status = 204), (status = 404, body = drive_wire::ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    auth: AuthUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<LinkId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let revoked: Option<i64> = sqlx::query_scalar(
        "UPDATE links SET revoked_at = $1 WHERE id = $2 AND owner_id = $3 AND revoked_at IS NULL RETURNING node_id",
    )
    .bind(now_ms())
    .bind(id)
    .bind(auth.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(node_id) = revoked else {
        // Revoking twice is not an error, and not a second event.
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM links WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(auth.user_id)
            .fetch_optional(&mut *tx)
            .await?;
        return exists.map(|_| StatusCode::NO_CONTENT).ok_or(ApiError::NotFound);
    };
    audit::record(
        &mut tx,
        Event {
            owner_id: auth.user_id,
            kind: AuditKind::LinkRevoked,
            actor_id: Some(auth.user_id),
            node_id: Some(node_id),
            link_id: Some(id),
            share_id: None,
            ip: Some(ip),
            detail: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(link_id = id, "link revoked");
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- opening a link

/// A link that may be used now, and the live node it points to.
struct Opened {
    link: LinkRow,
    node: NodeRow,
}

async fn open(state: &AppState, token: &str) -> ApiResult<Opened> {
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::NotFound);
    }
    let db = state.db.reader();
    let link: LinkRow = sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM links WHERE token_hash = $1"))
        .bind(hash_token(token))
        .fetch_optional(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    if link.revoked_at.is_some() {
        return Err(ApiError::LinkRevoked);
    }
    if link.expires_at.is_some_and(|at| at <= now_ms()) {
        return Err(ApiError::LinkExpired);
    }
    let node = owned_node(db, link.owner_id, link.node_id).await?;
    if !node.is_live() {
        return Err(ApiError::NotFound);
    }
    if link.exhausted() {
        return Err(ApiError::LinkExhausted);
    }
    Ok(Opened { link, node })
}

/// The cookie value proving that the password of `link` was given.
fn proof(state: &AppState, link: &LinkRow) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.link_cookie_key).expect("HMAC takes keys of any length");
    mac.update(format!("{}\n{}", link.id, link.password_hash.as_deref().unwrap_or_default()).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the request may see the link's content: no password, or a valid cookie.
fn unlocked(state: &AppState, link: &LinkRow, headers: &HeaderMap) -> bool {
    if link.password_hash.is_none() {
        return true;
    }
    let expected = proof(state, link);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `path` inside the linked node: the node itself when empty; names are
/// checked by the name rule, so `..` never leaves the linked folder.
async fn resolve_path(state: &AppState, root: &NodeRow, path: Option<&str>) -> ApiResult<(NodeRow, Vec<String>)> {
    let names = drive_wire::names::split_path(path.unwrap_or_default())?;
    let mut node = root.clone();
    for name in &names {
        if node.kind() != NodeKind::Folder {
            return Err(ApiError::NotFound);
        }
        node = live_child(state.db.reader(), node.id, name)
            .await?
            .ok_or(ApiError::NotFound)?;
    }
    Ok((node, names))
}

async fn live_children(state: &AppState, folder: i64) -> ApiResult<Vec<NodeRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE parent_id = $1 AND trashed_at IS NULL ORDER BY kind DESC, name"
    ))
    .bind(folder)
    .fetch_all(state.db.reader())
    .await?)
}

/// Counts a download and logs it; refuses it when the limit is reached meanwhile.
async fn count_download(state: &AppState, link: &LinkRow, ip: IpAddr, detail: Option<String>) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE links SET downloads = downloads + 1 \
         WHERE id = $1 AND (max_downloads IS NULL OR downloads < max_downloads)",
    )
    .bind(link.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(ApiError::LinkExhausted);
    }
    audit::record(&mut tx, anonymous_event(link, AuditKind::LinkDownloaded, ip, detail)).await?;
    tx.commit().await?;
    Ok(())
}

fn anonymous_event(link: &LinkRow, kind: AuditKind, ip: IpAddr, detail: Option<String>) -> Event {
    Event {
        owner_id: link.owner_id,
        kind,
        actor_id: None,
        node_id: Some(link.node_id),
        link_id: Some(link.id),
        share_id: None,
        ip: Some(ip),
        detail,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PathQuery {
    /// A `/`-separated path inside a linked folder.
    #[serde(default)]
    path: Option<String>,
}

/// The link page's password form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// The page of a link: the file with a Download button, or the folder's
/// contents; the password form first when the link has one.
#[utoipa::path(get, path = "/s/{token}", tag = "links",
    params(("token" = String, Path, description = "Link token"), PathQuery),
    responses((status = 200, content_type = "text/html", body = String, description = "The page, or the password form"),
        (status = 400, description = "`invalid_name`: a `path` with a `.` or `..` segment (a page); a query that does not parse (JSON)",
            content((String = "text/html"), (drive_wire::ErrorBody = "application/json"))),
        (status = 404, content_type = "text/html", body = String, description = "No such link, or no such path in it"),
        (status = 410, content_type = "text/html", body = String, description = "Expired, revoked or exhausted")))]
async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    match render_page(&state, &token, query.path.as_deref(), &headers).await {
        Ok(response) => response,
        Err(err) => html_error(err),
    }
}

async fn render_page(state: &AppState, token: &str, path: Option<&str>, headers: &HeaderMap) -> ApiResult<Response> {
    let opened = open(state, token).await?;
    if !unlocked(state, &opened.link, headers) {
        return Ok(password_page(token, StatusCode::OK, false));
    }
    let (node, names) = resolve_path(state, &opened.node, path).await?;
    let base = format!("/s/{}", esc(token));
    let rel = names.join("/");
    let title = if node.name.is_empty() {
        "Shared folder"
    } else {
        &node.name
    };
    let mut body = String::new();
    if node.kind() == NodeKind::File {
        let download = if rel.is_empty() {
            format!("{base}/download")
        } else {
            format!("{base}/download?path={}", enc(&rel))
        };
        body.push_str(&format!(
            "<h1>{}</h1><p class=\"meta\">{} · modified {}</p><a class=\"btn\" href=\"{download}\">Download</a>",
            esc(title),
            human_size(node.size),
            when(node.modified),
        ));
    } else {
        let children = live_children(state, node.id).await?;
        let zip = if rel.is_empty() {
            format!("{base}/zip")
        } else {
            format!("{base}/zip?path={}", enc(&rel))
        };
        body.push_str(&format!(
            "<h1>{}</h1><p class=\"meta\">Folder · {} item{} · modified {}</p>",
            esc(title),
            children.len(),
            if children.len() == 1 { "" } else { "s" },
            when(node.modified),
        ));
        if let Some((_, parent)) = names.split_last() {
            let up = if parent.is_empty() {
                base.clone()
            } else {
                format!("{base}?path={}", enc(&parent.join("/")))
            };
            body.push_str(&format!("<p><a href=\"{up}\">&larr; Up</a></p>"));
        }
        if children.is_empty() {
            body.push_str("<p class=\"meta\">This folder is empty.</p>");
        } else {
            body.push_str("<table>");
            for child in &children {
                let child_rel = if rel.is_empty() {
                    child.name.clone()
                } else {
                    format!("{rel}/{}", child.name)
                };
                if child.kind() == NodeKind::Folder {
                    body.push_str(&format!(
                        "<tr><td>&#128193; <a href=\"{base}?path={}\">{}</a></td><td class=\"size\">folder</td><td class=\"size\">{}</td></tr>",
                        enc(&child_rel),
                        esc(&child.name),
                        when(child.modified),
                    ));
                } else {
                    body.push_str(&format!(
                        "<tr><td>&#128196; <a href=\"{base}/download?path={}\">{}</a></td><td class=\"size\">{}</td><td class=\"size\">{}</td></tr>",
                        enc(&child_rel),
                        esc(&child.name),
                        human_size(child.size),
                        when(child.modified),
                    ));
                }
            }
            body.push_str("</table>");
        }
        body.push_str(&format!("<a class=\"btn\" href=\"{zip}\">Download all as zip</a>"));
    }
    Ok(html(StatusCode::OK, title, &body))
}

/// Checks a link's password; on success sets the proof cookie and goes back
/// to the page (303), else shows the form again (401).
#[utoipa::path(post, path = "/s/{token}", tag = "links",
    params(("token" = String, Path, description = "Link token")),
    request_body(content = PasswordForm, content_type = "application/x-www-form-urlencoded", description = "`password=...`"),
    responses((status = 303, description = "Password accepted: cookie set, back to the page"),
        (status = 400, body = drive_wire::ErrorBody, description = "`bad_request`: the body is not a form"),
        (status = 401, content_type = "text/html", body = String, description = "Wrong password: the form again"),
        (status = 404, content_type = "text/html", body = String, description = "No such link"),
        (status = 410, content_type = "text/html", body = String, description = "Expired, revoked or exhausted"),
        (status = 429, content_type = "text/html", body = String, description = "Too many attempts; `Retry-After` says when to try again")))]
async fn unlock(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    // Like the other extractors' rejections: a 400 in the JSON error shape.
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return ApiError::BadRequest(rejection.body_text()).into_response(),
    };
    match check_password(&state, ip, &token, form.password).await {
        Ok(response) => response,
        Err(err) => html_error(err),
    }
}

async fn check_password(state: &AppState, ip: IpAddr, token: &str, password: String) -> ApiResult<Response> {
    let opened = open(state, token).await?;
    let location = format!("/s/{token}");
    let Some(hash) = opened.link.password_hash.clone() else {
        return Ok(see_other(&location, None));
    };
    if let Err(refused) = state.link_limiter.check(&opened.link.id.to_string(), ip).await {
        return Ok(crate::auth::with_retry_after(refused, html_error));
    }
    if !password::verify(password, Some(hash)).await? {
        let mut tx = state.db.begin().await?;
        audit::record(
            &mut tx,
            anonymous_event(&opened.link, AuditKind::LinkPasswordFailed, ip, None),
        )
        .await?;
        tx.commit().await?;
        return Ok(password_page(token, StatusCode::UNAUTHORIZED, true));
    }
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={}; Path={location}; HttpOnly; SameSite=Strict; Max-Age=86400{secure}",
        proof(state, &opened.link)
    );
    Ok(see_other(&location, Some(cookie)))
}

fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// The linked file, or with `path` a file inside the linked folder, as an
/// attachment; honours a single `Range: bytes=` range and ignores a range in
/// any other unit. Errors answer in the JSON error shape.
#[utoipa::path(get, path = "/s/{token}/download", tag = "links",
    params(("token" = String, Path, description = "Link token"), PathQuery),
    responses((status = 200, content_type = "*/*", body = Vec<u8>,
        description = "The file's bytes, typed by its name's extension (`application/octet-stream` when unknown)"),
        (status = 206, content_type = "*/*", body = Vec<u8>, description = "The range asked for"),
        (status = 400, body = drive_wire::ErrorBody), (status = 401, body = drive_wire::ErrorBody),
        (status = 404, body = drive_wire::ErrorBody), (status = 410, body = drive_wire::ErrorBody),
        (status = 416, body = drive_wire::ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Query(query): Query<PathQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let opened = open(&state, &token).await?;
    if !unlocked(&state, &opened.link, &headers) {
        return Err(ApiError::PasswordRequired);
    }
    let (node, names) = resolve_path(&state, &opened.node, query.path.as_deref()).await?;
    if node.kind() != NodeKind::File {
        return Err(ApiError::NotAFile);
    }
    let db = state.db.reader();
    let revision = node.revision_id.ok_or(ApiError::NotFound)?;
    let size: i64 = sqlx::query_scalar("SELECT size FROM revisions WHERE id = $1 AND node_id = $2")
        .bind(revision)
        .bind(node.id)
        .fetch_optional(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let size = size.max(0) as u64;
    let blocks = revision_blocks(db, node.id, revision).await?;
    let range = requested_range(bytes_range(&headers).as_ref(), size)?;
    // A resumed download (a range past the start) is the same download.
    if range.is_none_or(|(start, _)| start == 0) {
        let detail = (!names.is_empty()).then(|| names.join("/"));
        count_download(&state, &opened.link, ip, detail).await?;
    }
    let mut response = file_response(&state, &node.name, revision, size, &blocks, range);
    no_referrer(response.headers_mut());
    Ok(response)
}

/// The linked folder (or, with `path`, a folder inside it) as a zip, streamed
/// as it is made, its entry names made safe for every OS (see `zip.rs`).
/// Errors answer in the JSON error shape.
#[utoipa::path(get, path = "/s/{token}/zip", tag = "links",
    params(("token" = String, Path, description = "Link token"), PathQuery),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>),
        (status = 400, body = drive_wire::ErrorBody), (status = 401, body = drive_wire::ErrorBody),
        (status = 404, body = drive_wire::ErrorBody), (status = 410, body = drive_wire::ErrorBody)))]
async fn zip(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Query(query): Query<PathQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let opened = open(&state, &token).await?;
    if !unlocked(&state, &opened.link, &headers) {
        return Err(ApiError::PasswordRequired);
    }
    let (folder, names) = resolve_path(&state, &opened.node, query.path.as_deref()).await?;
    if folder.kind() != NodeKind::Folder {
        return Err(ApiError::NotAFolder);
    }
    let items = collect_tree(&state, &folder).await?;
    let detail = format!("zip of /{}", names.join("/"));
    count_download(&state, &opened.link, ip, Some(detail)).await?;
    let mut response = zip_response(&state, &folder, items);
    no_referrer(response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_url_safe() {
        let token = new_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(token, new_token());
    }
}
