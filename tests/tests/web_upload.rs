//! Uploads from the web app in a real browser (Debian's headless Chromium
//! driven through chromedriver) against a real drive-server that serves the
//! built app (`web/dist`, embedded at compile time: build it first with
//! `cd web && npm ci && npm run build`):
//!
//! - a folder of files dropped on the file list (a drop event carrying a
//!   DataTransfer built in the page) lands as a folder tree;
//! - a 50 MB file picked with the file input, the page reloaded mid-upload:
//!   dropped again, only the blocks the server still misses are sent (block
//!   PUTs counted on /metrics), and the whole file arrives intact;
//! - the same bytes synced by the `drive` client send no block at all: the
//!   browser's chunker cut them exactly as the desktop's.
//!
//! Screenshots of the uploads panel go to target/screenshots/.

use std::{path::Path, time::Duration};

use drive_e2e::{api::Api, random_bytes, screenshots_dir, write, Client, Server};
use fantoccini::{Client as Browser, Locator};
use serde_json::{json, Value};

mod web_common;
use web_common::{block_puts, browser, find, sign_in, wait_for, Driver};

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

/// Drops files made in the page (path, size, seed) onto the file list, as a
/// desktop's drag and drop of a folder would deliver them.
async fn drop_files(browser: &Browser, files: &[(&str, usize, u32)]) {
    let specs: Vec<Value> = files.iter().map(|(p, s, seed)| json!([p, s, seed])).collect();
    browser
        .execute(
            r#"
            const dt = new DataTransfer();
            for (const [path, size, seed] of arguments[0]) {
              const bytes = new Uint8Array(size);
              let x = seed >>> 0;
              for (let i = 0; i < size; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; bytes[i] = x >>> 24; }
              const file = new File([bytes], path.split('/').pop(), { lastModified: 1700000000000 });
              Object.defineProperty(file, 'webkitRelativePath', { value: path });
              dt.items.add(file);
            }
            const grid = document.querySelector('[role=grid]');
            grid.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
            grid.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
            "#,
            vec![Value::Array(specs)],
        )
        .await
        .expect("dropping files on the list");
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
    let server = Server::start().expect("server");
    let email = "wendy@example.com";
    let client = Client::register(&server, email).expect("register");
    client.sync().expect("first sync");
    let driver = Driver::start();
    let browser = browser(&driver).await;
    let page = &browser;
    let srv = &server;
    sign_in(&browser, &server.url(), email).await;

    // A folder of files, dropped.
    let dropped = [
        ("Trip/notes.txt", 1_000usize, 1u32),
        ("Trip/photos/beach.jpg", 700_000, 2),
        ("Trip/photos/dunes.jpg", 5_000_000, 3),
        ("Trip/empty.txt", 0, 4),
    ];
    // The folder is loaded once its Upload control is there: a drop before that has no folder to go to.
    find(&browser, "input.upload-files-input").await;
    drop_files(&browser, &dropped).await;
    let all_done = wait_for(Duration::from_secs(60), move || async move {
        uploads_with_status(page, "done").await == dropped.len() as u64
    })
    .await;
    assert!(all_done, "the dropped files were not all uploaded");
    set_theme(&browser, "light").await;
    screenshot(&browser, "web-uploads-light.png").await;
    set_theme(&browser, "dark").await;
    screenshot(&browser, "web-uploads-dark.png").await;
    set_theme(&browser, "light").await;

    client.sync().expect("sync after the drop");
    let tree = client.tree();
    for (path, size, seed) in dropped {
        let expected = sha256_hex(&lcg_bytes(size, seed));
        assert_eq!(tree.get(path), Some(&expected), "{path} on the desktop: {tree:?}");
    }

    // A 50 MB file, uploaded slowly (a test hook delays each block's PUT), the page reloaded half way.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let bytes = random_bytes(50, 50 * 1000 * 1000);
    write(&big, &bytes);
    browser
        .execute("localStorage.setItem('drive.web.uploadBlockDelayMs', '400')", vec![])
        .await
        .unwrap();
    let puts_before = block_puts(&server);
    pick_file(&browser, &big).await;
    let started = wait_for(Duration::from_secs(120), move || async move {
        block_puts(srv) - puts_before >= 10.0
    })
    .await;
    assert!(started, "the big upload did not get going");
    browser.refresh().await.expect("reloading the page");
    // What was on its way when the page went lands (or fails) on the server now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let puts_first = block_puts(&server) - puts_before;
    let waiting = wait_for(Duration::from_secs(20), move || async move {
        uploads_with_status(page, "waiting").await == 1
    })
    .await;
    assert!(
        waiting,
        "after the reload the upload is not shown as waiting for its file"
    );
    let row = browser
        .find(Locator::Css(".upload-row[data-status=waiting]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("drop the file again to resume"), "{row}");
    browser
        .execute("localStorage.removeItem('drive.web.uploadBlockDelayMs')", vec![])
        .await
        .unwrap();

    pick_file(&browser, &big).await;
    let done = wait_for(Duration::from_secs(180), move || async move {
        uploads_with_status(page, "done").await == 1
    })
    .await;
    assert!(done, "the resumed upload did not finish");
    let puts_second = block_puts(&server) - puts_before - puts_first;

    let tree = tokio::task::block_in_place(|| Api::login(&server, email).unwrap().tree().unwrap());
    let node = tree.get("big.bin").expect("big.bin on the server");
    assert_eq!(node["size"].as_u64(), Some(bytes.len() as u64));
    let blocks = tokio::task::block_in_place(|| distinct_blocks(&server, email, node["id"].as_i64().unwrap()));
    eprintln!("big.bin: {blocks} blocks; {puts_first} PUT before the reload, {puts_second} after");
    assert!(puts_first >= 10.0, "{puts_first}");
    assert!(
        puts_second < blocks as f64,
        "after the reload only the missing blocks go: {puts_second} of {blocks}"
    );
    assert_eq!(
        puts_first + puts_second,
        blocks as f64,
        "every block sent once, none twice"
    );

    // The desktop client gets the file byte for byte; the same bytes written on the
    // desktop under another name send no block: both chunkers cut them alike.
    client.sync().expect("sync of the big file");
    assert!(
        std::fs::read(client.path("big.bin")).unwrap() == bytes,
        "big.bin differs on the desktop"
    );
    let (received, puts) = (server.metric("drive_block_bytes_received_total"), block_puts(&server));
    write(&client.path("copy of big.bin"), &bytes);
    client.sync().expect("sync of the desktop's copy");
    assert_eq!(
        server.metric("drive_block_bytes_received_total"),
        received,
        "the desktop's copy of the browser's file sent bytes"
    );
    assert_eq!(block_puts(&server), puts, "the desktop's copy sent blocks");
    let tree = tokio::task::block_in_place(|| Api::login(&server, email).unwrap().tree().unwrap());
    assert!(tree.contains_key("copy of big.bin"), "{:?}", tree.keys());

    browser.close().await.expect("closing the browser");
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
