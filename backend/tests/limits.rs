//! Limits that hold in production: the client address behind trusted
//! proxies (`--trusted-proxy`), rate limits shared by every instance of one
//! database, `Retry-After` on every 429, and password hashing bounded
//! (`--hash-concurrency`) so that a burst of sign-ins queues instead of
//! failing.

mod common;

use std::path::PathBuf;

use common::*;
use drive_wire::{AuditKind, AuditPage, CreateLinkRequest, Link};
use futures::future::join_all;

/// A sign-in attempt with these extra headers (`X-Forwarded-For`, `Forwarded`).
async fn login_with(server: &TestServer, email: &str, password: &str, headers: &[(&str, &str)]) -> Resp {
    let mut request = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({
            "email": email,
            "password": password,
        }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Resp::read(request.send().await.expect("POST /api/v1/auth/login")).await
}

/// The seconds of a 429's (or 503's) `Retry-After`, which it must have.
fn retry_after(resp: &Resp) -> u64 {
    resp.header("retry-after")
        .unwrap_or_else(|| panic!("a {} carries Retry-After: {:?}", resp.status, resp.headers))
        .parse()
        .expect("Retry-After is a number of seconds")
}

fn limited(resp: &Resp, most: u64) -> u64 {
    resp.expect_error(429, "rate_limited");
    let secs = retry_after(resp);
    assert!((1..=most).contains(&secs), "Retry-After {secs}");
    secs
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let xff = |value: &'static str| [("x-forwarded-for", value)];
    let limits = ["--login-rate-per-ip", "3", "--login-rate-per-account", "100"];

    // No trusted proxy: the header is the caller's say-so, and every attempt
    // counts for the peer, 127.0.0.1, whatever it claims.
    let direct = TestServer::start_with(&limits).await;
    for n in 1..=3 {
        let resp = login_with(
            &direct,
            &format!("u{n}@example.com"),
            "wrong password",
            &xff("203.0.113.9"),
        )
        .await;
        assert_eq!(resp.status, 401, "attempt {n}: {}", resp.text());
    }
    let resp = login_with(&direct, "u4@example.com", "wrong password", &xff("198.51.100.7")).await;
    limited(&resp, 60);
    limited(&login_with(&direct, "u5@example.com", "wrong password", &[]).await, 60);

    // Behind a trusted proxy (127.0.0.1, in a comma list): per forwarded address.
    let mut args = limits.to_vec();
    args.extend(["--trusted-proxy", "10.0.0.0/8,127.0.0.1/32"]);
    let proxied = TestServer::start_with(&args).await;
    for n in 1..=3 {
        let resp = login_with(
            &proxied,
            &format!("u{n}@example.com"),
            "wrong password",
            &xff("203.0.113.9"),
        )
        .await;
        assert_eq!(resp.status, 401, "attempt {n}: {}", resp.text());
    }
    limited(
        &login_with(&proxied, "u4@example.com", "wrong password", &xff("203.0.113.9")).await,
        60,
    );
    // Another client behind the proxy still passes, and so does the proxy itself.
    let resp = login_with(&proxied, "u5@example.com", "wrong password", &xff("198.51.100.7")).await;
    assert_eq!(resp.status, 401, "{}", resp.text());
    let resp = login_with(&proxied, "u6@example.com", "wrong password", &[]).await;
    assert_eq!(resp.status, 401, "{}", resp.text());
    // The right-most untrusted hop is the client: what the client itself
    // put on the left changes nothing.
    limited(
        &login_with(
            &proxied,
            "u7@example.com",
            "wrong password",
            &xff("198.51.100.99, 203.0.113.9"),
        )
        .await,
        60,
    );
    limited(
        &login_with(
            &proxied,
            "u8@example.com",
            "wrong password",
            &xff("198.51.100.99, 203.0.113.9, 10.1.2.3"),
        )
        .await,
        60,
    );
    let resp = login_with(
        &proxied,
        "u9@example.com",
        "wrong password",
        &xff("203.0.113.9, 198.51.100.8"),
    )
    .await;
    assert_eq!(resp.status, 401, "{}", resp.text());
    // `Forwarded: for=` when there is no X-Forwarded-For.
    limited(
        &login_with(
            &proxied,
            "u10@example.com",
            "wrong password",
            &[("forwarded", "for=203.0.113.9;proto=https")],
        )
        .await,
        60,
    );
    let resp = login_with(
        &proxied,
        "u11@example.com",
        "wrong password",
        &[("forwarded", "for=\"[2001:db8::5]:4711\"")],
    )
    .await;
    assert_eq!(resp.status, 401, "{}", resp.text());
    // An IPv6 client counts per /64: a host picks its address from one.
    for n in 1..=3 {
        let resp = login_with(
            &proxied,
            &format!("v6-{n}@example.com"),
            "wrong password",
            &xff("2001:db8:0:1::a"),
        )
        .await;
        assert_eq!(resp.status, 401, "attempt {n}: {}", resp.text());
    }
    limited(
        &login_with(
            &proxied,
            "v6-4@example.com",
            "wrong password",
            &xff("2001:db8:0:1:ffff::b"),
        )
        .await,
        60,
    );
}

#[tokio::test]
async fn the_audit_log_keeps_the_forwarded_address() {
    let server = TestServer::start_with(&["--trusted-proxy", "127.0.0.1"]).await;
    let alice = server.register("alice@example.com").await;
    let path = password_link(&server, &alice).await;
    let resp = server
        .http
        .post(server.url(&path))
        .header("x-forwarded-for", "203.0.113.9")
        .form(&[("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let page: AuditPage = alice.get("/api/v1/audit").await.expect_status(200).parse();
    let failed = page
        .events
        .iter()
        .find(|event| event.kind == AuditKind::LinkPasswordFailed)
        .expect("the failed attempt is logged");
    assert_eq!(failed.ip.as_deref(), Some("203.0.113.9"));
}

#[tokio::test]
async fn every_429_says_when_to_retry() {
    let server = TestServer::start_with(&[
        "--login-rate-per-account",
        "2",
        "--login-rate-per-ip",
        "1000",
        "--register-rate-per-ip",
        "2",
    ])
    .await;
    // Registering signs in (the harness's `register`): the first sign-in.
    let alice = server.register("alice@example.com").await;

    // Sign-in, per account: 2 a minute, one back every 30 s.
    for _ in 0..1 {
        server
            .login_raw("alice@example.com", "wrong password", None)
            .await
            .expect_status(401);
    }
    let first = limited(&server.login_raw("alice@example.com", PASSWORD, None).await, 30);
    assert!(first >= 25, "Retry-After {first}");
    // Refused attempts cost nothing: the wait does not grow.
    let again = limited(&server.login_raw("alice@example.com", PASSWORD, None).await, 30);
    assert!(again <= first, "{again} > {first}");

    // Registration, per address: 2 an hour (alice was the first).
    server.register("bob@example.com").await;
    let secs = limited(&server.register_raw("carol@example.com", PASSWORD, None).await, 1800);
    assert!(secs >= 1700, "one registration back every 30 min: {secs}");

    // A link's password, per link and address: 2 a minute, on an HTML page.
    let path = password_link(&server, &alice).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = server
            .http
            .post(server.url(&path))
            .form(&[("password", "wrong")])
            .send()
            .await
            .unwrap();
        let resp = Resp::read(resp).await;
        if resp.status == 429 {
            let secs = retry_after(&resp);
            assert!((1..=30).contains(&secs), "Retry-After {secs}");
        }
        statuses.push(resp.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
}

/// A database two servers share: a fresh PostgreSQL database with
/// `DRIVE_TEST_DATABASE_URL`, else one SQLite file.
struct SharedDatabase {
    url: String,
    admin: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl SharedDatabase {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("DRIVE_TEST_DATABASE_URL") {
            Ok(admin_url) => {
                let name = format!("t_shared_{}", uuid::Uuid::new_v4().simple());
                psql(&admin_url, &format!("CREATE DATABASE {name}"));
                let mut url = reqwest::Url::parse(&admin_url).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    admin: Some((admin_url, name)),
                    _dir: dir,
                }
            }
            Err(_) => {
                let file: PathBuf = dir.path().join("shared.db");
                Self {
                    url: format!("sqlite://{}", file.display()),
                    admin: None,
                    _dir: dir,
                }
            }
        }
    }
}

impl Drop for SharedDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.admin {
            psql(admin_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn psql(url: &str, sql: &str) {
    let output = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("running psql");
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn two_instances_on_one_database_share_the_limits() {
    // Declared first, dropped last: after both servers.
    let database = SharedDatabase::new();
    let args = [
        "--database-url",
        database.url.as_str(),
        "--secret",
        "one-secret-for-every-instance-0123456789",
        "--login-rate-per-account",
        "4",
        "--login-rate-per-ip",
        "1000",
        "--register-rate-per-ip",
        "3",
    ];
    let a = TestServer::start_with(&args).await;
    let b = TestServer::start_with(&args).await;

    // Sign-in attempts on one instance count on the other (registering
    // signed in on A: the first of the 4).
    a.register("alice@example.com").await;
    for (n, server) in [&b, &a, &b].into_iter().enumerate() {
        let resp = server.login_raw("alice@example.com", "wrong password", None).await;
        assert_eq!(resp.status, 401, "attempt {n}: {}", resp.text());
    }
    limited(&b.login_raw("alice@example.com", PASSWORD, None).await, 15);
    limited(&a.login_raw("alice@example.com", PASSWORD, None).await, 15);
    // Another account is not affected, on either.
    b.register("bob@example.com").await;
    b.login("bob@example.com", "laptop").await;

    // Registrations per address too: alice on A, bob on B, one more on A.
    a.register("carol@example.com").await;
    limited(&b.register_raw("dave@example.com", PASSWORD, None).await, 1200);
    limited(&a.register_raw("dave@example.com", PASSWORD, None).await, 1200);
}

#[tokio::test]
async fn a_burst_of_sign_ins_queues_for_the_hasher() {
    let server = TestServer::start_with(&[
        "--hash-concurrency",
        "1",
        "--hash-queue-timeout",
        "120",
        "--login-rate-per-ip",
        "1000",
        "--login-rate-per-account",
        "1000",
    ])
    .await;
    server.register("alice@example.com").await;
    let attempts = (0..16).map(|n| {
        let password = if n % 2 == 0 { PASSWORD } else { "wrong password" };
        login_with(&server, "alice@example.com", password, &[])
    });
    let statuses: Vec<u16> = join_all(attempts).await.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 8, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 8, "{statuses:?}");
}

#[tokio::test]
async fn a_sign_in_that_waits_too_long_for_the_hasher_is_told_when_to_retry() {
    let server = TestServer::start_with(&[
        "--hash-concurrency",
        "1",
        "--hash-queue-timeout",
        "1",
        "--login-rate-per-ip",
        "1000",
        "--login-rate-per-account",
        "1000",
    ])
    .await;
    server.register("alice@example.com").await;
    let attempts = (0..40).map(|_| login_with(&server, "alice@example.com", PASSWORD, &[]));
    let answers = join_all(attempts).await;
    let mut busy = 0;
    for resp in &answers {
        match resp.status.as_u16() {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(resp.code().as_deref(), Some("unavailable"));
                retry_after(resp);
            }
            other => panic!("{other}: {}", resp.text()),
        }
    }
    eprintln!("{busy} of {} waited too long", answers.len());
    assert!(busy < answers.len(), "some got their turn");
}

/// The path of a public link, with a password, to a new file of `owner`'s.
async fn password_link(server: &TestServer, owner: &Client) -> String {
    let file = owner.upload_file(owner.root(), "a.txt", b"hello", None).await;
    let link: Link = owner
        .post(
            "/api/v1/links",
            &CreateLinkRequest {
                node_id: file.id,
                expires_at: None,
                password: Some("open sesame".into()),
                max_downloads: None,
            },
        )
        .await
        .expect_status(201)
        .parse();
    let url = link.url.expect("a new link's URL");
    url.strip_prefix(&server.base)
        .expect("a link on this server")
        .to_owned()
}
