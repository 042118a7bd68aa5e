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
use crate::chat::{
    AnswerAs, ChatReply, ChatRequest, Finish, Message, Sampling, ToolCall, ToolSpec, Usage,
};
use crate::config::{LlmConfig, StructuredOutput};
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
    /// An assessor named `name` (`llm`, `llm-second`) asking `transport`,
    /// under `config` with its profile applied (so a replay builds the
    /// requests the recorded run built).
    pub fn new(name: &str, transport: Arc<dyn Transport>, config: LlmConfig) -> Self {
        Self {
            name: name.to_owned(),
            transport,
            config: config.with_profile(),
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
        calls_in_text: bool,
    ) -> Result<(), AssessorFailure> {
        let wire = &outcome.wire;
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
            request: Box::new(wire.request.clone()),
            request_sha256: sha256_hex(wire.request_text.as_bytes()),
            request_text: Some(wire.request_text.clone().into_boxed_str()),
            status: wire.status,
            response_sha256: wire.response_sha256.clone(),
            answer: serde_json::from_str(&response).ok().map(Box::new),
            response,
            response_bytes: wire.response_bytes,
            attempts: wire.attempts,
            latency_ms: wire.latency_ms,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            outcome: match &outcome.reply {
                Ok(_) if calls_in_text => "tool_calls written as text".into(),
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

/// Most tool calls read from one reply's text.
const MAX_TEXT_CALLS: usize = 8;

/// Tool calls a model wrote as text because the server did not parse its
/// chat template's tool-call syntax: the reply has no `tool_calls`, and its
/// text is nothing but calls of offered tools, each a JSON object
/// `{"name": TOOL, "arguments": {...}}`, bare, in Markdown code fences or
/// between `<tool_call>` tags (the Hermes format of Qwen's template; the
/// llama.cpp server shipped by xllamacpp 2026.10 returns such calls as
/// content). Prose outside fences or tags is ignored. Anything else (a
/// name that was not offered, other keys, text that is not JSON) leaves
/// the reply as it is. The calls go through the host's vetting like any
/// other (S2): reading them changes what the model may do in no way.
fn text_tool_calls(reply: &ChatReply, offered: &[&str]) -> Option<Vec<ToolCall>> {
    if !reply.tool_calls.is_empty() {
        return None;
    }
    let text = reply.text.as_deref()?.trim();
    let segments: Vec<&str> = if text.contains("<tool_call>") {
        text.split("<tool_call>")
            .skip(1)
            .map(|s| s.split("</tool_call>").next().unwrap_or(s))
            .collect()
    } else if text.contains("```") {
        // The odd pieces are inside fences; a language tag may open one.
        text.split("```")
            .skip(1)
            .step_by(2)
            .map(|s| s.strip_prefix("json").unwrap_or(s))
            .collect()
    } else {
        vec![text]
    };
    let mut calls = Vec::new();
    for segment in segments {
        for value in serde_json::Deserializer::from_str(segment).into_iter::<Value>() {
            let Ok(Value::Object(object)) = value else {
                return None;
            };
            if object.len() != 2 {
                return None;
            }
            let name = object.get("name")?.as_str()?;
            if !offered.contains(&name) {
                return None;
            }
            let arguments = match object.get("arguments")? {
                Value::String(raw) => {
                    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()))
                }
                other => other.clone(),
            };
            calls.push(ToolCall {
                id: format!("call_text_{}", calls.len()),
                name: name.to_owned(),
                arguments,
            });
            if calls.len() > MAX_TEXT_CALLS {
                return None;
            }
        }
    }
    (!calls.is_empty()).then_some(calls)
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
    /// How a request offers the answer: `[llm] structured_output`, and
    /// the tool always for a provider without `response_format`.
    fn answer_as(&self, offers_tools: bool) -> AnswerAs {
        if !self.transport.has_response_format() {
            return AnswerAs::Tool;
        }
        match self.config.structured_output {
            StructuredOutput::Tool => AnswerAs::Tool,
            StructuredOutput::ResponseFormat => AnswerAs::ResponseFormat,
            StructuredOutput::Auto if offers_tools => AnswerAs::Tool,
            StructuredOutput::Auto => AnswerAs::ResponseFormat,
        }
    }

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
        // A broken answer's problem, told with the next request.
        let mut repair: Option<String> = None;
        for step in 0..self.config.max_steps {
            if let Some(reason) = spent.exhausted(&self.config) {
                flags.push(AssessorFlag {
                    code: "llm_budget_exhausted",
                    reason: reason.clone(),
                });
                return Err(AssessorFailure(reason));
            }
            // The last step, or a spent tool budget: answer now.
            let may_call = step + 1 < self.config.max_steps
                && spent.tool_calls < self.config.max_tool_calls
                && !tools.is_empty();
            let answer_as = self.answer_as(may_call);
            let output = answer::output_spec();
            if let Some(problem) = repair.take() {
                // The repair names the way this request offers the answer.
                messages.push(Message::User {
                    content:
                        json!({"repair": problem, "instruction": answer_as.instruction(&output)})
                            .to_string(),
                });
            }
            let request = ChatRequest {
                system: SYSTEM_PROMPT.to_owned(),
                messages: messages.clone(),
                tools: if may_call { tools.clone() } else { Vec::new() },
                output,
                answer_as,
                max_tokens: self.config.max_output_tokens,
                sampling: Sampling {
                    frequency_penalty: self.config.frequency_penalty,
                    repeat_penalty: self.config.repeat_penalty,
                },
            };
            let key = CallKey {
                fingerprint: fingerprint.clone(),
                step,
            };
            let outcome = self.transport.chat(&key, &request).await;
            let mut offered: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
            offered.push(SUBMIT);
            let written = outcome
                .reply
                .as_ref()
                .ok()
                .filter(|r| r.finish != Finish::Length)
                .and_then(|r| text_tool_calls(r, &offered));
            self.record(host, &key, &outcome, written.is_some()).await?;
            let mut reply = outcome
                .reply
                .map_err(|e| AssessorFailure(format!("the model call failed: {e}")))?;
            if let Some(calls) = written {
                reply.text = None;
                reply.tool_calls = calls;
                reply.finish = Finish::ToolCalls;
            }
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
            repair = Some(problem);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> ChatReply {
        ChatReply {
            text: Some(text.to_owned()),
            tool_calls: Vec::new(),
            finish: Finish::Stop,
            usage: Usage::default(),
            model: "m".into(),
        }
    }

    const OFFERED: &[&str] = &["identity_lookup", "intel_lookup", SUBMIT];

    #[test]
    fn calls_written_as_text_are_read_in_every_form_a_template_uses() {
        for text in [
            r#"{"name": "identity_lookup", "arguments": {"users": ["amartin"]}}"#,
            "```json\n{\"name\": \"identity_lookup\", \"arguments\": {\"users\": [\"amartin\"]}}\n```",
            "I will look the account up.\n<tool_call>\n{\"name\": \"identity_lookup\", \"arguments\": \"{\\\"users\\\": [\\\"amartin\\\"]}\"}\n</tool_call>",
        ] {
            let calls = text_tool_calls(&reply(text), OFFERED).expect(text);
            assert_eq!(calls.len(), 1, "{text}");
            assert_eq!(calls[0].name, "identity_lookup");
            assert_eq!(calls[0].arguments, json!({"users": ["amartin"]}));
        }
        let two = "<tool_call>\n{\"name\": \"identity_lookup\", \"arguments\": {\"users\": [\"a\"]}}\n</tool_call>\n<tool_call>\n{\"name\": \"intel_lookup\", \"arguments\": {\"ips\": [\"203.0.113.7\"]}}\n</tool_call>";
        let calls = text_tool_calls(&reply(two), OFFERED).unwrap();
        assert_eq!(
            calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["call_text_0", "call_text_1"]
        );
        let answer = r#"{"name": "submit_assessment", "arguments": {"verdict": "benign"}}"#;
        let calls = text_tool_calls(&reply(answer), OFFERED).unwrap();
        assert_eq!(calls[0].name, SUBMIT);
    }

    #[test]
    fn text_that_is_not_only_offered_calls_stays_text() {
        for text in [
            // A tool that was not offered (a playbook's name, an invented one).
            r#"{"name": "suspicious-sign-in", "arguments": {"evidence_id": "ev-alert-1"}}"#,
            r#"{"name": "shell_exec", "arguments": {"command": "id"}}"#,
            // The answer itself, or other keys beside the call.
            r#"{"verdict": "benign", "severity": "low"}"#,
            r#"{"name": "identity_lookup", "arguments": {}, "note": "x"}"#,
            // One call and something else.
            "```json\n{\"name\": \"identity_lookup\", \"arguments\": {}}\n```\n```json\n[1, 2]\n```",
            "not JSON at all",
            "",
        ] {
            assert!(text_tool_calls(&reply(text), OFFERED).is_none(), "{text}");
        }
        let mut parsed = reply(r#"{"name": "identity_lookup", "arguments": {}}"#);
        parsed.tool_calls.push(ToolCall {
            id: "c".into(),
            name: "intel_lookup".into(),
            arguments: json!({}),
        });
        assert!(
            text_tool_calls(&parsed, OFFERED).is_none(),
            "parsed calls win"
        );
    }
}
