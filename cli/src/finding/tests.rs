//! The findings, case by case.

use super::*;
use crate::explain::ZH;
use ledger::entry::PublicKey;

fn h(b: u8) -> Hash {
    Hash::new([b; 32])
}

/// Leaves read from position `from` on, saying the seqs `seqs`, each
/// linked to the one before it in this list.
fn ahead(seqs: &[u64]) -> Vec<Ahead> {
    seqs.iter()
        .enumerate()
        .map(|(i, s)| Ahead {
            seq: Some(*s),
            prev: Some(h(i as u8)),
            hash: h(i as u8 + 1),
        })
        .collect()
}

fn at(seq: u64, failure: Failure) -> VerifyError {
    VerifyError { seq, failure }
}

/// Classifies, then checks the finding and that both languages say it
/// with the seqs in `words` (and no key left unsaid).
fn check(fault: VerifyError, around: Around, expected: Finding, words: &[&str]) {
    let f = classify(&fault, &around);
    assert_eq!(f, expected);
    for locale in ["en", ZH] {
        let said = f.say_in(locale);
        assert!(
            !said.contains("%{") && !said.starts_with("finding."),
            "{said}"
        );
        for w in words {
            assert!(said.contains(w), "{locale}: {said} lacks {w}");
        }
    }
    let zh = f.say_in(ZH);
    assert!(
        !zh.contains(" the ") && !zh.contains(" is "),
        "English in Chinese: {zh}"
    );
}

#[test]
fn a_gap_a_swap_and_a_repeat_are_told_apart() {
    // Line 20 removed: position 20 holds seq 21, then 22.
    let gap = Around {
        ahead: ahead(&[21, 22, 23]),
        ..Around::default()
    };
    check(
        at(20, Failure::WrongSeq(21)),
        gap,
        Finding::Missing {
            first: 20,
            last: 20,
        },
        &["20"],
    );
    let gap3 = Around {
        ahead: ahead(&[23, 24]),
        ..Around::default()
    };
    check(
        at(20, Failure::WrongSeq(23)),
        gap3,
        Finding::Missing {
            first: 20,
            last: 22,
        },
        &["20", "22"],
    );
    // Lines 20 and 21 swapped.
    let swap = Around {
        ahead: ahead(&[21, 20, 22]),
        ..Around::default()
    };
    check(
        at(20, Failure::WrongSeq(21)),
        swap,
        Finding::Swapped { a: 20, b: 21 },
        &["20", "21"],
    );
    // 20 and 23 swapped.
    let far = Around {
        ahead: ahead(&[23, 21, 22, 20]),
        ..Around::default()
    };
    check(
        at(20, Failure::WrongSeq(23)),
        far,
        Finding::Swapped { a: 20, b: 23 },
        &["20", "23"],
    );
    // Seq 20 moved after 22.
    let moved = Around {
        ahead: ahead(&[21, 22, 20]),
        ..Around::default()
    };
    check(
        at(20, Failure::WrongSeq(21)),
        moved,
        Finding::OutOfPlace { at: 20, says: 21 },
        &["20", "21"],
    );
    // Line 20 repeated.
    let twice = Around {
        ahead: ahead(&[20, 21]),
        ..Around::default()
    };
    check(
        at(21, Failure::WrongSeq(20)),
        twice,
        Finding::Repeated { seq: 20, at: 21 },
        &["20", "21"],
    );
}

#[test]
fn a_changed_time_is_blamed_on_its_leaf_not_the_next() {
    // logged_at of seq 10 moved later: seq 11's prev no longer matches,
    // seq 12 still links to 11.
    let around = Around {
        ahead: ahead(&[11, 12]),
        previous_logged_at: Some("2026-11-21T09:00:00Z".into()),
        ..Around::default()
    };
    check(
        at(11, Failure::BrokenChain),
        around,
        Finding::TimeChanged {
            seq: 10,
            logged_at: Some("2026-11-21T09:00:00Z".into()),
        },
        &["10", "2026-11-21T09:00:00Z"],
    );
    // The last leaf's predecessor: nothing after to check, same blame.
    let last = Around {
        ahead: ahead(&[11]),
        ..Around::default()
    };
    assert_eq!(
        classify(&at(11, Failure::BrokenChain), &last),
        Finding::TimeChanged {
            seq: 10,
            logged_at: None
        }
    );
    // Seq 11's own prev changed: seq 12 does not link to 11 either.
    let mut relinked = ahead(&[11, 12]);
    relinked[1].prev = Some(h(99));
    check(
        at(11, Failure::BrokenChain),
        Around {
            ahead: relinked,
            ..Around::default()
        },
        Finding::LinkChanged { seq: 11 },
        &["11", "10"],
    );
    // Moved earlier: that leaf's own time goes back.
    check(
        at(10, Failure::Time("2020-01-01T00:00:00Z".into())),
        Around {
            previous_logged_at: Some("2026-11-21T08:30:01.000Z".into()),
            ..Around::default()
        },
        Finding::TimeBackwards {
            seq: 10,
            logged_at: "2020-01-01T00:00:00Z".into(),
            previous: Some("2026-11-21T08:30:01.000Z".into()),
        },
        &["10", "9", "2020-01-01T00:00:00Z"],
    );
}

