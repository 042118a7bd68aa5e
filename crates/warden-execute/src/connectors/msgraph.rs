//! Microsoft Graph (Entra ID users): `idp.revoke_sessions`,
//! `idp.disable_user`, `idp.enable_user`.
//!
//! Wire format:
//! - `POST {login_base}/{tenant}/oauth2/v2.0/token`, form `client_id`,
//!   `client_secret`, `scope=https://graph.microsoft.com/.default`,
//!   `grant_type=client_credentials`: `{"access_token", "expires_in"}`;
//!   errors `{"error", "error_description"}`.
//! - `POST /v1.0/users/{id or UPN}/revokeSignInSessions` (no body):
//!   200 `{"value": true}`.
//! - `PATCH /v1.0/users/{id or UPN}` with `{"accountEnabled": false|true}`:
//!   204. Setting the state it already has succeeds the same way.
//! - Errors: `{"error": {"code", "message"}}`.
//!
//! The user is one path segment, percent-encoded; a UPN starting with `$`
//! takes the `users('...')` form Graph requires.

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde::Deserialize;
use warden_domain::ActionName;

use super::http::{self, Answer, ClientCredentials, HttpClient, HttpSettings, Retry, SecretRef};
use super::text;
use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

/// `[connectors.msgraph]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsGraphConfig {
    /// Directory (tenant) id or a verified domain.
    pub tenant_id: String,
    /// The app registration's application (client) id.
    pub client_id: String,
    /// The app registration's client secret.
    pub client_secret: SecretRef,
    #[serde(default = "default_login_base")]
    pub login_base: String,
    #[serde(default = "default_graph_base")]
    pub graph_base: String,
    /// OAuth scope of the token; national clouds use their own Graph host.
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn default_login_base() -> String {
    "https://login.microsoftonline.com".to_owned()
}

fn default_graph_base() -> String {
    "https://graph.microsoft.com".to_owned()
}

fn default_scope() -> String {
    "https://graph.microsoft.com/.default".to_owned()
}

/// Revokes sessions and disables or enables Entra ID accounts.
#[derive(Debug)]
pub struct MsGraphConnector {
    http: HttpClient,
    graph: Url,
    oauth: ClientCredentials,
}

impl MsGraphConnector {
    /// Reads the client secret now.
    pub fn new(config: &MsGraphConfig, settings: HttpSettings) -> Result<Self, ConnectorError> {
        let login = http::base_url("connectors.msgraph.login_base", &config.login_base)?;
        let graph = http::base_url("connectors.msgraph.graph_base", &config.graph_base)?;
        let tenant = config.tenant_id.trim();
        let tenant_ok = !tenant.is_empty()
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
        if !tenant_ok {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.msgraph.tenant_id must be a tenant id or domain",
            ));
        }
        if config.client_id.trim().is_empty() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.msgraph.client_id is empty",
            ));
        }
        let secret = config.client_secret.load()?;
        let http = HttpClient::new("Microsoft Graph", settings, error_text, &[&login, &graph])?
            .protect(&secret);
        let token_url = http.url(&login, &[tenant, "oauth2", "v2.0", "token"])?;
        let fields = vec![
            ("client_id", config.client_id.clone()),
            ("scope", config.scope.clone()),
            ("grant_type", "client_credentials".to_owned()),
        ];
        Ok(Self {
            oauth: ClientCredentials::new(token_url, fields, secret),
            http,
            graph,
        })
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ConnectorError> {
        self.oauth
            .send(
                &self.http,
                what,
                || {
                    let request = self
                        .http
                        .request(method.clone(), url.clone())
                        .header(reqwest::header::ACCEPT, "application/json");
                    match body {
                        Some(body) => request.json(body),
                        // Graph wants a length on a body-less POST.
                        None => request
                            .header(reqwest::header::CONTENT_LENGTH, "0")
                            .body(Vec::new()),
                    }
                },
                Retry::Idempotent,
            )
            .await
    }
}

/// The path segment naming `user` (id or UPN).
fn user_segment(user: &str) -> String {
    if user.starts_with('$') {
        format!("('{}')", user.replace('\'', "''"))
    } else {
        user.to_owned()
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorField,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Graph {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    },
    Token(String),
}

/// `{"error": {"code", "message"}}` (Graph) or `{"error",
/// "error_description"}` (the token endpoint).
fn error_text(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    Some(match parsed.error {
        ErrorField::Graph { code, message } => format!("{code}: {message}"),
        ErrorField::Token(code) => match parsed.error_description {
            Some(description) => format!("{code}: {description}"),
            None => code,
        },
    })
}

#[derive(Debug, Deserialize)]
struct RevokeAnswer {
    value: bool,
}

#[async_trait]
impl Connector for MsGraphConnector {
    fn name(&self) -> &str {
        "msgraph.users"
    }

    fn handles(&self, action: ActionName) -> bool {
        matches!(
            action,
            ActionName::IdpRevokeSessions | ActionName::IdpDisableUser | ActionName::IdpEnableUser
        )
    }

    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let proposal = request.proposal;
        let user = text::account_target(proposal, "object id or UPN")?;
        let segment = user_segment(user);
        match proposal.action {
            ActionName::IdpRevokeSessions => {
                let what = "the session revocation";
                let url = if segment.starts_with('(') {
                    self.http.url(
                        &self.graph,
                        &["v1.0", &format!("users{segment}"), "revokeSignInSessions"],
                    )?
                } else {
                    self.http.url(
                        &self.graph,
                        &["v1.0", "users", &segment, "revokeSignInSessions"],
                    )?
                };
                let answer = self.call(what, Method::POST, url, None).await?;
                if !answer.status.is_success() {
                    return Err(self.http.failure(what, &answer));
                }
                let revoked: RevokeAnswer = self.http.decode(what, &answer)?;
                if !revoked.value {
                    return Err(self.http.error(
                        ConnectorErrorKind::Rejected,
                        format!("Microsoft Graph did not revoke the sessions of {user}"),
                    ));
                }
                Ok(ConnectorOutcome {
                    detail: format!("Microsoft Graph revoked every sign-in session of {user}"),
                    handle: Some(user.to_owned()),
                })
            }
            ActionName::IdpDisableUser | ActionName::IdpEnableUser => {
                let enabled = proposal.action == ActionName::IdpEnableUser;
                let what = if enabled {
                    "the account enable"
                } else {
                    "the account disable"
                };
                let url = if segment.starts_with('(') {
                    self.http
                        .url(&self.graph, &["v1.0", &format!("users{segment}")])?
                } else {
                    self.http.url(&self.graph, &["v1.0", "users", &segment])?
                };
                let body = serde_json::json!({ "accountEnabled": enabled });
                let answer = self.call(what, Method::PATCH, url, Some(&body)).await?;
                if !answer.status.is_success() {
                    return Err(self.http.failure(what, &answer));
                }
                Ok(ConnectorOutcome {
                    detail: format!(
                        "Microsoft Graph set accountEnabled={enabled} on {user} (HTTP {})",
                        answer.status.as_u16()
                    ),
                    handle: Some(user.to_owned()),
                })
            }
            other => Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                format!("Microsoft Graph does not perform {other}"),
            )),
        }
    }
}
