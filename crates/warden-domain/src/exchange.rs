//! A model call as the record keeps it (S5): the prompt as sent and the
//! output as received, so a run can be replayed offline and audited.

use serde::{Deserialize, Serialize};

/// One request to a model and what came back.
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
    /// The request body as sent (redacted evidence; never a credential).
    pub request: serde_json::Value,
    pub request_sha256: String,
    /// The final HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The answer body as received, cut at the recording cap.
    pub response: String,
    /// The whole answer's size and hash (the cut part is still bound).
    pub response_bytes: usize,
    pub response_sha256: String,
    /// Attempts made, retries included.
    pub attempts: u32,
    pub latency_ms: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// `answered`, `tool_calls`, or the failure (`timeout error: ...`).
    pub outcome: String,
}
