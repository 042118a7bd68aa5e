//! A PostgreSQL schema of its own for each test (feature `test-support`).
//!
//! Tests run against `WARDEN_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, trust authentication). Each
//! [`TestSchema`] creates a uniquely named schema, hands out stores whose
//! connections have it as their `search_path`, and drops it when dropped.
//!
//! When the server cannot be reached, [`TestSchema::create`] prints a line
//! starting `skipping:` and returns `None`, unless `WARDEN_REQUIRE_POSTGRES=1`
//! is set (CI sets it): then it is an error that names the URL and the
//! cause, and the test fails.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};

use super::{PgStore, mask_url};
use crate::StoreError;

/// The server and database tests use.
pub const URL_VAR: &str = "WARDEN_TEST_POSTGRES_URL";
/// Set to `1` to make an unreachable server fail the tests instead of
/// skipping them.
pub const REQUIRE_VAR: &str = "WARDEN_REQUIRE_POSTGRES";
/// Where tests look when [`URL_VAR`] is unset.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh schema in the test database, dropped (with everything in it)
/// when this is dropped.
#[derive(Debug)]
pub struct TestSchema {
    base: String,
    name: String,
}

fn base_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

impl TestSchema {
    /// Create a schema for `test`. `Ok(None)`: the server is unreachable
    /// and not required (a `skipping:` line was printed).
    pub async fn create(test: &str) -> Result<Option<Self>, String> {
        let base = base_url();
        let options: PgConnectOptions = base
            .parse()
            .map_err(|e| format!("{URL_VAR}={}: {e}", mask_url(&base)))?;
        // One connection, so the reason is the server's (refused, no such
        // role or database), not a pool's time-out.
        let admin = match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 5 s".to_owned()),
        };
        let mut admin = match admin {
            Ok(connection) => connection,
            Err(e) => {
                let why = format!(
                    "PostgreSQL at {} is unreachable: {e} (start it, or set {URL_VAR})",
                    mask_url(&base)
                );
                if required() {
                    return Err(format!("{why}; {REQUIRE_VAR}=1 requires it"));
                }
                println!("skipping: {test}: {why}");
                return Ok(None);
            }
        };
        let name = format!(
            "warden_test_{}_{}",
            test.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(24)
                .collect::<String>()
                .to_ascii_lowercase(),
            uuid::Uuid::now_v7().simple()
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .map_err(|e| format!("cannot create schema {name}: {e}"))?;
        let _ = admin.close().await;
        Ok(Some(Self { base, name }))
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection options with the schema as `search_path`.
    pub fn options(&self) -> Result<PgConnectOptions, StoreError> {
        let options: PgConnectOptions =
            self.base
                .parse()
                .map_err(|source: sqlx::Error| StoreError::Open {
                    location: mask_url(&self.base),
                    source,
                })?;
        Ok(options.options([("search_path", self.name.as_str())]))
    }

    /// A URL naming the schema, as `WARDEN_STORE_URL` would be set for a
    /// replica (`?options[search_path]=...`).
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}options[search_path]={}", self.base, self.name)
    }

    /// A store on the schema: its own pool, migrated on first use. Call it
    /// twice for two replicas.
    pub async fn store(&self) -> Result<PgStore, StoreError> {
        PgStore::connect_with(self.options()?, &mask_url(&self.url())).await
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // a thread with a runtime of its own drops the schema.
        let base = self.base.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let options: PgConnectOptions = base.parse().map_err(|e| format!("{e}"))?;
                // A connection a failed test left inside a transaction must
                // not hold the drop forever.
                let options = options.options([("lock_timeout", "10s")]);
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
                pool.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("cannot drop test schema {}: {error}", self.name);
        }
    }
}
