//! `warden replay CASE`: run a stored case again offline, its model answers
//! taken from the audit record, and show what changes under today's
//! configuration, policy, playbooks and prompt.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;
use warden_domain::CaseId;
use warden_enrich::Context;
use warden_pipeline::replay::{ReplayError, ReplayReport, RunSummary};

use crate::env;

#[derive(Debug, Parser)]
pub struct Args {
    /// The case id (`case-...`, as cards and the API show it).
    case: String,

    /// The context folder to enrich from (as `triage --context`); the
    /// evidence then reflects it as it is now.
    #[arg(long)]
    context: Option<PathBuf>,

    /// Ask the configured model (`--assessor llm` settings) instead of the
    /// recording: the same case under a new model or provider.
    #[arg(long)]
    live: bool,

    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let Ok(case_id) = CaseId::parse(&args.case) else {
        eprintln!(
            "warden: error: {:?} is not a case id (case-<uuid>)",
            args.case
        );
        return Ok(ExitCode::from(2));
    };
    let (env, _) = env::open(data_dir, config).await?;
    let context = match &args.context {
        Some(dir) => Context::load(dir, &env.config.context)
            .with_context(|| format!("cannot use context folder {}", dir.display()))?,
        None => Context::without_folder(&env.config.context),
    };
    let live = if args.live {
        match warden_pipeline::assessor_named("llm", &env.config) {
            Ok(choice) => Some(choice),
            Err(err) => bail!(err),
        }
    } else {
        None
    };
    let pipeline = env.pipeline(context)?;
    let report = match pipeline.replay_case(case_id, live.as_ref()).await {
        Ok(report) => report,
        Err(err @ (ReplayError::NoCase(_) | ReplayError::NothingRecorded(_))) => {
            eprintln!("warden: error: {err}");
            return Ok(ExitCode::from(2));
        }
        Err(ReplayError::Pipeline(err)) => return Err(err.into()),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_lines(label: &str, run: &RunSummary) -> String {
    let mut out = format!(
        "{label}: verdict {}, severity {}, disposition {}\n",
        run.verdict.map_or("-".to_owned(), |v| v.to_string()),
        run.severity,
        run.disposition.map_or("-".to_owned(), |d| d.to_string()),
    );
    for reason in &run.escalations {
        out.push_str(&format!("  escalation: {}\n", one_line(reason)));
    }
    for decision in &run.decisions {
        out.push_str(&format!("  proposal: {}\n", one_line(decision)));
    }
    out
}

/// Recorded texts can hold attacker text (a reason quoting an alert):
/// one line, no control characters.
fn one_line(text: &str) -> String {
    warden_domain::Untrusted::new(text).escaped(300)
}

fn render(report: &ReplayReport) -> String {
    let mut out = format!("replay of {}\n", report.case_id);
    out.push_str(&summary_lines("recorded", &report.recorded));
    out.push_str(&summary_lines("replayed", &report.replayed));
    out.push_str(if report.changed() {
        "outcome: CHANGED\n"
    } else {
        "outcome: unchanged\n"
    });
    for step in &report.steps {
        let state = match (&step.recorded_request, &step.replayed_request) {
            (Some(_), None) => "recorded, not asked this time",
            (None, Some(_)) => "asked, not in the recording (escalates)",
            _ if step.same() => "same request",
            _ => "request changed (prompt, evidence or tools differ)",
        };
        out.push_str(&format!(
            "  model call {} step {}: {state}\n",
            step.assessor, step.step
        ));
    }
    out
}
