//! Downloads a browser can follow without an `Authorization` header: the
//! page asks `POST /api/v1/download-urls` (with its bearer token) for a URL
//! `/d/<token>` good for 10 minutes, then hands it to the browser (a link, a
//! `<video>`, an `<img>`), which streams it: a file with Range support, or a
//! folder as a zip.
//!
//! The token is `<user>.<node>.<revision or ->.<a|i>.<expiry>.<signature>`,
//! the signature an HMAC-SHA256 of the rest under a key of the server's
//! secret, so it cannot be altered or made up; it is checked again at each
//! use that the user may still read the node. The zip of a selection of a
//! folder's children names them after the folder: `<node>-<child>-<child>...`;
//! children gone from the folder since are left out.
//!
//! User content never runs script in this origin: every answer has
//! `nosniff` and `Content-Security-Policy: sandbox` (but an inline PDF, see
//! `serve`), and only types a browser shows safely are sent `inline` (raster
//! images, PDF, audio, video, plain text); other text (HTML, SVG, XML,
//! scripts...) is sent inline as `text/plain`, and everything else as an
//! attachment.

use std::collections::HashSet;

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use drive_wire::{
    Disposition, DownloadUrl, DownloadUrlRequest, NodeId, NodeKind, RevisionId, UserId, MAX_DOWNLOAD_CHILDREN,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{
    auth::AuthUser,
    download::{bytes_range, disposition, file_response, requested_range, resolve},
    error::{ApiError, ApiResult, Json, Path},
    links::{collect_selected, zip_headers, zip_response},
    shares,
    state::AppState,
    tree::NodeRow,
};

/// How long a download URL works.
const TTL_SECS: i64 = 600;

/// What a download URL grants, as signed in its token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    user: UserId,
    node: NodeId,
    /// Of a folder: only these children go into its zip; empty: all.
    children: Vec<NodeId>,
    revision: Option<RevisionId>,
    disposition: Disposition,
    /// Seconds since the epoch.
    expires: i64,
}

impl Grant {
    fn payload(&self) -> String {
        let revision = self.revision.map_or_else(|| "-".to_owned(), |r| r.to_string());
        let disposition = match self.disposition {
            Disposition::Attachment => "a",
            Disposition::Inline => "i",
        };
        let mut node = self.node.to_string();
        for child in &self.children {
            node.push_str(&format!("-{child}"));
        }
        format!("{}.{node}.{revision}.{disposition}.{}", self.user, self.expires)
    }

    fn token(&self, key: &[u8]) -> String {
        let payload = self.payload();
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes())
        )
    }

    /// The grant of a token whose signature is right (expired or not), else
    /// 403 `invalid_signature`.
    fn verify(token: &str, key: &[u8]) -> ApiResult<Self> {
        let (payload, signature) = token.rsplit_once('.').ok_or(ApiError::InvalidSignature)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| ApiError::InvalidSignature)?;
        mac(key, payload)
            .verify_slice(&signature)
            .map_err(|_| ApiError::InvalidSignature)?;
        // Signed by this server, so well formed; parsed with care all the same.
        let parts: Vec<&str> = payload.split('.').collect();
        let [user, node, revision, disposition, expires] = parts[..] else {
            return Err(ApiError::InvalidSignature);
        };
        let number = |text: &str| text.parse::<i64>().map_err(|_| ApiError::InvalidSignature);
        let mut ids = node.split('-');
        let node = number(ids.next().unwrap_or_default())?;
        let children = ids.map(number).collect::<ApiResult<Vec<_>>>()?;
        Ok(Self {
            user: number(user)?,
            node,
            children,
            revision: if revision == "-" { None } else { Some(number(revision)?) },
            disposition: match disposition {
                "i" => Disposition::Inline,
                "a" => Disposition::Attachment,
                _ => return Err(ApiError::InvalidSignature),
            },
            expires: number(expires)?,
        })
    }
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac
}

/// A URL (`/d/<token>`, 10 minutes) that downloads a file the caller may read
/// (a revision of it with `revision`), or a folder as a zip (only the
/// `children` chosen, with what is inside them, when given), without an
/// `Authorization` header: for the browser's own downloads, players and
/// viewers. `inline` shows safe types in place (see the module docs).
#[utoipa::path(post, path = "/api/v1/download-urls", tag = "downloads", security(("bearer" = [])),
    request_body = DownloadUrlRequest,
    responses((status = 200, body = DownloadUrl),
        (status = 400, body = drive_wire::ErrorBody,
            description = "`bad_request`: a revision of a folder, children of a file, more than 1,000 children"),
        (status = 404, body = drive_wire::ErrorBody,
            description = "`not_found`: no such node or revision, or one the caller may not read, or a child that is not one of the folder's")))]
