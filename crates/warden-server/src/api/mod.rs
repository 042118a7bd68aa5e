//! The JSON API under `/api/v1`, described by `/api/openapi.json`.
//!
//! Handlers are thin: they check input, call the pipeline's control plane
//! (which audits before it stores) or read through [`views`], and answer.

pub mod extract;
pub mod openapi;
pub mod views;

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_domain::{
    ActionName, Autonomy, OverrideReason, ProposalHash, RejectionReason, RequestStatus, Verdict,
};
use warden_pipeline::control::Feedback;
use warden_store::AuditQuery;

use crate::AppState;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::guard::Access;
use crate::routes::Route;

use extract::{ApiJson, ApiPath, ApiQuery};
use views::{CaseFilter, CaseList, RequestWithAnswers, UseCaseView};

/// The API's routes.
pub fn routes() -> Vec<Route> {
    use Permission::*;
    let r = Route::new;
    vec![
        r(
            Method::GET,
            "/api/openapi.json",
            Access::Authenticated,
            "This API's OpenAPI 3.1 document",
            get(openapi::document),
        ),
        r(
            Method::GET,
            "/api/v1/me",
            Access::Authenticated,
            "Who is calling, and what they may do",
            get(me),
        ),
        r(
            Method::POST,
            "/api/v1/alerts",
            Access::Needs(Ingest),
            "Push one alert (any supported format)",
            post(ingest_one),
        ),
        r(
            Method::POST,
            "/api/v1/alerts/batch",
            Access::Needs(Ingest),
            "Push alerts: a JSON array, or JSON lines (application/x-ndjson)",
            post(ingest_batch),
        ),
        r(
            Method::GET,
            "/api/v1/cases",
            Access::Needs(ReadCases),
            "The case queue, with filters and counts",
            get(list_cases),
        ),
        r(
            Method::GET,
            "/api/v1/cases/{id}",
            Access::Needs(ReadCases),
            "A case: alerts, evidence, assessment, decisions, approvals, timeline",
            get(show_case),
        ),
        r(
            Method::POST,
            "/api/v1/cases/{id}/notes",
            Access::Needs(Triage),
            "Add a note to a case",
            post(add_note),
        ),
        r(
            Method::POST,
            "/api/v1/cases/{id}/close",
            Access::Needs(Triage),
            "Close a case with your verdict and a note",
            post(close_case),
        ),
        r(
            Method::GET,
            "/api/v1/approvals",
            Access::Needs(ReadCases),
            "Approval requests",
            get(list_approvals),
        ),
        r(
            Method::GET,
            "/api/v1/approvals/{hash}",
            Access::Needs(ReadCases),
            "One approval request, its card and answers",
            get(show_approval),
        ),
        r(
            Method::POST,
            "/api/v1/approvals/{hash}/approve",
            Access::Needs(Approve),
            "Approve a proposal",
            post(approve),
        ),
        r(
            Method::POST,
            "/api/v1/approvals/{hash}/reject",
            Access::Needs(Approve),
            "Reject a proposal with a reason",
            post(reject),
        ),
        r(
            Method::POST,
            "/api/v1/approvals/{hash}/modify",
            Access::Needs(Approve),
            "Change a proposal's parameters (a new proposal others approve)",
            post(modify),
        ),
        r(
            Method::GET,
            "/api/v1/actions",
            Access::Needs(ReadCases),
            "The action catalogue",
            get(actions),
        ),
        r(
            Method::GET,
            "/api/v1/executions",
            Access::Needs(ReadCases),
            "Executions, newest last",
            get(executions),
        ),
        r(
            Method::GET,
            "/api/v1/audit",
            Access::Needs(ReadAudit),
            "Search the audit log",
            get(audit_search),
        ),
        r(
            Method::GET,
            "/api/v1/audit/verification",
            Access::Needs(ReadAudit),
            "Verify the whole audit log and its checkpoints now",
            get(audit_verify),
        ),
        r(
            Method::GET,
            "/api/v1/audit/checkpoint",
            Access::Needs(ReadAudit),
            "The newest signed checkpoint",
            get(audit_checkpoint),
        ),
        r(
            Method::POST,
            "/api/v1/audit/checkpoint",
            Access::Needs(Administer),
            "Sign a checkpoint over the log as it is now",
            post(audit_sign),
        ),
        r(
            Method::GET,
            "/api/v1/audit/proofs/{seq}",
            Access::Needs(ReadAudit),
            "Inclusion proof of one entry against the newest checkpoint",
            get(audit_proof),
        ),
        r(
            Method::GET,
            "/api/v1/use-cases",
            Access::Needs(ReadCases),
            "Use cases with their autonomy and kill switch",
            get(list_use_cases),
        ),
        r(
            Method::PUT,
            "/api/v1/use-cases/{name}/autonomy",
            Access::Needs(SetAutonomy),
            "Set a use case's autonomy level",
            put(set_autonomy),
        ),
        r(
            Method::GET,
            "/api/v1/kill-switch",
            Access::Needs(ReadCases),
            "Kill switches in force",
            get(kill_switches),
        ),
        r(
            Method::POST,
            "/api/v1/kill-switch",
            Access::Needs(KillSwitch),
            "Pull the kill switch (everything, or one use case)",
            post(kill_switch::<true>),
        ),
        r(
            Method::POST,
            "/api/v1/kill-switch/release",
            Access::Needs(KillSwitch),
            "Release the kill switch",
            post(kill_switch::<false>),
        ),
        r(
            Method::GET,
            "/api/v1/policy",
            Access::Needs(ReadCases),
            "The policy set in force and its version",
            get(policy),
        ),
        r(
            Method::GET,
            "/api/v1/tokens",
            Access::Needs(Administer),
            "API tokens (never their secrets)",
            get(list_tokens),
        ),
        r(
            Method::POST,
            "/api/v1/tokens",
            Access::Needs(Administer),
            "Create an API token (its secret is shown once)",
            post(create_token),
        ),
        r(
            Method::DELETE,
            "/api/v1/tokens/{name}",
            Access::Needs(Administer),
            "Revoke an API token",
            delete(revoke_token),
        ),
    ]
}

