//! [`LlmAssessor`]: plan, then execute, then answer.
//!
//! 1. The playbook's plan already ran (enrichment): the model starts from
//!    that evidence, in the case document of [`crate::prompt`].
//! 2. It may call the read tools the host offers (the plan's tools), for a
//!    bounded number of calls; the host refuses any other tool and any
//!    argument that is not one of the case's entities (S2).
//! 3. It answers with the `submit_assessment` structure; a broken answer
//!    gets one repair request, then the case escalates (S4).
//!
//! Every call is recorded through the host before its reply is used (S5),
//! and every failure (time-out, rate limit, budget, protocol, size) ends
//! the run with an [`AssessorFailure`]: the pipeline escalates it.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_assess::{
    AssessmentInput, Assessor, AssessorFailure, AssessorFlag, AssessorHost, AssessorRun,
    ToolRequest,
};
use warden_domain::alert::structured_entities;
use warden_domain::hashing::sha256_hex;
use warden_domain::{Evidence, ModelExchange};

use crate::answer::{self, SUBMIT};
use crate::chat::{ChatReply, ChatRequest, Finish, Message, ToolSpec, Usage};
use crate::config::LlmConfig;
use crate::prompt::{self, PROMPT_VERSION, SYSTEM_PROMPT};
use crate::record::Recorder;
use crate::transport::{CallKey, CallOutcome, Transport};

/// Most bytes of an answer kept in the record (the rest is bound by its
/// hash and size).
const MAX_RECORDED_RESPONSE: usize = 64 * 1024;

/// The LLM assessor.
#[derive(Debug)]
pub struct LlmAssessor {
    name: String,
    transport: Arc<dyn Transport>,
    config: LlmConfig,
    recorder: Option<Arc<Recorder>>,
}

impl LlmAssessor {
    /// An assessor named `name` (`llm`, `llm-second`) asking `transport`.
    pub fn new(name: &str, transport: Arc<dyn Transport>, config: LlmConfig) -> Self {
        Self {
            name: name.to_owned(),
            transport,
            config,
            recorder: None,
        }
    }

    /// Also append every exchange to `recorder` (a recording to replay).
    pub fn with_recorder(mut self, recorder: Arc<Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }
}

/// What one run has spent.
#[derive(Debug, Default)]
struct Spent {
    usage: Usage,
    tool_calls: u32,
}

impl Spent {
    fn cost(&self, config: &LlmConfig) -> f64 {
        (self.usage.prompt_tokens as f64 * config.input_price_per_million
            + self.usage.completion_tokens as f64 * config.output_price_per_million)
            / 1_000_000.0
    }

    /// Why no further call may be made, if the budget is spent.
    fn exhausted(&self, config: &LlmConfig) -> Option<String> {
        if self.usage.total() >= config.max_tokens_per_case {
            return Some(format!(
                "the case's token budget is spent ({} of {} tokens)",
                self.usage.total(),
                config.max_tokens_per_case
            ));
        }
        if config.max_cost_per_case > 0.0 && self.cost(config) >= config.max_cost_per_case {
            return Some(format!(
                "the case's cost budget is spent (${:.4} of ${:.4})",
                self.cost(config),
                config.max_cost_per_case
            ));
        }
        None
    }
}

impl LlmAssessor {
    /// Record `outcome` of call `key` (S5), before its reply is used.
    async fn record(
        &self,
        host: &dyn AssessorHost,
        key: &CallKey,
        outcome: &CallOutcome,
    ) -> Result<(), AssessorFailure> {
        let wire = &outcome.wire;
        let request_text = serde_json::to_string(&wire.request).unwrap_or_default();
        let mut response = wire.response.clone();
        if response.len() > MAX_RECORDED_RESPONSE {
            let mut cut = MAX_RECORDED_RESPONSE;
            while !response.is_char_boundary(cut) {
                cut -= 1;
            }
            response.truncate(cut);
        }
        let usage = outcome.reply.as_ref().map(|r| r.usage).unwrap_or_default();
        let exchange = ModelExchange {
            assessor: self.name.clone(),
            provider: wire.provider.clone(),
            model: self.transport.model().to_owned(),
            prompt_version: PROMPT_VERSION.to_owned(),
            fingerprint: key.fingerprint.clone(),
            step: key.step,
            request: wire.request.clone(),
            request_sha256: sha256_hex(request_text.as_bytes()),
            status: wire.status,
            response_sha256: sha256_hex(wire.response.as_bytes()),
            response,
            response_bytes: wire.response_bytes,
            attempts: wire.attempts,
            latency_ms: wire.latency_ms,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            outcome: match &outcome.reply {
                Ok(reply) if reply.finish == Finish::ToolCalls && !has_answer(reply) => {
                    "tool_calls".into()
                }
                Ok(_) => "answered".into(),
                Err(err) => err.to_string().chars().take(300).collect(),
            },
        };
        if let Some(recorder) = &self.recorder {
            recorder.append(&exchange).map_err(AssessorFailure)?;
        }
        host.record_exchange(exchange)
            .await
            .map_err(|e| AssessorFailure(format!("the model call could not be recorded: {e}")))
    }
}

