//! Dual control (四眼, rules v2): a disbursement at or over its fund's
//! `approval_threshold` is pending until another key of the fund's owner
//! with role `approve` approves it (`disbursement.approve`: it counts as
//! disbursed) or rejects it (`disbursement.reject`: its amount returns to
//! the balance).

use super::{add, role, rule, Cx, Stop};
use crate::body::{DisbursementApprove, DisbursementReject};
use crate::domain::Approval;
use crate::state::tables::{read, Histories};

impl Cx<'_> {
    /// `disbursement.approve` (`approve`) or `disbursement.reject`.
    pub(super) fn disbursement_decide(&mut self, approve: bool) -> Result<(), Stop> {
        let seq = if approve {
            self.body::<DisbursementApprove>()?.disbursement
        } else {
            self.body::<DisbursementReject>()?.disbursement
        };
        let mut d = self.disbursement_at(seq)?;
        let fund_id = d.fund.clone().unwrap_or_default();
        let mut f = self.fund(&fund_id)?;
        if f.owner != self.st.issuer {
            return Err(role(format!(
                "disbursement {seq} is from fund {fund_id:?} of {}; only its keys with role approve decide it",
                f.owner
            )));
        }
        let Some(mut approval) = d.approval.clone() else {
            return Err(rule(format!(
                "disbursement {seq} was under its fund's approval threshold and needs no approval"
            )));
        };
        if approval.signer == self.st.key.to_string() {
            return Err(role(format!(
                "the key that signed disbursement {seq} may not decide it: a second person does"
            )));
        }
        if approval.state != Approval::Pending {
            return Err(rule(format!(
                "disbursement {seq} was {} at seq {}",
                approval.state,
                approval.decided_seq.unwrap_or_default()
            )));
        }
        f.pending -= d.amount;
        f.pending_count = f.pending_count.saturating_sub(1);
        self.tally()?.pending.add(d.amount, -1);
        if approve {
            f.disbursed = add(f.disbursed, d.amount, "fund disbursements")?;
            f.disbursements += 1;
            let (date, region) = (
                d.date.clone().unwrap_or_default(),
                d.region.clone().unwrap_or_default(),
            );
            self.count_disbursement(&date, f.category, &region, &d.issuer, d.amount, 1)?;
        } else {
            f.balance = add(f.balance, d.amount, "fund balance")?;
            self.forget_aid(&d)?;
        }
        approval.state = if approve {
            Approval::Approved
        } else {
            Approval::Rejected
        };
        approval.decided_seq = Some(self.seq);
        d.approval = Some(approval);
        self.put_fund(&f);
        self.put_entry(&d);
        Ok(())
    }

    /// Disbursement `d` no longer counts as aid given (reversed or
    /// rejected): out of its beneficiary's duplicate-aid history and its
    /// household's aid.
    pub(super) fn forget_aid(&mut self, d: &crate::records::EntryRec) -> Result<(), Stop> {
        let bnf = d.beneficiary.as_deref().unwrap_or_default();
        let history_key = (bnf, d.cause.map(|c| c.as_str()).unwrap_or_default());
        let mut history = read::<Histories>(self.state, history_key)?.unwrap_or_default();
        history.retain(|h| h.seq != d.seq);
        self.fx.set::<Histories>(history_key, &history);
        self.unaided(bnf, d.seq)
    }
}