fn person(principal: &Principal) -> Result<&warden_store::Person, ApiError> {
    principal
        .person()
        .ok_or_else(|| ApiError::forbidden("this needs a signed-in person, not a token"))
}

// ---- who am I ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct Me {
    pub name: String,
    /// `person` or `token`.
    pub kind: String,
    /// A person's roles, or a token's scopes.
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// A session's CSRF token, to send as `X-CSRF-Token` on changes.
    pub csrf_token: Option<String>,
}

async fn me(Extension(principal): Extension<Principal>) -> Json<Me> {
    let (kind, roles) = match &principal {
        Principal::Person { person, .. } => ("person", person.roles.clone()),
        Principal::Token(token) => ("token", token.scopes.clone()),
    };
    Json(Me {
        name: principal.name().to_owned(),
        kind: kind.to_owned(),
        roles,
        permissions: principal
            .permissions()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        csrf_token: principal.csrf().map(str::to_owned),
    })
}

// ---- ingest ----

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IngestQuery {
    /// Force a format (a built-in name or a configured mapping) instead of
    /// detecting it.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IngestResult {
    /// Alerts accepted and queued for triage.
    pub accepted: Vec<AcceptedAlert>,
    /// Records refused, each kept in the dead-letter store with its reason.
    pub rejected: Vec<RejectedRecord>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AcceptedAlert {
    /// Position in the request (0 for a single alert).
    pub index: usize,
    pub alert_id: String,
    pub format: String,
    pub rule: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RejectedRecord {
    pub index: usize,
    pub reason: String,
    /// The dead letter's id (`warden deadletter show ID`).
    pub dead_letter: String,
}

async fn ingest_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<IngestQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = principal.name();
    // One document, read as `warden triage` reads a `.json` file: one
    // alert, an array of them, or a vendor envelope around a list.
    let records = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => match warden_ingest::unwrap_envelope(value, state.pipeline().formats()) {
            serde_json::Value::Array(items) => items_as_records(name, items),
            _ => vec![(format!("http:{name}"), body.to_vec())],
        },
        // Not JSON: ingest keeps it as a dead letter with the reason.
        Err(_) => vec![(format!("http:{name}"), body.to_vec())],
    };
    if records.is_empty() {
        return Err(ApiError::bad_request("the document holds no alerts"));
    }
    ingest(&state, &principal, records, query).await
}

/// An array's items as records, each in its compact serialised form (as
/// the file reader hashes array elements).
fn items_as_records(name: &str, items: Vec<serde_json::Value>) -> Vec<(String, Vec<u8>)> {
    items
        .into_iter()
        .enumerate()
        .map(|(n, item)| {
            (
                format!("http:{name}[{n}]"),
                serde_json::to_vec(&item).unwrap_or_default(),
            )
        })
        .collect()
}

