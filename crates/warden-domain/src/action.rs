//! The action catalogue and proposals.
//!
//! INVARIANT (S2, S3): a proposal's target is a [`Target`], which can only be
//! built from the case itself or from a structured observable; and a proposal
//! is identified by the hash of exactly its action, target and parameters, so
//! that an approval bound to the hash is void after any change.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::hashing::sha256_fields;
use crate::ids::{CaseId, EvidenceId};
use crate::observable::{Observable, ObservableKind};

macro_rules! catalogue {
    ($( $variant:ident = $name:literal, reverse: $reverse:expr, side_effect: $side:literal, $desc:literal; )*) => {
        /// An action from the public catalogue (`warden actions`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ActionName { $( #[doc = $desc] $variant, )* }

        impl ActionName {
            /// Every catalogue action, in catalogue order.
            pub const ALL: &'static [ActionName] = &[ $( ActionName::$variant, )* ];

            /// The contract spelling (`edr.isolate_host`).
            pub fn as_str(self) -> &'static str {
                match self { $( ActionName::$variant => $name, )* }
            }

            /// What the action does, for people.
            pub fn description(self) -> &'static str {
                match self { $( ActionName::$variant => $desc, )* }
            }

            /// The action that undoes this one, if it has one.
            pub fn reverse(self) -> Option<ActionName> {
                match self { $( ActionName::$variant => $reverse, )* }
            }

            /// Whether it changes anything outside Warden's own case record.
            pub fn has_side_effect(self) -> bool {
                match self { $( ActionName::$variant => $side, )* }
            }
        }
    };
}

catalogue! {
    CaseNote = "case.note", reverse: None, side_effect: false, "add a note to the case";
    TicketCreate = "ticket.create", reverse: None, side_effect: true, "open a ticket in the ticketing system";
    NotifyOwner = "notify.owner", reverse: None, side_effect: true, "message the asset or account owner";
    AlertSuppress = "alert.suppress", reverse: Some(ActionName::AlertUnsuppress), side_effect: true, "suppress a known-benign alert pattern";
    AlertUnsuppress = "alert.unsuppress", reverse: Some(ActionName::AlertSuppress), side_effect: true, "lift an alert suppression";
    EdrIsolateHost = "edr.isolate_host", reverse: Some(ActionName::EdrReleaseHost), side_effect: true, "network-isolate an endpoint";
    EdrReleaseHost = "edr.release_host", reverse: Some(ActionName::EdrIsolateHost), side_effect: true, "release an endpoint from network isolation";
    EdrKillProcess = "edr.kill_process", reverse: None, side_effect: true, "stop a process on an endpoint";
    EdrQuarantineFile = "edr.quarantine_file", reverse: Some(ActionName::EdrRestoreFile), side_effect: true, "quarantine a file by hash";
    EdrRestoreFile = "edr.restore_file", reverse: Some(ActionName::EdrQuarantineFile), side_effect: true, "restore a quarantined file";
    IdpRevokeSessions = "idp.revoke_sessions", reverse: None, side_effect: true, "sign a user out everywhere";
    IdpDisableUser = "idp.disable_user", reverse: Some(ActionName::IdpEnableUser), side_effect: true, "disable an account";
    IdpEnableUser = "idp.enable_user", reverse: Some(ActionName::IdpDisableUser), side_effect: true, "re-enable a disabled account";
    IdpResetMfa = "idp.reset_mfa", reverse: None, side_effect: true, "require MFA re-registration";
    EmailQuarantine = "email.quarantine", reverse: Some(ActionName::EmailRelease), side_effect: true, "pull a message from mailboxes";
    EmailRelease = "email.release", reverse: Some(ActionName::EmailQuarantine), side_effect: true, "return a quarantined message to mailboxes";
    NetBlockIndicator = "net.block_indicator", reverse: Some(ActionName::NetUnblockIndicator), side_effect: true, "block an IP, domain or URL";
    NetUnblockIndicator = "net.unblock_indicator", reverse: Some(ActionName::NetBlockIndicator), side_effect: true, "unblock an IP, domain or URL";
    CloudDisableAccessKey = "cloud.disable_access_key", reverse: Some(ActionName::CloudEnableAccessKey), side_effect: true, "disable a cloud access key";
    CloudEnableAccessKey = "cloud.enable_access_key", reverse: Some(ActionName::CloudDisableAccessKey), side_effect: true, "re-enable a cloud access key";
}

impl ActionName {
    /// The entity kinds this action can target; empty means the case itself.
    pub fn target_kinds(self) -> &'static [ObservableKind] {
        use ObservableKind as K;
        match self {
            ActionName::CaseNote | ActionName::TicketCreate => &[],
            ActionName::NotifyOwner => &[K::Host, K::User],
            ActionName::AlertSuppress | ActionName::AlertUnsuppress => &[],
            ActionName::EdrIsolateHost | ActionName::EdrReleaseHost => &[K::Host],
            ActionName::EdrKillProcess => &[K::Process],
            ActionName::EdrQuarantineFile | ActionName::EdrRestoreFile => &[K::FileHash],
            ActionName::IdpRevokeSessions
            | ActionName::IdpDisableUser
            | ActionName::IdpEnableUser
            | ActionName::IdpResetMfa => &[K::User, K::Email],
            ActionName::EmailQuarantine | ActionName::EmailRelease => &[K::Email],
            ActionName::NetBlockIndicator | ActionName::NetUnblockIndicator => {
                &[K::Ip, K::Domain, K::Url]
            }
            ActionName::CloudDisableAccessKey | ActionName::CloudEnableAccessKey => {
                &[K::CloudResource]
            }
        }
    }
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the action catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?} (see `warden actions`)")]
pub struct UnknownAction(pub String);

