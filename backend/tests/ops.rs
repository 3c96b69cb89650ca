//! Operations: probes, metrics, the OpenAPI document, request ids, flags.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn health_and_ready_answer_200() {
    let server = TestServer::start().await;
    server.get("/health").await.expect_status(200);
    server.get("/ready").await.expect_status(200);
}

#[tokio::test]
async fn ready_answers_503_when_the_blob_store_is_broken() {
    if skip_on_s3("breaks the local blob dirs") {
        return;
    }
    let server = TestServer::start().await;
    server.get("/ready").await.expect_status(200);
    // Replace the store's directories with plain files: nothing can be written there.
    let data = server.data_dir().to_owned();
    for dir in ["tmp", "blobs"] {
        let path = data.join(dir);
        std::fs::remove_dir_all(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
        std::fs::write(&path, b"not a directory").unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    let resp = server.get("/ready").await;
    assert_eq!(resp.status, 503, "/ready with a broken blob store: {}", resp.text());
    resp.expect_error_shape();
    // The process is still alive.
    server.get("/health").await.expect_status(200);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_request_counts() {
    let server = TestServer::start().await;
    server.get("/health").await.expect_status(200);
    server.get("/api/v1/no-such-route").await.expect_status(404);
    let resp = server.get("/metrics").await;
    resp.expect_status(200);
    let content_type = resp.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "metrics content type: {content_type:?}"
    );
    let text = resp.text();
    assert!(
        text.contains("http_requests_total"),
        "the metrics name http_requests_total:\n{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")),
        "a sample of http_requests_total:\n{text}"
    );
}

