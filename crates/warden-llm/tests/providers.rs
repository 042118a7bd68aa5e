#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! `HttpTransport` against local servers that speak each provider's wire
//! format: a normal exchange with tool calls, then every way a call can
//! fail (429, 5xx, time-out, malformed or cut-short JSON, an oversized
//! answer, a refused key), each ending in the right error kind with a wire
//! record and never the key.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use warden_http::Secret;
use warden_llm::{
    AnswerAs, CallKey, CallOutcome, ChatRequest, Finish, HttpTransport, LlmConfig, LlmErrorKind,
    Message, OutputSpec, ProviderKind, Resolved, Sampling, ToolSpec, Transport,
};

const KEY: &str = "sk-test-SECRET-key-0123456789abcdef";
const BOTH: [ProviderKind; 2] = [ProviderKind::Openai, ProviderKind::Anthropic];

// ---- a scripted server -------------------------------------------------

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Self {
        Self::raw(status, body.to_string().into_bytes())
    }

    fn raw(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Value,
    /// The body's bytes as they arrived.
    raw: Vec<u8>,
    at: Instant,
}

struct Mock {
    replies: Mutex<VecDeque<Reply>>,
    fallback: Reply,
    seen: Mutex<Vec<Seen>>,
}

struct Server {
    base: String,
    mock: Arc<Mock>,
}

impl Server {
    /// Answers `replies` in order, then `fallback` for ever.
    async fn start(replies: Vec<Reply>, fallback: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mock = Arc::new(Mock {
            replies: Mutex::new(replies.into()),
            fallback,
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&mock));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            mock,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.mock.seen.lock().unwrap().clone()
    }
}

async fn handle(State(mock): State<Arc<Mock>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    mock.seen.lock().unwrap().push(Seen {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        raw: bytes.to_vec(),
        at: Instant::now(),
    });
    let reply = mock
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| mock.fallback.clone());
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// A server that reads the request, then sends `head` (status line and
/// headers) and `body`, and closes the connection: for answers cut short.
async fn raw_server(head: String, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let head = head.clone();
            tokio::spawn(async move {
                read_request(&mut socket).await;
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.write_all(body.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            });
        }
    });
    format!("http://{addr}")
}

/// Read one HTTP/1.1 request with a Content-Length body.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before sending its request");
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        if buf.len() >= end + 4 + length {
            return;
        }
    }
}

// ---- the provider side -----------------------------------------------------

fn config() -> LlmConfig {
    LlmConfig {
        timeout_seconds: 2,
        max_retries: 2,
        max_retry_wait_seconds: 3,
        requests_per_minute: 0,
        tokens_per_minute: 0,
        ..LlmConfig::default()
    }
}

fn base_url(provider: ProviderKind, server: &str) -> String {
    match provider {
        ProviderKind::Anthropic => server.to_owned(),
        _ => format!("{server}/v1"),
    }
}

fn path(provider: ProviderKind) -> &'static str {
    match provider {
        ProviderKind::Anthropic => "/v1/messages",
        _ => "/v1/chat/completions",
    }
}

fn transport_with(provider: ProviderKind, server: &str, config: LlmConfig) -> HttpTransport {
    HttpTransport::new(&Resolved {
        provider,
        base_url: base_url(provider, server),
        model: "test-model".into(),
        api_key: Some(Secret::new(KEY)),
        config,
        second: None,
    })
    .unwrap()
}

fn transport(provider: ProviderKind, server: &str) -> HttpTransport {
    transport_with(provider, server, config())
}

fn key(step: u32) -> CallKey {
    CallKey {
        fingerprint: "f".repeat(64),
        step,
    }
}

