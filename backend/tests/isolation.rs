//! One user can neither see nor touch another's nodes, revisions or sessions:
//! every id that is not theirs answers 404 `not_found`, exactly like one that
//! does not exist.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::json;

/// Everything bob can read about his account, to compare before and after.
async fn snapshot(bob: &Client, nodes: &[i64], files: &[i64], folders: &[i64]) -> Vec<(String, u16, Vec<u8>)> {
    let mut paths = vec![
        "/api/v1/me".to_owned(),
        "/api/v1/trash".to_owned(),
        "/api/v1/auth/sessions".to_owned(),
        "/api/v1/changes?since=0".to_owned(),
    ];
    paths.extend(nodes.iter().map(|id| format!("/api/v1/nodes/{id}")));
    paths.extend(folders.iter().map(|id| format!("/api/v1/nodes/{id}/children")));
    for id in files {
        paths.push(format!("/api/v1/nodes/{id}/revisions"));
        paths.push(format!("/api/v1/nodes/{id}/content"));
    }
    let mut out = Vec::new();
    for path in paths {
        let resp = bob.get(&path).await;
        out.push((path, resp.status.as_u16(), resp.body));
    }
    out
}

#[tokio::test]
async fn another_users_ids_are_not_found() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let bob_phone = server.login("bob@example.com", "phone").await;

    // Bob's things.
    let secret = bob.create_folder(bob.root(), "secret").await;
    let inner = bob.create_folder(secret.id, "inner").await;
    let v1 = bytes(1, 5000);
    let v2 = bytes(2, 7000);
    let doc1 = bob.upload_file(secret.id, "doc.txt", &v1, None).await;
    let doc2 = bob.upload_file(secret.id, "doc.txt", &v2, doc1.revision).await;
    let deep = bob.upload_file(inner.id, "deep.txt", b"deep", None).await;
    let trashed = bob.upload_file(bob.root(), "trashme.txt", b"bye", None).await;
    bob.trash(trashed.id).await.expect_status(204);
    let bob_nodes = vec![bob.root(), secret.id, inner.id, doc1.id, deep.id, trashed.id];
    let bob_files = vec![doc1.id, deep.id, trashed.id];
    let bob_folders = vec![bob.root(), secret.id, inner.id];
    let bob_revisions = vec![
        doc1.revision.expect("a revision"),
        doc2.revision.expect("a revision"),
        deep.revision.expect("a revision"),
        trashed.revision.expect("a revision"),
    ];

    // Alice's things.
    let mine = alice.create_folder(alice.root(), "mine").await;
    let my_file = alice.upload_file(mine.id, "a.txt", b"alice", None).await;
    let alice_nodes: BTreeSet<i64> = [alice.root(), mine.id, my_file.id].into();

    let before = snapshot(&bob, &bob_nodes, &bob_files, &bob_folders).await;
    let alice_before = snapshot(&alice, &[alice.root(), mine.id, my_file.id], &[my_file.id], &[mine.id]).await;

    let max_id = bob_nodes.iter().chain(alice_nodes.iter()).max().copied().expect("ids") + 5;
    let mut probed = 0;
    for id in 1..=max_id {
        if alice_nodes.contains(&id) {
            continue;
        }
        probed += 1;
        let mut answers = vec![
            (
                format!("GET node {id}"),
                alice.get(&format!("/api/v1/nodes/{id}")).await,
            ),
            (
                format!("GET children {id}"),
                alice.get(&format!("/api/v1/nodes/{id}/children")).await,
            ),
            (
                format!("GET revisions {id}"),
                alice.get(&format!("/api/v1/nodes/{id}/revisions")).await,
            ),
            (
                format!("GET manifest {id}"),
                alice.get(&format!("/api/v1/nodes/{id}/manifest")).await,
            ),
            (
                format!("GET content {id}"),
                alice.get(&format!("/api/v1/nodes/{id}/content")).await,
            ),
            (format!("rename {id}"), alice.rename(id, "pwned").await),
            (
                format!("move {id} to alice's root"),
                alice.move_to(id, alice.root()).await,
            ),
            (
                format!("move alice's file into {id}"),
                alice.move_to(my_file.id, id).await,
            ),
            (format!("trash {id}"), alice.trash(id).await),
            (
                format!("restore from trash {id}"),
                alice.post_empty(&format!("/api/v1/trash/{id}/restore")).await,
            ),
            (
                format!("purge {id}"),
                alice.delete(&format!("/api/v1/trash/{id}")).await,
            ),
            (
                format!("create folder in {id}"),
                alice.create_folder_raw(id, "intruder").await,
            ),
        ];
        // Commits into the folder, with blocks the server has (bob's own
        // content), as a new file and as an update of bob's file.
        for (name, base) in [("intruder.txt", None), ("doc.txt", doc2.revision)] {
            let (request, _) = commit_request(id, name, &v2, base);
            answers.push((format!("plan {name} in {id}"), alice.plan(&request).await));
            answers.push((format!("commit {name} in {id}"), alice.commit(&request).await));
        }
        for rev in &bob_revisions {
            answers.push((
                format!("restore revision {rev} of {id}"),
                alice
                    .post_empty(&format!("/api/v1/nodes/{id}/revisions/{rev}/restore"))
                    .await,
            ));
            answers.push((
                format!("content of {id} at revision {rev}"),
                alice.get(&format!("/api/v1/nodes/{id}/content?revision={rev}")).await,
            ));
            answers.push((
                format!("manifest of {id} at revision {rev}"),
                alice.get(&format!("/api/v1/nodes/{id}/manifest?revision={rev}")).await,
            ));
        }
        for (what, resp) in answers {
            assert_eq!(
                (resp.status.as_u16(), resp.code().as_deref()),
                (404, Some("not_found")),
                "alice: {what}: {}",
                resp.text()
            );
            resp.expect_error(404, "not_found");
        }
    }
    assert!(probed >= bob_nodes.len());

    // Bob's revisions through alice's own file.
    for rev in &bob_revisions {
        for (what, resp) in [
            (
                "restore",
                alice
                    .post_empty(&format!("/api/v1/nodes/{}/revisions/{rev}/restore", my_file.id))
                    .await,
            ),
            (
                "content",
                alice
                    .get(&format!("/api/v1/nodes/{}/content?revision={rev}", my_file.id))
                    .await,
            ),
            (
                "manifest",
                alice
                    .get(&format!("/api/v1/nodes/{}/manifest?revision={rev}", my_file.id))
                    .await,
            ),
        ] {
            assert_eq!(
                resp.status,
                404,
                "alice: {what} of bob's revision {rev}: {}",
                resp.text()
            );
            resp.expect_error(404, "not_found");
        }
    }

    // Bob's sessions.
    let bob_sessions = [bob.tokens.session_id, bob_phone.tokens.session_id];
    let max_session = bob_sessions.iter().max().copied().expect("sessions") + 3;
    for sid in 1..=max_session {
        if sid == alice.tokens.session_id {
            continue;
        }
        alice
            .delete(&format!("/api/v1/auth/sessions/{sid}"))
            .await
            .expect_error(404, "not_found");
    }
    let listed: Vec<drive_wire::Session> = alice.get("/api/v1/auth/sessions").await.parse();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![alice.tokens.session_id]
    );

    // By path, alice only ever reaches her own tree.
    alice.lookup("/secret").await.expect_error(404, "not_found");
    alice.lookup("/secret/doc.txt").await.expect_error(404, "not_found");
    // Her trash holds only her things.
    assert!(alice.trash_list().await.is_empty());

    // Bob's account is exactly as it was, and his devices are signed in.
    let after = snapshot(&bob, &bob_nodes, &bob_files, &bob_folders).await;
    for (b, a) in before.iter().zip(after.iter()) {
        assert_eq!(
            b,
            a,
            "bob's {} changed: before {} after {}",
            b.0,
            String::from_utf8_lossy(&b.2),
            String::from_utf8_lossy(&a.2)
        );
    }
    assert_eq!(bob.download(doc1.id).await, v2);
    bob_phone.me().await;
    // Alice's own account is unchanged by all of it.
    let alice_after = snapshot(&alice, &[alice.root(), mine.id, my_file.id], &[my_file.id], &[mine.id]).await;
    assert_eq!(alice_before, alice_after);
    assert_eq!(alice.child_names(alice.root()).await, vec!["mine"]);

    server.check();
}

