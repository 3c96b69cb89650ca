-- Accounts can be disabled by the operator (`drive-server user disable`):
-- a disabled account cannot sign in or refresh, and its sessions are revoked.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- Invitations for `--registration invite` (`drive-server invite create`):
-- single-use, with an expiry, the token stored only as its SHA-256.
CREATE TABLE invites (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    INTEGER REFERENCES users(id) ON DELETE SET NULL
);
