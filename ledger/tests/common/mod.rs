//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use ledger::entry::{PublicKey, SignedEntry, Statement};
use serde_json::json;

/// A deterministic test key.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A signed entry whose body carries `i` (so every entry is distinct) and
/// `pad` bytes of text, signed by `key(k)`.
pub fn entry(k: u8, i: u64, pad: usize) -> SignedEntry {
    let signer = key(k);
    Statement {
        v: 1,
        kind: "disbursement".into(),
        issuer: "CN-USCI-53440300MJ0000018R".into(),
        key: PublicKey(signer.verifying_key().to_bytes()),
        nonce: format!("n-{i}"),
        issued_at: "2026-11-21T08:30:00Z".into(),
        body: json!({"amount": i as i64 + 1, "note": "x".repeat(pad), "fund": "F-1"}),
    }
    .sign(&signer)
    .unwrap()
}
