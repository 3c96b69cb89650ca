//! The changes feed: every change to a user's tree is appended to a journal
//! in the same transaction as the change itself, and read back by cursor.
//! Callers that are caught up can long-poll: they sleep until a commit wakes
//! them or their wait runs out.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::extract::State;
use drive_wire::{Change, ChangeKind, ChangesPage, ChangesQuery, Node, NodeId, UserId};
use tokio::sync::Notify;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiResult, Json, Query},
    shares,
    state::AppState,
    storage::metadata::{now_ms, to_datetime, value_rows, Db, DbError, Tx, ROWS_PER_STATEMENT},
    tree::NodeRow,
};

/// Longest long-poll a client may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_LIMIT: u32 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(changes))
}

/// Wakes the long-polls of a user when their tree changes, in this instance
/// and, through the database, in the others sharing it.
pub struct ChangeHub {
    waiters: Mutex<HashMap<UserId, Arc<Notify>>>,
    db: Db,
}

impl ChangeHub {
    pub fn new(db: Db) -> Self {
        Self {
            waiters: Mutex::default(),
            db,
        }
    }

    fn notify_for(&self, user: UserId) -> Arc<Notify> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        waiters.entry(user).or_default().clone()
    }

    /// Call after the transaction that appended changes has committed.
    pub fn wake(&self, users: &[UserId]) {
        self.wake_here(users);
        let (db, users) = (self.db.clone(), users.to_vec());
        tokio::spawn(async move { db.announce(&users).await });
    }

    fn wake_here(&self, users: &[UserId]) {
        for &user in users {
            self.notify_for(user).notify_waiters();
        }
    }

    /// Wakes the long-polls here whenever another instance announces
    /// changes; returns at once where there are no other instances.
    pub async fn follow_other_instances(&self) -> Result<(), DbError> {
        use futures::StreamExt;
        let Some(mut users) = self.db.subscribe().await? else {
            return Ok(());
        };
        tracing::info!("following changes made through other instances");
        while let Some(user) = users.next().await {
            self.wake_here(&[user]);
        }
        Ok(())
    }
}

fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Created => "created",
        ChangeKind::Updated => "updated",
        ChangeKind::Moved => "moved",
        ChangeKind::Trashed => "trashed",
        ChangeKind::Restored => "restored",
        ChangeKind::Purged => "purged",
    }
}

fn parse_kind(name: &str) -> ChangeKind {
    match name {
        "created" => ChangeKind::Created,
        "moved" => ChangeKind::Moved,
        "trashed" => ChangeKind::Trashed,
        "restored" => ChangeKind::Restored,
        "purged" => ChangeKind::Purged,
        _ => ChangeKind::Updated,
    }
}

/// Appends a change of `node` to the feed of everyone whose tree holds it
/// (its owner and the grantees of shares above it), inside the caller's
/// transaction. Returns them, to be woken once the transaction commits.
pub async fn append(tx: &mut Tx, node: NodeId, kind: ChangeKind) -> ApiResult<Vec<UserId>> {
    let users = shares::audience(tx, node).await?;
    for &user in &users {
        append_for(tx, user, node, kind).await?;
    }
    Ok(users)
}

/// Appends a change to one user's feed only.
pub async fn append_for(tx: &mut Tx, user: UserId, node: NodeId, kind: ChangeKind) -> ApiResult<()> {
    take_journal_turn(tx).await?;
    insert_change(tx, user, node, kind).await
}

/// Appends a change of `node` to the feeds of `users`, its audience, for a
/// caller that took the journal's turn already ([`take_journal_turn`]):
/// many appends in one transaction.
pub async fn append_in_turn(tx: &mut Tx, users: &[UserId], node: NodeId, kind: ChangeKind) -> ApiResult<()> {
    for &user in users {
        insert_change(tx, user, node, kind).await?;
    }
    Ok(())
}

