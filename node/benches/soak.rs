//! Soak (issue 19): SECONDS (default 600) of mixed load on the real node
//! over a growing ledger (the demo ledger, then about 2,000 entries a
//! second): 100-entry arrays and single entries, inclusion proofs, list
//! queries and the page's API calls, from 8 client threads. Reports every
//! route's p50/p99, any answer that is not a success or `overloaded`, and
//! the node's resident memory every 30 s, with its spread after a minute's
//! warm-up (the promise: within ±10%).
//!
//! `cargo bench -p node --bench soak [-- SECONDS]`; `SOAK_DATA=DIR` starts
//! from the demo ledger already in DIR (a large one built by the `size`
//! bench, so that the caches are full from the start).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

/// Entries a second the writers aim at, together.
const WRITE_RATE: u64 = 2_000;

fn award(key: &SigningKey, nonce: &str) -> serde_json::Value {
    serde_json::to_value(
        ledger::SignedEntry::create(
            key,
            "CN-USCI-53440300MJ0000018R",
            ledger::domain::Kind::CreditAward,
            nonce,
            "2026-11-28T09:00:00Z",
            serde_json::json!({"holder": format!("vol_{}", "ab".repeat(32)), "points": 1, "reason": "志愿服务"}),
        )
        .unwrap(),
    )
    .unwrap()
}

type Latencies = Mutex<BTreeMap<&'static str, Vec<Duration>>>;

