//! The pseudonym service of rules version 2 (SPEC §6.3, issue 30) as real
//! processes on loopback: a node, `aidledger pseudonym serve`, and the CLI
//! asking it. One person gets one pseudonym whichever organisation asks;
//! `bnf_` and `vol_` differ; the refusals of §6.3 come in the SPEC's
//! shape; the quota holds across a SIGKILL; a key revoked on the ledger
//! stops working within seconds; a service with another key is caught by
//! the proof.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use ledger::oprf::{self, Request};
use serde_json::Value;

const UNION: &str = "CN-USCI-81110000000000019C";
const IDS: [&str; 2] = ["11010519491231002X", "321182197508210226"];

fn signed_by(w: &World, key: &Path, issuer: &str) -> Vec<String> {
    [
        "--node",
        &w.node.url,
        "--vkey",
        &w.vkey,
        "--key",
        key.to_str().unwrap(),
        "--issuer",
        issuer,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// `aidledger pseudonym of` as `issuer` with `key`.
fn of(w: &World, key: &Path, issuer: &str, extra: &[&str], ids: &[&str]) -> Out {
    let mut args = vec!["pseudonym", "of", "--node", &w.node.url];
    args.extend(["--key", key.to_str().unwrap(), "--issuer", issuer]);
    args.extend(extra);
    args.extend(ids);
    cli(&args, None)
}

/// A raw request to the service, signed by `key`.
fn raw(
    addr: SocketAddr,
    key: &ed25519_dalek::SigningKey,
    issuer: &str,
    elements: &[[u8; 32]],
    at: SystemTime,
) -> (u16, Value) {
    let r = Request::sign(key, issuer, ledger::entry::format_timestamp(at), elements).unwrap();
    post(addr, &serde_json::to_vec(&r).unwrap())
}

fn post(addr: SocketAddr, body: &[u8]) -> (u16, Value) {
    let a = testkit::http(addr, "POST", "/v1/evaluate", body);
    (
        a.status,
        serde_json::from_slice(&a.body).unwrap_or(Value::Null),
    )
}

#[test]
fn one_person_one_pseudonym_the_refusals_and_the_proof() {
    let w = World::new();
    let bureau = signed_by(&w, &w.bureau_key, BUREAU);
    let run = |args: &[&str], signer: &[String]| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(signer.iter().cloned());
        let out = cli(&all, None);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    };

    // The service's key: 0600, printed last, never made twice.
    let dir = w.dir.path().join("service");
    let init = ok(&["pseudonym", "init", "--dir", dir.to_str().unwrap()], None);
    let public = init.stdout.lines().last().unwrap().trim().to_owned();
    assert_eq!(public.len(), 64, "{}", init.stdout);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("service.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = cli(&["pseudonym", "init", "--dir", dir.to_str().unwrap()], None);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("never overwritten"),
        "{}",
        again.stderr
    );

    // Before the ledger names a key, no pseudonym can be made.
    let none = of(&w, &w.charity_key, CHARITY, &[], &IDS);
    assert_eq!(none.code, 1);
    assert!(
        none.stderr.contains("no pseudonym service key"),
        "{}",
        none.stderr
    );

    let addr = testkit::free_addr();
    let url = format!("http://{addr}");
    run(
        &["rules", "activate", "--version", "2", "--note", "v2"],
        &bureau,
    );
    run(
        &[
            "rules",
            "pseudonym-key",
            "--public",
            &public,
            "--service",
            &url,
        ],
        &bureau,
    );
    let union_key = w.dir.path().join("union.key");
    let union_pub = keygen(&union_key);
    run(
        &[
            "org",
            "register",
            "--id",
            UNION,
            "--name",
            "市总工会",
            "--type",
            "union",
            "--region",
            "321181",
            "--org-key",
            &format!("{union_pub}=disburse"),
        ],
        &bureau,
    );
    let service = serve_pseudonyms(&dir, &w.node.url, addr, Some(8));

    // One person, one pseudonym, whichever organisation asks; bnf_ and
    // vol_ of one person differ; the ID is normalised first.
    let charity = of(&w, &w.charity_key, CHARITY, &[], &IDS);
    assert_eq!(charity.code, 0, "{}", charity.stderr);
    let bnf: Vec<&str> = charity.stdout.lines().collect();
    assert_eq!(bnf.len(), 2);
    assert!(
        bnf.iter().all(|p| p.starts_with("bnf_") && p.len() == 68),
        "{bnf:?}"
    );
    assert_ne!(bnf[0], bnf[1]);
    let union = of(
        &w,
        &union_key,
        UNION,
        &[],
        &["１１０１０５１９４９１２３１００２ｘ"],
    );
    assert_eq!(union.stdout.trim(), bnf[0], "{}", union.stderr);
    let vol = of(&w, &w.charity_key, CHARITY, &["--domain", "vol"], &IDS[..1]);
    assert!(
        vol.stdout.starts_with("vol_") && vol.stdout[4..] != bnf[0][4..],
        "{}",
        vol.stdout
    );
    // A wrong check character is named, the ID never echoed, nothing sent.
    let wrong = of(&w, &w.charity_key, CHARITY, &[], &["110105194912310022"]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("should be X") && !wrong.stderr.contains("110105194912310022"),
        "{}",
        wrong.stderr
    );

    // The registrar's key holds no role that makes pseudonyms.
    let registrar = of(&w, &w.bureau_key, BUREAU, &[], &IDS[..1]);
    assert_eq!(registrar.code, 1);
    assert!(
        registrar.stderr.contains("role_missing"),
        "{}",
        registrar.stderr
    );

    // Refusals in the SPEC's shape, straight to the service.
    let key = ledger::keyfile::read(&w.charity_key).unwrap();
    let now = SystemTime::now();
    let element = oprf::blind(&mut rand_core::OsRng, vec![b"x".to_vec()]).elements[0];
    let code =
        |(status, v): (u16, Value)| (status, v["error"]["code"].as_str().unwrap_or("").to_owned());
    assert_eq!(code(post(addr, b"{")), (400, "malformed_json".into()));
    assert_eq!(
        code(raw(addr, &key, CHARITY, &[element; 1_001], now)),
        (413, "too_large".into())
    );
    assert_eq!(
        code(raw(addr, &key, CHARITY, &[[0; 32]], now)),
        (400, "schema_violation".into())
    );
    assert_eq!(
        code(raw(addr, &key, CHARITY, &[[0xff; 32]], now)),
        (400, "schema_violation".into())
    );
    let stale = now - Duration::from_secs(600);
    assert_eq!(
        code(raw(addr, &key, CHARITY, &[element], stale)),
        (400, "schema_violation".into())
    );
    let mut forged = Request::sign(
        &key,
        CHARITY,
        ledger::entry::format_timestamp(now),
        &[element],
    )
    .unwrap();
    forged.issuer = UNION.to_owned();
    assert_eq!(
        code(post(addr, &serde_json::to_vec(&forged).unwrap())),
        (400, "bad_signature".into())
    );
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    assert_eq!(
        code(raw(addr, &stranger, CHARITY, &[element], now)),
        (403, "unknown_key".into())
    );
    assert_eq!(
        code(raw(addr, &stranger, "CN-NOBODY-1", &[element], now)),
        (403, "unknown_key".into())
    );
    // An issuer that is no organisation id is never looked up.
    assert_eq!(
        code(raw(addr, &stranger, "../../v1/log", &[element], now)),
        (400, "schema_violation".into())
    );

    // The quota (8 a day here): the charity has used 3; 6 more pass it,
    // also after a SIGKILL and a restart.
    assert_eq!(
        code(raw(addr, &key, CHARITY, &[element; 6], now)),
        (429, "quota_exceeded".into())
    );
    drop(service);
    let service = serve_pseudonyms(&dir, &w.node.url, addr, Some(8));
    assert_eq!(
        code(raw(addr, &key, CHARITY, &[element; 6], SystemTime::now())),
        (429, "quota_exceeded".into())
    );
    let (status, answer) = raw(addr, &key, CHARITY, &[element; 5], SystemTime::now());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["evaluated"].as_array().unwrap().len(), 5);
    let over = of(&w, &w.charity_key, CHARITY, &[], &IDS[..1]);
    assert!(over.stderr.contains("quota_exceeded"), "{}", over.stderr);

    // What the service keeps: counts, never an ID number.
    let log = std::fs::read_to_string(dir.join("requests.log")).unwrap();
    assert!(
        log.contains("\"outcome\":\"quota_exceeded\"") && !log.contains("110105"),
        "{log}"
    );
    let metrics = String::from_utf8(testkit::http(addr, "GET", "/metrics", b"").body).unwrap();
    assert!(
        metrics.contains(
            "aidledger_pseudonym_evaluations_total{org=\"CN-USCI-53440300MJ0000018R\"} 5"
        ),
        "{metrics}"
    );

    // A key revoked on the ledger stops working within seconds.
    assert_eq!(of(&w, &union_key, UNION, &[], &IDS[..1]).code, 0);
    run(
        &[
            "key", "revoke", "--org", UNION, "--public", &union_pub, "--reason", "离职",
        ],
        &bureau,
    );
    std::thread::sleep(Duration::from_millis(2_500));
    let revoked = of(&w, &union_key, UNION, &[], &IDS[..1]);
    assert!(revoked.stderr.contains("key_revoked"), "{}", revoked.stderr);
    drop(service);

    // A service with another key: its answers fail the proof.
    let other_dir = w.dir.path().join("other");
    ok(
        &["pseudonym", "init", "--dir", other_dir.to_str().unwrap()],
        None,
    );
    let other_addr = testkit::free_addr();
    let _other = serve_pseudonyms(&other_dir, &w.node.url, other_addr, Some(100));
    let caught = cli(
        &[
            "pseudonym",
            "of",
            "--node",
            &w.node.url,
            "--service",
            &format!("http://{other_addr}"),
            "--key",
            w.charity_key.to_str().unwrap(),
            "--issuer",
            CHARITY,
            "--domain",
            "vol",
            IDS[1],
        ],
        None,
    );
    assert_eq!(caught.code, 1);
    assert!(
        caught
            .stderr
            .contains("does not verify against the pseudonym key in the ledger"),
        "{}",
        caught.stderr
    );
    assert_eq!(caught.stderr.trim().lines().count(), 1, "{}", caught.stderr);
}

