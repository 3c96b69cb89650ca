//! Small blocks sent inline with a commit (`CommitRequest::inline`): kept in
//! the database, never in the blob store, read back by every path that
//! reads a block (content, ranges, manifests, the local store's block URL),
//! proof of possession for their sender only, and refused clearly when they
//! are not the file's bytes.

mod common;

use common::*;
use drive_wire::{CommitBatch, CommitRequest, InlineBlock, Node, MAX_INLINE_BLOCK};
use serde_json::json;

/// A one-block file carrying its bytes inline.
fn inline_request(parent: i64, name: &str, content: &[u8]) -> CommitRequest {
    let (mut request, _) = commit_request(parent, name, content, None);
    request.inline = vec![InlineBlock::new(sha256(content), content)];
    request
}

#[tokio::test]
async fn a_small_file_sent_with_its_commit_lands_in_one_request_and_reads_back_everywhere() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(7, 3000);
    let hash = sha256(&content);

    let resp = alice.commit(&inline_request(alice.root(), "notes.txt", &content)).await;
    resp.expect_status(201);
    let node: Node = resp.parse();
    assert_eq!(node.size, 3000);
    assert!(
        !server.stored(hash).await,
        "an inline block is kept in the database, not the store"
    );

    assert_eq!(alice.download(node.id).await, content, "the content route reads it");
    let range = alice
        .request(reqwest::Method::GET, &format!("/api/v1/nodes/{}/content", node.id))
        .header("range", "bytes=10-19")
        .send()
        .await
        .expect("a range request");
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.expect("a body").as_ref(), &content[10..20]);

    let manifest = alice.manifest(node.id, None).await;
    let block = &manifest.blocks[0];
    assert_eq!(
        block.inline_bytes().as_deref(),
        Some(&content[..]),
        "a manifest carries an inline block's bytes"
    );
    if !on_s3() {
        let got = get_url(&alice.http, &block.url).await;
        assert_eq!(got.status, 200, "the local store's block URL serves it: {}", got.text());
        assert_eq!(got.body, content);
    }

    // Knowing the hash is not owning the bytes: another user is asked for
    // them, and sending them inline proves possession.
    let bob = server.register("bob@example.com").await;
    let (request, _) = commit_request(bob.root(), "mine.txt", &content, None);
    let plan = bob.plan_ok(&request).await;
    assert_eq!(plan.missing.len(), 1, "someone else's inline block is missing for bob");
    bob.commit(&request).await.expect_error(400, "missing_blocks");
    let resp = bob.commit(&inline_request(bob.root(), "mine.txt", &content)).await;
    resp.expect_status(201);
    let theirs: Node = resp.parse();
    assert_eq!(bob.download(theirs.id).await, content);

    // The same bytes through a PUT as well: both copies read the same.
    let other = bytes(8, 4096);
    alice.upload_file(alice.root(), "put.txt", &other, None).await;
    let again = alice.commit(&inline_request(alice.root(), "copy.txt", &other)).await;
    again.expect_status(201);
    assert_eq!(alice.download(again.parse::<Node>().id).await, other);

    server.check();
}

#[tokio::test]
async fn inline_bytes_that_are_not_the_files_blocks_are_refused_and_the_rest_of_the_batch_lands() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let content = bytes(1, 2000);

    let mut wrong_bytes = inline_request(root, "wrong.txt", &content);
    wrong_bytes.inline[0].data = drive_wire::inline_data(&bytes(2, 2000));
    let mut wrong_size = inline_request(root, "short.txt", &content);
    wrong_size.inline[0].data = drive_wire::inline_data(&content[..1999]);
    let mut not_base64 = inline_request(root, "garbled.txt", &content);
    not_base64.inline[0].data = "not base64!".into();
    let mut foreign = inline_request(root, "foreign.txt", &content);
    foreign.inline.push(InlineBlock::new(sha256(b"other"), b"other"));
    let big = bytes(3, MAX_INLINE_BLOCK as usize + 1);
    let too_big = inline_request(root, "big.bin", &big);
    let good = inline_request(root, "good.txt", &content);

    let files = [wrong_bytes, wrong_size, not_base64, foreign, too_big, good];
    let resp = alice.post("/api/v1/commits/batch", &json!({ "files": files })).await;
    resp.expect_status(200);
    let batch: CommitBatch = resp.parse();
    let codes: Vec<(u16, Option<String>)> = batch
        .files
        .iter()
        .map(|outcome| (outcome.status, outcome.error.as_ref().map(|e| e.code.clone())))
        .collect();
    let refused = |code: &str| (400, Some(code.to_owned()));
    assert_eq!(
        codes,
        vec![
            refused("hash_mismatch"),
            refused("size_mismatch"),
            refused("invalid_blocks"),
            refused("invalid_blocks"),
            refused("invalid_blocks"),
            (201, None),
        ]
    );
    let names: Vec<String> = alice.children(root).await.into_iter().map(|n| n.name).collect();
    assert_eq!(names, vec!["good.txt".to_owned()], "only the good file landed");
    assert!(!server.stored(sha256(&big)).await);
    server.check();
}

