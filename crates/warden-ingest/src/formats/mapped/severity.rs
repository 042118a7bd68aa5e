//! A mapped source's severity: the vendor's value to Warden's level.
//!
//! In order: an exact value of `[severity]`; the longest matching prefix
//! of `[severity_rules] prefixes`; the first matching regular expression of
//! `[severity_rules] patterns`; a Warden level name (`high`, `Critical`,
//! `info`) unless `names = false`; and last the declared `default`
//! (`medium` when none is declared). A value that reaches the default is
//! unlisted: the mapping misses it, so it is logged once per distinct
//! value (`unlisted severity`) and the alert keeps it as `VALUE
//! (unlisted)`. It is never read silently.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use regex::Regex;
use serde::Deserialize;
use warden_domain::{Severity, VendorSeverity};

/// Most distinct unlisted values remembered (and warned about) per
/// mapping: an attacker who can send alerts can send endless new values.
const MAX_UNLISTED: usize = 256;

/// `[severity_rules]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSeverityRules {
    /// The level of a value nothing else matched, and of a payload with no
    /// severity (default: medium).
    default: Option<Severity>,
    /// Prefix -> level; the longest matching prefix wins.
    #[serde(default)]
    prefixes: BTreeMap<String, Severity>,
    /// Regular expressions tried in order; the first that matches wins.
    #[serde(default)]
    patterns: Vec<RawPattern>,
    /// Whether a value that names a Warden level (`High`, `info`) is read
    /// as that level (default: true).
    names: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    regex: String,
    level: Severity,
}

/// The checked rules.
#[derive(Debug, Clone)]
pub(super) struct SeverityRules {
    exact: BTreeMap<String, Severity>,
    /// Longest first.
    prefixes: Vec<(String, Severity)>,
    patterns: Vec<(Regex, Severity)>,
    names: bool,
    default: Option<Severity>,
    /// Unlisted values already warned about (shared by clones).
    unlisted: Arc<Mutex<BTreeSet<String>>>,
}

impl SeverityRules {
    pub fn new(
        exact: BTreeMap<String, Severity>,
        rules: Option<RawSeverityRules>,
    ) -> Result<Self, String> {
        let rules = rules.unwrap_or(RawSeverityRules {
            default: None,
            prefixes: BTreeMap::new(),
            patterns: Vec::new(),
            names: None,
        });
        if rules.prefixes.keys().any(String::is_empty) {
            return Err("a prefix of \"\" matches every value; use default".into());
        }
        let mut prefixes: Vec<(String, Severity)> = rules.prefixes.into_iter().collect();
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        let patterns = rules
            .patterns
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                Regex::new(&p.regex)
                    .map(|regex| (regex, p.level))
                    .map_err(|err| {
                        format!("patterns[{i}]: regex {:?} does not compile: {err}", p.regex)
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            exact,
            prefixes,
            patterns,
            names: rules.names.unwrap_or(true),
            default: rules.default,
            unlisted: Arc::default(),
        })
    }

    /// The level of `value`; `origin` names the mapping in the warning.
    pub fn level(&self, value: Option<String>, origin: &str) -> VendorSeverity {
        let default = self.default.unwrap_or(Severity::Medium);
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return VendorSeverity {
                level: default,
                original: "absent".into(),
            };
        };
        let found = self
            .exact
            .get(&value)
            .copied()
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(prefix, _)| value.starts_with(prefix.as_str()))
                    .map(|(_, level)| *level)
            })
            .or_else(|| {
                self.patterns
                    .iter()
                    .find(|(regex, _)| regex.is_match(&value))
                    .map(|(_, level)| *level)
            })
            .or_else(|| self.names.then(|| level_name(&value)).flatten());
        match found {
            Some(level) => VendorSeverity {
                level,
                original: value,
            },
            None => {
                self.warn_once(&value, default, origin);
                VendorSeverity {
                    level: default,
                    original: format!("{value} (unlisted)"),
                }
            }
        }
    }

    fn warn_once(&self, value: &str, default: Severity, origin: &str) {
        let mut seen = self.unlisted.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(value) {
            return;
        }
        if seen.len() < MAX_UNLISTED {
            seen.insert(value.to_owned());
            tracing::warn!(
                mapping = origin,
                "unlisted severity {value:?}: read as the default {default} \
                 (list it under [severity] or [severity_rules])"
            );
        } else if seen.len() == MAX_UNLISTED {
            // One marker past the cap, so the next warning is the last.
            seen.insert(String::new());
            tracing::warn!(
                mapping = origin,
                "over {MAX_UNLISTED} distinct unlisted severities; no more are reported"
            );
        }
    }

    /// The unlisted values warned about so far.
    pub fn unlisted(&self) -> Vec<String> {
        self.unlisted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|v| !v.is_empty())
            .cloned()
            .collect()
    }
}

