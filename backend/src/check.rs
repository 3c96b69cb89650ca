//! `drive-server --check`: verifies that the metadata and the blob store agree
//! and that every invariant the server relies on holds. It reports, and
//! repairs one thing only: a block whose bytes do not match its hash (wrong
//! size, or another SHA-256: a torn or corrupted file) is quarantined, i.e.
//! moved to `DATA_DIR/blobs/quarantine/HASH` on the local store,
//! `PREFIX/quarantine/HASH` on S3 (kept for inspection, never served), and
//! its row in `blocks` is marked damaged, so that the next upload of a file
//! with that block asks the client for its bytes again (files already using
//! it fail to download it until then, and later checks report it until it is
//! uploaded again, which clears the mark).
//! Run it with the server stopped. It exits 1 whenever it found a problem.

use std::collections::{HashMap, HashSet};

use drive_wire::BlockHash;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::storage::{inline, metadata::Pool, BlobStore, Db, LocalBlobStore};

/// Every problem found, in words; empty when all is consistent. `local` is
/// the blob store when it is the local one, whose temp dir is checked too.
pub async fn run(db: &Db, blobs: &dyn BlobStore, local: Option<&LocalBlobStore>) -> anyhow::Result<Vec<String>> {
    let pool = db.reader();
    let mut problems = Vec::new();
    let mut report = |query_problems: Vec<String>| problems.extend(query_problems);

    let rows = |sql: &'static str| sqlx::query_scalar::<_, String>(sql).fetch_all(pool);

    report(
        rows(
            "SELECT 'user ' || u.id || ' uses ' || u.used_bytes || ' bytes but its files add up to ' || \
                 COALESCE((SELECT SUM(size) FROM nodes n WHERE n.owner_id = u.id AND n.kind = 'file'), 0) \
                 FROM users u WHERE u.used_bytes <> \
                 COALESCE((SELECT SUM(size) FROM nodes n WHERE n.owner_id = u.id AND n.kind = 'file'), 0)",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'user ' || id || ' has no root folder' FROM users u WHERE NOT EXISTS \
                 (SELECT 1 FROM nodes n WHERE n.id = u.root_id AND n.owner_id = u.id AND n.parent_id IS NULL)",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'file ' || n.id || ' has no current revision of its own' FROM nodes n WHERE n.kind = 'file' \
                 AND NOT EXISTS (SELECT 1 FROM revisions r WHERE r.id = n.revision_id AND r.node_id = n.id)",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'file ' || n.id || ' says ' || n.size || ' bytes, its revision ' || r.size FROM nodes n \
                 JOIN revisions r ON r.id = n.revision_id WHERE n.size <> r.size",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'revision ' || r.id || ' is ' || r.size || ' bytes but its blocks add up to ' || \
                 COALESCE((SELECT SUM(b.size) FROM revision_blocks rb JOIN blocks b ON b.hash = rb.hash \
                           WHERE rb.revision_id = r.id), 0) FROM revisions r WHERE r.size <> \
                 COALESCE((SELECT SUM(b.size) FROM revision_blocks rb JOIN blocks b ON b.hash = rb.hash \
                           WHERE rb.revision_id = r.id), 0)",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'revision ' || rb.revision_id || ' uses unknown block ' || rb.hash FROM revision_blocks rb \
                 WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.hash = rb.hash)",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'node ' || c.id || ' is live inside trashed or foreign folder ' || p.id FROM nodes c \
                 JOIN nodes p ON p.id = c.parent_id WHERE c.trashed_at IS NULL \
                 AND (p.trashed_at IS NOT NULL OR p.owner_id <> c.owner_id OR p.kind <> 'folder')",
        )
        .await?,
    );
    report(
        rows(
            "SELECT 'node ' || id || ' is trashed but names no trash root' FROM nodes \
                 WHERE (trashed_at IS NULL) <> (trash_root IS NULL)",
        )
        .await?,
    );

    let stored: HashMap<BlockHash, u64> = blobs.list().await?.into_iter().map(|b| (b.hash, b.size)).collect();
    // Rows the garbage collector is deleting may have lost their objects already.
    // Rows with `data` are kept in the database (`storage::inline`): their
    // bytes are checked there, not in the store.
    let known: Vec<(String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT hash, size, damaged_at, CAST(CASE WHEN data IS NULL THEN 0 ELSE 1 END AS BIGINT) \
         FROM blocks WHERE deleting_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    for (hash, size, damaged_at, inline) in known {
        if damaged_at.is_some() {
            report(vec![format!(
                "block {hash} was found damaged and quarantined: it waits to be uploaded again"
            )]);
            continue;
        }
        let Ok(parsed) = hash.parse::<BlockHash>() else {
            report(vec![format!("block row {hash:?} is not a SHA-256")]);
            continue;
        };
        if inline == 1 {
            if let Some(damage) = check_inline(pool, parsed, size).await? {
                report(vec![match db.mark_damaged(&hash).await {
                    Ok(()) => format!("{damage}: marked damaged; it is asked for again at the next upload"),
                    Err(e) => format!("{damage}, but marking its row damaged failed: {e}"),
                }]);
            }
            continue;
        }
        let damage = match stored.get(&parsed) {
            None => {
                report(vec![format!(
                    "block {hash} is in the database but not in the blob store"
                )]);
                continue;
            }
            Some(&stored_size) if stored_size as i64 != size => {
                format!("block {hash} is {stored_size} bytes in the store, {size} in the database")
            }
            Some(&stored_size) if !verify(blobs, parsed, stored_size).await? => {
                format!("block {hash} does not hash to its name")
            }
            Some(_) => continue,
        };
        report(vec![quarantine(db, blobs, parsed, &damage).await]);
    }
    report(check_photos(db, blobs).await?);
    if let Some(local) = local {
        let leftovers = local.temp_file_count().await?;
        if leftovers > 0 {
            report(vec![format!(
                "{leftovers} temporary upload files are left in the temp dir"
            )]);
        }
    }
    Ok(problems)
}

