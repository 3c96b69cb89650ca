//! The file tree: folders, listing, lookup, names, rename and move, trash.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use drive_wire::{Node, NodeKind};

#[tokio::test]
async fn nested_folders_are_created_and_listed() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();

    let a = alice.create_folder(root, "a").await;
    assert_eq!(a.kind, NodeKind::Folder);
    assert_eq!(a.parent_id, Some(root));
    assert_eq!(a.name, "a");
    assert_eq!(a.size, 0);
    assert_eq!(a.revision, None);
    assert_eq!(a.trashed_at, None);
    let b = alice.create_folder(a.id, "b").await;
    let c = alice.create_folder(b.id, "c").await;
    assert_eq!(c.parent_id, Some(b.id));

    assert_eq!(alice.node(c.id).await, c);
    assert_eq!(alice.child_names(root).await, vec!["a"]);
    assert_eq!(alice.child_names(a.id).await, vec!["b"]);
    assert_eq!(alice.children(b.id).await, vec![c.clone()]);
    assert!(alice.children(c.id).await.is_empty());

    // A file in the tree.
    let file = alice.upload_file(c.id, "notes.txt", b"hello", None).await;
    assert_eq!(alice.children(c.id).await, vec![file.clone()]);

    // Listing a file's children is an error.
    alice
        .get(&format!("/api/v1/nodes/{}/children", file.id))
        .await
        .expect_error(400, "not_a_folder");
    // Unknown ids are 404.
    alice.get("/api/v1/nodes/999999").await.expect_error(404, "not_found");
    alice
        .get("/api/v1/nodes/999999/children")
        .await
        .expect_error(404, "not_found");
    alice
        .create_folder_raw(999_999, "x")
        .await
        .expect_error(404, "not_found");
    // A folder cannot be created inside a file.
    let resp = alice.create_folder_raw(file.id, "x").await;
    assert!(resp.status.is_client_error(), "folder in a file: {}", resp.text());

    server.check();
}

#[tokio::test]
async fn children_are_sorted_folders_first() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let dir = alice.create_folder(alice.root(), "dir").await;
    alice.create_folder(dir.id, "zeta").await;
    alice.create_folder(dir.id, "alpha").await;
    let at = |year| Utc.with_ymd_and_hms(year, 1, 1, 12, 0, 0).single().expect("a date");
    for (name, size, year) in [("b.txt", 300, 2022), ("a.txt", 100, 2020), ("c.txt", 200, 2021)] {
        let (request, blocks) = commit_request_at(dir.id, name, &bytes(size, size as usize), None, at(year));
        let node = alice.upload_request(&request, &blocks).await;
        assert_eq!(node.modified, at(year), "the file keeps the client's modification time");
    }

    let names = |nodes: Vec<Node>| nodes.into_iter().map(|n| n.name).collect::<Vec<_>>();
    let files = |nodes: Vec<Node>| {
        // Folders come first.
        let kinds: Vec<NodeKind> = nodes.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            vec![
                NodeKind::Folder,
                NodeKind::Folder,
                NodeKind::File,
                NodeKind::File,
                NodeKind::File
            ],
            "folders first: {nodes:?}"
        );
        nodes
            .into_iter()
            .filter(|n| n.kind == NodeKind::File)
            .map(|n| n.name)
            .collect::<Vec<_>>()
    };

    assert_eq!(
        names(alice.children(dir.id).await),
        vec!["alpha", "zeta", "a.txt", "b.txt", "c.txt"],
        "by name by default"
    );
    assert_eq!(
        names(alice.children_sorted(dir.id, "?sort=name").await),
        vec!["alpha", "zeta", "a.txt", "b.txt", "c.txt"]
    );
    assert_eq!(
        names(alice.children_sorted(dir.id, "?sort=name&order=desc").await),
        vec!["zeta", "alpha", "c.txt", "b.txt", "a.txt"]
    );
    assert_eq!(
        files(alice.children_sorted(dir.id, "?sort=size").await),
        vec!["a.txt", "c.txt", "b.txt"]
    );
    assert_eq!(
        files(alice.children_sorted(dir.id, "?sort=size&order=desc").await),
        vec!["b.txt", "c.txt", "a.txt"]
    );
    assert_eq!(
        files(alice.children_sorted(dir.id, "?sort=modified").await),
        vec!["a.txt", "c.txt", "b.txt"]
    );
    assert_eq!(
        files(alice.children_sorted(dir.id, "?sort=modified&order=desc").await),
        vec!["b.txt", "c.txt", "a.txt"]
    );
    alice
        .get(&format!("/api/v1/nodes/{}/children?sort=colour", dir.id))
        .await
        .expect_status(400)
        .expect_error_shape();
}

