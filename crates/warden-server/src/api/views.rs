//! What the API and the UI both show, assembled from the store once: case
//! summaries with filters and counts, a case's full record, use cases with
//! their autonomy and kill switch. Handlers in `api` serialise these; the
//! UI renders them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_audit::AuditEntry;
use warden_domain::{
    Alert, Approval, ApprovalRequest, Assessment, AuditEvent, Case, CaseId, CaseState, Decision,
    Evidence, EvidenceGap, Execution, ExecutionStatus, ObservableKind, RequestStatus, Severity,
};
use warden_pipeline::redact::{redact_alert, redacted};
use warden_store::{AuditQuery, CaseNote};

use crate::AppState;
use crate::error::ApiError;

/// Cases on one page of the queue, unless the caller asks otherwise.
pub const PAGE_SIZE: u32 = 50;
/// At most this many cases on one page.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The queue's `state` meaning every state but `closed` and `auto_closed`.
pub const OPEN: &str = "open";
/// The queue's `state` meaning every state.
pub const ALL: &str = "all";

/// Queue filters (every one given must match), its order and its page.
/// These are the query parameters of `/cases` and `/api/v1/cases`: a
/// link with them is a saved view.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct CaseFilter {
    /// One search over title, rule, case id and the alerts' entities
    /// (host, user, IP, hash, domain, URL, email...): cases where any of
    /// them contains this text, ignoring case.
    pub q: Option<String>,
    /// A case state (`escalated`, `awaiting_approval`, `closed`, ...),
    /// `open` (every state but `closed` and `auto_closed`) or `all`.
    /// Not given: `all` in the API, `open` in the web UI.
    #[schemars(extend("enum" = ["open", "all", "new", "enriched", "assessed", "decided", "auto_closed", "escalated", "awaiting_approval", "actioned", "closed"]))]
    pub state: Option<String>,
    /// A severity (`informational`, `low`, `medium`, `high`, `critical`).
    #[schemars(extend("enum" = ["informational", "low", "medium", "high", "critical"]))]
    pub severity: Option<String>,
    /// A use case (playbook) name.
    pub use_case: Option<String>,
    /// The order: `severity` (highest first, then oldest first: the
    /// default), `age` (oldest first), `updated` (latest first), `title`,
    /// `state`, `host`, `user`, `use_case`, `alerts` (most first); a
    /// leading `-` reverses it.
    pub sort: Option<String>,
    /// The page, from 1.
    pub page: Option<u32>,
    /// Cases per page (default 200 in the API, 50 in the web UI; at most
    /// 1000).
    pub limit: Option<u32>,
}

/// A person's own verdict on a case (the latest, when several).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PersonVerdict {
    pub verdict: String,
    /// Who gave it.
    pub by: String,
    pub at: String,
    /// The agent's verdict it replaced.
    pub agent_verdict: String,
    /// Why the person's verdict differs from the agent's, when it does.
    pub override_reason: Option<String>,
    pub override_text: Option<String>,
}

/// What became of an order the executor took: `succeeded`, `failed` or
/// `refused`, with the connector's or the executor's reason.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActionOutcome {
    pub proposal_hash: String,
    pub action: String,
    pub target: String,
    pub status: String,
    pub detail: String,
    pub connector: String,
    pub at: String,
}

/// One row of the case queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseSummary {
    pub id: String,
    pub title: String,
    pub state: String,
    pub severity: String,
    /// The verdict that stands: the person's once someone closed or
    /// reviewed the case, the agent's before.
    pub verdict: Option<String>,
    /// The agent's verdict (from triage).
    pub agent_verdict: Option<String>,
    /// The person's verdict, when someone gave one.
    pub reviewed: Option<PersonVerdict>,
    pub disposition: Option<String>,
    /// Why the case is with people: escalation reasons as `code: reason`,
    /// suspected prompt injection first.
    pub escalation_reasons: Vec<String>,
    /// Orders the executor took for this case, and how each ended.
    pub outcomes: Vec<ActionOutcome>,
    /// The case's hosts and users (structured fields first), redacted.
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    pub alert_count: u64,
    pub use_case: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The queue: one page of matching cases, and counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseList {
    pub cases: Vec<CaseSummary>,
    /// Matching cases (over every page).
    pub total: usize,
    /// This page (from 1), the number of pages, and cases per page.
    pub page: u32,
    pub pages: u32,
    pub per_page: u32,
    /// The order applied (see [`CaseFilter::sort`]).
    pub sort: String,
    /// Every case by state, by severity and by use case (before
    /// filtering, so every filter shows how many it would find).
    pub by_state: BTreeMap<String, usize>,
    pub by_severity: BTreeMap<String, usize>,
    pub by_use_case: BTreeMap<String, usize>,
}

