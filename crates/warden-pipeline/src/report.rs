//! A triaged case as people and scripts see it.
//!
//! `to_json` is the `warden triage --json` contract: one object per case with
//! at least `case_id, alerts, verdict, severity, confidence, disposition,
//! escalation_reasons, rationale, proposed_actions`. `card` is the human
//! form. Text that came from outside is escaped before it is shown.

use std::fmt::Write as _;

use serde_json::{Value, json};
use warden_domain::{
    Alert, Assessment, Case, Decision, DecisionOutcome, Evidence, EvidenceGap, Execution,
    Freshness, SourceFormat, Untrusted,
};
use warden_policy::Trigger;

/// Everything triage produced for one case.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// The use case (playbook) the case was triaged under.
    pub use_case: String,
    pub case: Case,
    /// Distinct alerts with their duplicate counts.
    pub alerts: Vec<(Alert, u64)>,
    pub evidence: Vec<Evidence>,
    pub gaps: Vec<EvidenceGap>,
    /// Context sources the deployment never configured, so not consulted,
    /// with why (`stix (not configured)`). Not gaps.
    pub not_consulted: Vec<String>,
    pub assessment: Assessment,
    /// Other assessors' views (an ensemble), compared with `assessment`.
    pub second_opinions: Vec<Assessment>,
    /// One per proposal, in proposal order.
    pub decisions: Vec<Decision>,
    pub triggers: Vec<Trigger>,
    pub executions: Vec<Execution>,
}

fn decision_text(outcome: &DecisionOutcome) -> String {
    match outcome {
        DecisionOutcome::Allow => "allow".into(),
        DecisionOutcome::Deny => "deny".into(),
        DecisionOutcome::NeedsApproval { approvals, roles } => {
            format!("needs_approval ({approvals} of {})", roles.join("|"))
        }
    }
}

impl CaseOutcome {
    /// The `--json` object.
    pub fn to_json(&self) -> Value {
        let alerts: Vec<Value> = self
            .alerts
            .iter()
            .zip(
                self.evidence
                    .iter()
                    .filter(|e| e.id.as_str().starts_with("ev-alert-")),
            )
            .map(|((alert, duplicates), evidence)| {
                json!({
                    "alert_id": alert.id,
                    "evidence_id": evidence.id,
                    "format": alert.format,
                    "product": alert.product,
                    "rule": alert.rule.name,
                    "rule_uid": alert.rule.uid,
                    "title": alert.title,
                    "severity": alert.severity.level,
                    "vendor_severity": alert.severity.original,
                    "time": alert.time.unix_timestamp(),
                    "origin": alert.origin,
                    "raw_sha256": alert.raw_sha256,
                    "duplicates": duplicates,
                    "techniques": alert.attacks.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
                    "attack": alert.attacks,
                })
            })
            .collect();
        let proposed: Vec<Value> = self
            .assessment
            .proposed_actions
            .iter()
            .zip(&self.decisions)
            .map(|(proposal, decision)| {
                let execution = self
                    .executions
                    .iter()
                    .find(|e| e.proposal_hash == decision.proposal_hash);
                let mut item = json!({
                    "action": proposal.action,
                    "target": proposal.target.label(),
                    "parameters": proposal.parameters,
                    "proposal_hash": decision.proposal_hash,
                    "decision": decision.outcome.as_str(),
                    "policy_ids": decision.policy_ids,
                    "decision_reasons": decision.reasons,
                    "evidence": proposal.evidence,
                    "execution": execution.map(|e| json!({
                        "status": e.status.as_str(),
                        "connector": e.connector,
                        "detail": e.detail,
                    })),
                });
                if let (DecisionOutcome::NeedsApproval { approvals, roles }, Some(obj)) =
                    (&decision.outcome, item.as_object_mut())
                {
                    obj.insert("approvals_required".into(), json!(approvals));
                    obj.insert("approver_roles".into(), json!(roles));
                }
                item
            })
            .collect();
        json!({
            "case_id": self.case.id.to_string(),
            "title": self.case.title,
            "use_case": self.use_case,
            "state": self.case.state,
            "alerts": alerts,
            "alert_count": self.case.alert_count,
            "grouping_reasons": self.case.grouping_reasons,
            "verdict": self.assessment.verdict,
            "severity": self.assessment.severity,
            "confidence": self.assessment.confidence,
            "risk_score": self.assessment.risk_score,
            "assessor": self.assessment.assessor,
            "disposition": self.case.disposition,
            "escalation_reasons": self.triggers.iter().map(|t| json!({"code": t.code, "reason": t.reason})).collect::<Vec<_>>(),
            // The `case.auto_close` decision (null when triage did not ask:
            // a trigger fired, an action waits or ran).
            "auto_close": self.case.auto_close.as_ref().map(|d| json!({
                "allowed": d.allowed,
                "policy_ids": d.policy_ids,
                "reasons": d.reasons,
                "policy_version": d.policy_version,
            })),
            "rationale": self.assessment.rationale.iter().map(|r| json!({
                "factor": r.factor,
                "text": r.text,
                "weight": r.weight,
                "evidence": r.evidence,
            })).collect::<Vec<_>>(),
            "evidence": self.evidence.iter().map(|e| json!({
                "id": e.id,
                "kind": e.kind,
                "source": e.source,
                "summary": e.summary,
                "freshness": e.freshness,
            })).collect::<Vec<_>>(),
            "evidence_gaps": self.gaps,
            "not_consulted": self.not_consulted,
            "proposed_actions": proposed,
        })
    }

