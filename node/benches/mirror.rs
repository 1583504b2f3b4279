//! A read mirror (issue 20): how fast it catches up with a primary that
//! holds ENTRIES (default 200,000: the demo plus 1,000-entry batches),
//! following the primary's own tiles over loopback; then inclusion proofs
//! per second served by the mirror and by the primary, the same load on
//! each (8 client threads, a new connection per request, random seqs, 5 s).
//!
//! `cargo bench -p node --bench mirror [-- ENTRIES]` from the workspace
//! root, with `BENCH_DIR` for the data (default `.`).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::batches;

fn size(addr: SocketAddr) -> u64 {
    let (_, body) = testkit::http_get(addr, "/v1/log");
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["size"]
        .as_u64()
        .unwrap()
}

fn proofs_per_second(addr: SocketAddr, n: u64) -> f64 {
    let done = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(5);
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let done = &done;
            s.spawn(move || {
                let mut seq = t;
                while Instant::now() < until {
                    seq = seq
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407)
                        % n;
                    let (status, _) =
                        testkit::http_get(addr, &format!("/v1/proof/inclusion?seq={seq}&size={n}"));
                    assert_eq!(status, 200);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / 5.0
}

fn main() {
    let entries: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let primary = testkit::free_addr();
    let _p = testkit::Killed(testkit::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
            .args([
                "demo",
                "--data",
                dir.path().join("primary").to_str().unwrap(),
            ])
            .args(["--listen", &primary.to_string()])
            .stderr(Stdio::null()),
    ));
    let mut b = 0;
    while size(primary) < entries {
        let a = testkit::http(
            primary,
            "POST",
            "/v1/entries",
            &batches(1, &format!("mirror-{b}"))[0],
        );
        assert_eq!(a.status, 200);
        b += 1;
    }
    let n = size(primary);
    let (_, log) = testkit::http_get(primary, "/v1/log");
    let vkey = serde_json::from_slice::<serde_json::Value>(&log).unwrap()["vkey"]
        .as_str()
        .unwrap()
        .to_owned();
    let mirror = testkit::free_addr();
    let started = Instant::now();
    let _m = testkit::Killed(testkit::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
            .args([
                "mirror",
                "--from",
                &format!("http://{primary}"),
                "--vkey",
                &vkey,
            ])
            .args(["--data", dir.path().join("mirror").to_str().unwrap()])
            .args(["--listen", &mirror.to_string(), "--interval", "0.05"])
            .stderr(Stdio::null()),
    ));
    while size(mirror) < n {
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "mirror catch-up: {n} entries in {secs:.1} s ({:.0} entries/s, verified and replayed)",
        n as f64 / secs
    );
    println!(
        "inclusion proofs, 8 clients: primary {:.0}/s, mirror {:.0}/s",
        proofs_per_second(primary, n),
        proofs_per_second(mirror, n)
    );
}