/// What the queue needs of a case's alerts: its use case, rule names and
/// entities, redacted (S6). Kept per case in [`FactsCache`].
#[derive(Debug, Clone, Default)]
pub struct CaseFacts {
    pub use_case: String,
    pub rules: Vec<String>,
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    /// Every entity value (lower case), for the search.
    pub search: Vec<String>,
}

/// What a case's alerts are: how many distinct, and how many received.
type AlertsStamp = (usize, u64);

/// The queue's facts per case, so that a page view reads each case's
/// alerts once per change instead of on every view. An entry holds while
/// the case has the same alerts (same distinct alerts and count), which
/// is the only thing the facts come from; the playbooks do not change
/// while the server runs.
#[derive(Debug, Default)]
pub struct FactsCache {
    entries: Mutex<HashMap<CaseId, (AlertsStamp, Arc<CaseFacts>)>>,
}

impl FactsCache {
    fn get(&self, case: &Case) -> Option<Arc<CaseFacts>> {
        let stamp = (case.alert_ids.len(), case.alert_count);
        let entries = self.entries.lock().ok()?;
        entries
            .get(&case.id)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, facts)| Arc::clone(facts))
    }

    fn put(&self, case: &Case, facts: Arc<CaseFacts>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(case.id, ((case.alert_ids.len(), case.alert_count), facts));
        }
    }
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn facts_of(state: &AppState, alerts: &[Alert]) -> CaseFacts {
    let mut facts = CaseFacts {
        use_case: use_case_of(state, alerts).name.clone(),
        ..CaseFacts::default()
    };
    let alerts: Vec<Alert> = alerts.iter().map(redact_alert).collect();
    // Structured entities first: those are the case's own; text-only ones
    // (found inside alert text) come after.
    for structured in [true, false] {
        for alert in &alerts {
            for o in alert
                .observables
                .iter()
                .filter(|o| o.is_structured() == structured)
            {
                match o.kind {
                    ObservableKind::Host => push_unique(&mut facts.hosts, o.value.clone()),
                    ObservableKind::User => push_unique(&mut facts.users, o.value.clone()),
                    _ => {}
                }
                push_unique(&mut facts.search, o.value.to_lowercase());
            }
        }
    }
    for alert in &alerts {
        push_unique(&mut facts.rules, alert.rule.name.clone());
    }
    facts
}

async fn case_facts(state: &AppState, case: &Case) -> Result<Arc<CaseFacts>, ApiError> {
    if let Some(facts) = state.case_facts().get(case) {
        return Ok(facts);
    }
    let alerts = state.store().alerts_of_case(case.id).await?;
    let facts = Arc::new(facts_of(state, &alerts));
    state.case_facts().put(case, Arc::clone(&facts));
    Ok(facts)
}

pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// The use case (playbook) a case's alerts select.
pub fn use_case_of<'a>(state: &'a AppState, alerts: &[Alert]) -> &'a warden_domain::UseCase {
    &state.pipeline().playbooks().select(alerts).use_case
}

/// An order of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Severity,
    Age,
    Updated,
    Title,
    State,
    Host,
    User,
    UseCase,
    Alerts,
}

impl SortKey {
    const ALL: [(&'static str, SortKey); 9] = [
        ("severity", SortKey::Severity),
        ("age", SortKey::Age),
        ("updated", SortKey::Updated),
        ("title", SortKey::Title),
        ("state", SortKey::State),
        ("host", SortKey::Host),
        ("user", SortKey::User),
        ("use_case", SortKey::UseCase),
        ("alerts", SortKey::Alerts),
    ];
}

/// `sort` as a key and whether it is reversed; `None` for an unknown one.
fn parse_sort(text: &str) -> Option<(SortKey, bool)> {
    let (name, reversed) = match text.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    SortKey::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, key)| (*key, reversed))
}

