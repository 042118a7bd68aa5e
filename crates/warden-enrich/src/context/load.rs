//! Reading a context folder: each source becomes ready, absent or broken.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::time::SystemTime;

use time::OffsetDateTime;

use super::records::{self, IntelRecord};
use super::{Context, ContextConfig, ContextError, Source, SourceKind, freshness, stix};

/// One source after loading.
#[derive(Debug, Clone)]
pub(super) enum Loaded<T> {
    Ready(Source, T),
    /// Not there (or no folder given). A gap when needed, not a problem.
    Absent(Source, String),
    /// There but unusable as a whole. A gap when needed, and a problem.
    Broken(Source, String),
}

impl<T> Loaded<T> {
    pub(super) fn get(&self) -> Result<(&Source, &T), String> {
        match self {
            Loaded::Ready(source, value) => Ok((source, value)),
            Loaded::Absent(_, reason) | Loaded::Broken(_, reason) => Err(reason.clone()),
        }
    }

    pub(super) fn source(&self) -> &Source {
        match self {
            Loaded::Ready(source, _) | Loaded::Absent(source, _) | Loaded::Broken(source, _) => {
                source
            }
        }
    }

    /// Whether the file (or folder) is there, usable or not.
    pub(super) fn present(&self) -> bool {
        matches!(self, Loaded::Ready(..) | Loaded::Broken(..))
    }

    pub(super) fn broken(&self) -> Option<&str> {
        match self {
            Loaded::Broken(_, reason) => Some(reason),
            Loaded::Ready(..) | Loaded::Absent(..) => None,
        }
    }
}

fn source(kind: SourceKind, config: &ContextConfig, as_of: Option<OffsetDateTime>) -> Source {
    Source {
        label: kind.label(),
        as_of,
        max_age: time::Duration::days(kind.max_age_days(config)),
    }
}

pub(super) fn absent<T>(kind: SourceKind, config: &ContextConfig, reason: &str) -> Loaded<T> {
    Loaded::Absent(source(kind, config, None), reason.to_owned())
}

pub(super) fn load(
    dir: &Path,
    config: &ContextConfig,
    now: OffsetDateTime,
) -> Result<Context, ContextError> {
    fs::read_dir(dir).map_err(|source| ContextError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let (as_of, notes) = match freshness::read(dir) {
        Ok(as_of) => (as_of, Vec::new()),
        Err(problem) => (HashMap::new(), vec![problem]),
    };
    let files = Files {
        dir,
        config,
        as_of: &as_of,
    };
    let (stix, stix_skipped) = files.stix(now);
    let mut context = Context {
        assets: files.csv(SourceKind::Assets, records::parse_assets),
        identities: files.csv(SourceKind::Identities, records::parse_identities),
        vulnerabilities: files.csv(SourceKind::Vulnerabilities, records::parse_vulnerabilities),
        intel: files.csv(SourceKind::Intel, records::parse_intel),
        history: files.csv(SourceKind::History, records::parse_history),
        kev: files.csv(SourceKind::Kev, records::parse_kev),
        stix,
        incidents: files.csv(SourceKind::Incidents, records::parse_incidents),
        stix_skipped,
        notes,
        configured: BTreeSet::new(),
        identity_domains: super::identity_domains(config),
    };
    // `[context] sources` when set; otherwise what the folder holds (a
    // broken file is there, so it is configured and its reason a gap).
    context.configured = match &config.sources {
        Some(sources) => sources.iter().copied().collect(),
        None => SourceKind::ALL
            .into_iter()
            .filter(|kind| context.present(*kind))
            .collect(),
    };
    Ok(context)
}

struct Files<'a> {
    dir: &'a Path,
    config: &'a ContextConfig,
    /// As-of times from `freshness.toml`, which win over modification times.
    as_of: &'a HashMap<SourceKind, OffsetDateTime>,
}

impl Files<'_> {
    fn source(&self, kind: SourceKind, modified: Option<SystemTime>) -> Source {
        let as_of = self
            .as_of
            .get(&kind)
            .copied()
            .or(modified.map(OffsetDateTime::from));
        source(kind, self.config, as_of)
    }

    /// One file (a CSV file, or `kev.json`), parsed whole.
    fn csv<T>(&self, kind: SourceKind, parse: fn(&[u8]) -> Result<T, String>) -> Loaded<T> {
        let path = self.dir.join(kind.file_name());
        let label = kind.label();
        let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
        let source = self.source(kind, modified);
        match fs::read(&path) {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                Loaded::Absent(source, format!("{label} not present"))
            }
            Err(err) => Loaded::Broken(source, format!("{label} cannot be read: {err}")),
            Ok(bytes) => match parse(&bytes) {
                Ok(value) => Loaded::Ready(source, value),
                Err(reason) => Loaded::Broken(source, format!("{label}: {reason}")),
            },
        }
    }

    /// The `stix/` folder: every `*.json` file in it (not in subfolders),
    /// in file-name order. One malformed bundle makes the whole source
    /// unusable, like a bad CSV row. The as-of time is the newest file's
    /// modification time (the folder's own when it holds no bundle).
    fn stix(&self, now: OffsetDateTime) -> (Loaded<Vec<IntelRecord>>, Vec<String>) {
        let kind = SourceKind::Stix;
        let label = kind.label();
        let folder = self.dir.join("stix");
        let folder_modified = fs::metadata(&folder).and_then(|m| m.modified()).ok();
        let entries = match fs::read_dir(&folder) {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                let source = self.source(kind, None);
                return (
                    Loaded::Absent(source, format!("{label} not present")),
                    Vec::new(),
                );
            }
            Err(err) => {
                let source = self.source(kind, folder_modified);
                return (
                    Loaded::Broken(source, format!("{label} cannot be read: {err}")),
                    Vec::new(),
                );
            }
            Ok(entries) => entries,
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let source = self.source(kind, folder_modified);
                    return (
                        Loaded::Broken(source, format!("{label} cannot be read: {err}")),
                        Vec::new(),
                    );
                }
            };
            let path = entry.path();
            let is_json = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
            if is_json && path.is_file() {
                files.push(path);
            }
        }
        files.sort();

        let mut newest: Option<SystemTime> = None;
        let mut records = Vec::new();
        let mut skipped = Vec::new();
        let mut broken = None;
        for path in &files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let file_label = format!("{label}{name}");
            if let Ok(modified) = fs::metadata(path).and_then(|m| m.modified()) {
                newest = newest.max(Some(modified));
            }
            if broken.is_some() {
                continue;
            }
            match fs::read(path) {
                Err(err) => broken = Some(format!("{file_label} cannot be read: {err}")),
                Ok(bytes) => match stix::parse_bundle(&bytes, &name, now) {
                    Err(reason) => broken = Some(format!("{file_label}: {reason}")),
                    Ok(bundle) => {
                        records.extend(bundle.records);
                        skipped.extend(
                            bundle
                                .skipped
                                .into_iter()
                                .map(|why| format!("{file_label}: {why}")),
                        );
                    }
                },
            }
        }
        let source = self.source(kind, newest.or(folder_modified));
        match broken {
            Some(reason) => (Loaded::Broken(source, reason), Vec::new()),
            None => (Loaded::Ready(source, records), skipped),
        }
    }
}
