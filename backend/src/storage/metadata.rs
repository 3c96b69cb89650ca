//! The metadata database, behind [`MetadataStore`]: SQLite, the embedded
//! default (a file in the data dir, one server), or PostgreSQL (several
//! stateless instances), chosen by the database URL.
//!
//! Queries are written once, in SQL both engines run (`$N` parameters,
//! `RETURNING`, recursive CTEs, `ON CONFLICT`, integers for times), and go
//! through sqlx's `Any` driver. What really differs is the trait's: how to
//! connect and migrate, how writers take turns, and how other instances hear
//! that a feed grew.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use drive_wire::UserId;
use futures::stream::BoxStream;
use sqlx::{any::AnyPoolOptions, postgres::PgListener, AnyPool, Connection as _, Executor};

use super::health::{probe_write, OutOfSpace};

pub type Pool = AnyPool;
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
pub type Connection = sqlx::AnyConnection;

/// The PostgreSQL channel that carries "these users' feeds grew".
const CHANGES_CHANNEL: &str = "drive_changes";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("opening the database {url}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("applying database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database URL {0} is neither sqlite:// nor postgres://")]
    UnknownScheme(String),
    #[error("listening for changes of other instances")]
    Listen(#[source] sqlx::Error),
}

/// What differs between the two engines.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs.
    fn engine(&self) -> &'static str;

    /// For queries that change nothing.
    fn reader(&self) -> &Pool;

    /// For write transactions.
    fn writer(&self) -> &Pool;

    /// Tells the other instances sharing this database that these users'
    /// feeds grew, so that their long-polls wake. Best effort: a long-poll
    /// that misses it still answers when its wait runs out.
    async fn announce(&self, users: &[UserId]);

    /// The users whose feeds grew through other instances, as announced;
    /// `None` where no other instance can exist.
    async fn subscribe(&self) -> Result<Option<BoxStream<'static, UserId>>, DbError>;

    /// Takes one turn of the rate limit `key`, for every instance sharing
    /// the database, in one atomic upsert: a token bucket (GCRA) that lets
    /// an attempt through when, counting it, the bucket's theoretical arrival
    /// time (`tat`: when it is full again) is at most `burst_ms` ahead of
    /// `now`; each attempt let through costs `interval_ms`. An attempt
    /// refused costs nothing.
    async fn take_turn(&self, key: &str, now: i64, interval_ms: i64, burst_ms: i64) -> Result<Turn, sqlx::Error> {
        let (tat, allowed): (i64, i64) = sqlx::query_as(
            "INSERT INTO rate_limits (key, tat, allowed) VALUES ($1, $2 + $3, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               allowed = CASE WHEN (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3 - $2 <= $4 \
                              THEN 1 ELSE 0 END, \
               tat = CASE WHEN (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3 - $2 <= $4 \
                          THEN (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3 \
                          ELSE rate_limits.tat END \
             RETURNING tat, allowed",
        )
        .bind(key)
        .bind(now)
        .bind(interval_ms)
        .bind(burst_ms)
        .fetch_one(self.writer())
        .await?;
        Ok(Turn {
            allowed: allowed != 0,
            tat,
        })
    }

    /// Deletes the rate limits whose bucket is full again (as if they had
    /// never been used); returns how many.
    async fn purge_turns(&self, now: i64) -> Result<u64, sqlx::Error> {
        let purged = sqlx::query("DELETE FROM rate_limits WHERE tat < $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(purged.rows_affected())
    }

    /// The directory of the database file, when it is on this machine: where
    /// `/ready` checks that space came back after a write failed for lack of it.
    fn local_dir(&self) -> Option<&Path> {
        None
    }
}

/// What [`MetadataStore::take_turn`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// The attempt may go on.
    pub allowed: bool,
    /// The bucket's theoretical arrival time after this attempt, ms since
    /// the epoch.
    pub tat: i64,
}

/// The metadata database every handler uses.
#[derive(Clone)]
pub struct Db {
    store: Arc<dyn MetadataStore>,
    /// Set when a write failed for lack of space; `/ready` answers 503
    /// naming "metadata" until a write probe succeeds again.
    out_of_space: Arc<OutOfSpace>,
}