/// Whether a reply carries the final answer (text, or the submit tool).
fn has_answer(reply: &ChatReply) -> bool {
    reply.tool_calls.iter().any(|c| c.name == SUBMIT)
        || (reply.tool_calls.is_empty()
            && reply.text.as_deref().is_some_and(|t| !t.trim().is_empty()))
}

/// The answer text of a reply: the submit tool's arguments, or the text.
fn answer_text(reply: &ChatReply) -> Option<String> {
    if let Some(call) = reply.tool_calls.iter().find(|c| c.name == SUBMIT) {
        return Some(match &call.arguments {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        });
    }
    reply.text.clone().filter(|t| !t.trim().is_empty())
}

/// A tool result as the model sees it: the evidence records (least data,
/// as in the case document) and gaps, or the refusal.
/// Evidence and gap reasons name the case's entities: spotlighted as in
/// the case document (`origin`, from [`prompt::alert_strings`]).
fn tool_result(
    result: &Result<warden_assess::ToolAnswer, String>,
    origin: &std::collections::BTreeSet<String>,
) -> String {
    match result {
        Ok(found) => json!({
            "evidence": found.evidence.iter().map(|e| prompt::evidence_record(e, origin)).collect::<Vec<_>>(),
            "gaps": {"untrusted": found.gaps.iter().map(|g| json!({"source": g.source, "reason": g.reason})).collect::<Vec<_>>()},
        }),
        Err(reason) => json!({"refused": reason}),
    }
    .to_string()
}

#[async_trait::async_trait]
impl Assessor for LlmAssessor {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> String {
        format!(
            "{}:{} ({PROMPT_VERSION})",
            self.transport.provider(),
            self.transport.model()
        )
    }

    async fn assess(&self, input: &AssessmentInput<'_>, host: &dyn AssessorHost) -> AssessorRun {
        let mut spent = Spent::default();
        let mut flags = Vec::new();
        let outcome = self.converse(input, host, &mut spent, &mut flags).await;
        AssessorRun {
            outcome,
            flags,
            tokens: spent.usage.total(),
        }
    }
}

