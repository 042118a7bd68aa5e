-- The control plane: approval requests and answers, run-time autonomy,
-- analyst reviews (for the trust ladder) and local accounts.

CREATE TABLE approval_requests (
    proposal_hash  TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id),
    use_case       TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX approval_requests_by_status ON approval_requests (status);
CREATE INDEX approval_requests_by_case ON approval_requests (case_id);

-- One answer per person per proposal, never changed or removed.
CREATE TABLE approvals (
    id             INTEGER PRIMARY KEY,
    proposal_hash  TEXT NOT NULL REFERENCES approval_requests (proposal_hash),
    approver       TEXT NOT NULL,
    approved       INTEGER NOT NULL,
    decided_at     TEXT NOT NULL,
    body           TEXT NOT NULL,
    UNIQUE (proposal_hash, approver)
);
CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
BEGIN
    SELECT RAISE(ABORT, 'approvals are append-only');
END;
CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
BEGIN
    SELECT RAISE(ABORT, 'approvals are append-only');
END;

CREATE TABLE use_case_settings (
    name        TEXT PRIMARY KEY,
    autonomy    TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    changed_at  TEXT NOT NULL
);

CREATE TABLE reviews (
    id           INTEGER PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    use_case     TEXT NOT NULL,
    reviewed_at  TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX reviews_by_use_case ON reviews (use_case, id);

CREATE TABLE people (
    name           TEXT PRIMARY KEY,
    roles          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
