//! Alerts taken from the network by `warden serve`, besides HTTP pushes
//! (`[intake]` in `warden.toml`).
//!
//! - [`syslog`]: the syslog receiver (`[intake.syslog]`): UDP, TCP and TLS
//!   listeners carrying CEF, LEEF or JSON alerts.
//! - [`status`]: the snapshot `warden intake status` reads (counts per
//!   listener, the shared stream's backlog and last error).
//!
//! Every intake hands its alerts to the same triage queue as the push API
//! (the triage worker records `alert_ingested` and triages them), and
//! dead-letters what it cannot read with the reason.

pub mod status;
pub mod syslog;