/// A Warden level written by name, in any case (`info` too).
fn level_name(value: &str) -> Option<Severity> {
    match value.trim().to_ascii_lowercase().as_str() {
        "info" => Some(Severity::Informational),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Result<SeverityRules, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            severity: BTreeMap<String, Severity>,
            severity_rules: Option<RawSeverityRules>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        SeverityRules::new(file.severity, file.severity_rules)
    }

    fn level(rules: &SeverityRules, value: &str) -> (Severity, String) {
        let v = rules.level(Some(value.into()), "t.toml");
        (v.level, v.original)
    }

    const RULES: &str = r#"
[severity]
"Priority: 1" = "high"

[severity_rules]
default = "low"
prefixes = { "Priority: " = "medium", "Priority: 2" = "medium", "CRIT" = "critical" }
patterns = [{ regex = '(?i)^emerg', level = "critical" }, { regex = 'Threat', level = "high" }]
"#;

    #[test]
    fn exact_then_longest_prefix_then_pattern_then_name_then_default() {
        let r = rules(RULES).expect("valid");
        assert_eq!(level(&r, "Priority: 1").0, Severity::High);
        assert_eq!(level(&r, "Priority: 2").0, Severity::Medium);
        assert_eq!(level(&r, "Priority: 3").0, Severity::Medium);
        assert_eq!(level(&r, "CRITICAL").0, Severity::Critical);
        assert_eq!(level(&r, "Emergency").0, Severity::Critical);
        assert_eq!(level(&r, "ThreatIntel").0, Severity::High);
        assert_eq!(level(&r, "Informational").0, Severity::Informational);
        assert_eq!(level(&r, "info").0, Severity::Informational);
        assert_eq!(
            level(&r, "sev-x"),
            (Severity::Low, "sev-x (unlisted)".into())
        );
        let absent = r.level(None, "t.toml");
        assert_eq!(
            (absent.level, absent.original.as_str()),
            (Severity::Low, "absent")
        );
    }

    #[test]
    fn unlisted_values_are_remembered_once_each() {
        let r = rules(RULES).expect("valid");
        for value in ["sev-x", "sev-y", "sev-x", "sev-x"] {
            level(&r, value);
        }
        assert_eq!(r.unlisted(), vec!["sev-x", "sev-y"]);
        let shared = r.clone();
        level(&shared, "sev-z");
        assert_eq!(r.unlisted().len(), 3);
        for i in 0..400 {
            level(&r, &format!("v{i}"));
        }
        assert_eq!(r.unlisted().len(), MAX_UNLISTED);
    }

    #[test]
    fn without_rules_names_are_read_and_the_rest_is_medium_but_reported() {
        let r = rules("[severity]\n\"7\" = \"high\"\n").expect("valid");
        assert_eq!(level(&r, "7").0, Severity::High);
        assert_eq!(level(&r, "Critical").0, Severity::Critical);
        assert_eq!(level(&r, "11"), (Severity::Medium, "11 (unlisted)".into()));
        assert_eq!(r.unlisted(), vec!["11"]);
        let no_names =
            rules("[severity_rules]\nnames = false\ndefault = \"high\"\n").expect("valid");
        assert_eq!(level(&no_names, "low").0, Severity::High);
    }

    #[test]
    fn bad_rules_are_refused() {
        for (text, expected) in [
            (
                "[severity_rules]\npatterns = [{ regex = '(', level = \"high\" }]",
                "does not compile",
            ),
            (
                "[severity_rules]\nprefixes = { \"\" = \"high\" }",
                "matches every value",
            ),
            ("[severity_rules]\ndefault = \"severe\"", "severe"),
            ("[severity_rules]\ndefualt = \"high\"", "defualt"),
        ] {
            let err = rules(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
