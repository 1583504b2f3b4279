//! Node benchmarks (issue 4), client and server on this machine over
//! loopback, keep-alive connections:
//!
//! 1. node start (store open + checks + sequencer) on a store of ENTRIES;
//! 2. random inclusion proofs at a paced 2,000 requests/s: p50/p99;
//! 3. durable appends with single-entry requests on 64 connections;
//! 4. durable appends with 1,000-entry batches on 4 connections.
//!
//! `cargo bench -p node --bench http [-- ENTRIES]` (default 1,000,000; the
//! store is filled in-process through the rules first, which takes a while).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::checkpoint::CheckpointSigner;
use ledger::entry::SignedEntry;
use ledger::sequencer::sequence_group;
use ledger::store::{Log, RocksBackend};
use rayon::prelude::*;
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BUREAU: &str = "CN-USCI-11320000MB0000019A";
const CHARITY: &str = "CN-USCI-53440300MJ0000018R";

fn sign(
    key: &SigningKey,
    issuer: &str,
    kind: &str,
    nonce: String,
    body: serde_json::Value,
) -> SignedEntry {
    SignedEntry::create(
        key,
        issuer,
        kind.parse().expect("a kind"),
        &nonce,
        "2026-11-21T08:30:00Z",
        body,
    )
    .unwrap()
}

/// What the batch client reads of an array's answer (the rest of each
/// receipt is skipped, not built as a `Value`: the client shares the two
/// cores with the node).
#[derive(serde::Deserialize)]
struct Answers {
    results: Vec<Answered>,
}

#[derive(serde::Deserialize)]
struct Answered {
    seq: Option<u64>,
}

fn award(key: &SigningKey, i: u64) -> SignedEntry {
    sign(
        key,
        CHARITY,
        "credit.award",
        format!("a-{i}"),
        json!({"holder": format!("vol_{:064x}", i % 10_000), "points": 1, "reason": "志愿服务"}),
    )
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(s),
            addr,
        }
    }
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        // Head and body in one write, as HTTP clients do: two writes on a
        // no-delay socket are two segments and two reads for the server.
        let mut request = Vec::with_capacity(160 + body.len());
        write!(request, "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", self.addr, body.len()).unwrap();
        request.extend_from_slice(body);
        self.reader.get_mut().write_all(&request).unwrap();
        let mut status = String::new();
        self.reader.read_line(&mut status).unwrap();
        let code = status.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut out = vec![0; len];
        self.reader.read_exact(&mut out).unwrap();
        (code, out)
    }
}

