//! Provider wire formats and the HTTP transport.
//!
//! - [`openai`]: OpenAI chat completions (and Azure OpenAI, vLLM, Ollama,
//!   the llama.cpp server).
//! - [`anthropic`]: Anthropic Messages.
//! - [`limits`]: requests and tokens per minute, shared by every case.
//! - [`HttpTransport`]: a [`Transport`] over the shared HTTP layer
//!   (`warden-http`): time-outs, retries with jittered back-off honouring
//!   `Retry-After`, a body cap, and error texts scrubbed of the key.
//!
//! INVARIANT (S6): the API key goes only into a request header marked
//! sensitive. The wire record holds the body Warden built and the answer
//! scrubbed of the key; error messages and log lines are scrubbed too.

pub mod anthropic;
pub mod limits;
pub mod openai;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;
use warden_http::{
    Answer, BodyCut, ConnectorError, ConnectorErrorKind, ErrorText, HttpClient, HttpSettings,
    Retry, Secret, Trace,
};

use self::limits::RateLimiter;
use crate::chat::{ChatReply, ChatRequest, Usage};
use crate::config::{ProviderKind, Resolved};
use crate::transport::{CallKey, CallOutcome, LlmError, LlmErrorKind, Transport, WireExchange};

/// Named in error messages: "openai rejected the chat request (HTTP 400)".
const WHAT: &str = "the chat request";
/// The first back-off after a 5xx; doubles per retry up to the configured
/// longest wait.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// A model behind an OpenAI-compatible or Anthropic HTTP API.
///
/// Cloning (or [`HttpTransport::with_model`]) shares the HTTP client and
/// the rate limiter: the limits are the provider's, across every case and
/// both models of an ensemble.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    provider: ProviderKind,
    model: String,
    /// Where requests go (with Azure's `api-version` query).
    url: Url,
    /// `url` without its query, for the record.
    endpoint: String,
    /// The key (as a sensitive header value) and version headers.
    headers: HeaderMap,
    http: Arc<HttpClient>,
    limiter: Arc<RateLimiter>,
    /// `[llm] timeout_seconds` and `timeout_retries`, for the retry after
    /// a time-out and the message that names them.
    timeout_seconds: u64,
    timeout_retries: u32,
}

impl HttpTransport {
    /// A transport for `resolved.provider` (`openai` or `anthropic`) and
    /// `resolved.model`. Fails as `Config` when the settings cannot work:
    /// an unsafe or malformed base URL, a provider without HTTP, a key the
    /// provider needs missing, a zero time-out.
    pub fn new(resolved: &Resolved) -> Result<Self, LlmError> {
        let config = &resolved.config;
        let (product, error_text, path): (&'static str, ErrorText, &[&str]) = match resolved
            .provider
        {
            ProviderKind::Openai => ("openai", openai::error_text, &["chat", "completions"]),
            ProviderKind::Anthropic => ("anthropic", anthropic::error_text, &["v1", "messages"]),
            ProviderKind::Replay => {
                return Err(config_error(
                    "the replay provider answers from recordings and has no HTTP transport",
                ));
            }
        };
        if config.timeout_seconds == 0 {
            return Err(config_error("[llm] timeout_seconds must be at least 1"));
        }
        let base =
            warden_http::base_url("[llm] base_url (WARDEN_LLM_BASE_URL)", &resolved.base_url)
                .map_err(from_connector)?;
        let max_retry_wait = Duration::from_secs(config.max_retry_wait_seconds);
        let settings = HttpSettings {
            timeout: Duration::from_secs(config.timeout_seconds),
            max_retries: config.max_retries,
            max_retry_wait,
            initial_backoff: INITIAL_BACKOFF.min(max_retry_wait),
        };
        let mut http = HttpClient::new(product, settings, error_text, &[&base])
            .map_err(from_connector)?
            .with_body_cap(config.max_response_bytes);
        if let Some(key) = &resolved.api_key {
            http = http.protect(key);
        }
        let mut url = http.url(&base, path).map_err(from_connector)?;
        let endpoint = url.to_string();

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        match (
            resolved.provider,
            &config.azure_api_version,
            &resolved.api_key,
        ) {
            (ProviderKind::Anthropic, _, Some(key)) => {
                headers.insert(HeaderName::from_static("x-api-key"), sensitive(key, "")?);
                headers.insert(
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static(anthropic::API_VERSION),
                );
            }
            (ProviderKind::Anthropic, _, None) => {
                return Err(config_error(
                    "the anthropic provider needs an API key: set WARDEN_LLM_API_KEY or WARDEN_LLM_API_KEY_FILE",
                ));
            }
            (_, Some(version), Some(key)) => {
                headers.insert(HeaderName::from_static("api-key"), sensitive(key, "")?);
                url.query_pairs_mut().append_pair("api-version", version);
            }
            (_, Some(_), None) => {
                return Err(config_error(
                    "Azure OpenAI ([llm] azure_api_version) needs an API key: set WARDEN_LLM_API_KEY or WARDEN_LLM_API_KEY_FILE",
                ));
            }
            (_, None, Some(key)) => {
                headers.insert(AUTHORIZATION, sensitive(key, "Bearer ")?);
            }
            // A local server (Ollama, llama.cpp) may need no key.
            (_, None, None) => {}
        }
        Ok(Self {
            provider: resolved.provider,
            model: resolved.model.clone(),
            url,
            endpoint,
            headers,
            http: Arc::new(http),
            limiter: Arc::new(RateLimiter::new(
                config.requests_per_minute,
                config.tokens_per_minute,
            )),
            timeout_seconds: config.timeout_seconds,
            timeout_retries: config.timeout_retries,
        })
    }

    /// The same provider, key, client and rate limits, asking `model` (the
    /// ensemble's second model).
    pub fn with_model(&self, model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            ..self.clone()
        }
    }

