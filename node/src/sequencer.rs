//! The single writer. Requests queue entries on a bounded channel; one
//! thread drains what is waiting (up to [`MAX_GROUP`] entries) into one
//! commit group: the checks of entries not yet checked (in parallel), rules,
//! one `WriteBatch`, one fsync, one signed checkpoint. Each submitter gets
//! its receipts only after the group is durable.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ledger::entry::{Leaf, SignedEntry};
use ledger::merkle::leaf_hash;
use ledger::rules::{check_submissions, Refusal};
use ledger::sequencer::{BuiltGroup, Outcome, Pipeline};
use ledger::store::{Log, PreparedGroup, RocksBackend};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::{Shared, SharedLog};

/// Most entries in one commit group.
pub const MAX_GROUP: usize = 1_000;
/// Submissions that may wait for the sequencer before new ones are refused
/// with `overloaded`.
pub const QUEUE: usize = 256;

/// What a durable entry's submitter gets (SPEC §7).
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// Its seq.
    pub seq: u64,
    /// Its leaf hash.
    pub leaf_hash: String,
    /// Its `logged_at`.
    pub logged_at: String,
    /// The leaf hash of the seq before it: with `logged_at`, the submitter
    /// rebuilds the leaf from its own entry and checks `leaf_hash`.
    pub prev: String,
    /// The signed checkpoint the inclusion proof is against.
    pub checkpoint: String,
    /// RFC 9162 inclusion path of `seq` in that checkpoint's tree.
    pub inclusion: Vec<String>,
}

/// What one committed group tells its submitters: each entry's outcome
/// and the checkpoint of the tree that holds them. The handlers turn
/// outcomes into receipts ([`receipt`]) on the blocking pool, in parallel,
/// so the sequencer goes on with the next group meanwhile.
pub struct Committed {
    /// One outcome per entry of the job, in order.
    pub outcomes: Vec<Result<Outcome, Refusal>>,
    /// The signed checkpoint of the group's tree.
    pub checkpoint: Arc<str>,
    /// That tree's size.
    pub size: u64,
}

/// An entry as a request hands it over.
pub enum Submitted {
    /// Through [`check_submissions`] already: an array's entries are
    /// checked on the blocking pool while the sequencer works on others.
    Checked(SignedEntry),
    /// Strictly parsed only: a single entry is checked with the rest of its
    /// group, in parallel, which spares each request a round trip through
    /// the blocking pool (two thread wake-ups).
    Parsed(Value),
}

/// One request's entries and where to send their answers.
pub struct Job {
    /// Entries in request order (the sequencer takes them).
    entries: Vec<Submitted>,
    /// How many there were.
    count: usize,
    /// The outcomes; `Err` if the commit itself failed.
    reply: oneshot::Sender<Result<Committed, String>>,
}

impl Job {
    /// A request's entries and where their outcomes go.
    pub fn new(entries: Vec<Submitted>, reply: oneshot::Sender<Result<Committed, String>>) -> Job {
        Job {
            count: entries.len(),
            entries,
            reply,
        }
    }
}

/// Why a job was not queued.
pub enum QueueError {
    /// The queue is full: answer `overloaded`.
    Full,
    /// The sequencer has stopped (shutting down).
    Closed,
}

/// The sending side, held by the HTTP handlers.
#[derive(Clone)]
pub struct Queue(SyncSender<Job>);

impl Queue {
    /// Queues a job without waiting.
    pub fn submit(&self, job: Job) -> Result<(), QueueError> {
        self.0.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => QueueError::Full,
            TrySendError::Disconnected(_) => QueueError::Closed,
        })
    }
}

/// Starts the sequencer thread, which decides groups and hands them to a
/// committer thread of its own: the rules of group N+1 run while group N
/// is written and fsynced. It ends when every [`Queue`] is dropped, after
/// finishing the groups already queued.
pub fn start(log: SharedLog, shared: Arc<Shared>) -> (Queue, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    let handle = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || run(rx, log, shared))
        .expect("spawn the sequencer thread");
    (Queue(tx), handle)
}

/// What the sequencer hands the committer.
enum ToCommit {
    /// A decided group and the jobs it answers.
    Group {
        /// Boxed: a group is large, a reset is a sender.
        built: Box<BuiltGroup>,
        jobs: Vec<Job>,
        started: Instant,
    },
    /// Sent after a failed commit: acknowledged once every group before it
    /// has been answered, so the sequencer can start again from the log.
    Reset(std::sync::mpsc::Sender<()>),
}