impl FromStr for ActionName {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActionName::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

impl Serialize for ActionName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActionName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What an action acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// The case itself (notes, tickets, suppressions).
    Case { id: CaseId },
    /// An entity taken from a structured field.
    Entity { kind: ObservableKind, value: String },
}

impl Target {
    /// The case as target.
    pub fn case(id: CaseId) -> Self {
        Target::Case { id }
    }

    /// An observable as target, if it may be one: only observables found in
    /// a structured field qualify (S2).
    pub fn from_observable(observable: &Observable) -> Option<Self> {
        observable.is_structured().then(|| Target::Entity {
            kind: observable.kind,
            value: observable.value.clone(),
        })
    }

    /// `host:dc01`, `case:case-...`.
    pub fn label(&self) -> String {
        match self {
            Target::Case { id } => format!("case:{id}"),
            Target::Entity { kind, value } => format!("{kind}:{value}"),
        }
    }
}

/// The hash binding approvals and executions to one exact proposal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProposalHash(String);

impl ProposalHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wrap a stored hash.
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }
}

impl fmt::Display for ProposalHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An action an assessor proposes for a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionProposal {
    pub case_id: CaseId,
    pub action: ActionName,
    pub target: Target,
    /// Action parameters (a note's text, a block's duration), sorted by key.
    pub parameters: BTreeMap<String, String>,
    /// Which assessor proposed it.
    pub proposed_by: String,
    /// Evidence behind it.
    pub evidence: Vec<EvidenceId>,
}

impl ActionProposal {
    /// The hash of exactly what would be done: case, action, target and
    /// every parameter. Who proposed it and why are not part of it.
    pub fn hash(&self) -> ProposalHash {
        let case = self.case_id.to_string();
        let target = self.target.label();
        let mut fields: Vec<&str> = vec![&case, self.action.as_str(), &target];
        for (key, value) in &self.parameters {
            fields.push(key);
            fields.push(value);
        }
        ProposalHash(sha256_fields(fields))
    }

    /// Whether the target is of a kind the action accepts.
    pub fn target_fits_action(&self) -> bool {
        match &self.target {
            Target::Case { id } => self.action.target_kinds().is_empty() && *id == self.case_id,
            Target::Entity { kind, .. } => self.action.target_kinds().contains(kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observable::Provenance;

    #[test]
    fn catalogue_names_parse_and_reverse_pairs_agree() {
        for &action in ActionName::ALL {
            assert_eq!(action.as_str().parse::<ActionName>(), Ok(action));
            if let Some(reverse) = action.reverse() {
                assert_eq!(reverse.reverse(), Some(action), "{action}");
            }
        }
        assert!("edr.format_disk".parse::<ActionName>().is_err());
    }

    #[test]
    fn contract_minimum_is_present() {
        for name in [
            "case.note",
            "ticket.create",
            "notify.owner",
            "alert.suppress",
            "edr.isolate_host",
            "edr.kill_process",
            "edr.quarantine_file",
            "idp.revoke_sessions",
            "idp.disable_user",
            "idp.reset_mfa",
            "email.quarantine",
            "net.block_indicator",
            "cloud.disable_access_key",
        ] {
            assert!(name.parse::<ActionName>().is_ok(), "{name}");
        }
    }

    #[test]
    fn text_only_observable_cannot_be_a_target() {
        let Ok(from_text) = Observable::parse(
            ObservableKind::Host,
            "ws-fin-042",
            Provenance::Text {
                field: "message".into(),
            },
        ) else {
            panic!("valid host");
        };
        assert_eq!(Target::from_observable(&from_text), None);
    }

    #[test]
    fn any_change_changes_the_hash() {
        let case_id = CaseId::new();
        let base = ActionProposal {
            case_id,
            action: ActionName::EdrIsolateHost,
            target: Target::Entity {
                kind: ObservableKind::Host,
                value: "ws-1".into(),
            },
            parameters: BTreeMap::new(),
            proposed_by: "deterministic".into(),
            evidence: vec![],
        };
        let mut other_target = base.clone();
        other_target.target = Target::Entity {
            kind: ObservableKind::Host,
            value: "ws-2".into(),
        };
        let mut other_param = base.clone();
        other_param
            .parameters
            .insert("duration".into(), "1h".into());
        let mut other_author = base.clone();
        other_author.proposed_by = "llm".into();
        assert_ne!(base.hash(), other_target.hash());
        assert_ne!(base.hash(), other_param.hash());
        assert_eq!(base.hash(), other_author.hash());
        assert!(base.target_fits_action());
    }
}