/// Every route of docs/API.md, in the OpenAPI (axum-style `{param}`) spelling.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/auth/sessions"),
    ("delete", "/api/v1/auth/sessions/{id}"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/nodes/{id}"),
    ("get", "/api/v1/nodes/{id}/children"),
    ("get", "/api/v1/lookup"),
    ("post", "/api/v1/folders"),
    ("patch", "/api/v1/nodes/{id}"),
    ("delete", "/api/v1/nodes/{id}"),
    ("get", "/api/v1/nodes/{id}/revisions"),
    ("post", "/api/v1/nodes/{id}/revisions/{rev}/restore"),
    ("get", "/api/v1/trash"),
    ("post", "/api/v1/trash/{id}/restore"),
    ("delete", "/api/v1/trash/{id}"),
    ("delete", "/api/v1/trash"),
    ("post", "/api/v1/uploads"),
    ("put", "/blobs/{hash}"),
    ("post", "/api/v1/commits"),
    ("get", "/api/v1/nodes/{id}/manifest"),
    ("get", "/api/v1/nodes/{id}/content"),
    ("get", "/blobs/{hash}"),
    ("get", "/api/v1/changes"),
    ("post", "/api/v1/links"),
    ("get", "/api/v1/links"),
    ("delete", "/api/v1/links/{id}"),
    ("get", "/s/{token}"),
    ("post", "/s/{token}"),
    ("get", "/s/{token}/download"),
    ("get", "/s/{token}/zip"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    // `/api/v1/openapi.json` itself is in API.md too, but a document need not
    // describe the route that serves it: not required here.
];

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let server = TestServer::start().await;
    let resp = server.get("/api/v1/openapi.json").await;
    resp.expect_status(200);
    let doc = resp.json();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "openapi version: {version:?}");
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("the document has paths: {doc}"));
    let mut missing = Vec::new();
    for (method, path) in ROUTES {
        if paths.get(*path).and_then(|p| p.get(*method)).is_none() {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(
        missing.is_empty(),
        "routes of API.md missing from the OpenAPI document: {missing:?}\npaths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    // The wire types are in the components.
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "ErrorBody",
        "TokenPair",
        "Node",
        "CommitRequest",
        "UploadPlan",
        "Manifest",
        "ChangesPage",
    ] {
        assert!(schemas.get(schema).is_some(), "schema {schema} is in components");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_clients() {
    let server = TestServer::start().await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for path in [
            "/health",
            "/ready",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/me",
            "/nope",
        ] {
            let resp = server.get(path).await;
            let id = resp
                .header("x-request-id")
                .unwrap_or_else(|| panic!("GET {path} ({}) has no x-request-id", resp.status));
            assert!(!id.is_empty(), "GET {path}: empty x-request-id");
            ids.push(id);
        }
        ids
    };
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "request ids are unique: {ids:?}");

    // A client's own id is echoed, on successes and on errors (in the body too).
    let resp = Resp::read(
        server
            .http
            .get(server.url("/health"))
            .header("x-request-id", "client-chosen-id-123")
            .send()
            .await
            .expect("GET /health"),
    )
    .await;
    resp.expect_status(200);
    assert_eq!(resp.header("x-request-id").as_deref(), Some("client-chosen-id-123"));

    let resp = Resp::read(
        server
            .http
            .get(server.url("/api/v1/me"))
            .header("x-request-id", "my-failing-request")
            .send()
            .await
            .expect("GET /api/v1/me"),
    )
    .await;
    resp.expect_status(401);
    assert_eq!(resp.header("x-request-id").as_deref(), Some("my-failing-request"));
    let body = resp.expect_error_shape();
    assert_eq!(body["error"]["request_id"], "my-failing-request");

    // Authenticated routes and blob URLs too.
    let alice = server.register("alice@example.com").await;
    let resp = Resp::read(
        alice
            .request(Method::GET, "/api/v1/me")
            .header("x-request-id", "authed-req")
            .send()
            .await
            .expect("GET /api/v1/me"),
    )
    .await;
    resp.expect_status(200);
    assert_eq!(resp.header("x-request-id").as_deref(), Some("authed-req"));
}

#[tokio::test]
async fn unknown_routes_answer_404_in_the_error_shape() {
    let server = TestServer::start().await;
    for path in ["/api/v1/nope", "/api/v2/me", "/blobs/nope/more", "/assets/nope.js"] {
        server.get(path).await.expect_error(404, "not_found");
    }
    // Any other path is the web app's (it routes in the page).
    let page = server.get("/nope").await;
    page.expect_status(200);
    assert!(page.text().starts_with("<!doctype html>"), "{}", page.text());
}

#[tokio::test]
async fn public_url_is_the_base_of_presigned_urls() {
    if skip_on_s3("local presigned URLs start with the public URL") {
        return;
    }
    let server = TestServer::start_with(&["--public-url", "http://files.example.test:9999/"]).await;
    let alice = server.register("alice@example.com").await;
    let (request, _) = commit_request(alice.root(), "a.bin", &bytes(1, 1000), None);
    let plan = alice.plan_ok(&request).await;
    assert_eq!(plan.missing.len(), 1);
    let url = &plan.missing[0].url;
    assert!(
        url.starts_with("http://files.example.test:9999/blobs/"),
        "presigned URL {url} starts with the public URL"
    );
}

#[tokio::test]
async fn presigned_urls_default_to_the_bound_address() {
    if skip_on_s3("local presigned URLs point at the server") {
        return;
    }
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let (request, _) = commit_request(alice.root(), "a.bin", &bytes(1, 1000), None);
    let plan = alice.plan_ok(&request).await;
    let url = &plan.missing[0].url;
    let hash = plan.missing[0].hash;
    assert!(
        url.starts_with(&format!("{}/blobs/{hash}?", server.base)),
        "presigned URL {url} is {}/blobs/{hash}?...",
        server.base
    );
    for key in ["size", "expires", "sig"] {
        query_param(url, key);
    }
}

#[tokio::test]
async fn json_logs_and_check_on_a_fresh_server() {
    let mut server = TestServer::start_with(&["--log-format", "json"]).await;
    server.get("/health").await.expect_status(200);
    let alice = server.register("alice@example.com").await;
    alice.upload_file(alice.root(), "x.txt", b"hello", None).await;
    // Check while running (WAL), then stopped.
    server.check_running();
    let log = server.log();
    let json_lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect();
    assert!(!json_lines.is_empty(), "--log-format json logs JSON lines:\n{log}");
    server.check();
}

#[tokio::test]
async fn check_passes_on_an_empty_data_dir() {
    let mut server = TestServer::start().await;
    server.check();
}