fn timed(
    lat: &Latencies,
    bad: &AtomicU64,
    route: &'static str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<Vec<u8>> {
    let t = Instant::now();
    let answer = testkit::try_http(addr, method, path, body);
    let took = t.elapsed();
    lat.lock().unwrap().entry(route).or_default().push(took);
    match answer {
        Ok(a) if a.status == 200 || a.status == 201 => Some(a.body),
        Ok(a) if a.status == 503 => None,
        Ok(a) => {
            if bad.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!(
                    "{method} {path}: {} {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                );
            }
            None
        }
        Err(e) => {
            if bad.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("{method} {path}: {e}");
            }
            None
        }
    }
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(600);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let addr = testkit::free_addr();
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    let data = std::env::var_os("SOAK_DATA").map_or_else(|| dir.path().to_path_buf(), Into::into);
    c.args(["demo", "--data", data.to_str().unwrap()])
        .args(["--listen", &addr.to_string()])
        .stderr(Stdio::null());
    let node = testkit::Killed(testkit::spawn_listening(&mut c));
    let pid = node.0.id();
    let lat: Latencies = Mutex::new(BTreeMap::new());
    let bad = AtomicU64::new(0);
    let size = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let mut rss = Vec::new();
    std::thread::scope(|scope| {
        // Writers: arrays of 100 and single entries, paced.
        for w in 0..2u64 {
            let (lat, bad, stop) = (&lat, &bad, &stop);
            scope.spawn(move || {
                let key = SigningKey::from_bytes(&[2; 32]);
                let mut n = 0u64;
                let per_writer = WRITE_RATE / 2;
                while !stop.load(Ordering::Relaxed) {
                    let second = Instant::now();
                    let mut written = 0;
                    while written < per_writer && !stop.load(Ordering::Relaxed) {
                        if n % 20 == 0 {
                            let e = award(&key, &format!("soak-{w}-{n}"));
                            timed(
                                lat,
                                bad,
                                "POST /v1/entries (1)",
                                addr,
                                "POST",
                                "/v1/entries",
                                &serde_json::to_vec(&e).unwrap(),
                            );
                            written += 1;
                        } else {
                            let array: Vec<_> = (0..100)
                                .map(|i| award(&key, &format!("soak-{w}-{n}-{i}")))
                                .collect();
                            timed(
                                lat,
                                bad,
                                "POST /v1/entries (100)",
                                addr,
                                "POST",
                                "/v1/entries",
                                &serde_json::to_vec(&array).unwrap(),
                            );
                            written += 100;
                        }
                        n += 1;
                    }
                    if let Some(rest) = Duration::from_secs(1).checked_sub(second.elapsed()) {
                        std::thread::sleep(rest);
                    }
                }
            });
        }
        // Readers: proofs, lists, the page's calls.
        for r in 0..6u64 {
            let (lat, bad, stop, size) = (&lat, &bad, &stop, &size);
            scope.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(r);
                while !stop.load(Ordering::Relaxed) {
                    let n = size.load(Ordering::Relaxed).max(1);
                    let seq = rng.u64(..n);
                    match rng.u8(..10) {
                        0..=2 => {
                            timed(
                                lat,
                                bad,
                                "GET /v1/proof/inclusion",
                                addr,
                                "GET",
                                &format!("/v1/proof/inclusion?seq={seq}&size={n}"),
                                b"",
                            );
                        }
                        3 => {
                            timed(
                                lat,
                                bad,
                                "GET /v1/entries?start",
                                addr,
                                "GET",
                                &format!("/v1/entries?start={seq}&limit=100"),
                                b"",
                            );
                        }
                        4 => {
                            timed(
                                lat,
                                bad,
                                "GET /v1/funds",
                                addr,
                                "GET",
                                "/v1/funds?limit=50",
                                b"",
                            );
                            timed(
                                lat,
                                bad,
                                "GET /v1/orgs",
                                addr,
                                "GET",
                                "/v1/orgs?limit=50",
                                b"",
                            );
                        }
                        5 => {
                            timed(
                                lat,
                                bad,
                                "GET /v1/needs",
                                addr,
                                "GET",
                                "/v1/needs?state=open&limit=50",
                                b"",
                            );
                            timed(
                                lat,
                                bad,
                                "GET /v1/alerts/duplicates",
                                addr,
                                "GET",
                                "/v1/alerts/duplicates?limit=50",
                                b"",
                            );
                        }
                        6 => {
                            timed(lat, bad, "GET /v1/stats", addr, "GET", "/v1/stats", b"");
                            timed(
                                lat,
                                bad,
                                "GET /v1/stats/regions",
                                addr,
                                "GET",
                                "/v1/stats/regions?parent=320000",
                                b"",
                            );
                        }
                        7 => {
                            timed(
                                lat,
                                bad,
                                "GET /v1/stats/overlap",
                                addr,
                                "GET",
                                "/v1/stats/overlap",
                                b"",
                            );
                        }
                        8 => {
                            timed(
                                lat,
                                bad,
                                "GET /v1/entries/{seq}",
                                addr,
                                "GET",
                                &format!("/v1/entries/{seq}"),
                                b"",
                            );
                            timed(lat, bad, "GET /checkpoint", addr, "GET", "/checkpoint", b"");
                        }
                        _ => {
                            if let Some(body) =
                                timed(lat, bad, "GET /v1/log", addr, "GET", "/v1/log", b"")
                            {
                                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                                    size.store(v["size"].as_u64().unwrap_or(0), Ordering::Relaxed);
                                }
                            }
                            timed(lat, bad, "GET /", addr, "GET", "/", b"");
                        }
                    }
                }
            });
        }
        while started.elapsed() < Duration::from_secs(seconds) {
            std::thread::sleep(Duration::from_secs(30));
            let kib = testkit::rss_kib(pid);
            let n = size.load(Ordering::Relaxed);
            println!(
                "{:>4} s: size {n}, node RSS {} MiB",
                started.elapsed().as_secs(),
                kib >> 10
            );
            rss.push((started.elapsed(), kib));
        }
        stop.store(true, Ordering::Relaxed);
    });
    // The spread after a minute, and over the second half of the run
    // (RocksDB's block caches take minutes to fill on a large ledger).
    for (what, from) in [
        ("after 60 s", Duration::from_secs(60)),
        ("over the second half", Duration::from_secs(seconds / 2)),
    ] {
        let kib: Vec<u64> = rss
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|(_, k)| *k)
            .collect();
        if let (Some(min), Some(max)) = (kib.iter().min(), kib.iter().max()) {
            let mid = (min + max) as f64 / 2.0;
            println!(
                "RSS {what}: {} - {} MiB (±{:.1}% around the middle)",
                min >> 10,
                max >> 10,
                (max - min) as f64 / 2.0 / mid * 100.0
            );
        }
    }
    println!(
        "answers other than success or overloaded: {}",
        bad.load(Ordering::Relaxed)
    );
    for (route, mut v) in lat.into_inner().unwrap() {
        v.sort();
        let pct = |p: f64| v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
        println!(
            "{route:<28} {:>8} requests  p50 {:>7.2} ms  p99 {:>7.2} ms",
            v.len(),
            pct(0.5),
            pct(0.99)
        );
    }
    drop(node);
}
