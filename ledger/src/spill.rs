//! Replay state that stays within a memory budget whatever the ledger's
//! size, for auditors on ordinary laptops.
//!
//! Writes collect in a [`MemState`]. Once what it holds passes the budget,
//! all of it moves in one write batch into an embedded log-structured store
//! on disk ([fjall]: pure Rust, so the CLI still builds without a C++
//! toolchain), one keyspace per table, and memory starts empty again. Reads
//! look in memory first, then on disk; a record read from disk is kept in
//! memory until the next spill, so the few records read for every entry (the
//! signing key, its organisation) cost one disk read per spill, and the
//! per-entry records that are never read again (nonces, vouchers) cost none.
//! A small ledger never touches the disk: a temporary store is created at
//! the first spill.
//!
//! A persistent store (an incremental audit's state directory) records the
//! seq it holds the state before: [`SpillState::save`] writes it after
//! moving everything to disk, and the first spill of a later run marks the
//! store as being changed, so that a run that stops half-way is never taken
//! for a finished one.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::state::{MemState, StateError, StateRead, StateStore, Table, Visitor, Write};

/// Bytes a held record is counted as beyond its key and value: the map's
/// node share and the two vectors' headers, rounded up.
const OVERHEAD: usize = 80;

/// Block cache of the on-disk store: index and filter blocks and the hot
/// records' blocks.
const CACHE: u64 = 32 << 20;

/// Derived state in memory up to a budget, the rest on disk.
pub struct SpillState {
    mem: RefCell<MemState>,
    held: Cell<usize>,
    budget: usize,
    dir: PathBuf,
    persistent: bool,
    disk: Option<Disk>,
    /// A persistent store was marked as being changed.
    marked: bool,
    spills: u64,
}

struct Disk {
    db: fjall::Database,
    tables: Vec<fjall::Keyspace>,
    /// `next` → the seq a saved state is the state before (8 bytes,
    /// big-endian), or [`CHANGING`].
    meta: fjall::Keyspace,
}

const NEXT: &[u8] = b"next";
const CHANGING: &[u8] = b"changing";

/// Memtables stay small: a spill's records reach the disk in a few
/// flushes instead of sitting in memory beside the next spill's.
fn keyspace_options() -> fjall::KeyspaceCreateOptions {
    fjall::KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE)
}

/// Memtable size of each table's keyspace.
const MEMTABLE: u64 = 16 << 20;

fn io(e: fjall::Error) -> StateError {
    StateError(format!("replay state on disk: {e}"))
}

impl SpillState {
    /// Holds up to about `budget` bytes of records in memory; past that,
    /// spills to a store created in `dir` (which it removes when dropped).
    pub fn temporary(dir: &Path, budget: usize) -> SpillState {
        SpillState {
            mem: RefCell::new(MemState::new()),
            held: Cell::new(0),
            budget,
            dir: dir.to_path_buf(),
            persistent: false,
            disk: None,
            marked: false,
            spills: 0,
        }
    }

    /// The store kept in `dir`, if it holds the state before seq `next`
    /// (a [`SpillState::save`] of `next` finished there); otherwise emptied,
    /// with `false`.
    pub fn open(dir: &Path, budget: usize, next: u64) -> Result<(SpillState, bool), StateError> {
        let mut state = SpillState::temporary(dir, budget);
        state.persistent = true;
        let disk = state.open_disk()?;
        let saved = disk.meta.get(NEXT).map_err(io)?;
        let kept = saved.as_deref() == Some(&next.to_be_bytes()[..]);
        if !kept {
            for t in disk.tables.iter().chain([&disk.meta]) {
                t.clear().map_err(io)?;
            }
        }
        Ok((state, kept))
    }

    /// Moves everything to disk and records that the store holds the state
    /// before seq `next`, durably.
    pub fn save(&mut self, next: u64) -> Result<(), StateError> {
        self.spill()?;
        let disk = self.disk.as_ref().expect("a persistent store is open");
        disk.db.persist(fjall::PersistMode::SyncAll).map_err(io)?;
        disk.meta.insert(NEXT, next.to_be_bytes()).map_err(io)?;
        disk.db.persist(fjall::PersistMode::SyncAll).map_err(io)?;
        self.marked = false;
        Ok(())
    }

    /// How many times memory was moved to disk.
    pub fn spills(&self) -> u64 {
        self.spills
    }

    fn count(&self, key: &[u8], value: &[u8]) {
        self.held
            .set(self.held.get() + key.len() + value.len() + OVERHEAD);
    }

