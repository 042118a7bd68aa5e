//! Jira Cloud tickets: `ticket.create`.
//!
//! Wire format (Jira Cloud REST API v3, Basic auth `email:api_token`):
//! - `GET /rest/api/3/search/jql?jql=...&fields=key&maxResults=N`:
//!   `{"issues": [{"id", "key"}], "isLast"}`.
//! - `POST /rest/api/3/issue` with `{"fields": {"project": {"key"},
//!   "issuetype": {"name"}, "summary", "description": <ADF document>,
//!   "labels"}}`: 201 `{"id", "key", "self"}`.
//! - Errors: `{"errorMessages": [...], "errors": {"field": "message"}}`.
//!
//! Jira has no idempotency keys. Every issue Warden opens carries the label
//! `warden-<first 16 characters of the idempotency key>`, and each attempt
//! first searches for that label, so a retry (after a time-out, a 5xx or a
//! crash of Warden itself) returns the issue already opened instead of
//! opening a second one. The create call itself is never repeated blindly.

use async_trait::async_trait;
use reqwest::header::ACCEPT;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_domain::ActionName;

use super::http::{self, HttpClient, HttpSettings, Retry, Secret, SecretRef};
use super::text::{self, Brief};
use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

const MAX_SUMMARY_CHARS: usize = 250;

/// `[connectors.jira]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    /// The site, e.g. `https://example.atlassian.net`.
    pub base_url: String,
    /// The account the API token belongs to.
    pub email: String,
    /// An Atlassian API token of that account.
    pub api_token: SecretRef,
    /// Project key of new issues (`SEC`).
    pub project_key: String,
    /// Issue type name of new issues.
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
}

fn default_issue_type() -> String {
    "Task".to_owned()
}

