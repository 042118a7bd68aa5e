//! `warden pause|resume` (the kill switch), `warden autonomy` (the trust
//! ladder) and `warden review` (an analyst's verdict, which the ladder
//! counts). Each needs an account with the right role; the password is
//! read from standard input.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use warden_domain::{Autonomy, CaseId, Verdict};
use warden_enrich::Context;

use crate::auth::login_as;
use crate::env;
use warden_server::auth::Permission;

/// `warden pause|resume [--use-case NAME]`
#[derive(Debug, Parser)]
pub struct SwitchArgs {
    /// One use case; without it, everything.
    #[arg(long)]
    pub use_case: Option<String>,
    /// Why (kept on the record).
    #[arg(long, default_value = "no reason given")]
    pub reason: String,
    /// Who (a soc_lead, incident_commander or admin; password on stdin).
    #[arg(long = "as", value_name = "NAME")]
    pub person: String,
}

/// `warden autonomy [USE_CASE LEVEL]`
#[derive(Debug, Parser)]
pub struct AutonomyArgs {
    /// The use case to change; without it, list every use case.
    pub use_case: Option<String>,
    /// shadow, draft, assisted or autonomous.
    pub level: Option<String>,
    #[arg(long, default_value = "no reason given")]
    pub reason: String,
    /// Who (a soc_lead or admin; password on stdin).
    #[arg(long = "as", value_name = "NAME")]
    pub person: Option<String>,
}

/// `warden review CASE --verdict V --as NAME`
#[derive(Debug, Parser)]
pub struct ReviewArgs {
    pub case: String,
    /// malicious, suspicious, benign or false_positive.
    #[arg(long)]
    pub verdict: String,
    #[arg(long = "as", value_name = "NAME")]
    pub person: String,
}

pub async fn switch(
    data_dir: &Path,
    config: Option<&Path>,
    args: SwitchArgs,
    paused: bool,
) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    let pipeline = env.pipeline(Context::none())?;
    if let Some(name) = &args.use_case
        && !pipeline.playbooks().iter().any(|p| p.name() == name)
    {
        bail!("no use case named {name}");
    }
    let person = login_as(&*env.store, &args.person, Permission::KillSwitch).await?;
    let by = format!("person:{}", person.name);
    let scope = args.use_case.as_deref().unwrap_or("every use case");
    if paused {
        pipeline
            .control()
            .pause(args.use_case.as_deref(), &by, &args.reason)
            .await?;
        println!("paused: nothing runs for {scope} until `warden resume`");
    } else {
        pipeline
            .control()
            .resume(args.use_case.as_deref(), &by, &args.reason)
            .await?;
        let still = env.store.pauses().await?;
        println!("resumed {scope}");
        for pause in still {
            println!(
                "still paused: {} (by {}, {}: {})",
                pause.scope, pause.by, pause.at, pause.reason
            );
        }
    }
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn autonomy(
    data_dir: &Path,
    config: Option<&Path>,
    args: AutonomyArgs,
) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    let pipeline = env.pipeline(Context::none())?;
    let control = pipeline.control();
    let (Some(name), Some(level)) = (&args.use_case, &args.level) else {
        if args.use_case.is_some() {
            bail!("give a level: shadow, draft, assisted or autonomous");
        }
        let pauses = env.store.pauses().await?;
        let global = pauses.iter().any(|p| p.scope == warden_store::GLOBAL_SCOPE);
        for playbook in pipeline.playbooks().iter() {
            let use_case = &playbook.use_case;
            let now = control.autonomy(use_case).await?;
            let paused = global || pauses.iter().any(|p| p.scope == use_case.name);
            println!(
                "{:<22} {:<11} (playbook: {}){}  owner {}",
                use_case.name,
                now.as_str(),
                use_case.autonomy,
                if paused { "  PAUSED" } else { "" },
                use_case.owner
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let level: Autonomy = level.parse().map_err(anyhow::Error::msg)?;
    let Some(playbook) = pipeline.playbooks().iter().find(|p| p.name() == name) else {
        bail!("no use case named {name}");
    };
    let Some(person) = &args.person else {
        bail!("say who you are with --as NAME (a soc_lead or admin)");
    };
    let person = login_as(&*env.store, person, Permission::SetAutonomy).await?;
    control
        .set_autonomy(
            &playbook.use_case,
            level,
            &format!("person:{}", person.name),
            &args.reason,
        )
        .await?;
    println!("{name} is now {level}");
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn review(
    data_dir: &Path,
    config: Option<&Path>,
    args: ReviewArgs,
) -> anyhow::Result<ExitCode> {
    let verdict: Verdict = match args.verdict.as_str() {
        "malicious" => Verdict::Malicious,
        "suspicious" => Verdict::Suspicious,
        "benign" => Verdict::Benign,
        "false_positive" => Verdict::FalsePositive,
        other => bail!("verdict {other:?} is not malicious, suspicious, benign or false_positive"),
    };
    let Ok(case_id) = CaseId::parse(&args.case) else {
        bail!("{:?} is not a case id", args.case);
    };
    let (env, _) = env::open(data_dir, config).await?;
    let pipeline = env.pipeline(Context::none())?;
    let alerts = env.store.alerts_of_case(case_id).await?;
    if alerts.is_empty() {
        bail!("no case {case_id}");
    }
    let person = login_as(&*env.store, &args.person, Permission::Triage).await?;
    let use_case = pipeline.playbooks().select(&alerts).use_case.clone();
    let stepped = pipeline
        .control()
        .review(case_id, &use_case, &person, verdict)
        .await?;
    println!(
        "recorded {}'s verdict on {case_id}: {}",
        person.name,
        verdict.as_str()
    );
    if let Some(level) = stepped {
        println!(
            "analysts overrode {} too often: it stepped down to {level}",
            use_case.name
        );
    }
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}
