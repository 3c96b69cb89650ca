//! A folder shared between people, synced by each of them: `drive invite`,
//! `drive accept`, then an editor's changes reach the owner and the viewer,
//! and a viewer's local edits stay on the viewer's machine as conflicted
//! copies, never reaching the owner and never looping.

use drive_e2e::{random_bytes, snapshot, write, Client, Server};

fn run_ok(client: &Client, args: &[&str]) -> String {
    let output = client.run(args, b"").expect("drive runs");
    assert!(
        output.status.success(),
        "drive {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Paths under `Team/` in a client's folder, with their content hashes.
fn team(client: &Client) -> Vec<(String, String)> {
    client
        .tree()
        .into_iter()
        .filter(|(path, _)| path.starts_with("Team/") || path == "Team")
        .collect()
}

#[test]
fn an_editor_and_a_viewer_sync_a_shared_folder_with_its_owner() {
    let server = Server::start().expect("server");
    let alice = Client::register(&server, "alice@example.com").expect("alice");
    let bob = Client::register(&server, "bob@example.com").expect("bob");
    let carol = Client::register(&server, "carol@example.com").expect("carol");

    write(&alice.path("Team/plan.txt"), b"the plan, v1\n");
    write(&alice.path("Team/specs/big.bin"), &random_bytes(3, 3 * 1024 * 1024));
    std::fs::create_dir_all(alice.path("Team/empty")).unwrap();
    write(&alice.path("private.txt"), b"alice only\n");
    alice.sync().expect("alice's first sync");

    let said = run_ok(&alice, &["invite", "Team", "bob@example.com", "--role", "editor"]);
    assert!(said.contains("bob@example.com"), "{said}");
    run_ok(&alice, &["invite", "Team", "carol@example.com"]);
    let listed = run_ok(&bob, &["shares"]);
    assert!(
        listed.contains("Team") && listed.contains("alice@example.com"),
        "{listed}"
    );
    run_ok(&bob, &["accept", "--all"]);
    run_ok(&carol, &["accept", "--all"]);

    bob.sync().expect("bob's first sync");
    carol.sync().expect("carol's first sync");
    assert_eq!(team(&bob), team(&alice), "bob has the shared folder");
    assert_eq!(team(&carol), team(&alice), "carol has the shared folder");
    assert!(!bob.path("private.txt").exists(), "only what was shared");

    // The editor's changes reach the owner and the viewer.
    write(&bob.path("Team/plan.txt"), b"the plan, v2 by bob\n");
    write(&bob.path("Team/notes/bob.md"), b"# from bob\n");
    std::fs::rename(bob.path("Team/specs/big.bin"), bob.path("Team/specs/huge.bin")).unwrap();
    bob.sync().expect("bob sends his changes");
    alice.sync().expect("alice receives them");
    carol.sync().expect("carol receives them");
    assert_eq!(
        std::fs::read(alice.path("Team/plan.txt")).unwrap(),
        b"the plan, v2 by bob\n"
    );
    assert!(alice.path("Team/specs/huge.bin").exists() && !alice.path("Team/specs/big.bin").exists());
    assert_eq!(team(&alice), team(&bob));
    assert_eq!(team(&carol), team(&bob));

    // The viewer edits, adds and deletes: none of it reaches anyone, nothing
    // of hers is lost, and her sync settles.
    write(&carol.path("Team/plan.txt"), b"carol's idea\n");
    write(&carol.path("Team/carol.txt"), b"carol's own file\n");
    std::fs::remove_file(carol.path("Team/notes/bob.md")).unwrap();
    carol.sync().expect("carol's sync settles");
    carol.sync().expect("and stays settled");
    assert_eq!(
        team(&carol),
        team(&bob),
        "the shared folder is back as the owner has it"
    );
    let carol_files = snapshot(&carol.path(""));
    let kept: Vec<&String> = carol_files
        .keys()
        .filter(|path| path.contains("conflicted copy") && !path.starts_with("Team/"))
        .collect();
    assert_eq!(
        kept.len(),
        2,
        "both of carol's changes kept outside the share: {carol_files:?}"
    );
    let mut kept_bytes: Vec<Vec<u8>> = kept
        .iter()
        .map(|path| std::fs::read(carol.path(path)).unwrap())
        .collect();
    kept_bytes.sort();
    assert_eq!(
        kept_bytes,
        vec![b"carol's idea\n".to_vec(), b"carol's own file\n".to_vec()]
    );

    alice.sync().expect("alice syncs again");
    assert_eq!(
        std::fs::read(alice.path("Team/plan.txt")).unwrap(),
        b"the plan, v2 by bob\n"
    );
    assert!(alice.path("Team/notes/bob.md").exists());
    assert_eq!(team(&alice), team(&bob), "the viewer's edits did not reach the owner");
    assert!(
        !snapshot(&alice.path("")).keys().any(|p| p.contains("conflicted copy")),
        "nor did her conflicted copies"
    );
    // Carol's copies went to her own drive: a second device of hers gets them.
    let carol_laptop = Client::login(&server, "carol@example.com").expect("carol's laptop");
    carol_laptop.sync().expect("carol's laptop syncs");
    assert_eq!(snapshot(&carol_laptop.path("")), snapshot(&carol.path("")));

    // Revoked: the folder leaves bob's tree and his disk.
    let shares = run_ok(&alice, &["shares"]);
    let bob_share = shares
        .lines()
        .find(|line| line.contains("bob@example.com"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("bob's share in {shares}"))
        .to_owned();
    run_ok(&alice, &["uninvite", &bob_share]);
    bob.sync().expect("bob syncs after the revocation");
    assert!(
        team(&bob).is_empty(),
        "the share is gone from bob's folder: {:?}",
        bob.tree()
    );
    assert!(alice.path("Team/plan.txt").exists(), "and stays with alice");
    server.check().expect("the server's data is consistent");
}
