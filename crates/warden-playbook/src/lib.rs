//! Playbooks: one TOML file per use case (alert family) saying which alerts
//! it takes, which context tools run for them, which actions may be
//! proposed, how far it is trusted, who owns it, and its thresholds.
//!
//! # Layout
//!
//! - [`Playbook`] (this file): one parsed and checked file.
//! - [`PlaybookSet`]: the playbooks in the order they are tried, the shipped
//!   set (`playbooks/*.toml`, compiled in) or a folder of the operator's;
//!   [`PlaybookSet::select`] picks the one for a case.
//!
//! Matching reads only structured alert fields (format, product, rule name
//! and id, ATT&CK ids), never free text: an attacker who writes "phishing"
//! into a command line cannot move a case to another playbook's authority.
//! A rule name that is only the finding's title (OCSF without an analytic,
//! every Microsoft Graph alert: see [`rule_name_is_stable`]) is free text
//! too, and no `rules` pattern reads it ([`rule_name_for_matching`]).
//!
//! The file format is documented in `docs/playbooks.md`.

use std::collections::BTreeSet;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use sha2::Digest as _;
use warden_domain::{ActionName, Alert, Autonomy, SourceFormat, UseCase};

/// A playbook file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("playbook {origin}: {message}")]
pub struct PlaybookError {
    /// The file (or shipped name) it came from.
    pub origin: String,
    pub message: String,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    name: String,
    #[serde(default)]
    description: String,
    owner: String,
    autonomy: String,
    /// Lower is tried first; ties by name.
    #[serde(default = "default_priority")]
    priority: i32,
    #[serde(default, rename = "match")]
    matches: Vec<MatchFile>,
    #[serde(default)]
    context: ContextFile,
    actions: ActionsFile,
    #[serde(default)]
    thresholds: ThresholdsFile,
    /// Automatic step-down of autonomy on analyst overrides.
    #[serde(default)]
    trust: warden_domain::TrustLadder,
}

