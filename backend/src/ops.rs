//! Operating the server: health and readiness probes, Prometheus metrics, and
//! the middleware that gives every request an id, a span and a measurement,
//! and runs a change to its end.

use std::time::Instant;

use axum::{
    body::Body,
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use drive_wire::{ErrorBody, REQUEST_ID_HEADER};
use tracing::Instrument;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    storage::health::Dependency,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics_text))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = String)))]
async fn health() -> &'static str {
    "ok"
}

/// Readiness: the metadata database and the blob store answer and take
/// writes. After a write failed for lack of space (a 507 answered), the
/// dependency stays "not ready" until a write probe shows that space is back;
/// the 503 names the failing dependencies ("metadata", "blobs").
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses((status = 200, body = String), (status = 503, body = drive_wire::ErrorBody)))]
async fn ready(State(state): State<AppState>) -> ApiResult<&'static str> {
    let mut failing = Vec::new();
    if let Err(e) = state.db.ready().await {
        failing.push(format!("metadata: {e}"));
    }
    if let Err(e) = state.blobs.ready().await {
        failing.push(format!("blobs: {}", error_chain(&e)));
    }
    if failing.is_empty() {
        Ok("ready")
    } else {
        Err(ApiError::Unavailable(failing.join("; ")))
    }
}

/// An error and its causes, on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Tells readiness of a metadata write that failed for lack of space (the
/// blob store keeps track of its own).
pub async fn record_storage_failures(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<Dependency>() == Some(&Dependency::Metadata) {
        state.db.mark_out_of_space();
    }
    response
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, body = String, content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> Response {
    let text = state.metrics.as_ref().map(|handle| handle.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Writes the request id into error bodies, so a user's report of an error
/// message leads straight to the server's log lines.
pub async fn stamp_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(ToOwned::to_owned);
    let mut response = next.run(request).await;
    if let Some(mut body) = response.extensions_mut().remove::<ErrorBody>() {
        body.error.request_id = id;
        if let Ok(json) = serde_json::to_vec(&body) {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(json.len()));
            *response.body_mut() = Body::from(json);
        }
    }
    response
}

/// Runs a request that may change something to its end, even if the client
/// goes away: a transaction committed is then always followed by what comes
/// after it (waking the devices that long-poll the changes feed, counting
/// it), where a dropped connection used to drop the handler halfway. Reads
/// (`GET`, `HEAD`, `OPTIONS`) stop with their client, as before: a long-poll
/// nobody waits for holds nothing.
pub async fn run_to_completion(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let task = tokio::spawn(next.run(request).instrument(tracing::Span::current()));
    match task.await {
        Ok(response) => response,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Cancelled: only when the runtime shuts down.
        Err(_) => ApiError::Unavailable("the server is shutting down".into()).into_response(),
    }
}

/// Counts requests and times them, by route template (never by raw path, which
/// would make one series per file id).
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

/// The fallback for unknown routes, in the common error shape.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            atomic::{AtomicBool, Ordering},
            Arc,
        },
        time::Duration,
    };

    use axum::{middleware, routing::any, Router};
    use tower::ServiceExt;

    use super::*;

    /// A route that takes 50 ms, then notes that it finished.
    fn slow_route(finished: Arc<AtomicBool>) -> Router {
        Router::new()
            .route(
                "/",
                any(move || async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    finished.store(true, Ordering::SeqCst);
                }),
            )
            .layer(middleware::from_fn(run_to_completion))
    }

    #[tokio::test]
    async fn a_change_runs_to_its_end_when_its_client_goes_away_and_a_read_stops() {
        for (method, runs_on) in [(Method::POST, true), (Method::PUT, true), (Method::GET, false)] {
            let finished = Arc::new(AtomicBool::new(false));
            let request = Request::builder().method(method.clone()).uri("/").body(Body::empty());
            let call = slow_route(finished.clone()).oneshot(request.expect("a request"));
            // The client gives up after 5 ms: the request's future is dropped.
            assert!(tokio::time::timeout(Duration::from_millis(5), call).await.is_err());
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(finished.load(Ordering::SeqCst), runs_on, "{method}");
        }
    }
}
