//! The LLM assessor: a model reads a case's evidence, may ask for more
//! through the playbook's read tools, and proposes a verdict and actions.
//! Whatever it answers is a proposal checked by the pipeline, the policy,
//! people and the executor (S1-S4).
//!
//! # Layout
//!
//! - [`config`]: `[llm]` and `WARDEN_LLM_*`.
//! - [`chat`]: the provider-neutral request and reply.
//! - [`provider`]: OpenAI chat completions and Anthropic Messages on the
//!   wire, over the shared HTTP layer, with rate limits.
//! - [`transport`]: the [`Transport`] trait, the wire record and errors.
//! - [`prompt`]: the fixed, versioned instructions and the case document
//!   (least data, untrusted text spotlighted).
//! - [`assessor`]: [`LlmAssessor`], the bounded loop: investigate through
//!   the host's vetted tools, answer, one repair.
//! - [`answer`]: the answer's schema, parsing and checks (citations,
//!   claims against evidence, targets).
//! - [`record`]: recordings, and [`ReplayTransport`] answering from them.
//!
//! INVARIANT (S1): like every assessor, this crate cannot reach the
//! executor, the store or the audit log (a test in `warden-cli` checks the
//! crate graph); context comes only through the pipeline's vetted gateway.

pub mod answer;
pub mod assessor;
pub mod chat;
pub mod config;
pub mod prompt;
pub mod provider;
pub mod record;
pub mod transport;

pub use assessor::LlmAssessor;
pub use chat::{
    AnswerAs, ChatReply, ChatRequest, Finish, Message, OutputSpec, Sampling, ToolCall, ToolSpec,
    Usage,
};
pub use config::{
    LlmConfig, LlmEnv, Profile, ProviderKind, Resolved, SecondModel, StructuredOutput,
};
pub use provider::HttpTransport;
pub use record::{Recorder, ReplayTransport};
pub use transport::{CallKey, CallOutcome, LlmError, LlmErrorKind, Transport, WireExchange};

/// The LLM assessors `resolved` describes: the model, and with `ensemble`
/// the second model too when `[llm] second_model` or `[llm.second]` is
/// set. `second_model` shares the first model's transport (one client, one
/// rate limit); `[llm.second]` has its own. A recording to append to
/// (`[llm] record_to`) is opened here.
pub fn assessors(resolved: &Resolved, ensemble: bool) -> Result<Vec<LlmAssessor>, String> {
    use std::sync::Arc;
    let config = &resolved.config;
    let recorder = match &config.record_to {
        Some(path) => Some(Arc::new(Recorder::open(path)?)),
        None => None,
    };
    let second_name = config
        .second_model
        .clone()
        .or_else(|| resolved.second.as_ref().map(|s| s.model.clone()));
    let transports: Vec<(String, Arc<dyn Transport>)> = match resolved.provider {
        ProviderKind::Replay => {
            let path = config
                .recordings
                .as_deref()
                .ok_or("the replay provider needs [llm] recordings")?;
            let exchanges = record::read_recording(path)?;
            let first = ReplayTransport::for_assessor(exchanges.clone(), "llm", &resolved.model);
            if first.is_empty() {
                return Err(format!(
                    "the recording {} has no exchange of the assessor llm{}",
                    path.display(),
                    if resolved.model == "recorded" {
                        String::new()
                    } else {
                        format!(" with model {}", resolved.model)
                    }
                ));
            }
            let mut list: Vec<(String, Arc<dyn Transport>)> =
                vec![("llm".to_owned(), Arc::new(first))];
            if let (true, Some(second)) = (ensemble, &second_name) {
                list.push((
                    "llm-second".to_owned(),
                    Arc::new(ReplayTransport::for_assessor(
                        exchanges,
                        "llm-second",
                        second,
                    )),
                ));
            }
            list
        }
        ProviderKind::Openai | ProviderKind::Anthropic => {
            let first = HttpTransport::new(resolved).map_err(|e| e.to_string())?;
            let mut list: Vec<(String, Arc<dyn Transport>)> = Vec::new();
            if ensemble {
                if let Some(second) = &resolved.second {
                    let own =
                        HttpTransport::new(second).map_err(|e| format!("[llm.second]: {e}"))?;
                    list.push(("llm-second".to_owned(), Arc::new(own)));
                } else if let Some(second) = &config.second_model {
                    list.push(("llm-second".to_owned(), Arc::new(first.with_model(second))));
                }
            }
            list.insert(0, ("llm".to_owned(), Arc::new(first)));
            list
        }
    };
    Ok(transports
        .into_iter()
        .map(|(name, transport)| {
            let assessor = LlmAssessor::new(&name, transport, config.clone());
            match &recorder {
                Some(recorder) => assessor.with_recorder(recorder.clone()),
                None => assessor,
            }
        })
        .collect())
}
