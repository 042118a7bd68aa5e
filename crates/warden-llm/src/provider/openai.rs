//! OpenAI chat completions on the wire (`POST {base_url}/chat/completions`),
//! as OpenAI, Azure OpenAI, vLLM, Ollama and the llama.cpp server speak it.
//!
//! Only fields every one of those servers accepts are sent: `max_tokens`
//! (not the newer `max_completion_tokens`, which the local servers ignore),
//! `temperature: 0` for repeatable answers, and the penalties only when
//! configured (OpenAI refuses `repeat_penalty`).
//!
//! The final answer is offered as the request's [`AnswerAs`] says:
//!
//! - `Tool`: one more function tool named after the
//!   [`crate::chat::OutputSpec`] and no `response_format`, with
//!   `tool_choice: "required"` (or that tool by name when it is the only
//!   one). A server that compiles `response_format` into an output grammar
//!   (the llama.cpp server) would otherwise leave the model no way to call
//!   a read tool.
//! - `ResponseFormat`: `response_format: json_schema` with `strict: false`
//!   (strict mode would refuse the schema features the assessment schema
//!   uses), beside the read tools if any.

use serde_json::{Map, Value, json};

use super::{decode_json, field_error, protocol};
use crate::chat::{AnswerAs, ChatReply, ChatRequest, Finish, Message, ToolCall, Usage};
use crate::transport::{LlmError, LlmErrorKind};

/// The request body for `model`.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len().saturating_add(1));
    messages.push(json!({ "role": "system", "content": request.system }));
    messages.extend(request.messages.iter().map(message));

    let function = |name: &str, description: &str, parameters: &Value| {
        json!({
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": parameters,
            }
        })
    };
    let mut tools: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| function(&tool.name, &tool.description, &tool.parameters))
        .collect();
    let output = &request.output;
    if request.answer_as == AnswerAs::Tool {
        tools.push(function(&output.name, &output.description, &output.schema));
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    // An empty `tools` array is refused by some servers: leave it out.
    let only_the_answer = request.tools.is_empty();
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    match request.answer_as {
        AnswerAs::Tool if only_the_answer => {
            body.insert(
                "tool_choice".into(),
                json!({"type": "function", "function": {"name": output.name}}),
            );
        }
        AnswerAs::Tool => {
            body.insert("tool_choice".into(), json!("required"));
        }
        AnswerAs::ResponseFormat => {
            body.insert(
                "response_format".into(),
                json!({
                    "type": "json_schema",
                    "json_schema": {
                        "name": output.name,
                        "description": output.description,
                        "schema": output.schema,
                        "strict": false,
                    }
                }),
            );
        }
    }
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("temperature".into(), json!(0));
    if request.sampling.frequency_penalty != 0.0 {
        body.insert(
            "frequency_penalty".into(),
            json!(request.sampling.frequency_penalty),
        );
    }
    if request.sampling.repeat_penalty != 0.0 {
        body.insert(
            "repeat_penalty".into(),
            json!(request.sampling.repeat_penalty),
        );
    }
    body.insert("stream".into(), json!(false));
    Value::Object(body)
}

fn message(message: &Message) -> Value {
    match message {
        Message::User { content } => json!({ "role": "user", "content": content }),
        Message::Assistant { text, tool_calls } => {
            let mut out = Map::new();
            out.insert("role".into(), json!("assistant"));
            out.insert("content".into(), json!(text));
            if !tool_calls.is_empty() {
                let calls = tool_calls
                    .iter()
                    .map(|call| {
                        json!({
                            "id": call.id,
                            "type": "function",
                            "function": { "name": call.name, "arguments": arguments_text(&call.arguments) },
                        })
                    })
                    .collect();
                out.insert("tool_calls".into(), Value::Array(calls));
            }
            Value::Object(out)
        }
        Message::Tool { call_id, content } => {
            json!({ "role": "tool", "tool_call_id": call_id, "content": content })
        }
    }
}

