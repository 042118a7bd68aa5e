-- A dead letter is kept after a successful retry, marked resolved, so the
-- record of what went wrong stays.
ALTER TABLE dead_letters ADD COLUMN resolved_at TEXT;
ALTER TABLE dead_letters ADD COLUMN resolution TEXT;
