//! Connectors, one module per product. Each performs catalogue actions and
//! reports a result and, where possible, how to roll it back.
//!
//! The product connectors ([`crowdstrike`], [`msgraph`], [`okta`],
//! [`jira`], [`slack`]) share the HTTP layer in [`http`] and are built
//! from `[connectors]` in `warden.toml` by [`ConnectorsConfig::build`].

pub mod case_note;
pub mod config;
pub mod crowdstrike;
pub mod http;
pub mod jira;
pub mod msgraph;
pub mod okta;
pub mod sandbox;
pub mod slack;
mod text;

pub use config::ConnectorsConfig;
pub use crowdstrike::{CrowdStrikeConfig, CrowdStrikeConnector};
pub use http::{HttpSettings, Secret, SecretRef};
pub use jira::{JiraConfig, JiraConnector};
pub use msgraph::{MsGraphConfig, MsGraphConnector};
pub use okta::{OktaConfig, OktaConnector};
pub use slack::{SlackConfig, SlackConnector};
