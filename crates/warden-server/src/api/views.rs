//! What the API and the UI both show, assembled from the store once: case
//! summaries with filters and counts, a case's full record, use cases with
//! their autonomy and kill switch. Handlers in `api` serialise these; the
//! UI renders them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_domain::{
    Alert, Approval, ApprovalRequest, Assessment, Case, CaseId, CaseState, Decision, Evidence,
    EvidenceGap, Execution, Severity,
};
use warden_store::{AuditQuery, CaseNote, CaseReader};

use crate::AppState;
use crate::error::ApiError;

/// Cases read for one queue view: the newest this many.
pub const QUEUE_WINDOW: u32 = 1000;

/// Queue filters; every one given must match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct CaseFilter {
    /// A case state (`escalated`, `awaiting_approval`, `closed`, ...).
    #[schemars(extend("enum" = ["new", "enriched", "assessed", "decided", "auto_closed", "escalated", "awaiting_approval", "actioned", "closed"]))]
    pub state: Option<String>,
    /// A severity (`informational`, `low`, `medium`, `high`, `critical`).
    #[schemars(extend("enum" = ["informational", "low", "medium", "high", "critical"]))]
    pub severity: Option<String>,
    /// A use case (playbook) name.
    pub use_case: Option<String>,
    /// At most this many cases (default 200, at most 1000).
    pub limit: Option<u32>,
}

/// One row of the case queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseSummary {
    pub id: String,
    pub title: String,
    pub state: String,
    pub severity: String,
    pub verdict: Option<String>,
    pub disposition: Option<String>,
    pub alert_count: u64,
    pub use_case: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The queue: matching cases, newest first, and counts over the window.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseList {
    pub cases: Vec<CaseSummary>,
    /// Matching cases (before the limit).
    pub total: usize,
    /// Cases in the window by state, by severity and by use case (before
    /// filtering, so every filter shows how many it would find).
    pub by_state: BTreeMap<String, usize>,
    pub by_severity: BTreeMap<String, usize>,
    pub by_use_case: BTreeMap<String, usize>,
}

pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// The use case (playbook) a case's alerts select.
pub fn use_case_of<'a>(state: &'a AppState, alerts: &[Alert]) -> &'a warden_domain::UseCase {
    &state.pipeline().playbooks().select(alerts).use_case
}

fn summary(case: &Case, use_case: String) -> CaseSummary {
    CaseSummary {
        id: case.id.to_string(),
        title: case.title.clone(),
        state: case.state.as_str().to_owned(),
        severity: case.severity.to_string(),
        verdict: case.verdict.map(|v| v.as_str().to_owned()),
        disposition: case.disposition.map(|d| d.as_str().to_owned()),
        alert_count: case.alert_count,
        use_case,
        created_at: rfc3339(case.created_at),
        updated_at: rfc3339(case.updated_at),
    }
}

/// The queue under `filter`.
pub async fn case_list(state: &AppState, filter: &CaseFilter) -> Result<CaseList, ApiError> {
    if let Some(wanted) = &filter.state
        && CaseState::parse(wanted).is_none()
    {
        return Err(ApiError::bad_request(format!(
            "unknown state {wanted:?}; states are {}",
            CaseState::ALL.map(CaseState::as_str).join(", ")
        )));
    }
    if let Some(wanted) = &filter.severity
        && wanted.parse::<Severity>().is_err()
    {
        return Err(ApiError::bad_request(format!(
            "unknown severity {wanted:?}"
        )));
    }
    let limit = filter.limit.unwrap_or(200).clamp(1, QUEUE_WINDOW) as usize;
    let store = state.store();
    let mut list = CaseList {
        cases: Vec::new(),
        total: 0,
        by_state: BTreeMap::new(),
        by_severity: BTreeMap::new(),
        by_use_case: BTreeMap::new(),
    };
    for case in store.cases(QUEUE_WINDOW).await? {
        let alerts = store.alerts_of_case(case.id).await?;
        let row = summary(&case, use_case_of(state, &alerts).name.clone());
        *list.by_state.entry(row.state.clone()).or_default() += 1;
        *list.by_severity.entry(row.severity.clone()).or_default() += 1;
        *list.by_use_case.entry(row.use_case.clone()).or_default() += 1;
        let matches = filter.state.as_ref().is_none_or(|s| *s == row.state)
            && filter.severity.as_ref().is_none_or(|s| *s == row.severity)
            && filter.use_case.as_ref().is_none_or(|u| *u == row.use_case);
        if matches {
            list.total += 1;
            if list.cases.len() < limit {
                list.cases.push(row);
            }
        }
    }
    Ok(list)
}

/// An approval request with the answers given so far.
#[derive(Debug, Clone, Serialize)]
pub struct RequestWithAnswers {
    pub request: ApprovalRequest,
    pub approvals: Vec<Approval>,
}

