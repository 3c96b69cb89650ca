-- The PostgreSQL twin of migrations/sqlite/0011_upload_possession.sql.
-- Proof of possession for uploads (see src/uploads.rs).
--
-- A block counts as present for a user only if content the user can read
-- uses it, or the user's own live upload of it was verified: the
-- reservation's token is bound into the presigned PUT handed to that user
-- (signed into the local store's URL; an `x-amz-meta-upload` header of the
-- S3 presigned PUT), and uploaded_at is set once the bytes that PUT carried
-- were verified and stored. A reservation from before this migration gets a
-- token now; its upload, if any, is not proven and is asked for again.
ALTER TABLE upload_reservations ADD COLUMN token TEXT;
ALTER TABLE upload_reservations ADD COLUMN uploaded_at BIGINT;
UPDATE upload_reservations SET token = md5(random()::text || hash || user_id::text);