/// Arguments go back as the JSON string OpenAI sent them as; text that was
/// not JSON (kept as a string when parsed) goes back as written.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

/// Parse a chat completion. A missing or mistyped field the reply needs is
/// a `Protocol` error naming it; an `error` object instead of `choices`
/// (some compatible servers answer errors with HTTP 200) is `Rejected`.
pub fn parse_reply(body: &[u8]) -> Result<ChatReply, LlmError> {
    let root = decode_json(body)?;
    let Some(choices) = root.get("choices") else {
        if let Some(text) = error_message(&root) {
            return Err(LlmError::new(
                LlmErrorKind::Rejected,
                format!("the server answered with an error: {text}"),
            ));
        }
        return Err(protocol("the answer has no `choices`"));
    };
    let choice = choices
        .as_array()
        .ok_or_else(|| field_error("choices", "an array"))?
        .first()
        .ok_or_else(|| protocol("`choices` is empty: the answer holds no message"))?;
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| field_error("choices[0].message", "an object"))?;

    let text = match message.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            return Err(field_error(
                "choices[0].message.content",
                "a string or null",
            ));
        }
    };
    let tool_calls = match message.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(calls)) => calls
            .iter()
            .enumerate()
            .map(|(n, call)| tool_call(n, call))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(field_error("choices[0].message.tool_calls", "an array")),
    };
    let reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .ok_or_else(|| field_error("choices[0].finish_reason", "a string"))?;
    let refused = message
        .get("refusal")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.trim().is_empty());
    let finish = match reason {
        _ if refused => Finish::Other,
        "stop" => Finish::Stop,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "length" => Finish::Length,
        // content_filter and anything newer.
        _ => Finish::Other,
    };
    let usage = match root.get("usage") {
        // Some compatible servers leave usage out; the transport then
        // charges an estimate so budgets still bind.
        None | Some(Value::Null) => Usage::default(),
        Some(usage) => Usage {
            prompt_tokens: count(usage, "prompt_tokens")?,
            completion_tokens: count(usage, "completion_tokens")?,
        },
    };
    let model = root
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| field_error("model", "a string"))?
        .to_owned();
    Ok(ChatReply {
        text,
        tool_calls,
        finish,
        usage,
        model,
    })
}

fn tool_call(n: usize, call: &Value) -> Result<ToolCall, LlmError> {
    let at = |field: &str| format!("choices[0].message.tool_calls[{n}].{field}");
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| field_error(&at("id"), "a string"))?;
    if let Some(kind) = call.get("type").and_then(Value::as_str)
        && kind != "function"
    {
        return Err(protocol(format!(
            "{} is {kind:?}, not \"function\"",
            at("type")
        )));
    }
    let function = call
        .get("function")
        .filter(|f| f.is_object())
        .ok_or_else(|| field_error(&at("function"), "an object"))?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| field_error(&at("function.name"), "a string"))?;
    let arguments = match function.get("arguments") {
        // The documented form: JSON text. Text that is not JSON is kept as
        // a string so the caller refuses it with the model's own words.
        Some(Value::String(raw)) => {
            serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()))
        }
        // Ollama has been seen sending an object.
        Some(object @ Value::Object(_)) => object.clone(),
        _ => return Err(field_error(&at("function.arguments"), "a string")),
    };
    Ok(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments,
    })
}

fn count(usage: &Value, field: &str) -> Result<u64, LlmError> {
    usage
        .get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| field_error(&format!("usage.{field}"), "a whole number"))
}

