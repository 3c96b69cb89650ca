//! Many small files: the batched protocol's request count, and a client
//! killed in the middle of a batch of a 20,000-file tree.

use std::{collections::BTreeMap, time::Duration};

use drive_e2e::{api::Api, eventually, random_bytes, write, Client, Server};

/// Writes `count` files of `size` bytes (distinct contents) under `root/`,
/// `per_folder` to a folder.
fn write_tree(client: &Client, root: &str, count: usize, per_folder: usize, size: usize) {
    for i in 0..count {
        let path = client.path(&format!("{root}/d{:03}/f{i:05}.txt", i / per_folder));
        write(&path, &random_bytes(i as u64 + 1, size));
    }
}

/// The server's files under `root/` (path -> size) must be the folder's, one
/// node per file.
fn assert_server_holds(api: &Api, client: &Client, root: &str) {
    let server: BTreeMap<String, u64> = api
        .tree()
        .expect("the server's tree")
        .into_iter()
        .filter(|(path, node)| path.starts_with(&format!("{root}/")) && node["kind"] == "file")
        .map(|(path, node)| (path, node["size"].as_u64().unwrap_or(u64::MAX)))
        .collect();
    let local: BTreeMap<String, u64> = client
        .tree()
        .into_iter()
        .filter(|(path, hash)| path.starts_with(&format!("{root}/")) && hash != "dir")
        .map(|(path, _)| {
            let size = std::fs::metadata(client.path(&path))
                .map(|m| m.len())
                .unwrap_or(u64::MAX);
            (path, size)
        })
        .collect();
    assert_eq!(
        server.len(),
        local.len(),
        "as many files on the server as in the folder"
    );
    let differing: Vec<_> = local
        .iter()
        .filter(|(path, size)| server.get(*path) != Some(size))
        .take(5)
        .collect();
    assert!(
        differing.is_empty(),
        "files missing or different on the server: {differing:?}"
    );
}

#[test]
fn a_thousand_new_small_files_cost_a_few_requests_and_read_back() {
    let server = Server::start().expect("server");
    let a = Client::register(&server, "many@example.com").unwrap();
    a.sync().unwrap();
    write_tree(&a, "many", 1000, 1000, 1024);
    let before = server.metric("http_requests_total");
    a.sync().unwrap();
    let requests = server.metric("http_requests_total") - before;
    eprintln!("1,000 new files of 1 KiB: {requests} requests");
    // Their bytes go inline with the batch commits (two of 500 files), with
    // the folder, the feed and the session: no PUT per file (the issue's
    // bound was 1,000 + 20 with one PUT per block).
    assert!(requests <= 20.0, "{requests} requests for 1,000 small files");
    let api = Api::login(&server, "many@example.com").unwrap();
    assert_server_holds(&api, &a, "many");
    // Every byte arrived: another device gets the same files (their
    // blocks come with the manifests, each checked against its hash), and
    // the login on it is not counted.
    let b = Client::login(&server, "many@example.com").unwrap();
    let before = server.metric("http_requests_total");
    b.sync().unwrap();
    let requests = server.metric("http_requests_total") - before;
    eprintln!("1,000 files of 1 KiB down: {requests} requests");
    // Their manifests come in batches of 500, with the bytes in them: no
    // request per file.
    assert!(requests <= 20.0, "{requests} requests to download 1,000 small files");
    for i in (0..1000).step_by(97) {
        let path = format!("many/d000/f{i:05}.txt");
        assert_eq!(
            std::fs::read(b.path(&path)).unwrap(),
            random_bytes(i as u64 + 1, 1024),
            "{path} on the second device"
        );
    }
    server.check().expect("the server's --check is clean");
}