/// An audit entry as shown: the parsed event beside its position.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditEntryView {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub stage: String,
    pub kind: String,
    pub case_id: Option<String>,
    /// The entry as hashed (canonical JSON), parsed.
    pub entry: serde_json::Value,
    pub leaf_hash: String,
}

impl AuditEntryView {
    pub fn of(row: warden_store::AuditRow) -> Self {
        Self {
            seq: row.seq,
            at: rfc3339(row.at),
            actor: row.actor,
            stage: row.stage,
            kind: row.kind,
            case_id: row.case_id.map(|c| c.to_string()),
            entry: serde_json::from_str(&row.entry).unwrap_or(serde_json::Value::String(row.entry)),
            leaf_hash: row.leaf_hash,
        }
    }
}

/// Everything about one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    pub case: Case,
    pub use_case: String,
    pub alerts: Vec<Alert>,
    pub evidence: Vec<Evidence>,
    pub gaps: Vec<EvidenceGap>,
    pub assessments: Vec<Assessment>,
    pub decisions: Vec<Decision>,
    pub approvals: Vec<RequestWithAnswers>,
    pub executions: Vec<Execution>,
    pub notes: Vec<CaseNoteView>,
    /// The case's audit entries, oldest first.
    pub timeline: Vec<AuditEntryView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseNoteView {
    pub author: String,
    pub text: String,
    pub created_at: String,
}

impl From<CaseNote> for CaseNoteView {
    fn from(note: CaseNote) -> Self {
        Self {
            author: note.author,
            text: note.text,
            created_at: rfc3339(note.created_at),
        }
    }
}

pub fn parse_case_id(id: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(id)
        .map_err(|_| ApiError::not_found(format!("no case {id:?}: case ids look like case-...")))
}

/// A case's whole record, or 404; its alerts redacted (S6).
pub async fn case_detail(state: &AppState, id: &str) -> Result<CaseDetail, ApiError> {
    case_detail_as(state, id, false).await
}

/// A case's whole record, or 404. Unless `raw`, every alert-origin value
/// of its alerts (entities, rule and product names, title, description,
/// raw payload) and its title are redacted (S6); the caller decides who
/// may ask for `raw` and puts that on the record.
pub async fn case_detail_as(state: &AppState, id: &str, raw: bool) -> Result<CaseDetail, ApiError> {
    let id = parse_case_id(id)?;
    let store = state.store();
    let case = store
        .case(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id} does not exist")))?;
    let mut case = case;
    let mut alerts = store.alerts_of_case(id).await?;
    if !raw {
        use warden_pipeline::redact::{redact_alert, redacted};
        alerts = alerts.iter().map(redact_alert).collect();
        case.title = redacted(&case.title);
    }
    let mut approvals = Vec::new();
    for request in store.approval_requests(None, Some(id)).await? {
        let answers = store.approvals_of(&request.proposal_hash).await?;
        approvals.push(RequestWithAnswers {
            request,
            approvals: answers,
        });
    }
    let timeline = store
        .audit_search(&AuditQuery {
            case: Some(id),
            ..AuditQuery::default()
        })
        .await?
        .into_iter()
        .map(AuditEntryView::of)
        .collect();
    Ok(CaseDetail {
        use_case: use_case_of(state, &alerts).name.clone(),
        evidence: store.evidence_of_case(id).await?,
        gaps: store.gaps_of_case(id).await?,
        assessments: store.assessments_of_case(id).await?,
        decisions: store.decisions_of_case(id).await?,
        executions: store.executions_of_case(id).await?,
        notes: store
            .notes_of_case(id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
        approvals,
        alerts,
        case,
        timeline,
    })
}

/// A use case with what is in force for it now.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UseCaseView {
    pub name: String,
    pub description: String,
    pub owner: String,
    /// The playbook's level.
    pub playbook_autonomy: String,
    /// The level in force (set at run time, or the playbook's).
    pub autonomy: String,
    /// Its own kill switch is pulled.
    pub paused: bool,
    /// The global kill switch is pulled (nothing executes).
    pub globally_paused: bool,
    pub allowed_actions: Vec<String>,
}

pub async fn use_cases(state: &AppState) -> Result<Vec<UseCaseView>, ApiError> {
    let pauses = state.store().pauses().await?;
    let global = pauses.iter().any(|p| p.scope == warden_store::GLOBAL_SCOPE);
    let control = state.pipeline().control();
    let mut views = Vec::new();
    for playbook in state.pipeline().playbooks().iter() {
        let use_case = &playbook.use_case;
        views.push(UseCaseView {
            name: use_case.name.clone(),
            description: playbook.description.clone(),
            owner: use_case.owner.clone(),
            playbook_autonomy: use_case.autonomy.as_str().to_owned(),
            autonomy: control.autonomy(use_case).await?.as_str().to_owned(),
            paused: pauses.iter().any(|p| p.scope == use_case.name),
            globally_paused: global,
            allowed_actions: use_case
                .allowed_actions
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        });
    }
    Ok(views)
}
