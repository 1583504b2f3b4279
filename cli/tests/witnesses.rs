//! The node with three real witness processes and a 2-of-3 policy: every
//! checkpoint it publishes carries at least two valid cosignatures; with one
//! witness killed the quorum holds; with two down appends go on and the
//! published checkpoint stays at the last witnessed one; when one returns,
//! publication resumes.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use base64::prelude::{Engine, BASE64_STANDARD};
use common::{cli, ok};
use ed25519_dalek::SigningKey;
use ledger::checkpoint::CheckpointSigner;
use ledger::witness::{stated_checkpoint, Policy, WitnessVerifier};

const ORIGIN: &str = "demo.aidledger.local/aid/2026";
const CHARITY: &str = "CN-USCI-53440300MJ0000018R";

fn node_bin() -> std::path::PathBuf {
    Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name("aidledger-node")
}

fn witness(dir: &Path, addr: SocketAddr) -> testkit::Killed {
    common::serve_witness(dir, addr)
}

fn kill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The published checkpoint (None while none met the quorum).
fn published(node: SocketAddr) -> Option<String> {
    match testkit::http_get(node, "/checkpoint") {
        (200, note) => Some(String::from_utf8(note).unwrap()),
        (404, _) => None,
        (status, body) => panic!("{status}: {}", String::from_utf8_lossy(&body)),
    }
}

fn log_size(node: SocketAddr) -> u64 {
    let (_, body) = testkit::http_get(node, "/v1/log");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["size"].as_u64().unwrap()
}

