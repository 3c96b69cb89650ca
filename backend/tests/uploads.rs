//! Uploads: the three steps, deduplication, resumption, the blob endpoint's
//! checks, commit conflicts and quota.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use drive_wire::{BlockHash, BlockRef, Node, NodeKind, UploadPlan};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

fn set(hashes: impl IntoIterator<Item = BlockHash>) -> BTreeSet<BlockHash> {
    hashes.into_iter().collect()
}

#[tokio::test]
async fn three_step_upload_round_trips() {
    if skip_on_s3("the local blob endpoint's 201/200 answers; tests/s3.rs covers S3 PUTs") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(7, 3 * BLOCK + 1234);
    let (request, blocks) = commit_request(alice.root(), "photo.jpg", &content, None);
    assert_eq!(request.blocks.len(), 4);

    // Step 1: everything is missing, each with a URL bound to its hash and size.
    let plan = alice.plan_ok(&request).await;
    assert_eq!(set(plan.missing.iter().map(|b| b.hash)), set(blocks.keys().copied()));
    for block in &plan.missing {
        assert_eq!(block.size, blocks[&block.hash].len() as u64);
        assert!(block.url.contains(&block.hash.to_string()), "{}", block.url);
        let expires_in = block.expires_at - chrono::Utc::now();
        assert!(
            expires_in > chrono::Duration::seconds(800) && expires_in <= chrono::Duration::seconds(901),
            "PUT URLs are valid for 15 minutes: {}",
            block.expires_at
        );
    }
    // Committing before the upload: missing blocks.
    let body = alice.commit(&request).await.expect_error(400, "missing_blocks");
    let listed: BTreeSet<BlockHash> =
        serde_json::from_value(body["error"]["missing"].clone()).expect("error.missing is a list of hashes");
    assert_eq!(listed, set(blocks.keys().copied()));

    // Step 2: 201 when stored, and the same 201 when it already was (the
    // answer never tells whether the store had the bytes: see possession.rs).
    for block in &plan.missing {
        put_url(&alice.http, &block.url, blocks[&block.hash].clone())
            .await
            .expect_status(201);
    }
    put_url(&alice.http, &plan.missing[0].url, blocks[&plan.missing[0].hash].clone())
        .await
        .expect_status(201);
    assert!(alice.missing(&request).await.is_empty(), "nothing is missing any more");

    // Step 3.
    let resp = alice.commit(&request).await;
    resp.expect_status(201);
    let node: Node = resp.parse();
    assert_eq!(node.kind, NodeKind::File);
    assert_eq!(node.name, "photo.jpg");
    assert_eq!(node.parent_id, Some(alice.root()));
    assert_eq!(node.size, content.len() as u64);
    assert_eq!(node.modified, request.modified);
    assert!(node.revision.is_some());
    assert_eq!(alice.node(node.id).await, node);
    assert_eq!(alice.download(node.id).await, content);
    assert_eq!(alice.me().await.used_bytes, content.len() as u64);

    // An update based on the current revision.
    let content2 = bytes(8, 1000);
    let updated = alice
        .upload_file(alice.root(), "photo.jpg", &content2, node.revision)
        .await;
    assert_eq!(updated.id, node.id);
    assert_ne!(updated.revision, node.revision);
    assert_eq!(alice.download(node.id).await, content2);
    assert_eq!(alice.me().await.used_bytes, 1000);

    server.check();
}

#[tokio::test]
async fn a_block_of_the_largest_size_round_trips() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let max = 16 * 1024 * 1024;
    let content = bytes(77, max + 5);
    // Blocks of 16 MiB and 5 bytes, cut by hand.
    let (mut request, _) = commit_request(alice.root(), "huge.bin", b"", None);
    request.blocks = vec![
        BlockRef {
            hash: sha256(&content[..max]),
            size: max as u64,
        },
        BlockRef {
            hash: sha256(&content[max..]),
            size: 5,
        },
    ];
    let blocks = [
        (request.blocks[0].hash, content[..max].to_vec()),
        (request.blocks[1].hash, content[max..].to_vec()),
    ]
    .into_iter()
    .collect();
    let node = alice.upload_request(&request, &blocks).await;
    assert_eq!(node.size, content.len() as u64);
    let resp = alice.content(node.id).await;
    resp.expect_status(200);
    assert!(resp.body == content, "the 16 MiB file comes back intact");
    server.check();
}

