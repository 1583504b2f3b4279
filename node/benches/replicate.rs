//! Replication to object storage (issue 20), on a three-node Garage cluster
//! on loopback (replication factor 3):
//!
//! 1. 1,000-entry batch appends with no replication, asynchronous
//!    replication and synchronous (`--ack-after-replication`), alternately,
//!    two rounds: entries/s, each batch's receipt latency, and in
//!    asynchronous mode each batch's lag from its receipt to the bucket's
//!    checkpoint covering it (polled every 10 ms from `/metrics`);
//! 2. a restore from the bucket of a log of RESTORE entries (default
//!    1,000,000, appended with asynchronous replication): entries/s.
//!
//! `cargo bench -p node --bench replicate [-- BATCHES [RESTORE]]` from the
//! workspace root, with `BENCH_DIR` for the data (default `.`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testkit::garage::Garage;

mod common;
use common::{batches, pct, BATCH};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    None,
    Async,
    Sync,
}

fn replicated(addr: SocketAddr) -> u64 {
    let (_, body) = testkit::http_get(addr, "/metrics");
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("aidledger_replicated_entries "))
        .map_or(0, |n| n.parse().unwrap())
}

struct Run {
    rate: f64,
    latencies: Vec<Duration>,
    lags: Vec<Duration>,
}

fn node(garage: &Garage, data: &Path, addr: SocketAddr, mode: Mode, url: &str) -> testkit::Killed {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    for (k, v) in garage.env() {
        c.env(k, v);
    }
    c.args([
        "demo",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &addr.to_string(),
    ]);
    if mode != Mode::None {
        c.args(["--replicate", url]);
    }
    if mode == Mode::Sync {
        c.arg("--ack-after-replication");
    }
    testkit::Killed(testkit::spawn_listening(c.stderr(Stdio::null())))
}

fn append(addr: SocketAddr, batches: &[Vec<u8>], mode: Mode) -> Run {
    let seen: Mutex<Vec<(u64, Instant)>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let mut acked = Vec::new();
    let mut latencies = Vec::new();
    let start = Instant::now();
    std::thread::scope(|scope| {
        if mode == Mode::Async {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    seen.lock()
                        .unwrap()
                        .push((replicated(addr), Instant::now()));
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
        for b in batches {
            let sent = Instant::now();
            let a = testkit::http(addr, "POST", "/v1/entries", b);
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
            latencies.push(sent.elapsed());
            let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
            let last = v["results"].as_array().unwrap().last().unwrap()["seq"]
                .as_u64()
                .unwrap();
            acked.push((last + 1, Instant::now()));
        }
        let rate = (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64();
        if mode == Mode::Async {
            let size = acked.last().unwrap().0;
            let deadline = Instant::now() + Duration::from_secs(120);
            while seen.lock().unwrap().last().is_none_or(|(s, _)| *s < size) {
                assert!(Instant::now() < deadline, "the bucket never caught up");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        stop.store(true, Ordering::Relaxed);
        let seen = seen.lock().unwrap();
        let lags = acked
            .iter()
            .filter_map(|(s, t)| {
                seen.iter()
                    .find(|(r, at)| r >= s && at >= t)
                    .map(|(_, at)| at.saturating_duration_since(*t))
            })
            .collect();
        Run {
            rate,
            latencies,
            lags,
        }
    })
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20);
    let restore_entries = args.get(1).copied().unwrap_or(1_000_000);
    let root =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let garage = Garage::start(&root.path().join("garage"));
    let key = root.path().join("node.key");
    ledger::keyfile::create(&key).unwrap();

    let mut runs: Vec<(Mode, Run)> = Vec::new();
    for round in 0..2 {
        for mode in [Mode::None, Mode::Async, Mode::Sync] {
            let data = root.path().join(format!("node-{round}-{mode:?}"));
            std::fs::create_dir_all(&data).unwrap();
            std::fs::copy(&key, data.join("node.key")).unwrap();
            let addr = testkit::free_addr();
            let url = format!("s3://{}/run-{round}-{mode:?}", garage.bucket);
            let _node = node(&garage, &data, addr, mode, &url);
            let work = batches(n, &format!("{round}-{mode:?}"));
            let run = append(addr, &work, mode);
            println!("round {round}, {mode:?}: {:.0} entries/s", run.rate);
            runs.push((mode, run));
        }
    }
    for mode in [Mode::None, Mode::Async, Mode::Sync] {
        let of: Vec<&Run> = runs
            .iter()
            .filter(|(m, _)| *m == mode)
            .map(|(_, r)| r)
            .collect();
        let rate = of.iter().map(|r| r.rate).sum::<f64>() / of.len() as f64;
        let mut lat: Vec<Duration> = of.iter().flat_map(|r| r.latencies.clone()).collect();
        let mut lags: Vec<Duration> = of.iter().flat_map(|r| r.lags.clone()).collect();
        print!(
            "{mode:?}: {rate:.0} entries/s (mean of {}), receipt of a 1,000-entry batch p50 {:.0} ms, p99 {:.0} ms",
            of.len(),
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        );
        if !lags.is_empty() {
            print!(
                ", replication lag p50 {:.0} ms, p99 {:.0} ms",
                pct(&mut lags, 0.5),
                pct(&mut lags, 0.99)
            );
        }
        println!();
    }

    // Restore of a larger log.
    let data = root.path().join("big");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&key, data.join("node.key")).unwrap();
    let addr = testkit::free_addr();
    let url = format!("s3://{}/big", garage.bucket);
    let vkey;
    {
        let _node = node(&garage, &data, addr, Mode::Async, &url);
        let (_, log) = testkit::http_get(addr, "/v1/log");
        let log: serde_json::Value = serde_json::from_slice(&log).unwrap();
        vkey = log["vkey"].as_str().unwrap().to_owned();
        let have = log["size"].as_u64().unwrap() as usize;
        let need = restore_entries.saturating_sub(have).div_ceil(BATCH);
        for chunk in 0..need.div_ceil(50) {
            let work = batches(50.min(need - chunk * 50), &format!("big-{chunk}"));
            append(addr, &work, Mode::Async);
        }
    }
    let restored = root.path().join("restored");
    let started = Instant::now();
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    for (k, v) in garage.env() {
        c.env(k, v);
    }
    let out = c
        .args([
            "restore",
            "--from",
            &url,
            "--data",
            restored.to_str().unwrap(),
            "--vkey",
            &vkey,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "restore: {} ({:.1} s wall)",
        String::from_utf8_lossy(&out.stdout).trim(),
        started.elapsed().as_secs_f64()
    );
}
