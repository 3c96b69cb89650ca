//! The commit of a batch's new files in bulk: a few multi-row statements for
//! hundreds of files, where the per-file path takes a dozen statements each
//! (the first sync of a big tree is almost only new files).
//!
//! Only files whose outcome cannot depend on the order of the batch go this
//! way: new files (no base revision) in a folder other than a root (a root
//! may hold mounts of shares under the same names), under names that no live
//! node and no earlier file of the batch holds; and only when the whole
//! batch fits in every owner's quota whatever the order (the bulk files'
//! sizes plus every other file's full size). Anything else, or any failure
//! of a statement here (another server's commit taking a name first, on
//! PostgreSQL), leaves the files to the per-file path, which decides each
//! exactly as a batch of one would: the bulk writes are rolled back to a
//! savepoint first.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use drive_wire::RevisionId;

use super::batch::{own, Lookups};
use super::*;
use crate::{
    storage::metadata::{value_rows, ROWS_PER_STATEMENT},
    tree::revisions::charge_quota,
};

/// A new file of the batch that may be committed in bulk.
struct Fresh<'a> {
    index: usize,
    req: &'a CommitRequest,
    content: &'a Content,
    folder: shares::Visible,
}

/// Commits in bulk what it can of `files` (those still standing, the
/// others' outcomes are theirs already), inside the batch's transaction
/// (which holds the accounts' rows and the journal's turn). Returns the
/// committed files by index, with their nodes and who must hear of them;
/// every other file is left to the per-file path.
pub(super) async fn commit_new(
    tx: &mut Tx,
    lookups: &mut Lookups,
    user: UserId,
    reqs: &[CommitRequest],
    files: &[ApiResult<Content>],
) -> ApiResult<HashMap<usize, (Node, Vec<UserId>)>> {
    let fresh = candidates(tx, lookups, user, reqs, files).await?;
    if fresh.len() < 2 {
        return Ok(HashMap::new());
    }
    // Everything else standing, at its full size: an upper bound of its growth.
    let others: u64 = files
        .iter()
        .enumerate()
        .filter(|(i, _)| !fresh.iter().any(|file| file.index == *i))
        .filter_map(|(_, file)| file.as_ref().ok())
        .map(|content| content.size)
        .sum();
    sqlx::query("SAVEPOINT bulk_files").execute(&mut **tx).await?;
    let outcome = write(tx, lookups, user, &fresh, others).await;
    let committed = match outcome {
        Ok(Some(committed)) => committed,
        Ok(None) => {
            sqlx::query("ROLLBACK TO SAVEPOINT bulk_files")
                .execute(&mut **tx)
                .await?;
            HashMap::new()
        }
        Err(error) => {
            tracing::info!(%error, files = fresh.len(), "bulk commit rolled back: the files go one by one");
            sqlx::query("ROLLBACK TO SAVEPOINT bulk_files")
                .execute(&mut **tx)
                .await?;
            HashMap::new()
        }
    };
    sqlx::query("RELEASE SAVEPOINT bulk_files").execute(&mut **tx).await?;
    Ok(committed)
}

