//! The embedded backend: SQLite through sqlx, in the data directory.
//!
//! WAL journal and `synchronous = FULL`: a committed audit entry or execution
//! claim survives a power cut, which the audit log and the at-most-once
//! executor rely on.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr};
use time::OffsetDateTime;
use warden_domain::{
    Alert, AlertId, Approval, ApprovalRequest, Assessment, Autonomy, Case, CaseId, CaseState,
    Decision, Evidence, EvidenceGap, Execution, ObservableKind, ProposalHash, RequestStatus,
    Review,
};

use crate::{
    ApiToken, AuditAppend, AuditQuery, AuditRow, AuthStore, CaseNote, CaseReader, Claim,
    DeadLetter, GLOBAL_SCOPE, MAX_RELATED_ENTITIES, NewAuditRow, Pause, Person, RelatedCase,
    Session, Store, StoreError, StoredCheckpoint, UnfinishedExecution, merkle,
};

use crate::codec::{decode, encode, parse_ts, ts};

mod audit;
mod auth;
mod control;
#[cfg(test)]
mod tests;

/// The migrations, embedded in the binary so that an installed `warden`
/// needs no files beside it.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            Cow::Borrowed("initial"),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0001_initial.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            Cow::Borrowed("dead letter resolution"),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0002_dead_letter_resolution.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            Cow::Borrowed("case entities"),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0003_case_entities.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            Cow::Borrowed("control plane"),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0004_control_plane.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            Cow::Borrowed("audit tree"),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0005_audit_tree.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            Cow::Borrowed("server auth"),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0006_server_auth.sql").into_sql_str(),
            false,
        ),
    ])
}

/// A SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path` and bring its
    /// schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                location: path.display().to_string(),
                source,
            })?;
        migrator().run(&pool).await?;
        audit::backfill_tree(&pool).await?;
        Ok(Self { pool })
    }

    /// A private in-memory database (tests, dry runs).
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| StoreError::Open {
                location: ":memory:".into(),
                source,
            })?
            .foreign_keys(true);
        // One connection: every in-memory connection is its own database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                location: ":memory:".into(),
                source,
            })?;
        migrator().run(&pool).await?;
        audit::backfill_tree(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for tests that must reach under the interface
    /// (tampering with rows to prove the audit log notices).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn dead_letter_row(row: &sqlx::sqlite::SqliteRow) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        id: row.get(0),
        origin: row.get(1),
        reason: row.get(2),
        payload: row.get(3),
        sha256: row.get(4),
        received_at: parse_ts(row.get::<&str, _>(5))?,
        resolved_at: row.get::<Option<&str>, _>(6).map(parse_ts).transpose()?,
        resolution: row.get(7),
    })
}

/// Earlier cases sharing an entity with `?1` (a JSON array of
/// `[kind, value]` pairs), excluding case `?2` (or none when NULL), newest
/// first, at most `?3`.
///
/// The entities travel as one JSON parameter, so the statement is the same
/// whatever their number. Each is looked up through `case_entities_by_value`;
/// the matching cases are ordered by creation time and cut to the limit
/// before any case body, shared entity list or rule list is read.
/// `julianday` orders the RFC 3339 text correctly where plain text
/// comparison would not (fractional seconds are written only when non-zero);
/// it is exact to the millisecond, and the time-ordered id breaks ties.
const RELATED_CASES_SQL: &str = "\
WITH wanted (kind, value) AS MATERIALIZED (
    SELECT json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]')
    FROM json_each(?1) AS w
),
hits AS MATERIALIZED (
    SELECT e.case_id, e.kind, e.value
    FROM wanted AS w
    JOIN case_entities AS e ON e.value = w.value AND e.kind = w.kind
    WHERE ?2 IS NULL OR e.case_id <> ?2
),
picked AS (
    SELECT c.id, julianday(c.created_at) AS created
    FROM cases AS c
    WHERE c.id IN (SELECT case_id FROM hits)
    ORDER BY created DESC, c.id DESC
    LIMIT ?3
)
SELECT p.id, c.body,
    (SELECT json_group_array(json_array(h.kind, h.value)) FROM hits AS h WHERE h.case_id = p.id),
    (SELECT json_group_array(DISTINCT a.rule) FROM alerts AS a WHERE a.case_id = p.id)
