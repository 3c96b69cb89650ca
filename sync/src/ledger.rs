//! The sync ledger: per synced folder, the last state both sides agreed on for
//! every path, plus a mirror of the remote tree kept current from the server's
//! changes feed. SQLite in WAL mode, one writer (this process), so that a
//! `kill -9` at any moment leaves either the old or the new state, never half.

use std::{collections::HashMap, path::Path};

use drive_wire::{ChangesPage, Node, NodeId, NodeKind, RevisionId, ShareId};
use rusqlite::{backup::Backup, params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ledger database: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// What both sides agreed a path was, the last time they agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: NodeKind,
    pub node_id: NodeId,
    pub revision: Option<RevisionId>,
    pub size: u64,
    /// Local modification time (ns since the epoch) and inode when recorded:
    /// the quick check that spares re-hashing unchanged files.
    pub mtime_ns: i64,
    pub inode: u64,
    /// Identity of a file's content (see `chunker::content_id`).
    pub content_id: Option<String>,
}

/// A live node of the remote tree, as the changes feed last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNode {
    pub id: NodeId,
    pub parent_id: Option<NodeId>,
    pub name: String,
    pub kind: NodeKind,
    pub revision: Option<RevisionId>,
    pub size: u64,
    pub modified_ms: i64,
    /// In something shared with the user as a viewer: the server refuses
    /// every change under it.
    pub read_only: bool,
    /// Set on the root of a share mounted in the user's tree.
    pub share_id: Option<ShareId>,
}

impl From<&Node> for RemoteNode {
    fn from(node: &Node) -> Self {
        Self {
            id: node.id,
            parent_id: node.parent_id,
            name: node.name.clone(),
            kind: node.kind,
            revision: node.revision,
            size: node.size,
            modified_ms: node.modified.timestamp_millis(),
            read_only: node.read_only,
            share_id: node.share_id,
        }
    }
}

fn kind_str(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::File => "file",
        NodeKind::Folder => "folder",
    }
}

fn parse_kind(kind: &str) -> NodeKind {
    if kind == "file" {
        NodeKind::File
    } else {
        NodeKind::Folder
    }
}

/// The schema, one step per version (`PRAGMA user_version` counts the steps
/// applied). Steps are only ever appended: a ledger written by any earlier
/// version upgrades by running the steps it lacks.
const MIGRATIONS: &[&str] = &[
    // 1: the schema as it was before it had versions. `IF NOT EXISTS`, so
    // that on those ledgers (version 0, tables present) it changes nothing.
    "
CREATE TABLE IF NOT EXISTS entries (
    path       TEXT PRIMARY KEY,
    kind       TEXT    NOT NULL,
    node_id    INTEGER NOT NULL,
    revision   INTEGER,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    inode      INTEGER NOT NULL,
    content_id TEXT
);
CREATE TABLE IF NOT EXISTS remote (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    revision    INTEGER,
    size        INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS remote_parent ON remote(parent_id);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
",
    // 2: sharing. The mirror was built by a client that dropped these fields,
    // so it cannot tell which nodes are read-only: forgetting the cursor makes
    // the next pull replay the feed, whose nodes carry them (nodes as they are
    // now, so the replay is idempotent; the agreed state in `entries` stays).
    "
ALTER TABLE remote ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote ADD COLUMN share_id INTEGER;
DELETE FROM meta WHERE key = 'cursor';
",
];

/// Brings the schema to the latest version. In one immediate transaction that
/// reads the version inside it: a second process opening the same ledger at
/// the same time (`drive status` beside `drive sync`) waits, then finds
/// nothing left to do, instead of adding the same column twice.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step + 1)?;
    }
    tx.commit()
}

// The statements run once per item (thousands per pass) are prepared once
// per connection.
fn put_entry(conn: &Connection, path: &str, entry: &Entry) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO entries (path, kind, node_id, revision, size, mtime_ns, inode, content_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (path) DO UPDATE SET kind = ?2, node_id = ?3, revision = ?4, size = ?5, \
         mtime_ns = ?6, inode = ?7, content_id = ?8",
    )?
    .execute(params![
        path,
        kind_str(entry.kind),
        entry.node_id,
        entry.revision,
        entry.size as i64,
        entry.mtime_ns,
        entry.inode as i64,
        entry.content_id
    ])?;
    Ok(())
}

