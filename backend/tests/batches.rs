//! Batches of uploads: many files per step, each standing or falling on its
//! own, with the same rules as the single-file routes.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use drive_wire::{BlockHash, ChangeKind, CommitBatch, CommitRequest, FolderBatchOutcomes, PlanBatch, ShareRole};
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

/// New files in a folder (not a root) are committed in bulk; the answers are
/// those the per-file path gives, file by file, whatever else the batch holds.
#[tokio::test]
async fn new_files_in_a_folder_commit_in_bulk_with_the_same_answers() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let docs = alice.create_folder(alice.root(), "docs").await;
    let taken = alice.upload_file(docs.id, "taken.txt", b"already here", None).await;
    let edited = alice.upload_file(docs.id, "edited.txt", b"first", None).await;
    let mut files = Vec::new();
    let mut blocks = HashMap::new();
    for i in 0..120u64 {
        let (request, more) = commit_request(docs.id, &format!("n{i:03}.txt"), &bytes(100 + i, 3000), None);
        files.push(request);
        blocks.extend(more);
    }
    let extra = [
        // The bytes of n000.txt: sent, so the name is what refuses it.
        commit_request(docs.id, "taken.txt", &bytes(100, 3000), None),
        commit_request(docs.id, "edited.txt", &bytes(2, 20), edited.revision),
        commit_request(docs.id, "n005.txt", &bytes(3, 30), None),
        commit_request(alice.root(), "top.txt", &bytes(4, 40), None),
    ];
    for (request, more) in extra {
        files.push(request);
        blocks.extend(more);
    }
    let plans = plan_batch(&alice, &files).await;
    put_all(&alice, &plans, &blocks).await;
    let before = alice.me().await.used_bytes;
    let nodes = commit_batch(&alice, &files).await;
    let codes = statuses(nodes.files.iter().map(|o| o.status));
    assert!(codes[..120].iter().all(|&code| code == 201), "{codes:?}");
    // A name taken before, an edit, a name an earlier file of the batch took,
    // a file in the root.
    assert_eq!(codes[120..], [409, 201, 409, 201]);
    assert_eq!(
        nodes.files[122].error.as_ref().map(|e| e.code.as_str()),
        Some("stale_revision")
    );
    for (outcome, request) in nodes.files.iter().zip(&files).filter(|(o, _)| o.status == 201) {
        let node = outcome.node.as_ref().expect("a node");
        assert_eq!(node.name, request.name);
        assert_eq!(node.parent_id, Some(request.parent_id));
        assert!(node.revision.is_some() && !node.read_only);
        let path = if request.parent_id == docs.id {
            format!("/docs/{}", request.name)
        } else {
            format!("/{}", request.name)
        };
        let listed = alice.lookup(&path).await;
        listed.expect_status(200);
        assert_eq!(listed.json()["revision"].as_i64(), node.revision, "{}", request.name);
    }
    assert_eq!(
        alice.download(nodes.files[7].node.as_ref().expect("a node").id).await,
        bytes(107, 3000)
    );
    assert_eq!(alice.download(taken.id).await, b"already here");
    let grown: u64 = 120 * 3000 + 20 - 5 + 40;
    assert_eq!(alice.me().await.used_bytes, before + grown);
    // Each new file is in the feed once, as created.
    let feed = alice.all_changes().await;
    for outcome in &nodes.files[..120] {
        let id = outcome.node.as_ref().expect("a node").id;
        let kinds: Vec<ChangeKind> = feed
            .changes
            .iter()
            .filter(|c| c.node_id == id)
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, [ChangeKind::Created]);
    }
    server.check();
}

/// Near the quota, the files of a folder whose blocks were reserved land in
/// bulk, and one whose blocks were never sent fails alone.
#[tokio::test]
async fn near_the_quota_a_folders_batch_lands_and_a_file_without_blocks_fails_alone() {
    let mut server = TestServer::start_with(&["--default-quota", "100000"]).await;
    let alice = server.register("alice@example.com").await;
    let docs = alice.create_folder(alice.root(), "docs").await;
    let mut files = Vec::new();
    let mut blocks = HashMap::new();
    for i in 0..4u64 {
        let (request, more) = commit_request(docs.id, &format!("f{i}"), &bytes(i, 30_000), None);
        files.push(request);
        blocks.extend(more);
    }
    let plans = plan_batch(&alice, &files[..3]).await;
    put_all(&alice, &plans, &blocks).await;
    // The fourth file's blocks were never reserved nor sent.
    let nodes = commit_batch(&alice, &files).await;
    assert_eq!(statuses(nodes.files.iter().map(|o| o.status)), [201, 201, 201, 400]);
    assert_eq!(alice.me().await.used_bytes, 90_000);
    server.check();
}

