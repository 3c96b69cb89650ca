//! The web app's files, embedded at compile time by `build.rs` from
//! `web/dist`, served with the headers a single-page app wants: hashed
//! assets (`/assets/*`) cached for a year, `index.html` revalidated on every
//! load and answered for every path the API does not claim (the app routes
//! in the browser), and a strict Content-Security-Policy on every page.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use tokio::sync::OnceCell;

use crate::{error::ApiError, state::AppState};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// First path segments that belong to the API, blobs, links, downloads and
/// probes: an unknown path under them is the JSON 404, never the app.
const RESERVED: &[&str] = &["api", "blobs", "s", "d", "photos", "health", "ready", "metrics"];

/// The embedded file at `path` (relative, no leading `/`).
fn file(path: &str) -> Option<&'static [u8]> {
    embedded::FILES
        .binary_search_by(|(name, _)| (*name).cmp(path))
        .ok()
        .map(|at| embedded::FILES[at].1)
}

/// Whether the web app was built into this server.
pub fn built() -> bool {
    file("index.html").is_some()
}

/// The Content-Security-Policy of the app's pages. Scripts, styles, frames
/// and workers come from this origin only (no inline script, no `eval`);
/// `blob:` is allowed for workers, images and media the app makes itself.
/// With blobs on S3, the store's origin is added to `connect-src` (the
/// browser PUTs blocks there) and to `img-src` (profile photos are served
/// from there).
async fn csp(state: &AppState) -> &'static HeaderValue {
    // One server per process: the policy depends only on its blob store.
    static CSP: OnceCell<HeaderValue> = OnceCell::const_new();
    CSP.get_or_init(|| async {
        let store = blob_store_origin(state).await;
        let extra = store.map(|origin| format!(" {origin}")).unwrap_or_default();
        let policy = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{extra}; \
             media-src 'self' blob:; connect-src 'self'{extra}; worker-src 'self' blob:; frame-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        HeaderValue::from_str(&policy).unwrap_or_else(|_| {
            tracing::warn!(%policy, "the blob store's origin makes an invalid header; left out of the CSP");
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                 media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; frame-src 'self'; \
                 object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            )
        })
    })
    .await
}

/// The origin (`scheme://host[:port]`) of the presigned URLs of a blob store
/// that is not this server (S3), found by presigning a URL (no request made).
async fn blob_store_origin(state: &AppState) -> Option<String> {
    if state.local_blobs.is_some() {
        return None;
    }
    let probe = drive_wire::BlockHash::from_bytes([0; 32]);
    let url = match state
        .blobs
        .presign_get(probe, 1, std::time::Duration::from_secs(60))
        .await
    {
        Ok(presigned) => presigned.url,
        Err(error) => {
            tracing::warn!(error = %error, "presigning a probe URL for the CSP failed");
            return None;
        }
    };
    let uri: axum::http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

/// The headers of every HTML page of the app.
async fn page_headers(state: &AppState, headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, csp(state).await.clone());
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// `index.html` (the app decides what the path shows), or, when the app was
/// not built into this server, a page that says how to build it.
pub async fn index(state: &AppState) -> Response {
    let mut headers = HeaderMap::new();
    page_headers(state, &mut headers).await;
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let body = file("index.html").unwrap_or(NOT_BUILT.as_bytes());
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>drive</title></head>\
<body><h1>drive</h1><p>The web app was not built into this server.</p>\
<p>To build it, run <code>scripts/web-build</code> (it needs Node.js and npm; it writes <code>web/dist</code>), \
then build <code>drive-server</code> again: the files of <code>web/dist</code> are embedded at compile time.</p>\
<p>The API is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>";

/// An embedded file by its path, with its type and caching; `None` when there
/// is no such file.
async fn serve_file(state: &AppState, path: &str) -> Option<Response> {
    let bytes = file(path)?;
    if path == "index.html" {
        return Some(index(state).await);
    }
    let mut headers = HeaderMap::new();
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let cache = if path.starts_with("assets/") {
        // Vite names them by their content's hash: they never change.
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if mime.type_() == mime_guess::mime::TEXT && mime.subtype() == mime_guess::mime::HTML {
        page_headers(state, &mut headers).await;
    }
    Some((StatusCode::OK, headers, Body::from(bytes)).into_response())
}

/// The web app's entry page.
#[utoipa::path(get, path = "/", tag = "web",
    responses((status = 200, content_type = "text/html", body = String,
        description = "The web app (`index.html`), or a page saying it was not built into this server")))]
pub(super) async fn root(State(state): State<AppState>) -> Response {
    index(&state).await
}

/// A file of the web app's build, named by its content's hash: cached for a
/// year. An unknown name is a 404, never the app's page.
#[utoipa::path(get, path = "/assets/{file}", tag = "web",
    params(("file" = String, Path, description = "A file name of the web app's build")),
    responses((status = 200, content_type = "*/*", body = Vec<u8>, description = "The file, typed by its extension"),
        (status = 404, body = drive_wire::ErrorBody, description = "`not_found`: no such file")))]
pub(super) async fn asset(
    State(state): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    match serve_file(&state, &format!("assets/{file}")).await {
        Some(response) => response,
        None => ApiError::NotFound.into_response(),
    }
}

/// Every request no route claims: a GET or HEAD of an embedded file serves
/// it; any other GET or HEAD outside the reserved prefixes (and outside
/// `/assets/`) is the app's page, which routes in the browser; the rest is
/// the JSON 404 of the API.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let path = request.uri().path().trim_start_matches('/');
    if let Some(response) = serve_file(&state, path).await {
        return response;
    }
    let first = path.split('/').next().unwrap_or_default();
    if RESERVED.contains(&first) || first == "assets" {
        return ApiError::NotFound.into_response();
    }
    index(&state).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_for_lookup() {
        assert!(embedded::FILES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        for (name, bytes) in embedded::FILES {
            assert_eq!(file(name), Some(*bytes));
        }
        assert_eq!(file("no/such/file"), None);
    }
}
