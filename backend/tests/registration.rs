//! Who may register (`--registration open|invite|closed`), accounts made and
//! disabled by the operator (`drive-server user ...`, `invite create`), and
//! the per-address limit on registrations.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

async fn register_with_invite(server: &TestServer, email: &str, invite: Option<&str>) -> Resp {
    server
        .post(
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD, "invite": invite}),
        )
        .await
}

#[tokio::test]
async fn a_closed_server_refuses_registration_but_the_operator_adds_accounts() {
    let server = TestServer::start_with(&["--registration", "closed"]).await;
    server
        .register_raw("ann@example.com", PASSWORD, None)
        .await
        .expect_error(403, "registration_closed");
    // An invite does not open a closed server.
    register_with_invite(&server, "ann@example.com", Some("dri_anything"))
        .await
        .expect_error(403, "registration_closed");

    let out = server.admin_ok(
        &["user", "add", "Ann@Example.com", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.contains("ann@example.com"), "{out}");
    let ann = server.login("ann@example.com", "laptop").await;
    assert_eq!(ann.me().await.email, "ann@example.com");
    assert!(
        ann.node(ann.root()).await.name.is_empty(),
        "the account has its root folder"
    );

    // Taken emails, bad emails, short and missing passwords are refused.
    for (args, stdin) in [
        (["user", "add", "ann@example.com"], format!("{PASSWORD}\n")),
        (["user", "add", "not-an-email"], format!("{PASSWORD}\n")),
        (["user", "add", "bob@example.com"], "short\n".to_owned()),
        (["user", "add", "bob@example.com"], String::new()),
    ] {
        let (ok, stdout, stderr) = server.admin(&args, &stdin);
        assert!(!ok, "{args:?} with {stdin:?} succeeded: {stdout}");
        assert!(!stderr.is_empty(), "{args:?} says why it failed");
    }
    server
        .login_raw("bob@example.com", "short", None)
        .await
        .expect_error(401, "invalid_credentials");

    let list = server.admin_ok(&["user", "list"], "");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one account: {list}");
    let columns: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(columns[0], "ann@example.com", "{list}");
    assert_eq!(columns[1], ann.user().id.to_string(), "{list}");
    assert_eq!(columns[3], "-", "not disabled: {list}");
    assert_eq!(columns[4], format!("0/{}", ann.user().quota_bytes), "{list}");
}

#[tokio::test]
async fn an_invite_server_takes_each_valid_invite_once() {
    let server = TestServer::start_with(&["--registration", "invite"]).await;
    register_with_invite(&server, "ann@example.com", None)
        .await
        .expect_error(403, "invalid_invite");
    register_with_invite(&server, "ann@example.com", Some(""))
        .await
        .expect_error(403, "invalid_invite");
    register_with_invite(&server, "ann@example.com", Some("dri_not-a-real-invite"))
        .await
        .expect_error(403, "invalid_invite");

    let token = server.admin_ok(&["invite", "create"], "").trim().to_owned();
    assert!(token.starts_with("dri_") && token.len() > 40, "{token:?}");
    let other = server
        .admin_ok(&["invite", "create", "--expires", "2d"], "")
        .trim()
        .to_owned();
    assert_ne!(token, other, "invites are random");

    // A taken email is answered like a free one, but does not spend the
    // invite (nor change the account); an invalid invite is refused the same
    // for a taken email as for a free one.
    server.admin_ok(&["user", "add", "taken@example.com"], &format!("{PASSWORD}\n"));
    register_with_invite(&server, "taken@example.com", Some("dri_not-a-real-invite"))
        .await
        .expect_error(403, "invalid_invite");
    let taken = server
        .post(
            "/api/v1/auth/register",
            &json!({"email": "taken@example.com", "password": "another password", "invite": token}),
        )
        .await;
    let taken_body = taken.expect_registered();
    server
        .login_raw("taken@example.com", "another password", None)
        .await
        .expect_error(401, "invalid_credentials");
    server.login("taken@example.com", "laptop").await;

    let resp = register_with_invite(&server, "ann@example.com", Some(&token)).await;
    assert_eq!(resp.expect_registered(), taken_body, "the same answer");
    server.login("ann@example.com", "laptop").await;

    // Single-use.
    register_with_invite(&server, "bob@example.com", Some(&token))
        .await
        .expect_error(403, "invalid_invite");
    register_with_invite(&server, "bob@example.com", Some(&other))
        .await
        .expect_registered();
    server.login("bob@example.com", "laptop").await;
    // Spent by bob: a taken email does not make a spent invite usable.
    register_with_invite(&server, "bob@example.com", Some(&other))
        .await
        .expect_error(403, "invalid_invite");

    // Expired.
    let short = server
        .admin_ok(&["invite", "create", "--expires", "1s"], "")
        .trim()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    register_with_invite(&server, "carol@example.com", Some(&short))
        .await
        .expect_error(403, "invalid_invite");

    let (ok, _, stderr) = server.admin(&["invite", "create", "--expires", "soon"], "");
    assert!(!ok, "a bad --expires is refused");
    assert!(stderr.contains("soon"), "{stderr}");
}

#[tokio::test]
async fn an_open_server_ignores_invites() {
    let server = TestServer::start().await;
    register_with_invite(&server, "ann@example.com", Some("dri_whatever"))
        .await
        .expect_registered();
    server.login("ann@example.com", "laptop").await;
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_or_refresh_until_enabled() {
    let server = TestServer::start().await;
    let ann = server.register("ann@example.com").await;
    let laptop = server.login("ann@example.com", "laptop").await;
    let bob = server.register("bob@example.com").await;

    let out = server.admin_ok(&["user", "disable", "ANN@example.com"], "");
    assert!(out.contains("2 sessions revoked"), "{out}");

    server
        .login_raw("ann@example.com", PASSWORD, None)
        .await
        .expect_error(403, "account_disabled");
    // Who does not know the password learns nothing.
    server
        .login_raw("ann@example.com", "wrong password", None)
        .await
        .expect_error(401, "invalid_credentials");
    for client in [&ann, &laptop] {
        server
            .refresh_raw(&client.tokens.refresh_token)
            .await
            .expect_error(403, "account_disabled");
        // The sessions are revoked: the access tokens stop working at once.
        client.get("/api/v1/me").await.expect_error(401, "unauthorized");
    }
    // Others are not affected.
    assert_eq!(bob.me().await.email, "bob@example.com");
    let refreshed = server.refresh_raw(&bob.tokens.refresh_token).await;
    refreshed.expect_status(200);

    let list = server.admin_ok(&["user", "list"], "");
    let disabled: Vec<&str> = list
        .lines()
        .filter(|line| line.split('\t').nth(3).is_some_and(|at| at != "-" && at != "disabled"))
        .collect();
    assert_eq!(disabled.len(), 1, "{list}");
    assert!(disabled[0].starts_with("ann@example.com\t"), "{list}");

    let (ok, _, stderr) = server.admin(&["user", "disable", "nobody@example.com"], "");
    assert!(!ok && stderr.contains("nobody@example.com"), "{stderr}");

    server.admin_ok(&["user", "enable", "ann@example.com"], "");
    let again = server.login("ann@example.com", "desktop").await;
    assert_eq!(again.me().await.email, "ann@example.com");
    // The sessions revoked when it was disabled stay revoked.
    server
        .refresh_raw(&laptop.tokens.refresh_token)
        .await
        .expect_error(401, "invalid_token");
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let server = TestServer::start_with(&["--register-rate-per-ip", "3"]).await;
    // Refused attempts count too.
    server
        .register_raw("bad email", PASSWORD, None)
        .await
        .expect_error(400, "invalid_email");
    for n in 1..=2 {
        server.register(&format!("user{n}@example.com")).await;
    }
    let resp = server.register_raw("user3@example.com", PASSWORD, None).await;
    resp.expect_error(429, "rate_limited");
    let retry_after: u64 = resp
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .expect("Retry-After is seconds");
    // One more registration per 20 minutes at 3 per hour.
    assert!((60..=1201).contains(&retry_after), "{retry_after}");
    // Sign-in is limited separately.
    server.login("user1@example.com", "laptop").await;
}
