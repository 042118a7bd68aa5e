//! The case queue (`/cases`) and a case's full record (`/cases/{id}`),
//! with the forms analysts use on a case: a note, and closing it with
//! their verdict.

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_domain::{
    Alert, Assessment, CaseState, Decision, DecisionOutcome, Evidence, Execution, Freshness,
    Provenance, Severity, Verdict,
};

use super::{Choice, Nav, done, flash, given, page, person_of, render, segment};
use crate::AppState;
use crate::api::{self, views};
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::guard::Access;
use crate::routes::Route;

pub fn routes() -> Vec<Route> {
    let r = Route::new;
    vec![
        r(
            Method::GET,
            "/cases",
            Access::Needs(Permission::ReadCases),
            "The case queue (page)",
            get(queue),
        ),
        r(
            Method::GET,
            "/cases/{id}",
            Access::Needs(Permission::ReadCases),
            "A case (page)",
            get(detail),
        ),
        r(
            Method::POST,
            "/cases/{id}/notes",
            Access::Needs(Permission::Triage),
            "Add a note to a case (form)",
            post(add_note),
        ),
        r(
            Method::POST,
            "/cases/{id}/close",
            Access::Needs(Permission::Triage),
            "Close a case with a verdict and a note (form)",
            post(close),
        ),
    ]
}

// ---- the queue ----

#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    state: Option<String>,
    severity: Option<String>,
    use_case: Option<String>,
}

