//! The metadata database. SQLite in WAL mode on the embedded default; writes
//! go through a single connection so that transactions never fight over the
//! write lock (SQLite would answer SQLITE_BUSY instead of waiting), while
//! reads run in parallel on their own pool.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

pub type Pool = SqlitePool;
pub type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

#[derive(Clone)]
pub struct Db {
    read: Pool,
    write: Pool,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("opening the database {path}")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("applying database migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_err)?;
        Ok(Self { read, write })
    }

    /// For queries that change nothing.
    pub fn reader(&self) -> &Pool {
        &self.read
    }

    /// Starts a write transaction; callers wait their turn for the one writer.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.write.begin().await
    }
}

/// Milliseconds since the Unix epoch, the unit of every time column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn to_datetime(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
