//! Sequencing a commit group: each checked entry goes through the rules
//! ([`crate::rules::apply`]) on top of the committed state plus the effects
//! of the entries before it in the group; the accepted ones become chained
//! leaves, written with all their effects in one atomic, durable commit.
//!
//! [`replay`] runs the same rules over existing leaves: an auditor's check
//! that every entry was valid when sequenced, and the rebuild of derived
//! state from the leaves alone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use crate::entry::{format_timestamp, Leaf, LeafRecord, SignedEntry};
use crate::rules::{apply, apply_prepared, cold_reads, prepare, Applied, Code, Prepared, Refusal};
use crate::state::{Layered, MemState, Overlay, StateError, StateRead, Table};
use crate::store::{AppendError, Backend, Log, PreparedGroup, Sequenced, StoreError, Tip};

/// What happened to one submitted entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sequenced now.
    Sequenced(Sequenced),
    /// The identical statement was already in the log at this seq.
    Resubmitted(u64),
}

/// Sequences `entries` (already through [`crate::rules::check_submission`])
/// as one commit group. Returns one result per entry, in order; refused
/// entries change nothing. `Err` means the commit failed and nothing of the
/// group is in the log.
pub fn sequence_group<B: Backend>(
    log: &mut Log<B>,
    entries: Vec<SignedEntry>,
    now: SystemTime,
) -> Result<Vec<Result<Outcome, Refusal>>, AppendError> {
    let built = build_group(log.tip(), log.backend(), entries, now)?;
    log.commit(&built.group)?;
    log.install(built.group);
    Ok(built.results)
}

/// A commit group decided but not yet written.
pub struct BuiltGroup {
    /// One result per submitted entry, in order.
    pub results: Vec<Result<Outcome, Refusal>>,
    /// The accepted entries' leaves and state writes, ready to commit.
    pub group: PreparedGroup,
}

/// The deciding half of [`sequence_group`]: the rules over `state` (the
/// store's, plus any groups built on `tip` but not yet committed) and the
/// group's leaves chained on `tip`, without writing anything. Then
/// [`Log::commit`] and [`Log::install`].
pub fn build_group(
    tip: &Tip,
    state: &dyn StateRead,
    entries: Vec<SignedEntry>,
    now: SystemTime,
) -> Result<BuiltGroup, AppendError> {
    let time = tip.next_logged_at(now);
    let logged_at = format_timestamp(time);
    let first = tip.size();
    let mut prev = tip.head().last_leaf;
    let mut records: Vec<LeafRecord> = Vec::with_capacity(entries.len());
    let mut results = Vec::with_capacity(entries.len());
    let mut overlay = Overlay::new(state);
    // What does not depend on the order (canonical bytes, statement hash,
    // PII guard) is made on all cores; then the group's nonces and
    // histories are read in one batch.
    let prepared: Vec<(SignedEntry, Result<Prepared, Refusal>)> = entries
        .into_par_iter()
        .map(|e| {
            let p = prepare(&e);
            (e, p)
        })
        .collect();
    let cold: Vec<_> = prepared
        .iter()
        .flat_map(|(e, _)| cold_reads(&e.statement))
        .collect();
    overlay
        .prefetch(cold)
        .map_err(|e| AppendError::Store(StoreError::Io(e.0)))?;
    for (entry, prepared) in prepared {
        let seq = first + records.len() as u64;
        // A state that cannot be read fails the group (the store's
        // fault); a refusal is the entry's alone.
        let applied = match prepared {
            Err(refusal) => Err(refusal),
            Ok(p) => apply_prepared(&overlay, seq, &entry, &p)
                .map_err(|e| AppendError::Store(StoreError::Io(e.0)))?
                .map(|applied| (applied, p.statement)),
        };
        let result = match applied {
            Ok((Applied::Resubmission(at), _)) => Ok(Outcome::Resubmitted(at)),
            Err(refusal) => Err(refusal),
            Ok((Applied::New(effects), statement)) => {
                match Leaf::encode_parts(&entry.signature, &statement, &logged_at, &prev, seq) {
                    Err(e) => Err(Refusal::from(e)),
                    Ok((bytes, _)) => {
                        let record = LeafRecord::new(bytes);
                        let done = Sequenced {
                            seq,
                            leaf_hash: record.hash,
                            logged_at: logged_at.clone(),
                            prev,
                        };
                        prev = record.hash;
                        overlay.apply(effects);
                        records.push(record);
                        Ok(Outcome::Sequenced(done))
                    }
                }
            }
        };
        results.push(result);
    }
    let writes = overlay.into_writes();
    Ok(BuiltGroup {
        results,
        group: tip.prepare(records, writes, time),
    })
}

/// The deciding stage of a two-stage writer: builds group N+1 while group N
/// is committed on another thread. Its rules read the store through the
/// state writes of the groups built but not yet installed, so every group
/// sees the effects of the ones before it; its tip is the last built
/// group's. The committing stage must commit and install the groups in the
/// order built, and report each installed size with [`Pipeline::installed`].
pub struct Pipeline<B: Backend> {
    backend: Arc<B>,
    tip: Tip,
    /// (size after the group, its state writes) of groups built and not yet
    /// known to be installed, oldest first.
    in_flight: VecDeque<(u64, Arc<[crate::state::Write]>)>,
    installed: Arc<AtomicU64>,
}