fn chat_request() -> ChatRequest {
    ChatRequest {
        system: "You are Warden's triage assessor. Answer with submit_assessment.".into(),
        messages: vec![Message::User {
            content: json!({"case": {"title": "Suspicious login", "host": "web-01"}}).to_string(),
        }],
        tools: vec![
            ToolSpec {
                name: "asset_lookup".into(),
                description: "The asset inventory record of a host".into(),
                parameters: json!({"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}),
            },
            ToolSpec {
                name: "user_lookup".into(),
                description: "The identity record of a user".into(),
                parameters: json!({"type": "object", "properties": {"user": {"type": "string"}}, "required": ["user"]}),
            },
        ],
        output: OutputSpec {
            name: "submit_assessment".into(),
            description: "The final assessment of the case".into(),
            schema: json!({"type": "object", "properties": {"verdict": {"type": "string"}}, "required": ["verdict"]}),
        },
        answer_as: AnswerAs::ResponseFormat,
        max_tokens: 700,
        sampling: Sampling::default(),
    }
}

/// A complete, valid final answer in `provider`'s format.
fn final_answer(provider: ProviderKind) -> Value {
    match provider {
        ProviderKind::Anthropic => json!({
            "id": "msg_02", "type": "message", "role": "assistant", "model": "test-model-20250101",
            "content": [{"type": "tool_use", "id": "toolu_03", "name": "submit_assessment",
                         "input": {"verdict": "benign"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 400, "output_tokens": 25}
        }),
        _ => json!({
            "id": "chatcmpl-2", "object": "chat.completion", "created": 1_700_000_001,
            "model": "test-model-0613",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "{\"verdict\":\"benign\"}", "refusal": null}}],
            "usage": {"prompt_tokens": 400, "completion_tokens": 25, "total_tokens": 425}
        }),
    }
}

/// An error body in `provider`'s format.
fn error_body(provider: ProviderKind, kind: &str, message: &str) -> Value {
    match provider {
        ProviderKind::Anthropic => {
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        _ => json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
    }
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.get(name).map(|v| v.to_str().unwrap())
}

/// The key appears nowhere a record or a message could carry it.
fn assert_no_key(outcome: &CallOutcome) {
    let wire = serde_json::to_string(&outcome.wire).unwrap();
    assert!(!wire.contains(KEY), "key in the wire record: {wire}");
    let debug = format!("{outcome:?}");
    assert!(!debug.contains(KEY), "key in the outcome: {debug}");
    if let Err(e) = &outcome.reply {
        assert!(!e.message.contains(KEY), "key in the error: {}", e.message);
        assert!(!e.to_string().contains(KEY));
    }
}

// ---- normal exchanges --------------------------------------------------

#[tokio::test]
async fn openai_tool_call_then_structured_answer() {
    let tool_turn = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "test-model-0613",
        "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_abc", "type": "function",
                 "function": {"name": "asset_lookup", "arguments": "{\"host\":\"web-01\"}"}}
            ]}}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 18, "total_tokens": 318}
    });
    let server = Server::start(
        vec![Reply::json(200, &tool_turn)],
        Reply::json(200, &final_answer(ProviderKind::Openai)),
    )
    .await;
    let t = transport(ProviderKind::Openai, &server.base);
    assert_eq!(t.provider(), "openai");
    assert_eq!(t.model(), "test-model");

    let mut request = chat_request();
    let first = t.chat(&key(0), &request).await;
    let reply = first.reply.clone().unwrap();
    assert_eq!(reply.finish, Finish::ToolCalls);
    assert_eq!(reply.model, "test-model-0613");
    assert_eq!(reply.usage.total(), 318);
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_abc");
    assert_eq!(reply.tool_calls[0].name, "asset_lookup");
    assert_eq!(reply.tool_calls[0].arguments, json!({"host": "web-01"}));

    request.messages.push(Message::Assistant {
        text: reply.text.clone(),
        tool_calls: reply.tool_calls.clone(),
    });
    request.messages.push(Message::Tool {
        call_id: "call_abc".into(),
        content: json!({"owner": "it-ops", "criticality": "high"}).to_string(),
    });
    let second = t.chat(&key(1), &request).await;
    let answer = second.reply.clone().unwrap();
    assert_eq!(answer.finish, Finish::Stop);
    assert_eq!(answer.text.as_deref(), Some("{\"verdict\":\"benign\"}"));
    assert!(answer.tool_calls.is_empty());

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let one = &seen[0];
    assert_eq!(one.path, "/v1/chat/completions");
    assert_eq!(one.query, None);
    assert_eq!(
        header(one, "authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(header(one, "content-type"), Some("application/json"));
    assert_eq!(one.body["model"], "test-model");
    assert_eq!(one.body["temperature"], 0);
    assert_eq!(one.body["max_tokens"], 700);
    assert_eq!(
        one.body["messages"][0],
        json!({"role": "system", "content": request.system})
    );
    assert_eq!(one.body["messages"][1]["role"], "user");
    assert_eq!(one.body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(one.body["tools"][0]["type"], "function");
    assert_eq!(one.body["tools"][0]["function"]["name"], "asset_lookup");
    assert_eq!(
        one.body["tools"][1]["function"]["parameters"],
        request.tools[1].parameters
    );
    assert_eq!(one.body["response_format"]["type"], "json_schema");
    assert_eq!(
        one.body["response_format"]["json_schema"]["name"],
        "submit_assessment"
    );
    assert_eq!(
        one.body["response_format"]["json_schema"]["schema"],
        request.output.schema
    );

    let two = &seen[1];
    let messages = two.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_abc");
    assert_eq!(messages[2]["tool_calls"][0]["type"], "function");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"], "{\"host\":\"web-01\"}",
        "arguments go back as a JSON string"
    );
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_abc");

    // The record: the body as sent, the answer as received.
    assert_eq!(first.wire.provider, "openai");
    assert_eq!(
        first.wire.endpoint,
        format!("{}/v1/chat/completions", server.base)
    );
    assert_eq!(first.wire.request, one.body);
    assert_eq!(second.wire.request, two.body);
    assert_eq!(first.wire.status, Some(200));
    assert_eq!(first.wire.attempts, 1);
    assert_eq!(first.wire.response_bytes, tool_turn.to_string().len());
    assert_eq!(
        serde_json::from_str::<Value>(&first.wire.response).unwrap(),
        tool_turn
    );
    assert_no_key(&first);
    assert_no_key(&second);
}

/// Issue 19: a server that compiles `response_format` into an output
/// grammar (llama.cpp) leaves no room for a tool call. With the answer
/// offered as a tool, a step that offers read tools sends no
/// `response_format`; the tool-less last step names the answer tool (or,
/// under `auto`, asks for the schema as `response_format`).
#[tokio::test]
async fn openai_offers_the_answer_as_a_tool_beside_the_read_tools() {
    let submit_turn = json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1_700_000_002,
        "model": "test-model-0613",
        "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_s", "type": "function",
                 "function": {"name": "submit_assessment", "arguments": "{\"verdict\":\"benign\"}"}}
            ]}}],
        "usage": {"prompt_tokens": 320, "completion_tokens": 12, "total_tokens": 332}
    });
    let server = Server::start(vec![], Reply::json(200, &submit_turn)).await;
    let t = transport(ProviderKind::Openai, &server.base);

    let mut request = chat_request();
    request.answer_as = AnswerAs::Tool;
    let outcome = t.chat(&key(0), &request).await;
    let reply = outcome.reply.clone().unwrap();
    assert_eq!(reply.finish, Finish::ToolCalls);
    assert_eq!(reply.tool_calls[0].name, "submit_assessment");
    assert_eq!(reply.tool_calls[0].arguments, json!({"verdict": "benign"}));

    // The last step: only the answer tool, chosen by name.
    request.tools.clear();
    t.chat(&key(1), &request).await.reply.unwrap();
    // Under `auto` the last step asks for the schema instead.
    request.answer_as = AnswerAs::ResponseFormat;
    request.sampling = Sampling {
        frequency_penalty: 0.0,
        repeat_penalty: 1.1,
    };
    t.chat(&key(2), &request).await.reply.unwrap();

    let seen = server.seen();
    let tools: Vec<&str> = seen[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["asset_lookup", "user_lookup", "submit_assessment"]);
    assert_eq!(
        seen[0].body["tools"][2]["function"]["parameters"],
        request.output.schema
    );
    assert_eq!(seen[0].body["tool_choice"], "required");
    assert!(seen[0].body.get("response_format").is_none());
    assert!(
        seen[0].body.get("repeat_penalty").is_none(),
        "0 sends nothing"
    );

    assert_eq!(seen[1].body["tools"].as_array().unwrap().len(), 1);
    assert_eq!(
        seen[1].body["tool_choice"],
        json!({"type": "function", "function": {"name": "submit_assessment"}})
    );
    assert!(seen[1].body.get("response_format").is_none());

    assert!(seen[2].body.get("tools").is_none());
    assert!(seen[2].body.get("tool_choice").is_none());
    assert_eq!(seen[2].body["response_format"]["type"], "json_schema");
    assert_eq!(seen[2].body["repeat_penalty"], 1.1);
    assert!(seen[2].body.get("frequency_penalty").is_none());
}

