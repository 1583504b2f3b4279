//! `aidledger witness` as a real process on loopback: every answer of
//! `add-checkpoint` reached by a crafted request, the monitoring endpoint,
//! the evidence of a fork, and SIGKILL at random moments never making it
//! cosign a smaller tree or another root for a size it cosigned.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::prelude::{Engine, BASE64_STANDARD};
use common::ok;
use ed25519_dalek::SigningKey;
use ledger::checkpoint::{Checkpoint, CheckpointSigner};
use ledger::merkle::{leaf_hash, prove_consistency, MemTree, RootHash};
use ledger::witness::{AddCheckpoint, WitnessVerifier};
use ledger::Hash;

const ORIGIN: &str = "test.example/aid";

fn log() -> CheckpointSigner {
    CheckpointSigner::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).unwrap()
}

/// The tree of the first `n` leaves of one growing log.
fn tree(n: u64) -> MemTree {
    let mut t = MemTree::new();
    for i in 0..n {
        t.push(leaf_hash(&i.to_be_bytes()));
    }
    t
}

/// A witness directory trusting `log()`; returns its vkey.
fn witness_dir(dir: &Path) -> String {
    common::new_witness(dir, "w1.test", ORIGIN, &log().vkey())
}

fn serve(dir: &Path, addr: SocketAddr) -> testkit::Killed {
    common::serve_witness(dir, addr)
}

/// Posts the request for the tree of `size` leaves, proving from `old`.
fn add(addr: SocketAddr, old: u64, size: u64, note: Option<String>) -> testkit::Answer {
    let t = tree(size.max(old));
    let proof = if old == 0 {
        Vec::new()
    } else {
        prove_consistency(&t, old, size).unwrap()
    };
    let req = AddCheckpoint {
        old,
        proof,
        note: note.unwrap_or_else(|| log().sign(t.root())).into_bytes(),
    };
    testkit::http(addr, "POST", "/add-checkpoint", &req.to_bytes())
}

/// Checks a 200's body: one cosignature line by the witness over the tree
/// of `size`, decoded by hand.
fn check_cosigned(vkey: &str, a: &testkit::Answer, size: u64) {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let line = std::str::from_utf8(&a.body).unwrap();
    let b64 = line
        .strip_prefix("\u{2014} w1.test ")
        .and_then(|l| l.strip_suffix('\n'))
        .unwrap();
    let blob = BASE64_STANDARD.decode(b64).unwrap();
    assert_eq!(blob.len(), 76);
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        root: tree(size).root(),
    };
    let v = WitnessVerifier::from_vkey(vkey).unwrap();
    assert_eq!(blob[..4], v.id().to_be_bytes());
    v.verify(&cp.body(), &blob[4..]).unwrap();
}

#[test]
fn add_checkpoint_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let wdir = dir.path().join("w");
    let vkey = witness_dir(&wdir);
    let addr = testkit::free_addr();
    let mut child = serve(&wdir, addr);
    let hash = cli::witness::origin_hash(ORIGIN);
    // Nothing cosigned yet.
    assert_eq!(
        testkit::http_get(addr, &format!("/{hash}/checkpoint")).0,
        404
    );
    check_cosigned(&vkey, &add(addr, 0, 10, None), 10);
    // The monitoring endpoint serves the log's note with the cosignature.
    let (status, note) = testkit::http_get(addr, &format!("/{hash}/checkpoint"));
    assert_eq!(status, 200);
    let note = String::from_utf8(note).unwrap();
    assert!(note.starts_with(&log().sign(tree(10).root())));
    assert!(note.ends_with('\n') && note.contains("\u{2014} w1.test "));
    // 409 with the size held, as text/x.tlog.size.
    let a = add(addr, 0, 16, None);
    assert_eq!((a.status, a.body.as_slice()), (409, &b"10\n"[..]));
    assert!(a
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/x.tlog.size"));
    check_cosigned(&vkey, &add(addr, 10, 16, None), 16);
    // 404, 403, 400.
    let stranger =
        CheckpointSigner::new("other.example/log", SigningKey::from_bytes(&[2; 32])).unwrap();
    assert_eq!(
        add(addr, 16, 20, Some(stranger.sign(tree(20).root()))).status,
        404
    );
    let impostor = CheckpointSigner::new(ORIGIN, SigningKey::from_bytes(&[3; 32])).unwrap();
    assert_eq!(
        add(addr, 16, 20, Some(impostor.sign(tree(20).root()))).status,
        403
    );
    assert_eq!(
        testkit::http(addr, "POST", "/add-checkpoint", b"old x\n\n").status,
        400
    );
    let too_old = AddCheckpoint {
        old: 21,
        proof: Vec::new(),
        note: log().sign(tree(20).root()).into_bytes(),
    };
    let a = testkit::http(addr, "POST", "/add-checkpoint", &too_old.to_bytes());
    assert_eq!(a.status, 400);
    // 422: a fork of size 16; kept as evidence.
    let forked = RootHash {
        size: 16,
        hash: Hash::new([7; 32]),
    };
    assert_eq!(add(addr, 16, 16, Some(log().sign(forked))).status, 422);
    // The witness still holds 16.
    assert_eq!(add(addr, 0, 20, None).body, b"16\n");
    child.kill().unwrap();
    child.wait().unwrap();
    let out = ok(
        &["witness", "evidence", "--dir", wdir.to_str().unwrap()],
        None,
    );
    assert!(
        out.stdout.contains(ORIGIN) && out.stdout.contains("size 16"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&forked.hash.to_string()),
        "{}",
        out.stdout
    );
}

