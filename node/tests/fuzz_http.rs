//! Fuzzing every route's inputs (issue 19): paths, query strings and
//! bodies mutated from valid requests (`testkit::fuzz`), sent through the
//! node's router in process (`oneshot`) on a store holding the vector
//! ledger. No request may panic or hang; every answer has a status the SPEC
//! names, every error the SPEC's shape and one of its codes, and the log
//! never changes (the valid entries among the seeds are already in it).
//!
//! `FUZZ_CASES` sets the cases per target (default 512; the long form is
//! 100,000).

use axum::body::{to_bytes, Body};
use axum::http::Request;
use axum::Router;
use ed25519_dalek::SigningKey;
use ledger::checkpoint::CheckpointSigner;
use ledger::store::{Log, RocksBackend};
use proptest::prelude::*;
use serde_json::Value;
use testkit::fuzz::{config, mutated};
use tower::ServiceExt;

mod common;

const CODES: &[&str] = &[
    "malformed_json",
    "schema_violation",
    "bad_signature",
    "unknown_key",
    "key_revoked",
    "role_missing",
    "not_found",
    "method_not_allowed",
    "nonce_conflict",
    "too_large",
    "rule_violation",
    "pii_detected",
    "overloaded",
    "internal",
];

struct Fixture {
    app: Router,
    runtime: tokio::runtime::Runtime,
    writer: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// The fixture lives in a thread-local, dropped as the test's thread ends,
/// moments before the process exits: the node's writer thread must have
/// closed the store by then (RocksDB torn down by the exit while a thread
/// still closes it aborts with a double free).
impl Drop for Fixture {
    fn drop(&mut self) {
        // The router holds the node: dropping it ends the writer's queue.
        self.app = Router::new();
        if let Some(writer) = self.writer.take() {
            writer.join().expect("the writer thread");
        }
    }
}

/// The vector ledger's node, every entry submitted.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let v = common::vectors();
    let signer = CheckpointSigner::new(
        v["origin"].as_str().unwrap(),
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (node, writer) = node::Node::start(log, signer);
    let app = runtime.block_on(async { node::app(node) });
    let f = Fixture {
        app,
        runtime,
        writer: Some(writer),
        _dir: dir,
    };
    for entry in common::vector_entries() {
        let (status, _) = f.call("POST", b"/v1/entries", entry);
        assert_eq!(status, 201);
    }
    f
}

impl Fixture {
    fn call(&self, method: &str, uri: &[u8], body: Vec<u8>) -> (u16, Vec<u8>) {
        let Ok(req) = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
        else {
            // Not a request the HTTP layer would hand the router.
            return (
                400,
                br#"{"error":{"code":"schema_violation","message":"bad request line"}}"#.to_vec(),
            );
        };
        self.runtime.block_on(async {
            let res = self.app.clone().oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, body.to_vec())
        })
    }

    fn size(&self) -> u64 {
        let (_, body) = self.call("GET", b"/v1/log", vec![]);
        serde_json::from_slice::<Value>(&body).unwrap()["size"]
            .as_u64()
            .unwrap()
    }
}

/// Checks an answer against the SPEC: its status, and an error's shape.
fn check_answer(status: u16, body: &[u8]) -> Result<(), String> {
    let known = [200, 201, 400, 403, 404, 405, 409, 413, 414, 422, 431, 503];
    if !known.contains(&status) {
        return Err(format!("status {status}"));
    }
    if status >= 400 {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("{status}: not JSON: {e}"))?;
        let code = v["error"]["code"].as_str().unwrap_or("");
        if !CODES.contains(&code) || v["error"]["message"].as_str().is_none_or(str::is_empty) {
            return Err(format!("{status}: not the SPEC's error shape: {v}"));
        }
    }
    Ok(())
}

fn paths() -> Vec<Vec<u8>> {
    [
        "/v1/entries?start=0&limit=3",
        "/v1/entries/2",
        "/v1/log",
        "/v1/checkpoint",
        "/checkpoint",
        "/v1/proof/inclusion?seq=1&size=5",
        "/v1/proof/consistency?first=2&second=5",
        "/v1/orgs?limit=2&cursor=abc",
        "/v1/orgs/CN-USCI-53440300MJ0000018R",
        "/v1/funds?q=%E6%95%91",
        "/v1/funds/CSH-2026-MED/flows",
        "/v1/beneficiaries/bnf_0000000000000000000000000000000000000000000000000000000000000001",
        "/v1/alerts/duplicates?limit=5",
        "/v1/index/org/CN-USCI-53440300MJ0000018R?limit=2",
        "/v1/credits?limit=2",
        "/v1/credits/vol_0000000000000000000000000000000000000000000000000000000000000001",
        "/v1/assessments?subject=CN-USCI-53440300MJ0000018R",
        "/v1/needs?state=open&category=medical&region=321181",
        "/v1/stats?month=2026-01",
        "/v1/stats/regions?parent=320000",
        "/v1/stats/overlap",
        "/tile/0/000.p/5",
        "/tile/entries/000.p/5",
        "/metrics",
        "/healthz",
        "/openapi.json",
        "/",
        "/assets/x/app.js",
    ]
    .iter()
    .map(|p| p.as_bytes().to_vec())
    .collect()
}

fn bodies() -> Vec<Vec<u8>> {
    let mut out = common::vector_entries();
    // All five as one array.
    let mut array = b"[".to_vec();
    array.extend(out.join(&b","[..]));
    array.push(b']');
    out.push(array);
    out
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn every_route_answers_mutated_requests_as_the_spec_says(
        path in mutated(paths()),
        body in mutated(bodies()),
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("HEAD")],
    ) {
        thread_local!(static FIXTURE: Fixture = fixture());
        FIXTURE.with(|f| -> Result<(), TestCaseError> {
            let body = if method == "GET" { Vec::new() } else { body };
            let (status, answer) = f.call(method, &path, body);
            if method != "HEAD" {
                if let Err(e) = check_answer(status, &answer) {
                    return Err(TestCaseError::fail(format!("{method} {}: {e}", String::from_utf8_lossy(&path))));
                }
            }
            prop_assert_eq!(f.size(), 5, "the log changed");
            Ok(())
        })?;
    }
}
