//! The records of derived state (SPEC §6): what the rules keep of each
//! organisation, key, fund, need, credit holder and entry, stored in the
//! tables of [`crate::state::Table`] as [`crate::state::encode`] writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    Approval, Category, Cause, Decision, Kind, MonitoringAlert, NeedState, OrgType, Risk, Role,
    Source, Tier,
};
use crate::rules::RulesVersion;

/// A registered organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRec {
    /// Org id.
    pub id: String,
    /// Name.
    pub name: String,
    /// government, union, charity, other.
    #[serde(rename = "type")]
    pub org_type: OrgType,
    /// Region code.
    pub region: String,
    /// Seq of its `org.register`.
    pub registered_seq: u64,
}

/// A key and its authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRec {
    /// Lowercase hex public key.
    pub key: String,
    /// Owning org.
    pub org: String,
    /// Roles held.
    pub roles: Vec<Role>,
    /// Seq that added it.
    pub added_seq: u64,
    /// Seq that revoked it.
    pub revoked_seq: Option<u64>,
}

/// A fund and its running totals (minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundRec {
    /// Fund id.
    pub fund: String,
    /// Owning org.
    pub owner: String,
    /// Title.
    pub title: String,
    /// Category.
    pub category: Category,
    /// Source of money.
    pub source: Source,
    /// Region code.
    pub region: String,
    /// Currency (CNY).
    pub currency: String,
    /// Budget.
    pub budget: u64,
    /// First day.
    pub start: String,
    /// Last day.
    pub end: String,
    /// Seq of `fund.open`.
    pub opened_seq: u64,
    /// Sum of unreversed receipts.
    pub received: u64,
    /// Sum of unreversed transfers in.
    pub transferred_in: u64,
    /// Sum of unreversed transfers out.
    pub transferred_out: u64,
    /// Sum of unreversed disbursements (approved ones, where the fund
    /// has an approval threshold).
    pub disbursed: u64,
    /// Sum of unreversed recoveries (资金回笼, rules v2).
    pub recovered: u64,
    /// Sum of disbursements waiting for approval: reserved, out of the
    /// balance, not yet disbursed.
    pub pending: u64,
    /// received + in + recovered − out − disbursed − pending; never negative.
    pub balance: u64,
    /// Number of receipts.
    pub receipts: u64,
    /// Number of transfers in.
    pub transfers_in: u64,
    /// Number of transfers out.
    pub transfers_out: u64,
    /// Number of disbursements (approved ones, under a threshold).
    pub disbursements: u64,
    /// Number of recoveries.
    pub recoveries: u64,
    /// Number of disbursements waiting for approval.
    pub pending_count: u64,
    /// Rules v2: disbursements of at least this much need approval.
    pub approval_threshold: Option<u64>,
}

impl FundRec {
    /// Disbursed as a share of budget, in basis points (10000 = 100%);
    /// `None` for a zero budget.
    pub fn execution_rate_bp(&self) -> Option<u64> {
        (self.budget > 0)
            .then(|| (u128::from(self.disbursed) * 10_000 / u128::from(self.budget)) as u64)
    }

    /// Recovered as a share of disbursed, in basis points; `None` when
    /// nothing was disbursed.
    pub fn recovery_rate_bp(&self) -> Option<u64> {
        (self.disbursed > 0)
            .then(|| (u128::from(self.recovered) * 10_000 / u128::from(self.disbursed)) as u64)
    }
}

/// A used nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceRec {
    /// Seq of the entry that used it.
    pub seq: u64,
    /// SHA-256 of that statement's canonical bytes.
    pub statement: [u8; 32],
}

/// A credit-point holder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRec {
    /// Org id or `vol_` pseudonym.
    pub holder: String,
    /// Awarded − redeemed (unreversed); never negative.
    pub balance: u64,
    /// Sum of unreversed awards.
    pub awarded: u64,
    /// Sum of unreversed redemptions.
    pub redeemed: u64,
}