impl Db {
    /// Opens (creating and migrating as needed) the database at `url`:
    /// `sqlite://PATH` or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Self::new(SqliteStore::open(Path::new(path)).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::new(PostgresStore::open(url).await?))
        } else {
            Err(DbError::UnknownScheme(redact_url(url)))
        }
    }

    /// The embedded default: a SQLite file.
    pub async fn open_sqlite(path: &Path) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        Ok(Self::new(SqliteStore::open(path).await?))
    }

    fn new(store: impl MetadataStore) -> Self {
        Self {
            store: Arc::new(store),
            out_of_space: Arc::default(),
        }
    }

    /// Remembers that a write failed for lack of space (see [`Db::ready`]).
    pub fn mark_out_of_space(&self) {
        self.out_of_space.mark(0);
    }

    /// Readiness: the database answers; and, after a write failed for lack
    /// of space, space is back: a write probe next to the database file (for
    /// SQLite) and a write transaction both succeed. Until then the answer
    /// names the failure; once they succeed the mark is cleared.
    pub async fn ready(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(self.reader())
            .await
            .map_err(|e| format!("the database does not answer: {e}"))?;
        if self.out_of_space.needed().is_none() {
            return Ok(());
        }
        let still_full = |e: &dyn std::fmt::Display| format!("a write failed for lack of space, and still fails: {e}");
        if let Some(dir) = self.store.local_dir() {
            probe_write(dir, READY_PROBE_BYTES, true)
                .await
                .map_err(|e| still_full(&e))?;
        }
        let mut tx = self.begin().await.map_err(|e| still_full(&e))?;
        sqlx::query("UPDATE server_identity SET id = id WHERE one = 1")
            .execute(&mut *tx)
            .await
            .map_err(|e| still_full(&e))?;
        tx.commit().await.map_err(|e| still_full(&e))?;
        self.out_of_space.clear();
        Ok(())
    }

    pub fn engine(&self) -> &'static str {
        self.store.engine()
    }

    /// For queries that change nothing.
    pub fn reader(&self) -> &Pool {
        self.store.reader()
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.store.writer().begin().await
    }

    /// Marks a block whose object was quarantined (see `check`): the row
    /// stays, since revisions still use it, and reads as missing to every
    /// upload until a verified upload of its bytes clears the mark.
    pub async fn mark_damaged(&self, hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE blocks SET damaged_at = $1 WHERE hash = $2")
            .bind(now_ms())
            .bind(hash)
            .execute(self.store.writer())
            .await
            .map(drop)
    }

    /// The identity of this database (see migration 0008): read, or made
    /// (a random UUID) the first time. Instances starting together on one
    /// PostgreSQL database each try to insert theirs; one wins, and all read
    /// the same row back.
    pub async fn server_identity(&self) -> Result<String, sqlx::Error> {
        let fresh = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO server_identity (one, id) VALUES (1, $1) ON CONFLICT (one) DO NOTHING")
            .bind(fresh)
            .execute(self.store.writer())
            .await?;
        sqlx::query_scalar("SELECT id FROM server_identity WHERE one = 1")
            .fetch_one(self.store.writer())
            .await
    }

    /// See [`MetadataStore::take_turn`].
    pub async fn take_turn(&self, key: &str, now: i64, interval_ms: i64, burst_ms: i64) -> Result<Turn, sqlx::Error> {
        self.store.take_turn(key, now, interval_ms, burst_ms).await
    }

    /// See [`MetadataStore::purge_turns`].
    pub async fn purge_turns(&self, now: i64) -> Result<u64, sqlx::Error> {
        self.store.purge_turns(now).await
    }

    pub async fn announce(&self, users: &[UserId]) {
        self.store.announce(users).await
    }

    pub async fn subscribe(&self) -> Result<Option<BoxStream<'static, UserId>>, DbError> {
        self.store.subscribe().await
    }
}

/// SQLite in WAL mode. Writes go through a single connection so that
/// transactions queue instead of failing with `SQLITE_BUSY`, which also
/// commits changes to the journal in the order of their sequence numbers;
/// reads run in parallel on their own pool.
struct SqliteStore {
    read: Pool,
    write: Pool,
    dir: PathBuf,
}

/// How much `/ready` writes (and fsyncs) to see whether space is back.
const READY_PROBE_BYTES: u64 = 1024 * 1024;

impl SqliteStore {
    async fn open(path: &Path) -> Result<Self, DbError> {
        // The path goes into a URL: escape what a URL would read otherwise.
        let encoded = percent_encoding::utf8_percent_encode(&path.to_string_lossy(), URL_UNSAFE).to_string();
        let url = format!("sqlite://{encoded}");
        let open_err = |source| DbError::Open {
            url: url.clone(),
            source,
        };
        let write = sqlite_pool(&format!("{url}?mode=rwc"), 1, true)
            .await
            .map_err(open_err)?;
        write.execute("PRAGMA journal_mode = WAL").await.map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = sqlite_pool(&format!("{url}?mode=ro"), 8, false)
            .await
            .map_err(open_err)?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        Ok(Self { read, write, dir })
    }
}

const URL_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'%').add(b'?').add(b'#');

