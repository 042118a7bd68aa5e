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
//!
//! INVARIANT (S1): like every assessor, this crate cannot reach the
//! executor, the store or the audit log (a test in `warden-cli` checks the
//! crate graph); context comes only through the pipeline's vetted gateway.

pub mod chat;
pub mod config;
pub mod provider;
pub mod transport;

pub use chat::{ChatReply, ChatRequest, Finish, Message, OutputSpec, ToolCall, ToolSpec, Usage};
pub use config::{LlmConfig, LlmEnv, ProviderKind, Resolved};
pub use provider::HttpTransport;
pub use transport::{CallKey, CallOutcome, LlmError, LlmErrorKind, Transport, WireExchange};
