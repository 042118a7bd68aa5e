//! The model's final answer: its JSON Schema, parsing, and the checks that
//! turn it into an [`Assessment`] or a reason to escalate.
//!
//! - Schema: [`output_spec`]. Parsing is strict (unknown fields refused)
//!   and sizes are bounded; a broken answer gets one repair request.
//! - Citations: every evidence id cited must exist.
//! - Claims: facts the model states about entities are compared with the
//!   structured evidence ([`contradictions`]); a claim the evidence does
//!   not bear out is a hallucination, and the case escalates.
//! - Targets: a proposal may target only the case or one of the case's
//!   structured entities (S2); the pipeline and the policy check again.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};
use warden_domain::evidence::EvidenceKind;
use warden_domain::{
    ActionName, ActionProposal, Assessment, CaseId, Evidence, EvidenceId, ObservableKind,
    RationaleItem, Severity, Target, Verdict,
};

use crate::chat::OutputSpec;

/// The name of the final answer's schema (and tool, where a provider has
/// no structured output).
pub const SUBMIT: &str = "submit_assessment";

/// Most rationale items one answer may carry: a few reasons, each citing
/// its evidence, are what a person reads (and a small local model left
/// room for more wrote the same sentence until the cap).
pub const MAX_REASONS: usize = 6;
/// Most claims and actions one answer may carry.
const MAX_ITEMS: usize = 8;
/// Longest text field of an answer, in characters: one or two sentences.
pub const MAX_TEXT: usize = 300;

/// The attributes a claim may state, with the evidence kind and fact that
/// bear each out.
const CLAIM_FACTS: &[(&str, EvidenceKind, &str)] = &[
    ("privileged", EvidenceKind::Identity, "privileged"),
    ("user_type", EvidenceKind::Identity, "user_type"),
    ("mfa", EvidenceKind::Identity, "mfa"),
    ("criticality", EvidenceKind::Asset, "criticality"),
    ("environment", EvidenceKind::Asset, "environment"),
    ("internet_exposed", EvidenceKind::Asset, "internet_exposed"),
    ("intel_verdict", EvidenceKind::Intel, "verdict"),
];

/// The final answer's contract.
pub fn output_spec() -> OutputSpec {
    let ids = json!({"type": "array", "items": {"type": "string", "maxLength": 64}, "minItems": 1, "maxItems": 16});
    let verdicts: Vec<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let actions: Vec<&str> = ActionName::ALL.iter().map(|a| a.as_str()).collect();
    let kinds: Vec<&str> = ObservableKind::ALL.iter().map(|k| k.as_str()).collect();
    let attributes: Vec<&str> = CLAIM_FACTS.iter().map(|(a, _, _)| *a).collect();
    OutputSpec {
        name: SUBMIT.to_owned(),
        description: "Submit the triage assessment of the case: verdict, severity, confidence, rationale citing evidence ids, claims about entities, and proposed actions.".to_owned(),
        schema: json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["verdict", "severity", "confidence", "risk_score", "rationale", "claims", "actions"],
            "properties": {
                "verdict": {"type": "string", "enum": verdicts},
                "severity": {"type": "string", "enum": severities},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "risk_score": {"type": "number", "minimum": 0, "maximum": 100},
                "rationale": {"type": "array", "minItems": 1, "maxItems": MAX_REASONS, "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["factor", "text", "evidence"],
                    "properties": {
                        "factor": {"type": "string", "maxLength": 64},
                        "text": {"type": "string", "maxLength": MAX_TEXT},
                        "evidence": ids,
                    }
                }},
                "claims": {"type": "array", "maxItems": MAX_ITEMS, "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["entity", "attribute", "value", "evidence"],
                    "properties": {
                        "entity": {"type": "string", "maxLength": 512},
                        "attribute": {"type": "string", "enum": attributes},
                        "value": {"type": ["string", "boolean"]},
                        "evidence": {"type": "string", "maxLength": 64},
                    }
                }},
                "actions": {"type": "array", "maxItems": MAX_ITEMS, "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["action", "target", "reason", "evidence"],
                    "properties": {
                        "action": {"type": "string", "enum": actions},
                        "target": {"oneOf": [
                            {"type": "object", "additionalProperties": false, "required": ["case"], "properties": {"case": {"const": true}}},
                            {"type": "object", "additionalProperties": false, "required": ["kind", "value"], "properties": {
                                "kind": {"type": "string", "enum": kinds},
                                "value": {"type": "string", "maxLength": 2048},
                            }},
                        ]},
                        "reason": {"type": "string", "maxLength": MAX_TEXT},
                        "evidence": ids,
                    }
                }},
            }
        }),
    }
}