#[tokio::test]
async fn empty_files_and_repeated_blocks() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let empty = alice.upload_file(alice.root(), "empty.txt", b"", None).await;
    assert_eq!(empty.size, 0);
    assert!(alice.download(empty.id).await.is_empty());

    // The same block three times, then a different one.
    let block = bytes(1, BLOCK);
    let tail = bytes(2, 10);
    let content = [block.clone(), block.clone(), block.clone(), tail.clone()].concat();
    let (request, blocks) = commit_request(alice.root(), "repeat.bin", &content, None);
    assert_eq!(request.blocks.len(), 4);
    let missing = alice.missing(&request).await;
    assert_eq!(set(missing.iter().copied()), set([sha256(&block), sha256(&tail)]));
    let node = alice.upload_request(&request, &blocks).await;
    assert_eq!(node.size, content.len() as u64);
    assert_eq!(alice.download(node.id).await, content);
    let manifest = alice.manifest(node.id, None).await;
    assert_eq!(manifest.blocks.len(), 4, "the manifest keeps every position");

    server.check();
}

#[tokio::test]
async fn blocks_already_stored_are_not_asked_for_again() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let shared = bytes(1, 2 * BLOCK);
    alice.upload_file(alice.root(), "one.bin", &shared, None).await;

    // Another file of the same user with the same two blocks and a new one.
    let extra = bytes(2, 100);
    let content = [shared.clone(), extra.clone()].concat();
    let (request, blocks) = commit_request(alice.root(), "two.bin", &content, None);
    assert_eq!(alice.missing(&request).await, vec![sha256(&extra)]);
    let two = alice.upload_request(&request, &blocks).await;
    assert_eq!(alice.download(two.id).await, content);

    // Another user must send the bytes (proof of possession: see
    // possession.rs); the store keeps them once.
    let (request, blocks) = commit_request(bob.root(), "copy.bin", &shared, None);
    assert_eq!(bob.missing(&request).await.len(), 2);
    bob.commit(&request).await.expect_error(400, "missing_blocks");
    let copy = bob.upload_request(&request, &blocks).await;
    assert_eq!(bob.download(copy.id).await, shared);
    assert_eq!(bob.me().await.used_bytes, shared.len() as u64);

    server.check();
}

#[tokio::test]
async fn an_interrupted_upload_resumes_with_what_is_still_missing() {
    if skip_on_s3("cuts a PUT to the local blob endpoint midway") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(3, 6 * BLOCK);
    let (request, blocks) = commit_request(alice.root(), "big.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    assert_eq!(plan.missing.len(), 6);

    let (done, rest) = plan.missing.split_at(3);
    for block in done {
        put_url(&alice.http, &block.url, blocks[&block.hash].clone())
            .await
            .expect_status(201);
    }
    // An upload cut off mid-body: the connection drops after half the bytes.
    let cut = &rest[0];
    let half = blocks[&cut.hash][..BLOCK / 2].to_vec();
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(half)]).chain(futures::stream::once(async {
        Err(std::io::Error::other("the client went away"))
    }));
    let _ = alice
        .http
        .put(&cut.url)
        .header("content-length", BLOCK.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;

    let missing = alice.missing(&request).await;
    assert_eq!(
        set(missing.iter().copied()),
        set(rest.iter().map(|b| b.hash)),
        "only the blocks not uploaded are listed"
    );
    let plan = alice.plan_ok(&request).await;
    alice.put_missing(&plan, &blocks).await;
    assert!(alice.missing(&request).await.is_empty());
    let node: Node = {
        let resp = alice.commit(&request).await;
        resp.expect_status(201);
        resp.parse()
    };
    assert_eq!(alice.download(node.id).await, content);

    server.check();
}

