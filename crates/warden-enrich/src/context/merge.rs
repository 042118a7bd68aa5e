//! A validation case's context merged over its set's (`spec/validation-set.md`).
//!
//! Per source:
//!
//! | case | set | merged |
//! |---|---|---|
//! | ready | ready | ready: case records first, then the set's; KEV: union, case entries win |
//! | ready | absent | the case's, labelled `(case)` |
//! | absent | ready | the set's, labelled `(set)` |
//! | broken | any | broken, with the case's reason |
//! | ready or absent | broken | broken, with the set's reason |
//! | absent | absent | absent, with the case's reason |
//!
//! A broken part makes the merged source broken rather than leaving the
//! other part to stand alone: the whole-file rule of the CSV files applies
//! to the merge too. A host that only the case's broken file lists would
//! otherwise look like a host missing from the inventory.
//!
//! A source configured in either part is configured in the merge: a set
//! that has `stix/` makes STIX a source of every case, and a case whose own
//! folder lacks it still consults the set's.

use std::collections::HashMap;

use super::load::Loaded;
use super::{Context, KevEntry, Source, SourceKind};

/// Who a part of a merged source came from, as labels and reasons say it.
const CASE: &str = "case";
const SET: &str = "set";

pub(super) fn merged_over(case: Context, base: &Context) -> Context {
    let mut notes: Vec<String> = Vec::new();
    for note in prefixed(CASE, &case.problems()).chain(prefixed(SET, &base.problems())) {
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    let stix_skipped = prefixed(CASE, &case.stix_skipped)
        .chain(prefixed(SET, &base.stix_skipped))
        .collect();
    Context {
        assets: merge(SourceKind::Assets, case.assets, &base.assets, concat),
        identities: merge(
            SourceKind::Identities,
            case.identities,
            &base.identities,
            concat,
        ),
        vulnerabilities: merge(
            SourceKind::Vulnerabilities,
            case.vulnerabilities,
            &base.vulnerabilities,
            concat,
        ),
        intel: merge(SourceKind::Intel, case.intel, &base.intel, concat),
        history: merge(SourceKind::History, case.history, &base.history, concat),
        kev: merge(SourceKind::Kev, case.kev, &base.kev, union),
        stix: merge(SourceKind::Stix, case.stix, &base.stix, concat),
        incidents: merge(
            SourceKind::Incidents,
            case.incidents,
            &base.incidents,
            concat,
        ),
        stix_skipped,
        notes,
        configured: case.configured.union(&base.configured).copied().collect(),
        identity_domains: case
            .identity_domains
            .union(&base.identity_domains)
            .cloned()
            .collect(),
    }
}

fn prefixed<'a>(who: &'a str, lines: &'a [String]) -> impl Iterator<Item = String> + 'a {
    lines.iter().map(move |line| format!("{who}: {line}"))
}

fn concat<T: Clone>(case: Vec<T>, base: &[T]) -> Vec<T> {
    let mut all = case;
    all.extend_from_slice(base);
    all
}

fn union(
    case: HashMap<String, KevEntry>,
    base: &HashMap<String, KevEntry>,
) -> HashMap<String, KevEntry> {
    let mut all = base.clone();
    all.extend(case);
    all
}

fn merge<T, B>(
    kind: SourceKind,
    case: Loaded<T>,
    base: &Loaded<T>,
    combine: impl FnOnce(T, &B) -> T,
) -> Loaded<T>
where
    T: Clone + std::borrow::Borrow<B>,
    B: ?Sized,
{
    match (case, base) {
        (Loaded::Broken(source, reason), _) => {
            Loaded::Broken(labelled(source, kind, CASE), format!("{CASE}: {reason}"))
        }
        (_, Loaded::Broken(source, reason)) => Loaded::Broken(
            labelled(source.clone(), kind, SET),
            format!("{SET}: {reason}"),
        ),
        (Loaded::Ready(case_source, case_value), Loaded::Ready(base_source, base_value)) => {
            // The part that turns stale first (the older one, as both share
            // the configured limit) stands for the whole.
            let source = if stales_first(&case_source, base_source) {
                case_source
            } else {
                base_source.clone()
            };
            Loaded::Ready(
                labelled(source, kind, "case+set"),
                combine(case_value, base_value.borrow()),
            )
        }
        (Loaded::Ready(source, value), Loaded::Absent(..)) => {
            Loaded::Ready(labelled(source, kind, CASE), value)
        }
        (Loaded::Absent(..), Loaded::Ready(source, value)) => {
            Loaded::Ready(labelled(source.clone(), kind, SET), value.clone())
        }
        (Loaded::Absent(source, reason), Loaded::Absent(..)) => Loaded::Absent(source, reason),
    }
}

fn labelled(source: Source, kind: SourceKind, who: &str) -> Source {
    Source {
        label: format!("{} ({who})", kind.label()),
        ..source
    }
}

fn stales_first(a: &Source, b: &Source) -> bool {
    match (a.stale_after(), b.stale_after()) {
        (Some(a), Some(b)) => a <= b,
        (Some(_), None) | (None, None) => true,
        (None, Some(_)) => false,
    }
}
