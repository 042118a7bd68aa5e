//! The scale-out backend: PostgreSQL through sqlx, shared by every replica.
//!
//! The schema lives in the first schema of the connection's `search_path`
//! (`public` unless the URL says otherwise, e.g.
//! `?options=-c%20search_path%3Dwarden`), with its own migrations under
//! `migrations/postgres/`. Columns keep what the SQLite store keeps, as the
//! same text (see [`crate::codec`]), so the two backends answer every
//! [`CaseReader`] call alike and a data directory copies across unchanged.
//!
//! What differs is concurrency: several replicas write at once. Compare-and-
//! set updates, claims and unique answers are single statements or row
//! locks; the audit log's appends are serialised across every connection by
//! a transaction-scoped advisory lock (see `audit.rs`).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions as _, Connection as _, Row, SqlSafeStr};
use time::OffsetDateTime;
use warden_domain::{
    Alert, AlertId, Approval, ApprovalRequest, Assessment, Autonomy, Case, CaseId, CaseState,
    Decision, Evidence, EvidenceGap, Execution, ObservableKind, ProposalHash, RequestStatus,
    Review,
};

use crate::codec::{decode, encode, parse_ts, ts};
use crate::{
    ApiToken, AuditAppend, AuditQuery, AuditRow, AuthStore, CaseNote, CaseReader, Claim,
    DeadLetter, GLOBAL_SCOPE, MAX_RELATED_ENTITIES, NewAuditRow, Pause, Person, RelatedCase,
    Session, Store, StoreError, StoredCheckpoint, UnfinishedExecution, merkle,
};

mod audit;
mod auth;
mod control;
pub(crate) use audit::lock as lock_audit;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;

/// Connections each replica keeps at most. Appends hold one while they
/// wait for the audit lock, so this also bounds a replica's queue there.
pub const MAX_CONNECTIONS: u32 = 8;

/// How long a statement waits for a free connection (and a first
/// connection for the server to answer) before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, embedded in the binary.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        Cow::Borrowed("initial"),
        MigrationType::Simple,
        include_str!("../../migrations/postgres/0001_initial.sql").into_sql_str(),
        false,
    )])
}

/// `url` with its password (and any `password=` parameter) replaced by
/// `***`, fit for an error message or a log line.
pub fn mask_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            // userinfo ends at the last '@' before the first '/'.
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None => format!("{scheme}://{userinfo}@{host}{path}"),
                },
                None => format!("{scheme}://{rest}"),
            }
        }
        None => head.to_owned(),
    };
    match query {
        None => head,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            format!("{head}?{}", params.join("&"))
        }
    }
}

/// A PostgreSQL-backed [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`)
    /// and bring the schema up to date. The error names the URL with its
    /// password masked.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let location = mask_url(url);
        let options: PgConnectOptions =
            url.parse()
                .map_err(|source: sqlx::Error| StoreError::Open {
                    location: location.clone(),
                    source,
                })?;
        Self::connect_with(options, &location).await
    }

    /// Connect with `options` (`location` names it in errors: no
    /// password) and bring the schema up to date.
    pub async fn connect_with(
        options: PgConnectOptions,
        location: &str,
    ) -> Result<Self, StoreError> {
        // Named in pg_stat_activity, so an operator sees whose connections
        // these are.
        let options = options.application_name("warden");
        let failed = |source| StoreError::Open {
            location: location.to_owned(),
            source,
        };
        // One connection first, so the error says what failed (refused,
        // authentication, no such database) instead of the pool's time-out.
        let probe = tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                failed(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
                )))
            })?
            .map_err(failed)?;
        // Closing the probe cleanly is a courtesy; the pool reconnects anyway.
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(failed)?;
        if !up_to_date(&pool).await? {
            migrator().run(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// The connection pool, for tests that must reach under the interface
    /// (tampering with rows to prove the audit log notices).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Close every connection (waits for the ones in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether every migration is applied already. Then nothing is run: a
/// replica may connect as a role that can use the tables but not create
/// any (the schema's owner migrates; docs/operations.md), which sqlx's
/// migrator, creating its table if missing, would not allow.
async fn up_to_date(pool: &PgPool) -> Result<bool, StoreError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    if exists.is_none() {
        return Ok(false);
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?;
    let wanted: Vec<i64> = migrator().iter().map(|m| m.version).collect();
    Ok(wanted.iter().all(|version| applied.contains(version)))
}

fn dead_letter_row(row: &PgRow) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        id: row.try_get(0)?,
        origin: row.try_get(1)?,
        reason: row.try_get(2)?,
        payload: row.try_get(3)?,
        sha256: row.try_get(4)?,
        received_at: parse_ts(row.try_get::<&str, _>(5)?)?,
        resolved_at: row
            .try_get::<Option<&str>, _>(6)?
            .map(parse_ts)
            .transpose()?,
        resolution: row.try_get(7)?,
    })
}

