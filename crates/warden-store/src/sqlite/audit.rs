//! The audit log's tables: entries, the Merkle tree's stored hashes and the
//! signed checkpoints, all append-only (triggers refuse updates and deletes).

use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};

use crate::codec::{corrupt, hash_of, leaf_of, parse_case_id, parse_ts, to_i64, to_u64, ts};
use crate::merkle::{self, Hash};
use crate::{
    AuditAppend, AuditLeafRow, AuditQuery, AuditRow, NewAuditRow, StoreError, StoredCheckpoint,
};

const ROW_COLUMNS: &str = "seq, at, actor, stage, kind, case_id, entry, leaf_hash";

pub(super) fn audit_row(row: &SqliteRow) -> Result<AuditRow, StoreError> {
    // `try_get`: a tampered row may hold a value of another type.
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

async fn size_in(tx: &mut Transaction<'_, Sqlite>) -> Result<u64, StoreError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&mut **tx)
        .await?;
    to_u64(max.unwrap_or(0), "audit log size")
}

async fn hashes_in(
    conn: &mut SqliteConnection,
    indexes: &[u64],
) -> Result<Vec<(u64, Hash)>, StoreError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; indexes.len()].join(", ");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT idx, hash FROM audit_tree WHERE idx IN ({marks})"
    )));
    for &index in indexes {
        query = query.bind(to_i64(index, "audit tree index")?);
    }
    let mut found = std::collections::HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        let index = to_u64(row.get(0), "audit tree index")?;
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

/// Rows per multi-row INSERT (8 parameters each, under SQLite's 32,766).
const ROWS_PER_INSERT: usize = 500;
/// Tree hashes per multi-row INSERT (2 parameters each).
const HASHES_PER_INSERT: usize = 2_000;

async fn insert_rows(
    tx: &mut Transaction<'_, Sqlite>,
    first_seq: u64,
    rows: &[NewAuditRow],
) -> Result<(), StoreError> {
    for (chunk_number, chunk) in rows.chunks(ROWS_PER_INSERT).enumerate() {
        let tuples = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO audit_log (seq, at, actor, stage, kind, case_id, entry, leaf_hash) \
             VALUES {tuples}"
        )));
        let base = first_seq + (chunk_number * ROWS_PER_INSERT) as u64;
        for (offset, row) in (0_u64..).zip(chunk) {
            query = query
                .bind(to_i64(base + offset, "audit sequence number")?)
                .bind(ts(row.at)?)
                .bind(row.actor.clone())
                .bind(row.stage.clone())
                .bind(row.kind.clone())
                .bind(row.case_id.map(|id| id.to_string()))
                .bind(row.entry.clone())
                .bind(row.leaf_hash.clone());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_hashes(
    tx: &mut Transaction<'_, Sqlite>,
    hashes: &[(u64, Hash)],
) -> Result<(), StoreError> {
    for chunk in hashes.chunks(HASHES_PER_INSERT) {
        let tuples = vec!["(?, ?)"; chunk.len()].join(", ");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO audit_tree (idx, hash) VALUES {tuples}"
        )));
        for (index, hash) in chunk {
            query = query
                .bind(to_i64(*index, "audit tree index")?)
                .bind(hash.0.to_vec());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
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
    // Few statements per batch: each one is a hand-off to SQLite's thread.
    insert_rows(&mut tx, size + 1, rows).await?;
    insert_hashes(&mut tx, &extension.hashes).await?;
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
        if hex::decode_to_slice(&leaf_hash, &mut bytes).is_err() {
            return Ok(());
        }
        leaves.push(Hash(bytes));
    }
    if leaves.is_empty() {
        return Ok(());
    }
    let extension = merkle::extend(0, &[], &leaves).map_err(|e| corrupt("audit tree", e))?;
    insert_hashes(&mut tx, &extension.hashes).await?;
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
    let mut conn = pool.acquire().await?;
    let found = hashes_in(&mut conn, indexes).await?;
    Ok(found.into_iter().map(|(_, hash)| hash).collect())
}

/// Rows folded into one string per query when reading the whole log: one
/// row through sqlx per page instead of one per entry (the per-row hand-off
/// costs more than SQLite's own work).
const PAGE: i64 = 20_000;

