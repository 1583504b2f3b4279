//! A small end-to-end run of the ledger core on an on-disk RocksDB store:
//! sign entries, sequence them in commit groups, sign a checkpoint, prove and
//! verify inclusion and consistency, and audit the whole chain. It stands in
//! for the node (`aidledger-node demo`) until that exists.
//!
//! `cargo run --release -p ledger --example demo [-- DATA_DIR]` (default ./demo-data).

use std::time::SystemTime;

use ed25519_dalek::SigningKey;
use ledger::checkpoint::{CheckpointSigner, CheckpointVerifier};
use ledger::entry::{PublicKey, SignedEntry, Statement};
use ledger::store::{Log, RocksBackend};
use ledger::verify::ChainVerifier;
use serde_json::json;

/// Demo keys: fixed seeds, public in this file. Never use them for real.
fn demo_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn disbursement(key: &SigningKey, i: u64) -> SignedEntry {
    Statement {
        v: 1,
        kind: "disbursement".into(),
        issuer: "CN-USCI-53440300MJ0000018R".into(),
        key: PublicKey(key.verifying_key().to_bytes()),
        nonce: format!("demo-{i:06}"),
        issued_at: ledger::entry::format_timestamp(SystemTime::now()),
        body: json!({
            "fund": "CHA-2026-MED-01", "tier": "vulnerable", "cause": "illness",
            "amount": 30_000 + i as i64, "method": "cash", "region": "321181", "date": "2026-02-01",
            "beneficiary": format!("bnf_{:064x}", i),
        }),
    }
    .sign(key)
    .expect("demo statements are canonical")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "demo-data".into());
    let mut log = Log::open(RocksBackend::open(dir.as_ref())?)?;
    let before = log.head().root;
    println!("store {dir}: {} leaves before this run", before.size);

    let charity = demo_key(2);
    let start = log.size();
    for group in 0..5u64 {
        let entries = (0..200)
            .map(|j| disbursement(&charity, start + group * 200 + j))
            .collect();
        log.append(entries, SystemTime::now())?;
    }
    let head = log.head().root;
    println!(
        "appended 1000 entries in 5 commit groups (one fsync each); size {}",
        head.size
    );

    let signer = CheckpointSigner::new("ledger.example.org/aid/demo", demo_key(3))?;
    let note = signer.sign(head);
    let verifier = CheckpointVerifier::from_vkey(&signer.vkey())?;
    println!("vkey {}\ncheckpoint:\n{note}", signer.vkey());
    let checkpoint = verifier.verify(note.as_bytes())?;

    let seq = head.size / 3;
    let path = log.prove_inclusion(seq, head.size)?;
    let leaf = log.leaf_hash(seq)?.expect("seq < size");
    checkpoint.root.verify_inclusion(&leaf, seq, &path)?;
    println!(
        "inclusion of seq {seq}: {} hashes, verified against the checkpoint",
        path.len()
    );
    if before.size > 0 {
        let path = log.prove_consistency(before.size, head.size)?;
        checkpoint.root.verify_consistency(&before, &path)?;
        println!(
            "consistency {} -> {}: {} hashes, verified",
            before.size,
            head.size,
            path.len()
        );
    }

    let mut audit = ChainVerifier::new();
    let mut failure = None;
    log.scan(0, &mut |_, bytes| match audit.push(bytes) {
        Ok(_) => true,
        Err(e) => {
            failure = Some(e);
            false
        }
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let root = audit.finish(&checkpoint.root)?;
    println!(
        "audit: {} leaves, signatures, hash chain and root all verify",
        root.size
    );
    Ok(())
}
