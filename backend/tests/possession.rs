//! Proof of possession for uploads (see `src/uploads.rs`): a block counts as
//! present for a user only if content they can read uses it, or their own
//! upload of it was verified within the upload's lifetime. Knowing a block's
//! hash is not enough to get its bytes into one's files, and the upload
//! steps answer the same for a block someone else stored as for one nobody
//! did.

mod common;

use common::*;
use drive_wire::{BlockHash, BlockRef, CommitRequest, ShareRole};
use serde_json::{json, Value};

/// One block of `len` bytes (small enough to be one block).
fn one_block(seed: u64, len: usize) -> Vec<u8> {
    assert!(len < BLOCK);
    bytes(seed, len)
}

/// A request for a file `name` in `parent` made of the given blocks.
fn request_of(parent: i64, name: &str, blocks: Vec<BlockRef>) -> CommitRequest {
    CommitRequest {
        parent_id: parent,
        name: name.into(),
        base_revision: None,
        blocks,
        modified: now_ms(),
        inline: Vec::new(),
    }
}

/// A step 1 answer with everything that differs by nature between two
/// blocks (hash, signature, token, expiry) replaced by placeholders, keeping
/// the shape: the keys, the sizes, the URL's path and query names, the
/// header names.
fn normalized_plan(mut plan: Value) -> Value {
    for block in plan["missing"].as_array_mut().expect("missing is a list") {
        let hash = block["hash"].as_str().expect("a hash").to_owned();
        block["hash"] = json!("HASH");
        block["expires_at"] = json!("EXPIRES");
        let url = reqwest::Url::parse(block["url"].as_str().expect("a URL")).expect("a valid URL");
        let names: Vec<String> = url.query_pairs().map(|(name, _)| name.into_owned()).collect();
        block["url"] = json!({
            "path": url.path().replace(&hash, "HASH"),
            "query": names,
        });
        if let Some(headers) = block.get_mut("headers").and_then(Value::as_object_mut) {
            for value in headers.values_mut() {
                *value = json!("VALUE");
            }
        }
    }
    plan
}

/// An error answer without what differs by nature (the request id, the
/// hashes listed).
fn normalized_error(mut body: Value) -> Value {
    body["error"]["request_id"] = json!("ID");
    if let Some(missing) = body["error"]["missing"].as_array_mut() {
        for hash in missing {
            *hash = json!("HASH");
        }
    }
    body
}

/// Alice's file of one block; returns the block's bytes and hash.
async fn alices_secret(alice: &Client) -> (Vec<u8>, BlockHash, drive_wire::Node) {
    let secret = one_block(42, 3000);
    let file = alice.upload_file(alice.root(), "secret.bin", &secret, None).await;
    (secret.clone(), sha256(&secret), file)
}

#[tokio::test]
async fn the_upload_steps_answer_the_same_for_a_foreign_block_as_for_an_unknown_one() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let (secret, hash, _) = alices_secret(&alice).await;
    let size = secret.len() as u64;
    let unknown = one_block(43, secret.len());
    let unknown_hash = sha256(&unknown);

    // Step 1: both missing, answers of the same shape, byte for byte once
    // what must differ is set aside.
    let foreign = request_of(bob.root(), "a.bin", vec![BlockRef { hash, size }]);
    let fresh = request_of(
        bob.root(),
        "b.bin",
        vec![BlockRef {
            hash: unknown_hash,
            size,
        }],
    );
    let (foreign_status, foreign_plan) = bob.post_json("/api/v1/uploads", &foreign).await;
    let (fresh_status, fresh_plan) = bob.post_json("/api/v1/uploads", &fresh).await;
    assert_eq!((foreign_status.as_u16(), fresh_status.as_u16()), (200, 200));
    assert_eq!(foreign_plan["missing"][0]["hash"], json!(hash.to_string()));
    assert_eq!(foreign_plan["missing"][0]["size"], json!(size));
    assert_eq!(
        normalized_plan(foreign_plan.clone()),
        normalized_plan(fresh_plan.clone())
    );

    // The same again with a wrong size: no "stored with another size".
    let wrong = request_of(bob.root(), "c.bin", vec![BlockRef { hash, size: size + 1 }]);
    let wrong_fresh = request_of(
        bob.root(),
        "d.bin",
        vec![BlockRef {
            hash: random_hash(),
            size: size + 1,
        }],
    );
    let (s1, wrong_plan) = bob.post_json("/api/v1/uploads", &wrong).await;
    let (s2, wrong_fresh_plan) = bob.post_json("/api/v1/uploads", &wrong_fresh).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert_eq!(normalized_plan(wrong_plan), normalized_plan(wrong_fresh_plan));

    // Step 3 before any upload: the same refusal.
    let (s1, foreign_refusal) = bob.post_json("/api/v1/commits", &foreign).await;
    let (s2, fresh_refusal) = bob.post_json("/api/v1/commits", &fresh).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (400, 400));
    assert_eq!(foreign_refusal["error"]["code"], json!("missing_blocks"));
    assert_eq!(foreign_refusal["error"]["missing"], json!([hash.to_string()]));
    assert_eq!(normalized_error(foreign_refusal), normalized_error(fresh_refusal));
    let (s1, wrong_refusal) = bob.post_json("/api/v1/commits", &wrong).await;
    let (s2, wrong_fresh_refusal) = bob.post_json("/api/v1/commits", &wrong_fresh).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (400, 400));
    assert_eq!(normalized_error(wrong_refusal), normalized_error(wrong_fresh_refusal));

    // Step 2: the same status and body whether the store had the bytes.
    let foreign_url: drive_wire::UploadPlan = serde_json::from_value(foreign_plan).unwrap();
    let fresh_url: drive_wire::UploadPlan = serde_json::from_value(fresh_plan).unwrap();
    let put_foreign = put_block(&bob.http, &foreign_url.missing[0], secret).await;
    let put_fresh = put_block(&bob.http, &fresh_url.missing[0], unknown).await;
    assert_eq!(put_foreign.status, put_fresh.status);
    assert!(put_foreign.status.is_success(), "{}", put_foreign.text());
    assert_eq!(put_foreign.body, put_fresh.body);

    server.check();
}