/// Appends many changes, in order, for a caller that took the journal's turn
/// already: a few statements for a whole batch.
pub async fn append_many_in_turn(tx: &mut Tx, changes: &[(UserId, NodeId, ChangeKind)]) -> ApiResult<()> {
    let at = now_ms();
    for chunk in changes.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO changes (user_id, node_id, kind, at) VALUES {}",
            value_rows(1, chunk.len(), 4)
        );
        let mut query = sqlx::query(&sql);
        for &(user, node, kind) in chunk {
            query = query.bind(user).bind(node).bind(kind_name(kind)).bind(at);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_change(tx: &mut Tx, user: UserId, node: NodeId, kind: ChangeKind) -> ApiResult<()> {
    sqlx::query("INSERT INTO changes (user_id, node_id, kind, at) VALUES ($1, $2, $3, $4)")
        .bind(user)
        .bind(node)
        .bind(kind_name(kind))
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Tells `user` about every live node of the subtree at `root`, parents
/// before children: what a feed needs when a whole subtree enters a tree
/// (a share accepted, a folder moved into a share) or all of it reads
/// differently (a share's role changed).
pub async fn append_subtree(tx: &mut Tx, user: UserId, root: NodeId, kind: ChangeKind) -> ApiResult<()> {
    take_journal_turn(tx).await?;
    sqlx::query(
        "WITH RECURSIVE sub(id, depth) AS ( \
             SELECT id, 0 FROM nodes WHERE id = $2 AND trashed_at IS NULL \
             UNION ALL SELECT n.id, sub.depth + 1 FROM nodes n JOIN sub ON n.parent_id = sub.id \
             WHERE n.trashed_at IS NULL) \
         INSERT INTO changes (user_id, node_id, kind, at) \
         SELECT $1, id, $3, $4 FROM sub ORDER BY depth, id",
    )
    .bind(user)
    .bind(root)
    .bind(kind_name(kind))
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Holds the journal's one-row lock until the transaction ends. Sequence
/// numbers are handed out at insert time but become visible at commit: were
/// two transactions to append at once, a reader could see seq N+1 before N
/// commits, move its cursor past N and never see it. Taking turns makes the
/// journal commit in sequence order. (On SQLite, whose writes already queue
/// on one connection, the row is simply counted.)
pub async fn take_journal_turn(tx: &mut Tx) -> ApiResult<()> {
    sqlx::query("UPDATE journal_turn SET appends = appends + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    kind: String,
    node_id: NodeId,
    at: i64,
}

async fn read_page(state: &AppState, user: UserId, since: i64, limit: u32) -> ApiResult<ChangesPage> {
    let mut conn = state.db.reader().acquire().await?;
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT seq, kind, node_id, at FROM changes WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(user)
    .bind(since)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *conn)
    .await?;
    let has_more = rows.len() > limit as usize;
    let node_rows: Vec<NodeRow> = sqlx::query_as(&format!(
        "SELECT {} FROM nodes WHERE id IN \
         (SELECT node_id FROM changes WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)",
        crate::tree::NODE_COLUMNS
    ))
    .bind(user)
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    // Each node as the user may see it now. One that exists but that they no
    // longer may see (a share revoked, a node moved out of a share) reads as
    // purged for them; one purged for good keeps its kind, without a node.
    let mut nodes: HashMap<NodeId, Option<Node>> = HashMap::new();
    for row in node_rows {
        let id = row.id;
        let visible = shares::view(&mut conn, user, row).await?;
        nodes.insert(id, visible.map(shares::Visible::present));
    }
    let changes: Vec<Change> = rows
        .into_iter()
        .take(limit as usize)
        .map(|row| {
            let (kind, node) = match nodes.get(&row.node_id) {
                // A purge recorded for this user (a share revoked) stays one
                // even if the node is visible again by now: a later change
                // brings it back.
                _ if row.kind == "purged" => (ChangeKind::Purged, None),
                Some(Some(node)) => (parse_kind(&row.kind), Some(node.clone())),
                Some(None) => (ChangeKind::Purged, None),
                None => (parse_kind(&row.kind), None),
            };
            Change {
                seq: row.seq,
                kind,
                node_id: row.node_id,
                node,
                at: to_datetime(row.at),
            }
        })
        .collect();
    let cursor = match changes.last() {
        Some(last) => last.seq,
        None => {
            // Caught up, or ahead of the journal: a cursor past the newest
            // change of this feed was handed out by a newer state of this
            // database (it was restored from a backup). Answer the newest, so
            // that the client sees its cursor go backwards.
            let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE user_id = $1")
                .bind(user)
                .fetch_one(&mut *conn)
                .await?;
            since.min(newest)
        }
    };
    Ok(ChangesPage {
        changes,
        cursor,
        has_more,
        server_id: state.server_id.clone(),
    })
}

/// Changes to the caller's tree after `since`, oldest first. With `wait`, an
/// empty answer is held back until a change arrives or `wait` seconds pass.
///
/// Every page carries `server_id`, the identity of the server's database: a
/// client that sees it change is talking to another server (or one restored
/// as new) and must relist.
///
/// A `since` beyond the newest change of the caller's feed comes from a newer
/// state of this database (the server was restored from a backup): the
/// answer is then at once, whatever `wait` says, an empty page whose `cursor`
/// is that newest change's `seq` (0 for an empty feed). A `cursor` less than
/// the `since` asked means the feed went backwards: relist instead of
/// trusting the local state.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes", security(("bearer" = [])), params(ChangesQuery),
    responses((status = 200, body = ChangesPage)))]
async fn changes(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<ChangesQuery>,
) -> ApiResult<Json<ChangesPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, DEFAULT_LIMIT);
    let wait = Duration::from_secs(query.wait).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let notify = state.changes.notify_for(auth.user_id);
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        // Registered before reading, so a commit between the read and the
        // wait still wakes us.
        woken.as_mut().enable();
        let page = read_page(&state, auth.user_id, query.since, limit).await?;
        // A cursor behind `since` (the feed went backwards) is news too.
        let news = !page.changes.is_empty() || page.cursor < query.since;
        if news || tokio::time::Instant::now() >= deadline {
            return Ok(Json(page));
        }
        // A wake may bring nothing new for this cursor (an instance also
        // hears its own announcements, a little later): then wait on.
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            return Ok(Json(page));
        }
    }
}