/// Issue 19: the record keeps the request as the exact bytes sent (not a
/// re-serialisation) and the answer as the bytes received, each with its
/// SHA-256.
#[tokio::test]
async fn the_record_is_the_bytes_sent_and_received() {
    for provider in BOTH {
        let answer = final_answer(provider);
        // Spacing and key order a re-serialisation would not keep.
        let received = format!("{}\n", serde_json::to_string_pretty(&answer).unwrap());
        let server = Server::start(vec![], Reply::raw(200, received.clone().into_bytes())).await;
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        assert!(outcome.reply.is_ok(), "{provider:?}");
        let seen = server.seen();
        assert_eq!(outcome.wire.request_text.as_bytes(), seen[0].raw.as_slice());
        assert_eq!(outcome.wire.request, seen[0].body);
        assert_eq!(outcome.wire.response, received);
        assert_eq!(
            outcome.wire.response_sha256,
            warden_domain::hashing::sha256_hex(received.as_bytes())
        );
    }
}

#[tokio::test]
async fn anthropic_tool_uses_then_the_submit_tool_answer() {
    let tool_turn = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "test-model-20250101",
        "content": [
            {"type": "text", "text": "I will look up the host and the user."},
            {"type": "tool_use", "id": "toolu_01", "name": "asset_lookup", "input": {"host": "web-01"}},
            {"type": "tool_use", "id": "toolu_02", "name": "user_lookup", "input": {"user": "alice"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 350, "output_tokens": 60}
    });
    let server = Server::start(
        vec![Reply::json(200, &tool_turn)],
        Reply::json(200, &final_answer(ProviderKind::Anthropic)),
    )
    .await;
    let t = transport(ProviderKind::Anthropic, &server.base);
    assert_eq!(t.provider(), "anthropic");

    let mut request = chat_request();
    let first = t.chat(&key(0), &request).await;
    let reply = first.reply.clone().unwrap();
    assert_eq!(reply.finish, Finish::ToolCalls);
    assert_eq!(
        reply.text.as_deref(),
        Some("I will look up the host and the user.")
    );
    assert_eq!(reply.usage.prompt_tokens, 350);
    assert_eq!(reply.usage.completion_tokens, 60);
    let ids: Vec<&str> = reply.tool_calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["toolu_01", "toolu_02"]);
    assert_eq!(reply.tool_calls[1].arguments, json!({"user": "alice"}));

    request.messages.push(Message::Assistant {
        text: reply.text.clone(),
        tool_calls: reply.tool_calls.clone(),
    });
    for (id, content) in [
        ("toolu_01", "{\"owner\":\"it-ops\"}"),
        ("toolu_02", "{\"mfa\":true}"),
    ] {
        request.messages.push(Message::Tool {
            call_id: id.into(),
            content: content.into(),
        });
    }
    let second = t.chat(&key(1), &request).await;
    let answer = second.reply.clone().unwrap();
    assert_eq!(answer.finish, Finish::ToolCalls);
    assert_eq!(answer.tool_calls.len(), 1);
    assert_eq!(answer.tool_calls[0].name, "submit_assessment");
    assert_eq!(answer.tool_calls[0].arguments, json!({"verdict": "benign"}));

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let one = &seen[0];
    assert_eq!(one.path, "/v1/messages");
    assert_eq!(header(one, "x-api-key"), Some(KEY));
    assert_eq!(header(one, "anthropic-version"), Some("2023-06-01"));
    assert_eq!(header(one, "authorization"), None);
    assert_eq!(one.body["system"], request.system);
    assert_eq!(one.body["max_tokens"], 700);
    assert_eq!(one.body["temperature"], 0);
    let tools = one.body["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["asset_lookup", "user_lookup", "submit_assessment"]);
    assert_eq!(tools[2]["input_schema"], request.output.schema);
    assert_eq!(tools[0]["input_schema"], request.tools[0].parameters);

    let messages = seen[1].body["messages"].as_array().unwrap();
    assert!(messages.iter().all(|m| m["role"] != "system"));
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"], "roles alternate");
    assert_eq!(messages[1]["content"][1]["type"], "tool_use");
    assert_eq!(messages[1]["content"][1]["id"], "toolu_01");
    assert_eq!(messages[1]["content"][2]["id"], "toolu_02");
    let results = messages[2]["content"].as_array().unwrap();
    assert_eq!(results.len(), 2, "both results in one user message");
    assert_eq!(results[0]["type"], "tool_result");
    assert_eq!(results[0]["tool_use_id"], "toolu_01");
    assert_eq!(results[0]["content"], "{\"owner\":\"it-ops\"}");
    assert_eq!(results[1]["tool_use_id"], "toolu_02");

    assert_eq!(first.wire.provider, "anthropic");
    assert_eq!(first.wire.endpoint, format!("{}/v1/messages", server.base));
    assert_eq!(first.wire.request, one.body);
    assert_eq!(first.wire.attempts, 1);
    assert_no_key(&first);
    assert_no_key(&second);
}

