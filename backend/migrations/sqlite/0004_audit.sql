-- The audit log of sharing and links, per owner of the content. Rows are
-- written in the transaction of the change they record.
CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    actor_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    node_id  INTEGER,
    link_id  INTEGER,
    ip       TEXT,
    detail   TEXT
);
CREATE INDEX audit_events_owner ON audit_events(owner_id, id);