/// A published need and its claim state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedRec {
    /// Need id.
    pub need: String,
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// Category.
    pub category: Category,
    /// Cause.
    pub cause: Cause,
    /// Amount asked.
    pub amount: u64,
    /// Region code.
    pub region: String,
    /// Summary.
    pub summary: String,
    /// Publishing org.
    pub publisher: String,
    /// Seq of `need.publish`.
    pub published_seq: u64,
    /// open, claimed, fulfilled.
    pub state: NeedState,
    /// Claiming org while claimed or fulfilled.
    pub claimer: Option<String>,
    /// Seq of the claim.
    pub claimed_seq: Option<u64>,
    /// Disbursement seq that fulfilled it.
    pub fulfilled_by: Option<u64>,
    /// Reviews of a need published under rules v2, in order.
    pub reviews: Vec<ReviewRec>,
}

/// One organisation's review of a need (rules v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRec {
    /// The reviewing org.
    pub org: String,
    /// Seq of its `need.review`.
    pub seq: u64,
    /// Approve or reject.
    pub decision: Decision,
}

/// What later rules need to know of an earlier entry (corrections, fulfil,
/// duplicate alerts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRec {
    /// Its seq.
    pub seq: u64,
    /// Its kind.
    pub kind: Kind,
    /// Issuing org.
    pub issuer: String,
    /// Fund (receive, disbursement) or source fund (transfer).
    pub fund: Option<String>,
    /// Destination fund (transfer).
    pub to_fund: Option<String>,
    /// Amount or points.
    pub amount: u64,
    /// Credit holder.
    pub holder: Option<String>,
    /// Beneficiary (disbursement).
    pub beneficiary: Option<String>,
    /// Cause (disbursement).
    pub cause: Option<Cause>,
    /// Date (receive, transfer, disbursement).
    pub date: Option<String>,
    /// Region code (disbursement).
    pub region: Option<String>,
    /// Seq of the correction that amended it.
    pub corrected_by: Option<u64>,
    /// Whether that correction reversed it.
    pub reversed: bool,
    /// Need this disbursement fulfilled.
    pub fulfilled_need: Option<String>,
    /// A disbursement at or over its fund's approval threshold: where its
    /// approval stands.
    pub approval: Option<ApprovalRec>,
    /// Sum of unreversed recoveries against this disbursement.
    pub recovered: u64,
    /// The disbursement a recovery recovers.
    pub recovers: Option<u64>,
}

impl EntryRec {
    /// Whether this disbursement's money has left its fund for good: not
    /// reversed, not waiting for approval, not rejected.
    pub fn paid(&self) -> bool {
        !self.reversed
            && self
                .approval
                .as_ref()
                .is_none_or(|a| a.state == Approval::Approved)
    }
}

/// A disbursement under dual control (rules v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRec {
    /// Pending, approved or rejected.
    pub state: Approval,
    /// The key that signed the disbursement (lowercase hex): it may not
    /// approve it.
    pub signer: String,
    /// Seq of the approval or rejection.
    pub decided_seq: Option<u64>,
}

/// A count and a sum of amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Number of disbursements.
    pub count: u64,
    /// Their amounts, minor units. A sum over funds: it may pass 2^53-1
    /// (SPEC §6 bounds each fund's sums, not their total) and even
    /// `u64::MAX` (2,049 funds at the bound), so it is kept exact in a
    /// `u128`. Postcard writes both as the same varint, so records
    /// written when this was a `u64` read back unchanged.
    pub amount: u128,
}

impl Totals {
    /// Adds (`sign` +1) or removes (−1) one disbursement of `amount`.
    pub fn add(&mut self, amount: u64, sign: i8) {
        if sign > 0 {
            self.count += 1;
            self.amount += u128::from(amount);
        } else {
            self.count = self.count.saturating_sub(1);
            self.amount = self.amount.saturating_sub(u128::from(amount));
        }
    }
}

