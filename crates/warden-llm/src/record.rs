//! Recordings: every exchange as a JSON line, and answering from them.
//!
//! A recording is a JSON lines file. Each line is a [`ModelExchange`], an
//! audit entry whose event is `model_called`, or a line of `warden audit
//! export` (`{seq, leaf_hash, entry}`), so an export replays as it is. A
//! file that yields no exchange is an error, never a silent run where every
//! call fails. [`Recorder`] writes one; [`ReplayTransport`]
//! answers calls from one by `(fingerprint, step)`: the same alerts give
//! the same fingerprint in any run, so a validation set or a stored case
//! replays offline, under today's policy and prompt.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;
use warden_domain::ModelExchange;
use warden_domain::hashing::sha256_hex;

use crate::chat::ChatRequest;
use crate::provider::{anthropic, openai};
use crate::transport::{CallKey, CallOutcome, LlmError, LlmErrorKind, Transport, WireExchange};

/// Appends exchanges to a recording file.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Recorder {
    /// Open `path` for appending (created if missing).
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the recording {}: {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Append one exchange as a line.
    pub fn append(&self, exchange: &ModelExchange) -> Result<(), String> {
        let mut line = serde_json::to_string(exchange)
            .map_err(|e| format!("cannot encode an exchange: {e}"))?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| "the recording's lock is poisoned".to_owned())?;
        file.write_all(line.as_bytes())
            .map_err(|e| format!("cannot write the recording {}: {e}", self.path.display()))
    }
}

/// Read the exchanges of a recording. Lines that hold no exchange (other
/// audit events) are skipped; a line that is not JSON is an error naming
/// its line number, and so is a file with no exchange at all.
pub fn read_recording(path: &Path) -> Result<Vec<ModelExchange>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the recording {}: {e}", path.display()))?;
    let mut exchanges = Vec::new();
    let mut lines = 0usize;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let value: Value = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not JSON: {e}", path.display(), n + 1))?;
        if let Some(exchange) = exchange_in(&value) {
            exchanges.push(exchange);
        }
    }
    if exchanges.is_empty() {
        return Err(format!(
            "the recording {} holds no model exchange ({lines} line(s) read; a recording is JSON lines of exchanges, of audit entries or of `warden audit export` output with model_called events)",
            path.display()
        ));
    }
    Ok(exchanges)
}

/// The exchange a line holds: the line itself, an audit entry's, or an
/// exported entry's (`{"seq", "leaf_hash", "entry"}`).
pub fn exchange_in(value: &Value) -> Option<ModelExchange> {
    if let Ok(exchange) = serde_json::from_value::<ModelExchange>(value.clone()) {
        return Some(exchange);
    }
    let entry = value.get("entry").unwrap_or(value);
    let event = entry.get("event").unwrap_or(entry);
    if event.get("type").and_then(Value::as_str) != Some("model_called") {
        return None;
    }
    serde_json::from_value(event.get("exchange")?.clone()).ok()
}

/// Answers from a recording.
#[derive(Debug)]
pub struct ReplayTransport {
    model: String,
    recorded: HashMap<(String, u32), ModelExchange>,
}

impl ReplayTransport {
    /// Answer from `exchanges`. With a `model` other than `recorded`, only
    /// that model's exchanges answer.
    pub fn new(exchanges: Vec<ModelExchange>, model: &str) -> Self {
        Self::select(exchanges, None, model)
    }

    /// Answer from the exchanges of the assessor named (`llm`,
    /// `llm-second`), and with a `model` other than `recorded` only that
    /// model's: an ensemble's two models never answer for each other.
    pub fn for_assessor(exchanges: Vec<ModelExchange>, assessor: &str, model: &str) -> Self {
        Self::select(exchanges, Some(assessor), model)
    }

    fn select(exchanges: Vec<ModelExchange>, assessor: Option<&str>, model: &str) -> Self {
        let mut recorded = HashMap::new();
        for exchange in exchanges {
            if model != "recorded" && exchange.model != model {
                continue;
            }
            if assessor.is_some_and(|a| a != exchange.assessor) {
                continue;
            }
            // The last recording of a call wins (a re-run appends).
            recorded.insert((exchange.fingerprint.clone(), exchange.step), exchange);
        }
        Self {
            model: model.to_owned(),
            recorded,
        }
    }

    /// How many calls it can answer.
    pub fn len(&self) -> usize {
        self.recorded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recorded.is_empty()
    }
}

#[async_trait]
impl Transport for ReplayTransport {
    fn provider(&self) -> &str {
        "replay"
    }

    fn model(&self) -> &str {
        &self.model
    }

    /// As the recorded provider: Anthropic's recordings were asked with
    /// the answer as a tool.
    fn has_response_format(&self) -> bool {
        self.recorded.values().any(|x| x.provider != "anthropic")
    }

    async fn chat(&self, key: &CallKey, request: &ChatRequest) -> CallOutcome {
        let Some(recorded) = self.recorded.get(&(key.fingerprint.clone(), key.step)) else {
            return CallOutcome {
                reply: Err(LlmError::new(
                    LlmErrorKind::NotRecorded,
                    format!(
                        "the recording has no answer for step {} of this case (fingerprint {})",
                        key.step,
                        key.fingerprint.get(..12).unwrap_or(&key.fingerprint)
                    ),
                )),
                wire: {
                    let request = serde_json::to_value(request).unwrap_or(Value::Null);
                    WireExchange {
                        provider: "replay".into(),
                        endpoint: "replay:".into(),
                        request_text: request.to_string(),
                        request,
                        status: None,
                        response: String::new(),
                        response_bytes: 0,
                        response_sha256: sha256_hex(b""),
                        attempts: 0,
                        latency_ms: 0,
                    }
                },
            };
        };
        // The request as the recorded provider would get it today: its
        // hash differs from the recorded one when the prompt, the evidence
        // or the tools changed.
        let (body, reply) = match recorded.provider.as_str() {
            "anthropic" => (
                anthropic::request_body(&recorded.model, request),
                anthropic::parse_reply(recorded.response.as_bytes()),
            ),
            _ => (
                openai::request_body(&recorded.model, request),
                openai::parse_reply(recorded.response.as_bytes()),
            ),
        };
        // The recorded answer must be the bytes its hash names (a whole
        // answer; a cut one is bound by size and hash only).
        let whole = recorded.response.len() == recorded.response_bytes;
        let reply = match recorded.status {
            Some(200..=299)
                if whole
                    && sha256_hex(recorded.response.as_bytes()) != recorded.response_sha256 =>
            {
                Err(LlmError::new(
                    LlmErrorKind::Protocol,
                    format!(
                        "the recorded answer to step {} does not match its SHA-256: the recording was changed",
                        key.step
                    ),
                ))
            }
            Some(200..=299) => reply,
            status => Err(LlmError::new(
                match status {
                    Some(429) => LlmErrorKind::RateLimited,
                    Some(401 | 403) => LlmErrorKind::Auth,
                    Some(500..=599) => LlmErrorKind::Unavailable,
                    Some(_) => LlmErrorKind::Rejected,
                    None => LlmErrorKind::Timeout,
                },
                format!("recorded failure: {}", recorded.outcome),
            )),
        };
        CallOutcome {
            reply,
            wire: WireExchange {
                provider: format!("replay:{}", recorded.provider),
                endpoint: "replay:".into(),
                request_text: body.to_string(),
                request: body,
                status: recorded.status,
                response: recorded.response.clone(),
                response_bytes: recorded.response_bytes,
                response_sha256: recorded.response_sha256.clone(),
                attempts: 0,
                latency_ms: 0,
            },
        }
    }
}
