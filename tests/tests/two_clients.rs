//! Two clients of one user, each with its own home and folder, one server:
//! every kind of change converges both ways, and nothing is ever lost.

use std::time::Duration;

use drive_e2e::{eventually, random_bytes, write, Client, Server};

fn pair() -> (Server, Client, Client) {
    let server = Server::start().expect("server");
    let a = Client::register(&server, "ann@example.com").expect("register");
    let b = Client::login(&server, "ann@example.com").expect("login");
    (server, a, b)
}

/// Syncs a, then b, then a again, and checks both folders are identical.
fn converge(a: &Client, b: &Client) {
    a.sync().expect("a syncs");
    b.sync().expect("b syncs");
    a.sync().expect("a syncs again");
    assert_eq!(a.tree(), b.tree(), "the two folders differ");
}

#[test]
fn creates_edits_deletes_renames_and_moves_converge_both_ways() {
    let (server, a, b) = pair();
    write(&a.path("notes.txt"), b"hello");
    write(&a.path("docs/deep/nested/report.md"), b"# report");
    std::fs::create_dir_all(a.path("empty/also-empty")).unwrap();
    write(&b.path("from-b.bin"), &random_bytes(1, 3 * 1024 * 1024));
    converge(&a, &b);
    assert!(b.path("empty/also-empty").is_dir());
    assert_eq!(std::fs::read(b.path("notes.txt")).unwrap(), b"hello");

    // Edits on both sides, to different files.
    write(&a.path("notes.txt"), b"hello, edited by a");
    write(&b.path("docs/deep/nested/report.md"), b"# report, edited by b");
    converge(&a, &b);
    assert_eq!(std::fs::read(b.path("notes.txt")).unwrap(), b"hello, edited by a");

    // A rename, a move across folders, a folder rename, deletions.
    std::fs::rename(a.path("notes.txt"), a.path("renamed.txt")).unwrap();
    std::fs::rename(b.path("from-b.bin"), b.path("docs/from-b.bin")).unwrap();
    std::fs::rename(a.path("docs/deep"), a.path("docs/shallow")).unwrap();
    std::fs::remove_dir(b.path("empty/also-empty")).unwrap();
    converge(&a, &b);
    let tree = b.tree();
    assert!(tree.contains_key("renamed.txt") && !tree.contains_key("notes.txt"));
    assert!(tree.contains_key("docs/shallow/nested/report.md"));
    assert!(!tree.contains_key("empty/also-empty"));

    std::fs::remove_dir_all(b.path("docs")).unwrap();
    converge(&a, &b);
    assert!(!a.path("docs").exists());
    assert!(a.status().unwrap().contains("up to date"));
    drop((a, b));
    let mut server = server;
    server.kill();
    server.check().expect("the server's store is consistent");
}

#[test]
fn a_rename_is_sent_as_a_move_not_a_new_upload() {
    let (server, a, b) = pair();
    write(&a.path("big.bin"), &random_bytes(2, 8 * 1024 * 1024));
    converge(&a, &b);
    let before = server.metric("drive_block_bytes_received_total");
    std::fs::create_dir_all(a.path("archive")).unwrap();
    std::fs::rename(a.path("big.bin"), a.path("archive/big-2026.bin")).unwrap();
    converge(&a, &b);
    assert!(b.path("archive/big-2026.bin").is_file());
    assert_eq!(
        server.metric("drive_block_bytes_received_total"),
        before,
        "no block may travel for a rename"
    );
}

#[test]
fn an_edit_on_both_sides_keeps_both_versions() {
    let (_server, a, b) = pair();
    write(&a.path("plan.txt"), b"original");
    converge(&a, &b);
    write(&a.path("plan.txt"), b"a's version");
    write(&b.path("plan.txt"), b"b's version, written offline");
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(a.tree(), b.tree());
    let tree = a.tree();
    let copies: Vec<_> = tree
        .keys()
        .filter(|k| k.starts_with("plan (conflicted copy "))
        .collect();
    assert_eq!(copies.len(), 1, "one conflicted copy: {tree:?}");
    assert_eq!(std::fs::read(a.path("plan.txt")).unwrap(), b"a's version");
    assert_eq!(
        std::fs::read(a.path(copies[0])).unwrap(),
        b"b's version, written offline"
    );
}

#[test]
fn a_delete_against_a_remote_edit_keeps_the_edit() {
    let (_server, a, b) = pair();
    write(&a.path("keep.txt"), b"v1");
    converge(&a, &b);
    write(&a.path("keep.txt"), b"v2 from a");
    a.sync().unwrap();
    std::fs::remove_file(b.path("keep.txt")).unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(std::fs::read(b.path("keep.txt")).unwrap(), b"v2 from a");
    assert_eq!(a.tree(), b.tree());
}

#[test]
fn continuous_sync_carries_an_edit_to_the_other_client_quickly() {
    let (_server, mut a, mut b) = pair();
    a.start_sync().unwrap();
    b.start_sync().unwrap();
    write(&a.path("live.txt"), b"first");
    assert!(eventually(Duration::from_secs(20), || std::fs::read(
        b.path("live.txt")
    )
    .ok()
    .as_deref()
        == Some(b"first")));
    write(&b.path("live.txt"), b"second, from b");
    assert!(eventually(Duration::from_secs(20), || {
        std::fs::read(a.path("live.txt")).ok().as_deref() == Some(b"second, from b")
    }));
    let status = a.stop_sync().unwrap();
    assert!(status.success(), "SIGTERM stops the client cleanly: {status:?}");
}

