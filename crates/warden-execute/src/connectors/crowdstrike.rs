//! CrowdStrike Falcon host containment: `edr.isolate_host` (`contain`) and
//! `edr.release_host` (`lift_containment`).
//!
//! Wire format (Falcon Hosts API):
//! - `POST /oauth2/token`, form `client_id`, `client_secret` (and
//!   `member_cid` for a child CID): `{"access_token", "expires_in"}`.
//! - `GET /devices/queries/devices/v1?filter=hostname:'NAME'`:
//!   `{"resources": ["<device id>", ...]}`.
//! - `GET /devices/entities/devices/v2?ids=ID`: `{"resources": [{"device_id",
//!   "hostname", "status"}]}`; status `normal`, `containment_pending`,
//!   `contained` or `lift_containment_pending`.
//! - `POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment`
//!   with `{"ids": ["<device id>"]}`: 202.
//! - Errors: `{"errors": [{"code", "message"}]}`.
//!
//! Exactly one device is acted on: a hostname that matches none or several
//! is refused. A host already in the wanted state counts as success.

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde::Deserialize;
use warden_domain::{ActionName, ObservableKind, Target};

use super::http::{self, Answer, ClientCredentials, HttpClient, HttpSettings, Retry, SecretRef};
use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

const DEFAULT_BASE_URL: &str = "https://api.crowdstrike.com";

/// `[connectors.crowdstrike]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdStrikeConfig {
    /// The API base of the Falcon cloud (US-1 by default; e.g.
    /// `https://api.eu-1.crowdstrike.com`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The API client's id.
    pub client_id: String,
    /// The API client's secret.
    pub client_secret: SecretRef,
    /// A child CID, for a Flight Control parent's API client.
    #[serde(default)]
    pub member_cid: Option<String>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// Contains and releases Falcon hosts.
#[derive(Debug)]
pub struct CrowdStrikeConnector {
    http: HttpClient,
    base: Url,
    oauth: ClientCredentials,
}

impl CrowdStrikeConnector {
    /// Reads the client secret now.
    pub fn new(config: &CrowdStrikeConfig, settings: HttpSettings) -> Result<Self, ConnectorError> {
        let base = http::base_url("connectors.crowdstrike.base_url", &config.base_url)?;
        if config.client_id.trim().is_empty() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.crowdstrike.client_id is empty",
            ));
        }
        let secret = config.client_secret.load()?;
        let http =
            HttpClient::new("CrowdStrike Falcon", settings, error_text, &[&base])?.protect(&secret);
        let mut fields = vec![("client_id", config.client_id.clone())];
        if let Some(cid) = &config.member_cid {
            fields.push(("member_cid", cid.clone()));
        }
        let token_url = http.url(&base, &["oauth2", "token"])?;
        Ok(Self {
            oauth: ClientCredentials::new(token_url, fields, secret),
            http,
            base,
        })
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ConnectorError> {
        let url = self.http.url(&self.base, path)?;
        self.oauth
            .send(
                &self.http,
                what,
                || {
                    let request = self
                        .http
                        .request(method.clone(), url.clone())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .query(query);
                    match body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                },
                Retry::Idempotent,
            )
            .await
    }

    /// The one device id registered under `hostname`.
    async fn device_id(&self, hostname: &str) -> Result<String, ConnectorError> {
        let what = "the device lookup";
        let filter = format!("hostname:'{hostname}'");
        let answer = self
            .call(
                what,
                Method::GET,
                &["devices", "queries", "devices", "v1"],
                &[("filter", &filter)],
                None,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(self.http.failure(what, &answer));
        }
        let found: Resources<String> = self.http.decode(what, &answer)?;
        let Some((id, rest)) = found.resources.split_first() else {
            return Err(self.http.error(
                ConnectorErrorKind::Rejected,
                format!("no such host in CrowdStrike Falcon: {hostname}"),
            ));
        };
        if !rest.is_empty() {
            return Err(self.http.error(
                ConnectorErrorKind::Rejected,
                format!(
                    "hostname {hostname} matches {} Falcon devices; Warden acts on exactly one",
                    found.resources.len()
                ),
            ));
        }
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.http.error(
                ConnectorErrorKind::Protocol,
                "the device lookup returned an id that is not a Falcon device id".into(),
            ));
        }
        Ok(id.clone())
    }

    /// The device's containment status, checked against `hostname`.
    async fn status(&self, id: &str, hostname: &str) -> Result<String, ConnectorError> {
        let what = "the device details";
        let answer = self
            .call(
                what,
                Method::GET,
                &["devices", "entities", "devices", "v2"],
                &[("ids", id)],
                None,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(self.http.failure(what, &answer));
        }
        let details: Resources<Device> = self.http.decode(what, &answer)?;
        let device = details
            .resources
            .into_iter()
            .find(|d| d.device_id == id)
            .ok_or_else(|| {
                self.http.error(
                    ConnectorErrorKind::Protocol,
                    format!("Falcon returned no details for device {id}"),
                )
            })?;
        if !device.hostname.eq_ignore_ascii_case(hostname) {
            return Err(self.http.error(
                ConnectorErrorKind::Rejected,
                format!("Falcon device {id} is not named {hostname}; nothing was done"),
            ));
        }
        Ok(device.status)
    }
}

