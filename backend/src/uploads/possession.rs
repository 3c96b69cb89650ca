//! Proof of possession: how each block of a request stands for the
//! uploader (the rule is in the parent module's documentation), in one
//! query, and the proofs of uploads that went straight to the store.

use super::*;

/// How one block of a request stands for the uploader: one row of the
/// possession query.
#[derive(Debug, Default)]
pub(super) struct Standing {
    /// The size the `blocks` row records, unless the garbage collector is
    /// deleting the block or `--check` found it damaged.
    stored: Option<u64>,
    /// The garbage collector is deleting the block: its object is about to
    /// go, so it is missing for everyone until uploaded again.
    deleting: bool,
    /// Content the uploader can read uses the block.
    readable: bool,
    /// The uploader's live reservation of the block.
    reservation: Option<Held>,
}

#[derive(Debug)]
pub(super) struct Held {
    size: u64,
    token: Option<String>,
    /// An upload of the block through a URL of this reservation was verified.
    uploaded: bool,
}

impl Standing {
    /// Present for the uploader at `size` (see the module documentation).
    pub(super) fn present(&self, size: u64) -> bool {
        self.stored(size) && (self.readable || self.reservation.as_ref().is_some_and(|held| held.uploaded))
    }

    /// Stored at `size` and not on its way out: bytes the uploader sent
    /// inline make it present for them.
    pub(super) fn stored(&self, size: u64) -> bool {
        self.stored == Some(size)
    }

    /// The uploader's own upload of `size` bytes, in flight and not yet
    /// proven: the grant to ask the store about.
    fn unproven(&self, user: UserId, size: u64) -> Option<UploadGrant> {
        match &self.reservation {
            Some(Held {
                size: reserved,
                token: Some(token),
                uploaded: false,
            }) if *reserved == size && !self.deleting => Some(UploadGrant {
                user_id: user,
                token: token.clone(),
            }),
            _ => None,
        }
    }
}

/// Hashes per possession query: one query for any real file (the bound
/// parameters stay far below SQLite's 32766 and PostgreSQL's 65535).
const HASHES_PER_QUERY: usize = 4096;

