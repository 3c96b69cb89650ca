//! Accounts, sign-in, tokens and sessions.

mod common;

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::*;
use drive_wire::{NodeKind, Session, TokenPair};
use reqwest::Method;
use serde_json::{json, Value};

async fn me_with(server: &TestServer, token: &str) -> Resp {
    Resp::read(
        server
            .http
            .get(server.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/v1/me"),
    )
    .await
}

async fn sessions(client: &Client) -> Vec<Session> {
    let resp = client.get("/api/v1/auth/sessions").await;
    resp.expect_status(200);
    resp.parse()
}

#[tokio::test]
async fn register_creates_an_account_with_a_root_folder() {
    let server = TestServer::start().await;
    // No tokens: the answer is the same for a taken email; signing in tells.
    server
        .register_raw("alice@example.com", PASSWORD, Some("ignored"))
        .await
        .expect_registered();
    let resp = server.login_raw("alice@example.com", PASSWORD, Some("laptop")).await;
    resp.expect_status(200);
    let pair: TokenPair = resp.parse();
    assert_eq!(pair.user.email, "alice@example.com");
    assert_eq!(
        pair.user.quota_bytes,
        10 * 1024 * 1024 * 1024,
        "default quota is 10 GiB"
    );
    assert_eq!(pair.user.used_bytes, 0);
    assert_eq!(pair.expires_in, 900, "access tokens live 900 s by default");
    assert!(!pair.access_token.is_empty() && !pair.refresh_token.is_empty());
    let alice = server.client("alice@example.com", pair.clone());

    let me = alice.me().await;
    assert_eq!(me, pair.user);

    let root = alice.node(me.root_id).await;
    assert_eq!(root.kind, NodeKind::Folder);
    assert_eq!(root.parent_id, None);
    assert_eq!(root.name, "");
    assert!(alice.children(me.root_id).await.is_empty());

    let sessions = sessions(&alice).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, pair.session_id);
    assert_eq!(sessions[0].device_name.as_deref(), Some("laptop"));
    assert!(sessions[0].current);

    // A second account gets its own root.
    let bob = server.register("bob@example.com").await;
    assert_ne!(bob.user().id, me.id);
    assert_ne!(bob.root(), me.root_id);
}

/// What an anonymous caller sees of a registration: the status, the headers
/// (but their values that differ on every request) and the body.
fn seen(resp: &Resp) -> (u16, Vec<(String, String)>, Value) {
    let mut headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|(name, value)| {
            let value = match name.as_str() {
                "x-request-id" | "date" => "*".to_owned(),
                _ => value.to_str().unwrap_or("<binary>").to_owned(),
            };
            (name.as_str().to_owned(), value)
        })
        .collect();
    headers.sort();
    (resp.status.as_u16(), headers, resp.json())
}

#[tokio::test]
async fn register_answers_a_taken_email_like_a_free_one_and_changes_nothing() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;

    let free = server.register_raw("bob@example.com", "bob's password", None).await;
    free.expect_registered();
    // The same email however spelled, with another password, and with the same one.
    for (email, password) in [
        ("alice@example.com", "another password"),
        ("  ALICE@Example.com ", "another password"),
        ("alice@example.com", PASSWORD),
    ] {
        let taken = server.register_raw(email, password, Some("phone")).await;
        taken.expect_registered();
        assert_eq!(
            seen(&taken),
            seen(&free),
            "{email:?}: a taken email is answered exactly like a free one"
        );
    }

    // The existing account is unchanged: its password still signs in, the
    // other does not, and its session and files are there.
    server
        .login_raw("alice@example.com", "another password", None)
        .await
        .expect_error(401, "invalid_credentials");
    let again = server.login("alice@example.com", "laptop").await;
    assert_eq!(again.user().id, alice.user().id);
    assert_eq!(again.root(), alice.root());
    assert_eq!(alice.me().await.email, "alice@example.com");
    // The free email did get its account.
    let resp = server.login_raw("bob@example.com", "bob's password", None).await;
    resp.expect_status(200);
    let bob: TokenPair = resp.parse();
    assert_ne!(bob.user.id, alice.user().id);

    // No second account: two in all.
    let list = server.admin_ok(&["user", "list"], "");
    let emails: Vec<&str> = list.lines().skip(1).filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(emails, ["alice@example.com", "bob@example.com"], "{list}");
}

