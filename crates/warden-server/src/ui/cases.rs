//! The case queue (`/cases`) and a case's full record (`/cases/{id}`),
//! with the forms analysts use on a case: a note, and closing it with
//! their verdict.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_domain::{
    Alert, Assessment, CaseState, Decision, DecisionOutcome, Evidence, Execution, Freshness,
    OverrideReason, Provenance, RejectionReason, RequestStatus, Severity, Verdict,
};

use super::{Choice, Nav, done, flash, given, page, person_of, render};
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

/// The queue's query string: the saved-view parameters of the web UI
/// links contract (`q`, `state`, `severity`, `use_case`, `sort`, `page`).
/// Fields are kept as given, so an empty `state=` (any state) differs from
/// no `state` at all (open cases).
#[derive(Debug, Default, Clone, Deserialize)]
struct QueueQuery {
    q: Option<String>,
    state: Option<String>,
    severity: Option<String>,
    use_case: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

impl QueueQuery {
    /// The view as a filter: no `state` is open cases, an empty one every
    /// state.
    fn filter(&self) -> Result<views::CaseFilter, ApiError> {
        let page = match given(self.page.clone()) {
            Some(text) => Some(
                text.parse::<u32>()
                    .map_err(|_| ApiError::bad_request(format!("page {text:?} is not a number")))?,
            ),
            None => None,
        };
        Ok(views::CaseFilter {
            q: given(self.q.clone()),
            state: Some(match &self.state {
                None => views::OPEN.to_owned(),
                Some(s) if s.trim().is_empty() => views::ALL.to_owned(),
                Some(s) => s.trim().to_owned(),
            }),
            severity: given(self.severity.clone()),
            use_case: given(self.use_case.clone()),
            sort: given(self.sort.clone()),
            page,
            limit: Some(views::PAGE_SIZE),
        })
    }

    /// `/cases?...` for this view with `change` applied; only parameters
    /// that say something are written, so links stay short.
    fn href(&self, change: impl FnOnce(&mut QueueQuery)) -> String {
        let mut view = self.clone();
        change(&mut view);
        let mut query = form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("q", &view.q),
            ("state", &view.state),
            ("severity", &view.severity),
            ("use_case", &view.use_case),
            ("sort", &view.sort),
            ("page", &view.page),
        ];
        for (name, value) in pairs {
            match value {
                // An empty state is "every state": keep it.
                Some(v) if name == "state" => {
                    query.append_pair(name, v.trim());
                }
                Some(v) if !v.trim().is_empty() => {
                    query.append_pair(name, v.trim());
                }
                _ => {}
            }
        }
        let query = query.finish();
        if query.is_empty() {
            "/cases".to_owned()
        } else {
            format!("/cases?{query}")
        }
    }
}

/// One count of the queue, with the link that filters on it.
#[derive(Debug)]
struct Count {
    name: String,
    count: usize,
    href: String,
}

/// A column heading that sorts the queue.
#[derive(Debug)]
struct Column {
    label: &'static str,
    href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    aria: &'static str,
    /// The arrow shown beside the sorted column.
    arrow: &'static str,
}

/// A case row as the queue shows it.
#[derive(Debug)]
struct Row {
    c: views::CaseSummary,
    /// How long ago it opened (`3 h ago`), with the full time for hover.
    age: String,
    /// Escalation reason codes, injection first, and the full reasons.
    codes: Vec<String>,
    reasons: String,
    host: String,
    more_hosts: usize,
    user: String,
    more_users: usize,
    /// Orders' outcomes in words (`1 failed`), and whether any did not
    /// succeed.
    outcomes: String,
    outcome_bad: bool,
}

