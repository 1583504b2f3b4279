//! One writer across machines (SPEC §8, issue 32) with real components on
//! loopback: a three-member etcd cluster (Debian's `etcd-server`) holds the
//! writer's lock and checkpoint, a three-node Garage cluster the tiles, and
//! two or three `aidledger-node serve --lock` processes take turns.
//!
//! - The writer SIGKILLed under load, again and again: every receipt's
//!   entry is at its seq exactly once, gapless; the chain and checkpoints
//!   verify; no seq has two leaves on any node or in the bucket.
//! - The writer paused (SIGSTOP) past its lease: the standby takes over;
//!   resumed, the old writer refuses to write and publishes nothing.
//! - etcd members killed: one down, writes go on; two down, they stop with
//!   `overloaded` and resume when a member returns, nothing lost.
//!
//! `FAILOVER_KILLS` (default 4; the long form 20) sets the kills.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ledger::checkpoint::CheckpointVerifier;
use ledger::follow::TileFollower;
use node::replicate::{Replica, ReplicaSource, S3Settings};
use serde_json::Value;
use testkit::etcd::Etcd;
use testkit::garage::Garage;

mod common;

const ORIGIN: &str = "failover.aidledger.test/aid";
const TTL: &str = "2";

/// etcd, Garage, the nodes' shared key and where each node keeps its data.
struct Rig {
    dir: tempfile::TempDir,
    garage: Garage,
    etcd: Etcd,
    key: PathBuf,
    addrs: Vec<SocketAddr>,
    nodes: Vec<Option<testkit::Killed>>,
    /// Nodes stopped with SIGSTOP (their sockets accept and never answer).
    paused: Vec<bool>,
}

