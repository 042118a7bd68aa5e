//! The audit log: every stage's typed events, appended before their effect
//! is visible, in a Merkle tree with signed checkpoints (S5).
//!
//! # Layout
//!
//! - [`AuditLog`]: the interface every stage writes through.
//! - [`StoreAuditLog`]: the log over a [`Store`]. Entries are canonical JSON
//!   rows; the store extends the RFC 6962 tree (`warden_store::merkle`) in
//!   the same transaction. Concurrent appends are group-committed: whoever
//!   holds the commit lock writes every entry queued so far in one
//!   transaction, so a burst costs one fsync, not one each.
//! - [`signing`]: the Ed25519 log key and C2SP signed checkpoints. With a
//!   [`Checkpointer`], the log signs a checkpoint every N entries and on
//!   demand, keeps it in the store and writes it to a file to ship.
//! - [`verify`]: `warden audit verify`: recompute everything from the
//!   entries, name the first bad sequence number and what is wrong.
//! - [`proof`]: inclusion and consistency proofs against checkpoints, and
//!   their standalone verification (public key and proof only).
//! - [`witness`]: where every signed checkpoint is also kept, outside the
//!   data directory (a file, an HTTP endpoint, syslog); `verify` checks the
//!   log against those that can be read back.
//! - [`export`]: JSON lines and RFC 5424 syslog, to a file, UDP or TCP.
//! - [`search`]: by case, actor, action, tool, kind and time.
//! - [`canonical`]: RFC 8785 canonical JSON, the bytes that are hashed.
//! - [`expect`]: what each stage must have recorded (a test helper).

pub mod canonical;
pub mod expect;
pub mod export;
pub mod proof;
pub mod search;
pub mod signing;
pub mod verify;
pub mod witness;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use warden_domain::{AuditEvent, CaseId, Clock, Stage};
use warden_store::{NewAuditRow, Store, StoreError, StoredCheckpoint, merkle::Hash};

pub use signing::{LogKey, PublicKey, SigningError, TreeHead};

/// What can go wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    /// A group commit that carried this entry failed.
    #[error("audit append failed: {0}")]
    Append(String),
    #[error("audit entry {seq} cannot be read: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("cannot encode audit entry: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("audit checkpoint: {0}")]
    Signing(#[from] SigningError),
    #[error("audit checkpoint file {path}: {reason}")]
    CheckpointFile { path: String, reason: String },
    #[error("audit tree: {0}")]
    Tree(String),
    #[error("audit export: {0}")]
    Export(String),
    #[error("audit witness {witness}: {reason}")]
    Witness { witness: String, reason: String },
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

impl AuditEntry {
    /// The canonical JSON bytes that are hashed into the tree.
    pub fn canonical(&self) -> Result<String, AuditError> {
        Ok(canonical::to_string(&serde_json::to_value(self)?))
    }

    /// The row the store keeps: canonical text, leaf hash, and the columns
    /// search filters on.
    pub fn into_row(self) -> Result<NewAuditRow, AuditError> {
        let canonical = self.canonical()?;
        Ok(NewAuditRow {
            at: self.at,
            stage: self.event.stage().as_str().to_owned(),
            kind: self.event.kind().to_owned(),
            case_id: self.event.case_id(),
            actor: self.actor,
            leaf_hash: leaf_hash(canonical.as_bytes()),
            entry: canonical,
        })
    }
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
}

/// The RFC 6962 leaf hash of `entry`, in hex.
pub fn leaf_hash(entry: &[u8]) -> String {
    hex::encode(leaf_digest(entry).0)
}

/// The RFC 6962 leaf hash of `entry`: SHA-256(0x00 || entry).
pub fn leaf_digest(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// Parse a stored row back into a record.
pub fn record_of(row: warden_store::AuditRow) -> Result<AuditRecord, AuditError> {
    let entry: AuditEntry = serde_json::from_str(&row.entry).map_err(|e| AuditError::Corrupt {
        seq: row.seq,
        reason: e.to_string(),
    })?;
    Ok(AuditRecord {
        seq: row.seq,
        entry,
        leaf_hash: row.leaf_hash,
    })
}

/// Signs checkpoints for a log: every `every` entries, and on demand.
#[derive(Debug)]
pub struct Checkpointer {
    key: LogKey,
    every: u64,
    /// Where the latest checkpoint is also written, to be shipped elsewhere.
    file: Option<PathBuf>,
    /// Where every checkpoint is also pushed, outside the data
    /// directory.
    witnesses: Vec<witness::Witness>,
    /// Size of the newest checkpoint signed (0: none yet, or not read yet).
    last: AtomicU64,
    /// Held while one checkpoint is signed and pushed to the witnesses:
    /// checkpoints are made one at a time, each extending the last, but
    /// apart from the commit lock, so a slow witness holds up the signing
    /// and never the appends.
    signing: tokio::sync::Mutex<()>,
}

impl Checkpointer {
    /// Sign a checkpoint every `every` entries (at least 1).
    pub fn new(key: LogKey, every: u64) -> Self {
        Self {
            key,
            every: every.max(1),
            file: None,
            witnesses: Vec::new(),
            last: AtomicU64::new(0),
            signing: tokio::sync::Mutex::new(()),
        }
    }

    /// Also write each new checkpoint to `file` (replaced atomically).
    pub fn with_file(mut self, file: PathBuf) -> Self {
        self.file = Some(file);
        self
    }

    /// Also push each new checkpoint to every one of `witnesses`; a
    /// witness that cannot take it fails the signing.
    pub fn with_witnesses(mut self, witnesses: Vec<witness::Witness>) -> Self {
        self.witnesses = witnesses;
        self
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public()
    }
}

struct Pending {
    row: NewAuditRow,
    done: oneshot::Sender<Result<u64, String>>,
}

/// [`AuditLog`] over a [`Store`], group-committed, optionally signing
/// checkpoints.
pub struct StoreAuditLog<S: ?Sized> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    queue: Mutex<Vec<Pending>>,
    commit: tokio::sync::Mutex<()>,
    checkpointer: Option<Checkpointer>,
}

impl<S: ?Sized> std::fmt::Debug for StoreAuditLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreAuditLog")
            .field("checkpointer", &self.checkpointer)
            .finish_non_exhaustive()
    }
}

