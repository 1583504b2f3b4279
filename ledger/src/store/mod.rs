//! The log: sequencing entries into chained leaves, and keeping them with the
//! Merkle tree's stored hashes and the tree head.
//!
//! [`Log`] holds all the logic (leaf construction, hash chain, frontier,
//! proofs, the checks made at open); a [`Backend`] only persists. One commit
//! group = one [`GroupWrite`], written atomically and durably by the backend
//! (RocksDB: one `WriteBatch` with `sync = true`), so after any crash the
//! store holds exactly the groups whose `append` returned.

use std::sync::Arc;
use std::time::SystemTime;

#[cfg(any(test, feature = "test-support"))]
use crate::entry::EntryError;
#[cfg(any(test, feature = "test-support"))]
use crate::entry::SignedEntry;
use crate::entry::{parse_timestamp, Leaf, LeafRecord};
use crate::merkle::{self, Frontier, Hash, HashSource, ProofError, ProveError, RootHash};
use crate::state::{StateRead, Write};
use crate::verify::VerifiedLeaves;

#[cfg(any(test, feature = "test-support"))]
mod faulty;
#[cfg(any(test, feature = "test-support"))]
pub use faulty::{Faults, Faulty};
mod mem;
pub use mem::MemBackend;
mod tip;
pub use tip::{Chain, Followed, PreparedGroup, Tip};
#[cfg(feature = "store")]
mod logcheck;
#[cfg(feature = "store")]
mod rocks;
#[cfg(feature = "store")]
pub(crate) use rocks::{Rebuild, REBUILD_MEMORY};
#[cfg(feature = "store")]
pub use rocks::{RocksBackend, MAX_OPEN_FILES, STATE_FORMAT};

/// Why the store could not read or write, or refuses to serve.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (disk, permissions, lock held by another process).
    #[error("storage: {0}")]
    Io(String),
    /// What is stored contradicts itself: the node must not serve it.
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The derived state was written by a build that encoded it otherwise.
    #[error("derived state is format {found}, this build reads format {wanted}: rebuild it from the leaves (aidledger-node reindex)")]
    Format {
        /// The store's format (1: before formats were recorded).
        found: u32,
        /// This build's.
        wanted: u32,
    },
    /// A group prepared on another tip than the log's: nothing was
    /// written; prepare it again on [`Log::tip`].
    #[error("a group prepared at size {prepared_at} cannot be committed at size {size}")]
    Stale {
        /// The size the group was prepared at.
        prepared_at: u64,
        /// The log's size.
        size: u64,
    },
}

/// Why [`Log::append`] did not append a group. Nothing was written.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Entry `index` of the group cannot become a leaf (e.g. too large).
    #[error("entry {index} of the group: {error}")]
    Entry {
        /// Position in the submitted group.
        index: usize,
        /// Why.
        error: EntryError,
    },
    /// The store failed; the group is not in the log.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The persisted tree head: what the store promises it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadRecord {
    /// Size and root of the tree.
    pub root: RootHash,
    /// `leaf_hash(size - 1)`, or zeros when empty: the next leaf's `prev`.
    pub last_leaf: Hash,
}

impl HeadRecord {
    /// The empty log.
    pub const EMPTY: HeadRecord = HeadRecord {
        root: RootHash::EMPTY,
        last_leaf: Hash::ZERO,
    };

    /// `size (u64 BE) || root (32) || last_leaf (32)`.
    pub fn to_bytes(&self) -> [u8; 72] {
        let mut out = [0u8; 72];
        out[..8].copy_from_slice(&self.root.size.to_be_bytes());
        out[8..40].copy_from_slice(self.root.hash.as_bytes());
        out[40..].copy_from_slice(self.last_leaf.as_bytes());
        out
    }
    /// Inverse of [`HeadRecord::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<HeadRecord, StoreError> {
        let b: &[u8; 72] = b
            .try_into()
            .map_err(|_| StoreError::Corrupt("head record is not 72 bytes".into()))?;
        let size = u64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
        let hash = Hash::new(b[8..40].try_into().expect("32 bytes"));
        let last_leaf = Hash::new(b[40..].try_into().expect("32 bytes"));
        Ok(HeadRecord {
            root: RootHash { size, hash },
            last_leaf,
        })
    }
}

