//! The two-stage writer: the rules of group N+1 run on one thread while
//! group N is committed on another.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::{build_group, BuiltGroup, Outcome, WriteError};
use crate::rules::{CheckedEntry, Refusal};
use crate::state::{Layered, StateError, Write};
use crate::store::{Backend, HeadRecord, Log, Tip};

/// The deciding stage of the writer: builds group N+1 while group N is
/// committed on another thread. Its rules read the store through the
/// state writes of the groups built but not yet installed, so every group
/// sees the effects of the ones before it; its tip is the last built
/// group's. The committing stage commits and installs the groups in the
/// order built and reports each installed size through
/// [`Pipeline::installed`].
pub struct Pipeline<B: Backend> {
    backend: Arc<B>,
    tip: Tip,
    /// (size after the group, its state writes) of groups built and not yet
    /// known to be installed, oldest first.
    in_flight: VecDeque<(u64, Arc<[Write]>)>,
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

    /// Builds the next group on the last one built: one result per entry,
    /// and the group to commit (in order, with [`Log::commit`] and
    /// [`Log::install`]).
    #[cfg(feature = "test-support")]
    pub fn build(
        &mut self,
        entries: Vec<CheckedEntry>,
        now: SystemTime,
    ) -> Result<(Vec<Result<Outcome, Refusal>>, crate::store::PreparedGroup), StateError> {
        let built = self.build_group(entries, now)?;
        Ok((built.results, built.group))
    }

    fn build_group(
        &mut self,
        entries: Vec<CheckedEntry>,
        now: SystemTime,
    ) -> Result<BuiltGroup, StateError> {
        let installed = self.installed.load(Ordering::Acquire);
        while self
            .in_flight
            .front()
            .is_some_and(|(end, _)| *end <= installed)
        {
            self.in_flight.pop_front();
        }
        let layers: Vec<&[Write]> = self.in_flight.iter().map(|(_, w)| &w[..]).collect();
        let state = Layered::new(&*self.backend, &layers);
        let built = build_group(&self.tip, &state, entries, now)?;
        self.tip = built.group.tip().clone();
        self.in_flight
            .push_back((self.tip.size(), built.group.state_writes()));
        Ok(built)
    }

    /// Forgets every group built and not installed (a commit failed, so
    /// the committing stage failed it and those after it) and starts
    /// again at the log's tip.
    fn reset(&mut self, log: &Log<B>) {
        self.tip = log.tip().clone();
        self.in_flight.clear();
        self.installed.store(log.size(), Ordering::Release);
    }
}

/// What the writer answers for one group: each entry's result and what
/// `on_install` made of the new head (the node: its signed checkpoint);
/// or why nothing of the group is in the log.
pub type GroupResult<C> = Result<(Vec<Result<Outcome, Refusal>>, C), WriteError>;

/// What the deciding stage hands the committing stage, in order.
enum ToCommit<T> {
    /// A decided group and its caller's tag.
    Group(Box<BuiltGroup>, T),
    /// A group that could not be decided.
    Undecided(T, StateError),
    /// After a failed commit: acknowledged once every group before it has
    /// been answered, so the deciding stage can start again from the log.
    Reset(mpsc::Sender<()>),
}

/// The writer. `next` gives each group's entries (checked: a
/// [`CheckedEntry`] is made only by [`crate::rules::check_submission`] and
/// its kin), clock reading and a tag
/// of the caller's, until `None`; it may block. Each group is decided on
/// this thread while the one before is committed on another: committed
/// durably under a shared lock on `log` (readers go on), installed under
/// the exclusive lock, then `on_install` gets the new head, and `done`
/// gets the group's tag and answer — in the order the groups came.
///
/// A failed commit fails that group and the groups already decided on top
/// of it ([`WriteError::AfterFailure`]); the next group is decided again
/// from what the log holds, so nothing of a failed group is ever taken
/// for part of the log (its nonces are free again).
pub fn write_pipelined<B, T, C>(
    log: &RwLock<Log<B>>,
    mut next: impl FnMut() -> Option<(Vec<CheckedEntry>, SystemTime, T)>,
    mut on_install: impl FnMut(HeadRecord) -> C + Send,
    mut done: impl FnMut(T, GroupResult<C>) + Send,
) where
    B: Backend + Send + Sync,
    T: Send,
{
    let mut pipeline = Pipeline::new(&log.read().expect("log lock"));
    let installed = pipeline.installed();
    let failed = AtomicBool::new(false);
    // One group being committed and one waiting: the rules run at most one
    // group ahead.
    let (to_commit, committing) = mpsc::sync_channel::<ToCommit<T>>(1);
    std::thread::scope(|scope| {
        let failed = &failed;
        std::thread::Builder::new()
            .name("committer".into())
            .spawn_scoped(scope, move || {
                for message in committing {
                    match message {
                        ToCommit::Reset(ack) => {
                            let _ = ack.send(());
                        }
                        ToCommit::Undecided(tag, e) => done(tag, Err(WriteError::State(e))),
                        ToCommit::Group(_, tag) if failed.load(Ordering::Acquire) => {
                            done(tag, Err(WriteError::AfterFailure));
                        }
                        ToCommit::Group(built, tag) => {
                            let BuiltGroup { results, group } = *built;
                            let committed = log.read().expect("log lock").commit(&group);
                            match committed {
                                Err(e) => {
                                    failed.store(true, Ordering::Release);
                                    done(tag, Err(WriteError::Commit(e)));
                                }
                                Ok(()) => {
                                    let head = log.write().expect("log lock").install(group);
                                    installed.store(head.root.size, Ordering::Release);
                                    let made = on_install(head);
                                    done(tag, Ok((results, made)));
                                }
                            }
                        }
                    }
                }
            })
            .expect("spawn the committer thread");
        while let Some((entries, now, tag)) = next() {
            if failed.load(Ordering::Acquire) {
                let (ack, acked) = mpsc::channel();
                if to_commit.send(ToCommit::Reset(ack)).is_err() {
                    break;
                }
                let _ = acked.recv();
                let mut log = log.write().expect("log lock");
                // A store that refuses writes after a failed one (RocksDB)
                // is reopened; if that fails too, so does this group's
                // commit, and the next group tries again.
                let _ = log.recover();
                pipeline.reset(&log);
                failed.store(false, Ordering::Release);
            }
            let message = match pipeline.build_group(entries, now) {
                Ok(built) => ToCommit::Group(Box::new(built), tag),
                Err(e) => ToCommit::Undecided(tag, e),
            };
            if to_commit.send(message).is_err() {
                break;
            }
        }
        drop(to_commit);
    });
}
