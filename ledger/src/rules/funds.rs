//! Funds and money: `fund.open`, `fund.receive`, `fund.transfer`,
//! `disbursement` (with voucher numbers, monthly statistics, the
//! duplicate-aid alert and, under a fund's approval threshold, dual
//! control) and `fund.recover` (资金回笼, rules v2).

use super::{add, because, role, rule, schema, Cx, Detail, Stop};
use crate::body::{Disbursement, FundOpen, FundReceive, FundRecover, FundTransfer};
use crate::date::{self, Date};
use crate::domain::{Approval, Category, Index, NeedState, OrgType};
use crate::records::{AlertRec, ApprovalRec, EntryRec, FundRec, HistoryItem, StatsRec};
use crate::state::tables::{contains, read, Alerts, Funds, Histories, Orgs, Stats, Vouchers};

/// Window of the duplicate-aid alert, in days either side (SPEC §6).
const DUPLICATE_WINDOW_DAYS: i64 = 90;

/// Whether two disbursement dates (`YYYY-MM-DD`) are within the
/// duplicate-aid alert's window of each other (SPEC §6: at most 90 days
/// before or after). What the rules decide when a payment is sequenced,
/// and what an import checks before it signs one.
pub fn within_duplicate_window(a: &str, b: &str) -> bool {
    match (date::parse(a), date::parse(b)) {
        (Some(a), Some(b)) => date::days_between(a, b).abs() <= DUPLICATE_WINDOW_DAYS,
        _ => false,
    }
}

