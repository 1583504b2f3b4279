//! Derived state: a key-value map in named tables, a pure function of the
//! leaves in order (SPEC §6). [`crate::rules::apply`] reads it through
//! [`StateRead`] and returns the writes an entry causes as [`Effects`]; the
//! store writes them in the same commit as the leaf, and a replay from seq 0
//! into an empty [`MemState`] reproduces every table byte for byte.
//!
//! Each table's key and record are defined once, in [`tables`]: keys are
//! text parts joined with `0x1f` ([`key`]), with seqs as 8-byte big-endian
//! so that iteration order is seq order; values are the tables' records as
//! [`encode`] writes them.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The tables of derived state. In RocksDB each is a column family named
/// [`Table::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// org id → [`OrgRec`].
    Orgs,
    /// public key (32 bytes) → [`KeyRec`].
    Keys,
    /// fund id → [`FundRec`].
    Funds,
    /// issuer, nonce → [`NonceRec`].
    Nonces,
    /// holder → [`CreditRec`].
    Credits,
    /// need id → [`NeedRec`].
    Needs,
    /// seq → [`EntryRec`] for entries later rules refer to.
    Entries,
    /// [`alert_key`] (inverted seq) → [`AlertRec`].
    Alerts,
    /// index name, value, seq → empty: entries by org, fund, beneficiary, kind, date, …
    Index,
    /// beneficiary, cause → [`HistoryItem`]s of its unreversed
    /// disbursements: the duplicate-aid check reads this one record instead
    /// of scanning an index and reading each earlier entry.
    Histories,
    /// month (`YYYY-MM`) → [`StatsRec`]: disbursement totals for `/v1/stats`.
    Stats,
    /// issuer, voucher number (`ref`) → the seq that used it (a `u64`).
    Vouchers,
    /// `ledger` → [`TallyRec`]: counts over the whole ledger (orgs, funds,
    /// beneficiaries, needs by state) for the public page's overview.
    Tally,
    /// beneficiary pseudonym → the seq that first named it (a `u64`): one
    /// point read tells the tally whether a pseudonym is new.
    Beneficiaries,
    /// `rules` → [`RulesRec`](crate::records::RulesRec): the rules version
    /// in force and the pseudonym key.
    Rules,
    /// beneficiary pseudonym → [`HouseholdRec`](crate::records::HouseholdRec).
    Households,
    /// due date, alert, beneficiary, period → empty: the monitoring
    /// alerts' index by the day they fall due.
    Due,
    /// `sweep` → [`SweepRec`](crate::records::SweepRec): how far the due
    /// dates were looked at.
    Sweep,
    /// beneficiary pseudonym → [`AssistRec`](crate::records::AssistRec):
    /// a monitored household's aid and raised alerts.
    Assists,
    /// inverted seq, inverted number → [`MonitoringAlertRec`](crate::records::MonitoringAlertRec).
    Watch,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 20] = [
        Table::Orgs,
        Table::Keys,
        Table::Funds,
        Table::Nonces,
        Table::Credits,
        Table::Needs,
        Table::Entries,
        Table::Alerts,
        Table::Index,
        Table::Histories,
        Table::Stats,
        Table::Vouchers,
        Table::Tally,
        Table::Beneficiaries,
        Table::Rules,
        Table::Households,
        Table::Due,
        Table::Sweep,
        Table::Assists,
        Table::Watch,
    ];

    /// Its place in [`Table::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Column family name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Orgs => "st_orgs",
            Table::Keys => "st_keys",
            Table::Funds => "st_funds",
            Table::Nonces => "st_nonces",
            Table::Credits => "st_credits",
            Table::Needs => "st_needs",
            Table::Entries => "st_entries",
            Table::Alerts => "st_alerts",
            Table::Index => "st_index",
            Table::Histories => "st_histories",
            Table::Stats => "st_stats",
            Table::Vouchers => "st_vouchers",
            Table::Tally => "st_tally",
            Table::Beneficiaries => "st_beneficiaries",
            Table::Rules => "st_rules",
            Table::Households => "st_households",
            Table::Due => "st_due",
            Table::Sweep => "st_sweep",
            Table::Assists => "st_assists",
            Table::Watch => "st_watch",
        }
    }

    /// Whether the rules decide with this table: an auditor's lean replay
    /// keeps only these. The others hold what is derived for readers (the
    /// query indexes, alerts, the duplicate-aid histories, the tally, the
    /// monitoring sweep), which never refuses an entry.
    pub fn decides(self) -> bool {
        !matches!(
            self,
            Table::Index
                | Table::Alerts
                | Table::Histories
                | Table::Tally
                | Table::Beneficiaries
                | Table::Due
                | Table::Sweep
                | Table::Assists
                | Table::Watch
        )
    }
}

