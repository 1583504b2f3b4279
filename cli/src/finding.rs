//! What an audit found wrong, said in words: an entry missing, two swapped,
//! one repeated, a time changed, the file cut, a bad signature, another
//! genesis, a fork or rollback, a receipt that does not hold. Pure: the
//! auditor ([`crate::audit`]) hands over what it already knows (the
//! chain's fault, the leaves just after it, the previous leaf's time) and
//! gets back one [`Finding`], said in either language. No I/O here, so
//! every classification is unit-tested.
//!
//! The chain checks a leaf in a fixed order (its seq, its link `prev` to
//! the leaf before, its time, its signature), so the first fault tells
//! what was done:
//! - a leaf at position `p` saying seq `s > p`: seqs `p..s` are missing,
//!   unless seq `p` turns up just after (then `p` and `s` were swapped);
//! - a leaf saying seq `s < p`: seq `s` is there twice;
//! - a leaf at `p` whose `prev` is not the hash of leaf `p - 1`, while the
//!   leaf after `p` still links to `p`: leaf `p - 1` was changed after it
//!   was logged, and since its signature verified and the rules accepted
//!   it, what changed is the part nobody signs but the node: its time
//!   (`logged_at`). Leaf `p - 1` is blamed, not `p`;
//! - a time earlier than the one before (or unreadable): that leaf's time
//!   was changed;
//! - whole leaves but fewer than the checkpoint's size: the file was cut.

use ledger::merkle::Hash;
use ledger::verify::{Failure, VerifyError};

use crate::explain::lookup;
use crate::receipt::ReceiptError;

/// One leaf read after a fault, parsed only as far as it can be: enough to
/// tell a swap from a gap, and whether the chain goes on after a changed leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ahead {
    /// The seq the leaf says, if it says one.
    pub seq: Option<u64>,
    /// Its `prev`, if readable.
    pub prev: Option<Hash>,
    /// Its leaf hash.
    pub hash: Hash,
}

/// What the auditor knows around a chain fault.
#[derive(Debug, Clone, Default)]
pub struct Around {
    /// The leaf at the faulty position, then the ones after it (as many as
    /// were read; none past the end).
    pub ahead: Vec<Ahead>,
    /// `logged_at` of the leaf before the faulty position.
    pub previous_logged_at: Option<String>,
    /// The faulty leaf is the last of a file that does not end in a newline:
    /// the file was cut inside it.
    pub cut_inside: bool,
    /// Who signed with the key of a bad signature (its statement's issuer).
    pub issuer: Option<String>,
}

