//! The operator's day, with real processes on loopback: a witness down
//! shows as `degraded` and "unreachable since" in `/healthz` and once in
//! the log, and `ok` again when it returns; a fork proved by the witnesses
//! is `fork` (503, never `overloaded`) and its evidence is written once;
//! `keygen` and `witness init` label what they print, write the public
//! half next to the key and never overwrite a key; a pseudonym service key
//! others may read, or that is none, is refused.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{cli, cli_env, ok};
use ed25519_dalek::SigningKey;
use ledger::checkpoint::CheckpointSigner;

const ORIGIN: &str = "demo.aidledger.local/aid/2026";
const CHARITY: &str = "CN-USCI-53440300MJ0000018R";
const WITNESSES: [&str; 3] = ["audit", "discipline", "university"];

fn node_bin() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name("aidledger-node")
}

/// `aidledger-node demo` on `data` and `addr` with `extra` flags, its log
/// (stderr) in `log`; killed when dropped.
fn demo(data: &Path, addr: SocketAddr, extra: &[&str], log: &Path) -> testkit::Killed {
    testkit::Killed(testkit::spawn_listening(
        Command::new(node_bin())
            .args(["demo", "--data"])
            .arg(data)
            .args(["--listen", &addr.to_string()])
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(std::fs::File::create(log).unwrap()),
    ))
}

/// `/healthz`: status and body.
fn health(node: SocketAddr) -> (u16, String) {
    let (status, body) = testkit::http_get(node, "/healthz");
    (status, String::from_utf8(body).unwrap())
}

/// Polls `/healthz` (up to 30 s) until `want` holds of its answer; returns it.
fn health_until(node: SocketAddr, what: &str, want: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = health(node);
        if want(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never showed {what}; last: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A credit award by the demo charity (its key is public), new each call.
fn award(node: SocketAddr, nonce: &str) {
    let entry = ledger::SignedEntry::create(
        &SigningKey::from_bytes(&[2; 32]),
        CHARITY,
        ledger::domain::Kind::CreditAward,
        nonce,
        "2026-03-01T09:00:00Z",
        serde_json::json!({"holder": format!("vol_{}", "ab".repeat(32)), "points": 1, "reason": "志愿服务"}),
    )
    .unwrap();
    let a = testkit::http(
        node,
        "POST",
        "/v1/entries",
        &serde_json::to_vec(&entry).unwrap(),
    );
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
}

/// The node's key (made first, so that witnesses can trust it), three
/// witnesses serving, and a 2-of-3 policy naming them.
struct Setup {
    data: PathBuf,
    witnesses: Vec<(PathBuf, SocketAddr, Option<testkit::Killed>)>,
    policy: PathBuf,
}

fn setup(dir: &Path) -> Setup {
    let data = dir.join("node");
    std::fs::create_dir_all(&data).unwrap();
    let key = ledger::keyfile::create(&data.join("node.key")).unwrap();
    let log_vkey = CheckpointSigner::new(ORIGIN, key).unwrap().vkey();
    let mut policy = format!("log {log_vkey}\n");
    let mut witnesses = Vec::new();
    for name in WITNESSES {
        let wdir = dir.join(name);
        let vkey = common::new_witness(&wdir, &format!("{name}.witness.test"), ORIGIN, &log_vkey);
        let addr = testkit::free_addr();
        policy.push_str(&format!("witness {name} {vkey} http://{addr}\n"));
        witnesses.push((wdir.clone(), addr, Some(common::serve_witness(&wdir, addr))));
    }
    policy.push_str("group two-of-three 2 audit discipline university\nquorum two-of-three\n");
    let path = dir.join("policy");
    std::fs::write(&path, policy).unwrap();
    Setup {
        data,
        witnesses,
        policy: path,
    }
}

fn policy_args(policy: &Path) -> [&str; 4] {
    [
        "--witness-policy",
        policy.to_str().unwrap(),
        "--witness-interval",
        "0.2",
    ]
}

#[test]
fn a_witness_down_is_degraded_and_named_until_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        data,
        mut witnesses,
        policy,
    } = setup(dir.path());
    let addr = testkit::free_addr();
    let log = dir.path().join("node.log");
    let _node = demo(&data, addr, &policy_args(&policy), &log);
    let (status, body) = health_until(addr, "ok", |_, b| b.starts_with("ok\n"));
    assert_eq!(status, 200, "{body}");

    // One down: degraded, named with the time it went down; the two left
    // still make the quorum.
    witnesses[0].2 = None;
    award(addr, "operator-down-1");
    let (status, body) = health_until(addr, "degraded", |_, b| b.starts_with("degraded\n"));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("witness audit unreachable since 20"),
        "{body}"
    );
    assert!(body.contains("still make the quorum"), "{body}");
    let since = body
        .lines()
        .find(|l| l.starts_with("witness audit"))
        .unwrap()
        .split_whitespace()
        .nth(4)
        .unwrap()
        .to_owned();

    // Two down: no quorum possible, still 200 (the node serves and writes).
    witnesses[1].2 = None;
    award(addr, "operator-down-2");
    let (status, body) = health_until(addr, "no quorum possible", |_, b| {
        b.contains("cannot make the quorum")
    });
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("degraded\n"), "{body}");
    assert!(
        body.contains("witness discipline unreachable since"),
        "{body}"
    );
    // The first one is still down since the same moment.
    assert!(
        body.contains(&format!("witness audit unreachable since {since}")),
        "{body}"
    );
    // Several rounds later the log has said each witness down once, and
    // the lack of a quorum once, not every round.
    std::thread::sleep(Duration::from_secs(2));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("witness audit unreachable since").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("witness discipline unreachable since").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("no witness quorum").count(), 1, "{text}");

    // Both return: ok again, with no new entry needed.
    for w in witnesses.iter_mut().take(2) {
        w.2 = Some(common::serve_witness(&w.0, w.1));
    }
    let (status, body) = health_until(addr, "ok", |_, b| b.starts_with("ok\n"));
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("unreachable"), "{body}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("witness audit cosigns again"), "{text}");
}