/// Random inclusion proofs for trees of `size`, paced at 2,000 requests/s
/// over 8 connections, `per_client` each: the latency of every request.
fn paced_proofs(addr: SocketAddr, size: u64, per_client: u64) -> Vec<Duration> {
    let clients = 8u64;
    let interval = Duration::from_micros(1_000_000 * clients / 2_000);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                scope.spawn(move || {
                    let mut conn = Conn::new(addr);
                    let mut rng = fastrand::Rng::with_seed(c);
                    let start = Instant::now();
                    (0..per_client)
                        .map(|k| {
                            std::thread::sleep(
                                (start + interval * k as u32)
                                    .saturating_duration_since(Instant::now()),
                            );
                            let seq = rng.u64(..size);
                            let t = Instant::now();
                            let (status, _) = conn.request(
                                "GET",
                                &format!("/v1/proof/inclusion?seq={seq}&size={size}"),
                                b"",
                            );
                            assert_eq!(status, 200);
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let registrar = SigningKey::from_bytes(&[1; 32]);
    let charity = SigningKey::from_bytes(&[2; 32]);
    let hex = |k: &SigningKey| hex::encode(k.verifying_key().to_bytes());

    // Fill the store through the rules (not timed).
    {
        let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
        let setup = vec![
            sign(
                &registrar,
                BUREAU,
                "org.register",
                "g".into(),
                json!({"org": {"id": BUREAU, "name": "民政厅", "type": "government", "region": "320000"},
                "keys": [{"key": hex(&registrar), "roles": ["registrar", "admin"]}]}),
            ),
            sign(
                &registrar,
                BUREAU,
                "org.register",
                "r".into(),
                json!({"org": {"id": CHARITY, "name": "慈善会", "type": "charity", "region": "321181"},
                "keys": [{"key": hex(&charity), "roles": ["credit"]}]}),
            ),
        ];
        sequence_group(&mut log, checked(setup), SystemTime::now()).unwrap();
        let mut i = 0;
        while log.size() < n {
            let count = 1_000.min(n - log.size());
            let group: Vec<SignedEntry> = (i..i + count)
                .into_par_iter()
                .map(|j| award(&charity, j))
                .collect();
            sequence_group(&mut log, checked(group), SystemTime::now()).unwrap();
            i += count;
        }
    }

    // 1. Start: open with its checks, start the sequencer.
    let started = Instant::now();
    let log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    let size = log.size();
    let signer =
        CheckpointSigner::new("bench.example/aid", SigningKey::from_bytes(&[3; 32])).unwrap();
    let (node, sequencer) = node::Node::start(log, signer);
    println!(
        "node bench: store of {size} entries; node start {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = node::serve::limits(node::serve::raise_file_limit()).unwrap();
    runtime.spawn(async move {
        node::serve::serve(listener, node::app(node), limits, std::future::pending())
            .await
            .unwrap()
    });

    // 2. Random inclusion proofs, paced at 2,000 requests/s for 10 s.
    let times = paced_proofs(addr, size, 2_500);
    let mut sorted = times;
    sorted.sort();
    println!(
        "inclusion proofs at 2,000 req/s on {size} entries: p50 {:.2} ms, p99 {:.2} ms",
        pct(&sorted, 0.5),
        pct(&sorted, 0.99)
    );

    // 3. Single-entry appends on 64 connections.
    let per = 300u64;
    let bodies: Vec<Vec<u8>> = (0..64 * per)
        .into_par_iter()
        .map(|j| serde_json::to_vec(&award(&charity, 10_000_000 + j)).unwrap())
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(64)
        .build()
        .unwrap();
    let t = Instant::now();
    let ok: u64 = pool.install(|| {
        bodies
            .par_chunks(per as usize)
            .map(|chunk| {
                let mut conn = Conn::new(addr);
                chunk
                    .iter()
                    .filter(|b| conn.request("POST", "/v1/entries", b).0 == 201)
                    .count() as u64
            })
            .sum()
    });
    let secs = t.elapsed().as_secs_f64();
    println!("durable appends, single-entry requests, 64 connections: {:.0} entries/s ({ok} of {} acknowledged)", ok as f64 / secs, 64 * per);

    // 4. 1,000-entry batches on 4 connections.
    let batches: Vec<Vec<u8>> = (0..40u64)
        .into_par_iter()
        .map(|b| {
            let entries: Vec<SignedEntry> = (0..1_000)
                .map(|j| award(&charity, 20_000_000 + b * 1_000 + j))
                .collect();
            serde_json::to_vec(&entries).unwrap()
        })
        .collect();
    let t = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let ok: usize = pool.install(|| {
        batches
            .par_chunks(10)
            .map(|chunk| {
                let mut conn = Conn::new(addr);
                chunk
                    .iter()
                    .map(|b| {
                        let (status, body) = conn.request("POST", "/v1/entries", b);
                        assert_eq!(status, 200);
                        let answers: Answers = serde_json::from_slice(&body).unwrap();
                        answers.results.iter().filter(|r| r.seq.is_some()).count()
                    })
                    .sum::<usize>()
            })
            .sum()
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "durable appends, 1,000-entry batches, 4 connections: {:.0} entries/s ({ok} acknowledged)",
        ok as f64 / secs
    );

    // 5. The paced proofs again, now while 1,000-entry batches are appended:
    // reads wait for no commit (the sequencer holds the log's write lock
    // only to move the head).
    let batches: Vec<Vec<u8>> = (0..30u64)
        .into_par_iter()
        .map(|b| {
            let entries: Vec<SignedEntry> = (0..1_000)
                .map(|j| award(&charity, 30_000_000 + b * 1_000 + j))
                .collect();
            serde_json::to_vec(&entries).unwrap()
        })
        .collect();
    let (mut times, written) = std::thread::scope(|scope| {
        let readers = scope.spawn(|| paced_proofs(addr, size, 500));
        let mut conn = Conn::new(addr);
        let t = Instant::now();
        for b in &batches {
            assert_eq!(conn.request("POST", "/v1/entries", b).0, 200);
        }
        let written = 30_000.0 / t.elapsed().as_secs_f64();
        (readers.join().unwrap(), written)
    });
    times.sort();
    println!(
        "inclusion proofs at 2,000 req/s during batch appends ({written:.0} entries/s): p50 {:.2} ms, p99 {:.2} ms",
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
    // Stop serving, let the sequencer close the store, then remove it.
    drop(runtime);
    sequencer.join().unwrap();
    drop(dir);
}

/// `entries` through the checks the node makes before the rules: the only
/// way into the writer.
fn checked(entries: Vec<SignedEntry>) -> Vec<ledger::rules::CheckedEntry> {
    let values = entries
        .iter()
        .map(|e| serde_json::to_value(e).expect("an entry is JSON"))
        .collect();
    ledger::rules::check_submissions(values)
        .into_iter()
        .map(|c| c.expect("a bench entry passes the checks"))
        .collect()
}