#[tokio::test]
async fn rename_and_move() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let docs = alice.create_folder(root, "docs").await;
    let archive = alice.create_folder(root, "archive").await;
    let file = alice.upload_file(docs.id, "draft.txt", b"draft", None).await;

    // Rename.
    let resp = alice.rename(file.id, "final.txt").await;
    resp.expect_status(200);
    let renamed: Node = resp.parse();
    assert_eq!(renamed.name, "final.txt");
    assert_eq!(renamed.parent_id, Some(docs.id));
    assert_eq!(renamed.revision, file.revision, "a rename keeps the content");
    alice.lookup("/docs/final.txt").await.expect_status(200);
    alice.lookup("/docs/draft.txt").await.expect_error(404, "not_found");

    // Move.
    let resp = alice.move_to(file.id, archive.id).await;
    resp.expect_status(200);
    let moved: Node = resp.parse();
    assert_eq!(moved.parent_id, Some(archive.id));
    assert_eq!(moved.name, "final.txt");
    assert!(alice.children(docs.id).await.is_empty());
    assert_eq!(alice.child_names(archive.id).await, vec!["final.txt"]);
    assert_eq!(alice.download(file.id).await, b"draft");

    // Both at once.
    let resp = alice
        .patch(
            &format!("/api/v1/nodes/{}", file.id),
            &serde_json::json!({"name": "back.txt", "parent_id": docs.id}),
        )
        .await;
    resp.expect_status(200);
    let both: Node = resp.parse();
    assert_eq!((both.parent_id, both.name.as_str()), (Some(docs.id), "back.txt"));

    // A folder moves with its contents.
    let resp = alice.move_to(docs.id, archive.id).await;
    resp.expect_status(200);
    let found: Node = alice.lookup("/archive/docs/back.txt").await.parse();
    assert_eq!(found.id, file.id);

    // An empty update changes nothing.
    let resp = alice
        .patch(&format!("/api/v1/nodes/{}", file.id), &serde_json::json!({}))
        .await;
    resp.expect_status(200);
    assert_eq!(resp.parse::<Node>(), alice.node(file.id).await);

    // Moving to a file, or to a missing folder.
    let other = alice.upload_file(root, "other.txt", b"x", None).await;
    let resp = alice.move_to(file.id, other.id).await;
    assert!(resp.status.is_client_error(), "move into a file: {}", resp.text());
    alice.move_to(file.id, 999_999).await.expect_error(404, "not_found");
    assert_eq!(alice.node(file.id).await.parent_id, Some(docs.id));

    server.check();
}