/// An editor's new files in a folder shared with them are charged to the
/// owner, and the owner hears of them.
#[tokio::test]
async fn an_editors_batch_in_a_shared_folder_is_the_owners() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let team = alice.create_folder(alice.root(), "team").await;
    let share = alice.share(team.id, "bob@example.com", ShareRole::Editor).await;
    bob.accept(share.id).await;
    let mut files = Vec::new();
    let mut blocks = HashMap::new();
    for i in 0..10u64 {
        let (request, more) = commit_request(team.id, &format!("b{i}"), &bytes(200 + i, 1000), None);
        files.push(request);
        blocks.extend(more);
    }
    let plans = plan_batch(&bob, &files).await;
    put_all(&bob, &plans, &blocks).await;
    let nodes = commit_batch(&bob, &files).await;
    assert!(nodes.files.iter().all(|o| o.status == 201), "{nodes:?}");
    assert_eq!(alice.me().await.used_bytes, 10_000);
    assert_eq!(bob.me().await.used_bytes, 0);
    assert_eq!(alice.children(team.id).await.len(), 10);
    let id = nodes.files[3].node.as_ref().expect("a node").id;
    assert!(alice.all_changes().await.changes.iter().any(|c| c.node_id == id));
    assert_eq!(alice.download(id).await, bytes(203, 1000));
    server.check();
}

#[tokio::test]
async fn folders_are_created_in_batches_each_with_its_own_answer() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let bobs = bob.create_folder(bob.root(), "private").await;
    alice.create_folder(alice.root(), "exists").await;
    let mut folders: Vec<serde_json::Value> = (0..50)
        .map(|i| json!({ "parent_id": alice.root(), "name": format!("d{i:02}") }))
        .collect();
    folders.push(json!({ "parent_id": alice.root(), "name": "exists" }));
    folders.push(json!({ "parent_id": alice.root(), "name": "d07" }));
    folders.push(json!({ "parent_id": alice.root(), "name": ".." }));
    folders.push(json!({ "parent_id": bobs.id, "name": "intrusion" }));
    let resp = alice
        .post("/api/v1/folders/batch", &json!({ "folders": folders }))
        .await;
    resp.expect_status(200);
    let outcomes: FolderBatchOutcomes = resp.parse();
    let codes = statuses(outcomes.folders.iter().map(|o| o.status));
    assert!(codes[..50].iter().all(|&code| code == 201), "{codes:?}");
    assert_eq!(codes[50..], [409, 409, 400, 404]);
    let d10 = outcomes.folders[10].node.as_ref().expect("a node");
    assert_eq!(d10.name, "d10");
    // The next level, under folders of the first.
    let inner = json!({ "folders": [{ "parent_id": d10.id, "name": "inner" }] });
    let resp = alice.post("/api/v1/folders/batch", &inner).await;
    resp.expect_status(200);
    let outcomes: FolderBatchOutcomes = resp.parse();
    assert_eq!(outcomes.folders[0].status, 201);
    alice.lookup("/d10/inner").await.expect_status(200);
    assert_eq!(alice.children(alice.root()).await.len(), 51);
    assert!(bob.children(bobs.id).await.is_empty());
    alice
        .post("/api/v1/folders/batch", &json!({ "folders": [] }))
        .await
        .expect_error(400, "bad_request");
    server.check();
}

#[tokio::test]
async fn manifests_come_in_batches_each_with_its_own_answer() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let root = alice.root();
    let small = alice.upload_file(root, "small.txt", b"hello", None).await;
    let big = alice.upload_file(root, "big.bin", &bytes(3, 100_000), None).await;
    let edited = alice
        .upload_file(root, "small.txt", b"hello again", small.revision)
        .await;
    let theirs = bob.upload_file(bob.root(), "theirs.txt", b"not yours", None).await;
    let body = json!({ "files": [
        { "id": small.id, "revision": small.revision },
        { "id": edited.id },
        { "id": big.id },
        { "id": root },
        { "id": theirs.id },
        { "id": 999_999 },
    ]});
    let resp = alice.post("/api/v1/manifests/batch", &body).await;
    resp.expect_status(200);
    let batch: drive_wire::ManifestOutcomes = resp.parse();
    let statuses: Vec<u16> = batch.files.iter().map(|outcome| outcome.status).collect();
    assert_eq!(statuses, vec![200, 200, 200, 400, 404, 404], "{batch:?}");
    let manifest = |i: usize| batch.files[i].manifest.as_ref().expect("a manifest");
    // Each is what /nodes/{id}/manifest answers.
    for i in 0..3 {
        let alone = alice.manifest(manifest(i).node_id, Some(manifest(i).revision)).await;
        assert_eq!(manifest(i).size, alone.size);
        let hashes = |m: &drive_wire::Manifest| m.blocks.iter().map(|b| b.hash).collect::<Vec<_>>();
        assert_eq!(hashes(manifest(i)), hashes(&alone));
    }
    assert_eq!(manifest(0).size, 5, "the revision asked for");
    assert_eq!(manifest(1).size, 11, "the current revision");
    assert_eq!(
        batch.files[3].error.as_ref().map(|e| e.code.as_str()),
        Some("not_a_file")
    );

    let none = alice.post("/api/v1/manifests/batch", &json!({ "files": [] })).await;
    none.expect_error(400, "bad_request");
}
