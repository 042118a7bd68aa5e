//! Where a decided case ends up.

use warden_domain::Disposition;

/// The disposition from the escalation triggers, whether an approval
/// request of the case is pending, and whether any side-effecting action
/// ran:
/// - any trigger: `awaiting_approval` when some action waits for people,
///   else `escalated`;
/// - no trigger but an action waits for people: `awaiting_approval`;
/// - no trigger and a side-effecting action ran: `actioned`;
/// - otherwise `auto_closed`.
pub fn disposition(triggers: usize, waiting: bool, side_effects_ran: bool) -> Disposition {
    match (triggers > 0, waiting, side_effects_ran) {
        (_, true, _) => Disposition::AwaitingApproval,
        (true, false, _) => Disposition::Escalated,
        (false, false, true) => Disposition::Actioned,
        (false, false, false) => Disposition::AutoClosed,
    }
}