#[tokio::test]
async fn a_folder_cannot_move_into_itself_or_its_descendants() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let a = alice.create_folder(alice.root(), "a").await;
    let b = alice.create_folder(a.id, "b").await;
    let c = alice.create_folder(b.id, "c").await;

    alice.move_to(a.id, c.id).await.expect_error(400, "invalid_move");
    alice.move_to(a.id, b.id).await.expect_error(400, "invalid_move");
    alice.move_to(a.id, a.id).await.expect_error(400, "invalid_move");
    alice.move_to(b.id, c.id).await.expect_error(400, "invalid_move");
    // The tree is unchanged.
    assert_eq!(alice.node(a.id).await.parent_id, Some(alice.root()));
    assert_eq!(alice.node(b.id).await.parent_id, Some(a.id));
    assert_eq!(alice.node(c.id).await.parent_id, Some(b.id));
    // Moving up is fine.
    alice.move_to(c.id, a.id).await.expect_status(200);
    // The root cannot be trashed.
    alice.trash(alice.root()).await.expect_error(400, "invalid_move");
    let resp = alice.move_to(alice.root(), a.id).await;
    assert!(resp.status.is_client_error(), "moving the root: {}", resp.text());
}

#[tokio::test]
async fn names_are_unique_per_folder() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let docs = alice.create_folder(root, "docs").await;
    let other = alice.create_folder(root, "other").await;
    alice.upload_file(root, "file.txt", b"x", None).await;
    let in_other = alice.create_folder(other.id, "docs").await;

    alice
        .create_folder_raw(root, "docs")
        .await
        .expect_error(409, "name_taken");
    alice
        .create_folder_raw(root, "file.txt")
        .await
        .expect_error(409, "name_taken");
    alice.rename(other.id, "docs").await.expect_error(409, "name_taken");
    alice.move_to(in_other.id, root).await.expect_error(409, "name_taken");
    // A file where a folder has the name.
    alice
        .try_upload(root, "docs", b"content", None)
        .await
        .expect_error(409, "name_taken");
    // Names are case-sensitive.
    alice.create_folder(root, "Docs").await;
    alice.create_folder(root, "DOCS").await;
    // Same name in another folder is fine (made above); a trashed one frees its name.
    alice.trash(docs.id).await.expect_status(204);
    alice.create_folder(root, "docs").await;
    assert_eq!(
        alice.child_names(root).await,
        vec!["DOCS", "Docs", "docs", "other", "file.txt"]
    );
}

#[tokio::test]
async fn concurrent_creations_of_one_name_make_one_folder() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let target = alice.create_folder(root, "target").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move { alice.create_folder_raw(root, "same").await }));
    }
    // Renames and moves racing for one name in another folder.
    for n in 0..4 {
        let alice = alice.clone();
        let node = alice.create_folder(root, &format!("mover{n}")).await;
        tasks.push(tokio::spawn(async move {
            alice
                .patch(
                    &format!("/api/v1/nodes/{}", node.id),
                    &serde_json::json!({"name": "moved", "parent_id": target.id}),
                )
                .await
        }));
    }
    let mut created = 0;
    let mut moved = 0;
    for task in tasks {
        let resp = task.await.expect("a task");
        match resp.status.as_u16() {
            201 => created += 1,
            200 => moved += 1,
            _ => {
                resp.expect_error(409, "name_taken");
            }
        }
    }
    assert_eq!(created, 1);
    assert_eq!(moved, 1);
    assert_eq!(alice.child_names(root).await.iter().filter(|n| *n == "same").count(), 1);
    assert_eq!(alice.child_names(target.id).await, vec!["moved"]);
    server.check();
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let folder = alice.create_folder(root, "folder").await;
    let long_ascii = "x".repeat(256);
    let long_utf8 = "\u{e9}".repeat(128); // 256 bytes
    let bad = [
        ".",
        "..",
        "a/b",
        "/",
        "a\u{0}b",
        "",
        long_ascii.as_str(),
        long_utf8.as_str(),
    ];
    for name in bad {
        alice
            .create_folder_raw(root, name)
            .await
            .expect_error(400, "invalid_name");
        alice.rename(folder.id, name).await.expect_error(400, "invalid_name");
        let (request, _) = commit_request(root, name, b"x", None);
        alice.plan(&request).await.expect_error(400, "invalid_name");
        alice.commit(&request).await.expect_error(400, "invalid_name");
    }
    assert_eq!(alice.child_names(root).await, vec!["folder"]);

    // At the limits, and what is kept as given.
    let max = "y".repeat(255);
    let max_utf8 = format!("{}z", "\u{e9}".repeat(127)); // 255 bytes
    for name in [
        max.as_str(),
        max_utf8.as_str(),
        "..hidden",
        ".config",
        "with space",
        "back\\slash",
        "emoji \u{1f600}",
        "tab\there",
        " lead",
    ] {
        let node = alice.create_folder(root, name).await;
        assert_eq!(node.name, name);
    }
}