#[tokio::test]
async fn register_refuses_bad_emails_and_weak_passwords() {
    let server = TestServer::start().await;

    for email in [
        "",
        "alice",
        "@example.com",
        "alice@",
        "alice@example",
        "a b@example.com",
    ] {
        let resp = server.register_raw(email, PASSWORD, None).await;
        assert_eq!(resp.status, 400, "email {email:?}: {}", resp.text());
        resp.expect_error(400, "invalid_email");
    }

    for password in ["", "1234567", "short"] {
        let resp = server.register_raw("weak@example.com", password, None).await;
        assert_eq!(resp.status, 400, "password {password:?}: {}", resp.text());
        resp.expect_error(400, "weak_password");
    }
    // Eight characters is enough; the refused attempts did not take the email.
    server
        .register_raw("weak@example.com", "12345678", None)
        .await
        .expect_registered();
    server
        .login_raw("weak@example.com", "12345678", None)
        .await
        .expect_status(200);

    // Malformed bodies.
    server
        .post("/api/v1/auth/register", &json!({"email": "x@example.com"}))
        .await
        .expect_error(400, "bad_request");
    server
        .post_raw("/api/v1/auth/register", None, b"{not json")
        .await
        .expect_status(400)
        .expect_error_shape();
}

#[tokio::test]
async fn login_checks_the_password() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;

    let resp = server.login_raw("alice@example.com", PASSWORD, Some("phone")).await;
    resp.expect_status(200);
    let pair: TokenPair = resp.parse();
    assert_eq!(pair.user.id, alice.user().id);
    assert_ne!(pair.session_id, alice.tokens.session_id, "a login opens a new session");
    me_with(&server, &pair.access_token).await.expect_status(200);

    server
        .login_raw("alice@example.com", "wrong password", None)
        .await
        .expect_error(401, "invalid_credentials");
    // An unknown account reads exactly like a wrong password.
    server
        .login_raw("nobody@example.com", PASSWORD, None)
        .await
        .expect_error(401, "invalid_credentials");
    server
        .login_raw("alice@example.com", "", None)
        .await
        .expect_error(401, "invalid_credentials");
}

#[tokio::test]
async fn login_is_rate_limited_per_account() {
    let server = TestServer::start_with(&["--login-rate-per-account", "3"]).await;
    // Without signing in (which `register` does): every attempt below counts.
    for email in ["alice@example.com", "bob@example.com"] {
        server.register_raw(email, PASSWORD, None).await.expect_registered();
    }

    for attempt in 1..=3 {
        let resp = server.login_raw("alice@example.com", "wrong password", None).await;
        assert_eq!(resp.status, 401, "attempt {attempt}: {}", resp.text());
    }
    let resp = server.login_raw("alice@example.com", "wrong password", None).await;
    resp.expect_error(429, "rate_limited");
    let retry_after: u64 = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("a 429 carries Retry-After: {:?}", resp.headers))
        .parse()
        .expect("Retry-After is a number of seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");

    // While limited, even the right password is refused.
    server
        .login_raw("alice@example.com", PASSWORD, None)
        .await
        .expect_error(429, "rate_limited");

    // Another account is not affected.
    server
        .login_raw("bob@example.com", PASSWORD, None)
        .await
        .expect_status(200);
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let server = TestServer::start_with(&["--login-rate-per-ip", "3"]).await;
    for n in 1..=3 {
        let resp = server
            .login_raw(&format!("user{n}@example.com"), "wrong password", None)
            .await;
        assert_eq!(resp.status, 401, "attempt {n}: {}", resp.text());
    }
    let resp = server.login_raw("user4@example.com", "wrong password", None).await;
    resp.expect_error(429, "rate_limited");
    assert!(resp.header("retry-after").is_some(), "a 429 carries Retry-After");
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let r1 = alice.tokens.refresh_token.clone();

    let resp = server.refresh_raw(&r1).await;
    resp.expect_status(200);
    let second: TokenPair = resp.parse();
    assert_ne!(second.refresh_token, r1, "a refresh issues a new refresh token");
    assert_eq!(second.session_id, alice.tokens.session_id, "same session");
    assert_eq!(second.user.id, alice.user().id);
    me_with(&server, &second.access_token).await.expect_status(200);

    // The new refresh token works in turn.
    let resp = server.refresh_raw(&second.refresh_token).await;
    resp.expect_status(200);
    let third: TokenPair = resp.parse();
    assert_ne!(third.refresh_token, second.refresh_token);
    me_with(&server, &third.access_token).await.expect_status(200);

    // Garbage is refused.
    server
        .refresh_raw("drt_garbage")
        .await
        .expect_error(401, "invalid_token");
    server.refresh_raw("").await.expect_error(401, "invalid_token");
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_session() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let other = server.login("alice@example.com", "other device").await;
    let r1 = alice.tokens.refresh_token.clone();

    let resp = server.refresh_raw(&r1).await;
    resp.expect_status(200);
    let second: TokenPair = resp.parse();

    // r1 again: it must have been stolen.
    server.refresh_raw(&r1).await.expect_error(401, "invalid_token");
    // The whole session is revoked: the new refresh token and the access token fail.
    server
        .refresh_raw(&second.refresh_token)
        .await
        .expect_error(401, "invalid_token");
    me_with(&server, &second.access_token).await.expect_status(401);
    // Another session of the same account is untouched.
    other.me().await;
    let listed = sessions(&other).await;
    assert_eq!(listed.len(), 1, "the revoked session is no longer listed: {listed:?}");
    assert_eq!(listed[0].id, other.tokens.session_id);
}

