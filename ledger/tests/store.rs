//! One conformance suite that every backend passes: the in-memory one and
//! RocksDB on disk.

mod common;

use std::time::{Duration, SystemTime};

use ledger::entry::{EntryError, Leaf};
use ledger::merkle::{leaf_hash, Hash, MemTree, RootHash};
use ledger::store::{AppendError, Backend, HeadRecord, Log, MemBackend, RocksBackend, StoreError};
use ledger::verify::ChainVerifier;
use proptest::prelude::*;

/// A backend under test: how to make a fresh one and how to "reopen" it.
trait Subject {
    type B: Backend;
    fn fresh(&mut self) -> Self::B;
    fn reopen(&mut self, old: Log<Self::B>) -> Log<Self::B>;
}

struct Mem;
impl Subject for Mem {
    type B = MemBackend;
    fn fresh(&mut self) -> MemBackend {
        MemBackend::new()
    }
    fn reopen(&mut self, old: Log<MemBackend>) -> Log<MemBackend> {
        Log::open(old.backend().clone()).unwrap()
    }
}

struct Rocks(Vec<tempfile::TempDir>);
impl Subject for Rocks {
    type B = RocksBackend;
    fn fresh(&mut self) -> RocksBackend {
        let dir = tempfile::tempdir().unwrap();
        let b = RocksBackend::open(dir.path()).unwrap();
        self.0.push(dir);
        b
    }
    fn reopen(&mut self, old: Log<RocksBackend>) -> Log<RocksBackend> {
        drop(old);
        Log::open(RocksBackend::open(self.0.last().unwrap().path()).unwrap()).unwrap()
    }
}

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000 + secs)
}

/// Checks everything a log promises against an in-memory tree of its leaves.
fn check_log<B: Backend>(log: &Log<B>, expected: &[Hash]) {
    let mut tree = MemTree::new();
    expected.iter().for_each(|h| tree.push(*h));
    let size = expected.len() as u64;
    assert_eq!(log.size(), size);
    assert_eq!(log.head().root, tree.root());
    assert_eq!(
        log.head().last_leaf,
        expected.last().copied().unwrap_or(Hash::ZERO)
    );
    // Every leaf is stored as exactly the bytes that hash to its leaf hash,
    // and chains to the one before.
    let mut verifier = ChainVerifier::new();
    let mut seqs = Vec::new();
    log.scan(0, &mut |seq, bytes| {
        assert_eq!(leaf_hash(bytes), expected[seq as usize]);
        verifier.push(bytes).unwrap();
        seqs.push(seq);
        true
    })
    .unwrap();
    assert_eq!(seqs, (0..size).collect::<Vec<_>>());
    verifier.finish(&tree.root()).unwrap();
    assert_eq!(log.leaf(size).unwrap(), None);
    // Roots and proofs for past sizes come from the store's nodes.
    for s in (1..=size)
        .step_by(usize::max(1, size as usize / 13))
        .chain([size])
        .filter(|s| *s > 0)
    {
        let root = log.root_at(s).unwrap();
        assert_eq!(root, ledger::merkle::root_at(&tree, s).unwrap());
        for seq in [0, s / 2, s - 1] {
            let path = log.prove_inclusion(seq, s).unwrap();
            assert_eq!(
                root.verify_inclusion(&expected[seq as usize], seq, &path),
                Ok(())
            );
            assert_eq!(log.leaf_hash(seq).unwrap(), Some(expected[seq as usize]));
        }
        let path = log.prove_consistency(s, size).unwrap();
        assert_eq!(log.head().root.verify_consistency(&root, &path), Ok(()));
    }
    assert!(log.prove_inclusion(0, size + 1).is_err());
    assert!(log.prove_consistency(1, size + 1).is_err());
}