/// The answer as the model wrote it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub verdict: Verdict,
    pub severity: Severity,
    pub confidence: f64,
    pub risk_score: f64,
    pub rationale: Vec<AnswerReason>,
    #[serde(default)]
    pub claims: Vec<Claim>,
    #[serde(default)]
    pub actions: Vec<AnswerAction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerReason {
    pub factor: String,
    pub text: String,
    pub evidence: Vec<String>,
}

/// A fact the model states about an entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub entity: String,
    pub attribute: String,
    pub value: Value,
    pub evidence: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerAction {
    pub action: ActionName,
    pub target: AnswerTarget,
    pub reason: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum AnswerTarget {
    Entity { kind: ObservableKind, value: String },
    Case { case: bool },
}

/// Parse and validate an answer. The error says what is wrong and where,
/// in words fit to send back to the model for its one repair (it never
/// quotes the rejected value: that text may be an attacker's).
pub fn parse(text: &str, known: &BTreeSet<String>) -> Result<Answer, String> {
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("the answer is not one JSON object: {e}"))?;
    let spec = output_spec();
    let validator = jsonschema::validator_for(&spec.schema)
        .map_err(|e| format!("internal: the answer schema does not compile: {e}"))?;
    if let Some(error) = validator.iter_errors(&value).next() {
        let path = error.instance_path().to_string();
        return Err(format!(
            "the answer does not match the {SUBMIT} schema at {}: {}",
            if path.is_empty() { "/" } else { path.as_str() },
            error.masked_with("the value")
        ));
    }
    let answer: Answer = serde_json::from_value(value)
        .map_err(|e| format!("the answer does not match the {SUBMIT} schema: {e}"))?;
    let cited = answer
        .rationale
        .iter()
        .flat_map(|r| r.evidence.iter())
        .chain(answer.claims.iter().map(|c| &c.evidence))
        .chain(answer.actions.iter().flat_map(|a| a.evidence.iter()));
    let unknown: BTreeSet<&String> = cited.filter(|id| !known.contains(*id)).collect();
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown
            .iter()
            .take(5)
            .map(|id| {
                id.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .take(32)
                    .collect()
            })
            .collect();
        return Err(format!(
            "the answer cites {} evidence id{} that the case does not have ({}); cite only ids from the document or from tool results",
            unknown.len(),
            if unknown.len() == 1 { "" } else { "s" },
            listed.join(", ")
        ));
    }
    Ok(answer)
}

/// Claims the evidence does not bear out: each a reason to escalate.
pub fn contradictions(answer: &Answer, evidence: &[Evidence]) -> Vec<String> {
    let mut found = Vec::new();
    for claim in &answer.claims {
        let Some((_, kind, fact)) = CLAIM_FACTS.iter().find(|(a, _, _)| *a == claim.attribute)
        else {
            continue;
        };
        let entity = claim.entity.trim();
        let records: Vec<&Evidence> = evidence
            .iter()
            .filter(|e| e.kind == *kind)
            .filter(|e| {
                e.subject
                    .as_ref()
                    .is_some_and(|(_, v)| v.eq_ignore_ascii_case(entity))
            })
            .collect();
        let shown = |text: &str| -> String { text.chars().take(80).collect() };
        let Some(record) = records
            .iter()
            .find(|e| e.id.as_str() == claim.evidence)
            .or(records.first())
        else {
            found.push(format!(
                "the model says {} has {} = {}, but no {} record about it exists",
                shown(entity),
                claim.attribute,
                shown(&claim.value.to_string()),
                kind_name(*kind)
            ));
            continue;
        };
        let held = record.facts.get(*fact).cloned().unwrap_or(Value::Null);
        if !same_fact(&held, &claim.value) {
            found.push(format!(
                "the model says {} has {} = {}, but {} says {}",
                shown(entity),
                claim.attribute,
                shown(&claim.value.to_string()),
                record.id,
                shown(&held.to_string())
            ));
        }
    }
    found.extend(privilege_in_text(answer, evidence));
    found
}

