//! Okta users: `idp.disable_user` (suspend), `idp.enable_user`
//! (unsuspend), `idp.revoke_sessions`.
//!
//! Wire format (Okta Management API, `Authorization: SSWS <token>`):
//! - `GET /api/v1/users/{login or id}`: `{"id", "status", ...}`; 404 with
//!   `E0000007` when there is no such user.
//! - `POST /api/v1/users/{id}/lifecycle/suspend` (only from `ACTIVE`) and
//!   `POST /api/v1/users/{id}/lifecycle/unsuspend` (only from `SUSPENDED`):
//!   200 `{}`.
//! - `DELETE /api/v1/users/{id}/sessions?oauthTokens=true`: 204; ends every
//!   session and revokes the OAuth tokens issued to the user.
//! - Errors: `{"errorCode", "errorSummary", "errorLink", "errorId",
//!   "errorCauses": [{"errorSummary"}]}`.
//! - Rate limits: 429 with `X-Rate-Limit-Reset` (epoch seconds).
//!
//! A user already in the wanted state is success without a call; a
//! lifecycle call refused because someone else got there first is success
//! too (the user is read again to tell).

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;
use warden_domain::ActionName;

use super::http::{self, Answer, HttpClient, HttpSettings, Retry, Secret, SecretRef};
use super::text;
use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

/// `[connectors.okta]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// The org URL, e.g. `https://example.okta.com`.
    pub base_url: String,
    /// An API token (SSWS) of an admin limited to user management.
    pub api_token: SecretRef,
}

/// Suspends, unsuspends and signs out Okta users.
#[derive(Debug)]
pub struct OktaConnector {
    http: HttpClient,
    base: Url,
    token: Secret,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaError {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_summary: String,
    #[serde(default)]
    error_causes: Vec<Cause>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cause {
    #[serde(default)]
    error_summary: String,
}

/// `errorCode: errorSummary (cause; cause)`.
fn error_text(body: &[u8]) -> Option<String> {
    let parsed: OktaError = serde_json::from_slice(body).ok()?;
    if parsed.error_code.is_empty() && parsed.error_summary.is_empty() {
        return None;
    }
    let causes: Vec<&str> = parsed
        .error_causes
        .iter()
        .map(|c| c.error_summary.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let mut text = format!("{}: {}", parsed.error_code, parsed.error_summary);
    if !causes.is_empty() {
        text.push_str(&format!(" ({})", causes.join("; ")));
    }
    Some(text)
}

impl OktaConnector {
    /// Reads the API token now.
    pub fn new(config: &OktaConfig, settings: HttpSettings) -> Result<Self, ConnectorError> {
        let base = http::base_url("connectors.okta.base_url", &config.base_url)?;
        let token = config.api_token.load()?;
        let http = HttpClient::new("Okta", settings, error_text, &[&base])?.protect(&token);
        Ok(Self { http, base, token })
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Answer, ConnectorError> {
        let url = self.http.url(&self.base, path)?;
        let mut auth =
            HeaderValue::try_from(format!("SSWS {}", self.token.expose())).map_err(|_| {
                ConnectorError::new(
                    ConnectorErrorKind::Config,
                    "the Okta API token is not a valid header value",
                )
            })?;
        auth.set_sensitive(true);
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, auth)
            .query(query);
        if method == Method::POST {
            // Lifecycle operations take no body.
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::CONTENT_LENGTH, "0")
                .body(Vec::new());
        }
        self.http.send(what, request, Retry::Idempotent).await
    }

    async fn user(&self, login: &str) -> Result<User, ConnectorError> {
        let what = "the user lookup";
        let answer = self
            .call(what, Method::GET, &["api", "v1", "users", login], &[])
            .await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Err(self.http.error(
                ConnectorErrorKind::Rejected,
                format!(
                    "no such user in Okta: {login} ({})",
                    self.http.product_text(&answer.body)
                ),
            ));
        }
        if !answer.status.is_success() {
            return Err(self.http.failure(what, &answer));
        }
        self.http.decode(what, &answer)
    }

    /// Suspend or unsuspend `user` towards `wanted`.
    async fn lifecycle(
        &self,
        login: &str,
        user: &User,
        operation: &str,
        wanted: &[&str],
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let already = |status: &str| ConnectorOutcome {
            detail: format!("Okta user {login} is already {status}: nothing to {operation}"),
            handle: Some(user.id.clone()),
        };
        if wanted.contains(&user.status.as_str()) {
            return Ok(already(&user.status));
        }
        let what = format!("the {operation}");
        let answer = self
            .call(
                &what,
                Method::POST,
                &["api", "v1", "users", &user.id, "lifecycle", operation],
                &[],
            )
            .await?;
        if answer.status.is_success() {
            return Ok(ConnectorOutcome {
                detail: format!("Okta user {login} ({}): {operation} done", user.id),
                handle: Some(user.id.clone()),
            });
        }
        let refusal = self.http.failure(&what, &answer);
        if refusal.kind == ConnectorErrorKind::Rejected {
            // "Cannot suspend a user that is not active": it may have been
            // suspended meanwhile, which is what was asked.
            let now = self.user(&user.id).await?;
            if wanted.contains(&now.status.as_str()) {
                return Ok(already(&now.status));
            }
        }
        Err(refusal)
    }
}

#[async_trait]
impl Connector for OktaConnector {
    fn name(&self) -> &str {
        "okta.users"
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
        let login = text::account_target(proposal, "login or id")?;
        if !matches!(
            proposal.action,
            ActionName::IdpRevokeSessions | ActionName::IdpDisableUser | ActionName::IdpEnableUser
        ) {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                format!("Okta does not perform {}", proposal.action),
            ));
        }
        let user = self.user(login).await?;
        // The look-up can take up to the time-out: the kill switch again.
        request.go_ahead().await?;
        match proposal.action {
            // A deactivated user cannot sign in either.
            ActionName::IdpDisableUser => {
                self.lifecycle(login, &user, "suspend", &["SUSPENDED", "DEPROVISIONED"])
                    .await
            }
            ActionName::IdpEnableUser => {
                self.lifecycle(login, &user, "unsuspend", &["ACTIVE"]).await
            }
            _ => {
                let what = "the session revocation";
                let answer = self
                    .call(
                        what,
                        Method::DELETE,
                        &["api", "v1", "users", &user.id, "sessions"],
                        &[("oauthTokens", "true")],
                    )
                    .await?;
                if !answer.status.is_success() {
                    return Err(self.http.failure(what, &answer));
                }
                Ok(ConnectorOutcome {
                    detail: format!(
                        "Okta ended every session of {login} ({}) and revoked its OAuth tokens",
                        user.id
                    ),
                    handle: Some(user.id.clone()),
                })
            }
        }
    }
}
