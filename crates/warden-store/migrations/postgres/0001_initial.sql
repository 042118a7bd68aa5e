-- Warden on PostgreSQL: the whole store in one schema (the first one on the
-- connection's search_path), equivalent to the embedded store's migrations
-- 0001 to 0006 under migrations/sqlite/.
--
-- Domain objects are kept whole as JSON text in `body`; the other columns
-- are the ones queries filter or sort on; those sorted or compared as text
-- use the "C" collation, so they order by bytes as SQLite's do, whatever
-- the database's locale. Times are RFC 3339 text in UTC,
-- exactly as the SQLite store writes them: values read back to the
-- nanosecond (timestamptz keeps microseconds), and `warden migrate` copies
-- a data directory row for row. Queries that order or compare by time cast
-- to timestamptz.

CREATE TABLE alerts (
    id           text COLLATE "C" PRIMARY KEY,
    case_id      text,
    format       text NOT NULL,
    fingerprint  text NOT NULL,
    rule         text NOT NULL,
    severity     text NOT NULL,
    occurred_at  text NOT NULL,
    origin       text NOT NULL,
    raw_sha256   text NOT NULL,
    duplicates   bigint NOT NULL DEFAULT 0,
    body         text NOT NULL,
    ingested_at  text NOT NULL
);
CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint);
CREATE INDEX alerts_by_case ON alerts (case_id);

CREATE TABLE cases (
    id           text COLLATE "C" PRIMARY KEY,
    state        text NOT NULL,
    title        text NOT NULL,
    severity     text NOT NULL,
    verdict      text,
    disposition  text,
    alert_count  bigint NOT NULL,
    created_at   text NOT NULL,
    updated_at   text NOT NULL,
    body         text NOT NULL
);
CREATE INDEX cases_by_state ON cases (state);

-- `id` keeps the insertion order SQLite's rowid gives.
CREATE TABLE evidence (
    id           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    case_id      text NOT NULL REFERENCES cases (id),
    evidence_id  text NOT NULL,
    kind         text NOT NULL,
    source       text NOT NULL,
    body         text NOT NULL,
    PRIMARY KEY (case_id, evidence_id)
);

CREATE TABLE evidence_gaps (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    source       text NOT NULL,
    reason       text NOT NULL
);
CREATE INDEX evidence_gaps_by_case ON evidence_gaps (case_id);

CREATE TABLE assessments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    assessor     text NOT NULL,
    created_at   text NOT NULL,
    body         text NOT NULL
);
CREATE INDEX assessments_by_case ON assessments (case_id);

CREATE TABLE decisions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id        text NOT NULL REFERENCES cases (id),
    proposal_hash  text NOT NULL,
    outcome        text NOT NULL,
    created_at     text NOT NULL,
    body           text NOT NULL
);
CREATE INDEX decisions_by_case ON decisions (case_id);

-- One row per idempotency key: an action is claimed before it runs, so a
-- second attempt (a retry, another replica) finds the claim and stops.
CREATE TABLE executions (
    idempotency_key  text COLLATE "C" PRIMARY KEY,
    case_id          text NOT NULL REFERENCES cases (id),
    proposal_hash    text NOT NULL,
    status           text NOT NULL,
    claimed_at       text NOT NULL,
    finished_at      text,
    body             text
);
CREATE INDEX executions_by_case ON executions (case_id);
CREATE INDEX executions_claimed ON executions (status) WHERE status = 'claimed';

CREATE TABLE case_notes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    author       text NOT NULL,
    text         text NOT NULL,
    created_at   text NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id);

-- A dead letter is kept after a successful retry, marked resolved.
CREATE TABLE dead_letters (
    id           text COLLATE "C" PRIMARY KEY,
    origin       text NOT NULL,
    reason       text NOT NULL,
    payload      bytea NOT NULL,
    sha256       text NOT NULL,
    received_at  text NOT NULL,
    resolved_at  text,
    resolution   text
);

CREATE TABLE kill_switches (
    scope        text COLLATE "C" PRIMARY KEY,
    paused_by    text NOT NULL,
    reason       text NOT NULL,
    paused_at    text NOT NULL
);

