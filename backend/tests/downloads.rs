//! Downloads: manifests with presigned block URLs, and content with Range.

mod common;

use common::*;
use drive_wire::Node;

async fn range(client: &Client, id: i64, range: &str) -> Resp {
    Resp::read(
        client
            .request(reqwest::Method::GET, &format!("/api/v1/nodes/{id}/content"))
            .header("range", range)
            .send()
            .await
            .expect("GET content"),
    )
    .await
}

#[tokio::test]
async fn the_manifest_lists_blocks_in_order_with_working_urls() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(1, 3 * BLOCK + 1000);
    let node = alice.upload_file(alice.root(), "file.bin", &content, None).await;

    let manifest = alice.manifest(node.id, None).await;
    assert_eq!(manifest.node_id, node.id);
    assert_eq!(Some(manifest.revision), node.revision);
    assert_eq!(manifest.size, content.len() as u64);
    assert_eq!(manifest.modified, node.modified);
    let expected = split(&content);
    assert_eq!(
        manifest.blocks.iter().map(|b| (b.hash, b.size)).collect::<Vec<_>>(),
        expected.iter().map(|(r, _)| (r.hash, r.size)).collect::<Vec<_>>(),
        "blocks in file order"
    );
    let mut joined = Vec::new();
    for block in &manifest.blocks {
        assert!(block.expires_at > chrono::Utc::now());
        let resp = get_url(&alice.http, &block.url).await;
        resp.expect_status(200);
        assert_eq!(sha256(&resp.body), block.hash, "the bytes of {} hash right", block.url);
        assert_eq!(resp.body.len() as u64, block.size);
        joined.extend_from_slice(&resp.body);
    }
    assert_eq!(joined, content);

    // Presigned URLs need no credentials but are the only way in.
    let unsigned = manifest.blocks[0].url.split('?').next().expect("a URL").to_owned();
    let resp = get_url(&alice.http, &unsigned).await;
    assert!(resp.status.is_client_error(), "unsigned GET: {}", resp.status);

    // A folder has no manifest; neither has an unknown id.
    let folder = alice.create_folder(alice.root(), "dir").await;
    let resp = alice.get(&format!("/api/v1/nodes/{}/manifest", folder.id)).await;
    assert!(resp.status.is_client_error(), "manifest of a folder: {}", resp.text());
    resp.expect_error_shape();
    alice
        .get("/api/v1/nodes/999999/manifest")
        .await
        .expect_error(404, "not_found");

    server.check();
}

#[tokio::test]
async fn content_is_served_whole_and_by_range() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let content = bytes(2, 2 * BLOCK + 500);
    let size = content.len();
    let node = alice.upload_file(alice.root(), "data.bin", &content, None).await;

    let resp = alice.content(node.id).await;
    resp.expect_status(200);
    assert_eq!(resp.body, content);
    assert_eq!(resp.header("content-length"), Some(size.to_string()));
    let etag = resp.header("etag").expect("an ETag");
    assert!(!etag.is_empty());

    let cases: Vec<(String, usize, usize)> = vec![
        ("bytes=10-99".into(), 10, 99),
        ("bytes=0-0".into(), 0, 0),
        ("bytes=-5".into(), size - 5, size - 1),
        // Across the first block boundary.
        (format!("bytes={}-{}", BLOCK - 10, BLOCK + 9), BLOCK - 10, BLOCK + 9),
        // Across two boundaries.
        (format!("bytes={}-{}", BLOCK - 1, 2 * BLOCK), BLOCK - 1, 2 * BLOCK),
        (format!("bytes={}-", size - 100), size - 100, size - 1),
        // An end past the file is cut to it.
        (format!("bytes={}-{}", size - 3, size + 1000), size - 3, size - 1),
        ("bytes=0-".into(), 0, size - 1),
    ];
    for (header, from, to) in &cases {
        let (header, from, to) = (header.as_str(), *from, *to);
        let resp = range(&alice, node.id, header).await;
        assert_eq!(resp.status, 206, "Range {header}: {}", resp.text());
        assert_eq!(resp.body.len(), to - from + 1, "Range {header}");
        assert!(resp.body == content[from..=to], "Range {header}: wrong bytes");
        assert_eq!(
            resp.header("content-range"),
            Some(format!("bytes {from}-{to}/{size}")),
            "Range {header}"
        );
    }

    for header in [format!("bytes={size}-"), format!("bytes={}-{}", size + 10, size + 20)] {
        let resp = range(&alice, node.id, &header).await;
        assert_eq!(resp.status, 416, "Range {header}: {}", resp.text());
        if let Some(content_range) = resp.header("content-range") {
            assert_eq!(content_range, format!("bytes */{size}"));
        }
    }
}

