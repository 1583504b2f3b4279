//! Streaming verification of a ledger's leaves, as an auditor runs it: every
//! leaf canonical, seqs gapless, every `prev` link, `logged_at`
//! non-decreasing, every signature, and the Merkle root against a signed
//! checkpoint. `O(log n)` memory besides one signature batch; no I/O.
//!
//! Signatures are checked in batches with ed25519-dalek's `verify_batch`, a
//! fast path that SPEC §2 allows auditing tools. A batch that fails is
//! re-checked entry by entry with `verify_strict`, so the report names the
//! first bad seq; `verify_strict` has the last word.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc;
use std::time::SystemTime;

use ed25519_dalek::{Signature, VerifyingKey};

use crate::entry::{
    parse_timestamp, verify_strict, EntryError, EntrySignature, Leaf, LeafRecord, PublicKey,
};
use crate::merkle::{leaf_hash, Frontier, Hash, RootHash};

/// What is wrong with the ledger, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {failure}")]
pub struct VerifyError {
    /// The first seq found bad (for a root mismatch: the tree size).
    pub seq: u64,
    /// What is wrong with it.
    pub failure: Failure,
}

/// The ways a ledger fails verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The leaf bytes are not a canonical, well-formed leaf.
    #[error("bad leaf: {0}")]
    Leaf(EntryError),
    /// The leaf says another seq than its position.
    #[error("leaf says seq {0}")]
    WrongSeq(u64),
    /// `prev` is not the hash of the leaf before.
    #[error("prev does not match the previous leaf's hash (hash chain broken)")]
    BrokenChain,
    /// `logged_at` is unreadable or earlier than the previous leaf's.
    #[error("logged_at {0:?} is unreadable or goes back in time")]
    Time(String),
    /// The signature does not verify under the statement's key (the key
    /// named, so that a report can say whose signature it is).
    #[error("signature does not verify under key {0}")]
    Signature(PublicKey),
    /// The leaves do not add up to the checkpoint's tree.
    #[error("leaves give root {found:?} of size {found_size}, checkpoint says {expected:?} of size {expected_size}")]
    Root {
        /// Root of the verified leaves.
        found: Hash,
        /// Their count.
        found_size: u64,
        /// The checkpoint's root.
        expected: Hash,
        /// The checkpoint's size.
        expected_size: u64,
    },
}

/// What a sequential auditor keeps of a verified prefix: the Merkle frontier,
/// the last leaf hash (the next `prev`) and its `logged_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// The tree of the verified leaves.
    pub frontier: Frontier,
    /// Hash of the last verified leaf (zeros before seq 0).
    pub last_leaf: Hash,
    /// `logged_at` of the last verified leaf.
    pub logged_at: Option<String>,
}

struct Pending {
    seq: u64,
    msg: Vec<u8>,
    sig: EntrySignature,
    key: PublicKey,
}

/// Checks leaves one by one; see the module docs.
pub struct ChainVerifier {
    frontier: Frontier,
    prev: Hash,
    last_time: SystemTime,
    last_logged_at: Option<String>,
    pending: Vec<Pending>,
    threads: usize,
    /// Batches being checked on the pool, oldest first, each answering with
    /// its first bad signature.
    in_flight: VecDeque<mpsc::Receiver<Option<(u64, PublicKey)>>>,
    keys: HashMap<PublicKey, Option<VerifyingKey>>,
    /// With [`ChainVerifier::keeping`]: the leaves pushed since the last
    /// [`ChainVerifier::take_verified`], and the seq of the first.
    kept: Option<(u64, Vec<LeafRecord>)>,
    /// With [`ChainVerifier::remembering`]: every leaf hash pushed.
    remembered: Option<Vec<Hash>>,
}

/// Leaves a [`ChainVerifier`] checked, in order from `first_seq`: each
/// canonical, seq and `prev` following the one before, `logged_at` not
/// going back, signature verified. The only leaves the `ledger` crate's `Log`
/// takes from another copy of a log (a restore, a mirror); only this module
/// makes them, so nothing reaches a log around the verifier.
#[derive(Debug)]
pub struct VerifiedLeaves {
    first_seq: u64,
    records: Vec<LeafRecord>,
}

impl VerifiedLeaves {
    /// Seq of the first leaf.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The leaves' bytes and hashes.
    pub fn records(&self) -> &[LeafRecord] {
        &self.records
    }

    /// The seq of the first leaf and the leaves, for the store that appends
    /// them (taking them apart does not make new ones).
    pub fn into_parts(self) -> (u64, Vec<LeafRecord>) {
        (self.first_seq, self.records)
    }
}

/// The leaf hashes of a range a remembering [`ChainVerifier`] verified up
/// to a checkpoint's root ([`ChainVerifier::finish_known`]): the same
/// leaves, read again, are verified by their hashes alone. A mirror checks
/// a whole range before storing any of it, then reads it again in parts.
#[derive(Debug)]
pub struct KnownLeaves {
    next: u64,
    hashes: std::collections::VecDeque<Hash>,
}