    /// The endpoint requests go to, without query string.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The limiter this transport shares with its clones.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// The reply from what came back, or why there is none.
    fn reply(
        &self,
        result: Result<Answer, ConnectorError>,
        trace: &Trace,
        request_bytes: usize,
    ) -> Result<ChatReply, LlmError> {
        let product = self.provider.as_str();
        let answer = match result {
            Ok(answer) => answer,
            Err(error) => {
                return Err(match trace.cut {
                    Some(BodyCut::TooLarge) => LlmError::new(
                        LlmErrorKind::TooLarge,
                        format!(
                            "{product} answered {WHAT} with more than {} bytes ([llm] max_response_bytes)",
                            self.http.body_cap()
                        ),
                    ),
                    Some(BodyCut::Broken) => LlmError::new(
                        LlmErrorKind::Protocol,
                        format!(
                            "{product}'s answer to {WHAT} was cut short after {} bytes: {}",
                            trace.body_bytes, error.message
                        ),
                    ),
                    None => from_connector(error),
                });
            }
        };
        if !answer.status.is_success() {
            return Err(from_connector(self.http.failure(WHAT, &answer)));
        }
        let parsed = match self.provider {
            ProviderKind::Anthropic => anthropic::parse_reply(&answer.body),
            _ => openai::parse_reply(&answer.body),
        };
        let mut reply = parsed.map_err(|e| {
            let message = format!(
                "{product}'s answer to {WHAT} (HTTP {}): {}",
                answer.status.as_u16(),
                e.message
            );
            LlmError::new(e.kind, self.http.redact(&message))
        })?;
        if reply.usage == Usage::default() {
            // A server that reports no usage is charged an estimate, so
            // the per-case and per-minute budgets still bind.
            reply.usage = Usage {
                prompt_tokens: estimate_tokens(request_bytes),
                completion_tokens: estimate_tokens(answer.body.len()),
            };
        }
        Ok(reply)
    }
}

