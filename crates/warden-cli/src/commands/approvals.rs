//! `warden approvals`, `approve`, `reject`, `modify` and `execute`: the
//! approval queue from the command line, and the executor as a separate
//! step. People authenticate with their password on standard input.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;
use warden_domain::{
    ApprovalRequest, ExecutionStatus, ProposalHash, RejectionReason, RequestStatus,
};
use warden_enrich::Context;
use warden_store::CaseReader;

use crate::env;

/// `warden approvals [show HASH]`
#[derive(Debug, Parser)]
pub struct ListArgs {
    /// Show one request's approval card.
    #[arg(long, value_name = "HASH")]
    pub show: Option<String>,
    /// Every request, not only pending ones.
    #[arg(long)]
    pub all: bool,
    /// One JSON object per request, a line each.
    #[arg(long)]
    pub json: bool,
}

/// `warden approve HASH --as NAME`
#[derive(Debug, Parser)]
pub struct ApproveArgs {
    /// The proposal hash (or a unique prefix of at least 8 characters).
    pub hash: String,
    /// Who approves (their password is read from standard input).
    #[arg(long = "as", value_name = "NAME")]
    pub person: String,
    /// The role to act in (default: the first of theirs the request accepts).
    #[arg(long)]
    pub role: Option<String>,
}

/// `warden reject HASH --as NAME --reason CODE --note TEXT`
#[derive(Debug, Parser)]
pub struct RejectArgs {
    pub hash: String,
    #[arg(long = "as", value_name = "NAME")]
    pub person: String,
    /// false_positive, too_disruptive, insufficient_evidence, wrong_target,
    /// not_permitted or other.
    #[arg(long)]
    pub reason: String,
    /// Why, in words.
    #[arg(long)]
    pub note: String,
}