/// The names `sort` takes, for messages and the UI.
pub fn sort_names() -> impl Iterator<Item = &'static str> {
    SortKey::ALL.iter().map(|(n, _)| *n)
}

/// Whether a case is open (every state but `closed` and `auto_closed`).
pub fn is_open(state: CaseState) -> bool {
    !matches!(state, CaseState::Closed | CaseState::AutoClosed)
}

fn compare(
    key: SortKey,
    a: &(Case, Arc<CaseFacts>),
    b: &(Case, Arc<CaseFacts>),
) -> std::cmp::Ordering {
    let (ca, fa) = a;
    let (cb, fb) = b;
    let first = |v: &[String]| v.first().map(|s| s.to_lowercase()).unwrap_or_default();
    match key {
        // Highest severity first, then the case waiting longest.
        SortKey::Severity => cb
            .severity
            .cmp(&ca.severity)
            .then(ca.created_at.cmp(&cb.created_at)),
        SortKey::Age => ca.created_at.cmp(&cb.created_at),
        SortKey::Updated => cb.updated_at.cmp(&ca.updated_at),
        SortKey::Title => ca.title.to_lowercase().cmp(&cb.title.to_lowercase()),
        SortKey::State => ca.state.as_str().cmp(cb.state.as_str()),
        SortKey::Host => first(&fa.hosts).cmp(&first(&fb.hosts)),
        SortKey::User => first(&fa.users).cmp(&first(&fb.users)),
        SortKey::UseCase => fa.use_case.cmp(&fb.use_case),
        SortKey::Alerts => cb.alert_count.cmp(&ca.alert_count),
    }
    // Ties in the same order every time: the case id.
    .then_with(|| ca.id.to_string().cmp(&cb.id.to_string()))
}

fn matches_search(case: &Case, facts: &CaseFacts, needle: &str) -> bool {
    case.id.to_string().to_lowercase().contains(needle)
        || redacted(&case.title).to_lowercase().contains(needle)
        || facts
            .rules
            .iter()
            .any(|r| r.to_lowercase().contains(needle))
        || facts.search.iter().any(|v| v.contains(needle))
}

