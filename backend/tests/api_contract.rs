//! The OpenAPI document tells the truth: every schema it references is
//! defined, the errors every handler shares are documented, the constraints
//! the server enforces are stated; and regressions of what Schemathesis found
//! (`scripts/api-fuzz` runs it against a live server).

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

/// The document as served, built in-process.
fn document() -> Value {
    let (_, openapi) = drive_server::api();
    serde_json::to_value(&openapi).expect("the document serializes")
}

/// Every `(method, path, operation)` of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                refs.push(target.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    let dangling: Vec<_> = refs
        .iter()
        .filter(|target| {
            let pointer = target.strip_prefix('#').unwrap_or(target);
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[test]
fn shared_errors_are_documented() {
    let doc = document();
    let mut missing = Vec::new();
    for (method, path, operation) in operations(&doc) {
        let responses = &operation["responses"];
        let mut expect = |status: &str, why: &str| {
            if responses.get(status).is_none() {
                missing.push(format!("{} {path}: {status} ({why})", method.to_uppercase()));
            }
        };
        let secured = operation["security"]
            .as_array()
            .is_some_and(|reqs| reqs.iter().any(|req| req.get("bearer").is_some()));
        if secured {
            expect("401", "bearer token");
        }
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        if !parameters.is_empty() || operation.get("requestBody").is_some() {
            expect("400", "input that does not parse");
        }
        if path.starts_with("/api/v1/") && parameters.iter().any(|p| p["in"] == "path") {
            expect("404", "an id in the path");
        }
        if method != "get" {
            expect("507", "a write");
        }
        if path != "/health" && path != "/metrics" {
            expect("503", "a store out of reach");
        }
    }
    assert!(missing.is_empty(), "undocumented errors: {missing:#?}");
}

#[test]
fn known_errors_are_documented_where_they_occur() {
    let doc = document();
    let cases = [
        ("post", "/api/v1/auth/register", ["202", "400", "403", "429"].as_slice()),
        ("post", "/api/v1/auth/login", &["401", "429"]),
        ("post", "/api/v1/folders", &["403", "404", "409"]),
        ("patch", "/api/v1/nodes/{id}", &["403", "409"]),
        ("post", "/api/v1/uploads", &["403", "404", "409", "413"]),
        ("post", "/api/v1/commits", &["400", "403", "404", "409", "413"]),
        (
            "post",
            "/api/v1/nodes/{id}/revisions/{rev}/restore",
            &["403", "409", "413"],
        ),
        ("put", "/api/v1/account/photo", &["413", "415", "422"]),
        ("put", "/blobs/{hash}", &["400", "403", "507"]),
        ("post", "/s/{token}", &["400", "401", "404", "410", "429"]),
        ("get", "/s/{token}/download", &["401", "404", "410", "416", "507"]),
    ];
    for (method, path, statuses) in cases {
        let responses = &doc["paths"][path][method]["responses"];
        for status in statuses {
            assert!(
                responses.get(*status).is_some(),
                "{} {path} does not document {status}: {responses}",
                method.to_uppercase()
            );
        }
    }
}

#[test]
fn constraints_are_stated() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let name_pattern = r"^(?:[^/\x00]{3,}|[^/\x00.][^/\x00]?|\.[^/\x00.])$";
    for schema in ["CreateFolderRequest", "CommitRequest"] {
        let name = &schemas[schema]["properties"]["name"];
        assert_eq!(name["minLength"], 1, "{schema}.name: {name}");
        assert_eq!(name["maxLength"], 255, "{schema}.name: {name}");
        assert_eq!(name["pattern"], name_pattern, "{schema}.name: {name}");
    }
    assert_eq!(
        schemas["UpdateNodeRequest"]["properties"]["name"]["pattern"],
        name_pattern
    );
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(register["email"]["format"], "email");
    assert_eq!(register["password"]["minLength"], 8);
    assert_eq!(schemas["CreateShareRequest"]["properties"]["email"]["format"], "email");
    let block = &schemas["BlockRef"]["properties"];
    assert_eq!(block["hash"]["pattern"], "^[0-9a-fA-F]{64}$");
    assert_eq!(block["size"]["minimum"], 1);
    assert_eq!(block["size"]["maximum"], 16 * 1024 * 1024);
    for method in ["get", "put"] {
        let hash = doc["paths"]["/blobs/{hash}"][method]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "hash")
            .cloned()
            .expect("a hash parameter");
        assert_eq!(
            hash["schema"]["pattern"], "^[0-9a-fA-F]{64}$",
            "{method} /blobs/{{hash}}"
        );
    }
    // Query parameters are in the query (the audit's were once "in: path").
    for (method, path, operation) in operations(&doc) {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().unwrap_or_default();
                assert!(
                    names.contains(&name),
                    "{} {path}: path parameter {name} is not in the path",
                    method.to_uppercase()
                );
            }
        }
    }
    // Limits that the server clamps are not refusals: no maximum below u32's.
    let audit = &doc["paths"]["/api/v1/audit"]["get"]["parameters"];
    let limit = audit
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
        .expect("audit limit");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["schema"]["maximum"], u64::from(u32::MAX));
}