#[tokio::test]
async fn knowing_a_hash_does_not_let_another_user_read_the_block() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let (secret, hash, file) = alices_secret(&alice).await;
    let size = secret.len() as u64;
    // A file of bob's own around alice's block, so that the manifest is not
    // only the stolen block.
    let own = one_block(7, 500);
    let request = request_of(
        bob.root(),
        "stolen.bin",
        vec![
            BlockRef {
                hash: sha256(&own),
                size: own.len() as u64,
            },
            BlockRef { hash, size },
        ],
    );

    // Committing straight away: refused.
    let body = bob.commit(&request).await.expect_error(400, "missing_blocks");
    assert!(body["error"]["missing"]
        .as_array()
        .unwrap()
        .contains(&json!(hash.to_string())));

    // Asking first (which hands bob a PUT URL for the block and reserves
    // it), uploading only his own block, then committing: still refused, for
    // alice's block alone.
    let plan = bob.plan_ok(&request).await;
    assert_eq!(plan.missing.len(), 2);
    let own_url = plan.missing.iter().find(|b| b.hash == sha256(&own)).unwrap();
    let stolen_url = plan.missing.iter().find(|b| b.hash == hash).unwrap();
    assert!(put_block(&bob.http, own_url, own.clone()).await.status.is_success());
    let body = bob.commit(&request).await.expect_error(400, "missing_blocks");
    assert_eq!(body["error"]["missing"], json!([hash.to_string()]));
    // Other bytes sent to the block's URL are refused, and prove nothing.
    let resp = put_block(&bob.http, stolen_url, one_block(8, secret.len())).await;
    assert!(resp.status.is_client_error(), "{} {}", resp.status, resp.text());
    assert_eq!(bob.missing(&request).await, vec![hash]);
    let body = bob.commit(&request).await.expect_error(400, "missing_blocks");
    assert_eq!(body["error"]["missing"], json!([hash.to_string()]));

    // So bob has no file with alice's bytes, and no way to alice's.
    bob.lookup("/stolen.bin").await.expect_error(404, "not_found");
    assert!(bob.children(bob.root()).await.is_empty());
    bob.content(file.id).await.expect_error(404, "not_found");
    bob.get(&format!("/api/v1/nodes/{}/manifest", file.id))
        .await
        .expect_error(404, "not_found");
    assert_eq!(bob.me().await.used_bytes, 0);
    assert_eq!(alice.download(file.id).await, secret);

    server.check();
}

