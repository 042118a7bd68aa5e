//! `warden serve`: the API, the web UI and the workers, until Ctrl-C or
//! SIGTERM; then requests in flight finish, queued alerts are triaged and
//! a last checkpoint is signed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use warden_enrich::Context;

use crate::env;

#[derive(Debug, Parser)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "WARDEN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Context folder for enrichment (assets.csv, identities.csv, ...), as
    /// for `warden triage --context`.
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// Assessor for pushed alerts: `deterministic` (the default), `llm` or
    /// `ensemble` (configured by `[llm]` and `WARDEN_LLM_*`).
    #[arg(long, default_value = "deterministic")]
    pub assessor: String,
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let (env, _) = env::open(data_dir, config).await?;
    let context = match &args.context {
        Some(dir) => Context::load(dir, &env.config.context)
            .with_context(|| format!("cannot use context folder {}", dir.display()))?,
        None => Context::without_folder(&env.config.context),
    };
    for problem in context.problems() {
        eprintln!("warden: warning: {problem} (recorded as an evidence gap)");
    }
    if args.assessor == "chaos" {
        anyhow::bail!(
            "the chaos assessor is a test model: use it with `warden eval`, never in `serve`"
        );
    }
    let assessors = warden_pipeline::assessor_named(&args.assessor, &env.config)
        .map_err(|e| anyhow::anyhow!(e))?;
    let pipeline = Arc::new(env.pipeline(context)?.with_assessors(&assessors));
    pipeline.record_run("serve").await?;
    let (state, queue) = warden_server::AppState::new(
        env.store.clone(),
        pipeline,
        env.audit.clone(),
        env::configured_public_key(data_dir, &env.config.audit)?,
        Arc::new(warden_domain::SystemClock),
    );
    // `[queue] url` / WARDEN_QUEUE_URL: the shared alert stream, connected
    // before anything is accepted, so a wrong URL stops the start.
    let queue_url = std::env::var("WARDEN_QUEUE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .or_else(|| env.config.queue.url.clone());
    if let Some(url) = queue_url {
        if !url.starts_with("nats://") {
            anyhow::bail!(
                "[queue] url {} is not a NATS URL (nats://HOST:PORT); leave it unset for the \
                 in-process queue",
                warden_server::queue::masked(&url)
            );
        }
        let stream = warden_server::queue::AlertStream::connect(&url, &env.config.queue).await?;
        println!(
            "warden: alerts queue on NATS JetStream {} stream {}",
            stream.url(),
            env.config.queue.stream
        );
        state.use_stream(stream);
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let workers = warden_server::workers::spawn(&state, queue);
    // `[intake.syslog]`: bound now, so an address in use stops the start.
    let intake = warden_server::intake::syslog::start(&state, data_dir).await?;
    for listener in intake.iter().flat_map(|i| i.listeners()) {
        println!("warden: syslog on {}", listener.name);
    }
    // What `warden intake status` reads, while running and at the end.
    let status_path = warden_server::intake::status::path_for(data_dir, &address.to_string());
    let listeners: Vec<_> = intake.iter().flat_map(|i| i.listeners()).cloned().collect();
    let (stop_status, status_stopped) = tokio::sync::watch::channel(false);
    let status_writer = tokio::spawn(warden_server::intake::status::keep_writing(
        state.clone(),
        status_path.clone(),
        address.to_string(),
        listeners.clone(),
        status_stopped,
    ));
    // The address goes to standard output so scripts can wait for it.
    println!(
        "warden: serving on http://{address} (data directory {}, store {})",
        data_dir.display(),
        env.store_url.masked()
    );
    warden_server::serve(listener, state.clone(), shutdown_signal())
        .await
        .context("the server stopped with an error")?;
    eprintln!("warden: stopping: finishing queued alerts and signing a checkpoint");
    // The receiver first: its queued messages still reach the triage worker.
    if let Some(intake) = intake {
        intake.shutdown().await;
    }
    workers.shutdown().await;
    let _ = stop_status.send(true);
    let _ = status_writer.await;
    let last =
        warden_server::intake::status::snapshot(&state, &address.to_string(), &listeners, true)
            .await;
    if let Err(err) = warden_server::intake::status::write(&status_path, &last) {
        eprintln!(
            "warden: warning: cannot write {}: {err}",
            status_path.display()
        );
    }
    env.finish().await?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM on Unix (what service managers send).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
