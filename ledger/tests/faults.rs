//! Storage that fails: a commit that does not happen inside the running
//! writer, state and leaf reads that error. Nothing of a failed group is
//! in the log or taken for part of it, the groups after it chain onto what
//! the log holds, and a failed read is reported as I/O, not as a refusal or
//! a corrupt log.

mod common;

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use common::{fund_open, signed, World, CHARITY};
use ledger::rules::{check_submission, CheckedEntry};
use ledger::sequencer::rebuild_state;
use ledger::sequencer::{dump, replay, sequence_group, write_pipelined, Outcome, WriteError};
use ledger::store::{Faults, Faulty, MemBackend, StoreError};
use ledger::ChainVerifier;
use serde_json::json;

fn faulty_world() -> (World<Faulty<MemBackend>>, Arc<Faults>) {
    let faults = Faults::none();
    let mut w = World::on(Faulty::new(MemBackend::new(), faults.clone()));
    w.ok(2, CHARITY, "fund.open", fund_open("F", "medical", 0));
    (w, faults)
}

/// A receipt of 100 into fund F with nonce `nonce`.
fn receive(nonce: &str) -> CheckedEntry {
    check_submission(&signed(
        2,
        CHARITY,
        "fund.receive",
        nonce,
        json!({"fund": "F", "amount": 100, "from": "捐赠", "date": "2026-03-01"}),
    ))
    .unwrap()
}

/// Five groups through the writer, the second one's commit failing. The
/// groups decided on top of it fail with it (or, decided after the failure
/// was seen, start again from the log and commit); the last one commits.
/// The log then holds exactly the committed groups' entries, chained and
/// replaying to the same state, and the failed groups' entries, submitted
/// again (the last group resubmits the failed one's), are sequenced anew:
/// none is answered as a resubmission of an entry that is not in the log.
#[test]
fn a_failed_commit_fails_its_group_and_the_writer_goes_on_from_the_log() {
    let (w, faults) = faulty_world();
    let start = w.log.size();
    let commits_before = faults.commits();
    let mut groups: Vec<Vec<CheckedEntry>> = (0..5)
        .map(|g| (0..3).map(|i| receive(&format!("g{g}-{i}"))).collect())
        .collect();
    // The last group resubmits the failing one's entries: they must be
    // sequenced, not answered from the failed group's pending writes.
    groups[4] = groups[1].clone();
    faults.fail_commit_after(1);
    let log = RwLock::new(w.log);
    let mut feed = groups.clone().into_iter().enumerate();
    let mut answers = Vec::new();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    write_pipelined(
        &log,
        || feed.next().map(|(g, entries)| (entries, t, g)),
        |head| head.root.size,
        |g, result| answers.push((g, result)),
    );
    let log = log.into_inner().unwrap();
    assert_eq!(
        answers.iter().map(|(g, _)| *g).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(matches!(
        answers[1].1,
        Err(WriteError::Commit(StoreError::Io(_)))
    ));
    assert!(answers[0].1.is_ok() && answers[4].1.is_ok());
    // Each committed group's entries follow the log as it stood; each
    // failed group's are nowhere.
    let mut next_seq = start;
    let mut failed = Vec::new();
    for (g, result) in &answers {
        match result {
            Ok((outcomes, size)) => {
                for outcome in outcomes {
                    match outcome {
                        Ok(Outcome::Sequenced(s)) => {
                            assert_eq!(s.seq, next_seq, "group {g}");
                            assert_eq!(log.leaf_hash(s.seq).unwrap(), Some(s.leaf_hash));
                            next_seq += 1;
                        }
                        other => panic!("group {g}: {other:?}"),
                    }
                }
                assert_eq!(*size, next_seq, "group {g}: the head after it");
            }
            Err(WriteError::Commit(_)) => failed.push(*g),
            Err(WriteError::AfterFailure) => {
                assert!(*g == 2 || *g == 3, "group {g} was decided after the reset");
                failed.push(*g);
            }
            Err(e) => panic!("group {g}: {e}"),
        }
    }
    assert_eq!(log.size(), next_seq);
    let committed = 5 - failed.len() as u64;
    assert_eq!(faults.commits() - commits_before, committed);
    // The chain verifies and the derived state is what the leaves give.
    let mut verifier = ChainVerifier::new();
    for seq in 0..log.size() {
        verifier.push(&log.leaf(seq).unwrap().unwrap()).unwrap();
    }
    assert_eq!(
        dump(log.backend()).unwrap(),
        dump(&replay(&log).unwrap()).unwrap()
    );
    // The other failed groups' entries were never in the log either.
    let mut log = log;
    for g in failed.into_iter().filter(|g| *g != 1) {
        let results = sequence_group(&mut log, groups[g].clone(), t).unwrap();
        for r in results {
            assert!(matches!(r, Ok(Outcome::Sequenced(_))), "group {g}: {r:?}");
        }
    }
}

/// A state read that fails while a group is decided fails the group with
/// a state error (not a refusal of its entries) and writes nothing; once
/// reads work again the same entries are sequenced.
#[test]
fn a_failed_state_read_fails_the_group_and_writes_nothing() {
    let (mut w, faults) = faulty_world();
    let before = w.log.head();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    faults.fail_reads(true);
    let got = sequence_group(&mut w.log, vec![receive("r1")], t);
    assert!(matches!(got, Err(WriteError::State(_))), "{got:?}");
    faults.fail_reads(false);
    assert_eq!(w.log.head(), before);
    let results = sequence_group(&mut w.log, vec![receive("r1")], t).unwrap();
    assert!(matches!(results[0], Ok(Outcome::Sequenced(_))));
}

/// Rebuilding derived state (what `aidledger-node reindex` does) reports a
/// leaf read that fails as I/O, and a leaf the rules refuse as a corrupt
/// log.
#[test]
fn a_rebuild_tells_io_from_corruption() {
    let (w, faults) = faulty_world();
    assert_eq!(
        dump(&rebuild_state(&w.log).unwrap()).unwrap(),
        dump(w.log.backend()).unwrap()
    );
    faults.fail_reads(true);
    assert!(matches!(rebuild_state(&w.log), Err(StoreError::Io(_))));
    faults.fail_reads(false);
    // A leaf sequenced around the rules: the fund opened a second time.
    let mut log = w.log;
    let again = check_submission(&signed(
        2,
        CHARITY,
        "fund.open",
        "again",
        fund_open("F", "medical", 0),
    ))
    .unwrap();
    log.append(vec![again.into_entry()], SystemTime::now())
        .unwrap();
    assert!(matches!(rebuild_state(&log), Err(StoreError::Corrupt(_))));
}