fn conformance<S: Subject>(mut subject: S) {
    let mut log = Log::open(subject.fresh()).unwrap();
    check_log(&log, &[]);
    assert_eq!(log.head(), HeadRecord::EMPTY);
    assert_eq!(log.head().root, RootHash::EMPTY);

    // Groups of different sizes; the clock goes backwards once.
    let mut hashes = Vec::new();
    let mut i = 0;
    for (group, at) in [(1, t(10)), (3, t(20)), (7, t(5)), (16, t(30))] {
        let entries: Vec<_> = (0..group)
            .map(|_| {
                i += 1;
                common::entry(1, i, 40)
            })
            .collect();
        let sequenced = log.append(entries.clone(), at).unwrap();
        for (s, e) in sequenced.iter().zip(&entries) {
            assert_eq!(s.seq, hashes.len() as u64);
            let leaf = Leaf::from_bytes(&log.leaf(s.seq).unwrap().unwrap()).unwrap();
            assert_eq!(&leaf.entry, e);
            assert_eq!(leaf.seq, s.seq);
            assert_eq!(leaf.logged_at, s.logged_at);
            hashes.push(s.leaf_hash);
        }
    }
    // logged_at never goes back: the group at t(5) took t(20)'s time.
    let leaf = Leaf::from_bytes(&log.leaf(5).unwrap().unwrap()).unwrap();
    assert_eq!(leaf.logged_at, ledger::entry::format_timestamp(t(20)));
    check_log(&log, &hashes);

    // A group with one oversize entry is refused whole; nothing changes.
    let head = log.head();
    let group = vec![common::entry(1, 900, 10), common::entry(1, 901, 70_000)];
    match log.append(group, t(40)) {
        Err(AppendError::Entry {
            index: 1,
            error: EntryError::TooLarge(_),
        }) => {}
        other => panic!("expected too_large for entry 1, got {other:?}"),
    }
    assert_eq!(log.head(), head);
    check_log(&log, &hashes);

    // Reopening restores size, root and proofs.
    let log = subject.reopen(log);
    assert_eq!(log.head(), head);
    check_log(&log, &hashes);
    let mut log = log;
    log.append(vec![common::entry(2, 1000, 0)], t(50)).unwrap();
    let leaf = Leaf::from_bytes(&log.leaf(27).unwrap().unwrap()).unwrap();
    assert_eq!(leaf.prev, hashes[26], "the chain continues across a reopen");
    hashes.push(leaf_hash(&log.leaf(27).unwrap().unwrap()));
    check_log(&log, &hashes);
    assert_eq!(log.leaves(25, 10).unwrap().len(), 3);
    assert_eq!(log.leaves(0, 4).unwrap().len(), 4);
}

#[test]
fn mem_backend_conforms() {
    conformance(Mem);
}

#[test]
fn rocks_backend_conforms() {
    conformance(Rocks(Vec::new()));
}

/// Appends `groups` to a log, records leaf hashes.
fn fill<S: Subject>(subject: &mut S, groups: &[usize]) -> (Log<S::B>, Vec<Hash>) {
    let mut log = Log::open(subject.fresh()).unwrap();
    let mut hashes = Vec::new();
    let mut i = 0u64;
    for (g, &n) in groups.iter().enumerate() {
        let entries = (0..n)
            .map(|_| {
                i += 1;
                common::entry(3, i, 0)
            })
            .collect();
        hashes.extend(
            log.append(entries, t(g as u64))
                .unwrap()
                .into_iter()
                .map(|s| s.leaf_hash),
        );
    }
    (log, hashes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_groups_then_reopen_match_memory(groups in proptest::collection::vec(1usize..40, 1..12)) {
        let mut rocks = Rocks(Vec::new());
        let (log, hashes) = fill(&mut rocks, &groups);
        let log = rocks.reopen(log);
        check_log(&log, &hashes);
        let (mem, mem_hashes) = fill(&mut Mem, &groups);
        prop_assert_eq!(mem.head(), log.head());
        prop_assert_eq!(mem_hashes, hashes);
    }
}

/// Opening a store whose contents contradict themselves fails; it does not serve.
#[test]
fn tampered_store_refuses_to_open() {
    use rocksdb::{Options, DB};
    type Tamper = fn(&DB);
    let cases: [(&str, Tamper); 4] = [
        ("last leaf rewritten", |db| {
            let cf = db.cf_handle("leaves").unwrap();
            let mut v = db.get_cf(cf, 9u64.to_be_bytes()).unwrap().unwrap();
            v[30] ^= 1;
            db.put_cf(cf, 9u64.to_be_bytes(), v).unwrap();
        }),
        ("leaf past the head", |db| {
            let cf = db.cf_handle("leaves").unwrap();
            db.put_cf(cf, 10u64.to_be_bytes(), b"{}").unwrap();
        }),
        ("root in head changed", |db| {
            let cf = db.cf_handle("meta").unwrap();
            let mut v = db.get_cf(cf, b"head").unwrap().unwrap();
            v[20] ^= 1;
            db.put_cf(cf, b"head", v).unwrap();
        }),
        ("a stored hash lost", |db| {
            let cf = db.cf_handle("hashes").unwrap();
            // The head alone (size 10) needs the hashes of the 8-leaf and
            // 2-leaf subtrees; remove the 8-leaf one.
            db.delete_cf(cf, tlog_tiles::stored_hash_index(3, 0).to_be_bytes())
                .unwrap();
        }),
    ];
    for (what, tamper) in cases {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
            let entries = (0..10).map(|i| common::entry(1, i, 0)).collect();
            log.append(entries, t(0)).unwrap();
        }
        {
            let mut opts = Options::default();
            opts.create_if_missing(false);
            let cfs = DB::list_cf(&opts, dir.path()).unwrap();
            let db = DB::open_cf(&opts, dir.path(), cfs).unwrap();
            tamper(&db);
        }
        match Log::open(RocksBackend::open(dir.path()).unwrap()) {
            Err(StoreError::Corrupt(msg)) => assert!(!msg.is_empty(), "{what}"),
            Err(other) => panic!("{what}: expected Corrupt, got {other}"),
            Ok(_) => panic!("{what}: a tampered store opened"),
        }
    }
}

