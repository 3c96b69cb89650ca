//! The blob store behind the API: garbage collection (on whichever store the
//! run uses: local, or S3 with `DRIVE_TEST_S3_*`), and what only S3 does:
//! the store itself refusing bytes that do not match a presigned PUT.

mod common;

use std::{collections::BTreeSet, time::Duration};

use base64::Engine;
use common::*;
use drive_wire::BlockHash;

/// The numbers of `drive-server --gc-once`'s line: (unused, unregistered).
fn deleted(output: &str) -> (usize, usize) {
    let numbers: Vec<usize> = output
        .split_whitespace()
        .filter_map(|word| word.trim_start_matches('(').parse().ok())
        .collect();
    assert!(numbers.len() >= 2, "unexpected --gc-once output: {output:?}");
    (numbers[0], numbers[1])
}

async fn purge(client: &Client, id: i64) {
    client.trash(id).await.expect_status(204);
    client.delete(&format!("/api/v1/trash/{id}")).await.expect_status(204);
}

#[tokio::test]
async fn gc_removes_unused_blocks_and_keeps_every_referenced_one() {
    let mut server = TestServer::start_with(&["--no-gc-worker"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let (shared, only_a, b_old, b_new) = (bytes(1, BLOCK), bytes(2, BLOCK), bytes(3, BLOCK), bytes(4, 1000));

    // a.bin shares a block with both revisions of b.bin; then a.bin is purged.
    let a = alice
        .upload_file(root, "a.bin", &[only_a.clone(), shared.clone()].concat(), None)
        .await;
    let b1_content = [shared.clone(), b_old.clone()].concat();
    let b1 = alice.upload_file(root, "b.bin", &b1_content, None).await;
    let b2_content = [shared.clone(), b_new.clone()].concat();
    let b2 = alice.upload_file(root, "b.bin", &b2_content, b1.revision).await;
    purge(&alice, a.id).await;
    // An upload that never commits: its block is PUT, then abandoned.
    let abandoned = bytes(5, 500);
    let (request, blocks) = commit_request(root, "never.bin", &abandoned, None);
    alice.put_missing(&alice.plan_ok(&request).await, &blocks).await;

    let all = [&shared, &only_a, &b_old, &b_new, &abandoned].map(|b| sha256(b));
    for hash in all {
        assert!(server.stored(hash).await, "{hash} is stored before the pass");
    }
    let (unused, unregistered) = deleted(&server.gc_once(&["--gc-grace", "0"]));
    // With S3 the abandoned block never reached the server: it has no row.
    assert_eq!(unused + unregistered, 2, "only_a and the abandoned block");

    assert!(
        !server.stored(sha256(&only_a)).await,
        "the purged file's own block is gone"
    );
    assert!(!server.stored(sha256(&abandoned)).await, "the abandoned upload is gone");
    for kept in [&shared, &b_old, &b_new] {
        assert!(server.stored(sha256(kept)).await, "a block a revision uses is kept");
    }
    assert_eq!(alice.download(b2.id).await, b2_content);
    let old = alice
        .get(&format!(
            "/api/v1/nodes/{}/content?revision={}",
            b2.id,
            b1.revision.unwrap()
        ))
        .await;
    old.expect_status(200);
    assert_eq!(old.body, b1_content, "the old revision still downloads");

    // Nothing is left to take; the blocks come back when uploaded again.
    assert_eq!(deleted(&server.gc_once(&["--gc-grace", "0"])), (0, 0));
    let again = alice
        .upload_file(root, "a.bin", &[only_a.clone(), shared.clone()].concat(), None)
        .await;
    assert_eq!(alice.download(again.id).await, [only_a, shared].concat());
    server.check();
}

#[tokio::test]
async fn an_upload_in_flight_survives_a_pass_inside_the_grace_period() {
    let mut server = TestServer::start_with(&["--no-gc-worker"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let (reused, dropped) = (bytes(10, BLOCK), bytes(11, BLOCK));
    let p = alice
        .upload_file(root, "p.bin", &[reused.clone(), dropped.clone()].concat(), None)
        .await;
    purge(&alice, p.id).await;
    // Both blocks are unused and now older than the 2 s grace period below.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // In flight: asked, its blocks PUT (`reused` too: no content of alice's
    // uses it any more, so she must prove she has it, see possession.rs),
    // the commit still to come.
    let fresh = bytes(12, 3000);
    let content = [reused.clone(), fresh.clone()].concat();
    let (request, blocks) = commit_request(root, "q.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    assert_eq!(
        plan.missing.iter().map(|b| b.hash).collect::<BTreeSet<_>>(),
        [sha256(&reused), sha256(&fresh)].into_iter().collect()
    );
    alice.put_missing(&plan, &blocks).await;

    let (unused, unregistered) = deleted(&server.gc_once(&["--gc-grace", "2"]));
    assert_eq!((unused, unregistered), (1, 0), "only the block nobody asked for");
    assert!(!server.stored(sha256(&dropped)).await);
    assert!(server.stored(sha256(&reused)).await, "touched by the upload's PUT");
    assert!(server.stored(sha256(&fresh)).await, "uploaded inside the grace period");
    alice.commit(&request).await.expect_status(201);
    let q = alice.lookup("/q.bin").await.parse::<drive_wire::Node>();
    assert_eq!(alice.download(q.id).await, content);

    // Past the grace period (here 0) the collector may take an uncommitted
    // upload's blocks: the commit then lists them as missing, and the
    // client's usual retry (ask, PUT, commit) goes through.
    let late = bytes(13, 2 * BLOCK);
    let (request, blocks) = commit_request(root, "late.bin", &late, None);
    alice.put_missing(&alice.plan_ok(&request).await, &blocks).await;
    server.gc_once(&["--gc-grace", "0"]);
    let body = alice.commit(&request).await.expect_error(400, "missing_blocks");
    let missing: BTreeSet<BlockHash> = serde_json::from_value(body["error"]["missing"].clone()).unwrap();
    assert_eq!(missing, blocks.keys().copied().collect());
    let node = alice.upload_request(&request, &blocks).await;
    assert_eq!(alice.download(node.id).await, late);
    server.check();
}

#[tokio::test]
async fn the_gc_worker_collects_on_its_own() {
    let mut server = TestServer::start_with(&["--gc-grace", "2", "--gc-interval", "1"]).await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(30, 2000);
    let file = alice.upload_file(alice.root(), "w.bin", &content, None).await;
    purge(&alice, file.id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.stored(sha256(&content)).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never collected the block"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.check();
}

#[tokio::test]
async fn the_s3_store_itself_refuses_bytes_that_do_not_match_a_presigned_put() {
    let Some(s3) = s3_env() else {
        eprintln!("skipped: needs DRIVE_TEST_S3_* (scripts/garage run)");
        return;
    };
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(20, BLOCK);
    let (request, blocks) = commit_request(alice.root(), "s3.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    let block = &plan.missing[0];
    assert!(
        block.url.starts_with(&s3.endpoint),
        "clients PUT to the store: {}",
        block.url
    );
    let checksum = base64::engine::general_purpose::STANDARD.encode(block.hash.as_bytes());
    assert_eq!(
        block.headers.get("x-amz-checksum-sha256"),
        Some(&checksum),
        "the PUT must carry the block's SHA-256: {:?}",
        block.headers
    );

    let mut wrong = content.clone();
    wrong[100] ^= 1;
    let resp = put_block(&alice.http, block, wrong).await;
    assert!(
        resp.status.is_client_error(),
        "other bytes: {} {}",
        resp.status,
        resp.text()
    );
    let resp = put_url(&alice.http, &block.url, content.clone()).await;
    assert!(
        resp.status.is_client_error(),
        "no checksum header: {} {}",
        resp.status,
        resp.text()
    );
    let resp = put_block(&alice.http, block, content[..BLOCK - 1].to_vec()).await;
    assert!(
        resp.status.is_client_error(),
        "fewer bytes: {} {}",
        resp.status,
        resp.text()
    );
    assert!(!server.stored(block.hash).await, "nothing was stored");
    alice.commit(&request).await.expect_error(400, "missing_blocks");

    let resp = put_block(&alice.http, block, content.clone()).await;
    assert!(resp.status.is_success(), "right bytes: {} {}", resp.status, resp.text());
    let node = alice.upload_request(&request, &blocks).await;

    // Downloads: presigned GETs from the store, and the server's ranged stream.
    let manifest = alice.manifest(node.id, None).await;
    let resp = get_url(&alice.http, &manifest.blocks[0].url).await;
    resp.expect_status(200);
    assert_eq!(resp.body, content);
    let resp = alice
        .request(reqwest::Method::GET, &format!("/api/v1/nodes/{}/content", node.id))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), content[1000..2000]);
    server.get("/ready").await.expect_status(200);
    server.check();
}

#[tokio::test]
async fn an_object_store_that_cannot_be_reached_answers_503_and_stores_nothing() {
    if skip_on_s3("points the server at an S3 endpoint where nothing listens") {
        return;
    }
    // A port nothing listens on: bound, then closed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let endpoint = format!("http://{}", dead.local_addr().expect("an address"));
    drop(dead);
    let server = TestServer::start_with(&[
        "--blob-store",
        "s3",
        "--s3-endpoint",
        &endpoint,
        "--s3-bucket",
        "gone",
        "--s3-region",
        "garage",
        "--s3-path-style",
        "--s3-access-key-id",
        "id",
        "--s3-secret-access-key",
        "secret",
    ])
    .await;
    let alice = server.register("alice@example.com").await;
    let (request, _) = commit_request(alice.root(), "a.txt", &bytes(1, 1000), None);
    // Presigning needs no store; the second ask must ask the store whether
    // the reserved block arrived.
    alice.plan(&request).await.expect_status(200);
    let body = alice.plan(&request).await.expect_error(503, "unavailable");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("object store"), "{message}");
    alice.commit(&request).await.expect_error(503, "unavailable");
    assert!(alice.children(alice.root()).await.is_empty(), "nothing was committed");
    let ready = server.get("/ready").await;
    assert_eq!(ready.status.as_u16(), 503, "/ready reports the store: {}", ready.text());
}
