//! The single writer. Requests queue checked entries on a bounded channel;
//! one thread drains what is waiting (up to [`MAX_GROUP`] entries) into one
//! commit group: rules, one `WriteBatch`, one fsync, one signed checkpoint.
//! Each submitter gets its receipts only after the group is durable.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

use ledger::entry::{Leaf, SignedEntry};
use ledger::merkle::leaf_hash;
use ledger::rules::Refusal;
use ledger::sequencer::{build_group, Outcome};
use ledger::store::{Log, RocksBackend};
use serde::Serialize;
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

/// One request's entries and where to send their answers.
pub struct Job {
    /// Checked entries, in request order.
    pub entries: Vec<SignedEntry>,
    /// The outcomes; `Err` if the commit itself failed.
    pub reply: oneshot::Sender<Result<Committed, String>>,
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

/// Starts the sequencer thread. It ends when every [`Queue`] is dropped,
/// after finishing the groups already queued.
pub fn start(log: SharedLog, shared: Arc<Shared>) -> (Queue, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    let handle = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || run(rx, log, shared))
        .expect("spawn the sequencer thread");
    (Queue(tx), handle)
}

fn run(rx: Receiver<Job>, log: SharedLog, shared: Arc<Shared>) {
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
        commit(&mut jobs, &log, &shared);
    }
}

/// Sequences one group. The rules and the durable write run under the
/// log's read lock, so reads go on meanwhile (they see the old head until
/// the group is installed); only moving the head takes the write lock.
/// This thread is the log's only writer, so nothing appends in between.
fn sequence(
    log: &SharedLog,
    entries: Vec<SignedEntry>,
) -> Result<Vec<Result<Outcome, Refusal>>, String> {
    let reader = log.read().expect("log lock");
    let built = build_group(&reader, entries, SystemTime::now()).map_err(|e| e.to_string())?;
    if built.records.is_empty() {
        return Ok(built.results);
    }
    let group = reader.prepare(&built.records, &built.writes, built.time);
    reader.commit(&group).map_err(|e| e.to_string())?;
    drop(reader);
    log.write().expect("log lock").install(group);
    Ok(built.results)
}

fn commit(jobs: &mut Vec<Job>, log: &SharedLog, shared: &Shared) {
    let sizes: Vec<usize> = jobs.iter().map(|j| j.entries.len()).collect();
    let entries: Vec<SignedEntry> = jobs
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.entries))
        .collect();
    let submitted = entries.len();
    let started = std::time::Instant::now();
    let result = sequence(log, entries).map(|outcomes| {
        let head = log.read().expect("log lock").head().root;
        let checkpoint = shared.signer.sign(head);
        *shared.checkpoint.write().expect("checkpoint lock") = checkpoint.clone();
        (outcomes, Arc::<str>::from(checkpoint), head.size)
    });
    let new = result.as_ref().map_or(0, |(outcomes, _, _)| {
        outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Outcome::Sequenced(_))))
            .count()
    });
    shared.metrics.group(submitted, new, started.elapsed());
    match result {
        Err(e) => {
            tracing::error!(error = %e, "commit group failed; nothing of it is in the log");
            for job in jobs.drain(..) {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
        Ok((outcomes, checkpoint, size)) => {
            let mut outcomes = outcomes.into_iter();
            for (job, n) in jobs.drain(..).zip(sizes) {
                let _ = job.reply.send(Ok(Committed {
                    outcomes: outcomes.by_ref().take(n).collect(),
                    checkpoint: checkpoint.clone(),
                    size,
                }));
            }
        }
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
    let (seq, leaf_hash, logged_at) = match outcome {
        Outcome::Sequenced(s) => (s.seq, s.leaf_hash, s.logged_at.clone()),
        Outcome::Resubmitted(seq) => {
            let bytes = log
                .leaf(*seq)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("leaf {seq} missing"))?;
            let leaf = Leaf::from_bytes(&bytes).map_err(|e| e.to_string())?;
            (*seq, leaf_hash(&bytes), leaf.logged_at)
        }
    };
    let path = log.prove_inclusion(seq, size).map_err(|e| e.to_string())?;
    Ok(Receipt {
        seq,
        leaf_hash: leaf_hash.to_hex(),
        logged_at,
        checkpoint: checkpoint.to_owned(),
        inclusion: path.iter().map(|h| h.to_hex()).collect(),
    })
}
