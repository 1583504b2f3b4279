//! Monitored households (rules v2, 防止返贫动态监测): `household.monitor`,
//! `household.visit`, `household.close`, and the alerts derived from them
//! (主动发现, SPEC §6.2): `overdue_review` once a household's `review_by`
//! has passed, `unassisted` once it has been monitored for more than 60
//! days without aid.
//!
//! "Today" is the day of the leaf's `logged_at` in UTC+8, so a replay
//! raises the same alerts at the same leaves. An alert that may fall due
//! later is put in the [`Due`] table under its day; each leaf looks only
//! at the days that have come since the last leaf ([`SweepRec`]), and a
//! due entry whose household has since changed raises nothing. An alert
//! already due when it is armed is raised at once. Alerts are derived
//! data: a lean replay (`Position::derived` false) skips all of it.

use std::ops::ControlFlow;

use super::{rule, Cx, RulesVersion, Stop};
use crate::body::{HouseholdClose, HouseholdMonitor, HouseholdVisit};
use crate::date::{self, Date};
use crate::domain::{Index, MonitoringAlert};
use crate::records::{HouseholdRec, MonitoringAlertRec, SweepRec};
use crate::state::tables::{read, Due, Sweep, Watch};
use crate::state::{Table, SEP};

/// A household monitored for more than this many days without aid raises
/// `unassisted`.
pub const UNASSISTED_DAYS: i64 = 60;