#[test]
fn symlinks_and_ignored_files_stay_local() {
    let (_server, a, b) = pair();
    write(&a.path(".driveignore"), b"*.log\nbuild/\n");
    write(&a.path("app.log"), b"noise");
    write(&a.path("build/out.o"), b"object");
    write(&a.path("main.c"), b"int main;");
    write(&a.path("draft.txt.swp"), b"vim");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/hostname", a.path("link")).unwrap();
    // In sync, with something left out: exit 5, and the status says what.
    let output = a.sync_once_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(a
        .status()
        .unwrap()
        .contains("skipped link: symbolic links are not synced"));
    b.sync().unwrap();
    let tree = b.tree();
    assert!(tree.contains_key("main.c") && tree.contains_key(".driveignore"));
    for ignored in ["app.log", "build/out.o", "draft.txt.swp", "link"] {
        assert!(!tree.contains_key(ignored), "{ignored} must not be synced");
    }
}

/// `drive status` looks and writes nothing: neither the remote changes it
/// pulls to plan nor a path it finds newly ignored reach the ledger, which
/// a running sync may be using; the next sync still does all the work.
#[test]
fn status_writes_nothing_to_the_ledger() {
    let (_server, a, mut b) = pair();
    write(&a.path("kept.txt"), b"kept");
    converge(&a, &b);
    // Changes the status will see: one on the server, one ignore rule here.
    write(&a.path("new.txt"), b"new");
    a.sync().unwrap();
    write(&b.path(".driveignore"), b"kept.txt\n");
    let ledgers = |client: &Client| -> std::collections::BTreeMap<String, String> {
        let mut files = drive_e2e::snapshot(&client.home.path().join("ledgers"));
        // SQLite's shared-memory index, and a log opened but never written
        // (the SHA-256 of nothing).
        const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let unwritten = |name: &str, hash: &str| name.ends_with("-shm") || name.ends_with("-wal") && hash == EMPTY;
        files.retain(|name, hash| !unwritten(name, hash));
        files
    };
    let before = ledgers(&b);
    let status = b.status().unwrap();
    assert!(status.contains("new.txt"), "{status}");
    assert_eq!(ledgers(&b), before, "drive status wrote to the ledger");
    std::fs::remove_file(b.path(".driveignore")).unwrap();
    b.sync().unwrap();
    assert_eq!(std::fs::read(b.path("new.txt")).unwrap(), b"new");
    assert_eq!(std::fs::read(b.path("kept.txt")).unwrap(), b"kept");

    // Beside a running sync, whose ledger is open and written: it works.
    b.start_sync().unwrap();
    write(&a.path("later.txt"), b"later");
    a.sync().unwrap();
    assert!(eventually(Duration::from_secs(60), || {
        b.status().is_ok_and(|status| status.contains("up to date"))
    }));
    assert!(b.path("later.txt").exists());
    b.stop_sync().unwrap();
}

#[test]
fn two_clients_converge_with_the_server_on_s3() {
    let Some(server) = Server::start_on_s3().expect("server") else {
        eprintln!("skipped: needs DRIVE_TEST_S3_* (scripts/garage run)");
        return;
    };
    let a = Client::register(&server, "ann@example.com").expect("register");
    let b = Client::login(&server, "ann@example.com").expect("login");
    write(&a.path("notes.txt"), b"hello");
    write(&a.path("docs/big.bin"), &random_bytes(2, 3 * 1024 * 1024));
    write(&b.path("from-b.bin"), &random_bytes(3, 200_000));
    converge(&a, &b);
    // An edit in the middle of the big file: only its changed blocks travel.
    let mut big = std::fs::read(a.path("docs/big.bin")).unwrap();
    big[1_500_000] ^= 0xff;
    write(&a.path("docs/big.bin"), &big);
    std::fs::remove_file(b.path("from-b.bin")).unwrap();
    converge(&a, &b);
    assert_eq!(std::fs::read(b.path("docs/big.bin")).unwrap(), big);
    assert!(!a.path("from-b.bin").exists());
    drop((a, b));
    let mut server = server;
    server.kill();
    server.check().expect("the server's store is consistent");
}

/// A store the server reaches by one name and clients by another (an
/// internal host name in a container network, say): the URLs clients get
/// name the public endpoint, and work.
#[test]
fn presigned_urls_name_the_stores_public_endpoint_on_s3() {
    let Some(internal) = std::env::var("DRIVE_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| v.contains("127.0.0.1"))
    else {
        eprintln!("skipped: needs DRIVE_TEST_S3_* (scripts/garage run) on 127.0.0.1");
        return;
    };
    let public = internal.replace("127.0.0.1", "localhost");
    let Some(server) = Server::start_on_s3_with(&["--s3-public-endpoint", &public]).expect("server") else {
        return;
    };
    let a = Client::register(&server, "ann@example.com").expect("register");
    let b = Client::login(&server, "ann@example.com").expect("login");
    write(&a.path("photo.jpg"), &random_bytes(4, 300_000));
    converge(&a, &b);
    let api = drive_e2e::api::Api::login(&server, "ann@example.com").unwrap();
    let id = api.id("photo.jpg").unwrap();
    let manifest = api.get(&format!("/nodes/{id}/manifest")).unwrap();
    let urls: Vec<&str> = manifest["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|block| block["url"].as_str())
        .collect();
    assert!(!urls.is_empty(), "{manifest}");
    for url in urls {
        assert!(url.starts_with(&public), "{url} is not on {public}");
    }
    assert_eq!(std::fs::read(b.path("photo.jpg")).unwrap(), random_bytes(4, 300_000));
}