impl LlmAssessor {
    async fn converse(
        &self,
        input: &AssessmentInput<'_>,
        host: &dyn AssessorHost,
        spent: &mut Spent,
        flags: &mut Vec<AssessorFlag>,
    ) -> Result<warden_domain::Assessment, AssessorFailure> {
        let fingerprint = input.payload_fingerprint();
        let document = prompt::case_document(input, self.config.max_untrusted_chars);
        let origin = prompt::alert_strings(input.alerts);
        let tools: Vec<ToolSpec> = host.tools();
        let mut evidence: Vec<Evidence> = input.evidence.to_vec();
        let mut messages = vec![Message::User {
            content: document.to_string(),
        }];
        let mut repaired = false;
        for step in 0..self.config.max_steps {
            if let Some(reason) = spent.exhausted(&self.config) {
                flags.push(AssessorFlag {
                    code: "llm_budget_exhausted",
                    reason: reason.clone(),
                });
                return Err(AssessorFailure(reason));
            }
            // The last step, or a spent tool budget: answer now.
            let may_call =
                step + 1 < self.config.max_steps && spent.tool_calls < self.config.max_tool_calls;
            let request = ChatRequest {
                system: SYSTEM_PROMPT.to_owned(),
                messages: messages.clone(),
                tools: if may_call { tools.clone() } else { Vec::new() },
                output: answer::output_spec(),
                max_tokens: self.config.max_output_tokens,
            };
            let key = CallKey {
                fingerprint: fingerprint.clone(),
                step,
            };
            let outcome = self.transport.chat(&key, &request).await;
            self.record(host, &key, &outcome).await?;
            let reply = outcome
                .reply
                .map_err(|e| AssessorFailure(format!("the model call failed: {e}")))?;
            spent.usage.prompt_tokens += reply.usage.prompt_tokens;
            spent.usage.completion_tokens += reply.usage.completion_tokens;
            if reply.finish == Finish::Length {
                return Err(AssessorFailure(format!(
                    "the model's answer was cut at the {}-token limit",
                    self.config.max_output_tokens
                )));
            }

            if !has_answer(&reply) && !reply.tool_calls.is_empty() {
                // The investigation: run each call through the host.
                messages.push(Message::Assistant {
                    text: reply.text.clone(),
                    tool_calls: reply.tool_calls.clone(),
                });
                for call in &reply.tool_calls {
                    spent.tool_calls += 1;
                    let result = match &call.arguments {
                        Value::Object(arguments)
                            if spent.tool_calls <= self.config.max_tool_calls =>
                        {
                            host.call_tool(&ToolRequest {
                                tool: call.name.clone(),
                                arguments: arguments.clone(),
                            })
                            .await
                        }
                        Value::Object(_) => Err(format!(
                            "tool budget spent ({} calls per case)",
                            self.config.max_tool_calls
                        )),
                        _ => Err("the arguments are not a JSON object".to_owned()),
                    };
                    if let Ok(found) = &result {
                        for item in &found.evidence {
                            if !evidence.iter().any(|e| e.id == item.id) {
                                evidence.push(item.clone());
                            }
                        }
                    }
                    messages.push(Message::Tool {
                        call_id: call.id.clone(),
                        content: tool_result(&result, &origin),
                    });
                }
                continue;
            }

            let problem = match answer_text(&reply) {
                None => "the reply held neither tool calls nor an answer".to_owned(),
                Some(text) => {
                    let known: BTreeSet<String> =
                        evidence.iter().map(|e| e.id.as_str().to_owned()).collect();
                    match answer::parse(&text, &known) {
                        Ok(parsed) => return Ok(self.conclude(&parsed, input, &evidence, flags)),
                        Err(problem) => problem,
                    }
                }
            };
            if repaired {
                return Err(AssessorFailure(format!(
                    "the answer was still unusable after one repair: {problem}"
                )));
            }
            repaired = true;
            messages.push(Message::Assistant {
                text: reply.text.clone(),
                tool_calls: reply.tool_calls.clone(),
            });
            // Answer every tool call of the broken reply, as providers
            // require, then ask for the repair.
            for call in &reply.tool_calls {
                messages.push(Message::Tool {
                    call_id: call.id.clone(),
                    content: json!({"refused": "not run: the reply must be the answer"})
                        .to_string(),
                });
            }
            messages.push(Message::User {
                content: json!({"repair": problem, "instruction": format!("Send the corrected answer with {SUBMIT}.")}).to_string(),
            });
        }
        Err(AssessorFailure(format!(
            "no usable answer within {} model calls",
            self.config.max_steps
        )))
    }

    /// The checked answer as an assessment, with its flags.
    fn conclude(
        &self,
        parsed: &answer::Answer,
        input: &AssessmentInput<'_>,
        evidence: &[Evidence],
        flags: &mut Vec<AssessorFlag>,
    ) -> warden_domain::Assessment {
        let entities = structured_entities(input.alerts);
        let (assessment, outside) =
            answer::to_assessment(parsed, &self.name, input.case.id, &entities);
        let hallucinations = answer::contradictions(parsed, evidence);
        if !hallucinations.is_empty() {
            flags.push(AssessorFlag {
                code: "hallucination",
                reason: hallucinations.join("; "),
            });
        }
        if !outside.is_empty() {
            flags.push(AssessorFlag {
                code: "target_outside_case",
                reason: format!("the model proposed {}", outside.join("; ")),
            });
        }
        assessment
    }
}