impl Cx<'_> {
    pub(super) fn fund(&self, id: &str) -> Result<FundRec, Stop> {
        read::<Funds>(self.state, id)?.ok_or_else(|| {
            because(Detail::NoFund {
                fund: id.to_owned(),
            })
        })
    }

    pub(super) fn owned_fund(&self, id: &str) -> Result<FundRec, Stop> {
        let f = self.fund(id)?;
        if f.owner != self.st.issuer {
            return Err(role(format!(
                "fund {id:?} belongs to {}; only its owner may use it",
                f.owner
            )));
        }
        Ok(f)
    }

    pub(super) fn put_fund(&mut self, f: &FundRec) {
        self.fx.set::<Funds>(&f.fund, f);
    }

    pub(super) fn fund_open(&mut self) -> Result<(), Stop> {
        let b: FundOpen = self.body()?;
        if contains::<Funds>(self.state, &b.fund)? {
            return Err(rule(format!("fund {:?} already exists", b.fund)));
        }
        if b.start > b.end {
            return Err(rule("fund start is after its end"));
        }
        self.index(Index::Fund, &b.fund);
        self.tally()?.funds += 1;
        let f = FundRec {
            fund: b.fund,
            owner: self.st.issuer.clone(),
            title: b.title,
            category: b.category,
            source: b.source,
            region: b.region,
            currency: b.currency,
            budget: b.budget,
            start: b.start,
            end: b.end,
            opened_seq: self.seq,
            received: 0,
            transferred_in: 0,
            transferred_out: 0,
            disbursed: 0,
            recovered: 0,
            pending: 0,
            balance: 0,
            receipts: 0,
            transfers_in: 0,
            transfers_out: 0,
            disbursements: 0,
            recoveries: 0,
            pending_count: 0,
            approval_threshold: b.approval_threshold,
        };
        self.put_fund(&f);
        Ok(())
    }

    /// Claims voucher number `reference` for this entry's issuer: a second
    /// use by the same organisation is refused, even of a reversed entry's.
    fn voucher(&mut self, reference: Option<&str>) -> Result<(), Stop> {
        let Some(reference) = reference else {
            return Ok(());
        };
        let key = (self.st.issuer.as_str(), reference);
        if let Some(seq) = read::<Vouchers>(self.state, key)? {
            return Err(because(Detail::DuplicateVoucher {
                issuer: self.st.issuer.clone(),
                reference: reference.to_owned(),
                seq,
            }));
        }
        self.fx.set::<Vouchers>(key, &self.seq);
        Ok(())
    }

    pub(super) fn fund_receive(&mut self) -> Result<(), Stop> {
        let b: FundReceive = self.body()?;
        let mut f = self.owned_fund(&b.fund)?;
        self.voucher(b.reference.as_deref())?;
        f.balance = add(f.balance, b.amount, "fund balance")?;
        f.received = add(f.received, b.amount, "fund receipts")?;
        f.receipts += 1;
        self.put_fund(&f);
        self.index(Index::Fund, &b.fund);
        self.index(Index::Date, &b.date);
        let rec = EntryRec {
            fund: Some(b.fund),
            amount: b.amount,
            date: Some(b.date),
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    pub(super) fn fund_transfer(&mut self) -> Result<(), Stop> {
        let b: FundTransfer = self.body()?;
        let mut from = self.owned_fund(&b.from_fund)?;
        self.voucher(b.reference.as_deref())?;
        if b.from_fund == b.to_fund {
            return Err(rule("a fund cannot transfer to itself"));
        }
        let mut to = self.fund(&b.to_fund)?;
        from.balance = super::take_from_fund(from.balance, b.amount, &b.from_fund, None)?;
        from.transferred_out = add(from.transferred_out, b.amount, "transfers out")?;
        from.transfers_out += 1;
        to.balance = add(to.balance, b.amount, "fund balance")?;
        to.transferred_in = add(to.transferred_in, b.amount, "transfers in")?;
        to.transfers_in += 1;
        self.put_fund(&from);
        self.put_fund(&to);
        self.index(Index::Fund, &b.from_fund);
        self.index(Index::Fund, &b.to_fund);
        self.index(Index::Date, &b.date);
        let rec = EntryRec {
            fund: Some(b.from_fund),
            to_fund: Some(b.to_fund),
            amount: b.amount,
            date: Some(b.date),
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    pub(super) fn disbursement(&mut self) -> Result<(), Stop> {
        let b: Disbursement = self.body()?;
        let mut f = self.owned_fund(&b.fund)?;
        self.voucher(b.reference.as_deref())?;
        if let Some(need_id) = &b.need {
            let need = self.need(need_id)?;
            if need.state != NeedState::Claimed || need.claimer.as_deref() != Some(&self.st.issuer)
            {
                return Err(because(Detail::NeedNotClaimed {
                    need: need_id.clone(),
                    issuer: self.st.issuer.clone(),
                }));
            }
            if need.beneficiary != b.beneficiary {
                return Err(because(Detail::NeedOtherBeneficiary {
                    need: need_id.clone(),
                }));
            }
        }
        f.balance = super::take_from_fund(f.balance, b.amount, &b.fund, None)?;
        let issuer = self.st.issuer.clone();
        // At or over the fund's threshold the money is reserved now and
        // counts as disbursed once a second key approves it.
        let pending = f.approval_threshold.is_some_and(|t| b.amount >= t);
        if pending {
            f.pending = add(f.pending, b.amount, "fund pending disbursements")?;
            f.pending_count += 1;
            self.tally()?.pending.add(b.amount, 1);
            self.index(Index::Pending, &f.owner);
        } else {
            f.disbursed = add(f.disbursed, b.amount, "fund disbursements")?;
            f.disbursements += 1;
            self.count_disbursement(&b.date, f.category, &b.region, &issuer, b.amount, 1)?;
        }
        self.put_fund(&f);
        let own_date = date::parse(&b.date).ok_or_else(|| schema("date"))?;
        let history_key = (b.beneficiary.as_str(), b.cause.as_str());
        let mut history = read::<Histories>(self.state, history_key)?.unwrap_or_default();
        let matches = self.duplicate_matches(&history, own_date);
        history.push(HistoryItem {
            seq: self.seq,
            issuer: issuer.clone(),
            date: b.date.clone(),
        });
        self.fx.set::<Histories>(history_key, &history);
        if !matches.is_empty() {
            let alert = AlertRec {
                seq: self.seq,
                beneficiary: b.beneficiary.clone(),
                cause: b.cause,
                date: b.date.clone(),
                issuer,
                matches,
            };
            self.fx.set::<Alerts>(self.seq, &alert);
        }
        self.index(Index::Fund, &b.fund);
        self.index_beneficiary(&b.beneficiary)?;
        self.index(Index::Date, &b.date);
        self.aided(&b.beneficiary, self.seq)?;
        let rec = EntryRec {
            fund: Some(b.fund),
            amount: b.amount,
            beneficiary: Some(b.beneficiary),
            cause: Some(b.cause),
            region: Some(b.region),
            date: Some(b.date),
            approval: pending.then(|| ApprovalRec {
                state: Approval::Pending,
                signer: self.st.key.to_string(),
                decided_seq: None,
            }),
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    /// Money back into the issuer's fund; against a paid disbursement of
    /// that fund, at most its amount in all.
    pub(super) fn fund_recover(&mut self) -> Result<(), Stop> {
        let b: FundRecover = self.body()?;
        let mut f = self.owned_fund(&b.fund)?;
        self.voucher(b.reference.as_deref())?;
        if let Some(seq) = b.disbursement {
            let mut d = self.disbursement_at(seq)?;
            if d.fund.as_deref() != Some(&b.fund) {
                return Err(rule(format!(
                    "disbursement {seq} was paid from fund {:?}, not {:?}",
                    d.fund.as_deref().unwrap_or_default(),
                    b.fund
                )));
            }
            if !d.paid() {
                let why = match &d.approval {
                    _ if d.reversed => "was reversed".to_owned(),
                    Some(a) => format!("is {}", a.state),
                    None => "was not paid".to_owned(),
                };
                return Err(rule(format!(
                    "disbursement {seq} {why}: there is nothing to recover"
                )));
            }
            let total = add(d.recovered, b.amount, "recoveries")?;
            if total > d.amount {
                return Err(rule(format!(
                    "recoveries against disbursement {seq} would total {total}, more than its amount {}",
                    d.amount
                )));
            }
            d.recovered = total;
            self.put_entry(&d);
            self.index(Index::Recovers, &seq.to_string());
        }
        f.balance = add(f.balance, b.amount, "fund balance")?;
        f.recovered = add(f.recovered, b.amount, "fund recoveries")?;
        f.recoveries += 1;
        self.put_fund(&f);
        self.tally()?.recovered.add(b.amount, 1);
        self.index(Index::Fund, &b.fund);
        self.index(Index::Date, &b.date);
        let rec = EntryRec {
            fund: Some(b.fund),
            amount: b.amount,
            date: Some(b.date),
            recovers: b.disbursement,
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    /// Of the earlier unreversed disbursements to this beneficiary for this
    /// cause (`history`, one point read), those by another org dated within
    /// the window.
    fn duplicate_matches(&self, history: &[HistoryItem], own: Date) -> Vec<u64> {
        let own = date::format(own);
        history
            .iter()
            .filter(|h| h.issuer != self.st.issuer && within_duplicate_window(&own, &h.date))
            .map(|h| h.seq)
            .collect()
    }

    /// Counts a disbursement into (`sign` +1) or out of (−1) its month's statistics.
    pub(super) fn count_disbursement(
        &mut self,
        date: &str,
        category: Category,
        region: &str,
        issuer: &str,
        amount: u64,
        sign: i8,
    ) -> Result<(), Stop> {
        let month = date.get(..7).unwrap_or_default().to_owned();
        let issuer_type = read::<Orgs>(self.state, issuer)?.map_or(OrgType::Other, |o| o.org_type);
        let mut stats = read::<Stats>(self.state, &month)?.unwrap_or_else(|| StatsRec {
            month: month.clone(),
            ..StatsRec::default()
        });
        stats.record(category, region, issuer_type, amount, sign);
        self.fx.set::<Stats>(&month, &stats);
        Ok(())
    }
}