#[tokio::test]
async fn sending_the_bytes_proves_possession_and_the_store_keeps_one_copy() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let (secret, hash, file) = alices_secret(&alice).await;

    let (request, blocks) = commit_request(bob.root(), "mine.bin", &secret, None);
    let plan = bob.plan_ok(&request).await;
    assert_eq!(plan.missing.iter().map(|b| b.hash).collect::<Vec<_>>(), vec![hash]);
    bob.put_missing(&plan, &blocks).await;
    // Uploaded: nothing missing any more, for bob.
    assert!(bob.missing(&request).await.is_empty());
    let resp = bob.commit(&request).await;
    resp.expect_status(201);
    let mine: drive_wire::Node = resp.parse();
    assert_eq!(bob.download(mine.id).await, secret);
    assert_eq!(bob.me().await.used_bytes, secret.len() as u64);
    assert_eq!(alice.me().await.used_bytes, secret.len() as u64);

    // One object in the store, by hash.
    assert!(server.stored(hash).await);
    if !on_s3() {
        let hex = hash.to_string();
        let fan = server.data_dir().join("blobs").join(&hex[..2]);
        let copies = std::fs::read_dir(&fan)
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().contains(&hex))
            .count();
        assert_eq!(copies, 1);
    }
    // Both files read back; deleting one leaves the other.
    alice.trash(file.id).await.expect_status(204);
    alice.delete("/api/v1/trash").await.expect_status(204);
    assert_eq!(bob.download(mine.id).await, secret);

    server.check();
}

#[tokio::test]
async fn an_owner_reuses_their_own_blocks_without_uploading() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let (secret, hash, file) = alices_secret(&alice).await;

    // The same content again, in a second file: nothing to upload.
    let (again, _) = commit_request(root, "again.bin", &secret, None);
    assert!(alice.missing(&again).await.is_empty());
    alice.commit(&again).await.expect_status(201);

    // A block of a past revision of hers still counts, and one in her trash.
    let older = one_block(50, 2000);
    let versioned = alice.upload_file(root, "versioned.bin", &older, None).await;
    alice
        .upload_file(root, "versioned.bin", &one_block(51, 2000), versioned.revision)
        .await;
    let trashed = one_block(52, 2000);
    let gone = alice.upload_file(root, "gone.bin", &trashed, None).await;
    alice.trash(gone.id).await.expect_status(204);
    for (name, content) in [("older.bin", &older), ("trashed.bin", &trashed)] {
        let (request, _) = commit_request(root, name, content, None);
        assert!(alice.missing(&request).await.is_empty(), "{name}");
        alice.commit(&request).await.expect_status(201);
    }

    // Once no content of hers uses a block, she must send it again.
    let lone = one_block(53, 2000);
    let lone_file = alice.upload_file(root, "lone.bin", &lone, None).await;
    alice.trash(lone_file.id).await.expect_status(204);
    alice.delete("/api/v1/trash").await.expect_status(204);
    let (request, blocks) = commit_request(root, "lone-again.bin", &lone, None);
    assert_eq!(alice.missing(&request).await, vec![sha256(&lone)]);
    alice.commit(&request).await.expect_error(400, "missing_blocks");
    alice.upload_request(&request, &blocks).await;

    assert_eq!(alice.download(file.id).await, secret);
    assert!(server.stored(hash).await);
    server.check();
}

#[tokio::test]
async fn a_member_of_an_accepted_share_reuses_its_blocks_without_uploading() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    // Deep inside the shared folder, to be found by the walk up to the share.
    let project = alice.create_folder(alice.root(), "Project").await;
    let drafts = alice.create_folder(project.id, "drafts").await;
    let shared = one_block(60, 4000);
    alice.upload_file(drafts.id, "plan.bin", &shared, None).await;
    let (request, blocks) = commit_request(bob.root(), "copy.bin", &shared, None);

    // Invited only: not his to read yet, so not his to reuse.
    let share = alice.share(project.id, "bob@example.com", ShareRole::Viewer).await;
    assert_eq!(bob.missing(&request).await, vec![sha256(&shared)]);
    bob.commit(&request).await.expect_error(400, "missing_blocks");

    // Accepted: he can read it, so he can reuse it.
    bob.accept(share.id).await;
    assert!(bob.missing(&request).await.is_empty());
    let resp = bob.commit(&request).await;
    resp.expect_status(201);
    let copy: drive_wire::Node = resp.parse();
    assert_eq!(bob.download(copy.id).await, shared);
    assert_eq!(bob.me().await.used_bytes, shared.len() as u64);

    // Another block of the share, once it has ended: not his any more.
    let later = one_block(61, 4000);
    alice.upload_file(drafts.id, "later.bin", &later, None).await;
    alice
        .delete(&format!("/api/v1/shares/{}", share.id))
        .await
        .expect_status(204);
    let (request, _) = commit_request(bob.root(), "later.bin", &later, None);
    assert_eq!(bob.missing(&request).await, vec![sha256(&later)]);
    bob.commit(&request).await.expect_error(400, "missing_blocks");
    // His own copy of the first block stays his.
    let (again, _) = commit_request(bob.root(), "copy2.bin", &shared, None);
    assert!(bob.missing(&again).await.is_empty());
    let _ = blocks;

    server.check();
}
