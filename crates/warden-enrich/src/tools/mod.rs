//! Context sources as tools, all called through one wrapper.
//!
//! Every source enrichment may consult (the context files, STIX bundles,
//! the KEV catalogue, past cases in the store) is a [`ContextTool`]: a
//! name, a description, a JSON Schema for its parameters, and an async
//! `call`. Nothing calls a tool directly; [`ToolBox::call`] does, and it
//! applies the same guard rails to every source:
//!
//! - parameters are validated against the tool's schema before the call;
//! - each attempt has a time-out, and a time-out or a transient failure is
//!   retried with exponential backoff, a bounded number of times;
//! - the result is capped in size (findings beyond the cap are dropped and
//!   the truncation is recorded);
//! - the source's freshness is checked: findings from a stale source are
//!   marked stale, and a stale source that found nothing is a gap, because
//!   its silence proves nothing.
//!
//! A tool that fails for good becomes an [`EvidenceGap`], never a silent
//! omission (S4). The same schemas are what an LLM assessor will be shown
//! when it may ask for context itself.

mod embedded;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{EvidenceGap, Freshness, ObservableKind};

use crate::context::Source;

pub use embedded::{
    AssetTool, CaseHistoryTool, HistoryTool, IdentityTool, IncidentTool, IntelTool, KevTool,
    StixTool, VulnerabilityTool, is_internal_address, register_embedded,
};

/// One fact a tool found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: EvidenceKind,
    /// The entity it is about, if any.
    pub subject: Option<(ObservableKind, String)>,
    /// One line for a person.
    pub summary: String,
    /// The structured facts.
    pub facts: Value,
}

/// What a tool returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// Where the findings come from, and how old that is.
    pub source: Source,
    pub findings: Vec<Finding>,
    /// Lookups the source should have answered and did not ("no asset
    /// record for host x"): each becomes a gap.
    pub misses: Vec<String>,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The source cannot answer (absent, unreadable); retrying will not help.
    #[error("{0}")]
    Unavailable(String),
    /// The source may answer if asked again (busy, timed out).
    #[error("{0}")]
    Transient(String),
}

/// A read-only context source.
#[async_trait]
pub trait ContextTool: Send + Sync {
    /// Stable name (`asset_lookup`), used in playbooks and the audit record.
    fn name(&self) -> &'static str;
    /// What it answers, for people and models.
    fn description(&self) -> &'static str;
    /// JSON Schema of the parameters object.
    fn parameters(&self) -> Value;
    /// The source label gaps are recorded under when the call fails before
    /// the tool could say (`context/assets.csv`).
    fn source_label(&self) -> String;
    /// Why this deployment does not consult the tool's source, if it does
    /// not (`stix (not configured)`): the source was never set up, so the
    /// tool is not called and its silence is not a gap. `None` (the
    /// default) for a source that is always configured.
    fn not_consulted(&self) -> Option<String> {
        None
    }
    /// Look up `params` (already validated against [`Self::parameters`]).
    async fn call(&self, params: Value) -> Result<ToolOutput, ToolError>;
}

/// Guard rails of every call (`[tools]` in `warden.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolConfig {
    /// Time-out of one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts after the first, on a time-out or transient failure.
    pub retries: u32,
    /// Wait before the first retry, in milliseconds; doubled each retry.
    pub backoff_ms: u64,
    /// Largest result kept, in bytes of JSON findings; the rest is dropped
    /// and the truncation recorded as a gap.
    pub max_result_bytes: usize,
}

impl Default for ToolConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 2_000,
            retries: 2,
            backoff_ms: 100,
            max_result_bytes: 256 * 1024,
        }
    }
}

/// What a successful call gave, after the guard rails.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub source: Source,
    /// Findings within the size cap.
    pub findings: Vec<Finding>,
    /// Freshness of every finding (the source's).
    pub freshness: Freshness,
    /// Misses, truncation and stale silence, as gaps.
    pub gaps: Vec<EvidenceGap>,
    /// Attempts made (1 when the first succeeded).
    pub attempts: u32,
}

/// A tool with its compiled parameter schema.
struct Registered {
    tool: Arc<dyn ContextTool>,
    schema: jsonschema::Validator,
}

/// The registered tools and the wrapper every call goes through.
pub struct ToolBox {
    tools: BTreeMap<&'static str, Registered>,
    config: ToolConfig,
}

impl std::fmt::Debug for ToolBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolBox")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish()
    }
}

/// A tool's public description (for `warden` listings and LLM tool use).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDescription {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

impl ToolBox {
    pub fn new(config: ToolConfig) -> Self {
        Self {
            tools: BTreeMap::new(),
            config,
        }
    }

