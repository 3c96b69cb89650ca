//! Serving user content safely: every download of a user's bytes carries
//! `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`
//! (and is an attachment); a folder's zip has entry names that every OS's
//! unzip writes as they are, and unique; a Range in an unknown unit is ignored.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use common::*;
use drive_wire::{CreateLinkRequest, Link, NodeId};
use reqwest::Method;

/// A public link to `node_id`; its path (`/s/TOKEN`).
async fn link(server: &TestServer, client: &Client, node_id: NodeId) -> String {
    let resp = client
        .post(
            "/api/v1/links",
            &CreateLinkRequest {
                node_id,
                expires_at: None,
                password: None,
                max_downloads: None,
            },
        )
        .await;
    resp.expect_status(201);
    let link: Link = resp.parse();
    let url = link.url.expect("a new link has its URL");
    url.strip_prefix(&server.base).expect("a URL on the server").to_owned()
}

/// A GET without credentials, with `headers`.
async fn public(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = http_client().get(server.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))).await
}

/// A GET as `client`, with `headers`.
async fn private(client: &Client, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = client.request(Method::GET, path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    Resp::read(req.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))).await
}

/// The headers of a response that carries a user's bytes.
fn assert_user_content(resp: &Resp, what: &str) {
    assert_eq!(
        resp.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        resp.header("content-security-policy").as_deref(),
        Some("sandbox"),
        "{what}"
    );
    let disposition = resp.header("content-disposition").unwrap_or_default();
    assert!(disposition.starts_with("attachment"), "{what}: {disposition}");
}

#[tokio::test]
async fn every_download_is_nosniff_sandboxed_and_an_attachment() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    // Bytes a browser would run as a page if it were let.
    let page = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let v2 = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let file = alice.upload_file(alice.root(), "page.html", &page, None).await;
    let old = file.revision.expect("a revision");
    let file = alice.upload_file(alice.root(), "page.html", &v2, file.revision).await;
    let folder = alice.create_folder(alice.root(), "site").await;
    alice.upload_file(folder.id, "index.html", &page, None).await;

    let resp = alice.content(file.id).await;
    resp.expect_status(200);
    assert_eq!(resp.body, v2);
    assert_user_content(&resp, "content");
    let resp = private(
        &alice,
        &format!("/api/v1/nodes/{}/content", file.id),
        &[("range", "bytes=1-4")],
    )
    .await;
    resp.expect_status(206);
    assert_user_content(&resp, "content, a range");
    let resp = alice
        .get(&format!("/api/v1/nodes/{}/content?revision={old}", file.id))
        .await;
    resp.expect_status(200);
    assert_eq!(resp.body, page);
    assert_user_content(&resp, "an old revision");

    let file_link = link(&server, &alice, file.id).await;
    let resp = public(&server, &format!("{file_link}/download"), &[]).await;
    resp.expect_status(200);
    assert_eq!(resp.body, v2);
    assert_user_content(&resp, "a linked file");
    let resp = public(&server, &format!("{file_link}/download"), &[("range", "bytes=2-")]).await;
    resp.expect_status(206);
    assert_user_content(&resp, "a linked file, a range");

    let folder_link = link(&server, &alice, folder.id).await;
    let resp = public(&server, &format!("{folder_link}/download?path=index.html"), &[]).await;
    resp.expect_status(200);
    assert_eq!(resp.body, page);
    assert_user_content(&resp, "a file in a linked folder");
    let resp = public(&server, &format!("{folder_link}/zip"), &[]).await;
    resp.expect_status(200);
    assert_eq!(resp.header("content-type").as_deref(), Some("application/zip"));
    assert_user_content(&resp, "a linked folder's zip");
    assert_eq!(
        unzip(resp.body).await,
        BTreeMap::from([("index.html".to_owned(), page.clone())])
    );

    // The link's own page is the server's HTML, locked down the same way.
    let resp = public(&server, &folder_link, &[]).await;
    resp.expect_status(200);
    assert_eq!(resp.header("x-content-type-options").as_deref(), Some("nosniff"));
    assert!(resp.header("content-security-policy").is_some());
}

