//! Inclusion and consistency proofs against signed checkpoints, and their
//! standalone verification.
//!
//! A proof is a self-contained JSON document: the entry as it was hashed,
//! the RFC 6962 audit path (RFC 9162 section 2.1.3) or consistency path
//! (section 2.1.4) in base64, and the signed checkpoint(s) it leads to. To
//! check one a verifier needs the log's public key and nothing else
//! ([`verify_inclusion`], [`verify_consistency`], `warden audit
//! verify-proof`).

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tlog_tiles::{Hash, HashReader};
use warden_store::{AuditQuery, CaseReader, StoredCheckpoint, merkle::MapReader};

use crate::{AuditEntry, AuditError, PublicKey, SigningError, leaf_digest};

/// `format` of an inclusion proof document.
pub const INCLUSION_FORMAT: &str = "warden-audit-inclusion/v1";
/// `format` of a consistency proof document.
pub const CONSISTENCY_FORMAT: &str = "warden-audit-consistency/v1";

/// Entry `seq` is in the tree the checkpoint signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub format: String,
    pub seq: u64,
    /// The entry exactly as hashed (canonical JSON).
    pub entry: String,
    pub tree_size: u64,
    /// Sibling hashes from the leaf up, base64.
    pub path: Vec<String>,
    /// The C2SP signed checkpoint of `tree_size` entries.
    pub checkpoint: String,
}

/// The tree the old checkpoint signs is a prefix of the new one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub format: String,
    pub old_size: u64,
    pub new_size: u64,
    /// Base64 hashes.
    pub path: Vec<String>,
    pub old_checkpoint: String,
    pub new_checkpoint: String,
}

/// Why a proof does not hold.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("not a Warden audit proof: {0}")]
    Malformed(String),
    #[error(transparent)]
    Checkpoint(#[from] SigningError),
    #[error("the proof is for a tree of {proof} entries, the checkpoint signs {checkpoint}")]
    SizeMismatch { proof: u64, checkpoint: u64 },
    #[error("entry {seq} is outside a tree of {size} entries")]
    OutOfRange { seq: u64, size: u64 },
    #[error("the path does not lead from this entry to the signed root")]
    Inclusion,
    #[error("the trees of {old} and {new} entries are not consistent")]
    Consistency { old: u64, new: u64 },
}

/// What a valid proof establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Proven {
    pub origin: String,
    pub tree_size: u64,
    pub seq: Option<u64>,
    pub entry: Option<AuditEntry>,
}

/// The stored hashes a `tlog_tiles` computation reads: first it only
/// records what is asked for (and fails), then it answers from what was
/// fetched.
#[derive(Debug)]
enum TwoPass<'a> {
    Asking(&'a RefCell<Vec<u64>>),
    Fetched(HashMap<u64, Hash>),
}

impl HashReader for TwoPass<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        match self {
            TwoPass::Asking(asked) => {
                asked.borrow_mut().extend_from_slice(indexes);
                Err(tlog_tiles::Error::IndexesNotInTree)
            }
            TwoPass::Fetched(known) => MapReader(known).read_hashes(indexes),
        }
    }
}

