//! `[connectors]` in `warden.toml`: which products Warden acts through, and
//! the time-outs and retry bounds they share. Credentials are referenced
//! (`{ env = "NAME" }` or `{ file = "/path" }`), never written here, and
//! read when the connectors are built.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::crowdstrike::{CrowdStrikeConfig, CrowdStrikeConnector};
use super::http::HttpSettings;
use super::jira::{JiraConfig, JiraConnector};
use super::msgraph::{MsGraphConfig, MsGraphConnector};
use super::okta::{OktaConfig, OktaConnector};
use super::slack::{SlackConfig, SlackConnector};
use crate::{Connector, ConnectorError, ConnectorErrorKind};

/// Longest per-attempt time-out accepted.
const MAX_TIMEOUT_MS: u64 = 300_000;
/// Most retries accepted.
const MAX_RETRIES: u32 = 10;
/// Longest single wait between attempts accepted.
const MAX_RETRY_WAIT_MS: u64 = 600_000;

/// The `[connectors]` section. Every product section is optional; an
/// action with no configured connector fails closed in the executor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectorsConfig {
    /// Limit on one HTTP attempt, connect to last byte.
    pub timeout_ms: u64,
    /// Retries after the first attempt (429, 5xx, failed connection).
    pub max_retries: u32,
    /// Longest single wait between attempts; a `Retry-After` asking for
    /// more ends the call as rate limited.
    pub max_retry_wait_ms: u64,
    /// First back-off after a 5xx or failed connection (doubles per retry).
    pub initial_backoff_ms: u64,
    pub crowdstrike: Option<CrowdStrikeConfig>,
    pub msgraph: Option<MsGraphConfig>,
    pub okta: Option<OktaConfig>,
    pub jira: Option<JiraConfig>,
    pub slack: Option<SlackConfig>,
}

impl Default for ConnectorsConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            max_retries: 3,
            max_retry_wait_ms: 30_000,
            initial_backoff_ms: 500,
            crowdstrike: None,
            msgraph: None,
            okta: None,
            jira: None,
            slack: None,
        }
    }
}

impl ConnectorsConfig {
    /// The shared HTTP settings, checked.
    pub fn http_settings(&self) -> Result<HttpSettings, ConnectorError> {
        let bad = |what: &str| ConnectorError::new(ConnectorErrorKind::Config, what.to_owned());
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(bad("connectors.timeout_ms must be between 1 and 300000"));
        }
        if self.max_retries > MAX_RETRIES {
            return Err(bad("connectors.max_retries must be at most 10"));
        }
        if self.max_retry_wait_ms > MAX_RETRY_WAIT_MS {
            return Err(bad("connectors.max_retry_wait_ms must be at most 600000"));
        }
        if self.initial_backoff_ms > self.max_retry_wait_ms {
            return Err(bad(
                "connectors.initial_backoff_ms must not exceed max_retry_wait_ms",
            ));
        }
        Ok(HttpSettings {
            timeout: Duration::from_millis(self.timeout_ms),
            max_retries: self.max_retries,
            max_retry_wait: Duration::from_millis(self.max_retry_wait_ms),
            initial_backoff: Duration::from_millis(self.initial_backoff_ms),
        })
    }

    /// Build the configured connectors, reading their credentials now. A
    /// missing credential is a `Config` error naming where it was looked
    /// for. Two identity providers at once are refused: the executor would
    /// send every `idp.*` action to the first, silently.
    pub fn build(&self) -> Result<Vec<Arc<dyn Connector>>, ConnectorError> {
        if self.msgraph.is_some() && self.okta.is_some() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                "connectors.msgraph and connectors.okta both perform idp.* actions: configure one",
            ));
        }
        let settings = self.http_settings()?;
        let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
        if let Some(config) = &self.crowdstrike {
            connectors.push(Arc::new(CrowdStrikeConnector::new(config, settings)?));
        }
        if let Some(config) = &self.msgraph {
            connectors.push(Arc::new(MsGraphConnector::new(config, settings)?));
        }
        if let Some(config) = &self.okta {
            connectors.push(Arc::new(OktaConnector::new(config, settings)?));
        }
        if let Some(config) = &self.jira {
            connectors.push(Arc::new(JiraConnector::new(config, settings)?));
        }
        if let Some(config) = &self.slack {
            connectors.push(Arc::new(SlackConnector::new(config, settings)?));
        }
        Ok(connectors)
    }
}