/// Moves a damaged block aside and marks its row; says what was done.
async fn quarantine(db: &Db, blobs: &dyn BlobStore, hash: BlockHash, damage: &str) -> String {
    let moved = match blobs.quarantine(hash).await {
        Ok(to) => to,
        Err(e) => return format!("{damage}; moving it to quarantine failed: {e:#}"),
    };
    match db.mark_damaged(&hash.to_string()).await {
        Ok(()) => format!("{damage}: moved to {moved} and marked damaged; it is asked for again at the next upload"),
        Err(e) => format!("{damage}: moved to {moved}, but marking its row damaged failed: {e}"),
    }
}

/// What is wrong with a block kept in the database, if anything.
async fn check_inline(pool: &Pool, hash: BlockHash, size: i64) -> anyhow::Result<Option<String>> {
    let Some(bytes) = inline::read(pool, hash).await? else {
        return Ok(Some(format!("block {hash} lost its bytes in the database")));
    };
    Ok(if bytes.len() as i64 != size {
        Some(format!(
            "block {hash} is {} bytes in the database, {size} in its row",
            bytes.len()
        ))
    } else if Sha256::digest(&bytes).as_slice() != hash.as_bytes() {
        Some(format!("block {hash} does not hash to its name (kept in the database)"))
    } else {
        None
    })
}

/// Reads a whole block back and checks its SHA-256.
async fn verify(blobs: &dyn BlobStore, hash: BlockHash, size: u64) -> anyhow::Result<bool> {
    let mut reader = blobs.read_range(hash, 0, size).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().as_slice() == hash.as_bytes())
}

/// Every photo row has its objects (the original intact), and every photo
/// object is used by a row or listed as garbage, never both.
async fn check_photos(db: &Db, blobs: &dyn BlobStore) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let rows: Vec<(i64, String, String, String, String)> =
        sqlx::query_as("SELECT user_id, original_key, original_sha256, resized_key, state FROM photos")
            .fetch_all(db.reader())
            .await?;
    let garbage: HashSet<String> = sqlx::query_scalar("SELECT key FROM photo_garbage")
        .fetch_all(db.reader())
        .await?
        .into_iter()
        .collect();
    let stored: HashSet<String> = blobs.list_photos().await?.iter().map(ToString::to_string).collect();
    let mut used = HashSet::new();
    for (user, original, sha256, resized, state) in rows {
        if !stored.contains(&original) {
            problems.push(format!("the photo of user {user} has lost its original {original}"));
        } else if let Ok(key) = original.parse() {
            let bytes = blobs.read_photo(key).await?;
            if hex::encode(Sha256::digest(&bytes)) != sha256 {
                problems.push(format!(
                    "the original photo {original} of user {user} does not match its SHA-256"
                ));
            }
        }
        if state == "ready" && !stored.contains(&resized) {
            problems.push(format!(
                "the photo of user {user} is ready but its resized object {resized} is missing"
            ));
        }
        for key in [original, resized] {
            if garbage.contains(&key) {
                problems.push(format!(
                    "photo object {key} of user {user} is in use but listed as garbage"
                ));
            }
            used.insert(key);
        }
    }
    for key in stored {
        if !used.contains(&key) && !garbage.contains(&key) {
            problems.push(format!(
                "photo object {key} is used by nothing and not listed as garbage"
            ));
        }
    }
    Ok(problems)
}
