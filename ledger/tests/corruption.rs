//! Corruption (issue 19): one byte flipped at random in a file of a closed
//! RocksDB store (its SST and blob files, the WAL, the MANIFEST), then the
//! store opened and read as the node would serve it. Each flip must be
//! caught (the open fails, a read fails, or the leaves and tree no longer
//! verify against the checkpoint the node signed before) or be harmless
//! (every leaf and the root still exactly as before); a flip that changes
//! what is served and passes every check fails the test.
//!
//! `CORRUPTION_FLIPS` sets the number of flips (default 80; the long form
//! is 1,000), `CORRUPTION_SEED` repeats a run. The tally of where flips
//! were caught is printed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ledger::merkle::{leaf_hash, Frontier, RootHash};
use ledger::store::{Log, RocksBackend};
use ledger::verify::ChainVerifier;

/// Entries in the store: the first part flushed to SST and blob files,
/// the rest only in the WAL, as a running node's store is.
const ENTRIES: u64 = 3_000;
const FLUSHED: u64 = 2_000;

/// A store left as a node killed after its last acknowledged write leaves
/// it (the last thousand entries only in the WAL), or closed cleanly
/// (everything flushed: the WAL obsolete).
/// When `killed`, the store is handed back still open, as a killed process
/// left it: the caller holds it until it is done with the files and drops
/// it before removing the directory (a store left open for good would go
/// on writing there after the test removed it).
fn build(dir: &Path, killed: bool) -> (Vec<Vec<u8>>, RootHash, Option<Log<RocksBackend>>) {
    let mut log = Log::open(RocksBackend::open(dir).unwrap()).unwrap();
    while log.size() < ENTRIES {
        let size = log.size();
        let entries = (0..100).map(|i| common::entry(4, size + i, 150)).collect();
        log.append(entries, SystemTime::now()).unwrap();
        if log.size() == FLUSHED {
            log.backend().flush().unwrap();
        }
    }
    let leaves = log.leaves(0, ENTRIES as usize).unwrap();
    let root = log.root_at(log.size()).unwrap();
    // Killed: no close, no flush while the files are read: what a SIGKILL
    // leaves (every write was already synced to the WAL).
    let held = killed.then_some(log);
    (leaves, root, held)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The kind of RocksDB file, from its name.
fn kind(path: &Path) -> &'static str {
    let name = path.file_name().unwrap().to_str().unwrap();
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("sst") => "SST",
        Some("blob") => "blob",
        Some("log") => "WAL",
        _ if name.starts_with("MANIFEST") => "MANIFEST",
        _ => "other",
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Longest a store's open may take before the flip counts as a hang.
const OPEN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The store in `dir` opened on a thread of its own: a flip that makes the
/// open hang fails the test, naming the flip and the seed, instead of
/// hanging it.
fn open_within(dir: &Path) -> Result<Result<Log<RocksBackend>, ledger::store::StoreError>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(RocksBackend::open(&dir).and_then(Log::open));
    });
    rx.recv_timeout(OPEN_LIMIT)
        .map_err(|_| format!("the open did not return within {OPEN_LIMIT:?}"))
}

/// Where a corrupted store was caught, or that it serves what it did.
fn outcome(dir: &Path, leaves: &[Vec<u8>], root: &RootHash) -> Result<&'static str, String> {
    let log = match open_within(dir)? {
        Ok(log) => log,
        Err(e) if e.to_string().contains("Corruption") => return Ok("open: RocksDB checksum"),
        Err(e) if e.to_string().contains("recycles none") => return Ok("open: log check"),
        Err(_) => return Ok("open: refused"),
    };
    let mut served = Vec::new();
    if log
        .scan(0, &mut |_, bytes| {
            served.push(bytes.to_vec());
            true
        })
        .is_err()
    {
        return Ok("read: RocksDB checksum");
    }
    // What an auditor does with what is served: every leaf through the
    // chain verifier, the root against the checkpoint signed before.
    let mut chain = ChainVerifier::new();
    let mut frontier = Frontier::new();
    for bytes in &served {
        if chain.push(bytes).is_err() {
            return Ok("verify: a leaf");
        }
        frontier.push(leaf_hash(bytes));
    }
    if chain.flush().is_err() {
        return Ok("verify: a signature");
    }
    let served_root = match log.root_at(log.size()) {
        Ok(r) => r,
        Err(_) => return Ok("read: tree"),
    };
    if served_root != frontier.root() {
        return Ok("verify: the tree");
    }
    if served.len() < leaves.len() {
        // A shorter log whose own tree is consistent: a rollback, which
        // clients holding the earlier checkpoint refuse, but the node
        // must not serve it as if nothing happened.
        return Err(format!(
            "served {} of {} leaves as a valid log",
            served.len(),
            leaves.len()
        ));
    }
    if served == leaves && served_root == *root {
        return Ok("harmless");
    }
    Err("served changed leaves or tree that verify".into())
}

