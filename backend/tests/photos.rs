//! Profile photos: upload, background resize to 400x400, presigned URLs,
//! refusals that keep nothing, replacement and deletion that leave no garbage,
//! other users kept out, jobs that survive a restart.

mod common;

use std::{
    io::Cursor,
    path::Path,
    time::{Duration, Instant},
};

use common::*;
use drive_wire::{PhotoStatus, ProfilePhoto};
use image::{
    codecs::{gif::GifEncoder, webp::WebPEncoder},
    DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage,
};
use reqwest::Method;

const PHOTO: &str = "/api/v1/account/photo";
/// The server's upload limit.
const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
const DEADLINE: Duration = Duration::from_secs(30);

const RED: Rgb<u8> = Rgb([220, 20, 20]);
const GREEN: Rgb<u8> = Rgb([20, 200, 20]);

/// A `width` x `height` picture: green, with red bands along its long sides'
/// ends (the outer fifth at each end), which a centred cover-crop to a square
/// cuts away.
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (pos, len) = if width >= height { (x, width) } else { (y, height) };
        if pos < len / 5 || pos >= len - len / 5 {
            RED
        } else {
            GREEN
        }
    })
}

fn encode(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let image = picture(width, height);
    let mut out = Vec::new();
    match format {
        ImageFormat::Gif => GifEncoder::new(&mut out)
            .encode_frame(image::Frame::new(DynamicImage::ImageRgb8(image).to_rgba8()))
            .unwrap(),
        ImageFormat::WebP => image.write_with_encoder(WebPEncoder::new_lossless(&mut out)).unwrap(),
        _ => image.write_to(&mut Cursor::new(&mut out), format).unwrap(),
    }
    out
}

async fn put_photo(client: &Client, bytes: Vec<u8>, content_type: &str) -> Resp {
    Resp::read(
        client
            .request(Method::PUT, PHOTO)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {PHOTO}: {e}")),
    )
    .await
}

/// Uploads and checks the 202 answer.
async fn upload(client: &Client, bytes: Vec<u8>) -> ProfilePhoto {
    let resp = put_photo(client, bytes, "application/octet-stream").await;
    resp.expect_status(202);
    let photo: ProfilePhoto = resp.parse();
    assert_eq!(photo.status, PhotoStatus::Processing);
    assert!(photo.url.is_none());
    photo
}

async fn photo(client: &Client) -> Resp {
    client.get(PHOTO).await
}

