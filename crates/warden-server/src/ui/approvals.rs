//! The approval queue (`/approvals`) and the approval card people decide
//! on (`/approvals/{hash}`): the proposal, the evidence behind it, exactly
//! what it changes, how to undo it, and who has answered so far. Approve,
//! reject and modify post back here; Control's refusals (the same person
//! twice, the requester, a role the request does not accept) come back on
//! the card as an error with their status.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use warden_domain::{RejectionReason, RequestStatus};

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
            "/approvals",
            Access::Needs(Permission::ReadCases),
            "Approval requests (page)",
            get(list),
        ),
        r(
            Method::GET,
            "/approvals/{hash}",
            Access::Needs(Permission::ReadCases),
            "An approval card (page)",
            get(card),
        ),
        r(
            Method::POST,
            "/approvals/{hash}/approve",
            Access::Needs(Permission::Approve),
            "Approve a proposal (form)",
            post(approve),
        ),
        r(
            Method::POST,
            "/approvals/{hash}/reject",
            Access::Needs(Permission::Approve),
            "Reject a proposal with a reason (form)",
            post(reject),
        ),
        r(
            Method::POST,
            "/approvals/{hash}/modify",
            Access::Needs(Permission::Approve),
            "Change a proposal's parameters (form)",
            post(modify),
        ),
    ]
}

// ---- the queue ----

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

