//! Ingest: vendor payloads in, normalised [`Alert`]s out, then grouped into
//! cases.
//!
//! # Layout
//!
//! - [`reader`]: reads files and folders (`.json` with one alert or an array,
//!   `.jsonl` with one a line), enforcing size and nesting limits; every
//!   record that cannot be read becomes an [`IngestError`] naming the file, the
//!   line and the reason, with the payload kept for the dead-letter store.
//! - [`formats`]: format detection and one folder per vendor format
//!   (`ocsf/`, `ecs/`, `suricata/`, `chainsaw/`, `hayabusa/`, `splunk/`,
//!   `msgraph/`, `falcon/`, `guardduty/`), each turning a JSON payload into
//!   an [`Alert`], and the line formats `cef/` and `leef/`, whose payload is
//!   a JSON string holding the line; `mapped/` does the same for sources
//!   described by a user's mapping file; [`Formats`] holds the built-ins and
//!   the loaded mappings and picks one per payload.
//! - [`syslog`]: a syslog message (RFC 5424 or RFC 3164) split into its
//!   header fields and its CEF or LEEF payload, for the syslog receiver;
//!   `formats::normalise_received` dates a payload that carries no time.
//! - [`extract`]: observables found by pattern in untrusted text; they carry
//!   `Provenance::Text` and can never become action targets on their own.
//! - [`fields`]: tolerant JSON lookups (`a.b.c` matches nested objects and
//!   Elastic's flat dotted keys alike).
//! - [`attack`]: ATT&CK technique names and tactics from a catalogue file.
//! - [`correlate`]: merges duplicates and groups related alerts into case
//!   drafts, recording why.

pub mod attack;
pub mod correlate;
pub mod extract;
pub mod fields;
pub mod formats;
pub mod reader;
pub mod syslog;

pub use attack::AttackCatalogue;
pub use correlate::{CaseDraft, CorrelationConfig, correlate};
pub use formats::{FormatChoice, FormatError, Formats, Mapping, MappingError, detect, normalise};
pub use reader::{
    IngestError, IngestReport, Limits, ReadOptions, parse_record, read_paths, unwrap_envelope,
};

#[doc(no_inline)]
pub use warden_domain::Alert;
