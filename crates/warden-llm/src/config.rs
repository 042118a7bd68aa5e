//! `[llm]` in `warden.toml`, and the `WARDEN_LLM_*` environment, which wins.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use warden_http::Secret;

/// Which wire format the provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI chat completions, and every server that copies it (Azure
    /// OpenAI, vLLM, Ollama, the llama.cpp server).
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// No network: answers come from recorded exchanges (`recordings`).
    Replay,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Replay => "replay",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "openai" => Ok(ProviderKind::Openai),
            "anthropic" => Ok(ProviderKind::Anthropic),
            "replay" => Ok(ProviderKind::Replay),
            other => Err(format!(
                "WARDEN_LLM_PROVIDER={other:?} is not a provider: use openai (any OpenAI-compatible server), anthropic, or replay"
            )),
        }
    }
}

/// `[llm]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    pub provider: Option<ProviderKind>,
    /// `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama),
    /// `https://api.anthropic.com`. Defaults per provider.
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// A file holding the API key (the key itself only ever comes from the
    /// environment or this file, never from `warden.toml`).
    pub api_key_file: Option<PathBuf>,
    /// Azure OpenAI: sent as `api-key` with `?api-version=` instead of a
    /// bearer token.
    pub azure_api_version: Option<String>,
    /// A second model for `--assessor ensemble` (same provider).
    pub second_model: Option<String>,
    /// Limit on one attempt, seconds.
    pub timeout_seconds: u64,
    /// Retries after the first attempt (429, 5xx, connection failures).
    pub max_retries: u32,
    /// Longest wait between attempts, seconds; a `Retry-After` asking for
    /// more ends the call.
    pub max_retry_wait_seconds: u64,
    /// Requests per minute across all cases (0: no limit).
    pub requests_per_minute: u32,
    /// Tokens per minute across all cases, estimated before the call and
    /// corrected by the provider's count after it (0: no limit).
    pub tokens_per_minute: u64,
    /// Model calls per case: the investigation plus the answer, and the
    /// one repair.
    pub max_steps: u32,
    /// Tool calls per case, over all steps.
    pub max_tool_calls: u32,
    /// `max_tokens` of each answer.
    pub max_output_tokens: u32,
    /// Largest answer body read, bytes; a larger one fails the call.
    pub max_response_bytes: usize,
    /// Tokens one case may use, prompts and answers together.
    pub max_tokens_per_case: u64,
    /// Dollars one case may cost (0: no cost limit).
    pub max_cost_per_case: f64,
    /// Price per million prompt tokens, dollars (for the cost budget).
    pub input_price_per_million: f64,
    /// Price per million answer tokens, dollars.
    pub output_price_per_million: f64,
    /// Longest untrusted text passed to the model, characters per field.
    pub max_untrusted_chars: usize,
    /// Cases triaged at once when the LLM assesses.
    pub max_in_flight: usize,
    /// Recorded exchanges to answer from (`provider = "replay"`): a JSON
    /// lines file of `model_called` records.
    pub recordings: Option<PathBuf>,
    /// Also append every exchange to this JSON lines file (a recording
    /// others can replay).
    pub record_to: Option<PathBuf>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            provider: None,
            base_url: None,
            model: None,
            api_key_file: None,
            azure_api_version: None,
            second_model: None,
            timeout_seconds: 60,
            max_retries: 3,
            max_retry_wait_seconds: 30,
            requests_per_minute: 60,
            tokens_per_minute: 200_000,
            max_steps: 4,
            max_tool_calls: 6,
            max_output_tokens: 2_048,
            max_response_bytes: 256 * 1024,
            max_tokens_per_case: 60_000,
            max_cost_per_case: 0.0,
            input_price_per_million: 0.0,
            output_price_per_million: 0.0,
            max_untrusted_chars: 512,
            max_in_flight: 16,
            recordings: None,
            record_to: None,
        }
    }
}

/// The environment's `WARDEN_LLM_*` values (read once, so tests can pass
/// their own).
#[derive(Debug, Clone, Default)]
pub struct LlmEnv {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<Secret>,
    pub api_key_file: Option<PathBuf>,
    pub recordings: Option<PathBuf>,
}

impl LlmEnv {
    /// Read the process environment.
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            provider: var("WARDEN_LLM_PROVIDER"),
            base_url: var("WARDEN_LLM_BASE_URL"),
            model: var("WARDEN_LLM_MODEL"),
            api_key: var("WARDEN_LLM_API_KEY").map(Secret::new),
            api_key_file: var("WARDEN_LLM_API_KEY_FILE").map(PathBuf::from),
            recordings: var("WARDEN_LLM_RECORDINGS").map(PathBuf::from),
        }
    }
}

/// Settings after the environment was applied, ready to build a client.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub provider: ProviderKind,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub config: LlmConfig,
}

impl LlmConfig {
    /// Apply `env` over the file's settings and check that an assessor can
    /// be built: a provider, a model, and a key where the provider needs
    /// one. Each error names the setting to fix.
    pub fn resolve(&self, env: &LlmEnv) -> Result<Resolved, String> {
        let mut config = self.clone();
        if let Some(path) = &env.recordings {
            config.recordings = Some(path.clone());
        }
        let provider = match &env.provider {
            Some(text) => ProviderKind::parse(text)?,
            None => self.provider.ok_or(
                "no LLM provider is configured: set WARDEN_LLM_PROVIDER (openai, anthropic or replay) or [llm] provider in warden.toml",
            )?,
        };
        let base_url = env
            .base_url
            .clone()
            .or_else(|| self.base_url.clone())
            .unwrap_or_else(|| {
                match provider {
                    ProviderKind::Openai => "https://api.openai.com/v1",
                    ProviderKind::Anthropic => "https://api.anthropic.com",
                    ProviderKind::Replay => "replay:",
                }
                .to_owned()
            });
        let model = env
            .model
            .clone()
            .or_else(|| self.model.clone())
            .or_else(|| (provider == ProviderKind::Replay).then(|| "recorded".to_owned()))
            .ok_or("no LLM model is configured: set WARDEN_LLM_MODEL or [llm] model")?;
        let key_file = env
            .api_key_file
            .clone()
            .or_else(|| self.api_key_file.clone());
        let api_key = match (&env.api_key, key_file) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(path)) => Some(Secret::from_file(&path).map_err(|e| e.message)?),
            (None, None) => None,
        };
        if provider == ProviderKind::Replay && config.recordings.is_none() {
            return Err(
                "provider replay needs recordings: set WARDEN_LLM_RECORDINGS or [llm] recordings to a JSON lines file of recorded exchanges".into(),
            );
        }
        if provider == ProviderKind::Anthropic && api_key.is_none() {
            return Err(
                "the anthropic provider needs an API key: set WARDEN_LLM_API_KEY or WARDEN_LLM_API_KEY_FILE".into(),
            );
        }
        if config.max_steps < 2 {
            return Err("[llm] max_steps must be at least 2 (an answer and one repair)".into());
        }
        if config.max_in_flight == 0 {
            return Err("[llm] max_in_flight must be at least 1".into());
        }
        Ok(Resolved {
            provider,
            base_url,
            model,
            api_key,
            config,
        })
    }
}
