//! `warden deadletter list|show|retry`: the records ingest could not take.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use time::format_description::well_known::Rfc3339;
use warden_domain::Untrusted;
use warden_enrich::Context;
use warden_pipeline::RetryOutcome;
use warden_store::DeadLetter;

use crate::env;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List dead letters (unresolved ones unless --all).
    List {
        /// Include letters already resolved by a retry.
        #[arg(long)]
        all: bool,
        /// One JSON object per letter, a line each.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter: where it came from, why, and its payload.
    Show {
        /// The dead letter's id (`dl-...`).
        id: String,
    },
    /// Ingest dead letters again; those that now parse are triaged and
    /// marked resolved.
    Retry {
        /// Ids to retry.
        ids: Vec<String>,
        /// Retry every unresolved letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Force a payload format: a built-in name (ocsf, ecs, suricata,
        /// chainsaw, hayabusa, splunk, msgraph, falcon, guardduty) or a
        /// loaded mapping's name.
        #[arg(long)]
        format: Option<String>,
        /// A mapping file to read with (repeatable), as for `triage`.
        #[arg(long = "mapping", value_name = "FILE")]
        mappings: Vec<PathBuf>,
        /// Context folder for triaging what now parses.
        #[arg(long)]
        context: Option<PathBuf>,
    },
}

fn time_text(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Payload bytes shown as text, control characters escaped.
fn payload_text(letter: &DeadLetter, max_chars: usize) -> String {
    Untrusted::new(String::from_utf8_lossy(&letter.payload).into_owned()).escaped(max_chars)
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let (mut env, _) = env::open(data_dir, config).await?;
    match args.command {
        Command::List { all, json } => {
            let letters: Vec<DeadLetter> = env
                .store
                .dead_letters()
                .await?
                .into_iter()
                .filter(|l| all || l.resolved_at.is_none())
                .collect();
            for letter in &letters {
                if json {
                    let line = serde_json::json!({
                        "id": letter.id,
                        "origin": letter.origin,
                        "reason": letter.reason,
                        "sha256": letter.sha256,
                        "bytes": letter.payload.len(),
                        "received_at": time_text(letter.received_at),
                        "resolved_at": letter.resolved_at.map(time_text),
                        "resolution": letter.resolution,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{}  {}  {}{}\n    {}",
                        letter.id,
                        time_text(letter.received_at),
                        Untrusted::new(letter.origin.clone()).escaped(120),
                        letter
                            .resolution
                            .as_ref()
                            .map(|r| format!("  [resolved: {r}]"))
                            .unwrap_or_default(),
                        Untrusted::new(letter.reason.clone()).escaped(200),
                    );
                }
            }
            if !json {
                eprintln!(
                    "{} dead letter{}",
                    letters.len(),
                    if letters.len() == 1 { "" } else { "s" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id } => {
            let Some(letter) = env.store.dead_letter(&id).await? else {
                bail!("no dead letter {id:?} (see `warden deadletter list --all`)");
            };
            println!("id:          {}", letter.id);
            println!(
                "origin:      {}",
                Untrusted::new(letter.origin.clone()).escaped(500)
            );
            println!(
                "reason:      {}",
                Untrusted::new(letter.reason.clone()).escaped(500)
            );
            println!("received:    {}", time_text(letter.received_at));
            println!("sha256:      {}", letter.sha256);
            println!("size:        {} bytes", letter.payload.len());
            if let (Some(at), Some(resolution)) = (letter.resolved_at, &letter.resolution) {
                println!("resolved:    {} ({resolution})", time_text(at));
            }
            println!("payload:\n{}", payload_text(&letter, 64 * 1024));
            Ok(ExitCode::SUCCESS)
        }
        Command::Retry {
            ids,
            all,
            format,
            mappings,
            context,
        } => {
            env.add_mappings(&mappings)?;
            let format = env.format(format.as_deref())?;
            let ids: Vec<String> = if all {
                env.store
                    .dead_letters()
                    .await?
                    .into_iter()
                    .filter(|l| l.resolved_at.is_none())
                    .map(|l| l.id)
                    .collect()
            } else if ids.is_empty() {
                bail!("name dead letters to retry, or pass --all");
            } else {
                ids
            };
            let context = match &context {
                Some(dir) => Context::load(dir, &env.config.context)
                    .with_context(|| format!("cannot use context folder {}", dir.display()))?,
                None => Context::without_folder(&env.config.context),
            };
            let pipeline = env.pipeline(context)?;
            pipeline.record_run("deadletter retry").await?;
            let mut failed = 0;
            for id in &ids {
                match pipeline.retry_dead_letter(id, format.clone()).await? {
                    RetryOutcome::Ingested(outcomes) => {
                        for outcome in outcomes {
                            println!("{id}: ingested; {}", outcome.summary_line());
                        }
                    }
                    RetryOutcome::StillRejected(reason) => {
                        failed += 1;
                        println!(
                            "{id}: still rejected: {}",
                            Untrusted::new(reason).escaped(300)
                        );
                    }
                    RetryOutcome::AlreadyResolved => println!("{id}: already resolved"),
                    RetryOutcome::NotFound => {
                        failed += 1;
                        println!("{id}: no such dead letter");
                    }
                }
            }
            env.finish().await?;
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
