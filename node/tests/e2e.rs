//! End to end: the real `aidledger-node` binary on a free loopback port.
//! The shared vector ledger goes in; then 32 clients submit 300 entries each
//! at once. Every 2xx receipt verifies with `/v1/log`'s vkey, every entry is
//! in the export exactly once, seqs are gapless and the chain verifies. The
//! node stops cleanly on SIGTERM and serves the same log after a restart.
//! A node whose disk fills up mid-run acknowledges only what it wrote: after
//! a restart every acknowledged entry is in the log, and it appends again.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

use ed25519_dalek::SigningKey;
use ledger::checkpoint::CheckpointVerifier;
use ledger::entry::SignedEntry;
use ledger::verify::ChainVerifier;
use serde_json::{json, Value};

mod common;

use common::{check_receipt, vectors};
use testkit::free_addr;

/// Minimal HTTP/1.1 over a fresh connection: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let len =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + len]);
        b = &b[line_end + 2 + len + 2..];
    }
}

fn spawn(data: &std::path::Path, addr: SocketAddr) -> Child {
    spawn_limited(data, addr, None)
}

/// The node, with its files limited to `max_file_kib` if given (a disk
/// that fills up: writes past the limit fail with EFBIG, SIGXFSZ ignored).
fn spawn_limited(data: &std::path::Path, addr: SocketAddr, max_file_kib: Option<u64>) -> Child {
    let node = env!("CARGO_BIN_EXE_aidledger-node");
    let serve = [
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &addr.to_string(),
        "--origin",
        "test.example/aid",
    ];
    let mut command = match max_file_kib {
        None => Command::new(node),
        Some(kib) => {
            // `ulimit -f` counts 512-byte blocks.
            let mut c = Command::new("sh");
            c.args([
                "-c",
                r#"trap '' XFSZ; ulimit -S -f "$1"; shift; exec "$@""#,
                "sh",
            ])
            .arg((kib * 2).to_string())
            .arg(node);
            c
        }
    };
    testkit::spawn_listening(command.args(serve).stderr(Stdio::null()))
}

/// Verifies the node's whole export (chain, and root against its signed
/// checkpoint) and that it holds each acknowledged `(seq, leaf hash)`;
/// returns the checkpoint's root.
fn export_holds(
    addr: SocketAddr,
    verifier: &CheckpointVerifier,
    acked: &[(u64, String)],
) -> ledger::merkle::RootHash {
    let (_, cp) = http(addr, "GET", "/v1/checkpoint", b"");
    let head = verifier.verify(&cp).unwrap().root;
    let mut chain = ChainVerifier::new();
    let mut hashes = Vec::new();
    let mut start = 0;
    while start < head.size {
        let (status, page) = http(
            addr,
            "GET",
            &format!("/v1/entries?start={start}&limit={}", node::MAX_BATCH),
            b"",
        );
        assert_eq!(status, 200);
        for line in page.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            chain.push(line).unwrap();
            hashes.push(ledger::merkle::leaf_hash(line).to_hex());
            start += 1;
        }
    }
    chain.finish(&head).unwrap();
    for (seq, hash) in acked {
        assert_eq!(hashes.get(*seq as usize), Some(hash), "seq {seq}");
    }
    head
}

/// A credit award by the vectors' charity (seed 2 holds the credit role).
fn award(n: u64) -> SignedEntry {
    let charity = SigningKey::from_bytes(&[2; 32]);
    let body = json!({"holder": format!("vol_{:064x}", n % 50), "points": 1, "reason": "志愿服务"});
    SignedEntry::create(
        &charity,
        "CN-USCI-53440300MJ0000018R",
        ledger::domain::Kind::CreditAward,
        &format!("award-{n}"),
        "2026-03-01T09:00:00Z",
        body,
    )
    .unwrap()
}

