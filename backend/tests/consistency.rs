//! After a barrage of bad requests the server is still consistent, nothing
//! that was refused was stored, and every refusal has the one error shape.

mod common;

use common::*;
use drive_wire::BlockRef;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_barrage_of_bad_requests_leaves_everything_consistent() {
    if skip_on_s3("bad requests to the local blob endpoint") {
        return;
    }
    let mut server = TestServer::start_with(&["--default-quota", "300000"]).await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let root = alice.root();

    // Some good state to disturb.
    let dir = alice.create_folder(root, "dir").await;
    let v1 = bytes(1, 2 * BLOCK + 10);
    let doc = alice.upload_file(dir.id, "doc.bin", &v1, None).await;
    let v2 = bytes(2, BLOCK + 20);
    let doc2 = alice.upload_file(dir.id, "doc.bin", &v2, doc.revision).await;
    bob.upload_file(bob.root(), "bob.bin", &bytes(3, 1000), None).await;

    // Wrong bytes to a good URL: hash and size mismatches.
    let fresh = bytes(4, 5000);
    let (request, blocks) = commit_request(root, "fresh.bin", &fresh, None);
    let plan = alice.plan_ok(&request).await;
    let url = plan.missing[0].url.clone();
    let good = blocks[&plan.missing[0].hash].clone();
    let mut rejected = Vec::new();
    for n in 0..5u64 {
        let wrong = bytes(100 + n, 5000);
        put_url(&alice.http, &url, wrong.clone())
            .await
            .expect_error(400, "hash_mismatch");
        rejected.push(wrong);
        let short = bytes(200 + n, 4000);
        put_url(&alice.http, &url, short.clone())
            .await
            .expect_error(400, "size_mismatch");
        rejected.push(short);
        let long = bytes(300 + n, 6000);
        put_url(&alice.http, &url, long.clone())
            .await
            .expect_error(400, "size_mismatch");
        rejected.push(long);
        put_url(&alice.http, &with_query(&url, "sig", &"0".repeat(64)), good.clone())
            .await
            .expect_error(403, "invalid_signature");
    }

    // Stale commits and quota rejections.
    for _ in 0..3 {
        let (stale, _) = commit_request(dir.id, "doc.bin", &v1, doc.revision);
        alice.commit(&stale).await.expect_error(409, "stale_revision");
        let (stale, _) = commit_request(dir.id, "doc.bin", &v2, None);
        assert_eq!(alice.commit(&stale).await.status, 409);
        let (too_big, _) = commit_request(root, "big.bin", &bytes(5, 250_000), None);
        alice.plan(&too_big).await.expect_error(413, "quota_exceeded");
        // Stored blocks, too many of them.
        let mut over = commit_request(root, "over.bin", &v1, None).0;
        let first = over.blocks[0];
        over.blocks = vec![first; 4];
        alice.commit(&over).await.expect_error(413, "quota_exceeded");
        // Blocks never uploaded.
        let mut ghost = commit_request(root, "ghost.bin", b"x", None).0;
        ghost.blocks = vec![BlockRef {
            hash: random_hash(),
            size: 100,
        }];
        alice.commit(&ghost).await.expect_error(400, "missing_blocks");
    }

    // Malformed JSON bodies on every JSON route.
    let token = alice.token().to_owned();
    let doc_path = format!("/api/v1/nodes/{}", doc.id);
    let malformed: [&'static [u8]; 8] = [
        b"",
        b"{",
        b"not json",
        b"[]",
        b"null",
        b"{\"parent_id\": \"one\", \"name\": 5}",
        b"{\"parent_id\": 1, \"name\": \"x\"} trailing",
        b"\xff\xfe\x00garbage",
    ];
    for body in malformed {
        for path in [
            "/api/v1/auth/register",
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            "/api/v1/folders",
            "/api/v1/uploads",
            "/api/v1/commits",
        ] {
            let resp = server.post_raw(path, Some(&token), body).await;
            assert_eq!(
                resp.status,
                400,
                "POST {path} with {:?}: {}",
                String::from_utf8_lossy(body),
                resp.text()
            );
            resp.expect_error_shape();
        }
        if body == b"[]" {
            // serde reads an empty array as a struct whose fields all have
            // defaults: for PATCH that is a valid empty update.
            continue;
        }
        let resp = Resp::read(
            alice
                .request(Method::PATCH, &doc_path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("PATCH"),
        )
        .await;
        assert_eq!(
            resp.status,
            400,
            "PATCH with {:?}: {}",
            String::from_utf8_lossy(body),
            resp.text()
        );
        resp.expect_error_shape();
    }
    // Wrong types and missing fields in otherwise valid JSON.
    for body in [
        json!({"parent_id": root}),
        json!({"parent_id": root, "name": "x", "blocks": "none", "modified": now_ms()}),
        json!({"parent_id": root, "name": "x", "blocks": [{"hash": "ab", "size": 1}], "modified": now_ms()}),
        json!({"parent_id": root, "name": "x", "blocks": [], "modified": "yesterday"}),
        json!({"parent_id": root, "name": "x", "blocks": [{"hash": random_hash(), "size": -1}], "modified": now_ms()}),
    ] {
        for path in ["/api/v1/uploads", "/api/v1/commits"] {
            let resp = alice.post(path, &body).await;
            assert_eq!(resp.status, 400, "POST {path} with {body}: {}", resp.text());
            resp.expect_error_shape();
        }
    }
    // No content type at all.
    let resp = Resp::read(
        alice
            .request(Method::POST, "/api/v1/folders")
            .body(r#"{"parent_id": 1, "name": "x"}"#)
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert!(resp.status.is_client_error(), "no content type: {}", resp.text());
    resp.expect_error_shape();
    // Bad query strings and path segments.
    for path in [
        "/api/v1/changes?since=abc",
        "/api/v1/changes?wait=-1",
        "/api/v1/nodes/abc",
        "/api/v1/nodes/1.5/children",
        &format!("/api/v1/nodes/{}/children?order=sideways", dir.id),
        &format!("/api/v1/nodes/{}/content?revision=x", doc.id),
    ] {
        let resp = alice.get(path).await;
        assert!(resp.status.is_client_error(), "GET {path}: {}", resp.text());
        resp.expect_error_shape();
    }

    // Nothing refused was stored: its hash is still missing.
    for wrong in &rejected {
        let (request, _) = commit_request(root, "probe.bin", wrong, None);
        assert_eq!(
            alice.missing(&request).await,
            vec![sha256(wrong)],
            "rejected bytes were not stored"
        );
    }
    assert_eq!(alice.missing(&request).await, vec![plan.missing[0].hash]);

    // The good state is intact.
    assert_eq!(alice.download(doc.id).await, v2);
    assert_eq!(alice.node(doc.id).await, doc2);
    assert_eq!(alice.child_names(root).await, vec!["dir"]);
    assert_eq!(alice.me().await.used_bytes, v2.len() as u64);
    // And still works.
    put_url(&alice.http, &url, good).await.expect_status(201);
    alice.commit(&request).await.expect_status(201);
    server.get("/ready").await.expect_status(200);

    server.check_running();
    server.check();
}

#[tokio::test]
async fn check_passes_after_a_full_workload() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let root = alice.root();
    let a = alice.create_folder(root, "a").await;
    let b = alice.create_folder(a.id, "b").await;
    let mut rev = None;
    for n in 0..4u64 {
        rev = alice
            .upload_file(b.id, "f.bin", &bytes(n, 50_000 + n as usize * 40_000), rev)
            .await
            .revision;
    }
    let f = alice.lookup("/a/b/f.bin").await.parse::<drive_wire::Node>();
    let first_rev = alice
        .get(&format!("/api/v1/nodes/{}/revisions", f.id))
        .await
        .parse::<Vec<drive_wire::Revision>>()
        .last()
        .expect("revisions")
        .id;
    alice
        .post_empty(&format!("/api/v1/nodes/{}/revisions/{first_rev}/restore", f.id))
        .await
        .expect_status(200);
    alice.move_to(b.id, root).await.expect_status(200);
    alice.rename(a.id, "a2").await.expect_status(200);
    alice.trash(a.id).await.expect_status(204);
    let g = alice.upload_file(b.id, "g.bin", &bytes(9, 1000), None).await;
    alice.trash(g.id).await.expect_status(204);
    alice
        .delete(&format!("/api/v1/trash/{}", g.id))
        .await
        .expect_status(204);
    alice.trash(b.id).await.expect_status(204);
    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", b.id))
        .await
        .expect_status(200);
    alice.delete("/api/v1/trash").await.expect_status(204);
    bob.upload_file(bob.root(), "same.bin", &bytes(0, 50_000), None).await;
    assert_eq!(alice.me().await.used_bytes, 50_000);
    server.check();
}

/// Writers racing on one file or one quota (on PostgreSQL they truly run at
/// once): exactly one commit on a given base revision wins and the others get
/// 409, and the quota is never overrun.
#[tokio::test]
async fn racing_commits_neither_overwrite_each_other_nor_overrun_the_quota() {
    let mut server = TestServer::start_with(&["--default-quota", "1000000"]).await;
    let alice = server.register("alice@example.com").await;
    let file = alice.upload_file(alice.root(), "shared.txt", b"v1", None).await;

    let edits: Vec<_> = (0..8u64)
        .map(|i| {
            let alice = alice.clone();
            let base = file.revision;
            tokio::spawn(async move {
                alice
                    .try_upload(alice.root(), "shared.txt", &bytes(100 + i, 1000), base)
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for edit in edits {
        statuses.push(edit.await.expect("an edit task"));
    }
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409], "one winner");
    let revisions = alice.get(&format!("/api/v1/nodes/{}/revisions", file.id)).await.json();
    assert_eq!(revisions.as_array().map(Vec::len), Some(2), "v1 and the winner");

    // 8 files of 300 kB against a quota with room for 3.
    let uploads: Vec<_> = (0..8u64)
        .map(|i| {
            let alice = alice.clone();
            tokio::spawn(async move {
                alice
                    .try_upload(alice.root(), &format!("big-{i}.bin"), &bytes(200 + i, 300_000), None)
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut stored = 0;
    for upload in uploads {
        match upload.await.expect("an upload task") {
            201 => stored += 1,
            413 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(stored, 3, "as many as fit");
    let me = alice.me().await;
    assert!(me.used_bytes <= me.quota_bytes, "{me:?}");
    server.check();
}
