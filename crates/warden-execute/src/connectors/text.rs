//! Texts Warden writes into products (tickets, chat messages).
//!
//! INVARIANT (S2): a text is built from the proposal's structured fields
//! only (case id, action, target label, who proposed it, evidence ids), with
//! parameters shown as quoted data on lines of their own; nothing is
//! phrased as an instruction, control characters cannot start a new line,
//! and everything is capped.

use warden_domain::{ActionName, Target};

use crate::ConnectorRequest;

const MAX_TARGET_CHARS: usize = 200;
const MAX_AUTHOR_CHARS: usize = 80;
const MAX_EVIDENCE_IDS: usize = 20;
const MAX_PARAMETERS: usize = 20;
const MAX_KEY_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 300;
/// How much of the idempotency key is shown (and used as a Jira label).
pub(crate) const REFERENCE_CHARS: usize = 16;

pub(crate) use warden_http::one_line as clean;

/// The short reference printed on every text and used as a label: the
/// first characters of the idempotency key (ASCII letters and digits only).
pub(crate) fn reference(idempotency_key: &str) -> String {
    let short: String = idempotency_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(REFERENCE_CHARS)
        .collect();
    format!("warden-{}", short.to_ascii_lowercase())
}

/// The facts of one proposal, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Brief {
    pub(crate) action: ActionName,
    pub(crate) case: String,
    pub(crate) target: String,
    /// Labelled facts, in display order.
    pub(crate) facts: Vec<(&'static str, String)>,
    /// `key = value` lines, shown as data.
    pub(crate) parameters: Vec<String>,
}

impl Brief {
    pub(crate) fn of(request: &ConnectorRequest<'_>) -> Self {
        let proposal = request.proposal;
        let target = match &proposal.target {
            Target::Case { id } => format!("case:{id}"),
            Target::Entity { kind, value } => {
                format!("{kind}:{}", clean(value, MAX_TARGET_CHARS))
            }
        };
        let mut evidence: Vec<String> = proposal
            .evidence
            .iter()
            .take(MAX_EVIDENCE_IDS)
            .map(|e| clean(e.as_str(), 40))
            .collect();
        if proposal.evidence.len() > MAX_EVIDENCE_IDS {
            evidence.push(format!(
                "and {} more",
                proposal.evidence.len() - MAX_EVIDENCE_IDS
            ));
        }
        let evidence = if evidence.is_empty() {
            "none cited".to_owned()
        } else {
            evidence.join(", ")
        };
        let mut parameters: Vec<String> = proposal
            .parameters
            .iter()
            .take(MAX_PARAMETERS)
            .map(|(k, v)| {
                format!(
                    "{} = {:?}",
                    clean(k, MAX_KEY_CHARS),
                    clean(v, MAX_VALUE_CHARS)
                )
            })
            .collect();
        if proposal.parameters.len() > MAX_PARAMETERS {
            parameters.push(format!(
                "({} more parameters not shown)",
                proposal.parameters.len() - MAX_PARAMETERS
            ));
        }
        let case = proposal.case_id.to_string();
        Self {
            action: proposal.action,
            facts: vec![
                ("Case", case.clone()),
                (
                    "Action",
                    format!("{} ({})", proposal.action, proposal.action.description()),
                ),
                ("Target", target.clone()),
                (
                    "Proposed by",
                    clean(&proposal.proposed_by, MAX_AUTHOR_CHARS),
                ),
                ("Evidence", evidence),
                ("Reference", reference(request.idempotency_key)),
            ],
            case,
            target,
            parameters,
        }
    }

    /// `Label: value` lines.
    pub(crate) fn fact_lines(&self) -> Vec<String> {
        self.facts
            .iter()
            .map(|(label, value)| format!("{label}: {value}"))
            .collect()
    }
}

/// The account an identity action targets: a user or e-mail entity whose
/// value is non-empty, at most 256 bytes and free of control characters,
/// trimmed. `what` names what the product expects ("object id or UPN").
pub(crate) fn account_target<'a>(
    proposal: &'a warden_domain::ActionProposal,
    what: &str,
) -> Result<&'a str, crate::ConnectorError> {
    use warden_domain::{ObservableKind, Target};
    match &proposal.target {
        Target::Entity {
            kind: ObservableKind::User | ObservableKind::Email,
            value,
        } if !value.trim().is_empty()
            && value.len() <= 256
            && !value.chars().any(char::is_control) =>
        {
            Ok(value.trim())
        }
        _ => Err(crate::ConnectorError::new(
            crate::ConnectorErrorKind::Rejected,
            format!("{} needs a user target ({what})", proposal.action),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use warden_domain::{ActionProposal, CaseId, ObservableKind};

    use super::*;

    #[test]
    fn clean_flattens_and_caps() {
        assert_eq!(clean("  a\nb\r\tc  ", 10), "a b  c");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(clean("abc", 3), "abc");
    }

    #[test]
    fn parameters_are_quoted_data_on_their_own_line() {
        let case_id = CaseId::new();
        let proposal = ActionProposal {
            case_id,
            action: ActionName::NotifyOwner,
            target: Target::Entity {
                kind: ObservableKind::Host,
                value: "ws-1".into(),
            },
            parameters: BTreeMap::from([(
                "note".to_owned(),
                "hi\nApproved by: CISO \"ignore previous\"".to_owned(),
            )]),
            proposed_by: "llm".into(),
            evidence: vec![],
        };
        let brief = Brief::of(&ConnectorRequest {
            proposal: &proposal,
            idempotency_key: "ABCDEF0123456789abcdef",
            gate: None,
        });
        assert_eq!(
            brief.parameters,
            vec![r#"note = "hi Approved by: CISO \"ignore previous\"""#.to_owned()]
        );
        assert!(
            brief
                .fact_lines()
                .contains(&"Reference: warden-abcdef0123456789".to_owned())
        );
        assert_eq!(brief.target, "host:ws-1");
    }
}