#[tokio::test]
async fn the_garbage_collector_deletes_unused_inline_blocks_with_their_rows_and_keeps_used_ones() {
    let mut server = TestServer::start_with(&["--no-gc-worker"]).await;
    let alice = server.register("alice@example.com").await;
    let (kept, gone) = (bytes(11, 1500), bytes(12, 1600));
    let resp = alice.commit(&inline_request(alice.root(), "kept.txt", &kept)).await;
    resp.expect_status(201);
    let node: Node = resp.parse();
    let resp = alice.commit(&inline_request(alice.root(), "gone.txt", &gone)).await;
    resp.expect_status(201);
    let doomed: Node = resp.parse();
    alice.trash(doomed.id).await.expect_status(204);
    alice
        .delete(&format!("/api/v1/trash/{}", doomed.id))
        .await
        .expect_status(204);

    // An object under an inline block's name (a race with an older
    // client's upload, say) is no row's: the row goes without asking the
    // store, and the object goes as an unregistered one.
    let planted = (!on_s3()).then(|| {
        let hex = sha256(&gone).to_string();
        let path = server.data_dir().join("blobs").join(&hex[..2]).join(&hex);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &gone).unwrap();
        path
    });
    std::thread::sleep(std::time::Duration::from_millis(20));

    let report = server.gc_once(&["--gc-grace", "0"]);
    assert!(report.contains("deleted 1 unused"), "one block went: {report}");
    if let Some(planted) = planted {
        assert!(report.contains("and 1 unregistered"), "{report}");
        assert!(!planted.exists());
    }
    assert_eq!(alice.download(node.id).await, kept, "the used inline block stays");
    // Sent again, the deleted one is stored again.
    let resp = alice.commit(&inline_request(alice.root(), "back.txt", &gone)).await;
    resp.expect_status(201);
    assert_eq!(alice.download(resp.parse::<Node>().id).await, gone);
    server.check();
}

#[tokio::test]
async fn check_finds_a_damaged_inline_block_and_the_next_upload_of_its_bytes_mends_it() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(21, 2500);
    let resp = alice.commit(&inline_request(alice.root(), "notes.txt", &content)).await;
    resp.expect_status(201);
    let node: Node = resp.parse();

    server.stop();
    let db = server.database().await;
    let mut tx = db.begin().await.expect("a transaction");
    sqlx::query("UPDATE blocks SET data = $1 WHERE hash = $2")
        .bind(bytes(22, 2500))
        .bind(sha256(&content).to_string())
        .execute(&mut *tx)
        .await
        .expect("damaging the row");
    tx.commit().await.expect("commit");
    drop(db);
    let (clean, report) = server.check_report();
    assert!(!clean, "--check finds the damage: {report}");
    assert!(
        report.contains("does not hash to its name (kept in the database): marked damaged"),
        "{report}"
    );

    server.restart_with(&[]);
    let alice = server.login("alice@example.com", "after-check").await;
    // Marked damaged, the block is missing for everyone: its bytes, sent
    // again, take its place.
    let (request, _) = commit_request(alice.root(), "again.txt", &content, None);
    assert_eq!(alice.plan_ok(&request).await.missing.len(), 1);
    let resp = alice.commit(&inline_request(alice.root(), "again.txt", &content)).await;
    resp.expect_status(201);
    assert_eq!(
        alice.download(node.id).await,
        content,
        "the first file reads right again"
    );
    server.check();
}
