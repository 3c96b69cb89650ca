//! Uploads from the web app in a real browser (Debian's headless Chromium
//! driven through chromedriver) against a real drive-server that serves the
//! built app (`web/dist`, embedded at compile time: `scripts/web-build`),
//! on the local store and on S3 (`scripts/garage run`; the bucket's CORS rule
//! lets the page PUT blocks to the store):
//!
//! - a folder dropped on the file list (the drop event carries the folder's
//!   entries, as Chromium hands over a folder dragged from the desktop),
//!   empty sub-folders included, lands as the same tree;
//! - a 50 MB file picked with the file input, the page reloaded mid-upload
//!   (a [`BlockGate`] in front of where blocks go lets ten through, then
//!   holds the rest until the reload drops them): picked again, only the
//!   blocks the store still misses are sent, each block once in all, and the
//!   whole file arrives intact;
//! - the same bytes synced by the `drive` client send no block at all: the
//!   browser's chunker cut them exactly as the desktop's.
//!
//! Screenshots of the uploads panel go to target/screenshots/.

use std::{path::Path, time::Duration};

use drive_e2e::{
    api::Api,
    browser::{browser_sized, find, metric_where, sign_in, until, BlockGate, Driver},
    random_bytes, screenshots_dir, write, Client, Server,
};
use fantoccini::{Client as Browser, Locator};
use serde_json::{json, Value};

/// The bytes the page makes for a dropped file (an LCG the test repeats here).
fn lcg_bytes(size: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..size)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 24) as u8
        })
        .collect()
}

/// Drops the folder `root` onto the file list as Chromium delivers a folder
/// dragged from the desktop: one item whose `webkitGetAsEntry()` is the
/// folder's entry, walked with `createReader().readEntries()`. It holds
/// `files` (path, size, seed: the bytes are made in the page) and the empty
/// folders `empty`.
async fn drop_folder(browser: &Browser, root: &str, files: &[(&str, usize, u32)], empty: &[&str]) {
    let specs: Vec<Value> = files.iter().map(|(p, s, seed)| json!([p, s, seed])).collect();
    browser
        .execute(
            r#"
            const [root, specs, empty] = arguments;
            const bytesOf = (size, seed) => {
              const bytes = new Uint8Array(size);
              let x = seed >>> 0;
              for (let i = 0; i < size; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; bytes[i] = x >>> 24; }
              return bytes;
            };
            const dirs = new Map();
            const dir = (path) => {
              if (!dirs.has(path)) {
                const children = [];
                let read = false;
                dirs.set(path, {
                  isFile: false, isDirectory: true, name: path.split('/').pop(), fullPath: '/' + path, children,
                  createReader: () => ({
                    // Everything in one answer, then none: how readEntries says the folder is done.
                    readEntries: (ok) => setTimeout(() => { ok(read ? [] : children); read = true; }),
                  }),
                });
                if (path.includes('/')) dir(path.slice(0, path.lastIndexOf('/'))).children.push(dirs.get(path));
              }
              return dirs.get(path);
            };
            for (const path of empty) dir(path);
            for (const [path, size, seed] of specs) {
              const name = path.split('/').pop();
              const file = new File([bytesOf(size, seed)], name, { lastModified: 1700000000000 });
              dir(path.slice(0, path.lastIndexOf('/'))).children.push({
                isFile: true, isDirectory: false, name, fullPath: '/' + path, file: (ok) => setTimeout(() => ok(file)),
              });
            }
            const folder = dir(root);
            const data = {
              types: ['Files'], files: [], dropEffect: 'none', effectAllowed: 'all',
              items: [{ kind: 'file', type: '', getAsFile: () => new File([], root), webkitGetAsEntry: () => folder }],
            };
            const grid = document.querySelector('[role=grid]');
            for (const type of ['dragover', 'drop']) {
              const event = new DragEvent(type, { bubbles: true, cancelable: true });
              Object.defineProperty(event, 'dataTransfer', { value: data });
              grid.dispatchEvent(event);
            }
            "#,
            vec![json!(root), Value::Array(specs), json!(empty)],
        )
        .await
        .expect("dropping a folder on the list");
}

async fn uploads_with_status(browser: &Browser, status: &str) -> u64 {
    browser
        .execute(
            "return document.querySelectorAll(`.upload-row[data-status='${arguments[0]}']`).length",
            vec![json!(status)],
        )
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

async fn screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots_dir().join(name), png).expect("saving the screenshot");
}