#[derive(Debug, Deserialize)]
struct Resources<T> {
    #[serde(default = "Vec::new")]
    resources: Vec<T>,
    #[serde(default)]
    errors: Option<Vec<FalconError>>,
}

#[derive(Debug, Deserialize)]
struct Device {
    device_id: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize)]
struct FalconError {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: String,
}

/// `{"errors": [{"code", "message"}]}` as `code: message; ...`.
fn error_text(body: &[u8]) -> Option<String> {
    let parsed: Resources<serde_json::Value> = serde_json::from_slice(body).ok()?;
    let texts: Vec<String> = parsed
        .errors?
        .into_iter()
        .map(|e| match e.code {
            Some(code) => format!("{code}: {}", e.message),
            None => e.message,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// A hostname Falcon could hold; anything else could change the FQL filter.
fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[async_trait]
impl Connector for CrowdStrikeConnector {
    fn name(&self) -> &str {
        "crowdstrike.falcon"
    }

    fn handles(&self, action: ActionName) -> bool {
        matches!(
            action,
            ActionName::EdrIsolateHost | ActionName::EdrReleaseHost
        )
    }

    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let proposal = request.proposal;
        let (action_name, wanted, done): (&str, &[&str], &str) = match proposal.action {
            ActionName::EdrIsolateHost => (
                "contain",
                &["contained", "containment_pending"],
                "containment",
            ),
            ActionName::EdrReleaseHost => (
                "lift_containment",
                &["normal", "lift_containment_pending"],
                "release from containment",
            ),
            other => {
                return Err(ConnectorError::new(
                    ConnectorErrorKind::Rejected,
                    format!("CrowdStrike Falcon does not perform {other}"),
                ));
            }
        };
        let Target::Entity {
            kind: ObservableKind::Host,
            value: hostname,
        } = &proposal.target
        else {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                format!("{} needs a host target", proposal.action),
            ));
        };
        if !valid_hostname(hostname) {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                "the target is not a valid hostname for Falcon",
            ));
        }

        let id = self.device_id(hostname).await?;
        let status = self.status(&id, hostname).await?;
        let already = |status: &str| ConnectorOutcome {
            detail: format!(
                "Falcon host {hostname} (device {id}) is already {status}: no {done} needed"
            ),
            handle: Some(id.clone()),
        };
        if wanted.contains(&status.as_str()) {
            return Ok(already(&status));
        }
        // The look-ups can take up to the time-out: the kill switch again.
        request.go_ahead().await?;

        let what = match proposal.action {
            ActionName::EdrIsolateHost => "the containment",
            _ => "the containment lift",
        };
        let answer = self
            .call(
                what,
                Method::POST,
                &["devices", "entities", "devices-actions", "v2"],
                &[("action_name", action_name)],
                Some(&serde_json::json!({ "ids": [id] })),
            )
            .await?;
        let errors_in_body = self
            .http
            .decode::<Resources<serde_json::Value>>(what, &answer)
            .ok()
            .and_then(|r| r.errors)
            .is_some_and(|e| !e.is_empty());
        if answer.status.is_success() && !errors_in_body {
            return Ok(ConnectorOutcome {
                detail: format!(
                    "Falcon {done} requested for host {hostname} (device {id}, HTTP {})",
                    answer.status.as_u16()
                ),
                handle: Some(id),
            });
        }
        // Refused: if the host reached the wanted state anyway (another
        // analyst, an earlier attempt), that is the outcome asked for.
        let refusal = if answer.status.is_success() {
            self.http.error(
                ConnectorErrorKind::Rejected,
                format!(
                    "CrowdStrike Falcon rejected {what}: {}",
                    self.http.product_text(&answer.body)
                ),
            )
        } else {
            self.http.failure(what, &answer)
        };
        if refusal.kind == ConnectorErrorKind::Rejected {
            let now = self.status(&id, hostname).await?;
            if wanted.contains(&now.as_str()) {
                return Ok(already(&now));
            }
        }
        Err(refusal)
    }
}