fn default_priority() -> i32 {
    100
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchFile {
    #[serde(default)]
    formats: Vec<String>,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    rule_uids: Vec<String>,
    #[serde(default)]
    techniques: Vec<String>,
    #[serde(default)]
    tactics: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextFile {
    #[serde(default)]
    tools: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsFile {
    allowed: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    min_confidence: Option<f64>,
    malicious: Option<f64>,
    suspicious: Option<f64>,
}

/// One `[[match]]` block: every criterion given must hold (each list means
/// "any of these").
#[derive(Debug, Clone)]
pub struct MatchRule {
    formats: Vec<SourceFormat>,
    products: Vec<String>,
    rules: Vec<Regex>,
    /// Lower case.
    rule_uids: Vec<String>,
    techniques: Vec<String>,
    tactics: Vec<String>,
}

impl MatchRule {
    /// Whether `alert` satisfies this block.
    pub fn matches(&self, alert: &Alert) -> bool {
        let format = self.formats.is_empty() || self.formats.contains(&alert.format);
        let product = self.products.is_empty() || {
            let product = alert.product.to_lowercase();
            self.products.iter().any(|p| product.contains(p.as_str()))
        };
        // INVARIANT (S2): a rule name that is only the finding's title is
        // text the sender wrote; no pattern reads it.
        let rule = self.rules.is_empty()
            || rule_name_for_matching(alert)
                .is_some_and(|name| self.rules.iter().any(|r| r.is_match(&name)));
        let rule_uid = self.rule_uids.is_empty()
            || alert.rule.uid.as_deref().is_some_and(|uid| {
                let uid = uid.to_lowercase();
                self.rule_uids.contains(&uid)
            });
        // T1003 covers its sub-techniques (T1003.001).
        let technique = self.techniques.is_empty()
            || alert.attacks.iter().any(|a| {
                self.techniques.iter().any(|t| {
                    a.id == *t
                        || a.id
                            .strip_prefix(t.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                })
            });
        let tactic = self.tactics.is_empty()
            || alert.attacks.iter().any(|a| {
                a.tactics
                    .iter()
                    .any(|t| self.tactics.iter().any(|want| tactic_eq(t, want)))
            });
        format && product && rule && rule_uid && technique && tactic
    }
}

/// Whether `alert`'s rule name is the name of the detection rule that
/// fired, set where the rule is configured, rather than the finding's
/// title, which the normaliser falls back to when the format names no rule.
/// A title is free text that whoever sends or provokes the alert writes
/// (it often quotes the activity), so it must not choose a playbook (S2).
///
/// - OCSF: a stable name when the finding names its analytic
///   (`finding_info.analytic.name`); the title otherwise.
/// - Microsoft Graph: always the title (a Graph alert names no rule; its
///   `detectorId` is the rule's uid, which `rule_uids` matches, and
///   [`rule_name_for_matching`] reads its antivirus signature instead).
/// - CEF: the Device Event Class ID; the Name (sender text) when the class
///   id is empty, which is then a title.
/// - Every other built-in format reads its rule name from a rule field
///   (see `docs/playbooks.md`); a mapping reads the field its file names.
///
/// Decided from the payload as received (`alert.raw`), so an alert read
/// back from the store is judged as it was at ingest.
pub fn rule_name_is_stable(alert: &Alert) -> bool {
    use warden_ingest::formats::{cef, msgraph, ocsf};
    match alert.format {
        SourceFormat::Ocsf => !ocsf::rule_name_is_title(&alert.raw),
        SourceFormat::Msgraph => !msgraph::rule_name_is_title(&alert.raw),
        SourceFormat::Cef => !cef::rule_name_is_title(&alert.raw),
        // ECS, Suricata, chainsaw, Splunk, hayabusa, Falcon, GuardDuty and
        // mappings read a rule field. A format whose normaliser can fall
        // back to a title must get its own arm above.
        _ => true,
    }
}

/// What `rules` patterns read: the rule name when it is stable
/// ([`rule_name_is_stable`]); for a Microsoft Graph alert, the antivirus
/// signature that fired (`threatDisplayName`) when it has one; otherwise
/// nothing, and no pattern matches.
pub fn rule_name_for_matching(alert: &Alert) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    if alert.format == SourceFormat::Msgraph {
        return warden_ingest::formats::msgraph::signature_name(&alert.raw).map(Cow::Owned);
    }
    rule_name_is_stable(alert).then_some(Cow::Borrowed(alert.rule.name.as_str()))
}

/// Tactic names compare without case, spaces, dashes or underscores
/// (`Credential Access` = `credential-access`), and ids exactly.
fn tactic_eq(have: &str, want: &str) -> bool {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    fold(have) == fold(want)
}

/// A checked playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub description: String,
    pub priority: i32,
    /// Where it was loaded from.
    pub origin: String,
    /// What later stages see: name, owner, autonomy, authority, thresholds.
    pub use_case: UseCase,
    /// Context tools to run, in order (empty: the default plan).
    pub tools: Vec<String>,
    /// SHA-256 of the file's text (hex), for the audit record.
    pub text_sha256: String,
    matches: Vec<MatchRule>,
}

impl Playbook {
    /// Parse and check one playbook file's text.
    pub fn parse(origin: &str, text: &str) -> Result<Self, PlaybookError> {
        let error = |message: String| PlaybookError {
            origin: origin.to_owned(),
            message,
        };
        let file: PlaybookFile = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        if file.name.is_empty()
            || !file
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(error(format!(
                "name {:?} must be non-empty lower-case letters, digits, '-' or '_' (it becomes a policy principal)",
                file.name
            )));
        }
        if file.owner.trim().is_empty() {
            return Err(error(
                "owner is empty: every use case needs an owner".into(),
            ));
        }
        let autonomy: Autonomy = file.autonomy.parse().map_err(error)?;
        let mut allowed = BTreeSet::new();
        for name in &file.actions.allowed {
            let action: ActionName = name.parse().map_err(|e: warden_domain::UnknownAction| {
                error(format!("actions.allowed: {e}"))
            })?;
            allowed.insert(action);
        }
        for (key, value) in [
            ("min_confidence", file.thresholds.min_confidence),
            ("malicious", file.thresholds.malicious.map(|v| v / 100.0)),
            ("suspicious", file.thresholds.suspicious.map(|v| v / 100.0)),
        ] {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                return Err(error(format!(
                    "thresholds.{key} is out of range (min_confidence 0-1, risk 0-100)"
                )));
            }
        }
        if let (Some(m), Some(s)) = (file.thresholds.malicious, file.thresholds.suspicious)
            && s > m
        {
            return Err(error(format!(
                "thresholds.suspicious ({s}) is above thresholds.malicious ({m})"
            )));
        }
        let mut matches = Vec::new();
        for (i, block) in file.matches.iter().enumerate() {
            let mut formats = Vec::new();
            for name in &block.formats {
                let format = SourceFormat::parse(name)
                    .or((name == "mapped").then_some(SourceFormat::Mapped))
                    .ok_or_else(|| error(format!("match[{i}].formats: unknown format {name:?}")))?;
                formats.push(format);
            }
            let mut rules = Vec::new();
            for pattern in &block.rules {
                rules.push(Regex::new(pattern).map_err(|e| {
                    error(format!(
                        "match[{i}].rules: {pattern:?} is not a regular expression: {e}"
                    ))
                })?);
            }
            let mut techniques = Vec::new();
            for id in &block.techniques {
                techniques.push(warden_domain::AttackTechnique::parse_id(id).ok_or_else(|| {
                    error(format!(
                        "match[{i}].techniques: {id:?} is not an ATT&CK technique id"
                    ))
                })?);
            }
            let mut rule_uids = Vec::new();
            for uid in &block.rule_uids {
                let uid = uid.trim();
                if uid.is_empty() {
                    return Err(error(format!("match[{i}].rule_uids: an empty rule id")));
                }
                rule_uids.push(uid.to_lowercase());
            }
            let rule = MatchRule {
                formats,
                products: block.products.iter().map(|p| p.to_lowercase()).collect(),
                rules,
                rule_uids,
                techniques,
                tactics: block.tactics.clone(),
            };
            if rule.formats.is_empty()
                && rule.products.is_empty()
                && rule.rules.is_empty()
                && rule.rule_uids.is_empty()
                && rule.techniques.is_empty()
                && rule.tactics.is_empty()
            {
                return Err(error(format!(
                    "match[{i}] is empty; leave [[match]] out entirely for a catch-all playbook"
                )));
            }
            matches.push(rule);
        }
        let trust = file.trust;
        if !(0.0..=1.0).contains(&trust.max_override_rate)
            || trust.window == 0
            || trust.min_reviews > trust.window
        {
            return Err(error(format!(
                "[trust] needs 0 <= max_override_rate <= 1, window >= 1 and min_reviews <= window (got {}, {}, {})",
                trust.max_override_rate, trust.window, trust.min_reviews
            )));
        }
        Ok(Self {
            description: file.description,
            priority: file.priority,
            origin: origin.to_owned(),
            use_case: UseCase {
                name: file.name,
                owner: file.owner,
                autonomy,
                allowed_actions: allowed,
                min_confidence: file.thresholds.min_confidence,
                malicious_risk: file.thresholds.malicious,
                suspicious_risk: file.thresholds.suspicious,
                trust: file.trust,
            },
            tools: file.context.tools,
            text_sha256: hex::encode(sha2::Sha256::digest(text.as_bytes())),
            matches,
        })
    }

    pub fn name(&self) -> &str {
        &self.use_case.name
    }

    /// A playbook without `[[match]]` blocks takes any alert.
    pub fn is_catch_all(&self) -> bool {
        self.matches.is_empty()
    }

    /// Whether any `[[match]]` block takes `alert`.
    pub fn matches(&self, alert: &Alert) -> bool {
        self.is_catch_all() || self.matches.iter().any(|m| m.matches(alert))
    }
}

