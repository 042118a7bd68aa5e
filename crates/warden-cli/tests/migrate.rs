//! `warden migrate --to postgres://...`: an embedded data directory copied
//! into PostgreSQL; `warden audit verify` passes on both ends with the
//! same root, and the copy serves the same records.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use common::{stderr, stdout, warden, warden_with_env};
use warden_store::postgres::testing::TestSchema;

/// The root an `ok: N entries, root R, ...` line names.
fn root_of(report: &str) -> (String, String) {
    let line = report
        .lines()
        .find(|l| l.starts_with("ok: "))
        .unwrap_or_else(|| panic!("no ok line in {report:?}"));
    let entries = line
        .trim_start_matches("ok: ")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let root = line
        .split("root ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap()
        .to_owned();
    (entries, root)
}

#[test]
fn migrate_copies_the_data_directory_and_the_roots_match() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = runtime
        .block_on(TestSchema::create("migrate"))
        .unwrap_or_else(|why| panic!("{why}"))
    else {
        return;
    };
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let triage = warden(
        &data,
        &["triage", "examples/alerts", "--context", "examples/context"],
    );
    assert!(triage.status.success(), "{}", stderr(&triage));
    let embedded = warden(&data, &["audit", "verify"]);
    assert!(embedded.status.success(), "{}", stdout(&embedded));
    let (entries, root) = root_of(&stdout(&embedded));

    let migrate = warden(&data, &["migrate", "--to", &url]);
    assert!(
        migrate.status.success(),
        "{}{}",
        stdout(&migrate),
        stderr(&migrate)
    );
    let said = stdout(&migrate);
    assert!(said.contains(&format!("root {root}")), "{said}");
    assert!(said.contains("copied 5 cases"), "{said}");

    // The same log, verified by the binary on PostgreSQL.
    let on_postgres = warden_with_env(&data, &["audit", "verify"], &[("WARDEN_STORE_URL", &url)]);
    assert!(
        on_postgres.status.success(),
        "{}{}",
        stdout(&on_postgres),
        stderr(&on_postgres)
    );
    assert_eq!(root_of(&stdout(&on_postgres)), (entries, root));

    // The same records through the commands.
    let search = |vars: &[(&str, &str)]| {
        let out = warden_with_env(
            &data,
            &["audit", "search", "--kind", "policy_decided", "--json"],
            vars,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let here = search(&[]);
    assert!(!here.is_empty());
    assert_eq!(search(&[("WARDEN_STORE_URL", &url)]), here);

    // Not twice into the same store.
    let again = warden(&data, &["migrate", "--to", &url]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("empty"), "{}", stderr(&again));
    drop(schema);
    drop(runtime);
}

/// A log that does not verify is evidence: it is not copied.
#[test]
fn migrate_refuses_a_log_that_does_not_verify() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = runtime
        .block_on(TestSchema::create("migrate_tampered"))
        .unwrap_or_else(|why| panic!("{why}"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let triage = warden(
        &data,
        &["triage", "examples/alerts", "--context", "examples/context"],
    );
    assert!(triage.status.success(), "{}", stderr(&triage));
    runtime.block_on(async {
        let store = warden_store::SqliteStore::open(&data.join("warden.db"))
            .await
            .unwrap();
        for sql in [
            "DROP TRIGGER audit_log_no_update",
            "UPDATE audit_log SET entry = entry || ' ' WHERE seq = 3",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
    });
    let migrate = warden(&data, &["migrate", "--to", &schema.url()]);
    assert!(!migrate.status.success());
    let err = stderr(&migrate);
    assert!(err.contains("does not verify (entry 3"), "{err}");
    // Nothing reached PostgreSQL.
    let store = runtime.block_on(schema.store()).unwrap();
    let size = runtime.block_on(async {
        use warden_store::CaseReader as _;
        store.audit_size().await.unwrap()
    });
    assert_eq!(size, 0);
    drop(store);
    drop(schema);
    drop(runtime);
}