impl Rig {
    fn start(n: usize) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let garage = Garage::start(&dir.path().join("garage"));
        let etcd = Etcd::start(&dir.path().join("etcd"));
        let key = dir.path().join("node.key");
        std::fs::write(&key, format!("{}\n", hex::encode([3u8; 32]))).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let addrs = (0..n).map(|_| testkit::free_addr()).collect();
        let mut rig = Rig {
            dir,
            garage,
            etcd,
            key,
            addrs,
            nodes: (0..n).map(|_| None).collect(),
            paused: vec![false; n],
        };
        for i in 0..n {
            rig.start_node(i);
            // The first wins the lock before the others look.
            if i == 0 {
                rig.wait_writer(Duration::from_secs(30));
            }
        }
        rig
    }

    fn url(&self) -> String {
        format!("s3://{}/log", self.garage.bucket)
    }

    fn start_node(&mut self, i: usize) {
        let addr = self.addrs[i];
        let data = self.dir.path().join(format!("node-{i}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("node-{i}.log")))
            .unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
        for (k, v) in self.garage.env() {
            c.env(k, v);
        }
        c.args(["serve", "--data", data.to_str().unwrap(), "--origin", ORIGIN])
            .args(["--listen", &addr.to_string()])
            .args(["--key", self.key.to_str().unwrap()])
            .args(["--replicate", &self.url(), "--ack-after-replication"])
            .args(["--replicate-interval", "0.1"])
            .args(["--lock", &self.etcd.url("aidledger/failover")])
            .args(["--lock-ttl", TTL, "--standby-interval", "0.2"])
            .args(["--advertise", &format!("http://{addr}")])
            .env("RUST_LOG", "info")
            .stderr(Stdio::from(log));
        self.nodes[i] = Some(testkit::Killed(testkit::spawn_listening(&mut c)));
    }

    /// The node that writes, once one does (its /healthz says so).
    fn writer(&self) -> Option<usize> {
        (0..self.addrs.len()).find(|&i| {
            self.nodes[i].is_some()
                && !self.paused[i]
                && testkit::try_http(self.addrs[i], "GET", "/healthz", b"")
                    .is_ok_and(|a| String::from_utf8_lossy(&a.body).contains("writer under the lock: lease held"))
        })
    }

    fn wait_writer(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.writer() {
                return i;
            }
            assert!(Instant::now() < deadline, "no writer within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self, i: usize) -> i32 {
        self.nodes[i].as_ref().unwrap().id() as i32
    }

    fn replica(&self) -> Replica {
        let env: HashMap<_, _> = self.garage.env().into_iter().collect();
        Replica::new(
            &self.url(),
            &S3Settings {
                endpoint: Some(env["AWS_ENDPOINT_URL"].clone()),
                region: Some(env["AWS_REGION"].clone()),
                access_key_id: Some(env["AWS_ACCESS_KEY_ID"].clone()),
                secret_access_key: Some(env["AWS_SECRET_ACCESS_KEY"].clone()),
            },
        )
        .unwrap()
    }
}

/// The vector ledger's five entries: its registrar and the demo charity
/// (key `[2; 32]`), whose awards make the load.
fn genesis(rig: &Rig) {
    let w = rig.wait_writer(Duration::from_secs(30));
    for body in common::vector_entries() {
        let a = testkit::http(rig.addrs[w], "POST", "/v1/entries", &body);
        assert!(a.status == 201 || a.status == 200, "{}", String::from_utf8_lossy(&a.body));
    }
}

/// Submits `body` to the nodes in turn, from `first`, as a client with
/// several `--node` URLs does: the next one on a refused connection, a
/// redirect or `overloaded`. The receipt(s), or `None` when none took it.
fn submit_anywhere(addrs: &[SocketAddr], first: usize, body: &[u8]) -> Option<Value> {
    for k in 0..addrs.len() {
        let addr = addrs[(first + k) % addrs.len()];
        let Ok(a) = testkit::try_http(addr, "POST", "/v1/entries", body) else {
            continue;
        };
        if a.status == 200 || a.status == 201 {
            return serde_json::from_slice(&a.body).ok();
        }
    }
    None
}

/// Submits awards (singles and arrays of 10) until `stop`, recording each
/// receipt (nonce → seq) and when it came.
fn load(
    addrs: &[SocketAddr],
    client: usize,
    stop: &AtomicBool,
    acked: &Mutex<HashMap<String, u64>>,
    last_ack: &Mutex<Instant>,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let array = i % 3 == 2;
        let nonces: Vec<String> = (0..if array { 10 } else { 1 })
            .map(|k| format!("load-{client}-{i}-{k}"))
            .collect();
        i += 1;
        let entries: Vec<_> = nonces.iter().map(|n| common::award_entry(n)).collect();
        let body = if array {
            serde_json::to_vec(&entries).unwrap()
        } else {
            serde_json::to_vec(&entries[0]).unwrap()
        };
        let Some(v) = submit_anywhere(addrs, client, &body) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let receipts = if array {
            v["results"].as_array().cloned().unwrap_or_default()
        } else {
            vec![v]
        };
        let mut acked = acked.lock().unwrap();
        for (nonce, r) in nonces.iter().zip(receipts) {
            if let Some(seq) = r["seq"].as_u64() {
                acked.insert(nonce.clone(), seq);
                *last_ack.lock().unwrap() = Instant::now();
            }
        }
    }
}

/// A node's leaves up to its published checkpoint, the chain and the
/// checkpoint verified.
fn leaves(addr: SocketAddr) -> Vec<Vec<u8>> {
    let (_, note) = testkit::http_get(addr, "/checkpoint");
    let verifier = CheckpointVerifier::from_vkey(&vkey()).unwrap();
    let cp = verifier.verify(&note).unwrap();
    let mut chain = ledger::ChainVerifier::new();
    let mut out = Vec::new();
    while (out.len() as u64) < cp.root.size {
        let limit = (cp.root.size - out.len() as u64).min(1000);
        let (_, page) =
            testkit::http_get(addr, &format!("/v1/entries?start={}&limit={limit}", out.len()));
        for line in page.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            chain.push(line).unwrap();
            out.push(line.to_vec());
        }
    }
    chain.finish(&cp.root).unwrap();
    out
}

/// The bucket's leaves up to etcd's checkpoint, every tile verified.
fn bucket_leaves(rig: &Rig) -> Vec<Vec<u8>> {
    let follower = TileFollower::new(
        ReplicaSource::new(rig.replica()),
        CheckpointVerifier::from_vkey(&vkey()).unwrap(),
        None,
    );
    let size = follower.checkpoint().unwrap().checkpoint.root.size;
    let mut out = Vec::new();
    for bundle in follower.bundles(0, size) {
        for (_, bytes) in bundle.unwrap().leaves(0).unwrap() {
            out.push(bytes.to_vec());
        }
    }
    out
}

fn vkey() -> String {
    ledger::checkpoint::CheckpointSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[3; 32]))
        .unwrap()
        .vkey()
}

