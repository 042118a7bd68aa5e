#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The Merkle tree and its proofs against RFC 6962: the certificate
//! transparency reference vectors, a naive transcription of RFC 6962
//! section 2.1 (MTH, PATH, PROOF) and of the RFC 9162 verification
//! algorithms, and the `ct-merkle` crate as a third implementation.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use sha2::{Digest as _, Sha256};
use tlog_tiles::Hash;
use warden_audit::proof::{self, ProofError};
use warden_audit::{AuditLog as _, Checkpointer, LogKey, StoreAuditLog};
use warden_domain::{AuditEvent, CaseId, FixedClock};
use warden_store::merkle::{self, MapReader};
use warden_store::{CaseReader as _, SqliteStore, StoredCheckpoint};

type Bytes32 = [u8; 32];

// ---------------------------------------------------------------------------
// RFC 6962 section 2.1, transcribed naively.

fn sha256(parts: &[&[u8]]) -> Bytes32 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn rfc_leaf(data: &[u8]) -> Bytes32 {
    sha256(&[&[0x00], data])
}

fn rfc_node(left: &Bytes32, right: &Bytes32) -> Bytes32 {
    sha256(&[&[0x01], left, right])
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    assert!(n > 1);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]).
fn mth(d: &[Vec<u8>]) -> Bytes32 {
    match d.len() {
        0 => sha256(&[]),
        1 => rfc_leaf(&d[0]),
        n => {
            let k = split(n);
            rfc_node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]): the audit path of leaf m, bottom up.
fn rfc_path(m: usize, d: &[Vec<u8>]) -> Vec<Bytes32> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    let (mut path, sibling) = if m < k {
        (rfc_path(m, &d[..k]), mth(&d[k..]))
    } else {
        (rfc_path(m - k, &d[k..]), mth(&d[..k]))
    };
    path.push(sibling);
    path
}

/// PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
fn rfc_proof(m: usize, d: &[Vec<u8>]) -> Vec<Bytes32> {
    rfc_subproof(m, d, true)
}

fn rfc_subproof(m: usize, d: &[Vec<u8>], whole: bool) -> Vec<Bytes32> {
    let n = d.len();
    if m == n {
        return if whole { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n);
    let (mut proof, sibling) = if m <= k {
        (rfc_subproof(m, &d[..k], whole), mth(&d[k..]))
    } else {
        (rfc_subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    proof.push(sibling);
    proof
}

/// RFC 9162 section 2.1.3.2: verify an inclusion proof.
fn rfc_verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Bytes32,
    path: &[Bytes32],
    root: &Bytes32,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = rfc_node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = rfc_node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 section 2.1.4.2: verify a consistency proof.
fn rfc_verify_consistency(
    first: u64,
    second: u64,
    first_hash: &Bytes32,
    second_hash: &Bytes32,
    path: &[Bytes32],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return path.is_empty() && first_hash == second_hash;
    }
    if path.is_empty() {
        return false;
    }
    let mut path = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_hash);
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = rfc_node(c, &fr);
            sr = rfc_node(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = rfc_node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *first_hash && sr == *second_hash && sn == 0
}

// ---------------------------------------------------------------------------
// The implementation under test: `merkle::extend` and `tlog_tiles` proofs.

/// Every stored hash of the tree over `leaves`, built by `extend`.
fn stored(leaves: &[Vec<u8>]) -> HashMap<u64, Hash> {
    let digests: Vec<Hash> = leaves.iter().map(|l| Hash(rfc_leaf(l))).collect();
    let extension = merkle::extend(0, &[], &digests).expect("extend");
    assert_eq!(
        extension.hashes.len() as u64,
        merkle::stored_hash_count(leaves.len() as u64)
    );
    assert_eq!(extension.root.0, mth(leaves));
    extension.hashes.into_iter().collect()
}

fn root_of(hashes: &HashMap<u64, Hash>, size: u64) -> Bytes32 {
    tlog_tiles::tree_hash(size, &MapReader(hashes))
        .expect("tree hash")
        .0
}

fn prove_record(hashes: &HashMap<u64, Hash>, size: u64, index: u64) -> Vec<Bytes32> {
    tlog_tiles::prove_record(size, index, &MapReader(hashes))
        .expect("prove record")
        .into_iter()
        .map(|h| h.0)
        .collect()
}

fn prove_tree(hashes: &HashMap<u64, Hash>, size: u64, old: u64) -> Vec<Bytes32> {
    tlog_tiles::prove_tree(size, old, &MapReader(hashes))
        .expect("prove tree")
        .into_iter()
        .map(|h| h.0)
        .collect()
}

fn hashes(path: &[Bytes32]) -> Vec<Hash> {
    path.iter().copied().map(Hash).collect()
}

type CtDigest = sha2::digest::Output<Sha256>;

fn ct_digests(path: &[Bytes32]) -> Vec<CtDigest> {
    path.iter().map(|h| CtDigest::from(*h)).collect()
}

fn ct_root(root: &Bytes32, size: u64) -> ct_merkle::RootHash<Sha256> {
    ct_merkle::RootHash::new(CtDigest::from(*root), size)
}

/// Whether each of the three verifiers accepts the inclusion proof.
fn inclusion_verdicts(
    size: u64,
    root: &Bytes32,
    index: u64,
    leaf: &[u8],
    path: &[Bytes32],
) -> [bool; 3] {
    let tlog = tlog_tiles::check_record(
        &hashes(path),
        size,
        Hash(*root),
        index,
        Hash(rfc_leaf(leaf)),
    )
    .is_ok();
    let digests = ct_digests(path);
    let ct = ct_root(root, size)
        .verify_inclusion(
            &leaf,
            index,
            &ct_merkle::InclusionProof::from_digests(digests.iter()),
        )
        .is_ok();
    let rfc = rfc_verify_inclusion(index, size, &rfc_leaf(leaf), path, root);
    [tlog, ct, rfc]
}

/// Whether each of the three verifiers accepts the consistency proof.
fn consistency_verdicts(
    old: u64,
    old_root: &Bytes32,
    size: u64,
    root: &Bytes32,
    path: &[Bytes32],
) -> [bool; 3] {
    let tlog =
        tlog_tiles::check_tree(&hashes(path), size, Hash(*root), old, Hash(*old_root)).is_ok();
    let digests = ct_digests(path);
    let ct = ct_root(root, size)
        .verify_consistency(
            &ct_root(old_root, old),
            &ct_merkle::ConsistencyProof::from_digests(digests.iter()),
        )
        .is_ok();
    let rfc = rfc_verify_consistency(old, size, old_root, root, path);
    [tlog, ct, rfc]
}

// ---------------------------------------------------------------------------
// (a) The certificate-transparency reference tree.

fn reference_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| hex::decode(h).expect("hex"))
    .collect()
}