/// One count of the queue, with the link that filters on it.
#[derive(Debug)]
struct Count {
    name: String,
    count: usize,
    href: String,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct QueuePage {
    nav: Option<Nav>,
    list: views::CaseList,
    states: Vec<Choice>,
    severities: Vec<Choice>,
    use_cases: Vec<Choice>,
    by_state: Vec<Count>,
    by_severity: Vec<Count>,
    by_use_case: Vec<Count>,
    filtered: bool,
}

fn counts(map: &std::collections::BTreeMap<String, usize>, key: &str) -> Vec<Count> {
    map.iter()
        .map(|(name, count)| Count {
            name: name.clone(),
            count: *count,
            href: format!("/cases?{key}={}", segment(name)),
        })
        .collect()
}

async fn queue(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<QueueQuery>,
) -> Response {
    let filter = views::CaseFilter {
        state: given(query.state),
        severity: given(query.severity),
        use_case: given(query.use_case),
        limit: Some(views::QUEUE_WINDOW),
    };
    let result = async {
        let list = views::case_list(&state, &filter).await?;
        let names: Vec<String> = state
            .pipeline()
            .playbooks()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        Ok(render(&QueuePage {
            nav: Some(Nav::of(&principal, "cases")),
            states: Choice::list(
                CaseState::ALL.iter().map(|s| s.as_str()),
                filter.state.as_deref(),
            ),
            severities: Choice::list(
                Severity::ALL.iter().map(|s| s.as_str()),
                filter.severity.as_deref(),
            ),
            use_cases: Choice::list(names.iter().map(String::as_str), filter.use_case.as_deref()),
            by_state: counts(&list.by_state, "state"),
            by_severity: counts(&list.by_severity, "severity"),
            by_use_case: counts(&list.by_use_case, "use_case"),
            filtered: filter.state.is_some()
                || filter.severity.is_some()
                || filter.use_case.is_some(),
            list,
        }))
    }
    .await;
    page(result, &principal)
}

// ---- one case ----

#[derive(Debug)]
struct ObservableView {
    kind: String,
    value: String,
    /// Where it was found: field paths, or `text in FIELD`.
    found: String,
    structured: bool,
}

#[derive(Debug)]
struct AlertView {
    id: String,
    rule: String,
    rule_uid: String,
    format: String,
    product: String,
    origin: String,
    time: String,
    severity: String,
    title: String,
    description: String,
    observables: Vec<ObservableView>,
    attacks: Vec<String>,
    /// The payload as received, pretty-printed (shown as text).
    raw: String,
}

impl AlertView {
    fn of(alert: &Alert) -> Self {
        Self {
            id: alert.id.to_string(),
            rule: alert.rule.name.clone(),
            rule_uid: alert.rule.uid.clone().unwrap_or_default(),
            format: alert.format.to_string(),
            product: alert.product.clone(),
            origin: alert.origin.clone(),
            time: views::rfc3339(alert.time),
            severity: format!(
                "{} (vendor: {})",
                alert.severity.level, alert.severity.original
            ),
            title: alert.title.as_untrusted_str().to_owned(),
            description: alert.description.as_untrusted_str().to_owned(),
            observables: alert
                .observables
                .iter()
                .map(|o| ObservableView {
                    kind: o.kind.to_string(),
                    value: o.value.clone(),
                    found: o
                        .provenance
                        .iter()
                        .map(|p| match p {
                            Provenance::Field { path } => path.clone(),
                            Provenance::Text { field } => format!("text in {field}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    structured: o.is_structured(),
                })
                .collect(),
            attacks: alert
                .attacks
                .iter()
                .map(|a| match &a.name {
                    Some(name) => format!("{} {name}", a.id),
                    None => a.id.clone(),
                })
                .collect(),
            raw: serde_json::to_string_pretty(&alert.raw).unwrap_or_default(),
        }
    }
}

/// An element id for an evidence item (`ev-...`): letters, digits and
/// dashes only, whatever the id holds.
pub(super) fn anchor(id: &str) -> String {
    let bare = id.strip_prefix("ev-").unwrap_or(id);
    let clean: String = bare
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("ev-{clean}")
}

pub(super) fn freshness(freshness: &Freshness) -> String {
    match freshness {
        Freshness::Fresh => "fresh".to_owned(),
        Freshness::Stale { age_seconds } => format!("stale ({age_seconds} s old)"),
    }
}

#[derive(Debug)]
struct EvidenceView {
    id: String,
    anchor: String,
    kind: String,
    source: String,
    subject: String,
    summary: String,
    freshness: String,
    stale: bool,
    collected_at: String,
    facts: String,
}

impl EvidenceView {
    fn of(evidence: &Evidence) -> Self {
        Self {
            id: evidence.id.to_string(),
            anchor: anchor(evidence.id.as_str()),
            kind: serde_json::to_value(evidence.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            source: evidence.source.clone(),
            subject: evidence
                .subject
                .as_ref()
                .map(|(kind, value)| format!("{kind}:{value}"))
                .unwrap_or_default(),
            summary: evidence.summary.clone(),
            freshness: freshness(&evidence.freshness),
            stale: matches!(evidence.freshness, Freshness::Stale { .. }),
            collected_at: views::rfc3339(evidence.collected_at),
            facts: serde_json::to_string_pretty(&evidence.facts).unwrap_or_default(),
        }
    }
}

#[derive(Debug)]
struct Cite {
    id: String,
    anchor: String,
}

#[derive(Debug)]
struct ReasonView {
    factor: String,
    text: String,
    weight: String,
    cites: Vec<Cite>,
}

#[derive(Debug)]
struct ProposalView {
    action: String,
    target: String,
    parameters: String,
}

#[derive(Debug)]
struct AssessmentView {
    assessor: String,
    verdict: String,
    severity: String,
    confidence: String,
    risk: String,
    rationale: Vec<ReasonView>,
    proposals: Vec<ProposalView>,
}

impl AssessmentView {
    fn of(assessment: &Assessment) -> Self {
        Self {
            assessor: assessment.assessor.clone(),
            verdict: assessment.verdict.to_string(),
            severity: assessment.severity.to_string(),
            confidence: format!("{:.2}", assessment.confidence),
            risk: format!("{:.0}", assessment.risk_score),
            rationale: assessment
                .rationale
                .iter()
                .map(|item| ReasonView {
                    factor: item.factor.clone(),
                    text: item.text.clone(),
                    weight: format!("{:+.1}", item.weight),
                    cites: item
                        .evidence
                        .iter()
                        .map(|id| Cite {
                            id: id.to_string(),
                            anchor: anchor(id.as_str()),
                        })
                        .collect(),
                })
                .collect(),
            proposals: assessment
                .proposed_actions
                .iter()
                .map(|p| ProposalView {
                    action: p.action.to_string(),
                    target: p.target.label(),
                    parameters: p
                        .parameters
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
        }
    }
}

/// `needs_approval (2 of incident_commander, soc_lead)`.
pub(super) fn outcome_text(outcome: &DecisionOutcome) -> String {
    match outcome {
        DecisionOutcome::NeedsApproval { approvals, roles } => {
            format!("needs_approval ({approvals} of {})", roles.join(", "))
        }
        other => other.as_str().to_owned(),
    }
}

#[derive(Debug)]
struct DecisionView {
    action: String,
    target: String,
    outcome: String,
    denied: bool,
    policies: String,
    reasons: Vec<String>,
}

impl DecisionView {
    fn of(decision: &Decision) -> Self {
        Self {
            action: decision.action.to_string(),
            target: decision.target.label(),
            outcome: outcome_text(&decision.outcome),
            denied: matches!(decision.outcome, DecisionOutcome::Deny),
            policies: decision.policy_ids.join(", "),
            reasons: decision.reasons.clone(),
        }
    }
}

#[derive(Debug)]
struct ExecutionView {
    action: String,
    target: String,
    connector: String,
    status: String,
    detail: String,
    rollback: String,
    at: String,
}

impl ExecutionView {
    fn of(execution: &Execution) -> Self {
        Self {
            action: execution.action.to_string(),
            target: execution.target.label(),
            connector: execution.connector.clone(),
            status: execution.status.as_str().to_owned(),
            detail: execution.detail.clone(),
            rollback: execution.rollback.clone().unwrap_or_default(),
            at: views::rfc3339(execution.at),
        }
    }
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    nav: Option<Nav>,
    flash: Option<&'static str>,
    id: String,
    title: String,
    state: String,
    severity: String,
    verdict: String,
    disposition: String,
    /// The `case.auto_close` decision, in words: which policies let the
    /// case close without a person, or refused it; empty when triage did
    /// not ask.
    closing_policy: String,
    use_case: String,
    created_at: String,
    updated_at: String,
    alert_count: u64,
    grouping: Vec<String>,
    alerts: Vec<AlertView>,
    evidence: Vec<EvidenceView>,
    gaps: Vec<warden_domain::EvidenceGap>,
    assessments: Vec<AssessmentView>,
    decisions: Vec<DecisionView>,
    approvals: Vec<api::ApprovalSummary>,
    executions: Vec<ExecutionView>,
    notes: Vec<views::CaseNoteView>,
    timeline: Vec<views::AuditEntryView>,
    csrf: String,
    can_triage: bool,
    closed: bool,
    verdicts: Vec<Choice>,
}

#[derive(Debug, Default, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn detail(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let result = async {
        let detail = views::case_detail(&state, &id).await?;
        let case = &detail.case;
        Ok(render(&CasePage {
            nav: Some(Nav::of(&principal, "cases")),
            flash: flash(query.done.as_deref()),
            id: case.id.to_string(),
            title: case.title.clone(),
            state: case.state.as_str().to_owned(),
            severity: case.severity.to_string(),
            verdict: case.verdict.map(|v| v.to_string()).unwrap_or_default(),
            disposition: case
                .disposition
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            closing_policy: case
                .auto_close
                .as_ref()
                .map(|d| {
                    format!(
                        "{} under {}",
                        if d.allowed { "closed" } else { "refused" },
                        if d.policy_ids.is_empty() {
                            "no policy (default deny)".to_owned()
                        } else {
                            d.policy_ids.join(", ")
                        }
                    )
                })
                .unwrap_or_default(),
            use_case: detail.use_case.clone(),
            created_at: views::rfc3339(case.created_at),
            updated_at: views::rfc3339(case.updated_at),
            alert_count: case.alert_count,
            grouping: case.grouping_reasons.clone(),
            alerts: detail.alerts.iter().map(AlertView::of).collect(),
            evidence: detail.evidence.iter().map(EvidenceView::of).collect(),
            gaps: detail.gaps.clone(),
            assessments: detail.assessments.iter().map(AssessmentView::of).collect(),
            decisions: detail.decisions.iter().map(DecisionView::of).collect(),
            approvals: detail.approvals.iter().map(api::approval_summary).collect(),
            executions: detail.executions.iter().map(ExecutionView::of).collect(),
            notes: detail.notes.clone(),
            csrf: principal.csrf().unwrap_or_default().to_owned(),
            can_triage: principal.can(Permission::Triage) && principal.person().is_some(),
            closed: matches!(case.state, CaseState::Closed),
            verdicts: Choice::list(Verdict::ALL.iter().map(|v| v.as_str()), None),
            timeline: detail.timeline,
        }))
    }
    .await;
    page(result, &principal)
}

// ---- forms ----

#[derive(Debug, Default, Deserialize)]
struct NoteForm {
    #[serde(default)]
    text: String,
}

async fn add_note(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    let result = async {
        let person = person_of(&principal)?;
        if form.text.trim().is_empty() {
            return Err(ApiError::bad_request("a note needs some text"));
        }
        let case_id = views::parse_case_id(&id)?;
        state
            .pipeline()
            .control()
            .add_note(case_id, person, form.text.trim())
            .await?;
        Ok(done(&format!("/cases/{case_id}"), "note_added"))
    }
    .await;
    page(result, &principal)
}

#[derive(Debug, Default, Deserialize)]
struct CloseForm {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    note: String,
}

async fn close(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<CloseForm>,
) -> Response {
    let result = async {
        let person = person_of(&principal)?;
        let case_id = views::parse_case_id(&id)?;
        if form.note.trim().is_empty() {
            return Err(ApiError::bad_request("say why you close the case"));
        }
        let stepped = api::close(&state, person, &id, &form.verdict, form.note.trim()).await?;
        let code = if stepped.is_none() {
            "closed"
        } else {
            "closed_stepped_down"
        };
        Ok(done(&format!("/cases/{case_id}"), code))
    }
    .await;
    page(result, &principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_hold_only_safe_characters() {
        assert_eq!(anchor("ev-1"), "ev-1");
        assert_eq!(anchor("ev-alert-2"), "ev-alert-2");
        assert_eq!(anchor("x\"><script>"), "ev-x---script-");
    }
}