/// Rationale that calls an account privileged when its identity record
/// says it is not (the text check behind the structured claims).
fn privilege_in_text(answer: &Answer, evidence: &[Evidence]) -> Vec<String> {
    let unprivileged: Vec<(&str, &EvidenceId)> = evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Identity)
        .filter(|e| e.facts.get("privileged") == Some(&Value::Bool(false)))
        .filter_map(|e| e.subject.as_ref().map(|(_, v)| (v.as_str(), &e.id)))
        .collect();
    let mut found = Vec::new();
    for reason in &answer.rationale {
        let text = reason.text.to_lowercase();
        let says_privileged = [
            "privileged",
            "admin account",
            "administrator account",
            "domain admin",
        ]
        .iter()
        .any(|w| text.contains(w))
            && ![
                "not privileged",
                "non-privileged",
                "unprivileged",
                "not a privileged",
            ]
            .iter()
            .any(|w| text.contains(w));
        if !says_privileged {
            continue;
        }
        for (user, id) in &unprivileged {
            if text.contains(&user.to_lowercase()) {
                found.push(format!(
                    "the rationale ({}) calls {} privileged, but {id} says it is not",
                    reason.factor.chars().take(40).collect::<String>(),
                    user.chars().take(80).collect::<String>()
                ));
            }
        }
    }
    found
}

fn kind_name(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Identity => "identity",
        EvidenceKind::Asset => "asset",
        EvidenceKind::Intel => "intel",
        _ => "evidence",
    }
}

/// Whether a claimed value is the held one (booleans may be written as
/// text, text compares without case).
fn same_fact(held: &Value, claimed: &Value) -> bool {
    match (held, claimed) {
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Bool(a), Value::String(b)) => {
            b.eq_ignore_ascii_case(if *a { "true" } else { "false" })
        }
        (Value::String(a), Value::String(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (Value::String(a), Value::Bool(b)) => {
            a.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        _ => false,
    }
}

/// The answer as an [`Assessment`], with the targets it may not name.
pub fn to_assessment(
    answer: &Answer,
    assessor: &str,
    case_id: CaseId,
    entities: &BTreeSet<(ObservableKind, String)>,
) -> (Assessment, Vec<String>) {
    let mut outside = Vec::new();
    let cite = |ids: &[String]| -> Vec<EvidenceId> {
        ids.iter().map(|id| EvidenceId::from_cited(id)).collect()
    };
    let mut proposals = Vec::new();
    for action in &answer.actions {
        let target = match &action.target {
            AnswerTarget::Case { .. } => Target::case(case_id),
            AnswerTarget::Entity { kind, value } => {
                if !entities.contains(&(*kind, value.clone())) {
                    outside.push(format!(
                        "{} on {kind}:{}, which is not one of the case's entities",
                        action.action,
                        value.chars().take(80).collect::<String>()
                    ));
                    continue;
                }
                Target::Entity {
                    kind: *kind,
                    value: value.clone(),
                }
            }
        };
        let mut parameters = BTreeMap::new();
        if action.action == ActionName::CaseNote {
            parameters.insert("text".to_owned(), action.reason.clone());
        }
        // The same action twice (once per piece of evidence, as models
        // do) is one proposal citing both.
        if let Some(same) = proposals.iter_mut().find(|p: &&mut ActionProposal| {
            p.action == action.action && p.target == target && p.parameters == parameters
        }) {
            for id in cite(&action.evidence) {
                if !same.evidence.contains(&id) {
                    same.evidence.push(id);
                }
            }
            continue;
        }
        proposals.push(ActionProposal {
            case_id,
            action: action.action,
            target,
            parameters,
            proposed_by: assessor.to_owned(),
            evidence: cite(&action.evidence),
        });
    }
    let assessment = Assessment {
        assessor: assessor.to_owned(),
        verdict: answer.verdict,
        severity: answer.severity,
        confidence: answer.confidence,
        risk_score: answer.risk_score,
        rationale: answer
            .rationale
            .iter()
            .map(|r| RationaleItem {
                factor: r.factor.clone(),
                text: r.text.clone(),
                weight: 0.0,
                evidence: cite(&r.evidence),
            })
            .collect(),
        proposed_actions: proposals,
    };
    (assessment, outside)
}
