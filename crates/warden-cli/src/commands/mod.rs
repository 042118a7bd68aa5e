//! One module per subcommand.

pub mod actions;
pub mod deadletter;
pub mod eval;
pub mod init;
pub mod policy;
pub mod triage;