/// Every node and the bucket agree leaf by leaf where they overlap (never
/// two leaves for one seq), and every acknowledged entry is at its seq.
/// Returns the longest log.
fn agree(rig: &Rig, acked: &HashMap<String, u64>) -> Vec<Vec<u8>> {
    let mut logs: Vec<(String, Vec<Vec<u8>>)> = (0..rig.addrs.len())
        .filter(|&i| rig.nodes[i].is_some())
        .map(|i| (format!("node {i}"), leaves(rig.addrs[i])))
        .collect();
    logs.push(("the bucket".into(), bucket_leaves(rig)));
    let longest = logs.iter().map(|(_, l)| l.clone()).max_by_key(Vec::len).unwrap();
    for (name, log) in &logs {
        for (seq, leaf) in log.iter().enumerate() {
            assert!(leaf == &longest[seq], "{name} has another leaf at seq {seq}");
        }
    }
    let mut at: HashMap<String, u64> = HashMap::new();
    for (seq, bytes) in longest.iter().enumerate() {
        let leaf = ledger::entry::Leaf::from_bytes(bytes).unwrap();
        let nonce = leaf.entry.statement.nonce.clone();
        assert!(at.insert(nonce.clone(), seq as u64).is_none(), "{nonce} twice");
    }
    for (nonce, seq) in acked {
        assert_eq!(at.get(nonce), Some(seq), "acknowledged {nonce} at {seq} is lost");
    }
    longest
}

