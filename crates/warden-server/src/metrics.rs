//! Prometheus metrics at `/metrics`.
//!
//! Counters and histograms are recorded as work happens in this process
//! (alerts received, triage time, decisions, escalations, approvals,
//! closures, unsafe proposals, LLM tokens); gauges that describe the store
//! (cases by state and disposition, pending approvals, analyst override
//! rate) are read from it at scrape time, so they are right after a
//! restart too. Names follow Prometheus conventions (`warden_..._total`,
//! `_seconds`).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use time::OffsetDateTime;
use warden_domain::{ApprovalRequest, DecisionOutcome, RequestStatus, Verdict};
use warden_pipeline::CaseOutcome;

use crate::AppState;
use crate::error::ApiError;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process-wide recorder (once; later calls do nothing).
pub fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                900.0, 3600.0, 14400.0, 86400.0,
            ])
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test harness): then
        // this one only renders what it was handed, which is nothing.
        metrics::set_global_recorder(recorder).ok()?;
        describe();
        Some(handle)
    });
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("warden_alerts_ingested_total", "Alerts accepted for triage");
    describe_counter!(
        "warden_alerts_rejected_total",
        "Records refused at ingest (dead-lettered)"
    );
    describe_counter!(
        "warden_pushes_refused_total",
        "Pushes refused with 429, by reason (rate_limited, queue_full)"
    );
    describe_counter!(
        "warden_triage_failures_total",
        "Cases whose triage failed (escalated with the error, or dead-lettered)"
    );
    describe_counter!(
        "warden_stream_failures_total",
        "Pulls from the shared alert stream that failed (NATS away)"
    );
    describe_counter!(
        "warden_alerts_redelivered_total",
        "Alerts the stream delivered again after their case committed"
    );
    describe_counter!(
        "warden_cases_triaged_total",
        "Cases triaged, by disposition and use case"
    );
    describe_histogram!(
        "warden_triage_seconds",
        Unit::Seconds,
        "Time from receipt to triage verdict"
    );
    describe_counter!(
        "warden_escalations_total",
        "Escalation triggers fired, by reason"
    );
    describe_counter!(
        "warden_policy_decisions_total",
        "Policy decisions, by outcome"
    );
    describe_counter!(
        "warden_unsafe_proposals_total",
        "Proposals the policy denied"
    );
    describe_histogram!(
        "warden_approval_latency_seconds",
        Unit::Seconds,
        "Time from approval request to a person's answer"
    );
    describe_counter!(
        "warden_approvals_total",
        "Answers to approval requests, by outcome"
    );
    describe_counter!(
        "warden_cases_closed_total",
        "Cases closed by a person, by verdict"
    );
    describe_counter!(
        "warden_llm_tokens_total",
        "Tokens sent to and received from language models"
    );
    describe_gauge!("warden_cases", "Cases in the store, by state");
    describe_gauge!(
        "warden_cases_by_disposition",
        "Cases in the store, by triage disposition"
    );
    describe_gauge!(
        "warden_approvals_pending",
        "Approval requests waiting for people"
    );
    describe_gauge!(
        "warden_analyst_override_rate",
        "Share of reviewed cases where the analyst overrode the agent, by use case"
    );
    describe_gauge!("warden_kill_switches", "Kill switches pulled");
    describe_counter!(
        "warden_syslog_received_total",
        "Syslog messages read, by listener"
    );
    describe_counter!(
        "warden_syslog_parsed_total",
        "Syslog messages that became alerts, by listener"
    );
    describe_counter!(
        "warden_syslog_dead_lettered_total",
        "Syslog messages dead-lettered with their reason, by listener"
    );
    describe_counter!(
        "warden_syslog_dropped_total",
        "UDP syslog messages dropped because the intake queue was full, by listener"
    );
    describe_counter!(
        "warden_syslog_oversized_total",
        "Syslog messages over max_message_bytes (also dead-lettered), by listener"
    );
}

pub fn alerts_received(accepted: usize, rejected: usize) {
    counter!("warden_alerts_ingested_total").increment(accepted as u64);
    counter!("warden_alerts_rejected_total").increment(rejected as u64);
}

