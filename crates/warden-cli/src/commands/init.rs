//! `warden init`: create the data directory explicitly and say what was made.

use std::path::Path;
use std::process::ExitCode;

use crate::env;

pub async fn run(data_dir: &Path, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (env, created) = env::open(data_dir, config).await?;
    if created.paths.is_empty() {
        println!(
            "{} already initialised; nothing to create",
            env.data_dir.display()
        );
    } else {
        for path in &created.paths {
            println!("created {}", path.display());
        }
    }
    println!(
        "policy set {} ({} polic{}: {})",
        env.policy
            .version()
            .get(..12)
            .unwrap_or(env.policy.version()),
        env.policy.policy_ids().len(),
        if env.policy.policy_ids().len() == 1 {
            "y"
        } else {
            "ies"
        },
        env.policy.policy_ids().join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