/// A pool of SQLite connections; `writer` for the one that writes.
///
/// A writer connection goes back to the pool only outside any transaction.
/// A transaction whose COMMIT failed (e.g. `SQLITE_FULL`) has already been
/// rolled back by SQLite, so the ROLLBACK sqlx sends when it is dropped fails
/// too and sqlx still counts the connection as inside a transaction: its next
/// `begin` would be a SAVEPOINT, a later rollback would leave a transaction
/// open, and every "commit" after that would go into it and be lost. So when
/// a connection comes back, sqlx must count no transaction and SQLite must
/// accept a `BEGIN` (it refuses one inside a transaction); otherwise the
/// connection is closed (which rolls back whatever it held) and the pool
/// opens a fresh one for the next writer.
async fn sqlite_pool(url: &str, connections: u32, writer: bool) -> Result<Pool, sqlx::Error> {
    let options = AnyPoolOptions::new().max_connections(connections);
    let options = if writer {
        options.after_release(|conn, _| {
            Box::pin(async move {
                // Lets the rollback the dropped transaction queued run first.
                conn.ping().await?;
                if conn.is_in_transaction() {
                    tracing::warn!("a write transaction was left open: closing its connection");
                    return Ok(false);
                }
                if let Err(error) = conn.execute("BEGIN").await {
                    tracing::warn!(%error, "the writer connection is inside a transaction: closing it");
                    return Ok(false);
                }
                conn.execute("ROLLBACK").await?;
                Ok(true)
            })
        })
    } else {
        options
    };
    options
        // Per connection: sqlx turns foreign keys on itself.
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000")
                    .await
                    .map(drop)
            })
        })
        .connect(url)
        .await
}

#[async_trait]
impl MetadataStore for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn reader(&self) -> &Pool {
        &self.read
    }

    fn writer(&self) -> &Pool {
        &self.write
    }

    async fn announce(&self, _users: &[UserId]) {}

    async fn subscribe(&self) -> Result<Option<BoxStream<'static, UserId>>, DbError> {
        // One process owns the file: there is nobody else to hear from.
        Ok(None)
    }

    fn local_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}

/// PostgreSQL, shared by any number of instances. Journal appends take a row
/// lock (see `changes::append`) so that feeds commit in sequence order; other
/// instances hear of new changes through LISTEN/NOTIFY.
struct PostgresStore {
    pool: Pool,
    /// With its password: the listener opens its own connection.
    url: String,
}

impl PostgresStore {
    async fn open(url: &str) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            url: redact_url(url),
            source,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(open_err)?;
        // Instances starting together migrate one at a time: sqlx takes an
        // advisory lock for it on PostgreSQL.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            url: url.to_owned(),
        })
    }
}

#[async_trait]
impl MetadataStore for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn reader(&self) -> &Pool {
        &self.pool
    }

    fn writer(&self) -> &Pool {
        &self.pool
    }

    async fn announce(&self, users: &[UserId]) {
        if users.is_empty() {
            return;
        }
        let payload = users.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "could not announce changes to other instances");
        }
    }

    async fn subscribe(&self) -> Result<Option<BoxStream<'static, UserId>>, DbError> {
        use futures::StreamExt;
        let mut listener = PgListener::connect(&self.url).await.map_err(DbError::Listen)?;
        listener.listen(CHANGES_CHANNEL).await.map_err(DbError::Listen)?;
        // The listener reconnects by itself; a notification lost meanwhile
        // only delays a long-poll until its wait runs out.
        let users = listener
            .into_stream()
            .filter_map(|notification| async move {
                match notification {
                    Ok(notification) => Some(
                        notification
                            .payload()
                            .split(',')
                            .filter_map(|id| id.parse::<UserId>().ok())
                            .collect::<Vec<_>>(),
                    ),
                    Err(error) => {
                        tracing::warn!(%error, "listening for changes of other instances");
                        None
                    }
                }
            })
            .flat_map(futures::stream::iter);
        Ok(Some(users.boxed()))
    }
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Rows per multi-row statement, far below either database's limit on bound
/// parameters. Binding a parameter costs time in proportion to the number
/// of parameters on SQLite (it looks each `$N` up by name in a list), so a
/// statement of hundreds of rows spends most of its time binding.
pub const ROWS_PER_STATEMENT: usize = 50;

/// `$from, $from+1, ...`: `count` numbered placeholders, for an `IN` list.
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `VALUES` list of a multi-row statement: `rows` groups of `columns`
/// numbered placeholders from `$from`, as in `($1, $2), ($3, $4)`.
pub fn value_rows(from: usize, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(from + row * columns + column).to_string());
        }
        sql.push(')');
    }
    sql
}

/// Milliseconds since the Unix epoch, the unit of every time column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn to_datetime(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{redact_url, value_rows};

    #[test]
    fn value_rows_number_every_placeholder() {
        assert_eq!(value_rows(2, 2, 3), "($2, $3, $4), ($5, $6, $7)");
        assert_eq!(value_rows(1, 1, 1), "($1)");
    }

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            redact_url("postgres://drive:s3cret@db:5432/drive"),
            "postgres://drive:****@db:5432/drive"
        );
        assert_eq!(redact_url("postgres://db/drive"), "postgres://db/drive");
        assert_eq!(
            redact_url("sqlite:///var/lib/drive/metadata.db"),
            "sqlite:///var/lib/drive/metadata.db"
        );
    }
}
