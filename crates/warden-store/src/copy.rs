//! An embedded store copied into PostgreSQL, row for row (`warden migrate
//! --to postgres://...`).
//!
//! Both backends keep the same columns as the same text (see `codec`), so
//! the copy converts nothing: audit entries keep their sequence numbers,
//! the tree its stored hashes and the checkpoints their signed notes, and
//! `warden audit verify` gives the same root on both ends. Identity
//! columns keep their values and their sequences continue after them.
//!
//! The copy runs in one PostgreSQL transaction holding the audit append
//! lock, into a store that must be empty: it either lands whole or not at
//! all, and no replica appends in the middle of it.

use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteRow;
use sqlx::{Arguments as _, Row};

use crate::codec::corrupt;
use crate::{PgStore, SqliteStore, StoreError};

/// A column's type, the same on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Bytes,
    /// `INTEGER` 0/1 on SQLite, `boolean` on PostgreSQL.
    Bool,
}

struct Table {
    name: &'static str,
    /// (column, kind); on SQLite, `rowid` stands for the column `id` of a
    /// table whose order is its rowid.
    columns: &'static [(&'static str, Kind)],
    /// What SQLite orders the pages by (the primary key).
    order: &'static str,
    /// Has a `GENERATED ALWAYS AS IDENTITY` column `id` on PostgreSQL.
    identity: bool,
}

use Kind::{Bool, Bytes, Int, Text};

/// Every table, parents before children (foreign keys hold at each step).
const TABLES: &[Table] = &[
    Table {
        name: "cases",
        columns: &[
            ("id", Text),
            ("state", Text),
            ("title", Text),
            ("severity", Text),
            ("verdict", Text),
            ("disposition", Text),
            ("alert_count", Int),
            ("created_at", Text),
            ("updated_at", Text),
            ("body", Text),
        ],
        order: "id",
        identity: false,
    },
    Table {
        name: "alerts",
        columns: &[
            ("id", Text),
            ("case_id", Text),
            ("format", Text),
            ("fingerprint", Text),
            ("rule", Text),
            ("severity", Text),
            ("occurred_at", Text),
            ("origin", Text),
            ("raw_sha256", Text),
            ("duplicates", Int),
            ("body", Text),
            ("ingested_at", Text),
        ],
        order: "id",
        identity: false,
    },
    Table {
        name: "case_entities",
        columns: &[("case_id", Text), ("kind", Text), ("value", Text)],
        order: "case_id, kind, value",
        identity: false,
    },
    Table {
        name: "evidence",
        columns: &[
            ("rowid", Int),
            ("case_id", Text),
            ("evidence_id", Text),
            ("kind", Text),
            ("source", Text),
            ("body", Text),
        ],
        order: "rowid",
        identity: true,
    },
    Table {
        name: "evidence_gaps",
        columns: &[
            ("id", Int),
            ("case_id", Text),
            ("source", Text),
            ("reason", Text),
        ],
        order: "id",
        identity: true,
    },
    Table {
        name: "assessments",
        columns: &[
            ("id", Int),
            ("case_id", Text),
            ("assessor", Text),
            ("created_at", Text),
            ("body", Text),
        ],
        order: "id",
        identity: true,
    },
    Table {
        name: "decisions",
        columns: &[
            ("id", Int),
            ("case_id", Text),
            ("proposal_hash", Text),
            ("outcome", Text),
            ("created_at", Text),
            ("body", Text),
        ],
        order: "id",
        identity: true,
    },
    Table {
        name: "executions",
        columns: &[
            ("idempotency_key", Text),
            ("case_id", Text),
            ("proposal_hash", Text),
            ("status", Text),
            ("claimed_at", Text),
            ("finished_at", Text),
            ("body", Text),
        ],
        order: "idempotency_key",
        identity: false,
    },
    Table {
        name: "case_notes",
        columns: &[
            ("id", Int),
            ("case_id", Text),
            ("author", Text),
            ("text", Text),
            ("created_at", Text),
        ],
        order: "id",
        identity: true,
    },
    Table {
        name: "dead_letters",
        columns: &[
            ("id", Text),
            ("origin", Text),
            ("reason", Text),
            ("payload", Bytes),
            ("sha256", Text),
            ("received_at", Text),
            ("resolved_at", Text),
            ("resolution", Text),
        ],
        order: "id",
        identity: false,
    },
    Table {
        name: "kill_switches",
        columns: &[
            ("scope", Text),
            ("paused_by", Text),
            ("reason", Text),
            ("paused_at", Text),
        ],
        order: "scope",
        identity: false,
    },
    Table {
        name: "approval_requests",
        columns: &[
            ("proposal_hash", Text),
            ("case_id", Text),
            ("use_case", Text),
            ("status", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("updated_at", Text),
            ("body", Text),
        ],
        order: "proposal_hash",
        identity: false,
    },
    Table {
        name: "approvals",
        columns: &[
            ("id", Int),
            ("proposal_hash", Text),
            ("approver", Text),
            ("approved", Bool),
            ("decided_at", Text),
            ("body", Text),
        ],
        order: "id",
        identity: true,
    },
    Table {
        name: "use_case_settings",
        columns: &[
            ("name", Text),
            ("autonomy", Text),
            ("changed_by", Text),
            ("reason", Text),
            ("changed_at", Text),
        ],
        order: "name",
        identity: false,
    },
    Table {
        name: "reviews",
        columns: &[
            ("id", Int),
            ("case_id", Text),
            ("use_case", Text),
            ("reviewed_at", Text),
            ("body", Text),
        ],
        order: "id",
        identity: true,
    },
    Table {
        name: "people",
        columns: &[
            ("name", Text),
            ("roles", Text),
            ("password_hash", Text),
            ("created_at", Text),
        ],
        order: "name",
        identity: false,
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Text),
            ("person", Text),
            ("csrf_token", Text),
            ("created_at", Text),
            ("expires_at", Text),
        ],
        order: "token_hash",
        identity: false,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("token_hash", Text),
            ("scopes", Text),
            ("created_by", Text),
            ("created_at", Text),
            ("revoked_at", Text),
        ],
        order: "id",
        identity: false,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("seq", Int),
            ("at", Text),
            ("actor", Text),
            ("stage", Text),
            ("kind", Text),
            ("case_id", Text),
            ("entry", Text),
            ("leaf_hash", Text),
        ],
        order: "seq",
        identity: false,
    },
    Table {
        name: "audit_tree",
        columns: &[("idx", Int), ("hash", Bytes)],
        order: "idx",
        identity: false,
    },
    Table {
        name: "audit_checkpoints",
        columns: &[("size", Int), ("root", Text), ("note", Text), ("at", Text)],
        order: "size",
        identity: false,
    },
];

