-- Warden embedded store, initial schema.
-- Domain objects are kept whole as JSON in `body`; the other columns are the
-- ones queries filter or sort on. Times are RFC 3339 text in UTC.

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    case_id      TEXT,
    format       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    origin       TEXT NOT NULL,
    raw_sha256   TEXT NOT NULL,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    body         TEXT NOT NULL,
    ingested_at  TEXT NOT NULL
);
CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint);
CREATE INDEX alerts_by_case ON alerts (case_id);

CREATE TABLE cases (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    title        TEXT NOT NULL,
    severity     TEXT NOT NULL,
    verdict      TEXT,
    disposition  TEXT,
    alert_count  INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX cases_by_state ON cases (state);

CREATE TABLE evidence (
    case_id      TEXT NOT NULL REFERENCES cases (id),
    evidence_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (case_id, evidence_id)
);

CREATE TABLE evidence_gaps (
    id           INTEGER PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    source       TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX evidence_gaps_by_case ON evidence_gaps (case_id);

CREATE TABLE assessments (
    id           INTEGER PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    assessor     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX assessments_by_case ON assessments (case_id);

CREATE TABLE decisions (
    id             INTEGER PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases (id),
    proposal_hash  TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX decisions_by_case ON decisions (case_id);

-- One row per idempotency key: an action is claimed before it runs, so a
-- second attempt (a retry, a restarted executor) finds the claim and stops.
CREATE TABLE executions (
    idempotency_key  TEXT PRIMARY KEY,
    case_id          TEXT NOT NULL REFERENCES cases (id),
    proposal_hash    TEXT NOT NULL,
    status           TEXT NOT NULL,
    claimed_at       TEXT NOT NULL,
    finished_at      TEXT,
    body             TEXT
);

CREATE TABLE case_notes (
    id           INTEGER PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (id),
    author       TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id);

CREATE TABLE dead_letters (
    id           TEXT PRIMARY KEY,
    origin       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    payload      BLOB NOT NULL,
    sha256       TEXT NOT NULL,
    received_at  TEXT NOT NULL
);

CREATE TABLE kill_switches (
    scope        TEXT PRIMARY KEY,
    paused_by    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    paused_at    TEXT NOT NULL
);

-- The audit log is append-only: the database itself refuses to change or
-- remove a row, whatever code runs against it.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    stage        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    case_id      TEXT,
    entry        TEXT NOT NULL,
    leaf_hash    TEXT NOT NULL
);
CREATE INDEX audit_log_by_case ON audit_log (case_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
