//! `warden policy validate|test|explain`: check policy files against the
//! schema, run policy fixtures, and explain the decisions of a case.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use warden_domain::{AutoCloseDecision, CaseId, Decision, Untrusted};
use warden_policy::PolicyEngine;
use warden_policy::fixture::{self, FixtureFile, Outcome};

use crate::env;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Validate policies against the schema (strict): the configured set,
    /// or the given files taken together (the built-in guards are added).
    Validate {
        /// Cedar policy files to validate instead of the configured set.
        files: Vec<PathBuf>,
        /// Also list every policy: id, effect, approvals, description.
        #[arg(long)]
        list: bool,
    },
    /// Run policy fixtures (TOML): every request must get its expected
    /// decision.
    Test {
        /// Fixture files.
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
        /// Test these policy files (together) instead of the configured set.
        #[arg(long = "policies", value_name = "FILE")]
        policies: Vec<PathBuf>,
    },
    /// Explain the policy decisions stored for a case.
    Explain {
        /// The case id (`case-...` or a bare UUID).
        case_id: String,
        /// One JSON object per decision, a line each.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Validate { files, list } => validate(data_dir, config, &files, list).await,
        Command::Test { fixtures, policies } => test(data_dir, config, &fixtures, &policies).await,
        Command::Explain { case_id, json } => explain(data_dir, config, &case_id, json).await,
    }
}

/// The files read, as (name, text).
fn read_files(files: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    files
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .with_context(|| format!("cannot read {}", path.display()))
        })
        .collect()
}

/// The engine the files make, or the configured one; and what it is.
async fn engine(
    data_dir: &Path,
    config: Option<&Path>,
    files: &[PathBuf],
) -> anyhow::Result<Result<(PolicyEngine, String), String>> {
    if files.is_empty() {
        let (env, _) = env::open(data_dir, config).await?;
        let what = match &env.config.policy.policies {
            None => format!(
                "the shipped default set ({} files)",
                warden_policy::DEFAULT_POLICY_FILES.len()
            ),
            Some(file) => data_dir.join(file).display().to_string(),
        };
        return Ok(Ok((env.policy, what)));
    }
    let sources = read_files(files)?;
    let borrowed: Vec<(&str, &str)> = sources
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    let what = sources
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(
        PolicyEngine::load_sources(warden_policy::DEFAULT_SCHEMA, &borrowed)
            .map(|engine| (engine, what))
            .map_err(|e| e.to_string()),
    )
}