#[test]
fn flipped_bytes_in_the_store_are_caught_or_harmless() {
    let flips: usize = testkit::env_number("CORRUPTION_FLIPS", 80);
    let seed = testkit::seed("CORRUPTION_SEED");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tally: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    let mut served_bad = Vec::new();
    for (state, killed) in [("killed", true), ("closed", false)] {
        let pristine = tempfile::tempdir().unwrap();
        let (leaves, root, _held) = build(pristine.path(), killed);
        assert_eq!(
            killed,
            files(pristine.path())
                .iter()
                .any(|f| kind(f) == "WAL" && std::fs::metadata(f).unwrap().len() > 0),
            "a WAL is left when killed"
        );
        flip_all(
            &mut rng,
            flips / 2,
            pristine.path(),
            &leaves,
            &root,
            &mut |kind, caught| *tally.entry((state, kind, caught)).or_default() += 1,
            &mut served_bad,
        );
    }
    for ((state, k, caught), n) in &tally {
        println!("{state}: {k:>8}: {caught}: {n}");
    }
    assert!(
        served_bad.is_empty(),
        "seed {seed}: {} of {flips} flips served as valid:\n{}",
        served_bad.len(),
        served_bad.join("\n")
    );
}

/// `flips` single-byte flips, each in a fresh copy of `pristine`, spread
/// over the kinds of file.
fn flip_all(
    rng: &mut fastrand::Rng,
    flips: usize,
    pristine: &Path,
    leaves: &[Vec<u8>],
    root: &RootHash,
    caught: &mut dyn FnMut(&'static str, &'static str),
    served_bad: &mut Vec<String>,
) {
    let targets: BTreeMap<&str, Vec<PathBuf>> =
        files(pristine)
            .into_iter()
            .fold(BTreeMap::new(), |mut m, f| {
                let k = kind(&f);
                if k != "other" && std::fs::metadata(&f).unwrap().len() > 0 {
                    m.entry(k).or_insert_with(Vec::new).push(f);
                }
                m
            });
    // A cleanly closed store has no WAL left to damage.
    for k in ["SST", "blob", "MANIFEST"] {
        assert!(targets.contains_key(k), "no {k} file in {targets:?}");
    }
    let kinds: Vec<&str> = targets.keys().copied().collect();
    for flip in 0..flips {
        let work = tempfile::tempdir().unwrap();
        copy_dir(pristine, work.path());
        let k = kinds[flip % kinds.len()];
        let original = &targets[k][rng.usize(..targets[k].len())];
        let file = work.path().join(original.strip_prefix(pristine).unwrap());
        let mut bytes = std::fs::read(&file).unwrap();
        let at = rng.usize(..bytes.len());
        bytes[at] ^= rng.u8(1..);
        std::fs::write(&file, &bytes).unwrap();
        match outcome(work.path(), leaves, root) {
            Ok(how) => caught(k, how),
            Err(e) => served_bad.push(format!("{k} {} byte {at}: {e}", file.display())),
        }
    }
}

/// The header RocksDB's reader parses after a file's first record: right
/// after it in the first block, or at the start of the second block.
fn second_header(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 32 * 1024;
    let after_first = 7 + usize::from(u16::from_le_bytes([*bytes.get(4)?, *bytes.get(5)?]));
    if after_first + 7 <= bytes.len().min(BLOCK) {
        Some(after_first)
    } else {
        (bytes.len() >= BLOCK + 7).then_some(BLOCK)
    }
}

/// A header of the MANIFEST or the WAL with a recycled log's record type
/// (one flip did this to a MANIFEST, and RocksDB's reader read that header
/// again and again: the open never returned). The open returns, refusing
/// the store and naming the file.
#[test]
fn a_recycled_record_type_in_a_log_is_refused_not_read_forever() {
    let mut tried = BTreeMap::new();
    for killed in [false, true] {
        let pristine = tempfile::tempdir().unwrap();
        let _held = build(pristine.path(), killed);
        for file in files(pristine.path()) {
            let k = kind(&file);
            let bytes = std::fs::read(&file).unwrap();
            let Some(at) = second_header(&bytes).filter(|_| matches!(k, "MANIFEST" | "WAL")) else {
                continue;
            };
            for recycled in [5u8, 6, 7, 8, 11, 131] {
                let work = tempfile::tempdir().unwrap();
                copy_dir(pristine.path(), work.path());
                let mut damaged = bytes.clone();
                damaged[at + 6] = recycled;
                let target = work
                    .path()
                    .join(file.strip_prefix(pristine.path()).unwrap());
                std::fs::write(&target, &damaged).unwrap();
                let opened = open_within(work.path())
                    .unwrap_or_else(|e| panic!("{k} type {recycled} at byte {at}: {e}"));
                let refusal = opened.map(drop).expect_err("a damaged log is refused");
                let refusal = refusal.to_string();
                let name = file.file_name().unwrap().to_str().unwrap();
                assert!(refusal.contains(name), "{k} type {recycled}: {refusal}");
                *tried.entry(k).or_insert(0) += 1;
            }
        }
    }
    // A WAL whose first record has a recycled type reads as a recycled log
    // (older builds recycled WAL files): left to RocksDB, whose open returns.
    let pristine = tempfile::tempdir().unwrap();
    let (leaves, root, _held) = build(pristine.path(), true);
    for wal in files(pristine.path())
        .into_iter()
        .filter(|f| kind(f) == "WAL")
    {
        let mut bytes = std::fs::read(&wal).unwrap();
        if bytes.len() < 7 {
            continue;
        }
        let work = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), work.path());
        bytes[6] = 5;
        std::fs::write(work.path().join(wal.file_name().unwrap()), &bytes).unwrap();
        let caught = outcome(work.path(), &leaves, &root).expect("caught, not served");
        *tried.entry(caught).or_insert(0) += 1;
    }
    println!("{tried:?}");
    assert!(
        tried.contains_key("MANIFEST") && tried.contains_key("WAL"),
        "{tried:?}"
    );
}
