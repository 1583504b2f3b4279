//! Witness benchmark (issue 17): `add-checkpoint` requests a second that
//! one `aidledger witness serve` process answers for many logs at once,
//! each request a new checkpoint with its consistency proof, each answer
//! after the witness's state for that log was replaced durably.
//!
//! `cargo bench -p cli --bench witness [-- LOGS [SECONDS]]` (default 64
//! logs, 5 s). Build the workspace's binaries first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use ledger::checkpoint::CheckpointSigner;
use ledger::merkle::{leaf_hash, prove_consistency, MemTree};
use ledger::witness::AddCheckpoint;

/// One keep-alive connection sending `add-checkpoint` requests.
struct Conn {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn {
            reader: BufReader::new(TcpStream::connect(addr).unwrap()),
            addr,
        }
    }

    fn post(&mut self, body: &[u8]) -> u16 {
        let s = self.reader.get_mut();
        write!(
            s,
            "POST /add-checkpoint HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        status
    }
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let logs = args.next().unwrap_or(64);
    let seconds = args.next().unwrap_or(5);
    let bin = Path::new(env!("CARGO_BIN_EXE_aidledger")).to_path_buf();
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let wdir = dir.path().join("w");
    let run = |args: &[&str]| {
        let out = Command::new(&bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "witness",
        "init",
        "--name",
        "bench.witness",
        "--dir",
        wdir.to_str().unwrap(),
    ]);
    let signers: Vec<CheckpointSigner> = (0..logs)
        .map(|i| {
            let s = CheckpointSigner::new(
                &format!("bench.example/log{i}"),
                SigningKey::from_bytes(&[(i % 250) as u8 + 1; 32]),
            )
            .unwrap();
            run(&[
                "witness",
                "add-log",
                "--dir",
                wdir.to_str().unwrap(),
                "--origin",
                s.origin(),
                "--vkey",
                &s.vkey(),
            ]);
            s
        })
        .collect();
    let addr = testkit::free_addr();
    let mut child = Command::new(&bin)
        .args([
            "witness",
            "serve",
            "--dir",
            wdir.to_str().unwrap(),
            "--listen",
            &addr.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    // One growing tree serves every log (their keys differ).
    let mut tree = MemTree::new();
    let max = 4 * 1024u64;
    for i in 0..max {
        tree.push(leaf_hash(&i.to_be_bytes()));
    }
    let done = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        for s in &signers {
            let (tree, done) = (&tree, &done);
            scope.spawn(move || {
                let mut conn = Conn::new(addr);
                let mut old = 0;
                let mut size = 1;
                while Instant::now() < deadline && size < max {
                    let root = ledger::merkle::root_at(tree, size).unwrap();
                    let proof = if old == 0 {
                        Vec::new()
                    } else {
                        prove_consistency(tree, old, size).unwrap()
                    };
                    let body = AddCheckpoint {
                        old,
                        proof,
                        note: s.sign(root).into_bytes(),
                    }
                    .to_bytes();
                    assert_eq!(conn.post(&body), 200);
                    done.fetch_add(1, Ordering::Relaxed);
                    old = size;
                    size += 1;
                }
            });
        }
    });
    let n = done.load(Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "witness add-checkpoint: {:.0} requests/s ({n} in {seconds} s, {logs} logs at once, each answered after its state was replaced durably)",
        n as f64 / seconds as f64
    );
}

use std::path::Path;