/// Unreversed disbursements of one month (by their `date`), in total and
/// by fund category, province (the region code's first two digits + 0000)
/// and issuer type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRec {
    /// `YYYY-MM`.
    pub month: String,
    /// All of them.
    pub total: Totals,
    /// By fund category.
    pub by_category: BTreeMap<String, Totals>,
    /// By province code.
    pub by_province: BTreeMap<String, Totals>,
    /// By issuer type (government, union, charity, other).
    pub by_issuer_type: BTreeMap<String, Totals>,
    /// By the disbursement's region code (county level).
    pub by_region: BTreeMap<String, Totals>,
}

impl StatsRec {
    /// Counts one disbursement in (`sign` +1) or out (−1).
    pub fn record(
        &mut self,
        category: Category,
        region: &str,
        issuer_type: OrgType,
        amount: u64,
        sign: i8,
    ) {
        let province = format!("{}0000", region.get(..2).unwrap_or("00"));
        self.total.add(amount, sign);
        self.by_category
            .entry(category.as_str().to_owned())
            .or_default()
            .add(amount, sign);
        self.by_province
            .entry(province)
            .or_default()
            .add(amount, sign);
        self.by_issuer_type
            .entry(issuer_type.as_str().to_owned())
            .or_default()
            .add(amount, sign);
        self.by_region
            .entry(region.to_owned())
            .or_default()
            .add(amount, sign);
    }
}

/// Counts over the whole ledger, kept as entries are applied so that the
/// overview costs one read however long the ledger grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyRec {
    /// Registered organisations.
    pub orgs: u64,
    /// Opened funds.
    pub funds: u64,
    /// Distinct beneficiary pseudonyms named by a disbursement or a need.
    pub beneficiaries: u64,
    /// Needs open for a claim.
    pub needs_open: u64,
    /// Needs claimed, not yet fulfilled.
    pub needs_claimed: u64,
    /// Needs fulfilled.
    pub needs_fulfilled: u64,
    /// Needs waiting for reviews (rules v2).
    pub needs_pending: u64,
    /// Needs a reviewer rejected.
    pub needs_rejected: u64,
    /// Households under monitoring now.
    pub households_monitored: u64,
    /// Disbursements waiting for approval, and their sum.
    pub pending: Totals,
    /// Unreversed recoveries, and their sum.
    pub recovered: Totals,
}

/// The rules in force, and what the registrar set for the whole ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesRec {
    /// The version in force.
    pub version: RulesVersion,
    /// Every activation, oldest first.
    pub activations: Vec<ActivationRec>,
    /// The pseudonym service's key (`pseudonym.key`), once recorded.
    pub pseudonym: Option<PseudonymRec>,
}

impl Default for RulesRec {
    fn default() -> RulesRec {
        RulesRec {
            version: RulesVersion::FIRST,
            activations: Vec::new(),
            pseudonym: None,
        }
    }
}

impl RulesRec {
    /// Each version with the first seq it was in force at, oldest first.
    pub fn spans(&self) -> Vec<(RulesVersion, u64)> {
        std::iter::once((RulesVersion::FIRST, 0))
            .chain(self.activations.iter().map(|a| (a.version, a.from)))
            .collect()
    }
}

/// A `rules.activate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRec {
    /// The version activated.
    pub version: RulesVersion,
    /// Seq of the `rules.activate`.
    pub seq: u64,
    /// First seq judged by it (the next one).
    pub from: u64,
    /// Its note.
    pub note: String,
}

/// The pseudonym service's public key (SPEC §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PseudonymRec {
    /// ristretto255 public key, lowercase hex.
    pub key: String,
    /// The service's URL.
    pub service: String,
    /// Seq of the `pseudonym.key`.
    pub seq: u64,
}