/// The possession query: how each of `hashes` stands for `user` at `now`,
/// in one statement (per [`HASHES_PER_QUERY`] hashes). A block is readable by
/// the user when a revision (current, past or trashed) of a node the user
/// owns uses it, or one of a node inside a share the user accepted: the walk
/// up to a share root starts only from nodes of users who share something
/// with them. Indexed all the way: `revision_blocks(hash)`, the primary keys
/// of `revisions`, `nodes` and `blocks`, `shares(grantee_id)` and
/// `shares(node_id, grantee_id)`, `upload_reservations(user_id, hash)`.
pub(super) async fn standings(
    conn: &mut Connection,
    user: UserId,
    hashes: &[BlockHash],
    now: i64,
) -> ApiResult<BTreeMap<BlockHash, Standing>> {
    let mut found = BTreeMap::new();
    for chunk in hashes.chunks(HASHES_PER_QUERY) {
        // The hashes first, so that placeholders first appear in order.
        let n = chunk.len();
        let values = (1..=n).map(|i| format!("(${i})")).collect::<Vec<_>>().join(", ");
        let (user_p, now_p) = (n + 1, n + 2);
        let sql = format!(
            "WITH RECURSIVE \
             req(hash) AS (VALUES {values}), \
             refs(hash, node_id, owner_id) AS ( \
                 SELECT DISTINCT rb.hash, r.node_id, n.owner_id FROM revision_blocks rb \
                 JOIN revisions r ON r.id = rb.revision_id JOIN nodes n ON n.id = r.node_id \
                 WHERE rb.hash IN (SELECT hash FROM req)), \
             sharers(owner_id) AS ( \
                 SELECT owner_id FROM shares WHERE grantee_id = ${user_p} AND accepted_at IS NOT NULL), \
             up(hash, id, parent_id) AS ( \
                 SELECT refs.hash, n.id, n.parent_id FROM refs JOIN nodes n ON n.id = refs.node_id \
                 WHERE refs.owner_id IN (SELECT owner_id FROM sharers) \
                 UNION SELECT up.hash, n.id, n.parent_id FROM up JOIN nodes n ON n.id = up.parent_id), \
             readable(hash) AS ( \
                 SELECT hash FROM refs WHERE owner_id = ${user_p} \
                 UNION SELECT up.hash FROM up JOIN shares s ON s.node_id = up.id \
                 WHERE s.grantee_id = ${user_p} AND s.accepted_at IS NOT NULL) \
             SELECT req.hash, b.size, b.deleting_at, b.damaged_at, rd.hash, res.size, res.token, res.uploaded_at \
             FROM req \
             LEFT JOIN blocks b ON b.hash = req.hash \
             LEFT JOIN readable rd ON rd.hash = req.hash \
             LEFT JOIN upload_reservations res \
                 ON res.user_id = ${user_p} AND res.hash = req.hash AND res.expires_at > ${now_p}"
        );
        type Row = (
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let mut query = sqlx::query_as::<_, Row>(&sql);
        for hash in chunk {
            query = query.bind(hash.to_string());
        }
        let rows = query.bind(user).bind(now).fetch_all(&mut *conn).await?;
        for (hash, size, deleting_at, damaged_at, readable, reserved, token, uploaded_at) in rows {
            let Ok(hash) = hash.parse::<BlockHash>() else { continue };
            let standing = found.entry(hash).or_insert_with(Standing::default);
            standing.deleting = deleting_at.is_some();
            // Quarantined by `--check`: missing until uploaded again.
            if !standing.deleting && damaged_at.is_none() {
                standing.stored = size.map(|size| size.max(0) as u64);
            }
            standing.readable |= readable.is_some();
            if let Some(reserved) = reserved {
                standing.reservation = Some(Held {
                    size: reserved.max(0) as u64,
                    token,
                    uploaded: uploaded_at.is_some(),
                });
            }
        }
    }
    Ok(found)
}

/// Marks blocks as just used by an upload, which keeps them from the garbage
/// collector for its grace period. Blocks being deleted are left alone.
pub(super) async fn touch_blocks(conn: &mut Connection, hashes: &[BlockHash], now: i64) -> ApiResult<()> {
    let hashes: Vec<String> = hashes.iter().map(ToString::to_string).collect();
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "UPDATE blocks SET touched_at = $1 WHERE deleting_at IS NULL AND hash IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(now);
        for hash in chunk {
            query = query.bind(hash);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Uploads checked against the store at a time (S3: one HEAD each).
const PROOFS_AT_ONCE: usize = 16;

/// The blocks of a request (`sizes`) missing for the uploader: all but those present for
/// them (see the module documentation), exactly as if the server had never
/// seen the others. A block the uploader reserved and PUT straight to the
/// store (S3) is proven here, from the store's object, and recorded. Every
/// block of the request is touched, so that what the client is told it need
/// not upload, and what it uploads, stays for the garbage collector's grace
/// period.
pub(super) async fn missing_for(
    state: &AppState,
    user: UserId,
    sizes: &BTreeMap<BlockHash, u64>,
) -> ApiResult<Vec<(BlockHash, u64)>> {
    let hashes: Vec<BlockHash> = sizes.keys().copied().collect();
    let now = now_ms();
    let standings = standings(&mut *state.db.reader().acquire().await?, user, &hashes, now).await?;
    let none = Standing::default();
    let mut unproven = Vec::new();
    let mut missing = Vec::new();
    for (&hash, &size) in sizes {
        let standing = standings.get(&hash).unwrap_or(&none);
        if standing.present(size) {
            continue;
        }
        if let Some(grant) = standing.unproven(user, size) {
            unproven.push((hash, size, grant));
        } else {
            missing.push((hash, size));
        }
    }
    let blobs = &state.blobs;
    let checked: Vec<(BlockHash, u64, bool)> = futures::stream::iter(unproven)
        .map(|(hash, size, grant)| async move {
            let proven = blobs.upload_proven(hash, size, &grant).await?;
            Ok::<_, StorageError>((hash, size, proven))
        })
        .buffer_unordered(PROOFS_AT_ONCE)
        .try_collect()
        .await?;
    let mut proven = Vec::new();
    for (hash, size, ok) in checked {
        if ok {
            proven.push((hash, size));
        } else {
            missing.push((hash, size));
        }
    }
    missing.sort();
    if !hashes.is_empty() {
        let mut tx = state.db.begin().await?;
        // Every block of the request, missing ones too, whoever's they are
        // (nothing answered depends on it): a block missing for this user
        // may have a row nobody uses any more, and their upload straight to
        // S3 would not touch it. Rows of `blocks` first, then the
        // reservations, in the order the commit and the PUT take them too.
        touch_blocks(&mut tx, &hashes, now).await?;
        register_blocks(&mut tx, &proven).await?;
        for (hash, size) in &proven {
            mark_uploaded(&mut tx, user, *hash, *size, now).await?;
        }
        tx.commit().await?;
    }
    Ok(missing)
}

/// Records the proofs of possession of uploads whose PUTs were verified and
/// stored (`(grant, hash, size)`): each grantee's live reservation with that
/// token becomes proof. Returns how many were found.
pub async fn record_uploads(tx: &mut Tx, proofs: &[(UploadGrant, BlockHash, u64)]) -> ApiResult<u64> {
    let now = now_ms();
    let mut recorded = 0;
    for chunk in proofs.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE upload_reservations SET uploaded_at = $1 \
             WHERE expires_at > $1 AND (user_id, hash, token, size) IN (VALUES {})",
            value_rows(2, chunk.len(), 4)
        );
        let mut query = sqlx::query(&sql).bind(now);
        for (grant, hash, size) in chunk {
            query = query
                .bind(grant.user_id)
                .bind(hash.to_string())
                .bind(grant.token.as_str())
                .bind(*size as i64);
        }
        recorded += query.execute(&mut **tx).await?.rows_affected();
    }
    Ok(recorded)
}

/// Records an upload the store proved (see [`missing_for`]).
async fn mark_uploaded(tx: &mut Tx, user: UserId, hash: BlockHash, size: u64, now: i64) -> ApiResult<()> {
    sqlx::query(
        "UPDATE upload_reservations SET uploaded_at = $1 \
         WHERE user_id = $2 AND hash = $3 AND size = $4 AND expires_at > $1",
    )
    .bind(now)
    .bind(user)
    .bind(hash.to_string())
    .bind(size as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
