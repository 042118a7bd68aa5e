//! One module per subcommand.

pub mod actions;
pub mod init;
pub mod triage;
