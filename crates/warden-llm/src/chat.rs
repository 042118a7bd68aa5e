//! A provider-neutral chat exchange: what the assessor asks and what a
//! model answers, before either is put into a vendor's wire format.
//!
//! The assessor speaks only these types; [`crate::provider`] turns them
//! into OpenAI chat-completions or Anthropic Messages bodies and back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The fixed, versioned system instructions (never holds case data).
    pub system: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Read tools the model may call (the playbook's plan).
    pub tools: Vec<ToolSpec>,
    /// The final answer's JSON Schema, offered as structured output
    /// (OpenAI `response_format`) or as the `submit_assessment` tool.
    pub output: OutputSpec,
    /// How this request offers the answer (OpenAI-compatible servers;
    /// Anthropic always gets the tool).
    #[serde(default)]
    pub answer_as: AnswerAs,
    /// Cap on the answer's tokens.
    pub max_tokens: u32,
    /// Settings against loops, sent only when set.
    #[serde(default)]
    pub sampling: Sampling,
}

/// How a request offers the final answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerAs {
    /// As one more function tool named after the [`OutputSpec`]; the model
    /// must call a tool (`tool_choice`: `required`, or that tool when it
    /// is the only one).
    #[default]
    Tool,
    /// As the response's JSON Schema (`response_format: json_schema`),
    /// beside any read tools.
    ResponseFormat,
}

impl AnswerAs {
    /// What a repair request tells the model to do, naming what this
    /// request offers and nothing else.
    pub fn instruction(self, output: &OutputSpec) -> String {
        match self {
            AnswerAs::Tool => format!(
                "Send the corrected answer by calling the {} tool.",
                output.name
            ),
            AnswerAs::ResponseFormat => format!(
                "Send the corrected answer as one JSON object following the response format's schema ({}).",
                output.name
            ),
        }
    }
}

/// Sampling settings against repetition; a zero is not sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// OpenAI's `frequency_penalty`.
    #[serde(default)]
    pub frequency_penalty: f64,
    /// llama.cpp's and Ollama's `repeat_penalty`.
    #[serde(default)]
    pub repeat_penalty: f64,
}

/// The final answer's contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// `submit_assessment`: the name of the schema and of the tool that
    /// carries it where a provider has no structured output.
    pub name: String,
    pub description: String,
    pub schema: Value,
}

/// A read tool the model may call (the host's description of it).
pub use warden_assess::ToolSpec;

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// Warden's side: the case data, or a repair request. Case data is
    /// always a JSON document (see `crate::prompt`), never prose.
    User { content: String },
    /// The model's turn, as it answered.
    Assistant {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, as a JSON document.
    Tool { call_id: String, content: String },
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call, echoed in the result.
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them. A provider that sends them
    /// as a string (OpenAI) has them parsed; text that is not JSON is kept
    /// as a JSON string so the caller can refuse it.
    pub arguments: Value,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// A complete answer.
    Stop,
    /// It wants tool results.
    ToolCalls,
    /// It hit the token cap: the answer is truncated.
    Length,
    /// Refused, filtered, or a reason we do not know.
    Other,
}

/// Tokens one call used, as the provider counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn total(self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// A model's answer, parsed from the provider's wire format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReply {
    /// Text content, if any (the structured answer on OpenAI).
    pub text: Option<String>,
    /// Tool calls, in order (the structured answer on Anthropic is a call
    /// of the `submit_assessment` tool).
    pub tool_calls: Vec<ToolCall>,
    pub finish: Finish,
    pub usage: Usage,
    /// The model that answered, as the provider named it.
    pub model: String,
}