#[async_trait]
impl Transport for HttpTransport {
    fn provider(&self) -> &str {
        self.provider.as_str()
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn has_response_format(&self) -> bool {
        self.provider != ProviderKind::Anthropic
    }

    async fn chat(&self, key: &CallKey, request: &ChatRequest) -> CallOutcome {
        let body = match self.provider {
            ProviderKind::Anthropic => anthropic::request_body(&self.model, request),
            _ => openai::request_body(&self.model, request),
        };
        // INVARIANT (S5): these bytes are what is sent, what the record
        // keeps as `request_text`, and what its SHA-256 covers.
        let request_text = body.to_string();
        let request_bytes = request_text.len();
        let estimate = estimate_tokens(request_bytes).saturating_add(u64::from(request.max_tokens));
        let ticket = self.limiter.acquire(estimate).await;

        let started = Instant::now();
        let mut attempts = 0u32;
        let mut timeouts = 0u32;
        let (reply, trace) = loop {
            let builder = self
                .http
                .request(Method::POST, self.url.clone())
                .headers(self.headers.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(request_text.clone().into_bytes());
            let (result, trace) = self
                .http
                .send_traced(WHAT, builder, Retry::Idempotent)
                .await;
            attempts = attempts.saturating_add(trace.attempts);
            let reply = self.reply(result, &trace, request_bytes);
            match &reply {
                // A slow local server may answer the next time (its prompt
                // cache keeps what it had read): a bounded number of
                // further attempts.
                Err(e) if e.kind == LlmErrorKind::Timeout && timeouts < self.timeout_retries => {
                    timeouts += 1;
                    tracing::debug!(
                        provider = self.provider.as_str(),
                        step = key.step,
                        retry = timeouts,
                        "model call timed out; trying again"
                    );
                }
                _ => break (reply, trace),
            }
        };
        let reply = reply.map_err(|e| match e.kind {
            LlmErrorKind::Timeout => LlmError::new(
                LlmErrorKind::Timeout,
                format!(
                    "{} did not answer {WHAT} within {} s ([llm] timeout_seconds), {} time(s) ([llm] timeout_retries = {}); a model on a local CPU server needs minutes: raise timeout_seconds or set [llm] profile = \"local\"",
                    self.provider.as_str(),
                    self.timeout_seconds,
                    timeouts.saturating_add(1),
                    self.timeout_retries
                ),
            ),
            _ => e,
        });
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &reply {
            Ok(reply) => self.limiter.settle(ticket, reply.usage.total()),
            // Whether the provider counted a failed call is unknown: keep
            // the estimate.
            Err(_) => drop(ticket),
        }
        let wire = WireExchange {
            provider: self.provider.as_str().to_owned(),
            endpoint: self.endpoint.clone(),
            request: body,
            request_text,
            status: trace.status.map(|s| s.as_u16()),
            response: self.http.redact(&String::from_utf8_lossy(&trace.body)),
            response_bytes: trace.body_bytes,
            response_sha256: warden_domain::hashing::sha256_hex(&trace.body),
            attempts,
            latency_ms,
        };
        tracing::debug!(
            provider = self.provider.as_str(),
            model = %self.model,
            step = key.step,
            status = wire.status,
            attempts = wire.attempts,
            latency_ms,
            outcome = reply.as_ref().map_or_else(|e| e.kind.as_str(), |_| "ok"),
            "model called"
        );
        CallOutcome { reply, wire }
    }
}

/// About four bytes of JSON per token: rough, and corrected by the
/// provider's count after the call.
fn estimate_tokens(bytes: usize) -> u64 {
    u64::try_from(bytes / 4).unwrap_or(u64::MAX)
}

/// `prefix` and the key as a header value marked sensitive (never printed
/// by `Debug`, never cached by HTTP/2 header compression).
fn sensitive(key: &Secret, prefix: &str) -> Result<HeaderValue, LlmError> {
    let mut value = HeaderValue::from_str(&format!("{prefix}{}", key.expose()))
        .map_err(|_| config_error("the LLM API key holds characters a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn config_error(message: &str) -> LlmError {
    LlmError::new(LlmErrorKind::Config, message)
}

/// The HTTP layer's error as an LLM error (its message is already
/// scrubbed of the key).
fn from_connector(error: ConnectorError) -> LlmError {
    let kind = match error.kind {
        ConnectorErrorKind::Config => LlmErrorKind::Config,
        ConnectorErrorKind::Auth => LlmErrorKind::Auth,
        ConnectorErrorKind::RateLimited => LlmErrorKind::RateLimited,
        ConnectorErrorKind::Unavailable => LlmErrorKind::Unavailable,
        ConnectorErrorKind::Timeout => LlmErrorKind::Timeout,
        ConnectorErrorKind::Rejected => LlmErrorKind::Rejected,
        ConnectorErrorKind::Protocol => LlmErrorKind::Protocol,
    };
    LlmError::new(kind, error.message)
}

pub(crate) fn protocol(message: impl Into<String>) -> LlmError {
    LlmError::new(LlmErrorKind::Protocol, message)
}

/// A field the reply needs is missing or of the wrong type.
pub(crate) fn field_error(path: &str, expected: &str) -> LlmError {
    protocol(format!(
        "the answer's `{path}` is missing or not {expected}"
    ))
}

/// The body as JSON. The message says where it broke, never what it held.
pub(crate) fn decode_json(body: &[u8]) -> Result<Value, LlmError> {
    serde_json::from_slice(body).map_err(|e| {
        let at = format!("line {} column {}", e.line(), e.column());
        match e.classify() {
            serde_json::error::Category::Eof => protocol(format!(
                "the answer was cut short: its JSON ends early at {at}"
            )),
            _ => protocol(format!("the answer is not JSON: it breaks at {at}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LlmConfig;

    fn resolved(provider: ProviderKind, base_url: &str, key: Option<&str>) -> Resolved {
        Resolved {
            provider,
            base_url: base_url.into(),
            model: "m1".into(),
            api_key: key.map(Secret::new),
            config: LlmConfig::default(),
            second: None,
        }
    }

    #[test]
    fn endpoints_and_auth_headers_per_provider() {
        let key = "sk-unit-test-key-0123456789";
        let openai = HttpTransport::new(&resolved(
            ProviderKind::Openai,
            "https://api.openai.com/v1",
            Some(key),
        ))
        .unwrap();
        assert_eq!(
            openai.endpoint(),
            "https://api.openai.com/v1/chat/completions"
        );
        assert!(openai.headers.get(AUTHORIZATION).unwrap().is_sensitive());

        let local = HttpTransport::new(&resolved(
            ProviderKind::Openai,
            "http://127.0.0.1:11434/v1/",
            None,
        ))
        .unwrap();
        assert_eq!(
            local.endpoint(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        assert!(local.headers.get(AUTHORIZATION).is_none());

        let mut azure = resolved(
            ProviderKind::Openai,
            "https://x.openai.azure.com/openai/deployments/gpt",
            Some(key),
        );
        azure.config.azure_api_version = Some("2024-10-21".into());
        let azure = HttpTransport::new(&azure).unwrap();
        assert_eq!(
            azure.endpoint(),
            "https://x.openai.azure.com/openai/deployments/gpt/chat/completions"
        );
        assert_eq!(azure.url.query(), Some("api-version=2024-10-21"));
        assert!(azure.headers.get("api-key").unwrap().is_sensitive());
        assert!(azure.headers.get(AUTHORIZATION).is_none());

        let anthropic = HttpTransport::new(&resolved(
            ProviderKind::Anthropic,
            "https://api.anthropic.com",
            Some(key),
        ))
        .unwrap();
        assert_eq!(
            anthropic.endpoint(),
            "https://api.anthropic.com/v1/messages"
        );
        assert!(anthropic.headers.get("x-api-key").unwrap().is_sensitive());
        assert_eq!(
            anthropic.headers.get("anthropic-version").unwrap(),
            "2023-06-01"
        );

        for transport in [&openai, &azure, &anthropic] {
            let debug = format!("{transport:?}");
            assert!(!debug.contains(key), "{debug}");
        }
    }

    #[test]
    fn unusable_settings_are_config_errors() {
        let kind = |r: Resolved| HttpTransport::new(&r).err().map(|e| e.kind);
        let config = Some(LlmErrorKind::Config);
        assert_eq!(
            kind(resolved(
                ProviderKind::Openai,
                "http://api.example.com/v1",
                None
            )),
            config
        );
        assert_eq!(
            kind(resolved(ProviderKind::Replay, "replay:", None)),
            config
        );
        assert_eq!(
            kind(resolved(
                ProviderKind::Anthropic,
                "https://api.anthropic.com",
                None
            )),
            config
        );
        let mut azure = resolved(ProviderKind::Openai, "https://x.openai.azure.com", None);
        azure.config.azure_api_version = Some("2024-10-21".into());
        assert_eq!(kind(azure), config);
        let mut zero = resolved(ProviderKind::Openai, "https://api.openai.com/v1", None);
        zero.config.timeout_seconds = 0;
        assert_eq!(kind(zero), config);
        let bad_key = resolved(
            ProviderKind::Openai,
            "https://api.openai.com/v1",
            Some("a\nb"),
        );
        let err = HttpTransport::new(&bad_key).err().unwrap();
        assert_eq!(err.kind, LlmErrorKind::Config);
        assert!(!err.message.contains("a\nb"));
    }

    #[test]
    fn a_second_model_shares_the_limiter_and_client() {
        let first = HttpTransport::new(&resolved(
            ProviderKind::Openai,
            "https://api.openai.com/v1",
            None,
        ))
        .unwrap();
        let second = first.with_model("m2");
        assert_eq!(second.model(), "m2");
        assert_eq!(first.model(), "m1");
        assert!(Arc::ptr_eq(first.limiter(), second.limiter()));
        assert!(Arc::ptr_eq(&first.http, &second.http));
    }

    #[test]
    fn decode_errors_say_where_not_what() {
        let err = decode_json(b"{\"secret\": tru").unwrap_err();
        assert!(err.message.contains("cut short"), "{}", err.message);
        let err = decode_json(b"{\"secret\": nope}").unwrap_err();
        assert!(err.message.contains("not JSON"), "{}", err.message);
        assert!(!err.message.contains("secret"));
    }
}
