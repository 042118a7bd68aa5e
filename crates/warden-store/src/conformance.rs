//! Behaviour every [`Store`] backend must show. Each backend's tests call
//! [`run_all`] on a fresh store, so SQLite and (later) PostgreSQL are held to
//! the same contract.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use warden_domain::{
    Alert, AlertId, Case, CaseState, Evidence, EvidenceGap, EvidenceId, Freshness, Observable,
    ObservableKind, Provenance, RuleRef, Severity, SourceFormat, Untrusted, VendorSeverity,
    evidence::EvidenceKind,
};

use crate::{CaseNote, Claim, DeadLetter, GLOBAL_SCOPE, NewAuditRow, Store, StoreError};

/// A failed conformance check: which one, and what was seen.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceFailure {
    #[error("{check}: {detail}")]
    Check { check: &'static str, detail: String },
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

macro_rules! ensure {
    ($cond:expr, $check:literal, $($detail:tt)*) => {
        if !$cond {
            return Err(ConformanceFailure::Check { check: $check, detail: format!($($detail)*) });
        }
    };
}

/// A small alert for store tests.
pub fn sample_alert(host: &str, at: OffsetDateTime) -> Alert {
    let observables = Observable::parse(
        ObservableKind::Host,
        host,
        Provenance::Field {
            path: "host.name".into(),
        },
    )
    .into_iter()
    .collect();
    Alert {
        id: AlertId::new(),
        format: SourceFormat::Ecs,
        class_uid: 2004,
        product: "test".into(),
        vendor_id: None,
        time: at,
        rule: RuleRef {
            uid: Some("rule-1".into()),
            name: "Test rule".into(),
        },
        title: Untrusted::new("title"),
        description: Untrusted::new("description"),
        severity: VendorSeverity {
            level: Severity::High,
            original: "high".into(),
        },
        observables,
        attacks: vec![],
        origin: "test.json".into(),
        raw_sha256: "00".repeat(32),
        raw: serde_json::json!({"k": "v"}),
    }
}

/// Run every check on `store`, which must be empty.
pub async fn run_all(store: &dyn Store) -> Result<(), ConformanceFailure> {
    case_round_trip_and_compare_and_set(store).await?;
    execution_claims_are_exclusive(store).await?;
    audit_appends_are_ordered(store).await?;
    dead_letters_and_kill_switch(store).await?;
    Ok(())
}

async fn case_round_trip_and_compare_and_set(store: &dyn Store) -> Result<(), ConformanceFailure> {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let alert = sample_alert("ws-1", now);
    let mut case = Case::open(
        "Test rule".into(),
        vec![alert.id],
        3,
        vec!["duplicate".into()],
        Severity::High,
        now,
    );
    store.insert_case(&case, &[(alert.clone(), 2)]).await?;
    let loaded = store.case(case.id).await?;
    ensure!(
        loaded.as_ref() == Some(&case),
        "case round trip",
        "got {loaded:?}"
    );
    let alerts = store.alerts_of_case(case.id).await?;
    ensure!(
        alerts == vec![alert],
        "alerts of case",
        "got {} alerts",
        alerts.len()
    );

    let before = case.state;
    case.transition(CaseState::Enriched, now)
        .map_err(|e| ConformanceFailure::Check {
            check: "transition",
            detail: e.to_string(),
        })?;
    store.update_case(&case, before).await?;
    // A second writer still expecting `new` must be refused.
    let stale = store.update_case(&case, CaseState::New).await;
    ensure!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "compare-and-set",
        "stale update was {stale:?}"
    );

    let evidence = Evidence {
        id: EvidenceId::enrichment(1),
        kind: EvidenceKind::Asset,
        source: "context/assets.csv".into(),
        subject: Some((ObservableKind::Host, "ws-1".into())),
        summary: "asset".into(),
        facts: serde_json::json!({"criticality": "tier_2"}),
        collected_at: now,
        freshness: Freshness::Fresh,
    };
    let gap = EvidenceGap {
        source: "context/intel.csv".into(),
        reason: "missing".into(),
    };
    store
        .save_evidence(case.id, std::slice::from_ref(&evidence), &[gap])
        .await?;
    let loaded = store.evidence_of_case(case.id).await?;
    ensure!(
        loaded == vec![evidence],
        "evidence round trip",
        "got {loaded:?}"
    );

    store
        .add_note(
            case.id,
            &CaseNote {
                author: "tester".into(),
                text: "hello".into(),
                created_at: now,
            },
        )
        .await?;
    let notes = store.notes_of_case(case.id).await?;
    ensure!(notes.len() == 1, "notes", "got {} notes", notes.len());
    let listed = store.cases(10).await?;
    ensure!(
        listed.iter().any(|c| c.id == case.id),
        "list cases",
        "case missing from list"
    );
    Ok(())
}

