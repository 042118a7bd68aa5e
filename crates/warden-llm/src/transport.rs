//! How a [`ChatRequest`] reaches a model and comes back: over HTTP to a
//! provider ([`crate::provider::HttpTransport`]), or from a recording
//! ([`crate::replay::ReplayTransport`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::chat::{ChatReply, ChatRequest};

/// Which call of which case this is: the key a recording is found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallKey {
    /// SHA-256 over the case's alerts' payload hashes, sorted: the same
    /// alerts give the same fingerprint in any run.
    pub fingerprint: String,
    /// 0 for the first call of the case, then 1, 2...
    pub step: u32,
}

/// What went over the wire, for the record (S5). Never holds a
/// credential: headers are not kept, and the body is what Warden built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireExchange {
    /// `openai`, `anthropic`, `replay`.
    pub provider: String,
    /// The endpoint, without query string or credentials.
    pub endpoint: String,
    /// The request body as sent, parsed.
    pub request: serde_json::Value,
    /// The request body as sent, exactly (the bytes its SHA-256 covers).
    pub request_text: String,
    /// The final HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The answer body as received, cut at the size cap (lossy UTF-8).
    pub response: String,
    /// The answer's full size in bytes (larger than `response` when cut).
    pub response_bytes: usize,
    /// SHA-256 of the whole answer body as received.
    pub response_sha256: String,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// Wall time, first attempt to last byte.
    pub latency_ms: u64,
}

/// Why a call gave no usable reply. Every kind ends in escalation (S4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmErrorKind {
    /// Configuration or credentials unusable on our side.
    Config,
    /// The provider refused our credentials.
    Auth,
    /// 429 after the retries, or the wait asked for was too long.
    RateLimited,
    /// 5xx or connection failures after the retries.
    Unavailable,
    /// No answer in time.
    Timeout,
    /// The provider rejected the request (other 4xx).
    Rejected,
    /// The answer broke the provider's wire format (malformed JSON,
    /// missing fields, cut short).
    Protocol,
    /// The answer was larger than the cap.
    TooLarge,
    /// The case's token or cost budget is spent.
    Budget,
    /// A recording has no answer for this call.
    NotRecorded,
}

impl LlmErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LlmErrorKind::Config => "config",
            LlmErrorKind::Auth => "auth",
            LlmErrorKind::RateLimited => "rate_limited",
            LlmErrorKind::Unavailable => "unavailable",
            LlmErrorKind::Timeout => "timeout",
            LlmErrorKind::Rejected => "rejected",
            LlmErrorKind::Protocol => "protocol",
            LlmErrorKind::TooLarge => "too_large",
            LlmErrorKind::Budget => "budget",
            LlmErrorKind::NotRecorded => "not_recorded",
        }
    }
}

/// A failed call. The message never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error: {message}", kind.as_str())]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub message: String,
}

impl LlmError {
    pub fn new(kind: LlmErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// One call's result with its wire record. The record exists even when
/// the call failed (a time-out is on the record too).
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub reply: Result<ChatReply, LlmError>,
    pub wire: WireExchange,
}

/// Something that answers chat requests.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// `openai`, `anthropic` or `replay`.
    fn provider(&self) -> &str;
    /// The model asked for.
    fn model(&self) -> &str;
    /// Whether the wire has a structured-output field (OpenAI's
    /// `response_format`); without one the answer is always a tool.
    fn has_response_format(&self) -> bool {
        true
    }
    /// Send `request` as call `key`.
    async fn chat(&self, key: &CallKey, request: &ChatRequest) -> CallOutcome;
}