/// A store whose derived state another build encoded (one from before
/// formats were recorded, or a later format) is refused at open; a new or
/// current one opens.
#[test]
fn a_store_of_another_state_format_is_refused() {
    use ledger::store::STATE_FORMAT;
    use rocksdb::{Options, DB};
    let set_format = |dir: &std::path::Path, format: Option<u32>| {
        let opts = Options::default();
        let cfs = DB::list_cf(&opts, dir).unwrap();
        let db = DB::open_cf(&opts, dir, cfs).unwrap();
        let cf = db.cf_handle("meta").unwrap();
        match format {
            Some(f) => db.put_cf(cf, b"state-format", f.to_be_bytes()).unwrap(),
            None => db.delete_cf(cf, b"state-format").unwrap(),
        }
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
        log.append(vec![common::entry(1, 0, 0)], t(0)).unwrap();
    }
    drop(RocksBackend::open(dir.path()).unwrap());
    for (format, found) in [(None, 1), (Some(STATE_FORMAT + 1), STATE_FORMAT + 1)] {
        set_format(dir.path(), format);
        match RocksBackend::open(dir.path()) {
            Err(StoreError::Format { found: f, wanted }) => {
                assert_eq!((f, wanted), (found, STATE_FORMAT));
            }
            Err(other) => panic!("expected Format, got {other}"),
            Ok(_) => panic!("a store of format {found} opened"),
        }
    }
    set_format(dir.path(), Some(STATE_FORMAT));
    assert_eq!(
        Log::open(RocksBackend::open(dir.path()).unwrap())
            .unwrap()
            .size(),
        1
    );
}

/// `reindex` rebuilds a store of an older state format from its leaves:
/// afterwards it opens, and its state is the one the rules give, byte for
/// byte (the year-of-aid scenario checks the same against a real ledger).
#[test]
fn reindex_rebuilds_the_state_from_the_leaves() {
    use ledger::sequencer::{dump, sequence_group};
    use rocksdb::{Options, DB};
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let mut log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/ledger.json")).unwrap();
        let entries = v["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| ledger::rules::check_submission_value(l["entry"].clone()).unwrap())
            .collect();
        sequence_group(&mut log, entries, t(0)).unwrap();
        dump(log.backend()).unwrap()
    };
    assert!(expected.len() > 10);
    {
        // An older build's store: no format recorded, a state record changed.
        let opts = Options::default();
        let cfs = DB::list_cf(&opts, dir.path()).unwrap();
        let db = DB::open_cf(&opts, dir.path(), cfs).unwrap();
        db.delete_cf(db.cf_handle("meta").unwrap(), b"state-format")
            .unwrap();
        let (_, key, _) = &expected[0];
        db.put_cf(db.cf_handle(expected[0].0.name()).unwrap(), key, b"old")
            .unwrap();
    }
    assert!(matches!(
        RocksBackend::open(dir.path()),
        Err(StoreError::Format { found: 1, .. })
    ));
    assert_eq!(ledger::sequencer::reindex(dir.path()).unwrap(), 5);
    let log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    assert_eq!(dump(log.backend()).unwrap(), expected);
}

/// A second process (here: a second open) cannot open the same store.
#[test]
fn a_store_is_opened_once() {
    let dir = tempfile::tempdir().unwrap();
    let _first = RocksBackend::open(dir.path()).unwrap();
    assert!(matches!(
        RocksBackend::open(dir.path()),
        Err(StoreError::Io(_))
    ));
}

