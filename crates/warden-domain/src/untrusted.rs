//! Text that came from outside Warden.
//!
//! INVARIANT (S2): untrusted text is data, never instruction. [`Untrusted`]
//! deliberately implements neither `Display` nor `Deref<Target = str>`, so it
//! cannot be interpolated with `format!("{}")` into a prompt, a tool name, a
//! target or a policy input. Reading it takes an explicit, greppable call:
//! [`Untrusted::as_untrusted_str`] for analysis code, [`Untrusted::escaped`]
//! for showing it to a person.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A string an attacker may control. Serialises as the plain string so that
/// stored and exported records stay readable; it is re-wrapped on the way in.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Untrusted(String);

impl Untrusted {
    /// Wrap text that came from outside.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The raw text, for deterministic analysis (pattern matching, length
    /// checks). The name is long on purpose: every call site is a place where
    /// attacker-controlled text is read.
    pub fn as_untrusted_str(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text made safe to print on a terminal: control characters
    /// (including ANSI escape sequences and newlines that could forge extra
    /// lines of a card) are shown as escapes, and the result is cut to
    /// `max_chars` characters with an ellipsis.
    pub fn escaped(&self, max_chars: usize) -> String {
        let mut out = String::with_capacity(self.0.len().min(max_chars * 2));
        for (count, ch) in self.0.chars().enumerate() {
            if count >= max_chars {
                out.push('…');
                break;
            }
            if ch.is_control() || is_bidi_control(ch) {
                out.extend(ch.escape_default());
            } else {
                out.push(ch);
            }
        }
        out
    }
}

/// Unicode bidirectional overrides can make text read differently from how
/// it is stored ("Trojan Source"); they are escaped like control characters.
fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

impl fmt::Debug for Untrusted {
    // Debug output ends up in logs: show a bounded, escaped preview only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Untrusted({:?})", self.escaped(64))
    }
}

impl From<&str> for Untrusted {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Untrusted {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use static_assertions::assert_not_impl_any;

    // The S2 guarantee is a compile-time one: no Display, no Deref to str,
    // no AsRef<str>, so no silent path into a format string.
    assert_not_impl_any!(Untrusted: fmt::Display, std::ops::Deref, AsRef<str>);

    #[test]
    fn escaped_neutralises_terminal_control_sequences() {
        let text = Untrusted::new("ok\u{1b}[31mred\nFAKE LINE\u{202E}");
        let shown = text.escaped(200);
        assert!(!shown.contains('\u{1b}'));
        assert!(!shown.contains('\n'));
        assert!(!shown.contains('\u{202E}'));
        assert!(shown.contains("\\u{1b}[31mred\\nFAKE LINE"));
    }

    #[test]
    fn escaped_truncates_on_char_boundaries() {
        let text = Untrusted::new("ééééé");
        assert_eq!(text.escaped(2), "éé…");
    }

    #[test]
    fn debug_is_bounded() {
        let text = Untrusted::new("x".repeat(10_000));
        assert!(format!("{text:?}").len() < 100);
    }

    proptest::proptest! {
        #[test]
        fn escaped_never_contains_control_chars(s in ".*") {
            let shown = Untrusted::new(s).escaped(1000);
            proptest::prop_assert!(!shown.chars().any(|c| c.is_control() || is_bidi_control(c)));
        }
    }
}
