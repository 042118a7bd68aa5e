//! The audit log: every stage's typed events, appended before their effect
//! is visible (S5).
//!
//! # Layout
//!
//! - [`AuditLog`]: the interface every stage writes through. The
//!   tamper-evident implementation (a Merkle tree over the same leaves, with
//!   signed checkpoints) implements this same trait.
//! - [`StoreAuditLog`]: entries as canonical JSON in the store's append-only
//!   `audit_log` table, each with its RFC 6962 leaf hash
//!   (`SHA-256(0x00 || entry)`), so the Merkle tree can be built over the
//!   rows already written.
//! - [`canonical`]: the canonical JSON form entries are hashed in.
//! - [`stages_of`]: which stages a set of entries covers (tests check that
//!   every stage a case went through left its record).

pub mod canonical;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use warden_domain::{AuditEvent, CaseId, Clock, Stage};
use warden_store::{NewAuditRow, Store, StoreError};

/// What can go wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    #[error("audit entry {seq} cannot be read: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("cannot encode audit entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One audit entry: who, when, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `system:pipeline`, `agent:<use case>`, `person:<name>`, ...
    pub actor: String,
    pub event: AuditEvent,
}

/// A stored entry with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: u64,
    pub entry: AuditEntry,
    /// Hex RFC 6962 leaf hash of the canonical entry.
    pub leaf_hash: String,
}

/// Proof of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReceipt {
    pub seq: u64,
    pub leaf_hash: String,
}

/// An append-only record of what happened.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Append one event; returns once it is durable.
    async fn append(&self, actor: &str, event: AuditEvent) -> Result<AuditReceipt, AuditError>;

    /// Entries in sequence order, all or for one case.
    async fn records(&self, case: Option<CaseId>) -> Result<Vec<AuditRecord>, AuditError>;

    /// The first entry whose stored leaf hash does not match its content,
    /// or `None` when every entry matches. (Leaf level only: the Merkle tree
    /// and signed checkpoints add order and completeness.)
    async fn verify_leaves(&self) -> Result<Option<u64>, AuditError>;
}

/// The RFC 6962 leaf hash of `entry`.
pub fn leaf_hash(entry: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hex::encode(hasher.finalize())
}

/// [`AuditLog`] over a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreAuditLog<S: ?Sized> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
}

impl<S: Store + ?Sized> StoreAuditLog<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[async_trait]
impl<S: Store + ?Sized> AuditLog for StoreAuditLog<S> {
    async fn append(&self, actor: &str, event: AuditEvent) -> Result<AuditReceipt, AuditError> {
        let entry = AuditEntry {
            at: self.clock.now(),
            actor: actor.to_owned(),
            event,
        };
        let canonical = canonical::to_string(&serde_json::to_value(&entry)?);
        let leaf = leaf_hash(canonical.as_bytes());
        let row = NewAuditRow {
            at: entry.at,
            actor: entry.actor.clone(),
            stage: entry.event.stage().as_str().to_owned(),
            kind: entry.event.kind().to_owned(),
            case_id: entry.event.case_id(),
            entry: canonical,
            leaf_hash: leaf.clone(),
        };
        let seq = self.store.append_audit(&row).await?;
        Ok(AuditReceipt {
            seq,
            leaf_hash: leaf,
        })
    }

    async fn records(&self, case: Option<CaseId>) -> Result<Vec<AuditRecord>, AuditError> {
        self.store
            .audit_rows(case)
            .await?
            .into_iter()
            .map(|row| {
                let entry: AuditEntry =
                    serde_json::from_str(&row.entry).map_err(|e| AuditError::Corrupt {
                        seq: row.seq,
                        reason: e.to_string(),
                    })?;
                Ok(AuditRecord {
                    seq: row.seq,
                    entry,
                    leaf_hash: row.leaf_hash,
                })
            })
            .collect()
    }

    async fn verify_leaves(&self) -> Result<Option<u64>, AuditError> {
        for row in self.store.audit_rows(None).await? {
            if leaf_hash(row.entry.as_bytes()) != row.leaf_hash {
                return Ok(Some(row.seq));
            }
        }
        Ok(None)
    }
}

/// The stages a set of records covers.
pub fn stages_of(records: &[AuditRecord]) -> BTreeSet<Stage> {
    records.iter().map(|r| r.entry.event.stage()).collect()
}

#[cfg(test)]
mod tests;
