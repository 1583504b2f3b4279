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
mod tests;
