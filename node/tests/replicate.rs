//! The log replicated to a real three-node Garage cluster (replication
//! factor 3) on loopback: every tile, bundle and checkpoint copied; the node
//! deleted and restored from the bucket alone, answering byte for byte as
//! before and continuing the same chain; an object that differs at a
//! tile's place stopping replication loudly and left untouched; wrong
//! settings refused with one line at start-up.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use node::replicate::{Replica, S3Settings};
use serde_json::Value;
use testkit::garage::Garage;

mod common;

fn node_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aidledger-node"))
}

fn with_env(mut c: Command, garage: &Garage) -> Command {
    for (k, v) in garage.env() {
        c.env(k, v);
    }
    c
}

/// The demo node replicating to `url`, on `addr`, with `extra` flags.
fn replicating_with(
    garage: &Garage,
    data: &Path,
    addr: SocketAddr,
    url: &str,
    extra: &[&str],
) -> testkit::Killed {
    let mut c = with_env(node_bin(), garage);
    c.args(["demo", "--data", data.to_str().unwrap()])
        .args(["--listen", &addr.to_string(), "--replicate", url])
        .args(extra)
        .stderr(Stdio::null());
    testkit::Killed(testkit::spawn_listening(&mut c))
}

/// The demo node replicating to `url` every 0.1 s, on `addr`.
fn replicating(garage: &Garage, data: &Path, addr: SocketAddr, url: &str) -> testkit::Killed {
    replicating_with(garage, data, addr, url, &["--replicate-interval", "0.1"])
}

fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    testkit::http_get(addr, path)
}

fn json_of(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "{path}");
    serde_json::from_slice(&body).unwrap()
}

/// Waits (up to 60 s) until the bucket holds the node's whole log.
fn replicated(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, health) = get(addr, "/healthz");
        let health = String::from_utf8(health).unwrap();
        if health.contains(": 0 entries behind") {
            let size = json_of(addr, "/v1/log")["size"].as_u64().unwrap();
            let (_, metrics) = get(addr, "/metrics");
            let metrics = String::from_utf8(metrics).unwrap();
            if metrics.contains(&format!("aidledger_replicated_entries {size}\n")) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "not replicated: {health}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn replica(garage: &Garage, url: &str) -> Replica {
    Replica::new(
        url,
        &S3Settings {
            endpoint: Some(garage.endpoints[1].clone()),
            region: Some("garage".into()),
            access_key_id: Some(garage.key_id.clone()),
            secret_access_key: Some(garage.secret.clone()),
        },
    )
    .unwrap()
}

