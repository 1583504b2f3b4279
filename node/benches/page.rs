//! The public page's weight and first render, in headless Chromium against
//! the demo node (release build): JS and CSS gzipped as served, and the time
//! from navigation to the overview drawn (`performance.mark("rendered")`,
//! set once the first view has its figures and charts), cold (empty cache)
//! and warm, at 1280 px.
//!
//! `cargo bench -p node --bench page` (from the workspace root).

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
    let _node = testkit::Killed(testkit::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
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
}
