//! The real node binary SIGKILLed at random moments while concurrent
//! clients submit single entries and arrays (issue 19, "Crash"), under the
//! demo's rules version 2: credit awards, households put under monitoring
//! and visited (each leaf sweeps the monitoring alerts due), and money
//! recovered into a fund (issue 29). After each
//! restart: every entry whose receipt was returned is in the log exactly
//! once at its receipt's seq, seqs are gapless, the chain, signatures and
//! the signed checkpoint verify; at the end the derived state equals a
//! replay from seq 0 byte for byte.
//!
//! `NODE_CRASH_CYCLES` (default 10; the long form runs 50) and
//! `NODE_CRASH_SEED` (printed on every run) choose the cycles and the kill
//! times.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ledger::checkpoint::CheckpointVerifier;
use serde_json::{json, Value};

mod common;

/// The demo's registrar, whose key 6 (seed `[6; 32]`) monitors households.
const REGISTRAR: &str = "CN-USCI-11320000MB0000019A";

fn start(data: &Path, addr: SocketAddr) -> testkit::Killed {
    testkit::demo(
        Path::new(env!("CARGO_BIN_EXE_aidledger-node")),
        data,
        addr,
        &[],
    )
}

/// The `k`th entry of a request whose nonces begin with `request`: an
/// award, a household put under monitoring, its visit, or one fen that
/// household paid back into the charity's fund (the visit and the
/// recovery name the household of the entry 1 or 2 before them).
fn workload(request: &str, k: usize) -> ledger::SignedEntry {
    use ledger::domain::Kind;
    let nonce = format!("{request}-{k}");
    let household = {
        use sha2::Digest;
        let monitored = format!("{request}-{}", k - k % 4 + 1);
        format!("bnf_{}", hex::encode(sha2::Sha256::digest(monitored)))
    };
    let monitor = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let by_monitor = |kind, body| {
        ledger::SignedEntry::create(
            &monitor,
            REGISTRAR,
            kind,
            &nonce,
            "2026-11-28T09:00:00Z",
            body,
        )
        .unwrap()
    };
    match k % 4 {
        0 => common::award_entry(&nonce),
        1 => by_monitor(
            Kind::HouseholdMonitor,
            json!({"beneficiary": household, "tier": "monitored", "risks": ["illness", "income"],
                   "region": "321181", "review_by": "2026-12-01"}),
        ),
        2 => by_monitor(
            Kind::HouseholdVisit,
            json!({"beneficiary": household, "date": "2026-11-28", "findings": "收入恢复",
                   "next_review_by": "2027-03-01"}),
        ),
        _ => common::charity_entry(
            Kind::FundRecover,
            &nonce,
            json!({"fund": "CSZH-2026-JIZHU", "amount": 1, "from": household, "reason": "overpaid",
                   "date": "2026-11-28"}),
        ),
    }
}

/// Sends requests until `stop`; records (nonce → seq) of every receipt.
fn submitter(
    addr: SocketAddr,
    client: usize,
    cycle: u64,
    stop: &AtomicBool,
    acked: &Mutex<HashMap<String, u64>>,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let array = i % 4 == 3;
        let request = format!("crash-{cycle}-{client}-{i}");
        let entries: Vec<_> = (0..if array { 20 } else { 1 })
            .map(|k| workload(&request, k))
            .collect();
        let nonces: Vec<&str> = entries.iter().map(|e| e.statement.nonce.as_str()).collect();
        let body = if array {
            serde_json::to_vec(&entries).unwrap()
        } else {
            serde_json::to_vec(&entries[0]).unwrap()
        };
        i += 1;
        // A killed node: the request fails or is cut off.
        let Ok(answer) = testkit::try_http(addr, "POST", "/v1/entries", &body) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&answer.body) else {
            continue;
        };
        let receipts: Vec<Value> = if array {
            v["results"].as_array().cloned().unwrap_or_default()
        } else if answer.status == 201 {
            vec![v]
        } else {
            vec![]
        };
        let mut acked = acked.lock().unwrap();
        for (nonce, r) in nonces.iter().zip(receipts) {
            if let Some(seq) = r["seq"].as_u64() {
                acked.insert((*nonce).to_owned(), seq);
            }
        }
    }
}

