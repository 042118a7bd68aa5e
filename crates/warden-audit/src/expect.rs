//! What each stage must have put on the record (S5), as a check that tests
//! run over a log: [`missing`] lists every obligation a log fails.
//!
//! Per case, in sequence order:
//! - ingest: every alert the case opened over was recorded as ingested
//!   before the case was opened;
//! - correlate: the case was opened before anything else about it;
//! - enrich: the evidence collected is recorded;
//! - assess: each assessment names its assessor and model;
//! - decide: every policy decision names its policy version, and a decision
//!   that let an action through names the policies that did; a case closed
//!   without a person only after an `auto_close_decided` entry that allowed
//!   it, naming the policies that did;
//! - approve: an approval answers a recorded request for that exact
//!   proposal;
//! - execute: an action ran only after a recorded decision that let it
//!   through, and, when people had to approve, after their approval; an
//!   action handed to a connector has an `action_started` entry for its
//!   idempotency key before its `action_executed` entry;
//! - case: triage completed is recorded.
//!
//! Across the log: a run records the configuration, policy and agent it ran
//! with (`run_started`) before its first case.

use std::collections::{BTreeMap, HashSet};

use warden_domain::{AuditEvent, CaseId, CaseState, DecisionOutcome, ExecutionStatus};

use crate::AuditRecord;

/// Every obligation `records` fails, as sentences naming the entry.
pub fn missing(records: &[AuditRecord]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ingested = HashSet::new();
    let mut cases: BTreeMap<CaseId, Vec<&AuditRecord>> = BTreeMap::new();
    let mut run_started = false;
    for record in records {
        match &record.entry.event {
            AuditEvent::RunStarted { .. } => run_started = true,
            AuditEvent::AlertIngested { alert_id, .. } => {
                ingested.insert(*alert_id);
            }
            AuditEvent::CaseOpened {
                case_id, alert_ids, ..
            } => {
                for alert in alert_ids {
                    if !ingested.contains(alert) {
                        problems.push(format!(
                            "entry {}: case {case_id} opened over alert {alert}, \
                             which was not recorded as ingested before",
                            record.seq
                        ));
                    }
                }
            }
            _ => {}
        }
        if let Some(case) = record.entry.event.case_id() {
            if !run_started && cases.is_empty() {
                problems.push(format!(
                    "entry {}: case {case} is recorded before any run_started \
                     (configuration, policy and agent versions)",
                    record.seq
                ));
                run_started = true;
            }
            cases.entry(case).or_default().push(record);
        }
    }
    for (case, entries) in &cases {
        problems.extend(case_obligations(*case, entries));
    }
    problems
}

fn case_obligations(case: CaseId, entries: &[&AuditRecord]) -> Vec<String> {
    let mut problems = Vec::new();
    let first = entries.first().map_or(0, |r| r.seq);
    let opened = entries
        .first()
        .is_some_and(|r| matches!(r.entry.event, AuditEvent::CaseOpened { .. }));
    // Cases opened by earlier runs may be continued (approvals, executions).
    let triaged_here = entries
        .iter()
        .any(|r| matches!(r.entry.event, AuditEvent::CaseOpened { .. }));
    if triaged_here && !opened {
        problems.push(format!(
            "case {case}: entry {first} comes before the case_opened entry"
        ));
    }
    let has = |pred: &dyn Fn(&AuditEvent) -> bool| entries.iter().any(|r| pred(&r.entry.event));
    if triaged_here {
        if !has(&|e| matches!(e, AuditEvent::EvidenceCollected { .. })) {
            problems.push(format!("case {case}: no evidence_collected entry"));
        }
        if !has(&|e| matches!(e, AuditEvent::Assessed { .. })) {
            problems.push(format!("case {case}: no assessed entry"));
        }
        if !has(&|e| matches!(e, AuditEvent::TriageCompleted { .. })) {
            problems.push(format!("case {case}: no triage_completed entry"));
        }
    }
    let mut let_through = HashSet::new();
    let mut requested = HashSet::new();
    let mut approved = HashSet::new();
    let mut started = HashSet::new();
    let mut closure_allowed = false;
    for record in entries {
        let seq = record.seq;
        match &record.entry.event {
            AuditEvent::AutoCloseDecided {
                allowed,
                policy_ids,
                policy_version,
                ..
            } => {
                if policy_version.is_empty() {
                    problems.push(format!("entry {seq}: a decision without a policy version"));
                }
                if *allowed && policy_ids.is_empty() {
                    problems.push(format!(
                        "entry {seq}: a closure without a person names no policy"
                    ));
                }
                closure_allowed = *allowed && !policy_ids.is_empty();
            }
            AuditEvent::CaseStateChanged {
                to: CaseState::AutoClosed,
                ..
            } if !closure_allowed => {
                problems.push(format!(
                    "entry {seq}: case {case} closed without a person with no earlier \
                     auto_close_decided entry allowing it"
                ));
            }
            AuditEvent::Assessed {
                assessor, model, ..
            } if assessor.is_empty() || model.is_empty() => {
                problems.push(format!(
                    "entry {seq}: an assessment without its assessor or model"
                ));
            }
            AuditEvent::PolicyDecided {
                proposal,
                outcome,
                policy_ids,
                policy_version,
                ..
            } => {
                if policy_version.is_empty() {
                    problems.push(format!("entry {seq}: a decision without a policy version"));
                }
                if !matches!(outcome, DecisionOutcome::Deny) {
                    if policy_ids.is_empty() {
                        problems.push(format!(
                            "entry {seq}: a decision that lets {} through names no policy",
                            proposal.action
                        ));
                    }
                    let_through.insert(proposal.proposal_hash.clone());
                }
            }
            AuditEvent::ApprovalEvaluated {
                proposal_hash,
                outcome,
                ..
            } if outcome == "requested" => {
                requested.insert(proposal_hash.clone());
            }
            AuditEvent::ProposalModified { to, .. } => {
                requested.insert(to.proposal_hash.clone());
            }
            AuditEvent::ApprovalRecorded {
                proposal_hash,
                approved: yes,
                ..
            } => {
                if !requested.contains(proposal_hash) {
                    problems.push(format!(
                        "entry {seq}: an answer to {proposal_hash}, which was never requested"
                    ));
                }
                if *yes {
                    approved.insert(proposal_hash.clone());
                }
            }
            AuditEvent::ActionStarted {
                idempotency_key, ..
            } => {
                started.insert(idempotency_key.clone());
            }
            AuditEvent::ActionExecuted {
                proposal_hash,
                idempotency_key,
                status,
                action,
                connector,
                ..
            } if *status != ExecutionStatus::Refused => {
                if connector != "executor" && !started.contains(idempotency_key) {
                    problems.push(format!(
                        "entry {seq}: {action} ran through {connector} with no earlier \
                         action_started entry for key {idempotency_key}"
                    ));
                }
                if !let_through.contains(proposal_hash) {
                    problems.push(format!(
                        "entry {seq}: {action} ran with no earlier decision letting it through"
                    ));
                }
                if requested.contains(proposal_hash) && !approved.contains(proposal_hash) {
                    problems.push(format!(
                        "entry {seq}: {action} ran before any recorded approval"
                    ));
                }
            }
            _ => {}
        }
    }
    problems
}