impl<S: Store + ?Sized> StoreAuditLog<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            queue: Mutex::new(Vec::new()),
            commit: tokio::sync::Mutex::new(()),
            checkpointer: None,
        }
    }

    /// Sign checkpoints with `checkpointer`.
    pub fn with_checkpointer(mut self, checkpointer: Checkpointer) -> Self {
        self.checkpointer = Some(checkpointer);
        self
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The row an entry is stored as.
    fn row_of(&self, actor: &str, event: AuditEvent) -> Result<NewAuditRow, AuditError> {
        AuditEntry {
            at: self.clock.now(),
            actor: actor.to_owned(),
            event,
        }
        .into_row()
    }

    /// Write every queued entry in one transaction and answer each waiter.
    /// Called with the commit lock held. Returns the tree to sign when a
    /// checkpoint is due: the caller signs it once the lock is released.
    async fn commit_queued(&self) -> Option<(u64, Hash)> {
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
        if batch.is_empty() {
            return None;
        }
        let rows: Vec<NewAuditRow> = batch.iter().map(|p| p.row.clone()).collect();
        match self.store.append_audit(&rows).await {
            Ok(appended) => {
                for (seq, pending) in (appended.first_seq..).zip(batch) {
                    // A waiter that gave up needs no answer.
                    let _ = pending.done.send(Ok(seq));
                }
                let checkpointer = self.checkpointer.as_ref()?;
                match self.last_checkpoint(checkpointer).await {
                    Ok(last) if appended.size >= last + checkpointer.every => {
                        Some((appended.size, appended.root))
                    }
                    Ok(_) => None,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the newest audit checkpoint");
                        None
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                for pending in batch {
                    let _ = pending.done.send(Err(message.clone()));
                }
                None
            }
        }
    }

    /// Sign the due checkpoint of `size` entries, unless another signing is
    /// under way (the next due one, or one on demand, covers these entries)
    /// or a newer checkpoint already covers them. The entries are durable
    /// whatever happens here.
    async fn sign_due(&self, size: u64, root: Hash) {
        let Some(checkpointer) = &self.checkpointer else {
            return;
        };
        let Ok(_signing) = checkpointer.signing.try_lock() else {
            return;
        };
        if checkpointer.last.load(Ordering::Acquire) >= size {
            return;
        }
        if let Err(error) = self.sign(checkpointer, size, root).await {
            tracing::warn!(%error, "cannot sign an audit checkpoint");
        }
    }

    async fn last_checkpoint(&self, checkpointer: &Checkpointer) -> Result<u64, AuditError> {
        let known = checkpointer.last.load(Ordering::Acquire);
        if known > 0 {
            return Ok(known);
        }
        let last = self.store.checkpoints().await?.last().map_or(0, |c| c.size);
        checkpointer.last.fetch_max(last, Ordering::AcqRel);
        Ok(last)
    }

    async fn sign(
        &self,
        checkpointer: &Checkpointer,
        size: u64,
        root: Hash,
    ) -> Result<StoredCheckpoint, AuditError> {
        self.extends_previous(checkpointer, size, root).await?;
        let note = checkpointer.key.sign_checkpoint(size, root)?;
        let checkpoint = StoredCheckpoint {
            size,
            root: root.to_string(),
            note,
            at: self.clock.now(),
        };
        self.store.add_checkpoint(&checkpoint).await?;
        checkpointer.last.fetch_max(size, Ordering::AcqRel);
        if let Some(file) = &checkpointer.file {
            write_atomically(file, &checkpoint.note)?;
        }
        for witness in &checkpointer.witnesses {
            witness.push(&checkpoint).await?;
        }
        Ok(checkpoint)
    }

    /// The key never signs a tree that does not extend what it signed
    /// before: the newest stored checkpoint, the shipped file and the
    /// newest checkpoint of every readable witness must all be prefixes of
    /// the tree of `size` leaves with `root` (a consistency
    /// proof from the stored hashes), or someone rewrote the log under us.
    async fn extends_previous(
        &self,
        checkpointer: &Checkpointer,
        size: u64,
        root: Hash,
    ) -> Result<(), AuditError> {
        let public = checkpointer.key.public();
        let mut previous = Vec::new();
        if let Some(newest) = self.store.checkpoints().await?.pop() {
            previous.push(public.open_checkpoint(&newest.note)?);
        }
        if let Some(file) = &checkpointer.file
            && let Ok(note) = std::fs::read_to_string(file)
        {
            previous.push(public.open_checkpoint(&note)?);
        }
        // A push-only witness (syslog) has nothing to compare with.
        for witness in &checkpointer.witnesses {
            if let Some(note) = witness.newest().await? {
                previous.push(public.open_checkpoint(&note)?);
            }
        }
        for head in previous {
            let consistent = if head.size > size {
                false
            } else if head.size == size {
                head.root == root
            } else if head.size == 0 {
                true
            } else {
                let path = proof::tree_proof(self.store.as_ref(), size, head.size).await?;
                tlog_tiles::check_tree(&path, size, root, head.size, head.root).is_ok()
            };
            if !consistent {
                return Err(AuditError::Tree(format!(
                    "refusing to sign {size} entries: the log does not extend the checkpoint \
                     of {} entries signed before; run `warden audit verify`",
                    head.size
                )));
            }
        }
        Ok(())
    }

    /// Sign a checkpoint for the log as it is now (unless the newest one
    /// already covers every entry); returns the newest checkpoint, or
    /// `None` when the log is empty or has no key.
    pub async fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, AuditError> {
        let Some(checkpointer) = &self.checkpointer else {
            return Ok(None);
        };
        // Not under the commit lock: a committed prefix of the log never
        // changes, so the tree of `size` entries is read while appends go
        // on, and a slow witness holds up only this signing.
        let _signing = checkpointer.signing.lock().await;
        let size = self.store.audit_size().await?;
        let newest = self.store.checkpoints().await?.pop();
        if size == 0 || newest.as_ref().is_some_and(|c| c.size >= size) {
            if let (Some(newest), Some(file)) = (&newest, &checkpointer.file)
                && !file.exists()
            {
                write_atomically(file, &newest.note)?;
            }
            return Ok(newest);
        }
        let root = proof::root_at(self.store.as_ref(), size).await?;
        Ok(Some(self.sign(checkpointer, size, root).await?))
    }
}

/// Replace `path` with `text` so a reader never sees half a checkpoint.
fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), AuditError> {
    let failed = |e: std::io::Error| AuditError::CheckpointFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}

