//! The audit log's tables on PostgreSQL: entries, the Merkle tree's stored
//! hashes and the signed checkpoints, all append-only (triggers refuse
//! UPDATE, DELETE and TRUNCATE).
//!
//! One order across replicas: every append takes a transaction-scoped
//! advisory lock before it reads the log's size and the tree's right edge,
//! and keeps it until its entries and hashes commit. Appends from any
//! number of connections therefore form one gap-free sequence and one
//! tree. Within a process, `warden_audit::StoreAuditLog` still batches
//! concurrent appends into one transaction (group commit), so a replica
//! takes the lock once per batch, not once per entry.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use crate::codec::{corrupt, hash_of, leaf_of, parse_case_id, parse_ts, to_i64, to_u64, ts};
use crate::merkle::{self, Hash};
use crate::{
    AuditAppend, AuditLeafRow, AuditQuery, AuditRow, NewAuditRow, StoreError, StoredCheckpoint,
};

const ROW_COLUMNS: &str = "seq, at, actor, stage, kind, case_id, entry, leaf_hash";

/// The advisory lock's first key: "WARN" in ASCII, so Warden's lock does
/// not collide with another application's on the same database. The
/// second key is the `audit_log` table's oid, so two schemas in one
/// database (two installations, or parallel tests) do not wait on each
/// other.
const LOCK_CLASS: i32 = 0x5741_524E;

/// Take the audit append lock for the rest of `tx`.
pub(crate) async fn lock(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, 'audit_log'::regclass::oid::int4)")
        .bind(LOCK_CLASS)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) fn audit_row(row: &PgRow) -> Result<AuditRow, StoreError> {
    let column = |e: sqlx::Error| corrupt("audit entry", e.to_string());
    Ok(AuditRow {
        seq: to_u64(row.try_get(0).map_err(column)?, "audit sequence number")?,
        at: parse_ts(row.try_get::<&str, _>(1).map_err(column)?)?,
        actor: row.try_get(2).map_err(column)?,
        stage: row.try_get(3).map_err(column)?,
        kind: row.try_get(4).map_err(column)?,
        case_id: row
            .try_get::<Option<&str>, _>(5)
            .map_err(column)?
            .map(parse_case_id)
            .transpose()?,
        entry: row.try_get(6).map_err(column)?,
        leaf_hash: row.try_get(7).map_err(column)?,
    })
}

async fn hashes_in<'e, E>(executor: E, indexes: &[u64]) -> Result<Vec<(u64, Hash)>, StoreError>
where
    E: sqlx::PgExecutor<'e>,
{
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = indexes
        .iter()
        .map(|&index| to_i64(index, "audit tree index"))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = sqlx::query("SELECT idx, hash FROM audit_tree WHERE idx = ANY($1)")
        .bind(wanted)
        .fetch_all(executor)
        .await?;
    let mut found = std::collections::HashMap::new();
    for row in rows {
        let index = to_u64(row.try_get(0)?, "audit tree index")?;
        let hash: &[u8] = row
            .try_get(1)
            .map_err(|e| corrupt("audit tree hash", format!("at {index}: {e}")))?;
        found.insert(index, hash_of(hash, "audit tree hash")?);
    }
    indexes
        .iter()
        .map(|index| {
            found.get(index).map(|hash| (*index, *hash)).ok_or_else(|| {
                corrupt(
                    "audit tree",
                    format!("stored hash {index} is missing: the tree is behind its entries"),
                )
            })
        })
        .collect()
}

/// Append `rows` and extend the tree in one transaction under the append
/// lock: entries and tree commit together or not at all, and appends from
/// other connections and replicas wait their turn.
pub(super) async fn append(pool: &PgPool, rows: &[NewAuditRow]) -> Result<AuditAppend, StoreError> {
    let leaves = rows.iter().map(leaf_of).collect::<Result<Vec<_>, _>>()?;
    // READ COMMITTED whatever the server's default: each statement after
    // the lock must see what the previous holder committed (a snapshot
    // taken before the lock was granted would not).
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    lock(&mut tx).await?;
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&mut *tx)
        .await?;
    let size = to_u64(max.unwrap_or(0), "audit log size")?;
    let edge = hashes_in(&mut *tx, &merkle::frontier(size)).await?;
    let extension = merkle::extend(size, &edge, &leaves).map_err(|e| corrupt("audit tree", e))?;

    // One statement per table whatever the batch size: arrays unnested
    // server-side.
    let mut seqs = Vec::with_capacity(rows.len());
    let mut ats = Vec::with_capacity(rows.len());
    for (offset, row) in (1_u64..).zip(rows) {
        seqs.push(to_i64(size + offset, "audit sequence number")?);
        ats.push(ts(row.at)?);
    }
    let actors: Vec<&str> = rows.iter().map(|r| r.actor.as_str()).collect();
    let stages: Vec<&str> = rows.iter().map(|r| r.stage.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let cases: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.case_id.map(|id| id.to_string()))
        .collect();
    let entries: Vec<&str> = rows.iter().map(|r| r.entry.as_str()).collect();
    let leaf_hashes: Vec<&str> = rows.iter().map(|r| r.leaf_hash.as_str()).collect();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, stage, kind, case_id, entry, leaf_hash) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[])",
    )
    .bind(seqs)
    .bind(ats)
    .bind(actors)
    .bind(stages)
    .bind(kinds)
    .bind(cases)
    .bind(entries)
    .bind(leaf_hashes)
    .execute(&mut *tx)
    .await?;
    insert_hashes(&mut tx, &extension.hashes).await?;
    tx.commit().await?;
    Ok(AuditAppend {
        first_seq: size + 1,
        size: size + rows.len() as u64,
        root: extension.root,
    })
}