/// SIGKILL at random moments while checkpoints grow: after every restart
/// the witness holds a tree at least as large as the last one it
/// answered 200 for, with the root of that size, and never goes back.
#[test]
fn a_killed_witness_never_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let wdir = dir.path().join("w");
    let vkey = witness_dir(&wdir);
    let hash = cli::witness::origin_hash(ORIGIN);
    let mut rng = fastrand::Rng::new();
    let mut acknowledged = 0;
    let mut size = 0;
    for _ in 0..20 {
        let addr = testkit::free_addr();
        let mut child = serve(&wdir, addr);
        // What the witness holds after the restart.
        let held = match testkit::http_get(addr, &format!("/{hash}/checkpoint")) {
            (200, note) => {
                let cp = ledger::witness::stated_checkpoint(&note).unwrap();
                assert_eq!(
                    cp.root,
                    tree(cp.root.size).root(),
                    "another root for its size"
                );
                cp.root.size
            }
            (status, _) => {
                assert_eq!(status, 404);
                0
            }
        };
        assert!(
            held >= acknowledged,
            "held {held} < acknowledged {acknowledged}"
        );
        size = size.max(held);
        // A few requests, then a kill at a random moment.
        let killer = {
            let pid = child.id();
            let wait = rng.u64(0..30);
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(wait));
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            })
        };
        let mut old = held;
        for _ in 0..50 {
            size += 1 + rng.u64(0..5);
            let a = std::panic::catch_unwind(|| add(addr, old, size, None));
            match a {
                Ok(a) if a.status == 200 => {
                    check_cosigned(&vkey, &a, size);
                    acknowledged = size;
                    old = size;
                }
                Ok(a) => panic!("status {}: {}", a.status, String::from_utf8_lossy(&a.body)),
                Err(_) => break, // the connection died with the process
            }
        }
        killer.join().unwrap();
        let _ = child.kill();
        child.wait().unwrap();
    }
    assert!(acknowledged > 0);
}

