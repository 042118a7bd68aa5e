//! Helpers for Warden's tests (a dev-dependency only).
//!
//! # Layout
//!
//! - [`repo`], [`example_json`]: the repository root and its examples.
//! - [`shared_data`]: the real third-party data in `../shared/data` (or
//!   `WARDEN_SHARED_DATA`), with one rule for every suite that needs it:
//!   skip with a message where it is absent, unless
//!   `WARDEN_REQUIRE_SHARED_DATA` is set (CI sets it), in which case a
//!   missing folder fails the test instead of passing it silently.
//! - [`bench`]: the plan, switches and median of the std-only benchmarks.
//! - [`model_double`]: a local server speaking the OpenAI and Anthropic
//!   wire formats, with a scripted analyst and injectable faults.

pub mod bench;
pub mod model_double;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `examples/alerts/<name>`, parsed.
///
/// # Panics
///
/// When the example is missing or not JSON: a test fixture is broken.
#[expect(clippy::panic, reason = "test fixtures fail the test that uses them")]
pub fn example_json(name: &str) -> serde_json::Value {
    let path = repo().join("examples/alerts").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("example {} cannot be read: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("example {} is not JSON: {e}", path.display()))
}

/// `relative` inside the shared data folder, or `None` (after saying so on
/// stderr) when the folder or file is absent and not required.
///
/// # Panics
///
/// When `WARDEN_REQUIRE_SHARED_DATA` is set and the path is missing.
#[expect(
    clippy::panic,
    reason = "a required fixture that is missing fails the test"
)]
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let root = std::env::var_os("WARDEN_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"));
    let path = root.join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("WARDEN_REQUIRE_SHARED_DATA").is_some() {
        panic!(
            "WARDEN_REQUIRE_SHARED_DATA is set but {} is missing",
            path.display()
        );
    }
    eprintln!(
        "skipping: {} not found (shared test data absent)",
        path.display()
    );
    None
}