#[tokio::test]
async fn names_are_normalized_to_nfc() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let decomposed = "e\u{301}";
    let composed = "\u{e9}";

    let folder = alice.create_folder(root, decomposed).await;
    assert_eq!(folder.name, composed);
    let found: Node = {
        let resp = alice.lookup(&format!("/{composed}")).await;
        resp.expect_status(200);
        resp.parse()
    };
    assert_eq!(found.id, folder.id);
    let resp = alice.lookup(&format!("/{decomposed}")).await;
    resp.expect_status(200);
    assert_eq!(resp.parse::<Node>().id, folder.id);
    // The two spellings are one name.
    alice
        .create_folder_raw(root, composed)
        .await
        .expect_error(409, "name_taken");

    // Files too.
    let file = alice
        .upload_file(folder.id, "caf\u{65}\u{301}.txt", b"coffee", None)
        .await;
    assert_eq!(file.name, "caf\u{e9}.txt");
    let found: Node = alice.lookup("/\u{e9}/caf\u{e9}.txt").await.parse();
    assert_eq!(found.id, file.id);
    // And renames.
    let resp = alice.rename(file.id, "the\u{301}.txt").await;
    resp.expect_status(200);
    assert_eq!(resp.parse::<Node>().name, "th\u{e9}.txt");
}

#[tokio::test]
async fn lookup_by_path() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let a = alice.create_folder(alice.root(), "a").await;
    let b = alice.create_folder(a.id, "b").await;
    let file = alice.upload_file(b.id, "f.txt", b"f", None).await;

    for (path, id) in [
        ("/", alice.root()),
        ("", alice.root()),
        ("/a", a.id),
        ("a", a.id),
        ("/a/b", b.id),
        ("/a/b/", b.id),
        ("//a//b", b.id),
        ("/a/b/f.txt", file.id),
    ] {
        let resp = alice.lookup(path).await;
        assert_eq!(resp.status, 200, "lookup {path:?}: {}", resp.text());
        assert_eq!(resp.parse::<Node>().id, id, "lookup {path:?}");
    }
    for path in ["/a/../b", "/a/./b", "..", "/a/b/.."] {
        alice.lookup(path).await.expect_error(400, "invalid_name");
    }
    for path in ["/nope", "/a/nope", "/a/b/f.txt/x", "/A"] {
        alice.lookup(path).await.expect_error(404, "not_found");
    }
    // A missing parameter is a bad request.
    alice
        .get("/api/v1/lookup")
        .await
        .expect_status(400)
        .expect_error_shape();
}

