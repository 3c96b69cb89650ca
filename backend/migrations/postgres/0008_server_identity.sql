-- The server's identity: a UUID made once per metadata database, the first
-- time a server starts on it (see Db::server_identity), and sent with every
-- changes page so that clients can tell one server (or database) from another.
-- At most one row: `one` is always 1, so instances starting together insert
-- with ON CONFLICT DO NOTHING and all read the row that won.
CREATE TABLE server_identity (
    one BIGINT  PRIMARY KEY CHECK (one = 1),
    id  TEXT    NOT NULL
);