/// MTH of the first 1..=8 reference leaves, as published with the
/// certificate-transparency and Trillian test suites.
const REFERENCE_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn hexes(path: &[Bytes32]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
}

#[test]
fn reference_roots_match_rfc6962_test_vectors() {
    let leaves = reference_leaves();
    assert_eq!(
        hex::encode(mth(&[])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for size in 1..=8_usize {
        let prefix = &leaves[..size];
        let digests: Vec<Hash> = prefix.iter().map(|l| Hash(rfc_leaf(l))).collect();
        let extension = merkle::extend(0, &[], &digests).expect("extend");
        let expected = REFERENCE_ROOTS[size - 1];
        assert_eq!(hex::encode(extension.root.0), expected, "size {size}");
        assert_eq!(hex::encode(mth(prefix)), expected, "naive, size {size}");
        // The root of every prefix is also readable from the full tree.
        let all = stored(&leaves);
        assert_eq!(hex::encode(root_of(&all, size as u64)), expected);
        // And extending one leaf at a time through the frontier agrees.
        let mut grown: HashMap<u64, Hash> = HashMap::new();
        let mut root = Hash::default();
        for (n, leaf) in (0_u64..).zip(&digests) {
            let edge: Vec<(u64, Hash)> = merkle::frontier(n)
                .into_iter()
                .map(|i| (i, grown[&i]))
                .collect();
            let step = merkle::extend(n, &edge, std::slice::from_ref(leaf)).expect("extend");
            grown.extend(step.hashes);
            root = step.root;
        }
        assert_eq!(hex::encode(root.0), expected, "grown, size {size}");
    }
}

#[test]
fn reference_proofs_match_published_vectors() {
    let leaves = reference_leaves();
    let all = stored(&leaves);
    // Trillian's merkle/log_verifier_test.go vectors (0-based leaf index).
    let inclusion: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, expected) in inclusion {
        let path = prove_record(&all, size, index);
        assert_eq!(hexes(&path), expected, "inclusion of {index} in {size}");
        let naive = rfc_path(index as usize, &leaves[..size as usize]);
        assert_eq!(path, naive);
        let root = root_of(&all, size);
        assert_eq!(
            inclusion_verdicts(size, &root, index, &leaves[index as usize], &path),
            [true; 3]
        );
    }
    let consistency: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, size, expected) in consistency {
        let path = prove_tree(&all, size, old);
        assert_eq!(hexes(&path), expected, "consistency of {old} with {size}");
        assert_eq!(path, rfc_proof(old as usize, &leaves[..size as usize]));
        let (old_root, root) = (root_of(&all, old), root_of(&all, size));
        assert_eq!(
            consistency_verdicts(old, &old_root, size, &root, &path),
            [true; 3]
        );
    }
}