#[tokio::test]
async fn azure_sends_api_key_and_api_version_and_records_no_query() {
    let server = Server::start(
        vec![],
        Reply::json(200, &final_answer(ProviderKind::Openai)),
    )
    .await;
    let mut config = config();
    config.azure_api_version = Some("2024-10-21".into());
    let t = HttpTransport::new(&Resolved {
        provider: ProviderKind::Openai,
        base_url: format!("{}/openai/deployments/triage", server.base),
        model: "triage".into(),
        api_key: Some(Secret::new(KEY)),
        config,
        second: None,
    })
    .unwrap();
    let outcome = t.chat(&key(0), &chat_request()).await;
    assert!(outcome.reply.is_ok());
    let seen = server.seen();
    assert_eq!(seen[0].path, "/openai/deployments/triage/chat/completions");
    assert_eq!(seen[0].query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(header(&seen[0], "api-key"), Some(KEY));
    assert_eq!(header(&seen[0], "authorization"), None);
    assert_eq!(
        outcome.wire.endpoint,
        format!("{}/openai/deployments/triage/chat/completions", server.base)
    );
    assert_no_key(&outcome);
}

#[tokio::test]
async fn a_second_model_asks_for_its_own_name_over_the_same_client() {
    let server = Server::start(
        vec![],
        Reply::json(200, &final_answer(ProviderKind::Openai)),
    )
    .await;
    let first = transport(ProviderKind::Openai, &server.base);
    let second = first.with_model("second-model");
    assert!(first.chat(&key(0), &chat_request()).await.reply.is_ok());
    assert!(second.chat(&key(0), &chat_request()).await.reply.is_ok());
    let seen = server.seen();
    assert_eq!(seen[0].body["model"], "test-model");
    assert_eq!(seen[1].body["model"], "second-model");
    assert_eq!(
        header(&seen[1], "authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
}

// ---- retries -------------------------------------------------------------

#[tokio::test]
async fn a_429_with_retry_after_waits_then_succeeds() {
    for provider in BOTH {
        let limited = Reply::json(429, &error_body(provider, "rate_limit_error", "slow down"))
            .header("retry-after", "1");
        let server = Server::start(vec![limited], Reply::json(200, &final_answer(provider))).await;
        let t = transport(provider, &server.base);
        let started = Instant::now();
        let outcome = t.chat(&key(0), &chat_request()).await;
        assert!(outcome.reply.is_ok(), "{provider:?}: {:?}", outcome.reply);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{provider:?}: Retry-After honoured"
        );
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|s| s.path == path(provider)));
        assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_secs(1));
        assert_eq!(outcome.wire.attempts, 2, "{provider:?}");
        assert_eq!(outcome.wire.status, Some(200));
        assert!(outcome.wire.latency_ms >= 1_000);
        assert_no_key(&outcome);
    }
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_ends_the_call_as_rate_limited() {
    for provider in BOTH {
        let limited = Reply::json(429, &error_body(provider, "rate_limit_error", "slow down"))
            .header("retry-after", "120");
        let server = Server::start(vec![limited], Reply::json(200, &final_answer(provider))).await;
        let started = Instant::now();
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::RateLimited, "{provider:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "did not wait");
        assert_eq!(outcome.wire.status, Some(429));
        assert_eq!(outcome.wire.attempts, 1);
        assert!(outcome.wire.response.contains("slow down"));
    }
}