#[test]
fn a_cut_file_says_where_it_ends() {
    let root = |found_size, expected_size| {
        at(
            found_size,
            Failure::Root {
                found: h(1),
                found_size,
                expected: h(2),
                expected_size,
            },
        )
    };
    check(
        root(12, 20),
        Around::default(),
        Finding::CutAfter {
            count: 12,
            size: 20,
        },
        &["11", "12", "19", "20"],
    );
    check(
        root(0, 20),
        Around::default(),
        Finding::CutAfter { count: 0, size: 20 },
        &["20"],
    );
    check(
        root(21, 20),
        Around::default(),
        Finding::TooLong {
            count: 21,
            size: 20,
        },
        &["21", "20"],
    );
    check(
        root(20, 20),
        Around::default(),
        Finding::OtherRoot { size: 20 },
        &["19"],
    );
    let leaf = ledger::entry::Leaf::parse(b"{\"seq\":1").unwrap_err();
    check(
        at(7, Failure::Leaf(leaf)),
        Around {
            cut_inside: true,
            ..Around::default()
        },
        Finding::CutInside { seq: 7 },
        &["7"],
    );
}

#[test]
fn a_bad_signature_names_its_key_and_signer() {
    check(
        at(5, Failure::Signature(PublicKey([0xab; 32]))),
        Around {
            issuer: Some("CN-USCI-X".into()),
            ..Around::default()
        },
        Finding::BadSignature {
            seq: 5,
            key: "ab".repeat(32),
            issuer: Some("CN-USCI-X".into()),
        },
        &["5", "abababab", "CN-USCI-X"],
    );
}

#[test]
fn every_finding_is_said_in_both_languages() {
    let all = [
        Finding::Genesis {
            found: h(1),
            pinned: h(2),
        },
        Finding::StateGenesis {
            was: h(1),
            pinned: h(2),
        },
        Finding::Refused {
            seq: 3,
            code: ledger::code::Code::RuleViolation,
            message: "no fund \"F\"".into(),
        },
        Finding::Shrank { from: 8, to: 4 },
        Finding::Rewritten { size: 8 },
        Finding::Inconsistent { from: 8, to: 9 },
        Finding::WitnessSawOther {
            witness: "w1".into(),
            size: 8,
        },
        Finding::NoQuorum {
            size: 8,
            why: "witness w2 missing".into(),
        },
        Finding::TooOld { age: 90, max: 60 },
        Finding::CheckpointUnsigned,
        Finding::ReceiptCheckpoint { seq: 1 },
        Finding::ReceiptNotIncluded { seq: 1, size: 4 },
        Finding::ReceiptLeafChanged { seq: 1 },
        Finding::ReceiptLeafMalformed { seq: 1 },
        Finding::ReceiptLeafMismatch { seq: 1 },
        Finding::ReceiptSignature { seq: 1 },
        Finding::NotAnEntry,
        Finding::ReceiptNoLeaf { seq: 1 },
        Finding::OtherEntry { seq: 1 },
        Finding::BadLeaf {
            seq: 1,
            why: "not canonical".into(),
        },
    ];
    for f in all {
        let en = f.say_in("en");
        let zh = f.say_in(ZH);
        assert!(!en.starts_with("finding.") && !en.contains("%{"), "{en}");
        assert!(!zh.starts_with("finding.") && !zh.contains("%{"), "{zh}");
        assert_ne!(en, zh);
        assert!(
            !zh.contains("not ") && !zh.contains(" the "),
            "English in Chinese: {zh}"
        );
    }
    assert!(Finding::Shrank { from: 8, to: 4 }.is_fork());
    assert!(!Finding::OtherRoot { size: 4 }.is_fork());
}
