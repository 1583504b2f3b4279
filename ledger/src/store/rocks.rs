//! The durable backend on RocksDB.
//!
//! Column families (names in [`cf`]): `leaves` (seq, u64 big-endian → exact
//! leaf bytes), `hashes` (stored hash index, u64 big-endian → 32 bytes), `meta`
//! (`head` → [`HeadRecord`]), and one family per derived-state table
//! ([`Table::name`], `st_*`). Big-endian keys make iteration order numeric
//! order. Every write, even a single one, goes through one `WriteBatch`.

use std::path::Path;
use std::sync::RwLock;

use rocksdb::{BlockBasedOptions, ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

use super::{Backend, GroupWrite, HeadRecord, StoreError};
use crate::merkle::{Hash, HashSource};
use crate::state::{MemState, StateError, StateRead, Table, Visitor};

/// Column family names, in one place.
pub mod cf {
    /// seq → leaf bytes.
    pub const LEAVES: &str = "leaves";
    /// stored hash index → hash.
    pub const HASHES: &str = "hashes";
    /// singletons: the tree head.
    pub const META: &str = "meta";
}

const HEAD_KEY: &[u8] = b"head";
/// Most table files RocksDB keeps open at once (blob files have a cache of
/// the same size). Past it, files are closed and reopened as needed.
pub const MAX_OPEN_FILES: u64 = 512;
const FORMAT_KEY: &[u8] = b"state-format";

/// The file beside the database where each commit records the log's size:
/// a store that opens holding fewer leaves lost some (a damaged MANIFEST
/// can make RocksDB open without the table files of a flush) and is
/// refused (see [`Backend::size_floor`]).
const SIZE_FILE: &str = "aidledger-size";

/// Rows written per batch while derived state is rebuilt: bounded memory,
/// few enough writes.
const REBUILD_BATCH: usize = 10_000;

/// Version of the encoding of the derived-state tables, kept in the meta
/// column family; raised whenever a record's shape changes. 2: histories
/// hold each disbursement's seq, issuer and date; entry records leave out
/// empty fields. 3: records are postcard, not JSON; nonce records hold the
/// statement hash as 32 bytes. 4: voucher numbers. 5: kinds, roles, org
/// types, categories, sources, causes and need states are enums (one
/// varint), not strings. 6: the tally of orgs, funds, beneficiaries (and
/// the pseudonyms seen) and needs; disbursement statistics by county.
/// 7: rules versions (the rules record, households, the monitoring sweep
/// and alerts); recoveries, approvals and reviews in fund, entry and need
/// records.
pub const STATE_FORMAT: u32 = 7;

/// Stored hashes of levels ≥ [`CACHED_FROM`] (one hash per 16 leaves in
/// all: 2 bytes a leaf) are kept in memory once read or written. They never
/// change, so the cache is never stale; a proof then reads the few hashes of
/// the lowest levels from RocksDB in one batched read instead of one point
/// get per level (docs/performance.md). Caching every level above the
/// leaves cost 32 bytes a leaf, without bound.
#[derive(Default)]
struct UpperCache {
    /// `levels[l - CACHED_FROM][n]` = hash at `(l, n)`; `Hash::ZERO` = not
    /// cached.
    levels: Vec<Vec<Hash>>,
}

/// The lowest tree level [`UpperCache`] keeps.
const CACHED_FROM: u8 = 5;

impl UpperCache {
    fn get(&self, index: u64) -> Option<Hash> {
        let (level, n) = tlog_tiles::split_stored_hash_index(index);
        let h = *self
            .levels
            .get(usize::from(level.checked_sub(CACHED_FROM)?))?
            .get(usize::try_from(n).ok()?)?;
        (h != Hash::ZERO).then_some(h)
    }
    fn put(&mut self, index: u64, h: Hash) {
        let (level, n) = tlog_tiles::split_stored_hash_index(index);
        let (Some(l), Ok(n)) = (level.checked_sub(CACHED_FROM), usize::try_from(n)) else {
            return;
        };
        let l = usize::from(l);
        if self.levels.len() <= l {
            self.levels.resize_with(l + 1, Vec::new);
        }
        let row = &mut self.levels[l];
        if row.len() <= n {
            row.resize(n + 1, Hash::ZERO);
        }
        row[n] = h;
    }
}

/// A RocksDB database holding one log.
pub struct RocksBackend {
    /// `None` only while [`RocksBackend::reopen`] runs, or after it failed.
    db: RwLock<Option<DB>>,
    dir: std::path::PathBuf,
    upper: RwLock<UpperCache>,
}

impl Drop for RocksBackend {
    /// On a clean close, flush every memtable: with the WAL on, RocksDB
    /// would otherwise replay the whole WAL at the next open (seconds on a
    /// large store). Nothing depends on this for durability.
    fn drop(&mut self) {
        if self.db.get_mut().is_ok_and(|db| db.is_some()) {
            if let Err(e) = self.flush() {
                eprintln!("at close: {e}");
            }
        }
    }
}

/// The open database, for the length of one operation.
type Db<'a> = std::sync::RwLockReadGuard<'a, Option<DB>>;

fn closed() -> StoreError {
    StoreError::Io("the store is closed: it failed to reopen after a failed write".into())
}

/// Writes `batch` and fsyncs the WAL before returning: one WAL record,
/// so after a crash it is all there or not at all.
fn write_durably(db: &DB, batch: WriteBatch) -> Result<(), StoreError> {
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts).map_err(io)
}

