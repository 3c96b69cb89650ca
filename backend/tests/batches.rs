//! Batches of uploads: many files per step, each standing or falling on its
//! own, with the same rules as the single-file routes.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use drive_wire::{BlockHash, CommitBatch, CommitRequest, PlanBatch};
use serde_json::json;

/// Step 1 for a batch; asserts a 200 and one outcome per file.
async fn plan_batch(client: &Client, files: &[CommitRequest]) -> PlanBatch {
    let resp = client.post("/api/v1/uploads/batch", &json!({ "files": files })).await;
    resp.expect_status(200);
    let batch: PlanBatch = resp.parse();
    assert_eq!(batch.files.len(), files.len(), "one outcome per file");
    batch
}

/// Step 3 for a batch; asserts a 200 and one outcome per file.
async fn commit_batch(client: &Client, files: &[CommitRequest]) -> CommitBatch {
    let resp = client.post("/api/v1/commits/batch", &json!({ "files": files })).await;
    resp.expect_status(200);
    let batch: CommitBatch = resp.parse();
    assert_eq!(batch.files.len(), files.len(), "one outcome per file");
    batch
}

/// Step 2 for every block the plans list, each distinct block once.
async fn put_all(client: &Client, plans: &PlanBatch, blocks: &HashMap<BlockHash, Vec<u8>>) -> usize {
    let mut sent = BTreeSet::new();
    for outcome in &plans.files {
        let Some(plan) = &outcome.plan else { continue };
        for block in &plan.missing {
            if sent.insert(block.hash) {
                // 201 from the local store, 200 from S3.
                let resp = put_block(&client.http, block, blocks[&block.hash].clone()).await;
                assert!(
                    resp.status.is_success(),
                    "PUT {}: {} {}",
                    block.hash,
                    resp.status,
                    resp.text()
                );
            }
        }
    }
    sent.len()
}

fn statuses(codes: impl IntoIterator<Item = u16>) -> Vec<u16> {
    codes.into_iter().collect()
}

#[tokio::test]
async fn many_small_files_go_up_in_two_requests_and_a_put_per_distinct_block() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let mut files = Vec::new();
    let mut blocks = HashMap::new();
    for i in 0..300u64 {
        // Every tenth file holds the same bytes as the one before it.
        let seed = if i % 10 == 9 { i - 1 } else { i };
        let (request, bytes) = commit_request(alice.root(), &format!("f{i:03}.txt"), &bytes(seed, 4096), None);
        files.push(request);
        blocks.extend(bytes);
    }
    let plans = plan_batch(&alice, &files).await;
    assert!(plans
        .files
        .iter()
        .all(|outcome| outcome.status == 200 && outcome.error.is_none()));
    assert_eq!(
        put_all(&alice, &plans, &blocks).await,
        270,
        "a block shared by two files is sent once"
    );

    let nodes = commit_batch(&alice, &files).await;
    for (outcome, request) in nodes.files.iter().zip(&files) {
        assert_eq!(outcome.status, 201, "{outcome:?}");
        let node = outcome.node.as_ref().expect("a committed file's node");
        assert_eq!((node.name.as_str(), node.size), (request.name.as_str(), 4096));
    }
    assert_eq!(alice.children(alice.root()).await.len(), 300);
    // The same bytes under other names: nothing is missing, and the files
    // read back.
    let copies: Vec<CommitRequest> = files
        .iter()
        .map(|file| CommitRequest {
            name: format!("copy of {}", file.name),
            ..file.clone()
        })
        .collect();
    let again = plan_batch(&alice, &copies).await;
    assert!(again
        .files
        .iter()
        .all(|outcome| outcome.plan.as_ref().is_some_and(|plan| plan.missing.is_empty())));
    let node = nodes.files[19].node.as_ref().expect("a node");
    assert_eq!(alice.download(node.id).await, bytes(18, 4096));
    server.check();
}

