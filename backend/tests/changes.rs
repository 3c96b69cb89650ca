//! The changes feed: cursor, kinds, paging, long-poll, isolation.

mod common;

use std::time::{Duration, Instant};

use common::*;
use drive_wire::{ChangeKind, ChangesPage};

#[tokio::test]
async fn the_feed_journals_every_kind_of_change_in_order() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();

    let folder = alice.create_folder(root, "dir").await;
    let file = alice.upload_file(folder.id, "f.txt", b"one", None).await;
    let file2 = alice.upload_file(folder.id, "f.txt", b"two", file.revision).await;
    alice.rename(file.id, "g.txt").await.expect_status(200);
    alice.trash(folder.id).await.expect_status(204);
    alice
        .post_empty(&format!("/api/v1/trash/{}/restore", folder.id))
        .await
        .expect_status(200);
    let revision_file = alice.upload_file(root, "r.txt", b"v1", None).await;
    alice.upload_file(root, "r.txt", b"v2", revision_file.revision).await;
    let r1 = revision_file.revision.expect("a revision");
    alice
        .post_empty(&format!("/api/v1/nodes/{}/revisions/{r1}/restore", revision_file.id))
        .await
        .expect_status(200);
    alice.trash(file.id).await.expect_status(204);
    alice
        .delete(&format!("/api/v1/trash/{}", file.id))
        .await
        .expect_status(204);

    let page = alice.changes(0, 0).await;
    assert!(!page.has_more);
    let got: Vec<(ChangeKind, i64)> = page.changes.iter().map(|c| (c.kind, c.node_id)).collect();
    assert_eq!(
        got,
        vec![
            (ChangeKind::Created, folder.id),
            (ChangeKind::Created, file.id),
            (ChangeKind::Updated, file.id),
            (ChangeKind::Moved, file.id),
            (ChangeKind::Trashed, folder.id),
            (ChangeKind::Restored, folder.id),
            (ChangeKind::Created, revision_file.id),
            (ChangeKind::Updated, revision_file.id),
            (ChangeKind::Updated, revision_file.id),
            (ChangeKind::Trashed, file.id),
            (ChangeKind::Purged, file.id),
        ]
    );
    assert_eq!(file2.id, file.id);
    for pair in page.changes.windows(2) {
        assert!(pair[0].seq < pair[1].seq, "seq strictly increases: {:?}", page.changes);
        assert!(pair[0].at <= pair[1].at);
    }
    assert_eq!(page.cursor, page.changes.last().expect("changes").seq);
    // The node as it is now; none once purged.
    for change in &page.changes {
        if change.node_id == file.id {
            assert!(change.node.is_none(), "a purged node is gone: {change:?}");
        } else {
            let node = change.node.as_ref().expect("a live node is given");
            assert_eq!(node, &alice.node(change.node_id).await);
        }
    }

    // Caught up: nothing new, same cursor, at once.
    let start = Instant::now();
    let again = alice.changes(page.cursor, 0).await;
    assert!(again.changes.is_empty());
    assert_eq!(again.cursor, page.cursor);
    assert!(!again.has_more);
    assert!(start.elapsed() < Duration::from_secs(2));

    // The cursor advances with the next change, and only that one is returned.
    let later = alice.create_folder(root, "later").await;
    let next = alice.changes(page.cursor, 0).await;
    assert_eq!(next.changes.len(), 1);
    assert_eq!(next.changes[0].node_id, later.id);
    assert_eq!(next.changes[0].kind, ChangeKind::Created);
    assert!(next.cursor > page.cursor);
    assert_eq!(next.cursor, next.changes[0].seq);
}