/// The standing new files in writable folders (not roots), each name once,
/// that no live node holds.
async fn candidates<'a>(
    tx: &mut Tx,
    lookups: &mut Lookups,
    user: UserId,
    reqs: &'a [CommitRequest],
    files: &'a [ApiResult<Content>],
) -> ApiResult<Vec<Fresh<'a>>> {
    let mut fresh = Vec::new();
    let mut names: HashSet<(NodeId, &str)> = HashSet::new();
    for (index, (file, req)) in files.iter().zip(reqs).enumerate() {
        let Ok(content) = file else { continue };
        if req.base_revision.is_some() {
            continue;
        }
        // A folder that fails here fails the file on the per-file path.
        let Ok(folder) = own(lookups.writable(tx, user, req.parent_id).await)? else {
            continue;
        };
        if folder.row.parent_id.is_none() || !names.insert((req.parent_id, content.name.as_str())) {
            continue;
        }
        fresh.push(Fresh {
            index,
            req,
            content,
            folder,
        });
    }
    // Names taken already, asked per folder.
    let mut by_folder: BTreeMap<NodeId, Vec<&str>> = BTreeMap::new();
    for file in &fresh {
        by_folder
            .entry(file.req.parent_id)
            .or_default()
            .push(file.content.name.as_str());
    }
    let mut taken: HashSet<(NodeId, String)> = HashSet::new();
    for (folder, names) in by_folder {
        for chunk in names.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT name FROM nodes WHERE parent_id = $1 AND trashed_at IS NULL AND name IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(folder);
            for name in chunk {
                query = query.bind(*name);
            }
            for name in query.fetch_all(&mut **tx).await? {
                taken.insert((folder, name));
            }
        }
    }
    fresh.retain(|file| !taken.contains(&(file.req.parent_id, file.content.name.clone())));
    Ok(fresh)
}

/// The bulk writes; `None` when an owner's quota might not hold the batch
/// (the caller rolls back, and the per-file path decides file by file).
async fn write(
    tx: &mut Tx,
    lookups: &mut Lookups,
    user: UserId,
    fresh: &[Fresh<'_>],
    others: u64,
) -> ApiResult<Option<HashMap<usize, (Node, Vec<UserId>)>>> {
    let now = now_ms();
    // The committer's reservations of these blocks go before the charge,
    // which counts the owner's live reservations (see `store_revision`).
    let hashes: Vec<BlockHash> = fresh
        .iter()
        .flat_map(|file| file.content.sizes.keys().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    release_reservations(tx, user, &hashes).await?;
    let mut growth: BTreeMap<UserId, u64> = BTreeMap::new();
    for file in fresh {
        *growth.entry(file.folder.owner_id()).or_default() += file.content.size;
    }
    for (&owner, &bytes) in &growth {
        // Room for these and for every other file of the batch at its full
        // size, whatever order they would have come in.
        let needed = i64::try_from(bytes.saturating_add(others)).unwrap_or(i64::MAX);
        let growth = i64::try_from(bytes).unwrap_or(i64::MAX);
        if !charge_quota(tx, owner, growth, needed, now).await? {
            return Ok(None);
        }
    }
    let ids = insert_nodes(tx, fresh, now).await?;
    let revisions = insert_revisions(tx, fresh, &ids, now).await?;
    insert_blocks(tx, fresh, &ids, &revisions).await?;
    let node_ids = fresh
        .iter()
        .map(|file| id_of(&ids, file))
        .collect::<ApiResult<Vec<NodeId>>>()?;
    for chunk in node_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE nodes SET revision_id = (SELECT MAX(r.id) FROM revisions r WHERE r.node_id = nodes.id) \
             WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut **tx).await?;
    }
    // A new file has no shares of its own: its folder's audience is its.
    let mut changes = Vec::new();
    let mut committed = HashMap::with_capacity(fresh.len());
    for (file, &id) in fresh.iter().zip(&node_ids) {
        let audience = lookups.audience(tx, file.req.parent_id).await?;
        changes.extend(audience.iter().map(|&listener| (listener, id, ChangeKind::Created)));
        let row = NodeRow {
            id,
            owner_id: file.folder.owner_id(),
            parent_id: Some(file.req.parent_id),
            name: file.content.name.clone(),
            kind: "file".into(),
            size: file.content.size as i64,
            revision_id: Some(revision_of(&revisions, id)?),
            modified: file.content.modified,
            trashed_at: None,
        };
        committed.insert(file.index, (file.folder.clone().with_row(row).present(), audience));
    }
    changes::append_many_in_turn(tx, &changes).await?;
    tracing::debug!(files = fresh.len(), "new files committed in bulk");
    Ok(Some(committed))
}

fn key(file: &Fresh<'_>) -> (NodeId, String) {
    (file.req.parent_id, file.content.name.clone())
}