-- The structured entities of each case's alerts (see the SQLite migration
-- 0003 for why only structured observables are kept).
CREATE TABLE case_entities (
    case_id  text NOT NULL REFERENCES cases (id),
    kind     text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (case_id, kind, value)
);
CREATE INDEX case_entities_by_value ON case_entities (value, kind) INCLUDE (case_id);

-- The control plane.
CREATE TABLE approval_requests (
    proposal_hash  text COLLATE "C" PRIMARY KEY,
    case_id        text NOT NULL REFERENCES cases (id),
    use_case       text NOT NULL,
    status         text NOT NULL,
    created_at     text NOT NULL,
    expires_at     text NOT NULL,
    updated_at     text NOT NULL,
    body           text NOT NULL
);
CREATE INDEX approval_requests_by_status ON approval_requests (status);
CREATE INDEX approval_requests_by_case ON approval_requests (case_id);

CREATE TABLE approvals (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal_hash  text NOT NULL REFERENCES approval_requests (proposal_hash),
    approver       text NOT NULL,
    approved       boolean NOT NULL,
    decided_at     text NOT NULL,
    body           text NOT NULL,
    UNIQUE (proposal_hash, approver)
);

CREATE TABLE use_case_settings (
    name        text PRIMARY KEY,
    autonomy    text NOT NULL,
    changed_by  text NOT NULL,
    reason      text NOT NULL,
    changed_at  text NOT NULL
);

CREATE TABLE reviews (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    use_case     text NOT NULL,
    reviewed_at  text NOT NULL,
    body         text NOT NULL
);
CREATE INDEX reviews_by_use_case ON reviews (use_case, id);

CREATE TABLE people (
    name           text COLLATE "C" PRIMARY KEY,
    roles          text NOT NULL,
    password_hash  text NOT NULL,
    created_at     text NOT NULL
);

-- Sign-in state, shared by every replica. Only SHA-256 hashes of secrets.
CREATE TABLE sessions (
    token_hash    text PRIMARY KEY,
    person        text NOT NULL REFERENCES people (name),
    csrf_token    text NOT NULL,
    created_at    text NOT NULL,
    expires_at    text NOT NULL
);
CREATE INDEX sessions_by_person ON sessions (person);

CREATE TABLE api_tokens (
    id            text PRIMARY KEY,
    name          text COLLATE "C" NOT NULL UNIQUE,
    token_hash    text NOT NULL UNIQUE,
    scopes        text NOT NULL,
    created_by    text NOT NULL,
    created_at    text NOT NULL,
    revoked_at    text
);

-- The audit log (S5). `seq` is given by the appender, which holds a
-- transaction-scoped advisory lock while it reads the tree's right edge and
-- writes, so appends from every replica form one sequence and one tree.
CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY,
    at           text COLLATE "C" NOT NULL,
    actor        text NOT NULL,
    stage        text NOT NULL,
    kind         text NOT NULL,
    case_id      text,
    entry        text NOT NULL,
    leaf_hash    text NOT NULL
);
CREATE INDEX audit_log_by_case ON audit_log (case_id);
CREATE INDEX audit_log_by_actor ON audit_log (actor);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_kind ON audit_log (kind);

-- The Merkle tree's stored hashes, by stored-hash index (Go sumdb tlog
-- layout); leaf i is the entry with seq = i + 1.
CREATE TABLE audit_tree (
    idx   bigint PRIMARY KEY,
    hash  bytea NOT NULL
);

-- Signed tree heads: C2SP tlog-checkpoint notes, one per tree size.
CREATE TABLE audit_checkpoints (
    size  bigint PRIMARY KEY,
    root  text NOT NULL,
    note  text NOT NULL,
    at    text NOT NULL
);

-- Append-only, in the database itself: whatever code runs against it,
-- an UPDATE, DELETE or TRUNCATE of these tables is an error. (The
-- application's role should also lack those grants: docs/operations.md.)
CREATE FUNCTION warden_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0]
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit log is append-only');
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit log is append-only');
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit log is append-only');

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit tree is append-only');
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit tree is append-only');
CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit tree is append-only');

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit checkpoints are append-only');
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit checkpoints are append-only');
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('audit checkpoints are append-only');

-- One answer per person per proposal, never changed or removed.
CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('approvals are append-only');
CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('approvals are append-only');
CREATE TRIGGER approvals_no_truncate BEFORE TRUNCATE ON approvals
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change('approvals are append-only');