#[test]
fn a_new_trees_folders_cost_a_request_per_level() {
    let server = Server::start().expect("server");
    let a = Client::register(&server, "deep@example.com").unwrap();
    a.sync().unwrap();
    // 110 folders on two levels under one, a small file in each leaf.
    for i in 0..10 {
        for j in 0..10 {
            write(&a.path(&format!("deep/a{i}/b{j}/f.txt")), format!("{i}/{j}").as_bytes());
        }
    }
    let before = server.metric("http_requests_total");
    a.sync().unwrap();
    let requests = server.metric("http_requests_total") - before;
    eprintln!("111 new folders and 100 files: {requests} requests");
    // 100 PUTs, a folder batch per level, the upload batch's two steps, the
    // feed and the session: far below a request per folder.
    assert!(requests <= 125.0, "{requests} requests for 111 folders and 100 files");
    let api = Api::login(&server, "deep@example.com").unwrap();
    assert_server_holds(&api, &a, "deep");
}

#[test]
fn a_client_killed_mid_batch_of_20000_files_loses_and_duplicates_nothing() {
    let server = Server::start().expect("server");
    let mut a = Client::register(&server, "kill-batch@example.com").unwrap();
    write_tree(&a, "tree", 20_000, 200, 700);
    a.start_sync().unwrap();
    let midway = eventually(Duration::from_secs(600), || {
        server.metric("drive_commits_total") >= 2_000.0
    });
    assert!(midway, "the upload never got going");
    a.kill_sync();
    let committed = server.metric("drive_commits_total");
    eprintln!("killed after {committed} commits");
    assert!(committed < 20_000.0, "killed too late to test a restart mid-way");

    a.sync().expect("the restarted client finishes the tree");
    let api = Api::login(&server, "kill-batch@example.com").unwrap();
    assert_server_holds(&api, &a, "tree");
    assert_eq!(
        server.metric("drive_commits_total"),
        20_000.0,
        "each file committed once, none twice"
    );
    let copies: Vec<String> = a.tree().into_keys().filter(|path| path.contains("conflict")).collect();
    assert!(copies.is_empty(), "no conflicted copies: {copies:?}");

    // The ledger agrees with the server: another pass has nothing to do.
    let (requests, blocks) = (
        server.metric("http_requests_total"),
        server.metric("drive_block_bytes_received_total"),
    );
    a.sync().unwrap();
    assert_eq!(
        server.metric("drive_block_bytes_received_total"),
        blocks,
        "nothing sent again"
    );
    let extra = server.metric("http_requests_total") - requests;
    assert!(extra <= 10.0, "a pass over an agreed tree made {extra} requests");
    let (code, out, err) = a.drive(&["status", a.path("").to_str().unwrap()]).unwrap();
    assert_eq!(code, 0, "drive status: {out}{err}");
    server.check().unwrap();

    // A second device killed while it downloads the tree (its downloads are
    // recorded in the ledger a few hundred at a time): after a restart it
    // holds every file once, sends nothing, and its ledger agrees.
    let mut b = Client::login(&server, "kill-batch@example.com").unwrap();
    let placed = |b: &Client| -> usize {
        let Ok(folders) = std::fs::read_dir(b.path("tree")) else {
            return 0;
        };
        folders
            .flatten()
            .filter_map(|folder| std::fs::read_dir(folder.path()).ok())
            .map(Iterator::count)
            .sum()
    };
    b.start_sync().unwrap();
    assert!(
        eventually(Duration::from_secs(600), || placed(&b) >= 2_000),
        "the download never got going"
    );
    b.kill_sync();
    let downloaded = placed(&b);
    eprintln!("killed after {downloaded} downloads");
    assert!(downloaded < 20_000, "killed too late to test a restart mid-way");
    b.sync().expect("the restarted client finishes the tree");
    assert_eq!(b.tree(), a.tree(), "the second device holds the tree, once");
    assert_eq!(server.metric("drive_commits_total"), 20_000.0, "it sent nothing");
    let requests = server.metric("http_requests_total");
    b.sync().unwrap();
    let extra = server.metric("http_requests_total") - requests;
    assert!(extra <= 10.0, "a pass over an agreed tree made {extra} requests");
}