/// Waits until every running node publishes a checkpoint of `size` or more.
fn settle(rig: &Rig, size: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in (0..rig.addrs.len()).filter(|&i| rig.nodes[i].is_some()) {
        loop {
            let (_, log) = testkit::http_get(rig.addrs[i], "/v1/log");
            let log: Value = serde_json::from_slice(&log).unwrap();
            if log["size"].as_u64().unwrap() >= size as u64 {
                break;
            }
            assert!(Instant::now() < deadline, "node {i} stays behind");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn signal(pid: i32, sig: &str) {
    let ok = Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(ok.success());
}

#[test]
fn the_writer_killed_under_load_again_and_again_loses_and_forks_nothing() {
    let kills: usize = testkit::env_number("FAILOVER_KILLS", 4);
    let mut rig = Rig::start(3);
    genesis(&rig);
    let acked = Mutex::new(HashMap::new());
    let last_ack = Mutex::new(Instant::now());
    let stop = AtomicBool::new(false);
    let mut failovers = Vec::new();
    let addrs = rig.addrs.clone();
    std::thread::scope(|s| {
        for client in 0..3 {
            let (addrs, stop, acked, last_ack) = (&addrs, &stop, &acked, &last_ack);
            s.spawn(move || load(addrs, client, stop, acked, last_ack));
        }
        for _ in 0..kills {
            let w = rig.wait_writer(Duration::from_secs(30));
            let before = acked.lock().unwrap().len();
            let deadline = Instant::now() + Duration::from_secs(30);
            while acked.lock().unwrap().len() < before + 20 {
                assert!(Instant::now() < deadline, "no receipts from the writer");
                std::thread::sleep(Duration::from_millis(20));
            }
            let killed = Instant::now();
            rig.nodes[w] = None; // SIGKILL
            let deadline = killed + Duration::from_secs(30);
            while *last_ack.lock().unwrap() <= killed {
                assert!(Instant::now() < deadline, "no write accepted after the kill");
                std::thread::sleep(Duration::from_millis(10));
            }
            failovers.push(last_ack.lock().unwrap().duration_since(killed));
            rig.start_node(w);
        }
        stop.store(true, Ordering::Relaxed);
    });
    let acked = acked.into_inner().unwrap();
    let w = rig.wait_writer(Duration::from_secs(30));
    let (_, log) = testkit::http_get(rig.addrs[w], "/v1/log");
    let size = serde_json::from_slice::<Value>(&log).unwrap()["size"].as_u64().unwrap();
    settle(&rig, size as usize);
    let longest = agree(&rig, &acked);
    failovers.sort();
    println!(
        "failover: {} kills, {} receipts kept, log of {}; first write after a kill p50 {:.2} s, max {:.2} s",
        kills,
        acked.len(),
        longest.len(),
        failovers[failovers.len() / 2].as_secs_f64(),
        failovers.last().unwrap().as_secs_f64()
    );
}

#[test]
fn a_paused_writer_resumed_past_its_lease_writes_and_publishes_nothing() {
    let mut rig = Rig::start(2);
    genesis(&rig);
    let a = rig.wait_writer(Duration::from_secs(30));
    let b = 1 - a;
    for n in 0..5 {
        common::award(rig.addrs[a], &format!("before-{n}"));
    }
    let (_, before) = testkit::http_get(rig.addrs[a], "/checkpoint");
    signal(rig.pid(a), "-STOP");
    rig.paused[a] = true;
    // A submission that reaches the paused writer waits in its socket.
    let stuck = {
        let addr = rig.addrs[a];
        std::thread::spawn(move || {
            testkit::try_http(addr, "POST", "/v1/entries", &serde_json::to_vec(&common::award_entry("stuck")).unwrap())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while rig.writer() != Some(b) {
        assert!(Instant::now() < deadline, "the standby did not take over");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut acked = HashMap::new();
    for n in 0..5 {
        let nonce = format!("after-{n}");
        acked.insert(nonce.clone(), common::award(rig.addrs[b], &nonce));
    }
    signal(rig.pid(a), "-CONT");
    rig.paused[a] = false;
    // The old writer answers what it held without a receipt, refuses new
    // entries, says why, and publishes no checkpoint past what it had.
    let stuck = stuck.join().unwrap();
    if let Ok(answer) = &stuck {
        assert!(answer.status != 200 && answer.status != 201, "{}", String::from_utf8_lossy(&answer.body));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, health) = testkit::http_get(rig.addrs[a], "/healthz");
        if status == 503 {
            assert!(String::from_utf8_lossy(&health).contains("lock lost"));
            break;
        }
        assert!(Instant::now() < deadline, "the old writer does not say it lost the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = common::post(rig.addrs[a], &common::award_entry("late"));
    assert_eq!(refused.status, 503, "{}", String::from_utf8_lossy(&refused.body));
    assert!(String::from_utf8_lossy(&refused.body).contains("overloaded"));
    let (_, after) = testkit::http_get(rig.addrs[a], "/checkpoint");
    assert_eq!(before, after, "the old writer published a checkpoint");
    // The standby's answers name the writer.
    let (_, metrics) = testkit::http_get(rig.addrs[a], "/metrics");
    assert!(String::from_utf8_lossy(&metrics).contains("aidledger_writer_lock_lost 1"));
    agree(&rig, &acked);
}

#[test]
fn etcd_losing_its_quorum_stops_writes_and_they_resume_with_it() {
    let mut rig = Rig::start(2);
    genesis(&rig);
    let w = rig.wait_writer(Duration::from_secs(30));
    let standby = 1 - w;
    // A standby sends submitters to the writer.
    let sent = common::post(rig.addrs[standby], &common::award_entry("to-standby"));
    assert_eq!(sent.status, 307, "{}", String::from_utf8_lossy(&sent.body));
    assert!(sent.head.to_ascii_lowercase().contains(&format!("location: http://{}/v1/entries", rig.addrs[w])));
    let mut acked = HashMap::new();
    rig.etcd.kill(0);
    for n in 0..5 {
        let nonce = format!("one-down-{n}");
        acked.insert(nonce.clone(), common::award(rig.addrs[w], &nonce));
    }
    rig.etcd.kill(1);
    let refused = common::post(rig.addrs[w], &common::award_entry("no-quorum"));
    assert_eq!(refused.status, 503, "{}", String::from_utf8_lossy(&refused.body));
    rig.etcd.restart(1);
    let body = serde_json::to_vec(&common::award_entry("back")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let receipt = loop {
        if let Some(r) = submit_anywhere(&rig.addrs, w, &body) {
            break r;
        }
        assert!(Instant::now() < deadline, "writes did not resume");
        std::thread::sleep(Duration::from_millis(200));
    };
    acked.insert("back".into(), receipt["seq"].as_u64().unwrap());
    // The entry refused without a quorum may be in the log (durable on the
    // writer, acknowledged to nobody); resubmitted, it gets its receipt.
    let again = submit_anywhere(&rig.addrs, w, &serde_json::to_vec(&common::award_entry("no-quorum")).unwrap())
        .expect("the resubmission is answered");
    acked.insert("no-quorum".into(), again["seq"].as_u64().unwrap());
    let longest = agree(&rig, &acked);
    settle(&rig, longest.len());
    agree(&rig, &acked);
}

/// `aidledger submit` with every node's URL: through a standby's redirect
/// to the writer, then, the writer killed, on to the standby once it has
/// taken over, the same entry resubmitted until one takes it.
#[test]
fn the_cli_given_every_node_finds_the_writer() {
    let mut rig = Rig::start(2);
    genesis(&rig);
    let w = rig.wait_writer(Duration::from_secs(30));
    let s = 1 - w;
    let submit = |nodes: [usize; 2], nonce: &str| -> Value {
        let list = nodes.map(|i| format!("http://{}", rig.addrs[i])).join(",");
        let mut child = Command::new(common::cli_bin())
            .args(["submit", "--node", &list, "--vkey", &vkey(), "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let entry = serde_json::to_vec(&common::award_entry(nonce)).unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &entry).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap()
    };
    let mut acked = HashMap::new();
    let first = submit([s, w], "cli-1");
    acked.insert("cli-1".to_owned(), first["seq"].as_u64().unwrap());
    rig.nodes[w] = None; // SIGKILL
    let second = submit([w, s], "cli-2");
    acked.insert("cli-2".to_owned(), second["seq"].as_u64().unwrap());
    assert_eq!(rig.writer(), Some(s));
    agree(&rig, &acked);
}
