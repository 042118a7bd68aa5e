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

/// How the final answer's schema is offered to an OpenAI-compatible
/// server (Anthropic always gets it as the `submit_assessment` tool).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// On steps that offer read tools, the answer is one more function
    /// tool (`submit_assessment`) and no `response_format` is sent, so a
    /// server that turns `response_format` into an output grammar (the
    /// llama.cpp server) still lets the model call tools; the last,
    /// tool-less step asks for `response_format: json_schema`.
    #[default]
    Auto,
    /// Always the `submit_assessment` tool, never `response_format` (for a
    /// server that has tool calling but no structured output).
    Tool,
    /// Always `response_format: json_schema`, beside the read tools (for a
    /// server that honours both at once, as OpenAI's own does).
    ResponseFormat,
}

impl StructuredOutput {
    pub fn as_str(self) -> &'static str {
        match self {
            StructuredOutput::Auto => "auto",
            StructuredOutput::Tool => "tool",
            StructuredOutput::ResponseFormat => "response_format",
        }
    }
}

/// A preset of settings for a kind of server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// A hosted API: the defaults as listed.
    #[default]
    Hosted,
    /// A model on a local CPU server (llama.cpp, Ollama): every setting
    /// still at its hosted default takes the local value instead
    /// ([`LlmConfig::LOCAL`]): long time-outs, one case in flight, no rate
    /// limits, one retry after a time-out, short answers.
    Local,
}

/// `[llm.second]`: the ensemble's second model, on its own server or
/// vendor. Unset fields are not inherited: a second opinion names its
/// provider and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondModel {
    /// `openai` or `anthropic`.
    pub provider: ProviderKind,
    /// Its server (defaults per provider, as for the first model).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The model to ask.
    pub model: String,
    /// A file holding its API key (or `WARDEN_LLM_SECOND_API_KEY`,
    /// `WARDEN_LLM_SECOND_API_KEY_FILE`); the first model's key is never
    /// sent to the second server.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Azure OpenAI's `api-version`, when the second model is on Azure.
    #[serde(default)]
    pub azure_api_version: Option<String>,
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
    /// A second model for `--assessor ensemble` (same provider, server
    /// and key). For another server or vendor use `[llm.second]`.
    pub second_model: Option<String>,
    /// The ensemble's second model on its own provider, server and key.
    pub second: Option<SecondModel>,
    /// Presets: `hosted` (the defaults) or `local` (a CPU server).
    pub profile: Profile,
    /// How the answer's schema is offered to an OpenAI-compatible server:
    /// `auto`, `tool` or `response_format`.
    pub structured_output: StructuredOutput,
    /// Limit on one attempt, seconds.
    pub timeout_seconds: u64,
    /// Further attempts after an attempt timed out (a slow local server
    /// may answer the second time from its prompt cache).
    pub timeout_retries: u32,
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
    /// `frequency_penalty` (OpenAI, Azure, vLLM, Ollama, llama.cpp): above
    /// 0 discourages repeating tokens; 0 sends nothing.
    pub frequency_penalty: f64,
    /// `repeat_penalty` (llama.cpp and Ollama only; OpenAI refuses it):
    /// above 1 discourages loops; 0 sends nothing.
    pub repeat_penalty: f64,
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
            second: None,
            profile: Profile::Hosted,
            structured_output: StructuredOutput::Auto,
            timeout_seconds: 60,
            timeout_retries: 0,
            max_retries: 3,
            max_retry_wait_seconds: 30,
            requests_per_minute: 60,
            tokens_per_minute: 200_000,
            max_steps: 4,
            max_tool_calls: 6,
            max_output_tokens: 2_048,
            frequency_penalty: 0.0,
            repeat_penalty: 0.0,
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

impl LlmConfig {
    /// What `profile = "local"` sets where the hosted default stands:
    /// measured on a 2-core CPU server with 0.5B and 1.5B models, where
    /// one call took from 20 s to several minutes (prompts prefilled at
    /// 40-140 tokens/s, answers at 1-20 tokens/s) and one slot serves one
    /// request at a time.
    pub const LOCAL: LocalPreset = LocalPreset {
        timeout_seconds: 900,
        timeout_retries: 1,
        max_in_flight: 1,
        requests_per_minute: 0,
        tokens_per_minute: 0,
        max_output_tokens: 768,
        repeat_penalty: 1.1,
        frequency_penalty: 0.0,
    };