    /// One line: case id, verdict, severity, disposition, title.
    pub fn summary_line(&self) -> String {
        format!(
            "{} {} {} {} \"{}\"",
            self.case.id,
            self.assessment.verdict,
            self.assessment.severity,
            self.case
                .disposition
                .map(|d| d.as_str())
                .unwrap_or("undecided"),
            self.case.title
        )
    }

    /// A readable card for a terminal.
    pub fn card(&self) -> String {
        let mut out = String::new();
        let a = &self.assessment;
        let disposition = self
            .case
            .disposition
            .map(|d| d.as_str().to_uppercase())
            .unwrap_or_default();
        let _ = writeln!(out, "── {} ──", self.case.id);
        let _ = writeln!(
            out,
            "{}  {} · {} · confidence {:.2} · risk {:.0}/100 · {}",
            self.case.title,
            a.verdict.as_str().to_uppercase(),
            a.severity,
            a.confidence,
            a.risk_score,
            disposition
        );
        let _ = writeln!(out, "use case: {}", self.use_case);
        let _ = writeln!(out, "alerts ({} received):", self.case.alert_count);
        let alert_evidence = self
            .evidence
            .iter()
            .filter(|e| e.id.as_str().starts_with("ev-alert-"));
        for ((alert, duplicates), evidence) in self.alerts.iter().zip(alert_evidence) {
            let repeat = if *duplicates > 0 {
                format!(" ×{}", duplicates + 1)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:<11} {:<8} {}{} [{}] {}",
                evidence.id.as_str(),
                alert.severity.level.as_str(),
                // Rule names are configuration, but a mapped source may
                // point anywhere: escape them like any other payload text.
                Untrusted::new(alert.rule.name.clone()).escaped(140),
                repeat,
                source_label(alert),
                alert.origin
            );
            let _ = writeln!(out, "              \"{}\"", alert.title.escaped(140));
            if !alert.attacks.is_empty() {
                let techniques: Vec<String> = alert
                    .attacks
                    .iter()
                    .map(|a| match &a.name {
                        Some(name) if a.tactics.is_empty() => format!("{} {name}", a.id),
                        Some(name) => format!("{} {name} ({})", a.id, a.tactics.join(", ")),
                        None => a.id.clone(),
                    })
                    .collect();
                let _ = writeln!(out, "              ATT&CK: {}", techniques.join("; "));
            }
        }
        let _ = writeln!(out, "grouped: {}", self.case.grouping_reasons.join("; "));
        if let Some(closure) = self.case.auto_close.as_ref().filter(|d| d.allowed) {
            let _ = writeln!(out, "closed under policy {}", closure.policy_ids.join(", "));
        }
        if self.triggers.is_empty() {
            let _ = writeln!(out, "escalation: none");
        } else {
            let _ = writeln!(out, "escalation:");
            for trigger in &self.triggers {
                let _ = writeln!(out, "  - {}: {}", trigger.code, trigger.reason);
            }
        }
        let _ = writeln!(out, "rationale:");
        for item in &a.rationale {
            let ids: Vec<&str> = item.evidence.iter().map(|e| e.as_str()).collect();
            let _ = writeln!(
                out,
                "  {:+6.1}  {}: {} [{}]",
                item.weight,
                item.factor,
                item.text,
                ids.join(", ")
            );
        }
        let _ = writeln!(out, "evidence:");
        for item in self
            .evidence
            .iter()
            .filter(|e| !e.id.as_str().starts_with("ev-alert-"))
        {
            let stale = match item.freshness {
                Freshness::Fresh => String::new(),
                Freshness::Stale { age_seconds } => {
                    format!(" (STALE, {} days)", age_seconds / 86_400)
                }
            };
            let _ = writeln!(
                out,
                "  {:<11} {}{}  ({})",
                item.id.as_str(),
                item.summary,
                stale,
                item.source
            );
        }
        for gap in &self.gaps {
            let _ = writeln!(out, "  gap         {}", gap.reason);
        }
        if !self.not_consulted.is_empty() {
            let _ = writeln!(out, "  not consulted: {}", self.not_consulted.join(", "));
        }
        let _ = writeln!(out, "proposed actions:");
        for (proposal, decision) in a.proposed_actions.iter().zip(&self.decisions) {
            let execution = self
                .executions
                .iter()
                .find(|e| e.proposal_hash == decision.proposal_hash)
                .map(|e| format!(" -> {}", e.status.as_str()))
                .unwrap_or_default();
            let target = match &proposal.target {
                warden_domain::Target::Case { .. } => "this case".to_owned(),
                other => other.label(),
            };
            let why = if decision.policy_ids.is_empty() {
                decision.reasons.join("; ")
            } else {
                decision.policy_ids.join(", ")
            };
            let _ = writeln!(
                out,
                "  {:<24} {:<26} {:<16} {}{}",
                proposal.action.as_str(),
                target,
                decision_text(&decision.outcome),
                why,
                execution
            );
        }
        out
    }
}

/// `ecs`, `suricata`...; a mapped source by its mapping's product name.
fn source_label(alert: &Alert) -> String {
    match alert.format {
        SourceFormat::Mapped => format!(
            "mapped: {}",
            Untrusted::new(alert.product.clone()).escaped(40)
        ),
        format => format.as_str().to_owned(),
    }
}
