//! The work `warden serve` does besides answering requests:
//!
//! - triage: alerts pushed over HTTP, in arrival order, through the whole
//!   pipeline (fed by the shared alert stream when `[queue] url` names one:
//!   see [`crate::queue`]);
//! - the executor: finishes orders interrupted by a crash once at start,
//!   then expires overdue requests and runs ready orders every
//!   `[server] executor_interval_seconds` (with all its own checks);
//! - checkpoints: signs one over new audit entries every
//!   `[server] checkpoint_interval_seconds`, and a last one at shutdown;
//! - expired sessions are removed hourly.
//!
//! [`Workers::shutdown`] stops taking new work, finishes the alerts already
//! queued, and signs the final checkpoint.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{AppState, TriageQueue};

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    state: AppState,
}

/// Start every worker.
pub fn spawn(state: &AppState, queue: TriageQueue) -> Workers {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(triage(state.clone(), queue, stopped.clone()));
    if let Some(stream) = state.stream().cloned() {
        tasks.spawn(crate::queue::feed(state.clone(), stream, stopped.clone()));
    }
    tasks.spawn(executor(state.clone(), stopped.clone()));
    tasks.spawn(checkpoints(state.clone(), stopped.clone()));
    tasks.spawn(sessions(state.clone(), stopped));
    Workers {
        stop,
        tasks,
        state: state.clone(),
    }
}

impl Workers {
    /// Stop: the periodic workers end, the triage worker ends once every
    /// queued alert is triaged (stop the HTTP server first, so that no
    /// more arrive), and a last checkpoint is signed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Err(err) = self.state.audit().checkpoint().await {
            tracing::error!(error = %err, "cannot sign the final checkpoint");
        }
    }
}

async fn triage(
    state: AppState,
    TriageQueue(mut queue): TriageQueue,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            biased;
            Some(batch) = queue.recv() => triage_batch(&state, batch).await,
            _ = stopped.changed() => {
                // The HTTP server has stopped: finish what was accepted.
                while let Ok(batch) = queue.try_recv() {
                    triage_batch(&state, batch).await;
                }
                break;
            }
        }
    }
}

async fn triage_batch(state: &AppState, batch: crate::Batch) {
    let count = batch.alerts.len();
    let crate::Batch {
        alerts,
        received,
        queued,
        delivery,
    } = batch;
    // Each case on its own: one that fails is escalated with the error (or
    // its alerts dead-lettered), and the rest of the batch goes on.
    let triaged = state.pipeline().triage_alerts_each(alerts).await;
    // Off the stream only now: every case committed or its failure was
    // escalated or dead-lettered. Alerts whose outcome could not be
    // recorded at all (nor their receipt) are delivered again.
    if let Some(delivery) = delivery {
        let unrecorded: Vec<warden_domain::AlertId> = match &triaged {
            Ok(results) => results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .filter(|f| matches!(f.handled, warden_pipeline::FailureHandling::NotRecorded(_)))
                .flat_map(|f| f.alert_ids.iter().copied())
                .collect(),
            Err(_) => Vec::new(),
        };
        let receipt_failed = triaged.is_err();
        delivery
            .settle(|alert| receipt_failed || unrecorded.contains(alert))
            .await;
    }
    match triaged {
        Ok(results) => {
            let seconds = received.elapsed().as_secs_f64();
            let mut cases = 0;
            for result in &results {
                match result {
                    Ok(outcome) => {
                        cases += 1;
                        crate::metrics::case_triaged(outcome, seconds);
                    }
                    Err(failure) => {
                        crate::metrics::triage_failed();
                        tracing::error!(
                            case = %failure.case_id,
                            alerts = failure.alert_ids.len(),
                            error = %failure.error,
                            handled = ?failure.handled,
                            "triage of a case failed"
                        );
                    }
                }
            }
            tracing::info!(
                alerts = count,
                cases,
                failed = results.len() - cases,
                "triaged pushed alerts"
            );
        }
        // Recording the alerts' receipt failed: nothing of theirs was
        // triaged; the error goes to the operator's log.
        Err(err) => tracing::error!(error = %err, alerts = count, "triage failed"),
    }
    // The batch's bytes leave the queue only now.
    drop(queued);
}

async fn executor(state: AppState, mut stopped: watch::Receiver<bool>) {
    let pipeline = state.pipeline().clone();
    match pipeline.executor().recover().await {
        Ok(done) if !done.is_empty() => {
            tracing::info!(orders = done.len(), "finished interrupted orders");
        }
        Ok(_) => {}
        Err(err) => tracing::error!(error = %err, "recovering interrupted orders failed"),
    }
    let every = Duration::from_secs(u64::from(state.config().executor_interval_seconds.max(1)));
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(err) = pipeline.control().expire_due().await {
            tracing::error!(error = %err, "expiring requests failed");
        }
        match pipeline.executor().run_ready().await {
            Ok(done) => {
                for execution in &done {
                    tracing::info!(
                        action = %execution.action,
                        status = execution.status.as_str(),
                        "order run"
                    );
                }
            }
            Err(err) => tracing::error!(error = %err, "running ready orders failed"),
        }
    }
}

async fn checkpoints(state: AppState, mut stopped: watch::Receiver<bool>) {
    let every = Duration::from_secs(u64::from(state.config().checkpoint_interval_seconds.max(1)));
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(err) = state.audit().checkpoint().await {
            tracing::error!(error = %err, "cannot sign a checkpoint");
        }
    }
}

async fn sessions(state: AppState, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
        if let Err(err) = state.store().delete_expired_sessions(state.now()).await {
            tracing::error!(error = %err, "cannot remove expired sessions");
        }
    }
}