pub(super) async fn tree(pool: &SqlitePool) -> Result<Vec<(u64, Hash)>, StoreError> {
    let mut out = Vec::new();
    let mut from = 0_i64;
    loop {
        // A page of consecutive indexes comes back as one blob of 32-byte
        // hashes; anything irregular is read row by row.
        let row = sqlx::query(
            "SELECT MIN(idx), MAX(idx), COUNT(*), MIN(length(hash)), MAX(length(hash)), \
             CAST(group_concat(hash, '' ORDER BY idx) AS BLOB) \
             FROM (SELECT idx, hash FROM audit_tree WHERE idx >= ? ORDER BY idx LIMIT ?)",
        )
        .bind(from)
        .bind(PAGE)
        .fetch_one(pool)
        .await?;
        let count: i64 = row.get(2);
        if count == 0 {
            break;
        }
        let (first, last): (i64, i64) = (row.get(0), row.get(1));
        let (shortest, longest): (i64, i64) = (row.get(3), row.get(4));
        let blob: Option<Vec<u8>> = row.get(5);
        let regular = last - first + 1 == count && shortest == 32 && longest == 32;
        match blob.filter(|b| regular && b.len() as i64 == count * 32) {
            Some(blob) => {
                let start = to_u64(first, "audit tree index")?;
                for (index, chunk) in (start..).zip(blob.chunks_exact(32)) {
                    out.push((index, hash_of(chunk, "audit tree hash")?));
                }
            }
            None => {
                let rows = sqlx::query(
                    "SELECT idx, hash FROM audit_tree WHERE idx >= ? ORDER BY idx LIMIT ?",
                )
                .bind(from)
                .bind(PAGE)
                .fetch_all(pool)
                .await?;
                for row in &rows {
                    let index = to_u64(row.get(0), "audit tree index")?;
                    let hash: &[u8] = row
                        .try_get(1)
                        .map_err(|e| corrupt("audit tree hash", format!("at {index}: {e}")))?;
                    out.push((index, hash_of(hash, "audit tree hash")?));
                }
            }
        }
        from = last + 1;
    }
    Ok(out)
}

/// Up to `limit` entries after `after` as (seq, leaf hash column, entry),
/// read as one length-prefixed string (`seq:hashlen:entrylen:` then both
/// texts), so no content can confuse the split. A page that does not parse
/// is read again row by row.
pub(super) async fn entries(
    pool: &SqlitePool,
    after: u64,
    limit: u32,
) -> Result<Vec<AuditLeafRow>, StoreError> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT group_concat(seq || ':' || octet_length(leaf_hash) || ':' || \
         octet_length(entry) || ':' || leaf_hash || entry, '') \
         FROM (SELECT seq, leaf_hash, entry FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?)",
    )
    .bind(to_i64(after, "audit sequence number")?)
    .bind(i64::from(limit))
    .fetch_one(pool)
    .await?;
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    if let Some(rows) = parse_entries(&text) {
        return Ok(rows);
    }
    let rows = search(
        pool,
        &AuditQuery {
            after_seq: Some(after),
            limit: Some(limit),
            ..AuditQuery::default()
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditLeafRow {
            seq: row.seq,
            leaf_hash: row.leaf_hash,
            entry: row.entry,
        })
        .collect())
}

/// `None` unless every item parses and the sequence numbers increase (the
/// aggregate's order is not promised by SQL, so it is checked).
fn parse_entries(text: &str) -> Option<Vec<AuditLeafRow>> {
    let mut rows: Vec<AuditLeafRow> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (seq, after_seq) = rest.split_once(':')?;
        let (hash_len, after_hash_len) = after_seq.split_once(':')?;
        let (entry_len, body) = after_hash_len.split_once(':')?;
        let hash_len: usize = hash_len.parse().ok()?;
        let entry_len: usize = entry_len.parse().ok()?;
        let leaf_hash = body.get(..hash_len)?;
        let entry = body.get(hash_len..hash_len + entry_len)?;
        let seq: u64 = seq.parse().ok()?;
        if rows.last().is_some_and(|last| last.seq >= seq) {
            return None;
        }
        rows.push(AuditLeafRow {
            seq,
            leaf_hash: leaf_hash.to_owned(),
            entry: entry.to_owned(),
        });
        rest = body.get(hash_len + entry_len..)?;
    }
    Some(rows)
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
