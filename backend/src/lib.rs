//! `drive-server`: accounts, the file tree with revisions and trash, block
//! uploads through presigned URLs, downloads, the changes feed and profile
//! photos, on SQLite and a local blob directory or an S3-compatible store;
//! garbage collection of unused blocks ([`gc`]).
//!
//! [`app`] builds the whole HTTP service from an [`AppState`]; `main.rs` only
//! reads the configuration, opens the stores and serves it.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod changes;
pub mod check;
pub mod config;
pub mod download;
pub mod error;
pub mod gc;
pub mod links;
pub mod ops;
pub mod photos;
pub mod shares;
pub mod state;
pub mod storage;
pub mod tree;
pub mod uploads;
pub mod web;

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::header,
    middleware,
    response::IntoResponse,
    routing::get,
    Router,
};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

/// Largest JSON body: a commit of a 100 GB file lists about 100,000 blocks.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "drive", description = "The drive server API. Errors share one shape: `ErrorBody`."),
    // Referenced from query parameters (`IntoParams`), which register no schema.
    components(schemas(drive_wire::SortKey, drive_wire::SortOrder)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The router and the OpenAPI document describing exactly its routes.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(tree::router())
        .merge(uploads::router())
        .merge(download::router())
        .merge(changes::router())
        .merge(links::router())
        .merge(shares::router())
        .merge(audit::router())
        .merge(photos::router())
        .merge(blobs::router())
        .merge(ops::router())
        .merge(web::router())
        .split_for_parts();
    (router, shared_responses(openapi))
}

/// Adds to every operation the answers that come from code all handlers
/// share rather than from the handler itself, so that no annotation can
/// forget them (a handler's own annotation wins when it has the status):
///
/// - 401 `unauthorized` on every operation that takes a bearer token
///   (the `AuthUser` extractor: no token, a bad or expired one, a session
///   signed out);
/// - 400 `bad_request` on every operation with parameters or a body (the
///   `Path`, `Query` and `Json` extractors of `error.rs`: a segment that is
///   not a number, a malformed body, a missing field);
/// - 404 `not_found` on every `/api/v1` operation with an id in its path (an
///   id that does not exist and one the caller may not see answer alike);
/// - 503 `unavailable` on every operation that reads the metadata store (all
///   but `/health` and `/metrics`), and 507 `insufficient_storage` on every
///   one that writes to it: every method but GET, and the link downloads,
///   which count themselves.
///
/// The link page and its password form (`/s/{token}`) answer their own
/// errors as HTML. And a path parameter named `hash` is a block's SHA-256:
/// 64 hex digits (`BlockHash` parses either case), or 400.
fn shared_responses(openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use serde_json::{json, Value};

    let Ok(mut doc) = serde_json::to_value(&openapi) else {
        return openapi;
    };
    let error = |description: &str, html: bool| {
        let content = if html {
            json!({ "text/html": { "schema": { "type": "string" } } })
        } else {
            json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } })
        };
        json!({ "description": description, "content": content })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return openapi;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let html_errors = path == "/s/{token}";
            let secured = operation["security"]
                .as_array()
                .is_some_and(|reqs| reqs.iter().any(|req| req.get("bearer").is_some()));
            if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
                for parameter in parameters
                    .iter_mut()
                    .filter(|p| p["in"] == "path" && p["name"] == "hash")
                {
                    parameter["schema"] = json!({ "type": "string", "pattern": "^[0-9a-fA-F]{64}$" });
                }
            }
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let has_input = !parameters.is_empty() || operation.get("requestBody").is_some();
            let has_path_id = parameters.iter().any(|p| p["in"] == "path");
            let reads_store = path != "/health" && path != "/metrics";
            let writes_store = method != "get" || path.starts_with("/s/{token}/");
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut add = |status: &str, description: &str, html: bool| {
                responses.entry(status).or_insert_with(|| error(description, html));
            };
            // Extractor rejections answer JSON everywhere, the link page too.
            if has_input {
                add(
                    "400",
                    "`bad_request`: a path segment, query parameter or body that does not parse",
                    false,
                );
            }
            if secured {
                add(
                    "401",
                    "`unauthorized`: no bearer token, an invalid or expired one, or a session signed out",
                    false,
                );
            }
            if has_path_id && path.starts_with("/api/v1/") {
                add("404", "`not_found`: no such item, or one the caller may not see", false);
            }
            if reads_store {
                add(
                    "503",
                    "`unavailable`: the metadata database or the blob store cannot be reached",
                    html_errors,
                );
            }
            if writes_store {
                add(
                    "507",
                    "`insufficient_storage`: no space left; nothing was stored",
                    html_errors,
                );
            }
        }
    }
    serde_json::from_value(doc).unwrap_or(openapi)
}

pub fn app(state: AppState) -> Router {
    let (router, openapi) = api();
    let openapi = openapi.to_json().unwrap_or_else(|_| "{}".to_owned());
    let request_span = |request: &Request| {
        let request_id = request
            .headers()
            .get(drive_wire::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // The path only: query strings carry URL signatures.
        tracing::info_span!(
            "request",
            %request_id,
            method = %request.method(),
            path = request.uri().path(),
            user_id = tracing::field::Empty,
        )
    };
    router
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi).into_response() }),
        )
        .fallback(web::fallback)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(middleware::from_fn(ops::run_to_completion))
                .layer(middleware::from_fn(ops::stamp_request_id))
                .layer(middleware::from_fn(ops::record_metrics))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    ops::record_storage_failures,
                ))
                .layer(DefaultBodyLimit::max(MAX_JSON_BODY)),
        )
        .with_state(state)
}