/// Separator between key parts (ASCII unit separator: no id contains it).
pub(crate) const SEP: u8 = 0x1f;

/// One part of a key.
pub(crate) enum Part<'a> {
    /// Text (ids, names).
    Str(&'a str),
    /// A seq, big-endian.
    Seq(u64),
}

/// Joins parts into a key; every text part is followed by [`SEP`] so that a
/// prefix of parts is a prefix of keys and `ab` never matches `a`.
pub(crate) fn key(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for p in parts {
        match p {
            Part::Str(s) => {
                out.extend_from_slice(s.as_bytes());
                out.push(SEP);
            }
            Part::Seq(n) => out.extend_from_slice(&n.to_be_bytes()),
        }
    }
    out
}

/// The seq at the end of an index key.
pub(crate) fn seq_suffix(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// A storage failure underneath the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state storage: {0}")]
pub struct StateError(pub String);

/// What a scan calls with each `(key, value)`: `Continue` for the next,
/// `Break` to stop, or an error (a record it cannot decode) that the scan
/// returns.
pub type Visitor<'f> = dyn FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>, StateError> + 'f;

/// Read access to derived state.
pub trait StateRead {
    /// The value at `key` in `table`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Calls `f` with the value at `key` in `table`, borrowed where the
    /// state holds it (no copy for a record the rules decode at once).
    fn get_with(
        &self,
        table: Table,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        f(self.get(table, key)?.as_deref());
        Ok(())
    }
    /// The values at `keys` in `table`, in order: one batched read where
    /// the store has one.
    fn get_many(&self, table: Table, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        keys.iter().map(|k| self.get(table, k)).collect()
    }
    /// Calls `f(key, value)` for keys that start with `prefix` and are not
    /// below `from` (paging), in key order, until it breaks; an error of
    /// `f` ends the scan and is returned.
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError>;
}

/// State a replay writes to: in memory ([`MemState`]) or, for auditors of
/// large ledgers, within a memory budget (`spill::SpillState`).
pub trait StateStore: StateRead + Send {
    /// Applies an entry's writes, in order.
    fn apply(&mut self, writes: &[Write]) -> Result<(), StateError>;
}

impl StateStore for MemState {
    fn apply(&mut self, writes: &[Write]) -> Result<(), StateError> {
        MemState::apply(self, writes);
        Ok(())
    }
}

/// The stored bytes of a record: postcard, a compact serde encoding (field
/// order, varint integers, no field names). Deterministic, so a replay
/// reproduces the store byte for byte.
pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    postcard::to_allocvec(record).expect("state records serialise")
}

/// Decodes a record of `table` stored by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(table: Table, bytes: &[u8]) -> Result<T, StateError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StateError(format!("undecodable {} record: {e}", table.name())))
}

/// One write to state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Which table.
    pub table: Table,
    /// Key; never empty: every key names something the schemas require to
    /// be non-empty (and fjall, under an auditor's spilling state, refuses
    /// an empty key).
    pub key: Vec<u8>,
    /// New value (state is only ever set, never deleted).
    pub value: Vec<u8>,
}

/// The writes one entry causes, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// The writes.
    pub writes: Vec<Write>,
}