/// `monitor --policy` forwards each new checkpoint it verifies to the
/// policy's witnesses: a witness the node never contacted ends up holding
/// the checkpoint the monitor was shown.
#[test]
fn a_monitor_gossips_what_it_sees_to_the_witnesses() {
    const DEMO: &str = "demo.aidledger.local/aid/2026";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    std::fs::create_dir_all(&data).unwrap();
    let node_key = ledger::keyfile::create(&data.join("node.key")).unwrap();
    let log_vkey = CheckpointSigner::new(DEMO, node_key).unwrap().vkey();
    let wdir = dir.path().join("w");
    let vkey = common::new_witness(&wdir, "w1.test", DEMO, &log_vkey);
    let waddr = testkit::free_addr();
    let mut w = serve(&wdir, waddr);
    let addr = testkit::free_addr();
    let node_bin = Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name("aidledger-node");
    let mut node = testkit::demo(&node_bin, &data, addr, &[]);
    let policy = dir.path().join("policy");
    std::fs::write(
        &policy,
        format!("log {log_vkey}\nwitness w1 {vkey} http://{waddr}\nquorum none\n"),
    )
    .unwrap();
    let mut monitor = testkit::Killed(
        Command::new(env!("CARGO_BIN_EXE_aidledger"))
            .args([
                "monitor",
                "--node",
                &format!("http://{addr}"),
                "--vkey",
                &log_vkey,
            ])
            .args(["--policy", policy.to_str().unwrap(), "--interval", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(monitor.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let size: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let hash = cli::witness::origin_hash(DEMO);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let held = loop {
        if let (200, note) = testkit::http_get(waddr, &format!("/{hash}/checkpoint")) {
            break ledger::witness::stated_checkpoint(&note).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the monitor did not gossip"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(held.root.size, size);
    for child in [&mut monitor, &mut node, &mut w] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The evidence files the witness keeps.
fn evidence_files(wdir: &Path) -> Vec<std::path::PathBuf> {
    let dir = wdir
        .join("logs")
        .join(cli::witness::origin_hash(ORIGIN))
        .join("evidence");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|f| f.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Strangers cannot make the witness hold state or write: requests for
/// thousands of unknown origins leave its memory as it was, a genuine
/// checkpoint with a garbage proof is refused without being kept, and a
/// real fork sent again and again is kept once.
#[test]
fn strangers_cannot_grow_the_witness_or_make_it_write() {
    let dir = tempfile::tempdir().unwrap();
    let wdir = dir.path().join("w");
    witness_dir(&wdir);
    let addr = testkit::free_addr();
    let child = serve(&wdir, addr);
    let pid = child.0.id();
    assert_eq!(add(addr, 0, 10, None).status, 200);
    // Warm up, then 9,000 unknown origins, each with a valid signature of
    // its own key.
    let stranger = |i: u32| {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signer = CheckpointSigner::new(&format!("stranger.example/{i}"), key).unwrap();
        AddCheckpoint {
            old: 0,
            proof: Vec::new(),
            note: signer.sign(tree(3).root()).into_bytes(),
        }
        .to_bytes()
    };
    for i in 0..200 {
        assert_eq!(
            testkit::http(addr, "POST", "/add-checkpoint", &stranger(i)).status,
            404
        );
    }
    let before = testkit::rss_kib(pid);
    assert!(before > 0, "the witness's memory cannot be read");
    for i in 200..9_200 {
        assert_eq!(
            testkit::http(addr, "POST", "/add-checkpoint", &stranger(i)).status,
            404
        );
    }
    let grown = testkit::rss_kib(pid).saturating_sub(before);
    assert!(
        grown < 16 << 10,
        "9,000 unknown origins grew the witness by {grown} KiB"
    );
    // A genuine next checkpoint with a garbage proof: refused, not kept.
    let t = tree(20);
    let garbage = AddCheckpoint {
        old: 10,
        proof: vec![Hash::new([9; 32]); 4],
        note: log().sign(t.root()).into_bytes(),
    };
    let a = testkit::http(addr, "POST", "/add-checkpoint", &garbage.to_bytes());
    assert_eq!(a.status, 422);
    assert!(
        evidence_files(&wdir).is_empty(),
        "a garbage proof was kept as evidence"
    );
    // A real fork, proven by its own consistency proof from size 10 (the
    // forked tree differs in its first leaf): kept once, however often sent.
    let mut forked = MemTree::new();
    for i in 0..20u64 {
        forked.push(leaf_hash(&(i + u64::from(i == 0) * 1000).to_be_bytes()));
    }
    let fork = AddCheckpoint {
        old: 10,
        proof: prove_consistency(&forked, 10, 20).unwrap(),
        note: log().sign(forked.root()).into_bytes(),
    };
    for _ in 0..5 {
        let a = testkit::http(addr, "POST", "/add-checkpoint", &fork.to_bytes());
        assert_eq!(a.status, 422);
        assert!(String::from_utf8_lossy(&a.body).contains("another history"));
    }
    let files = evidence_files(&wdir);
    assert_eq!(files.len(), 1, "{files:?}");
    // The witness still holds 10 and cosigns the honest extension.
    check_cosigned(&witness_vkey(&wdir), &add(addr, 10, 20, None), 20);
}

/// The witness's vkey, from its key and name.
fn witness_vkey(wdir: &Path) -> String {
    cli::witness::Witness::open(wdir).unwrap().vkey()
}

/// More idle connections than the witness has descriptors for do not keep
/// an honest log out: it sheds the idle ones (it used to run out of
/// descriptors and time every request out until the attacker left).
#[test]
fn a_witness_under_thousands_of_idle_connections_still_answers() {
    use std::os::unix::process::CommandExt;
    server::raise_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let wdir = dir.path().join("w");
    let vkey = witness_dir(&wdir);
    let addr = testkit::free_addr();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aidledger"));
    command
        .args([
            "witness",
            "serve",
            "--dir",
            wdir.to_str().unwrap(),
            "--listen",
        ])
        .arg(addr.to_string())
        .stderr(Stdio::null());
    // Room for about 300 connections.
    // SAFETY: setrlimit is a plain system call, safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = rustix::process::Rlimit {
                current: Some(440),
                maximum: Some(440),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)
                .map_err(std::io::Error::from)
        });
    }
    let _child = testkit::Killed(testkit::spawn_listening(&mut command));
    let mut idle = Vec::new();
    for _ in 0..4_200 {
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            idle.push(s);
        }
    }
    assert!(idle.len() > 4_000, "only {} connections opened", idle.len());
    check_cosigned(&vkey, &add(addr, 0, 10, None), 10);
    let hash = cli::witness::origin_hash(ORIGIN);
    assert_eq!(
        testkit::http_get(addr, &format!("/{hash}/checkpoint")).0,
        200
    );
    drop(idle);
}
