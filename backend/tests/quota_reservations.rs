//! Blocks uploaded and not yet committed count against the uploader's quota
//! (upload reservations, see `uploads.rs`): until committed, or until their
//! reservation (`--upload-reservation`) expires.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Waits until `deadline` (a moment measured by the test, not asserted).
async fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        tokio::time::sleep(deadline - now).await;
    }
}

#[tokio::test]
async fn uploads_never_committed_are_refused_once_their_reservations_reach_the_quota() {
    let mut server = TestServer::start_with(&["--default-quota", "300000"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();

    // Twenty files of 100,000 bytes asked for and PUT, none committed: three fit.
    let mut accepted = Vec::new();
    for n in 0..20u64 {
        let (request, blocks) = commit_request(root, &format!("f{n}.bin"), &bytes(n, 100_000), None);
        let resp = alice.plan(&request).await;
        if resp.status == 200 {
            alice.put_missing(&resp.parse(), &blocks).await;
            accepted.push(request);
        } else {
            let body = resp.expect_error(413, "quota_exceeded");
            assert!(
                body["error"]["message"].as_str().unwrap_or_default().contains("300000"),
                "{body}"
            );
        }
    }
    assert_eq!(accepted.len(), 3, "three files of 100,000 bytes fit in 300,000");
    assert_eq!(alice.me().await.used_bytes, 0, "nothing is committed");

    // Asking again for a reserved upload does not count it twice.
    alice.plan_ok(&accepted[0]).await;

    // Committed, each counts once: as the file, no longer as a reservation.
    for request in &accepted {
        alice.commit(request).await.expect_status(201);
    }
    assert_eq!(alice.me().await.used_bytes, 300_000);
    let (request, _) = commit_request(root, "more.bin", &bytes(99, 1000), None);
    alice.plan(&request).await.expect_error(413, "quota_exceeded");

    // The reservations were the uploader's: another account is not affected.
    let bob = server.register("bob@example.com").await;
    bob.upload_file(bob.root(), "b.bin", &bytes(100, 300_000), None).await;
    server.check();
}

#[tokio::test]
async fn a_commit_releases_its_reservations_and_counts_the_others() {
    let mut server = TestServer::start_with(&["--default-quota", "250000"]).await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let root = alice.root();
    // Content alice can read already (bob's, shared with her): asking for
    // it reserves nothing.
    let shared = bytes(3, 100_000);
    let folder = bob.create_folder(bob.root(), "for alice").await;
    bob.upload_file(folder.id, "x.bin", &shared, None).await;
    let share = bob
        .share(folder.id, "alice@example.com", drive_wire::ShareRole::Viewer)
        .await;
    alice.accept(share.id).await;

    let mut requests = Vec::new();
    for n in 1..=2u64 {
        let (request, blocks) = commit_request(root, &format!("f{n}.bin"), &bytes(n, 100_000), None);
        let plan = alice.plan_ok(&request).await;
        assert_eq!(plan.missing.len(), 2);
        alice.put_missing(&plan, &blocks).await;
        requests.push(request);
    }
    // 200,000 reserved: a third file of 100,000 does not fit, not even one
    // whose blocks are all stored, at either step.
    let (copy, _) = commit_request(root, "copy.bin", &shared, None);
    alice.plan(&copy).await.expect_error(413, "quota_exceeded");
    alice.commit(&copy).await.expect_error(413, "quota_exceeded");

    // Committing f1 releases its reservation (were it counted with the file,
    // 100,000 + 200,000 would not fit in 250,000) ...
    alice.commit(&requests[0]).await.expect_status(201);
    assert_eq!(alice.me().await.used_bytes, 100_000);
    // ... but f2's still counts.
    alice.commit(&copy).await.expect_error(413, "quota_exceeded");
    alice.plan(&copy).await.expect_error(413, "quota_exceeded");
    alice.commit(&requests[1]).await.expect_status(201);
    assert_eq!(alice.me().await.used_bytes, 200_000);

    // With no reservation left, the room is the quota's: 50,000.
    alice.upload_file(root, "small.bin", &bytes(4, 50_000), None).await;
    assert_eq!(alice.me().await.used_bytes, 250_000);

    // Replacing a file with a smaller one still fits a full account when its
    // new blocks fit in what it frees.
    let f1 = alice.lookup("/f1.bin").await;
    f1.expect_status(200);
    let f1: drive_wire::Node = f1.parse();
    alice.upload_file(root, "f1.bin", &bytes(5, 40_000), f1.revision).await;
    assert_eq!(alice.me().await.used_bytes, 190_000);
    server.check();
}

#[tokio::test]
async fn an_expired_reservation_no_longer_counts_and_asking_again_reserves_anew() {
    let mut server = TestServer::start_with(&["--default-quota", "100000", "--upload-reservation", "1"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let (a, a_blocks) = commit_request(root, "a.bin", &bytes(1, 100_000), None);
    let (b, b_blocks) = commit_request(root, "b.bin", &bytes(2, 100_000), None);

    // a is asked for (not PUT): b does not fit while a's reservation lives.
    alice.plan_ok(&a).await;
    let reserved = Instant::now();
    alice.plan(&b).await.expect_error(413, "quota_exceeded");

    // Past its expiry, a no longer counts: b fits, and reserves.
    wait_until(reserved + Duration::from_millis(2500)).await;
    let plan = alice.plan_ok(&b).await;
    alice.put_missing(&plan, &b_blocks).await;
    // Asking for a again reserves it anew, and it counts again: refused.
    alice.plan(&a).await.expect_error(413, "quota_exceeded");

    // b's reservation expires too; a then fits, and b's blocks (PUT, not
    // committed) are for the garbage collector.
    let reserved = Instant::now();
    wait_until(reserved + Duration::from_millis(2500)).await;
    let plan = alice.plan_ok(&a).await;
    alice.put_missing(&plan, &a_blocks).await;
    alice.commit(&a).await.expect_status(201);
    assert_eq!(alice.me().await.used_bytes, 100_000);
    // b's blocks are stored, but its upload's lifetime is over: they prove
    // nothing any more (see possession.rs), so committing b asks for them.
    alice.commit(&b).await.expect_error(400, "missing_blocks");

    // A pass of the collector deletes the expired reservations (b's; the
    // unit test in gc.rs checks which rows go): here, that it runs with them.
    server.gc_once(&[]);
    server.check();
}

#[tokio::test]
async fn asking_again_does_not_extend_a_reservation() {
    const LIFETIME: Duration = Duration::from_secs(4);
    let mut server = TestServer::start_with(&["--default-quota", "100000", "--upload-reservation", "4"]).await;
    let alice = server.register("alice@example.com").await;
    let root = alice.root();
    let (a, _) = commit_request(root, "a.bin", &bytes(1, 100_000), None);
    let (b, _) = commit_request(root, "b.bin", &bytes(2, 100_000), None);

    alice.plan_ok(&a).await;
    // The reservation was made before this: it expires by first + LIFETIME.
    let first = Instant::now();
    // Past half its lifetime, ask again for the same blocks: still missing,
    // still fitting (counted once), and b still refused.
    wait_until(first + LIFETIME / 2 + Duration::from_millis(500)).await;
    let again = Instant::now();
    assert_eq!(alice.plan_ok(&a).await.missing.len(), 2);
    alice.plan(&b).await.expect_error(413, "quota_exceeded");

    // Past the first expiry: were the reservation extended by the second
    // ask, it would still hold the whole quota.
    wait_until(first + LIFETIME + Duration::from_millis(500)).await;
    if Instant::now() >= again + LIFETIME {
        eprintln!("the test ran too slowly to tell an extended reservation from one that was not");
    }
    alice.plan_ok(&b).await;
    server.check();
}
