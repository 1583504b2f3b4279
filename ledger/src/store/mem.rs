//! An in-memory backend: the reference the durable store is tested against.

use super::{Backend, GroupWrite, HeadRecord, StoreError};
use crate::merkle::{Hash, HashSource};
use crate::state::{MemState, StateError, StateRead, Table};

/// Keeps everything in `Vec`s. Not durable; `commit` cannot fail.
#[derive(Debug, Default, Clone)]
pub struct MemBackend {
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
}

impl HashSource for MemBackend {
    type Error = StoreError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or_else(|| StoreError::Corrupt(format!("stored hash {i} missing")))
            })
            .collect()
    }
}

impl Backend for MemBackend {
    fn load_head(&self) -> Result<Option<HeadRecord>, StoreError> {
        Ok(self.head)
    }

    fn commit(&mut self, group: &GroupWrite<'_>) -> Result<(), StoreError> {
        debug_assert_eq!(group.first_seq as usize, self.leaves.len());
        self.leaves
            .extend(group.leaves.iter().map(|r| r.bytes.clone()));
        for &(index, h) in &group.hashes {
            // Stored hash indexes are dense and written in increasing order.
            debug_assert_eq!(index as usize, self.hashes.len());
            self.hashes.push(h);
        }
        self.state.apply(group.state);
        self.head = Some(group.head);
        Ok(())
    }

    fn leaf(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(usize::try_from(seq)
            .ok()
            .and_then(|s| self.leaves.get(s))
            .cloned())
    }

    fn scan_leaves(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        for (i, bytes) in self.leaves.iter().enumerate().skip(start) {
            if !f(i as u64, bytes) {
                break;
            }
        }
        Ok(())
    }
}

impl StateRead for MemBackend {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state.get(table, key)
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        self.state.scan(table, prefix, from, f)
    }
}