/// A writer sharing the log with readers: after `commit` the group is
/// durable but readers still see the old head (no leaf, root or proof past
/// it); `install` moves the head. A group prepared at another size is refused.
#[test]
fn a_committed_group_is_invisible_until_installed() {
    let mut rocks = Rocks(Vec::new());
    let (mut log, mut hashes) = fill(&mut rocks, &[3, 4]);
    let old = log.head();
    let entries: Vec<_> = (0..5u64).map(|i| common::entry(3, 100 + i, 0)).collect();
    let chained = |entries: &[ledger::SignedEntry]| {
        let mut chain = log.tip().chain(t(9));
        let leaves: Vec<_> = entries
            .iter()
            .map(|e| {
                let statement = e.statement.canonical_bytes().unwrap();
                chain.push(&e.signature, &statement).unwrap()
            })
            .collect();
        (chain.finish(Vec::new()), leaves)
    };
    let (group, leaves) = chained(&entries);
    assert_eq!(leaves[0].seq, 7);
    assert_eq!(leaves[1].prev, leaves[0].leaf_hash);
    log.commit(&group).unwrap();
    assert_eq!(log.head(), old);
    assert_eq!(log.size(), 7);
    assert_eq!(log.leaf(7).unwrap(), None);
    assert!(log.root_at(12).is_err());
    assert!(log.prove_inclusion(7, 12).is_err());
    let (stale, _) = chained(&entries[..1]);
    log.install(group);
    assert_eq!(log.size(), 12);
    assert_eq!(log.leaf_hash(7).unwrap(), Some(leaves[0].leaf_hash));
    assert!(matches!(
        log.commit(&stale),
        Err(StoreError::Stale {
            prepared_at: 7,
            size: 12
        })
    ));
    hashes.extend(leaves.iter().map(|r| r.leaf_hash));
    let log = rocks.reopen(log);
    check_log(&log, &hashes);
}

/// Leaves from another copy of a log enter only as a verifier made them: a
/// restore's `VerifiedLeaves`, taken from a `ChainVerifier` resumed at this
/// log's tip, are appended and give the source's root; the same leaves
/// offered again (verified from the old tip) are refused as stale and
/// change nothing; a leaf changed between a mirror's two reads is refused
/// by `KnownLeaves::take`, and nothing is taken.
#[test]
fn leaves_from_another_copy_enter_only_as_verified() {
    let mut source = Log::open(MemBackend::new()).unwrap();
    let entries: Vec<_> = (0..12u64).map(|i| common::entry(3, i, 0)).collect();
    source.append(entries, t(1)).unwrap();
    let leaves: Vec<Vec<u8>> = (0..12).map(|s| source.leaf(s).unwrap().unwrap()).collect();

    // A copy holding the first 5, then the other 7 through the verifier.
    let mut copy = Log::open(MemBackend::new()).unwrap();
    let mut chain = ChainVerifier::new().keeping();
    for bytes in &leaves[..5] {
        chain.push(bytes).unwrap();
    }
    copy.append_verified(chain.take_verified().unwrap())
        .unwrap();
    let mut chain = ChainVerifier::resume(copy.position().unwrap()).keeping();
    for bytes in &leaves[5..] {
        chain.push(bytes).unwrap();
    }
    let rest = chain.take_verified().unwrap();
    assert_eq!((rest.first_seq(), rest.len()), (5, 7));
    copy.append_verified(rest).unwrap();
    assert_eq!(copy.head(), source.head());

    let mut again = ChainVerifier::new().keeping();
    for bytes in &leaves[..5] {
        again.push(bytes).unwrap();
    }
    assert!(matches!(
        copy.append_verified(again.take_verified().unwrap()),
        Err(StoreError::Stale {
            prepared_at: 0,
            size: 12
        })
    ));
    assert_eq!(copy.head(), source.head());

    // A mirror's two reads: the second must be the leaves the first verified.
    let mut first = ChainVerifier::new().remembering();
    for bytes in &leaves {
        first.push(bytes).unwrap();
    }
    let (_, mut known) = first.finish_known(&source.head().root).unwrap();
    let mut changed = leaves[3].clone();
    *changed.last_mut().unwrap() ^= 1;
    let second: Vec<&[u8]> = leaves[..3]
        .iter()
        .map(Vec::as_slice)
        .chain([changed.as_slice()])
        .collect();
    assert_eq!(known.take(second).unwrap_err(), 3);
    assert_eq!((known.next_seq(), known.remaining()), (0, 12));
    let taken = known.take(leaves[..4].iter().map(Vec::as_slice)).unwrap();
    assert_eq!((taken.first_seq(), taken.len()), (0, 4));
    assert_eq!(known.next_seq(), 4);
}
