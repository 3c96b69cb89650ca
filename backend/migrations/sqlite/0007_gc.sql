-- Garbage collection of blocks (see src/gc.rs).
--
-- touched_at: when an upload last asked for or committed the block. A block
-- no revision uses is deleted only once touched_at is older than the grace
-- period, so an upload between its two steps keeps the blocks it was told
-- the server already has.
--
-- deleting_at: set by the collector, in the same statement that checks that
-- no revision uses the block, before it deletes the object; the row goes once
-- the object is gone. Uploads treat a block being deleted as missing (and
-- never register it again from the store) until then, so no commit can refer
-- to a block whose object is about to vanish.
ALTER TABLE blocks ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN deleting_at INTEGER;
UPDATE blocks SET touched_at = created_at;
CREATE INDEX blocks_touched ON blocks(touched_at);

-- Named leases for work that one instance among several does at a time
-- (the garbage collector: row 'gc'). Claimed with one UPDATE ... WHERE
-- expires_at <= now; held by the instance whose token is in holder.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT,
    expires_at INTEGER NOT NULL
);
INSERT INTO leases (name, holder, expires_at) VALUES ('gc', NULL, 0);