/// Earlier cases sharing an entity with the pairs (`$1` kinds, `$2`
/// values), excluding case `$3` (or none when NULL), newest first, at most
/// `$4`. The same plan as the SQLite query: look each entity up through
/// `case_entities_by_value`, order and cut the matching cases by creation
/// time (the id breaks ties), then read bodies, shared entities and rules
/// of only those.
pub(crate) const RELATED_CASES_SQL: &str = "\
WITH wanted (kind, value) AS MATERIALIZED (
    SELECT w.kind, w.value FROM unnest($1::text[], $2::text[]) AS w (kind, value)
),
hits AS MATERIALIZED (
    SELECT e.case_id, e.kind, e.value
    FROM wanted AS w
    JOIN case_entities AS e ON e.value = w.value AND e.kind = w.kind
    WHERE $3::text IS NULL OR e.case_id <> $3::text
),
picked AS (
    SELECT c.id, c.created_at::timestamptz AS created
    FROM cases AS c
    WHERE c.id IN (SELECT case_id FROM hits)
    ORDER BY created DESC, c.id DESC
    LIMIT $4
)
SELECT p.id, c.body,
    COALESCE((SELECT json_agg(json_build_array(h.kind, h.value))
              FROM hits AS h WHERE h.case_id = p.id), '[]')::text,
    COALESCE((SELECT json_agg(DISTINCT a.rule)
              FROM alerts AS a WHERE a.case_id = p.id), '[]')::text
FROM picked AS p
JOIN cases AS c ON c.id = p.id
ORDER BY p.created DESC, p.id DESC";

/// Decode `(id, body)` rows of `what`.
fn bodies<T: serde::de::DeserializeOwned>(
    what: &str,
    rows: &[PgRow],
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|row| {
            decode(
                &format!("{what} {}", row.try_get::<&str, _>(0)?),
                row.try_get::<&str, _>(1)?,
            )
        })
        .collect()
}

#[async_trait]
impl CaseReader for PgStore {
    async fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        let row = sqlx::query("SELECT body FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode(&format!("case {id}"), row.try_get::<&str, _>(0)?))
            .transpose()
    }