fn run(rx: Receiver<Job>, log: SharedLog, shared: Arc<Shared>) {
    let mut pipeline = Pipeline::new(&log.read().expect("log lock"));
    let failed = Arc::new(AtomicBool::new(false));
    // One group being committed, one waiting: the rules run one group ahead.
    let (to_commit, committing) = std::sync::mpsc::sync_channel(1);
    let committer = {
        let (log, shared, failed) = (log.clone(), shared.clone(), failed.clone());
        let installed = pipeline.installed();
        std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || commit_stage(committing, &log, &shared, &installed, &failed))
            .expect("spawn the committer thread")
    };
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut count = jobs[0].entries.len();
        while count < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.entries.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if failed.load(Ordering::Acquire) {
            // Groups built on the failed one were failed too: start again
            // from what the log holds.
            let (ack, acked) = std::sync::mpsc::channel();
            if to_commit.send(ToCommit::Reset(ack)).is_ok() {
                let _ = acked.recv();
            }
            pipeline.reset(&log.read().expect("log lock"));
            failed.store(false, Ordering::Release);
        }
        let started = Instant::now();
        let submitted: Vec<Submitted> = jobs
            .iter_mut()
            .flat_map(|j| std::mem::take(&mut j.entries))
            .collect();
        let mut entries = Vec::with_capacity(submitted.len());
        let refusals: Vec<Option<Refusal>> = check(submitted)
            .into_iter()
            .map(|c| c.map(|entry| entries.push(entry)).err())
            .collect();
        match pipeline.build(entries, SystemTime::now()) {
            Ok(mut built) => {
                // One result per submitted entry again: the check's
                // refusals in their places.
                let mut decided = built.results.into_iter();
                built.results = refusals
                    .into_iter()
                    .map(|r| match r {
                        None => decided.next().expect("one result per checked entry"),
                        Some(refusal) => Err(refusal),
                    })
                    .collect();
                let group = ToCommit::Group {
                    built: Box::new(built),
                    jobs,
                    started,
                };
                if to_commit.send(group).is_err() {
                    break;
                }
            }
            Err(e) => fail(jobs, &e.to_string()),
        }
    }
    drop(to_commit);
    committer.join().expect("committer thread");
}

/// Checks the entries not yet checked, in parallel when there are several.
fn check(submitted: Vec<Submitted>) -> Vec<Result<SignedEntry, Refusal>> {
    let mut parsed = Vec::new();
    let mut out: Vec<Option<Result<SignedEntry, Refusal>>> = submitted
        .into_iter()
        .map(|s| match s {
            Submitted::Checked(entry) => Some(Ok(entry)),
            Submitted::Parsed(value) => {
                parsed.push(value);
                None
            }
        })
        .collect();
    let mut checked = check_submissions(parsed).into_iter();
    out.iter_mut()
        .map(|slot| {
            slot.take()
                .unwrap_or_else(|| checked.next().expect("one result per parsed entry"))
        })
        .collect()
}

/// Commits and installs groups in the order decided, publishes each new
/// checkpoint, and only then answers the group's submitters.
fn commit_stage(
    rx: Receiver<ToCommit>,
    log: &SharedLog,
    shared: &Shared,
    installed: &AtomicU64,
    failed: &AtomicBool,
) {
    for message in rx {
        let (built, jobs, started) = match message {
            ToCommit::Reset(ack) => {
                let _ = ack.send(());
                continue;
            }
            ToCommit::Group {
                built,
                jobs,
                started,
            } => (*built, jobs, started),
        };
        let submitted = built.results.len();
        let new = built
            .results
            .iter()
            .filter(|o| matches!(o, Ok(Outcome::Sequenced(_))))
            .count();
        let result = if failed.load(Ordering::Acquire) {
            Err("an earlier commit group failed; nothing of this one is in the log".to_owned())
        } else {
            commit_group(log, shared, built.group)
        };
        match result {
            Err(e) => {
                failed.store(true, Ordering::Release);
                shared.metrics.group(submitted, 0, started.elapsed());
                fail(jobs, &e);
            }
            Ok((checkpoint, size)) => {
                installed.store(size, Ordering::Release);
                shared.metrics.group(submitted, new, started.elapsed());
                let mut outcomes = built.results.into_iter();
                for job in jobs {
                    let n = job.count;
                    let _ = job.reply.send(Ok(Committed {
                        outcomes: outcomes.by_ref().take(n).collect(),
                        checkpoint: checkpoint.clone(),
                        size,
                    }));
                }
            }
        }
    }
}

/// Writes a group durably (under the log's read lock: reads go on and see
/// the old head), moves the head (write lock, briefly) and signs the new
/// checkpoint.
fn commit_group(
    log: &SharedLog,
    shared: &Shared,
    group: PreparedGroup,
) -> Result<(Arc<str>, u64), String> {
    log.read()
        .expect("log lock")
        .commit(&group)
        .map_err(|e| e.to_string())?;
    let head = log.write().expect("log lock").install(group);
    let checkpoint = shared.signer.sign(head.root);
    *shared.checkpoint.write().expect("checkpoint lock") = checkpoint.clone();
    Ok((Arc::from(checkpoint), head.root.size))
}

fn fail(jobs: Vec<Job>, error: &str) {
    tracing::error!(error, "commit group failed; nothing of it is in the log");
    for job in jobs {
        let _ = job.reply.send(Err(error.to_owned()));
    }
}

/// The receipt of a sequenced or resubmitted entry against the checkpoint
/// of the tree of `size` leaves. A new entry's leaf hash and `logged_at`
/// come from sequencing; a resubmission's are read from its leaf.
pub fn receipt(
    log: &Log<RocksBackend>,
    outcome: &Outcome,
    checkpoint: &str,
    size: u64,
) -> Result<Receipt, String> {
    let (seq, leaf_hash, logged_at, prev) = match outcome {
        Outcome::Sequenced(s) => (s.seq, s.leaf_hash, s.logged_at.clone(), s.prev),
        Outcome::Resubmitted(seq) => {
            let bytes = log
                .leaf(*seq)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("leaf {seq} missing"))?;
            let leaf = Leaf::from_bytes(&bytes).map_err(|e| e.to_string())?;
            (*seq, leaf_hash(&bytes), leaf.logged_at, leaf.prev)
        }
    };
    let path = log.prove_inclusion(seq, size).map_err(|e| e.to_string())?;
    Ok(Receipt {
        seq,
        leaf_hash: leaf_hash.to_hex(),
        logged_at,
        prev: prev.to_hex(),
        checkpoint: checkpoint.to_owned(),
        inclusion: path.iter().map(|h| h.to_hex()).collect(),
    })
}