impl Effects {
    /// Sets `k` in table `S` to `record`.
    pub fn set<S: tables::Schema>(&mut self, k: S::Key<'_>, record: &S::Value) {
        self.writes.push(tables::write::<S>(k, record));
    }
    /// Adds an index entry (empty value).
    pub fn index(&mut self, key: Vec<u8>) {
        self.writes.push(Write {
            table: Table::Index,
            key,
            value: Vec::new(),
        });
    }
}

/// Derived state held in memory: tests, replaying auditors, the in-memory
/// store, a commit group's pending writes. One ordered map per table, in
/// [`Table::ALL`] order, so that a point read borrows its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemState {
    tables: [BTreeMap<Vec<u8>, Vec<u8>>; Table::ALL.len()],
}

impl MemState {
    /// Empty state.
    pub fn new() -> MemState {
        MemState::default()
    }
    /// Applies writes.
    pub fn apply(&mut self, effects: &[Write]) {
        for w in effects {
            self.put(w.table, w.key.clone(), w.value.clone());
        }
    }
    pub(crate) fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.tables[table.index()].insert(key, value);
    }
    /// Its tables, in [`Table::ALL`] order.
    #[cfg(feature = "spill")]
    pub(crate) fn into_tables(self) -> [BTreeMap<Vec<u8>, Vec<u8>>; Table::ALL.len()] {
        self.tables
    }
    /// Every `(table, key, value)` in order, for byte-for-byte comparisons.
    pub fn entries(&self) -> impl Iterator<Item = (Table, &[u8], &[u8])> {
        Table::ALL.into_iter().flat_map(move |t| {
            self.tables[t.index()]
                .iter()
                .map(move |(k, v)| (t, k.as_slice(), v.as_slice()))
        })
    }

    /// Keys of `table` that start with `prefix` and are not below `from`, in order.
    fn range<'m>(
        &'m self,
        table: Table,
        prefix: &'m [u8],
        from: &[u8],
    ) -> impl Iterator<Item = (&'m [u8], &'m [u8])> {
        let start: &[u8] = prefix.max(from);
        self.tables[table.index()]
            .range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }
}

