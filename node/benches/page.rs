//! The public page's weight and first render, in headless Chromium against
//! the demo node (release build): JS and CSS gzipped as served, and the time
//! from navigation to the overview drawn (`performance.mark("rendered")`,
//! set once the first view has its figures and charts), cold (empty cache)
//! and warm, at 1280 px; then on a phone (375 px) on a slow mobile network
//! with a slow CPU (Lighthouse's mobile profile: 150 ms round trips,
//! 1.6 Mbit/s down, 750 kbit/s up, the CPU 4× slower), cold, the overview
//! and a fund's page (the demo's fund with the most flows).
//!
//! `cargo bench --workspace --bench page` (from the workspace root);
//! `BENCH_NODE_BIN=PATH` measures another build's `aidledger-node`.

use std::process::{Command, Stdio};

use testkit::cdp::Browser;

const RUNS: usize = 10;

fn main() {
    let weights = node::page::weights();
    let code: usize = weights
        .iter()
        .filter(|(p, _)| node::page::is_code(p))
        .map(|(_, n)| n)
        .sum();
    for (path, n) in weights.iter().filter(|(p, _)| node::page::is_code(p)) {
        println!("  {path:<60} {:>7.1} KB gzipped", *n as f64 / 1024.0);
    }
    println!(
        "JS + CSS: {:.1} KB gzipped (budget 300 KB)",
        code as f64 / 1024.0
    );

    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let bin = std::env::var("BENCH_NODE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_aidledger-node").to_owned());
    let _node = testkit::Killed(testkit::spawn_listening(
        Command::new(bin)
            .args(["demo", "--data", dir.path().join("data").to_str().unwrap()])
            .args(["--listen", &addr.to_string()])
            .stderr(Stdio::null()),
    ));
    let url = format!("http://{addr}/");
    let measure = |profile: &str, runs: usize| -> Vec<f64> {
        let mut b = Browser::launch(&dir.path().join(profile));
        b.viewport(1280, 900);
        (0..runs)
            .map(|_| {
                b.open(&url);
                b.wait_for("performance.getEntriesByName('rendered').length");
                b.eval("performance.getEntriesByName('rendered')[0].startTime")
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    // Cold: a new profile each time, so nothing is cached.
    let mut cold: Vec<f64> = (0..RUNS)
        .flat_map(|i| measure(&format!("cold-{i}"), 1))
        .collect();
    let mut warm = measure("warm", RUNS + 1);
    warm.remove(0);
    for (name, times) in [("cold", &mut cold), ("warm", &mut warm)] {
        times.sort_by(f64::total_cmp);
        println!(
            "first render of the demo ledger, {name}: p50 {:.0} ms, max {:.0} ms over {RUNS} loads",
            times[RUNS / 2],
            times[RUNS - 1]
        );
    }
    for view in ["", "#/fund/MZ-2026-TEMP"] {
        let mut times: Vec<f64> = (0..PHONE_RUNS)
            .map(|i| {
                let profile = format!("phone-{}-{i}", view.len());
                let mut b = Browser::launch(&dir.path().join(profile));
                b.viewport(375, 812);
                b.call("Network.enable", serde_json::json!({}));
                b.call(
                    "Network.emulateNetworkConditions",
                    serde_json::json!({
                        "offline": false,
                        "latency": 150,
                        "downloadThroughput": 1_638_400 / 8,
                        "uploadThroughput": 768_000 / 8,
                    }),
                );
                b.call(
                    "Emulation.setCPUThrottlingRate",
                    serde_json::json!({"rate": 4}),
                );
                b.open(&format!("{url}{view}"));
                b.wait_for("performance.getEntriesByName('rendered').length");
                b.eval("performance.getEntriesByName('rendered')[0].startTime")
                    .as_f64()
                    .unwrap()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "first render on a slow phone, cold, {}: p50 {:.0} ms, max {:.0} ms over {PHONE_RUNS} loads",
            if view.is_empty() { "overview" } else { view },
            times[PHONE_RUNS / 2],
            times[PHONE_RUNS - 1]
        );
    }
}

/// Loads of each view on the throttled phone.
const PHONE_RUNS: usize = 5;
