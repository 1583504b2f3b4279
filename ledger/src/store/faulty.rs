//! A backend that fails on demand, for tests of what the writer, the log
//! and the replay do when storage fails: a commit that does not happen,
//! reads of leaves, hashes or state that error.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::{Backend, GroupWrite, HeadRecord, StoreError};
use crate::merkle::{Hash, HashSource};
use crate::state::{StateError, StateRead, Table, Visitor};

/// Which operations of a [`Faulty`] backend fail. Shared with the test
/// that arms it while the backend is in use.
#[derive(Debug)]
pub struct Faults {
    /// Commits to let through before one fails (`u64::MAX`: none fails).
    commits_before_failure: AtomicU64,
    /// Commits written so far.
    commits: AtomicU64,
    /// Whether every read fails.
    reads: AtomicBool,
}

impl Faults {
    /// No failures.
    pub fn none() -> Arc<Faults> {
        Arc::new(Faults {
            commits_before_failure: AtomicU64::new(u64::MAX),
            commits: AtomicU64::new(0),
            reads: AtomicBool::new(false),
        })
    }

    /// The commit after the next `n` fails, once; later ones succeed.
    pub fn fail_commit_after(&self, n: u64) {
        self.commits_before_failure.store(n, Ordering::SeqCst);
    }

    /// Makes every read of leaves, hashes and state fail (or succeed again).
    pub fn fail_reads(&self, on: bool) {
        self.reads.store(on, Ordering::SeqCst);
    }

    /// Commits written so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    fn read(&self) -> Result<(), String> {
        if self.reads.load(Ordering::SeqCst) {
            Err("injected read failure".into())
        } else {
            Ok(())
        }
    }
}

/// `B` with the failures armed in its [`Faults`].
pub struct Faulty<B> {
    inner: B,
    faults: Arc<Faults>,
}

impl<B: Backend> Faulty<B> {
    /// Wraps `inner`; `faults` arms the failures.
    pub fn new(inner: B, faults: Arc<Faults>) -> Faulty<B> {
        Faulty { inner, faults }
    }
}

impl<B: Backend> HashSource for Faulty<B> {
    type Error = StoreError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.faults.read().map_err(StoreError::Io)?;
        self.inner.read_hashes(indexes)
    }
}

impl<B: Backend> StateRead for Faulty<B> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.faults.read().map_err(StateError)?;
        self.inner.get(table, key)
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        self.faults.read().map_err(StateError)?;
        self.inner.scan(table, prefix, from, f)
    }
}

impl<B: Backend> Backend for Faulty<B> {
    fn load_head(&self) -> Result<Option<HeadRecord>, StoreError> {
        self.inner.load_head()
    }
    fn commit(&self, group: &GroupWrite) -> Result<(), StoreError> {
        let armed = self.faults.commits_before_failure.fetch_update(
            Ordering::SeqCst,
            Ordering::SeqCst,
            |n| match n {
                u64::MAX => None,
                0 => Some(u64::MAX),
                n => Some(n - 1),
            },
        );
        if armed == Ok(0) {
            return Err(StoreError::Io("injected commit failure".into()));
        }
        self.inner.commit(group)?;
        self.faults.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn leaf(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.faults.read().map_err(StoreError::Io)?;
        self.inner.leaf(seq)
    }
    fn scan_leaves(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.faults.read().map_err(StoreError::Io)?;
        self.inner.scan_leaves(start, f)
    }
}
