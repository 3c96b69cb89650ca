use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use reqwest::StatusCode;

use super::{error::parse_retry_after, *};

fn error(status: u16, body: &str) -> RemoteError {
    let status = StatusCode::from_u16(status).expect("valid status");
    RemoteError::from_response(status, Some(Duration::from_secs(7)), body.as_bytes())
}

fn user_json() -> serde_json::Value {
    serde_json::json!({"id": 1, "email": "a@b.c", "root_id": 1, "quota_bytes": 10, "used_bytes": 0,
        "created_at": "2026-01-01T00:00:00Z"})
}

#[test]
fn maps_the_servers_error_codes() {
    let node = serde_json::json!({"id": 5, "parent_id": 1, "name": "a.txt", "kind": "file", "size": 3,
        "revision": 9, "modified": "2026-01-01T00:00:00Z", "trashed_at": null});
    let body = serde_json::json!({"error": {"code": "stale_revision", "message": "m", "current": node}});
    match error(409, &body.to_string()) {
        RemoteError::StaleRevision { current: Some(node) } => assert_eq!(node.revision, Some(9)),
        other => panic!("{other:?}"),
    }
    let stale = error(409, r#"{"error":{"code":"stale_revision","message":"m"}}"#);
    assert!(matches!(stale, RemoteError::StaleRevision { current: None }));
    let hash = "ab".repeat(32);
    let body = format!(r#"{{"error":{{"code":"missing_blocks","message":"m","missing":["{hash}"]}}}}"#);
    match error(400, &body) {
        RemoteError::MissingBlocks(missing) => assert_eq!(missing[0].to_string(), hash),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        error(409, r#"{"error":{"code":"name_taken","message":"m"}}"#),
        RemoteError::NameTaken
    ));
    assert!(matches!(
        error(404, r#"{"error":{"code":"not_found","message":"m"}}"#),
        RemoteError::NotFound
    ));
    let quota = error(413, r#"{"error":{"code":"quota_exceeded","message":"full"}}"#);
    assert!(matches!(quota, RemoteError::QuotaExceeded { message } if message == "full"));
    let creds = error(401, r#"{"error":{"code":"invalid_credentials","message":"m"}}"#);
    assert!(matches!(creds, RemoteError::InvalidCredentials));
    let token = error(401, r#"{"error":{"code":"invalid_token","message":"gone"}}"#);
    assert!(matches!(token, RemoteError::Unauthorized { message } if message == "gone"));
    let limited = error(429, r#"{"error":{"code":"rate_limited","message":"m"}}"#);
    assert!(matches!(limited, RemoteError::RateLimited { retry_after } if retry_after.as_secs() == 7));
    let name = error(400, r#"{"error":{"code":"invalid_name","message":"bad"}}"#);
    assert!(
        matches!(name, RemoteError::Rejected { status: 400, code, message } if code == "invalid_name" && message == "bad")
    );
    let viewer = error(403, r#"{"error":{"code":"read_only","message":"m"}}"#);
    assert!(matches!(viewer, RemoteError::ReadOnly));
    let internal = error(500, r#"{"error":{"code":"internal","message":"internal error"}}"#);
    assert!(matches!(internal, RemoteError::Server { status: 500, .. }));
}

#[test]
fn maps_foreign_error_bodies() {
    assert!(matches!(error(502, "<html>Bad Gateway</html>"),
        RemoteError::Server { status: 502, message } if message == "<html>Bad Gateway</html>"));
    assert!(matches!(error(403, ""),
        RemoteError::Rejected { status: 403, code, message } if code == "http_403" && message == "Forbidden"));
    let long = "x".repeat(10_000);
    assert!(matches!(error(400, &long), RemoteError::Rejected { message, .. } if message.len() == MAX_ERROR_TEXT));
}

#[test]
fn only_what_may_pass_by_itself_is_transient() {
    assert!(error(503, "").is_transient());
    assert!(error(429, "").is_transient());
    assert!(!error(400, "").is_transient());
    assert!(!error(404, "").is_transient());
    assert!(!error(403, "").is_transient());
    assert!(!error(403, r#"{"error":{"code":"read_only","message":"m"}}"#).is_transient());
    assert!(!error(409, r#"{"error":{"code":"stale_revision","message":"m"}}"#).is_transient());
    assert!(!RemoteError::Unauthorized { message: String::new() }.is_transient());
}

#[test]
fn joins_urls() {
    assert_eq!(api_url("http://h:8080/", "/me"), "http://h:8080/api/v1/me");
    assert_eq!(api_url("https://h", "/nodes/3"), "https://h/api/v1/nodes/3");
    assert_eq!(block_url("http://h/", "/blobs/ab?sig=1"), "http://h/blobs/ab?sig=1");
    assert_eq!(block_url("http://h", "https://cdn/blobs/ab"), "https://cdn/blobs/ab");
}

#[test]
fn parses_retry_after() {
    assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn session_debug_hides_tokens() {
    let user: User = serde_json::from_value(user_json()).expect("user");
    let session = Session {
        server: "s".into(),
        access_token: "AT".into(),
        refresh_token: "RT".into(),
        user,
    };
    let shown = format!("{session:?}");
    assert!(!shown.contains("AT") && !shown.contains("RT"), "{shown}");
}

#[tokio::test]
async fn retries_only_transient_failures() {
    let tries = AtomicUsize::new(0);
    let answer: Result<()> = retrying("t", || async {
        tries.fetch_add(1, Ordering::SeqCst);
        Err(RemoteError::NotFound)
    })
    .await;
    assert!(matches!(answer, Err(RemoteError::NotFound)));
    assert_eq!(tries.swap(0, Ordering::SeqCst), 1);
    let answer = retrying("t", || async {
        match tries.fetch_add(1, Ordering::SeqCst) {
            0 => Err(RemoteError::Server {
                status: 503,
                message: String::new(),
            }),
            _ => Ok(42),
        }
    })
    .await;
    assert_eq!(answer.ok(), Some(42));
    assert_eq!(tries.load(Ordering::SeqCst), 2);
}

/// A stand-in HTTP server on loopback: `answer` gets each request's
/// head (lower-cased) and JSON body, and gives the status line and body.
async fn fake<F, Fut>(answer: F) -> String
where
    F: Fn(String, serde_json::Value) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = (&'static str, String)> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: ")?.trim().parse().ok());
                let mut body = vec![0; length.unwrap_or(0)];
                let _ = socket.read_exact(&mut body).await;
                let body = serde_json::from_slice(&body).unwrap_or_default();
                let (status, answer) = answer(head, body).await;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/")
}

/// A stand-in server: `/me` wants the refreshed token, and every refresh is counted.
async fn fake_server(refreshes: Arc<AtomicUsize>) -> String {
    fake(move |head, _| {
        let refreshes = refreshes.clone();
        async move {
            if head.starts_with("post /api/v1/auth/refresh") {
                refreshes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                let pair = serde_json::json!({"access_token": "new", "expires_in": 900,
                    "refresh_token": "r2", "session_id": 1, "user": user_json()});
                ("200 OK", pair.to_string())
            } else if head.contains("authorization: bearer new") {
                ("200 OK", user_json().to_string())
            } else {
                (
                    "401 Unauthorized",
                    r#"{"error":{"code":"unauthorized","message":"expired"}}"#.to_owned(),
                )
            }
        }
    })
    .await
}

/// A stand-in server that accepts every registration (202, no tokens)
/// and signs in only with `password`; it records the paths asked.
async fn fake_accounts(password: &'static str, asked: Arc<std::sync::Mutex<Vec<String>>>) -> String {
    fake(move |head, body| {
        let asked = asked.clone();
        async move {
            let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
            asked.lock().expect("lock").push(path.clone());
            match path.as_str() {
                "/api/v1/auth/register" => (
                    "202 Accepted",
                    serde_json::json!({"status": "created_or_exists", "message": "sign in"}).to_string(),
                ),
                "/api/v1/auth/login" if body["password"] == password => {
                    let pair = serde_json::json!({"access_token": "a", "expires_in": 900,
                        "refresh_token": "r", "session_id": 1, "user": user_json()});
                    ("200 OK", pair.to_string())
                }
                _ => (
                    "401 Unauthorized",
                    r#"{"error":{"code":"invalid_credentials","message":"wrong email or password"}}"#.to_owned(),
                ),
            }
        }
    })
    .await
}

#[tokio::test]
async fn register_signs_in_and_says_when_the_email_may_be_taken() {
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = fake_accounts("right password", asked.clone()).await;
    let session = Remote::register(&server, "a@b.c", "right password", "laptop")
        .await
        .expect("registered and signed in");
    assert_eq!(session.access_token, "a");
    assert_eq!(session.user.email, "a@b.c");
    assert_eq!(
        *asked.lock().expect("lock"),
        ["/api/v1/auth/register", "/api/v1/auth/login"]
    );

    // The server's answer to the registration was the same; the sign-in fails.
    let error = Remote::register(&server, "a@b.c", "another password", "laptop")
        .await
        .expect_err("the sign-in fails");
    assert!(matches!(error, RemoteError::EmailMayBeTaken), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("may already exist") && message.contains("sign in"),
        "{message}"
    );
}

#[tokio::test]
async fn concurrent_401s_share_one_refresh() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let server = fake_server(refreshes.clone()).await;
    let user: User = serde_json::from_value(user_json()).expect("user");
    let session = Session {
        server,
        access_token: "old".into(),
        refresh_token: "r1".into(),
        user,
    };
    let persisted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = persisted.clone();
    let remote = Remote::new(session, move |s: &Session| {
        log.lock().expect("lock").push(s.refresh_token.clone());
    })
    .expect("client");
    let calls = (0..8).map(|_| remote.me());
    for answer in futures::future::join_all(calls).await {
        assert_eq!(answer.expect("me").email, "a@b.c");
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(*persisted.lock().expect("lock"), vec!["r2".to_owned()]);
    assert_eq!(remote.session().await.access_token, "new");
}