#[tokio::test]
async fn presigned_urls_and_dedup_do_not_open_another_users_files() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let secret = bytes(42, 3000);
    let file = bob.upload_file(bob.root(), "secret.bin", &secret, None).await;

    // Knowing a hash does not let alice commit the content (proof of
    // possession: see possession.rs); sending the bytes does (deduplicated in
    // the store), and even then never reaches bob's file.
    let (request, blocks) = commit_request(alice.root(), "mine.bin", &secret, None);
    assert_eq!(alice.missing(&request).await.len(), 1);
    alice.commit(&request).await.expect_error(400, "missing_blocks");
    alice.upload_request(&request, &blocks).await;
    alice
        .get(&format!("/api/v1/nodes/{}/content", file.id))
        .await
        .expect_error(404, "not_found");
    // Alice's upload did not change bob's quota, nor his file.
    assert_eq!(bob.me().await.used_bytes, 3000);
    assert_eq!(alice.me().await.used_bytes, 3000);
    assert_eq!(bob.node(file.id).await, file);

    // Purging alice's copy leaves bob's content intact.
    let mine = alice.lookup("/mine.bin").await;
    let mine: drive_wire::Node = mine.parse();
    alice.trash(mine.id).await.expect_status(204);
    alice.delete("/api/v1/trash").await.expect_status(204);
    assert_eq!(bob.download(file.id).await, secret);
    let manifest = bob.manifest(file.id, None).await;
    let resp = get_url(&bob.http, &manifest.blocks[0].url).await;
    resp.expect_status(200);
    assert_eq!(resp.body, secret);

    // A folder id of bob's in a JSON body is no better than in a path.
    alice
        .post("/api/v1/folders", &json!({"parent_id": bob.root(), "name": "x"}))
        .await
        .expect_error(404, "not_found");
}