async fn validate(
    data_dir: &Path,
    config: Option<&Path>,
    files: &[PathBuf],
    list: bool,
) -> anyhow::Result<ExitCode> {
    let (engine, what) = match engine(data_dir, config, files).await? {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("invalid: {errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let guards = engine.policies().iter().filter(|p| p.built_in).count();
    println!("policies: {what} + built-in guards");
    println!(
        "valid: {} policies ({} yours, {guards} built-in guards), version {}",
        engine.policies().len(),
        engine.policies().len().saturating_sub(guards),
        engine.version()
    );
    if list {
        for policy in engine.policies() {
            let approvals = if policy.approvals == 0 {
                String::new()
            } else {
                format!(
                    " [{} approval(s) of {}]",
                    policy.approvals,
                    policy.approver_roles.join(",")
                )
            };
            println!(
                "  {:<6} {}{approvals}{}",
                policy.effect,
                policy.id,
                policy
                    .description
                    .as_deref()
                    .map(|d| format!("\n         {d}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn test(
    data_dir: &Path,
    config: Option<&Path>,
    fixtures: &[PathBuf],
    policies: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let (engine, what) = match engine(data_dir, config, policies).await? {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("invalid: {errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "policies: {what} (version {})",
        engine.version().get(..12).unwrap_or(engine.version())
    );
    let mut rows: Vec<(String, Outcome)> = Vec::new();
    let mut unreadable = 0_usize;
    for path in fixtures {
        let file = path.display().to_string();
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| toml::from_str::<FixtureFile>(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(fixture) if fixture.tests.is_empty() => {
                unreadable += 1;
                eprintln!("{file}: no [[test]] in the file");
            }
            Ok(fixture) => {
                for outcome in fixture::run_file(&engine, &fixture) {
                    rows.push((file.clone(), outcome));
                }
            }
            Err(err) => {
                unreadable += 1;
                eprintln!("{file}: {err}");
            }
        }
    }
    let width = rows
        .iter()
        .map(|(_, o)| o.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 70);
    println!("{:<4}  {:<width$}  {:<14}  GOT", "", "TEST", "EXPECTED");
    let mut last_file = "";
    for (file, outcome) in &rows {
        if file != last_file {
            println!("{file}");
            last_file = file;
        }
        let got = outcome.got();
        let name: String = outcome.name.chars().take(width).collect();
        println!(
            "{:<4}  {name:<width$}  {:<14}  {got}",
            if outcome.passed() { "ok" } else { "FAIL" },
            outcome.expected,
        );
        for failure in &outcome.failures {
            println!("      - {failure}");
        }
    }
    let failed = rows.iter().filter(|(_, o)| !o.passed()).count();
    println!(
        "{} passed, {failed} failed{}",
        rows.len().saturating_sub(failed),
        if unreadable > 0 {
            format!(", {unreadable} fixture file(s) unreadable")
        } else {
            String::new()
        }
    );
    Ok(if failed == 0 && unreadable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Text from the store, safe to print (targets are entity values from
/// alerts).
fn safe(text: &str) -> String {
    Untrusted::new(text.to_owned()).escaped(300)
}

async fn explain(
    data_dir: &Path,
    config: Option<&Path>,
    case_id: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Ok(id) = CaseId::parse(case_id) else {
        bail!("{case_id:?} is not a case id (case-<uuid>)");
    };
    let (env, _) = env::open(data_dir, config).await?;
    let Some(case) = env.store.case(id).await? else {
        bail!("no case {id} in {}", data_dir.display());
    };
    // The proposals' decisions, then whether the case could close without
    // a person (`case.auto_close`, stored with the case).
    let mut decisions: Vec<Explained> = env
        .store
        .decisions_of_case(id)
        .await?
        .iter()
        .map(Explained::of)
        .collect();
    decisions.extend(case.auto_close.as_ref().map(Explained::closure));
    let current = env.policy.version();
    if json {
        for decision in &decisions {
            println!("{}", explain_json(&env.policy, decision));
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{id}: {} decision{}",
        decisions.len(),
        if decisions.len() == 1 { "" } else { "s" }
    );
    for decision in &decisions {
        println!(
            "\n{} on {}: {}",
            decision.action,
            safe(&decision.target),
            decision.outcome_text
        );
        if decision.policy_ids.is_empty() {
            println!("  policies: none matched (default deny)");
        } else {
            println!("  policies:");
        }
        for id in &decision.policy_ids {
            match env.policy.policy(id) {
                Some(policy) => println!(
                    "    {} ({}{}): {}",
                    safe(id),
                    policy.effect,
                    if policy.approvals > 0 {
                        format!(
                            ", {} approval(s) of {}",
                            policy.approvals,
                            policy.approver_roles.join(",")
                        )
                    } else {
                        String::new()
                    },
                    policy.description.as_deref().unwrap_or("(no description)")
                ),
                None => println!("    {} (not in the current policy set)", safe(id)),
            }
        }
        if !decision.reasons.is_empty() {
            println!("  reasons:");
            for reason in &decision.reasons {
                println!("    - {}", safe(reason));
            }
        }
        let short = |v: &str| v.get(..12).unwrap_or(v).to_owned();
        if decision.policy_version == current {
            println!(
                "  policy version: {} (the current set)",
                short(&decision.policy_version)
            );
        } else {
            println!(
                "  policy version: {} (NOT the current set, {}: the policies changed since)",
                short(&decision.policy_version),
                short(current)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored decision as `explain` shows it: a proposal's, or the case's
/// `case.auto_close`.
struct Explained {
    action: String,
    target: String,
    /// `allow`, `needs_approval (1 of soc_lead)`, `deny`.
    outcome_text: String,
    /// The `--json` outcome object (`{"outcome": "allow", ...}`).
    outcome: serde_json::Value,
    policy_ids: Vec<String>,
    reasons: Vec<String>,
    policy_version: String,
}

impl Explained {
    fn of(decision: &Decision) -> Self {
        Self {
            action: decision.action.to_string(),
            target: decision.target.label(),
            outcome_text: fixture::describe(&decision.outcome),
            outcome: serde_json::to_value(&decision.outcome).unwrap_or_default(),
            policy_ids: decision.policy_ids.clone(),
            reasons: decision.reasons.clone(),
            policy_version: decision.policy_version.clone(),
        }
    }

    fn closure(decision: &AutoCloseDecision) -> Self {
        let outcome = if decision.allowed { "allow" } else { "deny" };
        Self {
            action: warden_policy::AUTO_CLOSE.to_owned(),
            target: "case".to_owned(),
            outcome_text: outcome.to_owned(),
            outcome: serde_json::json!({ "outcome": outcome }),
            policy_ids: decision.policy_ids.clone(),
            reasons: decision.reasons.clone(),
            policy_version: decision.policy_version.clone(),
        }
    }
}

fn explain_json(engine: &PolicyEngine, decision: &Explained) -> serde_json::Value {
    let policies: Vec<serde_json::Value> = decision
        .policy_ids
        .iter()
        .map(|id| {
            let policy = engine.policy(id);
            serde_json::json!({
                "id": id,
                "in_current_set": policy.is_some(),
                "effect": policy.map(|p| p.effect),
                "description": policy.and_then(|p| p.description.clone()),
                "approvals": policy.map(|p| p.approvals),
                "approver_roles": policy.map(|p| p.approver_roles.clone()),
            })
        })
        .collect();
    serde_json::json!({
        "action": decision.action,
        "target": decision.target,
        "outcome": decision.outcome,
        "policies": policies,
        "reasons": decision.reasons,
        "policy_version": decision.policy_version,
        "current_version": decision.policy_version == engine.version(),
    })
}
