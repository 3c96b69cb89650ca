-- A block whose stored bytes `--check` found damaged and quarantined: its
-- row stays (revisions still use it), marked, so that every upload finds it
-- missing and asks for its bytes again; the verified upload clears the mark
-- (see src/check.rs and src/uploads/possession.rs).
ALTER TABLE blocks ADD COLUMN damaged_at BIGINT;
