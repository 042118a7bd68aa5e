//! `warden token add NAME --scope SCOPE...`, `list` and `revoke NAME`: API
//! tokens for integrations (alert sources, metrics scrapers). The secret
//! is printed once and only its SHA-256 is kept.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::env;

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (once).
    Add {
        /// Unique name, usually the source it is for (`splunk-prod`).
        name: String,
        /// alerts:write, read or metrics:read; repeatable.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke { name: String },
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    let now = time::OffsetDateTime::now_utc();
    match args.command {
        TokenCommand::Add { name, scopes } => {
            let (secret, token) = warden_server::auth::token::create(
                &*env.store,
                &*env.audit,
                &name,
                &scopes,
                "local:cli",
                now,
            )
            .await?;
            eprintln!(
                "created token {} ({}); it is shown once, keep it in a secret store:",
                token.name,
                token.scopes.join(", ")
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            for token in env.store.api_tokens().await? {
                println!(
                    "{:<24} {:<32} created {} by {}{}",
                    token.name,
                    token.scopes.join(","),
                    token.created_at.date(),
                    token.created_by,
                    token
                        .revoked_at
                        .map(|at| format!(", revoked {}", at.date()))
                        .unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { name } => {
            let revoked = warden_server::auth::token::revoke(
                &*env.store,
                &*env.audit,
                &name,
                "local:cli",
                now,
            )
            .await?;
            if !revoked {
                anyhow::bail!("no live token named {name}");
            }
            println!("revoked {name}");
        }
    }
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}