/// The id the database gave `file`'s node.
fn id_of(ids: &HashMap<(NodeId, String), NodeId>, file: &Fresh<'_>) -> ApiResult<NodeId> {
    ids.get(&key(file)).copied().ok_or_else(|| {
        ApiError::internal(std::io::Error::other(format!(
            "no node was inserted for {:?}",
            file.content.name
        )))
    })
}

/// The revision the database gave node `id`.
fn revision_of(revisions: &HashMap<NodeId, RevisionId>, id: NodeId) -> ApiResult<RevisionId> {
    revisions
        .get(&id)
        .copied()
        .ok_or_else(|| ApiError::internal(std::io::Error::other(format!("no revision was inserted for node {id}"))))
}

/// The files' nodes, with their final size and time: (folder, name) -> id.
async fn insert_nodes(tx: &mut Tx, fresh: &[Fresh<'_>], now: i64) -> ApiResult<HashMap<(NodeId, String), NodeId>> {
    let mut ids = HashMap::with_capacity(fresh.len());
    for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO nodes (owner_id, parent_id, name, kind, size, modified, created_at) VALUES {} \
             RETURNING id, parent_id, name",
            value_rows(1, chunk.len(), 7)
        );
        let mut query = sqlx::query_as::<_, (NodeId, NodeId, String)>(&sql);
        for file in chunk {
            query = query
                .bind(file.folder.owner_id())
                .bind(file.req.parent_id)
                .bind(file.content.name.as_str())
                .bind("file")
                .bind(file.content.size as i64)
                .bind(file.content.modified)
                .bind(now);
        }
        for (id, parent, name) in query.fetch_all(&mut **tx).await? {
            ids.insert((parent, name), id);
        }
    }
    if ids.len() != fresh.len() {
        return Err(ApiError::internal(std::io::Error::other(format!(
            "{} nodes inserted for {} files",
            ids.len(),
            fresh.len()
        ))));
    }
    Ok(ids)
}

/// Each file's first revision: node id -> revision id.
async fn insert_revisions(
    tx: &mut Tx,
    fresh: &[Fresh<'_>],
    ids: &HashMap<(NodeId, String), NodeId>,
    now: i64,
) -> ApiResult<HashMap<NodeId, RevisionId>> {
    let mut revisions = HashMap::with_capacity(fresh.len());
    for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO revisions (node_id, size, modified, created_at) VALUES {} RETURNING id, node_id",
            value_rows(1, chunk.len(), 4)
        );
        let mut query = sqlx::query_as::<_, (RevisionId, NodeId)>(&sql);
        for file in chunk {
            query = query
                .bind(id_of(ids, file)?)
                .bind(file.content.size as i64)
                .bind(file.content.modified)
                .bind(now);
        }
        for (revision, node) in query.fetch_all(&mut **tx).await? {
            revisions.insert(node, revision);
        }
    }
    if revisions.len() != fresh.len() {
        return Err(ApiError::internal(std::io::Error::other(format!(
            "{} revisions inserted for {} files",
            revisions.len(),
            fresh.len()
        ))));
    }
    Ok(revisions)
}

/// The blocks of each revision, in file order.
async fn insert_blocks(
    tx: &mut Tx,
    fresh: &[Fresh<'_>],
    ids: &HashMap<(NodeId, String), NodeId>,
    revisions: &HashMap<NodeId, RevisionId>,
) -> ApiResult<()> {
    let mut rows: Vec<(RevisionId, i64, String)> = Vec::new();
    for file in fresh {
        let revision = revision_of(revisions, id_of(ids, file)?)?;
        rows.extend(
            file.content
                .order
                .iter()
                .enumerate()
                .map(|(position, hash)| (revision, position as i64, hash.to_string())),
        );
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO revision_blocks (revision_id, position, hash) VALUES {}",
            value_rows(1, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (revision, position, hash) in chunk {
            query = query.bind(*revision).bind(*position).bind(hash.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
