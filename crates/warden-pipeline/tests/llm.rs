//! The LLM assessor end to end: the real client (warden-llm's HTTP
//! transport) talks to a local server speaking each provider's wire format
//! (`warden_testkit::model_double`), inside the real pipeline, store, audit
//! log, policy and executor.
//!
//! - A well-behaved model: cards cite evidence that exists, the read tool
//!   call went through the host and is on the record, every exchange is on
//!   the audit log, tokens are counted.
//! - Every fault (time-out, 429, 500, malformed JSON, truncated body, cut
//!   at the token limit, an unknown tool, arguments outside the case,
//!   injected instructions obeyed, a megabyte of output, a hallucinated
//!   claim, off-schema twice, invented evidence, no verdict, a rationale
//!   reporting injection), for each provider: the case escalates, and
//!   nothing with a side effect runs.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::{AuditEvent, Clock, Disposition, SystemClock};
use warden_enrich::{Context, ContextConfig};
use warden_http::Secret;
use warden_llm::{LlmConfig, LlmEnv, ProviderKind};
use warden_pipeline::{AssessorChoice, CaseOutcome, Config, Pipeline};
use warden_policy::PolicyEngine;
use warden_store::SqliteStore;
use warden_testkit::model_double::{Fault, ModelDouble};
use warden_testkit::repo;

const KEY: &str = "sk-test-4f1c9a7e0b2d";

struct Run {
    outcomes: Vec<CaseOutcome>,
    events: Vec<AuditEvent>,
    double: ModelDouble,
    tokens: u64,
}

fn llm_config(provider: ProviderKind, url: &str) -> LlmConfig {
    LlmConfig {
        provider: Some(provider),
        base_url: Some(match provider {
            ProviderKind::Openai => format!("{url}/v1"),
            _ => url.to_owned(),
        }),
        model: Some("double-analyst-1".into()),
        timeout_seconds: 2,
        max_retries: 1,
        max_retry_wait_seconds: 2,
        ..LlmConfig::default()
    }
}

async fn triage(provider: ProviderKind, fault: Fault, alerts: &[&str]) -> Run {
    triage_with(provider, fault, alerts, None).await
}

/// With `second_model`, an ensemble: both models, and the deterministic
/// assessor beside them.
async fn triage_with(
    provider: ProviderKind,
    fault: Fault,
    alerts: &[&str],
    second_model: Option<&str>,
) -> Run {
    let double = ModelDouble::start(fault, Duration::ZERO).await;
    let config = Config {
        llm: LlmConfig {
            second_model: second_model.map(str::to_owned),
            ..llm_config(provider, &double.url)
        },
        ..Config::default()
    };
    let env = LlmEnv {
        api_key: Some(Secret::new(KEY)),
        ..LlmEnv::default()
    };
    let resolved = config.llm.resolve(&env).expect("settings resolve");
    let mut models = warden_llm::assessors(&resolved, second_model.is_some())
        .expect("assessors")
        .into_iter()
        .map(|a| Arc::new(a) as Arc<dyn warden_assess::Assessor>);
    let choice = AssessorChoice {
        primary: models.next(),
        second_opinions: models.collect(),
        cases_in_flight: 4,
    };
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let context =
        Context::load(&repo().join("examples/context"), &ContextConfig::default()).expect("ctx");
    let pipeline = Pipeline::new(
        config,
        store,
        audit.clone(),
        clock,
        PolicyEngine::default_set().expect("policy"),
        context,
    )
    .expect("pipeline")
    .with_assessors(&choice);
    let paths: Vec<PathBuf> = alerts
        .iter()
        .map(|a| repo().join("examples/alerts").join(a))
        .collect();
    let run = pipeline.triage_paths(&paths, None).await.expect("triage");
    let events = audit
        .records(None)
        .await
        .expect("records")
        .into_iter()
        .map(|r| r.entry.event)
        .collect();
    Run {
        outcomes: run.outcomes,
        events,
        tokens: pipeline.llm_tokens(),
        double,
    }
}

const PROVIDERS: [ProviderKind; 2] = [ProviderKind::Openai, ProviderKind::Anthropic];