    /// The settings with the profile applied: under `local`, each field
    /// that still has its hosted default takes the local value (a value
    /// set in `warden.toml` wins).
    pub fn with_profile(&self) -> LlmConfig {
        let mut config = self.clone();
        if config.profile != Profile::Local {
            return config;
        }
        let hosted = LlmConfig::default();
        let local = Self::LOCAL;
        if config.timeout_seconds == hosted.timeout_seconds {
            config.timeout_seconds = local.timeout_seconds;
        }
        if config.timeout_retries == hosted.timeout_retries {
            config.timeout_retries = local.timeout_retries;
        }
        if config.max_in_flight == hosted.max_in_flight {
            config.max_in_flight = local.max_in_flight;
        }
        if config.requests_per_minute == hosted.requests_per_minute {
            config.requests_per_minute = local.requests_per_minute;
        }
        if config.tokens_per_minute == hosted.tokens_per_minute {
            config.tokens_per_minute = local.tokens_per_minute;
        }
        if config.max_output_tokens == hosted.max_output_tokens {
            config.max_output_tokens = local.max_output_tokens;
        }
        if config.repeat_penalty == hosted.repeat_penalty {
            config.repeat_penalty = local.repeat_penalty;
        }
        if config.frequency_penalty == hosted.frequency_penalty {
            config.frequency_penalty = local.frequency_penalty;
        }
        config
    }
}

/// The values `profile = "local"` brings (see [`LlmConfig::LOCAL`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalPreset {
    pub timeout_seconds: u64,
    pub timeout_retries: u32,
    pub max_in_flight: usize,
    pub requests_per_minute: u32,
    pub tokens_per_minute: u64,
    pub max_output_tokens: u32,
    pub repeat_penalty: f64,
    pub frequency_penalty: f64,
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
    /// `WARDEN_LLM_SECOND_API_KEY`: the key of `[llm.second]`.
    pub second_api_key: Option<Secret>,
    /// `WARDEN_LLM_SECOND_API_KEY_FILE`.
    pub second_api_key_file: Option<PathBuf>,
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
            second_api_key: var("WARDEN_LLM_SECOND_API_KEY").map(Secret::new),
            second_api_key_file: var("WARDEN_LLM_SECOND_API_KEY_FILE").map(PathBuf::from),
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
    /// With the profile applied ([`LlmConfig::with_profile`]).
    pub config: LlmConfig,
    /// `[llm.second]`, resolved (its own provider, server, model, key;
    /// the first model's limits and budgets).
    pub second: Option<Box<Resolved>>,
}

impl LlmConfig {
    /// Apply `env` over the file's settings and check that an assessor can
    /// be built: a provider, a model, and a key where the provider needs
    /// one. Each error names the setting to fix.
    pub fn resolve(&self, env: &LlmEnv) -> Result<Resolved, String> {
        let mut config = self.with_profile();
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
        for (name, value, low, high) in [
            ("frequency_penalty", config.frequency_penalty, -2.0, 2.0),
            ("repeat_penalty", config.repeat_penalty, 0.0, 2.0),
        ] {
            if !(low..=high).contains(&value) {
                return Err(format!(
                    "[llm] {name} must be between {low} and {high} (0 sends nothing)"
                ));
            }
        }
        let second = match &config.second {
            None => None,
            Some(_) if config.second_model.is_some() => {
                return Err(
                    "[llm] second_model and [llm.second] both name a second model: keep one".into(),
                );
            }
            Some(second) => Some(Box::new(second.resolve(env, &config)?)),
        };
        Ok(Resolved {
            provider,
            base_url,
            model,
            api_key,
            config,
            second,
        })
    }
}