#[tokio::test]
async fn a_trashed_folder_takes_its_subtree_and_comes_back_with_it() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let t = alice.create_folder(root, "t").await;
    let sub = alice.create_folder(t.id, "sub").await;
    let file = alice.upload_file(sub.id, "f.txt", b"inside", None).await;
    let keep = alice.create_folder(root, "keep").await;

    alice.trash(t.id).await.expect_status(204);
    assert_eq!(alice.child_names(root).await, vec!["keep"]);
    let trash = alice.trash_list().await;
    assert_eq!(trash.len(), 1, "one entry for the folder: {trash:?}");
    assert_eq!(trash[0].id, t.id);
    assert!(trash[0].trashed_at.is_some());
    assert!(alice.node(t.id).await.trashed_at.is_some());
    assert!(
        alice.node(file.id).await.trashed_at.is_some(),
        "the subtree is trashed too"
    );
    alice.lookup("/t").await.expect_error(404, "not_found");
    alice.lookup("/t/sub/f.txt").await.expect_error(404, "not_found");
    // Trashed things cannot be trashed again, or receive new things.
    alice.trash(t.id).await.expect_error(404, "not_found");
    alice
        .create_folder_raw(t.id, "new")
        .await
        .expect_error(404, "not_found");
    alice
        .try_upload(sub.id, "g.txt", b"g", None)
        .await
        .expect_error(404, "not_found");

    // Something inside cannot be restored on its own: only what was trashed.
    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", file.id))
        .await
        .expect_error(404, "not_found");
    // A live node is not in the trash.
    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", keep.id))
        .await
        .expect_error(404, "not_found");

    let resp = alice.post_empty(&format!("/api/v1/trash/{}/restore", t.id)).await;
    resp.expect_status(200);
    let restored: Node = resp.parse();
    assert_eq!(restored.id, t.id);
    assert_eq!(restored.parent_id, Some(root));
    assert_eq!(restored.trashed_at, None);
    assert!(alice.trash_list().await.is_empty());
    assert_eq!(alice.child_names(root).await, vec!["keep", "t"]);
    let found: Node = alice.lookup("/t/sub/f.txt").await.parse();
    assert_eq!(found.id, file.id);
    assert_eq!(found.trashed_at, None);
    assert_eq!(alice.download(file.id).await, b"inside");

    server.check();
}

#[tokio::test]
async fn a_file_trashed_on_its_own_stays_trashed_when_its_folder_comes_back() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let dir = alice.create_folder(alice.root(), "dir").await;
    let first = alice.upload_file(dir.id, "first.txt", b"1", None).await;
    let second = alice.upload_file(dir.id, "second.txt", b"2", None).await;

    alice.trash(first.id).await.expect_status(204);
    alice.trash(dir.id).await.expect_status(204);
    let trash: Vec<_> = alice.trash_list().await.into_iter().map(|n| n.id).collect();
    assert_eq!(trash.len(), 2, "{trash:?}");
    assert!(trash.contains(&first.id) && trash.contains(&dir.id));

    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", dir.id))
        .await
        .expect_status(200);
    assert_eq!(alice.child_names(dir.id).await, vec!["second.txt"]);
    assert_eq!(alice.node(second.id).await.trashed_at, None);
    assert!(alice.node(first.id).await.trashed_at.is_some());
    assert_eq!(
        alice.trash_list().await.into_iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![first.id]
    );
}

#[tokio::test]
async fn restore_goes_to_the_root_when_the_folder_is_gone_and_refuses_taken_names() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let p = alice.create_folder(root, "p").await;
    let q = alice.create_folder(p.id, "q").await;

    // q's folder is trashed after q: q comes back to the root.
    alice.trash(q.id).await.expect_status(204);
    alice.trash(p.id).await.expect_status(204);
    let resp = alice.post_empty(&format!("/api/v1/trash/{}/restore", q.id)).await;
    resp.expect_status(200);
    assert_eq!(resp.parse::<Node>().parent_id, Some(root));
    assert_eq!(alice.child_names(root).await, vec!["q"]);

    // A file whose folder is in the trash too: to the root as well, with its content.
    let r = alice.create_folder(root, "r").await;
    let s = alice.upload_file(r.id, "s.txt", b"s", None).await;
    alice.trash(s.id).await.expect_status(204);
    alice.trash(r.id).await.expect_status(204);
    let resp = alice.post_empty(&format!("/api/v1/trash/{}/restore", s.id)).await;
    resp.expect_status(200);
    assert_eq!(resp.parse::<Node>().parent_id, Some(root));
    assert_eq!(alice.download(s.id).await, b"s");
    assert!(alice.node(r.id).await.trashed_at.is_some(), "r stays in the trash");

    // The name is taken again meanwhile: 409, and it stays in the trash.
    let x = alice.create_folder(root, "x").await;
    alice.trash(x.id).await.expect_status(204);
    alice.create_folder(root, "x").await;
    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", x.id))
        .await
        .expect_error(409, "name_taken");
    assert!(alice.trash_list().await.iter().any(|n| n.id == x.id));
    assert!(alice.node(x.id).await.trashed_at.is_some());

    server.check();
}

