-- A file or folder of owner_id's shared with grantee_id. Until the grantee
-- accepts it (accepted_at), it is only an invitation; once accepted it is
-- mounted in the grantee's root folder as mount_name, and its whole subtree
-- reads as part of their tree, writable or not as the role says.
CREATE TABLE shares (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id     INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    grantee_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('viewer', 'editor')),
    created_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    mount_name  TEXT
);
-- One share of a node per grantee: a second invitation changes the role.
CREATE UNIQUE INDEX shares_node_grantee ON shares(node_id, grantee_id);
CREATE INDEX shares_grantee ON shares(grantee_id);
-- Two mounts cannot have the same name in the grantee's root.
CREATE UNIQUE INDEX shares_mount_name ON shares(grantee_id, mount_name) WHERE accepted_at IS NOT NULL;

ALTER TABLE audit_events ADD COLUMN share_id INTEGER;
