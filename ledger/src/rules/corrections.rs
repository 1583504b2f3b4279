//! `correction`: amending an earlier entry, and with `reverse` undoing its
//! money or points.

use super::{add, role, rule, Cx, Stop};
use crate::body::Correction;
use crate::domain::{Approval, Index, Kind, Role};
use crate::records::EntryRec;
use crate::state::tables::{read, Credits};

impl Cx<'_> {
    pub(super) fn correction(&mut self) -> Result<(), Stop> {
        let b: Correction = self.body()?;
        let target = if b.target < self.seq {
            self.entry(b.target)?
        } else {
            None
        };
        let mut t =
            target.ok_or_else(|| rule(format!("seq {} is not a correctable entry", b.target)))?;
        // The target's own org with the role its kind needs, or a registrar.
        let own_role = t.kind.role().filter(|_| self.st.issuer == t.issuer);
        if !own_role.is_some_and(|r| self.has_role(r)) && !self.has_role(Role::Registrar) {
            let who = match t.kind.role() {
                Some(r) => format!("a key of {} with role {r}, or a registrar", t.issuer),
                None => "a registrar".to_owned(),
            };
            return Err(role(format!(
                "a correction of seq {} needs {who}",
                b.target
            )));
        }
        if let Some(by) = t.corrected_by {
            return Err(rule(format!(
                "seq {} was already corrected at seq {by}",
                b.target
            )));
        }
        if let Some(a) = t
            .approval
            .as_ref()
            .filter(|a| a.state != Approval::Approved)
        {
            let why = match a.state {
                Approval::Pending => "waits for approval: approve or reject it instead",
                _ => "was rejected: its money is back in the fund",
            };
            return Err(rule(format!("disbursement {} {why}", b.target)));
        }
        if b.reverse {
            self.reverse(&t)?;
            t.reversed = true;
        }
        t.corrected_by = Some(self.seq);
        self.put_entry(&t);
        self.index(Index::Corrects, &b.target.to_string());
        Ok(())
    }

    /// Undoes the money or points of `t`; refused if that would overdraw.
    fn reverse(&mut self, t: &EntryRec) -> Result<(), Stop> {
        let fund_id = t.fund.clone().unwrap_or_default();
        match t.kind {
            Kind::FundReceive => {
                let mut f = self.fund(&fund_id)?;
                f.balance =
                    super::take_from_fund(f.balance, t.amount, &fund_id, Some(Kind::FundReceive))?;
                f.received -= t.amount;
                self.put_fund(&f);
            }
            Kind::FundTransfer => {
                let to_id = t.to_fund.clone().unwrap_or_default();
                let mut to = self.fund(&to_id)?;
                to.balance =
                    super::take_from_fund(to.balance, t.amount, &to_id, Some(Kind::FundTransfer))?;
                to.transferred_in -= t.amount;
                self.put_fund(&to);
                let mut from = self.fund(&fund_id)?;
                from.balance = add(from.balance, t.amount, "fund balance")?;
                from.transferred_out -= t.amount;
                self.put_fund(&from);
            }
            Kind::Disbursement => {
                if t.recovered > 0 {
                    return Err(rule(format!(
                        "disbursement {} has recoveries of {} against it: reverse them first",
                        t.seq, t.recovered
                    )));
                }
                let mut f = self.fund(&fund_id)?;
                f.balance = add(f.balance, t.amount, "fund balance")?;
                f.disbursed -= t.amount;
                self.put_fund(&f);
                let (date, region) = (
                    t.date.clone().unwrap_or_default(),
                    t.region.clone().unwrap_or_default(),
                );
                self.count_disbursement(&date, f.category, &region, &t.issuer, t.amount, -1)?;
                // A reversed disbursement no longer counts as aid given.
                self.forget_aid(t)?;
            }
            Kind::FundRecover => {
                let mut f = self.fund(&fund_id)?;
                f.balance =
                    super::take_from_fund(f.balance, t.amount, &fund_id, Some(Kind::FundRecover))?;
                f.recovered -= t.amount;
                self.put_fund(&f);
                self.tally()?.recovered.add(t.amount, -1);
                if let Some(mut d) = t.recovers.map(|s| self.entry(s)).transpose()?.flatten() {
                    d.recovered = d.recovered.saturating_sub(t.amount);
                    self.put_entry(&d);
                }
            }
            Kind::CreditAward | Kind::CreditRedeem => {
                let holder = t.holder.clone().unwrap_or_default();
                let mut c = read::<Credits>(self.state, &holder)?
                    .ok_or_else(|| rule(format!("no credit record of {holder}")))?;
                if t.kind == Kind::CreditAward {
                    c.balance =
                        super::take_credits(c.balance, t.amount, &holder, Some(Kind::CreditAward))?;
                    c.awarded -= t.amount;
                } else {
                    c.balance = add(c.balance, t.amount, "credit balance")?;
                    c.redeemed -= t.amount;
                }
                self.fx.set::<Credits>(&holder, &c);
            }
            other => return Err(rule(format!("a {other} has no amount to reverse"))),
        }
        Ok(())
    }
}
