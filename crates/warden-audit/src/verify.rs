//! `warden audit verify`: recompute the whole log from its entries and
//! compare with what was recorded: each entry's leaf hash, the Merkle
//! tree's stored hashes, and every signed checkpoint.
//!
//! Nothing stored is trusted: leaf hashes are recomputed from the entry
//! text, the tree is rebuilt from those, and checkpoints are checked with
//! the public key. The first problem is named by sequence number and kind:
//!
//! - **changed**: the entry's content no longer hashes to the leaf recorded
//!   at its place;
//! - **missing**: an entry the tree (or a checkpoint) records is gone, or
//!   later entries were renumbered to close the gap;
//! - **inserted**: an entry the tree never recorded;
//! - **reordered**: an entry recorded at another place;
//! - **tree**: a stored subtree hash does not match the entries;
//! - **checkpoint**: a signed checkpoint does not verify or does not match
//!   the entries. When entries, leaf hashes and tree were all rewritten
//!   consistently (the attacker cannot sign), this is what catches it, and
//!   the bad entry lies between the last matching checkpoint and this one.

use std::collections::HashMap;

use serde::Serialize;
use tlog_tiles::{Hash, split_stored_hash_index};
use warden_store::merkle::RightEdge;
use warden_store::{AuditLeafRow, CaseReader, StoredCheckpoint};

/// Entries read per query.
const PAGE: u32 = 10_000;

use crate::{AuditError, PublicKey, leaf_digest};

/// What is wrong with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Changed,
    Missing,
    Inserted,
    Reordered,
    Tree,
    Checkpoint,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Changed => "changed",
            ProblemKind::Missing => "missing",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::Tree => "tree",
            ProblemKind::Checkpoint => "checkpoint",
        }
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Sequence number of the first bad entry.
    pub seq: u64,
    pub kind: ProblemKind,
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Entries in the log.
    pub entries: u64,
    /// Base64 root of the tree rebuilt from the entries.
    pub root: String,
    /// Checkpoints checked (signature, and root against the entries).
    pub checkpoints: usize,
    /// Size of the newest checkpoint (entries after it are not yet signed).
    pub signed_entries: u64,
    /// `None`: everything verifies.
    pub problem: Option<Problem>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Verify the log in `store`; checkpoints are checked with `key`.
pub async fn verify<S: CaseReader + ?Sized>(
    store: &S,
    key: &PublicKey,
) -> Result<Verification, AuditError> {
    verify_with(store, key, &[]).await
}

/// [`verify`], also against checkpoints kept outside the store (signed
/// notes shipped elsewhere). Someone who can write the database can delete
/// its checkpoints and rewrite or truncate every entry and hash together;
/// a checkpoint kept elsewhere still pins what the log held.
pub async fn verify_with<S: CaseReader + ?Sized>(
    store: &S,
    key: &PublicKey,
    external: &[String],
) -> Result<Verification, AuditError> {
    let stored = store.audit_tree().await?;
    let mut checkpoints = store.checkpoints().await?;
    for note in external {
        if checkpoints.iter().any(|c| &c.note == note) {
            continue;
        }
        // Take the size and root from the note; `finish` checks its
        // signature like any other checkpoint.
        let mut lines = note.lines().skip(1);
        let size = lines.next().and_then(|l| l.parse().ok()).unwrap_or(0);
        let root = lines.next().unwrap_or_default().to_owned();
        checkpoints.push(StoredCheckpoint {
            size,
            root,
            note: note.clone(),
            at: time::OffsetDateTime::UNIX_EPOCH,
        });
    }
    checkpoints.sort_by_key(|c| c.size);
    // Page through the entries, keeping 41 bytes per entry rather than its
    // text: a log of millions verifies in bounded memory.
    let mut verifier = Verifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        verifier.add_page(&page);
    }
    Ok(verifier.finish(&stored, &checkpoints, key))
}

/// Verification over entries already read (what [`verify`] does after the
/// reads): feed every page in order, then [`Verifier::finish`].
#[derive(Debug, Default)]
pub struct Verifier {
    seqs: Vec<u64>,
    leaves: Vec<Hash>,
    columns_match: Vec<bool>,
}

impl Verifier {
    /// The next entries, in sequence order.
    pub fn add_page(&mut self, page: &[AuditLeafRow]) {
        for (seq, (leaf, column_matches)) in page.iter().map(|r| r.seq).zip(hash_page(page)) {
            self.seqs.push(seq);
            self.leaves.push(leaf);
            self.columns_match.push(column_matches);
        }
    }