/// The queue under `filter`, in its order, one page of it. `default_state`
/// applies when the filter names none (`open` for the web UI's queue).
pub async fn case_list(
    state: &AppState,
    filter: &CaseFilter,
    default_state: &str,
    default_limit: u32,
) -> Result<CaseList, ApiError> {
    let wanted_state = filter.state.as_deref().unwrap_or(default_state);
    let state_filter: Option<Box<dyn Fn(CaseState) -> bool + Send + Sync>> = match wanted_state {
        ALL => None,
        OPEN => Some(Box::new(is_open)),
        text => match CaseState::parse(text) {
            Some(one) => Some(Box::new(move |s| s == one)),
            None => {
                return Err(ApiError::bad_request(format!(
                    "unknown state {text:?}; states are {OPEN}, {ALL}, {}",
                    CaseState::ALL.map(CaseState::as_str).join(", ")
                )));
            }
        },
    };
    let severity = match &filter.severity {
        Some(text) => Some(
            text.parse::<Severity>()
                .map_err(|_| ApiError::bad_request(format!("unknown severity {text:?}")))?,
        ),
        None => None,
    };
    let sort_text = filter.sort.clone().unwrap_or_else(|| "severity".to_owned());
    let Some((key, reversed)) = parse_sort(&sort_text) else {
        return Err(ApiError::bad_request(format!(
            "unknown sort {sort_text:?}; sorts are {} (a leading - reverses)",
            sort_names().collect::<Vec<_>>().join(", ")
        )));
    };
    let per_page = filter
        .limit
        .unwrap_or(default_limit)
        .clamp(1, MAX_PAGE_SIZE);
    let needle = filter
        .q
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());

    let store = state.store();
    let mut list = CaseList {
        cases: Vec::new(),
        total: 0,
        page: 1,
        pages: 1,
        per_page,
        sort: sort_text.clone(),
        by_state: BTreeMap::new(),
        by_severity: BTreeMap::new(),
        by_use_case: BTreeMap::new(),
    };
    let mut matching = Vec::new();
    for case in store.cases(u32::MAX).await? {
        let facts = case_facts(state, &case).await?;
        *list
            .by_state
            .entry(case.state.as_str().to_owned())
            .or_default() += 1;
        *list
            .by_severity
            .entry(case.severity.to_string())
            .or_default() += 1;
        *list.by_use_case.entry(facts.use_case.clone()).or_default() += 1;
        let matches = state_filter.as_ref().is_none_or(|f| f(case.state))
            && severity.is_none_or(|s| s == case.severity)
            && filter
                .use_case
                .as_ref()
                .is_none_or(|u| *u == facts.use_case)
            && needle
                .as_deref()
                .is_none_or(|n| matches_search(&case, &facts, n));
        if matches {
            matching.push((case, facts));
        }
    }
    matching.sort_by(|a, b| {
        let order = compare(key, a, b);
        if reversed { order.reverse() } else { order }
    });
    list.total = matching.len();
    list.pages = u32::try_from(matching.len().div_ceil(per_page as usize))
        .unwrap_or(u32::MAX)
        .max(1);
    list.page = filter.page.unwrap_or(1).clamp(1, list.pages);
    let skip = (list.page as usize - 1) * per_page as usize;
    for (case, facts) in matching.into_iter().skip(skip).take(per_page as usize) {
        let record = case_record(state, case.id).await?;
        list.cases.push(summary(&case, &facts, record));
    }
    Ok(list)
}

fn summary(case: &Case, facts: &CaseFacts, record: CaseRecord) -> CaseSummary {
    let agent_verdict = case.verdict.map(|v| v.as_str().to_owned());
    CaseSummary {
        id: case.id.to_string(),
        title: redacted(&case.title),
        state: case.state.as_str().to_owned(),
        severity: case.severity.to_string(),
        verdict: record
            .reviewed
            .as_ref()
            .map(|r| r.verdict.clone())
            .or_else(|| agent_verdict.clone()),
        agent_verdict,
        reviewed: record.reviewed,
        disposition: case.disposition.map(|d| d.as_str().to_owned()),
        escalation_reasons: record.escalation_reasons,
        outcomes: record.outcomes,
        hosts: facts.hosts.clone(),
        users: facts.users.clone(),
        alert_count: case.alert_count,
        use_case: facts.use_case.clone(),
        created_at: rfc3339(case.created_at),
        updated_at: rfc3339(case.updated_at),
    }
}

/// What a case's audit record says beyond the stored case: the person's
/// verdict, why it escalated, and how its orders ended.
#[derive(Debug, Clone, Default)]
pub struct CaseRecord {
    pub reviewed: Option<PersonVerdict>,
    pub escalation_reasons: Vec<String>,
    pub outcomes: Vec<ActionOutcome>,
}

/// The code of an escalation reason (`suspected_injection: ...`).
pub fn reason_code(reason: &str) -> &str {
    reason.split(':').next().unwrap_or(reason).trim()
}

/// Escalation reasons in the order people should read them: suspected
/// prompt injection first (the case's own text tried to steer the agent),
/// then as recorded; the same reason once.
fn order_reasons(reasons: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for reason in reasons {
        if !unique.contains(&reason) {
            unique.push(reason);
        }
    }
    let (mut first, rest): (Vec<String>, Vec<String>) = unique
        .into_iter()
        .partition(|r| reason_code(r) == "suspected_injection");
    first.extend(rest);
    first
}

/// The executor's refusal of an order that is not (or no longer) ready:
/// it changes nothing, so it is not the order's outcome.
const NOT_READY: &str = "the order is ";
/// The executor's refusal to run an order twice: the first run's outcome
/// stands.
const ALREADY_EXECUTED: &str = "already executed";