impl SecondModel {
    /// The second model's settings: its provider, server, model and key;
    /// the first model's limits, budgets and sampling (`first`).
    fn resolve(&self, env: &LlmEnv, first: &LlmConfig) -> Result<Resolved, String> {
        if self.provider == ProviderKind::Replay {
            return Err(
                "[llm.second] provider must be openai or anthropic (a recording answers both models when the first provider is replay)".into(),
            );
        }
        if self.model.trim().is_empty() {
            return Err("[llm.second] model is empty".into());
        }
        let base_url = self.base_url.clone().unwrap_or_else(|| {
            match self.provider {
                ProviderKind::Anthropic => "https://api.anthropic.com",
                _ => "https://api.openai.com/v1",
            }
            .to_owned()
        });
        let key_file = env
            .second_api_key_file
            .clone()
            .or_else(|| self.api_key_file.clone());
        let api_key = match (&env.second_api_key, key_file) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(path)) => Some(Secret::from_file(&path).map_err(|e| e.message)?),
            (None, None) => None,
        };
        if self.provider == ProviderKind::Anthropic && api_key.is_none() {
            return Err(
                "[llm.second] on anthropic needs an API key: set WARDEN_LLM_SECOND_API_KEY or WARDEN_LLM_SECOND_API_KEY_FILE".into(),
            );
        }
        let mut config = first.clone();
        config.second = None;
        config.second_model = None;
        config.azure_api_version = self.azure_api_version.clone();
        Ok(Resolved {
            provider: self.provider,
            base_url,
            model: self.model.clone(),
            api_key,
            config,
            second: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_profile_changes_only_what_is_still_at_its_default() {
        let config: LlmConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\nprofile = \"local\"\nmax_output_tokens = 512\n",
        )
        .unwrap();
        let resolved = config.resolve(&LlmEnv::default()).unwrap();
        let c = &resolved.config;
        assert_eq!(c.timeout_seconds, LlmConfig::LOCAL.timeout_seconds);
        assert_eq!(c.timeout_retries, 1);
        assert_eq!(c.max_in_flight, 1);
        assert_eq!((c.requests_per_minute, c.tokens_per_minute), (0, 0));
        assert_eq!(c.max_output_tokens, 512, "a value set in the file wins");
        assert!((c.repeat_penalty - 1.1).abs() < f64::EPSILON);
        let hosted: LlmConfig = toml::from_str("provider = \"openai\"\nmodel = \"m\"\n").unwrap();
        let hosted = hosted.resolve(&LlmEnv::default()).unwrap().config;
        assert_eq!(hosted.timeout_seconds, 60);
        assert_eq!(hosted.structured_output, StructuredOutput::Auto);
    }

    #[test]
    fn a_second_model_has_its_own_server_and_key_and_never_the_first_key() {
        let config: LlmConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"first\"\n[second]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:8081/v1\"\nmodel = \"other\"\n",
        )
        .unwrap();
        let env = LlmEnv {
            api_key: Some(Secret::new("sk-first-0000")),
            ..LlmEnv::default()
        };
        let resolved = config.resolve(&env).unwrap();
        let second = resolved.second.expect("a second model");
        assert_eq!(second.model, "other");
        assert_eq!(second.base_url, "http://127.0.0.1:8081/v1");
        assert!(
            second.api_key.is_none(),
            "the first key stays with the first server"
        );

        let both: LlmConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\nsecond_model = \"x\"\n[second]\nprovider = \"openai\"\nmodel = \"y\"\n",
        )
        .unwrap();
        let err = both.resolve(&LlmEnv::default()).unwrap_err();
        assert!(err.contains("keep one"), "{err}");

        let anthropic: LlmConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\n[second]\nprovider = \"anthropic\"\nmodel = \"claude\"\n",
        )
        .unwrap();
        let err = anthropic.resolve(&LlmEnv::default()).unwrap_err();
        assert!(err.contains("WARDEN_LLM_SECOND_API_KEY"), "{err}");
    }

    #[test]
    fn structured_output_and_penalties_parse_and_are_bounded() {
        let config: LlmConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\nstructured_output = \"response_format\"\nrepeat_penalty = 3.0\n",
        )
        .unwrap();
        assert_eq!(config.structured_output, StructuredOutput::ResponseFormat);
        let err = config.resolve(&LlmEnv::default()).unwrap_err();
        assert!(err.contains("repeat_penalty"), "{err}");
        assert!(toml::from_str::<LlmConfig>("structured_output = \"grammar\"\n").is_err());
    }
}
