//! The server side of the web app: its pages and their headers, browser
//! sessions (HttpOnly refresh cookie, CSRF), the desktop app's hand-off,
//! download URLs a browser follows without a bearer token, and the password
//! change. See docs/API.md, "The web app".

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::*;
use drive_wire::{DownloadUrl, HandoffUrl, ShareRole, WebSession};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::Sha256;

/// A client that follows no redirect and keeps no cookie: each test says
/// exactly what it sends.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building the HTTP client")
}

/// The `Set-Cookie` header of the cookie `name`.
fn set_cookie(resp: &Resp, name: &str) -> Option<String> {
    resp.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(ToOwned::to_owned)
}

/// The value a `Set-Cookie` header sets.
fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().expect("a cookie pair");
    pair.split_once('=').expect("name=value").1.to_owned()
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_lowercase()).collect()
}

/// A browser session's cookies.
struct Cookies {
    refresh: String,
    csrf: String,
}

impl Cookies {
    fn of(resp: &Resp) -> Cookies {
        Cookies {
            refresh: cookie_value(&set_cookie(resp, "drive_refresh").expect("a drive_refresh cookie")),
            csrf: cookie_value(&set_cookie(resp, "drive_csrf").expect("a drive_csrf cookie")),
        }
    }

    fn header(&self) -> String {
        format!("drive_refresh={}; drive_csrf={}", self.refresh, self.csrf)
    }
}

async fn send(request: reqwest::RequestBuilder) -> Resp {
    Resp::read(request.send().await.expect("sending a request")).await
}