/// The shipped playbooks, compiled in.
const SHIPPED: &[(&str, &str)] = &[
    (
        "cloud-access-key.toml",
        include_str!("../playbooks/cloud-access-key.toml"),
    ),
    ("phishing.toml", include_str!("../playbooks/phishing.toml")),
    (
        "suspicious-sign-in.toml",
        include_str!("../playbooks/suspicious-sign-in.toml"),
    ),
    (
        "credential-access.toml",
        include_str!("../playbooks/credential-access.toml"),
    ),
    (
        "endpoint-malware.toml",
        include_str!("../playbooks/endpoint-malware.toml"),
    ),
    (
        "network-ids.toml",
        include_str!("../playbooks/network-ids.toml"),
    ),
    (
        "suspicious-process.toml",
        include_str!("../playbooks/suspicious-process.toml"),
    ),
    ("default.toml", include_str!("../playbooks/default.toml")),
];

/// Playbooks in the order they are tried, ending with a catch-all.
#[derive(Debug, Clone)]
pub struct PlaybookSet {
    /// Playbooks with `[[match]]` blocks, in the order they are tried.
    specific: Vec<Playbook>,
    /// The one without, taken when nothing else matches.
    catch_all: Playbook,
}

impl PlaybookSet {
    /// The shipped set.
    pub fn shipped() -> Result<Self, PlaybookError> {
        let playbooks = SHIPPED
            .iter()
            .map(|(file, text)| Playbook::parse(&format!("shipped {file}"), text))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_playbooks(playbooks)
    }