/// The case's record from the audit log and its stored executions. An
/// order's outcome is its stored execution when the executor ran it; an
/// order the executor refused before running it (kill switch, autonomy,
/// policy, approvals checked again) has only its audit entry, the first of
/// which gives the reason (later attempts only find it no longer ready).
pub async fn case_record(state: &AppState, id: CaseId) -> Result<CaseRecord, ApiError> {
    let store = state.store();
    let rows = store
        .audit_search(&AuditQuery {
            case: Some(id),
            kinds: vec![
                "escalated".into(),
                "case_reviewed".into(),
                "action_executed".into(),
            ],
            ..AuditQuery::default()
        })
        .await?;
    let mut record = CaseRecord::default();
    let mut reasons = Vec::new();
    let mut refusals: Vec<ActionOutcome> = Vec::new();
    for row in rows {
        let Ok(entry) = serde_json::from_str::<AuditEntry>(&row.entry) else {
            continue;
        };
        match entry.event {
            AuditEvent::Escalated { reasons: more, .. } => reasons.extend(more),
            AuditEvent::CaseReviewed {
                analyst,
                agent_verdict,
                analyst_verdict,
                override_reason,
                override_text,
                ..
            } => {
                record.reviewed = Some(PersonVerdict {
                    verdict: analyst_verdict.as_str().to_owned(),
                    by: analyst,
                    at: rfc3339(entry.at),
                    agent_verdict: agent_verdict.as_str().to_owned(),
                    override_reason: override_reason.map(|r| r.as_str().to_owned()),
                    override_text,
                });
            }
            AuditEvent::ActionExecuted {
                proposal_hash,
                action,
                target,
                connector,
                status: ExecutionStatus::Refused,
                detail,
                ..
            } if !detail.starts_with(NOT_READY)
                && !detail.starts_with(ALREADY_EXECUTED)
                && !refusals
                    .iter()
                    .any(|r| r.proposal_hash == proposal_hash.as_str()) =>
            {
                refusals.push(ActionOutcome {
                    proposal_hash: proposal_hash.to_string(),
                    action: action.to_string(),
                    target: target.label(),
                    status: ExecutionStatus::Refused.as_str().to_owned(),
                    detail,
                    connector,
                    at: rfc3339(entry.at),
                });
            }
            _ => {}
        }
    }
    record.escalation_reasons = order_reasons(reasons);
    let executions = store.executions_of_case(id).await?;
    let mut outcomes: Vec<ActionOutcome> = executions.iter().map(outcome_of).collect();
    for refusal in refusals {
        if !outcomes
            .iter()
            .any(|o| o.proposal_hash == refusal.proposal_hash)
        {
            outcomes.push(refusal);
        }
    }
    record.outcomes = outcomes;
    Ok(record)
}

fn outcome_of(execution: &Execution) -> ActionOutcome {
    ActionOutcome {
        proposal_hash: execution.proposal_hash.to_string(),
        action: execution.action.to_string(),
        target: execution.target.label(),
        status: execution.status.as_str().to_owned(),
        detail: execution.detail.clone(),
        connector: execution.connector.clone(),
        at: rfc3339(execution.at),
    }
}

/// What an approval request's status means for people, once the executor
/// had it: an order that ran shows how it ended (`succeeded` or `failed`),
/// never just `executed`; a refused one shows `refused`. Before that, the
/// request's own status. The outcome's reason goes with it.
pub fn shown_status(status: RequestStatus, outcome: Option<&ActionOutcome>) -> (String, String) {
    match (status, outcome) {
        (RequestStatus::Executed | RequestStatus::Refused, Some(o)) => {
            (o.status.clone(), o.detail.clone())
        }
        (RequestStatus::Refused, None) => (
            "refused".to_owned(),
            "the executor refused it; its reason is not on the record".to_owned(),
        ),
        (RequestStatus::Executed, None) => (
            "executed".to_owned(),
            "its result is not on the record yet".to_owned(),
        ),
        (other, _) => (other.as_str().to_owned(), String::new()),
    }
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
    /// The person's verdict, escalation reasons and order outcomes.
    #[serde(skip)]
    pub record: CaseRecord,
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
        record: case_record(state, id).await?,
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