    /// Compare with the stored tree hashes and the checkpoints.
    pub fn finish(
        &self,
        stored: &[(u64, Hash)],
        checkpoints: &[StoredCheckpoint],
        key: &PublicKey,
    ) -> Verification {
        let entries = self.seqs.len() as u64;
        let (seqs, leaves, columns_match) = (&self.seqs, &self.leaves, &self.columns_match);

        let mut report = Verification {
            entries,
            root: String::new(),
            checkpoints: 0,
            signed_entries: checkpoints.last().map_or(0, |c| c.size),
            problem: None,
        };

        // The tree's recorded leaves, by position.
        let mut tree_leaves: Vec<Option<Hash>> = Vec::new();
        for (index, hash) in stored {
            let (level, n) = split_stored_hash_index(*index);
            // A leaf index beyond what the stored hashes could hold is
            // bogus: the rebuild reports it as a hash that should not exist.
            if level == 0 && n < stored.len() as u64 {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n >= tree_leaves.len() {
                    tree_leaves.resize(n.saturating_add(1), None);
                }
                if let Some(slot) = tree_leaves.get_mut(n) {
                    *slot = Some(*hash);
                }
            }
        }
        if let Some(problem) = check_entries(seqs, leaves, columns_match, &tree_leaves) {
            report.problem = Some(problem);
            return report;
        }

        // The entries are the tree's leaves in order: rebuild every stored hash
        // and compare, and take the roots the checkpoints must sign.
        let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
        let rebuilt = rebuild(leaves, stored, &sizes);
        report.root = rebuilt.root.to_string();
        if let Some(problem) = rebuilt.problem {
            report.problem = Some(problem);
            return report;
        }
        let roots = rebuilt.roots;

        let mut matched = 0_u64;
        for checkpoint in checkpoints {
            report.checkpoints += 1;
            let first_unproven = matched + 1;
            let fail = |detail: String| Problem {
                seq: first_unproven,
                kind: ProblemKind::Checkpoint,
                detail,
            };
            let head = match key.open_checkpoint(&checkpoint.note) {
                Ok(head) => head,
                Err(error) => {
                    report.problem = Some(fail(format!(
                        "checkpoint of {} entries: {error}",
                        checkpoint.size
                    )));
                    return report;
                }
            };
            if head.size != checkpoint.size {
                report.problem = Some(fail(format!(
                    "checkpoint stored for {} entries signs {}",
                    checkpoint.size, head.size
                )));
                return report;
            }
            if head.size > entries {
                report.problem = Some(Problem {
                    seq: entries + 1,
                    kind: ProblemKind::Missing,
                    detail: format!(
                        "a signed checkpoint covers {} entries but the log ends at {entries}",
                        head.size
                    ),
                });
                return report;
            }
            if head.root.to_string() != checkpoint.root {
                report.problem = Some(fail(format!(
                    "checkpoint of {} entries is stored with root {} but signs {}",
                    head.size, checkpoint.root, head.root
                )));
                return report;
            }
            if roots.get(&head.size) != Some(&head.root.0) {
                report.problem = Some(fail(format!(
                    "the entries do not match the checkpoint signed for {} entries: \
                 an entry from {first_unproven} to {} was rewritten together with its hashes",
                    head.size, head.size
                )));
                return report;
            }
            matched = head.size;
        }
        report
    }
}