fn cf<'d>(db: &'d DB, name: &str) -> &'d rocksdb::ColumnFamily {
    db.cf_handle(name).expect("column family created at open")
}

impl From<StoreError> for StateError {
    fn from(e: StoreError) -> StateError {
        StateError(e.to_string())
    }
}

fn io(e: rocksdb::Error) -> StoreError {
    StoreError::Io(e.into_string())
}

impl RocksBackend {
    /// Opens (creating if missing) the database in `dir`; refuses a store
    /// whose derived state is in another format than [`STATE_FORMAT`].
    pub fn open(dir: &Path) -> Result<RocksBackend, StoreError> {
        let backend = RocksBackend::open_any_format(dir)?;
        backend.check_format()?;
        Ok(backend)
    }

    /// Empties every state table and writes `state` into them, then the
    /// current format (see [`crate::sequencer::reindex`]).
    /// Starts a rebuild of the derived state: the state format is removed
    /// first, durably, so that a store whose rebuild stops half-way is
    /// refused at open until the rebuild is run again; then every state
    /// table is emptied.
    pub(crate) fn begin_rebuild(&mut self) -> Result<(), StoreError> {
        let db = self
            .db
            .get_mut()
            .expect("store lock")
            .as_mut()
            .ok_or_else(closed)?;
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf(db, cf::META), FORMAT_KEY);
        write_durably(db, batch)?;
        for t in Table::ALL {
            db.drop_cf(t.name()).map_err(io)?;
            db.create_cf(t.name(), &Options::default()).map_err(io)?;
        }
        Ok(())
    }

    /// Writes rebuilt state (not synced: [`RocksBackend::finish_rebuild`]
    /// syncs the WAL with everything before it).
    pub(super) fn write_state(&self, state: &MemState) -> Result<(), StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let mut batch = WriteBatch::default();
        for (t, k, v) in state.entries() {
            batch.put_cf(cf(db, t.name()), k, v);
            if batch.len() >= REBUILD_BATCH {
                db.write(std::mem::take(&mut batch)).map_err(io)?;
            }
        }
        db.write(batch).map_err(io)
    }

    /// Records the state format, durably: the rebuild is complete.
    pub(crate) fn finish_rebuild(&self) -> Result<(), StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(cf(db, cf::META), FORMAT_KEY, STATE_FORMAT.to_be_bytes());
        write_durably(db, batch)
    }

    pub(crate) fn open_any_format(dir: &Path) -> Result<RocksBackend, StoreError> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        // After a crash, recover every whole write batch and drop only an
        // incomplete one at the very end of the WAL: a group whose append
        // never returned. A batch whose checksum fails anywhere is damage,
        // not a torn write, and the store refuses to open, naming it.
        // (Point-in-time recovery would stop silently at the damaged batch
        // and open a shorter log: acknowledged entries gone with no error.)
        // This mode cannot tell a recycled WAL file's stale records from
        // damage, so RocksDB recycles none.
        db_opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        // A WAL file is kept until every column family with data in it has
        // flushed, and the small families (funds, orgs, meta) take a very
        // long time to fill a memtable, so the WAL would grow without bound
        // and all of it be replayed at the next open after a crash. Past
        // 512 MiB RocksDB flushes the families holding the oldest WAL.
        db_opts.set_max_total_wal_size(512 << 20);
        // A bound, so that the node can give every other descriptor to
        // connections without the store ever failing to open a file.
        db_opts.set_max_open_files(MAX_OPEN_FILES as i32);

        // Block caches are RocksDB's lock-free HyperClockCache: a group's
        // batched point reads spent a quarter of their time in the LRU
        // cache's lookups and releases.
        let mut hash_table = BlockBasedOptions::default();
        hash_table.set_bloom_filter(10.0, false);
        hash_table.set_block_cache(&rocksdb::Cache::new_hyper_clock_cache(256 << 20, 0));
        let mut hash_opts = Options::default();
        hash_opts.set_block_based_table_factory(&hash_table);
        // Hashes are random bytes: compressing them only costs time.
        hash_opts.set_compression_type(rocksdb::DBCompressionType::None);

        let mut leaf_opts = Options::default();
        // Leaf bytes go to blob files at flush (RocksDB's integrated
        // BlobDB): the LSM then holds only small references, so flushes and
        // compactions stop rewriting the leaves.
        leaf_opts.set_enable_blob_files(true);
        leaf_opts.set_min_blob_size(256);
        leaf_opts.set_compression_type(rocksdb::DBCompressionType::None);

        let mut cfs = vec![
            ColumnFamilyDescriptor::new(cf::LEAVES, leaf_opts),
            ColumnFamilyDescriptor::new(cf::HASHES, hash_opts),
            ColumnFamilyDescriptor::new(cf::META, Options::default()),
        ];
        let mut state_table = BlockBasedOptions::default();
        state_table.set_bloom_filter(10.0, false);
        state_table.set_block_cache(&rocksdb::Cache::new_hyper_clock_cache(256 << 20, 0));
        // A hash index in each data block answers a point read without the
        // binary search (the blocks stay readable in order for scans).
        state_table.set_data_block_index_type(rocksdb::DataBlockIndexType::BinaryAndHash);
        for t in Table::ALL {
            let mut opts = Options::default();
            opts.set_block_based_table_factory(&state_table);
            // Flushes and the first compaction write uncompressed: LZ4 was
            // a sixth of the flush thread's time, on two cores shared with
            // the writer. Older data, which is most of it, is compressed.
            use rocksdb::DBCompressionType::{Lz4, None as Plain};
            opts.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
            if matches!(
                t,
                Table::Nonces | Table::Histories | Table::Vouchers | Table::Beneficiaries
            ) {
                // Every entry looks up a nonce that is not there, and most
                // disbursements a history that is not in the memtable: a
                // whole-key bloom filter answers those without searching the
                // memtable's skip list.
                opts.set_memtable_whole_key_filtering(true);
                opts.set_memtable_prefix_bloom_ratio(0.05);
            }
            cfs.push(ColumnFamilyDescriptor::new(t.name(), opts));
        }
        // RocksDB's log reader hangs on one kind of damage (see logcheck).
        super::logcheck::check_logs(dir)?;
        let db = DB::open_cf_descriptors(&db_opts, dir, cfs).map_err(io)?;
        Ok(RocksBackend {
            db: RwLock::new(Some(db)),
            dir: dir.to_path_buf(),
            upper: RwLock::new(UpperCache::default()),
        })
    }

    /// Records [`STATE_FORMAT`] in a new store; refuses a store whose
    /// derived state is in another format.
    fn check_format(&self) -> Result<(), StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let meta = cf(db, cf::META);
        let found = match db.get_cf(meta, FORMAT_KEY).map_err(io)? {
            Some(v) => u32::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("state format is not 4 bytes".into()))?,
            ),
            None if db.get_pinned_cf(meta, HEAD_KEY).map_err(io)?.is_some() => 1,
            None => {
                let mut batch = WriteBatch::default();
                batch.put_cf(meta, FORMAT_KEY, STATE_FORMAT.to_be_bytes());
                return write_durably(db, batch);
            }
        };
        if found != STATE_FORMAT {
            return Err(StoreError::Format {
                found,
                wanted: STATE_FORMAT,
            });
        }
        Ok(())
    }

    /// Writes every memtable to table files; the WAL files they needed
    /// become obsolete (kept for reuse, see `open_any_format`). Done at
    /// close; durability never depends on it.
    pub fn flush(&self) -> Result<(), StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let mut names = vec![cf::LEAVES, cf::HASHES, cf::META];
        names.extend(Table::ALL.iter().map(|t| t.name()));
        for name in names {
            db.flush_cf(cf(db, name))
                .map_err(|e| StoreError::Io(format!("flushing {name}: {}", e.into_string())))?;
        }
        Ok(())
    }

    /// Records `size`, durable in the store, in [`SIZE_FILE`] beside it:
    /// replaced by a rename, not synced (a power cut may leave an older
    /// size there, never a larger one than the store holds). Best effort:
    /// the check it serves is skipped without it.
    fn mark_size(&self, size: u64) {
        let tmp = self.dir.join(format!("{SIZE_FILE}.tmp"));
        if std::fs::write(&tmp, size.to_string()).is_ok() {
            let _ = std::fs::rename(&tmp, self.dir.join(SIZE_FILE));
        }
    }

    fn db(&self) -> Db<'_> {
        self.db.read().expect("store lock")
    }

    /// Closes the database and opens it again, as a restart would: the way
    /// back after a write failed (a full disk, an I/O error), since RocksDB
    /// then refuses every later write until it is opened again. Whatever
    /// of the failed write reached the disk whole is there afterwards
    /// (the log reloads its head from the store). If the open fails, every
    /// read and write fails until a later reopen succeeds.
    pub fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.db.write().expect("store lock");
        if let Some(old) = slot.take() {
            drop(old);
        }
        let fresh = RocksBackend::open(&self.dir)?;
        *slot = fresh.db.write().expect("store lock").take();
        Ok(())
    }
}

