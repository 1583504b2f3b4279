//! The pseudonym service (issue 30): evaluations a second through
//! `aidledger pseudonym serve` over loopback, 1,000 blinded elements a
//! request, from concurrent clients that send and read only (blinding and
//! checking the proofs would take the same two cores from the service);
//! then, apart, what a client's blinding and proof check of 1,000 cost.
//!
//! `cargo bench -p cli --bench pseudonym [-- SECONDS [CLIENTS]]` (default
//! 10 s, 4 clients). Build the workspace's binaries first.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ledger::ident::PseudonymKind;
use ledger::oprf::{self, Answer, PublicKey, Request};

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let seconds = args.next().unwrap_or(10);
    let clients = args.next().unwrap_or(4) as usize;
    let w = World::new();
    let service = w.pseudonym_service_with(Some(1_000_000_000_000));
    let url = service.url.as_str();

    let key = ledger::keyfile::read(&w.charity_key).unwrap();
    let public = PublicKey::from_hex(&service.public).unwrap();
    let ids: Vec<Vec<u8>> = (0..1_000u64)
        .map(|i| oprf::input(PseudonymKind::Beneficiary, &format!("{i:018}")))
        .collect();
    let stop = AtomicBool::new(false);
    let evaluated = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (key, ids, stop, evaluated) = (&key, &ids, &stop, &evaluated);
            s.spawn(move || {
                let service = cli::client::NodeClient::new(url);
                let blinded = oprf::blind(&mut rand_core::OsRng, ids.clone());
                while !stop.load(Ordering::Relaxed) {
                    let at = ledger::entry::format_timestamp(SystemTime::now());
                    let r = Request::sign(key, CHARITY, at, &blinded.elements).unwrap();
                    let (status, body) = service
                        .post("/v1/evaluate", &serde_json::to_vec(&r).unwrap())
                        .unwrap();
                    assert_eq!(status, 200, "{body}");
                    let answer: Answer = serde_json::from_value(body).unwrap();
                    evaluated.fetch_add(answer.evaluated.len() as u64, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let secs = started.elapsed().as_secs_f64();
    let n = evaluated.load(Ordering::Relaxed);
    println!(
        "pseudonym service: {n} evaluations in {secs:.1} s = {:.0} evaluations/s (1,000 a request, {clients} clients)",
        n as f64 / secs
    );
    // The client's side of 1,000: blinding, then the proof check and
    // unblinding, five times.
    let service = cli::client::NodeClient::new(url);
    let (mut blinding, mut checking) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        let t = Instant::now();
        let blinded = oprf::blind(&mut rand_core::OsRng, ids.clone());
        blinding += t.elapsed();
        let at = ledger::entry::format_timestamp(SystemTime::now());
        let r = Request::sign(&key, CHARITY, at, &blinded.elements).unwrap();
        let (_, body) = service
            .post("/v1/evaluate", &serde_json::to_vec(&r).unwrap())
            .unwrap();
        let (elements, proof) = serde_json::from_value::<Answer>(body)
            .unwrap()
            .parts()
            .unwrap();
        let t = Instant::now();
        blinded.finish(&elements, &proof, &public).unwrap();
        checking += t.elapsed();
    }
    println!(
        "client, 1,000 IDs: blinding {:.1} ms, proof check and unblinding {:.1} ms (mean of 5)",
        blinding.as_secs_f64() * 200.0,
        checking.as_secs_f64() * 200.0
    );
}