    async fn cases(&self, limit: u32) -> Result<Vec<Case>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM cases ORDER BY updated_at::timestamptz DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        bodies("case", &rows)
    }

    async fn alerts_of_case(&self, id: CaseId) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM alerts WHERE case_id = $1 \
             ORDER BY occurred_at::timestamptz, id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        bodies("alert", &rows)
    }

    async fn evidence_of_case(&self, id: CaseId) -> Result<Vec<Evidence>, StoreError> {
        let rows =
            sqlx::query("SELECT evidence_id, body FROM evidence WHERE case_id = $1 ORDER BY id")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
        bodies("evidence", &rows)
    }

    async fn notes_of_case(&self, id: CaseId) -> Result<Vec<CaseNote>, StoreError> {
        let rows = sqlx::query(
            "SELECT author, text, created_at FROM case_notes WHERE case_id = $1 ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CaseNote {
                    author: row.try_get(0)?,
                    text: row.try_get(1)?,
                    created_at: parse_ts(row.try_get::<&str, _>(2)?)?,
                })
            })
            .collect()
    }

    async fn executions_of_case(&self, id: CaseId) -> Result<Vec<Execution>, StoreError> {
        let rows = sqlx::query(
            "SELECT idempotency_key, body FROM executions \
             WHERE case_id = $1 AND body IS NOT NULL \
             ORDER BY claimed_at::timestamptz, idempotency_key",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        bodies("execution", &rows)
    }

    async fn decisions_of_case(&self, id: CaseId) -> Result<Vec<Decision>, StoreError> {
        let rows = sqlx::query("SELECT body FROM decisions WHERE case_id = $1 ORDER BY id")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| decode("decision", row.try_get::<&str, _>(0)?))
            .collect()
    }

    async fn assessments_of_case(&self, id: CaseId) -> Result<Vec<Assessment>, StoreError> {
        let rows = sqlx::query("SELECT body FROM assessments WHERE case_id = $1 ORDER BY id")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| decode("assessment", row.try_get::<&str, _>(0)?))
            .collect()
    }

    async fn gaps_of_case(&self, id: CaseId) -> Result<Vec<EvidenceGap>, StoreError> {
        let rows =
            sqlx::query("SELECT source, reason FROM evidence_gaps WHERE case_id = $1 ORDER BY id")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(EvidenceGap {
                    source: row.try_get(0)?,
                    reason: row.try_get(1)?,
                })
            })
            .collect()
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
             FROM dead_letters ORDER BY received_at::timestamptz, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dead_letter_row).collect()
    }

    async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let row = sqlx::query(
            "SELECT id, origin, reason, payload, sha256, received_at, resolved_at, resolution \
             FROM dead_letters WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(dead_letter_row).transpose()
    }

    async fn stored_alert_ids(&self, ids: &[AlertId]) -> Result<Vec<AlertId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One array parameter, whatever the number of ids.
        let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let found: Vec<String> = sqlx::query_scalar("SELECT id FROM alerts WHERE id = ANY($1)")
            .bind(wanted)
            .fetch_all(&self.pool)
            .await?;
        found
            .iter()
            .map(|text| {
                AlertId::parse(text).map_err(|err| StoreError::Corrupt {
                    what: format!("alert id {text}"),
                    reason: err.to_string(),
                })
            })
            .collect()
    }

    async fn is_paused(&self, use_case: &str) -> Result<bool, StoreError> {
        let paused: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM kill_switches WHERE scope = $1 OR scope = $2)",
        )
        .bind(GLOBAL_SCOPE)
        .bind(use_case)
        .fetch_one(&self.pool)
        .await?;
        Ok(paused)
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
        let (kinds, values): (Vec<&str>, Vec<&str>) = wanted
            .into_iter()
            .take(MAX_RELATED_ENTITIES)
            .map(|(kind, value)| (kind.as_str(), value))
            .unzip();
        let rows = sqlx::query(RELATED_CASES_SQL)
            .bind(kinds)
            .bind(values)
            .bind(exclude.map(|id| id.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let id: &str = row.try_get(0)?;
                let case: Case = decode(&format!("case {id}"), row.try_get::<&str, _>(1)?)?;
                let mut shared: Vec<(ObservableKind, String)> = decode(
                    &format!("entities of case {id}"),
                    row.try_get::<&str, _>(2)?,
                )?;
                shared.sort();
                let mut rules: Vec<String> =
                    decode(&format!("rules of case {id}"), row.try_get::<&str, _>(3)?)?;
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
impl Store for PgStore {
    async fn insert_case(&self, case: &Case, alerts: &[(Alert, u64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let case_id = case.id.to_string();
        sqlx::query(
            "INSERT INTO cases (id, state, title, severity, verdict, disposition, alert_count, \
             created_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
        let entities: BTreeSet<(ObservableKind, &str)> = alerts
            .iter()
            .flat_map(|(alert, _)| &alert.observables)
            .filter(|o| o.is_structured())
            .map(|o| (o.kind, o.value.as_str()))
            .collect();
        if !entities.is_empty() {
            let (kinds, values): (Vec<&str>, Vec<&str>) = entities
                .into_iter()
                .map(|(kind, value)| (kind.as_str(), value))
                .unzip();
            sqlx::query(
                "INSERT INTO case_entities (case_id, kind, value) \
                 SELECT $1, kind, value FROM unnest($2::text[], $3::text[]) AS e (kind, value)",
            )
            .bind(&case_id)
            .bind(kinds)
            .bind(values)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_case(&self, case: &Case, expected: CaseState) -> Result<(), StoreError> {
        // One statement: the row lock it takes makes the compare-and-set
        // atomic across replicas.
        let result = sqlx::query(
            "UPDATE cases SET state = $1, title = $2, severity = $3, verdict = $4, \
             disposition = $5, alert_count = $6, updated_at = $7, body = $8 \
             WHERE id = $9 AND state = $10",
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
        let actual: Option<String> = sqlx::query_scalar("SELECT state FROM cases WHERE id = $1")
            .bind(case.id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match actual {
            None => Err(StoreError::NoSuchCase(case.id)),
            Some(actual) => Err(StoreError::Conflict {
                case: case.id,
                expected,
                actual,
            }),
        }
    }

    async fn save_evidence(
        &self,
        case: CaseId,
        evidence: &[Evidence],
        gaps: &[EvidenceGap],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let case_id = case.to_string();
        for item in evidence {
            sqlx::query(
                "INSERT INTO evidence (case_id, evidence_id, kind, source, body) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&case_id)
            .bind(item.id.as_str())
            .bind(
                encode("evidence kind", &item.kind)?
                    .trim_matches('"')
                    .to_owned(),
            )
            .bind(&item.source)
            .bind(encode("evidence", item)?)
            .execute(&mut *tx)
            .await?;
        }
        for gap in gaps {
            sqlx::query("INSERT INTO evidence_gaps (case_id, source, reason) VALUES ($1, $2, $3)")
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
            "INSERT INTO assessments (case_id, assessor, created_at, body) VALUES ($1, $2, $3, $4)",
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
             VALUES ($1, $2, $3, $4, $5)",
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
        // atomic across replicas: a concurrent insert of the same key waits
        // for the first to commit, then does nothing.
        let result = sqlx::query(
            "INSERT INTO executions (idempotency_key, case_id, proposal_hash, status, claimed_at) \
             VALUES ($1, $2, $3, 'claimed', $4) ON CONFLICT (idempotency_key) DO NOTHING",
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
            "UPDATE executions SET status = $1, finished_at = $2, body = $3 \
             WHERE idempotency_key = $4 AND case_id = $5 AND status = 'claimed'",
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
            "INSERT INTO case_notes (case_id, author, text, created_at) VALUES ($1, $2, $3, $4)",
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

    async fn add_dead_letter(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dead_letters (id, origin, reason, payload, sha256, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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

    async fn resolve_dead_letter(
        &self,
        id: &str,
        resolution: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE dead_letters SET resolved_at = $1, resolution = $2 \
             WHERE id = $3 AND resolved_at IS NULL",
        )
        .bind(ts(at)?)
        .bind(resolution)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
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
            "INSERT INTO kill_switches (scope, paused_by, reason, paused_at) \
             VALUES ($1, $2, $3, $4) \
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
        sqlx::query("DELETE FROM kill_switches WHERE scope = $1")
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl AuthStore for PgStore {
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
