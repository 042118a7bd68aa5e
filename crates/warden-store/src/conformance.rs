//! Behaviour every [`Store`] backend must show. Each backend's tests call
//! [`run_all`] on a fresh store, so SQLite and (later) PostgreSQL are held to
//! the same contract.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};
use warden_domain::{
    Alert, AlertId, Case, CaseId, CaseState, Disposition, Evidence, EvidenceGap, EvidenceId,
    Freshness, Observable, ObservableKind, Provenance, RuleRef, Severity, SourceFormat, Untrusted,
    VendorSeverity, Verdict, evidence::EvidenceKind, observable::dedup_observables,
};

use crate::{
    CaseNote, Claim, DeadLetter, GLOBAL_SCOPE, MAX_RELATED_ENTITIES, NewAuditRow, RelatedCase,
    Store, StoreError,
};

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
    related_cases_share_structured_entities(store).await?;
    control_plane(store).await?;
    Ok(())
}

/// Approval requests move by compare-and-set, one answer per person
/// survives, autonomy overrides and reviews round-trip, unfinished claims
/// are listed, accounts are unique by lower-case name.
async fn control_plane(store: &dyn Store) -> Result<(), ConformanceFailure> {
    use warden_domain::{
        ActionName, ActionProposal, Approval, ApprovalCard, ApprovalRequest, Autonomy, Decision,
        DecisionOutcome, RequestStatus, Review, Target,
    };
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let case = Case::open("control".into(), vec![], 1, vec![], Severity::High, now);
    store.insert_case(&case, &[]).await?;
    let proposal = ActionProposal {
        case_id: case.id,
        action: ActionName::EdrIsolateHost,
        target: Target::Entity {
            kind: ObservableKind::Host,
            value: "ws-1".into(),
        },
        parameters: BTreeMap::new(),
        proposed_by: "deterministic".into(),
        evidence: vec![],
    };
    let hash = proposal.hash();
    let decision = Decision {
        proposal_hash: hash.clone(),
        action: proposal.action,
        target: proposal.target.clone(),
        outcome: DecisionOutcome::NeedsApproval {
            approvals: 1,
            roles: vec!["soc_lead".into()],
        },
        policy_ids: vec!["p".into()],
        reasons: vec![],
        policy_version: "v".into(),
    };
    let request = ApprovalRequest {
        proposal: proposal.clone(),
        proposal_hash: hash.clone(),
        decision,
        use_case: "endpoint-malware".into(),
        requester: "agent:endpoint-malware".into(),
        card: ApprovalCard {
            title: "t".into(),
            use_case: "endpoint-malware".into(),
            verdict: Verdict::Malicious,
            severity: Severity::High,
            confidence: 0.9,
            rationale: vec![],
            evidence: vec![],
            side_effects: "s".into(),
            parameters: vec![],
            rollback: "r".into(),
            approvals_required: 1,
            roles: vec!["soc_lead".into()],
            policy_ids: vec!["p".into()],
        },
        status: RequestStatus::Pending,
        created_at: now,
        expires_at: now + Duration::hours(4),
        supersedes: None,
    };
    ensure!(
        store.save_approval_request(&request).await?,
        "request saved",
        "first save refused"
    );
    ensure!(
        !store.save_approval_request(&request).await?,
        "request unique",
        "second save accepted"
    );
    let pending = store
        .approval_requests(Some(RequestStatus::Pending), None)
        .await?;
    ensure!(
        pending == vec![request.clone()],
        "pending list",
        "got {pending:?}"
    );
    let approval = Approval {
        proposal_hash: hash.clone(),
        approver: "Alice".into(),
        role: "soc_lead".into(),
        approved: true,
        reason: None,
        decided_at: now,
        expires_at: now + Duration::hours(1),
    };
    ensure!(store.add_approval(&approval).await?, "approval", "refused");
    let mut again = approval.clone();
    again.approver = "alice".into();
    again.approved = false;
    ensure!(
        !store.add_approval(&again).await?,
        "one answer per person",
        "a second answer by the same person was kept"
    );
    ensure!(
        store.approvals_of(&hash).await? == vec![approval],
        "approvals round trip",
        "differs"
    );
    ensure!(
        store
            .set_request_status(&hash, RequestStatus::Pending, RequestStatus::Ready, now)
            .await?,
        "status cas",
        "pending -> ready refused"
    );
    ensure!(
        !store
            .set_request_status(&hash, RequestStatus::Pending, RequestStatus::Rejected, now)
            .await?,
        "status cas",
        "a stale from-status was accepted"
    );
    let loaded = store.approval_request(&hash).await?;
    ensure!(
        loaded.map(|r| r.status) == Some(RequestStatus::Ready),
        "status in body",
        "status not updated"
    );

    ensure!(
        store.autonomy_override("endpoint-malware").await?.is_none(),
        "no override",
        "override before any was set"
    );
    store
        .set_autonomy(
            "endpoint-malware",
            Autonomy::Draft,
            "ladder",
            "overrides",
            now,
        )
        .await?;
    ensure!(
        store.autonomy_override("endpoint-malware").await? == Some(Autonomy::Draft),
        "override",
        "not stored"
    );
    for (n, analyst_verdict) in [Verdict::Benign, Verdict::Malicious]
        .into_iter()
        .enumerate()
    {
        store
            .add_review(&Review {
                case_id: case.id,
                use_case: "endpoint-malware".into(),
                analyst: format!("analyst-{n}"),
                agent_verdict: Verdict::Malicious,
                analyst_verdict,
                reviewed_at: now,
                override_reason: None,
                override_text: None,
            })
            .await?;
    }
    let reviews = store.reviews("endpoint-malware", 10).await?;
    ensure!(
        reviews.len() == 2 && reviews.first().map(|r| r.analyst.as_str()) == Some("analyst-1"),
        "reviews newest first",
        "got {reviews:?}"
    );

    store
        .claim_execution(case.id, "key-unfinished", &hash, now)
        .await?;
    let unfinished = store.unfinished_executions().await?;
    ensure!(
        unfinished
            .iter()
            .any(|u| u.idempotency_key == "key-unfinished"),
        "unfinished claims",
        "got {unfinished:?}"
    );

    let person = crate::Person {
        name: "Bob".into(),
        roles: vec!["analyst".into()],
        password_hash: "$argon2id$x".into(),
        created_at: now,
    };
    ensure!(store.add_person(&person).await?, "person", "refused");
    ensure!(
        !store.add_person(&person).await?,
        "person unique",
        "added twice"
    );
    let loaded = store.person("BOB").await?;
    ensure!(
        loaded.map(|p| p.roles) == Some(vec!["analyst".to_owned()]),
        "person lookup is case-insensitive",
        "not found"
    );
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
        alerts == vec![alert.clone()],
        "alerts of case",
        "got {} alerts",
        alerts.len()
    );
    // A redelivered alert is recognised by its id; a new one is not.
    let unseen = sample_alert("ws-1", now).id;
    let stored = store.stored_alert_ids(&[unseen, alert.id]).await?;
    ensure!(
        stored == vec![alert.id],
        "stored alert ids",
        "got {stored:?}"
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
    let start = store.audit_size().await?;
    let row = |n: u64| NewAuditRow {
        at: now,
        actor: "test".into(),
        stage: "ingest".into(),
        kind: "alert_ingested".into(),
        case_id: None,
        entry: format!("{{\"n\":{n}}}"),
        leaf_hash: format!("{n:064x}"),
    };
    let mut seqs = Vec::new();
    let mut last = None;
    for n in 0..3 {
        let append = store.append_audit(&[row(n)]).await?;
        seqs.push(append.first_seq);
        last = Some(append);
    }
    let batch = store.append_audit(&[row(3), row(4)]).await?;
    seqs.push(batch.first_seq);
    ensure!(
        seqs.windows(2).all(|w| w.first() < w.last()),
        "audit order",
        "seqs {seqs:?}"
    );
    ensure!(
        last.map(|a| a.size) == Some(start + 3) && batch.size == start + 5,
        "audit size after append",
        "batch {batch:?}"
    );
    ensure!(
        store.audit_size().await? == start + 5,
        "audit size",
        "got {}",
        store.audit_size().await?
    );
    let rows = store.audit_rows(None).await?;
    ensure!(
        rows.len() as u64 == start + 5,
        "audit count",
        "got {}",
        rows.len()
    );
    ensure!(
        rows.iter().rev().take(2).map(|r| r.seq).collect::<Vec<_>>()
            == vec![batch.first_seq + 1, batch.first_seq],
        "audit read order",
        "rows out of order"
    );

    let bulk = store.audit_entries(start, 1000).await?;
    ensure!(
        bulk.iter()
            .map(|r| (r.seq, r.leaf_hash.clone(), r.entry.clone()))
            .collect::<Vec<_>>()
            == rows
                .iter()
                .skip(start as usize)
                .map(|r| (r.seq, r.leaf_hash.clone(), r.entry.clone()))
                .collect::<Vec<_>>(),
        "audit entries in bulk",
        "{bulk:?}"
    );
    ensure!(
        store.audit_entries(batch.size, 10).await?.is_empty()
            && store.audit_entries(start + 1, 2).await?.len() == 2,
        "audit entries paging",
        "after the end or limited"
    );

    // The tree the store keeps is the one an independent rebuild gives.
    let leaves: Vec<crate::merkle::Hash> = rows
        .iter()
        .map(|r| {
            let mut bytes = [0_u8; 32];
            // A malformed hash leaves zeros, and the root comparison fails.
            let _ = hex::decode_to_slice(&r.leaf_hash, &mut bytes);
            crate::merkle::Hash(bytes)
        })
        .collect();
    let rebuilt =
        crate::merkle::extend(0, &[], &leaves).map_err(|e| ConformanceFailure::Check {
            check: "audit tree rebuild",
            detail: e,
        })?;
    ensure!(
        rebuilt.root == batch.root,
        "audit tree root",
        "store {:?}, rebuilt {:?}",
        batch.root,
        rebuilt.root
    );
    let stored = store.audit_tree().await?;
    ensure!(
        stored == rebuilt.hashes,
        "audit tree hashes",
        "{} stored, {} rebuilt",
        stored.len(),
        rebuilt.hashes.len()
    );
    let edge = crate::merkle::frontier(batch.size);
    ensure!(
        store.audit_tree_hashes(&edge).await?.len() == edge.len(),
        "audit tree hashes by index",
        "edge {edge:?}"
    );
    ensure!(
        store.audit_tree_hashes(&[u64::MAX >> 2]).await.is_err(),
        "missing tree hash",
        "a hash never stored was returned"
    );

    let checkpoint = crate::StoredCheckpoint {
        size: batch.size,
        root: "root".into(),
        note: "note".into(),
        at: now,
    };
    ensure!(
        store.add_checkpoint(&checkpoint).await?,
        "checkpoint kept",
        "first checkpoint refused"
    );
    ensure!(
        !store.add_checkpoint(&checkpoint).await?,
        "checkpoint once per size",
        "second checkpoint for the same size accepted"
    );
    ensure!(
        store.checkpoints().await?.last() == Some(&checkpoint),
        "checkpoints read back",
        "{:?}",
        store.checkpoints().await?
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

/// How an entity is seen in a test alert.
#[derive(Clone, Copy)]
enum Seen {
    /// In a structured field of the payload.
    Field,
    /// Only by pattern inside the alert's free text.
    Text,
}

/// An alert of `rule` at `at` carrying `entities` (raw values, normalised
/// here as ingest would).
fn entity_alert(
    rule: &str,
    at: OffsetDateTime,
    entities: &[(ObservableKind, &str, Seen)],
) -> Alert {
    let observables = entities.iter().filter_map(|&(kind, raw, seen)| {
        let provenance = match seen {
            Seen::Field => Provenance::Field {
                path: format!("{kind}.field"),
            },
            Seen::Text => Provenance::Text {
                field: "message".into(),
            },
        };
        Observable::parse(kind, raw, provenance).ok()
    });
    let mut alert = sample_alert("placeholder", at);
    alert.rule = RuleRef {
        uid: None,
        name: rule.into(),
    };
    alert.observables = dedup_observables(observables);
    alert
}

/// Store a case over `alerts`, created at `at`, with the given outcome.
async fn store_case(
    store: &dyn Store,
    at: OffsetDateTime,
    alerts: Vec<Alert>,
    outcome: Option<(CaseState, Verdict, Disposition)>,
) -> Result<Case, ConformanceFailure> {
    let title = alerts
        .first()
        .map_or_else(String::new, |a| a.rule.name.clone());
    let mut case = Case::open(
        title,
        alerts.iter().map(|a| a.id).collect(),
        alerts.len() as u64,
        vec![],
        Severity::Medium,
        at,
    );
    if let Some((state, verdict, disposition)) = outcome {
        case.state = state;
        case.verdict = Some(verdict);
        case.disposition = Some(disposition);
    }
    let with_counts: Vec<(Alert, u64)> = alerts.into_iter().map(|a| (a, 0)).collect();
    store.insert_case(&case, &with_counts).await?;
    Ok(case)
}

fn ids(related: &[RelatedCase]) -> Vec<CaseId> {
    related.iter().map(|r| r.case.id).collect()
}

fn entity(kind: ObservableKind, value: &str) -> (ObservableKind, String) {
    (kind, value.to_owned())
}

async fn related_cases_share_structured_entities(
    store: &dyn Store,
) -> Result<(), ConformanceFailure> {
    use ObservableKind::{Host, Ip, User};
    use Seen::{Field, Text};

    // A whole second, then fractions: RFC 3339 text writes fractional
    // seconds only when non-zero, so "newest first" must not compare text.
    let base = OffsetDateTime::UNIX_EPOCH + Duration::days(19_800);
    let host = "rel-host-1";
    let user = "rel-alice";

    // Oldest: two alerts on the host, two rules, the user too.
    let first = store_case(
        store,
        base,
        vec![
            entity_alert("Rule B", base, &[(Host, host, Field), (User, user, Field)]),
            entity_alert("Rule A", base, &[(Host, host, Field)]),
            entity_alert("Rule B", base, &[(Host, host, Field)]),
        ],
        Some((CaseState::Closed, Verdict::Benign, Disposition::AutoClosed)),
    )
    .await?;
    // The user on another host; escalated as malicious and still open.
    let second = store_case(
        store,
        base + Duration::milliseconds(250),
        vec![entity_alert(
            "Rule C",
            base,
            &[(Host, "rel-host-2", Field), (User, "REL-Alice", Field)],
        )],
        Some((
            CaseState::Escalated,
            Verdict::Malicious,
            Disposition::Escalated,
        )),
    )
    .await?;
    // The host again, spelled as another product writes it.
    let third = store_case(
        store,
        base + Duration::milliseconds(1_500),
        vec![entity_alert(
            "Rule D",
            base,
            &[(Host, "REL-HOST-1.", Field)],
        )],
        None,
    )
    .await?;
    // An IP seen only in alert text, and one seen in a field.
    let text_only = store_case(
        store,
        base + Duration::seconds(3),
        vec![entity_alert(
            "Rule E",
            base,
            &[
                (Host, "rel-host-3", Field),
                (Ip, "203.0.113.77", Text),
                (Ip, "198.51.100.9", Text),
            ],
        )],
        None,
    )
    .await?;
    let structured_ip = store_case(
        store,
        base + Duration::seconds(4),
        vec![entity_alert("Rule F", base, &[(Ip, "203.0.113.77", Field)])],
        None,
    )
    .await?;

    let by_host = store.related_cases(&[entity(Host, host)], None, 10).await?;
    ensure!(
        ids(&by_host) == vec![third.id, first.id],
        "related by host, newest first",
        "got {:?}",
        ids(&by_host)
    );
    ensure!(
        by_host.iter().all(|r| r.shared == vec![entity(Host, host)]),
        "shared host",
        "got {:?}",
        by_host.iter().map(|r| &r.shared).collect::<Vec<_>>()
    );

    let by_user = store.related_cases(&[entity(User, user)], None, 10).await?;
    ensure!(
        ids(&by_user) == vec![second.id, first.id],
        "related by user, newest first",
        "got {:?}",
        ids(&by_user)
    );

    let both = store
        .related_cases(&[entity(User, user), entity(Host, host)], None, 10)
        .await?;
    ensure!(
        ids(&both) == vec![third.id, second.id, first.id],
        "related by host or user, newest first",
        "got {:?}",
        ids(&both)
    );
    let oldest = both.last();
    ensure!(
        oldest.map(|r| r.shared.clone()) == Some(vec![entity(Host, host), entity(User, user)]),
        "every shared entity listed, sorted",
        "got {oldest:?}"
    );
    ensure!(
        oldest.map(|r| r.rules.clone()) == Some(vec!["Rule A".to_owned(), "Rule B".to_owned()]),
        "distinct rules, sorted",
        "got {:?}",
        oldest.map(|r| &r.rules)
    );
    ensure!(
        oldest.map(|r| &r.case) == Some(&first),
        "stored case returned whole",
        "got {:?}",
        oldest.map(|r| &r.case)
    );

    let escalated = both.iter().find(|r| r.case.id == second.id);
    ensure!(
        escalated.is_some_and(|r| r.was_escalated() && r.is_open() && r.is_active_incident()),
        "open escalated threat is an active incident",
        "got {escalated:?}"
    );
    ensure!(
        oldest.is_some_and(|r| !r.was_escalated() && !r.is_open() && !r.is_active_incident()),
        "auto-closed benign case is history only",
        "got {oldest:?}"
    );
    let untriaged = both.first();
    ensure!(
        untriaged.is_some_and(|r| !r.was_escalated() && r.is_open() && !r.is_active_incident()),
        "a case in triage is open without a verdict",
        "got {untriaged:?}"
    );

    let none = store
        .related_cases(
            &[entity(Host, "rel-host-unseen"), entity(User, host)],
            None,
            10,
        )
        .await?;
    ensure!(
        none.is_empty(),
        "no shared entity (kind and value must both match)",
        "got {:?}",
        ids(&none)
    );

    let excluded = store
        .related_cases(&[entity(Host, host)], Some(third.id), 10)
        .await?;
    ensure!(
        ids(&excluded) == vec![first.id],
        "exclude",
        "got {:?}",
        ids(&excluded)
    );

    let limited = store
        .related_cases(&[entity(User, user), entity(Host, host)], None, 2)
        .await?;
    ensure!(
        ids(&limited) == vec![third.id, second.id],
        "limit keeps the newest",
        "got {:?}",
        ids(&limited)
    );
    let zero = store.related_cases(&[entity(Host, host)], None, 0).await?;
    ensure!(zero.is_empty(), "limit 0", "got {:?}", ids(&zero));
    let empty = store.related_cases(&[], None, 10).await?;
    ensure!(empty.is_empty(), "no entities", "got {:?}", ids(&empty));

    // INVARIANT (S2): an entity seen only in alert text relates nothing.
    let by_ip = store
        .related_cases(&[entity(Ip, "203.0.113.77")], None, 10)
        .await?;
    ensure!(
        ids(&by_ip) == vec![structured_ip.id],
        "text-only entity does not relate",
        "got {:?}, text-only case {}",
        ids(&by_ip),
        text_only.id
    );
    let text_ip = store
        .related_cases(&[entity(Ip, "198.51.100.9")], None, 10)
        .await?;
    ensure!(
        text_ip.is_empty(),
        "text-only entity is not indexed",
        "got {:?}",
        ids(&text_ip)
    );

    // Long lists are looked up whole up to the cap, after sorting by kind
    // and value: hosts sort before users, so enough hosts push the user out.
    let mut long: Vec<(ObservableKind, String)> = (0..MAX_RELATED_ENTITIES)
        .map(|n| entity(Host, &format!("zz-filler-{n:04}")))
        .collect();
    long.push(entity(Host, host));
    long.push(entity(Host, host));
    let found = store.related_cases(&long, None, 10).await?;
    ensure!(
        ids(&found) == vec![third.id, first.id],
        "long entity list",
        "got {:?}",
        ids(&found)
    );
    let mut past_cap: Vec<(ObservableKind, String)> = (0..MAX_RELATED_ENTITIES)
        .map(|n| entity(Host, &format!("aa-filler-{n:04}")))
        .collect();
    past_cap.push(entity(User, user));
    let cut = store.related_cases(&past_cap, None, 10).await?;
    ensure!(
        cut.is_empty(),
        "entities past the cap are ignored",
        "got {:?}",
        ids(&cut)
    );
    Ok(())
}