async fn web_login(server: &TestServer, email: &str, password: &str) -> Resp {
    send(
        raw_client()
            .post(server.url("/api/v1/web/login"))
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

/// POST `path` with these cookies and (if any) this CSRF header.
async fn with_cookies(server: &TestServer, path: &str, cookies: Option<&str>, csrf: Option<&str>) -> Resp {
    let mut request = raw_client().post(server.url(path));
    if let Some(cookies) = cookies {
        request = request.header("cookie", cookies);
    }
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    send(request).await
}

async fn me_with(server: &TestServer, token: &str) -> Resp {
    send(raw_client().get(server.url("/api/v1/me")).bearer_auth(token)).await
}

#[tokio::test]
async fn the_app_is_served_at_the_root_with_a_strict_policy() {
    let server = TestServer::start().await;
    for path in ["/", "/files/some/folder", "/shared", "/index.html"] {
        let resp = server.get(path).await;
        resp.expect_status(200);
        assert!(resp.header("content-type").unwrap().starts_with("text/html"), "{path}");
        let csp = resp.header("content-security-policy").expect("a CSP");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {directive} in {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(resp.header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(resp.header("referrer-policy").as_deref(), Some("same-origin"));
        assert_eq!(resp.header("cache-control").as_deref(), Some("no-cache"));
    }
    // The SPA fallback serves the same page as the root.
    assert_eq!(server.get("/files/x").await.body, server.get("/").await.body);
    let head = server.send(Method::HEAD, "/files/x").await;
    head.expect_status(200);
    assert!(head.body.is_empty());

    // A missing asset is a 404, never the page; the API's 404 stays JSON.
    for path in [
        "/assets/nope-1234.js",
        "/assets/deep/nope.css",
        "/api/v1/nope",
        "/blobs/",
        "/d/",
        "/s/",
        "/photos/",
    ] {
        server.get(path).await.expect_error(404, "not_found");
    }
    server.send(Method::HEAD, "/assets/nope.js").await.expect_status(404);
    server.post("/", &json!({})).await.expect_status(405);
    server.post("/files/x", &json!({})).await.expect_error(404, "not_found");
    server.get("/health").await.expect_status(200);

    // The assets the page names, when the app is built into this server.
    let page = server.get("/").await.text();
    let assets: Vec<&str> = page.split('"').filter(|part| part.starts_with("/assets/")).collect();
    if page.contains("was not built into this server") {
        eprintln!("the web app is not built into this server: only the placeholder page was checked");
    } else {
        assert!(!assets.is_empty(), "the page names its assets: {page}");
    }
    for asset in assets {
        let resp = server.get(asset).await;
        resp.expect_status(200);
        assert_eq!(
            resp.header("cache-control").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(resp.header("x-content-type-options").as_deref(), Some("nosniff"));
        let kind = resp.header("content-type").unwrap();
        if asset.ends_with(".js") {
            assert!(kind.contains("javascript"), "{asset}: {kind}");
        } else if asset.ends_with(".css") {
            assert!(kind.starts_with("text/css"), "{asset}: {kind}");
        }
    }
}

#[tokio::test]
async fn a_browser_session_lives_in_cookies_guarded_by_csrf() {
    let server = TestServer::start().await;
    let client = server.register("ann@example.com").await;

    web_login(&server, "ann@example.com", "wrong password")
        .await
        .expect_error(401, "invalid_credentials");
    let login = web_login(&server, "ann@example.com", PASSWORD).await;
    login.expect_status(200);
    let session: WebSession = login.parse();
    assert_eq!(session.user, client.me().await);
    assert!(
        login.json().get("refresh_token").is_none(),
        "no refresh token in the body"
    );
    assert_eq!(login.header("cache-control").as_deref(), Some("no-store"));
    let refresh = set_cookie(&login, "drive_refresh").unwrap();
    let attrs = attributes(&refresh);
    for attr in ["httponly", "samesite=strict", "path=/api/v1/web", "max-age=5184000"] {
        assert!(attrs.iter().any(|a| a == attr), "{attr} in {refresh}");
    }
    assert!(
        !attrs.iter().any(|a| a == "secure"),
        "not Secure over plain HTTP: {refresh}"
    );
    let csrf = set_cookie(&login, "drive_csrf").unwrap();
    let attrs = attributes(&csrf);
    assert!(attrs.iter().any(|a| a == "path=/") && attrs.iter().any(|a| a == "samesite=strict"));
    assert!(!attrs.iter().any(|a| a == "httponly"), "the page reads it: {csrf}");
    me_with(&server, &session.access_token).await.expect_status(200);
    let cookies = Cookies::of(&login);

    // Refreshing needs the CSRF header, equal to the cookie, and the refresh cookie.
    let refresh = "/api/v1/web/refresh";
    with_cookies(&server, refresh, Some(&cookies.header()), None)
        .await
        .expect_error(403, "csrf");
    with_cookies(&server, refresh, Some(&cookies.header()), Some("not-the-token"))
        .await
        .expect_error(403, "csrf");
    with_cookies(&server, refresh, None, Some(&cookies.csrf))
        .await
        .expect_error(403, "csrf");
    let only_csrf = format!("drive_csrf={}", cookies.csrf);
    with_cookies(&server, refresh, Some(&only_csrf), Some(&cookies.csrf))
        .await
        .expect_error(401, "unauthorized");

    let renewed = with_cookies(&server, refresh, Some(&cookies.header()), Some(&cookies.csrf)).await;
    renewed.expect_status(200);
    let renewed_session: WebSession = renewed.parse();
    me_with(&server, &renewed_session.access_token).await.expect_status(200);
    let next = Cookies::of(&renewed);
    assert_ne!(next.refresh, cookies.refresh, "the refresh cookie rotates");

    // The spent cookie presented again revokes the session, as /auth/refresh does.
    let reused = with_cookies(&server, refresh, Some(&cookies.header()), Some(&cookies.csrf)).await;
    reused.expect_error(401, "invalid_token");
    let cleared = set_cookie(&reused, "drive_refresh").expect("the cookie is cleared");
    assert!(attributes(&cleared).iter().any(|a| a == "max-age=0"), "{cleared}");
    with_cookies(&server, refresh, Some(&next.header()), Some(&next.csrf))
        .await
        .expect_error(401, "invalid_token");
    me_with(&server, &renewed_session.access_token)
        .await
        .expect_error(401, "unauthorized");

    // Signing out: CSRF again, then the session is gone and the cookies cleared.
    let login = web_login(&server, "ann@example.com", PASSWORD).await;
    let session: WebSession = login.parse();
    let cookies = Cookies::of(&login);
    let logout = "/api/v1/web/logout";
    with_cookies(&server, logout, Some(&cookies.header()), None)
        .await
        .expect_error(403, "csrf");
    let out = with_cookies(&server, logout, Some(&cookies.header()), Some(&cookies.csrf)).await;
    out.expect_status(204);
    for name in ["drive_refresh", "drive_csrf"] {
        let cleared = set_cookie(&out, name).unwrap_or_else(|| panic!("{name} cleared"));
        assert!(attributes(&cleared).iter().any(|a| a == "max-age=0"), "{cleared}");
    }
    me_with(&server, &session.access_token)
        .await
        .expect_error(401, "unauthorized");
    with_cookies(&server, refresh, Some(&cookies.header()), Some(&cookies.csrf))
        .await
        .expect_error(401, "invalid_token");
    // Signing out again is not an error.
    with_cookies(&server, logout, Some(&cookies.header()), Some(&cookies.csrf))
        .await
        .expect_status(204);
}

#[tokio::test]
async fn cookies_are_secure_over_https() {
    let server = TestServer::start_with(&["--public-url", "https://drive.example.com"]).await;
    server.register("ann@example.com").await;
    let login = web_login(&server, "ann@example.com", PASSWORD).await;
    login.expect_status(200);
    for name in ["drive_refresh", "drive_csrf"] {
        let cookie = set_cookie(&login, name).unwrap();
        assert!(attributes(&cookie).iter().any(|a| a == "secure"), "{cookie}");
    }

    // Behind a trusted proxy, X-Forwarded-Proto says so; from anyone else it is ignored.
    for (args, secure) in [(vec!["--trusted-proxy", "127.0.0.1"], true), (vec![], false)] {
        let server = TestServer::start_with(&args).await;
        server.register("ann@example.com").await;
        let login = send(
            raw_client()
                .post(server.url("/api/v1/web/login"))
                .header("x-forwarded-proto", "https")
                .json(&json!({"email": "ann@example.com", "password": PASSWORD})),
        )
        .await;
        login.expect_status(200);
        let cookie = set_cookie(&login, "drive_refresh").unwrap();
        assert_eq!(
            attributes(&cookie).iter().any(|a| a == "secure"),
            secure,
            "{args:?}: {cookie}"
        );
    }
}

#[tokio::test]
async fn the_desktop_app_hands_off_to_a_signed_in_page_once() {
    let server = TestServer::start().await;
    let client = server.register("ann@example.com").await;
    server
        .post("/api/v1/web/handoff", &json!({}))
        .await
        .expect_error(401, "unauthorized");

    let handoff: HandoffUrl = {
        let resp = client.post_empty("/api/v1/web/handoff").await;
        resp.expect_status(200);
        resp.parse()
    };
    assert!(
        handoff.url.starts_with(&format!("{}/web/handoff?code=", server.base)),
        "{}",
        handoff.url
    );
    let landed = send(raw_client().get(&handoff.url)).await;
    landed.expect_status(303);
    assert_eq!(landed.header("location").as_deref(), Some("/"));
    let cookies = Cookies::of(&landed);
    let session = with_cookies(
        &server,
        "/api/v1/web/refresh",
        Some(&cookies.header()),
        Some(&cookies.csrf),
    )
    .await;
    session.expect_status(200);
    let session: WebSession = session.parse();
    assert_eq!(session.user.id, client.user().id);
    // A session of its own: the desktop app's stays signed in.
    let sessions = client.get("/api/v1/auth/sessions").await.json();
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions}");
    client.me().await;

    // Once only; an unknown code likewise.
    let again = send(raw_client().get(&handoff.url)).await;
    again.expect_status(410);
    assert!(set_cookie(&again, "drive_refresh").is_none());
    assert!(again.header("content-type").unwrap().starts_with("text/html"));
    // Landing on a folder's page, never elsewhere.
    for (to, lands) in [
        ("/files/42", "/files/42"),
        ("%2Ffiles", "/files"),
        ("%2F%2Fevil.example", "/"),
        ("https%3A%2F%2Fevil.example", "/"),
    ] {
        let handoff: HandoffUrl = client.post_empty("/api/v1/web/handoff").await.parse();
        let url = format!("{}&to={to}", handoff.url);
        let landed = send(raw_client().get(&url)).await;
        landed.expect_status(303);
        assert_eq!(landed.header("location").as_deref(), Some(lands), "{to}");
    }
    send(raw_client().get(server.url("/web/handoff?code=drt_made_up")))
        .await
        .expect_status(410);
    server.get("/web/handoff").await.expect_error(400, "bad_request");
}

/// A download URL of `node` for `client`.
async fn download_url(client: &Client, body: serde_json::Value) -> DownloadUrl {
    let resp = client.post("/api/v1/download-urls", &body).await;
    resp.expect_status(200);
    resp.parse()
}

#[tokio::test]
async fn download_urls_stream_files_and_folders_without_a_bearer() {
    let secret = "s".repeat(40);
    let server = TestServer::start_with(&["--secret", &secret]).await;
    let ann = server.register("ann@example.com").await;
    let folder = ann.create_folder(ann.root(), "Trip").await;
    let content = bytes(1, 3 * BLOCK + 1234);
    let file = ann
        .upload_file(folder.id, "notes \u{e9}t\u{e9}.txt", &content, None)
        .await;
    let newer = bytes(2, 1000);
    let file2 = ann
        .upload_file(folder.id, "notes \u{e9}t\u{e9}.txt", &newer, file.revision)
        .await;

    // A file, as an attachment, with Range, ETag and the safety headers.
    let url = download_url(&ann, json!({"node_id": file.id, "disposition": "attachment"})).await;
    assert!(url.url.starts_with("/d/"), "{}", url.url);
    let wait = url.expires_at - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::seconds(590) && wait <= chrono::Duration::seconds(600),
        "{wait}"
    );
    let resp = server.get(&url.url).await;
    resp.expect_status(200);
    assert_eq!(resp.body, newer);
    assert_eq!(
        resp.header("content-disposition").as_deref(),
        Some("attachment; filename*=UTF-8''notes%20%C3%A9t%C3%A9%2Etxt")
    );
    assert_eq!(resp.header("content-security-policy").as_deref(), Some("sandbox"));
    assert_eq!(resp.header("x-content-type-options").as_deref(), Some("nosniff"));
    assert!(resp.header("etag").is_some());
    assert!(resp.header("content-type").unwrap().starts_with("text/plain"));
    let range = send(raw_client().get(server.url(&url.url)).header("range", "bytes=10-19")).await;
    range.expect_status(206);
    assert_eq!(range.body, newer[10..20]);
    assert_eq!(range.header("content-range").as_deref(), Some("bytes 10-19/1000"));
    let head = server.send(Method::HEAD, &url.url).await;
    head.expect_status(200);
    assert_eq!(head.header("content-length").as_deref(), Some("1000"));

    // An older revision.
    let old = download_url(
        &ann,
        json!({"node_id": file.id, "revision": file.revision, "disposition": "attachment"}),
    )
    .await;
    assert_eq!(server.get(&old.url).await.body, content);
    assert_ne!(file.revision, file2.revision);
    let bad_revision = json!({"node_id": file.id, "revision": 999_999, "disposition": "attachment"});
    ann.post("/api/v1/download-urls", &bad_revision)
        .await
        .expect_error(404, "not_found");

    // A folder, as a zip named after it.
    let zip = download_url(&ann, json!({"node_id": folder.id, "disposition": "attachment"})).await;
    let resp = server.get(&zip.url).await;
    resp.expect_status(200);
    assert_eq!(resp.header("content-type").as_deref(), Some("application/zip"));
    assert_eq!(
        resp.header("content-disposition").as_deref(),
        Some("attachment; filename*=UTF-8''Trip%2Ezip")
    );
    assert_eq!(resp.header("content-security-policy").as_deref(), Some("sandbox"));
    assert!(resp.body.starts_with(b"PK"));
    assert!(
        resp.body.windows(newer.len()).any(|w| w == newer),
        "the zip holds the file"
    );
    let folder_revision = json!({"node_id": folder.id, "revision": 1, "disposition": "attachment"});
    ann.post("/api/v1/download-urls", &folder_revision)
        .await
        .expect_error(400, "bad_request");

    // Altered or made-up tokens, and expired ones.
    let mut tampered = url.url.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    server.get(&tampered).await.expect_error(403, "invalid_signature");
    let other_node = url
        .url
        .replacen(&format!(".{}.", file.id), &format!(".{}.", folder.id), 1);
    server.get(&other_node).await.expect_error(403, "invalid_signature");
    server
        .get("/d/1.2.-.a.99999999999.AAAA")
        .await
        .expect_error(403, "invalid_signature");
    let expired = signed_token(&secret, &format!("{}.{}.-.a.1000000000", ann.user().id, file.id));
    let gone = server.get(&format!("/d/{expired}")).await;
    gone.expect_error(410, "url_expired");
    assert_eq!(gone.header("content-security-policy").as_deref(), Some("sandbox"));
    // The same token with a future expiry works: the test signs like the server.
    let fresh = signed_token(&secret, &format!("{}.{}.-.a.99999999999", ann.user().id, file.id));
    server.get(&format!("/d/{fresh}")).await.expect_status(200);

    // Only readers get URLs, and only while they can read.
    let bob = server.register("bob@example.com").await;
    bob.post(
        "/api/v1/download-urls",
        &json!({"node_id": file.id, "disposition": "inline"}),
    )
    .await
    .expect_error(404, "not_found");
    server
        .post("/api/v1/download-urls", &json!({"node_id": file.id}))
        .await
        .expect_error(401, "unauthorized");
    let share = ann.share(folder.id, "bob@example.com", ShareRole::Viewer).await;
    bob.accept(share.id).await;
    let shared = download_url(&bob, json!({"node_id": file.id, "disposition": "attachment"})).await;
    server.get(&shared.url).await.expect_status(200);
    ann.delete(&format!("/api/v1/shares/{}", share.id))
        .await
        .expect_status(204);
    server.get(&shared.url).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn a_zip_of_a_selection_holds_only_the_chosen_children() {
    let server = TestServer::start().await;
    let ann = server.register("ann@example.com").await;
    let folder = ann.create_folder(ann.root(), "Trip").await;
    let sub = ann.create_folder(folder.id, "photos").await;
    let (a, b, c, inner) = (bytes(11, 5000), bytes(12, 6000), bytes(13, 7000), bytes(14, 8000));
    let chosen = ann.upload_file(folder.id, "chosen.txt", &a, None).await;
    ann.upload_file(folder.id, "left-out.txt", &b, None).await;
    let also = ann.upload_file(folder.id, "also.txt", &c, None).await;
    ann.upload_file(sub.id, "beach.jpg", &inner, None).await;

    let url = download_url(
        &ann,
        json!({"node_id": folder.id, "disposition": "attachment", "children": [chosen.id, sub.id, also.id]}),
    )
    .await;
    let resp = server.get(&url.url).await;
    resp.expect_status(200);
    assert_eq!(resp.header("content-type").as_deref(), Some("application/zip"));
    let holds = |bytes: &[u8]| resp.body.windows(bytes.len()).any(|w| w == bytes);
    assert!(holds(&a) && holds(&c), "the chosen files are in the zip");
    assert!(
        holds(&inner) && holds(b"photos/beach.jpg"),
        "a chosen folder comes whole"
    );
    assert!(!holds(&b) && !holds(b"left-out.txt"), "what was not chosen stays out");

    // A child trashed since is left out; the others still come.
    ann.delete(&format!("/api/v1/nodes/{}", also.id))
        .await
        .expect_status(204);
    let resp = server.get(&url.url).await;
    resp.expect_status(200);
    assert!(resp.body.windows(a.len()).any(|w| w == a.as_slice()));
    assert!(
        !resp.body.windows(c.len()).any(|w| w == c.as_slice()),
        "a trashed child is left out"
    );

    // Only children of the folder, of a folder, at least one.
    for (body, status, code) in [
        (json!({"node_id": folder.id, "children": [also.id]}), 404, "not_found"),
        (json!({"node_id": sub.id, "children": [chosen.id]}), 404, "not_found"),
        (
            json!({"node_id": chosen.id, "children": [chosen.id]}),
            400,
            "bad_request",
        ),
        (json!({"node_id": folder.id, "children": []}), 400, "bad_request"),
        (
            json!({"node_id": folder.id, "children": (0..1001).collect::<Vec<i64>>()}),
            400,
            "bad_request",
        ),
    ] {
        ann.post("/api/v1/download-urls", &body)
            .await
            .expect_error(status, code);
    }
    // Someone else's ids are none of the folder's children either.
    let bob = server.register("bob@example.com").await;
    let his = bob.upload_file(bob.root(), "his.txt", &bytes(15, 100), None).await;
    ann.post(
        "/api/v1/download-urls",
        &json!({"node_id": folder.id, "children": [chosen.id, his.id]}),
    )
    .await
    .expect_error(404, "not_found");
}

/// A `/d/` token for `payload`, signed as the server with `secret` signs them.
fn signed_token(secret: &str, payload: &str) -> String {
    let mut derive = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    derive.update(b"download-url");
    let key = derive.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(payload.as_bytes());
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn only_safe_types_are_shown_inline() {
    let server = TestServer::start().await;
    let ann = server.register("ann@example.com").await;
    for (name, inline_type) in [
        ("photo.png", Some("image/png")),
        ("paper.pdf", Some("application/pdf")),
        ("clip.mp4", Some("video/mp4")),
        ("read me.txt", Some("text/plain; charset=utf-8")),
        ("page.html", Some("text/plain; charset=utf-8")),
        ("drawing.svg", Some("text/plain; charset=utf-8")),
        ("feed.xml", Some("text/plain; charset=utf-8")),
        ("tool.exe", None),
        ("movie.swf", None),
    ] {
        let node = ann
            .upload_file(ann.root(), name, b"<script>alert(1)</script>", None)
            .await;
        let url = download_url(&ann, json!({"node_id": node.id, "disposition": "inline"})).await;
        let resp = server.get(&url.url).await;
        resp.expect_status(200);
        let disposition = resp.header("content-disposition").unwrap();
        let kind = resp.header("content-type").unwrap();
        match inline_type {
            Some(expected) => {
                assert!(disposition.starts_with("inline; filename*="), "{name}: {disposition}");
                assert_eq!(kind, expected, "{name}");
            }
            None => assert!(disposition.starts_with("attachment; "), "{name}: {disposition}"),
        }
        // Chromium's PDF viewer refuses to run in a sandbox: an inline PDF
        // may only be framed by the app instead.
        let csp = if name.ends_with(".pdf") {
            "frame-ancestors 'self'"
        } else {
            "sandbox"
        };
        assert_eq!(resp.header("content-security-policy").as_deref(), Some(csp), "{name}");
        assert_eq!(
            resp.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let server = TestServer::start().await;
    let ann = server.register("ann@example.com").await;
    let other = server.login("ann@example.com", "laptop").await;
    let me = ann.me().await;
    assert!(me.quota_bytes > 0, "the quota is in /me");
    assert_eq!(me.used_bytes, 0);

    let path = "/api/v1/account/password";
    ann.post(
        path,
        &json!({"current_password": "not it", "new_password": "a new password"}),
    )
    .await
    .expect_error(403, "wrong_password");
    ann.post(path, &json!({"current_password": PASSWORD, "new_password": "short"}))
        .await
        .expect_error(400, "weak_password");
    server
        .post(
            path,
            &json!({"current_password": PASSWORD, "new_password": "a new password"}),
        )
        .await
        .expect_error(401, "unauthorized");
    other.me().await;

    ann.post(
        path,
        &json!({"current_password": PASSWORD, "new_password": "a new password"}),
    )
    .await
    .expect_status(204);
    ann.me().await;
    other.get("/api/v1/me").await.expect_error(401, "unauthorized");
    server
        .login_raw("ann@example.com", PASSWORD, None)
        .await
        .expect_error(401, "invalid_credentials");
    server
        .login_raw("ann@example.com", "a new password", None)
        .await
        .expect_status(200);
    let status = ann
        .post(
            path,
            &json!({"current_password": PASSWORD, "new_password": "x".repeat(9)}),
        )
        .await;
    assert_eq!(status.status, StatusCode::FORBIDDEN);
}