pub(super) async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<DownloadUrlRequest>,
) -> ApiResult<Json<DownloadUrl>> {
    let node = readable(&state, auth.user_id, req.node_id).await?;
    if req.children.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::BadRequest("children, when given, names at least one".into()));
    }
    let children = req.children.unwrap_or_default();
    match node.kind() {
        NodeKind::Folder if req.revision.is_some() => {
            return Err(ApiError::BadRequest("a folder has no revisions".into()));
        }
        NodeKind::Folder => check_children(&state, node.id, &children).await?,
        NodeKind::File if !children.is_empty() => {
            return Err(ApiError::BadRequest("only a folder has children to choose".into()));
        }
        // The revision must exist now; whether it still does is checked at each use.
        NodeKind::File => {
            resolve(&state, auth.user_id, node.id, req.revision).await?;
        }
    }
    let expires_at = Utc::now() + chrono::Duration::seconds(TTL_SECS);
    let grant = Grant {
        user: auth.user_id,
        node: node.id,
        children,
        revision: req.revision,
        disposition: req.disposition,
        expires: expires_at.timestamp(),
    };
    Ok(Json(DownloadUrl {
        url: format!("/d/{}", grant.token(&state.download_key)),
        expires_at: DateTime::from_timestamp(grant.expires, 0).unwrap_or(expires_at),
    }))
}

/// A selection is 1 to [`MAX_DOWNLOAD_CHILDREN`] live children of `folder`
/// (400 beyond that; 404 for an id that is none of them).
async fn check_children(state: &AppState, folder: NodeId, children: &[NodeId]) -> ApiResult<()> {
    if children.len() > MAX_DOWNLOAD_CHILDREN {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_DOWNLOAD_CHILDREN} children in one download"
        )));
    }
    if children.is_empty() {
        return Ok(());
    }
    let mut conn = state.db.reader().acquire().await?;
    let live: HashSet<NodeId> = sqlx::query_scalar("SELECT id FROM nodes WHERE parent_id = $1 AND trashed_at IS NULL")
        .bind(folder)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    if children.iter().all(|child| live.contains(child)) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// A node `user` may read (owner or grantee of an accepted share), else 404.
async fn readable(state: &AppState, user: UserId, node: NodeId) -> ApiResult<NodeRow> {
    let mut conn = state.db.reader().acquire().await?;
    let disabled: Option<i64> = sqlx::query_scalar("SELECT disabled_at FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    if disabled.is_some() {
        return Err(ApiError::AccountDisabled);
    }
    Ok(shares::visible(&mut conn, user, node).await?.row)
}

/// The bytes behind a download URL: a file (200, or 206 for a `Range:
/// bytes=` request; ETag; typed by its name), or a folder as a zip. No
/// `Authorization` needed: the token is the proof.
#[utoipa::path(get, path = "/d/{token}", tag = "downloads",
    params(("token" = String, Path, description = "The token of a URL from `POST /api/v1/download-urls`")),
    responses((status = 200, content_type = "*/*", body = Vec<u8>,
            description = "The file (inline or attachment, see docs/API.md), or the folder as `application/zip`"),
        (status = 206, content_type = "*/*", body = Vec<u8>, description = "The range asked for"),
        (status = 400, body = drive_wire::ErrorBody, description = "`not_a_file`: a revision that is not a file's"),
        (status = 403, body = drive_wire::ErrorBody,
            description = "`invalid_signature`: the token was altered or made up; `account_disabled`"),
        (status = 404, body = drive_wire::ErrorBody, description = "`not_found`: the node or revision is gone, or no longer shared"),
        (status = 410, body = drive_wire::ErrorBody, description = "`url_expired`: ask for a new URL"),
        (status = 416, body = drive_wire::ErrorBody)))]
pub(super) async fn download(
    State(state): State<AppState>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let mut response = match serve(&state, &token, &method, &headers).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Errors too; a file's answer has its own (see `serve`).
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("sandbox"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

async fn serve(state: &AppState, token: &str, method: &Method, headers: &HeaderMap) -> ApiResult<Response> {
    let grant = Grant::verify(token, &state.download_key)?;
    if grant.expires <= Utc::now().timestamp() {
        return Err(ApiError::DownloadExpired);
    }
    let node = readable(state, grant.user, grant.node).await?;
    if node.kind() == NodeKind::Folder {
        if grant.revision.is_some() {
            return Err(ApiError::NotAFile);
        }
        if method == Method::HEAD {
            // The headers only: nothing of the zip is made.
            return Ok((StatusCode::OK, zip_headers(&node)).into_response());
        }
        let only: HashSet<NodeId> = grant.children.iter().copied().collect();
        let items = collect_selected(state, &node, (!only.is_empty()).then_some(&only)).await?;
        tracing::info!(
            user_id = grant.user,
            node_id = node.id,
            children = only.len(),
            "folder downloaded as a zip"
        );
        return Ok(zip_response(state, &node, items));
    }
    if !grant.children.is_empty() {
        return Err(ApiError::NotAFolder);
    }
    let file = resolve(state, grant.user, grant.node, grant.revision).await?;
    let range = requested_range(bytes_range(headers).as_ref(), file.size)?;
    let mut response = file_response(state, &file.node.name, file.revision, file.size, &file.blocks, range);
    let mime = mime_guess::from_path(&file.node.name).first_or_octet_stream();
    // Otherwise file_response made it an attachment, typed by its name.
    if let (Disposition::Inline, Some(content_type)) = (grant.disposition, shown_inline_as(&mime)) {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_DISPOSITION, disposition("inline", &file.node.name));
        if content_type == "application/pdf" {
            // Chromium refuses to run its PDF viewer in a sandboxed document
            // (no sandbox token re-enables it), so an inline PDF is the one
            // answer without `sandbox`: typed as a PDF with nosniff, it is only
            // ever rendered by the viewer, whose scripts run isolated from this
            // origin. It may be framed by the app only.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'self'"),
            );
        }
    }
    Ok(response)
}