#[tokio::test]
async fn two_500s_then_success() {
    for provider in BOTH {
        let failing = Reply::json(500, &error_body(provider, "api_error", "internal"));
        let server = Server::start(
            vec![failing.clone(), failing],
            Reply::json(200, &final_answer(provider)),
        )
        .await;
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        assert!(outcome.reply.is_ok(), "{provider:?}: {:?}", outcome.reply);
        assert_eq!(outcome.wire.attempts, 3, "{provider:?}");
        assert_eq!(outcome.wire.status, Some(200));
        assert_eq!(server.seen().len(), 3);
        // Every attempt sent the same body.
        let seen = server.seen();
        assert!(seen.iter().all(|s| s.body == outcome.wire.request));
    }
}

#[tokio::test]
async fn a_500_forever_is_unavailable_with_the_last_answer_on_record() {
    for provider in BOTH {
        let server = Server::start(
            vec![],
            Reply::json(
                503,
                &error_body(provider, "overloaded_error", "overloaded right now"),
            ),
        )
        .await;
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Unavailable, "{provider:?}");
        assert!(
            error.message.contains("overloaded right now"),
            "{}",
            error.message
        );
        assert_eq!(
            outcome.wire.attempts, 3,
            "the first attempt and two retries"
        );
        assert_eq!(outcome.wire.status, Some(503));
        assert!(outcome.wire.response.contains("overloaded right now"));
        assert_eq!(server.seen().len(), 3);
        assert_no_key(&outcome);
    }
}

