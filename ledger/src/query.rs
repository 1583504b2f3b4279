//! Paged listings over derived state, for the node's read routes and the
//! CLI. A cursor is the seq of the next item to return; `None` means done.

use crate::state::{alert_key, key, seq_suffix, AlertRec, Part, StateError, StateRead, Table};

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in listing order.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next: Option<u64>,
}

/// Seqs of the entries in index `name` under `value` (e.g. `("fund",
/// "CHA-MED")`, `("bnf", pseudonym)`, `("org", id)`, `("kind", kind)`,
/// `("date", "2026-02-01")`, `("credit", holder)`, `("assess", subject)`),
/// oldest first, from seq `cursor` on.
pub fn index_seqs(
    state: &dyn StateRead,
    name: &str,
    value: &str,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page<u64>, StateError> {
    let prefix = key(&[Part::Str(name), Part::Str(value)]);
    let from = key(&[
        Part::Str(name),
        Part::Str(value),
        Part::Seq(cursor.unwrap_or(0)),
    ]);
    let mut items = Vec::new();
    let mut next = None;
    state.scan(Table::Index, &prefix, &from, &mut |k, _| {
        // Index keys end in the seq; the suffix after the prefix is exactly 8 bytes.
        let Some(seq) = seq_suffix(k).filter(|_| k.len() == prefix.len() + 8) else {
            return true;
        };
        if items.len() == limit {
            next = Some(seq);
            return false;
        }
        items.push(seq);
        true
    })?;
    Ok(Page { items, next })
}

/// Duplicate-aid alerts, newest first, from seq `cursor` down.
pub fn alerts(
    state: &dyn StateRead,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page<AlertRec>, StateError> {
    let from = cursor.map(alert_key).unwrap_or_default();
    let mut items = Vec::new();
    let mut next = None;
    let mut bad = None;
    state.scan(
        Table::Alerts,
        b"",
        &from,
        &mut |_, v| match crate::state::decode::<AlertRec>(Table::Alerts, v) {
            Ok(alert) if items.len() == limit => {
                next = Some(alert.seq);
                false
            }
            Ok(alert) => {
                items.push(alert);
                true
            }
            Err(e) => {
                bad = Some(StateError(format!("undecodable alert: {e}")));
                false
            }
        },
    )?;
    match bad {
        Some(e) => Err(e),
        None => Ok(Page { items, next }),
    }
}

/// Disbursement statistics over the whole ledger: by month, fund category,
/// province and issuer type (unreversed disbursements only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// All unreversed disbursements.
    pub total: crate::state::Totals,
    /// By `YYYY-MM` of their `date`.
    pub by_month: std::collections::BTreeMap<String, crate::state::Totals>,
    /// By fund category.
    pub by_category: std::collections::BTreeMap<String, crate::state::Totals>,
    /// By province code.
    pub by_province: std::collections::BTreeMap<String, crate::state::Totals>,
    /// By issuer type.
    pub by_issuer_type: std::collections::BTreeMap<String, crate::state::Totals>,
}

/// Sums the monthly statistics records (one per month: cheap).
pub fn stats(state: &dyn StateRead) -> Result<Stats, StateError> {
    fn merge(
        into: &mut std::collections::BTreeMap<String, crate::state::Totals>,
        from: std::collections::BTreeMap<String, crate::state::Totals>,
    ) {
        for (k, t) in from {
            let e = into.entry(k).or_default();
            e.count += t.count;
            e.amount = e.amount.saturating_add(t.amount);
        }
    }
    let mut out = Stats::default();
    let mut bad = None;
    state.scan(
        Table::Stats,
        b"",
        b"",
        &mut |_, v| match crate::state::decode::<crate::state::StatsRec>(Table::Stats, v) {
            Ok(m) => {
                out.total.count += m.total.count;
                out.total.amount = out.total.amount.saturating_add(m.total.amount);
                out.by_month.insert(m.month, m.total);
                merge(&mut out.by_category, m.by_category);
                merge(&mut out.by_province, m.by_province);
                merge(&mut out.by_issuer_type, m.by_issuer_type);
                true
            }
            Err(e) => {
                bad = Some(StateError(format!("undecodable stats: {e}")));
                false
            }
        },
    )?;
    match bad {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
