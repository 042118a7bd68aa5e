//! One module per subcommand.

pub mod actions;
pub mod deadletter;
pub mod init;
pub mod triage;
