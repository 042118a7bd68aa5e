//! Connectors, one module per product. Each performs catalogue actions and
//! reports a result and, where possible, how to roll it back.
//!
//! The product connectors ([`crowdstrike`], [`msgraph`], [`okta`],
//! [`jira`], [`slack`]) share the HTTP layer in [`http`] (the `warden-http` crate) and are built
//! from `[connectors]` in `warden.toml` by [`ConnectorsConfig::build`].

pub mod case_note;
pub mod config;
pub mod crowdstrike;
pub mod jira;
pub mod msgraph;
pub mod okta;
pub mod sandbox;
pub mod slack;
mod text;

/// The shared HTTP layer (its own crate, so LLM providers use it too).
pub use warden_http as http;

pub use config::ConnectorsConfig;
pub use crowdstrike::{CrowdStrikeConfig, CrowdStrikeConnector};
pub use http::{HttpSettings, Secret, SecretRef};
pub use jira::{JiraConfig, JiraConnector};
pub use msgraph::{MsGraphConfig, MsGraphConnector};
pub use okta::{OktaConfig, OktaConnector};
pub use slack::{SlackConfig, SlackConnector};