async fn insert_hashes(
    tx: &mut Transaction<'_, Postgres>,
    hashes: &[(u64, Hash)],
) -> Result<(), StoreError> {
    if hashes.is_empty() {
        return Ok(());
    }
    let indexes = hashes
        .iter()
        .map(|(index, _)| to_i64(*index, "audit tree index"))
        .collect::<Result<Vec<_>, _>>()?;
    let values: Vec<Vec<u8>> = hashes.iter().map(|(_, hash)| hash.0.to_vec()).collect();
    sqlx::query(
        "INSERT INTO audit_tree (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
    )
    .bind(indexes)
    .bind(values)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn size(pool: &PgPool) -> Result<u64, StoreError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(pool)
        .await?;
    to_u64(max.unwrap_or(0), "audit log size")
}

pub(super) async fn tree_hashes(pool: &PgPool, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
    let found = hashes_in(pool, indexes).await?;
    Ok(found.into_iter().map(|(_, hash)| hash).collect())
}

/// Hashes read per query when reading the whole tree.
const PAGE: i64 = 50_000;

pub(super) async fn tree(pool: &PgPool) -> Result<Vec<(u64, Hash)>, StoreError> {
    let mut out = Vec::new();
    let mut from = 0_i64;
    loop {
        let rows =
            sqlx::query("SELECT idx, hash FROM audit_tree WHERE idx >= $1 ORDER BY idx LIMIT $2")
                .bind(from)
                .bind(PAGE)
                .fetch_all(pool)
                .await?;
        let Some(last) = rows.last() else {
            break;
        };
        let last: i64 = last.try_get(0)?;
        for row in &rows {
            let index = to_u64(row.try_get(0)?, "audit tree index")?;
            let hash: &[u8] = row
                .try_get(1)
                .map_err(|e| corrupt("audit tree hash", format!("at {index}: {e}")))?;
            out.push((index, hash_of(hash, "audit tree hash")?));
        }
        from = last + 1;
    }
    Ok(out)
}

pub(super) async fn entries(
    pool: &PgPool,
    after: u64,
    limit: u32,
) -> Result<Vec<AuditLeafRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, leaf_hash, entry FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(to_i64(after, "audit sequence number")?)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditLeafRow {
                seq: to_u64(row.try_get(0)?, "audit sequence number")?,
                leaf_hash: row.try_get(1)?,
                entry: row.try_get(2)?,
            })
        })
        .collect()
}

pub(super) async fn checkpoints(pool: &PgPool) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let rows = sqlx::query("SELECT size, root, note, at FROM audit_checkpoints ORDER BY size")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredCheckpoint {
                size: to_u64(row.try_get(0)?, "checkpoint size")?,
                root: row.try_get(1)?,
                note: row.try_get(2)?,
                at: parse_ts(row.try_get::<&str, _>(3)?)?,
            })
        })
        .collect()
}

pub(super) async fn add_checkpoint(
    pool: &PgPool,
    checkpoint: &StoredCheckpoint,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO audit_checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (size) DO NOTHING",
    )
    .bind(to_i64(checkpoint.size, "checkpoint size")?)
    .bind(&checkpoint.root)
    .bind(&checkpoint.note)
    .bind(ts(checkpoint.at)?)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Entries matching `query`. As on SQLite, times are compared to the
/// second in SQL (on the same RFC 3339 text), then exactly here.
pub(super) async fn search(pool: &PgPool, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM audit_log WHERE TRUE");
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if query.case.is_some() {
        sql.push_str(&format!(" AND case_id = {}", next()));
    }
    if query.actor.is_some() {
        sql.push_str(&format!(" AND actor = {}", next()));
    }
    if !query.kinds.is_empty() {
        sql.push_str(&format!(" AND kind = ANY({}::text[])", next()));
    }
    if query.since.is_some() {
        sql.push_str(&format!(" AND substr(at, 1, 19) >= {}", next()));
    }
    if query.until.is_some() {
        sql.push_str(&format!(" AND substr(at, 1, 19) <= {}", next()));
    }
    if query.after_seq.is_some() {
        sql.push_str(&format!(" AND seq > {}", next()));
    }
    sql.push_str(" ORDER BY seq");
    if let (None, None, Some(limit)) = (query.since, query.until, query.limit) {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let second = |at: time::OffsetDateTime| -> Result<String, StoreError> {
        Ok(ts(at)?.chars().take(19).collect())
    };
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(case) = query.case {
        statement = statement.bind(case.to_string());
    }
    if let Some(actor) = &query.actor {
        statement = statement.bind(actor.clone());
    }
    if !query.kinds.is_empty() {
        statement = statement.bind(query.kinds.clone());
    }
    if let Some(since) = query.since {
        statement = statement.bind(second(since)?);
    }
    if let Some(until) = query.until {
        statement = statement.bind(second(until)?);
    }
    if let Some(after) = query.after_seq {
        statement = statement.bind(to_i64(after, "audit sequence number")?);
    }
    let mut out = Vec::new();
    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    for row in statement.fetch_all(pool).await? {
        let row = audit_row(&row)?;
        if query.since.is_some_and(|since| row.at < since)
            || query.until.is_some_and(|until| row.at > until)
        {
            continue;
        }
        out.push(row);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