/// Rows read and written per statement.
const PAGE: i64 = 5_000;

/// What was copied: rows per table, in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
}

/// One column of a page, as the array PostgreSQL unnests.
enum ColumnValues {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bytes(Vec<Option<Vec<u8>>>),
    Bool(Vec<Option<bool>>),
}

impl ColumnValues {
    fn new(kind: Kind) -> Self {
        match kind {
            Text => Self::Text(Vec::new()),
            Int => Self::Int(Vec::new()),
            Bytes => Self::Bytes(Vec::new()),
            Bool => Self::Bool(Vec::new()),
        }
    }

    fn push(&mut self, row: &SqliteRow, index: usize, what: &str) -> Result<(), StoreError> {
        let bad = |e: sqlx::Error| corrupt(what, e.to_string());
        match self {
            Self::Text(values) => values.push(row.try_get(index).map_err(bad)?),
            Self::Int(values) => values.push(row.try_get(index).map_err(bad)?),
            Self::Bytes(values) => values.push(row.try_get(index).map_err(bad)?),
            Self::Bool(values) => values.push(
                row.try_get::<Option<i64>, _>(index)
                    .map_err(bad)?
                    .map(|v| v != 0),
            ),
        }
        Ok(())
    }

    fn bind(self, arguments: &mut PgArguments) -> Result<(), StoreError> {
        let failed = |e: sqlx::error::BoxDynError| corrupt("copied rows", e.to_string());
        match self {
            Self::Text(values) => arguments.add(values).map_err(failed),
            Self::Int(values) => arguments.add(values).map_err(failed),
            Self::Bytes(values) => arguments.add(values).map_err(failed),
            Self::Bool(values) => arguments.add(values).map_err(failed),
        }
    }
}

fn pg_type(kind: Kind) -> &'static str {
    match kind {
        Text => "text[]",
        Int => "bigint[]",
        Bytes => "bytea[]",
        Bool => "boolean[]",
    }
}

/// Copy everything in `from` into `to`, which must hold no cases and no
/// audit entries.
pub async fn sqlite_to_postgres(
    from: &SqliteStore,
    to: &PgStore,
) -> Result<CopyReport, StoreError> {
    let mut tx = to
        .pool()
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    crate::postgres::lock_audit(&mut tx).await?;
    let occupied: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_log) OR EXISTS (SELECT 1 FROM cases) \
         OR EXISTS (SELECT 1 FROM people)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if occupied {
        return Err(corrupt(
            "destination store",
            "it already holds cases, people or audit entries; copy only into an empty one",
        ));
    }
    let mut report = CopyReport::default();
    for table in TABLES {
        let source_columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let target_columns: Vec<&str> = source_columns
            .iter()
            .map(|c| if *c == "rowid" { "id" } else { c })
            .collect();
        let select = format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT ? OFFSET ?",
            source_columns.join(", "),
            table.name,
            table.order
        );
        let unnest: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| format!("${}::{}", i + 1, pg_type(*kind)))
            .collect();
        let insert = format!(
            "INSERT INTO {} ({}) {} SELECT * FROM unnest({})",
            table.name,
            target_columns.join(", "),
            if table.identity {
                "OVERRIDING SYSTEM VALUE"
            } else {
                ""
            },
            unnest.join(", ")
        );
        let mut copied = 0_u64;
        let mut offset = 0_i64;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(PAGE)
                .bind(offset)
                .fetch_all(from.pool())
                .await?;
            if rows.is_empty() {
                break;
            }
            let what = format!("{} row", table.name);
            let mut columns: Vec<ColumnValues> = table
                .columns
                .iter()
                .map(|(_, kind)| ColumnValues::new(*kind))
                .collect();
            for row in &rows {
                for (index, column) in columns.iter_mut().enumerate() {
                    column.push(row, index, &what)?;
                }
            }
            let mut arguments = PgArguments::default();
            for column in columns {
                column.bind(&mut arguments)?;
            }
            sqlx::query_with(sqlx::AssertSqlSafe(insert.clone()), arguments)
                .execute(&mut *tx)
                .await?;
            copied += rows.len() as u64;
            offset += PAGE;
        }
        if table.identity {
            // New rows continue after the copied ones.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), MAX(id)) FROM {0} \
                 HAVING MAX(id) IS NOT NULL",
                table.name
            )))
            .execute(&mut *tx)
            .await?;
        }
        report.tables.push((table.name, copied));
    }
    tx.commit().await?;
    Ok(report)
}