impl HashSource for RocksBackend {
    type Error = StoreError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let mut out = vec![Hash::ZERO; indexes.len()];
        let mut missing = Vec::new();
        {
            let upper = self.upper.read().expect("hash cache lock");
            for (slot, &i) in indexes.iter().enumerate() {
                match upper.get(i) {
                    Some(h) => out[slot] = h,
                    None => missing.push(slot),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let keys: Vec<[u8; 8]> = missing
            .iter()
            .map(|&slot| indexes[slot].to_be_bytes())
            .collect();
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let values = db.batched_multi_get_cf(cf(db, cf::HASHES), &keys, false);
        let mut fresh = Vec::new();
        for (&slot, v) in missing.iter().zip(values) {
            let i = indexes[slot];
            let v = v
                .map_err(io)?
                .ok_or_else(|| StoreError::Corrupt(format!("stored hash {i} missing")))?;
            let bytes: [u8; 32] = v
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("stored hash {i} is not 32 bytes")))?;
            out[slot] = Hash::new(bytes);
            fresh.push((i, Hash::new(bytes)));
        }
        let mut upper = self.upper.write().expect("hash cache lock");
        fresh.into_iter().for_each(|(i, h)| upper.put(i, h));
        Ok(out)
    }
}

impl Backend for RocksBackend {
    fn recover(&self) -> Result<(), StoreError> {
        self.reopen()
    }

