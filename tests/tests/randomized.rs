//! Random sequences of operations on two clients, synced in random order. The
//! folders must converge, and no edit may be lost: whatever a client wrote
//! since its last sync, and still holds when it syncs, must still be in its
//! folder afterwards (in place or as a conflicted copy). The seed is printed;
//! DRIVE_SEED replays one.

use std::collections::BTreeSet;

use drive_e2e::{write, Client, Server};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use sha2::{Digest, Sha256};

const NAMES: &[&str] = &["a.txt", "b.txt", "c.md", "d/e.txt", "d/f.txt", "g/h/i.txt"];
const FOLDERS: &[&str] = &["d", "g", "g/h", "k"];

/// One random user action; returns the hash of what it wrote, if it wrote.
fn random_op(rng: &mut StdRng, client: &Client, step: usize) -> Option<String> {
    let name = NAMES.choose(rng).copied().unwrap_or("a.txt");
    let path = client.path(name);
    match rng.gen_range(0..13) {
        10 => {
            let _ = std::fs::remove_dir_all(client.path(FOLDERS.choose(rng).copied().unwrap_or("d")));
            None
        }
        11 | 12 => {
            let from = client.path(FOLDERS.choose(rng).copied().unwrap_or("d"));
            let to = client.path(FOLDERS.choose(rng).copied().unwrap_or("k"));
            if !to.exists() && !to.starts_with(&from) {
                let _ = std::fs::rename(from, to);
            }
            None
        }
        0..=5 => {
            let content = format!("step {step} wrote {name} {}", rng.gen::<u32>());
            write(&path, content.as_bytes());
            Some(
                Sha256::digest(content.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            )
        }
        6 | 7 => {
            let _ = std::fs::remove_file(&path);
            None
        }
        _ => {
            let to = client.path(NAMES.choose(rng).copied().unwrap_or("b.txt"));
            if let Some(parent) = to.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if !to.exists() {
                let _ = std::fs::rename(&path, to);
            }
            None
        }
    }
}

/// Syncs `client` and checks that its unsynced writes survived.
fn sync_keeping(client: &Client, written: &mut BTreeSet<String>, seed: u64) {
    let held: BTreeSet<String> = client.tree().into_values().collect();
    let must_survive: Vec<String> = written.intersection(&held).cloned().collect();
    // The deletions here are meant: emptying a folder may be all the files,
    // which the mass-delete guard holds; the user confirms what it showed.
    let dir = client.dir.path().to_str().expect("a UTF-8 temp dir").to_owned();
    let sync = |confirm: bool| {
        let mut args = vec!["sync", dir.as_str(), "--once"];
        args.extend(confirm.then_some("--confirm-deletions"));
        client.drive(&args).unwrap_or_else(|e| panic!("seed {seed}: {e}"))
    };
    let (mut code, _, mut stderr) = sync(false);
    if code == 4 {
        (code, _, stderr) = sync(true);
    }
    assert_eq!(code, 0, "seed {seed}: {stderr}");
    let after: BTreeSet<String> = client.tree().into_values().collect();
    for hash in must_survive {
        assert!(after.contains(&hash), "seed {seed}: an unsynced write was lost");
    }
    written.clear();
}

#[test]
fn random_operation_sequences_converge_and_lose_no_edit() {
    let seed: u64 = std::env::var("DRIVE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("DRIVE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = Server::start().expect("server");
    let clients = [
        Client::register(&server, "random@example.com").unwrap(),
        Client::login(&server, "random@example.com").unwrap(),
    ];
    let mut written = [BTreeSet::new(), BTreeSet::new()];
    for round in 0..8 {
        for step in 0..rng.gen_range(1..6) {
            let who = rng.gen_range(0..2);
            if let Some(hash) = random_op(&mut rng, &clients[who], round * 10 + step) {
                written[who].insert(hash);
            }
        }
        let first = rng.gen_range(0..2);
        for who in [first, 1 - first] {
            sync_keeping(&clients[who], &mut written[who], seed);
        }
    }
    for who in [0, 1, 0] {
        sync_keeping(&clients[who], &mut written[who], seed);
    }
    assert_eq!(clients[0].tree(), clients[1].tree(), "seed {seed}: the folders differ");
}