/// A household under monitoring, or once monitored (rules v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdRec {
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// Its tier.
    pub tier: Tier,
    /// What puts it at risk.
    pub risks: Vec<Risk>,
    /// Region code.
    pub region: String,
    /// The date of the next review.
    pub review_by: String,
    /// Whether it is monitored now.
    pub monitored: bool,
    /// Seq of the `household.monitor` that began this (or the last)
    /// monitoring period.
    pub period: u64,
    /// That period's first day (the leaf's `logged_at`, UTC+8).
    pub since: String,
    /// The org that last recorded it.
    pub monitor: String,
    /// Visits in this period.
    pub visits: u64,
    /// The last visit's date.
    pub last_visit: Option<String>,
    /// Seq of the `household.close` that ended the last period.
    pub closed_seq: Option<u64>,
}

/// What the monitoring alerts track of a household: the disbursements of
/// its current period and the alerts already raised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistRec {
    /// The monitoring period (its first seq) this is about.
    pub period: u64,
    /// Its unreversed, not rejected disbursements since monitoring began.
    pub disbursements: Vec<u64>,
    /// Whether `unassisted` was raised in this period.
    pub unassisted_raised: bool,
    /// The `review_by` an `overdue_review` was raised for.
    pub overdue_raised: Option<String>,
}

/// Where the monitoring sweep stands: the due dates not yet looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRec {
    /// The earliest due date after `cursor`.
    pub next_due: Option<String>,
    /// The last due key looked at.
    pub cursor: Vec<u8>,
}

/// A monitoring alert (derived, not part of the chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitoringAlertRec {
    /// The leaf at which it was raised.
    pub seq: u64,
    /// That leaf's day (UTC+8).
    pub day: String,
    /// Which alert.
    pub alert: MonitoringAlert,
    /// The household.
    pub beneficiary: String,
    /// Its tier then.
    pub tier: Tier,
    /// Its risks then.
    pub risks: Vec<Risk>,
    /// Its region.
    pub region: String,
    /// Its review date (overdue) or its monitoring's first day
    /// (unassisted).
    pub since: String,
    /// The monitoring period.
    pub period: u64,
}

/// One unreversed disbursement in a beneficiary's history for a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// Its seq.
    pub seq: u64,
    /// Its issuer.
    pub issuer: String,
    /// Its `date`.
    pub date: String,
}

/// A duplicate-aid alert (derived, not part of the chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRec {
    /// The new disbursement.
    pub seq: u64,
    /// Its beneficiary.
    pub beneficiary: String,
    /// Its cause.
    pub cause: Cause,
    /// Its date.
    pub date: String,
    /// Its issuer.
    pub issuer: String,
    /// Earlier unreversed disbursements by other orgs, same cause, within 90 days.
    pub matches: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{decode, encode, Table};

    /// Monthly statistics written when `Totals::amount` was a `u64` read
    /// back as the same figures, and a sum past `u64::MAX` round-trips.
    #[test]
    fn totals_written_as_u64_read_back_and_past_u64_stay_exact() {
        #[derive(Serialize)]
        struct OldTotals {
            count: u64,
            amount: u64,
        }
        for amount in [0, 1, 127, 128, (1 << 53) - 1, 1 << 53, u64::MAX] {
            let old = encode(&OldTotals { count: 7, amount });
            assert_eq!(
                decode::<Totals>(Table::Stats, &old).unwrap(),
                Totals {
                    count: 7,
                    amount: u128::from(amount)
                }
            );
        }
        let mut t = Totals::default();
        for _ in 0..2_049 {
            t.add((1 << 53) - 1, 1);
        }
        let want = 2_049 * ((1u128 << 53) - 1);
        assert!(want > u128::from(u64::MAX));
        assert_eq!(t.amount, want);
        assert_eq!(decode::<Totals>(Table::Stats, &encode(&t)).unwrap(), t);
        t.add((1 << 53) - 1, -1);
        assert_eq!((t.count, t.amount), (2_048, want - ((1 << 53) - 1)));
    }
}