/// Every receipt's entry at its seq, nonces once, gapless, chain and
/// checkpoint verified (through the node's API).
fn check(addr: SocketAddr, acked: &HashMap<String, u64>) -> u64 {
    let (_, log) = testkit::http_get(addr, "/v1/log");
    let log: Value = serde_json::from_slice(&log).unwrap();
    let size = log["size"].as_u64().unwrap();
    let verifier = CheckpointVerifier::from_vkey(log["vkey"].as_str().unwrap()).unwrap();
    let (_, note) = testkit::http_get(addr, "/checkpoint");
    let cp = verifier.verify(&note).unwrap();
    assert_eq!(cp.root.size, size);
    let mut chain = ledger::ChainVerifier::new();
    let mut nonces: HashMap<String, u64> = HashMap::new();
    for start in (0..size).step_by(1000) {
        let (_, page) = testkit::http_get(addr, &format!("/v1/entries?start={start}&limit=1000"));
        for line in page.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let leaf = chain.push(line).unwrap();
            let nonce = leaf.entry.statement.nonce.clone();
            assert!(
                nonces.insert(nonce.clone(), leaf.seq).is_none(),
                "{nonce} twice"
            );
        }
    }
    chain.finish(&cp.root).unwrap();
    for (nonce, seq) in acked {
        assert_eq!(
            nonces.get(nonce),
            Some(seq),
            "acknowledged {nonce} at {seq} is not there"
        );
    }
    size
}

#[test]
fn the_node_killed_mid_write_loses_nothing_it_acknowledged() {
    let cycles: u64 = testkit::env_number("NODE_CRASH_CYCLES", 10);
    let seed = testkit::seed("NODE_CRASH_SEED");
    println!("node crash: {cycles} cycles");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let addr = testkit::free_addr();
    let acked = Mutex::new(HashMap::new());
    let mut size = 0;
    for cycle in 0..cycles {
        let node = start(&data, addr);
        size = check(addr, &acked.lock().unwrap());
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for client in 0..3 {
                let (stop, acked) = (&stop, &acked);
                s.spawn(move || submitter(addr, client, cycle, stop, acked));
            }
            std::thread::sleep(Duration::from_millis(rng.u64(50..600)));
            drop(node); // SIGKILL
            std::thread::sleep(Duration::from_millis(50));
            stop.store(true, Ordering::Relaxed);
        });
    }
    let node = start(&data, addr);
    let end = check(addr, &acked.lock().unwrap());
    assert!(end > size || acked.lock().unwrap().is_empty());
    println!(
        "node crash: {} receipts kept across {cycles} kills, log of {end}",
        acked.lock().unwrap().len()
    );
    // The v2 entries went in with the rest: a household monitored and
    // visited, the money recovered from it in the fund's totals.
    let visited = acked
        .lock()
        .unwrap()
        .keys()
        .filter_map(|n| n.strip_suffix("-2"))
        .find(|r| r.matches('-').count() == 3)
        .map(str::to_owned)
        .expect("an array went in");
    let household = workload(&visited, 2).statement.body["beneficiary"].clone();
    let (_, shown) = testkit::http_get(
        addr,
        &format!("/v1/households/{}", household.as_str().unwrap()),
    );
    let shown: Value = serde_json::from_slice(&shown).unwrap();
    assert_eq!(shown["household"]["visits"], 1, "{shown}");
    let (_, fund) = testkit::http_get(addr, "/v1/funds/CSZH-2026-JIZHU");
    let fund: Value = serde_json::from_slice(&fund).unwrap();
    assert!(fund["recovered"].as_u64() > Some(0), "{fund}");
    drop(node);
    // The derived state equals a replay of the leaves from seq 0.
    let log = ledger::Log::open(ledger::RocksBackend::open(&data.join("db")).unwrap()).unwrap();
    assert_eq!(
        ledger::sequencer::dump(&ledger::sequencer::replay(&log).unwrap()).unwrap(),
        ledger::sequencer::dump(log.backend()).unwrap()
    );
}
