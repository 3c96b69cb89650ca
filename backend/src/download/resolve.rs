//! Which revision of which file a user may read, and its blocks: for one
//! file (the content, web and zip routes) or a batch (manifests) read with a
//! few statements for all of them (nodes, revisions, blocks), under the same
//! rules.

use std::collections::HashMap;

use drive_wire::{BlockHash, ManifestRequest, NodeId, NodeKind, RevisionId, UserId};

use crate::{
    error::{ApiError, ApiResult},
    shares,
    state::AppState,
    storage::metadata::{placeholders, Connection, ROWS_PER_STATEMENT},
    tree::{revisions::stored_hash, NodeRow, NODE_COLUMNS},
    uploads::single,
};

/// A file a user may read, one of its revisions, and its blocks in order.
pub(crate) struct Resolved {
    pub node: NodeRow,
    pub revision: RevisionId,
    pub size: u64,
    pub modified: i64,
    pub blocks: Vec<(BlockHash, u64)>,
}

/// A file `user` may read and one of its revisions (the current one by default).
pub(crate) async fn resolve(
    state: &AppState,
    user: UserId,
    id: NodeId,
    revision: Option<RevisionId>,
) -> ApiResult<Resolved> {
    single(resolve_many(state, user, &[ManifestRequest { id, revision }]).await?)
}

/// [`resolve`] for each of `files`, in order: each file `user` may read,
/// live or trashed, with the asked revision, or why not (404,
/// `not_a_file`). The outer error is one the whole batch fails with (the
/// database).
pub(crate) async fn resolve_many(
    state: &AppState,
    user: UserId,
    files: &[ManifestRequest],
) -> ApiResult<Vec<ApiResult<Resolved>>> {
    let mut conn = state.db.reader().acquire().await?;
    let nodes: HashMap<NodeId, NodeRow> = select_in(
        &mut conn,
        &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id IN (ids)"),
        files.iter().map(|file| file.id),
    )
    .await?
    .into_iter()
    .map(|row: NodeRow| (row.id, row))
    .collect();
    let mut wanted = Vec::with_capacity(files.len());
    for file in files {
        wanted.push(match nodes.get(&file.id) {
            Some(row) => readable(&mut conn, user, row.clone(), file.revision).await,
            None => Err(ApiError::NotFound),
        });
    }
    let asked = || {
        wanted
            .iter()
            .filter_map(|file| file.as_ref().ok().map(|(_, revision)| *revision))
    };
    let revisions: HashMap<RevisionId, (NodeId, i64, i64)> = select_in(
        &mut conn,
        "SELECT id, node_id, size, modified FROM revisions WHERE id IN (ids)",
        asked(),
    )
    .await?
    .into_iter()
    .map(|(id, node, size, modified): (RevisionId, NodeId, i64, i64)| (id, (node, size, modified)))
    .collect();
    let rows: Vec<(RevisionId, String, i64)> = select_in(
        &mut conn,
        "SELECT rb.revision_id, rb.hash, b.size FROM revision_blocks rb JOIN blocks b ON b.hash = rb.hash \
         WHERE rb.revision_id IN (ids) ORDER BY rb.revision_id, rb.position",
        asked(),
    )
    .await?;
    let mut blocks: HashMap<RevisionId, Vec<(BlockHash, u64)>> = HashMap::new();
    for (revision, hash, size) in rows {
        blocks
            .entry(revision)
            .or_default()
            .push((stored_hash(&hash)?, size.max(0) as u64));
    }
    Ok(wanted
        .into_iter()
        .map(|file| {
            let (node, revision) = file?;
            match revisions.get(&revision) {
                Some(&(of, size, modified)) if of == node.id => Ok(Resolved {
                    node,
                    revision,
                    size: size.max(0) as u64,
                    modified,
                    blocks: blocks.get(&revision).cloned().unwrap_or_default(),
                }),
                _ => Err(ApiError::NotFound),
            }
        })
        .collect())
}

/// `row` if it is a file `user` may read, with the revision to read:
/// `revision`, or its current one.
async fn readable(
    conn: &mut Connection,
    user: UserId,
    row: NodeRow,
    revision: Option<RevisionId>,
) -> ApiResult<(NodeRow, RevisionId)> {
    let node = shares::view(conn, user, row).await?.ok_or(ApiError::NotFound)?.row;
    if node.kind() != NodeKind::File {
        return Err(ApiError::NotAFile);
    }
    let revision = revision.or(node.revision_id).ok_or(ApiError::NotFound)?;
    Ok((node, revision))
}

/// The rows of `select` for `ids`: a statement per [`ROWS_PER_STATEMENT`]
/// distinct ids, with its `(ids)` replaced by their placeholders.
async fn select_in<T>(conn: &mut Connection, select: &str, ids: impl Iterator<Item = i64>) -> ApiResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows = Vec::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = select.replace("(ids)", &format!("({})", placeholders(1, chunk.len())));
        let mut query = sqlx::query_as::<_, T>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}