// ---- failures that are not retried -------------------------------------

#[tokio::test]
async fn a_slow_server_times_out() {
    for provider in BOTH {
        let server = Server::start(
            vec![],
            Reply::json(200, &final_answer(provider)).after(Duration::from_secs(4)),
        )
        .await;
        let config = LlmConfig {
            timeout_seconds: 1,
            ..config()
        };
        let started = Instant::now();
        let outcome = transport_with(provider, &server.base, config)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Timeout, "{provider:?}: {error}");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3));
        assert_eq!(outcome.wire.status, None, "no answer came");
        assert_eq!(outcome.wire.attempts, 1);
        assert!(!outcome.wire.request.is_null(), "the request is on record");
        assert_no_key(&outcome);
    }
}

/// A local server slower than the time-out once answers the next attempt
/// (`timeout_retries`); when every attempt times out, the message names
/// the settings to change.
#[tokio::test]
async fn a_time_out_is_tried_again_up_to_the_cap_and_names_the_setting() {
    let slow = Reply::json(200, &final_answer(ProviderKind::Openai)).after(Duration::from_secs(3));
    let server = Server::start(
        vec![slow.clone()],
        Reply::json(200, &final_answer(ProviderKind::Openai)),
    )
    .await;
    let config = LlmConfig {
        timeout_seconds: 1,
        timeout_retries: 1,
        ..config()
    };
    let outcome = transport_with(ProviderKind::Openai, &server.base, config.clone())
        .chat(&key(0), &chat_request())
        .await;
    assert!(outcome.reply.is_ok(), "{:?}", outcome.reply);
    assert_eq!(outcome.wire.attempts, 2);
    assert_eq!(server.seen().len(), 2);

    let server = Server::start(vec![], slow).await;
    let outcome = transport_with(ProviderKind::Openai, &server.base, config)
        .chat(&key(0), &chat_request())
        .await;
    let error = outcome.reply.unwrap_err();
    assert_eq!(error.kind, LlmErrorKind::Timeout);
    assert_eq!(server.seen().len(), 2, "one retry, then the cap");
    for needle in [
        "timeout_seconds",
        "timeout_retries = 1",
        "profile = \"local\"",
    ] {
        assert!(
            error.message.contains(needle),
            "{needle}: {}",
            error.message
        );
    }
}

