//! `warden eval SET`: replay a validation set and score it
//! (`spec/validation-set.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use warden_pipeline::eval::{EvalOptions, EvalReport, ValidationSet, run_set};

use crate::env;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The validation set folder (set.toml, context/, cases/).
    set: PathBuf,

    /// Print one JSON object with the scores and every case's outcome.
    #[arg(long)]
    json: bool,

    /// Assessor: `deterministic` (the default and, for now, the only one).
    #[arg(long, default_value = "deterministic")]
    assessor: String,

    /// Grant every approval request through a simulated approver; policy
    /// denials still hold.
    #[arg(long)]
    approve_all: bool,

    /// A mapping file for sources the set uses; repeatable.
    #[arg(long = "mapping", value_name = "FILE")]
    mappings: Vec<PathBuf>,
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    if !warden_pipeline::ASSESSOR_NAMES.contains(&args.assessor.as_str()) {
        eprintln!(
            "warden: error: assessor {:?} is not available: use one of {}",
            args.assessor,
            warden_pipeline::ASSESSOR_NAMES.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let (mut env, _) = env::open(data_dir, config).await?;
    env.add_mappings(&args.mappings)?;
    // An invalid set is exit 2, naming the file and line.
    let set = match ValidationSet::load(&args.set, &env.formats) {
        Ok(set) => set,
        Err(err) => {
            eprintln!("warden: error: invalid validation set: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let options = EvalOptions {
        config: env.config.clone(),
        policy: env.policy.clone(),
        formats: env.formats.clone(),
        playbooks: env.playbooks.clone(),
        approve_all: args.approve_all,
        assessor: args.assessor.clone(),
        // Every case's entries go to the data directory's log: the run
        // can be verified, proven and exported afterwards.
        audit: Some(warden_pipeline::eval::SharedAudit(env.audit.clone())),
    };

    // The bar draws only on a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::new(set.cases.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = run_set(&set, &options, |case| {
        bar.set_message(case.id.clone());
        bar.inc(1);
    })
    .await?;
    bar.finish_and_clear();
    env.finish().await?;

    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// The human report: one row per case, the scores, then the figures per
/// playbook.
fn render(report: &EvalReport) -> String {
    let mut cases = Table::new();
    cases
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "case",
            "use case",
            "expected",
            "verdict",
            "escalated",
            "severity",
            "result",
        ]);
    for case in &report.per_case {
        let expected_escalation = match case.must_escalate {
            Some(true) => " (must)",
            Some(false) => " (must not)",
            None => "",
        };
        cases.add_row([
            case.id.clone(),
            case.use_case.clone(),
            serde_json::to_value(case.expected_verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            case.verdict.clone(),
            format!(
                "{}{expected_escalation}",
                if case.escalated { "yes" } else { "no" }
            ),
            case.severity.clone(),
            if case.pass {
                "pass".to_owned()
            } else {
                format!("FAIL: {}", case.why)
            },
        ]);
    }
    let mut scores = Table::new();
    scores
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["measure", "value"]);
    for (name, value) in [
        ("set", report.set.clone()),
        ("assessor", report.assessor.clone()),
        ("approve all", report.approve_all.to_string()),
        ("cases", report.cases.to_string()),
        ("passed", report.passed().to_string()),
        ("errors", report.errors.to_string()),
        (
            "verdict accuracy",
            format!("{:.3}", report.verdict_accuracy),
        ),
        ("abstentions (unknown)", report.abstentions.to_string()),
        (
            "accuracy when decided",
            format!(
                "{:.3} (right side {:.3})",
                report.decided_verdict_accuracy, report.verdict_side_accuracy
            ),
        ),
        ("false negatives", report.false_negatives.to_string()),
        (
            "needless escalations",
            format!(
                "{} ({:.3} of must-not-escalate cases)",
                report.needless_escalations, report.needless_escalation_rate
            ),
        ),
        (
            "escalation recall",
            format!("{:.3}", report.escalation_recall),
        ),
        (
            "escalation precision",
            format!("{:.3}", report.escalation_precision),
        ),
        (
            "expected actions proposed",
            format!("{:.3}", report.expected_actions_proposed),
        ),
        ("unsafe proposals", report.unsafe_proposals.to_string()),
        ("unsafe executions", report.unsafe_executions.to_string()),
    ] {
        scores.add_row([name.to_owned(), value]);
    }
    let mut playbooks = Table::new();
    playbooks
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "playbook",
            "cases",
            "passed",
            "verdict accuracy",
            "false negatives",
            "escalated",
            "must not escalate",
            "needless escalations",
            "needless rate",
        ]);
    for (name, score) in &report.per_playbook {
        playbooks.add_row([
            name.clone(),
            score.cases.to_string(),
            score.passed.to_string(),
            format!("{:.3}", score.verdict_accuracy),
            score.false_negatives.to_string(),
            score.escalated.to_string(),
            score.must_not_escalate.to_string(),
            score.needless_escalations.to_string(),
            format!("{:.3}", score.needless_escalation_rate),
        ]);
    }
    format!("{cases}\n{scores}\n{playbooks}\n")
}