/// Run `compute` over stored hashes: once to learn which it reads, then
/// with those hashes fetched from the store (the store is async, the tree
/// code is not).
async fn with_hashes<S, T>(
    store: &S,
    compute: impl Fn(&TwoPass<'_>) -> Result<T, tlog_tiles::Error>,
) -> Result<T, AuditError>
where
    S: CaseReader + ?Sized,
{
    let asked = RefCell::default();
    if let Ok(value) = compute(&TwoPass::Asking(&asked)) {
        return Ok(value);
    }
    let indexes = asked.into_inner();
    let hashes = store.audit_tree_hashes(&indexes).await?;
    let fetched = TwoPass::Fetched(indexes.into_iter().zip(hashes).collect());
    compute(&fetched).map_err(|e| AuditError::Tree(e.to_string()))
}

/// The root of the log's tree when it had `size` entries.
pub async fn root_at<S: CaseReader + ?Sized>(store: &S, size: u64) -> Result<Hash, AuditError> {
    with_hashes(store, |r| tlog_tiles::tree_hash(size, r)).await
}

fn encode(path: &[Hash]) -> Vec<String> {
    path.iter().map(ToString::to_string).collect()
}

fn decode(path: &[String]) -> Result<Vec<Hash>, ProofError> {
    if path.len() > MAX_PATH {
        return Err(ProofError::Malformed(format!(
            "a path of {} hashes (at most {MAX_PATH})",
            path.len()
        )));
    }
    path.iter()
        .map(|h| Hash::parse_hash(h).map_err(|_| ProofError::Malformed(format!("bad hash {h:?}"))))
        .collect()
}

/// The consistency path from the tree of `old` leaves to the tree of `new`.
pub async fn tree_proof<S: CaseReader + ?Sized>(
    store: &S,
    new: u64,
    old: u64,
) -> Result<Vec<Hash>, AuditError> {
    with_hashes(store, |r| tlog_tiles::prove_tree(new, old, r)).await
}

/// Longest path a proof may carry (a tree of 2^64 leaves needs 64).
const MAX_PATH: usize = 64;

/// Prove that entry `seq` is in the tree `checkpoint` signs. The proof is
/// checked against the checkpoint's root before it is returned.
pub async fn prove_inclusion<S: CaseReader + ?Sized>(
    store: &S,
    seq: u64,
    checkpoint: &StoredCheckpoint,
) -> Result<InclusionProof, AuditError> {
    let size = checkpoint.size;
    if seq == 0 || seq > size {
        return Err(AuditError::Tree(format!(
            "entry {seq} is not covered by the checkpoint of {size} entries"
        )));
    }
    let row = store
        .audit_search(&AuditQuery {
            after_seq: Some(seq - 1),
            limit: Some(1),
            ..AuditQuery::default()
        })
        .await?
        .into_iter()
        .next()
        .filter(|row| row.seq == seq)
        .ok_or_else(|| AuditError::Tree(format!("entry {seq} does not exist")))?;
    let path = with_hashes(store, |r| tlog_tiles::prove_record(size, seq - 1, r)).await?;
    let root = Hash::parse_hash(&checkpoint.root)
        .map_err(|_| AuditError::Tree(format!("checkpoint {size} has a malformed root")))?;
    tlog_tiles::check_record(
        &path,
        size,
        root,
        seq - 1,
        leaf_digest(row.entry.as_bytes()),
    )
    .map_err(|_| {
        AuditError::Tree(format!(
            "entry {seq} does not prove into checkpoint {size}: run `warden audit verify`"
        ))
    })?;
    Ok(InclusionProof {
        format: INCLUSION_FORMAT.into(),
        seq,
        entry: row.entry,
        tree_size: size,
        path: encode(&path),
        checkpoint: checkpoint.note.clone(),
    })
}

/// Prove that `old` signs a prefix of the tree `new` signs.
pub async fn prove_consistency<S: CaseReader + ?Sized>(
    store: &S,
    old: &StoredCheckpoint,
    new: &StoredCheckpoint,
) -> Result<ConsistencyProof, AuditError> {
    if old.size == 0 || old.size > new.size {
        return Err(AuditError::Tree(format!(
            "no consistency proof from {} to {} entries",
            old.size, new.size
        )));
    }
    let path = if old.size == new.size {
        Vec::new()
    } else {
        with_hashes(store, |r| tlog_tiles::prove_tree(new.size, old.size, r)).await?
    };
    Ok(ConsistencyProof {
        format: CONSISTENCY_FORMAT.into(),
        old_size: old.size,
        new_size: new.size,
        path: encode(&path),
        old_checkpoint: old.note.clone(),
        new_checkpoint: new.note.clone(),
    })
}

/// Check an inclusion proof with the log's public key only.
pub fn verify_inclusion(proof: &InclusionProof, key: &PublicKey) -> Result<Proven, ProofError> {
    if proof.format != INCLUSION_FORMAT {
        return Err(ProofError::Malformed(format!(
            "format {:?}, expected {INCLUSION_FORMAT:?}",
            proof.format
        )));
    }
    let head = key.open_checkpoint(&proof.checkpoint)?;
    if head.size != proof.tree_size {
        return Err(ProofError::SizeMismatch {
            proof: proof.tree_size,
            checkpoint: head.size,
        });
    }
    if proof.seq == 0 || proof.seq > head.size {
        return Err(ProofError::OutOfRange {
            seq: proof.seq,
            size: head.size,
        });
    }
    let path = decode(&proof.path)?;
    tlog_tiles::check_record(
        &path,
        head.size,
        head.root,
        proof.seq - 1,
        leaf_digest(proof.entry.as_bytes()),
    )
    .map_err(|_| ProofError::Inclusion)?;
    let entry = serde_json::from_str(&proof.entry).ok();
    Ok(Proven {
        origin: key.origin().to_owned(),
        tree_size: head.size,
        seq: Some(proof.seq),
        entry,
    })
}

/// Check a consistency proof with the log's public key only.
pub fn verify_consistency(proof: &ConsistencyProof, key: &PublicKey) -> Result<Proven, ProofError> {
    if proof.format != CONSISTENCY_FORMAT {
        return Err(ProofError::Malformed(format!(
            "format {:?}, expected {CONSISTENCY_FORMAT:?}",
            proof.format
        )));
    }
    let old = key.open_checkpoint(&proof.old_checkpoint)?;
    let new = key.open_checkpoint(&proof.new_checkpoint)?;
    if old.size != proof.old_size || new.size != proof.new_size {
        return Err(ProofError::SizeMismatch {
            proof: proof.new_size,
            checkpoint: new.size,
        });
    }
    let inconsistent = ProofError::Consistency {
        old: old.size,
        new: new.size,
    };
    if old.size == 0 || old.size > new.size {
        return Err(inconsistent);
    }
    let path = decode(&proof.path)?;
    if old.size == new.size {
        if !path.is_empty() || old.root != new.root {
            return Err(inconsistent);
        }
    } else {
        tlog_tiles::check_tree(&path, new.size, new.root, old.size, old.root)
            .map_err(|_| inconsistent)?;
    }
    Ok(Proven {
        origin: key.origin().to_owned(),
        tree_size: new.size,
        seq: None,
        entry: None,
    })
}

/// Either kind of proof document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnyProof {
    Inclusion(InclusionProof),
    Consistency(ConsistencyProof),
}

impl AnyProof {
    /// Parse a proof document.
    pub fn parse(text: &str) -> Result<Self, ProofError> {
        serde_json::from_str(text).map_err(|e| ProofError::Malformed(e.to_string()))
    }

    pub fn verify(&self, key: &PublicKey) -> Result<Proven, ProofError> {
        match self {
            AnyProof::Inclusion(p) => verify_inclusion(p, key),
            AnyProof::Consistency(p) => verify_consistency(p, key),
        }
    }
}