/// The evidence files each witness keeps.
fn evidence(wdir: &Path) -> usize {
    let out = ok(
        &["witness", "evidence", "--dir", wdir.to_str().unwrap()],
        None,
    );
    out.stdout.lines().filter(|l| l.contains("size ")).count()
}

#[test]
fn a_fork_is_reported_once_and_not_as_overloaded() {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        data,
        witnesses,
        policy,
    } = setup(dir.path());
    // The honest node, witnessed at one entry past the demo; then stopped.
    let honest = testkit::free_addr();
    {
        let _a = demo(
            &data,
            honest,
            &policy_args(&policy),
            &dir.path().join("honest.log"),
        );
        award(honest, "operator-honest");
        health_until(honest, "ok", |_, b| b.starts_with("ok\n"));
        let size = {
            let (_, log) = testkit::http_get(honest, "/v1/log");
            serde_json::from_slice::<serde_json::Value>(&log).unwrap()["size"]
                .as_u64()
                .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while testkit::http_get(honest, "/checkpoint").0 != 200
            || !String::from_utf8(testkit::http_get(honest, "/checkpoint").1)
                .unwrap()
                .contains(&format!("\n{size}\n"))
        {
            assert!(
                Instant::now() < deadline,
                "the honest node was never witnessed"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // The forger: the same key, its own demo, another entry at that seq,
    // asking the same witnesses.
    let forged_data = dir.path().join("forged");
    std::fs::create_dir_all(&forged_data).unwrap();
    std::fs::copy(data.join("node.key"), forged_data.join("node.key")).unwrap();
    let forged = testkit::free_addr();
    let log = dir.path().join("forged.log");
    let _b = demo(&forged_data, forged, &policy_args(&policy), &log);
    award(forged, "operator-forged");
    // Every witness proves the fork once it is shown the forged checkpoint
    // at the size it holds (before, it only holds a larger tree).
    let (status, body) = health_until(forged, "a fork proved by every witness", |_, b| {
        WITNESSES
            .iter()
            .all(|w| b.contains(&format!("witness {w} holds another history")))
    });
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("fork\n"), "{body}");
    assert!(!body.contains("overloaded"), "{body}");
    assert!(!body.contains("\"error\""), "{body}");
    // The forged node goes on growing for a while: a new checkpoint each
    // time, each of which would be new evidence if it were still sent.
    for i in 0..10 {
        award(forged, &format!("operator-forged-more-{i}"));
        std::thread::sleep(Duration::from_millis(300));
    }
    for (wdir, _, _) in &witnesses {
        assert_eq!(evidence(wdir), 1, "{}", wdir.display());
    }
    let text = std::fs::read_to_string(&log).unwrap();
    for w in WITNESSES {
        assert_eq!(
            text.matches(&format!("witness {w} holds another history"))
                .count(),
            1,
            "{text}"
        );
    }
    let (_, metrics) = testkit::http_get(forged, "/metrics");
    assert!(String::from_utf8(metrics)
        .unwrap()
        .contains("aidledger_witness_forks_total 3\n"),);
    let (status, body) = health(forged);
    assert_eq!(status, 503);
    assert!(body.starts_with("fork\n"), "{body}");
}

#[test]
fn keygen_labels_its_output_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("registrar.key");
    let k = key.to_str().unwrap();
    let out = ok(&["keygen", "--out", k], None);
    let public = std::fs::read_to_string(dir.path().join("registrar.key.pub")).unwrap();
    let public = public.trim();
    assert_eq!(public.len(), 64);
    assert_eq!(
        hex::encode(
            ledger::keyfile::read(&key)
                .unwrap()
                .verifying_key()
                .to_bytes()
        ),
        public
    );
    assert!(
        out.stdout.contains(&format!("public key: {public}\n")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("public key file: "), "{}", out.stdout);
    assert!(out.stdout.contains("registrar.key.pub"), "{}", out.stdout);
    assert!(out.stdout.contains("secret key file: "), "{}", out.stdout);
    let secret = std::fs::read(&key).unwrap();

    // Again: refused, both files as they were.
    let again = cli(&["keygen", "--out", k], None);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(
        again.stderr.contains("never overwritten"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(&key).unwrap(), secret);
    // A stray OUT.pub is not overwritten either, and no key is made.
    let other = dir.path().join("other.key");
    std::fs::write(dir.path().join("other.key.pub"), "someone's\n").unwrap();
    let out = cli(&["keygen", "--out", other.to_str().unwrap()], None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("other.key.pub already exists"),
        "{}",
        out.stderr
    );
    assert!(!other.exists());
    // In Chinese.
    let zh = dir.path().join("zh.key");
    let out = cli_env(
        &["keygen", "--out", zh.to_str().unwrap()],
        None,
        &[("LANG", "zh_CN.UTF-8")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("公钥："), "{}", out.stdout);
    assert!(out.stdout.contains("私钥文件："), "{}", out.stdout);
    let out = cli_env(
        &["keygen", "--out", zh.to_str().unwrap()],
        None,
        &[("LANG", "zh_CN.UTF-8")],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("已存在；密钥文件不会被覆盖"),
        "{}",
        out.stderr
    );
}

#[test]
fn witness_init_labels_its_vkey_and_never_overwrites_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let wdir = dir.path().join("w");
    let d = wdir.to_str().unwrap();
    let out = ok(
        &[
            "witness",
            "init",
            "--name",
            "audit.witness.test",
            "--dir",
            d,
        ],
        None,
    );
    let vkey = std::fs::read_to_string(wdir.join("witness.vkey")).unwrap();
    let vkey = vkey.trim();
    assert!(vkey.starts_with("audit.witness.test+"), "{vkey}");
    ledger::witness::WitnessVerifier::from_vkey(vkey).unwrap();
    assert!(
        out.stdout.contains("witness: audit.witness.test\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("vkey: {vkey}\n")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("witness.vkey"), "{}", out.stdout);
    let key = std::fs::read(wdir.join("witness.key")).unwrap();

    let again = cli(
        &[
            "witness",
            "init",
            "--name",
            "other.witness.test",
            "--dir",
            d,
        ],
        None,
    );
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read(wdir.join("witness.key")).unwrap(), key);
    assert_eq!(
        std::fs::read_to_string(wdir.join("witness.vkey"))
            .unwrap()
            .trim(),
        vkey
    );
    assert_eq!(
        std::fs::read_to_string(wdir.join("witness.name"))
            .unwrap()
            .trim(),
        "audit.witness.test"
    );
    let zh = cli_env(
        &[
            "witness",
            "init",
            "--name",
            "other.witness.test",
            "--dir",
            d,
        ],
        None,
        &[("LANG", "zh_CN.UTF-8")],
    );
    assert_eq!(zh.code, 2);
    assert!(zh.stderr.contains("已存在"), "{}", zh.stderr);
}

#[test]
fn a_pseudonym_service_key_others_can_read_or_that_is_none_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("service");
    let out = ok(&["pseudonym", "init", "--dir", d.to_str().unwrap()], None);
    let public = out.stdout.lines().last().unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("service.pub"))
            .unwrap()
            .trim(),
        public
    );
    let key = d.join("service.key");
    let serve = || {
        cli(
            &[
                "pseudonym",
                "serve",
                "--dir",
                d.to_str().unwrap(),
                "--node",
                "http://127.0.0.1:9",
            ],
            None,
        )
    };
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = serve();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    std::fs::write(&key, "not a key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = serve();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("does not hold a key"), "{}", out.stderr);
    // The zero scalar is no key either.
    std::fs::write(&key, format!("{}\n", "00".repeat(32))).unwrap();
    let out = serve();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not a pseudonym key"), "{}", out.stderr);
}
