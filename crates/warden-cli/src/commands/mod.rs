//! One module per subcommand.

pub mod actions;
pub mod approvals;
pub mod audit;
pub mod control;
pub mod deadletter;
pub mod eval;
pub mod init;
pub mod intake;
pub mod migrate;
pub mod policy;
pub mod replay;
pub mod serve;
pub mod token;
pub mod triage;
pub mod user;
