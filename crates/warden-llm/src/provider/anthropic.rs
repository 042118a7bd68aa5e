//! Anthropic Messages on the wire (`POST {base_url}/v1/messages`).
//!
//! Anthropic has no structured-output field that every model accepts, so
//! the final answer's schema is offered as one more tool (named after the
//! [`crate::chat::OutputSpec`]) and `tool_choice: any` makes the model end
//! each turn with a tool call: a read tool, or the answer.

use serde_json::{Map, Value, json};

use super::{decode_json, field_error};
use crate::chat::{ChatReply, ChatRequest, Finish, Message, ToolCall, Usage};
use crate::transport::{LlmError, LlmErrorKind};

/// The `anthropic-version` header this module speaks.
pub const API_VERSION: &str = "2023-06-01";

/// The request body for `model`.
pub fn request_body(model: &str, request: &ChatRequest) -> Value {
    let mut tools: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| {
            json!({
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.parameters,
            })
        })
        .collect();
    tools.push(json!({
        "name": request.output.name,
        "description": request.output.description,
        "input_schema": request.output.schema,
    }));

    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("system".into(), json!(request.system));
    body.insert("messages".into(), Value::Array(messages(&request.messages)));
    body.insert("tools".into(), Value::Array(tools));
    body.insert("tool_choice".into(), json!({ "type": "any" }));
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("temperature".into(), json!(0));
    body.insert("stream".into(), json!(false));
    Value::Object(body)
}