impl KnownLeaves {
    /// The seq the next leaf taken must have.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Number of leaves not yet taken.
    pub fn remaining(&self) -> usize {
        self.hashes.len()
    }

    /// The next `leaves`, verified because each hashes to the known leaf
    /// of its seq; `Err(seq)` for the first that does not (or is one past
    /// the range), and nothing is taken.
    pub fn take<'a>(
        &mut self,
        leaves: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<VerifiedLeaves, u64> {
        let first_seq = self.next;
        let mut records = Vec::new();
        for bytes in leaves {
            let seq = first_seq + records.len() as u64;
            let record = LeafRecord::new(bytes.to_vec());
            if self.hashes.get(records.len()) != Some(&record.hash) {
                return Err(seq);
            }
            records.push(record);
        }
        self.hashes.drain(..records.len());
        self.next += records.len() as u64;
        Ok(VerifiedLeaves { first_seq, records })
    }
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

impl ChainVerifier {
    /// Starts at seq 0, checking signatures on the calling thread.
    pub fn new() -> ChainVerifier {
        ChainVerifier::resume(Position::default())
    }

    /// Continues after an already verified prefix (incremental audits).
    pub fn resume(at: Position) -> ChainVerifier {
        let last_time = at
            .logged_at
            .as_deref()
            .and_then(parse_timestamp)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        ChainVerifier {
            frontier: at.frontier,
            prev: at.last_leaf,
            last_time,
            last_logged_at: at.logged_at,
            pending: Vec::new(),
            threads: 1,
            in_flight: VecDeque::new(),
            keys: HashMap::new(),
            kept: None,
            remembered: None,
        }
    }

    /// Keeps the leaves pushed, to hand them to a log as
    /// [`VerifiedLeaves`] ([`ChainVerifier::take_verified`]).
    pub fn keeping(mut self) -> ChainVerifier {
        self.kept = Some((self.size(), Vec::new()));
        self
    }

    /// Remembers the hash of every leaf pushed, for
    /// [`ChainVerifier::finish_known`].
    pub fn remembering(mut self) -> ChainVerifier {
        self.remembered = Some(Vec::new());
        self
    }

    /// Checks signatures on rayon's pool (`threads` > 1), batch by batch
    /// while the calling thread goes on with the next leaves, up to two
    /// batches a thread ahead of it.
    pub fn with_threads(mut self, threads: usize) -> ChainVerifier {
        self.threads = threads.max(1);
        self
    }

    /// Number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Checks one leaf (the next seq) and returns it parsed. Its signature
    /// may be checked later, in a batch: call [`ChainVerifier::finish`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<Leaf, VerifyError> {
        let seq = self.frontier.size();
        let result = self.check_leaf(seq, bytes);
        if result.is_err() {
            // An earlier seq's bad signature must be reported first.
            self.flush()?;
        }
        let (leaf, msg, hash) = result?;
        self.pending.push(Pending {
            seq,
            msg,
            sig: leaf.entry.signature,
            key: leaf.entry.statement.key,
        });
        if self.pending.len() >= BATCH {
            self.dispatch()?;
        }
        self.prev = hash;
        self.frontier.push(hash);
        if let Some((_, kept)) = &mut self.kept {
            kept.push(LeafRecord {
                bytes: bytes.to_vec(),
                hash,
            });
        }
        if let Some(hashes) = &mut self.remembered {
            hashes.push(hash);
        }
        Ok(leaf)
    }

    /// Checks every pending signature and hands over the leaves kept since
    /// the last call (none unless [`ChainVerifier::keeping`]).
    pub fn take_verified(&mut self) -> Result<VerifiedLeaves, VerifyError> {
        self.flush()?;
        let next = self.size();
        let (first_seq, records) = match &mut self.kept {
            Some((from, kept)) => (std::mem::replace(from, next), std::mem::take(kept)),
            None => (next, Vec::new()),
        };
        Ok(VerifiedLeaves { first_seq, records })
    }

    fn check_leaf(&mut self, seq: u64, bytes: &[u8]) -> Result<(Leaf, Vec<u8>, Hash), VerifyError> {
        let fail = |failure| VerifyError { seq, failure };
        let (leaf, msg) = Leaf::parse(bytes).map_err(|e| fail(Failure::Leaf(e)))?;
        if leaf.seq != seq {
            return Err(fail(Failure::WrongSeq(leaf.seq)));
        }
        if leaf.prev != self.prev {
            return Err(fail(Failure::BrokenChain));
        }
        match parse_timestamp(&leaf.logged_at) {
            Some(t) if t >= self.last_time => {
                self.last_time = t;
                self.last_logged_at = Some(leaf.logged_at.clone());
            }
            _ => return Err(fail(Failure::Time(leaf.logged_at.clone()))),
        }
        leaf.entry
            .statement
            .check_envelope()
            .map_err(|e| fail(Failure::Leaf(e)))?;
        Ok((leaf, msg, leaf_hash(bytes)))
    }