// ---------------------------------------------------------------------------
// (b) Properties over random trees.

/// Random leaves, and random picks of (size, index, old size) in them.
type TreeAndPicks = (Vec<Vec<u8>>, Vec<(u64, u64, u64)>);

fn tree_and_picks() -> impl Strategy<Value = TreeAndPicks> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..300).prop_flat_map(
        |leaves| {
            let n = leaves.len() as u64;
            let pick = (1..=n).prop_flat_map(|size| (Just(size), 0..size, 1..=size));
            (Just(leaves), prop::collection::vec(pick, 1..6))
        },
    )
}

/// How to damage a proof.
#[derive(Debug, Clone)]
enum Damage {
    /// Flip bits `mask` of byte `byte` of hash `which`.
    Flip {
        which: prop::sample::Index,
        byte: usize,
        mask: u8,
    },
    /// Drop hash `which`.
    Drop(prop::sample::Index),
    /// Add `hash` at `at` (clamped).
    Add {
        at: prop::sample::Index,
        hash: Bytes32,
    },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0..32_usize, 1..=255_u8)
            .prop_map(|(which, byte, mask)| Damage::Flip { which, byte, mask }),
        any::<prop::sample::Index>().prop_map(Damage::Drop),
        (any::<prop::sample::Index>(), any::<Bytes32>())
            .prop_map(|(at, hash)| Damage::Add { at, hash }),
    ]
}

/// `path` damaged, or `None` when this damage does not apply (nothing to
/// flip or drop in an empty path).
fn damaged(path: &[Bytes32], how: &Damage) -> Option<Vec<Bytes32>> {
    let mut path = path.to_vec();
    match how {
        Damage::Flip { which, byte, mask } => {
            if path.is_empty() {
                return None;
            }
            let i = which.index(path.len());
            path[i][*byte] ^= mask;
        }
        Damage::Drop(which) => {
            if path.is_empty() {
                return None;
            }
            path.remove(which.index(path.len()));
        }
        Damage::Add { at, hash } => {
            let i = at.index(path.len() + 1);
            path.insert(i, *hash);
        }
    }
    Some(path)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn inclusion_proofs_agree_with_rfc6962_and_ct_merkle(
        (leaves, picks) in tree_and_picks(),
        hows in prop::collection::vec(damage(), 4),
        other_leaf in prop::collection::vec(any::<u8>(), 0..24),
    ) {
        let all = stored(&leaves);
        for (size, index, _) in picks {
            let prefix = &leaves[..size as usize];
            let root = root_of(&all, size);
            prop_assert_eq!(root, mth(prefix));
            let path = prove_record(&all, size, index);
            prop_assert_eq!(&path, &rfc_path(index as usize, prefix));
            let leaf = &leaves[index as usize];
            prop_assert_eq!(inclusion_verdicts(size, &root, index, leaf, &path), [true; 3]);

            for how in &hows {
                if let Some(bad) = damaged(&path, how) {
                    prop_assert_eq!(
                        inclusion_verdicts(size, &root, index, leaf, &bad),
                        [false; 3],
                        "{:?}", how
                    );
                }
            }
            if rfc_leaf(&other_leaf) != rfc_leaf(leaf) {
                prop_assert_eq!(
                    inclusion_verdicts(size, &root, index, &other_leaf, &path),
                    [false; 3]
                );
            }
            // Another leaf of the same tree at this place does not verify
            // either, unless it has the same content.
            let neighbour = &leaves[((index + 1) % size) as usize];
            if rfc_leaf(neighbour) != rfc_leaf(leaf) {
                prop_assert_eq!(
                    inclusion_verdicts(size, &root, index, neighbour, &path),
                    [false; 3]
                );
            }
        }
    }

    #[test]
    fn consistency_proofs_agree_with_rfc6962_and_ct_merkle(
        (leaves, picks) in tree_and_picks(),
        hows in prop::collection::vec(damage(), 4),
        wrong in any::<Bytes32>(),
    ) {
        let all = stored(&leaves);
        for (size, _, old) in picks {
            let root = root_of(&all, size);
            let old_root = root_of(&all, old);
            prop_assert_eq!(old_root, mth(&leaves[..old as usize]));
            let path = prove_tree(&all, size, old);
            prop_assert_eq!(&path, &rfc_proof(old as usize, &leaves[..size as usize]));
            prop_assert_eq!(consistency_verdicts(old, &old_root, size, &root, &path), [true; 3]);

            for how in &hows {
                if let Some(bad) = damaged(&path, how) {
                    prop_assert_eq!(
                        consistency_verdicts(old, &old_root, size, &root, &bad),
                        [false; 3],
                        "{:?}", how
                    );
                }
            }
            // A different old or new root.
            prop_assert_eq!(consistency_verdicts(old, &wrong, size, &root, &path), [false; 3]);
            prop_assert_eq!(consistency_verdicts(old, &old_root, size, &wrong, &path), [false; 3]);
        }
    }
}

