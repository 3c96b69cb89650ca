-- Quota reservations of uploads in flight (see src/uploads.rs).
--
-- When `POST /uploads` answers a block as missing, the uploader reserves its
-- size until expires_at (`--upload-reservation` after the ask): until then it
-- counts against the uploader's quota at every quota check, together with
-- used_bytes, so that blocks PUT but never committed cannot pile up beyond
-- the quota. Asking again for a block reserved and unexpired keeps the
-- reservation as it is (it is not extended); an expired one is ignored by
-- the checks, reserved anew by the next ask, and deleted by the garbage
-- collector's pass. A commit deletes the committer's reservations of the
-- blocks it commits, in its transaction.
CREATE TABLE upload_reservations (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, hash)
);
CREATE INDEX upload_reservations_expires ON upload_reservations(expires_at);
