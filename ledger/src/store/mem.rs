//! An in-memory backend: the reference the durable store is tested against.

use super::{Backend, GroupWrite, HeadRecord, StoreError};
use crate::merkle::{Hash, HashSource};
use crate::state::{MemState, StateError, StateRead, Table, Visitor};
use std::sync::RwLock;

/// Keeps everything in `Vec`s behind a lock (commits take `&self`, as
/// RocksDB's do). Not durable; `commit` cannot fail.
#[derive(Debug, Default)]
pub struct MemBackend {
    inner: RwLock<Inner>,
}

/// A copy of everything stored (tests reopen a log over a copy).
impl Clone for MemBackend {
    fn clone(&self) -> MemBackend {
        MemBackend {
            inner: RwLock::new(self.read().clone()),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Inner {
    leaves: Vec<Vec<u8>>,
    hashes: Vec<Hash>,
    head: Option<HeadRecord>,
    state: MemState,
}

impl MemBackend {
    /// An empty store.
    pub fn new() -> MemBackend {
        MemBackend::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().expect("memory store lock")
    }
}

impl HashSource for MemBackend {
    type Error = StoreError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let inner = self.read();
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| inner.hashes.get(i).copied())
                    .ok_or_else(|| StoreError::Corrupt(format!("stored hash {i} missing")))
            })
            .collect()
    }
}

impl Backend for MemBackend {
    fn load_head(&self) -> Result<Option<HeadRecord>, StoreError> {
        Ok(self.read().head)
    }

    fn commit(&self, group: &GroupWrite) -> Result<(), StoreError> {
        let mut inner = self.inner.write().expect("memory store lock");
        debug_assert_eq!(group.first_seq as usize, inner.leaves.len());
        inner
            .leaves
            .extend(group.leaves.iter().map(|r| r.bytes.clone()));
        for &(index, h) in &group.hashes {
            // Stored hash indexes are dense and written in increasing order.
            debug_assert_eq!(index as usize, inner.hashes.len());
            inner.hashes.push(h);
        }
        inner.state.apply(&group.state);
        inner.head = Some(group.head);
        Ok(())
    }

    fn leaf(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(usize::try_from(seq)
            .ok()
            .and_then(|s| self.read().leaves.get(s).cloned()))
    }

    fn scan_leaves(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        for (i, bytes) in self.read().leaves.iter().enumerate().skip(start) {
            if !f(i as u64, bytes) {
                break;
            }
        }
        Ok(())
    }
}

impl StateRead for MemBackend {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.read().state.get(table, key)
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        self.read().state.scan(table, prefix, from, f)
    }
}
