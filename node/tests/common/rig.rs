//! A writer and its standbys under the lock (SPEC §8) with real
//! components on loopback: a three-member etcd cluster, a three-node Garage
//! cluster and `aidledger-node serve --lock` processes sharing one key; the
//! load and the checks of the failover tests and bench.

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

pub const ORIGIN: &str = "failover.aidledger.test/aid";
pub const TTL: &str = "2";

/// One rig at a time in a test binary: a killed node's port is free, and
/// another test's new node could take it while the clients of this one
/// still name it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// etcd, Garage, the nodes' shared key and where each node keeps its data.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub garage: Garage,
    pub etcd: Etcd,
    pub key: PathBuf,
    pub addrs: Vec<SocketAddr>,
    pub nodes: Vec<Option<testkit::Killed>>,
    /// Nodes stopped with SIGSTOP (their sockets accept and never answer).
    pub paused: Vec<bool>,
    /// Under the lock (else one node replicating synchronously, to compare).
    pub locked: bool,
    /// With a witness: its process and the policy naming it.
    pub witness: Option<(testkit::Killed, PathBuf)>,
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl Rig {
    /// `n` nodes under the lock, the first the writer.
    pub fn start(n: usize) -> Rig {
        Rig::start_with(n, true)
    }

    /// `n` nodes, under the lock if `locked` (without it, one node).
    pub fn start_with(n: usize, locked: bool) -> Rig {
        Rig::start_full(n, locked, false)
    }

    /// `n` nodes under the lock whose checkpoints one witness cosigns.
    pub fn witnessed(n: usize) -> Rig {
        Rig::start_full(n, true, true)
    }

    fn start_full(n: usize, locked: bool, witnessed: bool) -> Rig {
        let alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
            locked,
            witness: None,
            _alone: alone,
        };
        if witnessed {
            let dir = rig.dir.path().join("witness");
            let (witness, addr, process) =
                super::witness_of(&dir, "audit.witness.test", ORIGIN, &vkey());
            let policy = rig.dir.path().join("policy");
            std::fs::write(
                &policy,
                format!(
                    "log {}\nwitness audit {witness} http://{addr}\nquorum audit\n",
                    vkey()
                ),
            )
            .unwrap();
            rig.witness = Some((process, policy));
        }
        for i in 0..n {
            rig.start_node(i);
            // The first wins the lock before the others look.
            if i == 0 {
                rig.wait_writer(Duration::from_secs(30));
            }
        }
        rig
    }

    pub fn url(&self) -> String {
        format!("s3://{}/log", self.garage.bucket)
    }

    pub fn start_node(&mut self, i: usize) {
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
        // The first node as `serve --lock`, the others as `standby`: the
        // same node, named for what it starts as.
        let command = if self.locked && i > 0 {
            "standby"
        } else {
            "serve"
        };
        c.args([
            command,
            "--data",
            data.to_str().unwrap(),
            "--origin",
            ORIGIN,
        ])
        .args(["--listen", &addr.to_string()])
        .args(["--key", self.key.to_str().unwrap()])
        .args(["--replicate", &self.url(), "--ack-after-replication"])
        .args(["--replicate-interval", "0.1"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::from(log));
        if let Some((_, policy)) = &self.witness {
            c.args(["--witness-policy", policy.to_str().unwrap()])
                .args(["--witness-interval", "0.1"]);
        }
        if self.locked {
            c.args(["--lock", &self.etcd.url("aidledger/failover")])
                .args(["--lock-ttl", TTL, "--standby-interval", "0.2"])
                .args(["--advertise", &format!("http://{addr}")]);
        }
        self.nodes[i] = Some(testkit::Killed(testkit::spawn_listening(&mut c)));
    }

    /// The node that writes, once one does (its /healthz says so).
    pub fn writer(&self) -> Option<usize> {
        if !self.locked {
            return self.nodes[0].is_some().then_some(0);
        }
        (0..self.addrs.len()).find(|&i| {
            self.nodes[i].is_some()
                && !self.paused[i]
                && testkit::try_http(self.addrs[i], "GET", "/healthz", b"").is_ok_and(|a| {
                    String::from_utf8_lossy(&a.body).contains("writer under the lock: lease held")
                })
        })
    }

    pub fn wait_writer(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.writer() {
                return i;
            }
            assert!(Instant::now() < deadline, "no writer within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self, i: usize) -> i32 {
        self.nodes[i].as_ref().unwrap().id() as i32
    }

    pub fn replica(&self) -> Replica {
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
pub fn genesis(rig: &Rig) {
    let w = rig.wait_writer(Duration::from_secs(30));
    for body in super::vector_entries() {
        let a = testkit::http(rig.addrs[w], "POST", "/v1/entries", &body);
        assert!(
            a.status == 201 || a.status == 200,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
    }
    // The standbys have followed: each serves a checkpoint.
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in (0..rig.addrs.len()).filter(|&i| rig.nodes[i].is_some()) {
        loop {
            let (status, note) = testkit::http_get(rig.addrs[i], "/checkpoint");
            let size = ledger::witness::stated_checkpoint(&note).map(|c| c.root.size);
            if status == 200 && size >= Some(5) {
                break;
            }
            assert!(Instant::now() < deadline, "node {i} serves no checkpoint");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Submits `body` to the nodes in turn, from `first`, as a client with
/// several `--node` URLs does: the next one on a refused connection, a
/// redirect or `overloaded`. The receipt(s), or `None` when none took it.
pub fn submit_anywhere(addrs: &[SocketAddr], first: usize, body: &[u8]) -> Option<Value> {
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

/// Submits the award `nonce` to the nodes in turn (see
/// [`submit_anywhere`]) until one takes it, for up to `within`: its seq.
pub fn submit_until(addrs: &[SocketAddr], first: usize, nonce: &str, within: Duration) -> u64 {
    let body = serde_json::to_vec(&super::award_entry(nonce)).unwrap();
    let deadline = Instant::now() + within;
    loop {
        if let Some(r) = submit_anywhere(addrs, first, &body) {
            return r["seq"].as_u64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no node took {nonce} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Submits awards (singles and arrays of 10) until `stop`, recording each
/// receipt (nonce → seq) and when it came.
pub fn load(
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
        let entries: Vec<_> = nonces.iter().map(|n| super::award_entry(n)).collect();
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
pub fn leaves(addr: SocketAddr) -> Vec<Vec<u8>> {
    let (_, note) = testkit::http_get(addr, "/checkpoint");
    let verifier = CheckpointVerifier::from_vkey(&vkey()).unwrap();
    let cp = verifier.verify(&note).unwrap();
    let mut chain = ledger::ChainVerifier::new();
    let mut out = Vec::new();
    while (out.len() as u64) < cp.root.size {
        let limit = (cp.root.size - out.len() as u64).min(1000);
        let (_, page) = testkit::http_get(
            addr,
            &format!("/v1/entries?start={}&limit={limit}", out.len()),
        );
        for line in page.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            chain.push(line).unwrap();
            out.push(line.to_vec());
        }
    }
    chain.finish(&cp.root).unwrap();
    out
}

/// The bucket's leaves up to etcd's checkpoint, every tile verified.
pub fn bucket_leaves(rig: &Rig) -> Vec<Vec<u8>> {
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

pub fn vkey() -> String {
    ledger::checkpoint::CheckpointSigner::new(
        ORIGIN,
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap()
    .vkey()
}

/// Every node and the bucket agree leaf by leaf where they overlap (never
/// two leaves for one seq), and every acknowledged entry is at its seq.
/// Returns the longest log.
pub fn agree(rig: &Rig, acked: &HashMap<String, u64>) -> Vec<Vec<u8>> {
    let mut logs: Vec<(String, Vec<Vec<u8>>)> = (0..rig.addrs.len())
        .filter(|&i| rig.nodes[i].is_some())
        .map(|i| (format!("node {i}"), leaves(rig.addrs[i])))
        .collect();
    logs.push(("the bucket".into(), bucket_leaves(rig)));
    let longest = logs
        .iter()
        .map(|(_, l)| l.clone())
        .max_by_key(Vec::len)
        .unwrap();
    for (name, log) in &logs {
        for (seq, leaf) in log.iter().enumerate() {
            assert!(
                leaf == &longest[seq],
                "{name} has another leaf at seq {seq}"
            );
        }
    }
    let mut at: HashMap<String, u64> = HashMap::new();
    for (seq, bytes) in longest.iter().enumerate() {
        let leaf = ledger::entry::Leaf::from_bytes(bytes).unwrap();
        let nonce = leaf.entry.statement.nonce.clone();
        assert!(
            at.insert(nonce.clone(), seq as u64).is_none(),
            "{nonce} twice"
        );
    }
    for (nonce, seq) in acked {
        assert_eq!(
            at.get(nonce),
            Some(seq),
            "acknowledged {nonce} at {seq} is lost"
        );
    }
    longest
}

/// Waits until every running node publishes a checkpoint of `size` or more.
pub fn settle(rig: &Rig, size: usize) {
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

pub fn signal(pid: i32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Three clients submit without pause while the writer is SIGKILLed
/// `kills` times, each time once it has acknowledged 20 more entries, and
/// started again (as a standby). Returns every receipt (nonce → seq) and,
/// per kill, the time from the kill to the next receipt.
pub fn kill_under_load(rig: &mut Rig, kills: usize) -> (HashMap<String, u64>, Vec<Duration>) {
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
                assert!(
                    Instant::now() < deadline,
                    "no write accepted after the kill"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            failovers.push(last_ack.lock().unwrap().duration_since(killed));
            rig.start_node(w);
        }
        stop.store(true, Ordering::Relaxed);
    });
    (acked.into_inner().unwrap(), failovers)
}