impl Cx<'_> {
    /// This leaf's day in UTC+8.
    fn today(&self) -> Result<Date, Stop> {
        self.at
            .day()
            .ok_or_else(|| rule(format!("logged_at {:?} is not a time", self.at.logged_at)))
    }

    fn monitored(&self, bnf: &str) -> Result<HouseholdRec, Stop> {
        self.household(bnf)?
            .filter(|h| h.monitored)
            .ok_or_else(|| rule(format!("household {bnf} is not monitored")))
    }

    pub(super) fn household_monitor(&mut self) -> Result<(), Stop> {
        let b: HouseholdMonitor = self.body()?;
        let review_by = date::parse(&b.review_by).ok_or_else(|| super::schema("review_by"))?;
        let today = self.today()?;
        let h = match self.household(&b.beneficiary)? {
            Some(h) if h.monitored => HouseholdRec {
                tier: b.tier,
                risks: b.risks,
                region: b.region,
                review_by: b.review_by,
                monitor: self.st.issuer.clone(),
                ..h
            },
            earlier => {
                self.tally()?.households_monitored += 1;
                let h = HouseholdRec {
                    beneficiary: b.beneficiary.clone(),
                    tier: b.tier,
                    risks: b.risks,
                    region: b.region,
                    review_by: b.review_by,
                    monitored: true,
                    period: self.seq,
                    since: date::format(today),
                    monitor: self.st.issuer.clone(),
                    visits: 0,
                    last_visit: None,
                    closed_seq: earlier.and_then(|e| e.closed_seq),
                };
                let due = date::add_days(today, UNASSISTED_DAYS + 1)
                    .ok_or_else(|| rule("monitoring would end after the calendar"))?;
                self.arm(MonitoringAlert::Unassisted, &h, due)?;
                h
            }
        };
        self.arm_review(&h, review_by)?;
        self.put_household(h);
        self.index(Index::Household, &b.beneficiary);
        Ok(())
    }

    pub(super) fn household_visit(&mut self) -> Result<(), Stop> {
        let b: HouseholdVisit = self.body()?;
        let mut h = self.monitored(&b.beneficiary)?;
        if b.date > b.next_review_by {
            return Err(rule(format!(
                "the visit of {} is after its next_review_by {}",
                b.date, b.next_review_by
            )));
        }
        let next = date::parse(&b.next_review_by).ok_or_else(|| super::schema("next_review_by"))?;
        h.review_by = b.next_review_by;
        h.visits += 1;
        h.last_visit = Some(b.date);
        self.arm_review(&h, next)?;
        self.put_household(h);
        self.index(Index::Household, &b.beneficiary);
        Ok(())
    }

    pub(super) fn household_close(&mut self) -> Result<(), Stop> {
        let b: HouseholdClose = self.body()?;
        let mut h = self.monitored(&b.beneficiary)?;
        h.monitored = false;
        h.closed_seq = Some(self.seq);
        let tally = self.tally()?;
        tally.households_monitored = tally.households_monitored.saturating_sub(1);
        self.put_household(h);
        self.index(Index::Household, &b.beneficiary);
        Ok(())
    }

    /// A disbursement `seq` to `bnf` counts as aid to its monitored
    /// household (rules v2; derived state only).
    pub(super) fn aided(&mut self, bnf: &str, seq: u64) -> Result<(), Stop> {
        if !self.at.derived || self.version()? < RulesVersion::V2 || !self.any_monitored()? {
            return Ok(());
        }
        let Some(h) = self.household(bnf)?.filter(|h| h.monitored) else {
            return Ok(());
        };
        let mut a = self.assist(bnf, h.period)?;
        a.disbursements.push(seq);
        self.put_assist(bnf, a);
        Ok(())
    }

    /// Whether any household is monitored now: the tally, read without
    /// being changed (one read a commit group), spares every disbursement
    /// a household lookup while there are none.
    fn any_monitored(&self) -> Result<bool, Stop> {
        let tally = match self.tally {
            Some(t) => t,
            None => read::<crate::state::tables::Tally>(self.state, ())?.unwrap_or_default(),
        };
        Ok(tally.households_monitored > 0)
    }

    /// Disbursement `seq` to `bnf` no longer counts as aid (reversed or
    /// rejected): a household left without aid past the limit raises
    /// `unassisted` now.
    pub(super) fn unaided(&mut self, bnf: &str, seq: u64) -> Result<(), Stop> {
        if !self.at.derived || self.version()? < RulesVersion::V2 {
            return Ok(());
        }
        let Some(h) = self.household(bnf)?.filter(|h| h.monitored) else {
            return Ok(());
        };
        let mut a = self.assist(bnf, h.period)?;
        if !a.disbursements.contains(&seq) {
            return Ok(());
        }
        a.disbursements.retain(|s| *s != seq);
        self.put_assist(bnf, a);
        let since = date::parse(&h.since).ok_or_else(|| super::schema("since"))?;
        if date::days_between(since, self.today()?) > UNASSISTED_DAYS {
            self.check(MonitoringAlert::Unassisted, &h.beneficiary, h.period)?;
        }
        Ok(())
    }

    /// Arms `overdue_review` for household `h` reviewed by `review_by`:
    /// due the day after.
    fn arm_review(&mut self, h: &HouseholdRec, review_by: Date) -> Result<(), Stop> {
        let due = review_by
            .next_day()
            .ok_or_else(|| rule("review_by is the calendar's last day"))?;
        self.arm(MonitoringAlert::OverdueReview, h, due)
    }

    /// Arms `alert` for household `h` on day `due`: raised at once if that
    /// day has come, else put in the due table for the sweep.
    fn arm(&mut self, alert: MonitoringAlert, h: &HouseholdRec, due: Date) -> Result<(), Stop> {
        if !self.at.derived {
            return Ok(());
        }
        if due <= self.today()? {
            self.put_household(h.clone());
            return self.check(alert, &h.beneficiary, h.period);
        }
        let day = date::format(due);
        self.fx
            .set::<Due>((&day, alert.as_str(), &h.beneficiary, h.period), &());
        let mut sweep = self.sweep_rec()?;
        if sweep.next_due.as_ref().is_none_or(|d| day < *d) {
            sweep.next_due = Some(day);
            self.sweeping = Some(sweep);
        }
        Ok(())
    }

    fn sweep_rec(&self) -> Result<SweepRec, Stop> {
        match &self.sweeping {
            Some(s) => Ok(s.clone()),
            None => Ok(read::<Sweep>(self.state, ())?.unwrap_or_default()),
        }
    }

    /// Raises the alerts that fell due since the last leaf, at this leaf
    /// (before its own rules run: what was due when its day began).
    pub(super) fn sweep(&mut self) -> Result<(), Stop> {
        if !self.at.derived || self.version()? < RulesVersion::V2 {
            return Ok(());
        }
        let today = date::format(self.today()?);
        let mut sweep = self.sweep_rec()?;
        if sweep.next_due.as_ref().is_none_or(|d| *d > today) {
            return Ok(());
        }
        let mut from = sweep.cursor.clone();
        if !from.is_empty() {
            from.push(0);
        }
        let mut due = Vec::new();
        let mut next = None;
        self.state.scan(Table::Due, b"", &from, &mut |k, _| {
            let day = k.get(..10).unwrap_or_default();
            if day <= today.as_bytes() {
                due.push(k.to_vec());
                Ok(ControlFlow::Continue(()))
            } else {
                next = Some(String::from_utf8_lossy(day).into_owned());
                Ok(ControlFlow::Break(()))
            }
        })?;
        for k in &due {
            if let Some((alert, bnf, period)) = parse_due(k) {
                self.check(alert, &bnf, period)?;
            }
        }
        if let Some(last) = due.pop() {
            sweep.cursor = last;
        }
        sweep.next_due = next;
        self.sweeping = Some(sweep);
        Ok(())
    }

    /// Raises `alert` for household `bnf` if it still holds for `period`
    /// and was not raised before.
    fn check(&mut self, alert: MonitoringAlert, bnf: &str, period: u64) -> Result<(), Stop> {
        let Some(h) = self
            .household(bnf)?
            .filter(|h| h.monitored && h.period == period)
        else {
            return Ok(());
        };
        let today = self.today()?;
        let mut a = self.assist(bnf, period)?;
        let since = match alert {
            MonitoringAlert::OverdueReview => {
                let overdue = date::parse(&h.review_by).is_some_and(|r| r < today);
                if !overdue || a.overdue_raised.as_deref() == Some(&h.review_by) {
                    return Ok(());
                }
                a.overdue_raised = Some(h.review_by.clone());
                h.review_by.clone()
            }
            MonitoringAlert::Unassisted => {
                let long = date::parse(&h.since)
                    .is_some_and(|s| date::days_between(s, today) > UNASSISTED_DAYS);
                if !long || !a.disbursements.is_empty() || a.unassisted_raised {
                    return Ok(());
                }
                a.unassisted_raised = true;
                h.since.clone()
            }
        };
        self.put_assist(bnf, a);
        let rec = MonitoringAlertRec {
            seq: self.seq,
            day: date::format(today),
            alert,
            beneficiary: h.beneficiary.clone(),
            tier: h.tier,
            risks: h.risks.clone(),
            region: h.region.clone(),
            since,
            period,
        };
        self.fx.set::<Watch>((self.seq, self.raised), &rec);
        self.raised += 1;
        Ok(())
    }
}

/// The alert, household and period of a [`Due`] key.
fn parse_due(k: &[u8]) -> Option<(MonitoringAlert, String, u64)> {
    let mut rest = k;
    let mut part = || {
        let at = rest.iter().position(|b| *b == SEP)?;
        let (p, r) = (&rest[..at], &rest[at + 1..]);
        rest = r;
        std::str::from_utf8(p).ok()
    };
    let _day = part()?;
    let alert = part()?.parse().ok()?;
    let bnf = part()?.to_owned();
    let period = u64::from_be_bytes(rest.try_into().ok()?);
    Some((alert, bnf, period))
}