/// Walk the entries against the tree's recorded leaves.
fn check_entries(
    seqs: &[u64],
    leaves: &[Hash],
    columns_match: &[bool],
    tree_leaves: &[Option<Hash>],
) -> Option<Problem> {
    let tree_leaf = |i: u64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| tree_leaves.get(i).copied().flatten())
    };
    let tree_size = tree_leaves.iter().take_while(|l| l.is_some()).count() as u64;
    let positions = (seqs.len() as u64).max(tree_size);
    for p in 0..positions {
        let seq = p + 1;
        let index = usize::try_from(p).unwrap_or(usize::MAX);
        let Some(&row_seq) = seqs.get(index) else {
            return Some(Problem {
                seq,
                kind: ProblemKind::Missing,
                detail: format!(
                    "the tree records {tree_size} entries but the log ends at {}",
                    seqs.len()
                ),
            });
        };
        if row_seq != seq {
            return Some(Problem {
                seq,
                kind: ProblemKind::Missing,
                detail: format!("there is no entry {seq}; the next one is {row_seq}"),
            });
        }
        let leaf = leaves.get(index).copied().unwrap_or_default();
        let Some(expected) = tree_leaf(p) else {
            return Some(Problem {
                seq,
                kind: ProblemKind::Inserted,
                detail: format!(
                    "entry {seq} is not in the Merkle tree (which ends at {tree_size}): \
                     it was written outside the log"
                ),
            });
        };
        if leaf == expected {
            if columns_match.get(index) != Some(&true) {
                return Some(Problem {
                    seq,
                    kind: ProblemKind::Changed,
                    detail: format!("entry {seq}'s recorded leaf hash was altered"),
                });
            }
            continue;
        }
        // The entry at this place is not the one recorded here: say why.
        // Hash has no `Hash` impl: key the lookups by its bytes.
        let mut recorded_at: HashMap<[u8; 32], u64> = HashMap::new();
        for i in (0..tree_size).rev() {
            if let Some(hash) = tree_leaf(i) {
                recorded_at.insert(hash.0, i);
            }
        }
        let present_at: HashMap<[u8; 32], u64> = (0_u64..)
            .zip(leaves.iter())
            .map(|(i, h)| (h.0, i))
            .collect();

        // Everything from the next entry on sits one place later than the
        // tree records it: this entry was slipped in.
        let tree_next = tree_leaf(p + 1);
        let shifted = leaves.get(index + 1).copied() == Some(expected)
            && match leaves.get(index + 2) {
                // The last row: only an insertion if the log outgrew the tree.
                None => tree_next.is_none(),
                Some(after) => tree_next.is_none() || tree_next == Some(*after),
            };
        let problem = match recorded_at.get(&leaf.0) {
            Some(&j) if j < p || shifted => Problem {
                seq,
                kind: ProblemKind::Inserted,
                detail: format!(
                    "entry {seq} is a copy of entry {}, slipped in; later entries moved up",
                    j + 1
                ),
            },
            Some(&j) => match present_at.get(&expected.0) {
                Some(&q) if q > p => Problem {
                    seq,
                    kind: ProblemKind::Reordered,
                    detail: format!(
                        "entry {seq} holds what was recorded as entry {}; \
                         entry {seq}'s content is now at {}",
                        j + 1,
                        q + 1
                    ),
                },
                _ => Problem {
                    seq,
                    kind: ProblemKind::Missing,
                    detail: format!(
                        "the entry recorded as {seq} is gone; \
                         later entries were renumbered (entry {seq} holds what was {})",
                        j + 1
                    ),
                },
            },
            None if shifted => Problem {
                seq,
                kind: ProblemKind::Inserted,
                detail: format!(
                    "entry {seq} is not in the tree; the entry recorded as {seq} follows it"
                ),
            },
            None => Problem {
                seq,
                kind: ProblemKind::Changed,
                detail: format!(
                    "entry {seq}'s content does not match the leaf hash recorded for it"
                ),
            },
        };
        return Some(problem);
    }
    None
}

/// What rebuilding the tree from the entries found.
struct Rebuilt {
    root: Hash,
    /// Roots at the asked sizes.
    roots: HashMap<u64, [u8; 32]>,
    problem: Option<Problem>,
}

/// Rebuild the tree from `leaves` in one pass (the stored-hash layout is
/// the order in which a right-edge stack completes subtrees), comparing
/// each hash with the stored one at its index, and note the root at each
/// of `sizes`.
fn rebuild(leaves: &[Hash], stored: &[(u64, Hash)], sizes: &[u64]) -> Rebuilt {
    let entries = leaves.len() as u64;
    let mut right = RightEdge::default();
    let mut roots = HashMap::new();
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let mut wanted = sorted.iter().peekable();
    let mut stored_at = stored.iter();
    let mut problem = None;
    for leaf in leaves {
        right.push(*leaf, |index, hash| {
            if problem.is_none() && stored_at.next() != Some(&(index, hash)) {
                let (level, n) = split_stored_hash_index(index);
                let first = (n << level) + 1;
                problem = Some(Problem {
                    seq: first,
                    kind: ProblemKind::Tree,
                    detail: format!(
                        "the stored hash of entries {first} to {} does not match them",
                        ((n + 1) << level).min(entries)
                    ),
                });
            }
        });
        while let Some(&&size) = wanted.peek()
            && size <= right.size()
        {
            if size == right.size() {
                roots.insert(size, right.root().0);
            }
            wanted.next();
        }
    }
    if problem.is_none() && stored_at.next().is_some() {
        problem = Some(Problem {
            seq: entries + 1,
            kind: ProblemKind::Inserted,
            detail: format!(
                "the tree has {} stored hashes, {entries} entries need {}",
                stored.len(),
                warden_store::merkle::stored_hash_count(entries)
            ),
        });
    }
    Rebuilt {
        root: right.root(),
        roots,
        problem,
    }
}

/// Leaf hashes of a page, and whether each matches its recorded column,
/// on two threads (the hashing is most of verification's work).
fn hash_page(page: &[AuditLeafRow]) -> Vec<(Hash, bool)> {
    let one = |row: &AuditLeafRow| {
        let leaf = leaf_digest(row.entry.as_bytes());
        let mut recorded = [0_u8; 32];
        let matches =
            hex::decode_to_slice(&row.leaf_hash, &mut recorded).is_ok() && recorded == leaf.0;
        (leaf, matches)
    };
    if page.len() < 256 {
        return page.iter().map(one).collect();
    }
    let (first, second) = page.split_at(page.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| second.iter().map(one).collect::<Vec<_>>());
        let mut out: Vec<(Hash, bool)> = first.iter().map(one).collect();
        match other.join() {
            Ok(rest) => out.extend(rest),
            Err(_) => out.extend(second.iter().map(one)),
        }
        out
    })
}
