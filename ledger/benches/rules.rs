//! Rules benchmark (issue 3): sequencing through `apply` with derived state
//! and index writes in the same commit, in groups of 1,000, one fsync each,
//! in two stages as the node runs them (the rules of one group run while
//! the one before is committed).
//! Signatures are made beforehand and not checked (the node checks them
//! before sequencing); schema checks are excluded too.
//!
//! `cargo bench -p ledger --bench rules [-- ENTRIES]` (default 1,100,000):
//! fills the store with ten elevenths of ENTRIES, then times three
//! consecutive runs of the last eleventh (100,000 on top of 1,000,000,
//! 1,100,000 and 1,200,000) and reports each and their median: one run of a
//! few seconds varies with RocksDB's background flushes.

use std::time::{Instant, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::entry::SignedEntry;
use ledger::rules::{check_submission_value, CheckedEntry};
use ledger::sequencer::{sequence_group, write_pipelined, GroupResult, Outcome};
use ledger::store::{Log, RocksBackend};
use rayon::prelude::*;
use serde_json::{json, Value};

// mimalloc, as in the ledger bench: glibc malloc was ~13% of the profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GROUP: u64 = 1_000;
const BUREAU: &str = "CN-USCI-11320000MB0000019A";
const CHARITY: &str = "CN-USCI-53440300MJ0000018R";

/// User and system CPU time of this process so far (Linux: /proc/self/stat,
/// in clock ticks of 1/100 s), so that a run's figure can be told apart
/// from the host's speed and from contention for the two cores.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at `state`;
    // utime and stime are fields 14 and 15 of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A signed entry, through the checks made before the rules (the writer
/// takes nothing else).
fn sign(key: &SigningKey, issuer: &str, kind: &str, nonce: String, body: Value) -> CheckedEntry {
    let entry = SignedEntry::create(
        key,
        issuer,
        kind.parse().expect("a kind"),
        &nonce,
        "2026-11-21T08:30:00Z",
        body,
    )
    .unwrap();
    check_submission_value(serde_json::to_value(&entry).unwrap()).unwrap()
}

fn main() {
    let total: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_100_000);
    let measured = (total / 11).max(GROUP);
    let registrar = SigningKey::from_bytes(&[1; 32]);
    let charity = SigningKey::from_bytes(&[2; 32]);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    let hex = |k: &SigningKey| hex::encode(k.verifying_key().to_bytes());
    let setup = vec![
        sign(
            &registrar,
            BUREAU,
            "org.register",
            "g".into(),
            json!({
            "org": {"id": BUREAU, "name": "民政厅", "type": "government", "region": "320000"},
            "keys": [{"key": hex(&registrar), "roles": ["registrar", "admin"]}]}),
        ),
        sign(
            &registrar,
            BUREAU,
            "org.register",
            "r1".into(),
            json!({
            "org": {"id": CHARITY, "name": "慈善会", "type": "charity", "region": "321181"},
            "keys": [{"key": hex(&charity), "roles": ["fund", "disburse", "credit"]}]}),
        ),
        sign(
            &charity,
            CHARITY,
            "fund.open",
            "f".into(),
            json!({"fund": "F", "title": "t", "category": "medical",
            "source": "donation", "region": "321181", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31"}),
        ),
        sign(
            &charity,
            CHARITY,
            "fund.receive",
            "r".into(),
            json!({"fund": "F", "amount": 9_000_000_000_000_000u64, "from": "x", "date": "2026-01-02"}),
        ),
    ];
    let mut setup = setup;
    // BENCH_RULES_V2: the registrar activates rules version 2 first, so
    // every timed entry is judged (and swept for monitoring alerts) under
    // it, and adds a household monitor's key: one entry in 100 puts a
    // family under monitoring, so that of the timed disbursements about
    // one in 20 counts as aid to a monitored household, and every one
    // looks its household up.
    let v2 = std::env::var_os("BENCH_RULES_V2").is_some();
    let monitor = SigningKey::from_bytes(&[5; 32]);
    if v2 {
        setup.push(sign(
            &registrar,
            BUREAU,
            "rules.activate",
            "v2".into(),
            json!({"version": 2, "note": "v2"}),
        ));
        setup.push(sign(
            &registrar,
            BUREAU,
            "key.add",
            "monitor".into(),
            json!({"org": BUREAU, "key": hex(&monitor), "roles": ["monitor"]}),
        ));
    }
    sequence_group(&mut log, setup, SystemTime::now()).unwrap();
    let log = std::sync::RwLock::new(log);
    let causes = ["illness", "education", "housing", "elderly"];
    let family = |i: u64| format!("bnf_{:064x}", (i * 2_654_435_761) % 200_000);
    let entry = |i: u64| -> CheckedEntry {
        if v2 && i % 100 == 50 {
            return sign(
                &monitor,
                BUREAU,
                "household.monitor",
                format!("m-{i}"),
                json!({"beneficiary": family(i), "tier": "monitored", "risks": ["illness"],
                       "region": "321181", "review_by": "2027-06-30"}),
            );
        }
        let body = if i % 10 == 9 {
            json!({"holder": format!("vol_{:064x}", i % 5_000), "points": 5, "reason": "志愿服务"})
        } else {
            json!({"fund": "F", "beneficiary": family(i), "tier": "vulnerable",
                   "cause": causes[(i % 4) as usize], "amount": 10_000 + i % 90_000, "method": "cash", "region": "321181",
                   "date": format!("2026-{:02}-{:02}", 1 + (i / 30) % 12, 1 + i % 28), "ref": format!("DSB-{i:09}")})
        };
        let kind = if i % 10 == 9 {
            "credit.award"
        } else {
            "disbursement"
        };
        sign(&charity, CHARITY, kind, format!("n-{i}"), body)
    };
    let rules = if v2 { "rules v2" } else { "rules v1" };
    let mix = if v2 {
        "89% disbursements to 200,000 families, 10% credit awards, 1% households put under monitoring"
    } else {
        "90% disbursements to 200,000 families, 10% credit awards"
    };
    println!("rules bench ({rules}): {total} entries ({mix}), groups of {GROUP}");
    let check = |(), result: GroupResult<()>| {
        let (results, ()) = result.expect("the group is committed");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(Outcome::Sequenced(_)))),
            "{:?}",
            results.iter().find(|r| r.is_err())
        );
    };
    // Fill the store; entries are signed as they are needed (not timed).
    let filled = total - measured;
    let mut next = 0;
    write_pipelined(
        &log,
        || {
            (next < filled).then(|| {
                next += GROUP;
                let entries = (next - GROUP..next).into_par_iter().map(entry).collect();
                (entries, SystemTime::now(), ())
            })
        },
        |_| (),
        check,
    );
    // The measured entries are signed beforehand, all three runs' at once,
    // so that a profile of the runs shows only sequencing.
    let runs: Vec<Vec<Vec<CheckedEntry>>> = (0..3)
        .map(|run| {
            let first = filled + run * measured;
            let mut groups: Vec<Vec<CheckedEntry>> = (first..first + measured)
                .step_by(GROUP as usize)
                .map(|g| (g..g + GROUP).into_par_iter().map(entry).collect())
                .collect();
            groups.reverse();
            groups
        })
        .collect();
    let mut rates = Vec::new();
    for (run, mut groups) in runs.into_iter().enumerate() {
        let first = filled + run as u64 * measured;
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        write_pipelined(
            &log,
            || groups.pop().map(|g| (g, SystemTime::now(), ())),
            |_| (),
            check,
        );
        let rate = measured as f64 / start.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
        let cpu = cpu.map_or(String::new(), |s| {
            format!(
                " ({:.1} µs of CPU an entry, all threads)",
                s * 1e6 / measured as f64
            )
        });
        println!("  {measured} entries on top of {first}: {rate:.0} entries/s{cpu}");
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let mut alerts = 0u64;
    let mut cursor = None;
    loop {
        let page = ledger::query::alerts(log.read().unwrap().backend(), cursor, 1000).unwrap();
        alerts += page.items.len() as u64;
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    println!(
        "rules + state + index writes: median {:.0} entries/s for {measured} entries on a store of {filled} or more; {alerts} duplicate-aid alerts",
        rates[1],
    );
}