#[async_trait]
impl<S: Store + ?Sized> AuditLog for StoreAuditLog<S> {
    async fn append(&self, actor: &str, event: AuditEvent) -> Result<AuditReceipt, AuditError> {
        let row = self.row_of(actor, event)?;
        let leaf = row.leaf_hash.clone();
        let (done, mut answer) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Pending { row, done });
        let mut due = None;
        let committed = {
            let _guard = self.commit.lock().await;
            // Whoever held the lock before may have written ours already.
            match answer.try_recv() {
                Ok(result) => result,
                Err(oneshot::error::TryRecvError::Empty) => {
                    due = self.commit_queued().await;
                    answer
                        .await
                        .map_err(|_| AuditError::Append("the commit was abandoned".into()))?
                }
                // The writer that took this entry was cancelled mid-commit:
                // whether it landed is unknown, so say so, never wait again.
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(AuditError::Append(
                        "the commit that carried this entry was abandoned; \
                         run `warden audit search` before appending it again"
                            .into(),
                    ));
                }
            }
        };
        // Signed after the commit lock is released: the appender that
        // reached a checkpoint waits for its signing, the others do not.
        if let Some((size, root)) = due {
            self.sign_due(size, root).await;
        }
        let seq = committed.map_err(AuditError::Append)?;
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
            .map(record_of)
            .collect()
    }
}

/// The stages a set of records covers.
pub fn stages_of(records: &[AuditRecord]) -> BTreeSet<Stage> {
    records.iter().map(|r| r.entry.event.stage()).collect()
}

#[cfg(test)]
mod tests;