/// A request as listed: its summary and what people should read as its
/// status (the executor's outcome once it had the order).
#[derive(Debug)]
struct ListRow {
    r: api::ApprovalSummary,
    shown: String,
    detail: String,
    bad: bool,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ListPage {
    nav: Option<Nav>,
    statuses: Vec<Choice>,
    status: String,
    requests: Vec<ListRow>,
}

/// The executor's outcomes of the requests that reached it, read once
/// per case.
async fn outcomes_for(
    state: &AppState,
    entries: &[views::RequestWithAnswers],
) -> Result<HashMap<String, views::ActionOutcome>, ApiError> {
    let mut cases = Vec::new();
    for entry in entries {
        let request = &entry.request;
        if matches!(
            request.status,
            RequestStatus::Executed | RequestStatus::Refused
        ) && !cases.contains(&request.proposal.case_id)
        {
            cases.push(request.proposal.case_id);
        }
    }
    let mut out = HashMap::new();
    for case in cases {
        for outcome in views::case_record(state, case).await?.outcomes {
            out.insert(outcome.proposal_hash.clone(), outcome);
        }
    }
    Ok(out)
}

fn list_row(
    entry: &views::RequestWithAnswers,
    outcomes: &HashMap<String, views::ActionOutcome>,
) -> ListRow {
    let r = api::approval_summary(entry);
    let (shown, detail) = views::shown_status(entry.request.status, outcomes.get(&r.proposal_hash));
    ListRow {
        bad: matches!(shown.as_str(), "failed" | "refused"),
        shown,
        detail,
        r,
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<ListQuery>,
) -> Response {
    let status = given(query.status).unwrap_or_else(|| "pending".to_owned());
    let result = async {
        let filter = api::ApprovalFilter {
            status: Some(status.clone()),
            case: None,
        };
        let requests = api::approvals(&state, &filter).await?;
        let outcomes = outcomes_for(&state, &requests).await?;
        let mut names: Vec<&str> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
        names.push("all");
        Ok(render(&ListPage {
            nav: Some(Nav::of(&principal, "approvals")),
            statuses: Choice::list(names, Some(&status)),
            requests: requests.iter().map(|e| list_row(e, &outcomes)).collect(),
            status: status.clone(),
        }))
    }
    .await;
    page(result, &principal)
}

// ---- the card ----

#[derive(Debug)]
struct Answer {
    who: String,
    role: String,
    approved: bool,
    reason: String,
    at: String,
}

#[derive(Debug)]
struct EvidenceLine {
    id: String,
    anchor: String,
    source: String,
    summary: String,
    freshness: String,
    fresh: bool,
}

#[derive(Template)]
#[template(path = "approval.html")]
struct CardPage {
    nav: Option<Nav>,
    csrf: String,
    flash: Option<&'static str>,
    error: Option<String>,
    hash: String,
    case_id: String,
    title: String,
    action: String,
    target: String,
    use_case: String,
    verdict: String,
    severity: String,
    confidence: String,
    rationale: Vec<String>,
    evidence: Vec<EvidenceLine>,
    side_effects: String,
    parameters: Vec<(String, String)>,
    rollback: String,
    policies: String,
    decision: String,
    decision_reasons: Vec<String>,
    approvals: u32,
    required: u32,
    roles: String,
    answers: Vec<Answer>,
    requester: String,
    /// What people read as the status: the executor's outcome
    /// (`succeeded`, `failed`, `refused`) once it had the order.
    status: String,
    /// The outcome's reason (the connector's error, the executor's
    /// refusal), or empty.
    status_detail: String,
    status_bad: bool,
    open: bool,
    created_at: String,
    expires_at: String,
    supersedes: String,
    can_approve: bool,
    my_roles: Vec<Choice>,
    reasons: Vec<Choice>,
}

fn card_page(
    principal: &Principal,
    entry: &views::RequestWithAnswers,
    outcome: Option<&views::ActionOutcome>,
    flash_code: Option<&str>,
    error: Option<String>,
) -> CardPage {
    let request = &entry.request;
    let (status, status_detail) = views::shown_status(request.status, outcome);
    let card = &request.card;
    let summary = api::approval_summary(entry);
    let my_roles: Vec<&str> = match principal.person() {
        Some(person) => {
            let accepted: Vec<&str> = person
                .roles
                .iter()
                .map(String::as_str)
                .filter(|r| card.roles.is_empty() || card.roles.iter().any(|c| c == r))
                .collect();
            if accepted.is_empty() {
                person.roles.iter().map(String::as_str).collect()
            } else {
                accepted
            }
        }
        None => Vec::new(),
    };
    CardPage {
        nav: Some(Nav::of(principal, "approvals")),
        csrf: principal.csrf().unwrap_or_default().to_owned(),
        flash: flash(flash_code),
        error,
        hash: request.proposal_hash.to_string(),
        case_id: request.proposal.case_id.to_string(),
        title: card.title.clone(),
        action: request.proposal.action.to_string(),
        target: request.proposal.target.label(),
        use_case: request.use_case.clone(),
        verdict: card.verdict.to_string(),
        severity: card.severity.to_string(),
        confidence: format!("{:.2}", card.confidence),
        rationale: card.rationale.clone(),
        evidence: card
            .evidence
            .iter()
            .map(|e| EvidenceLine {
                id: e.id.clone(),
                anchor: super::cases::anchor(&e.id),
                source: e.source.clone(),
                summary: e.summary.clone(),
                fresh: e.freshness == "fresh",
                freshness: e.freshness.clone(),
            })
            .collect(),
        side_effects: card.side_effects.clone(),
        parameters: card.parameters.clone(),
        rollback: card.rollback.clone(),
        policies: card.policy_ids.join(", "),
        decision: super::cases::outcome_text(&request.decision.outcome),
        decision_reasons: request.decision.reasons.clone(),
        approvals: summary.approvals,
        required: summary.approvals_required,
        roles: card.roles.join(", "),
        answers: entry
            .approvals
            .iter()
            .map(|a| Answer {
                who: a.approver.clone(),
                role: a.role.clone(),
                approved: a.approved,
                reason: a.reason.clone().unwrap_or_default(),
                at: views::rfc3339(a.decided_at),
            })
            .collect(),
        requester: request.requester.clone(),
        status_bad: matches!(status.as_str(), "failed" | "refused"),
        status,
        status_detail,
        open: request.status.is_open(),
        created_at: summary.created_at,
        expires_at: summary.expires_at,
        supersedes: request
            .supersedes
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        can_approve: principal.can(Permission::Approve) && principal.person().is_some(),
        my_roles: Choice::list(my_roles, None),
        reasons: Choice::list(RejectionReason::ALL.iter().map(|r| r.as_str()), None),
    }
}

#[derive(Debug, Default, Deserialize)]
struct CardQuery {
    done: Option<String>,
}

async fn card(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(hash): Path<String>,
    Query(query): Query<CardQuery>,
) -> Response {
    let result = async {
        let entry = api::approval(&state, &hash).await?;
        let outcomes = outcomes_for(&state, std::slice::from_ref(&entry)).await?;
        Ok(render(&card_page(
            &principal,
            &entry,
            outcomes.get(entry.request.proposal_hash.as_str()),
            query.done.as_deref(),
            None,
        )))
    }
    .await;
    page(result, &principal)
}

/// A refused answer: the card again, with the refusal on top and its
/// status (403 for a rule about people, 409 for a request that moved on).
async fn refused(state: &AppState, principal: &Principal, hash: &str, err: ApiError) -> Response {
    if !matches!(
        err.status,
        StatusCode::FORBIDDEN | StatusCode::CONFLICT | StatusCode::BAD_REQUEST
    ) {
        return super::error_response(err, principal);
    }
    match api::approval(state, hash).await {
        Ok(entry) => {
            let page = card_page(principal, &entry, None, None, Some(err.message.clone()));
            (err.status, render(&page)).into_response()
        }
        Err(_) => super::error_response(err, principal),
    }
}

fn card_path(hash: &str) -> String {
    format!("/approvals/{}", segment(hash))
}

#[derive(Debug, Default, Deserialize)]
struct ApproveForm {
    role: Option<String>,
    /// `case`: go back to the case page (the form was there), not the card.
    back: Option<String>,
}

/// Where an answer's form goes afterwards: the card, or the case page
/// when the form was on it (`back=case`; no other value is a place, so a
/// form cannot send people anywhere else).
async fn after_answer(state: &AppState, hash: &str, back: Option<&str>, code: &str) -> Response {
    if back == Some("case")
        && let Ok(entry) = api::approval(state, hash).await
    {
        let case = entry.request.proposal.case_id;
        return done(&format!("/cases/{case}"), code);
    }
    done(&card_path(hash), code)
}

async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(hash): Path<String>,
    Form(form): Form<ApproveForm>,
) -> Response {
    let result = async {
        let person = person_of(&principal)?;
        let role = given(form.role);
        let progress = api::approve_as(&state, person, &hash, role.as_deref()).await?;
        let code = if progress.ready { "ready" } else { "approved" };
        Ok(after_answer(&state, &hash, form.back.as_deref(), code).await)
    }
    .await;
    match result {
        Ok(response) => response,
        Err(err) => refused(&state, &principal, &hash, err).await,
    }
}

#[derive(Debug, Default, Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    back: Option<String>,
}