async fn ingest_batch(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/x-ndjson") || v.starts_with("application/jsonl")
        });
    let name = principal.name();
    let records: Vec<(String, Vec<u8>)> = if ndjson {
        body.split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(n, line)| (format!("http:{name}:{}", n + 1), line.to_vec()))
            .collect()
    } else if let Ok(items) = serde_json::from_slice::<Vec<Box<serde_json::value::RawValue>>>(&body)
    {
        items
            .into_iter()
            .enumerate()
            .map(|(n, raw)| (format!("http:{name}[{n}]"), raw.get().as_bytes().to_vec()))
            .collect()
    } else {
        // A vendor envelope around a list (GuardDuty `{"Findings": [...]}`,
        // Splunk `results`, ...), read as `warden triage` reads it.
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "a batch is a JSON array of alerts (or JSON lines sent as application/x-ndjson): {e}"
            ))
        })?;
        match warden_ingest::unwrap_envelope(value, state.pipeline().formats()) {
            serde_json::Value::Array(items) => items_as_records(name, items),
            _ => {
                return Err(ApiError::bad_request(
                    "a batch is a JSON array of alerts, a vendor response listing them \
                     (such as GuardDuty's {\"Findings\": [...]}), or JSON lines sent as \
                     application/x-ndjson",
                ));
            }
        }
    };
    if records.is_empty() {
        return Err(ApiError::bad_request("the batch holds no alerts"));
    }
    ingest(&state, &principal, records, query).await
}

/// 429 with `Retry-After` (whole seconds, at least one).
fn too_many(code: &'static str, message: String, wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message).into_response();
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn ingest(
    state: &AppState,
    principal: &Principal,
    records: Vec<(String, Vec<u8>)>,
    query: IngestQuery,
) -> Result<Response, ApiError> {
    let pipeline = state.pipeline();
    let format = query
        .format
        .as_deref()
        .map(|name| pipeline.formats().choose(name))
        .transpose()
        .map_err(ApiError::bad_request)?;
    let received = std::time::Instant::now();
    let limits = state.limits();
    if records.len() > limits.max_batch() {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_alerts",
            format!(
                "{} alerts in one push; at most {} are taken at once: split the batch",
                records.len(),
                limits.max_batch()
            ),
        ));
    }
    // The queue first (its places come back if the rate refuses), then the
    // sender's own rate. Nothing is parsed or recorded for a refused push.
    let queue_full = || {
        tracing::warn!(by = %principal.actor(), "push refused: the triage queue is full");
        crate::metrics::push_refused("queue_full");
        too_many(
            "queue_full",
            "triage is behind; send again after the Retry-After seconds".to_owned(),
            crate::limits::QUEUE_RETRY_AFTER,
        )
    };
    // With a shared stream (`[queue] url`) the stream bounds the backlog
    // and refuses when full; the local queue is fed by the stream.
    let local = match state.stream() {
        Some(_) => None,
        None => {
            let Ok(permit) = state.triage_sender().clone().try_reserve_owned() else {
                return Ok(queue_full());
            };
            let bytes = records.iter().map(|(_, bytes)| bytes.len()).sum();
            let Some(queued) = limits.reserve(bytes) else {
                return Ok(queue_full());
            };
            Some((permit, queued))
        }
    };
    if let Err(wait) = limits.take(&principal.actor(), records.len(), received) {
        tracing::warn!(by = %principal.actor(), alerts = records.len(), "push refused: over its rate");
        crate::metrics::push_refused("rate_limited");
        return Ok(too_many(
            "rate_limited",
            format!(
                "{} pushes alerts faster than its rate of {} a minute; send again after the \
                 Retry-After seconds",
                principal.actor(),
                state.config().ingest_alerts_per_minute
            ),
            wait,
        ));
    }
    let results = pipeline.accept_records(records, format).await?;
    let mut result = IngestResult {
        accepted: Vec::new(),
        rejected: Vec::new(),
    };
    let mut alerts = Vec::new();
    for (index, outcome) in results.into_iter().enumerate() {
        match outcome {
            Ok(alert) => {
                result.accepted.push(AcceptedAlert {
                    index,
                    alert_id: alert.id.to_string(),
                    format: alert.format.to_string(),
                    rule: alert.rule.name.clone(),
                });
                alerts.push(alert);
            }
            Err(rejected) => result.rejected.push(RejectedRecord {
                index,
                reason: rejected.reason,
                dead_letter: rejected.dead_letter,
            }),
        }
    }
    crate::metrics::alerts_received(result.accepted.len(), result.rejected.len());
    let status = if alerts.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if let Some((permit, queued)) = local {
        permit.send(crate::Batch {
            alerts,
            received,
            queued,
            delivery: None,
        });
        StatusCode::ACCEPTED
    } else if let Some(stream) = state.stream() {
        // Answered only once the stream holds every alert: a 2xx means
        // nothing acknowledged can be lost.
        match stream.publish(&alerts).await {
            Ok(()) => StatusCode::ACCEPTED,
            Err(crate::queue::PublishError::Full) => return Ok(queue_full()),
            Err(err) => {
                tracing::error!(error = %err, alerts = alerts.len(), "push not queued");
                crate::metrics::push_refused("stream_unavailable");
                let mut response = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "stream_unavailable",
                    "the alert stream is unavailable; nothing was queued: send again after the \
                     Retry-After seconds"
                        .to_owned(),
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
                return Ok(response);
            }
        }
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(result)).into_response())
}