    fn open_disk(&mut self) -> Result<&Disk, StateError> {
        if self.disk.is_none() {
            let db = fjall::Database::builder(&self.dir)
                .temporary(!self.persistent)
                .manual_journal_persist(true)
                .cache_size(CACHE)
                .open()
                .map_err(io)?;
            let tables = Table::ALL
                .iter()
                .map(|t| db.keyspace(t.name(), keyspace_options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(io)?;
            let meta = db.keyspace("replay_meta", keyspace_options).map_err(io)?;
            self.disk = Some(Disk { db, tables, meta });
        }
        Ok(self.disk.as_ref().expect("opened above"))
    }

    /// Moves every table held in memory to disk, in one batch.
    fn spill(&mut self) -> Result<(), StateError> {
        let tables = std::mem::take(self.mem.get_mut()).into_tables();
        self.held.set(0);
        let mark = self.persistent && !self.marked;
        let disk = self.open_disk()?;
        if mark {
            disk.meta.insert(NEXT, CHANGING).map_err(io)?;
            disk.db.persist(fjall::PersistMode::SyncAll).map_err(io)?;
        }
        let mut batch = disk.db.batch();
        for (map, keyspace) in tables.into_iter().zip(&disk.tables) {
            for (k, v) in map {
                batch.insert(keyspace, k, v);
            }
        }
        batch.commit().map_err(io)?;
        self.marked |= mark;
        self.spills += 1;
        Ok(())
    }

    fn read_disk(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let Some(disk) = &self.disk else {
            return Ok(None);
        };
        let Some(value) = disk.tables[table.index()].get(key).map_err(io)? else {
            return Ok(None);
        };
        let value = value.to_vec();
        self.count(key, &value);
        self.mem
            .borrow_mut()
            .put(table, key.to_vec(), value.clone());
        Ok(Some(value))
    }
}

impl Drop for SpillState {
    /// A temporary store's directory goes too, even if nothing ever
    /// spilled into it (a small ledger's audit).
    fn drop(&mut self) {
        if !self.persistent {
            self.disk = None;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl StateStore for SpillState {
    fn apply(&mut self, writes: &[Write]) -> Result<(), StateError> {
        for w in writes {
            self.count(&w.key, &w.value);
        }
        self.mem.get_mut().apply(writes);
        if self.held.get() > self.budget {
            self.spill()?;
        }
        Ok(())
    }
}

impl StateRead for SpillState {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.mem.borrow().get(table, key)? {
            return Ok(Some(v));
        }
        self.read_disk(table, key)
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        let Some(disk) = &self.disk else {
            return self.mem.borrow().scan(table, prefix, from, f);
        };
        // Memory holds the newer value of a key on both sides.
        let mut held = BTreeMap::new();
        self.mem.borrow().scan(table, prefix, from, &mut |k, v| {
            held.insert(k.to_vec(), v.to_vec());
            Ok(ControlFlow::Continue(()))
        })?;
        let start = prefix.max(from).to_vec();
        let mut on_disk = disk.tables[table.index()]
            .range(start..)
            .map(|g| {
                g.into_inner()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(io)
            })
            .fuse();
        let mut held = held.into_iter().peekable();
        let mut next_disk = on_disk.next().transpose()?;
        loop {
            let disk_key = next_disk.as_ref().filter(|(k, _)| k.starts_with(prefix));
            let (k, v) = match (held.peek(), disk_key) {
                (None, None) => return Ok(()),
                (Some((hk, _)), Some((dk, _))) if dk < hk => next_disk.take().expect("peeked"),
                (Some((hk, _)), Some((dk, _))) if dk == hk => {
                    next_disk = on_disk.next().transpose()?;
                    held.next().expect("peeked")
                }
                (Some(_), _) => held.next().expect("peeked"),
                (None, Some(_)) => next_disk.take().expect("peeked"),
            };
            if next_disk.is_none() {
                next_disk = on_disk.next().transpose()?;
            }
            if f(&k, &v)?.is_break() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &[u8], value: &[u8]) -> Write {
        Write {
            table: Table::Keys,
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }

    fn get(s: &SpillState, key: &[u8]) -> Option<Vec<u8>> {
        s.get(Table::Keys, key).unwrap()
    }

    #[test]
    fn a_temporary_store_leaves_no_directory_spilled_or_not() {
        let parent = tempfile::tempdir().unwrap();
        for budget in [0, 1 << 20] {
            let dir = parent.path().join(format!("replay-{budget}"));
            std::fs::create_dir(&dir).unwrap();
            let mut s = SpillState::temporary(&dir, budget);
            s.apply(&[w(b"a", b"1")]).unwrap();
            assert_eq!(s.spills(), u64::from(budget == 0));
            drop(s);
            assert!(!dir.exists(), "budget {budget}");
        }
    }

    #[test]
    fn spilled_records_are_read_back_newest_first_and_kept_by_a_save() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, kept) = SpillState::open(dir.path(), 0, 0).unwrap();
        assert!(!kept);
        s.apply(&[w(b"a", b"1")]).unwrap();
        assert_eq!(s.spills(), 1);
        assert_eq!(get(&s, b"a").as_deref(), Some(&b"1"[..]));
        s.apply(&[w(b"a", b"2"), w(b"b", b"3")]).unwrap();
        assert_eq!(get(&s, b"a").as_deref(), Some(&b"2"[..]));
        assert_eq!(get(&s, b"c"), None);
        s.save(2).unwrap();
        drop(s);
        let (s, kept) = SpillState::open(dir.path(), 0, 2).unwrap();
        assert!(kept);
        assert_eq!(get(&s, b"a").as_deref(), Some(&b"2"[..]));
        assert_eq!(get(&s, b"b").as_deref(), Some(&b"3"[..]));
    }
}