    fn size_floor(&self) -> Option<u64> {
        std::fs::read_to_string(self.dir.join(SIZE_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn load_head(&self) -> Result<Option<HeadRecord>, StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let head = db.get_pinned_cf(cf(db, cf::META), HEAD_KEY).map_err(io)?;
        head.map(|bytes| HeadRecord::from_bytes(&bytes)).transpose()
    }

    fn commit(&self, group: &GroupWrite) -> Result<(), StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        // Sized up front, so that a batch of a few MiB is not copied again
        // each time it doubles (filling it was a fifth of the committing
        // thread's profile).
        // A record in a WriteBatch: a tag byte, the column family id, the
        // key's and the value's varint lengths, then their bytes. Eight bytes
        // cover the framing of any key and value here.
        const RECORD_FRAMING: usize = 8;
        // The batch's own header: an 8-byte sequence number and a 4-byte count.
        const BATCH_HEADER: usize = 12;
        let record = |key: usize, value: usize| key + value + RECORD_FRAMING;
        let bytes = group
            .leaves
            .iter()
            .map(|r| record(8, r.bytes.len()))
            .chain(group.hashes.iter().map(|_| record(8, 32)))
            .chain(
                group
                    .state
                    .iter()
                    .map(|w| record(w.key.len(), w.value.len())),
            )
            .sum::<usize>()
            + record(HEAD_KEY.len(), HeadRecord::EMPTY.to_bytes().len())
            + BATCH_HEADER;
        let mut batch = WriteBatch::with_capacity_bytes(bytes);
        let leaves = cf(db, cf::LEAVES);
        for (i, r) in group.leaves.iter().enumerate() {
            batch.put_cf(leaves, (group.first_seq + i as u64).to_be_bytes(), &r.bytes);
        }
        let hashes = cf(db, cf::HASHES);
        for (index, h) in &group.hashes {
            batch.put_cf(hashes, index.to_be_bytes(), h.as_bytes());
        }
        for w in group.state.iter() {
            batch.put_cf(cf(db, w.table.name()), &w.key, &w.value);
        }
        batch.put_cf(cf(db, cf::META), HEAD_KEY, group.head.to_bytes());
        // Leaves, Merkle nodes, derived state and head in one batch, so
        // state never runs ahead of or behind the log.
        // sync = true: the WAL is fsynced before write returns, so a receipt
        // handed out after this call survives power loss. One batch = one
        // WAL record: after a crash it is all there or not at all.
        write_durably(db, batch)?;
        self.mark_size(group.head.root.size);
        let mut upper = self.upper.write().expect("hash cache lock");
        for &(i, h) in &group.hashes {
            upper.put(i, h);
        }
        Ok(())
    }

    fn leaf(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        db.get_cf(cf(db, cf::LEAVES), seq.to_be_bytes()).map_err(io)
    }

    fn scan_leaves(
        &self,
        start: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let mode = rocksdb::IteratorMode::From(&start.to_be_bytes(), rocksdb::Direction::Forward);
        for item in db.iterator_cf(cf(db, cf::LEAVES), mode) {
            let (key, value) = item.map_err(io)?;
            let key: [u8; 8] = key
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("leaf key is not 8 bytes".into()))?;
            if !f(u64::from_be_bytes(key), &value) {
                break;
            }
        }
        Ok(())
    }
}

