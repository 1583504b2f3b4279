//! Memory over a base state: [`Overlay`], the writes of one commit group
//! (or of a replay's batch) over committed state, and [`Layered`],
//! committed state seen through the writes of groups still being
//! committed.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use super::{Effects, StateError, StateRead, Table, Visitor, Write};

/// Pending writes of a commit group over committed state: each entry of a
/// group sees the effects of the ones before it.
///
/// Point reads of the base are remembered for the life of the overlay (one
/// group): the base must not change under it except by writes that equal
/// what it already shows (the sequencer's layers of groups in flight).
pub(crate) struct Overlay<'a> {
    base: &'a dyn StateRead,
    /// Pending writes, one map per table; sorted only once, at
    /// [`Overlay::into_writes`].
    pending: [FastMap<Vec<u8>>; Table::ALL.len()],
    /// Base reads, one map per table.
    read: RefCell<[FastMap<Option<Vec<u8>>>; Table::ALL.len()]>,
}

/// Keys to values with a fast hash: an ordered map cost a tenth of a
/// group's rule time in key comparisons. Seeded at random, so that keys
/// chosen by a submitter cannot be made to collide; nothing depends on the
/// maps' order ([`Overlay::into_writes`] sorts).
type FastMap<V> = HashMap<Vec<u8>, V, foldhash::fast::RandomState>;

impl<'a> Overlay<'a> {
    /// No pending writes yet.
    pub fn new(base: &'a dyn StateRead) -> Overlay<'a> {
        Overlay {
            base,
            pending: Default::default(),
            read: RefCell::default(),
        }
    }
    /// Reads `keys` of the base ahead, in one batch per table, so that the
    /// rules find them in memory (the sequencer passes the nonces and
    /// histories a group will look up).
    pub fn prefetch(&mut self, mut keys: Vec<(Table, Vec<u8>)>) -> Result<(), StateError> {
        keys.sort_unstable();
        keys.dedup();
        for batch in keys.chunk_by(|a, b| a.0 == b.0) {
            let table = batch[0].0;
            let read = &mut self.read.get_mut()[table.index()];
            let wanted: Vec<&[u8]> = batch
                .iter()
                .map(|(_, k)| &k[..])
                .filter(|k| !read.contains_key(*k))
                .collect();
            let values = self.base.get_many(table, &wanted)?;
            for (k, v) in wanted.into_iter().zip(values) {
                read.insert(k.to_vec(), v);
            }
        }
        Ok(())
    }
    /// Adds one entry's effects.
    pub fn apply(&mut self, effects: Effects) {
        for w in effects.writes {
            self.pending[w.table.index()].insert(w.key, w.value);
        }
    }
    /// The group's writes to commit: the last value of each key, sorted by
    /// table and key. A record rewritten by many entries of the group (a
    /// fund's totals, a month's statistics) is written once, and sorted
    /// keys make RocksDB's memtable inserts nearly sequential.
    pub fn into_writes(self) -> Vec<Write> {
        let mut out = Vec::with_capacity(self.pending.iter().map(HashMap::len).sum());
        for (table, writes) in Table::ALL.into_iter().zip(self.pending) {
            let first = out.len();
            out.extend(
                writes
                    .into_iter()
                    .map(|(key, value)| Write { table, key, value }),
            );
            out[first..].sort_unstable_by(|a, b| a.key.cmp(&b.key));
        }
        out
    }
}

impl StateRead for Overlay<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let mut value = None;
        self.get_with(table, key, &mut |v| value = v.map(<[u8]>::to_vec))?;
        Ok(value)
    }
    fn get_with(
        &self,
        table: Table,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        if let Some(v) = self.pending[table.index()].get(key) {
            f(Some(v));
            return Ok(());
        }
        if let Some(v) = self.read.borrow()[table.index()].get(key) {
            f(v.as_deref());
            return Ok(());
        }
        let v = self.base.get(table, key)?;
        f(v.as_deref());
        self.read.borrow_mut()[table.index()].insert(key.to_vec(), v);
        Ok(())
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        let start = prefix.max(from);
        let pending = self.pending[table.index()]
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && k.as_slice() >= start)
            .map(|(k, v)| (k.as_slice(), v.as_slice()));
        merged_scan(self.base, table, prefix, from, pending, f)
    }
}

/// Scans `base` with `above` (key, value) pairs of the same range laid over
/// it, later pairs winning. The rules scan small prefixes (one org's keys),
/// so the merge is made in memory.
pub(crate) fn merged_scan<'v>(
    base: &dyn StateRead,
    table: Table,
    prefix: &[u8],
    from: &[u8],
    above: impl Iterator<Item = (&'v [u8], &'v [u8])>,
    f: &mut Visitor<'_>,
) -> Result<(), StateError> {
    let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    base.scan(table, prefix, from, &mut |k, v| {
        merged.insert(k.to_vec(), v.to_vec());
        Ok(ControlFlow::Continue(()))
    })?;
    for (k, v) in above {
        merged.insert(k.to_vec(), v.to_vec());
    }
    for (k, v) in &merged {
        if f(k, v)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Committed state seen through the writes of commit groups not yet
/// committed (each sorted by table and key, one write per key, as
/// [`Overlay::into_writes`] gives them; oldest first): what the rules of a
/// pipelined writer read while the group before is being committed.
pub(crate) struct Layered<'a> {
    base: &'a dyn StateRead,
    layers: &'a [&'a [Write]],
}

impl<'a> Layered<'a> {
    /// `layers` over `base`, the last layer on top.
    pub fn new(base: &'a dyn StateRead, layers: &'a [&'a [Write]]) -> Layered<'a> {
        Layered { base, layers }
    }
    /// The value of `key` in the topmost layer that writes it.
    fn in_layers(&self, table: Table, key: &[u8]) -> Option<&'a [u8]> {
        self.layers.iter().rev().find_map(|layer| {
            let i = layer
                .binary_search_by(|w| (w.table, &w.key[..]).cmp(&(table, key)))
                .ok()?;
            Some(&layer[i].value[..])
        })
    }
}

impl StateRead for Layered<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.in_layers(table, key) {
            Some(v) => Ok(Some(v.to_vec())),
            None => self.base.get(table, key),
        }
    }
    fn get_with(
        &self,
        table: Table,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        match self.in_layers(table, key) {
            Some(v) => {
                f(Some(v));
                Ok(())
            }
            None => self.base.get_with(table, key, f),
        }
    }
    fn get_many(&self, table: Table, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let mut out = vec![None; keys.len()];
        let mut below = Vec::new();
        let mut below_keys = Vec::new();
        for (slot, &key) in keys.iter().enumerate() {
            match self.in_layers(table, key) {
                Some(v) => out[slot] = Some(v.to_vec()),
                None => {
                    below.push(slot);
                    below_keys.push(key);
                }
            }
        }
        for (slot, v) in below
            .into_iter()
            .zip(self.base.get_many(table, &below_keys)?)
        {
            out[slot] = v;
        }
        Ok(out)
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        let start = prefix.max(from);
        let above = self.layers.iter().flat_map(|layer| {
            let first = layer.partition_point(|w| (w.table, &w.key[..]) < (table, start));
            layer[first..]
                .iter()
                .take_while(|w| w.table == table && w.key.starts_with(prefix))
                .map(|w| (&w.key[..], &w.value[..]))
        });
        merged_scan(self.base, table, prefix, from, above, f)
    }
}
