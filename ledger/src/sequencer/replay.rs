//! Replaying leaves through the rules: an auditor's check that every
//! entry was valid when sequenced, and the rebuild of derived state from
//! the leaves alone.

use crate::entry::Leaf;
use crate::rules::{apply, Applied, Code, Position, Refusal};
use crate::state::{MemState, StateStore};
use crate::store::{Backend, Followed, Log};
use crate::verify::VerifiedLeaves;

/// Why a replay stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// An entry of the ledger that the rules refuse: the node should not
    /// have sequenced it.
    #[error("seq {seq}: {refusal}")]
    Refused {
        /// The first invalid seq.
        seq: u64,
        /// Why the rules refuse it.
        refusal: Refusal,
    },
    /// The leaves or the replayed state could not be read at this seq: a
    /// fault of the store, not of the ledger.
    #[error("seq {seq}: cannot read: {error}")]
    Storage {
        /// Where the replay was.
        seq: u64,
        /// What failed.
        error: String,
    },
}

impl ReplayError {
    /// The seq the replay stopped at.
    pub fn seq(&self) -> u64 {
        match self {
            ReplayError::Refused { seq, .. } | ReplayError::Storage { seq, .. } => *seq,
        }
    }

    /// The refusal, if the rules refused an entry.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ReplayError::Refused { refusal, .. } => Some(refusal),
            ReplayError::Storage { .. } => None,
        }
    }
}

/// Replays leaves in order into derived state, confirming the node's
/// decision for each: every leaf must be a new, accepted entry. The state
/// is held in memory, or by any [`StateStore`] (an auditor's, within a
/// memory budget).
pub struct Replayer<S = MemState> {
    state: S,
    next: u64,
    lean: bool,
}

impl Default for Replayer {
    fn default() -> Self {
        Replayer::new()
    }
}

impl Replayer {
    /// Starts from seq 0 and empty state.
    pub fn new() -> Replayer {
        Replayer {
            state: MemState::new(),
            next: 0,
            lean: false,
        }
    }

    /// A full replay from seq 0 into `state`, which must be empty.
    pub fn full_in<S: StateStore>(state: S) -> Replayer<S> {
        Replayer {
            state,
            next: 0,
            lean: false,
        }
    }

    /// A lean replay into `state`, which holds the lean state before seq
    /// `next` (empty for 0). It keeps only the state the rules decide with:
    /// not the query indexes, the alerts, the duplicate-aid histories or
    /// the tally (alerts are derived data and never refuse an entry; nor do
    /// the tally and the beneficiaries it counts). An auditor's replay
    /// reaches the same decisions and holds far less.
    pub fn lean_in<S: StateStore>(state: S, next: u64) -> Replayer<S> {
        Replayer {
            state,
            next,
            lean: true,
        }
    }
}

impl<S: StateStore> Replayer<S> {
    /// The seq the next pushed leaf must have.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The state replayed so far.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// Applies the next leaf: schema, then the rules (its signature and chain
    /// are [`crate::verify::ChainVerifier`]'s job).
    pub fn push(&mut self, leaf: &Leaf) -> Result<(), ReplayError> {
        let fail = |refusal| ReplayError::Refused {
            seq: leaf.seq,
            refusal,
        };
        if leaf.seq != self.next {
            return Err(fail(Refusal::new(
                Code::RuleViolation,
                format!("expected seq {}", self.next),
            )));
        }
        // The node validated the schema before the rules; so does the replay.
        crate::schema::validate_signed(&leaf.entry)
            .map_err(|e| fail(Refusal::new(Code::SchemaViolation, e.to_string())))?;
        let at = Position {
            seq: leaf.seq,
            logged_at: &leaf.logged_at,
            derived: !self.lean,
        };
        let applied = apply(&self.state, at, &leaf.entry).map_err(|e| ReplayError::Storage {
            seq: leaf.seq,
            error: e.0,
        })?;
        match applied {
            Ok(Applied::New(mut effects)) => {
                if self.lean {
                    effects.writes.retain(|w| w.table.decides());
                }
                self.state
                    .apply(&effects.writes)
                    .map_err(|e| ReplayError::Storage {
                        seq: leaf.seq,
                        error: e.0,
                    })?;
            }
            Ok(Applied::Resubmission(at)) => {
                return Err(fail(Refusal::new(
                    Code::RuleViolation,
                    format!("repeats the statement of seq {at}"),
                )))
            }
            Err(refusal) => return Err(fail(refusal)),
        }
        self.next += 1;
        Ok(())
    }
}

/// Rebuilds derived state from a log's leaves alone.
pub fn replay<B: Backend>(log: &Log<B>) -> Result<MemState, ReplayError> {
    let mut replayer = Replayer::new();
    let mut failure = None;
    let scanned = log.scan(0, &mut |seq, bytes| {
        let result = Leaf::from_bytes(bytes)
            .map_err(|e| ReplayError::Refused {
                seq,
                refusal: Refusal::from(e),
            })
            .and_then(|leaf| replayer.push(&leaf));
        match result {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    });
    if let Err(e) = scanned {
        return Err(ReplayError::Storage {
            seq: replayer.next,
            error: e.to_string(),
        });
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(replayer.state),
    }
}

/// One `(table, key, value)` of a state.
#[cfg(any(test, feature = "test-support"))]
pub type StateRow = (crate::state::Table, Vec<u8>, Vec<u8>);

/// Every `(table, key, value)` of a state, in order: for comparing a store's
/// state with a replay byte for byte.
#[cfg(any(test, feature = "test-support"))]
pub fn dump(
    state: &dyn crate::state::StateRead,
) -> Result<Vec<StateRow>, crate::state::StateError> {
    let mut out = Vec::new();
    for t in crate::state::Table::ALL {
        state.scan(t, b"", b"", &mut |k, v| {
            out.push((t, k.to_vec(), v.to_vec()));
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
    }
    Ok(out)
}

/// Verified leaves (a primary's, read by a mirror) with their state
/// writes, checked as an auditor's replay checks them (schema, then the
/// rules, in order) on top of `state`: what [`Log::append_followed`]
/// stores. A leaf the rules refuse fails with its seq.
pub fn follow(
    state: &dyn crate::state::StateRead,
    leaves: VerifiedLeaves,
) -> Result<Followed, ReplayError> {
    let mut overlay = crate::state::Overlay::new(state);
    for (seq, record) in (leaves.first_seq()..).zip(leaves.records()) {
        let fail = |refusal| ReplayError::Refused { seq, refusal };
        let leaf = Leaf::from_bytes(&record.bytes)
            .map_err(|e| fail(Refusal::new(Code::SchemaViolation, e.to_string())))?;
        crate::schema::validate_signed(&leaf.entry)
            .map_err(|e| fail(Refusal::new(Code::SchemaViolation, e.to_string())))?;
        let at = Position {
            seq,
            logged_at: &leaf.logged_at,
            derived: true,
        };
        let applied = apply(&overlay, at, &leaf.entry)
            .map_err(|e| ReplayError::Storage { seq, error: e.0 })?;
        match applied {
            Ok(Applied::New(effects)) => overlay.apply(effects),
            Ok(Applied::Resubmission(at)) => {
                return Err(fail(Refusal::new(
                    Code::NonceConflict,
                    format!("a resubmission of seq {at} was sequenced again"),
                )))
            }
            Err(refusal) => return Err(fail(refusal)),
        }
    }
    let writes = overlay.into_writes();
    Ok(Followed { leaves, writes })
}
