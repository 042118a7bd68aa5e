//! The audit log's tables: entries, the Merkle tree's stored hashes and the
//! signed checkpoints, all append-only (triggers refuse updates and deletes).

use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};

use super::{parse_case_id, parse_ts, ts};
use crate::merkle::{self, Hash};
use crate::{AuditAppend, AuditQuery, AuditRow, NewAuditRow, StoreError, StoredCheckpoint};

const ROW_COLUMNS: &str = "seq, at, actor, stage, kind, case_id, entry, leaf_hash";

fn corrupt(what: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt(what, format!("{value} is out of range")))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what, format!("negative: {value}")))
}

fn hash_of(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| corrupt(what, format!("{} bytes, not 32", bytes.len())))
}

fn leaf_of(row: &NewAuditRow) -> Result<Hash, StoreError> {
    let mut bytes = [0_u8; 32];
    hex_decode(&row.leaf_hash, &mut bytes).ok_or_else(|| StoreError::Corrupt {
        what: "new audit entry".into(),
        reason: format!("leaf hash {:?} is not 64 hex digits", row.leaf_hash),
    })?;
    Ok(Hash(bytes))
}

fn hex_decode(text: &str, out: &mut [u8; 32]) -> Option<()> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(())
}

pub(super) fn audit_row(row: &SqliteRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: to_u64(row.get(0), "audit sequence number")?,
        at: parse_ts(row.get::<&str, _>(1))?,
        actor: row.get(2),
        stage: row.get(3),
        kind: row.get(4),
        case_id: row
            .get::<Option<&str>, _>(5)
            .map(parse_case_id)
            .transpose()?,
        entry: row.get(6),
        leaf_hash: row.get(7),
    })
}

async fn size_in(tx: &mut Transaction<'_, Sqlite>) -> Result<u64, StoreError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&mut **tx)
        .await?;
    to_u64(max.unwrap_or(0), "audit log size")
}

async fn hashes_in(
    tx: &mut Transaction<'_, Sqlite>,
    indexes: &[u64],
) -> Result<Vec<(u64, Hash)>, StoreError> {
    let mut out = Vec::with_capacity(indexes.len());
    for &index in indexes {
        let row: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM audit_tree WHERE idx = ?")
            .bind(to_i64(index, "audit tree index")?)
            .fetch_optional(&mut **tx)
            .await?;
        let bytes = row.ok_or_else(|| {
            corrupt(
                "audit tree",
                format!("stored hash {index} is missing: the tree is behind its entries"),
            )
        })?;
        out.push((index, hash_of(&bytes, "audit tree hash")?));
    }
    Ok(out)
}

/// Append `rows` and extend the tree, in one immediate (write-locked)
/// transaction: entries and tree commit together or not at all, and two
/// writers (a server and a CLI on the same file) never interleave.
pub(super) async fn append(
    pool: &SqlitePool,
    rows: &[NewAuditRow],
) -> Result<AuditAppend, StoreError> {
    let leaves = rows.iter().map(leaf_of).collect::<Result<Vec<_>, _>>()?;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let size = size_in(&mut tx).await?;
    let edge = hashes_in(&mut tx, &merkle::frontier(size)).await?;
    let extension = merkle::extend(size, &edge, &leaves).map_err(|e| corrupt("audit tree", e))?;
    for (offset, row) in (1_u64..).zip(rows) {
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, stage, kind, case_id, entry, leaf_hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(size + offset, "audit sequence number")?)
        .bind(ts(row.at)?)
        .bind(&row.actor)
        .bind(&row.stage)
        .bind(&row.kind)
        .bind(row.case_id.map(|id| id.to_string()))
        .bind(&row.entry)
        .bind(&row.leaf_hash)
        .execute(&mut *tx)
        .await?;
    }
    for (index, hash) in &extension.hashes {
        sqlx::query("INSERT INTO audit_tree (idx, hash) VALUES (?, ?)")
            .bind(to_i64(*index, "audit tree index")?)
            .bind(hash.0.as_slice())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(AuditAppend {
        first_seq: size + 1,
        size: size + rows.len() as u64,
        root: extension.root,
    })
}

