-- Small blocks kept in the database itself (see src/uploads/inline.rs): the
-- bytes of a block a client sent inline with its commit. A row with `data`
-- has no object in the blob store; one without is the store's.
ALTER TABLE blocks ADD COLUMN data BLOB;