/// Polls the caller's photo until it is ready (or the deadline passes).
async fn wait_ready(client: &Client) -> ProfilePhoto {
    let start = Instant::now();
    loop {
        let resp = photo(client).await;
        resp.expect_status(200);
        let photo: ProfilePhoto = resp.parse();
        match photo.status {
            PhotoStatus::Ready => return photo,
            PhotoStatus::Failed => panic!("the photo failed: {photo:?}"),
            PhotoStatus::Processing => {}
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the photo is still processing after {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fetches the ready photo by its URL, checks it is 400x400, returns it.
async fn fetch(photo: &ProfilePhoto) -> DynamicImage {
    let url = photo.url.as_deref().expect("a ready photo has a URL");
    let resp = get_url(&http_client(), url).await;
    resp.expect_status(200);
    assert_eq!(resp.header("content-type"), photo.content_type);
    // S3 serves the object itself and cannot be told to add this header.
    if !on_s3() {
        assert_eq!(resp.header("x-content-type-options").as_deref(), Some("nosniff"));
    }
    let image = image::load_from_memory(&resp.body).expect("the served photo decodes");
    assert_eq!((image.width(), image.height()), (400, 400));
    image
}

/// Files the server keeps under its blob, photo and temp dirs.
fn stored_files(server: &TestServer) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        count(&path)
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    ["blobs", "photos", "tmp"]
        .iter()
        .map(|dir| count(&server.data_dir().join(dir)))
        .sum()
}

/// Waits until the server keeps exactly `expected` files (deletes are done
/// in the background).
async fn wait_files(server: &TestServer, expected: usize) {
    let start = Instant::now();
    while stored_files(server) != expected {
        assert!(
            start.elapsed() < DEADLINE,
            "the server keeps {} files, expected {expected}",
            stored_files(server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_close(pixel: Rgb<u8>, expected: Rgb<u8>, what: &str) {
    let close = pixel.0.iter().zip(expected.0).all(|(&a, b)| a.abs_diff(b) <= 40);
    assert!(close, "{what}: {pixel:?}, expected about {expected:?}");
}

#[tokio::test]
async fn a_jpeg_and_a_png_become_400_square_photos_cropped_around_the_centre() {
    if skip_on_s3("counts the files of the local store") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    photo(&alice).await.expect_error(404, "not_found");

    // A landscape JPEG, sent with a misleading type: the bytes decide.
    let accepted = upload(&alice, encode(ImageFormat::Jpeg, 1000, 600)).await;
    assert_eq!(accepted.original_format, "jpeg");
    assert_eq!((accepted.original_width, accepted.original_height), (1000, 600));
    assert_eq!(accepted.size, 400);
    let ready = wait_ready(&alice).await;
    assert_eq!(ready.content_type.as_deref(), Some("image/jpeg"));
    assert!(ready.expires_at.unwrap() > chrono::Utc::now());
    let image = fetch(&ready).await.to_rgb8();
    // Cover-crop keeps the middle 600x600 of the picture: the red ends are gone.
    for (x, y) in [(200, 200), (4, 200), (395, 200), (200, 4), (200, 395)] {
        assert_close(*image.get_pixel(x, y), GREEN, &format!("pixel ({x}, {y})"));
    }
    assert_eq!(stored_files(&server), 2, "the original and the resized photo");

    // A portrait PNG replaces it; the old objects go.
    let old_url = ready.url.clone().unwrap();
    let accepted = upload(&alice, encode(ImageFormat::Png, 600, 1000)).await;
    assert_eq!(accepted.original_format, "png");
    assert_eq!((accepted.original_width, accepted.original_height), (600, 1000));
    let ready = wait_ready(&alice).await;
    assert_eq!(ready.original_format, "png");
    assert_eq!(
        ready.content_type.as_deref(),
        Some("image/jpeg"),
        "no transparency: JPEG"
    );
    let image = fetch(&ready).await.to_rgb8();
    for (x, y) in [(200, 4), (200, 395), (4, 200), (395, 200)] {
        assert_close(*image.get_pixel(x, y), GREEN, &format!("pixel ({x}, {y})"));
    }
    assert_ne!(ready.url.as_deref(), Some(old_url.as_str()));
    wait_files(&server, 2).await;
    get_url(&http_client(), &old_url).await.expect_error(404, "not_found");

    // The routes are in the OpenAPI document.
    let doc = server.get("/api/v1/openapi.json").await.json();
    assert!(doc["paths"][PHOTO]["put"].is_object(), "{doc}");
    assert!(doc["paths"][PHOTO]["get"].is_object());
    assert!(doc["paths"][PHOTO]["delete"].is_object());
    assert!(doc["paths"]["/photos/{key}"]["get"].is_object());

    server.check();
}

#[tokio::test]
async fn gif_webp_and_transparent_png_are_accepted() {
    if skip_on_s3("counts the files of the local store") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    for (format, name) in [(ImageFormat::Gif, "gif"), (ImageFormat::WebP, "webp")] {
        let accepted = upload(&alice, encode(format, 300, 200)).await;
        assert_eq!(accepted.original_format, name);
        let ready = wait_ready(&alice).await;
        assert_eq!(ready.original_format, name);
        assert_eq!(ready.content_type.as_deref(), Some("image/jpeg"));
        fetch(&ready).await;
    }

    let transparent = RgbaImage::from_fn(500, 300, |x, _| Rgba([0, 0, 255, if x % 2 == 0 { 0 } else { 255 }]));
    let mut bytes = Vec::new();
    transparent
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    upload(&alice, bytes).await;
    let ready = wait_ready(&alice).await;
    assert_eq!(ready.content_type.as_deref(), Some("image/png"), "transparency is kept");
    assert!(fetch(&ready).await.color().has_alpha());
    wait_files(&server, 2).await;
    server.check();
}

/// The bytes of a real executable, to be passed off as a photo.
fn executable() -> Vec<u8> {
    let bytes = std::fs::read("/bin/true").unwrap_or_default();
    if bytes.starts_with(b"\x7fELF") {
        return bytes;
    }
    // No /bin/true here: an ELF header and some code-like bytes.
    let mut bytes = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00".to_vec();
    bytes.extend(common::bytes(7, 20_000));
    bytes
}

#[tokio::test]
async fn anything_but_a_whole_kept_image_is_refused_and_nothing_of_it_is_kept() {
    if skip_on_s3("counts the files of the local store") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let jpeg = encode(ImageFormat::Jpeg, 1000, 600);
    let png = encode(ImageFormat::Png, 640, 480);
    let mut bmp = b"BM".to_vec();
    bmp.extend(common::bytes(1, 5_000));
    let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#.to_vec();
    // A valid PNG whose header claims 20000x20000 pixels (a decompression bomb).
    let mut bomb = encode(ImageFormat::Png, 1, 1);
    bomb[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let mut oversize = jpeg.clone();
    oversize.resize(MAX_PHOTO_BYTES + 1, 0);

    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        (
            "an executable named photo.jpg",
            executable(),
            "image/jpeg",
            415,
            "unsupported_image",
        ),
        (
            "a truncated JPEG",
            jpeg[..jpeg.len() / 2].to_vec(),
            "image/jpeg",
            422,
            "invalid_image",
        ),
        (
            "a JPEG without its last bytes",
            jpeg[..jpeg.len() - 2].to_vec(),
            "image/jpeg",
            422,
            "invalid_image",
        ),
        (
            "a truncated PNG",
            png[..png.len() / 2].to_vec(),
            "image/png",
            422,
            "invalid_image",
        ),
        ("a BMP", bmp, "image/bmp", 415, "unsupported_image"),
        ("an SVG", svg, "image/svg+xml", 415, "unsupported_image"),
        ("nothing", Vec::new(), "image/png", 415, "unsupported_image"),
        ("a decompression bomb", bomb, "image/png", 422, "image_too_large"),
        (
            "5 MiB + 1 bytes",
            oversize.clone(),
            "image/jpeg",
            413,
            "payload_too_large",
        ),
    ];
    let check_refusals = |had_photo: bool| {
        let cases = cases.clone();
        let alice = alice.clone();
        let server = &server;
        async move {
            let files = stored_files(server);
            for (what, bytes, content_type, status, code) in cases {
                let resp = put_photo(&alice, bytes, content_type).await;
                let body = resp.expect_error(status, code);
                assert!(
                    !body["error"]["message"].as_str().unwrap().is_empty(),
                    "{what}: a message"
                );
                if had_photo {
                    let kept: ProfilePhoto = photo(&alice).await.expect_status(200).parse();
                    assert_eq!(kept.status, PhotoStatus::Ready, "{what}: the photo stays");
                    assert_eq!(kept.original_width, 1000, "{what}: the photo stays");
                } else {
                    photo(&alice).await.expect_error(404, "not_found");
                }
                assert_eq!(stored_files(server), files, "{what}: no file is kept");
            }
        }
    };
    check_refusals(false).await;
    assert_eq!(stored_files(&server), 0);

    // Streamed without a length, an oversize body is refused all the same.
    let stream = futures::stream::iter(
        oversize
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = Resp::read(
        alice
            .request(Method::PUT, PHOTO)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap(),
    )
    .await;
    resp.expect_error(413, "payload_too_large");

    // With a photo in place, refusals leave it as it was.
    upload(&alice, jpeg.clone()).await;
    wait_ready(&alice).await;
    check_refusals(true).await;
    assert_eq!(stored_files(&server), 2);

    // Exactly the limit is accepted.
    let mut at_limit = jpeg;
    at_limit.resize(MAX_PHOTO_BYTES, 0);
    let accepted = upload(&alice, at_limit).await;
    assert_eq!(accepted.original_bytes, MAX_PHOTO_BYTES as u64);
    wait_ready(&alice).await;
    wait_files(&server, 2).await;
    server.check();
}

#[tokio::test]
async fn photo_urls_are_tamper_proof_and_expire() {
    if skip_on_s3("tampers with the local photo URLs") {
        return;
    }
    let server = TestServer::start_with(&["--photo-url-ttl", "3"]).await;
    let alice = server.register("alice@example.com").await;
    upload(&alice, encode(ImageFormat::Png, 800, 500)).await;
    let ready = wait_ready(&alice).await;
    let url = ready.url.clone().unwrap();
    assert!(url.starts_with(&format!("{}/photos/", server.base)), "{url}");
    fetch(&ready).await;
    let http = http_client();

    let sig = query_param(&url, "sig");
    get_url(&http, &with_query(&url, "sig", &flip_last_hex(&sig)))
        .await
        .expect_error(403, "invalid_signature");
    let expires: i64 = query_param(&url, "expires").parse().unwrap();
    get_url(&http, &with_query(&url, "expires", &(expires + 3600).to_string()))
        .await
        .expect_error(403, "invalid_signature");
    // The signature is bound to the key...
    let key = url.split("/photos/").nth(1).unwrap().split('?').next().unwrap();
    let other = random_hash().to_string();
    get_url(&http, &url.replace(key, &other))
        .await
        .expect_error(403, "invalid_signature");
    // ...and to the photo namespace: it opens no block.
    get_url(&http, &url.replace("/photos/", "/blobs/"))
        .await
        .expect_error(403, "invalid_signature");
    get_url(&http, url.split('?').next().unwrap())
        .await
        .expect_error(400, "bad_request");

    tokio::time::sleep(Duration::from_millis(4500)).await;
    get_url(&http, &url).await.expect_error(403, "url_expired");
    // A fresh one works.
    fetch(&wait_ready(&alice).await).await;
}

#[tokio::test]
async fn other_users_can_neither_read_nor_delete_your_photo() {
    if skip_on_s3("counts the files of the local store") {
        return;
    }
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    upload(&alice, encode(ImageFormat::Jpeg, 1000, 600)).await;
    let alices = wait_ready(&alice).await;

    photo(&bob).await.expect_error(404, "not_found");
    bob.delete(PHOTO).await.expect_error(404, "not_found");
    server.get(PHOTO).await.expect_error(401, "unauthorized");
    server
        .send(Method::DELETE, PHOTO)
        .await
        .expect_error(401, "unauthorized");
    let resp = Resp::read(
        server
            .http
            .put(server.url(PHOTO))
            .body(encode(ImageFormat::Png, 10, 10))
            .send()
            .await
            .unwrap(),
    )
    .await;
    resp.expect_error(401, "unauthorized");
    assert_eq!(wait_ready(&alice).await.original_width, 1000);

    // Bob's own photo is his alone.
    upload(&bob, encode(ImageFormat::Png, 300, 300)).await;
    let bobs = wait_ready(&bob).await;
    assert_eq!(bobs.original_format, "png");
    assert_ne!(bobs.url, alices.url);
    assert_eq!(wait_ready(&alice).await.original_format, "jpeg");
    assert_eq!(stored_files(&server), 4);

    // Alice deletes hers: gone, its URL too, and its files; Bob's stays.
    alice.delete(PHOTO).await.expect_status(204);
    photo(&alice).await.expect_error(404, "not_found");
    alice.delete(PHOTO).await.expect_error(404, "not_found");
    wait_files(&server, 2).await;
    get_url(&http_client(), alices.url.as_deref().unwrap())
        .await
        .expect_error(404, "not_found");
    fetch(&wait_ready(&bob).await).await;
    server.check();
}

#[tokio::test]
async fn a_waiting_job_is_done_after_a_restart() {
    let mut server = TestServer::start_with(&["--no-photo-worker"]).await;
    let alice = server.register("alice@example.com").await;
    upload(&alice, encode(ImageFormat::Jpeg, 1000, 600)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting: ProfilePhoto = photo(&alice).await.expect_status(200).parse();
    assert_eq!(waiting.status, PhotoStatus::Processing, "no worker runs");
    server.check_running();

    server.restart_with(&[]);
    let alice = server.client(&alice.email, alice.tokens.clone());
    fetch(&wait_ready(&alice).await).await;
    server.check();
}

#[tokio::test]
async fn a_photo_that_cannot_be_processed_is_marked_failed() {
    if skip_on_s3("corrupts a file of the local store") {
        return;
    }
    let mut server = TestServer::start_with(&["--no-photo-worker"]).await;
    let alice = server.register("alice@example.com").await;
    upload(&alice, encode(ImageFormat::Jpeg, 1000, 600)).await;
    // The stored original goes bad before any worker gets to it.
    let fans: Vec<_> = std::fs::read_dir(server.data_dir().join("photos"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(fans.len(), 1);
    let original = std::fs::read_dir(fans[0].path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&original).unwrap();
    std::fs::write(&original, &bytes[..bytes.len() / 2]).unwrap();

    server.restart_with(&[]);
    let alice = server.client(&alice.email, alice.tokens.clone());
    let start = Instant::now();
    let failed = loop {
        let photo: ProfilePhoto = photo(&alice).await.expect_status(200).parse();
        if photo.status != PhotoStatus::Processing {
            break photo;
        }
        assert!(start.elapsed() < DEADLINE, "still processing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.status, PhotoStatus::Failed);
    assert!(failed.url.is_none());
    assert!(failed.error.as_deref().unwrap().contains("truncated"), "{failed:?}");

    // A new upload replaces it, and the bad original goes.
    upload(&alice, encode(ImageFormat::Png, 500, 500)).await;
    fetch(&wait_ready(&alice).await).await;
    wait_files(&server, 2).await;
    server.check();
}
