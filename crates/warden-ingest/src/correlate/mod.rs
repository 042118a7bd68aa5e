//! Correlation: exact duplicates merge, related alerts group into one case.
//!
//! - Two alerts with the same fingerprint (format, rule, structured
//!   entities, severity level, title and description; see
//!   `Alert::fingerprint`) are one detection fired twice: the second only
//!   raises the first one's count.
//! - A re-fire of the same detection (same format, rule and structured
//!   entities) that says something else (another severity, another title
//!   or description) is never merged away: it stays its own alert, joins
//!   its first copy's case whatever the time between them, and the case
//!   says so. The case is scored on its worst copy and every description.
//! - Distinct alerts that share a structured entity (host, user, IP, hash,
//!   email, domain, URL, cloud resource) within the time window join the same
//!   case. Entities found only in free text do not link alerts: an attacker
//!   could otherwise merge or split cases by writing names into a message.
//!   Process names are not linking entities either (`powershell.exe` runs
//!   everywhere).
//! - Hub entities do not link: a DNS server, proxy, domain controller or
//!   NAT address appears beside many unrelated entities and would chain
//!   unrelated alerts into one giant case. An entity seen with more than
//!   `hub_peer_limit` distinct other hosts, users, IPs, domains, emails or
//!   cloud resources in the batch is a hub, and so
//!   are placeholders that mean nobody in particular (loopback and
//!   unspecified addresses, `localhost`, `SYSTEM`, `ANONYMOUS LOGON`...).
//!   Cases holding a hub say which one was not used to link.
//!
//! Every case draft records why its alerts are together.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use warden_domain::{Alert, ObservableKind};

/// Correlation settings (`[correlation]` in `warden.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationConfig {
    /// Alerts that share an entity join the same case when they are at most
    /// this many minutes apart.
    pub window_minutes: i64,
    /// An entity that appears beside more than this many distinct other
    /// entities in one batch is a hub (a DNS server, a proxy, a domain
    /// controller) and does not link alerts.
    pub hub_peer_limit: usize,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        Self {
            window_minutes: 60,
            hub_peer_limit: 40,
        }
    }
}

/// Entity values that name nobody in particular: never linking.
fn is_placeholder(kind: ObservableKind, value: &str) -> bool {
    match kind {
        ObservableKind::Ip => value
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified()),
        ObservableKind::Host | ObservableKind::Domain => {
            matches!(value, "localhost" | "localhost.localdomain" | "-")
        }
        ObservableKind::User => {
            // Compare the account part of DOMAIN\user or user@domain.
            let account = value
                .rsplit('\\')
                .next()
                .and_then(|v| v.split('@').next())
                .unwrap_or(value);
            matches!(
                account,
                "system"
                    | "local service"
                    | "network service"
                    | "anonymous logon"
                    | "anonymous"
                    | "n/a"
                    | "unknown"
                    | "root"
            )
        }
        _ => false,
    }
}

/// Why a re-fire of `first`'s detection was kept as its own alert.
fn refire_reason(first: &Alert, refire: &Alert) -> String {
    let mut differences = Vec::new();
    if refire.severity.level != first.severity.level {
        differences.push(format!(
            "severity {} -> {}",
            first.severity.level, refire.severity.level
        ));
    }
    if refire.title != first.title || refire.description != first.description {
        differences.push("different text".to_owned());
    }
    format!(
        "re-fire of \"{}\" kept as its own alert ({})",
        refire.rule.name,
        differences.join(", ")
    )
}

/// Alerts grouped for one case, before the case exists.
#[derive(Debug)]
pub struct CaseDraft {
    /// Distinct alerts, oldest first, each with how many exact duplicates
    /// were merged into it.
    pub alerts: Vec<(Alert, u64)>,
    /// All alerts received, duplicates included.
    pub alert_count: u64,
    /// Why these alerts are together, sorted.
    pub reasons: Vec<String>,
}

