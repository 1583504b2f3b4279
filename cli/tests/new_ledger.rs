//! The README's "Start a new ledger", run as it is written: its `sh` block
//! in an empty temporary directory, with only `LISTEN` and `PSEUDONYMS`
//! (free ports) and `PATH` (the binaries just built) set, as the README
//! says. If the README
//! and the commands drift apart, this fails.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The first `sh` block after the heading `## Start a new ledger`.
fn readme_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the workspace README");
    let section = readme
        .split_once("\n## Start a new ledger\n")
        .expect("README has a section \"Start a new ledger\"")
        .1;
    let block = section
        .split_once("```sh\n")
        .expect("the section has an sh block")
        .1;
    block
        .split_once("\n```")
        .expect("the block ends")
        .0
        .to_owned()
}

/// Stops the node and the pseudonym service the block started (their pids
/// in `node.pid` and `pseudonym-service.pid`), even when the test fails.
struct StopNode<'a>(&'a Path);

impl Drop for StopNode<'_> {
    /// Stops it and waits until it is gone: a node still closing its store
    /// would write into the directory the test is removing.
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("pseudonym-service.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        if let Ok(pid) = std::fs::read_to_string(self.0.join("node.pid")) {
            let pid = pid.trim();
            let _ = Command::new("kill").arg(pid).status();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while std::time::Instant::now() < deadline
                && Path::new("/proc").join(pid).join("stat").exists()
                && !std::fs::read_to_string(Path::new("/proc").join(pid).join("stat"))
                    .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn the_readme_starts_a_new_ledger_from_an_empty_directory() {
    let block = readme_block();
    let dir = tempfile::tempdir().unwrap();
    let _stop = StopNode(dir.path());
    let bin = Path::new(env!("CARGO_BIN_EXE_aidledger")).parent().unwrap();
    assert!(
        bin.join("aidledger-node").exists(),
        "build the workspace's binaries first (scripts/test.sh does)"
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let addr = common::free_addr();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &block])
        .current_dir(dir.path())
        .env("LISTEN", addr.to_string())
        .env("PSEUDONYMS", common::free_addr().to_string())
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("AIDLEDGER_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's block failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );

    // What the block says it made.
    let d = dir.path();
    for file in [
        "registrar.key",
        "registrar.key.pub",
        "charity.key",
        "charity.key.pub",
    ] {
        assert!(d.join(file).exists(), "{file}");
    }
    // The published values are the node's own, and its genesis is entry 0.
    let published = std::fs::read_to_string(d.join("published.txt")).unwrap();
    let value = |label: &str| {
        published
            .lines()
            .find_map(|l| l.strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {label} in {published}"))
    };
    let (_, log) = testkit::http_get(addr, "/v1/log");
    let log: Value = serde_json::from_slice(&log).unwrap();
    assert_eq!(log["origin"], "ledger.example.gov.cn/aid/2026");
    assert_eq!(value("origin "), log["origin"].as_str().unwrap());
    assert_eq!(value("vkey "), log["vkey"].as_str().unwrap());
    assert_eq!(value("genesis "), log["genesis"].as_str().unwrap());
    let (_, entry0) = testkit::http_get(addr, "/v1/entries/0");
    let entry0: Value = serde_json::from_slice(&entry0).unwrap();
    assert_eq!(entry0["leaf_hash"], log["genesis"]);
    let statement = &entry0["leaf"]["entry"]["statement"];
    assert_eq!(statement["kind"], "org.register");
    assert_eq!(statement["issuer"], "CN-USCI-11320000MB0000019A");
    let registrar_pub = std::fs::read_to_string(d.join("registrar.key.pub")).unwrap();
    assert_eq!(statement["key"], registrar_pub.trim());
    // The charity is registered and its fund open, as the block says.
    let (status, fund) = testkit::http_get(addr, "/v1/funds/MZ-2026-MED");
    assert_eq!(status, 200);
    let fund: Value = serde_json::from_slice(&fund).unwrap();
    assert_eq!(fund["owner"], "CN-USCI-53440300MJ0000018R");
    assert_eq!(fund["budget"], 50_000_000);
    // Rules version 2 with the service's key, and the pseudonym it gave.
    assert_eq!(log["size"], 5);
    let service = std::fs::read_to_string(d.join("pseudonym-service.txt")).unwrap();
    assert_eq!(
        log["rules"]["pseudonym"]["key"].as_str(),
        service.lines().last(),
        "{log}"
    );
    let pseudonym = stdout.lines().last().unwrap_or_default();
    assert!(
        ledger::ident::is_beneficiary(pseudonym),
        "the block ends with a pseudonym: {stdout}"
    );

    // A second genesis on the same node is refused, and nothing is sent.
    let url = format!("http://{addr}");
    let key = d.join("registrar.key");
    let second = [
        "genesis",
        "--node",
        &url,
        "--key",
        key.to_str().unwrap(),
        "--id",
        "CN-USCI-11320000MB0000019A",
        "--name",
        "江苏省民政厅",
        "--region",
        "320000",
    ];
    let again = common::cli(&second, None);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("already has a genesis") && again.stderr.contains(&value("genesis ")),
        "{}",
        again.stderr
    );
    let (_, log) = testkit::http_get(addr, "/v1/log");
    let log: Value = serde_json::from_slice(&log).unwrap();
    assert_eq!(log["size"], 5, "the second genesis sent nothing");
    // In Chinese too.
    let again = common::cli_env(&second, None, &[("LANG", "zh_CN.UTF-8")]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("已有创世条目"), "{}", again.stderr);
}
