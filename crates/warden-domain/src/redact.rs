//! Redaction of secrets before any assessor prompt or audit payload sees
//! them.
//!
//! Alerts quote what attackers and administrators typed: command lines with
//! passwords, scripts with API keys, connection strings, private keys. A
//! secret copied into a model prompt or an append-only audit log cannot be
//! taken back, so every text that leaves ingest for those places passes
//! through [`redact`] first. Each secret becomes a typed placeholder
//! (`[REDACTED:aws_access_key]`), so an analyst still sees that a key was
//! there and of which kind, and the rest of the text is untouched.
//!
//! Patterns lean towards redacting: a false positive hides a harmless
//! string, a false negative leaks a credential forever.

use std::sync::LazyLock;

use crate::{Alert, Untrusted};
use regex::{Captures, Regex};

/// One kind of secret: its placeholder name and how to find it. When the
/// pattern has a group named `secret`, only that part is replaced (the
/// `--password` flag stays readable); otherwise the whole match is.
struct Rule {
    kind: &'static str,
    pattern: Regex,
}

fn rule(kind: &'static str, pattern: &str) -> Option<Rule> {
    // The patterns are constants checked by the tests; a bad one is skipped
    // rather than bringing the pipeline down.
    Regex::new(pattern)
        .ok()
        .map(|pattern| Rule { kind, pattern })
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    [
        rule(
            "private_key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)",
        ),
        // The password of a URL's userinfo, whatever the scheme
        // (`https://svc:PASSWORD@host`, `postgresql://app:PASSWORD@db`).
        rule(
            "connection_string",
            r"(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s:/@?#]+:(?P<secret>[^\s@/?#]+)@",
        ),
        // Query parameters that carry a credential
        // (`?access_token=...`, `&sig=...` of a SAS URL, `&X-Amz-Signature=`).
        // Before the `password=` rule, which would take the rest of the URL.
        rule(
            "url_secret",
            r#"(?i)[?&](?:access_token|refresh_token|id_token|auth_token|token|auth|key|api_key|apikey|api-key|password|passwd|pwd|pass|secret|client_secret|sig|signature|code|session|sessionid|session_id|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=(?P<secret>[^&#\s"']+)"#,
        ),
        rule(
            "password",
            // `$password = $cred...` assigns a variable, not a secret.
            r"(?i)\b(?:password|passwd|pwd)\s*=\s*(?P<secret>[^;\s$][^;\s]*)",
        ),
        rule("aws_access_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        rule(
            "aws_secret_key",
            r#"(?i)aws_?secret_?access_?key["']?(?:\s*[:=]\s*|\s+)["']?(?P<secret>[A-Za-z0-9/+=]{40})"#,
        ),
        rule("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
        rule("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
        rule("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
        rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        rule("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b"),
        rule("openai_key", r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b"),
        rule(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b",
        ),
        rule(
            "bearer_token",
            r"(?i)\b(?:authorization\s*:\s*)?bearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{16,})",
        ),
        rule(
            "azure_key",
            r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*(?P<secret>[^;\s]+)",
        ),
        // Flags that take a password, as command lines write them:
        // `--password X`, `--password=X`, `-p X` after a user flag,
        // `/p:X` (net use, msbuild), `-pw X` (plink), `sshpass -p X`,
        // `mysql -uroot -pX`.
        rule(
            "password",
            r#"(?i)(?:--?(?:password|passwd|pass|pwd|pw)(?:\s+|=)|/p(?:assword)?:|\bsshpass\s+-p\s*|\s-u\s*\S+\s+-p)(?P<secret>"[^"]+"|'[^']+'|[^\s"']+)"#,
        ),
        // `curl -u USER:PASSWORD`, `curl --user "USER:PASS WORD"`.
        rule(
            "password",
            r#"(?i)\bcurl(?:\.exe)?[^\n|;&]*?(?:\s-u\s*|--user(?:\s+|=))(?P<secret>"[^"\s:]*:[^"]*"|'[^'\s:]*:[^']*')"#,
        ),
        rule(
            "password",
            r#"(?i)\bcurl(?:\.exe)?[^\n|;&]*?(?:\s-u\s*|--user(?:\s+|=))[^\s:"'\[]+:(?P<secret>[^\s"']+)"#,
        ),
        // `net user NAME PASSWORD /add`: the password is positional.
        rule(
            "password",
            r#"(?i)\bnet1?(?:\.exe)?\s+user\s+(?:"[^"]+"|\S+)\s+(?P<secret>(?:"[^"]+"|[^\s/*]\S*))\s+/(?:add|domain)"#,
        ),
        // ConvertTo-SecureString "P@ss" -AsPlainText
        rule(
            "password",
            r#"(?i)ConvertTo-SecureString\s+(?:-String\s+)?(?P<secret>"[^"]*"|'[^']*')\s+-AsPlainText"#,
        ),
        rule(
            "api_key",
            r#"(?i)\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret|secret[_-]?key)["']?\s*[:=]\s*["']?(?P<secret>[A-Za-z0-9._~+/=-]{12,})"#,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// What [`redact`] found: the cleaned text and the kinds it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    /// Placeholder kinds, one per secret replaced, in rule order.
    pub kinds: Vec<&'static str>,
}

/// `text` with every secret Warden recognises replaced by
/// `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> Redacted {
    let mut current = text.to_owned();
    let mut kinds = Vec::new();
    for rule in RULES.iter() {
        if !rule.pattern.is_match(&current) {
            continue;
        }
        let replaced = rule.pattern.replace_all(&current, |caps: &Captures<'_>| {
            let placeholder = format!("[REDACTED:{}]", rule.kind);
            let Some(whole) = caps.get(0) else {
                return placeholder;
            };
            match caps.name("secret") {
                // Already a placeholder from an earlier rule: leave it.
                Some(secret) if secret.as_str().starts_with("[REDACTED:") => {
                    whole.as_str().to_owned()
                }
                Some(secret) => {
                    kinds.push(rule.kind);
                    let start = secret.start() - whole.start();
                    let end = secret.end() - whole.start();
                    let text = whole.as_str();
                    format!(
                        "{}{placeholder}{}",
                        text.get(..start).unwrap_or_default(),
                        text.get(end..).unwrap_or_default()
                    )
                }
                None => {
                    kinds.push(rule.kind);
                    placeholder
                }
            }
        });
        current = replaced.into_owned();
    }
    Redacted {
        text: current,
        kinds,
    }
}

/// Redact every string inside `value` in place (keys are left alone: they
/// are vendor field names). Returns the kinds replaced.
pub fn redact_value(value: &mut serde_json::Value) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::String(text) => {
                let redacted = redact(text);
                if !redacted.kinds.is_empty() {
                    *text = redacted.text;
                    kinds.extend(redacted.kinds);
                }
            }
            serde_json::Value::Array(items) => stack.extend(items.iter_mut()),
            serde_json::Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
    kinds
}

/// A copy of `alert` fit for an assessor, a prompt or the record: every
/// value of alert origin redacted (title, description, rule and product
/// names, technique names, every entity value: URLs with userinfo or
/// tokens, user names people typed a password or a token into, process
/// paths) and every string of the raw payload. The store keeps the alert
/// as it came; a look-up that needs a clear value maps the redacted one
/// back ([`Unredact`]).
pub fn redact_alert(alert: &Alert) -> Alert {
    let mut copy = alert.clone();
    copy.title = Untrusted::new(redact(copy.title.as_untrusted_str()).text);
    copy.description = Untrusted::new(redact(copy.description.as_untrusted_str()).text);
    copy.rule.name = redact(&copy.rule.name).text;
    if let Some(uid) = &mut copy.rule.uid {
        *uid = redact(uid).text;
    }
    copy.product = redact(&copy.product).text;
    for attack in &mut copy.attacks {
        if let Some(name) = &mut attack.name {
            *name = redact(name).text;
        }
    }
    for observable in &mut copy.observables {
        observable.value = redact(&observable.value).text;
    }
    redact_value(&mut copy.raw);
    copy
}

/// `text` redacted, for a sink (an audit reason, a log line).
pub fn redacted(text: &str) -> String {
    redact(text).text
}

/// The clear value behind each redacted entity value of a case, so a
/// look-up asked with what an assessor was shown runs on the value the
/// alert carried, while the record keeps the redacted form.
#[derive(Debug, Clone, Default)]
pub struct Unredact {
    clear: std::collections::BTreeMap<String, String>,
}

impl Unredact {
    /// The map for `values` (clear entity values of a case). A redacted
    /// form that stands for two clear values maps to neither: which one
    /// was meant cannot be told.
    pub fn of<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut clear = std::collections::BTreeMap::new();
        let mut ambiguous = std::collections::BTreeSet::new();
        for value in values {
            let shown = redact(value).text;
            if shown == value {
                continue;
            }
            match clear.get(&shown) {
                Some(existing) if existing != value => {
                    ambiguous.insert(shown);
                }
                _ => {
                    clear.insert(shown, value.to_owned());
                }
            }
        }
        for shown in ambiguous {
            clear.remove(&shown);
        }
        Self { clear }
    }

    /// The clear value behind `shown`, or `shown` itself.
    pub fn clear<'a>(&'a self, shown: &'a str) -> &'a str {
        self.clear.get(shown).map_or(shown, String::as_str)
    }

    /// `value` with every string that is a redacted entity value replaced
    /// by its clear value.
    pub fn clear_value(&self, value: &mut serde_json::Value) {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::String(text) => {
                    if let Some(clear) = self.clear.get(text.as_str()) {
                        *text = clear.clone();
                    }
                }
                serde_json::Value::Array(items) => stack.extend(items.iter_mut()),
                serde_json::Value::Object(map) => stack.extend(map.values_mut()),
                _ => {}
            }
        }
    }
}