/// What is wrong, in terms a reader can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Seqs `first..=last` are not there: the leaf after `first - 1` is `last + 1`.
    Missing {
        /// First missing seq.
        first: u64,
        /// Last missing seq.
        last: u64,
    },
    /// Seq `a` stands where `b` should, and `b` where `a` should.
    Swapped {
        /// The lower seq.
        a: u64,
        /// The higher seq.
        b: u64,
    },
    /// Seq `seq` appears again where seq `at` should be.
    Repeated {
        /// The seq that appears twice.
        seq: u64,
        /// Where its second copy stands.
        at: u64,
    },
    /// A leaf saying seq `says` stands where seq `at` should, and neither
    /// a gap nor a swap explains it.
    OutOfPlace {
        /// The position.
        at: u64,
        /// What the leaf there says.
        says: u64,
    },
    /// The time (`logged_at`) of `seq` was changed after it was logged: the
    /// next leaf no longer links to it, though its signature still verifies.
    TimeChanged {
        /// The changed leaf.
        seq: u64,
        /// Its time now.
        logged_at: Option<String>,
    },
    /// The time of `seq` is earlier than the leaf before's, or unreadable.
    TimeBackwards {
        /// The changed leaf.
        seq: u64,
        /// Its time.
        logged_at: String,
        /// The time of the leaf before.
        previous: Option<String>,
    },
    /// The link (`prev`) of `seq` to the leaf before was changed.
    LinkChanged {
        /// The changed leaf.
        seq: u64,
    },
    /// The signature of `seq` does not verify under its key.
    BadSignature {
        /// The leaf.
        seq: u64,
        /// The key it names.
        key: String,
        /// Who the leaf says signed it.
        issuer: Option<String>,
    },
    /// The leaf at `seq` is not a well-formed, canonical leaf.
    BadLeaf {
        /// The position.
        seq: u64,
        /// Why (the ledger's words, English only).
        why: String,
    },
    /// The file was cut inside the leaf of `seq`.
    CutInside {
        /// The cut leaf.
        seq: u64,
    },
    /// The file ends after `count` whole leaves; the checkpoint has `size`.
    CutAfter {
        /// Leaves in the file.
        count: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The file holds more leaves than the checkpoint.
    TooLong {
        /// Leaves in the file.
        count: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// As many leaves as the checkpoint, another root: a leaf was changed
    /// that no later leaf links to (the last).
    OtherRoot {
        /// The size.
        size: u64,
    },
    /// Seq 0 is not the published genesis.
    Genesis {
        /// The genesis leaf hash found.
        found: Hash,
        /// The published one.
        pinned: Hash,
    },
    /// A state directory verified another genesis than the published one.
    StateGenesis {
        /// The one the state directory verified.
        was: Hash,
        /// The published one.
        pinned: Hash,
    },
    /// The rules refuse `seq`: the node should not have logged it.
    Refused {
        /// The entry.
        seq: u64,
        /// The SPEC code.
        code: ledger::code::Code,
        /// The rules' words (English only).
        message: String,
    },
    /// The log is smaller than one verified before: a rollback.
    Shrank {
        /// The size verified before.
        from: u64,
        /// The size now.
        to: u64,
    },
    /// Another root for a size verified before: a fork.
    Rewritten {
        /// The size.
        size: u64,
    },
    /// The new tree does not contain the one verified before.
    Inconsistent {
        /// The size verified before.
        from: u64,
        /// The size now.
        to: u64,
    },
    /// A witness refused the checkpoint: it saw another history.
    WitnessSawOther {
        /// The witness's name.
        witness: String,
        /// The checkpoint's size.
        size: u64,
    },
    /// The checkpoint lacks the policy's quorum of witnesses.
    NoQuorum {
        /// The checkpoint's size.
        size: u64,
        /// Which witnesses are missing (the policy's words, English only).
        why: String,
    },
    /// The newest cosignature is older than allowed.
    TooOld {
        /// Its age in seconds.
        age: u64,
        /// The limit.
        max: u64,
    },
    /// The checkpoint is not signed by the node's key.
    CheckpointUnsigned,
    /// A receipt's checkpoint is not signed by the node's key.
    ReceiptCheckpoint {
        /// The receipt's seq.
        seq: u64,
    },
    /// A receipt's seq is not proven in its checkpoint.
    ReceiptNotIncluded {
        /// The seq.
        seq: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// A receipt's leaf was changed: it does not hash to the receipt's hash.
    ReceiptLeafChanged {
        /// The seq.
        seq: u64,
    },
    /// A receipt's leaf is not canonical or not well-formed.
    ReceiptLeafMalformed {
        /// The seq.
        seq: u64,
    },
    /// A receipt's leaf has another seq, time or link than the receipt.
    ReceiptLeafMismatch {
        /// The seq.
        seq: u64,
    },
    /// A receipt's entry is not validly signed.
    ReceiptSignature {
        /// The seq.
        seq: u64,
    },
    /// The entry given is not a signed entry.
    NotAnEntry,
    /// The receipt carries no leaf to compare an entry with.
    ReceiptNoLeaf {
        /// The seq.
        seq: u64,
    },
    /// The entry given is not the one the receipt is for.
    OtherEntry {
        /// The seq.
        seq: u64,
    },
}

/// Classifies a fault of the chain (seq, link, time, signature, root) with
/// what is known around it.
pub fn classify(fault: &VerifyError, around: &Around) -> Finding {
    let p = fault.seq;
    match &fault.failure {
        Failure::WrongSeq(s) if *s > p => {
            // Seq p further on: swapped with s if it stands where s should.
            let later = around
                .ahead
                .iter()
                .position(|a| a.seq == Some(p))
                .map(|i| p + i as u64);
            match later {
                Some(q) if q == *s => Finding::Swapped { a: p, b: *s },
                Some(_) => Finding::OutOfPlace { at: p, says: *s },
                None => Finding::Missing {
                    first: p,
                    last: s - 1,
                },
            }
        }
        Failure::WrongSeq(s) if *s < p => Finding::Repeated { seq: *s, at: p },
        Failure::WrongSeq(s) => Finding::OutOfPlace { at: p, says: *s },
        Failure::BrokenChain if p == 0 => Finding::LinkChanged { seq: 0 },
        Failure::BrokenChain => {
            // The leaf after p still links to p (or p is the last): p is
            // as logged, so the leaf before it changed.
            let next_links = match (around.ahead.first(), around.ahead.get(1)) {
                (Some(this), Some(next)) => next.prev == Some(this.hash),
                (Some(_), None) => true,
                _ => true,
            };
            if next_links {
                Finding::TimeChanged {
                    seq: p - 1,
                    logged_at: around.previous_logged_at.clone(),
                }
            } else {
                Finding::LinkChanged { seq: p }
            }
        }
        Failure::Time(logged_at) => Finding::TimeBackwards {
            seq: p,
            logged_at: logged_at.clone(),
            previous: around.previous_logged_at.clone(),
        },
        Failure::Signature(key) => Finding::BadSignature {
            seq: p,
            key: key.to_string(),
            issuer: around.issuer.clone(),
        },
        Failure::Leaf(_) if around.cut_inside => Finding::CutInside { seq: p },
        Failure::Leaf(e) => Finding::BadLeaf {
            seq: p,
            why: e.to_string(),
        },
        Failure::Root {
            found_size,
            expected_size,
            ..
        } => root(*found_size, *expected_size),
    }
}

/// The leaves make another tree than the checkpoint's: `count` leaves
/// against its `size`.
pub fn root(count: u64, size: u64) -> Finding {
    use std::cmp::Ordering;
    match count.cmp(&size) {
        Ordering::Less => Finding::CutAfter { count, size },
        Ordering::Greater => Finding::TooLong { count, size },
        Ordering::Equal => Finding::OtherRoot { size },
    }
}

/// A receipt that does not hold, for the receipt of `seq`.
pub fn receipt(seq: u64, e: &ReceiptError) -> Finding {
    match e {
        ReceiptError::Checkpoint(_) => Finding::ReceiptCheckpoint { seq },
        ReceiptError::NotIncluded { seq, size, .. } => Finding::ReceiptNotIncluded {
            seq: *seq,
            size: *size,
        },
        ReceiptError::LeafHash { seq, .. } => Finding::ReceiptLeafChanged { seq: *seq },
        ReceiptError::NotCanonical(_) | ReceiptError::Leaf(_) => {
            Finding::ReceiptLeafMalformed { seq }
        }
        ReceiptError::LeafMismatch => Finding::ReceiptLeafMismatch { seq },
        ReceiptError::Signature(_) => Finding::ReceiptSignature { seq },
        ReceiptError::NotAnEntry(_) => Finding::NotAnEntry,
        ReceiptError::NoLeaf => Finding::ReceiptNoLeaf { seq },
        ReceiptError::OtherEntry(seq) => Finding::OtherEntry { seq: *seq },
    }
}

/// The first 16 hex digits of a hash: enough to compare by eye.
pub fn short(hash: &Hash) -> String {
    hash.to_hex()[..16].to_owned()
}

impl Finding {
    /// Whether this is a fork or a rollback: the log a reader saw before is
    /// not a prefix of the one served now.
    pub fn is_fork(&self) -> bool {
        matches!(
            self,
            Finding::Shrank { .. }
                | Finding::Rewritten { .. }
                | Finding::Inconsistent { .. }
                | Finding::WitnessSawOther { .. }
        )
    }

    /// The finding in `locale`.
    pub fn say_in(&self, locale: &str) -> String {
        let n = |v: &u64| v.to_string();
        let (key, args): (&str, Vec<(&str, String)>) = match self {
            Finding::Missing { first, last } if first == last => (
                "finding.missing_one",
                vec![("seq", n(first)), ("next", n(&(first + 1)))],
            ),
            Finding::Missing { first, last } => (
                "finding.missing_many",
                vec![
                    ("first", n(first)),
                    ("last", n(last)),
                    ("count", n(&(last - first + 1))),
                ],
            ),
            Finding::Swapped { a, b } => ("finding.swapped", vec![("a", n(a)), ("b", n(b))]),
            Finding::Repeated { seq, at } => {
                ("finding.repeated", vec![("seq", n(seq)), ("at", n(at))])
            }
            Finding::OutOfPlace { at, says } => (
                "finding.out_of_place",
                vec![("at", n(at)), ("says", n(says))],
            ),
            Finding::TimeChanged { seq, logged_at } => (
                "finding.time_changed",
                vec![
                    ("seq", n(seq)),
                    ("next", n(&(seq + 1))),
                    ("logged_at", logged_at.clone().unwrap_or_default()),
                ],
            ),
            Finding::TimeBackwards {
                seq,
                logged_at,
                previous,
            } => (
                "finding.time_backwards",
                vec![
                    ("seq", n(seq)),
                    ("before", n(&seq.saturating_sub(1))),
                    ("logged_at", logged_at.clone()),
                    ("previous", previous.clone().unwrap_or_default()),
                ],
            ),
            Finding::LinkChanged { seq } if *seq == 0 => ("finding.link_genesis", vec![]),
            Finding::LinkChanged { seq } => (
                "finding.link_changed",
                vec![("seq", n(seq)), ("before", n(&(seq - 1)))],
            ),
            Finding::BadSignature { seq, key, issuer } => (
                "finding.bad_signature",
                vec![
                    ("seq", n(seq)),
                    ("key", key.chars().take(16).collect()),
                    ("issuer", issuer.clone().unwrap_or_else(|| "-".to_owned())),
                ],
            ),
            Finding::BadLeaf { seq, why } => {
                let why = if locale == "en" {
                    why.clone()
                } else {
                    String::new()
                };
                ("finding.bad_leaf", vec![("seq", n(seq)), ("why", why)])
            }
            Finding::CutInside { seq } => ("finding.cut_inside", vec![("seq", n(seq))]),
            Finding::CutAfter { count: 0, size } => ("finding.empty", vec![("size", n(size))]),
            Finding::CutAfter { count, size } => (
                "finding.cut_after",
                vec![
                    ("last", n(&(count - 1))),
                    ("count", n(count)),
                    ("size", n(size)),
                    ("first_missing", n(count)),
                    ("last_missing", n(&(size - 1))),
                ],
            ),
            Finding::TooLong { count, size } => (
                "finding.too_long",
                vec![("count", n(count)), ("size", n(size))],
            ),
            Finding::OtherRoot { size } => (
                "finding.other_root",
                vec![("size", n(size)), ("last", n(&size.saturating_sub(1)))],
            ),
            Finding::Genesis { found, pinned } => (
                "finding.genesis",
                vec![("found", found.to_hex()), ("pinned", pinned.to_hex())],
            ),
            Finding::StateGenesis { was, pinned } => (
                "finding.state_genesis",
                vec![("was", was.to_hex()), ("pinned", pinned.to_hex())],
            ),
            Finding::Refused { seq, code, message } => {
                let meaning = crate::explain::meaning(locale, code.as_str());
                let message = if locale == "en" {
                    format!(" ({message})")
                } else {
                    String::new()
                };
                (
                    "finding.refused",
                    vec![
                        ("seq", n(seq)),
                        ("code", code.to_string()),
                        ("meaning", meaning),
                        ("message", message),
                    ],
                )
            }
            Finding::Shrank { from, to } => {
                ("finding.shrank", vec![("from", n(from)), ("to", n(to))])
            }
            Finding::Rewritten { size } => ("finding.rewritten", vec![("size", n(size))]),
            Finding::Inconsistent { from, to } => (
                "finding.inconsistent",
                vec![("from", n(from)), ("to", n(to))],
            ),
            Finding::WitnessSawOther { witness, size } => (
                "finding.witness_saw_other",
                vec![("witness", witness.clone()), ("size", n(size))],
            ),
            Finding::NoQuorum { size, why } => {
                let why = if locale == "en" {
                    format!(" ({why})")
                } else {
                    String::new()
                };
                ("finding.no_quorum", vec![("size", n(size)), ("why", why)])
            }
            Finding::TooOld { age, max } => {
                ("finding.too_old", vec![("age", n(age)), ("max", n(max))])
            }
            Finding::CheckpointUnsigned => ("finding.checkpoint_unsigned", vec![]),
            Finding::ReceiptCheckpoint { seq } => {
                ("finding.receipt_checkpoint", vec![("seq", n(seq))])
            }
            Finding::ReceiptNotIncluded { seq, size } => (
                "finding.receipt_not_included",
                vec![("seq", n(seq)), ("size", n(size))],
            ),
            Finding::ReceiptLeafChanged { seq } => {
                ("finding.receipt_leaf_changed", vec![("seq", n(seq))])
            }
            Finding::ReceiptLeafMalformed { seq } => {
                ("finding.receipt_leaf_malformed", vec![("seq", n(seq))])
            }
            Finding::ReceiptLeafMismatch { seq } => {
                ("finding.receipt_leaf_mismatch", vec![("seq", n(seq))])
            }
            Finding::ReceiptSignature { seq } => {
                ("finding.receipt_signature", vec![("seq", n(seq))])
            }
            Finding::NotAnEntry => ("finding.not_an_entry", vec![]),
            Finding::ReceiptNoLeaf { seq } => ("finding.receipt_no_leaf", vec![("seq", n(seq))]),
            Finding::OtherEntry { seq } => ("finding.other_entry", vec![("seq", n(seq))]),
        };
        let mut s = lookup(locale, key);
        for (name, value) in args {
            s = s.replace(&format!("%{{{name}}}"), &value);
        }
        s
    }
}

impl std::fmt::Display for Finding {
    /// In the interface's language.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.say_in(&rust_i18n::locale()))
    }
}

impl std::error::Error for Finding {}

#[cfg(test)]
mod tests {
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
}
