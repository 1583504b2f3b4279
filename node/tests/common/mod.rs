//! Helpers shared by the node's tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod rig;

use ledger::checkpoint::CheckpointVerifier;
use ledger::merkle::{Hash, RootHash};
use serde_json::Value;

/// The shared vector ledger (copied to tests/vectors/).
pub fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../tests/vectors/ledger.json")).unwrap()
}

/// The vector ledger's five signed entries, each as a submission body.
pub fn vector_entries() -> Vec<Vec<u8>> {
    vectors()["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::to_vec(&l["entry"]).unwrap())
        .collect()
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

/// `aidledger` (the CLI, which serves witnesses), built beside this binary
/// by `cargo build --workspace --bins` (scripts/test.sh builds it first).
pub fn cli_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_aidledger-node")).with_file_name("aidledger");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace's binaries first",
        bin.display()
    );
    bin
}

/// A witness for the demo log: `aidledger witness init` and `add-log`, then
/// served on a free port. Returns its vkey, address and process.
pub fn witness(dir: &Path, name: &str, log_vkey: &str) -> (String, SocketAddr, testkit::Killed) {
    witness_of(dir, name, "demo.aidledger.local/aid/2026", log_vkey)
}

/// A witness of the log `origin` (see [`witness`]).
pub fn witness_of(
    dir: &Path,
    name: &str,
    origin: &str,
    log_vkey: &str,
) -> (String, SocketAddr, testkit::Killed) {
    let run = |args: &[&str]| {
        let out = Command::new(cli_bin()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let d = dir.to_str().unwrap();
    run(&["witness", "init", "--name", name, "--dir", d]);
    // The vkey as `witness init` writes it for the node's operator.
    let vkey = std::fs::read_to_string(dir.join("witness.vkey"))
        .unwrap()
        .trim()
        .to_owned();
    run(&[
        "witness", "add-log", "--dir", d, "--origin", origin, "--vkey", log_vkey,
    ]);
    let addr = testkit::free_addr();
    let process = testkit::Killed(testkit::spawn_listening(
        Command::new(cli_bin())
            .args([
                "witness",
                "serve",
                "--dir",
                d,
                "--listen",
                &addr.to_string(),
            ])
            .stderr(Stdio::null()),
    ));
    (vkey, addr, process)
}

/// The demo charity, whose key (seed `[2; 32]`) is public.
pub const CHARITY: &str = "CN-USCI-53440300MJ0000018R";

/// An entry of `kind` with `body`, signed by the demo charity.
pub fn charity_entry(kind: ledger::domain::Kind, nonce: &str, body: Value) -> ledger::SignedEntry {
    ledger::SignedEntry::create(
        &ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
        CHARITY,
        kind,
        nonce,
        "2026-11-28T09:00:00Z",
        body,
    )
    .unwrap()
}

/// A credit award of 2 points to a test volunteer, by the demo charity.
pub fn award_entry(nonce: &str) -> ledger::SignedEntry {
    charity_entry(
        ledger::domain::Kind::CreditAward,
        nonce,
        serde_json::json!({"holder": format!("vol_{}", "ab".repeat(32)), "points": 2, "reason": "志愿服务"}),
    )
}

/// POSTs `entry` to `/v1/entries`.
pub fn post(addr: SocketAddr, entry: &ledger::SignedEntry) -> testkit::Answer {
    testkit::http(
        addr,
        "POST",
        "/v1/entries",
        &serde_json::to_vec(entry).unwrap(),
    )
}

/// Submits `entry`, which must be accepted (201); returns its seq.
pub fn submit(addr: SocketAddr, entry: &ledger::SignedEntry) -> u64 {
    let a = post(addr, entry);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    serde_json::from_slice::<Value>(&a.body).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

/// Submits an award (see [`award_entry`]); returns its seq.
pub fn award(addr: SocketAddr, nonce: &str) -> u64 {
    submit(addr, &award_entry(nonce))
}

/// The first volunteer (`vol_…`) among the holders of a `/v1/credits` page.
pub fn first_volunteer(holders: &Value) -> String {
    holders["items"]
        .as_array()
        .expect("a page of credit holders")
        .iter()
        .filter_map(|h| h["holder"].as_str())
        .find(|h| h.starts_with("vol_"))
        .expect("a volunteer among them")
        .to_owned()
}