impl Row {
    fn of(c: views::CaseSummary, now: time::OffsetDateTime) -> Self {
        let created = time::OffsetDateTime::parse(
            &c.created_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok();
        let mut codes: Vec<String> = Vec::new();
        for reason in &c.escalation_reasons {
            let code = views::reason_code(reason).to_owned();
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &c.outcomes {
            *tally.entry(o.status.as_str()).or_default() += 1;
        }
        let outcomes = tally
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            age: created.map(|t| ago(now, t)).unwrap_or_default(),
            reasons: c.escalation_reasons.join("\n"),
            codes,
            host: c.hosts.first().cloned().unwrap_or_default(),
            more_hosts: c.hosts.len().saturating_sub(1),
            user: c.users.first().cloned().unwrap_or_default(),
            more_users: c.users.len().saturating_sub(1),
            outcome_bad: tally.keys().any(|s| *s != "succeeded"),
            outcomes,
            c,
        }
    }
}

/// `then` relative to `now`, short: `just now`, `12 min ago`, `3 h ago`,
/// `4 d ago`.
pub(super) fn ago(now: time::OffsetDateTime, then: time::OffsetDateTime) -> String {
    let seconds = (now - then).whole_seconds();
    match seconds {
        s if s < 60 => "just now".to_owned(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

#[derive(Template)]
#[template(path = "cases.html")]
struct QueuePage {
    nav: Option<Nav>,
    list: views::CaseList,
    rows: Vec<Row>,
    q: String,
    sort: String,
    states: Vec<Choice>,
    any_state: bool,
    severities: Vec<Choice>,
    use_cases: Vec<Choice>,
    columns: Vec<Column>,
    by_state: Vec<Count>,
    by_severity: Vec<Count>,
    by_use_case: Vec<Count>,
    filtered: bool,
    first: usize,
    last: usize,
    prev: Option<String>,
    next: Option<String>,
}

fn counts(
    view: &QueueQuery,
    map: &BTreeMap<String, usize>,
    set: fn(&mut QueueQuery, String),
) -> Vec<Count> {
    map.iter()
        .map(|(name, count)| Count {
            name: name.clone(),
            count: *count,
            href: view.href(|v| {
                set(v, name.clone());
                v.page = None;
            }),
        })
        .collect()
}

/// The sortable columns: label, sort name.
const COLUMNS: [(&str, &str); 8] = [
    ("Case", "title"),
    ("Severity", "severity"),
    ("State", "state"),
    ("Host", "host"),
    ("User", "user"),
    ("Use case", "use_case"),
    ("Alerts", "alerts"),
    ("Age", "age"),
];

fn columns(view: &QueueQuery, sort: &str) -> Vec<Column> {
    let (current, reversed) = match sort.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (sort, false),
    };
    COLUMNS
        .iter()
        .map(|(label, name)| {
            let on = *name == current;
            // A second click on the sorted column reverses it.
            let next = if on && !reversed {
                format!("-{name}")
            } else {
                (*name).to_owned()
            };
            Column {
                label,
                href: view.href(|v| {
                    v.sort = Some(next);
                    v.page = None;
                }),
                aria: match (on, reversed ^ natural_descending(name)) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
                arrow: match (on, reversed) {
                    (false, _) => "",
                    (true, false) => " ▼",
                    (true, true) => " ▲",
                },
            }
        })
        .collect()
}

/// Sorts whose natural order runs from most to least (severity, alerts).
fn natural_descending(name: &str) -> bool {
    matches!(name, "severity" | "alerts")
}

async fn queue(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(view): Query<QueueQuery>,
) -> Response {
    let result = async {
        let filter = view.filter()?;
        let list = views::case_list(&state, &filter, views::OPEN, views::PAGE_SIZE).await?;
        let names: Vec<String> = state
            .pipeline()
            .playbooks()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        let wanted_state = filter.state.as_deref().unwrap_or(views::OPEN);
        let mut state_names = vec![views::OPEN];
        state_names.extend(CaseState::ALL.iter().map(|s| s.as_str()));
        let now = state.now();
        let per_page = list.per_page as usize;
        let first = if list.total == 0 {
            0
        } else {
            (list.page as usize - 1) * per_page + 1
        };
        let last = (first + list.cases.len()).saturating_sub(1);
        let page_link = |page: u32| view.href(|v| v.page = (page > 1).then(|| page.to_string()));
        Ok(render(&QueuePage {
            nav: Some(Nav::of(&principal, "cases")),
            rows: list
                .cases
                .iter()
                .cloned()
                .map(|c| Row::of(c, now))
                .collect(),
            q: view.q.clone().unwrap_or_default(),
            sort: list.sort.clone(),
            states: Choice::list(state_names, Some(wanted_state)),
            any_state: wanted_state == views::ALL,
            severities: Choice::list(
                Severity::ALL.iter().map(|s| s.as_str()),
                filter.severity.as_deref(),
            ),
            use_cases: Choice::list(names.iter().map(String::as_str), filter.use_case.as_deref()),
            columns: columns(&view, &list.sort),
            by_state: counts(&view, &list.by_state, |v, n| v.state = Some(n)),
            by_severity: counts(&view, &list.by_severity, |v, n| v.severity = Some(n)),
            by_use_case: counts(&view, &list.by_use_case, |v, n| v.use_case = Some(n)),
            filtered: filter.q.is_some()
                || wanted_state != views::OPEN
                || filter.severity.is_some()
                || filter.use_case.is_some(),
            first,
            last,
            prev: (list.page > 1).then(|| page_link(list.page - 1)),
            next: (list.page < list.pages).then(|| page_link(list.page + 1)),
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
    /// The queue searched for this value, over every state: the cases
    /// that share it.
    pivot: String,
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
                    pivot: pivot(&o.value),
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

/// The queue's link to every case whose search matches `value`, in any
/// state.
fn pivot(value: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", value)
        .append_pair("state", "")
        .finish();
    format!("/cases?{query}")
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

/// An approval request of the case, with what became of it.
#[derive(Debug)]
struct RequestView {
    summary: api::ApprovalSummary,
    /// The status people see: the outcome once the executor had it.
    shown: String,
    /// The outcome's reason.
    detail: String,
    bad: bool,
}

/// A decision waiting for the person looking at the case: a pending
/// request they may answer (Control checks again when they do).
#[derive(Debug)]
struct WaitingView {
    hash: String,
    title: String,
    progress: String,
    roles: Vec<Choice>,
    side_effects: String,
    expires_at: String,
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
    /// The verdict that stands (the person's once given).
    verdict: String,
    agent_verdict: String,
    reviewed: Option<views::PersonVerdict>,
    escalation_reasons: Vec<String>,
    waiting: Vec<WaitingView>,
    requests: Vec<RequestView>,
    override_reasons: Vec<Choice>,
    rejection_reasons: Vec<Choice>,
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
    executions: Vec<ExecutionView>,
    notes: Vec<views::CaseNoteView>,
    timeline: Vec<views::AuditEntryView>,
    csrf: String,
    can_triage: bool,
    closed: bool,
    verdicts: Vec<Choice>,
}

/// The pending requests of a case that `principal` may answer: a person
/// who may approve, holding a role the request accepts, who did not ask
/// for it and has not answered it yet. Control checks all of it again
/// (and more) when they answer.
fn waiting_for(principal: &Principal, requests: &[views::RequestWithAnswers]) -> Vec<WaitingView> {
    let Some(person) = principal.person() else {
        return Vec::new();
    };
    if !principal.can(Permission::Approve) {
        return Vec::new();
    }
    requests
        .iter()
        .filter(|entry| entry.request.status == RequestStatus::Pending)
        .filter(|entry| !entry.request.requester.eq_ignore_ascii_case(&person.name))
        .filter(|entry| !entry.approvals.iter().any(|a| a.approver == person.name))
        .filter_map(|entry| {
            let card = &entry.request.card;
            let roles: Vec<&str> = person
                .roles
                .iter()
                .map(String::as_str)
                .filter(|r| card.roles.is_empty() || card.roles.iter().any(|c| c == r))
                .collect();
            if roles.is_empty() {
                return None;
            }
            let summary = api::approval_summary(entry);
            Some(WaitingView {
                hash: summary.proposal_hash,
                title: card.title.clone(),
                progress: format!(
                    "{} of {} approvals",
                    summary.approvals, summary.approvals_required
                ),
                roles: Choice::list(roles, None),
                side_effects: card.side_effects.clone(),
                expires_at: summary.expires_at,
            })
        })
        .collect()
}

/// The executor's record for the case: every stored execution, and the
/// orders it refused before running them (found only in the audit log).
fn executions(stored: &[Execution], outcomes: &[views::ActionOutcome]) -> Vec<ExecutionView> {
    let mut out: Vec<ExecutionView> = stored.iter().map(ExecutionView::of).collect();
    for o in outcomes {
        if !stored
            .iter()
            .any(|e| e.proposal_hash.as_str() == o.proposal_hash)
        {
            out.push(ExecutionView {
                action: o.action.clone(),
                target: o.target.clone(),
                connector: o.connector.clone(),
                status: o.status.clone(),
                detail: o.detail.clone(),
                rollback: String::new(),
                at: o.at.clone(),
            });
        }
    }
    out
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
        let record = &detail.record;
        let agent_verdict = case.verdict.map(|v| v.to_string()).unwrap_or_default();
        Ok(render(&CasePage {
            nav: Some(Nav::of(&principal, "cases")),
            flash: flash(query.done.as_deref()),
            id: case.id.to_string(),
            title: case.title.clone(),
            state: case.state.as_str().to_owned(),
            severity: case.severity.to_string(),
            verdict: record
                .reviewed
                .as_ref()
                .map(|r| r.verdict.clone())
                .unwrap_or_else(|| agent_verdict.clone()),
            agent_verdict,
            reviewed: record.reviewed.clone(),
            escalation_reasons: record.escalation_reasons.clone(),
            waiting: waiting_for(&principal, &detail.approvals),
            requests: detail
                .approvals
                .iter()
                .map(|entry| {
                    let summary = api::approval_summary(entry);
                    let outcome = record
                        .outcomes
                        .iter()
                        .find(|o| o.proposal_hash == summary.proposal_hash);
                    let (shown, detail) = views::shown_status(entry.request.status, outcome);
                    RequestView {
                        bad: matches!(shown.as_str(), "failed" | "refused"),
                        shown,
                        detail,
                        summary,
                    }
                })
                .collect(),
            override_reasons: Choice::list(OverrideReason::ALL.iter().map(|r| r.as_str()), None),
            rejection_reasons: Choice::list(RejectionReason::ALL.iter().map(|r| r.as_str()), None),
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
            executions: executions(&detail.executions, &record.outcomes),
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
    /// Why the person's verdict differs from the agent's.
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reason_text: String,
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
        let reason = form.reason.trim();
        let stepped = api::close(
            &state,
            person,
            &id,
            form.verdict.trim(),
            form.note.trim(),
            (!reason.is_empty()).then_some(reason),
            &form.reason_text,
        )
        .await?;
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