/// Every entry of a zip, by name, with its bytes (CRCs checked).
// The seekable reader is deprecated in favour of `read1`, which is not released yet.
#[allow(deprecated)]
async fn unzip(data: Vec<u8>) -> BTreeMap<String, Vec<u8>> {
    let mut reader = async_zip::base::read::seek::ZipFileReader::new(futures::io::Cursor::new(data))
        .await
        .expect("a readable zip");
    let mut out = BTreeMap::new();
    for index in 0..reader.file().entries().len() {
        let mut entry = reader.reader_with_entry(index).await.expect("an entry");
        let name = entry.entry().filename().as_str().expect("a UTF-8 name").to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end_checked(&mut bytes).await.expect("the entry's bytes");
        assert!(out.insert(name.clone(), bytes).is_none(), "{name:?} twice");
    }
    out
}

/// Whether `name` is a path component that Windows, macOS and Linux write as
/// it is: checked here independently of the server's code.
fn safe_component(name: &str) -> bool {
    const DEVICES: &[&str] = &["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
    let stem = name.split('.').next().unwrap_or_default().trim_end().to_uppercase();
    let numbered = ["COM", "LPT"].iter().any(|prefix| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            [
                "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u{b9}", "\u{b2}", "\u{b3}",
            ]
            .contains(&n)
        })
    });
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.ends_with(['.', ' '])
        && !name.chars().any(|c| c.is_control() || "/\\<>:\"|?*".contains(c))
        && !DEVICES.contains(&stem.as_str())
        && !numbered
        && name.len() <= 255
}

#[tokio::test]
async fn zip_entries_are_safe_and_unique_on_every_os() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let shared = alice.create_folder(alice.root(), "shared").await;
    // The name rule keeps all of these as given (`..` itself is refused).
    alice.create_folder_raw(shared.id, "..").await.expect_error_shape();
    let sub = alice.create_folder(shared.id, "evil\\..").await;
    let folder_a = alice.create_folder(shared.id, "a").await;
    let names = [
        (shared.id, "a\\b"),
        (shared.id, "..\\..\\escape.txt"),
        (shared.id, "C:x"),
        (shared.id, "C:\\Windows\\win.ini"),
        (shared.id, "CON"),
        (shared.id, "con.txt"),
        (shared.id, "x:y.txt"),
        (shared.id, "a."),
        (shared.id, "A.txt"),
        (shared.id, "a.txt"),
        (shared.id, "..."),
        (shared.id, "trailing "),
        (shared.id, "q<>\"|?*"),
        (shared.id, "tab\there"),
        (shared.id, "\u{e9}t\u{e9}.txt"),
        (sub.id, "NUL.tar.gz"),
        (sub.id, "..x"),
        (sub.id, "LPT1"),
        (folder_a.id, "fine.txt"),
    ];
    let mut by_content = BTreeMap::new();
    for (i, (parent, name)) in names.iter().enumerate() {
        let content = format!("file {i}: {name}").into_bytes();
        alice.upload_file(*parent, name, &content, None).await;
        by_content.insert(content, *name);
    }

    let path = link(&server, &alice, shared.id).await;
    let resp = public(&server, &format!("{path}/zip"), &[]).await;
    resp.expect_status(200);
    assert_user_content(&resp, "the zip");
    let entries = unzip(resp.body).await;

    // Every entry is made of safe components, and no two entries are the
    // same once case is folded (Windows and macOS fold it).
    let mut folded = HashSet::new();
    for name in entries.keys() {
        let (path, is_folder) = match name.strip_suffix('/') {
            Some(path) => (path, true),
            None => (name.as_str(), false),
        };
        assert!(
            path.split('/').all(safe_component),
            "unsafe entry name {name:?} (folder: {is_folder})"
        );
        assert!(!name.starts_with('/'), "{name:?}");
        assert!(folded.insert(path.to_lowercase()), "{name:?} meets another entry");
    }

    // Every file is there once, with its bytes; and both folders.
    let files: BTreeMap<&Vec<u8>, &str> = entries
        .iter()
        .filter(|(name, _)| !name.ends_with('/'))
        .map(|(name, content)| (content, name.as_str()))
        .collect();
    assert_eq!(files.len(), names.len(), "{entries:#?}");
    assert_eq!(
        by_content.keys().collect::<BTreeSet<_>>(),
        files.keys().copied().collect::<BTreeSet<_>>()
    );
    let zipped = |original: &str| -> String {
        let (content, _) = by_content
            .iter()
            .find(|(_, name)| **name == original)
            .expect("uploaded");
        files[content].to_owned()
    };
    assert_eq!(zipped("a\\b"), "a_b");
    assert_eq!(zipped("..\\..\\escape.txt"), ".._.._escape.txt");
    assert_eq!(zipped("C:x"), "C_x");
    assert_eq!(zipped("C:\\Windows\\win.ini"), "C__Windows_win.ini");
    assert_eq!(zipped("CON"), "_CON");
    assert_eq!(zipped("con.txt"), "_con.txt");
    assert_eq!(zipped("x:y.txt"), "x_y.txt");
    assert_eq!(zipped("..."), "_");
    assert_eq!(zipped("trailing "), "trailing");
    assert_eq!(zipped("q<>\"|?*"), "q______");
    assert_eq!(zipped("tab\there"), "tab_here");
    assert_eq!(zipped("\u{e9}t\u{e9}.txt"), "\u{e9}t\u{e9}.txt");
    // `a.` is `a` on Windows, the folder's name: it becomes `a (2)`.
    assert!(entries.contains_key("a/") && entries.contains_key("a/fine.txt"));
    assert_eq!(zipped("a."), "a (2)");
    // Case twins: the first keeps its name, the other is told apart.
    let twins = BTreeSet::from([zipped("A.txt"), zipped("a.txt")]);
    assert_eq!(twins, BTreeSet::from(["A.txt".to_owned(), "a (2).txt".to_owned()]));
    // Inside a folder whose own name had to change.
    assert!(entries.contains_key("evil_/"), "{:?}", entries.keys());
    assert_eq!(zipped("NUL.tar.gz"), "evil_/_NUL.tar.gz");
    assert_eq!(zipped("..x"), "evil_/..x");
    assert_eq!(zipped("LPT1"), "evil_/_LPT1");
}

