//! Slack messages: `notify.owner`, posted to a configured channel.
//!
//! Wire format (Slack Web API):
//! - `POST /api/chat.postMessage`, `Authorization: Bearer <bot token>`,
//!   JSON `{"channel", "text", "unfurl_links": false, "unfurl_media":
//!   false}`: 200 `{"ok": true, "channel", "ts"}`.
//! - Failures are mostly HTTP 200 with `{"ok": false, "error": "<code>"}`:
//!   `invalid_auth`, `not_authed`, `token_revoked`... are `Auth`,
//!   `ratelimited` is `RateLimited`, anything else `Rejected`. Rate limits
//!   are also HTTP 429 with `Retry-After`.
//!
//! The text is built from structured fields only; `&`, `<` and `>` are
//! escaped, so nothing in it can become a mention (`<!channel>`) or a link.
//! Slack has no idempotency key: a message repeated after an unclear
//! failure carries the same reference, so readers can tell.

use async_trait::async_trait;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::Deserialize;
use warden_domain::{ActionName, ObservableKind, Target};

use super::http::{self, HttpClient, HttpSettings, Retry, Secret, SecretRef};
use super::text::{self, Brief};
use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

const MAX_TEXT_CHARS: usize = 3000;

/// `[connectors.slack]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The bot token (`xoxb-...`).
    pub bot_token: SecretRef,
    /// Channel id (`C0123456789`) the notices go to.
    pub channel: String,
    #[serde(default = "default_base_url")]
    pub base_url: String,
}

fn default_base_url() -> String {
    "https://slack.com".to_owned()
}

/// Posts owner notices to Slack.
#[derive(Debug)]
pub struct SlackConnector {
    http: HttpClient,
    url: Url,
    token: Secret,
    channel: String,
}

#[derive(Debug, Deserialize)]
struct SlackAnswer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

fn error_text(body: &[u8]) -> Option<String> {
    let parsed: SlackAnswer = serde_json::from_slice(body).ok()?;
    parsed.error
}

/// Slack's three control characters, escaped.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl SlackConnector {
    /// Reads the bot token now.
    pub fn new(config: &SlackConfig, settings: HttpSettings) -> Result<Self, ConnectorError> {
        let base = http::base_url("connectors.slack.base_url", &config.base_url)?;
        let channel = config.channel.trim();
        if channel.is_empty()
            || channel.len() > 80
            || !channel
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'#'))
        {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.slack.channel must be a channel id or name",
            ));
        }
        let token = config.bot_token.load()?;
        let http = HttpClient::new("Slack", settings, error_text, &[&base])?.protect(&token);
        let url = http.url(&base, &["api", "chat.postMessage"])?;
        Ok(Self {
            http,
            url,
            token,
            channel: channel.to_owned(),
        })
    }
}

/// The message: a fixed headline and the facts, parameters as quoted data.
fn message(brief: &Brief) -> String {
    let mut lines = vec![format!(
        "Warden notice for the owner of {} ({})",
        brief.target, brief.case
    )];
    lines.extend(brief.fact_lines());
    if !brief.parameters.is_empty() {
        lines.push("Parameters, as proposed (data):".to_owned());
        lines.extend(
            brief
                .parameters
                .iter()
                .map(|p| format!("> {}", p.replace('`', "'"))),
        );
    }
    let text = escape(&lines.join("\n"));
    if text.chars().count() <= MAX_TEXT_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_TEXT_CHARS - 1).collect();
    // Never end inside an escape sequence.
    if let Some(amp) = cut.rfind('&')
        && cut.get(amp..).is_some_and(|tail| !tail.contains(';'))
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

#[async_trait]
impl Connector for SlackConnector {
    fn name(&self) -> &str {
        "slack.chat"
    }

    fn handles(&self, action: ActionName) -> bool {
        action == ActionName::NotifyOwner
    }

    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let proposal = request.proposal;
        if proposal.action != ActionName::NotifyOwner {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                format!("Slack does not perform {}", proposal.action),
            ));
        }
        if !matches!(
            proposal.target,
            Target::Entity {
                kind: ObservableKind::Host | ObservableKind::User,
                ..
            }
        ) {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                "notify.owner needs a host or user target",
            ));
        }
        let body = serde_json::json!({
            "channel": self.channel,
            "text": message(&Brief::of(request)),
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let body = serde_json::to_vec(&body).map_err(|_| {
            ConnectorError::new(
                ConnectorErrorKind::Config,
                "cannot encode the Slack message",
            )
        })?;
        let what = "the message";
        let http_request = self
            .http
            .request(Method::POST, self.url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .bearer_auth(self.token.expose())
            .body(body);
        let answer = self
            .http
            .send(what, http_request, Retry::Idempotent)
            .await?;
        if !answer.status.is_success() {
            return Err(self.http.failure(what, &answer));
        }
        let posted: SlackAnswer = self.http.decode(what, &answer)?;
        if posted.ok {
            let ts = posted.ts.filter(|ts| !ts.is_empty()).ok_or_else(|| {
                self.http.error(
                    ConnectorErrorKind::Protocol,
                    "Slack accepted the message but returned no ts".into(),
                )
            })?;
            return Ok(ConnectorOutcome {
                detail: format!("Slack message posted to {} (ts {ts})", self.channel),
                handle: Some(ts),
            });
        }
        let code = posted.error.unwrap_or_default();
        let kind = match code.as_str() {
            "invalid_auth"
            | "not_authed"
            | "account_inactive"
            | "token_revoked"
            | "token_expired"
            | "missing_scope"
            | "no_permission"
            | "not_allowed_token_type" => ConnectorErrorKind::Auth,
            "ratelimited" | "rate_limited" => ConnectorErrorKind::RateLimited,
            _ => ConnectorErrorKind::Rejected,
        };
        let code = text::clean(&code, 80);
        Err(self.http.error(
            kind,
            format!("Slack refused {what} to {}: {code}", self.channel),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_slack_control_characters() {
        assert_eq!(
            escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
    }
}