// ---------------------------------------------------------------------------
// (c) Proofs from the store, with tampered checkpoints.

#[tokio::test]
async fn store_proofs_fail_with_a_tampered_checkpoint_note() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock = Arc::new(FixedClock::new(time::OffsetDateTime::UNIX_EPOCH));
    let (key, _) = LogKey::generate("warden.test/audit").expect("key");
    let public = key.public().clone();
    let log =
        StoreAuditLog::new(store.clone(), clock).with_checkpointer(Checkpointer::new(key, 10));
    for n in 0..23 {
        log.append(
            "system:test",
            AuditEvent::Escalated {
                case_id: CaseId::new(),
                reasons: vec![format!("reason {n}")],
            },
        )
        .await
        .expect("append");
    }
    log.checkpoint().await.expect("sign");
    let checkpoints = store.checkpoints().await.expect("checkpoints");
    let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
    assert_eq!(sizes, [10, 20, 23]);
    let (old, new) = (&checkpoints[0], &checkpoints[2]);

    for seq in [1, 10, 17, 23] {
        let proof = proof::prove_inclusion(store.as_ref(), seq, new)
            .await
            .expect("prove");
        let proven = proof::verify_inclusion(&proof, &public).expect("verifies");
        assert_eq!((proven.seq, proven.tree_size), (Some(seq), 23));

        // The size line of the note changed.
        let mut forged = proof.clone();
        forged.checkpoint = forged.checkpoint.replacen("\n23\n", "\n24\n", 1);
        assert_ne!(forged.checkpoint, proof.checkpoint);
        assert!(matches!(
            proof::verify_inclusion(&forged, &public),
            Err(ProofError::Checkpoint(_))
        ));

        // The root line changed.
        let mut forged = proof.clone();
        forged.checkpoint = forged.checkpoint.replacen(&new.root, &old.root, 1);
        assert_ne!(forged.checkpoint, proof.checkpoint);
        assert!(matches!(
            proof::verify_inclusion(&forged, &public),
            Err(ProofError::Checkpoint(_))
        ));

        // A genuine checkpoint of another size.
        let mut forged = proof.clone();
        forged.checkpoint = checkpoints[1].note.clone();
        assert!(proof::verify_inclusion(&forged, &public).is_err());

        // Signed by another key of the same name.
        let (theirs, _) = LogKey::generate("warden.test/audit").expect("key");
        let head = public.open_checkpoint(&new.note).expect("opens");
        let mut forged = proof.clone();
        forged.checkpoint = theirs.sign_checkpoint(head.size, head.root).expect("sign");
        assert!(matches!(
            proof::verify_inclusion(&forged, &public),
            Err(ProofError::Checkpoint(_))
        ));
    }

    // A stored checkpoint whose note was tampered: the prover still builds
    // a proof (it checks against the root column), the verifier refuses it.
    let tampered = StoredCheckpoint {
        note: new.note.replacen("\n23\n", "\n22\n", 1),
        ..new.clone()
    };
    let proof = proof::prove_inclusion(store.as_ref(), 5, &tampered)
        .await
        .expect("prove");
    assert!(proof::verify_inclusion(&proof, &public).is_err());

    // Consistency proofs: genuine, then with either note tampered.
    let consistency = proof::prove_consistency(store.as_ref(), old, new)
        .await
        .expect("prove");
    assert!(proof::verify_consistency(&consistency, &public).is_ok());
    let mut forged = consistency.clone();
    forged.old_checkpoint = forged.old_checkpoint.replacen("\n10\n", "\n11\n", 1);
    assert!(proof::verify_consistency(&forged, &public).is_err());
    let mut forged = consistency.clone();
    forged.new_checkpoint = forged.new_checkpoint.replacen("\n23\n", "\n21\n", 1);
    assert!(proof::verify_consistency(&forged, &public).is_err());
    let tampered_old = StoredCheckpoint {
        note: old.note.replacen("\n10\n", "\n12\n", 1),
        ..old.clone()
    };
    let forged = proof::prove_consistency(store.as_ref(), &tampered_old, new)
        .await
        .expect("prove");
    assert!(proof::verify_consistency(&forged, &public).is_err());
}