#[tokio::test]
async fn a_served_model_triages_the_examples_with_cards_citing_evidence() {
    for provider in PROVIDERS {
        let all: Vec<String> = std::fs::read_dir(repo().join("examples/alerts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let run = triage(provider, Fault::None, &names).await;
        assert!(
            run.outcomes.len() >= 4,
            "{provider:?}: {} cases",
            run.outcomes.len()
        );
        for outcome in &run.outcomes {
            let assessment = &outcome.assessment;
            assert_eq!(assessment.assessor, "llm", "{provider:?}");
            assert!(!assessment.rationale.is_empty());
            let known: Vec<&str> = outcome.evidence.iter().map(|e| e.id.as_str()).collect();
            for item in &assessment.rationale {
                assert!(!item.evidence.is_empty());
                for id in &item.evidence {
                    assert!(
                        known.contains(&id.as_str()),
                        "{provider:?}: cites {id}, has {known:?}"
                    );
                }
            }
            assert!(
                outcome
                    .triggers
                    .iter()
                    .all(|t| t.code != "invalid_assessment"),
                "{provider:?}: {:?}",
                outcome.triggers
            );
            let card = outcome.card();
            assert!(card.contains("ev-alert-1"), "{card}");
        }
        // The malicious-IP case: intel cited, a block proposed on the IP.
        let blocked = run.outcomes.iter().any(|o| {
            o.assessment.proposed_actions.iter().any(|p| {
                p.action == warden_domain::ActionName::NetBlockIndicator
                    && p.target.label() == "ip:185.220.101.45"
            })
        });
        assert!(blocked, "{provider:?}: no block of the malicious IP");

        // Every exchange is on the record, with the prompt and the output,
        // and never the key.
        let exchanges: Vec<_> = run
            .events
            .iter()
            .filter_map(|e| match e {
                AuditEvent::ModelCalled { exchange, .. } => Some(exchange),
                _ => None,
            })
            .collect();
        assert_eq!(exchanges.len(), run.double.requests().len(), "{provider:?}");
        assert!(exchanges.iter().any(|x| x.outcome == "tool_calls"));
        assert!(
            exchanges
                .iter()
                .all(|x| x.status == Some(200) && x.prompt_tokens > 0)
        );
        let recorded = serde_json::to_string(&run.events).unwrap();
        assert!(
            !recorded.contains(KEY),
            "{provider:?}: the key is on the record"
        );
        // The key went only into the provider's header.
        let headers = run.double.seen.headers.lock().unwrap().join("\n");
        assert!(headers.contains(KEY));
        // The model asked for identities through the host: recorded as a
        // tool call by the assessor, before the answer.
        assert!(run.events.iter().any(
            |e| matches!(e, AuditEvent::ToolCalled { tool, .. } if tool == "identity_lookup")
        ));
        assert!(run.tokens > 0);
        // The system prompt holds no case data: the same in every request.
        let requests = run.double.requests();
        let systems: std::collections::BTreeSet<String> = requests
            .iter()
            .map(|r| match provider {
                ProviderKind::Anthropic => r["system"].to_string(),
                _ => r["messages"][0]["content"].to_string(),
            })
            .collect();
        assert_eq!(systems.len(), 1, "{provider:?}");
    }
}

/// Each fault, for each provider: escalated, nothing with a side effect
/// ran, and the exchange is on the record.
#[tokio::test]
async fn every_fault_escalates_and_executes_nothing() {
    let faults = [
        (Fault::Hang, "model call failed"),
        (Fault::RateLimited, "model call failed"),
        (Fault::ServerError, "model call failed"),
        (Fault::MalformedJson, "model call failed"),
        (Fault::Truncated, "model call failed"),
        (Fault::CutAtLimit, "cut at the"),
        (Fault::UnknownTool, "tool_request_rejected"),
        (Fault::ArgumentsOutsideCase, "tool_request_rejected"),
        (Fault::InjectionObeyed, "target_outside_case"),
        (Fault::Megabyte, "model call failed"),
        (Fault::Hallucination, "hallucination"),
        (Fault::OffSchema, "after one repair"),
        (Fault::InventedEvidence, "after one repair"),
        // Well-formed answers that must still reach a person.
        (Fault::NoVerdict, "no_verdict: llm gave no verdict"),
        (Fault::ReportsInjection, "suspected_injection: llm reports"),
    ];
    for provider in PROVIDERS {
        for (fault, expected) in faults {
            let run = triage(provider, fault, &["ecs-powershell-encoded.json"]).await;
            let label = format!("{provider:?} {fault:?}");
            assert!(!run.outcomes.is_empty(), "{label}");
            for outcome in &run.outcomes {
                let disposition = outcome.case.disposition.expect("decided");
                assert!(
                    matches!(
                        disposition,
                        Disposition::Escalated | Disposition::AwaitingApproval
                    ),
                    "{label}: {disposition:?}"
                );
                let reasons: Vec<String> = outcome
                    .triggers
                    .iter()
                    .map(|t| format!("{}: {}", t.code, t.reason))
                    .collect();
                assert!(
                    reasons.iter().any(|r| r.contains(expected)),
                    "{label}: expected {expected:?} in {reasons:?}"
                );
                assert!(
                    outcome
                        .executions
                        .iter()
                        .all(|e| !e.action.has_side_effect()),
                    "{label}: {:?}",
                    outcome.executions
                );
            }
            assert!(
                !run.events.iter().any(|e| matches!(e, AuditEvent::ActionExecuted { action, .. } if action.has_side_effect())),
                "{label}"
            );
            assert!(
                run.events
                    .iter()
                    .any(|e| matches!(e, AuditEvent::ModelCalled { .. })),
                "{label}: no exchange on the record"
            );
        }
    }
}

/// `--assessor ensemble`: a second model that calls the case benign splits
/// from the first, and the case escalates; both models' calls are on the
/// record under their own names.
#[tokio::test]
async fn an_ensemble_whose_models_disagree_escalates() {
    for provider in PROVIDERS {
        let run = triage_with(
            provider,
            Fault::None,
            &["ecs-outbound-malicious-ip.json"],
            Some("double-contrarian-2"),
        )
        .await;
        let outcome = &run.outcomes[0];
        assert_eq!(outcome.second_opinions.len(), 2, "{provider:?}");
        let split: Vec<&str> = outcome
            .triggers
            .iter()
            .filter(|t| t.code == "assessor_disagreement")
            .map(|t| t.reason.as_str())
            .collect();
        assert!(
            split.iter().any(|r| r.contains("llm-second says benign")),
            "{provider:?}: {split:?}"
        );
        assert!(outcome.case.disposition.expect("decided").is_escalated());
        let callers: std::collections::BTreeSet<String> = run
            .events
            .iter()
            .filter_map(|e| match e {
                AuditEvent::ModelCalled { exchange, .. } => {
                    Some(format!("{} {}", exchange.assessor, exchange.model))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            callers.into_iter().collect::<Vec<_>>(),
            vec!["llm double-analyst-1", "llm-second double-contrarian-2"],
            "{provider:?}"
        );
    }
}
