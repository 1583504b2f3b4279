//! Ledger core benchmarks (issue 2). A bench binary, not criterion: each
//! figure is one long measurement over a large store.
//!
//! `cargo bench -p ledger --bench ledger [-- LEAVES]` (default 1,000,000).
//!
//! 1. Store append: signed entries sequenced into leaves and written to
//!    RocksDB in groups of 1,000, one fsync per group (signatures are not
//!    checked here; the node checks them before sequencing). Two stages as
//!    in the node: one group's leaves are built while the one before is
//!    committed.
//! 2. Inclusion proofs for random seqs in the full store (median, p99).
//! 3. Sequential verification of the whole export (canonical form, chain,
//!    signatures, Merkle root against the head) on 1 and on 2 threads.

use std::time::{Duration, Instant, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::entry::SignedEntry;
use ledger::store::{Log, PreparedGroup, RocksBackend};
use ledger::verify::ChainVerifier;
use rayon::prelude::*;
use serde_json::json;

// The same allocator the node binary is to use; glibc malloc was ~13% of
// the sequencer's profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GROUP: usize = 1_000;

/// A disbursement-shaped entry of realistic size (~900 leaf bytes).
fn entry(keys: &[SigningKey], i: u64) -> SignedEntry {
    let key = &keys[i as usize % keys.len()];
    let body = json!({
        "fund": "CHA-2026-MED-01",
        "beneficiary": format!("bnf_{:064x}", u128::from(i as u32) * 0x9e3779b97f4a7c15),
        "tier": "vulnerable",
        "cause": "illness",
        "amount": 30_000 + (i % 5_000) as i64,
        "method": "cash",
        "region": "321181",
        "date": "2026-02-01",
        "ref": format!("DSB-2026-{i:08}"),
    });
    SignedEntry::create(
        key,
        "CN-USCI-53440300MJ0000018R",
        ledger::domain::Kind::Disbursement,
        &format!("2026-11-21-{i:09}"),
        "2026-11-21T08:30:00Z",
        body,
    )
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let keys: Vec<SigningKey> = (1..=8u8)
        .map(|k| SigningKey::from_bytes(&[k; 32]))
        .collect();
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    println!(
        "ledger bench: {n} leaves, groups of {GROUP}, store in {}",
        dir.path().display()
    );

    // 1. Append. Signing stands in for clients: done first, not timed.
    let groups: Vec<Vec<SignedEntry>> = (0..n)
        .step_by(GROUP)
        .map(|first| {
            (first..n.min(first + GROUP as u64))
                .into_par_iter()
                .map(|i| entry(&keys, i))
                .collect()
        })
        .collect();
    let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    let mut bytes = 0usize;
    let start = Instant::now();
    // Two stages, as the node runs them: group N+1's leaves are built and
    // hashed on this thread while group N is written and fsynced.
    let mut tip = log.tip().clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<PreparedGroup>(1);
    std::thread::scope(|scope| {
        let log = &mut log;
        scope.spawn(move || {
            for group in rx {
                log.commit(&group).unwrap();
                log.install(group);
            }
        });
        for entries in groups {
            let (group, _) = tip.group_of(entries, SystemTime::now()).unwrap();
            tip = group.tip().clone();
            tx.send(group).unwrap();
        }
        drop(tx);
    });
    let append_time = start.elapsed();
    assert_eq!(log.size(), n);
    log.scan(0, &mut |_, b| {
        bytes += b.len();
        true
    })
    .unwrap();
    println!(
        "append: {:.0} leaves/s ({:.1} s for {n}; {:.0} groups/s; mean leaf {} bytes; one fsync per group)",
        n as f64 / append_time.as_secs_f64(),
        append_time.as_secs_f64(),
        n as f64 / GROUP as f64 / append_time.as_secs_f64(),
        bytes / n as usize
    );

    // 2. Inclusion proofs for random seqs in the tree of the full size.
    let size = log.size();
    let mut rng = fastrand::Rng::with_seed(1);
    let mut times = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let seq = rng.u64(..size);
        let start = Instant::now();
        let path = log.prove_inclusion(seq, size).unwrap();
        times.push(start.elapsed());
        std::hint::black_box(path);
    }
    times.sort();
    println!(
        "inclusion proof at size {size}: median {:.1} µs, p99 {:.1} µs",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6
    );

    // 3. Export (a range scan of leaf bytes), then verification of the
    // export as an auditor runs it on a downloaded file.
    let head = log.head().root;
    let start = Instant::now();
    let mut export = Vec::with_capacity(n as usize);
    log.scan(0, &mut |_, b| {
        export.push(b.to_vec());
        true
    })
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!("export scan: {:.0} leaves/s ({secs:.1} s)", n as f64 / secs);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let start = Instant::now();
        pool.install(|| {
            let mut verifier = ChainVerifier::new().with_threads(threads);
            for b in &export {
                verifier.push(b).unwrap();
            }
            verifier.finish(&head).unwrap();
        });
        let secs = start.elapsed().as_secs_f64();
        println!(
            "verify (signature + chain + root), {threads} thread(s): {:.0} entries/s ({secs:.1} s)",
            n as f64 / secs
        );
    }
}
