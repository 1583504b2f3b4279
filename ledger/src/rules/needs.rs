//! Published needs: `need.publish`, `need.review` (rules v2: two other
//! organisations approve a need before it can be claimed), `need.claim`,
//! `need.release`, `need.fulfil`.

use super::{because, role, rule, Change, Cx, Detail, Stop};
use crate::body::{NeedClaim, NeedFulfil, NeedPublish, NeedRelease, NeedReview};
use crate::domain::{Approval, Decision, NeedState, Role};
use crate::records::{NeedRec, ReviewRec};
use crate::state::tables::{contains, read, Needs};

impl Cx<'_> {
    pub(super) fn need(&self, id: &str) -> Result<NeedRec, Stop> {
        read::<Needs>(self.state, id)?.ok_or_else(|| {
            because(Detail::NoNeed {
                need: id.to_owned(),
            })
        })
    }

    fn put_need(&mut self, n: &NeedRec) {
        self.fx.set::<Needs>(&n.need, n);
    }

    /// The need, claimed by the issuer (release, fulfil), signed with a
    /// `disburse` key of the claiming organisation (SPEC §6).
    fn claimed_need(&self, id: &str) -> Result<NeedRec, Stop> {
        self.need_role(Role::Disburse)?;
        let n = self.need(id)?;
        match &n.claimer {
            Some(c) if n.state == NeedState::Claimed && *c == self.st.issuer => Ok(n),
            Some(c) if n.state == NeedState::Claimed => Err(role(format!(
                "need {id:?} is claimed by {c}; only the claimer may"
            ))),
            _ => Err(rule(format!("need {id:?} is {}, not claimed", n.state))),
        }
    }

    pub(super) fn need_publish(&mut self) -> Result<(), Stop> {
        let b: NeedPublish = self.body()?;
        if contains::<Needs>(self.state, &b.need)? {
            return Err(rule(format!("need {:?} already exists", b.need)));
        }
        self.index_beneficiary(&b.beneficiary)?;
        let state = if self.version()?.makes(Change::ReviewedNeeds) {
            self.tally()?.needs_pending += 1;
            NeedState::Pending
        } else {
            self.tally()?.needs_open += 1;
            NeedState::Open
        };
        let n = NeedRec {
            need: b.need,
            beneficiary: b.beneficiary,
            category: b.category,
            cause: b.cause,
            amount: b.amount,
            region: b.region,
            summary: b.summary,
            publisher: self.st.issuer.clone(),
            published_seq: self.seq,
            state,
            claimer: None,
            claimed_seq: None,
            fulfilled_by: None,
            reviews: Vec::new(),
        };
        self.put_need(&n);
        Ok(())
    }

    /// Approvals of this many organisations other than the publisher open
    /// a pending need.
    const APPROVALS: usize = 2;

    pub(super) fn need_review(&mut self) -> Result<(), Stop> {
        let b: NeedReview = self.body()?;
        let mut n = self.need(&b.need)?;
        if n.state != NeedState::Pending {
            return Err(rule(format!(
                "need {:?} is {}, not pending review",
                b.need, n.state
            )));
        }
        if n.publisher == self.st.issuer {
            return Err(rule(format!(
                "need {:?} was published by {}; another organisation reviews it",
                b.need, n.publisher
            )));
        }
        if let Some(r) = n.reviews.iter().find(|r| r.org == self.st.issuer) {
            return Err(rule(format!(
                "{} reviewed need {:?} at seq {} already",
                self.st.issuer, b.need, r.seq
            )));
        }
        n.reviews.push(ReviewRec {
            org: self.st.issuer.clone(),
            seq: self.seq,
            decision: b.decision,
        });
        let approvals = n
            .reviews
            .iter()
            .filter(|r| r.decision == Decision::Approve)
            .count();
        let next = match b.decision {
            Decision::Reject => Some(NeedState::Rejected),
            Decision::Approve if approvals >= Self::APPROVALS => Some(NeedState::Open),
            Decision::Approve => None,
        };
        if let Some(next) = next {
            n.state = next;
            let tally = self.tally()?;
            tally.needs_pending = tally.needs_pending.saturating_sub(1);
            match next {
                NeedState::Open => tally.needs_open += 1,
                _ => tally.needs_rejected += 1,
            }
        }
        self.put_need(&n);
        Ok(())
    }

    pub(super) fn need_claim(&mut self) -> Result<(), Stop> {
        let b: NeedClaim = self.body()?;
        let mut n = self.need(&b.need)?;
        if matches!(n.state, NeedState::Pending | NeedState::Rejected) {
            return Err(rule(format!(
                "need {:?} is {}; only an open need can be claimed",
                b.need, n.state
            )));
        }
        if n.state != NeedState::Open {
            let by = n.claimer.as_deref().unwrap_or("-");
            return Err(rule(format!(
                "need {:?} is already {} by {by}",
                b.need, n.state
            )));
        }
        n.state = NeedState::Claimed;
        let tally = self.tally()?;
        tally.needs_open = tally.needs_open.saturating_sub(1);
        tally.needs_claimed += 1;
        n.claimer = Some(self.st.issuer.clone());
        n.claimed_seq = Some(self.seq);
        self.put_need(&n);
        Ok(())
    }

    pub(super) fn need_release(&mut self) -> Result<(), Stop> {
        let b: NeedRelease = self.body()?;
        let mut n = self.claimed_need(&b.need)?;
        n.state = NeedState::Open;
        let tally = self.tally()?;
        tally.needs_claimed = tally.needs_claimed.saturating_sub(1);
        tally.needs_open += 1;
        n.claimer = None;
        n.claimed_seq = None;
        self.put_need(&n);
        Ok(())
    }

    pub(super) fn need_fulfil(&mut self) -> Result<(), Stop> {
        let b: NeedFulfil = self.body()?;
        let mut n = self.claimed_need(&b.need)?;
        let mut d = self.disbursement_at(b.disbursement)?;
        if d.issuer != self.st.issuer {
            return Err(rule(format!(
                "disbursement {} is not the claimer's own",
                b.disbursement
            )));
        }
        if d.beneficiary.as_deref() != Some(&n.beneficiary) {
            return Err(rule(format!(
                "disbursement {} went to another beneficiary",
                b.disbursement
            )));
        }
        if d.reversed {
            return Err(rule(format!(
                "disbursement {} was reversed",
                b.disbursement
            )));
        }
        if let Some(a) = d
            .approval
            .as_ref()
            .filter(|a| a.state != Approval::Approved)
        {
            return Err(rule(format!(
                "disbursement {} is {}; only an approved one fulfils a need",
                b.disbursement, a.state
            )));
        }
        if let Some(other) = &d.fulfilled_need {
            return Err(rule(format!(
                "disbursement {} already fulfilled need {other:?}",
                b.disbursement
            )));
        }
        n.state = NeedState::Fulfilled;
        let tally = self.tally()?;
        tally.needs_claimed = tally.needs_claimed.saturating_sub(1);
        tally.needs_fulfilled += 1;
        n.fulfilled_by = Some(b.disbursement);
        d.fulfilled_need = Some(n.need.clone());
        self.put_need(&n);
        self.put_entry(&d);
        Ok(())
    }
}
