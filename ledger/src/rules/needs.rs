//! Published needs: `need.publish`, `need.claim`, `need.release`,
//! `need.fulfil`.

use super::{because, role, rule, Cx, Detail, Stop};
use crate::body::{NeedClaim, NeedFulfil, NeedPublish, NeedRelease};
use crate::domain::{Kind, NeedState, Role};
use crate::records::NeedRec;
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
        self.tally()?.needs_open += 1;
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
            state: NeedState::Open,
            claimer: None,
            claimed_seq: None,
            fulfilled_by: None,
        };
        self.put_need(&n);
        Ok(())
    }

    pub(super) fn need_claim(&mut self) -> Result<(), Stop> {
        let b: NeedClaim = self.body()?;
        let mut n = self.need(&b.need)?;
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
        let mut d = self
            .entry(b.disbursement)?
            .filter(|e| e.kind == Kind::Disbursement)
            .ok_or_else(|| rule(format!("seq {} is not a disbursement", b.disbursement)))?;
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