#[tokio::test]
async fn reusing_an_older_refresh_token_also_revokes_the_session() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let r1 = alice.tokens.refresh_token.clone();
    let resp = server.refresh_raw(&r1).await;
    resp.expect_status(200);
    let second: TokenPair = resp.parse();
    let resp = server.refresh_raw(&second.refresh_token).await;
    resp.expect_status(200);
    let third: TokenPair = resp.parse();

    // r1 was spent two rotations ago: still a used token, presented again.
    server.refresh_raw(&r1).await.expect_error(401, "invalid_token");
    server
        .refresh_raw(&third.refresh_token)
        .await
        .expect_error(401, "invalid_token");
    me_with(&server, &third.access_token).await.expect_status(401);
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let phone = server.login("alice@example.com", "phone").await;

    alice.post_empty("/api/v1/auth/logout").await.expect_status(204);
    alice.get("/api/v1/me").await.expect_status(401);
    server
        .refresh_raw(&alice.tokens.refresh_token)
        .await
        .expect_error(401, "invalid_token");
    // Logging out again with the dead token is refused.
    alice.post_empty("/api/v1/auth/logout").await.expect_status(401);

    // The other device stays signed in.
    phone.me().await;
    let listed = sessions(&phone).await;
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![phone.tokens.session_id]
    );
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_per_device() {
    let server = TestServer::start().await;
    let laptop = server.register("alice@example.com").await;
    let phone = server.login("alice@example.com", "phone").await;

    let listed = sessions(&phone).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1, "exactly one current session: {listed:?}");
    assert_eq!(current[0].id, phone.tokens.session_id);
    assert_eq!(current[0].device_name.as_deref(), Some("phone"));
    let laptop_entry = listed
        .iter()
        .find(|s| s.id == laptop.tokens.session_id)
        .expect("the laptop's session is listed");
    assert!(!laptop_entry.current);
    assert_eq!(laptop_entry.device_name.as_deref(), Some("test-device"));

    let from_laptop = sessions(&laptop).await;
    assert!(from_laptop
        .iter()
        .all(|s| s.current == (s.id == laptop.tokens.session_id)));

    // The phone signs the laptop out: at once, not when its access token expires.
    phone
        .delete(&format!("/api/v1/auth/sessions/{}", laptop.tokens.session_id))
        .await
        .expect_status(204);
    laptop.get("/api/v1/me").await.expect_status(401);
    server
        .refresh_raw(&laptop.tokens.refresh_token)
        .await
        .expect_error(401, "invalid_token");
    let listed = sessions(&phone).await;
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![phone.tokens.session_id]
    );

    // Unknown or already revoked sessions.
    phone
        .delete(&format!("/api/v1/auth/sessions/{}", laptop.tokens.session_id))
        .await
        .expect_error(404, "not_found");
    phone
        .delete("/api/v1/auth/sessions/999999")
        .await
        .expect_error(404, "not_found");

    // Revoking one's own session is signing out.
    phone
        .delete(&format!("/api/v1/auth/sessions/{}", phone.tokens.session_id))
        .await
        .expect_status(204);
    phone.get("/api/v1/me").await.expect_status(401);
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let server = TestServer::start_with(&["--access-token-ttl", "2"]).await;
    let alice = server.register("alice@example.com").await;
    assert_eq!(alice.tokens.expires_in, 2);
    alice.me().await;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    alice.get("/api/v1/me").await.expect_status(401).expect_error_shape();
    // The refresh token still opens a new access token.
    let resp = server.refresh_raw(&alice.tokens.refresh_token).await;
    resp.expect_status(200);
    let pair: TokenPair = resp.parse();
    me_with(&server, &pair.access_token).await.expect_status(200);
}