/// Writes `bytes` at `path` as someone else would, retrying for up to 30 s:
/// a cluster just formed, on a loaded machine, may answer 503 at first.
fn plant(r: &Replica, path: &str, bytes: Vec<u8>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = block_on(r.put(path, bytes.clone(), true)) {
        assert!(Instant::now() < deadline, "{path}: {e}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_node_deleted_is_restored_from_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(dir.path());
    let url = format!("s3://{}/ledger-2026", garage.bucket);
    let data = dir.path().join("node");
    let addr = testkit::free_addr();
    let vkey;
    let size;
    let mut before = Vec::new();
    let paths = [
        "/checkpoint",
        "/v1/log",
        "/v1/proof/inclusion?seq=5000&size=10600",
        "/v1/proof/consistency?first=300&second=10600",
        "/v1/stats",
        "/v1/funds?limit=1000",
        "/v1/alerts/duplicates",
        "/v1/entries/10601",
        "/tile/0/001",
        "/tile/entries/041.p/100",
    ];
    {
        {
            let _node = replicating(&garage, &data, addr, &url);
            for i in 0..5 {
                common::award(addr, &format!("replicated-{i}"));
            }
            replicated(addr);
        }
        // Restarted, it resumes from what the bucket holds.
        let _node = replicating(&garage, &data, addr, &url);
        common::award(addr, "replicated-after-restart");
        replicated(addr);
        let log = json_of(addr, "/v1/log");
        vkey = log["vkey"].as_str().unwrap().to_owned();
        size = log["size"].as_u64().unwrap();
        for p in paths {
            let (status, body) = get(addr, p);
            assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&body));
            before.push(body);
        }
        // What the bucket holds is what the node serves.
        let r = replica(&garage, &url);
        let cp = block_on(r.checkpoint()).unwrap().unwrap();
        assert_eq!(cp.as_bytes(), before[0]);
        let tile = block_on(r.get("tile/0/001")).unwrap().unwrap();
        assert_eq!(tile, before[8]);
    }
    let key_backup = dir.path().join("node.key.backup");
    std::fs::copy(data.join("node.key"), &key_backup).unwrap();
    std::fs::remove_dir_all(&data).unwrap();

    // Restore from the bucket alone, with the published vkey and the key backup.
    let restored = dir.path().join("restored");
    let out: Output = with_env(node_bin(), &garage)
        .args([
            "restore",
            "--from",
            &url,
            "--data",
            restored.to_str().unwrap(),
        ])
        .args(["--vkey", &vkey, "--key", key_backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("restored {size} entries")), "{said}");

    // The restored node answers byte for byte as the old one did.
    let addr = testkit::free_addr();
    let _node = testkit::Killed(testkit::spawn_listening(
        node_bin()
            .args([
                "serve",
                "--data",
                restored.to_str().unwrap(),
                "--listen",
                &addr.to_string(),
            ])
            .args(["--origin", "demo.aidledger.local/aid/2026"])
            .stderr(Stdio::null()),
    ));
    for (p, body) in paths.iter().zip(&before) {
        let (status, now) = get(addr, p);
        assert_eq!(status, 200, "{p}");
        assert_eq!(&now, body, "{p} differs after the restore");
    }
    // And continues the same chain.
    let head = json_of(addr, &format!("/v1/entries/{}", size - 1))["leaf_hash"].clone();
    common::award(addr, "after-restore");
    assert_eq!(
        json_of(addr, &format!("/v1/entries/{size}"))["leaf"]["prev"],
        head
    );
}