/// Opens one Jira issue per `ticket.create` order.
#[derive(Debug)]
pub struct JiraConnector {
    http: HttpClient,
    base: Url,
    email: String,
    token: Secret,
    project_key: String,
    issue_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JiraError {
    #[serde(default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: serde_json::Map<String, Value>,
}

/// `message; field: message`.
fn error_text(body: &[u8]) -> Option<String> {
    let parsed: JiraError = serde_json::from_slice(body).ok()?;
    let mut texts = parsed.error_messages;
    for (field, message) in parsed.errors {
        match message {
            Value::String(m) => texts.push(format!("{field}: {m}")),
            other => texts.push(format!("{field}: {other}")),
        }
    }
    (!texts.is_empty()).then(|| texts.join("; "))
}

#[derive(Debug, Deserialize)]
struct Found {
    #[serde(default)]
    issues: Vec<IssueRef>,
}

#[derive(Debug, Deserialize)]
struct IssueRef {
    key: String,
}

impl JiraConnector {
    /// Reads the API token now.
    pub fn new(config: &JiraConfig, settings: HttpSettings) -> Result<Self, ConnectorError> {
        let base = http::base_url("connectors.jira.base_url", &config.base_url)?;
        let key = config.project_key.trim();
        let key_ok = !key.is_empty()
            && key.len() <= 255
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !key_ok {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.jira.project_key must be a project key (letters, digits, _)",
            ));
        }
        let issue_type = config.issue_type.trim();
        if issue_type.is_empty() || issue_type.chars().any(char::is_control) {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.jira.issue_type must be an issue type name",
            ));
        }
        if config.email.trim().is_empty() || config.email.contains(':') {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.jira.email must be the API token's account",
            ));
        }
        let token = config.api_token.load()?;
        let http = HttpClient::new("Jira", settings, error_text, &[&base])?.protect(&token);
        Ok(Self {
            http,
            base,
            email: config.email.trim().to_owned(),
            token,
            project_key: key.to_owned(),
            issue_type: issue_type.to_owned(),
        })
    }

    fn request(
        &self,
        method: Method,
        path: &[&str],
    ) -> Result<reqwest::RequestBuilder, ConnectorError> {
        let url = self.http.url(&self.base, path)?;
        Ok(self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json")
            .basic_auth(&self.email, Some(self.token.expose())))
    }

    /// The issue already opened for `label`, if any.
    async fn existing(&self, label: &str) -> Result<Option<String>, ConnectorError> {
        let what = "the search for an earlier issue";
        let jql = format!(
            "project = \"{}\" AND labels = \"{label}\" ORDER BY created ASC",
            self.project_key
        );
        let request = self
            .request(Method::GET, &["rest", "api", "3", "search", "jql"])?
            .query(&[
                ("jql", jql.as_str()),
                ("fields", "key"),
                ("maxResults", "2"),
            ]);
        let answer = self.http.send(what, request, Retry::Idempotent).await?;
        if !answer.status.is_success() {
            return Err(self.http.failure(what, &answer));
        }
        let found: Found = self.http.decode(what, &answer)?;
        Ok(found.issues.into_iter().next().map(|i| i.key))
    }

    /// One attempt: find the issue, or open it.
    async fn find_or_create(
        &self,
        order: &ConnectorRequest<'_>,
        label: &str,
        fields: &Value,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        if let Some(key) = self.existing(label).await? {
            return Ok(ConnectorOutcome {
                detail: format!("Jira issue {key} was already opened for this order ({label})"),
                handle: Some(key),
            });
        }
        // The search can take up to the time-out: the kill switch again.
        order.go_ahead().await?;
        let what = "the issue creation";
        let request = self
            .request(Method::POST, &["rest", "api", "3", "issue"])?
            .json(&json!({ "fields": fields }));
        let answer = self.http.send(what, request, Retry::NonIdempotent).await?;
        if !answer.status.is_success() {
            return Err(self.http.failure(what, &answer));
        }
        let created: IssueRef = self.http.decode(what, &answer)?;
        Ok(ConnectorOutcome {
            detail: format!("Jira issue {} opened in {}", created.key, self.project_key),
            handle: Some(created.key),
        })
    }

    /// The issue's fields: summary and description from the proposal's
    /// structured fields only.
    fn fields(&self, request: &ConnectorRequest<'_>, label: &str) -> Value {
        let brief = Brief::of(request);
        let summary = if brief.target == format!("case:{}", brief.case) {
            format!("[Warden] follow-up for {}", brief.case)
        } else {
            format!(
                "[Warden] {} on {} ({})",
                brief.action, brief.target, brief.case
            )
        };
        json!({
            "project": { "key": self.project_key },
            "issuetype": { "name": self.issue_type },
            "summary": text::clean(&summary, MAX_SUMMARY_CHARS),
            "description": description(&brief),
            "labels": ["warden", label],
        })
    }
}

/// An Atlassian Document Format description: the facts as paragraphs and
/// the parameters in a code block (data, never formatting or links).
fn description(brief: &Brief) -> Value {
    let paragraph = |text: String| json!({ "type": "paragraph", "content": [{ "type": "text", "text": text }] });
    let mut content = vec![paragraph(
        "Opened by Warden. Facts from the case's structured fields:".to_owned(),
    )];
    content.extend(brief.fact_lines().into_iter().map(paragraph));
    content.push(paragraph("Parameters, as proposed (data):".to_owned()));
    let parameters = if brief.parameters.is_empty() {
        "(none)".to_owned()
    } else {
        brief.parameters.join("\n")
    };
    content.push(json!({
        "type": "codeBlock",
        "content": [{ "type": "text", "text": parameters }],
    }));
    json!({ "type": "doc", "version": 1, "content": content })
}

#[async_trait]
impl Connector for JiraConnector {
    fn name(&self) -> &str {
        "jira.cloud"
    }

    fn handles(&self, action: ActionName) -> bool {
        action == ActionName::TicketCreate
    }

    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        if request.proposal.action != ActionName::TicketCreate {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                format!("Jira does not perform {}", request.proposal.action),
            ));
        }
        let label = text::reference(request.idempotency_key);
        if label.len() <= "warden-".len() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                "the order has no usable idempotency key",
            ));
        }
        let fields = self.fields(request, &label);
        let (label, fields) = (label.as_str(), &fields);
        http::reconcile(&self.http, move || {
            self.find_or_create(request, label, fields)
        })
        .await
    }
}
