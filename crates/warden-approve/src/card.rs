//! The approval card: what a person reads before deciding. Built by
//! deterministic code from the proposal, the policy decision, the
//! assessment and the evidence it cites; nothing in it is an instruction.

use warden_domain::{
    ActionName, ActionProposal, ApprovalCard, Assessment, CardEvidence, Decision, Evidence,
    Freshness,
};

/// Longest evidence summary or rationale line on a card, in characters.
const MAX_LINE_CHARS: usize = 300;
/// Most evidence items on a card.
const MAX_EVIDENCE: usize = 20;

/// The card for `proposal` under `decision`, asking `required` approvals
/// from `roles`.
pub fn build_card(
    proposal: &ActionProposal,
    decision: &Decision,
    assessment: &Assessment,
    evidence: &[Evidence],
    use_case: &str,
    required: u32,
    roles: &[String],
) -> ApprovalCard {
    let cited: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| proposal.evidence.contains(&e.id))
        .take(MAX_EVIDENCE)
        .collect();
    let rationale = assessment
        .rationale
        .iter()
        .map(|item| {
            let ids: Vec<&str> = item.evidence.iter().map(|id| id.as_str()).collect();
            format!("{} [{}]", clip(&item.text), ids.join(", "))
        })
        .collect();
    ApprovalCard {
        title: format!("{} on {}", proposal.action, proposal.target.label()),
        use_case: use_case.to_owned(),
        verdict: assessment.verdict,
        severity: assessment.severity,
        confidence: assessment.confidence,
        rationale,
        evidence: cited
            .into_iter()
            .map(|e| CardEvidence {
                id: e.id.to_string(),
                source: e.source.clone(),
                summary: clip(&e.summary),
                freshness: match &e.freshness {
                    Freshness::Fresh => "fresh".into(),
                    Freshness::Stale { age_seconds } => {
                        format!("stale ({} h old)", age_seconds / 3600)
                    }
                },
            })
            .collect(),
        side_effects: side_effects(proposal),
        parameters: proposal
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), clip(v)))
            .collect(),
        rollback: rollback(proposal),
        approvals_required: required,
        roles: roles.to_vec(),
        policy_ids: decision.policy_ids.clone(),
    }
}

/// Exactly what changes, and where.
fn side_effects(proposal: &ActionProposal) -> String {
    let target = proposal.target.label();
    let effect = match proposal.action {
        ActionName::CaseNote => {
            "adds a note to this case in Warden; nothing outside Warden changes"
        }
        ActionName::TicketCreate => "opens one ticket in the ticketing system for this case",
        ActionName::NotifyOwner => "sends one message to the owner of the target",
        ActionName::AlertSuppress => {
            "stops alerts with this case's rule and entities from opening new cases"
        }
        ActionName::AlertUnsuppress => {
            "lets alerts with this case's rule and entities open cases again"
        }
        ActionName::EdrIsolateHost => {
            "cuts the host off the network except for the EDR console; its users lose access to everything"
        }
        ActionName::EdrReleaseHost => "gives the host its network access back",
        ActionName::EdrKillProcess => {
            "stops the process on the endpoint; unsaved work in it is lost"
        }
        ActionName::EdrQuarantineFile => {
            "moves the file into EDR quarantine on every endpoint that has it"
        }
        ActionName::EdrRestoreFile => "restores the quarantined file",
        ActionName::IdpRevokeSessions => {
            "signs the account out of every session and device; the user must sign in again"
        }
        ActionName::IdpDisableUser => "disables the account: the user cannot sign in anywhere",
        ActionName::IdpEnableUser => "re-enables the account",
        ActionName::IdpResetMfa => {
            "removes the account's MFA methods; the user must register again"
        }
        ActionName::EmailQuarantine => "pulls the message from every mailbox that received it",
        ActionName::EmailRelease => "returns the message to the mailboxes",
        ActionName::NetBlockIndicator => {
            "blocks all traffic to and from the indicator at the perimeter"
        }
        ActionName::NetUnblockIndicator => "lifts the block on the indicator",
        ActionName::CloudDisableAccessKey => {
            "disables the access key: every program using it stops working"
        }
        ActionName::CloudEnableAccessKey => "re-enables the access key",
    };
    format!("{}: {effect} (target {target})", proposal.action)
}

/// How to undo it, or why it cannot be.
fn rollback(proposal: &ActionProposal) -> String {
    match reverse_of(proposal, None) {
        Some(reverse) => reverse,
        None if !proposal.action.has_side_effect() => "nothing to undo outside Warden".into(),
        None => format!(
            "{} cannot be undone by Warden; its effect ends on its own or by hand",
            proposal.action
        ),
    }
}

/// The catalogue reverse of `proposal` on the same target, with the
/// product's handle when one is known (`edr.release_host on host:ws-1
/// (handle 7f3a)`); `None` when the action has no reverse. The card shows
/// it before approval, the executor records it after acting.
pub fn reverse_of(proposal: &ActionProposal, handle: Option<&str>) -> Option<String> {
    let reverse = proposal.action.reverse()?;
    let target = proposal.target.label();
    Some(match handle {
        Some(handle) => format!("{reverse} on {target} (handle {handle})"),
        None => format!("{reverse} on {target}"),
    })
}

fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_LINE_CHARS).collect();
    if text.chars().count() > MAX_LINE_CHARS {
        out.push('…');
    }
    out
}