    /// The shipped playbook files, to write out for an operator to edit.
    pub fn shipped_files() -> &'static [(&'static str, &'static str)] {
        SHIPPED
    }

    /// Every `*.toml` file in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, PlaybookError> {
        let folder_error = |message: String| PlaybookError {
            origin: dir.display().to_string(),
            message,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| folder_error(e.to_string()))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut playbooks = Vec::new();
        for path in paths {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| PlaybookError {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
            playbooks.push(Playbook::parse(&origin, &text)?);
        }
        Self::from_playbooks(playbooks).map_err(|e| folder_error(e.message))
    }

    /// Order and check: names unique, exactly one catch-all.
    pub fn from_playbooks(playbooks: Vec<Playbook>) -> Result<Self, PlaybookError> {
        let mut names = BTreeSet::new();
        for p in &playbooks {
            if !names.insert(p.name().to_owned()) {
                return Err(PlaybookError {
                    origin: p.origin.clone(),
                    message: format!("a second playbook named {:?}", p.name()),
                });
            }
        }
        let (catch_all, mut specific): (Vec<Playbook>, Vec<Playbook>) =
            playbooks.into_iter().partition(Playbook::is_catch_all);
        let mut catch_all = catch_all.into_iter();
        let (Some(last), None) = (catch_all.next(), catch_all.next()) else {
            return Err(PlaybookError {
                origin: "playbook set".into(),
                message: "needs exactly one catch-all playbook (one without [[match]] blocks)"
                    .into(),
            });
        };
        specific.sort_by(|a, b| (a.priority, a.name()).cmp(&(b.priority, b.name())));
        Ok(Self {
            specific,
            catch_all: last,
        })
    }

    /// SHA-256 (hex) over every playbook's name and text hash, in the
    /// order they are tried: changes whenever any playbook does.
    pub fn digest(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        for playbook in self.iter() {
            hasher.update(playbook.name().as_bytes());
            hasher.update(b"\0");
            hasher.update(playbook.text_sha256.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }

    /// In the order they are tried, the catch-all last.
    pub fn iter(&self) -> impl Iterator<Item = &Playbook> {
        self.specific.iter().chain(std::iter::once(&self.catch_all))
    }

    pub fn get(&self, name: &str) -> Option<&Playbook> {
        self.iter().find(|p| p.name() == name)
    }

    /// The playbook for a case: the first, in order, that takes any of its
    /// alerts; the catch-all when none does.
    pub fn select(&self, alerts: &[Alert]) -> &Playbook {
        self.specific
            .iter()
            .find(|p| alerts.iter().any(|a| p.matches(a)))
            .unwrap_or(&self.catch_all)
    }
}

#[cfg(test)]
mod tests;
