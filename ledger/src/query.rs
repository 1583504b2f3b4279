//! Typed reads of derived state: what the node's read routes and the CLI
//! look up and list. Listings page: a page holds at most `limit` items and
//! the cursor where the next page starts (`None` when done). Index
//! listings page by seq; table listings by the key of the next record.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::domain::{Approval, Category, Index, Kind, MonitoringAlert, NeedState};
use crate::records::{
    AlertRec, CreditRec, EntryRec, FundRec, HouseholdRec, KeyRec, MonitoringAlertRec, NeedRec,
    OrgRec, RulesRec, TallyRec, Totals,
};
use crate::state::tables::{self, decode_value, index_key, index_prefix, read, Schema};
use crate::state::{seq_suffix, StateError, StateRead, Table};

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C = u64> {
    /// The items, in listing order.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next: Option<C>,
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
    let prefix = index_prefix(index, value);
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

/// The records of table `S` that `keep` accepts, in key order, from key
/// `from` (a previous page's `next`; empty for the first page).
pub fn records<S: Schema>(
    state: &dyn StateRead,
    from: &[u8],
    limit: usize,
    keep: impl Fn(&S::Value) -> bool,
) -> Result<Page<S::Value, Vec<u8>>, StateError> {
    let mut items = Vec::new();
    let mut next = None;
    state.scan(S::TABLE, b"", from, &mut |k, v| {
        let rec = decode_value::<S>(v)?;
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

/// Whether `text` contains `q`, ignoring ASCII case (an empty `q` matches).
fn mentions(text: &str, q: &str) -> bool {
    q.is_empty() || text.to_lowercase().contains(&q.to_lowercase())
}

/// Registered organisations whose id or name contains `q`, by id.
pub fn orgs(
    state: &dyn StateRead,
    q: &str,
    from: &[u8],
    limit: usize,
) -> Result<Page<OrgRec, Vec<u8>>, StateError> {
    records::<tables::Orgs>(state, from, limit, |o| {
        mentions(&o.id, q) || mentions(&o.name, q)
    })
}

/// The organisation `id`.
pub fn org(state: &dyn StateRead, id: &str) -> Result<Option<OrgRec>, StateError> {
    read::<tables::Orgs>(state, id)
}

/// Every key the organisation `id` was given, revoked ones included, in
/// the order of their hex.
pub fn org_keys(state: &dyn StateRead, id: &str) -> Result<Vec<KeyRec>, StateError> {
    let prefix = index_prefix(Index::OrgKey, id);
    let mut listed = Vec::new();
    state.scan(Table::Index, &prefix, b"", &mut |k, _| {
        // The key's hex and its separator follow the prefix.
        let hex_key = &k[prefix.len()..k.len().saturating_sub(1).max(prefix.len())];
        let key = std::str::from_utf8(hex_key)
            .ok()
            .and_then(crate::entry::PublicKey::from_hex)
            .ok_or_else(|| StateError(format!("index of {id}'s keys holds a bad key")))?;
        listed.push(key);
        Ok(ControlFlow::Continue(()))
    })?;
    let mut keys = Vec::with_capacity(listed.len());
    for key in &listed {
        keys.extend(read::<tables::Keys>(state, key)?);
    }
    Ok(keys)
}

/// Funds whose id or title contains `q`, by id.
pub fn funds(
    state: &dyn StateRead,
    q: &str,
    from: &[u8],
    limit: usize,
) -> Result<Page<FundRec, Vec<u8>>, StateError> {
    records::<tables::Funds>(state, from, limit, |f| {
        mentions(&f.fund, q) || mentions(&f.title, q)
    })
}

/// Credit-point holders (organisations and volunteer pseudonyms), by holder.
pub fn credits(
    state: &dyn StateRead,
    from: &[u8],
    limit: usize,
) -> Result<Page<CreditRec, Vec<u8>>, StateError> {
    records::<tables::Credits>(state, from, limit, |_| true)
}

/// Up to `limit` pseudonyms that begin with `prefix` (`bnf_…` among the
/// beneficiaries the ledger has seen, `vol_…` among credit holders), in
/// order: what a shortened pseudonym, as the page shows one, stands for.
pub fn pseudonyms_from(
    state: &dyn StateRead,
    prefix: &str,
    limit: usize,
) -> Result<Vec<String>, StateError> {
    let table = if prefix.starts_with("vol_") {
        Table::Credits
    } else {
        Table::Beneficiaries
    };
    let mut found = Vec::new();
    state.scan(table, prefix.as_bytes(), prefix.as_bytes(), &mut |k, _| {
        if found.len() == limit {
            return Ok(ControlFlow::Break(()));
        }
        found.push(String::from_utf8_lossy(k).into_owned());
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(found)
}

/// The fund `id`.
pub fn fund(state: &dyn StateRead, id: &str) -> Result<Option<FundRec>, StateError> {
    read::<tables::Funds>(state, id)
}

/// The credit points of `holder`.
pub fn credit(state: &dyn StateRead, holder: &str) -> Result<Option<CreditRec>, StateError> {
    read::<tables::Credits>(state, holder)
}

/// Which needs a listing shows: each given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedFilter {
    /// In this state.
    pub state: Option<NeedState>,
    /// Of this fund category.
    pub category: Option<Category>,
    /// In this region or below it: `320000` (a province) holds `321181`.
    pub region: Option<String>,
}

impl NeedFilter {
    fn keeps(&self, n: &NeedRec) -> bool {
        self.state.is_none_or(|s| s == n.state)
            && self.category.is_none_or(|c| c == n.category)
            && self
                .region
                .as_deref()
                .is_none_or(|r| region_contains(r, &n.region))
    }
}

/// Whether the region `outer` (a GB/T 2260 code) is or holds `code`: its
/// significant digits (the code without trailing `00` pairs) start `code`.
pub fn region_contains(outer: &str, code: &str) -> bool {
    let mut significant = outer;
    while significant.len() > 2 && significant.ends_with("00") {
        significant = &significant[..significant.len() - 2];
    }
    code.starts_with(significant)
}

/// Published needs that `filter` keeps, by need id.
pub fn needs(
    state: &dyn StateRead,
    filter: &NeedFilter,
    from: &[u8],
    limit: usize,
) -> Result<Page<NeedRec, Vec<u8>>, StateError> {
    records::<tables::Needs>(state, from, limit, |n| filter.keeps(n))
}

/// The ledger's counts: orgs, funds, beneficiaries, needs by state.
pub fn tally(state: &dyn StateRead) -> Result<TallyRec, StateError> {
    Ok(read::<tables::Tally>(state, ())?.unwrap_or_default())
}

/// Money over all funds, minor units. Each fund's sums are at most 2^53-1
/// (SPEC §6) but their total is not bounded: these are exact `u128`s (a
/// `u64` would pass its maximum at 2,049 funds at the bound), written to
/// JSON as plain integers of any size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Money {
    /// Received from outside the ledger (`fund.receive`, unreversed).
    pub received: u128,
    /// Moved between funds.
    pub transferred: u128,
    /// Disbursed to beneficiaries (approved, where a fund needs approval).
    pub disbursed: u128,
    /// Recovered into the funds (`fund.recover`, unreversed).
    pub recovered: u128,
    /// Reserved by disbursements waiting for approval.
    pub pending: u128,
    /// Held by the funds now.
    pub balance: u128,
}

/// Sums every fund's money (one record per fund).
pub fn money(state: &dyn StateRead) -> Result<Money, StateError> {
    let mut m = Money::default();
    state.scan(tables::Funds::TABLE, b"", b"", &mut |_, v| {
        let f = decode_value::<tables::Funds>(v)?;
        m.received += u128::from(f.received);
        m.transferred += u128::from(f.transferred_out);
        m.disbursed += u128::from(f.disbursed);
        m.recovered += u128::from(f.recovered);
        m.pending += u128::from(f.pending);
        m.balance += u128::from(f.balance);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(m)
}

/// The region one level below `parent` that holds `code`: a province's
/// city (`3211xx` → `321100`), a city's county, or with no parent the
/// province. `None` when `code` is not under `parent`.
pub fn region_child(parent: Option<&str>, code: &str) -> Option<String> {
    let digits = match parent {
        None => 2,
        Some(p) if p.len() == 6 && p.ends_with("0000") => 4,
        Some(p) if p.len() == 6 && p.ends_with("00") => 6,
        Some(_) => return None,
    };
    if parent.is_some_and(|p| !region_contains(p, code)) || code.len() != 6 {
        return None;
    }
    Some(format!("{:0<6}", &code[..digits]))
}

/// Disbursement totals by the regions one level below `parent` (all
/// provinces when `None`), from the per-county statistics.
pub fn regions(stats: &Stats, parent: Option<&str>) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for (code, t) in &stats.by_region {
        if let Some(child) = region_child(parent, code) {
            let e = out.entry(child).or_default();
            e.count += t.count;
            e.amount += t.amount;
        }
    }
    out
}

/// Duplicate aid for one cause in one county: beneficiaries helped by more
/// than one organisation for it within the window, and the money involved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Overlap {
    /// The cause.
    pub cause: String,
    /// County code of the disbursements that raised the alerts.
    pub region: String,
    /// Distinct beneficiaries with at least one alert.
    pub beneficiaries: u64,
    /// Disbursements involved (the alerting ones and their matches), each once.
    pub disbursements: u64,
    /// Their amounts, unreversed ones only (exact: a sum over funds, see
    /// [`Money`]).
    pub amount: u128,
    /// Alerts raised.
    pub alerts: u64,
}

/// The duplicate-aid figures by cause and county, from every alert (one
/// read per disbursement involved).
pub fn overlap(state: &dyn StateRead) -> Result<Vec<Overlap>, StateError> {
    use std::collections::BTreeSet;
    #[derive(Default)]
    struct Group {
        beneficiaries: BTreeSet<String>,
        seqs: BTreeSet<u64>,
        alerts: u64,
    }
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut alerts = Vec::new();
    state.scan(tables::Alerts::TABLE, b"", b"", &mut |_, v| {
        alerts.push(decode_value::<tables::Alerts>(v)?);
        Ok(ControlFlow::Continue(()))
    })?;
    let mut amounts: BTreeMap<u64, u64> = BTreeMap::new();
    for a in alerts {
        let region = entry(state, a.seq)?
            .and_then(|e| e.region)
            .unwrap_or_default();
        let g = groups
            .entry((a.cause.as_str().to_owned(), region))
            .or_default();
        g.alerts += 1;
        g.beneficiaries.insert(a.beneficiary);
        for s in std::iter::once(a.seq).chain(a.matches) {
            if g.seqs.insert(s) && !amounts.contains_key(&s) {
                let amount = entry(state, s)?
                    .filter(|e| !e.reversed)
                    .map_or(0, |e| e.amount);
                amounts.insert(s, amount);
            }
        }
    }
    Ok(groups
        .into_iter()
        .map(|((cause, region), g)| Overlap {
            cause,
            region,
            beneficiaries: g.beneficiaries.len() as u64,
            disbursements: g.seqs.len() as u64,
            amount: g.seqs.iter().map(|s| u128::from(amounts[s])).sum(),
            alerts: g.alerts,
        })
        .collect())
}

/// What later rules keep of the entry at `seq`, for the kinds they refer
/// to (money, points, assessments): whether it was corrected or reversed.
pub fn entry(state: &dyn StateRead, seq: u64) -> Result<Option<EntryRec>, StateError> {
    read::<tables::Entries>(state, seq)
}

/// The duplicate-aid alert the disbursement at `seq` raised, if any.
pub fn alert(state: &dyn StateRead, seq: u64) -> Result<Option<AlertRec>, StateError> {
    read::<tables::Alerts>(state, seq)
}

/// Duplicate-aid alerts, newest first, from seq `cursor` down.
pub fn alerts(
    state: &dyn StateRead,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page<AlertRec>, StateError> {
    let from = cursor.map(tables::Alerts::key).unwrap_or_default();
    let page = records::<tables::Alerts>(state, &from, limit, |_| true)?;
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
    /// By county code (see [`regions`] for provinces and cities).
    #[serde(skip)]
    pub by_region: BTreeMap<String, Totals>,
}

/// Sums the monthly statistics records (one per month: cheap).
pub fn stats(state: &dyn StateRead) -> Result<Stats, StateError> {
    fn merge(into: &mut BTreeMap<String, Totals>, from: BTreeMap<String, Totals>) {
        for (k, t) in from {
            let e = into.entry(k).or_default();
            e.count += t.count;
            e.amount += t.amount;
        }
    }
    let mut out = Stats::default();
    state.scan(tables::Stats::TABLE, b"", b"", &mut |_, v| {
        let m = decode_value::<tables::Stats>(v)?;
        out.total.count += m.total.count;
        out.total.amount += m.total.amount;
        out.by_month.insert(m.month, m.total);
        merge(&mut out.by_category, m.by_category);
        merge(&mut out.by_province, m.by_province);
        merge(&mut out.by_issuer_type, m.by_issuer_type);
        merge(&mut out.by_region, m.by_region);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}

/// The rules in force, their activations and the pseudonym key.
pub fn rules(state: &dyn StateRead) -> Result<RulesRec, StateError> {
    Ok(read::<tables::Rules>(state, ())?.unwrap_or_default())
}

/// The monitoring record of household `bnf`, if it was ever monitored.
pub fn household(state: &dyn StateRead, bnf: &str) -> Result<Option<HouseholdRec>, StateError> {
    read::<tables::Households>(state, bnf)
}

/// Monitoring alerts, newest first, that `keep` accepts, from key `from`
/// (a previous page's `next`).
pub fn monitoring_alerts(
    state: &dyn StateRead,
    from: &[u8],
    limit: usize,
    keep: impl Fn(&MonitoringAlertRec) -> bool,
) -> Result<Page<MonitoringAlertRec, Vec<u8>>, StateError> {
    records::<tables::Watch>(state, from, limit, keep)
}

/// Monitored households and their open alerts by county (one scan of
/// the households, one read per monitored household).
pub fn monitoring(state: &dyn StateRead) -> Result<BTreeMap<String, MonitoringCounts>, StateError> {
    let mut monitored = Vec::new();
    state.scan(Table::Households, b"", b"", &mut |_, v| {
        let h = decode_value::<tables::Households>(v)?;
        if h.monitored {
            monitored.push(h);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let mut by_region: BTreeMap<String, MonitoringCounts> = BTreeMap::new();
    for h in monitored {
        let open = open_alerts(state, &h)?;
        let counts = by_region.entry(h.region).or_default();
        counts.monitored += 1;
        for alert in open {
            match alert {
                MonitoringAlert::OverdueReview => counts.overdue_review += 1,
                MonitoringAlert::Unassisted => counts.unassisted += 1,
            }
        }
    }
    Ok(by_region)
}

/// The alerts that still stand for household `h`: its review overdue and
/// not yet made, or flagged unassisted and still without aid in this
/// monitoring period.
pub fn open_alerts(
    state: &dyn StateRead,
    h: &HouseholdRec,
) -> Result<Vec<MonitoringAlert>, StateError> {
    let mut open = Vec::new();
    if !h.monitored {
        return Ok(open);
    }
    if let Some(a) =
        read::<tables::Assists>(state, &h.beneficiary)?.filter(|a| a.period == h.period)
    {
        if a.overdue_raised.as_deref() == Some(&h.review_by) {
            open.push(MonitoringAlert::OverdueReview);
        }
        if a.unassisted_raised && a.disbursements.is_empty() {
            open.push(MonitoringAlert::Unassisted);
        }
    }
    Ok(open)
}

/// Counts of one county's monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonitoringCounts {
    /// Households monitored now.
    pub monitored: u64,
    /// Of them, with an overdue review not yet made.
    pub overdue_review: u64,
    /// Of them, flagged as monitored for over 60 days without aid.
    pub unassisted: u64,
}

/// Disbursements of `org`'s funds waiting for approval, oldest first,
/// from seq `cursor` on.
pub fn pending(
    state: &dyn StateRead,
    org: &str,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page<EntryRec>, StateError> {
    let mut items = Vec::new();
    let mut from = cursor;
    loop {
        let seqs = index_seqs(state, Index::Pending, org, from, limit)?;
        for seq in seqs.items {
            if items.len() == limit {
                return Ok(Page {
                    items,
                    next: Some(seq),
                });
            }
            if let Some(e) = entry(state, seq)?.filter(|e| {
                e.approval
                    .as_ref()
                    .is_some_and(|a| a.state == Approval::Pending)
            }) {
                items.push(e);
            }
        }
        match seqs.next {
            Some(n) => from = Some(n),
            None => return Ok(Page { items, next: None }),
        }
    }
}

/// The answer of `GET /v1/stats` over the state: the monthly records, the
/// funds' money, the tally and the rules version. A full replay's state
/// gives the node's answer at the same size (a lean one lacks the tally).
pub fn stats_answer(state: &dyn StateRead) -> Result<crate::api::StatsAnswer, StateError> {
    use crate::api::{NeedCounts, Overview, StatsAnswer, Sum};
    let sums =
        |m: BTreeMap<String, Totals>| m.into_iter().map(|(k, t)| (k, Sum::from(t))).collect();
    let stats = stats(state)?;
    let money = money(state)?;
    let tally = tally(state)?;
    Ok(StatsAnswer {
        by_category: sums(stats.by_category),
        by_issuer_type: sums(stats.by_issuer_type),
        by_month: sums(stats.by_month),
        by_province: sums(stats.by_province),
        overview: Overview {
            balance: money.balance,
            beneficiaries: tally.beneficiaries,
            disbursed: money.disbursed,
            funds: tally.funds,
            households_monitored: tally.households_monitored,
            needs: NeedCounts {
                claimed: tally.needs_claimed,
                fulfilled: tally.needs_fulfilled,
                open: tally.needs_open,
                pending: tally.needs_pending,
                rejected: tally.needs_rejected,
            },
            orgs: tally.orgs,
            pending: tally.pending.into(),
            received: money.received,
            recovered: tally.recovered.into(),
            rules_version: rules(state)?.version.number(),
            transferred: money.transferred,
        },
        total: stats.total.into(),
    })
}

/// Which money entries [`money_entries`] lists: any of the given conditions, all
/// of them at once.
#[derive(Debug, Clone, Default)]
pub struct MoneyFilter {
    /// The entry's signed `date` is this day or later (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// … and this day or earlier.
    pub to: Option<String>,
    /// Its kind (`fund.receive`, `fund.transfer`, `disbursement`,
    /// `fund.recover`).
    pub kind: Option<Kind>,
    /// Its amount is at least this (minor units).
    pub min: Option<u64>,
    /// … and at most this.
    pub max: Option<u64>,
    /// A disbursement in this region: a county, or any county of a city or
    /// province code.
    pub region: Option<String>,
    /// Signed by this organisation.
    pub issuer: Option<String>,
    /// From or to this fund.
    pub fund: Option<String>,
}

impl MoneyFilter {
    fn keeps(&self, e: &EntryRec) -> bool {
        let in_region = |want: &str| {
            e.region.as_deref().is_some_and(|r| {
                let level = if want.ends_with("0000") {
                    2
                } else if want.ends_with("00") {
                    4
                } else {
                    6
                };
                r.get(..level) == want.get(..level)
            })
        };
        self.kind.is_none_or(|k| e.kind == k)
            && self.min.is_none_or(|m| e.amount >= m)
            && self.max.is_none_or(|m| e.amount <= m)
            && self.region.as_deref().is_none_or(in_region)
            && self.issuer.as_deref().is_none_or(|o| e.issuer == o)
            && self
                .fund
                .as_deref()
                .is_none_or(|f| e.fund.as_deref() == Some(f) || e.to_fund.as_deref() == Some(f))
    }
}

/// Money entries (receipts, transfers, disbursements, recoveries) by their
/// signed date, oldest first, that `filter` keeps, from `cursor` (a
/// previous page's `next`: a date and a seq) on. At most `budget` entries
/// are looked at: a page may come back short, even empty, with a `next`
/// to go on from, so that no request reads a whole ledger.
pub fn money_entries(
    state: &dyn StateRead,
    filter: &MoneyFilter,
    cursor: Option<(String, u64)>,
    limit: usize,
    budget: usize,
) -> Result<Page<EntryRec, (String, u64)>, StateError> {
    let prefix = crate::state::key(&[crate::state::Part::Str(Index::Date.as_str())]);
    let from = match (&cursor, &filter.from) {
        (Some((date, seq)), _) => index_key(Index::Date, date, *seq),
        (None, Some(date)) => index_prefix(Index::Date, date),
        (None, None) => prefix.clone(),
    };
    let mut items = Vec::new();
    let mut next = None;
    let mut looked = 0;
    let mut failed = None;
    state.scan(Table::Index, &prefix, &from, &mut |k, _| {
        let (Some(seq), Some(date)) = (
            seq_suffix(k),
            k.get(prefix.len()..k.len().saturating_sub(9))
                .and_then(|d| std::str::from_utf8(d).ok()),
        ) else {
            return Ok(ControlFlow::Continue(()));
        };
        if filter.to.as_deref().is_some_and(|to| date > to) {
            return Ok(ControlFlow::Break(()));
        }
        if items.len() == limit || looked == budget {
            next = Some((date.to_owned(), seq));
            return Ok(ControlFlow::Break(()));
        }
        looked += 1;
        match entry(state, seq) {
            Ok(Some(e)) if filter.keeps(&e) => items.push(e),
            Ok(_) => {}
            Err(e) => {
                failed = Some(e);
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Page { items, next })
}

/// What the funds an organisation manages hold together (minor units,
/// exact: sums over funds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OwnedFunds {
    /// Funds it opened.
    pub funds: u64,
    /// Their budgets.
    pub budget: u128,
    /// Received from outside the ledger.
    pub received: u128,
    /// Disbursed (approved, unreversed).
    pub disbursed: u128,
    /// Held now.
    pub balance: u128,
}

/// Every owner's [`OwnedFunds`] (one scan of the funds).
pub fn owned_funds(state: &dyn StateRead) -> Result<BTreeMap<String, OwnedFunds>, StateError> {
    let mut out: BTreeMap<String, OwnedFunds> = BTreeMap::new();
    state.scan(tables::Funds::TABLE, b"", b"", &mut |_, v| {
        let f = decode_value::<tables::Funds>(v)?;
        let o = out.entry(f.owner.clone()).or_default();
        o.funds += 1;
        o.budget += u128::from(f.budget);
        o.received += u128::from(f.received);
        o.disbursed += u128::from(f.disbursed);
        o.balance += u128::from(f.balance);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}
