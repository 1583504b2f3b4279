//! Sequencing: each checked entry goes through the rules
//! ([`crate::rules::apply`]) on top of the committed state plus the effects
//! of the entries before it in its commit group; the accepted ones become
//! chained leaves, written with all their effects in one atomic, durable
//! commit.
//!
//! There is one writer, [`write_pipelined`]: the rules of group N+1 run
//! while group N is committed, and a failed commit fails the groups built
//! on it, after which the writer starts again from what the log holds. The
//! node, the benches and the tests drive it; [`sequence_group`] is the same
//! deciding and committing for one group at a time.
//!
//! [`replay`] runs the same rules over existing leaves: an auditor's check
//! that every entry was valid when sequenced, and the rebuild of derived
//! state from the leaves alone.

mod pipeline;
mod rebuild;
mod replay;

use std::time::SystemTime;

use rayon::prelude::*;

use crate::rules::{
    apply_prepared, cold_reads, prepare, Applied, CheckedEntry, Position, Prepared, Refusal,
};
use crate::state::{Overlay, StateError, StateRead};
use crate::store::{Backend, Log, PreparedGroup, Sequenced, StoreError, Tip};

#[cfg(feature = "test-support")]
pub use pipeline::Pipeline;
pub use pipeline::{write_pipelined, GroupResult};
pub use rebuild::rebuild_state;
#[cfg(feature = "store")]
pub use rebuild::{reindex, reindex_within};
#[cfg(any(test, feature = "test-support"))]
pub use replay::dump;
pub use replay::{follow, replay, ReplayError, Replayer};

/// What happened to one submitted entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sequenced now.
    Sequenced(Sequenced),
    /// The identical statement was already in the log at this seq.
    Resubmitted(u64),
}

/// Why none of a group is in the log. Each entry's own refusals are not
/// errors: they are in the group's results.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// Derived state could not be read while deciding the group.
    #[error("cannot read derived state: {0}")]
    State(#[from] StateError),
    /// The group's commit failed.
    #[error("commit failed: {0}")]
    Commit(#[from] StoreError),
    /// The group was decided on top of one whose commit failed.
    #[error("an earlier commit group failed; nothing of this one is in the log")]
    AfterFailure,
}

/// Sequences `entries` (made by [`crate::rules::check_submission`] and its
/// kin, the only way in) as one commit group. Returns one result per entry, in order; refused
/// entries change nothing. `Err` means nothing of the group is in the log.
pub fn sequence_group<B: Backend>(
    log: &mut Log<B>,
    entries: Vec<CheckedEntry>,
    now: SystemTime,
) -> Result<Vec<Result<Outcome, Refusal>>, WriteError> {
    let built = build_group(log.tip(), log.backend(), entries, now)?;
    log.commit(&built.group)?;
    log.install(built.group);
    Ok(built.results)
}

/// A commit group decided but not yet written.
pub(crate) struct BuiltGroup {
    /// One result per submitted entry, in order.
    pub(crate) results: Vec<Result<Outcome, Refusal>>,
    /// The accepted entries' leaves and state writes, ready to commit.
    pub(crate) group: PreparedGroup,
}

/// The deciding half of sequencing: the rules over `state` (the store's,
/// plus any groups built on `tip` but not yet committed) and the group's
/// leaves chained on `tip`, without writing anything.
fn build_group(
    tip: &Tip,
    state: &dyn StateRead,
    entries: Vec<CheckedEntry>,
    now: SystemTime,
) -> Result<BuiltGroup, StateError> {
    let mut chain = tip.chain(now);
    let mut results = Vec::with_capacity(entries.len());
    let mut overlay = Overlay::new(state);
    // What does not depend on the order (canonical bytes, statement hash,
    // PII guard) is made on all cores; then the group's nonces, vouchers
    // and histories are read in one batch.
    let prepared: Vec<(CheckedEntry, Prepared)> = entries
        .into_par_iter()
        .map(|e| {
            let p = prepare(e.entry(), e.statement_bytes());
            (e, p)
        })
        .collect();
    // While households are monitored, a disbursement reads its
    // beneficiary's household (rules v2): batched with the rest.
    let monitoring = crate::state::tables::read::<crate::state::tables::Tally>(&overlay, ())?
        .is_some_and(|t| t.households_monitored > 0);
    let mut cold: Vec<_> = prepared
        .iter()
        .flat_map(|(e, _)| cold_reads(&e.entry().statement, monitoring))
        .collect();
    cold.push(crate::state::tables::location::<crate::state::tables::Rules>(()));
    overlay.prefetch(cold)?;
    for (entry, prepared) in prepared {
        // A state that cannot be read fails the group (the store's
        // fault); a refusal is the entry's alone.
        let at = Position {
            seq: chain.next_seq(),
            logged_at: chain.logged_at(),
            derived: true,
        };
        let decided = apply_prepared(&overlay, at, entry.entry(), &prepared)?;
        let result = match decided {
            Err(refusal) => Err(refusal),
            Ok(Applied::Resubmission(at)) => Ok(Outcome::Resubmitted(at)),
            Ok(Applied::New(effects)) => {
                match chain.push(&entry.entry().signature, entry.statement_bytes()) {
                    Err(e) => Err(Refusal::from(e)),
                    Ok(sequenced) => {
                        overlay.apply(effects);
                        Ok(Outcome::Sequenced(sequenced))
                    }
                }
            }
        };
        results.push(result);
    }
    Ok(BuiltGroup {
        results,
        group: chain.finish(overlay.into_writes()),
    })
}
