//! One writer across machines (issue 32), with a three-member etcd cluster
//! and a three-node Garage cluster on loopback:
//!
//! 1. what the lock costs: 1,000-entry batch appends and single entries
//!    (one at a time) on a node replicating synchronously
//!    (`--ack-after-replication`), without and with `--lock`, alternately,
//!    two rounds each: entries/s and receipt latency;
//! 2. failover: three nodes under the lock with a 2 s lease and three
//!    clients submitting; the writer SIGKILLed KILLS times: the time from
//!    each kill to the next receipt (p50, max), every receipt checked after.
//!
//! `cargo bench -p node --bench failover [-- BATCHES [KILLS]]` from the
//! workspace root (defaults 20 and 20).

use std::time::{Duration, Instant};

mod common;
#[path = "../tests/common/mod.rs"]
mod tests_common;

use tests_common::rig::{agree, genesis, kill_under_load, Rig};

const SINGLES: usize = 200;

struct Run {
    rate: f64,
    batch: Vec<Duration>,
    single: Vec<Duration>,
}

fn run(locked: bool, round: usize, batches: usize) -> Run {
    let rig = Rig::start_with(1, locked);
    genesis(&rig);
    let addr = rig.addrs[0];
    let work = common::batches(batches, &format!("{round}-{locked}"));
    let mut batch = Vec::new();
    let started = Instant::now();
    for b in &work {
        let sent = Instant::now();
        let a = testkit::http(addr, "POST", "/v1/entries", b);
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        batch.push(sent.elapsed());
    }
    let rate = (batches * common::BATCH) as f64 / started.elapsed().as_secs_f64();
    let mut single = Vec::new();
    for i in 0..SINGLES {
        let entry = tests_common::award_entry(&format!("single-{round}-{locked}-{i}"));
        let sent = Instant::now();
        let a = tests_common::post(addr, &entry);
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        single.push(sent.elapsed());
    }
    Run {
        rate,
        batch,
        single,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batches = args.first().copied().unwrap_or(20);
    let kills = args.get(1).copied().unwrap_or(20);

    let mut runs: Vec<(bool, Run)> = Vec::new();
    for round in 0..2 {
        for locked in [false, true] {
            let r = run(locked, round, batches);
            println!(
                "round {round}, {}: {:.0} entries/s",
                if locked {
                    "with the lock"
                } else {
                    "synchronous replication"
                },
                r.rate
            );
            runs.push((locked, r));
        }
    }
    let mut rates = [0.0; 2];
    for locked in [false, true] {
        let of: Vec<&Run> = runs
            .iter()
            .filter(|(l, _)| *l == locked)
            .map(|(_, r)| r)
            .collect();
        let rate = of.iter().map(|r| r.rate).sum::<f64>() / of.len() as f64;
        rates[usize::from(locked)] = rate;
        let mut batch: Vec<Duration> = of.iter().flat_map(|r| r.batch.clone()).collect();
        let mut single: Vec<Duration> = of.iter().flat_map(|r| r.single.clone()).collect();
        println!(
            "{}: {rate:.0} entries/s in 1,000-entry batches (receipt p50 {:.0} ms, p99 {:.0} ms); \
             single entries one at a time: receipt p50 {:.1} ms, p99 {:.1} ms",
            if locked {
                "with the lock"
            } else {
                "synchronous replication alone"
            },
            common::pct(&mut batch, 0.5),
            common::pct(&mut batch, 0.99),
            common::pct(&mut single, 0.5),
            common::pct(&mut single, 0.99),
        );
    }
    println!(
        "the lock costs {:.1}% of the batch throughput",
        (1.0 - rates[1] / rates[0]) * 100.0
    );

    let mut rig = Rig::start(3);
    genesis(&rig);
    let (acked, mut failovers) = kill_under_load(&mut rig, kills);
    let w = rig.wait_writer(Duration::from_secs(30));
    let (_, log) = testkit::http_get(rig.addrs[w], "/v1/log");
    let size: serde_json::Value = serde_json::from_slice(&log).unwrap();
    tests_common::rig::settle(&rig, size["size"].as_u64().unwrap() as usize);
    let log = agree(&rig, &acked);
    failovers.sort();
    println!(
        "failover (2 s lease): {kills} kills, first receipt after a kill p50 {:.2} s, max {:.2} s; \
         {} receipts all kept, log of {}, no seq with two leaves on 3 nodes and the bucket",
        failovers[failovers.len() / 2].as_secs_f64(),
        failovers.last().unwrap().as_secs_f64(),
        acked.len(),
        log.len()
    );
}
