//! The single writer. Requests queue entries on a bounded channel; one
//! thread drains what is waiting (up to [`MAX_GROUP`] entries) into one
//! commit group: the checks of entries not yet checked (in parallel), rules,
//! one `WriteBatch`, one fsync, one signed checkpoint. Each submitter gets
//! its receipts only after the group is durable.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ledger::entry::Leaf;
use ledger::merkle::leaf_hash;
use ledger::merkle::ProveError;
use ledger::rules::{check_submissions, CheckedEntry, Refusal};
use ledger::sequencer::{write_pipelined, GroupResult, Outcome, WriteError};
use ledger::store::{Log, RocksBackend, StoreError};
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
    /// Through [`ledger::rules::check_batch`] already: an array's entries are
    /// checked on the check pool while the sequencer works on others.
    Checked(Box<CheckedEntry>),
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
    /// The outcomes; `Err` if nothing of the group is in the log.
    reply: oneshot::Sender<Result<Committed, WriteError>>,
}

impl Job {
    /// A request's entries and where their outcomes go.
    pub fn new(
        entries: Vec<Submitted>,
        reply: oneshot::Sender<Result<Committed, WriteError>>,
    ) -> Job {
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

/// Starts the sequencer thread, which runs the ledger's writer
/// ([`write_pipelined`]): the rules of group N+1 run while group N is
/// written and fsynced on a committer thread of its own. It ends when every
/// [`Queue`] is dropped, after finishing the groups already queued.
pub fn start(log: SharedLog, shared: Arc<Shared>) -> (Queue, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    let handle = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || run(&rx, &log, &shared))
        .expect("spawn the sequencer thread");
    (Queue(tx), handle)
}

/// What the writer carries with each group and hands back with its
/// results: the jobs it answers and the refusals of the checks made here.
struct Tag {
    jobs: Vec<Job>,
    /// One per submitted entry: `Some` where the checks refused it (it was
    /// not passed to the writer).
    refused: Vec<Option<Refusal>>,
    started: Instant,
}

fn run(rx: &Receiver<Job>, log: &SharedLog, shared: &Shared) {
    write_pipelined(
        log,
        || next_group(rx),
        |head| {
            let signer = shared
                .signer
                .as_ref()
                .expect("a node that sequences has its key");
            let checkpoint: Arc<str> = Arc::from(signer.sign(head.root));
            match &shared.lock {
                // Under the writer's lock the checkpoint is published only
                // once etcd holds it (replication does), and only while the
                // lease is confirmed: a writer paused past its lease hands
                // nothing more on (SPEC §8).
                Some(lock) if lock.confirm() => lock.signed(&checkpoint),
                Some(lock) => lock.lose(format!(
                    "the lease was not confirmed when a group of size {} was written",
                    head.root.size
                )),
                None => {
                    *shared.checkpoint.write().expect("checkpoint lock") = checkpoint.to_string()
                }
            }
            shared.published_changed();
            (checkpoint, head.root.size)
        },
        |tag, result| answer(shared, tag, result),
    );
}

/// Waits for a job, then takes what else is waiting (up to [`MAX_GROUP`]
/// entries) and checks the entries not yet checked: the next group, or
/// `None` once every [`Queue`] is dropped.
fn next_group(rx: &Receiver<Job>) -> Option<(Vec<CheckedEntry>, SystemTime, Tag)> {
    let first = rx.recv().ok()?;
    let mut count = first.entries.len();
    let mut jobs = vec![first];
    while count < MAX_GROUP {
        match rx.try_recv() {
            Ok(job) => {
                count += job.entries.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    let started = Instant::now();
    let submitted: Vec<Submitted> = jobs
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.entries))
        .collect();
    let mut entries = Vec::with_capacity(submitted.len());
    let refused = check(submitted)
        .into_iter()
        .map(|c| c.map(|entry| entries.push(entry)).err())
        .collect();
    let tag = Tag {
        jobs,
        refused,
        started,
    };
    Some((entries, SystemTime::now(), tag))
}

/// Checks the entries not yet checked, in parallel when there are several.
fn check(submitted: Vec<Submitted>) -> Vec<Result<CheckedEntry, Refusal>> {
    let mut parsed = Vec::new();
    let mut out: Vec<Option<Result<CheckedEntry, Refusal>>> = submitted
        .into_iter()
        .map(|s| match s {
            Submitted::Checked(entry) => Some(Ok(*entry)),
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

/// Answers a group's jobs once it is durable and its checkpoint
/// published (or failed): one outcome per submitted entry, the check's
/// refusals in their places.
fn answer(shared: &Shared, tag: Tag, result: GroupResult<(Arc<str>, u64)>) {
    let Tag {
        jobs,
        refused,
        started,
    } = tag;
    let submitted = refused.len();
    match result {
        Err(e) => {
            shared.metrics.group(submitted, 0, started.elapsed());
            tracing::error!(error = %e, "commit group failed; nothing of it is in the log");
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
        Ok((decided, (checkpoint, size))) => {
            let new = decided
                .iter()
                .filter(|o| matches!(o, Ok(Outcome::Sequenced(_))))
                .count();
            shared.metrics.group(submitted, new, started.elapsed());
            let mut decided = decided.into_iter();
            let mut outcomes = refused.into_iter().map(|r| match r {
                None => decided.next().expect("one result per checked entry"),
                Some(refusal) => Err(refusal),
            });
            for job in jobs {
                let _ = job.reply.send(Ok(Committed {
                    outcomes: outcomes.by_ref().take(job.count).collect(),
                    checkpoint: checkpoint.clone(),
                    size,
                }));
            }
        }
    }
}

/// Why a receipt could not be made for an outcome the writer reported.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The resubmitted entry's leaf is not in the store.
    #[error("leaf {0} is missing")]
    Missing(u64),
    /// The resubmitted entry's leaf does not parse.
    #[error("leaf {seq}: {error}")]
    Leaf {
        /// Its seq.
        seq: u64,
        /// Why.
        error: ledger::EntryError,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The inclusion proof could not be made.
    #[error(transparent)]
    Proof(#[from] ProveError<StoreError>),
}

/// The receipt of a sequenced or resubmitted entry against the checkpoint
/// of the tree of `size` leaves. A new entry's leaf hash and `logged_at`
/// come from sequencing; a resubmission's are read from its leaf.
pub fn receipt(
    log: &Log<RocksBackend>,
    outcome: &Outcome,
    checkpoint: &str,
    size: u64,
) -> Result<Receipt, ReceiptError> {
    let (seq, leaf_hash, logged_at, prev) = match outcome {
        Outcome::Sequenced(s) => (s.seq, s.leaf_hash, s.logged_at.clone(), s.prev),
        Outcome::Resubmitted(seq) => {
            let bytes = log.leaf(*seq)?.ok_or(ReceiptError::Missing(*seq))?;
            let leaf = Leaf::from_bytes(&bytes)
                .map_err(|error| ReceiptError::Leaf { seq: *seq, error })?;
            (*seq, leaf_hash(&bytes), leaf.logged_at, leaf.prev)
        }
    };
    let path = log.prove_inclusion(seq, size)?;
    Ok(Receipt {
        seq,
        leaf_hash: leaf_hash.to_hex(),
        logged_at,
        prev: prev.to_hex(),
        checkpoint: checkpoint.to_owned(),
        inclusion: path.iter().map(|h| h.to_hex()).collect(),
    })
}
