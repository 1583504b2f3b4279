//! Fuzzing the ledger's parsers (issue 19) with structured mutation of
//! valid seeds (`testkit::fuzz`): strict JSON and its canonical form,
//! submitted entries, leaves, checkpoints and signed notes, the witness's
//! add-checkpoint body, tile paths, witness policies and Merkle proofs. No
//! input may panic or hang; what parses must round-trip, and nothing that
//! differs from a signed original may verify.
//!
//! `FUZZ_CASES` sets the cases per target (default 512; the long form is
//! 100,000).

use ledger::checkpoint::CheckpointVerifier;
use ledger::merkle::{Hash, RootHash};
use ledger::witness::{AddCheckpoint, Policy};
use proptest::prelude::*;
use serde_json::Value;
use testkit::fuzz::{config, mutated};

const CASES: u32 = 512;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/ledger.json")).unwrap()
}

fn leaves() -> Vec<Vec<u8>> {
    vectors()["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["leaf_bytes_utf8"].as_str().unwrap().as_bytes().to_vec())
        .collect()
}

fn entries() -> Vec<Vec<u8>> {
    let v = vectors();
    let mut out: Vec<Vec<u8>> = v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::to_vec(&l["entry"]).unwrap())
        .collect();
    out.push(serde_json::to_vec(&v["leaves"]).unwrap());
    out
}

fn checkpoint() -> Vec<u8> {
    vectors()["checkpoint"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn verifier() -> CheckpointVerifier {
    CheckpointVerifier::from_vkey(vectors()["node_vkey"].as_str().unwrap()).unwrap()
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Strict JSON: what parses has a canonical form that parses to the
    /// same value and is its own canonical form.
    #[test]
    fn strict_json_and_its_canonical_form(input in mutated(entries())) {
        if let Ok(value) = ledger::parse_strict(&input) {
            if let Ok(canonical) = ledger::canonical_json(&value) {
                let again = ledger::parse_strict(&canonical).expect("canonical JSON parses");
                prop_assert_eq!(&again, &value);
                prop_assert_eq!(ledger::canonical_json(&again).unwrap(), canonical);
            }
        }
    }

    /// A submitted entry is parsed, checked against the schema and its
    /// signature, or refused with a code; a changed entry never passes
    /// with a signature made for another statement.
    #[test]
    fn submitted_entries(input in mutated(entries())) {
        if let Ok(entry) = ledger::rules::check_submission(&input) {
            let originals = entries();
            let signed: Vec<Value> = originals.iter().map(|o| serde_json::from_slice(o).unwrap()).collect();
            let parsed: Value = serde_json::to_value(entry.entry()).unwrap();
            prop_assert!(signed.contains(&parsed), "a new statement verified: {parsed}");
        }
    }

    /// A leaf decodes only from its one canonical encoding.
    #[test]
    fn leaves_decode_only_canonically(input in mutated(leaves())) {
        if let Ok(leaf) = ledger::Leaf::from_bytes(&input) {
            prop_assert_eq!(leaf.to_bytes().unwrap(), input);
        }
    }

    /// A checkpoint verifies only as the node signed it.
    #[test]
    fn checkpoints_verify_only_as_signed(input in mutated(vec![checkpoint()])) {
        let v = verifier();
        if v.verify(&input).is_ok() {
            prop_assert_eq!(&input, &checkpoint());
        }
        let _ = ledger::witness::stated_checkpoint(&input);
    }

    /// The witness's add-checkpoint body parses or is refused; what parses
    /// serialises back to the same bytes.
    #[test]
    fn add_checkpoint_bodies(input in mutated(add_checkpoint_seeds())) {
        if let Ok(parsed) = AddCheckpoint::parse(&input) {
            prop_assert_eq!(parsed.to_bytes(), input);
        }
    }

    /// Tile paths (what follows `tile/`): what parses prints back as the
    /// same path.
    #[test]
    fn tile_paths(input in mutated(tile_seeds())) {
        if let Ok(text) = std::str::from_utf8(&input) {
            if let Some(t) = ledger::tiles::parse(text) {
                prop_assert_eq!(t.to_string(), format!("tile/{text}"));
            }
        }
    }

    /// Witness policies parse or are refused with a reason.
    #[test]
    fn policies(input in mutated(policy_seeds())) {
        if let Ok(text) = std::str::from_utf8(&input) {
            let _ = Policy::parse(text);
        }
    }

    /// Inclusion and consistency proofs: a changed proof (hashes flipped,
    /// cut or repeated) never verifies.
    #[test]
    fn changed_proofs_never_verify(input in mutated(vec![proof_seed()])) {
        let (root, old, leaf, path) = proof_parts();
        let hashes: Vec<Hash> = input.chunks_exact(32).map(|c| Hash::new(c.try_into().unwrap())).collect();
        let same = hashes == path;
        if root.verify_inclusion(&leaf, 3, &hashes).is_ok() {
            prop_assert!(same, "a changed inclusion proof verified");
        }
        let _ = root.verify_consistency(&old, &hashes);
    }
}

fn add_checkpoint_seeds() -> Vec<Vec<u8>> {
    let cp = String::from_utf8(checkpoint()).unwrap();
    let hash = "wcdYq33tSQVzdFpBIs+Zg1PazDBgC2krElxpff6l440=";
    vec![
        format!("old 0\n\n{cp}").into_bytes(),
        format!("old 3\n{hash}\n{hash}\n\n{cp}").into_bytes(),
    ]
}

fn tile_seeds() -> Vec<Vec<u8>> {
    [
        "0/000",
        "1/x001/234.p/7",
        "entries/x123/456",
        "0/x001/x234/067.p/8",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn policy_seeds() -> Vec<Vec<u8>> {
    let vkey = vectors()["node_vkey"].as_str().unwrap().to_string();
    vec![format!(
        "log {vkey} https://ledger.example.org/\nwitness w1 {vkey} https://w1.example.org/\ngroup g any w1\nquorum g\n"
    )
    .into_bytes()]
}

/// A tree of 7 leaves, the inclusion proof of leaf 3, and the root of its
/// first 4 leaves (for consistency).
fn proof_parts() -> (RootHash, RootHash, Hash, Vec<Hash>) {
    let mut tree = ledger::merkle::MemTree::new();
    let mut old = None;
    for i in 0..7u8 {
        tree.push(ledger::merkle::leaf_hash(&[i]));
        if i == 3 {
            old = Some(tree.root());
        }
    }
    let path = ledger::merkle::prove_inclusion(&tree, 3, 7).unwrap();
    (
        tree.root(),
        old.unwrap(),
        ledger::merkle::leaf_hash(&[3]),
        path,
    )
}

fn proof_seed() -> Vec<u8> {
    proof_parts().3.iter().flat_map(|h| *h.as_bytes()).collect()
}
