//! The node's routes through `oneshot` (no socket), on RocksDB in a temp
//! dir: the shared vector ledger submitted entry by entry, every receipt
//! verified with the published vkey, proofs for all sizes, the export, and
//! the error codes.

use std::collections::BTreeMap;

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use ledger::checkpoint::{CheckpointSigner, CheckpointVerifier};
use ledger::merkle::{leaf_hash, Hash, RootHash};
use ledger::store::{Log, RocksBackend};
use serde_json::{json, Value};
use tower::ServiceExt;

mod common;

use common::{check_receipt, vectors};

/// The node's writer thread, waited for when dropped (after the router:
/// bind it first), so that the store is closed before the test's
/// directory is removed; a store still closing would write into it as it
/// goes and leave it half-removed.
struct Writer(Option<std::thread::JoinHandle<()>>);

impl Drop for Writer {
    fn drop(&mut self) {
        let Some(handle) = self.0.take() else {
            return;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !handle.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
    }
}

/// A node on a fresh store, signing with the vectors' node key.
fn node(dir: &tempfile::TempDir) -> (Writer, Router) {
    let v = vectors();
    let signer = CheckpointSigner::new(
        v["origin"].as_str().unwrap(),
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    let (node, handle) = node::Node::start(log, signer);
    (Writer(Some(handle)), node::app(node))
}

/// A node serving the demo ledger.
fn demo_app(dir: &tempfile::TempDir) -> (Writer, Router) {
    let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    node::demo::seed(&mut log).unwrap();
    let signer = CheckpointSigner::new("demo.test/aid", SigningKey::from_bytes(&[3; 32])).unwrap();
    let (node, handle) = node::Node::start(log, signer);
    (Writer(Some(handle)), node::app(node))
}

async fn call(app: &Router, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (
        status,
        to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
}

async fn json_call(app: &Router, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let (status, bytes) = call(app, method, uri, body).await;
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes))),
    )
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error answer: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vector_ledger_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = node(&dir);
    let v = vectors();
    let verifier = CheckpointVerifier::from_vkey(v["node_vkey"].as_str().unwrap()).unwrap();

    // Empty log: the empty-tree checkpoint, no genesis.
    let (status, info) = json_call(&app, Method::GET, "/v1/log", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            info["size"].as_u64(),
            &info["genesis"],
            info["vkey"].as_str()
        ),
        (Some(0), &Value::Null, v["node_vkey"].as_str())
    );
    let (_, cp) = call(&app, Method::GET, "/v1/checkpoint", vec![]).await;
    assert_eq!(verifier.verify(&cp).unwrap().root, RootHash::EMPTY);

    // A first entry that is not a genesis is refused.
    let not_genesis = serde_json::to_vec(&v["leaves"][2]["entry"]).unwrap();
    let (status, e) = json_call(&app, Method::POST, "/v1/entries", not_genesis).await;
    assert_eq!(
        (status, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "rule_violation")
    );

    let mut roots = vec![RootHash::EMPTY];
    let mut receipts = Vec::new();
    for l in v["leaves"].as_array().unwrap() {
        let body = serde_json::to_vec(&l["entry"]).unwrap();
        let (status, r) = json_call(&app, Method::POST, "/v1/entries", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["seq"], l["seq"]);
        roots.push(check_receipt(&verifier, &r));
        // An identical resubmission: 200, the same seq, a valid receipt.
        let (status, again) = json_call(&app, Method::POST, "/v1/entries", body).await;
        assert_eq!((status, &again["seq"]), (StatusCode::OK, &l["seq"]));
        check_receipt(&verifier, &again);
        receipts.push(r);
    }
    assert_eq!(roots.last().unwrap().size, 5);

    // Consistency between every pair of sizes the receipts showed.
    for a in &roots {
        for b in roots.iter().filter(|b| b.size >= a.size) {
            let uri = format!("/v1/proof/consistency?first={}&second={}", a.size, b.size);
            let (status, p) = json_call(&app, Method::GET, &uri, vec![]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            let path: Vec<Hash> = p["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().parse().unwrap())
                .collect();
            b.verify_consistency(a, &path).unwrap();
        }
    }
    // Inclusion of every seq in every later tree.
    for r in &roots[1..] {
        for seq in 0..r.size {
            let (_, p) = json_call(
                &app,
                Method::GET,
                &format!("/v1/proof/inclusion?seq={seq}&size={}", r.size),
                vec![],
            )
            .await;
            let path: Vec<Hash> = p["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().parse().unwrap())
                .collect();
            r.verify_inclusion(
                &p["leaf_hash"].as_str().unwrap().parse().unwrap(),
                seq,
                &path,
            )
            .unwrap();
        }
    }

    // The export: each line exactly the leaf bytes, hashing to the receipts.
    let (status, ndjson) = call(&app, Method::GET, "/v1/entries?start=0&limit=10", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&[u8]> = ndjson
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 5);
    for (line, (r, l)) in lines
        .iter()
        .zip(receipts.iter().zip(v["leaves"].as_array().unwrap()))
    {
        assert_eq!(leaf_hash(line).to_hex(), r["leaf_hash"].as_str().unwrap());
        // The node stamps its own logged_at, so the entry (not the whole leaf) is the vector's.
        let leaf = ledger::entry::Leaf::from_bytes(line).unwrap();
        assert_eq!(serde_json::to_value(&leaf.entry).unwrap(), l["entry"]);
    }
    let (_, one) = json_call(&app, Method::GET, "/v1/entries/4", vec![]).await;
    assert_eq!(one["leaf_hash"], receipts[4]["leaf_hash"]);
    assert_eq!(one["leaf"]["entry"]["statement"]["kind"], "disbursement");
    let (_, info) = json_call(&app, Method::GET, "/v1/log", vec![]).await;
    assert_eq!(
        (info["size"].as_u64(), &info["genesis"]),
        (Some(5), &receipts[0]["leaf_hash"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_the_spec_shape_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = node(&dir);
    let v = vectors();
    let genesis = serde_json::to_vec(&v["leaves"][0]["entry"]).unwrap();
    assert_eq!(
        call(&app, Method::POST, "/v1/entries", genesis).await.0,
        StatusCode::CREATED
    );
    let cases: Vec<(Method, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/v1/entries",
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/v1/entries",
            br#"{"statement":{},"signature":"00"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            Method::POST,
            "/v1/entries",
            serde_json::to_vec(&vec![json!(1); 1001]).unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            Method::GET,
            "/v1/entries/9",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/entries/x",
            vec![],
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            Method::GET,
            "/v1/entries?limit=1001",
            vec![],
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            Method::GET,
            "/v1/proof/inclusion?seq=1&size=1",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/proof/inclusion",
            vec![],
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            Method::GET,
            "/v1/proof/consistency?first=2&second=1",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/nothing",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            "/v1/log",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let (got, e) = json_call(&app, method.clone(), uri, body).await;
        assert_eq!((got, error_code(&e)), (status, code), "{method} {uri}: {e}");
        assert!(e["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // A bad signature, a nonce conflict, an unknown key, inside one array:
    // each element gets its own answer, the good one a receipt.
    let mut forged = v["leaves"][1]["entry"].clone();
    forged["statement"]["nonce"] = json!("forged");
    let mut conflict = v["leaves"][1]["entry"].clone();
    conflict["statement"]["issued_at"] = json!("2026-01-05T08:10:01Z");
    let signer = SigningKey::from_bytes(&[1; 32]);
    let conflict = resign(conflict, &signer);
    let unknown = resign(
        v["leaves"][2]["entry"].clone(),
        &SigningKey::from_bytes(&[9; 32]),
    );
    let good = v["leaves"][1]["entry"].clone();
    let batch = serde_json::to_vec(&json!([forged, good, conflict, unknown])).unwrap();
    let (status, r) = json_call(&app, Method::POST, "/v1/entries", batch).await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["error"]["code"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        ["bad_signature", "ok", "nonce_conflict", "unknown_key"]
    );
    assert_eq!(r["results"][1]["seq"], 1);
    // Sent singly, the same entries are checked by the sequencer with
    // their commit group: the same codes, and nothing is added.
    for (entry, status, code) in [
        (&forged, StatusCode::BAD_REQUEST, "bad_signature"),
        (&conflict, StatusCode::CONFLICT, "nonce_conflict"),
        (&unknown, StatusCode::FORBIDDEN, "unknown_key"),
    ] {
        let body = serde_json::to_vec(entry).unwrap();
        let (got, e) = json_call(&app, Method::POST, "/v1/entries", body).await;
        assert_eq!((got, error_code(&e)), (status, code), "{e}");
    }
    let (_, info) = json_call(&app, Method::GET, "/v1/log", vec![]).await;
    assert_eq!(info["size"], 2);
    // CORS for browsers and dashboards.
    let req = Request::builder()
        .uri("/v1/log")
        .header("origin", "https://example.org")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

/// Re-signs an entry's statement with `key` (and puts that key in it).
fn resign(mut entry: Value, key: &SigningKey) -> Value {
    entry["statement"]["key"] = json!(hex::encode(key.verifying_key().to_bytes()));
    let statement: ledger::entry::Statement =
        serde_json::from_value(entry["statement"].clone()).unwrap();
    serde_json::to_value(statement.sign(key).unwrap()).unwrap()
}

/// The demo ledger seeds, its state replays byte for byte, and it has the
/// promised content: over 10,000 disbursements, duplicate-aid alerts,
/// needs fulfilled, claimed and open.
#[test]
fn the_demo_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    let n = node::demo::seed(&mut log).unwrap();
    assert!(n > 10_000, "{n}");
    assert_eq!(
        node::demo::seed(&mut log).unwrap(),
        0,
        "a seeded log is left alone"
    );
    let backend = log.backend();
    let disbursements = ledger::query::index_seqs(
        backend,
        ledger::domain::Index::Kind,
        "disbursement",
        None,
        1_000_000,
    )
    .unwrap()
    .items
    .len();
    assert!(
        disbursements as u64 >= node::demo::planned_disbursements(),
        "{disbursements}"
    );
    let alerts = ledger::query::alerts(backend, None, 100).unwrap().items;
    assert_eq!(alerts.len(), 6, "{alerts:?}");
    let fulfilled = ledger::query::index_seqs(
        backend,
        ledger::domain::Index::Kind,
        "need.fulfil",
        None,
        100,
    )
    .unwrap()
    .items
    .len();
    // Eight under v1, one under v2 (reviewed twice, then claimed).
    assert_eq!(fulfilled, 9);
    assert_eq!(
        ledger::sequencer::dump(&ledger::sequencer::replay(&log).unwrap()).unwrap(),
        ledger::sequencer::dump(backend).unwrap()
    );
}

/// The public list routes on the demo ledger: shapes, paging, totals that
/// add up, and lookups that 404.
#[tokio::test(flavor = "multi_thread")]
async fn public_lists_on_the_demo_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = demo_app(&dir);
    let get = |uri: String| {
        let app = app.clone();
        async move { json_call(&app, Method::GET, &uri, vec![]).await }
    };

    let (_, orgs) = get("/v1/orgs".into()).await;
    assert_eq!(orgs["items"].as_array().unwrap().len(), 4);
    let (_, charity) = get("/v1/orgs/CN-USCI-53440300MJ0000018R".into()).await;
    // Its first key, its caseworkers' and, under rules v2, its approver's.
    assert_eq!(charity["keys"].as_array().unwrap().len(), 3, "{charity}");

    // Funds, paged two at a time, add up: balance = received + in - out - disbursed.
    let (mut all, mut cursor) = (Vec::new(), String::new());
    loop {
        let (status, p) = get(format!("/v1/funds?limit=2{cursor}")).await;
        assert_eq!(status, StatusCode::OK);
        all.extend(p["items"].as_array().unwrap().clone());
        match p["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(all.len(), 10);
    for f in &all {
        let n = |k: &str| f[k].as_i64().unwrap();
        assert_eq!(
            n("balance"),
            n("received") + n("transferred_in") + n("recovered")
                - n("transferred_out")
                - n("disbursed")
                - n("pending"),
            "{f}"
        );
    }
    // Dual control: one large payment waits, one was rejected.
    let (_, jizhu) = get("/v1/funds/CSZH-2026-JIZHU".into()).await;
    assert_eq!(jizhu["approval_threshold"], 1_000_000);
    assert_eq!(
        (jizhu["pending"].as_u64(), jizhu["pending_count"].as_u64()),
        (Some(1_800_000), Some(1))
    );
    let (_, pending) = get("/v1/orgs/CN-USCI-53440300MJ0000018R/pending".into()).await;
    let pending = pending["items"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["body"]["amount"], 1_800_000);
    // Recoveries and their rate.
    let (_, dibao) = get("/v1/funds/MZ-2026-DIBAO".into()).await;
    assert_eq!(
        (dibao["recovered"].as_u64(), dibao["recoveries"].as_u64()),
        (Some(180_000), Some(2))
    );
    assert!(dibao["recovery_rate_bp"].as_u64().is_some());

    // Monitoring: several overdue, one unassisted, counted by county.
    let (_, alerts) = get("/v1/alerts/monitoring".into()).await;
    let alerts = alerts["items"].as_array().unwrap();
    let count = |kind: &str| alerts.iter().filter(|a| a["alert"] == kind).count();
    assert_eq!(
        (count("overdue_review"), count("unassisted")),
        (4, 1),
        "{alerts:?}"
    );
    let (_, by_county) = get("/v1/stats/monitoring".into()).await;
    let by_county = by_county["items"].as_array().unwrap();
    let sum = |k: &str| {
        by_county
            .iter()
            .map(|c| c[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (sum("monitored"), sum("overdue_review"), sum("unassisted")),
        (7, 4, 1)
    );
    assert!(
        by_county[0]["overdue_review"].as_u64()
            >= by_county.last().unwrap()["overdue_review"].as_u64()
    );
    let unassisted = alerts.iter().find(|a| a["alert"] == "unassisted").unwrap();
    let bnf = unassisted["beneficiary"].as_str().unwrap();
    let (status, household) = get(format!("/v1/households/{bnf}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(household["household"]["monitored"], true);
    assert_eq!(
        household["open_alerts"],
        json!(["overdue_review", "unassisted"])
    );
    assert_eq!(household["items"][0]["kind"], "household.monitor");
    let (status, _) = get(format!("/v1/households/bnf_{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get("/v1/alerts/monitoring?alert=late".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The rules in force, and since when.
    let (_, log) = get("/v1/log".into()).await;
    assert_eq!(log["rules"]["version"], 2);
    assert_eq!(log["rules"]["activations"][0]["version"], 2);
    let (_, zaihai) = get("/v1/funds/HSH-2026-ZAIHAI".into()).await;
    assert_eq!(zaihai["transferred_in"], 30_000_000);
    assert!(zaihai["execution_rate_bp"].as_u64().is_some());

    // Flows of a fund: its opening, receipt, transfer in, and disbursements.
    let (_, flows) = get("/v1/funds/HSH-2026-ZAIHAI/flows?limit=1000".into()).await;
    let kinds: Vec<&str> = flows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["fund.open", "fund.receive", "fund.transfer"]);
    assert_eq!(kinds.iter().filter(|k| **k == "disbursement").count(), 8);

    // A fund's flows summed (what its chart draws) are the sums of every
    // flow, page after page: reversed and unapproved payments left out.
    for fund in ["HSH-2026-ZAIHAI", "MZ-2026-TEMP"] {
        let mut want: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
        let mut cursor = String::new();
        let mut entries = 0;
        loop {
            let (_, page) = get(format!("/v1/funds/{fund}/flows?limit=1000{cursor}")).await;
            for e in page["items"].as_array().unwrap() {
                entries += 1;
                if e["reversed"] == true {
                    continue;
                }
                let b = &e["body"];
                let text = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
                let (map, key) = match e["kind"].as_str().unwrap() {
                    "fund.receive" => ("received", text("from")),
                    "fund.transfer" if b["to_fund"] == fund => {
                        ("transferred_in", text("from_fund"))
                    }
                    "fund.transfer" => ("transferred_out", text("to_fund")),
                    "fund.recover" if text("from").starts_with("bnf_") => {
                        ("recovered", "beneficiary".into())
                    }
                    "fund.recover" => ("recovered", text("from")),
                    "disbursement" if e["approval"].is_null() || e["approval"] == "approved" => {
                        ("disbursed", text("region"))
                    }
                    _ => continue,
                };
                *want.entry(map).or_default().entry(key).or_default() +=
                    b["amount"].as_u64().unwrap();
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        let (status, sums) = get(format!("/v1/funds/{fund}/flows/summary")).await;
        assert_eq!(status, 200);
        assert_eq!(sums["entries"], entries, "{fund}");
        for map in [
            "received",
            "transferred_in",
            "transferred_out",
            "recovered",
            "disbursed",
        ] {
            let got: BTreeMap<String, u64> = serde_json::from_value(sums[map].clone()).unwrap();
            assert_eq!(got, want.remove(map).unwrap_or_default(), "{fund} {map}");
        }
    }
    let (status, _) = get("/v1/funds/NO-SUCH-FUND/flows/summary".into()).await;
    assert_eq!(status, 404);

    // Money by signed date: every receipt, transfer, payment and recovery,
    // once, in date order, page after page.
    let mut seen: Vec<(String, u64)> = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = get(format!("/v1/money?limit=1000{cursor}")).await;
        assert_eq!(status, 200, "{page}");
        for e in page["items"].as_array().unwrap() {
            seen.push((
                e["date"].as_str().unwrap().to_owned(),
                e["seq"].as_u64().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut kinds = 0;
    for kind in [
        "fund.receive",
        "fund.transfer",
        "disbursement",
        "fund.recover",
    ] {
        let mut c = String::new();
        loop {
            let (_, page) = get(format!("/v1/index/kind/{kind}?limit=1000{c}")).await;
            kinds += page["items"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(n) => c = format!("&cursor={n}"),
                None => break,
            }
        }
    }
    assert_eq!(seen.len(), kinds);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in (date, seq) order");
    for bad in [
        "/v1/money?from=2026-02-30",
        "/v1/money?min=1.5",
        "/v1/money?kind=org.register",
        "/v1/money?region=32",
        "/v1/money?cursor=x",
    ] {
        let (status, body) = get(bad.into()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "schema_violation");
    }

    // Alerts, newest first, and the beneficiary they name.
    let (_, alerts) = get("/v1/alerts/duplicates?limit=4".into()).await;
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items[0]["seq"].as_u64() > items[1]["seq"].as_u64());
    let (_, rest) = get(format!(
        "/v1/alerts/duplicates?cursor={}",
        alerts["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    let bnf = items[0]["beneficiary"].as_str().unwrap();
    let (_, family) = get(format!("/v1/beneficiaries/{bnf}")).await;
    let issuers: Vec<&str> = family["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["issuer"].as_str().unwrap())
        .collect();
    assert!(
        issuers.contains(&"CN-USCI-11320000MB0000019A")
            && issuers.contains(&"CN-USCI-53440300MJ0000018R"),
        "{issuers:?}"
    );
    // Many families in one read, in the order asked: the same first page
    // as each one's own route, a cursor where it goes on; the bounds.
    let unknown = format!("bnf_{}", "0".repeat(64));
    let ask = |list: Vec<String>| serde_json::to_vec(&json!({ "beneficiaries": list })).unwrap();
    let (status, many) = json_call(
        &app,
        Method::POST,
        "/v1/beneficiaries?limit=1",
        ask(vec![unknown.clone(), bnf.to_owned()]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{many}");
    assert_eq!(many["items"][0]["beneficiary"], unknown.as_str());
    assert_eq!(many["items"][0]["items"], json!([]));
    assert_eq!(many["items"][0]["next_cursor"], Value::Null);
    assert_eq!(many["items"][1]["beneficiary"], bnf);
    assert_eq!(many["items"][1]["items"][0], family["items"][0]);
    let (_, rest) = get(format!(
        "/v1/beneficiaries/{bnf}?cursor={}",
        many["items"][1]["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(rest["items"][0], family["items"][1]);
    for (uri, body, status, code) in [
        (
            "/v1/beneficiaries",
            ask(vec![unknown.clone(); 1001]),
            413,
            "too_large",
        ),
        (
            "/v1/beneficiaries",
            ask(vec!["11010519491231002X".into()]),
            400,
            "schema_violation",
        ),
        (
            "/v1/beneficiaries",
            b"{\"beneficiaries\":[],\"x\":1}".to_vec(),
            400,
            "schema_violation",
        ),
        (
            "/v1/beneficiaries?limit=101",
            ask(vec![unknown.clone()]),
            400,
            "schema_violation",
        ),
        (
            "/v1/beneficiaries?cursor=5",
            ask(vec![unknown.clone()]),
            400,
            "schema_violation",
        ),
    ] {
        let (got, v) = json_call(&app, Method::POST, uri, body).await;
        assert_eq!((got.as_u16(), error_code(&v)), (status, code), "{uri}: {v}");
    }

    let (status, stats) = get("/v1/stats".into()).await;
    assert_eq!(status, StatusCode::OK);
    let disbursed: i64 = all.iter().map(|f| f["disbursed"].as_i64().unwrap()).sum();
    assert_eq!(stats["total"]["amount"].as_i64(), Some(disbursed));
    assert_eq!(stats["by_month"].as_object().unwrap().len(), 12);
    assert_eq!(stats["by_issuer_type"].as_object().unwrap().len(), 3);
    // Eight fulfilled under v1 and one under v2; open: two of v1, one
    // approved by both reviewers under v2.
    let (_, needs) = get("/v1/needs?state=fulfilled".into()).await;
    assert_eq!(needs["items"].as_array().unwrap().len(), 9);
    let (_, open) = get("/v1/needs?state=open".into()).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 3);
    let (_, pending) = get("/v1/needs?state=pending".into()).await;
    let pending = pending["items"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["reviews"].as_array().unwrap().len(), 1);
    let (_, assessed) = get("/v1/assessments?subject=CN-USCI-53440300MJ0000018R".into()).await;
    assert_eq!(assessed["items"][0]["body"]["grade"], "good");

    // A volunteer's credit points: find one in the export, then its balance and history.
    let (_, ndjson) = call(
        &app,
        Method::GET,
        "/v1/entries?start=10300&limit=400",
        vec![],
    )
    .await;
    let award = ndjson
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .find(|l| l["entry"]["statement"]["kind"] == "credit.award")
        .expect("the demo awards credit points");
    let holder = award["entry"]["statement"]["body"]["holder"]
        .as_str()
        .unwrap();
    let (status, credits) = get(format!("/v1/credits/{holder}")).await;
    assert_eq!(status, StatusCode::OK);
    let history = credits["items"].as_array().unwrap();
    assert!(!history.is_empty());
    let net: i64 = history
        .iter()
        .map(|e| {
            e["body"]["points"].as_i64().unwrap()
                * if e["kind"] == "credit.redeem" { -1 } else { 1 }
        })
        .sum();
    assert_eq!(credits["balance"].as_i64(), Some(net));

    for (uri, status, code) in [
        ("/v1/funds/NOPE", StatusCode::NOT_FOUND, "not_found"),
        ("/v1/orgs/CN-X-1", StatusCode::NOT_FOUND, "not_found"),
        ("/v1/credits/vol_00", StatusCode::NOT_FOUND, "not_found"),
        (
            "/v1/beneficiaries/11010519491231002X",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/funds?limit=1001",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/alerts/duplicates?cursor=zz",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/needs?state=lost",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/needs?region=32",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/needs?category=food",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/stats/regions?parent=321181",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
        (
            "/v1/stats/overlap?cursor=nope",
            StatusCode::BAD_REQUEST,
            "schema_violation",
        ),
    ] {
        let (got, e) = get(uri.into()).await;
        assert_eq!((got, error_code(&e)), (status, code), "{uri}");
    }
}

/// Every item of a paged list, following `next_cursor` (`uri` has a `?`).
async fn all_pages(app: &Router, uri: &str) -> Vec<Value> {
    let (mut items, mut cursor) = (Vec::new(), String::new());
    loop {
        let (status, p) =
            json_call(app, Method::GET, &format!("{uri}&limit=3{cursor}"), vec![]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {p}");
        items.extend(p["items"].as_array().unwrap().clone());
        match p["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return items,
        }
    }
}

/// What the public page shows, checked against the entries themselves: the
/// overview's money and counts, disbursements by region at each level,
/// the duplicate-aid figures, needs by category and region, searches and
/// credit holders.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_s_figures_add_up_on_the_demo_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = demo_app(&dir);
    let get = |uri: String| {
        let app = app.clone();
        async move {
            let (status, v) = json_call(&app, Method::GET, &uri, vec![]).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {v}");
            v
        }
    };
    // Every leaf, to recount from.
    let size = get("/v1/log".into()).await["size"].as_u64().unwrap();
    let mut leaves = Vec::new();
    for start in (0..size).step_by(1000) {
        let (_, ndjson) = call(
            &app,
            Method::GET,
            &format!("/v1/entries?start={start}&limit=1000"),
            vec![],
        )
        .await;
        leaves.extend(
            ndjson
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<Value>(l).unwrap()["entry"]["statement"].clone()),
        );
    }
    assert_eq!(leaves.len() as u64, size);
    let of_kind = |kind: &'static str| leaves.iter().filter(move |s| s["kind"] == kind);
    let beneficiaries: std::collections::BTreeSet<&str> = of_kind("disbursement")
        .chain(of_kind("need.publish"))
        .map(|s| s["body"]["beneficiary"].as_str().unwrap())
        .collect();

    let stats = get("/v1/stats".into()).await;
    let o = &stats["overview"];
    let funds = all_pages(&app, "/v1/funds?").await;
    let sum = |k: &str| funds.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(o["received"].as_u64(), Some(sum("received")));
    assert_eq!(o["transferred"].as_u64(), Some(sum("transferred_out")));
    assert_eq!(o["disbursed"].as_u64(), Some(sum("disbursed")));
    assert_eq!(o["balance"].as_u64(), Some(sum("balance")));
    assert_eq!(o["disbursed"], stats["total"]["amount"]);
    assert_eq!(o["funds"].as_u64(), Some(funds.len() as u64));
    assert_eq!(
        o["orgs"].as_u64(),
        Some(of_kind("org.register").count() as u64)
    );
    assert_eq!(
        o["beneficiaries"].as_u64(),
        Some(beneficiaries.len() as u64)
    );
    for state in ["open", "claimed", "fulfilled", "pending", "rejected"] {
        let listed = all_pages(&app, &format!("/v1/needs?state={state}"))
            .await
            .len();
        assert_eq!(o["needs"][state].as_u64(), Some(listed as u64), "{state}");
    }
    assert_eq!(o["needs"]["claimed"], 2);
    assert_eq!(
        (
            o["needs"]["pending"].as_u64(),
            o["needs"]["rejected"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(o["rules_version"], 2);
    assert_eq!(o["pending"]["amount"], 1_800_000);
    assert_eq!(o["recovered"]["amount"], 380_000);
    assert_eq!(o["households_monitored"], 7);

    // Regions: provinces, a province's cities, a city's counties add up,
    // and the counties add up to the disbursements' own regions.
    let provinces = get("/v1/stats/regions".into()).await;
    let total = |v: &Value| -> (u64, u64) {
        v["regions"]
            .as_object()
            .unwrap()
            .values()
            .fold((0, 0), |(c, a), t| {
                (
                    c + t["count"].as_u64().unwrap(),
                    a + t["amount"].as_u64().unwrap(),
                )
            })
    };
    let all = (
        stats["total"]["count"].as_u64().unwrap(),
        stats["total"]["amount"].as_u64().unwrap(),
    );
    assert_eq!(total(&provinces), all);
    let mut counties = BTreeMap::<String, u64>::new();
    for (province, t) in provinces["regions"].as_object().unwrap() {
        let cities = get(format!("/v1/stats/regions?parent={province}")).await;
        assert_eq!(
            total(&cities),
            (t["count"].as_u64().unwrap(), t["amount"].as_u64().unwrap())
        );
        for (city, t) in cities["regions"].as_object().unwrap() {
            assert!(
                city.starts_with(&province[..2]) && city.ends_with("00"),
                "{city}"
            );
            let inner = get(format!("/v1/stats/regions?parent={city}")).await;
            assert_eq!(
                total(&inner),
                (t["count"].as_u64().unwrap(), t["amount"].as_u64().unwrap())
            );
            for (county, t) in inner["regions"].as_object().unwrap() {
                counties.insert(county.clone(), t["amount"].as_u64().unwrap());
            }
        }
    }
    let reversed: std::collections::BTreeSet<u64> = of_kind("correction")
        .filter(|s| s["body"]["reverse"] == true)
        .map(|s| s["body"]["target"].as_u64().unwrap())
        .collect();
    // Under dual control a disbursement counts once approved.
    let thresholds: std::collections::BTreeMap<&str, u64> = of_kind("fund.open")
        .filter_map(|s| {
            Some((
                s["body"]["fund"].as_str()?,
                s["body"]["approval_threshold"].as_u64()?,
            ))
        })
        .collect();
    let approved: std::collections::BTreeSet<u64> = of_kind("disbursement.approve")
        .map(|s| s["body"]["disbursement"].as_u64().unwrap())
        .collect();
    let counts = |seq: u64, s: &Value| {
        let threshold = thresholds.get(s["body"]["fund"].as_str().unwrap());
        threshold.is_none_or(|t| s["body"]["amount"].as_u64().unwrap() < *t)
            || approved.contains(&seq)
    };
    let mut by_county = BTreeMap::<String, u64>::new();
    for (seq, s) in leaves.iter().enumerate() {
        if s["kind"] == "disbursement" && !reversed.contains(&(seq as u64)) && counts(seq as u64, s)
        {
            *by_county
                .entry(s["body"]["region"].as_str().unwrap().to_owned())
                .or_default() += s["body"]["amount"].as_u64().unwrap();
        }
    }
    assert_eq!(counties, by_county);

    // Duplicate aid: every alert counted once, its beneficiary once per
    // cause and county, the money of each disbursement involved once.
    let alerts = all_pages(&app, "/v1/alerts/duplicates?").await;
    let rows = all_pages(&app, "/v1/stats/overlap?").await;
    assert!(!rows.is_empty());
    let n = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(n("alerts"), alerts.len() as u64);
    let mut involved = std::collections::BTreeSet::new();
    for a in &alerts {
        involved.insert(a["seq"].as_u64().unwrap());
        for m in a["matches"].as_array().unwrap() {
            involved.insert(m.as_u64().unwrap());
        }
    }
    let amount: u64 = involved
        .iter()
        .filter(|s| !reversed.contains(s))
        .map(|s| leaves[*s as usize]["body"]["amount"].as_u64().unwrap())
        .sum();
    assert_eq!(
        n("amount"),
        amount,
        "the demo's alerts share no disbursement across counties"
    );
    assert_eq!(n("disbursements"), involved.len() as u64);

    // Needs by category and region: what the filters keep is exactly the
    // needs of that category in that city.
    let needs = all_pages(&app, "/v1/needs?").await;
    let city = needs[0]["region"].as_str().unwrap()[..4].to_owned() + "00";
    let kept = all_pages(&app, &format!("/v1/needs?category=disaster&region={city}")).await;
    let expected: Vec<&Value> = needs
        .iter()
        .filter(|n| {
            n["category"] == "disaster" && n["region"].as_str().unwrap().starts_with(&city[..4])
        })
        .collect();
    assert!(!kept.is_empty());
    assert_eq!(kept.iter().collect::<Vec<_>>(), expected);
    assert!(all_pages(&app, "/v1/needs?category=education")
        .await
        .is_empty());

    // Searches by name, any case; credit holders with their balances.
    let unions = all_pages(&app, "/v1/orgs?q=%E5%B7%A5%E4%BC%9A").await;
    assert_eq!(unions.len(), 1, "{unions:?}");
    assert_eq!(unions[0]["type"], "union");
    let dabing = all_pages(&app, "/v1/funds?q=csZH-2026-dab").await;
    assert_eq!(dabing.len(), 1);
    let holders = all_pages(&app, "/v1/credits?").await;
    let awarded: u64 = of_kind("credit.award")
        .map(|s| s["body"]["points"].as_u64().unwrap())
        .sum();
    assert_eq!(
        holders
            .iter()
            .map(|h| h["awarded"].as_u64().unwrap())
            .sum::<u64>(),
        awarded
    );
    let assessed = all_pages(&app, "/v1/assessments?").await;
    assert_eq!(assessed.len(), of_kind("assessment.result").count());

    // Indexes: every transfer, every entry of an org; orgkey is not listed.
    let transfers = all_pages(&app, "/v1/index/kind/fund.transfer?").await;
    assert_eq!(transfers.len(), of_kind("fund.transfer").count());
    let union = "CN-USCI-81110000000000019C";
    let (mut by_union, mut cursor) = (0, String::new());
    loop {
        let p = get(format!("/v1/index/org/{union}?limit=1000{cursor}")).await;
        let items = p["items"].as_array().unwrap();
        assert!(items.iter().all(|e| e["issuer"] == union));
        by_union += items.len();
        match p["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        by_union,
        leaves.iter().filter(|s| s["issuer"] == union).count()
    );
    let (status, e) = json_call(&app, Method::GET, "/v1/index/orgkey/x", vec![]).await;
    assert_eq!(
        (status, error_code(&e)),
        (StatusCode::BAD_REQUEST, "schema_violation")
    );
}

/// C2SP tiles on the demo ledger (full level-0 tiles and one partial one
/// at the right edge): hash tiles hold the leaf hashes, level-1 hashes are
/// the subtree hashes of the level-0 tiles below them, entry bundles hold
/// the leaf bytes with u16 lengths; beyond the tree is 404.
#[tokio::test(flavor = "multi_thread")]
async fn tiles_on_the_demo_ledger() {
    const WIDTH: u64 = 256;
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = demo_app(&dir);
    let (_, info) = json_call(&app, Method::GET, "/v1/log", vec![]).await;
    let size = info["size"].as_u64().unwrap();
    let (full, edge_width) = (size / WIDTH, size % WIDTH);
    // The demo is sized to exercise a partial tile and a partial level 1.
    assert!(edge_width > 0 && (2..WIDTH).contains(&full), "{size}");

    // The last full tile and the partial one after it.
    let first = (full - 1) * WIDTH;
    let (_, export) = call(
        &app,
        Method::GET,
        &format!("/v1/entries?start={first}&limit={}", WIDTH + edge_width),
        vec![],
    )
    .await;
    let tail: Vec<&[u8]> = export
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(tail.len() as u64, WIDTH + edge_width);

    // The right-edge level-0 tile: the hashes of the leaves past the last full tile.
    let req = Request::builder()
        .uri(format!("/tile/0/{full:03}.p/{edge_width}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let edge = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert_eq!(edge.len() as u64, edge_width * 32);
    for (i, h) in edge.chunks(32).enumerate() {
        assert_eq!(
            h,
            *leaf_hash(tail[WIDTH as usize + i]).as_bytes(),
            "leaf {}",
            full * WIDTH + i as u64
        );
    }
    // Entry bundle of the last full tile: u16 length, then the exact bytes.
    let (status, bundle) = call(
        &app,
        Method::GET,
        &format!("/tile/entries/{:03}", full - 1),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut rest = bundle.as_slice();
    for line in &tail[..WIDTH as usize] {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        assert_eq!(&rest[2..2 + len], *line);
        rest = &rest[2 + len..];
    }
    assert!(rest.is_empty());
    // Level 1 (one hash per full level-0 tile): each is the subtree hash
    // of the level-0 tile below it.
    let (status, level1) = call(&app, Method::GET, &format!("/tile/1/000.p/{full}"), vec![]).await;
    assert_eq!((status, level1.len() as u64), (StatusCode::OK, full * 32));
    for i in [0, full / 2, full - 1] {
        let (_, level0) = call(&app, Method::GET, &format!("/tile/0/{i:03}"), vec![]).await;
        assert_eq!(level0.len() as u64, WIDTH * 32);
        let i = i as usize;
        assert_eq!(
            tlog_tiles::Tile::subtree_hash(&level0).0,
            level1[i * 32..(i + 1) * 32],
            "tile {i}"
        );
    }
    for uri in [
        format!("/tile/0/{:03}", full + 1),
        format!("/tile/0/{full:03}"),
        format!("/tile/0/{full:03}.p/{}", edge_width + 1),
        "/tile/1/000".to_owned(),
        "/tile/2/000.p/1".to_owned(),
        format!("/tile/entries/{full:03}"),
        "/tile/0/41".to_owned(),
        "/tile/9/000".to_owned(),
    ] {
        let uri = uri.as_str();
        let (status, e) = json_call(&app, Method::GET, uri, vec![]).await;
        assert_eq!(
            (status, error_code(&e)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{uri}"
        );
    }
}

/// `/metrics` counts what happened: entries, groups, refusals by code, requests.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = node(&dir);
    let v = vectors();
    for l in v["leaves"].as_array().unwrap().iter().take(3) {
        assert_eq!(
            call(
                &app,
                Method::POST,
                "/v1/entries",
                serde_json::to_vec(&l["entry"]).unwrap()
            )
            .await
            .0,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        call(&app, Method::POST, "/v1/entries", b"[1]".to_vec())
            .await
            .0,
        StatusCode::OK
    );
    let (status, text) = call(&app, Method::GET, "/metrics", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(text).unwrap();
    for line in [
        "aidledger_log_size 3",
        "aidledger_entries_total 3",
        "aidledger_groups_total 3",
        "aidledger_group_entries_count 3",
        "aidledger_commit_seconds_count 3",
        "aidledger_refusals_total{code=\"schema_violation\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let requests: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("aidledger_request_seconds_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(requests >= 4, "{requests}");
}

/// `/openapi.json` describes exactly the router's routes: every routed path
/// is documented, and every documented path and method reaches a handler.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_matches_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = node(&dir);
    let (status, doc) = json_call(&app, Method::GET, "/openapi.json", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let routed: Vec<String> = node::routes()
        .into_iter()
        .map(|(p, _)| p.replace("{*path}", "{path}"))
        .collect();
    for p in &routed {
        assert!(paths.contains_key(p), "route {p} is not in openapi.json");
    }
    for (path, ops) in paths {
        assert!(
            routed.contains(path),
            "openapi.json documents {path}, which is not routed"
        );
        for method in ops.as_object().unwrap().keys() {
            let uri = path
                .replace("{seq}", "0")
                .replace("{path}", "0/000")
                .replace("{bnf}", &format!("bnf_{}", "0".repeat(64)))
                .replace(['{', '}'], "");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = call(&app, m, &uri, b"{}".to_vec()).await;
            let text = String::from_utf8_lossy(&body);
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED && !text.contains("no such route"),
                "{method} {path}: {status} {text}"
            );
        }
    }
}

/// Sums over funds pass 2^53-1, and `u64::MAX`, although no fund's sums
/// can (SPEC §6): 2,050 funds each received 2^53-1 fen and paid it out
/// (three of them to a family another organisation helped too), and one
/// payment is reversed. The overview, the statistics by month, category, province,
/// issuer type and region, and the duplicate-aid amount are the exact
/// integers, read as such from the answers' JSON text.
#[tokio::test(flavor = "multi_thread")]
async fn totals_over_funds_past_2_53_and_u64_are_exact() {
    use ledger::domain::Kind;
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize, Default, Clone, Copy, Debug, PartialEq)]
    struct Totals {
        count: u64,
        amount: u128,
    }
    #[derive(serde::Deserialize)]
    struct Overview {
        received: u128,
        transferred: u128,
        disbursed: u128,
        balance: u128,
    }
    #[derive(serde::Deserialize)]
    struct Stats {
        total: Totals,
        by_month: BTreeMap<String, Totals>,
        by_category: BTreeMap<String, Totals>,
        by_province: BTreeMap<String, Totals>,
        by_issuer_type: BTreeMap<String, Totals>,
        overview: Overview,
    }
    #[derive(serde::Deserialize)]
    struct Regions {
        regions: BTreeMap<String, Totals>,
    }
    #[derive(serde::Deserialize)]
    struct Overlap {
        cause: String,
        region: String,
        disbursements: u64,
        amount: u128,
        alerts: u64,
    }
    #[derive(serde::Deserialize)]
    struct OverlapPage {
        items: Vec<Overlap>,
    }
    async fn read<T: serde::de::DeserializeOwned>(app: &Router, uri: &str) -> T {
        let (status, body) = call(app, Method::GET, uri, vec![]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{uri}: {e}: {}", String::from_utf8_lossy(&body)))
    }

    const MAX: u64 = (1 << 53) - 1;
    const FUNDS: u64 = 2_050;
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = node(&dir);
    for body in common::vector_entries() {
        assert_eq!(
            call(&app, Method::POST, "/v1/entries", body).await.0,
            StatusCode::CREATED
        );
    }
    let base: Stats = read(&app, "/v1/stats").await;
    let base_counties: Regions = read(&app, "/v1/stats/regions?parent=321100").await;
    assert!(!base.by_month.contains_key("2026-03") && !base.by_category.contains_key("disaster"));

    let bureau = (
        "CN-USCI-11320000MB0000019A",
        SigningKey::from_bytes(&[1; 32]),
    );
    let charity = (
        "CN-USCI-53440300MJ0000018R",
        SigningKey::from_bytes(&[2; 32]),
    );
    let sign = |(issuer, key): &(&str, SigningKey), kind: Kind, nonce: String, body: Value| {
        let e =
            ledger::SignedEntry::create(key, issuer, kind, &nonce, "2026-03-02T09:00:00Z", body)
                .unwrap();
        serde_json::to_value(e).unwrap()
    };
    let family = format!("bnf_{}", "cd".repeat(32));
    let open = |fund: &str, category: &str| {
        json!({"fund": fund, "title": "大额测试", "category": category, "source": "donation",
               "region": "321181", "currency": "CNY", "budget": MAX, "start": "2026-01-01", "end": "2026-12-31"})
    };
    let receive =
        |fund: &str| json!({"fund": fund, "amount": MAX, "from": "捐赠", "date": "2026-03-01"});
    let pay = |fund: &str, region: &str, bnf: &str| {
        json!({"fund": fund, "beneficiary": bnf, "tier": "assisted", "cause": "illness", "amount": MAX,
               "method": "cash", "region": region, "date": "2026-03-02"})
    };
    // The bureau's payment first: the charity's payments to the family match it.
    let mut entries = vec![
        sign(
            &bureau,
            Kind::FundOpen,
            "big-b-open".into(),
            open("BIG-B", "dibao"),
        ),
        sign(
            &bureau,
            Kind::FundReceive,
            "big-b-receive".into(),
            receive("BIG-B"),
        ),
        sign(
            &bureau,
            Kind::Disbursement,
            "big-b-pay".into(),
            pay("BIG-B", "320102", &family),
        ),
    ];
    for i in 0..FUNDS {
        let fund = format!("BIG-{i}");
        entries.push(sign(
            &charity,
            Kind::FundOpen,
            format!("big-open-{i}"),
            open(&fund, "disaster"),
        ));
        entries.push(sign(
            &charity,
            Kind::FundReceive,
            format!("big-receive-{i}"),
            receive(&fund),
        ));
        let bnf = if i < 3 {
            family.clone()
        } else {
            format!("bnf_{i:064x}")
        };
        entries.push(sign(
            &charity,
            Kind::Disbursement,
            format!("big-pay-{i}"),
            pay(&fund, "321181", &bnf),
        ));
    }
    let mut last = 0;
    for chunk in entries.chunks(1000) {
        let (status, r) = json_call(
            &app,
            Method::POST,
            "/v1/entries",
            serde_json::to_vec(chunk).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        for result in r["results"].as_array().unwrap() {
            last = result["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("refused: {result}"));
        }
    }
    // The last charity payment reversed.
    let undo = sign(
        &charity,
        Kind::Correction,
        "big-undo".into(),
        json!({"target": last, "reason": "重复录入", "reverse": true}),
    );
    let (status, r) = json_call(
        &app,
        Method::POST,
        "/v1/entries",
        serde_json::to_vec(&undo).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");

    let max = u128::from(MAX);
    let paid = u128::from(FUNDS) * max; // FUNDS + 1 payments, one reversed
    assert!(paid > u128::from(u64::MAX));
    let (_, raw) = call(&app, Method::GET, "/v1/stats", vec![]).await;
    let text = String::from_utf8(raw).unwrap();
    let stats: Stats = serde_json::from_str(&text).unwrap();
    let o = &stats.overview;
    assert_eq!(
        o.received,
        base.overview.received + (u128::from(FUNDS) + 1) * max
    );
    assert!(
        text.contains(&format!("\"received\":{}", o.received)),
        "{text}"
    );
    assert_eq!(o.disbursed, base.overview.disbursed + paid);
    assert_eq!(o.balance, base.overview.balance + max);
    assert_eq!(o.transferred, base.overview.transferred);
    let plus = |t: Totals, count: u64, amount: u128| Totals {
        count: t.count + count,
        amount: t.amount + amount,
    };
    assert_eq!(stats.total, plus(base.total, FUNDS, paid));
    assert_eq!(
        stats.by_month["2026-03"],
        Totals {
            count: FUNDS,
            amount: paid
        }
    );
    assert_eq!(
        stats.by_category["disaster"],
        Totals {
            count: FUNDS - 1,
            amount: paid - max
        }
    );
    assert_eq!(
        stats.by_category["dibao"],
        Totals {
            count: 1,
            amount: max
        }
    );
    let charity_base = base
        .by_issuer_type
        .get("charity")
        .copied()
        .unwrap_or_default();
    assert_eq!(
        stats.by_issuer_type["charity"],
        plus(charity_base, FUNDS - 1, paid - max)
    );
    assert_eq!(
        stats.by_province["320000"],
        plus(base.by_province["320000"], FUNDS, paid)
    );
    let provinces: Regions = read(&app, "/v1/stats/regions").await;
    assert_eq!(provinces.regions["320000"], stats.by_province["320000"]);
    let counties: Regions = read(&app, "/v1/stats/regions?parent=321100").await;
    let county_base = base_counties
        .regions
        .get("321181")
        .copied()
        .unwrap_or_default();
    assert_eq!(
        counties.regions["321181"],
        plus(county_base, FUNDS - 1, paid - max)
    );

    // Duplicate aid: the family's four payments, past 2^53-1 together.
    let overlap: OverlapPage = read(&app, "/v1/stats/overlap?limit=1000").await;
    let row = overlap
        .items
        .iter()
        .find(|r| r.cause == "illness" && r.region == "321181")
        .unwrap();
    assert_eq!((row.alerts, row.disbursements), (3, 4));
    assert_eq!(row.amount, 4 * max);
}

/// JSON answers of 1 KiB or more are compressed for a client that accepts
/// it, and decompress to the same bytes; NDJSON leaves, tiles, small
/// answers and clients that do not ask get them as they are.
#[tokio::test(flavor = "multi_thread")]
async fn large_json_answers_are_compressed_on_request() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = demo_app(&dir);
    let fetch = |uri: &'static str, accept: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut req = Request::builder().uri(uri);
            if let Some(a) = accept {
                req = req.header("accept-encoding", a);
            }
            let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let encoding = res
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec();
            (encoding, body)
        }
    };
    let flows = "/v1/funds/MZ-2026-TEMP/flows?limit=1000";
    let (plain_encoding, plain) = fetch(flows, None).await;
    assert_eq!(plain_encoding, None);
    let (encoding, gz) = fetch(flows, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    // A page of a fund's flows, as the fund's page reads them.
    assert!(
        gz.len() * 5 < plain.len(),
        "{} of {}",
        gz.len(),
        plain.len()
    );
    let (encoding, _) = fetch(flows, Some("br, gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"), "gzip only");
    for uri in ["/v1/entries?start=0&limit=100", "/tile/0/000", "/v1/log"] {
        let (encoding, _) = fetch(uri, Some("gzip, br")).await;
        assert_eq!(encoding, None, "{uri}");
    }
}

/// `GET /v1/pseudonyms?prefix=`: the pseudonyms a shortened one stands for.
#[tokio::test(flavor = "multi_thread")]
async fn shortened_pseudonyms_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let (_writer, app) = demo_app(&dir);
    let (_, alerts) = json_call(&app, Method::GET, "/v1/alerts/duplicates", vec![]).await;
    let family = alerts["items"][0]["beneficiary"].as_str().unwrap();
    let (status, found) = json_call(
        &app,
        Method::GET,
        &format!("/v1/pseudonyms?prefix={}", &family[..12]),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["items"], json!([family]));
    let (_, some) = json_call(
        &app,
        Method::GET,
        "/v1/pseudonyms?prefix=bnf_0&limit=3",
        vec![],
    )
    .await;
    assert_eq!(
        error_code(&some),
        "schema_violation",
        "at least 4 hex digits"
    );
    // A volunteer by a short prefix: at most `limit`, each beginning so.
    let (_, holders) = json_call(&app, Method::GET, "/v1/credits?limit=1000", vec![]).await;
    let volunteer = common::first_volunteer(&holders);
    let prefix = &volunteer[..8];
    let (_, many) = json_call(
        &app,
        Method::GET,
        &format!("/v1/pseudonyms?prefix={prefix}&limit=3"),
        vec![],
    )
    .await;
    let many = many["items"].as_array().unwrap();
    assert!(
        many.contains(&json!(volunteer))
            && many.len() <= 3
            && many.iter().all(|p| p.as_str().unwrap().starts_with(prefix)),
        "{many:?}"
    );
    for bad in ["BNF_abcd", "bnf_ABCD", "xyz_abcd", "bnf_abcg"] {
        let (status, v) = json_call(
            &app,
            Method::GET,
            &format!("/v1/pseudonyms?prefix={bad}"),
            vec![],
        )
        .await;
        assert_eq!(
            (status.as_u16(), error_code(&v)),
            (400, "schema_violation"),
            "{bad}"
        );
    }
}