fn apply_node(conn: &Connection, node: &Node) -> rusqlite::Result<()> {
    if node.trashed_at.is_some() {
        conn.prepare_cached("DELETE FROM remote WHERE id = ?1")?
            .execute(params![node.id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO remote (id, parent_id, name, kind, revision, size, modified_ms, read_only, share_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO UPDATE SET \
         parent_id = ?2, name = ?3, kind = ?4, revision = ?5, size = ?6, modified_ms = ?7, \
         read_only = ?8, share_id = ?9",
    )?
    .execute(params![
        node.id,
        node.parent_id,
        node.name,
        kind_str(node.kind),
        node.revision,
        node.size as i64,
        node.modified.timestamp_millis(),
        node.read_only,
        node.share_id
    ])?;
    Ok(())
}

/// A purged node takes its whole subtree with it.
fn delete_remote_tree(conn: &Connection, id: NodeId) -> rusqlite::Result<()> {
    conn.execute(
        "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL \
         SELECT r.id FROM remote r JOIN sub ON r.parent_id = sub.id) \
         DELETE FROM remote WHERE id IN (SELECT id FROM sub)",
        params![id],
    )?;
    Ok(())
}

pub struct Ledger {
    conn: Connection,
}

impl Ledger {
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source| LedgerError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        migrate(&mut conn).map_err(open_err)?;
        Ok(Self { conn })
    }

    /// A copy in memory of the ledger at `path` (empty if there is none),
    /// for a look that must write nothing (`drive status` beside `drive
    /// sync`): what the look records while it plans (remote changes pulled,
    /// ignored paths forgotten) goes to the copy, and the running sync's
    /// ledger is left as it is.
    pub fn snapshot(path: &Path) -> Result<Self> {
        let open_err = |source| LedgerError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open_in_memory().map_err(open_err)?;
        if path.exists() {
            let source = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(open_err)?;
            source
                .busy_timeout(std::time::Duration::from_secs(10))
                .map_err(open_err)?;
            // All pages in one step, one read transaction: a copy made in
            // steps starts over whenever the running sync writes.
            Backup::new(&source, &mut conn)
                .and_then(|copy| copy.run_to_completion(i32::MAX, std::time::Duration::from_millis(10), None))
                .map_err(open_err)?;
        }
        migrate(&mut conn).map_err(open_err)?;
        Ok(Self { conn })
    }

    /// The node synced at `path`, if any.
    pub fn node_id(&self, path: &str) -> Result<Option<NodeId>> {
        Ok(self
            .conn
            .query_row("SELECT node_id FROM entries WHERE path = ?1", params![path], |row| {
                row.get(0)
            })
            .optional()?)
    }

    pub fn entries(&self) -> Result<HashMap<String, Entry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, kind, node_id, revision, size, mtime_ns, inode, content_id FROM entries")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                Entry {
                    kind: parse_kind(&row.get::<_, String>(1)?),
                    node_id: row.get(2)?,
                    revision: row.get(3)?,
                    size: row.get::<_, i64>(4)?.max(0) as u64,
                    mtime_ns: row.get(5)?,
                    inode: row.get::<_, i64>(6)? as u64,
                    content_id: row.get(7)?,
                },
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>().map_err(Into::into)
    }

    pub fn put_entry(&self, path: &str, entry: &Entry) -> Result<()> {
        Ok(put_entry(&self.conn, path, entry)?)
    }

    /// Records `entries` as agreed, in one transaction.
    pub fn put_entries(&mut self, entries: &[(String, Entry)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (path, entry) in entries {
            put_entry(&tx, path, entry)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records what the server created or committed for this client (a
    /// batch's files or folders), each as agreed and in the remote mirror, in
    /// one transaction.
    pub fn record_synced(&mut self, items: &[(String, Entry, Node)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (path, entry, node) in items {
            put_entry(&tx, path, entry)?;
            apply_node(&tx, node)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets `path` and everything under it.
    pub fn remove_tree(&self, path: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM entries WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
            params![path],
        )?;
        Ok(())
    }

    /// Moves the records of `from` and everything under it to `to`.
    pub fn rename_tree(&mut self, from: &str, to: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM entries WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
            params![to],
        )?;
        tx.execute(
            "UPDATE entries SET path = ?2 || substr(path, length(?1) + 1) \
             WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
            params![from, to],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn remote_nodes(&self) -> Result<Vec<RemoteNode>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, parent_id, name, kind, revision, size, modified_ms, read_only, share_id FROM remote",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(RemoteNode {
                id: row.get(0)?,
                parent_id: row.get(1)?,
                name: row.get(2)?,
                kind: parse_kind(&row.get::<_, String>(3)?),
                revision: row.get(4)?,
                size: row.get::<_, i64>(5)?.max(0) as u64,
                modified_ms: row.get(6)?,
                read_only: row.get(7)?,
                share_id: row.get(8)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>().map_err(Into::into)
    }

    /// Applies a page of the changes feed to the remote mirror and advances
    /// the cursor, atomically. A trashed folder keeps its children's rows
    /// (they are unreachable, hence absent, until it is restored).
    pub fn apply_changes(&mut self, page: &ChangesPage) -> Result<()> {
        let tx = self.conn.transaction()?;
        for change in &page.changes {
            match &change.node {
                Some(node) => apply_node(&tx, node)?,
                None => delete_remote_tree(&tx, change.node_id)?,
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('cursor', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1",
            params![page.cursor.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records what the server answered to this client's own change, so that
    /// the next plan sees it before the changes feed echoes it back.
    pub fn note_remote(&self, node: &Node) -> Result<()> {
        Ok(apply_node(&self.conn, node)?)
    }

    /// Records that this client trashed a remote node.
    pub fn note_remote_gone(&self, id: NodeId) -> Result<()> {
        self.conn.execute("DELETE FROM remote WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Forgets the agreed state, the remote mirror and the cursor, so that
    /// the next pass relists the server and compares, as a first sync does:
    /// for a server whose feed went backwards (restored from a backup).
    pub fn relist(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM entries; DELETE FROM remote; DELETE FROM meta WHERE key IN ('cursor', 'server_id');",
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn cursor(&self) -> Result<i64> {
        Ok(self.meta("cursor")?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |row| row.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use drive_wire::{Change, ChangeKind};

    fn node(id: NodeId, parent: NodeId, name: &str, trashed: bool) -> Node {
        Node {
            id,
            parent_id: Some(parent),
            name: name.into(),
            kind: NodeKind::Folder,
            size: 0,
            revision: None,
            modified: Utc::now(),
            trashed_at: trashed.then(Utc::now),
            read_only: false,
            share_id: None,
        }
    }

    fn page(cursor: i64, changes: Vec<(NodeId, Option<Node>)>) -> ChangesPage {
        ChangesPage {
            changes: changes
                .into_iter()
                .map(|(node_id, node)| Change {
                    seq: cursor,
                    kind: ChangeKind::Updated,
                    node_id,
                    node,
                    at: Utc::now(),
                })
                .collect(),
            cursor,
            has_more: false,
            server_id: String::new(),
        }
    }

    fn entry(node_id: NodeId) -> Entry {
        Entry {
            kind: NodeKind::File,
            node_id,
            revision: Some(1),
            size: 1,
            mtime_ns: 2,
            inode: 3,
            content_id: Some("c".into()),
        }
    }

    #[test]
    fn entries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        {
            let ledger = Ledger::open(&path).unwrap();
            ledger.put_entry("a/b.txt", &entry(7)).unwrap();
            ledger.set_meta("root_id", "1").unwrap();
        }
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.entries().unwrap().get("a/b.txt"), Some(&entry(7)));
        assert_eq!(ledger.meta("root_id").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn trees_rename_and_remove_by_path_prefix_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        for (path, id) in [("a", 1), ("a/x", 2), ("ab", 3), ("a/y/z", 4)] {
            ledger.put_entry(path, &entry(id)).unwrap();
        }
        ledger.rename_tree("a", "c").unwrap();
        let mut paths: Vec<_> = ledger.entries().unwrap().into_keys().collect();
        paths.sort();
        assert_eq!(paths, vec!["ab", "c", "c/x", "c/y/z"]);
        ledger.remove_tree("c").unwrap();
        assert_eq!(ledger.entries().unwrap().into_keys().collect::<Vec<_>>(), vec!["ab"]);
    }

    #[test]
    fn a_ledger_from_before_versions_upgrades_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // As the previous release left it: its schema, version 0, data.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "INSERT INTO remote (id, parent_id, name, kind, revision, size, modified_ms) \
                 VALUES (2, 1, 'd', 'folder', NULL, 0, 5); \
                 INSERT INTO meta (key, value) VALUES ('cursor', '42'), ('root_id', '1');",
            )
            .unwrap();
        }
        {
            let ledger = Ledger::open(&path).unwrap();
            ledger.put_entry("d", &entry(2)).unwrap();
            let nodes = ledger.remote_nodes().unwrap();
            assert_eq!((nodes[0].id, nodes[0].read_only, nodes[0].share_id), (2, false, None));
            // Replayed from the start, so the flags of nodes shared before
            // the upgrade come in.
            assert_eq!(ledger.cursor().unwrap(), 0);
            assert_eq!(ledger.meta("root_id").unwrap().as_deref(), Some("1"));
        }
        // Opening again runs nothing twice.
        let ledger = Ledger::open(&path).unwrap();
        let version: usize = ledger
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        assert_eq!(ledger.entries().unwrap().get("d"), Some(&entry(2)));
    }

    #[test]
    fn the_mirror_keeps_share_flags_and_a_revoked_share_goes_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        let mut mount = node(2, 1, "Shared", false);
        mount.read_only = true;
        mount.share_id = Some(9);
        let mut inside = node(3, 2, "docs", false);
        inside.read_only = true;
        ledger
            .apply_changes(&page(
                5,
                vec![
                    (2, Some(mount)),
                    (3, Some(inside)),
                    (4, Some(node(4, 1, "mine", false))),
                ],
            ))
            .unwrap();
        let mut nodes = ledger.remote_nodes().unwrap();
        nodes.sort_by_key(|n| n.id);
        let flags: Vec<_> = nodes.iter().map(|n| (n.id, n.read_only, n.share_id)).collect();
        assert_eq!(flags, vec![(2, true, Some(9)), (3, true, None), (4, false, None)]);
        // Revoked: the grantee's feed purges the mount root, and with it
        // everything mirrored under it.
        ledger.apply_changes(&page(6, vec![(2, None)])).unwrap();
        assert_eq!(
            ledger.remote_nodes().unwrap().iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![4]
        );
    }

    #[test]
    fn the_feed_maintains_the_remote_mirror_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        ledger
            .apply_changes(&page(
                5,
                vec![(2, Some(node(2, 1, "d", false))), (3, Some(node(3, 2, "e", false)))],
            ))
            .unwrap();
        assert_eq!(ledger.remote_nodes().unwrap().len(), 2);
        assert_eq!(ledger.cursor().unwrap(), 5);
        // Trashing a folder keeps its children's rows, for a later restore.
        ledger
            .apply_changes(&page(6, vec![(2, Some(node(2, 1, "d", true)))]))
            .unwrap();
        assert_eq!(
            ledger.remote_nodes().unwrap().iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![3]
        );
        // Purging takes the subtree.
        ledger
            .apply_changes(&page(7, vec![(2, Some(node(2, 1, "d", false)))]))
            .unwrap();
        ledger.apply_changes(&page(8, vec![(2, None)])).unwrap();
        assert!(ledger.remote_nodes().unwrap().is_empty());
        assert_eq!(ledger.cursor().unwrap(), 8);
    }
}