fn tamper_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "an access token is a JWT: {token}");
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("the JWT payload is base64url"))
            .expect("the JWT payload is JSON");
    edit(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("JSON"));
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn garbage_tampered_and_missing_tokens_are_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let token = alice.token().to_owned();

    let mut tampered_sig: Vec<char> = token.chars().collect();
    let middle = token.rfind('.').expect("a JWT has dots") + 10;
    tampered_sig[middle] = if tampered_sig[middle] == 'A' { 'B' } else { 'A' };
    let tampered_sig: String = tampered_sig.into_iter().collect();

    let as_bob = tamper_payload(&token, |p| {
        p["sub"] = json!(bob.user().id);
        if p.get("sid").is_some() {
            p["sid"] = json!(bob.tokens.session_id);
        }
    });
    let longer = tamper_payload(&token, |p| {
        if let Some(exp) = p["exp"].as_u64() {
            p["exp"] = json!(exp + 100_000);
        }
    });
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = {
        let payload = token.split('.').nth(1).expect("a JWT payload");
        format!("{header_none}.{payload}.")
    };

    // A token signed by another server (another secret).
    let other_server = TestServer::start().await;
    let foreign = other_server.register("alice@example.com").await;

    for (what, bad) in [
        ("garbage", "garbage".to_owned()),
        ("empty", String::new()),
        ("tampered signature", tampered_sig),
        ("payload changed to bob", as_bob),
        ("expiry extended", longer),
        ("alg none", unsigned),
        ("another server's token", foreign.token().to_owned()),
        ("a refresh token", alice.tokens.refresh_token.clone()),
    ] {
        let resp = me_with(&server, &bad).await;
        assert_eq!(resp.status, 401, "{what}: {}", resp.text());
        resp.expect_error_shape();
    }

    // No Authorization header, or another scheme.
    for path in [
        "/api/v1/me",
        "/api/v1/auth/sessions",
        "/api/v1/trash",
        "/api/v1/changes",
        &format!("/api/v1/nodes/{}", alice.root()),
        &format!("/api/v1/nodes/{}/children", alice.root()),
    ] {
        let resp = server.get(path).await;
        assert_eq!(resp.status, 401, "GET {path} without a token: {}", resp.text());
        resp.expect_error_shape();
        let resp = Resp::read(
            server
                .http
                .get(server.url(path))
                .header("authorization", format!("Basic {token}"))
                .send()
                .await
                .expect("GET"),
        )
        .await;
        assert_eq!(resp.status, 401, "GET {path} with Basic: {}", resp.text());
    }
    for (method, path) in [
        (Method::POST, "/api/v1/auth/logout"),
        (Method::POST, "/api/v1/folders"),
        (Method::POST, "/api/v1/uploads"),
        (Method::POST, "/api/v1/commits"),
        (Method::DELETE, "/api/v1/trash"),
    ] {
        let resp = Resp::read(
            server
                .http
                .request(method.clone(), server.url(path))
                .json(&json!({"parent_id": alice.root(), "name": "x", "blocks": [], "modified": now_ms()}))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(resp.status, 401, "{method} {path} without a token: {}", resp.text());
    }
    // Nothing was done in alice's name.
    assert!(alice.children(alice.root()).await.is_empty());
    alice.me().await;
}
