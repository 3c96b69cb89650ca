//! "Acknowledged means durable": on a disk that fills up, the server answers
//! 507 `insufficient_storage` (never a success for what it could not store),
//! `/ready` says which dependency is out of space, and once space comes back
//! new writes succeed and really are on disk (they survive a restart). And
//! `--check` quarantines a block whose bytes do not match its hash.

mod common;

use std::collections::HashSet;

use common::*;
use drive_wire::{BlockHash, BlockRef, CommitRequest, NodeId, UploadPlan};
use reqwest::StatusCode;

/// A one-block file request for `content`.
fn one_block(parent_id: NodeId, name: &str, content: &[u8]) -> (CommitRequest, BlockHash) {
    let hash = sha256(content);
    let request = CommitRequest {
        parent_id,
        name: name.to_owned(),
        base_revision: None,
        blocks: vec![BlockRef {
            hash,
            size: content.len() as u64,
        }],
        modified: now_ms(),
        inline: Vec::new(),
    };
    (request, hash)
}

/// A failure must be the clear one: 507 insufficient_storage.
fn assert_out_of_space(resp: &Resp, what: &str) {
    assert_eq!(
        resp.status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{what} on a full disk answers 507: {}",
        resp.text()
    );
    resp.expect_error(507, "insufficient_storage");
}

/// What happened to one upload attempt on a filling disk.
enum Attempt {
    /// Planned, stored and committed (all acknowledged).
    Stored,
    /// A step answered 507; `block_put_failed` when it was the block's PUT.
    Full { block_put_failed: bool },
}

async fn try_upload_one(client: &Client, server: &TestServer, name: &str, content: &[u8]) -> Attempt {
    let (request, hash) = one_block(client.root(), name, content);
    let plan = client.plan(&request).await;
    if !plan.status.is_success() {
        assert_out_of_space(&plan, "planning an upload");
        return Attempt::Full {
            block_put_failed: false,
        };
    }
    let plan: UploadPlan = plan.parse();
    for block in &plan.missing {
        let put = put_block(&client.http, block, content.to_vec()).await;
        if !put.status.is_success() {
            assert_out_of_space(&put, "a block PUT");
            assert!(
                !server.stored(hash).await,
                "a block PUT that answered 507 left a file under the block's hash"
            );
            return Attempt::Full { block_put_failed: true };
        }
    }
    let commit = client.commit(&request).await;
    if !commit.status.is_success() {
        assert_out_of_space(&commit, "a commit");
        return Attempt::Full {
            block_put_failed: false,
        };
    }
    assert_eq!(commit.status, StatusCode::CREATED, "{}", commit.text());
    Attempt::Stored
}

