//! `warden migrate --to postgres://...`: copy the data directory's embedded
//! store into PostgreSQL, for replicas to share.
//!
//! The copy is row for row (`warden_store::copy`): audit entries keep their
//! sequence numbers, the tree its hashes and the checkpoints their signed
//! notes. The log is verified before (a log that does not verify is not
//! copied: it is evidence to look at first) and after, with the data
//! directory's public key, and the two roots must be equal. Nothing is
//! appended on either side, so the roots stay comparable with any
//! checkpoint shipped before.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use warden_pipeline::Config;
use warden_store::{PgStore, SqliteStore, StoreUrl};

use crate::env;

#[derive(Debug, Parser)]
pub struct Args {
    /// The PostgreSQL store to fill: `postgres://USER:PASSWORD@HOST:PORT/DATABASE`
    /// (its schema must hold no cases, people or audit entries yet).
    #[arg(long, value_name = "URL", env = "WARDEN_MIGRATE_TO")]
    pub to: String,
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config_file = config.map_or_else(|| data_dir.join(env::CONFIG), Path::to_path_buf);
    let config = Config::load(&config_file)?;
    let target = match StoreUrl::parse(&args.to, data_dir).context("--to")? {
        StoreUrl::Postgres(url) => url,
        StoreUrl::Sqlite(_) => anyhow::bail!("--to must be a postgres:// URL"),
    };
    // The source is the embedded store: the configured one when it is a
    // SQLite file, else the data directory's `warden.db`.
    let source = match env::store_url(data_dir, &config)?.0 {
        StoreUrl::Sqlite(path) => path,
        StoreUrl::Postgres(_) => data_dir.join(env::DATABASE),
    };
    if !source.exists() {
        anyhow::bail!(
            "no embedded store at {}: nothing to migrate",
            source.display()
        );
    }
    let public = env::configured_public_key(data_dir, &config.audit)?;
    let from = SqliteStore::open(&source)
        .await
        .with_context(|| format!("cannot open {}", source.display()))?;
    let before = warden_audit::verify::verify(&from, &public)
        .await
        .context("verifying the embedded audit log")?;
    if let Some(problem) = &before.problem {
        anyhow::bail!(
            "the audit log in {} does not verify (entry {}: {}); nothing was copied: \
             run `warden audit verify` and investigate first",
            source.display(),
            problem.seq,
            problem.detail
        );
    }
    let to = PgStore::connect(&target).await?;
    let report = warden_store::copy::sqlite_to_postgres(&from, &to)
        .await
        .with_context(|| format!("copying into {}", warden_store::postgres::mask_url(&target)))?;
    for (table, rows) in &report.tables {
        if *rows > 0 {
            println!("copied {rows} {table}");
        }
    }
    let after = warden_audit::verify::verify(&to, &public)
        .await
        .context("verifying the copied audit log")?;
    if let Some(problem) = &after.problem {
        anyhow::bail!(
            "the copied audit log does not verify (entry {}: {})",
            problem.seq,
            problem.detail
        );
    }
    if after.root != before.root || after.entries != before.entries {
        anyhow::bail!(
            "the copy differs: {} entries with root {} here, {} with root {} there",
            before.entries,
            before.root,
            after.entries,
            after.root
        );
    }
    let masked = warden_store::postgres::mask_url(&target);
    println!(
        "ok: {} audit entries, root {} on both {} and {masked}",
        after.entries,
        after.root,
        source.display()
    );
    println!(
        "next: set WARDEN_STORE_URL (or [store] url) to {masked} on every replica, and give \
         each the audit key ({})",
        config.audit.signing_key.as_ref().map_or_else(
            || data_dir
                .join(env::KEYS)
                .join(warden_audit::signing::PRIVATE_KEY_FILE)
                .display()
                .to_string(),
            |path| path.display().to_string()
        )
    );
    Ok(ExitCode::SUCCESS)
}
