use std::time::Duration;

use drive_wire::{BlockRef, ChangeKind, CommitRequest, Node, NodeId, RevisionId};

use super::{model::hash_of, Faults, SimServer, World, PAGE, SERVER_ID};
use crate::{remote::RemoteError, server::Server};

fn setup() -> (World, SimServer) {
    let world = World::new();
    (world.clone(), SimServer::new(world, Faults::none()))
}

/// A commit of `bytes` as one block.
fn request(parent: NodeId, name: &str, base: Option<RevisionId>, bytes: &[u8]) -> CommitRequest {
    let blocks = if bytes.is_empty() {
        Vec::new()
    } else {
        vec![BlockRef {
            hash: hash_of(bytes),
            size: bytes.len() as u64,
        }]
    };
    CommitRequest {
        parent_id: parent,
        name: name.to_owned(),
        base_revision: base,
        blocks,
        modified: chrono::DateTime::from_timestamp_millis(1_000).unwrap(),
        inline: Vec::new(),
    }
}

/// The three steps of an upload, as the engine takes them.
async fn upload(
    server: &SimServer,
    parent: NodeId,
    name: &str,
    base: Option<RevisionId>,
    bytes: &[u8],
) -> Result<Node, RemoteError> {
    let request = request(parent, name, base, bytes);
    for block in server.prepare_upload(&request).await?.missing {
        server.put_block(&block, bytes.to_vec()).await?;
    }
    server.commit(&request).await
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, RemoteError>, expected: &str) {
    match result {
        Err(RemoteError::Rejected { status: 400, code, .. }) if code == expected => {}
        other => panic!("expected 400 {expected}, got {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_stale_base_is_refused_with_the_file_as_it_is() {
    let (world, server) = setup();
    let root = world.root_id();
    let first = upload(&server, root, "a.txt", None, b"one").await.unwrap();
    let rev1 = first.revision.unwrap();
    // Another "new" file at that name: stale, at step 1 as at step 3.
    match server.prepare_upload(&request(root, "a.txt", None, b"two")).await {
        Err(RemoteError::StaleRevision { current: Some(node) }) => assert_eq!(node, first),
        other => panic!("{other:?}"),
    }
    match upload(&server, root, "a.txt", None, b"two").await {
        Err(RemoteError::StaleRevision { current: Some(node) }) => assert_eq!(node, first),
        other => panic!("{other:?}"),
    }
    let second = upload(&server, root, "a.txt", Some(rev1), b"two").await.unwrap();
    assert_eq!(second.id, first.id);
    assert_ne!(second.revision, first.revision);
    match upload(&server, root, "a.txt", Some(rev1), b"three").await {
        Err(RemoteError::StaleRevision { current: Some(node) }) => assert_eq!(node.revision, second.revision),
        other => panic!("{other:?}"),
    }
    match upload(&server, root, "gone.txt", Some(rev1), b"x").await {
        Err(RemoteError::StaleRevision { current: None }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(world.tree().get("a.txt"), Some(&Some(b"two".to_vec())));
    let old = server.manifest(first.id, Some(rev1)).await.unwrap();
    assert_eq!((old.revision, old.size, old.blocks[0].hash), (rev1, 3, hash_of(b"one")));
    assert!(matches!(
        server.manifest(first.id, Some(999)).await,
        Err(RemoteError::NotFound)
    ));
    assert_rejected(server.manifest(root, None).await, "not_a_file");
    let contents = world.all_contents();
    assert!(contents.contains(b"one".as_slice()) && contents.contains(b"two".as_slice()));
    assert!(!contents.contains(b"three".as_slice()));
}

#[tokio::test(flavor = "current_thread")]
async fn names_are_unique_among_live_children_case_sensitively() {
    let (world, server) = setup();
    let root = world.root_id();
    let a = server.create_folder(root, "a").await.unwrap();
    assert!(matches!(
        server.create_folder(root, "a").await,
        Err(RemoteError::NameTaken)
    ));
    server.create_folder(root, "A").await.unwrap();
    // A commit onto a folder's name, a folder onto a file's, a rename onto either.
    assert!(matches!(
        upload(&server, root, "a", None, b"x").await,
        Err(RemoteError::NameTaken)
    ));
    let file = upload(&server, root, "b.txt", None, b"b").await.unwrap();
    assert!(matches!(
        server.create_folder(root, "b.txt").await,
        Err(RemoteError::NameTaken)
    ));
    assert!(matches!(
        server.update_node(file.id, Some("a"), None).await,
        Err(RemoteError::NameTaken)
    ));
    assert_rejected(server.create_folder(root, "..").await, "invalid_name");
    assert_rejected(server.update_node(file.id, Some("x/y"), None).await, "invalid_name");
    // A trashed node's name is free again.
    server.trash(a.id).await.unwrap();
    server.create_folder(root, "a").await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn trashing_a_folder_takes_its_subtree_in_one_change() {
    let (world, server) = setup();
    let file = world.user_write("d/e/f.txt", b"deep").unwrap();
    world.user_write("g.txt", b"top").unwrap();
    let (d, e) = (world.user_mkdir("d").unwrap(), world.user_mkdir("d/e").unwrap());
    let head = world.head();
    server.trash(d).await.unwrap();
    assert_eq!(world.tree().into_keys().collect::<Vec<_>>(), ["g.txt"]);
    let page = server.changes(head, Duration::ZERO).await.unwrap();
    assert_eq!(page.changes.len(), 1);
    let change = &page.changes[0];
    assert_eq!((change.kind, change.node_id), (ChangeKind::Trashed, d));
    assert!(change.node.as_ref().unwrap().trashed_at.is_some());
    // Inside the trash: 404 for changes, but the content is still there.
    assert!(matches!(
        server.update_node(file.id, Some("x"), None).await,
        Err(RemoteError::NotFound)
    ));
    assert!(matches!(server.trash(file.id).await, Err(RemoteError::NotFound)));
    assert!(matches!(server.create_folder(e, "z").await, Err(RemoteError::NotFound)));
    assert!(matches!(
        upload(&server, e, "n", None, b"n").await,
        Err(RemoteError::NotFound)
    ));
    assert_eq!(server.manifest(file.id, None).await.unwrap().size, 4);
    assert!(world.all_contents().contains(b"deep".as_slice()));
    assert_rejected(server.trash(world.root_id()).await, "invalid_move");
    server.world().user_trash("g.txt").unwrap();
    assert!(world.tree().is_empty());
    assert!(matches!(world.user_trash("g.txt"), Err(RemoteError::NotFound)));
}

#[tokio::test(flavor = "current_thread")]
async fn moves_mirror_the_server() {
    let (world, server) = setup();
    let root = world.root_id();
    let c = world.user_mkdir("a/b/c").unwrap();
    let a = world.user_mkdir("a").unwrap();
    assert_rejected(server.update_node(a, None, Some(c)).await, "invalid_move");
    assert_rejected(server.update_node(a, None, Some(a)).await, "invalid_move");
    assert_rejected(server.update_node(root, Some("x"), None).await, "invalid_move");
    let file = world.user_write("f.txt", b"f").unwrap();
    assert_rejected(server.update_node(c, None, Some(file.id)).await, "not_a_folder");
    assert!(matches!(
        server.update_node(c, None, Some(999)).await,
        Err(RemoteError::NotFound)
    ));
    // Nothing to do: no change in the feed.
    let head = world.head();
    server.update_node(c, Some("c"), None).await.unwrap();
    assert_eq!(world.head(), head);
    let moved = server.update_node(c, Some("c2"), Some(root)).await.unwrap();
    assert_eq!((moved.parent_id, moved.name.as_str()), (Some(root), "c2"));
    assert_eq!(
        world.tree().into_keys().collect::<Vec<_>>(),
        ["a", "a/b", "c2", "f.txt"]
    );
    let page = server.changes(head, Duration::ZERO).await.unwrap();
    assert_eq!(
        page.changes.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [ChangeKind::Moved]
    );
    world.user_rename("f.txt", "a/b/g.txt").unwrap();
    assert_eq!(world.tree().get("a/b/g.txt"), Some(&Some(b"f".to_vec())));
}

#[tokio::test(flavor = "current_thread")]
async fn the_feed_comes_in_pages() {
    let (world, server) = setup();
    let root = world.root_id();
    for i in 0..10 {
        server.create_folder(root, &format!("f{i}")).await.unwrap();
    }
    let first = server.changes(0, Duration::ZERO).await.unwrap();
    assert_eq!((first.changes.len(), first.has_more, first.cursor), (PAGE, true, 7));
    assert_eq!(first.server_id, SERVER_ID);
    let second = server.changes(first.cursor, Duration::ZERO).await.unwrap();
    assert_eq!((second.changes.len(), second.has_more, second.cursor), (3, false, 10));
    let seqs: Vec<i64> = first.changes.iter().chain(&second.changes).map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    assert!(first.changes.iter().all(|c| c.kind == ChangeKind::Created));
    let caught_up = server.changes(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        (caught_up.changes.len(), caught_up.has_more, caught_up.cursor),
        (0, false, 10)
    );
    // A cursor from the future: the feed answers its newest seq.
    assert_eq!(server.changes(50, Duration::ZERO).await.unwrap().cursor, 10);
}

#[tokio::test(flavor = "current_thread")]
async fn blocks_are_checked_and_deduplicated() {
    let (world, server) = setup();
    let request = request(world.root_id(), "h.txt", None, b"hello");
    let hash = hash_of(b"hello");
    match server.commit(&request).await {
        Err(RemoteError::MissingBlocks(missing)) => assert_eq!(missing, [hash]),
        other => panic!("{other:?}"),
    }
    let plan = server.prepare_upload(&request).await.unwrap();
    assert_eq!(plan.missing.len(), 1);
    let block = &plan.missing[0];
    assert_eq!(block.url, format!("sim://block/{hash}"));
    assert_rejected(server.put_block(block, b"jello".to_vec()).await, "hash_mismatch");
    assert_rejected(server.put_block(block, b"hell".to_vec()).await, "size_mismatch");
    assert!(matches!(server.get_block(block).await, Err(RemoteError::NotFound)));
    server.put_block(block, b"hello".to_vec()).await.unwrap();
    assert_eq!(server.get_block(block).await.unwrap(), b"hello");
    assert!(server.prepare_upload(&request).await.unwrap().missing.is_empty());
    server.commit(&request).await.unwrap();
    // An empty file has no blocks at all.
    let empty = upload(&server, world.root_id(), "empty", None, b"").await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(world.tree().get("empty"), Some(&Some(Vec::new())));
}

/// 0 for success, else the status of the injected fault.
fn outcome<T: std::fmt::Debug>(result: Result<T, RemoteError>) -> u16 {
    match result {
        Ok(_) => 0,
        Err(RemoteError::Server { status, .. }) => status,
        Err(other) => panic!("{other:?}"),
    }
}

async fn run_with_faults(seed: u64) -> Vec<u16> {
    let world = World::new();
    let server = SimServer::new(world.clone(), Faults::new(seed, 0.5));
    let mut outcomes = Vec::new();
    for i in 0..40 {
        outcomes.push(outcome(server.create_folder(world.root_id(), &format!("f{i}")).await));
    }
    outcomes
}

#[tokio::test(flavor = "current_thread")]
async fn faults_are_the_same_for_the_same_seed() {
    let outcomes = run_with_faults(7).await;
    assert_eq!(outcomes, run_with_faults(7).await);
    for status in [0, 503, 504] {
        assert!(outcomes.contains(&status), "{outcomes:?}");
    }
    let (world, server) = setup();
    server.set_rate(0.5);
    server.set_rate(0.0);
    for i in 0..20 {
        server.create_folder(world.root_id(), &format!("f{i}")).await.unwrap();
    }
    assert_eq!(server.faults_injected(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_lost_answer_still_takes_effect() {
    let world = World::new();
    let server = SimServer::new(world.clone(), Faults::new(3, 1.0));
    let mut lost = 0;
    for i in 0..20 {
        let name = format!("f{i}");
        match outcome(server.create_folder(world.root_id(), &name).await) {
            503 => assert!(!world.tree().contains_key(&name)),
            504 => {
                assert!(world.tree().contains_key(&name));
                lost += 1;
            }
            status => panic!("no fault: {status}"),
        }
    }
    assert!(lost > 0 && lost < 20, "{lost}");
    assert_eq!(server.faults_injected(), 20);
    // One change per call that took effect.
    assert_eq!(world.head(), lost);
}
