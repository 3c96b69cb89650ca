-- Profile photos: one per user. The uploaded original and the 400x400 version
-- served to clients are objects of the blob store's photo namespace, under
-- random keys (64 hex digits) that belong to this row alone. resized_key is
-- chosen at upload; the object exists once the state is 'ready'.
--
-- The row is also the resize job, so that a replaced photo's job is replaced
-- with it:
--   pending    waiting for a worker from due_at on (at once, or a retry later);
--   processing claimed by the worker holding lease_token until due_at, after
--              which any worker may claim it again (its worker died);
--   ready      done; failed: given up, `error` says why.
-- A worker claims a job with one UPDATE ... WHERE state IN ('pending',
-- 'processing') AND due_at <= now, and finishes it only WHERE lease_token is
-- still its own, so that with several server instances each photo's result is
-- stored exactly once.
CREATE TABLE photos (
    user_id         BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    original_key    TEXT    NOT NULL UNIQUE,
    original_format TEXT    NOT NULL CHECK (original_format IN ('jpeg', 'png', 'gif', 'webp')),
    original_width  BIGINT NOT NULL,
    original_height BIGINT NOT NULL,
    original_size   BIGINT NOT NULL,
    -- SHA-256 (hex) of the original, so that the check can verify the object.
    original_sha256 TEXT    NOT NULL,
    resized_key     TEXT    NOT NULL UNIQUE,
    resized_type    TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'processing', 'ready', 'failed')),
    due_at          BIGINT,
    lease_token     TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    error           TEXT,
    uploaded_at     BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX photos_due ON photos(due_at) WHERE state IN ('pending', 'processing');

-- Photo objects to delete from the blob store once due_at has passed: those a
-- replaced or deleted photo let go of (due at once), and each upload's new
-- original until the transaction that installs it takes it off this list (due
-- an hour later). So a crash at any point leaves no object behind for good.
CREATE TABLE photo_garbage (
    key    TEXT    PRIMARY KEY,
    due_at BIGINT NOT NULL
);
CREATE INDEX photo_garbage_due ON photo_garbage(due_at);
