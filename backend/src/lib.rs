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
    OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .split_for_parts()
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
        .fallback(ops::not_found)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
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