/// The conversation as Anthropic wants it: roles alternate, so blocks of
/// consecutive turns with the same role go into one message. Tool results
/// are `tool_result` blocks of a user message; several results in a row
/// (one per call of the previous assistant turn) become one user message,
/// results first, as the API requires. An assistant turn with nothing in
/// it is left out (the API refuses empty content).
fn messages(conversation: &[Message]) -> Vec<Value> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in conversation {
        let (role, blocks) = match message {
            Message::User { content } => ("user", vec![json!({"type": "text", "text": content})]),
            Message::Assistant { text, tool_calls } => {
                let mut blocks = Vec::with_capacity(tool_calls.len().saturating_add(1));
                if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                blocks.extend(tool_calls.iter().map(|call| {
                    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
                }));
                ("assistant", blocks)
            }
            Message::Tool { call_id, content } => (
                "user",
                vec![json!({"type": "tool_result", "tool_use_id": call_id, "content": content})],
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

/// Parse a Messages answer. A missing or mistyped field the reply needs is
/// a `Protocol` error naming it; an error object (`"type": "error"`) is
/// `Rejected`. Block types Warden does not use (thinking) are skipped.
pub fn parse_reply(body: &[u8]) -> Result<ChatReply, LlmError> {
    let root = decode_json(body)?;
    if root.get("type").and_then(Value::as_str) == Some("error") {
        let text = error_message(&root).unwrap_or_else(|| "no error detail".to_owned());
        return Err(LlmError::new(
            LlmErrorKind::Rejected,
            format!("the server answered with an error: {text}"),
        ));
    }
    let blocks = root
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| field_error("content", "an array"))?;
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for (n, block) in blocks.iter().enumerate() {
        let at = |field: &str| format!("content[{n}].{field}");
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| field_error(&at("type"), "a string"))?;
        match kind {
            "text" => {
                let part = block
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| field_error(&at("text"), "a string"))?;
                text.get_or_insert_with(String::new).push_str(part);
            }
            "tool_use" => {
                let id = block
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| field_error(&at("id"), "a string"))?;
                let name = block
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| field_error(&at("name"), "a string"))?;
                let input = block
                    .get("input")
                    .ok_or_else(|| field_error(&at("input"), "a JSON value"))?;
                tool_calls.push(ToolCall {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    arguments: input.clone(),
                });
            }
            _ => {}
        }
    }
    let reason = root
        .get("stop_reason")
        .and_then(Value::as_str)
        .ok_or_else(|| field_error("stop_reason", "a string"))?;
    let finish = match reason {
        "end_turn" | "stop_sequence" => Finish::Stop,
        "tool_use" => Finish::ToolCalls,
        "max_tokens" => Finish::Length,
        // refusal, pause_turn and anything newer.
        _ => Finish::Other,
    };
    let usage = root
        .get("usage")
        .filter(|u| u.is_object())
        .ok_or_else(|| field_error("usage", "an object"))?;
    let count = |field: &str| {
        usage
            .get(field)
            .and_then(Value::as_u64)
            .ok_or_else(|| field_error(&format!("usage.{field}"), "a whole number"))
    };
    let usage = Usage {
        prompt_tokens: count("input_tokens")?,
        completion_tokens: count("output_tokens")?,
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

/// `{"type": "error", "error": {"type": ..., "message": ...}}`.
fn error_message(root: &Value) -> Option<String> {
    let error = root.get("error")?;
    let message = error.get("message").and_then(Value::as_str)?;
    Some(match error.get("type").and_then(Value::as_str) {
        Some(kind) => format!("{kind}: {message}"),
        None => message.to_owned(),
    })
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
                    text: Some("Checking both.".into()),
                    tool_calls: vec![
                        ToolCall {
                            id: "toolu_a".into(),
                            name: "asset_lookup".into(),
                            arguments: json!({"host": "web-01"}),
                        },
                        ToolCall {
                            id: "toolu_b".into(),
                            name: "user_lookup".into(),
                            arguments: json!({"user": "alice"}),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "toolu_a".into(),
                    content: "{\"owner\":\"it\"}".into(),
                },
                Message::Tool {
                    call_id: "toolu_b".into(),
                    content: "{\"mfa\":true}".into(),
                },
                Message::User {
                    content: "Answer now.".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "asset_lookup".into(),
                description: "Look up an asset".into(),
                parameters: json!({"type": "object"}),
            }],
            output: OutputSpec {
                name: "submit_assessment".into(),
                description: "The final assessment".into(),
                schema: json!({"type": "object", "required": ["verdict"]}),
            },
            max_tokens: 1024,
            answer_as: crate::chat::AnswerAs::ResponseFormat,
            sampling: crate::chat::Sampling::default(),
        }
    }

    #[test]
    fn request_body_has_a_top_level_system_and_merged_tool_results() {
        let body = request_body("claude-test", &request());
        assert_eq!(
            body,
            json!({
                "model": "claude-test",
                "system": "You triage alerts.",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "{\"case\":1}"}]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Checking both."},
                        {"type": "tool_use", "id": "toolu_a", "name": "asset_lookup", "input": {"host": "web-01"}},
                        {"type": "tool_use", "id": "toolu_b", "name": "user_lookup", "input": {"user": "alice"}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "{\"owner\":\"it\"}"},
                        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "{\"mfa\":true}"},
                        {"type": "text", "text": "Answer now."},
                    ]},
                ],
                "tools": [
                    {"name": "asset_lookup", "description": "Look up an asset", "input_schema": {"type": "object"}},
                    {"name": "submit_assessment", "description": "The final assessment",
                     "input_schema": {"type": "object", "required": ["verdict"]}},
                ],
                "tool_choice": {"type": "any"},
                "max_tokens": 1024,
                "temperature": 0,
                "stream": false,
            })
        );
    }

    #[test]
    fn an_empty_assistant_turn_is_left_out() {
        let mut req = request();
        req.messages = vec![
            Message::User {
                content: "a".into(),
            },
            Message::Assistant {
                text: Some(String::new()),
                tool_calls: vec![],
            },
            Message::User {
                content: "b".into(),
            },
        ];
        let body = request_body("m", &req);
        assert_eq!(
            body.get("messages"),
            Some(&json!([{"role": "user", "content": [
                {"type": "text", "text": "a"}, {"type": "text", "text": "b"}
            ]}]))
        );
    }

    #[test]
    fn a_reply_with_text_and_tool_uses_parses() {
        let body = br#"{
          "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test-1",
          "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Looking "},
            {"type": "text", "text": "closer."},
            {"type": "tool_use", "id": "toolu_1", "name": "asset_lookup", "input": {"host": "web-01"}},
            {"type": "tool_use", "id": "toolu_2", "name": "user_lookup", "input": {"user": "alice"}}
          ],
          "stop_reason": "tool_use", "stop_sequence": null,
          "usage": {"input_tokens": 200, "output_tokens": 40}
        }"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!(reply.text.as_deref(), Some("Looking closer."));
        assert_eq!(reply.finish, Finish::ToolCalls);
        assert_eq!(reply.model, "claude-test-1");
        assert_eq!(reply.usage.total(), 240);
        assert_eq!(reply.tool_calls.len(), 2);
        assert_eq!(reply.tool_calls[1].id, "toolu_2");
        assert_eq!(reply.tool_calls[1].arguments, json!({"user": "alice"}));
    }

    #[test]
    fn stop_reasons_map() {
        for (reason, finish) in [
            ("end_turn", Finish::Stop),
            ("stop_sequence", Finish::Stop),
            ("tool_use", Finish::ToolCalls),
            ("max_tokens", Finish::Length),
            ("refusal", Finish::Other),
            ("pause_turn", Finish::Other),
        ] {
            let body = json!({"model": "m", "content": [], "stop_reason": reason,
                "usage": {"input_tokens": 1, "output_tokens": 1}});
            let reply = parse_reply(body.to_string().as_bytes()).unwrap();
            assert_eq!(reply.finish, finish, "{reason}");
            assert_eq!(reply.text, None);
        }
    }

    #[test]
    fn malformed_replies_are_protocol_errors_naming_the_field() {
        let usage = r#""usage": {"input_tokens": 1, "output_tokens": 1}"#;
        let cases: Vec<(String, &str)> = vec![
            ("{\"content\": [".into(), "cut short"),
            ("[1, 2".into(), "cut short"),
            ("<html>".into(), "not JSON"),
            (
                format!(r#"{{"model": "m", "stop_reason": "end_turn", {usage}}}"#),
                "`content`",
            ),
            (
                format!(r#"{{"model": "m", "content": [{{"text": "x"}}], "stop_reason": "end_turn", {usage}}}"#),
                "content[0].type",
            ),
            (
                format!(r#"{{"model": "m", "content": [{{"type": "tool_use", "id": "t", "input": {{}}}}], "stop_reason": "tool_use", {usage}}}"#),
                "content[0].name",
            ),
            (
                format!(r#"{{"model": "m", "content": [{{"type": "tool_use", "id": "t", "name": "n"}}], "stop_reason": "tool_use", {usage}}}"#),
                "content[0].input",
            ),
            (
                format!(r#"{{"model": "m", "content": [], {usage}}}"#),
                "`stop_reason`",
            ),
            (
                r#"{"model": "m", "content": [], "stop_reason": "end_turn"}"#.into(),
                "`usage`",
            ),
            (
                r#"{"model": "m", "content": [], "stop_reason": "end_turn", "usage": {"input_tokens": 1}}"#.into(),
                "usage.output_tokens",
            ),
            (
                format!(r#"{{"content": [], "stop_reason": "end_turn", {usage}}}"#),
                "`model`",
            ),
        ];
        for (body, needle) in cases {
            let err = parse_reply(body.as_bytes()).unwrap_err();
            assert_eq!(err.kind, LlmErrorKind::Protocol, "{needle}");
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
    }

    #[test]
    fn error_bodies_give_their_message() {
        let body =
            br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
        assert_eq!(
            error_text(body).as_deref(),
            Some("overloaded_error: Overloaded")
        );
        assert_eq!(error_text(b"not json"), None);
        let err = parse_reply(body).unwrap_err();
        assert_eq!(err.kind, LlmErrorKind::Rejected);
        assert!(err.message.contains("Overloaded"));
    }
}