#[tokio::test]
async fn the_blob_endpoint_refuses_wrong_bytes() {
    if skip_on_s3("the local blob endpoint; tests/s3.rs shows the store refusing wrong bytes") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(4, 1000);
    let (request, blocks) = commit_request(alice.root(), "f.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    let block = &plan.missing[0];
    let good = blocks[&block.hash].clone();

    // Same size, other bytes.
    let mut wrong = good.clone();
    wrong[0] ^= 0xff;
    put_url(&alice.http, &block.url, wrong.clone())
        .await
        .expect_error(400, "hash_mismatch");
    // Shorter and longer.
    put_url(&alice.http, &block.url, good[..999].to_vec())
        .await
        .expect_error(400, "size_mismatch");
    put_url(&alice.http, &block.url, [good.clone(), vec![0]].concat())
        .await
        .expect_error(400, "size_mismatch");
    put_url(&alice.http, &block.url, Vec::new())
        .await
        .expect_error(400, "size_mismatch");
    // The same, streamed without a Content-Length.
    for (body, code) in [
        ([good.clone(), vec![1, 2, 3]].concat(), "size_mismatch"),
        (good[..500].to_vec(), "size_mismatch"),
        (wrong.clone(), "hash_mismatch"),
    ] {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(300).map(|c| Ok(c.to_vec())).collect();
        let resp = Resp::read(
            alice
                .http
                .put(&block.url)
                .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
                .send()
                .await
                .expect("PUT"),
        )
        .await;
        resp.expect_error(400, code);
    }

    // Nothing was stored: the block and the wrong bytes' hash are still missing.
    assert_eq!(alice.missing(&request).await, vec![block.hash]);
    let (wrong_request, _) = commit_request(alice.root(), "w.bin", &wrong, None);
    assert_eq!(alice.missing(&wrong_request).await, vec![sha256(&wrong)]);
    alice.commit(&request).await.expect_error(400, "missing_blocks");

    // The right bytes still go through.
    put_url(&alice.http, &block.url, good).await.expect_status(201);
    alice.commit(&request).await.expect_status(201);

    server.check();
}

#[tokio::test]
async fn expired_urls_are_refused() {
    if skip_on_s3("the local blob endpoint's URL expiry") {
        return;
    }
    let mut server = TestServer::start_with(&["--presign-ttl", "1"]).await;
    let alice = server.register("alice@example.com").await;
    let first = bytes(5, 100);
    let node = alice.upload_file(alice.root(), "first.bin", &first, None).await;
    let manifest = alice.manifest(node.id, None).await;

    let content = bytes(6, 100);
    let (request, blocks) = commit_request(alice.root(), "f.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let block = &plan.missing[0];
    put_url(&alice.http, &block.url, blocks[&block.hash].clone())
        .await
        .expect_error(403, "url_expired");
    get_url(&alice.http, &manifest.blocks[0].url)
        .await
        .expect_error(403, "url_expired");
    // Asking again gives fresh URLs.
    let plan = alice.plan_ok(&request).await;
    alice.put_missing(&plan, &blocks).await;
    alice.commit(&request).await.expect_status(201);

    server.check();
}

#[tokio::test]
async fn altered_urls_are_refused() {
    if skip_on_s3("tampers with the local blob endpoint's signature") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let stored = bytes(9, 700);
    let node = alice.upload_file(alice.root(), "stored.bin", &stored, None).await;
    let manifest = alice.manifest(node.id, None).await;
    let get = manifest.blocks[0].url.clone();

    let content = bytes(10, 1000);
    let (request, blocks) = commit_request(alice.root(), "f.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    let block = &plan.missing[0];
    let good = blocks[&block.hash].clone();
    let url = block.url.clone();

    // The signature.
    let sig = query_param(&url, "sig");
    put_url(
        &alice.http,
        &with_query(&url, "sig", &flip_last_hex(&sig)),
        good.clone(),
    )
    .await
    .expect_error(403, "invalid_signature");
    put_url(&alice.http, &with_query(&url, "sig", "zz"), good.clone())
        .await
        .expect_error(403, "invalid_signature");
    put_url(&alice.http, &with_query(&url, "sig", ""), good.clone())
        .await
        .expect_error(403, "invalid_signature");
    // The size (with a body of that size).
    put_url(&alice.http, &with_query(&url, "size", "999"), good[..999].to_vec())
        .await
        .expect_error(403, "invalid_signature");
    // The expiry, later.
    let expires: i64 = query_param(&url, "expires").parse().expect("expires is a number");
    put_url(
        &alice.http,
        &with_query(&url, "expires", &(expires + 100_000).to_string()),
        good.clone(),
    )
    .await
    .expect_error(403, "invalid_signature");
    // The hash in the path: other bytes of the same size, under their own hash.
    let other = bytes(11, 1000);
    let other_url = url.replace(&block.hash.to_string(), &sha256(&other).to_string());
    put_url(&alice.http, &other_url, other.clone())
        .await
        .expect_error(403, "invalid_signature");
    // A PUT URL is not a GET URL, and the other way round.
    get_url(&alice.http, &url).await.expect_error(403, "invalid_signature");
    let resp = put_url(&alice.http, &get, stored.clone()).await;
    assert!(resp.status.is_client_error(), "PUT to a GET URL: {}", resp.text());
    resp.expect_error_shape();
    // Missing parameters.
    let bare = url.split('?').next().expect("a URL").to_owned();
    let resp = put_url(&alice.http, &bare, good.clone()).await;
    assert!(resp.status.is_client_error(), "unsigned PUT: {}", resp.text());
    resp.expect_error_shape();
    // A GET URL, altered.
    let get_sig = query_param(&get, "sig");
    get_url(&alice.http, &with_query(&get, "sig", &flip_last_hex(&get_sig)))
        .await
        .expect_error(403, "invalid_signature");
    let get_expires: i64 = query_param(&get, "expires").parse().expect("expires is a number");
    get_url(
        &alice.http,
        &with_query(&get, "expires", &(get_expires + 1).to_string()),
    )
    .await
    .expect_error(403, "invalid_signature");
    let first_hash = manifest.blocks[0].hash.to_string();
    get_url(&alice.http, &get.replace(&first_hash, &block.hash.to_string()))
        .await
        .expect_error(403, "invalid_signature");

    // None of it stored anything.
    assert_eq!(alice.missing(&request).await, vec![block.hash]);
    let (other_request, _) = commit_request(alice.root(), "o.bin", &other, None);
    assert_eq!(alice.missing(&other_request).await, vec![sha256(&other)]);
    // The genuine URLs still work.
    put_url(&alice.http, &url, good).await.expect_status(201);
    let resp = get_url(&alice.http, &get).await;
    resp.expect_status(200);
    assert_eq!(resp.body, stored);

    server.check();
}

#[tokio::test]
async fn blob_paths_that_are_not_hashes_are_refused() {
    if skip_on_s3("the local blob endpoint's paths") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let (request, _) = commit_request(alice.root(), "f.bin", b"abc", None);
    let plan = alice.plan_ok(&request).await;
    let url = &plan.missing[0].url;
    let query = url.split_once('?').expect("a query").1;
    for path in [
        "..%2F..%2Fetc%2Fpasswd",
        "..%2F..%2Fetc",
        "%2e%2e%2fsecret",
        "..",
        "secret",
        "0000",
        &"g".repeat(64),
        &"0".repeat(65),
    ] {
        let target = format!("{}/blobs/{path}?{query}", server.base);
        let resp = put_url(&alice.http, &target, b"abc".to_vec()).await;
        assert!(
            resp.status.is_client_error(),
            "PUT /blobs/{path}: {} {}",
            resp.status,
            resp.text()
        );
        let resp = get_url(
            &alice.http,
            &format!("{}/blobs/{path}?expires=9999999999&sig=00", server.base),
        )
        .await;
        // `/blobs/..` is `/` once the client resolves it: the web app's page.
        let web_page = path == ".." && resp.text().starts_with("<!doctype html>");
        assert!(
            resp.status.is_client_error() || web_page,
            "GET /blobs/{path}: {} {}",
            resp.status,
            resp.text()
        );
    }
    // The server's own files are not reachable: a refusal, or the web app's
    // page where the client resolved `..` to another path.
    for path in ["../secret", "../metadata.db", "%2E%2E/secret"] {
        let resp = get_url(&alice.http, &format!("{}/blobs/{path}", server.base)).await;
        let web_page = resp.status.is_success() && resp.text().starts_with("<!doctype html>");
        assert!(
            resp.status.is_client_error() || web_page,
            "GET /blobs/{path}: {}",
            resp.status
        );
    }
    server.check();
}

#[tokio::test]
async fn committing_blocks_never_uploaded_lists_them() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(12, 2 * BLOCK);
    let (mut request, blocks) = commit_request(alice.root(), "f.bin", &content, None);
    let plan = alice.plan_ok(&request).await;
    // Upload only the first block, then add a block nobody has.
    let first = request.blocks[0];
    let resp = put_block(
        &alice.http,
        plan.missing.iter().find(|b| b.hash == first.hash).expect("listed"),
        blocks[&first.hash].clone(),
    )
    .await;
    assert!(resp.status.is_success(), "PUT of the first block: {}", resp.status);
    let ghost = random_hash();
    request.blocks.push(BlockRef { hash: ghost, size: 10 });

    let body = alice.commit(&request).await.expect_error(400, "missing_blocks");
    let missing: BTreeSet<BlockHash> =
        serde_json::from_value(body["error"]["missing"].clone()).expect("error.missing is a list of hashes");
    assert_eq!(missing, set([request.blocks[1].hash, ghost]));
    alice.lookup("/f.bin").await.expect_error(404, "not_found");
    assert_eq!(alice.me().await.used_bytes, 0);

    server.check();
}

#[tokio::test]
async fn malformed_block_lists_are_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let stored = alice
        .upload_file(alice.root(), "stored.bin", &bytes(1, 100), None)
        .await;
    let stored_hash = alice.manifest(stored.id, None).await.blocks[0].hash;
    let root = alice.root();

    let hash = random_hash();
    let cases = [
        ("an empty block", vec![BlockRef { hash, size: 0 }]),
        (
            "a block over 16 MiB",
            vec![BlockRef {
                hash,
                size: 16 * 1024 * 1024 + 1,
            }],
        ),
        (
            "one hash with two sizes",
            vec![BlockRef { hash, size: 10 }, BlockRef { hash, size: 11 }],
        ),
    ];
    for (what, blocks) in cases {
        let request = drive_wire::CommitRequest {
            parent_id: root,
            name: "bad.bin".into(),
            base_revision: None,
            blocks,
            modified: now_ms(),
            inline: Vec::new(),
        };
        let resp = alice.plan(&request).await;
        assert_eq!(resp.status, 400, "/uploads with {what}: {}", resp.text());
        resp.expect_error(400, "invalid_blocks");
        let resp = alice.commit(&request).await;
        assert_eq!(resp.status, 400, "/commits with {what}: {}", resp.text());
        resp.expect_error_shape();
    }
    // A stored block named with the wrong size is answered like an unknown
    // block (missing; no bytes of that size can have its hash), so that
    // sizes reveal nothing of what the store holds.
    let request = drive_wire::CommitRequest {
        parent_id: root,
        name: "bad.bin".into(),
        base_revision: None,
        blocks: vec![BlockRef {
            hash: stored_hash,
            size: 101,
        }],
        modified: now_ms(),
        inline: Vec::new(),
    };
    let plan = alice.plan_ok(&request).await;
    assert_eq!(plan.missing.len(), 1);
    assert_eq!((plan.missing[0].hash, plan.missing[0].size), (stored_hash, 101));
    alice.commit(&request).await.expect_error(400, "missing_blocks");
    // A block of exactly 16 MiB is fine to plan.
    let request = drive_wire::CommitRequest {
        parent_id: root,
        name: "max.bin".into(),
        base_revision: None,
        blocks: vec![BlockRef {
            hash,
            size: 16 * 1024 * 1024,
        }],
        modified: now_ms(),
        inline: Vec::new(),
    };
    assert_eq!(alice.missing(&request).await, vec![hash]);

    // Hashes that are not hashes.
    for bad in ["xyz", "../../etc/passwd", &"0".repeat(63), &"g".repeat(64)] {
        let body = json!({
            "parent_id": root, "name": "x.bin", "base_revision": null,
            "blocks": [{"hash": bad, "size": 1}], "modified": now_ms(),
        });
        for path in ["/api/v1/uploads", "/api/v1/commits"] {
            let resp = alice.post(path, &body).await;
            assert_eq!(resp.status, 400, "{path} with hash {bad:?}: {}", resp.text());
            resp.expect_error_shape();
        }
    }
    assert_eq!(alice.child_names(root).await, vec!["stored.bin"]);
}

#[tokio::test]
async fn a_stale_base_revision_is_refused_with_the_current_file() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let v1 = bytes(1, 1000);
    let v2 = bytes(2, 2000);
    let n1 = alice.upload_file(root, "doc.txt", &v1, None).await;
    let n2 = alice.upload_file(root, "doc.txt", &v2, n1.revision).await;

    // A client still on v1 commits v3.
    let v3 = bytes(3, 3000);
    let (request, blocks) = commit_request(root, "doc.txt", &v3, n1.revision);
    let body = alice.plan(&request).await.expect_error(409, "stale_revision");
    let current: Node = serde_json::from_value(body["error"]["current"].clone()).expect("error.current is a Node");
    assert_eq!(current, n2);
    // Even with its blocks uploaded (through another file's plan), the commit is refused.
    let (other, _) = commit_request(root, "elsewhere.txt", &v3, None);
    let plan = alice.plan_ok(&other).await;
    alice.put_missing(&plan, &blocks).await;
    let body = alice.commit(&request).await.expect_error(409, "stale_revision");
    let current: Node = serde_json::from_value(body["error"]["current"].clone()).expect("error.current is a Node");
    assert_eq!(current.id, n1.id);
    assert_eq!(current.revision, n2.revision);
    assert_eq!(current.size, 2000);

    // Nothing was lost: the file is still v2, with two revisions.
    assert_eq!(alice.download(n1.id).await, v2);
    assert_eq!(alice.node(n1.id).await, n2);
    let revisions: Vec<drive_wire::Revision> = alice.get(&format!("/api/v1/nodes/{}/revisions", n1.id)).await.parse();
    assert_eq!(revisions.len(), 2);
    assert_eq!(alice.me().await.used_bytes, 2000);

    // Creating a file whose name exists: 409 as well.
    let (request, _) = commit_request(root, "doc.txt", &v3, None);
    let resp = alice.commit(&request).await;
    assert_eq!(resp.status, 409, "{}", resp.text());
    let code = resp.code().unwrap_or_default();
    assert!(code == "stale_revision" || code == "name_taken", "{}", resp.text());
    resp.expect_error_shape();
    let resp = alice.plan(&request).await;
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(alice.download(n1.id).await, v2);

    // Updating a file that is not there (any more): stale, without a current node.
    let body = alice
        .commit(&commit_request(root, "gone.txt", &v3, n1.revision).0)
        .await
        .expect_error(409, "stale_revision");
    assert!(body["error"].get("current").is_none_or(|c| c.is_null()), "{body}");
    alice.trash(n1.id).await.expect_status(204);
    let body = alice
        .commit(&commit_request(root, "doc.txt", &v3, n2.revision).0)
        .await
        .expect_error(409, "stale_revision");
    assert!(body["error"].get("current").is_none_or(|c| c.is_null()), "{body}");

    server.check();
}

