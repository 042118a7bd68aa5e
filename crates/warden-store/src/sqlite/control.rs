//! The control-plane tables: approval requests and answers, run-time
//! autonomy, analyst reviews, local accounts, and executions left
//! unfinished. The trait impls in `mod.rs` call these.

use sqlx::Row;
use sqlx::sqlite::SqlitePool;
use time::OffsetDateTime;
use warden_domain::{
    Approval, ApprovalRequest, Autonomy, CaseId, ProposalHash, RequestStatus, Review,
};

use crate::codec::{decode, encode, parse_case_id, parse_ts, ts};
use crate::{Pause, Person, StoreError, UnfinishedExecution};

pub(super) async fn approval_request(
    pool: &SqlitePool,
    hash: &ProposalHash,
) -> Result<Option<ApprovalRequest>, StoreError> {
    let row = sqlx::query("SELECT body FROM approval_requests WHERE proposal_hash = ?")
        .bind(hash.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(|row| decode("approval request", row.get::<&str, _>(0)))
        .transpose()
}

pub(super) async fn approval_requests(
    pool: &SqlitePool,
    status: Option<RequestStatus>,
    case: Option<CaseId>,
) -> Result<Vec<ApprovalRequest>, StoreError> {
    let rows = sqlx::query(
        "SELECT body FROM approval_requests \
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR case_id = ?2) \
         ORDER BY created_at, proposal_hash",
    )
    .bind(status.map(RequestStatus::as_str))
    .bind(case.map(|c| c.to_string()))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| decode("approval request", row.get::<&str, _>(0)))
        .collect()
}

pub(super) async fn save_approval_request(
    pool: &SqlitePool,
    request: &ApprovalRequest,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO approval_requests \
         (proposal_hash, case_id, use_case, status, created_at, expires_at, updated_at, body) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (proposal_hash) DO NOTHING",
    )
    .bind(request.proposal_hash.as_str())
    .bind(request.proposal.case_id.to_string())
    .bind(&request.use_case)
    .bind(request.status.as_str())
    .bind(ts(request.created_at)?)
    .bind(ts(request.expires_at)?)
    .bind(ts(request.created_at)?)
    .bind(encode("approval request", request)?)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn set_request_status(
    pool: &SqlitePool,
    hash: &ProposalHash,
    from: RequestStatus,
    to: RequestStatus,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let row =
        sqlx::query("SELECT body FROM approval_requests WHERE proposal_hash = ? AND status = ?")
            .bind(hash.as_str())
            .bind(from.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let mut request: ApprovalRequest = decode("approval request", row.get::<&str, _>(0))?;
    request.status = to;
    let result = sqlx::query(
        "UPDATE approval_requests SET status = ?, updated_at = ?, body = ? \
         WHERE proposal_hash = ? AND status = ?",
    )
    .bind(to.as_str())
    .bind(ts(at)?)
    .bind(encode("approval request", &request)?)
    .bind(hash.as_str())
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn approvals_of(
    pool: &SqlitePool,
    hash: &ProposalHash,
) -> Result<Vec<Approval>, StoreError> {
    let rows = sqlx::query("SELECT body FROM approvals WHERE proposal_hash = ? ORDER BY id")
        .bind(hash.as_str())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| decode("approval", row.get::<&str, _>(0)))
        .collect()
}

pub(super) async fn add_approval(
    pool: &SqlitePool,
    approval: &Approval,
) -> Result<bool, StoreError> {
    // INVARIANT (S1): the unique key makes "the same person twice" one
    // answer, whatever the caller checked before.
    let result = sqlx::query(
        "INSERT INTO approvals (proposal_hash, approver, approved, decided_at, body) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (proposal_hash, approver) DO NOTHING",
    )
    .bind(approval.proposal_hash.as_str())
    .bind(approval.approver.to_lowercase())
    .bind(approval.approved)
    .bind(ts(approval.decided_at)?)
    .bind(encode("approval", approval)?)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn unfinished_executions(
    pool: &SqlitePool,
) -> Result<Vec<UnfinishedExecution>, StoreError> {
    let rows = sqlx::query(
        "SELECT idempotency_key, case_id, proposal_hash, claimed_at FROM executions \
         WHERE status = 'claimed' ORDER BY claimed_at, idempotency_key",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UnfinishedExecution {
                idempotency_key: row.get::<String, _>(0),
                case_id: parse_case_id(row.get::<&str, _>(1))?,
                proposal_hash: ProposalHash::from_stored(row.get::<String, _>(2)),
                claimed_at: parse_ts(row.get::<&str, _>(3))?,
            })
        })
        .collect()
}