/// The type a file of type `mime` is shown inline as, if at all: raster
/// images, PDF, audio and video as themselves, any text (HTML, SVG, XML,
/// JSON, scripts...) as `text/plain`. `None`: only as an attachment.
fn shown_inline_as(mime: &mime_guess::Mime) -> Option<&'static str> {
    use mime_guess::mime;
    let (kind, sub) = (mime.type_(), mime.subtype());
    let safe = match (kind.as_str(), sub.as_str()) {
        ("image", "png") => Some("image/png"),
        ("image", "jpeg") => Some("image/jpeg"),
        ("image", "gif") => Some("image/gif"),
        ("image", "webp") => Some("image/webp"),
        ("image", "avif") => Some("image/avif"),
        ("image", "bmp") => Some("image/bmp"),
        ("application", "pdf") => Some("application/pdf"),
        _ => None,
    };
    if safe.is_some() {
        return safe;
    }
    if kind == mime::AUDIO || kind == mime::VIDEO {
        // Any audio or video type: a media element or the player shows it,
        // and nothing of it runs as script (nosniff, sandbox).
        return Some(match (kind.as_str(), sub.as_str()) {
            ("audio", "mpeg") => "audio/mpeg",
            ("audio", "ogg") => "audio/ogg",
            ("audio", "wav") | ("audio", "x-wav") => "audio/wav",
            ("audio", "flac") | ("audio", "x-flac") => "audio/flac",
            ("audio", "aac") => "audio/aac",
            ("audio", "mp4") | ("audio", "m4a") | ("audio", "x-m4a") => "audio/mp4",
            ("audio", "webm") => "audio/webm",
            ("video", "mp4") => "video/mp4",
            ("video", "webm") => "video/webm",
            ("video", "ogg") => "video/ogg",
            ("video", "quicktime") => "video/quicktime",
            _ => return None,
        });
    }
    let textual = kind == mime::TEXT
        || sub == mime::XML
        || sub == mime::JSON
        || sub == mime::JAVASCRIPT
        || mime
            .suffix()
            .is_some_and(|suffix| suffix == mime::XML || suffix == mime::JSON);
    textual.then_some("text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            user: 7,
            node: 42,
            children: Vec::new(),
            revision: Some(3),
            disposition: Disposition::Inline,
            expires: 1_900_000_000,
        }
    }

    #[test]
    fn tokens_verify_and_refuse_any_change() {
        let key = b"key";
        let token = grant().token(key);
        assert_eq!(Grant::verify(&token, key).unwrap(), grant());
        let plain = Grant {
            revision: None,
            disposition: Disposition::Attachment,
            ..grant()
        };
        assert_eq!(Grant::verify(&plain.token(key), key).unwrap(), plain);
        let selection = Grant {
            children: vec![5, 9, 11],
            revision: None,
            ..grant()
        };
        assert!(selection.token(key).starts_with("7.42-5-9-11.-.i."));
        assert_eq!(Grant::verify(&selection.token(key), key).unwrap(), selection);
        let widened = selection.token(key).replacen("42-5-9-11", "42-5-9", 1);
        assert!(matches!(Grant::verify(&widened, key), Err(ApiError::InvalidSignature)));
        assert!(Grant::verify(&token, b"other key").is_err());
        let altered = token.replacen("7.42", "7.43", 1);
        assert!(matches!(Grant::verify(&altered, key), Err(ApiError::InvalidSignature)));
        for bad in ["", ".", "a.b", "7.42.3.i.1900000000", "7.42.3.i.1900000000.!!"] {
            assert!(Grant::verify(bad, key).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_safe_types_are_inline() {
        let shown = |name: &str| shown_inline_as(&mime_guess::from_path(name).first_or_octet_stream());
        assert_eq!(shown("a.png"), Some("image/png"));
        assert_eq!(shown("a.JPG"), Some("image/jpeg"));
        assert_eq!(shown("a.pdf"), Some("application/pdf"));
        assert_eq!(shown("a.mp4"), Some("video/mp4"));
        assert_eq!(shown("a.mp3"), Some("audio/mpeg"));
        assert_eq!(shown("a.txt"), Some("text/plain; charset=utf-8"));
        for text in ["a.html", "a.svg", "a.xml", "a.js", "a.json", "a.css", "a.md"] {
            assert_eq!(shown(text), Some("text/plain; charset=utf-8"), "{text}");
        }
        for attachment in ["a.exe", "a.zip", "a", "a.swf", "a.docx"] {
            assert_eq!(shown(attachment), None, "{attachment}");
        }
    }
}