    /// Where the verifier stands, to resume after the leaves pushed so far.
    /// Call [`ChainVerifier::flush`] first: a position is only worth keeping
    /// once every signature before it is checked.
    pub fn position(&self) -> Position {
        Position {
            frontier: self.frontier.clone(),
            last_leaf: self.prev,
            logged_at: self.last_logged_at.clone(),
        }
    }

    /// Checks every pending signature, and waits for the batches on the
    /// pool.
    pub fn flush(&mut self) -> Result<(), VerifyError> {
        self.dispatch()?;
        while !self.in_flight.is_empty() {
            self.receive_oldest()?;
        }
        Ok(())
    }

    /// Hands the pending signatures to the pool as one batch (or, on one
    /// thread, checks them here).
    fn dispatch(&mut self) -> Result<(), VerifyError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let keys: Vec<Option<VerifyingKey>> = pending
            .iter()
            .map(|p| {
                // A small-order (weak) key is refused here as `verify_strict`
                // would: batch verification alone would not.
                *self.keys.entry(p.key).or_insert_with(|| {
                    VerifyingKey::from_bytes(&p.key.0)
                        .ok()
                        .filter(|k| !k.is_weak())
                })
            })
            .collect();
        if self.threads == 1 {
            return signature_result(first_bad_signature(&pending, &keys));
        }
        while self.in_flight.len() >= 2 * self.threads {
            self.receive_oldest()?;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        rayon::spawn(move || {
            // The verifier may be gone (it failed earlier): nobody asks.
            let _ = tx.send(first_bad_signature(&pending, &keys));
        });
        self.in_flight.push_back(rx);
        Ok(())
    }

    /// Waits for the oldest batch on the pool. Batches are received in seq
    /// order, so the first bad signature reported is the earliest.
    fn receive_oldest(&mut self) -> Result<(), VerifyError> {
        let Some(rx) = self.in_flight.pop_front() else {
            return Ok(());
        };
        signature_result(rx.recv().expect("a batch check does not panic"))
    }

    /// Checks the pending signatures and that the leaves pushed make exactly
    /// the tree `expected` (a verified checkpoint's). Returns the root.
    pub fn finish(self, expected: &RootHash) -> Result<RootHash, VerifyError> {
        self.finish_known(expected).map(|(root, _)| root)
    }

    /// [`ChainVerifier::finish`], and the hashes of the leaves pushed since
    /// [`ChainVerifier::remembering`] (none if it was not called).
    pub fn finish_known(
        mut self,
        expected: &RootHash,
    ) -> Result<(RootHash, KnownLeaves), VerifyError> {
        self.flush()?;
        let root = self.frontier.root();
        if root != *expected {
            return Err(VerifyError {
                seq: root.size,
                failure: Failure::Root {
                    found: root.hash,
                    found_size: root.size,
                    expected: expected.hash,
                    expected_size: expected.size,
                },
            });
        }
        let hashes = self.remembered.take().unwrap_or_default();
        let next = root.size - hashes.len() as u64;
        let known = KnownLeaves {
            next,
            hashes: hashes.into(),
        };
        Ok((root, known))
    }
}

/// Signatures checked in one batch. Batched verification shares one
/// multiscalar multiplication across the batch: the larger, the cheaper a
/// signature, up to a few hundred.
const BATCH: usize = 512;

fn signature_result(first_bad: Option<(u64, PublicKey)>) -> Result<(), VerifyError> {
    match first_bad {
        Some((seq, key)) => Err(VerifyError {
            seq,
            failure: Failure::Signature(key),
        }),
        None => Ok(()),
    }
}

/// Batch-verifies `chunk` (`keys[i]` is the decoded key of `chunk[i]`, none
/// if unusable); on failure finds the first entry `verify_strict` refuses,
/// with its key.
fn first_bad_signature(
    chunk: &[Pending],
    keys: &[Option<VerifyingKey>],
) -> Option<(u64, PublicKey)> {
    let mut vks = Vec::with_capacity(chunk.len());
    for (p, k) in chunk.iter().zip(keys) {
        match k {
            Some(k) => vks.push(*k),
            None => return Some((p.seq, p.key)),
        }
    }
    let msgs: Vec<&[u8]> = chunk.iter().map(|p| p.msg.as_slice()).collect();
    let sigs: Vec<Signature> = chunk
        .iter()
        .map(|p| Signature::from_bytes(&p.sig.0))
        .collect();
    if ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok() {
        return None;
    }
    chunk
        .iter()
        .find(|p| verify_strict(&p.key, &p.msg, &p.sig).is_err())
        .map(|p| (p.seq, p.key))
}
