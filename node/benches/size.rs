//! A ledger of ENTRIES entries (default 10,000,000; issue 19), built by the
//! real node from 1,000-entry arrays on loopback, and what its size costs:
//!
//! - append rate over the first and the last 100,000 entries;
//! - disk bytes per entry;
//! - inclusion-proof latency (1,000 random seqs, p50/p99);
//! - node start time (spawn to listening) on the full store;
//! - `aidledger verify --node` of the whole ledger: time and peak memory;
//! - `aidledger-node reindex`: time.
//!
//! `cargo bench -p node --bench size [-- ENTRIES]` from the workspace root
//! with the binaries built (`cargo build --release --workspace --bins`),
//! `BENCH_DIR` for the data (default `.`; 10M entries take ~10 GB).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{batches, BATCH};

/// Entries whose append rate is reported at the start and at the end.
const WINDOW: usize = 100_000;

fn node(data: &Path, addr: SocketAddr) -> testkit::Killed {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    c.args(["demo", "--data", data.to_str().unwrap()])
        .args(["--listen", &addr.to_string()]);
    testkit::Killed(testkit::spawn_listening(c.stderr(Stdio::null())))
}

fn cli() -> std::path::PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_aidledger-node")).with_file_name("aidledger");
    assert!(bin.exists(), "build the workspace's binaries first");
    bin
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3
}

fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                disk_bytes(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Runs `command` to the end; its wall time and peak resident memory.
fn measured(command: &mut Command) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).spawn().unwrap();
    let mut peak_kb = 0u64;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{command:?} failed");
            return (started.elapsed(), peak_kb);
        }
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kb) = s.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                let kb = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                peak_kb = peak_kb.max(kb);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Posts `arrays`; the entries/s.
fn append(addr: SocketAddr, arrays: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    for a in arrays {
        let r = testkit::http(addr, "POST", "/v1/entries", a);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    (arrays.len() * BATCH) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let entries: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let data = dir.path().join("data");
    let addr = testkit::free_addr();
    let mut running = node(&data, addr);

    // Signing happens between timed windows, a window's arrays at a time.
    let per_window = WINDOW / BATCH;
    let windows = entries.div_ceil(WINDOW);
    let started = Instant::now();
    let (mut first, mut last) = (0.0, 0.0);
    for w in 0..windows {
        let rate = append(addr, &batches(per_window, &format!("size{w}")));
        if w == 0 {
            first = rate;
        }
        last = rate;
        if (w + 1) % 10 == 0 {
            eprintln!(
                "{} entries appended ({:.0} s), last window {rate:.0}/s",
                (w + 1) * WINDOW,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let (_, body) = testkit::http_get(addr, "/v1/log");
    let log: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let size = log["size"].as_u64().unwrap();
    let vkey = log["vkey"].as_str().unwrap().to_string();
    println!(
        "append: {size} entries; {first:.0} entries/s over the first {WINDOW}, {last:.0}/s over the last"
    );

    let mut latencies: Vec<Duration> = (0..1000)
        .map(|_| {
            let seq = fastrand::u64(..size);
            let t = Instant::now();
            let (status, _) =
                testkit::http_get(addr, &format!("/v1/proof/inclusion?seq={seq}&size={size}"));
            assert_eq!(status, 200);
            t.elapsed()
        })
        .collect();
    println!(
        "inclusion proofs at size {size}: p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut latencies, 0.5),
        pct(&mut latencies, 0.99)
    );

    drop(running);
    println!(
        "disk: {:.0} bytes per entry ({} MiB)",
        disk_bytes(&data) as f64 / size as f64,
        disk_bytes(&data) >> 20
    );
    let t = Instant::now();
    running = node(&data, addr);
    println!(
        "node start on {size} entries: {:.2} s to listening",
        t.elapsed().as_secs_f64()
    );

    let (took, peak_kb) = measured(Command::new(cli()).args([
        "verify",
        "--node",
        &format!("http://{addr}"),
        "--vkey",
        &vkey,
    ]));
    println!(
        "verify --node: {size} entries in {:.1} s = {:.0} entries/s, peak memory {} MiB",
        took.as_secs_f64(),
        size as f64 / took.as_secs_f64(),
        peak_kb >> 10
    );

    drop(running);
    let (took, peak_kb) = measured(
        Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
            .args(["reindex", "--data", data.to_str().unwrap()])
            .stderr(Stdio::null()),
    );
    println!(
        "reindex: {size} entries in {:.1} s = {:.0} entries/s, peak memory {} MiB",
        took.as_secs_f64(),
        size as f64 / took.as_secs_f64(),
        peak_kb >> 10
    );
    if std::env::var_os("BENCH_KEEP").is_some() {
        eprintln!("kept {}", dir.keep().display());
    }
}