impl<B: Backend> Pipeline<B> {
    /// Starts at the log's tip.
    pub fn new(log: &Log<B>) -> Pipeline<B> {
        Pipeline {
            backend: log.shared_backend(),
            tip: log.tip().clone(),
            in_flight: VecDeque::new(),
            installed: Arc::new(AtomicU64::new(log.size())),
        }
    }

    /// Where the committing stage reports the log's size after each install.
    pub fn installed(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.installed)
    }

    /// Builds the next group on the last one built.
    pub fn build(
        &mut self,
        entries: Vec<SignedEntry>,
        now: SystemTime,
    ) -> Result<BuiltGroup, AppendError> {
        let installed = self.installed.load(Ordering::Acquire);
        while self
            .in_flight
            .front()
            .is_some_and(|(end, _)| *end <= installed)
        {
            self.in_flight.pop_front();
        }
        let layers: Vec<&[crate::state::Write]> =
            self.in_flight.iter().map(|(_, w)| &w[..]).collect();
        let state = Layered::new(&*self.backend, &layers);
        let built = build_group(&self.tip, &state, entries, now)?;
        self.tip = built.group.tip().clone();
        self.in_flight
            .push_back((self.tip.size(), built.group.state_writes()));
        Ok(built)
    }

    /// Forgets every group built and not installed (a commit failed, so
    /// the committing stage dropped it and those after it) and starts
    /// again at the log's tip.
    pub fn reset(&mut self, log: &Log<B>) {
        self.tip = log.tip().clone();
        self.in_flight.clear();
        self.installed.store(log.size(), Ordering::Release);
    }
}

/// Sequences groups through a [`Pipeline`]: `next` gives each group's
/// entries and clock reading (until `None`), and `done` gets each group's
/// results once it is durable and installed, in order. Rules for one group run on this thread
/// while the one before is committed on another. Stops at the first failed
/// commit (nothing of that group or later ones is in the log).
pub fn sequence_pipelined<B: Backend + Send + Sync>(
    log: &mut Log<B>,
    mut next: impl FnMut() -> Option<(Vec<SignedEntry>, SystemTime)>,
    mut done: impl FnMut(Vec<Result<Outcome, Refusal>>) + Send,
) -> Result<(), AppendError> {
    let mut pipeline = Pipeline::new(log);
    let installed = pipeline.installed();
    // One group committing and one waiting: the builder runs at most one
    // group ahead.
    let (tx, rx) = std::sync::mpsc::sync_channel::<BuiltGroup>(1);
    std::thread::scope(|scope| {
        let committer = scope.spawn(move || -> Result<(), AppendError> {
            for built in rx {
                log.commit(&built.group)?;
                log.install(built.group);
                installed.store(log.size(), Ordering::Release);
                done(built.results);
            }
            Ok(())
        });
        let mut built_all = Ok(());
        while let Some((entries, now)) = next() {
            match pipeline.build(entries, now) {
                Ok(built) => {
                    if tx.send(built).is_err() {
                        break; // the committer stopped on an error
                    }
                }
                Err(e) => {
                    built_all = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let committed = committer.join().expect("committer thread");
        committed.and(built_all)
    })
}

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
/// decision for each: every leaf must be a new, accepted entry.
pub struct Replayer {
    state: MemState,
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

    /// Keeps only the state the rules decide with: not the query indexes,
    /// the alerts or the duplicate-aid histories (alerts are derived data
    /// and never refuse an entry). An auditor's replay reaches the same
    /// decisions and holds far less in memory.
    pub fn lean() -> Replayer {
        Replayer {
            lean: true,
            ..Replayer::new()
        }
    }

    /// Continues a lean replay from a [`Replayer::snapshot`].
    pub fn restore(snapshot: &[u8]) -> Result<Replayer, StateError> {
        let next = snapshot
            .get(..8)
            .ok_or_else(|| StateError("replay snapshot too short".into()))?;
        Ok(Replayer {
            next: u64::from_be_bytes(next.try_into().expect("8 bytes")),
            state: MemState::decode(&snapshot[8..])?,
            lean: true,
        })
    }

    /// The next seq to push and the state so far, as bytes to keep.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = self.next.to_be_bytes().to_vec();
        self.state.encode_into(&mut out);
        out
    }

    /// The seq the next pushed leaf must have.
    pub fn next_seq(&self) -> u64 {
        self.next
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
        let value = serde_json::to_value(&leaf.entry)
            .map_err(|e| fail(Refusal::new(Code::SchemaViolation, e.to_string())))?;
        crate::schema::validate_entry(&value)
            .map_err(|e| fail(Refusal::new(Code::SchemaViolation, e.to_string())))?;
        let applied =
            apply(&self.state, leaf.seq, &leaf.entry).map_err(|e| ReplayError::Storage {
                seq: leaf.seq,
                error: e.0,
            })?;
        match applied {
            Ok(Applied::New(mut effects)) => {
                if self.lean {
                    effects.writes.retain(|w| {
                        !matches!(w.table, Table::Index | Table::Alerts | Table::Histories)
                    });
                }
                self.state.apply(&effects.writes)
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
pub type StateRow = (crate::state::Table, Vec<u8>, Vec<u8>);

/// Every `(table, key, value)` of a state, in order: for comparing a store's
/// state with a replay byte for byte.
pub fn dump(state: &dyn StateRead) -> Result<Vec<StateRow>, crate::state::StateError> {
    let mut out = Vec::new();
    for t in crate::state::Table::ALL {
        state.scan(t, b"", b"", &mut |k, v| {
            out.push((t, k.to_vec(), v.to_vec()));
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
    }
    Ok(out)
}