#[tokio::test]
async fn malformed_json_is_a_protocol_error() {
    for provider in BOTH {
        let server = Server::start(
            vec![],
            Reply::raw(200, b"{\"choices\": [ this is not json ]}".to_vec()),
        )
        .await;
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Protocol, "{provider:?}");
        assert!(error.message.contains("not JSON"), "{}", error.message);
        assert_eq!(outcome.wire.status, Some(200));
        assert_eq!(outcome.wire.response, "{\"choices\": [ this is not json ]}");
    }
}

#[tokio::test]
async fn a_well_formed_answer_missing_fields_is_a_protocol_error() {
    for provider in BOTH {
        let server = Server::start(vec![], Reply::json(200, &json!({"model": "m"}))).await;
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Protocol, "{provider:?}");
        let field = match provider {
            ProviderKind::Anthropic => "`content`",
            _ => "`choices`",
        };
        assert!(error.message.contains(field), "{}", error.message);
    }
}

#[tokio::test]
async fn a_body_cut_short_is_a_protocol_error() {
    let partial = "{\"id\": \"x\", \"choices\": [{\"message\": {\"content\": \"{\\\"verd";
    for provider in BOTH {
        // The connection closes before the announced length arrived.
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\nconnection: close\r\n\r\n".to_owned();
        let server = raw_server(head, partial).await;
        let outcome = transport(provider, &server)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Protocol, "{provider:?}: {error}");
        let after = format!("cut short after {} bytes", partial.len());
        assert!(error.message.contains(&after), "{}", error.message);
        assert_eq!(outcome.wire.status, Some(200));
        assert_eq!(outcome.wire.response, partial, "what arrived is on record");
        assert_eq!(outcome.wire.response_bytes, partial.len());
        assert_eq!(
            outcome.wire.attempts, 1,
            "a chat answer cut short is not retried blindly"
        );

        // The length matches but the JSON stops half-way.
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            partial.len()
        );
        let server = raw_server(head, partial).await;
        let outcome = transport(provider, &server)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Protocol, "{provider:?}: {error}");
        assert!(
            error.message.contains("JSON ends early"),
            "{}",
            error.message
        );
        assert!(outcome.wire.response.starts_with("{\"id\""));
    }
}

#[tokio::test]
async fn a_huge_answer_is_too_large() {
    let cap = 256 * 1024;
    let filler = "A".repeat(1_000_000);
    for provider in BOTH {
        let body = match provider {
            ProviderKind::Anthropic => {
                json!({"type": "message", "model": "m", "stop_reason": "end_turn",
                "content": [{"type": "text", "text": filler}], "usage": {"input_tokens": 1, "output_tokens": 1}})
            }
            _ => json!({"model": "m", "choices": [{"finish_reason": "stop",
                "message": {"role": "assistant", "content": filler}}]}),
        };
        let size = body.to_string().len();
        let server = Server::start(vec![], Reply::json(200, &body)).await;
        let config = LlmConfig {
            max_response_bytes: cap,
            ..config()
        };
        let outcome = transport_with(provider, &server.base, config)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::TooLarge, "{provider:?}: {error}");
        assert!(
            error.message.contains(&cap.to_string()),
            "{}",
            error.message
        );
        assert!(
            outcome.wire.response.len() <= cap,
            "the record is cut at the cap"
        );
        assert!(outcome.wire.response.len() >= cap / 2);
        assert_eq!(
            outcome.wire.response_bytes, size,
            "the full size, as announced"
        );
        assert_eq!(outcome.wire.status, Some(200));
        assert_eq!(outcome.wire.attempts, 1);
    }
}