#[tokio::test]
async fn old_revisions_are_downloadable() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let v1 = bytes(1, BLOCK + 17);
    let v2 = bytes(2, 300);
    let n1 = alice.upload_file(alice.root(), "doc.bin", &v1, None).await;
    let n2 = alice.upload_file(alice.root(), "doc.bin", &v2, n1.revision).await;
    let r1 = n1.revision.expect("r1");
    let r2 = n2.revision.expect("r2");

    assert_eq!(alice.download(n1.id).await, v2);
    let resp = alice
        .get(&format!("/api/v1/nodes/{}/content?revision={r1}", n1.id))
        .await;
    resp.expect_status(200);
    assert_eq!(resp.body, v1);
    let resp = alice
        .get(&format!("/api/v1/nodes/{}/content?revision={r2}", n1.id))
        .await;
    resp.expect_status(200);
    assert_eq!(resp.body, v2);
    // ETags differ between revisions.
    let e1 = alice
        .get(&format!("/api/v1/nodes/{}/content?revision={r1}", n1.id))
        .await
        .header("etag");
    let e2 = alice.content(n1.id).await.header("etag");
    assert_ne!(e1, e2);

    let manifest = alice.manifest(n1.id, Some(r1)).await;
    assert_eq!(manifest.revision, r1);
    assert_eq!(manifest.size, v1.len() as u64);
    let mut joined = Vec::new();
    for block in &manifest.blocks {
        let resp = get_url(&alice.http, &block.url).await;
        resp.expect_status(200);
        joined.extend_from_slice(&resp.body);
    }
    assert_eq!(joined, v1);

    // A range of an old revision.
    let resp = Resp::read(
        alice
            .request(
                reqwest::Method::GET,
                &format!("/api/v1/nodes/{}/content?revision={r1}", n1.id),
            )
            .header("range", format!("bytes={}-{}", BLOCK - 2, BLOCK + 1))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    resp.expect_status(206);
    assert_eq!(resp.body, v1[BLOCK - 2..BLOCK + 2]);

    // Another file's revision, or no such revision.
    let other: Node = alice.upload_file(alice.root(), "other.bin", b"other", None).await;
    let other_rev = other.revision.expect("a revision");
    for path in [
        format!("/api/v1/nodes/{}/content?revision={other_rev}", n1.id),
        format!("/api/v1/nodes/{}/manifest?revision={other_rev}", n1.id),
        format!("/api/v1/nodes/{}/content?revision=999999", n1.id),
        format!("/api/v1/nodes/{}/manifest?revision=999999", n1.id),
        "/api/v1/nodes/999999/content".to_owned(),
    ] {
        alice.get(&path).await.expect_error(404, "not_found");
    }
}

#[tokio::test]
async fn content_of_an_empty_file_and_of_a_folder() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let empty = alice.upload_file(alice.root(), "empty.txt", b"", None).await;
    let resp = alice.content(empty.id).await;
    resp.expect_status(200);
    assert!(resp.body.is_empty());
    let manifest = alice.manifest(empty.id, None).await;
    assert!(manifest.blocks.is_empty());
    assert_eq!(manifest.size, 0);

    let folder = alice.create_folder(alice.root(), "dir").await;
    let resp = alice.content(folder.id).await;
    assert!(resp.status.is_client_error(), "content of a folder: {}", resp.text());
    resp.expect_error_shape();
}
