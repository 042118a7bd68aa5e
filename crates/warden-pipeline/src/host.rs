//! The pipeline's side of an assessment ([`AssessorHost`]): the read tools
//! an assessor may call, vetted, and the record of every model call.
//!
//! INVARIANT (S2): a tool call runs only when the playbook's plan lists the
//! tool and every text argument is one of the case's own structured
//! entities; anything else is refused, recorded and escalates.
//! INVARIANT (S5): a model exchange and a tool call are on the audit log
//! before the assessor sees their result.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use warden_assess::{AssessorHost, ToolAnswer, ToolRequest, ToolSpec};
use warden_audit::AuditLog;
use warden_domain::{AuditEvent, CaseId, Clock, ModelExchange, ObservableKind};
use warden_enrich::{DEFAULT_PLAN, Enrichment, ToolBox};

/// Most tool calls one assessor may ask for on one case.
const MAX_TOOL_CALLS: u32 = 16;

/// What the assessors of one case share: the evidence (which their tool
/// calls add to) and the refusals so far.
#[derive(Debug)]
pub(crate) struct CaseContext {
    pub enrichment: tokio::sync::Mutex<Enrichment>,
    pub refused: std::sync::Mutex<Vec<String>>,
}

impl CaseContext {
    pub fn new(enrichment: Enrichment) -> Self {
        Self {
            enrichment: tokio::sync::Mutex::new(enrichment),
            refused: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The refusals, for the escalation trigger.
    pub fn refusals(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// One assessor's host on one case.
pub(crate) struct CaseHost<'a> {
    pub audit: &'a Arc<dyn AuditLog>,
    pub clock: &'a Arc<dyn Clock>,
    pub tools: &'a ToolBox,
    pub case_id: CaseId,
    pub assessor: String,
    /// The tools the playbook's plan allows.
    pub plan: Vec<String>,
    /// The case's structured entities (the only allowed argument texts).
    pub entities: BTreeSet<String>,
    /// The clear value behind each redacted entity value the assessor
    /// was shown: the look-up runs on it, the record keeps the redacted
    /// form (S6).
    pub unredact: warden_enrich::redact::Unredact,
    pub context: &'a CaseContext,
    pub calls: AtomicU32,
}

impl<'a> CaseHost<'a> {
    /// The plan a playbook's tool list allows (every embedded tool when
    /// the list is empty, as enrichment does).
    pub fn plan_of(playbook_tools: &[String]) -> Vec<String> {
        if playbook_tools.is_empty() {
            DEFAULT_PLAN.iter().map(|t| (*t).to_owned()).collect()
        } else {
            playbook_tools.to_vec()
        }
    }

    /// Why `request` may not run, if it may not.
    fn refusal(&self, request: &ToolRequest) -> Option<String> {
        let tool: String = request.tool.chars().take(64).collect();
        if self.calls.fetch_add(1, Ordering::SeqCst) >= MAX_TOOL_CALLS {
            return Some(format!(
                "{tool}: more than {MAX_TOOL_CALLS} tool calls on one case"
            ));
        }
        if !self.plan.contains(&request.tool) || !self.tools.has(&request.tool) {
            return Some(format!("{tool} is not in the playbook's plan"));
        }
        let mut foreign = Vec::new();
        for (key, value) in &request.arguments {
            foreign_texts(key, value, &self.entities, &mut foreign);
        }
        if !foreign.is_empty() {
            return Some(format!(
                "{tool} was asked about {} value{} that {} not the case's own entities",
                foreign.len(),
                if foreign.len() == 1 { "" } else { "s" },
                if foreign.len() == 1 { "is" } else { "are" }
            ));
        }
        None
    }

    async fn refuse(&self, request: &ToolRequest, reason: String) -> Result<(), String> {
        self.audit
            .append(
                &format!("assessor:{}", self.assessor),
                AuditEvent::ToolRequestRejected {
                    case_id: self.case_id,
                    assessor: self.assessor.clone(),
                    tool: request.tool.chars().take(64).collect(),
                    reason: reason.clone(),
                },
            )
            .await
            .map_err(|e| format!("audit log: {e}"))?;
        if let Ok(mut refused) = self.context.refused.lock() {
            refused.push(reason);
        }
        Ok(())
    }
}

/// Collect every text leaf of an argument that is not a case entity. An
/// observable kind under a `kind` key (`{"kind": "host", "value": ...}`)
/// names a type, not a target, and is allowed.
fn foreign_texts(key: &str, value: &Value, entities: &BTreeSet<String>, out: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let names_a_kind =
                key == "kind" && ObservableKind::ALL.iter().any(|k| k.as_str() == text);
            if !names_a_kind && !entities.contains(text) {
                out.push(text.chars().take(60).collect());
            }
        }
        Value::Array(items) => {
            for item in items {
                foreign_texts(key, item, entities, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                foreign_texts(k, v, entities, out);
            }
        }
        // Numbers, booleans and null cannot name a target.
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

#[async_trait::async_trait]
impl AssessorHost for CaseHost<'_> {
    fn tools(&self) -> Vec<ToolSpec> {
        self.tools
            .describe()
            .into_iter()
            .filter(|t| self.plan.iter().any(|p| p == t.name))
            .map(|t| ToolSpec {
                name: t.name.to_owned(),
                description: t.description.to_owned(),
                parameters: t.parameters,
            })
            .collect()
    }

    async fn call_tool(&self, request: &ToolRequest) -> Result<ToolAnswer, String> {
        if let Some(reason) = self.refusal(request) {
            self.refuse(request, reason.clone()).await?;
            return Err(reason);
        }
        let mut arguments = Value::Object(request.arguments.clone());
        self.unredact.clear_value(&mut arguments);
        let mut enrichment = self.context.enrichment.lock().await;
        let (evidence, gaps) = enrichment
            .follow_up(self.tools, &request.tool, arguments, self.clock.now())
            .await;
        if let Some(call) = enrichment.tool_calls.last() {
            self.audit
                .append(
                    &format!("assessor:{}", self.assessor),
                    AuditEvent::ToolCalled {
                        case_id: self.case_id,
                        tool: call.tool.clone(),
                        parameters: {
                            let mut parameters = call.parameters.clone();
                            warden_enrich::redact::redact_value(&mut parameters);
                            parameters
                        },
                        outcome: warden_enrich::redact::redacted(&call.outcome),
                    },
                )
                .await
                .map_err(|e| format!("audit log: {e}"))?;
        }
        Ok(ToolAnswer { evidence, gaps })
    }

    async fn record_exchange(&self, exchange: ModelExchange) -> Result<(), String> {
        self.audit
            .append(
                &format!("assessor:{}", self.assessor),
                AuditEvent::ModelCalled {
                    case_id: self.case_id,
                    exchange,
                },
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("audit log: {e}"))
    }
}
