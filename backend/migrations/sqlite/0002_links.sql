-- Public links to a file or folder. The token is stored only as its SHA-256
-- (hex); times are Unix milliseconds like everywhere else.
CREATE TABLE links (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    owner_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    node_id       INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    password_hash TEXT,
    max_downloads INTEGER,
    downloads     INTEGER NOT NULL DEFAULT 0,
    revoked_at    INTEGER
);
CREATE INDEX links_owner ON links(owner_id);
CREATE INDEX links_node ON links(node_id);