async fn set_theme(browser: &Browser, theme: &str) {
    browser
        .execute(
            "document.documentElement.dataset.theme = arguments[0]",
            vec![json!(theme)],
        )
        .await
        .expect("setting the theme");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn pick_file(browser: &Browser, path: &Path) {
    browser
        .find(Locator::Css("input.upload-files-input"))
        .await
        .expect("the upload input")
        .send_keys(path.to_str().expect("a UTF-8 path"))
        .await
        .expect("choosing the file");
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_from_the_browser_resume_after_a_reload_and_share_blocks_with_the_desktop() {
    // The page is loaded through the gate, whose address the server gives its block URLs.
    let gate = BlockGate::start().expect("the gate");
    let server = Server::start_with(&["--public-url", &gate.url()]).expect("server");
    gate.forward_to(&server.url());
    uploads(&server, &gate, &gate.url(), "").await;
    // The gate and the server agree: every block PUT the gate saw accepted, the server stored.
    assert_eq!(
        metric_where(
            &server,
            "http_requests_total",
            &["method=\"PUT\"", "route=\"/blobs/{hash}\"", "status=\"201\""],
        ),
        gate.puts() as f64,
        "block PUTs on the server's metrics and at the gate"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_from_the_browser_go_straight_to_the_store_on_s3() {
    let Some(endpoint) = std::env::var("DRIVE_TEST_S3_ENDPOINT").ok().filter(|e| !e.is_empty()) else {
        eprintln!("skipped: needs DRIVE_TEST_S3_* (scripts/garage run)");
        return;
    };
    // The gate stands in front of the store: the server signs block URLs for it.
    let gate = BlockGate::start().expect("the gate");
    gate.forward_to(&endpoint);
    let Some(server) = Server::start_on_s3_with(&["--s3-endpoint", &gate.url()]).expect("server") else {
        eprintln!("skipped: needs DRIVE_TEST_S3_* (scripts/garage run)");
        return;
    };
    uploads(&server, &gate, &server.url(), "-s3").await;
}

/// The test itself: the page at `url`, its block PUTs through `gate` (the
/// blocks the store accepted are counted there: on S3 the server never sees
/// them; on the local store its /metrics are checked against the gate).
async fn uploads(server: &Server, gate: &BlockGate, url: &str, suffix: &str) {
    let email = "wendy@example.com";
    let client = Client::register(server, email).expect("register");
    client.sync().expect("first sync");
    let driver = Driver::start().expect("chromedriver");
    let downloads = tempfile::tempdir().expect("a download dir");
    let browser = browser_sized(&driver, downloads.path(), 1200, 850)
        .await
        .expect("a Chromium session");
    let page = &browser;
    sign_in(&browser, url, email).await.expect("signing in");

    // A folder with files and empty folders, dropped.
    let dropped = [
        ("Trip/notes.txt", 1_000usize, 1u32),
        ("Trip/photos/beach.jpg", 700_000, 2),
        ("Trip/photos/dunes.jpg", 5_000_000, 3),
        ("Trip/empty.txt", 0, 4),
    ];
    let empty = ["Trip/drafts", "Trip/photos/raw", "Trip/later/2025/summer"];
    // The folder is loaded once its Upload control is there: a drop before that has no folder to go to.
    find(&browser, "input.upload-files-input")
        .await
        .expect("the Upload control");
    drop_folder(&browser, "Trip", &dropped, &empty).await;
    let all_done = until(Duration::from_secs(60), move || async move {
        uploads_with_status(page, "done").await == dropped.len() as u64
    })
    .await;
    assert!(all_done, "the dropped files were not all uploaded");
    set_theme(&browser, "light").await;
    screenshot(&browser, &format!("web-uploads{suffix}-light.png")).await;
    set_theme(&browser, "dark").await;
    screenshot(&browser, &format!("web-uploads{suffix}-dark.png")).await;
    set_theme(&browser, "light").await;

    client.sync().expect("sync after the drop");
    let tree = client.tree();
    for (path, size, seed) in dropped {
        let expected = sha256_hex(&lcg_bytes(size, seed));
        assert_eq!(tree.get(path), Some(&expected), "{path} on the desktop: {tree:?}");
    }
    let on_server = tokio::task::block_in_place(|| Api::login(server, email).unwrap().tree().unwrap());
    for folder in empty {
        assert_eq!(
            on_server.get(folder).map(|node| node["kind"].clone()),
            Some(json!("folder")),
            "the empty folder {folder} on the server: {:?}",
            on_server.keys()
        );
        assert_eq!(
            tree.get(folder).map(String::as_str),
            Some("dir"),
            "{folder} on the desktop: {tree:?}"
        );
    }
    assert!(
        page_lists(&browser, "Trip").await,
        "the dropped folder is not in the list"
    );

    // A 50 MB file: the gate lets ten blocks through, holds the next ones, and the page is reloaded.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let bytes = random_bytes(50, 50 * 1000 * 1000);
    write(&big, &bytes);
    let puts_before = gate.puts();
    gate.close_after(10);
    pick_file(&browser, &big).await;
    let stopped = until(Duration::from_secs(120), move || async move {
        gate.held() >= 1 && gate.puts() - puts_before >= 10
    })
    .await;
    assert!(
        stopped,
        "the big upload did not reach the gate: {} PUT, {} held",
        gate.puts() - puts_before,
        gate.held()
    );
    let puts_first = gate.puts() - puts_before;
    assert_eq!(puts_first, 10, "the gate let more through than it was told");
    browser.refresh().await.expect("reloading the page");
    // The reload gives the held PUTs up: they never reach the store.
    let dropped_held = until(Duration::from_secs(30), move || async move { gate.held() == 0 }).await;
    assert!(dropped_held, "{} PUT still held after the reload", gate.held());
    gate.open();
    let waiting = until(Duration::from_secs(20), move || async move {
        uploads_with_status(page, "waiting").await == 1
    })
    .await;
    assert!(
        waiting,
        "after the reload the upload is not shown as waiting for its file"
    );
    let row = find(&browser, ".upload-row[data-status=waiting]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("drop the file again to resume"), "{row}");
    assert_eq!(
        gate.puts() - puts_before,
        puts_first,
        "blocks sent after the reload by themselves"
    );

    pick_file(&browser, &big).await;
    let done = until(Duration::from_secs(180), move || async move {
        uploads_with_status(page, "done").await == 1
    })
    .await;
    assert!(done, "the resumed upload did not finish");
    let puts_second = gate.puts() - puts_before - puts_first;

    let tree = tokio::task::block_in_place(|| Api::login(server, email).unwrap().tree().unwrap());
    let node = tree.get("big.bin").expect("big.bin on the server");
    assert_eq!(node["size"].as_u64(), Some(bytes.len() as u64));
    let blocks = tokio::task::block_in_place(|| distinct_blocks(server, email, node["id"].as_i64().unwrap()));
    eprintln!("big.bin: {blocks} blocks; {puts_first} PUT before the reload, {puts_second} after");
    assert!(
        puts_second < blocks as u64,
        "after the reload only the missing blocks go: {puts_second} of {blocks}"
    );
    assert_eq!(
        puts_first + puts_second,
        blocks as u64,
        "every block sent once, none twice"
    );

    // The desktop client gets the file byte for byte; the same bytes written on the
    // desktop under another name send no block: both chunkers cut them alike.
    client.sync().expect("sync of the big file");
    assert!(
        std::fs::read(client.path("big.bin")).unwrap() == bytes,
        "big.bin differs on the desktop"
    );
    let (received, puts) = (server.metric("drive_block_bytes_received_total"), gate.puts());
    write(&client.path("copy of big.bin"), &bytes);
    client.sync().expect("sync of the desktop's copy");
    assert_eq!(
        server.metric("drive_block_bytes_received_total"),
        received,
        "the desktop's copy of the browser's file sent bytes"
    );
    assert_eq!(gate.puts(), puts, "the desktop's copy sent blocks");
    let tree = tokio::task::block_in_place(|| Api::login(server, email).unwrap().tree().unwrap());
    assert!(tree.contains_key("copy of big.bin"), "{:?}", tree.keys());

    browser.close().await.expect("closing the browser");
}

/// Whether the open folder's list shows an item named `name`.
async fn page_lists(browser: &Browser, name: &str) -> bool {
    find(browser, &format!("[data-name='{name}']")).await.is_ok()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// How many distinct blocks the current revision of node `id` has (its manifest).
fn distinct_blocks(server: &Server, email: &str, id: i64) -> usize {
    let http = reqwest::blocking::Client::new();
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", server.url()))
        .json(&json!({"email": email, "password": drive_e2e::PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let manifest: Value = http
        .get(format!("{}/api/v1/nodes/{id}/manifest", server.url()))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let hashes: std::collections::HashSet<&str> = manifest["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["hash"].as_str().unwrap())
        .collect();
    hashes.len()
}
