//! The audit explorer (`/audit`): entries filtered by case, actor and
//! kind, each with its leaf hash and the entry as hashed, beside the log's
//! verification run now (every entry rehashed, every checkpoint checked).

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{Choice, Nav, given, page, render};
use crate::AppState;
use crate::api::{self, views};
use crate::auth::{Permission, Principal};
use crate::guard::Access;
use crate::routes::Route;

pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::GET,
        "/audit",
        Access::Needs(Permission::ReadAudit),
        "The audit explorer (page)",
        get(explorer),
    )]
}

/// The event kinds people filter on, in the order things happen.
const KINDS: &[&str] = &[
    "run_started",
    "user_added",
    "alert_ingested",
    "ingest_rejected",
    "case_opened",
    "tool_called",
    "tool_request_rejected",
    "evidence_collected",
    "model_called",
    "assessed",
    "policy_decided",
    "auto_close_decided",
    "escalated",
    "approval_evaluated",
    "approval_recorded",
    "proposal_modified",
    "request_closed",
    "action_started",
    "action_executed",
    "case_state_changed",
    "triage_completed",
    "case_reviewed",
    "case_note_added",
    "autonomy_changed",
    "kill_switch_changed",
    "api_token_changed",
];

/// Entries shown on one page.
const PAGE: u32 = 200;

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    case: Option<String>,
    actor: Option<String>,
    kind: Option<String>,
    after: Option<String>,
}

#[derive(Debug)]
struct Row {
    seq: u64,
    at: String,
    actor: String,
    stage: String,
    kind: String,
    case_id: String,
    leaf: String,
    entry: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    case: String,
    actor: String,
    kinds: Vec<Choice>,
    rows: Vec<Row>,
    next: Option<String>,
    check: api::VerificationView,
}

async fn explorer(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<AuditQuery>,
) -> Response {
    let case = given(query.case);
    let actor = given(query.actor);
    let kind = given(query.kind);
    let result = async {
        let after = match given(query.after) {
            Some(text) => Some(
                text.parse::<u64>()
                    .map_err(|_| crate::ApiError::bad_request("after must be a sequence number"))?,
            ),
            None => None,
        };
        let filter = api::AuditFilter {
            case: case.clone(),
            actor: actor.clone(),
            kind: kind.clone(),
            since: None,
            until: None,
            after,
            limit: Some(PAGE),
        };
        let entries = api::audit_entries(&state, &filter).await?;
        let check = api::verification(&state).await?;
        let next = (entries.len() == PAGE as usize)
            .then(|| entries.last().map(|e| e.seq))
            .flatten()
            .map(|last| {
                let mut query = form_urlencoded::Serializer::new(String::new());
                for (key, value) in [("case", &case), ("actor", &actor), ("kind", &kind)] {
                    if let Some(value) = value {
                        query.append_pair(key, value);
                    }
                }
                query.append_pair("after", &last.to_string());
                format!("/audit?{}", query.finish())
            });
        let rows = entries.into_iter().map(row).collect();
        Ok(render(&AuditPage {
            nav: Some(Nav::of(&principal, "audit")),
            case: case.clone().unwrap_or_default(),
            actor: actor.clone().unwrap_or_default(),
            kinds: Choice::list(KINDS.iter().copied(), kind.as_deref()),
            rows,
            next,
            check,
        }))
    }
    .await;
    page(result, &principal)
}

fn row(entry: views::AuditEntryView) -> Row {
    Row {
        seq: entry.seq,
        at: entry.at,
        actor: entry.actor,
        stage: entry.stage,
        kind: entry.kind,
        case_id: entry.case_id.unwrap_or_default(),
        leaf: entry.leaf_hash.chars().take(16).collect(),
        entry: serde_json::to_string_pretty(&entry.entry).unwrap_or_default(),
    }
}
