//! The control-plane tables on PostgreSQL: approval requests and answers,
//! run-time autonomy, analyst reviews, local accounts, executions left
//! unfinished. The trait impls in `mod.rs` call these.

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use time::OffsetDateTime;
use warden_domain::{
    Approval, ApprovalRequest, Autonomy, CaseId, ProposalHash, RequestStatus, Review,
};

use crate::codec::{decode, encode, parse_case_id, parse_ts, ts};
use crate::{Pause, Person, StoreError, UnfinishedExecution};

pub(super) async fn approval_request(
    pool: &PgPool,
    hash: &ProposalHash,
) -> Result<Option<ApprovalRequest>, StoreError> {
    let row = sqlx::query("SELECT body FROM approval_requests WHERE proposal_hash = $1")
        .bind(hash.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(|row| decode("approval request", row.try_get::<&str, _>(0)?))
        .transpose()
}

pub(super) async fn approval_requests(
    pool: &PgPool,
    status: Option<RequestStatus>,
    case: Option<CaseId>,
) -> Result<Vec<ApprovalRequest>, StoreError> {
    let rows = sqlx::query(
        "SELECT body FROM approval_requests \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR case_id = $2) \
         ORDER BY created_at::timestamptz, proposal_hash",
    )
    .bind(status.map(RequestStatus::as_str))
    .bind(case.map(|c| c.to_string()))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| decode("approval request", row.try_get::<&str, _>(0)?))
        .collect()
}

pub(super) async fn save_approval_request(
    pool: &PgPool,
    request: &ApprovalRequest,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO approval_requests \
         (proposal_hash, case_id, use_case, status, created_at, expires_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (proposal_hash) DO NOTHING",
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
    pool: &PgPool,
    hash: &ProposalHash,
    from: RequestStatus,
    to: RequestStatus,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    // The row lock holds off another replica's move until this one commits;
    // that one then finds the status changed and does nothing.
    let row = sqlx::query(
        "SELECT body FROM approval_requests WHERE proposal_hash = $1 AND status = $2 FOR UPDATE",
    )
    .bind(hash.as_str())
    .bind(from.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let mut request: ApprovalRequest = decode("approval request", row.try_get::<&str, _>(0)?)?;
    request.status = to;
    let result = sqlx::query(
        "UPDATE approval_requests SET status = $1, updated_at = $2, body = $3 \
         WHERE proposal_hash = $4 AND status = $5",
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
    pool: &PgPool,
    hash: &ProposalHash,
) -> Result<Vec<Approval>, StoreError> {
    let rows = sqlx::query("SELECT body FROM approvals WHERE proposal_hash = $1 ORDER BY id")
        .bind(hash.as_str())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| decode("approval", row.try_get::<&str, _>(0)?))
        .collect()
}

pub(super) async fn add_approval(pool: &PgPool, approval: &Approval) -> Result<bool, StoreError> {
    // INVARIANT (S1): the unique key makes "the same person twice" one
    // answer, whatever the caller checked before, on whichever replica.
    let result = sqlx::query(
        "INSERT INTO approvals (proposal_hash, approver, approved, decided_at, body) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (proposal_hash, approver) DO NOTHING",
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
    pool: &PgPool,
) -> Result<Vec<UnfinishedExecution>, StoreError> {
    let rows = sqlx::query(
        "SELECT idempotency_key, case_id, proposal_hash, claimed_at FROM executions \
         WHERE status = 'claimed' ORDER BY claimed_at::timestamptz, idempotency_key",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UnfinishedExecution {
                idempotency_key: row.try_get::<String, _>(0)?,
                case_id: parse_case_id(row.try_get::<&str, _>(1)?)?,
                proposal_hash: ProposalHash::from_stored(row.try_get::<String, _>(2)?),
                claimed_at: parse_ts(row.try_get::<&str, _>(3)?)?,
            })
        })
        .collect()
}

pub(super) async fn autonomy_override(
    pool: &PgPool,
    use_case: &str,
) -> Result<Option<Autonomy>, StoreError> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT autonomy FROM use_case_settings WHERE name = $1")
            .bind(use_case)
            .fetch_optional(pool)
            .await?;
    text.map(|text| {
        text.parse::<Autonomy>()
            .map_err(|reason| StoreError::Corrupt {
                what: format!("autonomy of {use_case}"),
                reason,
            })
    })
    .transpose()
}

pub(super) async fn set_autonomy(
    pool: &PgPool,
    use_case: &str,
    autonomy: Autonomy,
    by: &str,
    reason: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO use_case_settings (name, autonomy, changed_by, reason, changed_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
         autonomy = excluded.autonomy, changed_by = excluded.changed_by, \
         reason = excluded.reason, changed_at = excluded.changed_at",
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
    pool: &PgPool,
    use_case: &str,
    limit: u32,
) -> Result<Vec<Review>, StoreError> {
    let rows =
        sqlx::query("SELECT body FROM reviews WHERE use_case = $1 ORDER BY id DESC LIMIT $2")
            .bind(use_case)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| decode("review", row.try_get::<&str, _>(0)?))
        .collect()
}

pub(super) async fn add_review(pool: &PgPool, review: &Review) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reviews (case_id, use_case, reviewed_at, body) VALUES ($1, $2, $3, $4)",
    )
    .bind(review.case_id.to_string())
    .bind(&review.use_case)
    .bind(ts(review.reviewed_at)?)
    .bind(encode("review", review)?)
    .execute(pool)
    .await?;
    Ok(())
}

fn person_row(row: &PgRow) -> Result<Person, StoreError> {
    let name: String = row.try_get(0)?;
    Ok(Person {
        roles: decode(&format!("roles of {name}"), row.try_get::<&str, _>(1)?)?,
        password_hash: row.try_get(2)?,
        created_at: parse_ts(row.try_get::<&str, _>(3)?)?,
        name,
    })
}

pub(super) async fn person(pool: &PgPool, name: &str) -> Result<Option<Person>, StoreError> {
    let row =
        sqlx::query("SELECT name, roles, password_hash, created_at FROM people WHERE name = $1")
            .bind(name.to_lowercase())
            .fetch_optional(pool)
            .await?;
    row.as_ref().map(person_row).transpose()
}

pub(super) async fn people(pool: &PgPool) -> Result<Vec<Person>, StoreError> {
    let rows =
        sqlx::query("SELECT name, roles, password_hash, created_at FROM people ORDER BY name")
            .fetch_all(pool)
            .await?;
    rows.iter().map(person_row).collect()
}

pub(super) async fn add_person(pool: &PgPool, person: &Person) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO people (name, roles, password_hash, created_at) VALUES ($1, $2, $3, $4) \
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

pub(super) async fn pauses(pool: &PgPool) -> Result<Vec<Pause>, StoreError> {
    let rows =
        sqlx::query("SELECT scope, paused_by, reason, paused_at FROM kill_switches ORDER BY scope")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(Pause {
                scope: row.try_get(0)?,
                by: row.try_get(1)?,
                reason: row.try_get(2)?,
                at: parse_ts(row.try_get::<&str, _>(3)?)?,
            })
        })
        .collect()
}
