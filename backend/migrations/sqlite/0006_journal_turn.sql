-- One row that every transaction appending to the changes journal updates
-- first: the row lock makes appends (and so commits) follow sequence order
-- where writers run concurrently (PostgreSQL); see changes::take_journal_turn.
CREATE TABLE journal_turn (
    id      INTEGER PRIMARY KEY,
    appends INTEGER NOT NULL
);
INSERT INTO journal_turn (id, appends) VALUES (1, 0);
