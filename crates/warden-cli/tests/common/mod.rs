//! Running the `warden` binary as a user would, shared by the CLI tests.

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::Path;
use std::process::{Command, Output};

use warden_testkit::repo;

/// `warden --data-dir DATA_DIR ARGS...` from the repository root, with no
/// `WARDEN_CONFIG` leaking in from the environment.
pub fn warden(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .current_dir(repo())
        .env_remove("WARDEN_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("warden does not run: {e}"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