#[tokio::test]
async fn concurrent_commits_on_one_base_let_exactly_one_through() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let base = alice.upload_file(root, "doc.txt", b"base", None).await;

    let mut requests = Vec::new();
    for n in 0..6u64 {
        let content = bytes(100 + n, 500);
        let (request, blocks) = commit_request(root, "doc.txt", &content, base.revision);
        let plan = alice.plan_ok(&request).await;
        alice.put_missing(&plan, &blocks).await;
        requests.push((request, content));
    }
    let mut tasks = Vec::new();
    for (request, content) in requests {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move { (alice.commit(&request).await, content) }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (resp, content) = task.await.expect("a commit task");
        match resp.status {
            StatusCode::CREATED => winners.push(content),
            StatusCode::CONFLICT => {
                resp.expect_error(409, "stale_revision");
            }
            other => panic!("concurrent commit: {other} {}", resp.text()),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one commit on the same base wins");
    assert_eq!(alice.download(base.id).await, winners[0]);
    let revisions: Vec<drive_wire::Revision> = alice.get(&format!("/api/v1/nodes/{}/revisions", base.id)).await.parse();
    assert_eq!(revisions.len(), 2);

    // Concurrent creation of one name: one file.
    let mut tasks = Vec::new();
    for n in 0..4u64 {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            alice.try_upload(root, "new.txt", &bytes(200 + n, 300), None).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let resp = task.await.expect("an upload task");
        match resp.status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                resp.expect_error_shape();
            }
            other => panic!("concurrent create: {other} {}", resp.text()),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        alice.child_names(root).await.iter().filter(|n| *n == "new.txt").count(),
        1
    );
    assert_eq!(alice.me().await.used_bytes, 500 + 300);

    server.check();
}