#[tokio::test]
async fn ids_are_never_reused_after_a_purge() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let old = alice.upload_file(root, "old.txt", b"old", None).await;
    let old_rev = old.revision.expect("a revision");
    alice.trash(old.id).await.expect_status(204);
    alice
        .delete(&format!("/api/v1/trash/{}", old.id))
        .await
        .expect_status(204);

    // New things get new ids: a client that knew the purged node must never
    // mistake a new one for it.
    let folder = alice.create_folder(root, "new-folder").await;
    let file = alice.upload_file(root, "new.txt", b"new", None).await;
    let mut reused = Vec::new();
    if folder.id == old.id {
        reused.push(format!("node id {} went to a new folder", old.id));
    }
    if file.id == old.id {
        reused.push(format!("node id {} went to a new file", old.id));
    }
    if file.revision == Some(old_rev) {
        reused.push(format!("revision id {old_rev} went to a new file"));
    }
    assert!(reused.is_empty(), "ids of purged things were reused: {reused:?}");
    alice
        .get(&format!("/api/v1/nodes/{}", old.id))
        .await
        .expect_error(404, "not_found");
    // In the feed, the purged node's changes name no node.
    let feed = alice.all_changes().await;
    for change in feed.changes.iter().filter(|c| c.node_id == old.id) {
        assert!(
            change.node.is_none(),
            "the purged node's {:?} shows {:?}",
            change.kind,
            change.node
        );
    }
    server.check();
}

#[tokio::test]
async fn purge_frees_quota_and_empty_trash_purges_everything() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let big = alice.upload_file(root, "big.bin", &bytes(1, 200_000), None).await;
    let dir = alice.create_folder(root, "dir").await;
    let small = alice.upload_file(dir.id, "small.bin", &bytes(2, 1000), None).await;
    let loose = alice.upload_file(root, "loose.bin", &bytes(3, 500), None).await;
    assert_eq!(alice.me().await.used_bytes, 201_500);

    // The trash still counts.
    alice.trash(big.id).await.expect_status(204);
    assert_eq!(alice.me().await.used_bytes, 201_500);

    // Only what is in the trash can be purged.
    alice
        .delete(&format!("/api/v1/trash/{}", loose.id))
        .await
        .expect_error(404, "not_found");
    alice
        .delete("/api/v1/trash/999999")
        .await
        .expect_error(404, "not_found");

    alice
        .delete(&format!("/api/v1/trash/{}", big.id))
        .await
        .expect_status(204);
    assert_eq!(alice.me().await.used_bytes, 1500);
    alice
        .get(&format!("/api/v1/nodes/{}", big.id))
        .await
        .expect_error(404, "not_found");
    alice
        .delete(&format!("/api/v1/trash/{}", big.id))
        .await
        .expect_error(404, "not_found");
    assert!(alice.trash_list().await.is_empty());

    // Emptying: a folder with its contents and a file.
    alice.trash(dir.id).await.expect_status(204);
    alice.trash(loose.id).await.expect_status(204);
    assert_eq!(alice.trash_list().await.len(), 2);
    alice.delete("/api/v1/trash").await.expect_status(204);
    assert!(alice.trash_list().await.is_empty());
    assert_eq!(alice.me().await.used_bytes, 0);
    for id in [dir.id, small.id, loose.id] {
        alice
            .get(&format!("/api/v1/nodes/{id}"))
            .await
            .expect_error(404, "not_found");
    }
    assert!(alice.children(root).await.is_empty());
    // Emptying an empty trash is fine.
    alice.delete("/api/v1/trash").await.expect_status(204);

    server.check();
}

