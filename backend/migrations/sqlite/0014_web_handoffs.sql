-- One-time codes that open the web app signed in (src/web/handoff.rs): the
-- desktop app asks for one and opens its URL; the code is stored as its
-- SHA-256, valid until expires_at (ms since the epoch, 60 s after it was
-- made) and spent (used_at) by its first use. Rows past their expiry are
-- deleted by the servers' housekeeping.
CREATE TABLE web_handoffs (
    code_hash  TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX web_handoffs_expires ON web_handoffs(expires_at);