/// The disk fills up under a running node (its files may not grow past 3
/// MiB, so its WAL soon cannot): the write that fails is answered
/// `internal` and nothing unwritten is acknowledged. Restarted with room,
/// the node serves a log holding every acknowledged entry, whose chain and
/// root verify, and appends again.
#[test]
fn a_full_disk_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut node = spawn_limited(dir.path(), addr, Some(3 * 1024));
    let (_, info) = http(addr, "GET", "/v1/log", b"");
    let info: Value = serde_json::from_slice(&info).unwrap();
    let verifier = CheckpointVerifier::from_vkey(info["vkey"].as_str().unwrap()).unwrap();
    for l in vectors()["leaves"].as_array().unwrap() {
        let body = serde_json::to_vec(&l["entry"]).unwrap();
        assert_eq!(http(addr, "POST", "/v1/entries", &body).0, 201);
    }
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut failed = 0;
    let mut next = 0;
    // Arrays of 250 (~1.5 KiB of WAL an entry) until three have failed.
    while failed < 3 && next < 20_000 {
        let batch: Vec<SignedEntry> = (next..next + 250).map(award).collect();
        next += 250;
        let (status, body) = http(
            addr,
            "POST",
            "/v1/entries",
            &serde_json::to_vec(&batch).unwrap(),
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        if status == 200 {
            for r in body["results"].as_array().unwrap() {
                check_receipt(&verifier, r);
                acked.push((
                    r["seq"].as_u64().unwrap(),
                    r["leaf_hash"].as_str().unwrap().to_owned(),
                ));
            }
        } else {
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (500, Some("internal")),
                "{body}"
            );
            failed += 1;
        }
    }
    assert!(failed > 0, "the file size limit was never reached");
    assert!(!acked.is_empty(), "nothing was written before the limit");
    // Still answering reads after the failure.
    assert_eq!(http(addr, "GET", "/v1/checkpoint", b"").0, 200);
    // The fault clears (the soft file size limit lifted on the running node):
    // it appends again without a restart.
    let pid = rustix::process::Pid::from_raw(node.id() as i32).unwrap();
    rustix::process::prlimit(
        Some(pid),
        rustix::process::Resource::Fsize,
        rustix::process::Rlimit {
            current: None,
            maximum: None,
        },
    )
    .unwrap();
    let (status, r) = http(
        addr,
        "POST",
        "/v1/entries",
        &serde_json::to_vec(&award(next)).unwrap(),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&r));
    next += 1;
    node.kill().unwrap();
    node.wait().unwrap();

    let addr = free_addr();
    let mut node = spawn(dir.path(), addr);
    let head = export_holds(addr, &verifier, &acked);
    // A failed write may or may not have reached the disk; an acknowledged
    // one always has.
    assert!(head.size >= 5 + acked.len() as u64);
    let (status, r) = http(
        addr,
        "POST",
        "/v1/entries",
        &serde_json::to_vec(&award(next)).unwrap(),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&r));
    let r: Value = serde_json::from_slice(&r).unwrap();
    assert_eq!(r["seq"].as_u64(), Some(head.size));
    node.kill().unwrap();
    node.wait().unwrap();
}

#[test]
fn a_real_node_under_concurrent_load() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut node = spawn(dir.path(), addr);
    let (_, info) = http(addr, "GET", "/v1/log", b"");
    let info: Value = serde_json::from_slice(&info).unwrap();
    let verifier = CheckpointVerifier::from_vkey(info["vkey"].as_str().unwrap()).unwrap();

    let v = vectors();
    for l in v["leaves"].as_array().unwrap() {
        let (status, r) = http(
            addr,
            "POST",
            "/v1/entries",
            &serde_json::to_vec(&l["entry"]).unwrap(),
        );
        assert_eq!(status, 201);
        check_receipt(&verifier, &serde_json::from_slice(&r).unwrap());
    }

    // 32 clients × 300 credit awards by the charity (seed 2 has the credit role).
    let charity = SigningKey::from_bytes(&[2; 32]);
    let clients: Vec<_> = (0..32u64)
        .map(|c| {
            let charity = charity.clone();
            let verifier = verifier.clone();
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                for i in 0..300u64 {
                    let body = json!({"holder": format!("vol_{:064x}", c), "points": 1, "reason": "志愿服务"});
                    let nonce = format!("c{c}-{i}");
                    let entry = SignedEntry::create(&charity, "CN-USCI-53440300MJ0000018R", ledger::domain::Kind::CreditAward, &nonce, "2026-03-01T09:00:00Z", body)
                        .unwrap();
                    let (status, r) = http(addr, "POST", "/v1/entries", &serde_json::to_vec(&entry).unwrap());
                    if status == 503 {
                        continue; // overloaded: not acknowledged, not counted
                    }
                    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&r));
                    let r: Value = serde_json::from_slice(&r).unwrap();
                    check_receipt(&verifier, &r);
                    seqs.push((r["seq"].as_u64().unwrap(), r["leaf_hash"].as_str().unwrap().to_owned()));
                }
                seqs
            })
        })
        .collect();
    let mut acked: Vec<(u64, String)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    acked.sort();
    assert!(
        acked.len() > 9_000,
        "only {} of 9600 acknowledged",
        acked.len()
    );
    assert!(
        acked.windows(2).all(|w| w[0].0 < w[1].0),
        "a seq was given twice"
    );

    // The export holds every acknowledged entry exactly once, gapless, and verifies.
    let head = export_holds(addr, &verifier, &acked);

    // SIGTERM: a clean stop; a restart serves the same log.
    let pid = node.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(node.wait().unwrap().success());
    let addr = free_addr();
    let mut node = spawn(dir.path(), addr);
    let (_, cp2) = http(addr, "GET", "/v1/checkpoint", b"");
    assert_eq!(verifier.verify(&cp2).unwrap().root, head);
    node.kill().unwrap();
    node.wait().unwrap();
}
