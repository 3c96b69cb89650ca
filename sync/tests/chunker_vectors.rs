//! Shared test vectors of the content-defined chunker: the desktop client
//! (this crate) and the web app (`web/src/upload/chunker.ts`, whose unit test
//! reads the same file) must cut the same bytes into the same blocks, so that a
//! file uploaded from either deduplicates against the other.
//!
//! `sync/tests/data/chunker-vectors.json` lists deterministic inputs (a
//! generator and its parameters, not the bytes) and the blocks expected of
//! each. Regenerate it after a deliberate change of the chunker with
//! `CHUNKER_VECTORS_WRITE=1 cargo test -p drive-sync --test chunker_vectors`;
//! the web app's chunker must then change the same way.

use std::path::PathBuf;

use drive_sync::chunker::{chunk_reader, AVG_CHUNK, MAX_CHUNK, MIN_CHUNK};
use serde_json::{json, Value};

const MIB: u64 = 1024 * 1024;

/// Seeded xorshift64* bytes (the state's product, little-endian), the same
/// generator as the web app's test: incompressible-looking and reproducible.
fn xorshift64star(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.max(1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The inputs: (name, generator, seed, length).
fn inputs() -> Vec<(&'static str, &'static str, u64, u64)> {
    let (min, avg, max) = (u64::from(MIN_CHUNK), u64::from(AVG_CHUNK), u64::from(MAX_CHUNK));
    vec![
        ("empty", "xorshift64star", 1, 0),
        ("one byte", "xorshift64star", 1, 1),
        ("min - 1", "xorshift64star", 2, min - 1),
        ("min", "xorshift64star", 3, min),
        ("min + 1", "xorshift64star", 4, min + 1),
        ("avg", "xorshift64star", 5, avg),
        ("max - 1", "xorshift64star", 6, max - 1),
        ("max", "xorshift64star", 7, max),
        ("max + 1", "xorshift64star", 8, max + 1),
        ("3 MiB", "xorshift64star", 99, 3 * MIB),
        ("3 MiB + 1", "xorshift64star", 99, 3 * MIB + 1),
        ("12 MiB + 12345", "xorshift64star", 7, 12 * MIB + 12_345),
        ("20 MiB", "xorshift64star", 0x5eed, 20 * MIB),
        ("zeros 2 max + 3", "zeros", 0, 2 * max + 3),
    ]
}

fn generate(generator: &str, seed: u64, len: u64) -> Vec<u8> {
    let len = usize::try_from(len).expect("a length that fits in memory");
    match generator {
        "xorshift64star" => xorshift64star(len, seed),
        "zeros" => vec![0; len],
        other => panic!("unknown generator {other}"),
    }
}

fn blocks_of(data: &[u8]) -> Value {
    let chunks = chunk_reader(data).expect("chunking bytes in memory");
    Value::Array(
        chunks
            .iter()
            .map(|c| json!({"offset": c.offset, "size": c.size, "sha256": c.hash.to_string()}))
            .collect(),
    )
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/chunker-vectors.json")
}

fn computed() -> Value {
    let vectors: Vec<Value> = inputs()
        .into_iter()
        .map(|(name, generator, seed, length)| {
            let data = generate(generator, seed, length);
            json!({
                "name": name,
                "generator": generator,
                "seed": seed,
                "length": length,
                "blocks": blocks_of(&data),
            })
        })
        .collect();
    json!({
        "about": "Content-defined chunking (FastCDC 2020, normalization level 1, gear seed 0) of deterministic inputs: \
                  blocks expected of sync/src/chunker.rs and web/src/upload/chunker.ts alike. Generator xorshift64star: \
                  state = max(seed, 1); per 8 bytes: state ^= state >> 12; state ^= state << 25; state ^= state >> 27; \
                  emit (state * 0x2545F4914F6CDD1D mod 2^64) little-endian; truncated to length. \
                  Regenerate: CHUNKER_VECTORS_WRITE=1 cargo test -p drive-sync --test chunker_vectors",
        "min_chunk": MIN_CHUNK,
        "avg_chunk": AVG_CHUNK,
        "max_chunk": MAX_CHUNK,
        "vectors": vectors,
    })
}

#[test]
fn the_chunker_cuts_the_shared_vectors_as_recorded() {
    let path = vectors_path();
    let expected = computed();
    if std::env::var_os("CHUNKER_VECTORS_WRITE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let recorded: Value = serde_json::from_str(&text).expect("the vectors are JSON");
    for key in ["min_chunk", "avg_chunk", "max_chunk"] {
        assert_eq!(recorded[key], expected[key], "{key} changed: regenerate the vectors");
    }
    let recorded = recorded["vectors"].as_array().expect("a list of vectors");
    let expected = expected["vectors"].as_array().unwrap();
    assert_eq!(recorded.len(), expected.len(), "as many vectors as inputs");
    for (recorded, expected) in recorded.iter().zip(expected) {
        assert_eq!(recorded, expected, "vector {}", expected["name"]);
    }
}

#[test]
fn the_vectors_exercise_cuts_of_every_kind() {
    let vectors = computed();
    let vectors = vectors["vectors"].as_array().unwrap();
    let sizes: Vec<u64> = vectors
        .iter()
        .flat_map(|v| v["blocks"].as_array().unwrap().iter())
        .map(|b| b["size"].as_u64().unwrap())
        .collect();
    // Content-defined cuts between min and max, forced cuts at max, and short tails.
    assert!(sizes
        .iter()
        .any(|&s| s > u64::from(MIN_CHUNK) && s < u64::from(MAX_CHUNK)));
    assert!(sizes.contains(&u64::from(MAX_CHUNK)));
    assert!(sizes.iter().any(|&s| s < u64::from(MIN_CHUNK)));
}