FROM picked AS p
JOIN cases AS c ON c.id = p.id
ORDER BY p.created DESC, p.id DESC";

#[async_trait]
impl CaseReader for SqliteStore {
    async fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        let row = sqlx::query("SELECT body FROM cases WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode(&format!("case {id}"), row.get::<&str, _>(0)))
            .transpose()
    }

    async fn cases(&self, limit: u32) -> Result<Vec<Case>, StoreError> {
        let rows =
            sqlx::query("SELECT id, body FROM cases ORDER BY updated_at DESC, id DESC LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                decode(
                    &format!("case {}", row.get::<&str, _>(0)),
                    row.get::<&str, _>(1),
                )
            })
            .collect()
    }

    async fn alerts_of_case(&self, id: CaseId) -> Result<Vec<Alert>, StoreError> {
        let rows =
            sqlx::query("SELECT id, body FROM alerts WHERE case_id = ? ORDER BY occurred_at, id")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                decode(
                    &format!("alert {}", row.get::<&str, _>(0)),
                    row.get::<&str, _>(1),
                )
            })
            .collect()
    }

    async fn evidence_of_case(&self, id: CaseId) -> Result<Vec<Evidence>, StoreError> {
        let rows =
            sqlx::query("SELECT evidence_id, body FROM evidence WHERE case_id = ? ORDER BY rowid")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                decode(
                    &format!("evidence {}", row.get::<&str, _>(0)),
                    row.get::<&str, _>(1),
                )
            })
            .collect()
    }

    async fn notes_of_case(&self, id: CaseId) -> Result<Vec<CaseNote>, StoreError> {
        let rows = sqlx::query(
            "SELECT author, text, created_at FROM case_notes WHERE case_id = ? ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CaseNote {
                    author: row.get(0),
                    text: row.get(1),
                    created_at: parse_ts(row.get::<&str, _>(2))?,
                })
            })
            .collect()
    }

    async fn executions_of_case(&self, id: CaseId) -> Result<Vec<Execution>, StoreError> {
        let rows = sqlx::query(
            "SELECT idempotency_key, body FROM executions \
             WHERE case_id = ? AND body IS NOT NULL ORDER BY claimed_at, idempotency_key",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                decode(
                    &format!("execution {}", row.get::<&str, _>(0)),
                    row.get::<&str, _>(1),
                )
            })
            .collect()
    }

    async fn decisions_of_case(&self, id: CaseId) -> Result<Vec<Decision>, StoreError> {
        let rows = sqlx::query("SELECT body FROM decisions WHERE case_id = ? ORDER BY id")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| decode("decision", &row.try_get::<String, _>("body")?))
            .collect()
    }

    async fn assessments_of_case(&self, id: CaseId) -> Result<Vec<Assessment>, StoreError> {
        let rows = sqlx::query("SELECT body FROM assessments WHERE case_id = ? ORDER BY id")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| decode("assessment", row.get::<&str, _>(0)))
            .collect()
    }

    async fn gaps_of_case(&self, id: CaseId) -> Result<Vec<EvidenceGap>, StoreError> {
        let rows =
            sqlx::query("SELECT source, reason FROM evidence_gaps WHERE case_id = ? ORDER BY id")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|row| EvidenceGap {
                source: row.get(0),
                reason: row.get(1),
            })
            .collect())
    }

    async fn approval_request(
        &self,
        hash: &ProposalHash,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        control::approval_request(&self.pool, hash).await
    }

    async fn approval_requests(
        &self,
        status: Option<RequestStatus>,
        case: Option<CaseId>,
    ) -> Result<Vec<ApprovalRequest>, StoreError> {
        control::approval_requests(&self.pool, status, case).await
    }

    async fn approvals_of(&self, hash: &ProposalHash) -> Result<Vec<Approval>, StoreError> {
        control::approvals_of(&self.pool, hash).await
    }

    async fn unfinished_executions(&self) -> Result<Vec<UnfinishedExecution>, StoreError> {
        control::unfinished_executions(&self.pool).await
    }

    async fn autonomy_override(&self, use_case: &str) -> Result<Option<Autonomy>, StoreError> {
        control::autonomy_override(&self.pool, use_case).await
    }

    async fn reviews(&self, use_case: &str, limit: u32) -> Result<Vec<Review>, StoreError> {
        control::reviews(&self.pool, use_case, limit).await
    }

    async fn person(&self, name: &str) -> Result<Option<Person>, StoreError> {
        control::person(&self.pool, name).await
    }

    async fn people(&self) -> Result<Vec<Person>, StoreError> {
        control::people(&self.pool).await
    }

    async fn pauses(&self) -> Result<Vec<Pause>, StoreError> {
        control::pauses(&self.pool).await
    }

    async fn audit_rows(&self, case: Option<CaseId>) -> Result<Vec<AuditRow>, StoreError> {
        audit::search(
            &self.pool,
            &AuditQuery {
                case,
                ..AuditQuery::default()
            },
        )
        .await
    }

    async fn audit_search(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        audit::search(&self.pool, query).await
    }

    async fn audit_entries(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<crate::AuditLeafRow>, StoreError> {
        audit::entries(&self.pool, after, limit).await
    }

    async fn audit_size(&self) -> Result<u64, StoreError> {
        audit::size(&self.pool).await
    }

    async fn audit_tree_hashes(&self, indexes: &[u64]) -> Result<Vec<merkle::Hash>, StoreError> {
        audit::tree_hashes(&self.pool, indexes).await
    }

    async fn audit_tree(&self) -> Result<Vec<(u64, merkle::Hash)>, StoreError> {
        audit::tree(&self.pool).await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        audit::checkpoints(&self.pool).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, origin, reason, payload, sha256, received_at, resolved_at, resolution \
             FROM dead_letters ORDER BY received_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dead_letter_row).collect()
    }

    async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let row = sqlx::query(
            "SELECT id, origin, reason, payload, sha256, received_at, resolved_at, resolution \
             FROM dead_letters WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(dead_letter_row).transpose()
    }

    async fn stored_alert_ids(&self, ids: &[AlertId]) -> Result<Vec<AlertId>, StoreError> {
        let mut stored = Vec::new();
        // Bounded statements: SQLite caps the bound parameters per query.
        for chunk in ids.chunks(500) {
            // Only placeholders are formatted in; every id is bound.
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT id FROM alerts WHERE id IN ({marks})");
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for text in query.fetch_all(&self.pool).await? {
                let id = AlertId::parse(&text).map_err(|err| StoreError::Corrupt {
                    what: format!("alert id {text}"),
                    reason: format!("{err}"),
                })?;
                stored.push(id);
            }
        }
        Ok(stored)
    }

    async fn is_paused(&self, use_case: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM kill_switches WHERE scope = ? OR scope = ?")
            .bind(GLOBAL_SCOPE)
            .bind(use_case)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>(0) > 0)
    }

    async fn related_cases(
        &self,
        entities: &[(ObservableKind, String)],
        exclude: Option<CaseId>,
        limit: u32,
    ) -> Result<Vec<RelatedCase>, StoreError> {
        // Sorted and deduplicated before the cap, so the cut is deterministic.
        let wanted: BTreeSet<(ObservableKind, &str)> = entities
            .iter()
            .map(|(kind, value)| (*kind, value.as_str()))
            .collect();
        if wanted.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let wanted: Vec<[&str; 2]> = wanted
            .into_iter()
            .take(MAX_RELATED_ENTITIES)
            .map(|(kind, value)| [kind.as_str(), value])
            .collect();
        let rows = sqlx::query(RELATED_CASES_SQL)
            .bind(encode("entity list", &wanted)?)
            .bind(exclude.map(|id| id.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let id: &str = row.get(0);
                let case: Case = decode(&format!("case {id}"), row.get::<&str, _>(1))?;
                let mut shared: Vec<(ObservableKind, String)> =
                    decode(&format!("entities of case {id}"), row.get::<&str, _>(2))?;
                shared.sort();
                let mut rules: Vec<String> =
                    decode(&format!("rules of case {id}"), row.get::<&str, _>(3))?;
                rules.sort();
                rules.dedup();
                Ok(RelatedCase {
                    case,
                    shared,
                    rules,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_case(&self, case: &Case, alerts: &[(Alert, u64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let case_id = case.id.to_string();
        sqlx::query(
            "INSERT INTO cases (id, state, title, severity, verdict, disposition, alert_count, \
             created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&case_id)
        .bind(case.state.as_str())
        .bind(&case.title)
        .bind(case.severity.as_str())
        .bind(case.verdict.map(|v| v.as_str()))
        .bind(case.disposition.map(|d| d.as_str()))
        .bind(i64::try_from(case.alert_count).unwrap_or(i64::MAX))
        .bind(ts(case.created_at)?)
        .bind(ts(case.updated_at)?)
        .bind(encode("case", case)?)
        .execute(&mut *tx)
        .await?;
        let now = ts(OffsetDateTime::now_utc())?;
        for (alert, duplicates) in alerts {
            sqlx::query(
                "INSERT INTO alerts (id, case_id, format, fingerprint, rule, severity, \
                 occurred_at, origin, raw_sha256, duplicates, body, ingested_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(alert.id.to_string())
            .bind(&case_id)
            .bind(alert.format.as_str())
            .bind(alert.fingerprint())
            .bind(&alert.rule.name)
            .bind(alert.severity.level.as_str())
            .bind(ts(alert.time)?)
            .bind(&alert.origin)
            .bind(&alert.raw_sha256)
            .bind(i64::try_from(*duplicates).unwrap_or(i64::MAX))
            .bind(encode("alert", alert)?)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        // INVARIANT (S2): only structured observables index a case; one seen
        // only in untrusted alert text must not relate it to other cases.
        // Values are kept exactly as `Observable::parse` normalised them.
        let entities: BTreeSet<(ObservableKind, &str)> = alerts
            .iter()
            .flat_map(|(alert, _)| &alert.observables)
            .filter(|o| o.is_structured())
            .map(|o| (o.kind, o.value.as_str()))
            .collect();
        for (kind, value) in entities {
            sqlx::query("INSERT INTO case_entities (case_id, kind, value) VALUES (?, ?, ?)")
                .bind(&case_id)
                .bind(kind.as_str())
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_case(&self, case: &Case, expected: CaseState) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE cases SET state = ?, title = ?, severity = ?, verdict = ?, disposition = ?, \
             alert_count = ?, updated_at = ?, body = ? WHERE id = ? AND state = ?",
        )
        .bind(case.state.as_str())
        .bind(&case.title)
        .bind(case.severity.as_str())
        .bind(case.verdict.map(|v| v.as_str()))
        .bind(case.disposition.map(|d| d.as_str()))
        .bind(i64::try_from(case.alert_count).unwrap_or(i64::MAX))
        .bind(ts(case.updated_at)?)
        .bind(encode("case", case)?)
        .bind(case.id.to_string())
        .bind(expected.as_str())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 1 {
            return Ok(());
        }
        let actual = sqlx::query("SELECT state FROM cases WHERE id = ?")
            .bind(case.id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match actual {
            None => Err(StoreError::NoSuchCase(case.id)),
            Some(row) => Err(StoreError::Conflict {
                case: case.id,
                expected,
                actual: row.get(0),
            }),
        }
    }

    async fn save_evidence(
        &self,
        case: CaseId,
        evidence: &[Evidence],
        gaps: &[EvidenceGap],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let case_id = case.to_string();
        for item in evidence {
            sqlx::query(
                "INSERT INTO evidence (case_id, evidence_id, kind, source, body) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&case_id)
            .bind(item.id.as_str())
            .bind(encode("evidence kind", &item.kind)?.trim_matches('"').to_owned())
            .bind(&item.source)
            .bind(encode("evidence", item)?)
            .execute(&mut *tx)
            .await?;
        }
        for gap in gaps {
            sqlx::query("INSERT INTO evidence_gaps (case_id, source, reason) VALUES (?, ?, ?)")
                .bind(&case_id)
                .bind(&gap.source)
                .bind(&gap.reason)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_assessment(
        &self,
        case: CaseId,
        assessment: &Assessment,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO assessments (case_id, assessor, created_at, body) VALUES (?, ?, ?, ?)",
        )
        .bind(case.to_string())
        .bind(&assessment.assessor)
        .bind(ts(OffsetDateTime::now_utc())?)
        .bind(encode("assessment", assessment)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn save_decision(&self, case: CaseId, decision: &Decision) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO decisions (case_id, proposal_hash, outcome, created_at, body) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(case.to_string())
        .bind(decision.proposal_hash.as_str())
        .bind(decision.outcome.as_str())
        .bind(ts(OffsetDateTime::now_utc())?)
        .bind(encode("decision", decision)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_execution(
        &self,
        case: CaseId,
        key: &str,
        proposal: &ProposalHash,
        at: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        // INVARIANT (S3): the primary key on idempotency_key makes the claim
        // atomic; only one caller ever sees `Claimed` for a key.
        let result = sqlx::query(
            "INSERT INTO executions (idempotency_key, case_id, proposal_hash, status, claimed_at) \
             VALUES (?, ?, ?, 'claimed', ?) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(key)
        .bind(case.to_string())
        .bind(proposal.as_str())
        .bind(ts(at)?)
        .execute(&self.pool)
        .await?;
        Ok(if result.rows_affected() == 1 {
            Claim::Claimed
        } else {
            Claim::AlreadyClaimed
        })
    }

    async fn finish_execution(
        &self,
        case: CaseId,
        execution: &Execution,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE executions SET status = ?, finished_at = ?, body = ? \
             WHERE idempotency_key = ? AND case_id = ? AND status = 'claimed'",
        )
        .bind(execution.status.as_str())
        .bind(ts(execution.at)?)
        .bind(encode("execution", execution)?)
        .bind(&execution.idempotency_key)
        .bind(case.to_string())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                what: format!("execution {}", execution.idempotency_key),
                reason: "finished without an open claim".into(),
            })
        }
    }

    async fn add_note(&self, case: CaseId, note: &CaseNote) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO case_notes (case_id, author, text, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(case.to_string())
        .bind(&note.author)
        .bind(&note.text)
        .bind(ts(note.created_at)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn append_audit(&self, rows: &[NewAuditRow]) -> Result<AuditAppend, StoreError> {
        audit::append(&self.pool, rows).await
    }

    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool, StoreError> {
        audit::add_checkpoint(&self.pool, checkpoint).await
    }

    async fn resolve_dead_letter(
        &self,
        id: &str,
        resolution: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE dead_letters SET resolved_at = ?, resolution = ? \
             WHERE id = ? AND resolved_at IS NULL",
        )
        .bind(ts(at)?)
        .bind(resolution)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn add_dead_letter(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dead_letters (id, origin, reason, payload, sha256, received_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&letter.id)
        .bind(&letter.origin)
        .bind(&letter.reason)
        .bind(&letter.payload)
        .bind(&letter.sha256)
        .bind(ts(letter.received_at)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn save_approval_request(&self, request: &ApprovalRequest) -> Result<bool, StoreError> {
        control::save_approval_request(&self.pool, request).await
    }

    async fn set_request_status(
        &self,
        hash: &ProposalHash,
        from: RequestStatus,
        to: RequestStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        control::set_request_status(&self.pool, hash, from, to, at).await
    }

    async fn add_approval(&self, approval: &Approval) -> Result<bool, StoreError> {
        control::add_approval(&self.pool, approval).await
    }

    async fn set_autonomy(
        &self,
        use_case: &str,
        autonomy: Autonomy,
        by: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        control::set_autonomy(&self.pool, use_case, autonomy, by, reason, at).await
    }

    async fn add_review(&self, review: &Review) -> Result<(), StoreError> {
        control::add_review(&self.pool, review).await
    }

    async fn add_person(&self, person: &Person) -> Result<bool, StoreError> {
        control::add_person(&self.pool, person).await
    }

    async fn pause(
        &self,
        scope: &str,
        by: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO kill_switches (scope, paused_by, reason, paused_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (scope) DO UPDATE SET paused_by = excluded.paused_by, \
             reason = excluded.reason, paused_at = excluded.paused_at",
        )
        .bind(scope)
        .bind(by)
        .bind(reason)
        .bind(ts(at)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn resume(&self, scope: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM kill_switches WHERE scope = ?")
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn add_session(&self, session: &Session) -> Result<(), StoreError> {
        auth::add_session(&self.pool, session).await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        auth::session(&self.pool, token_hash).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        auth::delete_session(&self.pool, token_hash).await
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        auth::delete_expired_sessions(&self.pool, now).await
    }

    async fn add_api_token(&self, token: &ApiToken) -> Result<bool, StoreError> {
        auth::add_api_token(&self.pool, token).await
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        auth::api_token_by_hash(&self.pool, token_hash).await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        auth::api_tokens(&self.pool).await
    }

    async fn revoke_api_token(&self, name: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        auth::revoke_api_token(&self.pool, name, at).await
    }
}
