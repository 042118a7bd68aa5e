//! `warden triage PATH...`: one-shot triage with no server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use warden_enrich::Context;

use crate::env;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Alert files (.json: one alert or an array; .jsonl: one a line) or
    /// folders of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,

    /// Print one JSON object per case, a line each.
    #[arg(long)]
    json: bool,

    /// Context folder (assets.csv, identities.csv, vulnerabilities.csv,
    /// intel.csv, history.csv, kev.json).
    #[arg(long)]
    context: Option<PathBuf>,

    /// Assessor: `deterministic` (the default), `llm` (the configured model
    /// leads, the deterministic assessor must agree), `ensemble` (plus
    /// `[llm] second_model`), or `chaos` (the adversarial test model).
    #[arg(long, default_value = "deterministic")]
    assessor: String,

    /// Force a payload format instead of detecting it: ocsf, ecs, suricata,
    /// chainsaw, hayabusa, splunk, msgraph, falcon, guardduty, or the name
    /// of a loaded mapping.
    #[arg(long)]
    format: Option<String>,

    /// A mapping file (TOML, JSON pointers) describing another JSON source;
    /// repeatable. Adds to `[ingest] mappings` in warden.toml.
    #[arg(long = "mapping", value_name = "FILE")]
    mappings: Vec<PathBuf>,
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    if !warden_pipeline::ASSESSOR_NAMES.contains(&args.assessor.as_str()) {
        bail!(
            "assessor {:?} is not available: use one of {}",
            args.assessor,
            warden_pipeline::ASSESSOR_NAMES.join(", ")
        );
    }
    let (mut env, _) = env::open(data_dir, config).await?;
    let assessors = match warden_pipeline::assessor_named(&args.assessor, &env.config) {
        Ok(assessors) => assessors,
        Err(err) => bail!(err),
    };
    env.add_mappings(&args.mappings)?;
    // An unknown --format is a usage error, like clap's own (exit 2).
    let format = match env.format(args.format.as_deref()) {
        Ok(format) => format,
        Err(err) => {
            eprintln!("warden: error: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let context = match &args.context {
        Some(dir) => Context::load(dir, &env.config.context)
            .with_context(|| format!("cannot use context folder {}", dir.display()))?,
        None => Context::without_folder(&env.config.context),
    };
    for problem in context.problems() {
        eprintln!("warden: warning: {problem} (recorded as an evidence gap)");
    }
    let mut pipeline = env.pipeline(context)?;
    pipeline = pipeline.with_assessors(&assessors);
    pipeline.record_run("triage").await?;
    let run = pipeline.triage_paths(&args.paths, format).await?;
    env.finish().await?;

    for outcome in &run.outcomes {
        if args.json {
            println!("{}", outcome.to_json());
        } else {
            println!("{}", outcome.card());
        }
    }
    for rejected in &run.rejected {
        eprintln!(
            "warden: error: {}: {} (kept in the dead-letter store)",
            rejected.origin, rejected.reason
        );
    }
    if !args.json {
        let escalated = run
            .outcomes
            .iter()
            .filter(|o| o.case.disposition.is_some_and(|d| d.is_escalated()))
            .count();
        eprintln!(
            "{} case{} triaged ({} escalated), {} record{} rejected",
            run.outcomes.len(),
            if run.outcomes.len() == 1 { "" } else { "s" },
            escalated,
            run.rejected.len(),
            if run.rejected.len() == 1 { "" } else { "s" },
        );
    }
    Ok(if run.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
