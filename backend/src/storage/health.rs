//! Telling storage failures apart, so that a request that could not be made
//! durable answers a clear error instead of a success or a bare 500:
//!
//! - out of space (`ENOSPC`/`EDQUOT` from the file system, `SQLITE_FULL`,
//!   PostgreSQL's `disk_full`): 507 `insufficient_storage`;
//! - a store that cannot be reached (pool timed out or closed, the SQLite
//!   worker gone, a connection error, `SQLITE_CANTOPEN`/`SQLITE_IOERR`,
//!   PostgreSQL connection errors): 503 `unavailable`.
//!
//! Either way the write was rolled back whole (a transaction, or a temp file
//! that never became a block).
//!
//! Readiness remembers the last failure for lack of space of each dependency
//! (see [`OutOfSpace`]): `/ready` answers 503 naming it until a write probe
//! shows the space is back.

use std::{io::Write, path::Path, sync::Mutex};

/// A storage dependency, as named in `/ready` answers and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Metadata,
    Blobs,
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dependency::Metadata => "metadata",
            Dependency::Blobs => "blobs",
        })
    }
}

/// Whether an I/O error means the disk (or the quota) is full.
pub fn io_out_of_space(err: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    matches!(err.raw_os_error(), Some(ENOSPC | EDQUOT))
        || matches!(
            err.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
}

/// SQLite's primary result code (the low byte of an extended one) or
/// PostgreSQL's SQLSTATE, from a database error.
fn database_code(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

fn sqlite_primary(code: &str) -> Option<i64> {
    code.parse::<i64>().ok().map(|c| c & 0xff)
}

/// Whether a database error means its disk is full.
pub fn sqlx_out_of_space(err: &sqlx::Error) -> bool {
    const SQLITE_FULL: i64 = 13;
    match err {
        sqlx::Error::Io(io) => io_out_of_space(io),
        sqlx::Error::Database(db) => {
            let code = database_code(err).unwrap_or_default();
            sqlite_primary(&code) == Some(SQLITE_FULL)
                // PostgreSQL: disk_full (class 53 is "insufficient resources").
                || code == "53100"
                || db.message().contains("database or disk is full")
        }
        _ => false,
    }
}

/// Whether a database error means the database cannot be reached (or can
/// no longer be written reliably): the request may succeed later.
pub fn sqlx_unreachable(err: &sqlx::Error) -> bool {
    const SQLITE_IOERR: i64 = 10;
    const SQLITE_CANTOPEN: i64 = 14;
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Io(io) => !io_out_of_space(io),
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(_) => {
            let code = database_code(err).unwrap_or_default();
            matches!(sqlite_primary(&code), Some(SQLITE_IOERR | SQLITE_CANTOPEN))
                // PostgreSQL: connection exceptions, shutting down, cannot connect now.
                || code.starts_with("08")
                || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
        }
        _ => false,
    }
}

/// The last write of one dependency that failed for lack of space, until a
/// write shows that the space is back. `needed` is what that write needed
/// (0 when unknown), so that a probe can try as much.
#[derive(Debug, Default)]
pub struct OutOfSpace(Mutex<Option<u64>>);

impl OutOfSpace {
    pub fn mark(&self, needed: u64) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *state = Some(state.unwrap_or(0).max(needed));
    }

    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// What the failed write needed, if one failed for lack of space.
    pub fn needed(&self) -> Option<u64> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `len` bytes (at least one) to a new file in `dir`, fsyncs it when
/// `sync`, and removes it: whether `dir`'s file system can take that much now.
pub async fn probe_write(dir: &Path, len: u64, sync: bool) -> std::io::Result<()> {
    let path = dir.join(format!(".probe-{}", uuid::Uuid::new_v4()));
    tokio::task::spawn_blocking(move || {
        let written = (|| {
            let mut file = std::fs::File::create(&path)?;
            let chunk = vec![0x5au8; 64 * 1024];
            let mut left = len.max(1);
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                file.write_all(&chunk[..n])?;
                left -= n as u64;
            }
            file.flush()?;
            if sync {
                file.sync_all()?;
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&path);
        written
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_is_out_of_space() {
        assert!(io_out_of_space(&std::io::Error::from_raw_os_error(28)));
        assert!(!io_out_of_space(&std::io::Error::from_raw_os_error(5)));
    }

    #[test]
    fn out_of_space_keeps_the_largest_need_until_cleared() {
        let state = OutOfSpace::default();
        assert_eq!(state.needed(), None);
        state.mark(10);
        state.mark(5);
        assert_eq!(state.needed(), Some(10));
        state.clear();
        assert_eq!(state.needed(), None);
    }
}
