//! The audit log's Merkle tree as a store keeps it.
//!
//! RFC 6962 hashing in the stored-hash layout of Go's sumdb `tlog` (through
//! `tlog_tiles`): the hash of each complete subtree is stored once, when its
//! last leaf is appended. An append reads only the tree's right edge (at most
//! log₂ n hashes) and writes about two hashes per entry; a proof reads
//! O(log n) stored hashes. Every backend appends through [`extend`], in the
//! same transaction as the entries, so rows and tree cannot drift apart.

use std::collections::HashMap;

pub use tlog_tiles::{Hash, stored_hash_count, stored_hash_index};

/// What appending some leaves adds to a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// New stored hashes, by stored-hash index, in index order.
    pub hashes: Vec<(u64, Hash)>,
    /// Root of the extended tree.
    pub root: Hash,
}

/// Stored-hash indexes of the complete subtrees that make up a tree of
/// `size` leaves (its right edge): all that [`extend`] needs to read.
pub fn frontier(size: u64) -> Vec<u64> {
    if size == 0 {
        Vec::new()
    } else {
        tlog_tiles::sub_tree_index(0, size, Vec::new())
    }
}

/// Append `leaves` (RFC 6962 leaf hashes) to a tree of `size` leaves whose
/// [`frontier`] hashes are `edge`.
pub fn extend(size: u64, edge: &[(u64, Hash)], leaves: &[Hash]) -> Result<Extension, String> {
    let mut known: HashMap<u64, Hash> = edge.iter().copied().collect();
    let mut hashes = Vec::with_capacity(leaves.len() * 2);
    for (offset, leaf) in (0_u64..).zip(leaves) {
        let n = size + offset;
        let new = tlog_tiles::stored_hashes_for_record_hash(n, *leaf, &MapReader(&known))
            .map_err(|e| format!("leaf {n}: {e}"))?;
        let first = stored_hash_index(0, n);
        for (index, hash) in (first..).zip(new) {
            known.insert(index, hash);
            hashes.push((index, hash));
        }
    }
    let total = size + leaves.len() as u64;
    let root = tlog_tiles::tree_hash(total, &MapReader(&known))
        .map_err(|e| format!("root of {total} leaves: {e}"))?;
    Ok(Extension { hashes, root })
}

/// Hashes held in memory, answering `tlog_tiles` reads.
#[derive(Debug)]
pub struct MapReader<'a>(pub &'a HashMap<u64, Hash>);

impl tlog_tiles::HashReader for MapReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|index| {
                self.0
                    .get(index)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, reason = "tests")]
mod tests {
    use super::*;

    fn leaf(n: u8) -> Hash {
        tlog_tiles::record_hash(&[n])
    }

    #[test]
    fn extending_in_batches_equals_extending_one_by_one() {
        let leaves: Vec<Hash> = (0..37).map(leaf).collect();
        let mut all: HashMap<u64, Hash> = HashMap::new();
        let mut size = 0_u64;
        let mut roots = Vec::new();
        for chunk in leaves.chunks(5) {
            let edge: Vec<(u64, Hash)> = frontier(size)
                .into_iter()
                .map(|i| (i, *all.get(&i).expect("frontier hash stored")))
                .collect();
            let ext = extend(size, &edge, chunk).expect("extend");
            all.extend(ext.hashes.iter().copied());
            size += chunk.len() as u64;
            roots.push(ext.root);
        }
        assert_eq!(all.len() as u64, stored_hash_count(37));
        let one_by_one = extend(0, &[], &leaves).expect("extend");
        assert_eq!(roots.last(), Some(&one_by_one.root));
        let tree = tlog_tiles::tree_hash(37, &MapReader(&all)).expect("tree hash");
        assert_eq!(tree, one_by_one.root);
    }
}