// ---- cases ----

async fn list_cases(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<CaseFilter>,
) -> Result<Json<CaseList>, ApiError> {
    Ok(Json(
        views::case_list(&state, &filter, views::ALL, 200).await?,
    ))
}

/// `GET /api/v1/cases/{id}?raw=true`: the alerts as they came.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CaseQuery {
    /// The alerts unredacted: soc_lead and admin only, and on the record.
    #[serde(default)]
    pub raw: bool,
}

/// Roles that may read a case's alerts unredacted (S6).
const RAW_ROLES: [&str; 2] = ["soc_lead", "admin"];

async fn show_case(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<CaseQuery>,
) -> Result<Json<views::CaseDetail>, ApiError> {
    if !query.raw {
        return Ok(Json(views::case_detail(&state, &id).await?));
    }
    let may = matches!(&principal, Principal::Person { person, .. }
        if person.roles.iter().any(|r| RAW_ROLES.contains(&r.as_str())));
    if !may {
        return Err(ApiError::forbidden(
            "the unredacted alerts are for soc_lead and admin only",
        ));
    }
    let case_id = views::parse_case_id(&id)?;
    // On the record before the payload is served (S5).
    warden_audit::AuditLog::append(
        &**state.audit(),
        &principal.actor(),
        warden_domain::AuditEvent::RawPayloadRead {
            case_id,
            by: principal.actor(),
        },
    )
    .await?;
    Ok(Json(views::case_detail_as(&state, &id, true).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteBody {
    pub text: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    pub ok: bool,
    pub message: String,
}

fn done(message: impl Into<String>) -> Json<Done> {
    Json(Done {
        ok: true,
        message: message.into(),
    })
}

async fn add_note(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<(StatusCode, Json<Done>), ApiError> {
    let person = person(&principal)?;
    let case_id = views::parse_case_id(&id)?;
    state
        .pipeline()
        .control()
        .add_note(case_id, person, &body.text)
        .await?;
    Ok((StatusCode::CREATED, done("note added")))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CloseBody {
    /// Your verdict: malicious, suspicious, benign, false_positive or unknown.
    #[schemars(extend("enum" = ["malicious", "suspicious", "benign", "false_positive", "unknown"]))]
    pub verdict: String,
    /// Why, in words.
    pub note: String,
    /// Required when your verdict differs from the agent's: what the agent
    /// got wrong (stored with the review, for tuning).
    #[schemars(extend("enum" = ["wrong_entity", "known_benign_activity", "missing_context", "bad_detection", "insufficient_evidence", "other"]))]
    pub reason: Option<String>,
    /// Words with the reason (required with `other`).
    pub reason_text: Option<String>,
}

/// Close a case (shared by the API and the UI); returns the use case's
/// new autonomy when the trust ladder stepped it down. `reason` (with
/// `reason_text`) is required when `verdict` differs from the agent's.
pub async fn close(
    state: &AppState,
    person: &warden_store::Person,
    id: &str,
    verdict: &str,
    note: &str,
    reason: Option<&str>,
    reason_text: &str,
) -> Result<Option<Autonomy>, ApiError> {
    let case_id = views::parse_case_id(id)?;
    if verdict.is_empty() {
        return Err(ApiError::bad_request(
            "choose your verdict: there is no default",
        ));
    }
    let verdict: Verdict = verdict
        .parse()
        .map_err(|_| ApiError::bad_request(format!("unknown verdict {verdict:?}")))?;
    let feedback = reason
        .map(|r| {
            r.parse::<OverrideReason>()
                .map(|r| Feedback::new(r, reason_text))
                .map_err(ApiError::bad_request)
        })
        .transpose()?;
    let alerts = state.store().alerts_of_case(case_id).await?;
    let use_case = views::use_case_of(state, &alerts);
    let stepped = state
        .pipeline()
        .control()
        .close_case(case_id, use_case, person, verdict, note, feedback)
        .await?;
    crate::metrics::case_closed(verdict);
    Ok(stepped)
}

async fn close_case(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Json<Done>, ApiError> {
    let person = person(&principal)?;
    Ok(done(
        match close(
            &state,
            person,
            &id,
            &body.verdict,
            &body.note,
            body.reason.as_deref().filter(|r| !r.is_empty()),
            body.reason_text.as_deref().unwrap_or_default(),
        )
        .await?
        {
            Some(level) => format!(
                "case closed; analysts overrode the agent too often, so its use case \
                 stepped down to {}",
                level.as_str()
            ),
            None => "case closed".to_owned(),
        },
    ))
}

// ---- approvals ----

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ApprovalFilter {
    /// pending (default), ready, rejected, expired, superseded, executed or all.
    #[schemars(extend("enum" = ["pending", "ready", "rejected", "expired", "superseded", "executed", "refused", "all"]))]
    pub status: Option<String>,
    /// Only this case's requests.
    pub case: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApprovalSummary {
    pub proposal_hash: String,
    pub case_id: String,
    pub use_case: String,
    pub title: String,
    pub status: String,
    pub approvals: u32,
    pub approvals_required: u32,
    pub roles: Vec<String>,
    pub requester: String,
    pub created_at: String,
    pub expires_at: String,
}

pub fn approval_summary(entry: &RequestWithAnswers) -> ApprovalSummary {
    let request = &entry.request;
    ApprovalSummary {
        proposal_hash: request.proposal_hash.to_string(),
        case_id: request.proposal.case_id.to_string(),
        use_case: request.use_case.clone(),
        title: request.card.title.clone(),
        status: request.status.as_str().to_owned(),
        approvals: entry.approvals.iter().filter(|a| a.approved).count() as u32,
        approvals_required: request.card.approvals_required,
        roles: request.card.roles.clone(),
        requester: request.requester.clone(),
        created_at: views::rfc3339(request.created_at),
        expires_at: views::rfc3339(request.expires_at),
    }
}

/// Requests under a filter, with their answers (shared with the UI).
pub async fn approvals(
    state: &AppState,
    filter: &ApprovalFilter,
) -> Result<Vec<RequestWithAnswers>, ApiError> {
    let status = match filter.status.as_deref() {
        None => Some(RequestStatus::Pending),
        Some("all") => None,
        Some(text) => Some(
            text.parse::<RequestStatus>()
                .map_err(|_| ApiError::bad_request(format!("unknown status {text:?}")))?,
        ),
    };
    let case = filter
        .case
        .as_deref()
        .map(views::parse_case_id)
        .transpose()?;
    let mut out = Vec::new();
    for request in state.store().approval_requests(status, case).await? {
        let approvals = state.store().approvals_of(&request.proposal_hash).await?;
        out.push(RequestWithAnswers { request, approvals });
    }
    Ok(out)
}

async fn list_approvals(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ApprovalFilter>,
) -> Result<Json<Vec<ApprovalSummary>>, ApiError> {
    Ok(Json(
        approvals(&state, &filter)
            .await?
            .iter()
            .map(approval_summary)
            .collect(),
    ))
}

/// One request by its full hash (shared with the UI).
pub async fn approval(state: &AppState, hash: &str) -> Result<RequestWithAnswers, ApiError> {
    let hash = ProposalHash::from_stored(hash.to_owned());
    let request = state
        .store()
        .approval_request(&hash)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no approval request for proposal {hash}")))?;
    let approvals = state.store().approvals_of(&hash).await?;
    Ok(RequestWithAnswers { request, approvals })
}

async fn show_approval(
    State(state): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<RequestWithAnswers>, ApiError> {
    Ok(Json(approval(&state, &hash).await?))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ApproveBody {
    /// The role to act in (default: the first of yours the request accepts).
    pub role: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Progress {
    pub valid: u32,
    pub needed: u32,
    /// The request is now an order the executor will run.
    pub ready: bool,
}

/// Approve (shared with the UI).
pub async fn approve_as(
    state: &AppState,
    person: &warden_store::Person,
    hash: &str,
    role: Option<&str>,
) -> Result<Progress, ApiError> {
    let entry = approval(state, hash).await?;
    let progress = state
        .pipeline()
        .control()
        .approve(&entry.request.proposal_hash, person, role)
        .await?;
    crate::metrics::approval_answered(&entry.request, state.now(), true);
    Ok(Progress {
        valid: progress.valid,
        needed: progress.needed,
        ready: progress.ready,
    })
}

async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(hash): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Progress>, ApiError> {
    let person = person(&principal)?;
    let role = extract::optional_json::<ApproveBody>(&body)?.and_then(|b| b.role);
    Ok(Json(
        approve_as(&state, person, &hash, role.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RejectBody {
    /// false_positive, too_disruptive, insufficient_evidence, wrong_target,
    /// not_permitted or other.
    #[schemars(extend("enum" = ["false_positive", "too_disruptive", "insufficient_evidence", "wrong_target", "not_permitted", "other"]))]
    pub reason: String,
    /// Why, in words.
    pub note: String,
}

/// Reject (shared with the UI).
pub async fn reject_as(
    state: &AppState,
    person: &warden_store::Person,
    hash: &str,
    reason: &str,
    note: &str,
) -> Result<(), ApiError> {
    let reason: RejectionReason = reason.parse().map_err(ApiError::bad_request)?;
    let entry = approval(state, hash).await?;
    state
        .pipeline()
        .control()
        .reject(&entry.request.proposal_hash, person, reason, note)
        .await?;
    crate::metrics::approval_answered(&entry.request, state.now(), false);
    Ok(())
}

async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(hash): ApiPath<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<Done>, ApiError> {
    let person = person(&principal)?;
    reject_as(&state, person, &hash, &body.reason, &body.note).await?;
    Ok(done("rejected"))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ModifyBody {
    /// The new proposal's parameters; keys left out are dropped.
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Modified {
    /// The new proposal, which someone else must approve.
    pub proposal_hash: String,
    pub approvals_required: u32,
}

/// Modify (shared with the UI).
pub async fn modify_as(
    state: &AppState,
    person: &warden_store::Person,
    hash: &str,
    parameters: BTreeMap<String, String>,
) -> Result<Modified, ApiError> {
    let entry = approval(state, hash).await?;
    let new = state
        .pipeline()
        .control()
        .modify(&entry.request.proposal_hash, person, parameters)
        .await?;
    Ok(Modified {
        proposal_hash: new.proposal_hash.to_string(),
        approvals_required: new.card.approvals_required,
    })
}

async fn modify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(hash): ApiPath<String>,
    ApiJson(body): ApiJson<ModifyBody>,
) -> Result<Json<Modified>, ApiError> {
    let person = person(&principal)?;
    Ok(Json(
        modify_as(&state, person, &hash, body.parameters).await?,
    ))
}

// ---- actions and executions ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionInfo {
    pub action: String,
    pub reverse: Option<String>,
    pub side_effect: bool,
    pub targets: Vec<String>,
    pub description: String,
}

async fn actions() -> Json<Vec<ActionInfo>> {
    Json(
        ActionName::ALL
            .iter()
            .map(|action| ActionInfo {
                action: action.as_str().to_owned(),
                reverse: action.reverse().map(|r| r.as_str().to_owned()),
                side_effect: action.has_side_effect(),
                targets: action
                    .target_kinds()
                    .iter()
                    .map(|k| k.as_str().to_owned())
                    .collect(),
                description: action.description().to_owned(),
            })
            .collect(),
    )
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ExecutionFilter {
    /// Only this case's executions.
    pub case: Option<String>,
    /// At most this many (default 200).
    pub limit: Option<u32>,
}

async fn executions(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ExecutionFilter>,
) -> Result<Json<Vec<views::AuditEntryView>>, ApiError> {
    let case = filter
        .case
        .as_deref()
        .map(views::parse_case_id)
        .transpose()?;
    let rows = state
        .store()
        .audit_search(&AuditQuery {
            case,
            kinds: vec!["action_executed".into()],
            limit: Some(filter.limit.unwrap_or(200).clamp(1, 10_000)),
            ..AuditQuery::default()
        })
        .await?;
    Ok(Json(
        rows.into_iter().map(views::AuditEntryView::of).collect(),
    ))
}

// ---- audit ----

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AuditFilter {
    pub case: Option<String>,
    /// Exact actor (`person:alice`, `agent:phishing`, `token:splunk`).
    pub actor: Option<String>,
    /// An event kind (`policy_decided`, `approval_recorded`, ...).
    pub kind: Option<String>,
    /// RFC 3339 instants.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Entries after this sequence number.
    #[schemars(range(max = 9_223_372_036_854_775_807_u64))]
    pub after: Option<u64>,
    /// At most this many (default 500, at most 10000).
    pub limit: Option<u32>,
}

fn instant(name: &str, text: Option<&str>) -> Result<Option<time::OffsetDateTime>, ApiError> {
    text.map(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|e| ApiError::bad_request(format!("{name} must be an RFC 3339 instant: {e}")))
    })
    .transpose()
}

/// Audit entries under a filter (shared with the UI).
pub async fn audit_entries(
    state: &AppState,
    filter: &AuditFilter,
) -> Result<Vec<views::AuditEntryView>, ApiError> {
    if filter
        .after
        .is_some_and(|after| i64::try_from(after).is_err())
    {
        return Err(ApiError::bad_request(
            "after is a sequence number, at most 9223372036854775807",
        ));
    }
    let query = AuditQuery {
        case: filter
            .case
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(views::parse_case_id)
            .transpose()?,
        actor: filter.actor.clone().filter(|a| !a.is_empty()),
        kinds: filter
            .kind
            .iter()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect(),
        since: instant("since", filter.since.as_deref().filter(|s| !s.is_empty()))?,
        until: instant("until", filter.until.as_deref().filter(|s| !s.is_empty()))?,
        after_seq: filter.after,
        limit: Some(filter.limit.unwrap_or(500).clamp(1, 10_000)),
    };
    Ok(state
        .store()
        .audit_search(&query)
        .await?
        .into_iter()
        .map(views::AuditEntryView::of)
        .collect())
}

async fn audit_search(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Json<Vec<views::AuditEntryView>>, ApiError> {
    Ok(Json(audit_entries(&state, &filter).await?))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VerificationView {
    pub ok: bool,
    /// Entries checked.
    pub entries: u64,
    /// Entries covered by the newest signed checkpoint.
    pub signed_entries: u64,
    /// Base64 root of the tree rebuilt from the entries.
    pub root: String,
    /// Signed checkpoints checked.
    pub checkpoints: usize,
    /// The first failure: `entry N: kind: detail`.
    pub failure: Option<String>,
    pub checked_at: String,
}

/// Verify the log now (shared with the UI).
pub async fn verification(state: &AppState) -> Result<VerificationView, ApiError> {
    let verification = warden_audit::verify::verify(&**state.store(), state.public_key()).await?;
    Ok(VerificationView {
        ok: verification.ok(),
        entries: verification.entries,
        signed_entries: verification.signed_entries,
        root: verification.root,
        checkpoints: verification.checkpoints,
        failure: verification
            .problem
            .map(|p| format!("entry {}: {}: {}", p.seq, p.kind.as_str(), p.detail)),
        checked_at: views::rfc3339(state.now()),
    })
}

async fn audit_verify(State(state): State<AppState>) -> Result<Json<VerificationView>, ApiError> {
    Ok(Json(verification(&state).await?))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckpointView {
    pub size: u64,
    /// Base64 root hash.
    pub root: String,
    /// The C2SP signed note.
    pub note: String,
    pub at: String,
}

async fn audit_checkpoint(
    State(state): State<AppState>,
) -> Result<Json<Option<CheckpointView>>, ApiError> {
    let newest = state.store().checkpoints().await?.pop();
    Ok(Json(newest.map(|c| CheckpointView {
        size: c.size,
        root: c.root,
        note: c.note,
        at: views::rfc3339(c.at),
    })))
}

async fn audit_sign(
    State(state): State<AppState>,
) -> Result<Json<Option<CheckpointView>>, ApiError> {
    let signed = state.audit().checkpoint().await?;
    Ok(Json(signed.map(|c| CheckpointView {
        size: c.size,
        root: c.root,
        note: c.note,
        at: views::rfc3339(c.at),
    })))
}

async fn audit_proof(
    State(state): State<AppState>,
    ApiPath(seq): ApiPath<u64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let size = state.store().audit_size().await?;
    if seq == 0 || seq > size {
        return Err(ApiError::not_found(format!(
            "no audit entry {seq}; the log holds entries 1 to {size}"
        )));
    }
    let mut newest = state.store().checkpoints().await?.pop();
    if newest.as_ref().is_none_or(|c| c.size < seq) {
        newest = state.audit().checkpoint().await?;
    }
    let checkpoint = newest.ok_or_else(|| ApiError::internal("no checkpoint could be signed"))?;
    let proof = warden_audit::proof::prove_inclusion(&**state.store(), seq, &checkpoint).await?;
    let proof = warden_audit::proof::AnyProof::Inclusion(proof);
    serde_json::to_value(&proof)
        .map(Json)
        .map_err(ApiError::internal)
}

// ---- use cases and the kill switch ----

async fn list_use_cases(State(state): State<AppState>) -> Result<Json<Vec<UseCaseView>>, ApiError> {
    Ok(Json(views::use_cases(&state).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AutonomyBody {
    /// shadow, draft, assisted or autonomous.
    #[schemars(extend("enum" = ["shadow", "draft", "assisted", "autonomous"]))]
    pub level: String,
    /// Why, in words.
    pub reason: String,
}

/// Set a use case's autonomy (shared with the UI).
pub async fn set_autonomy_as(
    state: &AppState,
    principal: &Principal,
    name: &str,
    level: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let level: Autonomy = level
        .parse()
        .map_err(|_| ApiError::bad_request(format!("unknown autonomy level {level:?}")))?;
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request("say why the level changes"));
    }
    let playbook = state
        .pipeline()
        .playbooks()
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no use case {name:?}")))?;
    state
        .pipeline()
        .control()
        .set_autonomy(&playbook.use_case, level, &principal.actor(), reason.trim())
        .await?;
    Ok(())
}

async fn set_autonomy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<AutonomyBody>,
) -> Result<Json<Done>, ApiError> {
    set_autonomy_as(&state, &principal, &name, &body.level, &body.reason).await?;
    Ok(done(format!("{name} is now {}", body.level)))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PauseView {
    /// `*` (everything) or a use case.
    pub scope: String,
    pub by: String,
    pub reason: String,
    pub at: String,
}

async fn kill_switches(State(state): State<AppState>) -> Result<Json<Vec<PauseView>>, ApiError> {
    Ok(Json(
        state
            .store()
            .pauses()
            .await?
            .into_iter()
            .map(|p| PauseView {
                scope: p.scope,
                by: p.by,
                reason: p.reason,
                at: views::rfc3339(p.at),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SwitchBody {
    /// One use case; absent: everything.
    pub use_case: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// Pull (`pull`) or release the kill switch (shared with the UI).
pub async fn switch_as(
    state: &AppState,
    principal: &Principal,
    use_case: Option<&str>,
    reason: &str,
    pull: bool,
) -> Result<(), ApiError> {
    let use_case = use_case.filter(|u| !u.is_empty() && *u != warden_store::GLOBAL_SCOPE);
    if let Some(name) = use_case
        && state.pipeline().playbooks().get(name).is_none()
    {
        return Err(ApiError::not_found(format!("no use case {name:?}")));
    }
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request("say why"));
    }
    let control = state.pipeline().control();
    let actor = principal.actor();
    if pull {
        control.pause(use_case, &actor, reason.trim()).await?;
    } else {
        control.resume(use_case, &actor, reason.trim()).await?;
    }
    Ok(())
}

/// `POST /api/v1/kill-switch` (`PULL`) and `/api/v1/kill-switch/release`.
async fn kill_switch<const PULL: bool>(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<SwitchBody>,
) -> Result<Json<Done>, ApiError> {
    switch_as(
        &state,
        &principal,
        body.use_case.as_deref(),
        &body.reason,
        PULL,
    )
    .await?;
    Ok(done(if PULL {
        "execution paused"
    } else {
        "execution resumed"
    }))
}

// ---- policy ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyView {
    pub version: String,
    pub policies: Vec<PolicyEntry>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyEntry {
    pub id: String,
    pub effect: String,
    pub description: Option<String>,
    pub approvals: u32,
    pub approver_roles: Vec<String>,
    pub built_in: bool,
    pub source: String,
}

async fn policy(State(state): State<AppState>) -> Json<PolicyView> {
    let engine = state.pipeline().policy();
    Json(PolicyView {
        version: engine.version().to_owned(),
        policies: engine
            .policies()
            .iter()
            .map(|p| PolicyEntry {
                id: p.id.clone(),
                effect: p.effect.to_owned(),
                description: p.description.clone(),
                approvals: p.approvals,
                approver_roles: p.approver_roles.clone(),
                built_in: p.built_in,
                source: p.source.clone(),
            })
            .collect(),
    })
}

// ---- tokens ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenView {
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

async fn list_tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(
        state
            .store()
            .api_tokens()
            .await?
            .into_iter()
            .map(|t| TokenView {
                name: t.name,
                scopes: t.scopes,
                created_by: t.created_by,
                created_at: views::rfc3339(t.created_at),
                revoked_at: t.revoked_at.map(views::rfc3339),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewToken {
    /// Unique name, usually the alert source (`splunk-prod`).
    pub name: String,
    /// alerts:write, read, metrics:read.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedToken {
    pub name: String,
    pub scopes: Vec<String>,
    /// The secret: shown this once, never stored.
    pub token: String,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    use crate::auth::token::{TokenError, create};
    let (secret, token) = create(
        &**state.store(),
        &**state.audit(),
        &body.name,
        &body.scopes,
        &principal.actor(),
        state.now(),
    )
    .await
    .map_err(|e| match e {
        TokenError::Store(store) => store.into(),
        TokenError::Audit(audit) => audit.into(),
        TokenError::Taken(_) => ApiError::conflict(e.to_string()),
        other => ApiError::bad_request(other.to_string()),
    })?;
    tracing::info!(token = %token.name, by = %principal.actor(), "API token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            name: token.name,
            scopes: token.scopes,
            token: secret,
        }),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Done>, ApiError> {
    let revoked = crate::auth::token::revoke(
        &**state.store(),
        &**state.audit(),
        &name,
        &principal.actor(),
        state.now(),
    )
    .await
    .map_err(|e| match e {
        crate::auth::token::TokenError::Store(store) => store.into(),
        other => ApiError::internal(other),
    })?;
    if !revoked {
        return Err(ApiError::not_found(format!("no live token named {name:?}")));
    }
    tracing::info!(token = %name, by = %principal.actor(), "API token revoked");
    Ok(done(format!("token {name} revoked")))
}