/// Build the tree over entries written before the store kept one (data
/// directories from before migration 5). Runs only while the tree is empty.
pub(super) async fn backfill_tree(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let any_tree: Option<i64> = sqlx::query_scalar("SELECT MAX(idx) FROM audit_tree")
        .fetch_one(&mut *tx)
        .await?;
    if any_tree.is_some() {
        return Ok(());
    }
    let rows = sqlx::query("SELECT seq, leaf_hash FROM audit_log ORDER BY seq")
        .fetch_all(&mut *tx)
        .await?;
    let mut leaves = Vec::with_capacity(rows.len());
    for (expected, row) in (1_i64..).zip(&rows) {
        let seq: i64 = row.get(0);
        if seq != expected {
            // Leave a gap for `warden audit verify` to report.
            return Ok(());
        }
        let leaf_hash: String = row.get(1);
        let mut bytes = [0_u8; 32];
        if hex_decode(&leaf_hash, &mut bytes).is_none() {
            return Ok(());
        }
        leaves.push(Hash(bytes));
    }
    if leaves.is_empty() {
        return Ok(());
    }
    let extension = merkle::extend(0, &[], &leaves).map_err(|e| corrupt("audit tree", e))?;
    for (index, hash) in &extension.hashes {
        sqlx::query("INSERT INTO audit_tree (idx, hash) VALUES (?, ?)")
            .bind(to_i64(*index, "audit tree index")?)
            .bind(hash.0.as_slice())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn size(pool: &SqlitePool) -> Result<u64, StoreError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(pool)
        .await?;
    to_u64(max.unwrap_or(0), "audit log size")
}

pub(super) async fn tree_hashes(
    pool: &SqlitePool,
    indexes: &[u64],
) -> Result<Vec<Hash>, StoreError> {
    let mut out = Vec::with_capacity(indexes.len());
    for &index in indexes {
        let bytes: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM audit_tree WHERE idx = ?")
                .bind(to_i64(index, "audit tree index")?)
                .fetch_optional(pool)
                .await?;
        let bytes = bytes
            .ok_or_else(|| corrupt("audit tree", format!("stored hash {index} is missing")))?;
        out.push(hash_of(&bytes, "audit tree hash")?);
    }
    Ok(out)
}

pub(super) async fn tree(pool: &SqlitePool) -> Result<Vec<(u64, Hash)>, StoreError> {
    let rows = sqlx::query("SELECT idx, hash FROM audit_tree ORDER BY idx")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            let index = to_u64(row.get(0), "audit tree index")?;
            let bytes: &[u8] = row.get(1);
            Ok((index, hash_of(bytes, "audit tree hash")?))
        })
        .collect()
}

pub(super) async fn checkpoints(pool: &SqlitePool) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let rows = sqlx::query("SELECT size, root, note, at FROM audit_checkpoints ORDER BY size")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredCheckpoint {
                size: to_u64(row.get(0), "checkpoint size")?,
                root: row.get(1),
                note: row.get(2),
                at: parse_ts(row.get::<&str, _>(3))?,
            })
        })
        .collect()
}

pub(super) async fn add_checkpoint(
    pool: &SqlitePool,
    checkpoint: &StoredCheckpoint,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT OR IGNORE INTO audit_checkpoints (size, root, note, at) VALUES (?, ?, ?, ?)",
    )
    .bind(to_i64(checkpoint.size, "checkpoint size")?)
    .bind(&checkpoint.root)
    .bind(&checkpoint.note)
    .bind(ts(checkpoint.at)?)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Entries matching `query`. Times are compared to the second in SQL (the
/// stored text is RFC 3339 with a variable fraction, which does not sort as
/// text below the second), then exactly here.
pub(super) async fn search(
    pool: &SqlitePool,
    query: &AuditQuery,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM audit_log WHERE 1 = 1");
    if query.case.is_some() {
        sql.push_str(" AND case_id = ?");
    }
    if query.actor.is_some() {
        sql.push_str(" AND actor = ?");
    }
    if !query.kinds.is_empty() {
        let marks = vec!["?"; query.kinds.len()].join(", ");
        sql.push_str(&format!(" AND kind IN ({marks})"));
    }
    if query.since.is_some() {
        sql.push_str(" AND substr(at, 1, 19) >= ?");
    }
    if query.until.is_some() {
        sql.push_str(" AND substr(at, 1, 19) <= ?");
    }
    if query.after_seq.is_some() {
        sql.push_str(" AND seq > ?");
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
    for kind in &query.kinds {
        statement = statement.bind(kind.clone());
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