const LINKING_KINDS: [ObservableKind; 8] = [
    ObservableKind::Host,
    ObservableKind::User,
    ObservableKind::Ip,
    ObservableKind::FileHash,
    ObservableKind::Email,
    ObservableKind::Domain,
    ObservableKind::Url,
    ObservableKind::CloudResource,
];

/// The kinds counted as an entity's peers when looking for hubs.
const PEER_KINDS: [ObservableKind; 6] = [
    ObservableKind::Host,
    ObservableKind::User,
    ObservableKind::Ip,
    ObservableKind::Email,
    ObservableKind::Domain,
    ObservableKind::CloudResource,
];

/// Group `alerts` into case drafts, oldest case first.
pub fn correlate(mut alerts: Vec<Alert>, config: &CorrelationConfig) -> Vec<CaseDraft> {
    alerts.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.origin.cmp(&b.origin)));

    // 1. Exact duplicates merge; re-fires that say more are kept, each
    // paired with the first copy of its detection.
    let mut unique: Vec<(Alert, u64)> = Vec::new();
    let mut by_fingerprint: HashMap<String, usize> = HashMap::new();
    let mut by_detection: HashMap<String, usize> = HashMap::new();
    let mut refires: Vec<(usize, usize)> = Vec::new();
    for alert in alerts {
        match by_fingerprint.entry(alert.fingerprint()) {
            Entry::Occupied(seen) => {
                if let Some((_, duplicates)) = unique.get_mut(*seen.get()) {
                    *duplicates += 1;
                }
            }
            Entry::Vacant(slot) => {
                let index = unique.len();
                slot.insert(index);
                match by_detection.entry(alert.detection_key()) {
                    Entry::Occupied(first) => refires.push((*first.get(), index)),
                    Entry::Vacant(first) => {
                        first.insert(index);
                    }
                }
                unique.push((alert, 0));
            }
        }
    }

    // 2. Hubs: entities seen beside too many distinct others.
    let linking = |alert: &Alert| -> Vec<(ObservableKind, String)> {
        alert
            .observables
            .iter()
            .filter(|o| o.is_structured() && LINKING_KINDS.contains(&o.kind))
            .map(|o| (o.kind, o.value.clone()))
            .collect()
    };
    let mut peers: HashMap<(ObservableKind, String), BTreeSet<(ObservableKind, String)>> =
        HashMap::new();
    for (alert, _) in &unique {
        let entities = linking(alert);
        for entity in &entities {
            let seen = peers.entry(entity.clone()).or_default();
            // Past the limit the exact count no longer matters.
            // File hashes and URLs say what happened, not who or where: a
            // busy workstation has many, a DNS server does not need them.
            if seen.len() <= config.hub_peer_limit {
                seen.extend(
                    entities
                        .iter()
                        .filter(|e| *e != entity && PEER_KINDS.contains(&e.0))
                        .cloned(),
                );
            }
        }
    }
    // Why an entity is a hub, if it is one.
    let hub_reason = |kind: ObservableKind, value: &str| -> Option<String> {
        if is_placeholder(kind, value) {
            return Some("names nobody in particular".to_owned());
        }
        peers
            .get(&(kind, value.to_owned()))
            .is_some_and(|p| p.len() > config.hub_peer_limit)
            .then(|| format!("seen with over {} other entities", config.hub_peer_limit))
    };

    // 3. Shared entities within the window. Alerts are in time order, so
    // linking each alert to the previous one holding the same entity (when
    // close enough) connects every chain without comparing all pairs.
    let window = time::Duration::minutes(config.window_minutes.max(0));
    let mut groups = UnionFind::new(unique.len());
    let mut last_seen: HashMap<(ObservableKind, &str), usize> = HashMap::new();
    let mut links: Vec<(usize, String)> = Vec::new();
    for (index, (alert, _)) in unique.iter().enumerate() {
        for observable in alert
            .observables
            .iter()
            .filter(|o| o.is_structured() && LINKING_KINDS.contains(&o.kind))
        {
            if let Some(why) = hub_reason(observable.kind, &observable.value) {
                links.push((
                    index,
                    format!(
                        "not linked on hub {} {} ({why})",
                        observable.kind, observable.value
                    ),
                ));
                continue;
            }
            let key = (observable.kind, observable.value.as_str());
            if let Some(&previous) = last_seen.get(&key)
                && let Some((earlier, _)) = unique.get(previous)
                && alert.time - earlier.time <= window
            {
                groups.union(previous, index);
                links.push((
                    index,
                    format!("shared {} {}", observable.kind, observable.value),
                ));
            }
            last_seen.insert(key, index);
        }
    }
    // A re-fire stays with its first copy, as a merged duplicate would,
    // whatever the window and even without a linking entity.
    for &(first, refire) in &refires {
        let (Some((earlier, _)), Some((later, _))) = (unique.get(first), unique.get(refire)) else {
            continue;
        };
        groups.union(first, refire);
        links.push((refire, refire_reason(earlier, later)));
    }

    // 4. Build drafts with their reasons.
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for index in 0..unique.len() {
        members.entry(groups.find(index)).or_default().push(index);
    }
    let mut reasons_by_root: HashMap<usize, BTreeSet<String>> = HashMap::new();
    for (index, reason) in links {
        reasons_by_root
            .entry(groups.find(index))
            .or_default()
            .insert(reason);
    }
    let mut slots: Vec<Option<(Alert, u64)>> = unique.into_iter().map(Some).collect();
    let mut drafts: Vec<CaseDraft> = members
        .into_iter()
        .map(|(root, indices)| {
            let alerts: Vec<(Alert, u64)> = indices
                .iter()
                .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
                .collect();
            let mut reasons = reasons_by_root.remove(&root).unwrap_or_default();
            let duplicates: u64 = alerts.iter().map(|(_, d)| d).sum();
            if duplicates > 0 {
                reasons.insert(format!(
                    "{duplicates} exact duplicate alert{} merged (same fingerprint)",
                    if duplicates == 1 { "" } else { "s" }
                ));
            }
            let mut rule_counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (alert, _) in &alerts {
                *rule_counts.entry(alert.rule.name.as_str()).or_default() += 1;
            }
            for (rule, count) in rule_counts.into_iter().filter(|(_, c)| *c > 1) {
                reasons.insert(format!("same rule \"{rule}\" ({count} alerts)"));
            }
            if alerts.len() == 1 && reasons.iter().all(|r| r.starts_with("not linked")) {
                reasons.insert("single alert".into());
            }
            let alert_count = alerts.iter().map(|(_, d)| d + 1).sum();
            CaseDraft {
                alerts,
                alert_count,
                reasons: reasons.into_iter().collect(),
            }
        })
        .collect();
    drafts.sort_by(|a, b| {
        let first = |d: &CaseDraft| d.alerts.first().map(|(a, _)| a.time);
        first(a).cmp(&first(b))
    });
    drafts
}

/// Disjoint sets over alert indices.
#[derive(Debug)]
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(size: usize) -> Self {
        Self {
            parent: (0..size).collect(),
        }
    }

    fn find(&mut self, mut index: usize) -> usize {
        while let Some(&parent) = self.parent.get(index) {
            if parent == index {
                break;
            }
            // Path halving keeps chains short.
            let grandparent = self.parent.get(parent).copied().unwrap_or(parent);
            if let Some(slot) = self.parent.get_mut(index) {
                *slot = grandparent;
            }
            index = grandparent;
        }
        index
    }

    fn union(&mut self, a: usize, b: usize) {
        let (root_a, root_b) = (self.find(a), self.find(b));
        if root_a != root_b
            && let Some(slot) = self.parent.get_mut(root_a.max(root_b))
        {
            // The older alert's root wins, so a case keeps its first alert.
            *slot = root_a.min(root_b);
        }
    }
}

#[cfg(test)]
mod tests;
