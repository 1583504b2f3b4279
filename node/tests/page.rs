//! The public page in a real headless Chromium against the real binary
//! serving the demo ledger: the script must have loaded and rendered the
//! funds, the statistics and all duplicate-aid alerts from the API.

use std::process::{Command, Stdio};

#[test]
fn the_page_renders_the_demo_ledger_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: scripts/setup.sh installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let mut node = testkit::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
            .args([
                "demo",
                "--data",
                dir.path().join("data").to_str().unwrap(),
                "--listen",
                &addr.to_string(),
            ])
            .stderr(Stdio::null()),
    );
    // The page must show the size the node reports, with digit grouping.
    let (_, log) = testkit::http_get(addr, "/v1/log");
    let log: serde_json::Value = serde_json::from_slice(&log).unwrap();
    let size = log["size"].as_u64().unwrap();
    let grouped = format!("{},{:03}", size / 1000, size % 1000);
    assert!((1_000..1_000_000).contains(&size), "{size}");

    let out = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", dir.path().join("chromium").display()),
            "--virtual-time-budget=15000",
            "--dump-dom",
            &format!("http://{addr}/"),
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    node.kill().unwrap();
    node.wait().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains(r#"data-loaded="true""#),
        "the page's script did not finish:\n{dom}"
    );
    for text in [
        "2026年临时救助资金",
        "江苏省民政厅",
        "防汛救灾专项",
        "2026-12",
        "union",
    ] {
        assert!(dom.contains(text), "{text:?} not rendered");
    }
    assert!(
        dom.contains(r#"<b id="alert-count">6</b>"#),
        "six duplicate-aid alerts expected"
    );
    assert!(
        dom.contains(&format!(r#"<b id="size">{grouped}</b>"#)),
        "ledger size {grouped} not rendered"
    );
    assert!(
        dom.contains(r#"<p id="error"></p>"#),
        "the page reported an error"
    );
}
