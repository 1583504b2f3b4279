//! Node with witnesses (issue 17): 1,000-entry batch appends to a demo node
//! with three loopback witnesses and a 2-of-3 policy, against the same node
//! without a policy, alternately; and the time from a batch's fsync (its
//! receipts) to the first witnessed checkpoint at `/checkpoint` that
//! covers it, at the default interval of 1 s.
//!
//! `cargo bench -p cli --bench witnessed [-- BATCHES]` (default 30 batches
//! of 1,000 per run, two runs each). Build the workspace's binaries first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ledger::checkpoint::CheckpointSigner;
use ledger::witness::stated_checkpoint;

// The node's benches build their batches the same way.
#[path = "../../node/benches/common/mod.rs"]
mod common;
use common::{batches, BATCH};

const ORIGIN: &str = "demo.aidledger.local/aid/2026";

fn bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name(name)
}

fn run(args: &[&str]) -> String {
    let out = Command::new(bin("aidledger")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn spawn(cmd: &mut Command) -> Child {
    testkit::spawn_listening(cmd.stderr(Stdio::null()))
}

/// Appends `batches` to the node at `addr`; returns entries/s and, with
/// witnesses, each batch's time from its fsync to the witnessed checkpoint
/// that covers it.
fn append(addr: SocketAddr, batches: &[Vec<u8>], witnessed: bool) -> (f64, Vec<Duration>) {
    let seen: Mutex<Vec<(u64, Instant)>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let size = AtomicU64::new(0);
    let mut acked: Vec<(u64, Instant)> = Vec::new();
    let start = Instant::now();
    std::thread::scope(|scope| {
        if witnessed {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    if let (200, note) = testkit::http_get(addr, "/checkpoint") {
                        let cp = stated_checkpoint(&note).unwrap();
                        seen.lock().unwrap().push((cp.root.size, Instant::now()));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
        for b in batches {
            let a = testkit::http(addr, "POST", "/v1/entries", b);
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
            let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
            let last = v["results"].as_array().unwrap().last().unwrap()["seq"]
                .as_u64()
                .unwrap();
            size.store(last + 1, Ordering::Relaxed);
            acked.push((last + 1, Instant::now()));
        }
        let rate = (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64();
        if witnessed {
            // Wait for the last batch to be witnessed.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let covered = seen
                    .lock()
                    .unwrap()
                    .last()
                    .is_some_and(|(s, _)| *s >= size.load(Ordering::Relaxed));
                if covered {
                    break;
                }
                if Instant::now() > deadline {
                    stop.store(true, Ordering::Relaxed);
                    panic!("the last batch was never witnessed");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        stop.store(true, Ordering::Relaxed);
        let seen = seen.lock().unwrap();
        let lags = acked
            .iter()
            .filter_map(|(s, t)| {
                seen.iter()
                    .find(|(w, _)| w >= s)
                    .map(|(_, at)| at.saturating_duration_since(*t))
            })
            .collect();
        (rate, lags)
    })
}

/// Three witnesses under `dir` trusting `log_vkey`, serving; returns the
/// 2-of-3 policy naming them.
fn start_witnesses(dir: &Path, log_vkey: &str, children: &mut Vec<Child>) -> String {
    let mut policy = format!("log {log_vkey}\n");
    for name in ["audit", "discipline", "university"] {
        let wdir = dir.join(name);
        let wd = wdir.to_str().unwrap();
        run(&[
            "witness",
            "init",
            "--name",
            &format!("{name}.bench"),
            "--dir",
            wd,
        ]);
        let vkey = std::fs::read_to_string(wdir.join("witness.vkey")).unwrap();
        run(&[
            "witness", "add-log", "--dir", wd, "--origin", ORIGIN, "--vkey", log_vkey,
        ]);
        let addr = testkit::free_addr();
        policy.push_str(&format!("witness {name} {} http://{addr}\n", vkey.trim()));
        children.push(spawn(Command::new(bin("aidledger")).args([
            "witness",
            "serve",
            "--dir",
            wd,
            "--listen",
            &addr.to_string(),
        ])));
    }
    policy.push_str("group two-of-three 2 audit discipline university\nquorum two-of-three\n");
    policy
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let key_file = dir.path().join("node.key");
    let log_vkey = CheckpointSigner::new(ORIGIN, ledger::keyfile::create(&key_file).unwrap())
        .unwrap()
        .vkey();
    let mut rates = [Vec::new(), Vec::new()];
    let mut lags = Vec::new();
    for round in 0..2 {
        for witnessed in [false, true] {
            let data = dir.path().join(format!("node-{round}-{witnessed}"));
            std::fs::create_dir_all(&data).unwrap();
            std::fs::copy(&key_file, data.join("node.key")).unwrap();
            let addr = testkit::free_addr();
            let mut cmd = Command::new(bin("aidledger-node"));
            cmd.args([
                "demo",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                &addr.to_string(),
            ]);
            // Each witnessed run has witnesses of its own: every run's
            // history differs after the demo, so witnesses of another run
            // would see a fork.
            let mut witnesses = Vec::new();
            if witnessed {
                let policy_path = data.join("policy");
                let policy = start_witnesses(&data, &log_vkey, &mut witnesses);
                std::fs::write(&policy_path, policy).unwrap();
                cmd.args(["--witness-policy", policy_path.to_str().unwrap()]);
            }
            let mut node = spawn(&mut cmd);
            let work = batches(n, &format!("{round}-{witnessed}"));
            let (rate, lag) = append(addr, &work, witnessed);
            println!(
                "round {round}, {}: {rate:.0} entries/s ({n} batches of {BATCH})",
                if witnessed {
                    "three witnesses, 2-of-3"
                } else {
                    "no witnesses"
                }
            );
            rates[usize::from(witnessed)].push(rate);
            lags.extend(lag);
            for child in std::iter::once(&mut node).chain(&mut witnesses) {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = std::fs::remove_dir_all(&data);
        }
    }
    lags.sort();
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "appends: {:.0} entries/s without witnesses, {:.0} with three (mean of two runs each; {:+.1}%)",
        mean(&rates[0]),
        mean(&rates[1]),
        (mean(&rates[1]) / mean(&rates[0]) - 1.0) * 100.0
    );
    println!(
        "fsync to witnessed checkpoint ({} batches, interval 1 s): p50 {:.2} s, p99 {:.2} s",
        lags.len(),
        pct(0.5).as_secs_f64(),
        pct(0.99).as_secs_f64()
    );
}
