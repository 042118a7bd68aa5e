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
    let mut right = RightEdge::resume(size, edge)?;
    let mut hashes = Vec::with_capacity(leaves.len() * 2);
    for leaf in leaves {
        right.push(*leaf, |index, hash| hashes.push((index, hash)));
    }
    Ok(Extension {
        hashes,
        root: right.root(),
    })
}

/// A tree's right edge: its complete subtrees not yet combined, left to
/// right, as (level, hash). Pushing a leaf completes subtrees in exactly
/// the order of their stored-hash indexes, so one pass over the leaves
/// yields every stored hash in index order (appends and verification both
/// build the tree through it).
#[derive(Debug, Clone, Default)]
pub struct RightEdge {
    size: u64,
    next_index: u64,
    stack: Vec<(u8, Hash)>,
}

impl RightEdge {
    /// The edge of a tree of `size` leaves, from its [`frontier`] hashes.
    pub fn resume(size: u64, edge: &[(u64, Hash)]) -> Result<Self, String> {
        let expected = frontier(size);
        let indexes: Vec<u64> = edge.iter().map(|(index, _)| *index).collect();
        if indexes != expected {
            return Err(format!(
                "the right edge of {size} leaves is {expected:?}, got {indexes:?}"
            ));
        }
        let stack = edge
            .iter()
            .map(|(index, hash)| (tlog_tiles::split_stored_hash_index(*index).0, *hash))
            .collect();
        Ok(Self {
            size,
            next_index: stored_hash_index(0, size),
            stack,
        })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a leaf; `stored` gets each new stored hash with its index:
    /// the leaf, then each subtree it completes.
    pub fn push(&mut self, leaf: Hash, mut stored: impl FnMut(u64, Hash)) {
        stored(self.next_index, leaf);
        self.next_index += 1;
        self.stack.push((0, leaf));
        while let [.., (left_level, left), (right_level, right)] = self.stack[..] {
            if left_level != right_level {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            let parent = tlog_tiles::node_hash(left, right);
            stored(self.next_index, parent);
            self.next_index += 1;
            self.stack.push((left_level + 1, parent));
        }
        self.size += 1;
    }

    /// The RFC 6962 root of the tree so far.
    pub fn root(&self) -> Hash {
        self.stack
            .iter()
            .rev()
            .map(|(_, hash)| *hash)
            .reduce(|right, left| tlog_tiles::node_hash(left, right))
            .unwrap_or(tlog_tiles::EMPTY_HASH)
    }
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

    /// The right edge emits what `tlog_tiles` says record n must store.
    #[test]
    fn the_right_edge_stores_what_tlog_stores() {
        let mut all: HashMap<u64, Hash> = HashMap::new();
        let mut right = RightEdge::default();
        for n in 0..70_u64 {
            let leaf = tlog_tiles::record_hash(&n.to_be_bytes());
            let expected =
                tlog_tiles::stored_hashes_for_record_hash(n, leaf, &MapReader(&all)).expect("tlog");
            let mut emitted = Vec::new();
            right.push(leaf, |index, hash| emitted.push((index, hash)));
            let first = stored_hash_index(0, n);
            assert_eq!(
                emitted,
                (first..).zip(expected).collect::<Vec<_>>(),
                "record {n}"
            );
            all.extend(emitted);
            assert_eq!(
                right.root(),
                tlog_tiles::tree_hash(n + 1, &MapReader(&all)).expect("root")
            );
        }
    }
}
