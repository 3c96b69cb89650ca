-- One row that every transaction appending to the changes journal updates
-- first: the row lock makes appends (and so commits) follow sequence order
-- where writers run concurrently (PostgreSQL); see changes::take_journal_turn.
CREATE TABLE journal_turn (
    id      BIGINT PRIMARY KEY,
    appends BIGINT NOT NULL
);
INSERT INTO journal_turn (id, appends) VALUES (1, 0);