#[tokio::test]
async fn a_refused_key_is_auth_and_the_key_is_never_echoed() {
    for provider in BOTH {
        // A server that quotes the key back in its error, as some do.
        let refused = error_body(
            provider,
            "authentication_error",
            &format!("Incorrect API key provided: {KEY}. Check your key."),
        );
        let server = Server::start(vec![], Reply::json(401, &refused)).await;
        let t = transport(provider, &server.base);
        let outcome = t.chat(&key(0), &chat_request()).await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Auth, "{provider:?}");
        assert!(
            error.message.contains("Incorrect API key provided"),
            "{}",
            error.message
        );
        assert!(error.message.contains("[redacted]"), "{}", error.message);
        assert_eq!(outcome.wire.status, Some(401));
        assert_eq!(outcome.wire.attempts, 1, "a refused key is not retried");
        assert!(outcome.wire.response.contains("[redacted]"));
        assert_no_key(&outcome);
        assert!(!format!("{t:?}").contains(KEY));
        // The server did get the key: it was sent, just never recorded.
        assert_eq!(server.seen().len(), 1);
    }
}

#[tokio::test]
async fn a_rejected_request_is_rejected_with_the_providers_reason() {
    for provider in BOTH {
        let bad = error_body(provider, "invalid_request_error", "max_tokens: too large");
        let server = Server::start(vec![], Reply::json(400, &bad)).await;
        let outcome = transport(provider, &server.base)
            .chat(&key(0), &chat_request())
            .await;
        let error = outcome.reply.clone().unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Rejected, "{provider:?}");
        assert!(
            error.message.contains("max_tokens: too large"),
            "{}",
            error.message
        );
        assert!(error.message.contains("HTTP 400"), "{}", error.message);
        assert_eq!(outcome.wire.attempts, 1);
    }
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    // Bind and drop: the port is closed.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = LlmConfig {
        max_retries: 1,
        max_retry_wait_seconds: 1,
        ..config()
    };
    let outcome = transport_with(ProviderKind::Openai, &format!("http://{addr}"), config)
        .chat(&key(0), &chat_request())
        .await;
    let error = outcome.reply.clone().unwrap_err();
    assert_eq!(error.kind, LlmErrorKind::Unavailable);
    assert_eq!(outcome.wire.status, None);
    assert_eq!(outcome.wire.attempts, 2);
    assert_eq!(outcome.wire.response, "");
}

// ---- rate limits ---------------------------------------------------------

#[tokio::test]
async fn the_limiter_counts_the_providers_tokens_after_each_call() {
    for provider in BOTH {
        let server = Server::start(vec![], Reply::json(200, &final_answer(provider))).await;
        let config = LlmConfig {
            requests_per_minute: 100,
            tokens_per_minute: 1_000_000,
            ..config()
        };
        let t = transport_with(provider, &server.base, config);
        let outcome = t.chat(&key(0), &chat_request()).await;
        assert!(outcome.reply.is_ok());
        // The estimate (body / 4 + max_tokens) was replaced by the
        // provider's count: 400 + 25.
        assert_eq!(t.limiter().in_window(), (1, 425), "{provider:?}");
        let second = t.with_model("other");
        assert!(second.chat(&key(0), &chat_request()).await.reply.is_ok());
        assert_eq!(
            t.limiter().in_window(),
            (2, 850),
            "shared with the second model"
        );
    }
}