fn state_err(e: rocksdb::Error) -> StateError {
    StateError(e.into_string())
}

impl StateRead for RocksBackend {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        db.get_cf(cf(db, table.name()), key).map_err(state_err)
    }
    fn get_with(
        &self,
        table: Table,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let value = db
            .get_pinned_cf(cf(db, table.name()), key)
            .map_err(state_err)?;
        f(value.as_deref());
        Ok(())
    }
    fn get_many(&self, table: Table, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let values = db
            .batched_multi_get_cf(cf(db, table.name()), keys, false)
            .into_iter()
            .map(|v| v.map(|v| v.map(|v| v.to_vec())).map_err(state_err))
            .collect();
        values
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        let guard = self.db();
        let db = guard.as_ref().ok_or_else(closed)?;
        let mode = rocksdb::IteratorMode::From(prefix.max(from), rocksdb::Direction::Forward);
        for item in db.iterator_cf(cf(db, table.name()), mode) {
            let (k, v) = item.map_err(state_err)?;
            if !k.starts_with(prefix) || f(&k, &v)?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Derived state being rebuilt into a store's (emptied) state tables: the
/// replay's writes collect in memory and go to RocksDB once they pass a
/// budget ([`REBUILD_MEMORY`] by default); reads look in memory, then in
/// the store. A rebuild of any size holds about that much.
pub(crate) struct Rebuild<'a> {
    backend: &'a RocksBackend,
    pending: MemState,
    held: usize,
    memory: usize,
}

/// Bytes of rebuilt state held before they are written, by default.
pub(crate) const REBUILD_MEMORY: usize = 256 << 20;

impl<'a> Rebuild<'a> {
    pub(crate) fn new(backend: &'a RocksBackend, memory: usize) -> Rebuild<'a> {
        Rebuild {
            backend,
            pending: MemState::new(),
            held: 0,
            memory,
        }
    }

    /// Writes what is held.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        self.backend
            .write_state(&std::mem::take(&mut self.pending))?;
        self.held = 0;
        Ok(())
    }
}

impl crate::state::StateStore for Rebuild<'_> {
    fn apply(&mut self, writes: &[crate::state::Write]) -> Result<(), StateError> {
        self.held += writes
            .iter()
            .map(|w| w.key.len() + w.value.len() + 80)
            .sum::<usize>();
        self.pending.apply(writes);
        if self.held > self.memory {
            self.flush().map_err(|e| StateError(e.to_string()))?;
        }
        Ok(())
    }
}

impl StateRead for Rebuild<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.pending.get(table, key)? {
            Some(v) => Ok(Some(v)),
            None => self.backend.get(table, key),
        }
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        // The rules read by key; a scan (none today) merges both sides.
        let mut held = Vec::new();
        self.pending.scan(table, prefix, from, &mut |k, v| {
            held.push((k.to_vec(), v.to_vec()));
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
        let above = held.iter().map(|(k, v)| (&k[..], &v[..]));
        crate::state::merged_scan(self.backend, table, prefix, from, above, f)
    }
}
