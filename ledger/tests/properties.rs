//! Invariants of the Merkle tree, proofs and checkpoints, checked against an
//! independent RFC 6962 implementation and against tlog_tiles' own code paths.

use ledger::checkpoint::{CheckpointSigner, CheckpointVerifier};
use ledger::merkle::{self, leaf_hash, node_hash, Frontier, Hash, MemTree, RootHash};
use proptest::prelude::*;

/// RFC 6962 §2.1 MTH, straight from the definition (k = largest power of two < n).
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn tree(hs: &[Hash]) -> MemTree {
    let mut t = MemTree::new();
    hs.iter().for_each(|h| t.push(*h));
    t
}

/// Stored hashes as tlog_tiles computes them, reading back earlier ones.
struct TlogStorage(Vec<tlog_tiles::Hash>);
impl tlog_tiles::HashReader for TlogStorage {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

#[test]
fn stored_hashes_match_tlog_tiles() {
    let hs = leaves(300);
    let ours = tree(&hs);
    let mut theirs = TlogStorage(Vec::new());
    for (n, h) in hs.iter().enumerate() {
        let new =
            tlog_tiles::stored_hashes_for_record_hash(n as u64, (*h).into(), &theirs).unwrap();
        theirs.0.extend(new);
    }
    let indexes: Vec<u64> = (0..theirs.0.len() as u64).collect();
    let ours: Vec<Hash> = merkle::HashSource::read_hashes(&ours, &indexes).unwrap();
    assert_eq!(
        ours,
        theirs.0.into_iter().map(Hash::from).collect::<Vec<_>>()
    );
}

#[test]
fn every_proof_for_sizes_up_to_300_verifies() {
    let hs = leaves(300);
    let t = tree(&hs);
    let mut frontier = Frontier::new();
    for size in 1..=300u64 {
        frontier.push(hs[size as usize - 1]);
        let root = RootHash {
            size,
            hash: mth(&hs[..size as usize]),
        };
        assert_eq!(merkle::root_at(&t, size).unwrap(), root);
        assert_eq!(frontier.root(), root);
        for seq in 0..size {
            let path = merkle::prove_inclusion(&t, seq, size).unwrap();
            assert_eq!(
                root.verify_inclusion(&hs[seq as usize], seq, &path),
                Ok(()),
                "seq {seq} size {size}"
            );
            if seq + 1 < size {
                // The same path proves nothing about a neighbour.
                assert!(root
                    .verify_inclusion(&hs[seq as usize], seq + 1, &path)
                    .is_err());
            }
        }
        for first in (1..=size).step_by(7).chain([size]) {
            let older = RootHash {
                size: first,
                hash: mth(&hs[..first as usize]),
            };
            let path = merkle::prove_consistency(&t, first, size).unwrap();
            assert_eq!(
                root.verify_consistency(&older, &path),
                Ok(()),
                "{first} -> {size}"
            );
        }
    }
}

/// Every single-byte change of `bytes` that `accept` must refuse.
fn each_flip(bytes: &[u8], mut accept: impl FnMut(&[u8]) -> bool) {
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.to_vec();
            b[i] ^= bit;
            assert!(
                !accept(&b),
                "flip of bit {bit:#x} at byte {i} went unnoticed"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_pairs_prove(size in 1u64..2000, a in any::<u64>(), b in any::<u64>()) {
        let hs = leaves(size);
        let t = tree(&hs);
        let seq = a % size;
        let first = 1 + b % size;
        let root = t.root();
        prop_assert_eq!(root.hash, mth(&hs));
        let path = merkle::prove_inclusion(&t, seq, size).unwrap();
        prop_assert_eq!(root.verify_inclusion(&hs[seq as usize], seq, &path), Ok(()));
        let older = merkle::root_at(&t, first).unwrap();
        let cpath = merkle::prove_consistency(&t, first, size).unwrap();
        prop_assert_eq!(root.verify_consistency(&older, &cpath), Ok(()));
        // Checked by tlog_tiles directly too.
        let tp: Vec<tlog_tiles::Hash> = path.iter().map(|h| (*h).into()).collect();
        prop_assert!(tlog_tiles::check_record(&tp, size, root.hash.into(), seq, hs[seq as usize].into()).is_ok());
    }

    #[test]
    fn any_flipped_byte_in_a_proof_is_detected(size in 2u64..500, a in any::<u64>(), b in any::<u64>()) {
        let hs = leaves(size);
        let t = tree(&hs);
        let root = t.root();
        let seq = a % size;
        let path = merkle::prove_inclusion(&t, seq, size).unwrap();
        let flat: Vec<u8> = path.iter().flat_map(|h| *h.as_bytes()).collect();
        let unflatten = |b: &[u8]| b.chunks(32).map(|c| Hash::new(c.try_into().unwrap())).collect::<Vec<_>>();
        each_flip(&flat, |b| root.verify_inclusion(&hs[seq as usize], seq, &unflatten(b)).is_ok());
        let with_root = |b: &[u8]| RootHash { size, hash: Hash::new(b.try_into().unwrap()) };
        each_flip(root.hash.as_bytes(), |b| with_root(b).verify_inclusion(&hs[seq as usize], seq, &path).is_ok());
        each_flip(hs[seq as usize].as_bytes(), |b| root.verify_inclusion(&Hash::new(b.try_into().unwrap()), seq, &path).is_ok());

        let first = 1 + b % (size - 1);
        let older = merkle::root_at(&t, first).unwrap();
        let cpath = merkle::prove_consistency(&t, first, size).unwrap();
        let flat: Vec<u8> = cpath.iter().flat_map(|h| *h.as_bytes()).collect();
        each_flip(&flat, |b| root.verify_consistency(&older, &unflatten(b)).is_ok());
        let with_older = |b: &[u8]| RootHash { size: first, hash: Hash::new(b.try_into().unwrap()) };
        each_flip(older.hash.as_bytes(), |b| root.verify_consistency(&with_older(b), &cpath).is_ok());
    }

    #[test]
    fn garbage_proofs_never_panic(size in 0u64..100, seq in 0u64..120, path in proptest::collection::vec(any::<[u8; 32]>(), 0..80)) {
        let path: Vec<Hash> = path.into_iter().map(Hash::new).collect();
        let root = RootHash { size, hash: Hash::new([9; 32]) };
        prop_assert!(root.verify_inclusion(&Hash::new([1; 32]), seq, &path).is_err());
        let older = RootHash { size: seq, hash: Hash::new([2; 32]) };
        prop_assert!(root.verify_consistency(&older, &path).is_err());
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_flipped_byte_in_a_checkpoint_is_detected(size in any::<u64>(), h in any::<[u8; 32]>()) {
        let signer = CheckpointSigner::new("ledger.example.org/aid/test", ed25519_dalek::SigningKey::from_bytes(&[5; 32])).unwrap();
        let verifier = CheckpointVerifier::from_vkey(&signer.vkey()).unwrap();
        let root = RootHash { size, hash: Hash::new(h) };
        let note = signer.sign(root);
        prop_assert_eq!(verifier.verify(note.as_bytes()).unwrap().root, root);
        each_flip(note.as_bytes(), |b| verifier.verify(b).is_ok_and(|cp| cp.root == root));
    }
}

#[test]
fn checkpoints_accept_cosignatures_and_refuse_garbage() {
    let signer = CheckpointSigner::new(
        "log.example/a",
        ed25519_dalek::SigningKey::from_bytes(&[5; 32]),
    )
    .unwrap();
    let witness = CheckpointSigner::new(
        "witness.example",
        ed25519_dalek::SigningKey::from_bytes(&[6; 32]),
    )
    .unwrap();
    let verifier = CheckpointVerifier::from_vkey(&signer.vkey()).unwrap();
    let root = RootHash {
        size: 3,
        hash: Hash::new([7; 32]),
    };
    let note = signer.sign(root);
    let witness_line = witness.sign(root).lines().last().unwrap().to_owned();
    // A witness cosignature before or after ours is ignored.
    let cosigned = format!("{note}{witness_line}\n");
    assert_eq!(verifier.verify(cosigned.as_bytes()).unwrap().root, root);
    let (body, sig) = note.split_once("\n\n").unwrap();
    let first = format!("{body}\n\n{witness_line}\n{sig}");
    assert_eq!(verifier.verify(first.as_bytes()).unwrap().root, root);
    // Only the witness: not ours.
    let only_witness = format!("{body}\n\n{witness_line}\n");
    assert!(verifier.verify(only_witness.as_bytes()).is_err());
    // Another log's checkpoint under the same key name is refused.
    let other = CheckpointSigner::new(
        "log.example/a",
        ed25519_dalek::SigningKey::from_bytes(&[8; 32]),
    )
    .unwrap();
    assert!(verifier.verify(other.sign(root).as_bytes()).is_err());
    for garbage in [
        "",
        "\n\n",
        "log.example/a\n3\n",
        "x\n\n\u{2014} y z\n",
        "log.example/a\nthree\nAAAA\n\n",
    ] {
        assert!(verifier.verify(garbage.as_bytes()).is_err(), "{garbage:?}");
    }
    for vkey in [
        "",
        "a+b+c",
        "name+00000000+AQ==",
        "name+zzzzzzzz+AQ==",
        &signer.vkey().replace("+A", "+B"),
    ] {
        assert!(CheckpointVerifier::from_vkey(vkey).is_err(), "{vkey:?}");
    }
}

#[test]
fn vkeys_round_trip_for_many_keys() {
    // Base64 keys often contain '+', the vkey's own separator.
    let mut with_plus = 0;
    for seed in 0..200u8 {
        let signer = CheckpointSigner::new(
            "log.example/aid",
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        )
        .unwrap();
        let vkey = signer.vkey();
        with_plus += usize::from(vkey.matches('+').count() > 2);
        let verifier = CheckpointVerifier::from_vkey(&vkey).unwrap();
        let root = RootHash {
            size: u64::from(seed),
            hash: Hash::new([seed; 32]),
        };
        assert_eq!(
            verifier.verify(signer.sign(root).as_bytes()).unwrap().root,
            root
        );
    }
    assert!(with_plus > 0, "no key exercised a '+' in base64");
}