#[tokio::test]
async fn the_feed_pages_with_limit() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(alice.create_folder(alice.root(), &format!("f{n}")).await.id);
    }
    let mut since = 0;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let resp = alice.get(&format!("/api/v1/changes?since={since}&limit=2")).await;
        resp.expect_status(200);
        let page: ChangesPage = resp.parse();
        assert!(page.changes.len() <= 2);
        pages += 1;
        seen.extend(page.changes.iter().map(|c| c.node_id));
        since = page.cursor;
        if !page.has_more {
            break;
        }
        assert_eq!(page.changes.len(), 2, "a page with more behind it is full");
        assert!(pages < 10, "paging terminates");
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    // The whole history at once.
    let all = alice.changes(0, 0).await;
    assert_eq!(all.changes.len(), 5);
    assert!(!all.has_more);
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_something_changes() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    alice.create_folder(alice.root(), "before").await;
    let cursor = alice.changes(0, 0).await.cursor;

    let poller = alice.clone();
    let start = Instant::now();
    let poll = tokio::spawn(async move {
        let page = poller.changes(cursor, 10).await;
        (page, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writer = alice.clone();
    let committed = tokio::spawn(async move {
        let node = writer.upload_file(writer.root(), "new.txt", b"news", None).await;
        (node, Instant::now())
    });
    let (node, committed_at) = committed.await.expect("the commit task");
    let (page, returned_at) = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the long-poll returns soon after the change")
        .expect("the poll task");
    assert!(
        returned_at.duration_since(committed_at) < Duration::from_secs(2),
        "returned {:?} after the commit",
        returned_at.duration_since(committed_at)
    );
    assert!(
        returned_at.duration_since(start) >= Duration::from_millis(250),
        "the poll waited for the change instead of answering empty"
    );
    assert_eq!(page.changes.len(), 1, "{:?}", page.changes);
    assert_eq!(page.changes[0].node_id, node.id);
    assert_eq!(page.changes[0].kind, ChangeKind::Created);
    assert!(page.cursor > cursor);
}

#[tokio::test]
async fn a_long_poll_with_nothing_happening_returns_empty_after_wait() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    alice.create_folder(alice.root(), "x").await;
    let cursor = alice.changes(0, 0).await.cursor;

    let start = Instant::now();
    let page = alice.changes(cursor, 2).await;
    let elapsed = start.elapsed();
    assert!(page.changes.is_empty());
    assert_eq!(page.cursor, cursor);
    assert!(
        elapsed >= Duration::from_millis(1900),
        "the poll waits `wait` seconds: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(6), "but not much longer: {elapsed:?}");

    // A poll from behind answers at once, whatever `wait` says.
    let start = Instant::now();
    let page = alice.changes(0, 30).await;
    assert_eq!(page.changes.len(), 1);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn one_users_feed_never_shows_anothers_changes() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let mine = alice.create_folder(alice.root(), "mine").await;
    let cursor = alice.changes(0, 0).await.cursor;

    // Alice long-polls while bob works: she is not woken with bob's changes.
    let poller = alice.clone();
    let poll = tokio::spawn(async move {
        let start = Instant::now();
        let page = poller.changes(cursor, 2).await;
        (page, start.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let theirs = bob.create_folder(bob.root(), "theirs").await;
    let file = bob.upload_file(theirs.id, "b.txt", b"bob", None).await;
    bob.rename(file.id, "c.txt").await.expect_status(200);
    bob.trash(file.id).await.expect_status(204);
    let (page, elapsed) = poll.await.expect("the poll task");
    assert!(page.changes.is_empty(), "alice sees bob's changes: {:?}", page.changes);
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");

    let alice_feed = alice.all_changes().await;
    assert_eq!(
        alice_feed.changes.iter().map(|c| c.node_id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    let bob_feed = bob.all_changes().await;
    let bob_ids: Vec<i64> = bob_feed.changes.iter().map(|c| c.node_id).collect();
    assert!(!bob_ids.contains(&mine.id));
    assert_eq!(bob_ids, vec![theirs.id, file.id, file.id, file.id]);
    for change in &bob_feed.changes {
        alice
            .get(&format!("/api/v1/nodes/{}", change.node_id))
            .await
            .expect_error(404, "not_found");
    }
    // Nor with a cursor taken from the other's feed.
    let page = alice.changes(0, 0).await;
    assert_eq!(page.changes.len(), 1);
    let past_bob = alice.changes(bob_feed.cursor, 0).await;
    assert!(past_bob.changes.is_empty());
}

/// `GET /api/v1/changes?since=&wait=` with a client that gives up after 10 s:
/// a server that long-polls (`wait` is 30 s) fails the test instead of
/// answering late.
async fn changes_within_10s(client: &Client, since: i64, wait: u64) -> ChangesPage {
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("building the HTTP client");
    let path = format!("/api/v1/changes?since={since}&wait={wait}");
    let response = impatient
        .get(client.url(&path))
        .bearer_auth(client.token())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} did not answer within 10 s (it long-polled?): {e}"));
    let resp = Resp::read(response).await;
    resp.expect_status(200);
    resp.parse()
}

#[tokio::test]
async fn every_page_names_the_servers_database() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let first = alice.changes(0, 0).await;
    assert!(!first.server_id.is_empty(), "a page carries the server's identity");
    uuid::Uuid::parse_str(&first.server_id).expect("the server's identity is a UUID");

    alice.create_folder(alice.root(), "dir").await;
    let second = alice.changes(0, 0).await;
    assert_eq!(second.server_id, first.server_id, "the same from call to call");
    let caught_up = alice.changes(second.cursor, 0).await;
    assert!(caught_up.changes.is_empty());
    assert_eq!(caught_up.server_id, first.server_id, "empty pages carry it too");
    let bob = server.register("bob@example.com").await;
    assert_eq!(
        bob.changes(0, 0).await.server_id,
        first.server_id,
        "the server's, not the user's"
    );

    // Kept in the database: the same after a restart.
    server.restart_with(&[]);
    let alice = server.client(&alice.email, alice.tokens.clone());
    let restarted = alice.changes(0, 0).await;
    assert_eq!(restarted.server_id, first.server_id, "the same after a restart");

    // Another server (another database) has another.
    let other = TestServer::start().await;
    let carol = other.register("carol@example.com").await;
    let elsewhere = carol.changes(0, 0).await;
    assert!(!elsewhere.server_id.is_empty());
    assert_ne!(elsewhere.server_id, first.server_id, "another server, another identity");
}

#[tokio::test]
async fn a_cursor_beyond_the_feed_answers_at_once_with_the_newest() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    alice.create_folder(alice.root(), "a").await;
    alice.create_folder(alice.root(), "b").await;
    let newest = alice.changes(0, 0).await.cursor;
    assert!(newest > 0);

    // A cursor from a newer state of the database: no long-poll, and a
    // cursor that goes back to the newest change this feed holds.
    let ahead = newest + 1_000_000;
    let page = changes_within_10s(&alice, ahead, 30).await;
    assert!(page.changes.is_empty(), "{:?}", page.changes);
    assert!(!page.has_more);
    assert!(
        page.cursor <= newest,
        "cursor {} beyond the newest {newest}",
        page.cursor
    );
    assert_eq!(page.cursor, newest);
    assert!(page.cursor < ahead, "the feed reads as gone backwards");
    assert!(!page.server_id.is_empty());

    // Followed from the cursor given, the feed goes on as usual.
    let later = alice.create_folder(alice.root(), "later").await;
    let next = alice.changes(page.cursor, 0).await;
    assert_eq!(next.changes.len(), 1, "{:?}", next.changes);
    assert_eq!(next.changes[0].node_id, later.id);
    assert!(next.cursor > newest);

    // An empty feed goes back to 0.
    let bob = server.register("bob@example.com").await;
    assert!(
        bob.changes(0, 0).await.changes.is_empty(),
        "a new account's feed is empty"
    );
    let page = changes_within_10s(&bob, 5, 30).await;
    assert!(page.changes.is_empty());
    assert_eq!(page.cursor, 0);
}

#[tokio::test]
async fn a_server_restored_from_a_backup_shows_its_feed_went_backwards() {
    if std::env::var_os("DRIVE_TEST_DATABASE_URL").is_some() {
        eprintln!("skipped on PostgreSQL: copies the SQLite file as a backup");
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    alice.create_folder(alice.root(), "kept").await;
    let backed_up = alice.changes(0, 0).await;

    // A backup of the database while the server is down (WAL files included).
    server.stop();
    let backup = tempfile::tempdir().expect("a temp dir for the backup");
    let files = ["metadata.db", "metadata.db-wal", "metadata.db-shm"];
    for name in files {
        let from = server.data_dir().join(name);
        if from.exists() {
            std::fs::copy(&from, backup.path().join(name)).expect("backing up the database");
        }
    }

    server.restart_with(&[]);
    let alice = server.client(&alice.email, alice.tokens.clone());
    alice.create_folder(alice.root(), "lost").await;
    alice.create_folder(alice.root(), "lost too").await;
    let newer = alice.changes(backed_up.cursor, 0).await;
    assert_eq!(newer.changes.len(), 2);

    // Restored: the journal ends before the client's cursor.
    server.stop();
    for name in files {
        let to = server.data_dir().join(name);
        let _ = std::fs::remove_file(&to);
        let from = backup.path().join(name);
        if from.exists() {
            std::fs::copy(&from, &to).expect("restoring the database");
        }
    }
    server.restart_with(&[]);
    let alice = server.client(&alice.email, alice.tokens.clone());
    let page = changes_within_10s(&alice, newer.cursor, 30).await;
    assert!(page.changes.is_empty(), "{:?}", page.changes);
    assert_eq!(
        page.cursor, backed_up.cursor,
        "the newest change the restored feed holds"
    );
    assert!(page.cursor < newer.cursor, "the feed went backwards");
    assert_eq!(
        page.server_id, backed_up.server_id,
        "a restored database keeps its identity: only the cursor tells"
    );
}