#[tokio::test]
async fn the_quota_is_enforced_and_nothing_changes_when_exceeded() {
    let mut server = TestServer::start_with(&["--default-quota", "100000"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    assert_eq!(alice.user().quota_bytes, 100_000);
    let a = bytes(1, 60_000);
    let file_a = alice.upload_file(root, "a.bin", &a, None).await;
    let changes_before = alice.all_changes().await;

    // A new file that does not fit: refused at step 1.
    let (request, _) = commit_request(root, "b.bin", &bytes(2, 50_000), None);
    alice.plan(&request).await.expect_error(413, "quota_exceeded");
    // And at step 3, even though its blocks are stored (the same content as a.bin).
    let (request, _) = commit_request(root, "copy.bin", &a, None);
    alice.commit(&request).await.expect_error(413, "quota_exceeded");
    // Growing a.bin past the quota (with blocks the server has: a.bin's twice).
    let (mut request, _) = commit_request(root, "a.bin", &a, file_a.revision);
    request.blocks = vec![request.blocks[0], request.blocks[0]];
    alice.commit(&request).await.expect_error(413, "quota_exceeded");
    alice.plan(&request).await.expect_error(413, "quota_exceeded");

    // Nothing changed.
    assert_eq!(alice.me().await.used_bytes, 60_000);
    assert_eq!(alice.child_names(root).await, vec!["a.bin"]);
    assert_eq!(alice.node(file_a.id).await, file_a);
    assert_eq!(alice.download(file_a.id).await, a);
    let changes_after = alice.all_changes().await;
    assert_eq!(changes_after.cursor, changes_before.cursor, "no change was journalled");
    assert_eq!(changes_after.changes.len(), changes_before.changes.len());

    // Up to the quota exactly is fine.
    let fits = alice.upload_file(root, "fits.bin", &bytes(3, 40_000), None).await;
    assert_eq!(alice.me().await.used_bytes, 100_000);
    // A file that shrinks always fits.
    alice
        .upload_file(root, "a.bin", &bytes(4, 10_000), file_a.revision)
        .await;
    assert_eq!(alice.me().await.used_bytes, 50_000);

    // The trash counts until purged.
    alice.upload_file(root, "c.bin", &bytes(5, 50_000), None).await;
    alice.trash(fits.id).await.expect_status(204);
    alice
        .try_upload(root, "d.bin", &bytes(6, 40_000), None)
        .await
        .expect_error(413, "quota_exceeded");
    alice
        .delete(&format!("/api/v1/trash/{}", fits.id))
        .await
        .expect_status(204);
    alice.upload_file(root, "d.bin", &bytes(6, 40_000), None).await;
    assert_eq!(alice.me().await.used_bytes, 100_000);

    // Another user has their own quota.
    let bob = server.register("bob@example.com").await;
    bob.upload_file(bob.root(), "b.bin", &bytes(7, 90_000), None).await;

    server.check();
}

#[tokio::test]
async fn concurrent_commits_cannot_overrun_the_quota_together() {
    let mut server = TestServer::start_with(&["--default-quota", "100000"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    // Four files of 40,000 bytes, each fitting alone, two at most together.
    // Their blocks are in folders other accounts share with alice (so they
    // are hers to reuse without uploading: see possession.rs): blocks alice
    // uploaded herself would be reserved against her quota until committed
    // (see quota_reservations.rs), and the third ask would be refused already.
    let bob = server.register("bob@example.com").await;
    let carol = server.register("carol@example.com").await;
    let mut folders = Vec::new();
    for other in [&bob, &carol] {
        folders.push(other.create_folder(other.root(), "for alice").await);
    }
    for n in 0..4u64 {
        let (other, folder) = if n < 2 {
            (&bob, &folders[0])
        } else {
            (&carol, &folders[1])
        };
        other
            .upload_file(folder.id, &format!("f{n}.bin"), &bytes(n, 40_000), None)
            .await;
    }
    for (other, folder) in [(&bob, &folders[0]), (&carol, &folders[1])] {
        let share = other
            .share(folder.id, "alice@example.com", drive_wire::ShareRole::Viewer)
            .await;
        alice.accept(share.id).await;
    }
    let mut requests = Vec::new();
    for n in 0..4u64 {
        let (request, _) = commit_request(root, &format!("f{n}.bin"), &bytes(n, 40_000), None);
        assert!(alice.missing(&request).await.is_empty(), "stored already");
        requests.push(request);
    }
    let mut tasks = Vec::new();
    for request in requests {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move { alice.commit(&request).await }));
    }
    let mut created = 0;
    for task in tasks {
        let resp = task.await.expect("a commit task");
        match resp.status {
            StatusCode::CREATED => created += 1,
            _ => {
                resp.expect_error(413, "quota_exceeded");
            }
        }
    }
    assert_eq!(created, 2, "two files of 40,000 bytes fit in 100,000");
    assert_eq!(alice.me().await.used_bytes, 80_000);
    let own = alice.children(root).await;
    assert_eq!(own.iter().filter(|node| node.share_id.is_none()).count(), 2);
    server.check();
}

#[tokio::test]
async fn uploads_into_missing_or_foreign_places_are_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let file = alice.upload_file(alice.root(), "f.txt", b"f", None).await;
    alice
        .try_upload(999_999, "x.txt", b"x", None)
        .await
        .expect_error(404, "not_found");
    let resp = alice.try_upload(file.id, "x.txt", b"x", None).await;
    assert!(resp.status.is_client_error(), "upload into a file: {}", resp.text());
    resp.expect_error_shape();
    let plan: UploadPlan = alice
        .plan_ok(&commit_request(alice.root(), "ok.txt", b"ok", None).0)
        .await;
    assert_eq!(plan.missing.len(), 1);
}
