-- The structured entities of each case's alerts, so that enrichment can ask
-- "which earlier cases involved this host (user, IP, hash, ...)?" without
-- reading every alert body.
--
-- Only observables found in a structured field of the vendor payload are
-- kept (`Observable::is_structured`): an entity that appeared only inside
-- untrusted alert text must not tie two cases together. Values are stored
-- exactly as the domain normalised them (`Observable::parse`: lower-case host
-- names, domains, hashes and emails, canonical IPs, ...); lookups compare
-- them byte for byte.
--
-- Rows are written by `insert_case`, in the same transaction as the case and
-- its alerts. Cases stored before this migration ran have no rows here: they
-- are not found as related cases. Nothing is backfilled.

CREATE TABLE case_entities (
    case_id  TEXT NOT NULL REFERENCES cases (id),
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (case_id, kind, value)
) WITHOUT ROWID;

-- The lookup path: entity -> cases.
CREATE INDEX case_entities_by_value ON case_entities (value, kind);
