//! Typed reads of derived state: what the node's read routes and the CLI
//! look up and list. Listings page: a page holds at most `limit` items and
//! the cursor where the next page starts (`None` when done). Index
//! listings page by seq; table listings by the key of the next record.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::de::DeserializeOwned;

use crate::domain::{Index, NeedState};
use crate::records::{
    AlertRec, CreditRec, EntryRec, FundRec, KeyRec, NeedRec, OrgRec, StatsRec, Totals,
};
use crate::state::{alert_key, decode, get, key, seq_suffix, Part, StateError, StateRead, Table};

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C = u64> {
    /// The items, in listing order.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next: Option<C>,
}

/// Key of the entry at `seq` in `index` under `value`: the index's
/// name, the value, the seq (big-endian, so a scan lists oldest first).
pub fn index_key(index: Index, value: &str, seq: u64) -> Vec<u8> {
    key(&[Part::Str(index.as_str()), Part::Str(value), Part::Seq(seq)])
}

/// Seqs of the entries in `index` under `value` (a fund id, a pseudonym,
/// an org id, a kind, a date, a credit holder, an assessment subject),
/// oldest first, from seq `cursor` on.
pub fn index_seqs(
    state: &dyn StateRead,
    index: Index,
    value: &str,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page<u64>, StateError> {
    let prefix = key(&[Part::Str(index.as_str()), Part::Str(value)]);
    let from = index_key(index, value, cursor.unwrap_or(0));
    let mut items = Vec::new();
    let mut next = None;
    state.scan(Table::Index, &prefix, &from, &mut |k, _| {
        // Index keys end in the seq; the suffix after the prefix is exactly 8 bytes.
        let Some(seq) = seq_suffix(k).filter(|_| k.len() == prefix.len() + 8) else {
            return Ok(ControlFlow::Continue(()));
        };
        if items.len() == limit {
            next = Some(seq);
            return Ok(ControlFlow::Break(()));
        }
        items.push(seq);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(Page { items, next })
}

/// The records of `table` that `keep` accepts, in key order, from key
/// `from` (a previous page's `next`; empty for the first page).
pub fn records<T: DeserializeOwned>(
    state: &dyn StateRead,
    table: Table,
    from: &[u8],
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Result<Page<T, Vec<u8>>, StateError> {
    let mut items = Vec::new();
    let mut next = None;
    state.scan(table, b"", from, &mut |k, v| {
        let rec = decode::<T>(table, v)?;
        if items.len() == limit {
            next = Some(k.to_vec());
            return Ok(ControlFlow::Break(()));
        }
        if keep(&rec) {
            items.push(rec);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(Page { items, next })
}

/// Registered organisations, by id.
pub fn orgs(
    state: &dyn StateRead,
    from: &[u8],
    limit: usize,
) -> Result<Page<OrgRec, Vec<u8>>, StateError> {
    records(state, Table::Orgs, from, limit, |_| true)
}

/// The organisation `id`.
pub fn org(state: &dyn StateRead, id: &str) -> Result<Option<OrgRec>, StateError> {
    get(state, Table::Orgs, id.as_bytes())
}

/// Every key the organisation `id` was given, revoked ones included, in
/// the order of their hex.
pub fn org_keys(state: &dyn StateRead, id: &str) -> Result<Vec<KeyRec>, StateError> {
    let prefix = key(&[Part::Str(Index::OrgKey.as_str()), Part::Str(id)]);
    let mut raw_keys = Vec::new();
    state.scan(Table::Index, &prefix, b"", &mut |k, _| {
        // The key's hex and its separator follow the prefix.
        let hex_key = &k[prefix.len()..k.len().saturating_sub(1).max(prefix.len())];
        let raw = hex::decode(hex_key)
            .map_err(|_| StateError(format!("index of {id}'s keys holds a bad key")))?;
        raw_keys.push(raw);
        Ok(ControlFlow::Continue(()))
    })?;
    let mut keys = Vec::with_capacity(raw_keys.len());
    for raw in raw_keys {
        keys.extend(get::<KeyRec>(state, Table::Keys, &raw)?);
    }
    Ok(keys)
}

/// Funds, by id.
pub fn funds(
    state: &dyn StateRead,
    from: &[u8],
    limit: usize,
) -> Result<Page<FundRec, Vec<u8>>, StateError> {
    records(state, Table::Funds, from, limit, |_| true)
}

/// The fund `id`.
pub fn fund(state: &dyn StateRead, id: &str) -> Result<Option<FundRec>, StateError> {
    get(state, Table::Funds, id.as_bytes())
}

/// The credit points of `holder`.
pub fn credit(state: &dyn StateRead, holder: &str) -> Result<Option<CreditRec>, StateError> {
    get(state, Table::Credits, holder.as_bytes())
}

/// Published needs (those in state `wanted`, or all), by need id.
pub fn needs(
    state: &dyn StateRead,
    wanted: Option<NeedState>,
    from: &[u8],
    limit: usize,
) -> Result<Page<NeedRec, Vec<u8>>, StateError> {
    records(state, Table::Needs, from, limit, |n: &NeedRec| {
        wanted.is_none_or(|w| w == n.state)
    })
}

/// What later rules keep of the entry at `seq`, for the kinds they refer
/// to (money, points, assessments): whether it was corrected or reversed.
pub fn entry(state: &dyn StateRead, seq: u64) -> Result<Option<EntryRec>, StateError> {
    get(state, Table::Entries, &seq.to_be_bytes())
}

/// The duplicate-aid alert the disbursement at `seq` raised, if any.
pub fn alert(state: &dyn StateRead, seq: u64) -> Result<Option<AlertRec>, StateError> {
    get(state, Table::Alerts, &alert_key(seq))
}

/// Duplicate-aid alerts, newest first, from seq `cursor` down.
pub fn alerts(
    state: &dyn StateRead,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page<AlertRec>, StateError> {
    let from = cursor.map(alert_key).unwrap_or_default();
    let page = records::<AlertRec>(state, Table::Alerts, &from, limit, |_| true)?;
    let next = page
        .next
        .as_deref()
        .and_then(seq_suffix)
        .map(|inverted| u64::MAX - inverted);
    Ok(Page {
        items: page.items,
        next,
    })
}

/// Disbursement statistics over the whole ledger: by month, fund category,
/// province and issuer type (unreversed disbursements only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// All unreversed disbursements.
    pub total: Totals,
    /// By `YYYY-MM` of their `date`.
    pub by_month: BTreeMap<String, Totals>,
    /// By fund category.
    pub by_category: BTreeMap<String, Totals>,
    /// By province code.
    pub by_province: BTreeMap<String, Totals>,
    /// By issuer type.
    pub by_issuer_type: BTreeMap<String, Totals>,
}

/// Sums the monthly statistics records (one per month: cheap).
pub fn stats(state: &dyn StateRead) -> Result<Stats, StateError> {
    fn merge(into: &mut BTreeMap<String, Totals>, from: BTreeMap<String, Totals>) {
        for (k, t) in from {
            let e = into.entry(k).or_default();
            e.count += t.count;
            e.amount = e.amount.saturating_add(t.amount);
        }
    }
    let mut out = Stats::default();
    state.scan(Table::Stats, b"", b"", &mut |_, v| {
        let m = decode::<StatsRec>(Table::Stats, v)?;
        out.total.count += m.total.count;
        out.total.amount = out.total.amount.saturating_add(m.total.amount);
        out.by_month.insert(m.month, m.total);
        merge(&mut out.by_category, m.by_category);
        merge(&mut out.by_province, m.by_province);
        merge(&mut out.by_issuer_type, m.by_issuer_type);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}
