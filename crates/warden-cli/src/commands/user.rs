//! `warden user add NAME --role ROLE` (password on standard input) and
//! `warden user list`.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::env;

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; its password is read from standard input.
    Add {
        name: String,
        /// viewer, analyst, soc_lead, incident_commander or admin; repeatable.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List accounts and their roles.
    List,
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    match args.command {
        UserCommand::Add { name, roles } => {
            let password = crate::auth::read_password()?;
            let pipeline = env.pipeline(warden_enrich::Context::none())?;
            let person = pipeline
                .control()
                .add_person(&name, &roles, &password, "local:cli")
                .await?;
            env.finish().await?;
            println!("added {} ({})", person.name, person.roles.join(", "));
        }
        UserCommand::List => {
            for person in env.store.people().await? {
                println!("{:<24} {}", person.name, person.roles.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
