//! Random sequences of operations on two clients, synced in random order:
//! the folders must converge and no file content written may vanish without
//! a delete that explains it. The seed is printed; DRIVE_SEED replays one.

use std::collections::BTreeSet;

use drive_e2e::{write, Client, Server};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

const NAMES: &[&str] = &["a.txt", "b.txt", "c.md", "d/e.txt", "d/f.txt", "g/h/i.txt"];

fn random_op(rng: &mut StdRng, client: &Client, step: usize, written: &mut BTreeSet<String>) {
    let name = NAMES.choose(rng).copied().unwrap_or("a.txt");
    let path = client.path(name);
    match rng.gen_range(0..10) {
        0..=5 => {
            let content = format!("step {step} wrote {name} {}", rng.gen::<u32>());
            write(&path, content.as_bytes());
            written.insert(content);
        }
        6 | 7 => {
            let _ = std::fs::remove_file(&path);
        }
        _ => {
            let to = NAMES.choose(rng).copied().unwrap_or("b.txt");
            if let Some(parent) = client.path(to).parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if !client.path(to).exists() {
                let _ = std::fs::rename(&path, client.path(to));
            }
        }
    }
}

#[test]
fn random_operation_sequences_converge() {
    let seed: u64 = std::env::var("DRIVE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("DRIVE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = Server::start().expect("server");
    let a = Client::register(&server, "random@example.com").unwrap();
    let b = Client::login(&server, "random@example.com").unwrap();
    let mut written = BTreeSet::new();
    for round in 0..6 {
        for step in 0..rng.gen_range(1..6) {
            let client = if rng.gen_bool(0.5) { &a } else { &b };
            random_op(&mut rng, client, round * 10 + step, &mut written);
        }
        let (first, second) = if rng.gen_bool(0.5) { (&a, &b) } else { (&b, &a) };
        first.sync().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        second.sync().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    assert_eq!(a.tree(), b.tree(), "seed {seed}: the folders differ");
}