/// `routes!(restore, purge)` once put both handlers on both paths:
/// `DELETE /api/v1/trash/{id}/restore` purged and `POST /api/v1/trash/{id}`
/// restored.
#[tokio::test]
async fn trash_routes_answer_only_their_own_method() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let folder = alice.create_folder(alice.root(), "old").await;
    alice.trash(folder.id).await.expect_status(204);

    alice
        .delete(&format!("/api/v1/trash/{}/restore", folder.id))
        .await
        .expect_status(405);
    alice
        .post_empty(&format!("/api/v1/trash/{}", folder.id))
        .await
        .expect_status(405);
    let (status, trash) = alice.get_json("/api/v1/trash").await;
    assert_eq!(status, 200);
    assert_eq!(trash.as_array().map(Vec::len), Some(1), "still in the trash: {trash}");

    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", folder.id))
        .await
        .expect_status(200);
    let (_, trash) = alice.get_json("/api/v1/trash").await;
    assert_eq!(trash, json!([]));
}

/// JSON Schema's `integer` is any number with no fraction, `3.0` too, and
/// Schemathesis sends such numbers; the server once refused them with 400.
#[tokio::test]
async fn integers_written_with_a_fraction_of_zero_are_integers() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let body = format!(r#"{{"parent_id": {}.0, "name": "whole"}}"#, alice.root());
    let resp = alice
        .request(Method::POST, "/api/v1/folders")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/folders");
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());

    let body = format!(r#"{{"parent_id": {}.5, "name": "half"}}"#, alice.root());
    let resp = alice
        .request(Method::POST, "/api/v1/folders")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/folders");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("an error body");
    assert_eq!(body["error"]["code"], "bad_request");

    // Decided on the digits: 3956636448394526.0 read as an `f64` by serde_json
    // comes out as ...526.5, which was refused as a fraction.
    let body = format!(
        r#"{{"parent_id": {}.0, "name": "new.txt", "base_revision": 3956636448394526.0, "blocks": [], "modified": "2026-01-01T00:00:00Z"}}"#,
        alice.root()
    );
    let resp = alice
        .request(Method::POST, "/api/v1/commits")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /api/v1/commits");
    assert_eq!(resp.status(), 409, "a base revision of a file that does not exist");
    let body: Value = resp.json().await.expect("an error body");
    assert_eq!(body["error"]["code"], "stale_revision");

    // And a body that is not JSON at all is still a 400 in the error shape.
    let resp = alice
        .request(Method::POST, "/api/v1/folders")
        .body("{}")
        .send()
        .await
        .expect("POST /api/v1/folders");
    assert_eq!(resp.status(), 400, "no content type");
}

/// The password form of a link without a form body was answered 415 in
/// plain text by the extractor; now a 400 in the error shape.
#[tokio::test]
async fn link_password_form_without_a_form_is_a_400() {
    let server = TestServer::start().await;
    let resp = server.send(Method::POST, "/s/not-a-token").await;
    resp.expect_error(400, "bad_request");
    let resp = common::http_client()
        .post(server.url("/s/not-a-token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("password=x")
        .send()
        .await
        .expect("POST /s/not-a-token");
    assert_eq!(resp.status(), 404);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html")));
}

/// serde takes a struct from an array of its fields in order: `PATCH` with
/// `[null, null]` was a rename to nothing, answered 200. Bodies are objects.
#[tokio::test]
async fn a_body_that_is_not_an_object_is_a_400() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let folder = alice.create_folder(alice.root(), "kept").await;
    for body in ["[null, null]", " [\"renamed\", null]", "null", "\"kept\""] {
        let resp = alice
            .request(Method::PATCH, &format!("/api/v1/nodes/{}", folder.id))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("PATCH /api/v1/nodes/{id}");
        assert_eq!(resp.status(), 400, "{body}");
    }
    let (_, node) = alice.get_json(&format!("/api/v1/nodes/{}", folder.id)).await;
    assert_eq!(node["name"], "kept");
}