    /// Add a tool. Fails when its schema does not compile or its name is
    /// taken.
    pub fn register(&mut self, tool: Arc<dyn ContextTool>) -> Result<(), String> {
        let name = tool.name();
        if self.tools.contains_key(name) {
            return Err(format!("tool {name} is registered twice"));
        }
        let schema = jsonschema::validator_for(&tool.parameters())
            .map_err(|e| format!("tool {name}: parameter schema does not compile: {e}"))?;
        self.tools.insert(name, Registered { tool, schema });
        Ok(())
    }

    /// Whether a tool of that name is registered.
    pub fn has(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    /// Why the tool `name` is not consulted in this deployment (its source
    /// was never configured), or `None` when it is, or is not registered.
    pub fn not_consulted(&self, name: &str) -> Option<String> {
        self.tools.get(name)?.tool.not_consulted()
    }

    /// Names of every tool, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.tools.keys().copied().collect()
    }

    /// Every tool's name, description and parameter schema.
    pub fn describe(&self) -> Vec<ToolDescription> {
        self.tools
            .values()
            .map(|r| ToolDescription {
                name: r.tool.name(),
                description: r.tool.description(),
                parameters: r.tool.parameters(),
            })
            .collect()
    }

    /// Call `name` with `params` under the guard rails. Every failure comes
    /// back as the gap to record.
    pub async fn call(
        &self,
        name: &str,
        params: Value,
        now: OffsetDateTime,
    ) -> Result<ToolResult, EvidenceGap> {
        let Some(registered) = self.tools.get(name) else {
            return Err(EvidenceGap {
                source: format!("tool {name}"),
                reason: format!("no context tool named {name}"),
            });
        };
        let tool = &registered.tool;
        let gap = |reason: String| EvidenceGap {
            source: tool.source_label(),
            reason,
        };
        if let Err(error) = registered.schema.validate(&params) {
            // The message quotes the rejected value, which may be a list of
            // hundreds of entities: past a length, name it "the value" so
            // the gap stays readable and still says what is wrong.
            let mut problem = error.to_string();
            if problem.chars().count() > MAX_PROBLEM_CHARS {
                problem = shorten(
                    &error.masked_with("the value").to_string(),
                    MAX_PROBLEM_CHARS,
                );
            }
            let path = error.instance_path().to_string();
            return Err(gap(format!(
                "{name}: parameters rejected by its schema: {problem} (at {})",
                if path.is_empty() { "/" } else { path.as_str() }
            )));
        }

        let timeout = Duration::from_millis(self.config.timeout_ms);
        let mut attempts = 0;
        let output = loop {
            attempts += 1;
            let failure = match tokio::time::timeout(timeout, tool.call(params.clone())).await {
                Ok(Ok(output)) => break output,
                Ok(Err(ToolError::Unavailable(reason))) => return Err(gap(reason)),
                Ok(Err(ToolError::Transient(reason))) => reason,
                Err(_) => format!("{name} timed out after {} ms", self.config.timeout_ms),
            };
            if attempts > self.config.retries {
                return Err(gap(format!(
                    "{failure} (gave up after {attempts} attempt{})",
                    if attempts == 1 { "" } else { "s" }
                )));
            }
            let wait = self
                .config
                .backoff_ms
                .saturating_mul(1u64 << (attempts - 1).min(16));
            tokio::time::sleep(Duration::from_millis(wait)).await;
        };

        let label = output.source.label();
        let mut gaps: Vec<EvidenceGap> = output
            .misses
            .iter()
            .map(|miss| EvidenceGap {
                source: label.clone(),
                reason: miss.clone(),
            })
            .collect();

        // Size cap: keep whole findings while they fit.
        let mut findings = Vec::with_capacity(output.findings.len());
        let mut used = 0usize;
        let total = output.findings.len();
        for finding in output.findings {
            let size = serde_json::to_vec(&finding).map(|b| b.len()).unwrap_or(0);
            if used + size > self.config.max_result_bytes {
                break;
            }
            used += size;
            findings.push(finding);
        }
        if findings.len() < total {
            gaps.push(EvidenceGap {
                source: label.clone(),
                reason: format!(
                    "{name} returned {total} findings; only {} fit the {} byte result cap",
                    findings.len(),
                    self.config.max_result_bytes
                ),
            });
        }

        let freshness = output.source.freshness(now);
        if let Freshness::Stale { age_seconds } = freshness
            && findings.is_empty()
        {
            gaps.push(EvidenceGap {
                source: label.clone(),
                reason: format!(
                    "{label} is {} days old: it found nothing, and a stale source's silence proves nothing",
                    age_seconds / 86_400
                ),
            });
        }
        Ok(ToolResult {
            source: output.source,
            findings,
            freshness,
            gaps,
            attempts,
        })
    }
}

/// Longest schema problem quoted in a gap, in characters.
const MAX_PROBLEM_CHARS: usize = 300;

/// `text` cut to at most `max` characters, marked with `...` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", text.get(..end).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// The JSON Schema of a parameter type, as a JSON value.
pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests;