/// The server's error text: `{"error": {"message": ...}}` (OpenAI, Azure,
/// Ollama, llama.cpp), `{"error": "..."}`, or vLLM's
/// `{"object": "error", "message": ...}`.
fn error_message(root: &Value) -> Option<String> {
    match root.get("error") {
        Some(Value::String(text)) => Some(text.clone()),
        Some(error) => {
            let message = error.get("message").and_then(Value::as_str)?;
            let label = error
                .get("code")
                .and_then(Value::as_str)
                .or_else(|| error.get("type").and_then(Value::as_str));
            Some(match label {
                Some(label) => format!("{label}: {message}"),
                None => message.to_owned(),
            })
        }
        None if root.get("object").and_then(Value::as_str) == Some("error") => root
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        None => None,
    }
}

/// The error-text hook for [`warden_http::HttpClient`]: what an error body
/// says, which the client sanitises, caps and scrubs of the key.
pub fn error_text(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(error_message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{OutputSpec, ToolSpec};

    fn request() -> ChatRequest {
        ChatRequest {
            system: "You triage alerts.".into(),
            messages: vec![
                Message::User {
                    content: "{\"case\":1}".into(),
                },
                Message::Assistant {
                    text: None,
                    tool_calls: vec![
                        ToolCall {
                            id: "call_a".into(),
                            name: "asset_lookup".into(),
                            arguments: json!({"host": "web-01"}),
                        },
                        ToolCall {
                            id: "call_b".into(),
                            name: "user_lookup".into(),
                            arguments: Value::String("not json {".into()),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "call_a".into(),
                    content: "{\"owner\":\"it\"}".into(),
                },
                Message::Tool {
                    call_id: "call_b".into(),
                    content: "{\"error\":\"bad arguments\"}".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "asset_lookup".into(),
                description: "Look up an asset".into(),
                parameters: json!({"type": "object", "properties": {"host": {"type": "string"}}}),
            }],
            output: OutputSpec {
                name: "submit_assessment".into(),
                description: "The final assessment".into(),
                schema: json!({"type": "object"}),
            },
            max_tokens: 512,
            answer_as: crate::chat::AnswerAs::ResponseFormat,
            sampling: crate::chat::Sampling::default(),
        }
    }

    #[test]
    fn request_body_puts_the_system_prompt_first_and_echoes_tool_calls() {
        let body = request_body("gpt-test", &request());
        assert_eq!(
            body,
            json!({
                "model": "gpt-test",
                "messages": [
                    {"role": "system", "content": "You triage alerts."},
                    {"role": "user", "content": "{\"case\":1}"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_a", "type": "function",
                         "function": {"name": "asset_lookup", "arguments": "{\"host\":\"web-01\"}"}},
                        {"id": "call_b", "type": "function",
                         "function": {"name": "user_lookup", "arguments": "not json {"}},
                    ]},
                    {"role": "tool", "tool_call_id": "call_a", "content": "{\"owner\":\"it\"}"},
                    {"role": "tool", "tool_call_id": "call_b", "content": "{\"error\":\"bad arguments\"}"},
                ],
                "tools": [{"type": "function", "function": {
                    "name": "asset_lookup",
                    "description": "Look up an asset",
                    "parameters": {"type": "object", "properties": {"host": {"type": "string"}}},
                }}],
                "response_format": {"type": "json_schema", "json_schema": {
                    "name": "submit_assessment",
                    "description": "The final assessment",
                    "schema": {"type": "object"},
                    "strict": false,
                }},
                "max_tokens": 512,
                "temperature": 0,
                "stream": false,
            })
        );
    }

    #[test]
    fn no_tools_means_no_tools_field() {
        let mut req = request();
        req.tools.clear();
        let body = request_body("m", &req);
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn a_tool_call_reply_parses_with_its_arguments() {
        let body = br#"{
          "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test-2024",
          "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [
              {"id": "call_1", "type": "function", "function": {"name": "asset_lookup", "arguments": "{\"host\":\"web-01\"}"}},
              {"id": "call_2", "type": "function", "function": {"name": "asset_lookup", "arguments": "host=web-01"}}
            ]}}],
          "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
        }"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!(reply.finish, Finish::ToolCalls);
        assert_eq!(reply.text, None);
        assert_eq!(reply.model, "gpt-test-2024");
        assert_eq!(
            reply.usage,
            Usage {
                prompt_tokens: 120,
                completion_tokens: 30
            }
        );
        assert_eq!(reply.tool_calls.len(), 2);
        assert_eq!(reply.tool_calls[0].id, "call_1");
        assert_eq!(reply.tool_calls[0].arguments, json!({"host": "web-01"}));
        assert_eq!(
            reply.tool_calls[1].arguments,
            Value::String("host=web-01".into()),
            "text that is not JSON is kept for the caller to refuse"
        );
    }

    #[test]
    fn finish_reasons_map() {
        for (reason, finish) in [
            ("stop", Finish::Stop),
            ("tool_calls", Finish::ToolCalls),
            ("length", Finish::Length),
            ("content_filter", Finish::Other),
            ("something_new", Finish::Other),
        ] {
            let body = json!({"model": "m", "choices": [{"finish_reason": reason,
                "message": {"role": "assistant", "content": "{}"}}]});
            let reply = parse_reply(body.to_string().as_bytes()).unwrap();
            assert_eq!(reply.finish, finish, "{reason}");
            assert_eq!(reply.text.as_deref(), Some("{}"));
            assert_eq!(reply.usage, Usage::default(), "no usage sent");
        }
        let refused = json!({"model": "m", "choices": [{"finish_reason": "stop",
            "message": {"role": "assistant", "content": null, "refusal": "I can't help"}}]});
        let reply = parse_reply(refused.to_string().as_bytes()).unwrap();
        assert_eq!(reply.finish, Finish::Other);
    }

    #[test]
    fn malformed_replies_are_protocol_errors_naming_the_field() {
        let cases: [(&[u8], &str); 9] = [
            (b"{not json", "not JSON"),
            (br#"{"choices": [{"message": {"content": "x"}, "finish_reason": "st"#, "cut short"),
            (br#"{"model": "m"}"#, "`choices`"),
            (br#"{"model": "m", "choices": []}"#, "empty"),
            (br#"{"model": "m", "choices": [{"finish_reason": "stop"}]}"#, "choices[0].message"),
            (
                br#"{"model": "m", "choices": [{"message": {"content": 5}, "finish_reason": "stop"}]}"#,
                "choices[0].message.content",
            ),
            (
                br#"{"model": "m", "choices": [{"message": {"content": "x"}}]}"#,
                "choices[0].finish_reason",
            ),
            (
                br#"{"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}"#,
                "`model`",
            ),
            (
                br#"{"model": "m", "choices": [{"finish_reason": "tool_calls", "message": {"tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}}]}"#,
                "tool_calls[0].function.name",
            ),
        ];
        for (body, needle) in cases {
            let err = parse_reply(body).unwrap_err();
            assert_eq!(err.kind, LlmErrorKind::Protocol, "{needle}");
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
        let bad_usage = br#"{"model": "m", "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": "many"}}"#;
        let err = parse_reply(bad_usage).unwrap_err();
        assert!(
            err.message.contains("usage.prompt_tokens"),
            "{}",
            err.message
        );
    }

    #[test]
    fn error_bodies_give_their_message() {
        let openai = br#"{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}"#;
        assert_eq!(
            error_text(openai).as_deref(),
            Some("rate_limit_exceeded: Rate limit reached")
        );
        let vllm = br#"{"object": "error", "message": "model not found", "code": 404}"#;
        assert_eq!(error_text(vllm).as_deref(), Some("model not found"));
        assert_eq!(error_text(br#"{"error": "boom"}"#).as_deref(), Some("boom"));
        assert_eq!(error_text(b"<html>"), None);
        let err = parse_reply(openai).unwrap_err();
        assert_eq!(err.kind, LlmErrorKind::Rejected);
        assert!(err.message.contains("Rate limit reached"));
    }
}
