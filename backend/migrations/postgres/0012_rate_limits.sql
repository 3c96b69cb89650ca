-- The PostgreSQL twin of migrations/sqlite/0012_rate_limits.sql.
-- Rate limits (see src/auth/rate_limit.rs), shared by every instance of the
-- database: one row per key (sign-in per address and per account,
-- registration per address, link password per link and address, ...), a
-- token bucket kept as its "theoretical arrival time" (GCRA): tat is when
-- the bucket will be full again, in ms since the epoch; allowed says whether
-- the last attempt was let through. A row whose tat is past means a full
-- bucket, like no row: the servers' housekeeping deletes those.
CREATE TABLE rate_limits (
    key     TEXT    NOT NULL PRIMARY KEY,
    tat     BIGINT  NOT NULL,
    allowed BIGINT  NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits(tat);
