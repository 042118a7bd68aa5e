//! `warden`: triage security alerts with an AI analyst that cannot act
//! beyond the authority its owners set.
//!
//! # Layout
//!
//! - `main.rs`: argument parsing, logging, exit codes.
//! - `env.rs`: the data directory, configuration, store and policy set that
//!   every command shares.
//! - `commands/`: one file per subcommand.
//!
//! Exit codes: 0 success, 1 failure, 2 unreadable input (the contract).

mod auth;
mod commands;
mod env;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Safe AI-assisted triage of security alerts.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, long_about = None)]
struct Cli {
    /// Data directory (created with defaults on first use).
    #[arg(
        long,
        global = true,
        env = "WARDEN_DATA_DIR",
        default_value = "./warden-data"
    )]
    data_dir: PathBuf,

    /// Configuration file [default: DATA_DIR/warden.toml].
    #[arg(long, global = true, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory, configuration and store, and say what was made.
    Init,
    /// Triage alert files or folders once, without a server.
    Triage(commands::triage::Args),
    /// Replay a labelled validation set through the whole pipeline and score it.
    Eval(commands::eval::Args),
    /// Run a stored case again offline from its recorded model calls, and show what changes.
    Replay(commands::replay::Args),
    /// List the action catalogue.
    Actions(commands::actions::Args),
    /// Records ingest could not take: list, show, retry.
    Deadletter(commands::deadletter::Args),
    /// Policies: validate against the schema, run fixtures, explain a case's decisions.
    Policy(commands::policy::Args),
    /// List approval requests, or show one's approval card (--show HASH).
    Approvals(commands::approvals::ListArgs),
    /// Approve a proposal (password on standard input).
    Approve(commands::approvals::ApproveArgs),
    /// Reject a proposal with a reason (password on standard input).
    Reject(commands::approvals::RejectArgs),
    /// Change a proposal's parameters: a new proposal others must approve.
    Modify(commands::approvals::ModifyArgs),
    /// The executor: finish interrupted orders, then run every ready one.
    Execute(commands::approvals::ExecuteArgs),
    /// The kill switch: stop all execution, or one use case's.
    Pause(commands::control::SwitchArgs),
    /// Release the kill switch.
    Resume(commands::control::SwitchArgs),
    /// List use cases with their autonomy, or set one's.
    Autonomy(commands::control::AutonomyArgs),
    /// Record an analyst's verdict on a case (the trust ladder counts overrides).
    Review(commands::control::ReviewArgs),
    /// Local accounts: add (password on standard input), list.
    User(commands::user::Args),
    /// The tamper-evident audit log: verify, prove, checkpoint, export, search.
    Audit(commands::audit::Args),
    /// Run the API, the web UI and the workers (triage, executor, checkpoints).
    Serve(commands::serve::Args),
    /// What `warden serve` takes alerts from: listeners, pull sources, the stream.
    Intake(commands::intake::Args),
    /// Copy the embedded store into PostgreSQL (--to postgres://...), verified on both ends.
    Migrate(commands::migrate::Args),
    /// API tokens for integrations: add (secret printed once), list, revoke.
    Token(commands::token::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("warden: error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init => commands::init::run(&cli.data_dir, cli.config.as_deref()).await,
            Command::Triage(args) => {
                commands::triage::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Eval(args) => {
                commands::eval::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Replay(args) => {
                commands::replay::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Actions(args) => commands::actions::run(&args),
            Command::Intake(args) => commands::intake::run(&cli.data_dir, &args),
            Command::Deadletter(args) => {
                commands::deadletter::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Approvals(args) => {
                commands::approvals::list(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Approve(args) => {
                commands::approvals::approve(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Reject(args) => {
                commands::approvals::reject(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Modify(args) => {
                commands::approvals::modify(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Execute(args) => {
                commands::approvals::execute(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Pause(args) => {
                commands::control::switch(&cli.data_dir, cli.config.as_deref(), args, true).await
            }
            Command::Resume(args) => {
                commands::control::switch(&cli.data_dir, cli.config.as_deref(), args, false).await
            }
            Command::Autonomy(args) => {
                commands::control::autonomy(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Review(args) => {
                commands::control::review(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Audit(args) => {
                commands::audit::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::User(args) => {
                commands::user::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Policy(args) => {
                commands::policy::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Serve(args) => {
                commands::serve::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Token(args) => {
                commands::token::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
            Command::Migrate(args) => {
                commands::migrate::run(&cli.data_dir, cli.config.as_deref(), args).await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("warden: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
