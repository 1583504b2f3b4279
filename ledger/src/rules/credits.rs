//! Credit points: `credit.award`, `credit.redeem`.

use super::{add, because, Cx, Detail, Stop};
use crate::body::{CreditAward, CreditRedeem};
use crate::domain::Index;
use crate::ident;
use crate::records::{CreditRec, EntryRec};
use crate::state::tables::{contains, read, Credits, Orgs};

impl Cx<'_> {
    pub(super) fn credit_award(&mut self) -> Result<(), Stop> {
        let b: CreditAward = self.body()?;
        self.credit(b.holder, b.points, true)
    }

    pub(super) fn credit_redeem(&mut self) -> Result<(), Stop> {
        let b: CreditRedeem = self.body()?;
        self.credit(b.holder, b.points, false)
    }

    /// Adds (`award`) or spends `points` of `holder`'s.
    fn credit(&mut self, holder: String, points: u64, award: bool) -> Result<(), Stop> {
        if !ident::is_volunteer(&holder) && !contains::<Orgs>(self.state, &holder)? {
            return Err(because(Detail::UnknownHolder { holder }));
        }
        let mut c = read::<Credits>(self.state, &holder)?.unwrap_or_else(|| CreditRec {
            holder: holder.clone(),
            ..CreditRec::default()
        });
        if award {
            c.balance = add(c.balance, points, "credit balance")?;
            c.awarded = add(c.awarded, points, "credit awarded")?;
        } else {
            c.balance = super::take_credits(c.balance, points, &holder, None)?;
            c.redeemed = add(c.redeemed, points, "credit redeemed")?;
        }
        self.fx.set::<Credits>(&holder, &c);
        self.index(Index::Credit, &holder);
        let rec = EntryRec {
            holder: Some(holder),
            amount: points,
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }
}
