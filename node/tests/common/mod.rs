//! Helpers shared by the node's tests.
#![allow(dead_code)]

use ledger::checkpoint::CheckpointVerifier;
use ledger::merkle::{Hash, RootHash};
use serde_json::Value;

/// The shared vector ledger (copied to tests/vectors/).
pub fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../tests/vectors/ledger.json")).unwrap()
}

/// Checks a receipt offline: the checkpoint's signature, then the inclusion
/// proof against it. Returns the checkpoint's tree head.
pub fn check_receipt(verifier: &CheckpointVerifier, r: &Value) -> RootHash {
    let cp = verifier
        .verify(r["checkpoint"].as_str().unwrap().as_bytes())
        .unwrap();
    let path: Vec<Hash> = r["inclusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    let leaf: Hash = r["leaf_hash"].as_str().unwrap().parse().unwrap();
    cp.root
        .verify_inclusion(&leaf, r["seq"].as_u64().unwrap(), &path)
        .unwrap();
    cp.root
}