/// The demo (`aidledger-node demo`, as `scripts/run.sh` starts it) puts its
/// pseudonym service's key beside its ledger; a service run from there
/// gives the pseudonyms the demo ledger holds. Case 0 of the demo's duplicate
/// aid (payments DUP-A-0 and DUP-B-0) is synthetic person 50,000, ID number
/// 321181195009210007.
#[test]
fn the_demo_service_gives_the_demo_ledgers_pseudonyms() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let addr = free_addr();
    let _node = testkit::demo(&node_bin(), &data, addr, &[]);
    let node = format!("http://{addr}");
    let service_addr = free_addr();
    let _service = serve_pseudonyms(
        &data.join("pseudonym-service"),
        &node,
        service_addr,
        Some(100),
    );
    // The union's demo key: seed 3 repeated (node/demo/demo.toml).
    let key = dir.path().join("union.key");
    ledger::keyfile::create_with(&key, &[3; 32]).unwrap();
    let out = ok(
        &[
            "pseudonym",
            "of",
            "--node",
            &node,
            "--service",
            &format!("http://{service_addr}"),
            "--key",
            key.to_str().unwrap(),
            "--issuer",
            UNION,
            "321181195009210007",
        ],
        None,
    );
    let bnf = out.stdout.trim();
    let (status, paid) = testkit::http_get(addr, &format!("/v1/beneficiaries/{bnf}"));
    let paid: Value = serde_json::from_slice(&paid).unwrap();
    let refs: Vec<&str> = paid["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["body"]["ref"].as_str())
        .collect();
    assert!(
        status == 200 && refs.contains(&"DUP-A-0") && refs.contains(&"DUP-B-0"),
        "the demo's first duplicate-aid family, paid by both bodies: {paid}"
    );
}