/// Waits (up to 20 s) until the published checkpoint covers `size`; returns it.
fn published_at_least(node: SocketAddr, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(note) = published(node) {
            if stated_checkpoint(note.as_bytes()).unwrap().root.size >= size {
                return note;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no witnessed checkpoint of size {size}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every published checkpoint meets the policy, and its cosignature lines
/// decode by hand: key id, timestamp, signature over the cosigned message.
fn check_witnessed(policy: &Policy, vkeys: &[String], note: &str) {
    let ok = policy.verify(note.as_bytes()).unwrap();
    assert!(ok.cosignatures.len() >= 2, "{ok:?}");
    let body = ok.checkpoint.body();
    let mut valid = 0;
    for vkey in vkeys {
        let v = WitnessVerifier::from_vkey(vkey).unwrap();
        for line in note.lines() {
            let Some(b64) = line.strip_prefix(&format!("\u{2014} {} ", v.name())) else {
                continue;
            };
            let blob = BASE64_STANDARD.decode(b64).unwrap();
            assert_eq!(blob[..4], v.id().to_be_bytes());
            v.verify(&body, &blob[4..]).unwrap();
            valid += 1;
        }
    }
    assert!(valid >= 2, "{note}");
}

/// Appends `n` credit awards (demo keys are public) and returns the log's size.
fn append(node: SocketAddr, n: usize, tag: &str) -> u64 {
    for i in 0..n {
        let entry = award(&format!("witness-test-{tag}-{i}"), "ab", 5);
        let a = testkit::http(
            node,
            "POST",
            "/v1/entries",
            &serde_json::to_vec(&entry).unwrap(),
        );
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    log_size(node)
}

/// A credit award by the demo charity (its key is public) to the volunteer
/// `vol_` + `hex` × 32, with nonce `nonce`.
fn award(nonce: &str, hex: &str, points: u64) -> ledger::SignedEntry {
    ledger::SignedEntry::create(
        &SigningKey::from_bytes(&[2; 32]),
        CHARITY,
        ledger::domain::Kind::CreditAward,
        nonce,
        "2026-03-01T09:00:00Z",
        serde_json::json!({"holder": format!("vol_{}", hex.repeat(32)), "points": points, "reason": "志愿服务"}),
    )
    .unwrap()
}

#[test]
fn a_node_publishes_only_checkpoints_its_witnesses_cosigned() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        data,
        log_vkey,
        mut witnesses,
        vkeys,
        policy_path,
        policy,
    } = setup(dir.path());
    let addr = testkit::free_addr();
    let mut node = testkit::demo(
        &node_bin(),
        &data,
        addr,
        &[
            "--witness-policy",
            policy_path.to_str().unwrap(),
            "--witness-interval",
            "0.2",
        ],
    );
    // The demo ledger, witnessed by all three.
    let size = log_size(addr);
    let note = published_at_least(addr, size);
    check_witnessed(&policy, &vkeys, &note);
    assert_eq!(
        policy.verify(note.as_bytes()).unwrap().cosignatures.len(),
        3
    );

    // The CLI insists on the policy: the whole ledger verifies against the
    // witnessed checkpoint.
    let url = format!("http://{addr}");
    let policy_arg = policy_path.to_str().unwrap();
    ok(
        &[
            "verify",
            "--node",
            &url,
            "--vkey",
            &log_vkey,
            "--policy",
            policy_arg,
            "--max-age",
            "600",
        ],
        None,
    );

    // `submit --policy` waits for the witnessed checkpoint that covers the
    // entry; its receipt then passes `check-receipt --policy`.
    let entry = award("witness-test-submit", "ef", 2);
    let entry_path = dir.path().join("entry.json");
    std::fs::write(&entry_path, serde_json::to_vec(&entry).unwrap()).unwrap();
    let out = ok(
        &[
            "submit",
            "--node",
            &url,
            "--vkey",
            &log_vkey,
            "--policy",
            policy_arg,
            entry_path.to_str().unwrap(),
        ],
        None,
    );
    let witnessed_receipt = dir.path().join("witnessed-receipt.json");
    std::fs::write(&witnessed_receipt, out.stdout.trim()).unwrap();
    ok(
        &[
            "check-receipt",
            "--vkey",
            &log_vkey,
            "--policy",
            policy_arg,
            "--entry",
            entry_path.to_str().unwrap(),
            witnessed_receipt.to_str().unwrap(),
        ],
        None,
    );

    // One witness SIGKILLed: two still make the quorum.
    kill(&mut witnesses[0].2);
    let size = append(addr, 5, "a");
    let note = published_at_least(addr, size);
    check_witnessed(&policy, &vkeys, &note);
    // A policy that wants all three refuses it, naming the one missing.
    let all = std::fs::read_to_string(&policy_path).unwrap().replace(
        "quorum two-of-three",
        "group all-three all audit discipline university\nquorum all-three",
    );
    let all_path = dir.path().join("policy-all");
    std::fs::write(&all_path, all).unwrap();
    let out = cli(
        &[
            "prove",
            "--node",
            &url,
            "--vkey",
            &log_vkey,
            "--policy",
            all_path.to_str().unwrap(),
            "5",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("missing audit"), "{}", out.stderr);
    // A receipt carries the node's own checkpoint: not a witnessed one.
    let entry = award("witness-test-receipt", "cd", 1);
    let a = testkit::http(
        addr,
        "POST",
        "/v1/entries",
        &serde_json::to_vec(&entry).unwrap(),
    );
    assert_eq!(a.status, 201);
    let receipt_path = dir.path().join("receipt.json");
    std::fs::write(&receipt_path, &a.body).unwrap();
    let receipt_arg = receipt_path.to_str().unwrap();
    ok(&["check-receipt", "--vkey", &log_vkey, receipt_arg], None);
    let out = cli(
        &[
            "check-receipt",
            "--vkey",
            &log_vkey,
            "--policy",
            policy_arg,
            receipt_arg,
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("lacks the witness quorum"),
        "{}",
        out.stderr
    );

    // Two down: appends go on, the published checkpoint stays behind.
    kill(&mut witnesses[1].2);
    // A round that began before the kill may still publish (the receipt's
    // entry above): what is published once it has ended is what must stay.
    std::thread::sleep(Duration::from_millis(1500));
    let witnessed = stated_checkpoint(published(addr).unwrap().as_bytes())
        .unwrap()
        .root
        .size;
    assert!(witnessed >= stated_checkpoint(note.as_bytes()).unwrap().root.size);
    let size = append(addr, 5, "b");
    std::thread::sleep(Duration::from_millis(1500));
    let stuck = published(addr).unwrap();
    assert_eq!(
        stated_checkpoint(stuck.as_bytes()).unwrap().root.size,
        witnessed
    );
    assert!(size > witnessed);
    let (_, metrics) = testkit::http_get(addr, "/metrics");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("aidledger_witness_lag_entries{witness=\"discipline\"}"),
        "{metrics}"
    );

    // One returns: publication resumes, at the log's size.
    let (wdir, waddr, _) = &witnesses[1];
    witnesses[1].2 = witness(wdir, *waddr);
    let note = published_at_least(addr, size);
    check_witnessed(&policy, &vkeys, &note);
    let (status, _) = testkit::http_get(addr, "/healthz");
    assert_eq!(status, 200);
    kill(&mut node);
    for (_, _, w) in &mut witnesses {
        let _ = w.kill();
        let _ = w.wait();
    }
}

/// Three witnesses trusting a node key made beforehand, serving, and the
/// 2-of-3 policy naming them.
struct Setup {
    data: std::path::PathBuf,
    log_vkey: String,
    witnesses: Vec<(std::path::PathBuf, SocketAddr, testkit::Killed)>,
    vkeys: Vec<String>,
    policy_path: std::path::PathBuf,
    policy: Policy,
}

fn setup(dir: &Path) -> Setup {
    // The node's key, made beforehand so that the witnesses can trust it.
    let data = dir.join("node");
    std::fs::create_dir_all(&data).unwrap();
    let node_key = ledger::keyfile::create(&data.join("node.key")).unwrap();
    let log_vkey = CheckpointSigner::new(ORIGIN, node_key).unwrap().vkey();
    let mut witnesses = Vec::new();
    let mut vkeys = Vec::new();
    let mut policy = format!("log {log_vkey}\n");
    for name in ["audit", "discipline", "university"] {
        let wdir = dir.join(name);
        let vkey = common::new_witness(&wdir, &format!("{name}.witness.test"), ORIGIN, &log_vkey);
        let addr = testkit::free_addr();
        policy.push_str(&format!("witness {name} {vkey} http://{addr}\n"));
        witnesses.push((wdir.clone(), addr, witness(&wdir, addr)));
        vkeys.push(vkey);
    }
    policy.push_str("group two-of-three 2 audit discipline university\nquorum two-of-three\n");
    let policy_path = dir.join("policy");
    std::fs::write(&policy_path, &policy).unwrap();
    let policy = Policy::parse(&policy).unwrap();

    Setup {
        data,
        log_vkey,
        witnesses,
        vkeys,
        policy_path,
        policy,
    }
}

/// A forked node: the same key, the same demo, then another entry than the
/// honest node's at the same seq. Its checkpoint lacks the quorum for the
/// CLI with `--policy`; a monitor pointed at it gossips it to the
/// witnesses, which refuse it (422) and keep it as evidence, and the
/// monitor stops naming the fork.
#[test]
fn a_forked_node_never_gets_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        data,
        log_vkey,
        mut witnesses,
        policy_path,
        ..
    } = setup(dir.path());
    let policy_arg = policy_path.to_str().unwrap();
    // The honest node, witnessed at one more entry than the demo.
    let honest = testkit::free_addr();
    let mut a = testkit::demo(
        &node_bin(),
        &data,
        honest,
        &["--witness-policy", policy_arg, "--witness-interval", "0.2"],
    );
    let size = append(honest, 1, "honest");
    published_at_least(honest, size);
    // The forger: a copy of the key, its own demo store, another entry.
    let forged_data = dir.path().join("forged");
    std::fs::create_dir_all(&forged_data).unwrap();
    std::fs::copy(data.join("node.key"), forged_data.join("node.key")).unwrap();
    let forged = testkit::free_addr();
    let mut b = testkit::demo(&node_bin(), &forged_data, forged, &[]);
    assert_eq!(append(forged, 1, "forged"), size);
    let url = format!("http://{forged}");
    // The CLI with the policy refuses the forged checkpoint.
    let out = cli(
        &[
            "verify", "--node", &url, "--vkey", &log_vkey, "--policy", policy_arg,
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("lacks the witness quorum"),
        "{}",
        out.stderr
    );
    // A monitor shown the forged history gossips it and stops on the fork.
    let out = cli(
        &[
            "monitor",
            "--node",
            &url,
            "--vkey",
            &log_vkey,
            "--policy",
            policy_arg,
            "--interval",
            "1",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("saw another history"), "{}", out.stderr);
    // Every witness that was up keeps it as evidence, at the fork's size.
    for (wdir, _, w) in &mut witnesses {
        let out = ok(
            &["witness", "evidence", "--dir", wdir.to_str().unwrap()],
            None,
        );
        assert!(
            out.stdout.contains(&format!("size {size}")),
            "{}",
            out.stdout
        );
        let _ = w.kill();
        let _ = w.wait();
    }
    kill(&mut a);
    kill(&mut b);
}