#[test]
fn an_object_that_differs_stops_replication_and_stays() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(dir.path());
    let url = format!("s3://{}/other", garage.bucket);
    let r = replica(&garage, &url);
    let planted = b"not this log's bundle".to_vec();
    plant(&r, "tile/entries/000", planted.clone());
    let addr = testkit::free_addr();
    let _node = replicating(&garage, &dir.path().join("node"), addr, &url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let (status, body) = get(addr, "/healthz");
        if status == 503 {
            break String::from_utf8(body).unwrap();
        }
        assert!(Instant::now() < deadline, "replication did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        health.contains("tile/entries/000") && health.contains("nothing overwritten"),
        "{health}"
    );
    let (_, metrics) = get(addr, "/metrics");
    assert!(String::from_utf8(metrics)
        .unwrap()
        .contains("aidledger_replication_stopped 1\n"));
    assert_eq!(block_on(r.get("tile/entries/000")).unwrap(), Some(planted));
    assert_eq!(
        block_on(r.get("checkpoint")).unwrap(),
        None,
        "no checkpoint over a bad tile"
    );
    // The node itself goes on taking entries.
    common::award(addr, "while-stopped");

    // Another log's node (another key) pointed at a bucket this one filled
    // refuses to touch it.
    let theirs = format!("s3://{}/theirs", garage.bucket);
    let first = testkit::free_addr();
    {
        let _node = replicating(&garage, &dir.path().join("first"), first, &theirs);
        replicated(first);
    }
    let second = testkit::free_addr();
    let _other = replicating(&garage, &dir.path().join("second"), second, &theirs);
    let before = block_on(replica(&garage, &theirs).checkpoint()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let (status, body) = get(second, "/healthz");
        if status == 503 {
            break String::from_utf8(body).unwrap();
        }
        assert!(Instant::now() < deadline, "replication did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.contains("not this log's"), "{health}");
    common::award(second, "other-log");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        block_on(replica(&garage, &theirs).checkpoint()).unwrap(),
        before
    );
}

#[test]
fn wrong_settings_are_one_line_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(dir.path());
    let cases: [(&str, Vec<(&str, String)>); 3] = [
        (
            "aidledger/x",
            vec![(
                "AWS_ENDPOINT_URL",
                format!("http://{}", testkit::free_addr()),
            )],
        ),
        (
            "aidledger/x",
            vec![("AWS_SECRET_ACCESS_KEY", "0".repeat(64))],
        ),
        ("no-such-bucket/x", vec![]),
    ];
    for (bucket, overrides) in cases {
        let started = Instant::now();
        let mut c = with_env(node_bin(), &garage);
        for (k, v) in &overrides {
            c.env(k, v);
        }
        let out = c
            .args(["demo", "--data", dir.path().join("n").to_str().unwrap()])
            .args(["--listen", &testkit::free_addr().to_string()])
            .args(["--replicate", &format!("s3://{bucket}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("aidledger-node:"))
            .collect();
        assert!(!out.status.success(), "{bucket} {overrides:?}");
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains("replicating to s3://"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{bucket} {overrides:?}"
        );
    }
}

/// The size of the bucket's checkpoint.
fn bucket_size(r: &Replica) -> u64 {
    let note = block_on(r.checkpoint()).unwrap().expect("a checkpoint");
    ledger::witness::stated_checkpoint(note.as_bytes())
        .unwrap()
        .root
        .size
}

/// With `--ack-after-replication` a receipt means the entry is in the
/// bucket already; with one Garage node SIGKILLed, receipts keep coming
/// (the other two hold the quorum), and a restore made while it is down,
/// and a mirror following the bucket, have every acknowledged entry.
#[test]
fn synchronous_receipts_survive_a_storage_node_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut garage = Garage::start(dir.path());
    let url = format!("s3://{}/sync", garage.bucket);
    let r = replica(&garage, &url);
    let addr = testkit::free_addr();
    let data = dir.path().join("node");
    let _node = replicating_with(&garage, &data, addr, &url, &["--ack-after-replication"]);
    let mut acked = Vec::new();
    for i in 0..5 {
        let seq = common::award(addr, &format!("sync-{i}"));
        assert!(
            bucket_size(&r) > seq,
            "receipt for {seq} before the bucket had it"
        );
        acked.push(seq);
    }
    garage.kill(2);
    for i in 0..5 {
        let seq = common::award(addr, &format!("sync-down-{i}"));
        assert!(
            bucket_size(&r) > seq,
            "receipt for {seq} before the bucket had it"
        );
        acked.push(seq);
    }
    // A restore now, from the two nodes left, has every acknowledged entry.
    let vkey = json_of(addr, "/v1/log")["vkey"]
        .as_str()
        .unwrap()
        .to_owned();
    let restored = dir.path().join("restored");
    let out = with_env(node_bin(), &garage)
        .env("AWS_ENDPOINT_URL", &garage.endpoints[1])
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
    let log = ledger::store::Log::open(ledger::RocksBackend::open(&restored.join("db")).unwrap())
        .unwrap();
    assert!(log.size() > *acked.last().unwrap());
    // So does a mirror following the bucket itself.
    let mirror = testkit::free_addr();
    let mut c = with_env(node_bin(), &garage);
    c.env("AWS_ENDPOINT_URL", &garage.endpoints[1])
        .args([
            "mirror",
            "--from",
            &url,
            "--vkey",
            &vkey,
            "--interval",
            "0.1",
        ])
        .args(["--data", dir.path().join("mirror").to_str().unwrap()])
        .args(["--listen", &mirror.to_string()])
        .stderr(Stdio::null());
    let _mirror = testkit::Killed(testkit::spawn_listening(&mut c));
    let deadline = Instant::now() + Duration::from_secs(60);
    while json_of(mirror, "/v1/log")["size"].as_u64().unwrap() <= *acked.last().unwrap() {
        assert!(
            Instant::now() < deadline,
            "the mirror did not catch up from the bucket"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    garage.restart(2);
    let seq = common::award(addr, "sync-after");
    assert!(bucket_size(&r) > seq);
}

/// A bucket whose tiles were tampered with after replication: a restore
/// names the hash tile that is not what the leaves give, and refuses an
/// entry bundle whose leaf was changed.
#[test]
fn a_restore_names_a_corrupted_tile() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(dir.path());
    let url = format!("s3://{}/tampered", garage.bucket);
    let addr = testkit::free_addr();
    let vkey;
    {
        let _node = replicating(&garage, &dir.path().join("node"), addr, &url);
        common::award(addr, "before-tampering");
        replicated(addr);
        vkey = json_of(addr, "/v1/log")["vkey"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    let r = replica(&garage, &url);
    let restore = |into: &str| {
        with_env(node_bin(), &garage)
            .args(["restore", "--from", &url, "--vkey", &vkey])
            .args(["--data", dir.path().join(into).to_str().unwrap()])
            .output()
            .unwrap()
    };
    // A hash tile with one hash changed.
    let mut tile = block_on(r.get("tile/0/005")).unwrap().unwrap();
    tile[40] ^= 1;
    plant(&r, "tile/0/005", tile.clone());
    let out = restore("a");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("tile/0/005: not the hashes the leaves give"),
        "{stderr}"
    );
    tile[40] ^= 1;
    plant(&r, "tile/0/005", tile);
    // A bundle with one leaf's amount changed: its signature fails.
    let mut bundle = block_on(r.get("tile/entries/000")).unwrap().unwrap();
    // One digit of an amount, so that the bundle's length prefixes still hold.
    let pattern = b"\"amount\":900000000";
    let at = bundle
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("the demo's first receipt is in bundle 0");
    bundle[at + pattern.len() - 1] = b'1';
    plant(&r, "tile/entries/000", bundle);
    let out = restore("b");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("the bucket's leaves: seq"), "{stderr}");
}

/// With a witness policy, the checkpoint in the bucket is the witnessed one
/// the node publishes, cosignatures and all.
#[test]
fn the_bucket_gets_the_witnessed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let garage = Garage::start(dir.path());
    let url = format!("s3://{}/witnessed", garage.bucket);
    let data = dir.path().join("node");
    std::fs::create_dir_all(&data).unwrap();
    let key = ledger::keyfile::create(&data.join("node.key")).unwrap();
    let log_vkey = ledger::checkpoint::CheckpointSigner::new("demo.aidledger.local/aid/2026", key)
        .unwrap()
        .vkey();
    let (vkey, witness_addr, _witness) =
        common::witness(&dir.path().join("audit"), "audit.witness.test", &log_vkey);
    let policy = dir.path().join("policy");
    std::fs::write(
        &policy,
        format!("log {log_vkey}\nwitness audit {vkey} http://{witness_addr}\nquorum audit\n"),
    )
    .unwrap();
    let addr = testkit::free_addr();
    let policy = policy.to_str().unwrap();
    let _node = replicating_with(
        &garage,
        &data,
        addr,
        &url,
        &[
            "--replicate-interval",
            "0.1",
            "--witness-policy",
            policy,
            "--witness-interval",
            "0.1",
        ],
    );
    common::award(addr, "witnessed-1");
    let size = json_of(addr, "/v1/log")["size"].as_u64().unwrap();
    let r = replica(&garage, &url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let note = loop {
        if let Some(note) = block_on(r.checkpoint()).unwrap() {
            if ledger::witness::stated_checkpoint(note.as_bytes())
                .unwrap()
                .root
                .size
                == size
            {
                break note;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the witnessed checkpoint never reached the bucket"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(note.contains("\u{2014} audit.witness.test "), "{note}");
    let (_, published) = get(addr, "/checkpoint");
    assert_eq!(note.as_bytes(), published);
}