#[tokio::test]
async fn each_file_of_a_batch_gets_its_own_answer_and_only_good_ones_land() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let bobs = bob.create_folder(bob.root(), "private").await;
    let existing = alice.upload_file(alice.root(), "old.txt", b"version one", None).await;
    let stale_base = existing.revision.expect("a revision");
    alice
        .upload_file(alice.root(), "old.txt", b"version two", Some(stale_base))
        .await;

    let content = |seed| bytes(seed, 5000);
    let (good, mut blocks) = commit_request(alice.root(), "good.txt", &content(1), None);
    let (stale, more) = commit_request(alice.root(), "old.txt", &content(2), Some(stale_base));
    blocks.extend(more);
    let (foreign, more) = commit_request(bobs.id, "intrusion.txt", &content(3), None);
    blocks.extend(more);
    let (twin_a, more) = commit_request(alice.root(), "twin.txt", &content(4), None);
    blocks.extend(more);
    let (twin_b, more) = commit_request(alice.root(), "twin.txt", &content(5), None);
    blocks.extend(more);
    let (bad_name, more) = commit_request(alice.root(), "..", &content(6), None);
    blocks.extend(more);
    let (unsent, _) = commit_request(alice.root(), "unsent.txt", &content(7), None);
    let files = vec![good, stale, foreign, twin_a, twin_b, bad_name, unsent.clone()];

    let plans = plan_batch(&alice, &files).await;
    assert_eq!(
        statuses(plans.files.iter().map(|o| o.status)),
        [200, 409, 404, 200, 200, 400, 200]
    );
    assert_eq!(
        plans.files[1].error.as_ref().map(|e| e.code.as_str()),
        Some("stale_revision")
    );
    assert_eq!(
        plans.files[5].error.as_ref().map(|e| e.code.as_str()),
        Some("invalid_name")
    );
    // The last file's blocks are never sent.
    let mut sendable = plans.clone();
    sendable.files.pop();
    put_all(&alice, &sendable, &blocks).await;

    let nodes = commit_batch(&alice, &files).await;
    assert_eq!(
        statuses(nodes.files.iter().map(|o| o.status)),
        [201, 400, 404, 201, 409, 400, 400]
    );
    // Its blocks were never sent (its step 1 was refused): missing first.
    assert_eq!(
        nodes.files[1].error.as_ref().map(|e| e.code.as_str()),
        Some("missing_blocks")
    );
    // The second twin finds the first one committed by this very batch.
    assert_eq!(
        nodes.files[4].error.as_ref().map(|e| e.code.as_str()),
        Some("stale_revision")
    );
    let missing = &nodes.files[6].error.as_ref().expect("an error").missing;
    assert_eq!(missing, &vec![unsent.blocks[0].hash]);

    let mut names = alice.child_names(alice.root()).await;
    names.sort();
    assert_eq!(names, ["good.txt", "old.txt", "twin.txt"]);
    let twin = alice.lookup("/twin.txt").await;
    twin.expect_status(200);
    assert_eq!(
        alice.download(twin.json()["id"].as_i64().expect("an id")).await,
        content(4)
    );
    assert!(bob.children(bobs.id).await.is_empty(), "nothing landed in bob's folder");
    server.check();
}

#[tokio::test]
async fn the_quota_is_counted_file_by_file_within_a_batch() {
    let mut server = TestServer::start_with(&["--default-quota", "100000"]).await;
    let alice = server.register("alice@example.com").await;
    let mut files = Vec::new();
    let mut blocks = HashMap::new();
    for i in 0..5u64 {
        let (request, bytes) = commit_request(alice.root(), &format!("f{i}"), &bytes(i, 30_000), None);
        files.push(request);
        blocks.extend(bytes);
    }
    // Three files fit in 100,000 bytes; the fourth and fifth do not.
    let plans = plan_batch(&alice, &files).await;
    assert_eq!(
        statuses(plans.files.iter().map(|o| o.status)),
        [200, 200, 200, 413, 413]
    );
    put_all(&alice, &plans, &blocks).await;
    let nodes = commit_batch(&alice, &files[..3]).await;
    assert_eq!(statuses(nodes.files.iter().map(|o| o.status)), [201, 201, 201]);
    assert_eq!(alice.me().await.used_bytes, 90_000);
    server.check();
}

#[tokio::test]
async fn empty_and_oversized_batches_are_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    for path in ["/api/v1/uploads/batch", "/api/v1/commits/batch"] {
        alice
            .post(path, &json!({ "files": [] }))
            .await
            .expect_error(400, "bad_request");
        let (one, _) = commit_request(alice.root(), "x", b"x", None);
        let files = vec![one; drive_wire::MAX_BATCH_FILES + 1];
        alice
            .post(path, &json!({ "files": files }))
            .await
            .expect_error(400, "bad_request");
    }
    assert!(alice.children(alice.root()).await.is_empty());
}
