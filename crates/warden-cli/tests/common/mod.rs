//! Running the `warden` binary as a user would, shared by the CLI tests.

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::Path;
use std::process::{Command, Output};

use warden_testkit::repo;

/// `warden --data-dir DATA_DIR ARGS...` from the repository root, with no
/// `WARDEN_CONFIG` or `WARDEN_STORE_URL` leaking in from the environment.
pub fn warden(data_dir: &Path, args: &[&str]) -> Output {
    warden_with_env(data_dir, args, &[])
}

/// [`warden`] with extra environment variables (and no `WARDEN_LLM_*`
/// leaking in besides them).
pub fn warden_with_env(data_dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .current_dir(repo())
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_STORE_URL");
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("WARDEN_LLM_")) {
        command.env_remove(name);
    }
    command
        .envs(vars.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("warden does not run: {e}"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
