//! A read mirror following a primary's tiles: it reaches the primary's size,
//! answers reads byte for byte as the primary does, refuses submissions
//! naming the primary, follows new entries, and stops following (503) when
//! the primary is replaced by one with another history under the same key.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

fn node_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
}

fn demo(data: &Path, addr: SocketAddr) -> testkit::Killed {
    testkit::demo(
        Path::new(env!("CARGO_BIN_EXE_aidledger-node")),
        data,
        addr,
        &[],
    )
}

/// `aidledger-node mirror` following `from`, on a free port.
fn mirror_of(from: &str, vkey: &str, data: &Path) -> (SocketAddr, testkit::Killed) {
    mirror_with(from, vkey, data, &[])
}

/// As [`mirror_of`], with `extra` flags.
fn mirror_with(
    from: &str,
    vkey: &str,
    data: &Path,
    extra: &[&str],
) -> (SocketAddr, testkit::Killed) {
    let addr = testkit::free_addr();
    let child = testkit::Killed(testkit::spawn_listening(
        node_bin()
            .args(["mirror", "--from", from, "--vkey", vkey])
            .args(["--data", data.to_str().unwrap()])
            .args(["--listen", &addr.to_string(), "--interval", "0.1"])
            .args(extra)
            .stderr(Stdio::null()),
    ));
    (addr, child)
}

fn size(addr: SocketAddr) -> u64 {
    let (_, body) = testkit::http_get(addr, "/v1/log");
    serde_json::from_slice::<Value>(&body).unwrap()["size"]
        .as_u64()
        .unwrap()
}

fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_mirror_follows_serves_and_stops_on_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let primary = testkit::free_addr();
    let primary_data = dir.path().join("primary");
    let p = demo(&primary_data, primary);
    let (_, log) = testkit::http_get(primary, "/v1/log");
    let vkey = serde_json::from_slice::<Value>(&log).unwrap()["vkey"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = format!("http://{primary}");
    // The demo's auditors, named by the mirror's page as by the primary's.
    let auditors = primary_data.join("auditors").join("list");
    let (mirror, _m) = mirror_with(
        &from,
        &vkey,
        &dir.path().join("mirror"),
        &["--auditors", auditors.to_str().unwrap()],
    );
    let n = size(primary);
    until("the mirror to catch up", || size(mirror) == n);
    for path in [
        "/checkpoint",
        "/v1/log",
        "/v1/stats",
        "/v1/funds?limit=1000",
        "/v1/alerts/duplicates",
        "/v1/needs?state=open",
        "/v1/entries/1234",
        "/v1/entries?start=100&limit=50",
        &format!("/v1/proof/inclusion?seq=77&size={n}"),
        &format!("/v1/proof/consistency?first=10&second={n}"),
        "/tile/0/002",
        "/",
    ] {
        assert_eq!(
            testkit::http_get(mirror, path),
            testkit::http_get(primary, path),
            "{path}"
        );
    }
    // Submissions go to the primary.
    let refused = common::post(mirror, &common::award_entry("to-the-mirror"));
    assert_eq!(refused.status, 405);
    assert!(String::from_utf8_lossy(&refused.body).contains(&from));
    // New entries on the primary reach the mirror.
    assert_eq!(
        common::post(primary, &common::award_entry("followed")).status,
        201
    );
    until("the mirror to follow", || size(mirror) == n + 1);
    assert_eq!(testkit::http_get(mirror, "/healthz").0, 200);
    drop(p);

    // The same key, another history, on the primary's address.
    let forged = dir.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(primary_data.join("node.key"), forged.join("node.key")).unwrap();
    let _f = demo(&forged, primary);
    for i in 0..3 {
        assert_eq!(
            common::post(primary, &common::award_entry(&format!("forged-{i}"))).status,
            201
        );
    }
    until("the mirror to stop following", || {
        testkit::http_get(mirror, "/healthz").0 == 503
    });
    // The forged node starts one entry short of what the mirror verified:
    // a mirror that looks before the forged entries arrive sees a
    // rollback, one that looks after sees another tree; both stop it.
    let (_, why) = testkit::http_get(mirror, "/healthz");
    let why = String::from_utf8_lossy(&why);
    assert!(why.contains("fork") || why.contains("rollback"), "{why}");
    // It keeps serving what it verified.
    assert_eq!(size(mirror), n + 1);
}

/// A mirror following a static copy of the tiles (as a CDN would serve a
/// bucket) whose first bundle was tampered with halts, naming the bundle,
/// and stores nothing of it.
#[test]
fn a_mirror_names_a_tampered_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let primary = testkit::free_addr();
    let p = demo(&dir.path().join("primary"), primary);
    let n = size(primary);
    let (_, log) = testkit::http_get(primary, "/v1/log");
    let vkey = serde_json::from_slice::<Value>(&log).unwrap()["vkey"]
        .as_str()
        .unwrap()
        .to_owned();
    let tiles = dir.path().join("static");
    let mut paths: Vec<String> = ledger::tiles::added(0, n)
        .iter()
        .map(|t| t.to_string())
        .collect();
    paths.push("checkpoint".into());
    for path in paths {
        let (status, mut body) = testkit::http_get(primary, &format!("/{path}"));
        assert_eq!(status, 200, "{path}");
        if path == "tile/entries/000" {
            // One digit of an amount: the length prefixes still hold.
            let pattern = b"\"amount\":900000000";
            let at = body
                .windows(pattern.len())
                .position(|w| w == pattern)
                .unwrap();
            body[at + pattern.len() - 1] = b'1';
        }
        let file = tiles.join(&path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    drop(p);
    let from = format!("http://{}", testkit::serve_dir(tiles));
    let (mirror, _m) = mirror_of(&from, &vkey, &dir.path().join("mirror"));
    until("the mirror to halt", || {
        testkit::http_get(mirror, "/healthz").0 == 503
    });
    let (_, why) = testkit::http_get(mirror, "/healthz");
    let why = String::from_utf8_lossy(&why).into_owned();
    assert!(why.contains("tile/entries/000: seq"), "{why}");
    assert_eq!(size(mirror), 0);
}