impl StateRead for MemState {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.tables[table.index()].get(key).cloned())
    }
    fn get_with(
        &self,
        table: Table,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        f(self.tables[table.index()].get(key).map(Vec::as_slice));
        Ok(())
    }
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        from: &[u8],
        f: &mut Visitor<'_>,
    ) -> Result<(), StateError> {
        for (k, v) in self.range(table, prefix, from) {
            if f(k, v)?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod conformance;
mod overlay;
pub mod tables;

pub(crate) use overlay::{merged_scan, Layered, Overlay};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (key, value) a scan of `state` gives.
    fn scan_all(
        state: &dyn StateRead,
        table: Table,
        prefix: &[u8],
        from: &[u8],
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut seen = Vec::new();
        state
            .scan(table, prefix, from, &mut |k, v| {
                seen.push((k.to_vec(), v.to_vec()));
                Ok(ControlFlow::Continue(()))
            })
            .unwrap();
        seen
    }

    fn put(table: Table, key: &str, value: &str) -> Write {
        Write {
            table,
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    /// An overlay shows its pending writes over the base (the last write
    /// of a key winning) in point reads and scans alike, and gives them
    /// back once each, sorted by table and key.
    #[test]
    fn overlay_reads_through_and_sorts_its_writes() {
        let mut base = MemState::new();
        base.apply(&[
            put(Table::Index, "a1", "base"),
            put(Table::Index, "a3", "base"),
            put(Table::Index, "b1", "base"),
        ]);
        let mut overlay = Overlay::new(&base);
        for w in [
            put(Table::Stats, "m", "1"),
            put(Table::Index, "a3", "first"),
            put(Table::Index, "a2", "new"),
            put(Table::Index, "a3", "last"),
            put(Table::Funds, "f", "x"),
        ] {
            overlay.apply(Effects { writes: vec![w] });
        }
        let get = |k: &str| overlay.get(Table::Index, k.as_bytes()).unwrap();
        assert_eq!(get("a1").as_deref(), Some(&b"base"[..]));
        assert_eq!(get("a3").as_deref(), Some(&b"last"[..]));
        assert_eq!(get("zz"), None);
        let seen = scan_all(&overlay, Table::Index, b"a", b"a2");
        let pair = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        assert_eq!(seen, [pair("a2", "new"), pair("a3", "last")]);
        assert_eq!(
            overlay.into_writes(),
            [
                put(Table::Funds, "f", "x"),
                put(Table::Index, "a2", "new"),
                put(Table::Index, "a3", "last"),
                put(Table::Stats, "m", "1"),
            ]
        );
    }

    /// `MemState` keeps table `t` at `t.index()` and lists tables in
    /// `Table::ALL` order: that order must be the tables' own, so that a
    /// group's writes come out sorted by (table, key).
    #[test]
    fn tables_are_listed_in_their_order() {
        for (i, t) in Table::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i);
        }
        assert!(Table::ALL.is_sorted());
    }

    fn w(table: Table, key: &[u8], value: &[u8]) -> Write {
        Write {
            table,
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn layers_lie_over_the_base_newest_on_top() {
        let mut base = MemState::new();
        base.apply(&[
            w(Table::Index, b"a1", b"base"),
            w(Table::Index, b"a3", b"base"),
        ]);
        let older = [
            w(Table::Funds, b"a2", b"fund"),
            w(Table::Index, b"a1", b"older"),
        ];
        let newer = [
            w(Table::Index, b"a1", b"newer"),
            w(Table::Index, b"a2", b"newer"),
        ];
        let layers: [&[Write]; 2] = [&older, &newer];
        let state = Layered::new(&base, &layers);
        assert_eq!(state.get(Table::Index, b"a1").unwrap().unwrap(), b"newer");
        assert_eq!(state.get(Table::Index, b"a3").unwrap().unwrap(), b"base");
        assert_eq!(state.get(Table::Funds, b"a2").unwrap().unwrap(), b"fund");
        assert_eq!(state.get(Table::Funds, b"a1").unwrap(), None);
        let seen = scan_all(&state, Table::Index, b"a", b"a2");
        assert_eq!(
            seen,
            [
                (b"a2".to_vec(), b"newer".to_vec()),
                (b"a3".to_vec(), b"base".to_vec())
            ]
        );
        // A batched read gives what one read per key gives, in order.
        let keys: [&[u8]; 4] = [b"a3", b"a9", b"a1", b"a2"];
        let one_by_one: Vec<_> = keys
            .iter()
            .map(|k| state.get(Table::Index, k).unwrap())
            .collect();
        assert_eq!(state.get_many(Table::Index, &keys).unwrap(), one_by_one);
    }

    /// A group's overlay shows its own writes over what it read or fetched
    /// ahead of the base, and commits only its writes.
    #[test]
    fn an_overlay_reads_ahead_and_keeps_its_writes_on_top() {
        let mut base = MemState::new();
        base.apply(&[
            w(Table::Nonces, b"n1", b"used"),
            w(Table::Histories, b"h", b"[]"),
        ]);
        let mut overlay = Overlay::new(&base);
        overlay
            .prefetch(vec![
                (Table::Nonces, b"n2".to_vec()),
                (Table::Histories, b"h".to_vec()),
                (Table::Nonces, b"n1".to_vec()),
                (Table::Nonces, b"n2".to_vec()),
            ])
            .unwrap();
        assert_eq!(overlay.get(Table::Nonces, b"n1").unwrap().unwrap(), b"used");
        assert_eq!(overlay.get(Table::Nonces, b"n2").unwrap(), None);
        let mut effects = Effects::default();
        effects.writes.push(w(Table::Nonces, b"n2", b"new"));
        effects.writes.push(w(Table::Histories, b"h", b"[1]"));
        overlay.apply(effects);
        assert_eq!(overlay.get(Table::Nonces, b"n2").unwrap().unwrap(), b"new");
        assert_eq!(
            overlay.get(Table::Histories, b"h").unwrap().unwrap(),
            b"[1]"
        );
        assert_eq!(
            overlay.into_writes(),
            [
                w(Table::Nonces, b"n2", b"new"),
                w(Table::Histories, b"h", b"[1]")
            ]
        );
    }
}
