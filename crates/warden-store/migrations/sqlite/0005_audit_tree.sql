-- The audit log's Merkle tree and its signed checkpoints (S5).
--
-- `audit_tree` holds the RFC 6962 hash of every complete subtree, keyed by
-- its stored-hash index (the layout of Go's sumdb tlog: a subtree's hash is
-- written once, in the same transaction as the entry that completes it).
-- Leaf i of the tree is the entry with seq = i + 1.
CREATE TABLE audit_tree (
    idx   INTEGER PRIMARY KEY,
    hash  BLOB NOT NULL
);

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit tree is append-only');
END;

CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit tree is append-only');
END;

-- Signed tree heads: C2SP tlog-checkpoint notes, one per tree size.
CREATE TABLE audit_checkpoints (
    size  INTEGER PRIMARY KEY,
    root  TEXT NOT NULL,
    note  TEXT NOT NULL,
    at    TEXT NOT NULL
);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

-- `warden audit search` filters on these.
CREATE INDEX audit_log_by_actor ON audit_log (actor);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_kind ON audit_log (kind);
