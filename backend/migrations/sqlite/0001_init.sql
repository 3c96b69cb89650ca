-- Times are Unix milliseconds (INTEGER) and ids 64-bit integers, so that the
-- same schema translates one-to-one to PostgreSQL (BIGINT). Ids are never
-- reused (AUTOINCREMENT): clients remember nodes by id, and ETags carry
-- revision ids.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    root_id       INTEGER,
    quota_bytes   INTEGER NOT NULL,
    used_bytes    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- One row per signed-in device. The refresh token is stored only as its
-- SHA-256.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_name   TEXT,
    refresh_hash  TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Every refresh token a session has spent: presenting one again means it was
-- stolen, and revokes the session.
CREATE TABLE spent_refresh_tokens (
    hash       TEXT    PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE
);

CREATE TABLE nodes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    parent_id   INTEGER REFERENCES nodes(id),
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('file', 'folder')),
    size        INTEGER NOT NULL DEFAULT 0,
    revision_id INTEGER,
    modified    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    -- Set on every node of a trashed subtree; trash_root is the node the user
    -- trashed, so that restoring it brings back exactly that subtree.
    trashed_at  INTEGER,
    trash_root  INTEGER
);
CREATE UNIQUE INDEX nodes_live_name ON nodes(parent_id, name) WHERE trashed_at IS NULL;
CREATE INDEX nodes_owner ON nodes(owner_id);
CREATE INDEX nodes_trash_root ON nodes(trash_root);

-- Blocks known to be in the blob store, by SHA-256 (hex).
CREATE TABLE blocks (
    hash       TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE revisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    size       INTEGER NOT NULL,
    modified   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX revisions_node ON revisions(node_id);

CREATE TABLE revision_blocks (
    revision_id INTEGER NOT NULL REFERENCES revisions(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    hash        TEXT    NOT NULL REFERENCES blocks(hash),
    PRIMARY KEY (revision_id, position)
);
CREATE INDEX revision_blocks_hash ON revision_blocks(hash);

-- The changes journal: one global sequence, read per user, so each user's
-- cursor is strictly increasing.
CREATE TABLE changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    node_id INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX changes_user_seq ON changes(user_id, seq);
