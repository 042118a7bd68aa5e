//! How both backends write values the schema keeps as text: times as
//! RFC 3339 in UTC, domain objects as JSON, case ids as their string form.
//! One definition, so a data directory copied from one backend to the other
//! (`warden migrate`) reads back the same.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warden_domain::CaseId;

use crate::StoreError;

pub(crate) fn ts(at: OffsetDateTime) -> Result<String, StoreError> {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| StoreError::Corrupt {
            what: "timestamp".into(),
            reason: e.to_string(),
        })
}

pub(crate) fn parse_ts(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Corrupt {
        what: format!("timestamp {text:?}"),
        reason: e.to_string(),
    })
}

pub(crate) fn encode<T: serde::Serialize>(
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode { what, source })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

pub(crate) fn parse_case_id(text: &str) -> Result<CaseId, StoreError> {
    CaseId::parse(text).map_err(|e| StoreError::Corrupt {
        what: format!("case id {text:?}"),
        reason: e.to_string(),
    })
}

pub(crate) fn corrupt(what: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt(what, format!("{value} is out of range")))
}

pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what, format!("negative: {value}")))
}

pub(crate) fn hash_of(bytes: &[u8], what: &str) -> Result<crate::merkle::Hash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(crate::merkle::Hash)
        .map_err(|_| corrupt(what, format!("{} bytes, not 32", bytes.len())))
}

/// The leaf hash of a new entry, from its hex column.
pub(crate) fn leaf_of(row: &crate::NewAuditRow) -> Result<crate::merkle::Hash, StoreError> {
    let mut bytes = [0_u8; 32];
    hex::decode_to_slice(&row.leaf_hash, &mut bytes).map_err(|_| StoreError::Corrupt {
        what: "new audit entry".into(),
        reason: format!("leaf hash {:?} is not 64 hex digits", row.leaf_hash),
    })?;
    Ok(crate::merkle::Hash(bytes))
}