async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(hash): Path<String>,
    Form(form): Form<RejectForm>,
) -> Response {
    let result = async {
        let person = person_of(&principal)?;
        if form.reason.trim().is_empty() {
            return Err(ApiError::bad_request(
                "choose a reason for rejecting: there is no default",
            ));
        }
        api::reject_as(&state, person, &hash, form.reason.trim(), &form.note).await?;
        Ok(after_answer(&state, &hash, form.back.as_deref(), "rejected").await)
    }
    .await;
    match result {
        Ok(response) => response,
        Err(err) => refused(&state, &principal, &hash, err).await,
    }
}

/// The modify form: `param_key` and `param_value` fields, repeated in
/// order; a row with an empty key is dropped.
fn parameters(fields: &[(String, String)]) -> Result<BTreeMap<String, String>, ApiError> {
    let keys = fields.iter().filter(|(k, _)| k == "param_key");
    let values = fields.iter().filter(|(k, _)| k == "param_value");
    let mut out = BTreeMap::new();
    for ((_, key), (_, value)) in keys.zip(values) {
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        if out.insert(key.to_owned(), value.clone()).is_some() {
            return Err(ApiError::bad_request(format!(
                "the parameter {key:?} is given twice"
            )));
        }
    }
    Ok(out)
}

async fn modify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(hash): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let person = person_of(&principal)?;
        let parameters = parameters(&fields)?;
        let modified = api::modify_as(&state, person, &hash, parameters).await?;
        Ok(done(&card_path(&modified.proposal_hash), "modified"))
    }
    .await;
    match result {
        Ok(response) => response,
        Err(err) => refused(&state, &principal, &hash, err).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modify_rows_pair_keys_with_values_and_drop_empty_keys() {
        let fields: Vec<(String, String)> = [
            ("csrf", "x"),
            ("param_key", "duration"),
            ("param_value", "1h"),
            ("param_key", ""),
            ("param_value", "ignored"),
            ("param_key", "reason"),
            ("param_value", "a <b>"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let params = parameters(&fields).unwrap_or_default();
        assert_eq!(params.len(), 2);
        assert_eq!(params.get("duration").map(String::as_str), Some("1h"));
        assert_eq!(params.get("reason").map(String::as_str), Some("a <b>"));
    }
}