/// `warden modify HASH --as NAME --set KEY=VALUE...`
#[derive(Debug, Parser)]
pub struct ModifyArgs {
    pub hash: String,
    #[arg(long = "as", value_name = "NAME")]
    pub person: String,
    /// A parameter of the new proposal; repeatable. Unset keys are dropped.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `warden execute`
#[derive(Debug, Parser)]
pub struct ExecuteArgs {
    /// One JSON object per execution, a line each.
    #[arg(long)]
    pub json: bool,
}

pub async fn list(
    data_dir: &Path,
    config: Option<&Path>,
    args: ListArgs,
) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    if let Some(prefix) = &args.show {
        let request = find(&*env.store, prefix).await?;
        let approvals = env.store.approvals_of(&request.proposal_hash).await?;
        if args.json {
            println!("{}", serde_json::to_string(&request)?);
        } else {
            print_card(&request, &approvals);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let status = (!args.all).then_some(RequestStatus::Pending);
    let requests = env.store.approval_requests(status, None).await?;
    for request in &requests {
        let approvals = env.store.approvals_of(&request.proposal_hash).await?;
        let approved = approvals.iter().filter(|a| a.approved).count();
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "proposal_hash": request.proposal_hash,
                    "case_id": request.proposal.case_id,
                    "use_case": request.use_case,
                    "title": request.card.title,
                    "status": request.status,
                    "approvals": approved,
                    "approvals_required": request.card.approvals_required,
                    "roles": request.card.roles,
                    "expires_at": request.expires_at.to_string(),
                })
            );
        } else {
            println!(
                "{}  {:<10} {}/{} {:<24} {}  (case {}, expires {})",
                short(&request.proposal_hash),
                request.status.as_str(),
                approved,
                request.card.approvals_required,
                request.use_case,
                request.card.title,
                request.proposal.case_id,
                request.expires_at
            );
        }
    }
    if requests.is_empty() && !args.json {
        println!(
            "no {}approval requests",
            if args.all { "" } else { "pending " }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn approve(
    data_dir: &Path,
    config: Option<&Path>,
    args: ApproveArgs,
) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    let person = crate::auth::login(&*env.store, &args.person).await?;
    let request = find(&*env.store, &args.hash).await?;
    let pipeline = env.pipeline(Context::none())?;
    let progress = pipeline
        .control()
        .approve(&request.proposal_hash, &person, args.role.as_deref())
        .await?;
    println!(
        "{} approved {} ({} of {} approvals)",
        person.name, request.card.title, progress.valid, progress.needed
    );
    if progress.ready {
        println!("ready: `warden execute` runs it, after its own checks");
    }
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn reject(
    data_dir: &Path,
    config: Option<&Path>,
    args: RejectArgs,
) -> anyhow::Result<ExitCode> {
    let reason: RejectionReason = args.reason.parse().map_err(anyhow::Error::msg)?;
    let (env, _) = env::open(data_dir, config).await?;
    let person = crate::auth::login(&*env.store, &args.person).await?;
    let request = find(&*env.store, &args.hash).await?;
    let pipeline = env.pipeline(Context::none())?;
    pipeline
        .control()
        .reject(&request.proposal_hash, &person, reason, &args.note)
        .await?;
    println!("{} rejected {} ({reason})", person.name, request.card.title);
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn modify(
    data_dir: &Path,
    config: Option<&Path>,
    args: ModifyArgs,
) -> anyhow::Result<ExitCode> {
    let mut parameters = BTreeMap::new();
    for pair in &args.set {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--set {pair:?} is not KEY=VALUE");
        };
        parameters.insert(key.trim().to_owned(), value.to_owned());
    }
    let (env, _) = env::open(data_dir, config).await?;
    let person = crate::auth::login(&*env.store, &args.person).await?;
    let request = find(&*env.store, &args.hash).await?;
    let pipeline = env.pipeline(Context::none())?;
    let new = pipeline
        .control()
        .modify(&request.proposal_hash, &person, parameters)
        .await?;
    println!(
        "{} is superseded by {} ({}); it needs {} approval(s) from someone other than {}",
        short(&request.proposal_hash),
        short(&new.proposal_hash),
        new.card.title,
        new.card.approvals_required,
        person.name
    );
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn execute(
    data_dir: &Path,
    config: Option<&Path>,
    args: ExecuteArgs,
) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    let pipeline = env.pipeline(Context::none())?;
    let expired = pipeline.control().expire_due().await?;
    let mut done = pipeline.executor().recover().await?;
    done.extend(pipeline.executor().run_ready().await?);
    for execution in &done {
        if args.json {
            println!("{}", serde_json::to_string(execution)?);
        } else {
            println!(
                "{:<9} {} on {} via {}: {}",
                execution.status.as_str(),
                execution.action,
                execution.target.label(),
                execution.connector,
                execution.detail
            );
            if let Some(rollback) = &execution.rollback {
                println!("          undo: {rollback}");
            }
        }
    }
    if !args.json {
        println!(
            "{} order(s) run, {} request(s) expired",
            done.len(),
            expired
        );
    }
    let failed = done.iter().any(|e| e.status == ExecutionStatus::Failed);
    env.finish().await?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The request whose hash is `prefix` or starts with it (unique).
async fn find(store: &dyn CaseReader, prefix: &str) -> anyhow::Result<ApprovalRequest> {
    let prefix = prefix.trim();
    if prefix.len() < 8 {
        bail!("give at least 8 characters of the proposal hash");
    }
    if let Some(request) = store
        .approval_request(&ProposalHash::from_stored(prefix.to_owned()))
        .await?
    {
        return Ok(request);
    }
    let mut matches: Vec<ApprovalRequest> = store
        .approval_requests(None, None)
        .await
        .context("cannot read approval requests")?
        .into_iter()
        .filter(|r| r.proposal_hash.as_str().starts_with(prefix))
        .collect();
    match matches.len() {
        0 => bail!("no approval request for proposal {prefix}"),
        1 => Ok(matches.remove(0)),
        n => bail!("{n} requests start with {prefix}; give more of the hash"),
    }
}

fn short(hash: &ProposalHash) -> String {
    hash.as_str().chars().take(12).collect()
}

/// The card, as text. Every value is printed as data on its own line;
/// control characters from evidence are escaped.
fn print_card(request: &ApprovalRequest, approvals: &[warden_domain::Approval]) {
    let card = &request.card;
    let clean = |text: &str| text.escape_debug().to_string();
    println!("{}  [{}]", clean(&card.title), request.status);
    println!("  proposal   {}", request.proposal_hash);
    println!(
        "  case       {} (use case {})",
        request.proposal.case_id, card.use_case
    );
    println!(
        "  assessment {} / {} / confidence {:.2}",
        card.verdict.as_str(),
        card.severity,
        card.confidence
    );
    println!("  changes    {}", clean(&card.side_effects));
    for (key, value) in &card.parameters {
        println!("  parameter  {key} = {:?}", value);
    }
    println!("  rollback   {}", clean(&card.rollback));
    println!(
        "  approvals  {} needed from {}; policies {}",
        card.approvals_required,
        if card.roles.is_empty() {
            "any approver role".to_owned()
        } else {
            card.roles.join(" or ")
        },
        card.policy_ids.join(", ")
    );
    for approval in approvals {
        println!(
            "    {} {} as {}{}",
            if approval.approved {
                "approved by"
            } else {
                "REJECTED by"
            },
            approval.approver,
            approval.role,
            approval
                .reason
                .as_deref()
                .map(|r| format!(": {}", clean(r)))
                .unwrap_or_default()
        );
    }
    println!("  why");
    for line in &card.rationale {
        println!("    - {}", clean(line));
    }
    println!("  evidence");
    for item in &card.evidence {
        println!(
            "    {} [{}; {}] {}",
            item.id,
            clean(&item.source),
            item.freshness,
            clean(&item.summary)
        );
    }
    println!(
        "  requested by {} at {}, expires {}",
        request.requester, request.created_at, request.expires_at
    );
}