#[tokio::test]
async fn revisions_are_kept_listed_and_restored() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let v1 = bytes(1, 100_000);
    let v2 = bytes(2, 150_000);
    let v3 = bytes(3, 50_000);
    let at = |year| Utc.with_ymd_and_hms(year, 6, 1, 0, 0, 0).single().expect("a date");

    let (req, blocks) = commit_request_at(root, "doc.bin", &v1, None, at(2021));
    let n1 = alice.upload_request(&req, &blocks).await;
    let (req, blocks) = commit_request_at(root, "doc.bin", &v2, n1.revision, at(2022));
    let n2 = alice.upload_request(&req, &blocks).await;
    let (req, blocks) = commit_request_at(root, "doc.bin", &v3, n2.revision, at(2023));
    let n3 = alice.upload_request(&req, &blocks).await;
    assert_eq!(n1.id, n2.id);
    assert_eq!(n2.id, n3.id);
    let id = n1.id;
    let (r1, r2, r3) = (
        n1.revision.expect("r1"),
        n2.revision.expect("r2"),
        n3.revision.expect("r3"),
    );
    assert!(r1 != r2 && r2 != r3 && r1 != r3);

    let resp = alice.get(&format!("/api/v1/nodes/{id}/revisions")).await;
    resp.expect_status(200);
    let revisions: Vec<drive_wire::Revision> = resp.parse();
    assert_eq!(
        revisions.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r3, r2, r1],
        "newest first"
    );
    assert_eq!(
        revisions.iter().map(|r| r.size).collect::<Vec<_>>(),
        vec![50_000, 150_000, 100_000]
    );
    assert_eq!(
        revisions.iter().map(|r| r.block_count).collect::<Vec<_>>(),
        vec![1, 3, 2]
    );
    assert_eq!(
        revisions.iter().map(|r| r.modified).collect::<Vec<_>>(),
        vec![at(2023), at(2022), at(2021)]
    );
    assert!(revisions.iter().all(|r| r.node_id == id));
    assert_eq!(alice.me().await.used_bytes, 50_000, "only the current revision counts");

    // Restore r1: a new revision with the old content.
    let resp = alice
        .post_empty(&format!("/api/v1/nodes/{id}/revisions/{r1}/restore"))
        .await;
    resp.expect_status(200);
    let restored: Node = resp.parse();
    let r4 = restored.revision.expect("a revision");
    assert!(![r1, r2, r3].contains(&r4), "a restore makes a new revision");
    assert_eq!(restored.size, 100_000);
    assert_eq!(restored.modified, at(2021));
    assert_eq!(alice.download(id).await, v1);
    assert_eq!(alice.me().await.used_bytes, 100_000);
    let revisions: Vec<drive_wire::Revision> = alice.get(&format!("/api/v1/nodes/{id}/revisions")).await.parse();
    assert_eq!(revisions.iter().map(|r| r.id).collect::<Vec<_>>(), vec![r4, r3, r2, r1]);
    // Old revisions stay readable.
    let resp = alice.get(&format!("/api/v1/nodes/{id}/content?revision={r2}")).await;
    resp.expect_status(200);
    assert_eq!(resp.body, v2);

    // Errors.
    alice
        .post_empty(&format!("/api/v1/nodes/{id}/revisions/999999/restore"))
        .await
        .expect_error(404, "not_found");
    let other = alice.upload_file(root, "other.bin", b"other", None).await;
    let other_rev = other.revision.expect("a revision");
    alice
        .post_empty(&format!("/api/v1/nodes/{id}/revisions/{other_rev}/restore"))
        .await
        .expect_error(404, "not_found");
    let folder = alice.create_folder(root, "folder").await;
    alice
        .get(&format!("/api/v1/nodes/{}/revisions", folder.id))
        .await
        .expect_error(400, "not_a_file");
    alice
        .get("/api/v1/nodes/999999/revisions")
        .await
        .expect_error(404, "not_found");

    server.check();
}