async fn execution_claims_are_exclusive(store: &dyn Store) -> Result<(), ConformanceFailure> {
    let now = OffsetDateTime::now_utc();
    let case = Case::open("c".into(), vec![], 0, vec![], Severity::Low, now);
    store.insert_case(&case, &[]).await?;
    let proposal = warden_domain::ActionProposal {
        case_id: case.id,
        action: warden_domain::ActionName::CaseNote,
        target: warden_domain::Target::case(case.id),
        parameters: BTreeMap::new(),
        proposed_by: "test".into(),
        evidence: vec![],
    };
    let hash = proposal.hash();
    let first = store.claim_execution(case.id, "key-1", &hash, now).await?;
    let second = store.claim_execution(case.id, "key-1", &hash, now).await?;
    ensure!(first == Claim::Claimed, "first claim", "got {first:?}");
    ensure!(
        second == Claim::AlreadyClaimed,
        "second claim",
        "got {second:?}"
    );
    let execution = warden_domain::Execution {
        proposal_hash: hash,
        idempotency_key: "key-1".into(),
        action: proposal.action,
        target: proposal.target,
        connector: "test".into(),
        status: warden_domain::ExecutionStatus::Succeeded,
        detail: "done".into(),
        rollback: None,
        at: now,
    };
    store.finish_execution(case.id, &execution).await?;
    let again = store.finish_execution(case.id, &execution).await;
    ensure!(
        again.is_err(),
        "finish twice",
        "a finished execution was finished again"
    );
    let executions = store.executions_of_case(case.id).await?;
    ensure!(
        executions == vec![execution],
        "executions of case",
        "got {executions:?}"
    );
    Ok(())
}

async fn audit_appends_are_ordered(store: &dyn Store) -> Result<(), ConformanceFailure> {
    let now = OffsetDateTime::now_utc();
    let start = store.audit_rows(None).await?.len();
    let mut seqs = Vec::new();
    for n in 0..3 {
        let row = NewAuditRow {
            at: now,
            actor: "test".into(),
            stage: "ingest".into(),
            kind: "alert_ingested".into(),
            case_id: None,
            entry: format!("{{\"n\":{n}}}"),
            leaf_hash: format!("{n:064}"),
        };
        seqs.push(store.append_audit(&row).await?);
    }
    ensure!(
        seqs.windows(2).all(|w| w.first() < w.last()),
        "audit order",
        "seqs {seqs:?}"
    );
    let rows = store.audit_rows(None).await?;
    ensure!(rows.len() == start + 3, "audit count", "got {}", rows.len());
    ensure!(
        rows.iter().rev().take(3).map(|r| r.seq).collect::<Vec<_>>()
            == seqs.iter().rev().copied().collect::<Vec<_>>(),
        "audit read order",
        "rows out of order"
    );
    Ok(())
}

async fn dead_letters_and_kill_switch(store: &dyn Store) -> Result<(), ConformanceFailure> {
    let now = OffsetDateTime::now_utc();
    let letter = DeadLetter {
        id: "dl-1".into(),
        origin: "bad.json".into(),
        reason: "not JSON".into(),
        payload: vec![0xff, 0xfe],
        sha256: "ab".repeat(32),
        received_at: now.replace_nanosecond(0).unwrap_or(now),
        resolved_at: None,
        resolution: None,
    };
    store.add_dead_letter(&letter).await?;
    let letters = store.dead_letters().await?;
    ensure!(letters.contains(&letter), "dead letters", "got {letters:?}");
    let at = now.replace_nanosecond(0).unwrap_or(now);
    ensure!(
        store.resolve_dead_letter("dl-1", "ingested", at).await?,
        "resolve",
        "not resolved"
    );
    ensure!(
        !store.resolve_dead_letter("dl-1", "again", at).await?,
        "resolve twice",
        "resolved twice"
    );
    let resolved = store.dead_letter("dl-1").await?;
    ensure!(
        resolved.as_ref().and_then(|l| l.resolution.as_deref()) == Some("ingested")
            && resolved.as_ref().and_then(|l| l.resolved_at) == Some(at),
        "resolution kept",
        "got {resolved:?}"
    );
    ensure!(
        store.dead_letter("dl-none").await?.is_none(),
        "missing letter",
        "found one"
    );

    ensure!(
        !store.is_paused("phishing").await?,
        "not paused",
        "paused from the start"
    );
    store.pause("phishing", "lead", "drill", now).await?;
    ensure!(
        store.is_paused("phishing").await?,
        "use-case pause",
        "not paused"
    );
    ensure!(
        !store.is_paused("malware").await?,
        "pause scope",
        "other use case paused"
    );
    store.pause(GLOBAL_SCOPE, "lead", "drill", now).await?;
    ensure!(
        store.is_paused("malware").await?,
        "global pause",
        "not paused"
    );
    store.resume(GLOBAL_SCOPE).await?;
    store.resume("phishing").await?;
    ensure!(
        !store.is_paused("phishing").await?,
        "resume",
        "still paused"
    );
    Ok(())
}