#[tokio::test]
async fn a_range_in_an_unknown_unit_is_ignored() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(7, BLOCK + 100);
    let file = alice.upload_file(alice.root(), "data.bin", &content, None).await;
    let content_path = format!("/api/v1/nodes/{}/content", file.id);
    let file_link = link(&server, &alice, file.id).await;
    let download = format!("{file_link}/download");

    for unit in ["items=0-1", "Items=0-1", "lines=1-2", "none"] {
        let resp = private(&alice, &content_path, &[("range", unit)]).await;
        resp.expect_status(200);
        assert!(resp.body == content, "Range: {unit}: the whole body");
        assert!(resp.header("content-range").is_none(), "Range: {unit}");
        assert_user_content(&resp, unit);
        let resp = public(&server, &download, &[("range", unit)]).await;
        resp.expect_status(200);
        assert!(resp.body == content, "Range: {unit} on a link: the whole body");
    }

    // The unit is compared without case; a bytes range is still honoured.
    let resp = private(&alice, &content_path, &[("range", "Bytes=0-1")]).await;
    resp.expect_status(206);
    assert_eq!(resp.body, content[..2]);
    let resp = public(&server, &download, &[("range", "bytes=0-1")]).await;
    resp.expect_status(206);
    assert_eq!(resp.body, content[..2]);
    // A malformed or unsatisfiable bytes range is still 416, as before.
    for range in ["bytes=abc", "bytes=99999999-"] {
        let resp = private(&alice, &content_path, &[("range", range)]).await;
        assert_eq!(resp.status, 416, "Range: {range}: {}", resp.text());
        let resp = public(&server, &download, &[("range", range)]).await;
        assert_eq!(resp.status, 416, "Range: {range} on a link: {}", resp.text());
    }
}