/// A push refused before ingest (`rate_limited`, `queue_full`).
pub fn push_refused(reason: &'static str) {
    counter!("warden_pushes_refused_total", "reason" => reason).increment(1);
}

/// A pull from the shared alert stream failed (NATS away or restarting).
pub fn stream_failure() {
    counter!("warden_stream_failures_total").increment(1);
}

/// An alert came again from the stream after its case committed, and was
/// acknowledged without a second case.
pub fn alert_redelivered() {
    counter!("warden_alerts_redelivered_total").increment(1);
}

/// A case whose triage failed (escalated, or its alerts dead-lettered).
pub fn triage_failed() {
    counter!("warden_triage_failures_total").increment(1);
}

/// A case finished triage `seconds` after its alerts arrived.
pub fn case_triaged(outcome: &CaseOutcome, seconds: f64) {
    let disposition = outcome
        .case
        .disposition
        .map_or("none", |d| d.as_str())
        .to_owned();
    counter!(
        "warden_cases_triaged_total",
        "disposition" => disposition,
        "use_case" => outcome.use_case.clone()
    )
    .increment(1);
    histogram!("warden_triage_seconds", "use_case" => outcome.use_case.clone()).record(seconds);
    for trigger in &outcome.triggers {
        counter!("warden_escalations_total", "reason" => trigger.code).increment(1);
    }
    for decision in &outcome.decisions {
        let label = match decision.outcome {
            DecisionOutcome::Allow => "allow",
            DecisionOutcome::NeedsApproval { .. } => "needs_approval",
            DecisionOutcome::Deny => "deny",
        };
        counter!("warden_policy_decisions_total", "outcome" => label).increment(1);
        if label == "deny" {
            counter!("warden_unsafe_proposals_total", "action" => decision.action.as_str())
                .increment(1);
        }
    }
}

pub fn approval_answered(request: &ApprovalRequest, now: OffsetDateTime, approved: bool) {
    let waited = (now - request.created_at).as_seconds_f64().max(0.0);
    histogram!("warden_approval_latency_seconds", "use_case" => request.use_case.clone())
        .record(waited);
    counter!(
        "warden_approvals_total",
        "outcome" => if approved { "approved" } else { "rejected" }
    )
    .increment(1);
}

pub fn case_closed(verdict: Verdict) {
    counter!("warden_cases_closed_total", "verdict" => verdict.as_str()).increment(1);
}

/// Gauges read from the store.
async fn refresh(state: &AppState) -> Result<(), ApiError> {
    let store = state.store();
    let cases = store.cases(u32::MAX).await?;
    let mut by_state = std::collections::BTreeMap::<&str, f64>::new();
    let mut by_disposition = std::collections::BTreeMap::<&str, f64>::new();
    for case in &cases {
        *by_state.entry(case.state.as_str()).or_default() += 1.0;
        if let Some(d) = case.disposition {
            *by_disposition.entry(d.as_str()).or_default() += 1.0;
        }
    }
    for state_name in warden_domain::CaseState::ALL.map(|s| s.as_str()) {
        gauge!("warden_cases", "state" => state_name)
            .set(by_state.get(state_name).copied().unwrap_or(0.0));
    }
    for (disposition, n) in by_disposition {
        gauge!("warden_cases_by_disposition", "disposition" => disposition).set(n);
    }
    let pending = store
        .approval_requests(Some(RequestStatus::Pending), None)
        .await?
        .len();
    gauge!("warden_approvals_pending").set(pending as f64);
    for playbook in state.pipeline().playbooks().iter() {
        let name = &playbook.use_case.name;
        let reviews = store
            .reviews(name, playbook.use_case.trust.window.max(1))
            .await?;
        if !reviews.is_empty() {
            let overrides = reviews.iter().filter(|r| r.is_override()).count();
            gauge!("warden_analyst_override_rate", "use_case" => name.clone())
                .set(overrides as f64 / reviews.len() as f64);
        }
    }
    gauge!("warden_kill_switches").set(store.pauses().await?.len() as f64);
    // The pipeline counts the tokens its LLM assessors used (0 without one).
    counter!("warden_llm_tokens_total").absolute(state.pipeline().llm_tokens());
    Ok(())
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    refresh(&state).await?;
    let text = HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