/// Everything one commit group writes, applied all-or-nothing. Only a
/// [`PreparedGroup`] holds one: nothing outside the crate can make one.
#[derive(Debug)]
pub struct GroupWrite {
    /// Seq of `leaves[0]`.
    pub(crate) first_seq: u64,
    /// The new leaves, in seq order.
    pub(crate) leaves: Vec<LeafRecord>,
    /// `(stored_hash_index, hash)` of every Merkle node the leaves complete.
    pub(crate) hashes: Vec<(u64, Hash)>,
    /// The tree head after the group.
    pub(crate) head: HeadRecord,
    /// Derived-state writes the group's entries cause (see [`crate::state`]),
    /// sorted by table and key, one per key.
    pub(crate) state: Arc<[Write]>,
}

/// Persistence for a [`Log`] and its derived state. Implementations hold no
/// logic of their own.
pub trait Backend: HashSource<Error = StoreError> + StateRead {
    /// The stored head, or `None` for a new store.
    fn load_head(&self) -> Result<Option<HeadRecord>, StoreError>;
    /// Writes the group atomically; returns only once it is durable. Takes
    /// `&self`: readers may go on while a group is written (what they read
    /// is bounded by the [`Log`]'s head, which moves only after the commit).
    fn commit(&self, group: &GroupWrite) -> Result<(), StoreError>;
    /// The bytes of leaf `seq`, if stored.
    fn leaf(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Calls `f(seq, bytes)` for leaves from `start` in seq order until it
    /// returns `false` or the leaves run out.
    fn scan_leaves(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError>;
    /// A size the log is known to have reached, kept outside the store's
    /// own files: [`Log::open`] refuses a store holding fewer leaves.
    fn size_floor(&self) -> Option<u64> {
        None
    }

    /// Makes the store writable again after a failed commit, if it needs
    /// it (RocksDB refuses every write after one failed, until reopened).
    fn recover(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// One sequenced leaf, as the log returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequenced {
    /// Its seq.
    pub seq: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// Its `logged_at`.
    pub logged_at: String,
    /// The leaf hash of the seq before it (64 zeros for seq 0).
    pub prev: Hash,
}

/// An append-only log over a backend.
pub struct Log<B: Backend> {
    /// Shared with a pipelined writer's rules, which read state while a
    /// group is committed (see [`Log::shared_backend`]).
    backend: Arc<B>,
    tip: Tip,
}

impl<B: Backend> Log<B> {
    /// Opens the log and checks its head before anything is served: the
    /// stored root equals the root of the stored hashes, the last leaf hashes
    /// to the head's last leaf hash and links to the one before it, and no
    /// leaf exists past the head.
    pub fn open(backend: B) -> Result<Log<B>, StoreError> {
        Ok(Log {
            tip: Log::load_tip(&backend)?,
            backend: Arc::new(backend),
        })
    }

    /// After a failed commit: makes the store writable again
    /// ([`Backend::recover`]) and reloads the head from it, with the
    /// checks of [`Log::open`] (whatever of the failed group reached the
    /// disk whole is then part of the log).
    pub fn recover(&mut self) -> Result<(), StoreError> {
        self.backend.recover()?;
        self.tip = Log::load_tip(&*self.backend)?;
        Ok(())
    }

    /// The tip `backend` holds, checked.
    fn load_tip(backend: &B) -> Result<Tip, StoreError> {
        let head = backend.load_head()?.unwrap_or(HeadRecord::EMPTY);
        let size = head.root.size;
        if let Some(floor) = backend.size_floor().filter(|f| *f > size) {
            return Err(StoreError::Corrupt(format!(
                "the store holds {size} leaves, but it held {floor}: its files lost entries; restore it from a replica"
            )));
        }
        let frontier = Frontier::load(backend, size)?;
        if frontier.root() != head.root {
            return Err(StoreError::Corrupt(format!(
                "stored hashes give another root for size {size} than the head"
            )));
        }
        if backend.leaf(size)?.is_some() {
            return Err(StoreError::Corrupt(format!(
                "a leaf exists at seq {size}, past the head"
            )));
        }
        let mut last_logged_at = SystemTime::UNIX_EPOCH;
        if size > 0 {
            let bytes = backend
                .leaf(size - 1)?
                .ok_or_else(|| StoreError::Corrupt(format!("leaf {} missing", size - 1)))?;
            let record = LeafRecord::new(bytes);
            let stored = backend.read_hashes(&[tlog_tiles::stored_hash_index(0, size - 1)])?[0];
            if record.hash != head.last_leaf || stored != head.last_leaf {
                return Err(StoreError::Corrupt(format!(
                    "leaf {} does not hash to the head's last leaf hash",
                    size - 1
                )));
            }
            let leaf = Leaf::from_bytes(&record.bytes)
                .map_err(|e| StoreError::Corrupt(format!("leaf {}: {e}", size - 1)))?;
            let prev = if size >= 2 {
                backend.read_hashes(&[tlog_tiles::stored_hash_index(0, size - 2)])?[0]
            } else {
                Hash::ZERO
            };
            if leaf.seq != size - 1 || leaf.prev != prev {
                return Err(StoreError::Corrupt(format!(
                    "leaf {} does not link to leaf {}",
                    size - 1,
                    size.wrapping_sub(2)
                )));
            }
            last_logged_at = parse_timestamp(&leaf.logged_at)
                .ok_or_else(|| StoreError::Corrupt(format!("leaf {}: bad logged_at", size - 1)))?;
        }
        Ok(Tip {
            head,
            frontier,
            last_logged_at,
        })
    }

    /// The current tree head.
    pub fn head(&self) -> HeadRecord {
        self.tip.head
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.tip.size()
    }

    /// Where the next group starts.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// The backend, for reads the log does not wrap.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, for a writer's rules on another thread. What it holds
    /// past the head (a committed group not yet installed) is for the
    /// writer only: readers go through the log.
    pub(crate) fn shared_backend(&self) -> Arc<B> {
        Arc::clone(&self.backend)
    }

    /// Closes the log and gives its backend back, if nothing else holds it.
    pub fn into_backend(self) -> Option<B> {
        Arc::into_inner(self.backend)
    }

    /// Sequences `entries` as one commit group without the rules or
    /// derived state (tests of the store itself): builds each leaf (seq,
    /// prev, `logged_at` = `now`, never before the previous leaf's), then
    /// writes them with their Merkle nodes and the new head atomically.
    /// Either every entry is in the log when this returns `Ok`, or none is.
    #[cfg(any(test, feature = "test-support"))]
    pub fn append(
        &mut self,
        entries: Vec<SignedEntry>,
        now: SystemTime,
    ) -> Result<Vec<Sequenced>, AppendError> {
        let (group, sequenced) = self.tip.group_of(entries, now)?;
        self.commit(&group)?;
        self.install(group);
        Ok(sequenced)
    }

    /// Appends leaves that are already built and chained on this log's tip,
    /// with the state writes they cause, as one atomic group, trusting
    /// both: what a node that skipped the rules would write (tests of the
    /// auditor). Only with `test-support`.
    #[cfg(any(test, feature = "test-support"))]
    pub fn append_records(
        &mut self,
        records: Vec<LeafRecord>,
        state: Vec<Write>,
        logged_at: SystemTime,
    ) -> Result<HeadRecord, StoreError> {
        let group = self.tip.prepare(records, state, logged_at);
        self.commit(&group)?;
        Ok(self.install(group))
    }

    /// Appends leaves a [`crate::ChainVerifier`] verified from this log's
    /// tip on (a restore from object storage) as one atomic group with no
    /// state writes; the derived state is rebuilt afterwards by the rules
    /// ([`crate::sequencer::reindex`]). Leaves verified from another tip
    /// are refused as [`StoreError::Stale`].
    pub fn append_verified(&mut self, leaves: VerifiedLeaves) -> Result<HeadRecord, StoreError> {
        self.append_checked(leaves, Vec::new())
    }

    /// Appends verified leaves with the state writes the rules gave them
    /// ([`crate::sequencer::follow`]): what a read mirror stores.
    pub fn append_followed(&mut self, followed: Followed) -> Result<HeadRecord, StoreError> {
        self.append_checked(followed.leaves, followed.writes)
    }

    fn append_checked(
        &mut self,
        leaves: VerifiedLeaves,
        state: Vec<Write>,
    ) -> Result<HeadRecord, StoreError> {
        let (first_seq, records) = leaves.into_parts();
        if first_seq != self.size() {
            return Err(StoreError::Stale {
                prepared_at: first_seq,
                size: self.size(),
            });
        }
        // The group's time is its last leaf's (verified: it parses).
        let logged_at = match records.last() {
            None => self.tip.last_logged_at,
            Some(r) => Leaf::from_bytes(&r.bytes)
                .ok()
                .and_then(|l| parse_timestamp(&l.logged_at))
                .ok_or_else(|| StoreError::Corrupt("a verified leaf has no time".into()))?,
        };
        let group = self.tip.prepare(records, state, logged_at);
        self.commit(&group)?;
        Ok(self.install(group))
    }

    sealed! {
        /// Writes a group prepared on this log's tip durably. Readers still
        /// see the old head until [`Log::install`]. Takes `&self`: a writer
        /// that shares the log with readers commits under a shared lock.
        /// Groups must be committed and installed one at a time, in order.
        fn commit(&self, group: &PreparedGroup) -> Result<(), StoreError> {
            if group.write.first_seq != self.size() {
                return Err(StoreError::Stale {
                    prepared_at: group.write.first_seq,
                    size: self.size(),
                });
            }
            if group.write.leaves.is_empty() && group.write.state.is_empty() {
                return Ok(());
            }
            self.backend.commit(&group.write)
        }
    }

    sealed! {
        /// Moves the head to a committed group's: from now on readers see it.
        fn install(&mut self, group: PreparedGroup) -> HeadRecord {
            assert_eq!(
                group.write.first_seq,
                self.size(),
                "groups are installed in order"
            );
            self.tip = group.tip;
            self.head()
        }
    }

    /// Where a sequential auditor of this log stands: its frontier, its last
    /// leaf hash and that leaf's `logged_at` (to verify what follows it).
    pub fn position(&self) -> Result<crate::verify::Position, StoreError> {
        let logged_at = match self.size().checked_sub(1) {
            None => None,
            Some(last) => {
                let bytes = self
                    .leaf(last)?
                    .ok_or_else(|| StoreError::Corrupt(format!("leaf {last} missing")))?;
                let leaf = crate::entry::Leaf::from_bytes(&bytes)
                    .map_err(|e| StoreError::Corrupt(format!("leaf {last}: {e}")))?;
                Some(leaf.logged_at)
            }
        };
        Ok(crate::verify::Position {
            frontier: self.tip.frontier.clone(),
            last_leaf: self.head().last_leaf,
            logged_at,
        })
    }

    /// Leaf bytes of `seq`, if it is in the log.
    pub fn leaf(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if seq >= self.size() {
            return Ok(None);
        }
        self.backend.leaf(seq)
    }

    /// Up to `limit` leaves from `start`, in seq order.
    pub fn leaves(&self, start: u64, limit: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        let end = self.size();
        self.scan(start, &mut |seq, bytes| {
            if seq >= end || out.len() >= limit {
                return false;
            }
            out.push(bytes.to_vec());
            true
        })?;
        Ok(out)
    }

    /// Streams leaves from `start` in seq order (export); see [`Backend::scan_leaves`].
    pub fn scan(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let end = self.size();
        let mut expected = start;
        let mut gap = None;
        self.backend.scan_leaves(start, &mut |seq, bytes| {
            if seq >= end {
                return false;
            }
            if seq != expected {
                gap = Some(expected);
                return false;
            }
            expected += 1;
            f(seq, bytes)
        })?;
        match gap {
            Some(seq) => Err(StoreError::Corrupt(format!("leaf {seq} missing"))),
            None => Ok(()),
        }
    }

    /// Leaf hash of `seq`.
    pub fn leaf_hash(&self, seq: u64) -> Result<Option<Hash>, StoreError> {
        if seq >= self.size() {
            return Ok(None);
        }
        Ok(Some(
            self.backend
                .read_hashes(&[tlog_tiles::stored_hash_index(0, seq)])?[0],
        ))
    }

    /// Root of the tree of the first `size` leaves, for any `size` up to now.
    pub fn root_at(&self, size: u64) -> Result<RootHash, ProveError<StoreError>> {
        self.check_size(size)?;
        merkle::root_at(&*self.backend, size)
    }

    /// Inclusion path of `seq` in the tree of `size` leaves, any `size` up to now.
    pub fn prove_inclusion(
        &self,
        seq: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ProveError<StoreError>> {
        self.check_size(size)?;
        merkle::prove_inclusion(&*self.backend, seq, size)
    }

    /// Consistency path between two sizes up to now.
    pub fn prove_consistency(
        &self,
        first: u64,
        second: u64,
    ) -> Result<Vec<Hash>, ProveError<StoreError>> {
        self.check_size(second)?;
        merkle::prove_consistency(&*self.backend, first, second)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::OutOfRange(format!(
                "size {size} > tree size {}",
                self.size()
            )));
        }
        Ok(())
    }
}