#[tokio::test]
async fn a_full_disk_answers_507_and_what_was_acknowledged_survives() {
    if skip_on_s3("fills the local data dir") {
        return;
    }
    let Some(disk) = Tmpfs::mount("8m") else { return };
    let mut server = TestServer::start_in(disk.path(), &[]).await;
    let owner = server.register("owner@example.com").await;
    owner.create_folder(owner.root(), "before").await;

    // Fill the disk through the API with incompressible 1 MiB files until
    // writes fail; every failure must be a 507.
    let mut stored_files = Vec::new();
    let mut full = false;
    for i in 0..40u64 {
        let name = format!("fill-{i}.bin");
        let content = bytes(i, 1024 * 1024);
        match try_upload_one(&owner, &server, &name, &content).await {
            Attempt::Stored => stored_files.push((name, content)),
            Attempt::Full { .. } => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "40 MiB of uploads never filled an 8 MiB disk");

    // A torn block: one byte more than fits, so the last write of the
    // upload is the one that fails. It must answer 507 and leave no file.
    let fits = disk.available();
    let torn = bytes(1000, fits as usize + 1);
    match try_upload_one(&owner, &server, "torn.bin", &torn).await {
        Attempt::Full { block_put_failed } => {
            assert!(block_put_failed, "the PUT of a block larger than the free space fails");
        }
        Attempt::Stored => panic!("a block of {} bytes was stored with {fits} bytes free", torn.len()),
    }

    // Metadata writes while full: each one answers 201 or 507, and those
    // acknowledged must survive the restart below.
    let mut acknowledged = vec!["before".to_owned()];
    for i in 0..20 {
        let name = format!("while-full-{i}");
        let resp = owner.create_folder_raw(owner.root(), &name).await;
        if resp.status == StatusCode::CREATED {
            acknowledged.push(name);
        } else {
            assert_out_of_space(&resp, "creating a folder");
        }
    }

    let ready = server.get("/ready").await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "/ready on a full disk: {}",
        ready.text()
    );
    let message = ready.expect_error(503, "unavailable")["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("blobs") || message.contains("metadata"),
        "/ready names the dependency that is out of space: {message}"
    );

    // Space comes back: readiness recovers by itself, and writes succeed.
    disk.resize("64m");
    server.get("/ready").await.expect_status(200);
    owner.create_folder(owner.root(), "after").await;
    acknowledged.push("after".to_owned());
    let newcomer = server.register("newcomer@example.com").await;
    newcomer.create_folder(newcomer.root(), "newcomer-folder").await;

    let content = bytes(2000, 3 * 1024 * 1024 + 17);
    let (request, hash) = one_block(owner.root(), "after.bin", &content);
    let plan = owner.plan_ok(&request).await;
    assert_eq!(plan.missing.len(), 1, "the new block is missing");
    let put = put_block(&owner.http, &plan.missing[0], content.clone()).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text());
    let manifest_node = {
        let resp = owner.commit(&request).await;
        resp.expect_status(201);
        resp.parse::<drive_wire::Node>()
    };
    assert!(server.stored(hash).await);
    stored_files.push(("after.bin".to_owned(), content));

    // Really on disk: a new process on the same data dir has all of it.
    server.restart_with(&[]);
    let owner = server.login("owner@example.com", "after-restart").await;
    let names: HashSet<String> = owner.child_names(owner.root()).await.into_iter().collect();
    for name in &acknowledged {
        assert!(
            names.contains(name),
            "folder {name} was acknowledged but is gone: {names:?}"
        );
    }
    for (name, content) in &stored_files {
        assert!(names.contains(name), "file {name} was acknowledged but is gone");
        let node = owner
            .children(owner.root())
            .await
            .into_iter()
            .find(|n| &n.name == name)
            .expect("the file is listed");
        assert!(
            owner.download(node.id).await == *content,
            "file {name} reads back other bytes"
        );
    }
    assert!(!names.contains("torn.bin"), "the torn upload never became a file");
    let newcomer = server.login("newcomer@example.com", "after-restart").await;
    assert_eq!(newcomer.child_names(newcomer.root()).await, vec!["newcomer-folder"]);
    // The block GETs back as its bytes through its presigned URL.
    let manifest = owner.manifest(manifest_node.id, None).await;
    let got = get_url(&owner.http, &manifest.blocks[0].url).await;
    got.expect_status(200);
    assert!(
        got.body == stored_files.last().expect("after.bin").1,
        "the block reads back whole"
    );

    drop(owner);
    drop(newcomer);
    server.check();
    drop(server);
    drop(disk);
}

#[tokio::test]
async fn check_quarantines_a_corrupted_block_and_the_next_upload_asks_for_it() {
    let mut server = TestServer::start().await;
    let client = server.register("owner@example.com").await;
    let content = bytes(7, 3 * BLOCK);
    let file = client.upload_file(client.root(), "a.bin", &content, None).await;
    let blocks = split(&content);
    let bad = blocks[1].0.hash;
    let hex = bad.to_string();
    let key = format!("blocks/{hex}");
    let mut damaged = server.object(&key).expect("the stored block");
    damaged[100] ^= 0xff;
    server.overwrite_object(&key, &damaged);

    let (consistent, report) = server.check_report();
    assert!(!consistent, "--check reports a corrupted block:\n{report}");
    assert!(
        report.contains(&format!("block {hex} does not hash to its name")) && report.contains("quarantine"),
        "--check says the block was quarantined:\n{report}"
    );
    assert!(server.object(&key).is_none(), "the corrupted block left its place");
    assert_eq!(
        server
            .object(&format!("quarantine/{hex}"))
            .expect("the block is in quarantine"),
        damaged,
        "the quarantined bytes are the damaged ones"
    );

    // The next upload of the same content asks for exactly that block again.
    server.restart_with(&[]);
    let client = server.login("owner@example.com", "after-check").await;
    let (request, block_bytes) = commit_request(client.root(), "b.bin", &content, None);
    let plan = client.plan_ok(&request).await;
    let missing: Vec<BlockHash> = plan.missing.iter().map(|b| b.hash).collect();
    assert_eq!(missing, vec![bad], "only the quarantined block is asked for");
    client.put_missing(&plan, &block_bytes).await;
    client.commit(&request).await.expect_status(201);
    // The old file is whole again too.
    assert!(client.download(file.id).await == content, "a.bin reads back whole");
    drop(client);
    server.check();
}
