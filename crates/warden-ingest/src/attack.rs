//! MITRE ATT&CK technique names and tactics.
//!
//! Vendors send technique ids with or without names, and tactics in their
//! own spelling (`Credential Access`, `credential-access`, `TA0006`). With a
//! catalogue loaded (the compact Enterprise table of `../shared/data`, or any
//! file of the same shape: `{tactics: [{tactic_id, name, shortname}],
//! techniques: [{technique_id, name, tactics: [shortname]}]}`), every
//! technique gets its ATT&CK name and tactic names, and the vendor's tactic
//! spellings are mapped to the same names. Unknown or revoked ids are kept as
//! the vendor sent them.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use warden_domain::Alert;

#[derive(Debug, Deserialize)]
struct CatalogueFile {
    tactics: Vec<TacticRow>,
    techniques: Vec<TechniqueRow>,
}

#[derive(Debug, Deserialize)]
struct TacticRow {
    tactic_id: String,
    name: String,
    shortname: String,
}

#[derive(Debug, Deserialize)]
struct TechniqueRow {
    technique_id: String,
    name: String,
    tactics: Vec<String>,
}

/// Technique names and tactics by id.
#[derive(Debug, Clone, Default)]
pub struct AttackCatalogue {
    /// `T1003.001` -> (`LSASS Memory`, [`Credential Access`]).
    techniques: HashMap<String, (String, Vec<String>)>,
    /// Any spelling of a tactic (id, short name, name; lower case) -> name.
    tactics: HashMap<String, String>,
}

impl AttackCatalogue {
    /// Load a catalogue file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: CatalogueFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not an ATT&CK technique table: {e}", path.display()))?;
        let mut tactics = HashMap::new();
        for tactic in &file.tactics {
            for spelling in [&tactic.tactic_id, &tactic.shortname, &tactic.name] {
                tactics.insert(spelling.to_lowercase(), tactic.name.clone());
            }
            // Sigma and some vendors write snake case or no separator.
            tactics.insert(tactic.shortname.replace('-', "_"), tactic.name.clone());
        }
        let techniques = file
            .techniques
            .into_iter()
            .map(|t| {
                let names = t
                    .tactics
                    .iter()
                    .map(|s| {
                        tactics
                            .get(&s.to_lowercase())
                            .cloned()
                            .unwrap_or_else(|| s.clone())
                    })
                    .collect();
                (t.technique_id.to_ascii_uppercase(), (t.name, names))
            })
            .collect();
        Ok(Self {
            techniques,
            tactics,
        })
    }

    /// Number of techniques known.
    pub fn len(&self) -> usize {
        self.techniques.len()
    }

    pub fn is_empty(&self) -> bool {
        self.techniques.is_empty()
    }

    /// Fill in names and tactics of `alert`'s techniques.
    pub fn annotate(&self, alert: &mut Alert) {
        for attack in &mut alert.attacks {
            let mut tactics: Vec<String> = attack
                .tactics
                .iter()
                .map(|t| {
                    self.tactics
                        .get(&t.trim().to_lowercase())
                        .cloned()
                        .unwrap_or_else(|| t.clone())
                })
                .collect();
            if let Some((name, known)) = self.techniques.get(&attack.id) {
                if attack.name.as_deref().is_none_or(str::is_empty) {
                    attack.name = Some(name.clone());
                }
                for tactic in known {
                    if !tactics.contains(tactic) {
                        tactics.push(tactic.clone());
                    }
                }
            }
            let mut seen = std::collections::HashSet::new();
            tactics.retain(|t| seen.insert(t.clone()));
            attack.tactics = tactics;
        }
    }
}
