//! A model call as the record keeps it (S5): the prompt as sent and the
//! output as received, so a run can be replayed offline and audited.
//!
//! The request and the answer are kept as the exact text that went over
//! the wire (`request_text`, `response`), each with its SHA-256, beside
//! their parsed form (`request`, `answer`). The parsed form is for reading:
//! the audit log stores entries as canonical JSON, which sorts object keys,
//! so only the text is the bytes sent (and re-sending it gives a server the
//! same schema order the model first saw).

use serde::{Deserialize, Serialize};

/// One request to a model and what came back. The large fields are boxed:
/// this is carried inside an audit event, which stays small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelExchange {
    /// The assessor that called (`llm`, `llm-second`).
    pub assessor: String,
    /// `openai`, `anthropic`, `replay`.
    pub provider: String,
    /// The model asked for.
    pub model: String,
    /// The version of Warden's fixed system instructions.
    pub prompt_version: String,
    /// SHA-256 over the case's alerts' payload hashes, sorted: the same
    /// alerts have the same fingerprint in every run (the replay key).
    pub fingerprint: String,
    /// 0 for the case's first call, then 1, 2...
    pub step: u32,
    /// The request body, parsed (redacted evidence; never a credential).
    pub request: Box<serde_json::Value>,
    /// SHA-256 of `request_text`: the bytes sent.
    pub request_sha256: String,
    /// The request body exactly as sent. Absent in records made before it
    /// was kept (their hash covers the body as serialised then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_text: Option<Box<str>>,
    /// The final HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The answer body as received, cut at the recording cap.
    pub response: String,
    /// The whole answer's size and hash (the cut part is still bound).
    pub response_bytes: usize,
    pub response_sha256: String,
    /// `response` parsed, when it is whole JSON (for reading; the text is
    /// the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Box<serde_json::Value>>,
    /// Attempts made, retries included.
    pub attempts: u32,
    pub latency_ms: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// `answered`, `tool_calls`, or the failure (`timeout error: ...`).
    pub outcome: String,
}