pub(super) async fn autonomy_override(
    pool: &SqlitePool,
    use_case: &str,
) -> Result<Option<Autonomy>, StoreError> {
    let row = sqlx::query("SELECT autonomy FROM use_case_settings WHERE name = ?")
        .bind(use_case)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        let text = row.get::<&str, _>(0);
        text.parse::<Autonomy>()
            .map_err(|reason| StoreError::Corrupt {
                what: format!("autonomy of {use_case}"),
                reason,
            })
    })
    .transpose()
}

pub(super) async fn set_autonomy(
    pool: &SqlitePool,
    use_case: &str,
    autonomy: Autonomy,
    by: &str,
    reason: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO use_case_settings (name, autonomy, changed_by, reason, changed_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET autonomy = excluded.autonomy, \
         changed_by = excluded.changed_by, reason = excluded.reason, changed_at = excluded.changed_at",
    )
    .bind(use_case)
    .bind(autonomy.as_str())
    .bind(by)
    .bind(reason)
    .bind(ts(at)?)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn reviews(
    pool: &SqlitePool,
    use_case: &str,
    limit: u32,
) -> Result<Vec<Review>, StoreError> {
    let rows = sqlx::query("SELECT body FROM reviews WHERE use_case = ? ORDER BY id DESC LIMIT ?")
        .bind(use_case)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| decode("review", row.get::<&str, _>(0)))
        .collect()
}

pub(super) async fn add_review(pool: &SqlitePool, review: &Review) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO reviews (case_id, use_case, reviewed_at, body) VALUES (?, ?, ?, ?)")
        .bind(review.case_id.to_string())
        .bind(&review.use_case)
        .bind(ts(review.reviewed_at)?)
        .bind(encode("review", review)?)
        .execute(pool)
        .await?;
    Ok(())
}

fn person_row(row: &sqlx::sqlite::SqliteRow) -> Result<Person, StoreError> {
    let name: String = row.get(0);
    Ok(Person {
        roles: decode(&format!("roles of {name}"), row.get::<&str, _>(1))?,
        password_hash: row.get(2),
        created_at: parse_ts(row.get::<&str, _>(3))?,
        name,
    })
}

pub(super) async fn person(pool: &SqlitePool, name: &str) -> Result<Option<Person>, StoreError> {
    let row =
        sqlx::query("SELECT name, roles, password_hash, created_at FROM people WHERE name = ?")
            .bind(name.to_lowercase())
            .fetch_optional(pool)
            .await?;
    row.as_ref().map(person_row).transpose()
}

pub(super) async fn people(pool: &SqlitePool) -> Result<Vec<Person>, StoreError> {
    let rows =
        sqlx::query("SELECT name, roles, password_hash, created_at FROM people ORDER BY name")
            .fetch_all(pool)
            .await?;
    rows.iter().map(person_row).collect()
}

pub(super) async fn add_person(pool: &SqlitePool, person: &Person) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO people (name, roles, password_hash, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(person.name.to_lowercase())
    .bind(encode("roles", &person.roles)?)
    .bind(&person.password_hash)
    .bind(ts(person.created_at)?)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn pauses(pool: &SqlitePool) -> Result<Vec<Pause>, StoreError> {
    let rows =
        sqlx::query("SELECT scope, paused_by, reason, paused_at FROM kill_switches ORDER BY scope")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(Pause {
                scope: row.get(0),
                by: row.get(1),
                reason: row.get(2),
                at: parse_ts(row.get::<&str, _>(3))?,
            })
        })
        .collect()
}
