//! Where a log stands while groups are prepared on it: [`Tip`], the one
//! place leaves are chained ([`Chain`]: next seq, `prev`, one `logged_at`
//! per group), and the groups it prepares ([`PreparedGroup`]), committed
//! and installed by [`super::Log`].

use std::sync::Arc;
use std::time::SystemTime;

#[cfg(any(test, feature = "test-support"))]
use super::AppendError;
use super::{GroupWrite, HeadRecord, Sequenced};
#[cfg(any(test, feature = "test-support"))]
use crate::entry::SignedEntry;
use crate::entry::{format_timestamp, EntryError, EntrySignature, Leaf, LeafRecord};
use crate::merkle::{Frontier, Hash};
use crate::state::Write;
use crate::verify::VerifiedLeaves;

/// Where the log stands, or will stand once the groups prepared on top of
/// it are installed: what chaining and hashing the next group needs. A
/// pipelined writer prepares group N+1 on group N's tip while N is still
/// being committed.
#[derive(Debug, Clone)]
pub struct Tip {
    pub(super) head: HeadRecord,
    pub(super) frontier: Frontier,
    pub(super) last_logged_at: SystemTime,
}

impl Tip {
    /// The tree head at this tip.
    pub fn head(&self) -> HeadRecord {
        self.head
    }

    /// Number of leaves at this tip: the next group's first seq.
    pub fn size(&self) -> u64 {
        self.head.root.size
    }

    /// The `logged_at` a group sequenced at `now` gets: never earlier than
    /// the last leaf's.
    pub fn next_logged_at(&self, now: SystemTime) -> SystemTime {
        now.max(self.last_logged_at)
    }

    sealed! {
        /// Starts chaining leaves onto this tip, all with the `logged_at` of
        /// a group sequenced at `now`. Only the sequencer chains leaves (and,
        /// with `test-support`, the store's own tests).
        fn chain(&self, now: SystemTime) -> Chain<'_> {
            let time = self.next_logged_at(now);
            Chain {
                tip: self,
                logged_at: format_timestamp(time),
                time,
                prev: self.head.last_leaf,
                records: Vec::new(),
            }
        }
    }

    /// The group of `entries` on this tip, without rules: each entry becomes
    /// the next leaf. See [`Log::append`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn group_of(
        &self,
        entries: Vec<SignedEntry>,
        now: SystemTime,
    ) -> Result<(PreparedGroup, Vec<Sequenced>), AppendError> {
        use rayon::prelude::*;
        // The statements are encoded on all cores; the leaves, each
        // holding the hash of the one before, in order.
        let statements: Vec<_> = entries
            .par_iter()
            .map(|e| e.statement.canonical_bytes())
            .collect();
        let mut chain = self.chain(now);
        let sequenced = entries
            .iter()
            .zip(statements)
            .enumerate()
            .map(|(index, (entry, statement))| {
                statement
                    .and_then(|st| chain.push(&entry.signature, &st))
                    .map_err(|error| AppendError::Entry { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((chain.finish(Vec::new()), sequenced))
    }

    /// Makes the group of `records` (built on this tip: chained from its
    /// last leaf, seqs from its size) with `state`, the derived-state
    /// writes they cause (sorted by table and key, one per key, as
    /// [`crate::state::Overlay::into_writes`] gives them): its Merkle
    /// nodes, new head and new tip. Nothing
    /// is written; see [`Log::commit`] and [`Log::install`].
    pub(super) fn prepare(
        &self,
        records: Vec<LeafRecord>,
        state: Vec<Write>,
        logged_at: SystemTime,
    ) -> PreparedGroup {
        let mut frontier = self.frontier.clone();
        let mut hashes = Vec::with_capacity(records.len() * 2 + 64);
        for r in &records {
            frontier.push_stored(r.hash, |index, h| hashes.push((index, h)));
        }
        let head = HeadRecord {
            root: frontier.root(),
            last_leaf: records.last().map_or(self.head.last_leaf, |r| r.hash),
        };
        let last_logged_at = if records.is_empty() {
            self.last_logged_at
        } else {
            self.last_logged_at.max(logged_at)
        };
        PreparedGroup {
            write: GroupWrite {
                first_seq: self.size(),
                leaves: records,
                hashes,
                head,
                state: state.into(),
            },
            tip: Tip {
                head,
                frontier,
                last_logged_at,
            },
        }
    }
}

/// Leaves being chained onto a [`Tip`] (see [`Tip::chain`]): each gets
/// the next seq and, as `prev`, the hash of the leaf before it.
pub struct Chain<'t> {
    tip: &'t Tip,
    time: SystemTime,
    logged_at: String,
    prev: Hash,
    records: Vec<LeafRecord>,
}

impl Chain<'_> {
    /// The `logged_at` of every leaf of this group.
    pub fn logged_at(&self) -> &str {
        &self.logged_at
    }

    /// The seq the next pushed leaf gets.
    pub fn next_seq(&self) -> u64 {
        self.tip.size() + self.records.len() as u64
    }

    /// Makes the next leaf of the entry with `signature` over the
    /// canonical `statement`. A leaf that would be too large is refused
    /// and the chain is unchanged.
    pub fn push(
        &mut self,
        signature: &EntrySignature,
        statement: &[u8],
    ) -> Result<Sequenced, EntryError> {
        let seq = self.next_seq();
        let (bytes, _) =
            Leaf::encode_parts(signature, statement, &self.logged_at, &self.prev, seq)?;
        let record = LeafRecord::new(bytes);
        let sequenced = Sequenced {
            seq,
            leaf_hash: record.hash,
            logged_at: self.logged_at.clone(),
            prev: self.prev,
        };
        self.prev = record.hash;
        self.records.push(record);
        Ok(sequenced)
    }

    /// The group of the leaves pushed, with `state`, the derived-state
    /// writes they cause (sorted by table and key, one per key, as
    /// [`crate::state::Overlay::into_writes`] gives them). Nothing is
    /// written; see [`Log::commit`] and [`Log::install`].
    pub fn finish(self, state: Vec<Write>) -> PreparedGroup {
        self.tip.prepare(self.records, state, self.time)
    }
}

/// Verified leaves with the state writes the rules gave them, made only by
/// [`crate::sequencer::follow`]; see [`Log::append_followed`].
#[derive(Debug)]
pub struct Followed {
    pub(crate) leaves: VerifiedLeaves,
    pub(crate) writes: Vec<Write>,
}

/// A group between [`Chain::finish`] and [`Log::install`].
#[derive(Debug)]
pub struct PreparedGroup {
    pub(super) write: GroupWrite,
    pub(super) tip: Tip,
}

impl PreparedGroup {
    /// The tip once this group is installed: where the next group starts.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// The group's derived-state writes.
    pub fn state_writes(&self) -> Arc<[Write]> {
        Arc::clone(&self.write.state)
    }
}
