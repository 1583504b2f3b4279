//! One writer across machines (SPEC §8): a node started with `--lock`
//! writes only while it holds the writer's lease in etcd ([`crate::lock`]).
//!
//! It starts as a standby: it follows the log from the bucket up to the
//! checkpoint etcd holds (every tile, leaf and checkpoint verified, as a
//! mirror does), serves reads, and answers submissions with the writer's
//! address. When no one holds the lease it campaigns; once it has won, it
//! brings its log to exactly etcd's checkpoint and only then starts its
//! sequencer and replication: it continues the chain from that head.
//!
//! While it writes, a group's checkpoint is signed but not published:
//! replication copies the group's tiles to the bucket, then replaces etcd's
//! checkpoint on the condition that it still holds this writer's last one
//! and the leader key is still under this writer's lease, and only then
//! publishes the checkpoint (`/checkpoint`, the bucket's `checkpoint`) and
//! releases the receipts. A failed condition means another writer exists:
//! the node stops writing for good ([`WriterLock::lose`]) and comes back
//! as a standby only when restarted.
//!
//! Between two keep-alives the node counts its lease as valid until the
//! moment it asked for the last one plus the lease's time to live, less a
//! fifth: etcd's own clock starts later than that. A writer that was paused
//! (SIGSTOP, a long GC-like stall of the machine) finds its lease unconfirmed
//! when it runs again and sequences nothing until a keep-alive confirms it.

use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use ledger::follow::TileFollower;

use crate::lock::{Campaign, Etcd, Lease, LockError, LockUrl};
use crate::mirror::{self, Source};
use crate::replicate::{Replica, ReplicaConfig, ReplicaSource};
use crate::sequencer::Queue;
use crate::{Shared, SharedLog};

/// Where the lock is and how this node takes part.
#[derive(Debug, Clone)]
pub struct LockConfig {
    /// `etcd://HOST:PORT[,HOST:PORT…]/PREFIX`.
    pub url: LockUrl,
    /// This node's address for clients (`--advertise`): the leader key's
    /// value, which standbys name to submitters.
    pub name: String,
    /// The lease's time to live.
    pub ttl: Duration,
    /// Time between two looks of a standby at etcd and the bucket.
    pub interval: Duration,
}

/// The writer's right as this node knows it.
pub(crate) struct WriterLock {
    pub(crate) etcd: Etcd,
    config: LockConfig,
    /// The lease this node won, once it has.
    lease: OnceLock<Lease>,
    /// Until when the lease is surely valid (see the module docs).
    valid_until: Mutex<Option<Instant>>,
    /// Why this node stopped writing for good.
    lost: OnceLock<String>,
    /// Set when the node stops: nothing waits for the lease any more.
    stopping: OnceLock<()>,
    /// Set once the node caught up and its sequencer runs.
    writing: OnceLock<()>,
    /// Who writes, as last read from etcd (while a standby).
    writer: RwLock<Option<String>>,
    /// The newest checkpoint signed by the sequencer, not yet published.
    signed: RwLock<Option<String>>,
    /// What this writer last put in etcd, and a replacement whose outcome
    /// is unknown (the request failed; it may still be applied).
    put: Mutex<Put>,
}

#[derive(Default)]
struct Put {
    last: Option<String>,
    unsure: Option<String>,
}

impl WriterLock {
    pub(crate) fn new(config: LockConfig) -> WriterLock {
        WriterLock {
            // A third of the lease per request: a keep-alive that waits on
            // a member cut off still leaves time to ask another.
            etcd: Etcd::new(
                config.url.clone(),
                (config.ttl / 3).clamp(Duration::from_millis(500), Duration::from_secs(5)),
            ),
            config,
            lease: OnceLock::new(),
            valid_until: Mutex::new(None),
            lost: OnceLock::new(),
            stopping: OnceLock::new(),
            writing: OnceLock::new(),
            writer: RwLock::new(None),
            signed: RwLock::new(None),
            put: Mutex::default(),
        }
    }

    /// This node's name in the lock (its address).
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether this node may write now: it won the lease, has not lost it,
    /// and the last keep-alive still vouches for it.
    pub(crate) fn holds(&self) -> bool {
        self.lease.get().is_some()
            && self.lost.get().is_none()
            && self
                .valid_until
                .lock()
                .expect("lease lock")
                .is_some_and(|t| Instant::now() < t)
    }

    /// Whether this node won the lease (it may have lost it since).
    pub(crate) fn won(&self) -> bool {
        self.lease.get().is_some()
    }

    /// Why this node stopped writing, if it did.
    pub(crate) fn lost(&self) -> Option<&str> {
        self.lost.get().map(String::as_str)
    }

    /// Stops writing for good: the first reason is kept.
    pub(crate) fn lose(&self, why: String) {
        if self.lost.set(why.clone()).is_ok() {
            tracing::error!("the writer's lock is lost: {why}; writing stopped until restart");
        }
    }

    /// The writer named in etcd, while this node is a standby.
    pub(crate) fn writer(&self) -> Option<String> {
        self.writer.read().expect("writer lock").clone()
    }

    /// Records a newly signed checkpoint, to be published once etcd holds it.
    pub(crate) fn signed(&self, note: &str) {
        *self.signed.write().expect("signed lock") = Some(note.to_owned());
    }

    /// The newest signed checkpoint (replication's next).
    pub(crate) fn newest_signed(&self) -> Option<String> {
        self.signed.read().expect("signed lock").clone()
    }

    /// Waits for a keep-alive to vouch for the lease (a paused writer's
    /// first act once it runs again; while etcd has no quorum, until it has
    /// one again): `false` once the lease is lost or the node stops.
    pub(crate) fn confirm(&self) -> bool {
        loop {
            if self.holds() {
                return true;
            }
            if self.lost.get().is_some() || self.stopping.get().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Replaces etcd's checkpoint with `note` on the conditions of SPEC §8.
    /// `Ok(false)`: another writer exists (the caller stops writing).
    /// `Err`: unknown (etcd unreachable or without a quorum): retry later;
    /// the outcome of this request is settled first then.
    pub(crate) fn replace(&self, note: &str) -> Result<bool, LockError> {
        let Some(&lease) = self.lease.get() else {
            return Ok(false);
        };
        let mut put = self.put.lock().expect("put lock");
        if let Some(unsure) = put.unsure.take() {
            match self
                .etcd
                .settle_checkpoint(lease, put.last.as_deref(), &unsure)
            {
                Ok(true) => put.last = Some(unsure),
                Ok(false) => return Ok(false),
                Err(e) => {
                    put.unsure = Some(unsure);
                    return Err(e);
                }
            }
        }
        if put.last.as_deref() == Some(note) {
            return Ok(true);
        }
        match self
            .etcd
            .replace_checkpoint(lease, put.last.as_deref(), note)
        {
            Ok(true) => {
                put.last = Some(note.to_owned());
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                put.unsure = Some(note.to_owned());
                Err(e)
            }
        }
    }

    /// Gives the lease up (a clean stop), so that a standby need not wait
    /// for it to lapse.
    pub(crate) fn resign(&self) {
        if let Some(&lease) = self.lease.get() {
            if let Err(e) = self.etcd.resign(lease) {
                tracing::warn!("resigning the writer's lease: {e}");
            }
        }
    }

    /// One line for `/healthz`, and whether the node must be looked at.
    pub(crate) fn health(&self) -> (String, bool) {
        if let Some(why) = self.lost() {
            return (
                format!("writer's lock lost: {why}; restart to serve as a standby"),
                true,
            );
        }
        if self.won() {
            let state = if self.holds() {
                "held"
            } else {
                "not confirmed (etcd unreachable?)"
            };
            if self.writing.get().is_none() {
                return (
                    format!("won the writer's lock (lease {state}); catching up to its checkpoint"),
                    false,
                );
            }
            return (format!("writer under the lock: lease {state}"), false);
        }
        let writer = self.writer().unwrap_or_else(|| "none yet".into());
        (format!("standby; the writer is {writer}"), false)
    }

    /// Adds to a scrape: whether this node writes, and whether it lost the
    /// lock.
    pub(crate) fn register(&self, r: &mut prometheus_client::registry::Registry) {
        use prometheus_client::metrics::gauge::ConstGauge;
        r.register(
            "aidledger_writer",
            "1 while this node holds the writer's lock and writes",
            ConstGauge::new(i64::from(self.holds())),
        );
        r.register(
            "aidledger_writer_lock_lost",
            "1 once this node lost the writer's lock (see /healthz)",
            ConstGauge::new(i64::from(self.lost().is_some())),
        );
    }

    /// Keeps the lease alive every third of its time to live, until it
    /// lapses or the node is gone.
    fn keep_alive(self: Arc<Self>, shared: Weak<Shared>) {
        let Some(&lease) = self.lease.get() else {
            return;
        };
        let every = self.config.ttl / 3;
        while shared.strong_count() > 0 && self.lost.get().is_none() {
            let asked = Instant::now();
            match self.etcd.keep_alive(lease) {
                Ok(true) => {
                    *self.valid_until.lock().expect("lease lock") =
                        Some(asked + self.config.ttl - self.config.ttl / 5);
                }
                Ok(false) => {
                    self.lose("the lease lapsed: another node may write now".into());
                    if let Some(shared) = shared.upgrade() {
                        shared.published_changed();
                    }
                    return;
                }
                Err(e) => tracing::warn!("keeping the writer's lease alive: {e}"),
            }
            std::thread::sleep(every.saturating_sub(asked.elapsed()));
        }
    }
}

/// The sequencer thread once the node writes: joined when it stops, and
/// the lock given up then.
#[derive(Clone, Default)]
pub struct Sequencer {
    handle: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    lock: Arc<OnceLock<Arc<WriterLock>>>,
}

impl Sequencer {
    pub(crate) fn new(lock: Arc<WriterLock>) -> Sequencer {
        let s = Sequencer::default();
        let _ = s.lock.set(lock);
        s
    }

    /// Waits for the sequencer (if the node became the writer) to finish
    /// the groups queued, then gives the lease up so that a standby takes
    /// over at once. Call once the node's router is gone.
    pub fn finish(self) -> std::thread::Result<()> {
        if let Some(lock) = self.lock.get() {
            let _ = lock.stopping.set(());
        }
        let handle = self.handle.lock().expect("sequencer lock").take();
        let joined = handle.map_or(Ok(()), std::thread::JoinHandle::join);
        if let Some(lock) = self.lock.get() {
            lock.resign();
        }
        joined
    }
}

/// What becoming the writer starts.
pub(crate) struct Promotion {
    /// Where submissions go once the sequencer runs.
    pub(crate) queue: Arc<OnceLock<Queue>>,
    /// The sequencer thread, joined when the node stops.
    pub(crate) sequencer: Sequencer,
    /// The bucket and how often to copy to it.
    pub(crate) replica: Replica,
    /// With a witness policy: the bucket read with it, for the witnessed
    /// checkpoint a standby serves.
    pub(crate) witnessed: Option<TileFollower<ReplicaSource>>,
    /// Longest wait between two looks at the signed checkpoint.
    pub(crate) interval: Duration,
}

/// Starts the standby's thread: it follows, campaigns, and once it has won
/// and caught up, promotes the node to the writer.
pub(crate) fn start(
    log: SharedLog,
    shared: Weak<Shared>,
    lock: Arc<WriterLock>,
    follower: TileFollower<Source>,
    promotion: Promotion,
) {
    // A first round before the node serves, so that it has a checkpoint to
    // publish from its first request on (a fault is met again, and
    // handled, by the thread's first round).
    if let Some(shared) = shared.upgrade() {
        let _ = follow(&log, &shared, &follower);
    }
    std::thread::Builder::new()
        .name("standby".into())
        .spawn(move || run(&log, &shared, &lock, &follower, promotion))
        .expect("spawning the standby thread");
}

fn run(
    log: &SharedLog,
    weak: &Weak<Shared>,
    lock: &Arc<WriterLock>,
    follower: &TileFollower<Source>,
    promotion: Promotion,
) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        if let Err(why) = follow(log, &shared, follower) {
            return halt(&shared, lock, why);
        }
        if let Some(witnessed) = &promotion.witnessed {
            serve_witnessed(log, &shared, witnessed);
        }
        match lock.etcd.holder() {
            Ok(Some(holder)) => *lock.writer.write().expect("writer lock") = Some(holder),
            Ok(None) => {
                let asked = Instant::now();
                match lock.etcd.campaign(lock.name(), lock.config.ttl) {
                    Ok(Campaign::Won(lease)) => {
                        return take_over(log, &shared, lock, follower, promotion, lease, asked)
                    }
                    Ok(Campaign::Held(holder)) => {
                        *lock.writer.write().expect("writer lock") = Some(holder)
                    }
                    Err(e) => tracing::warn!("campaigning for the writer's lock: {e}"),
                }
            }
            Err(e) => tracing::warn!("reading the writer's lock: {e}"),
        }
        drop(shared);
        std::thread::sleep(lock.config.interval);
    }
}

/// A standby with a witness policy serves the bucket's checkpoint (the
/// writer puts only witnessed ones there) once it has verified its
/// signatures, its quorum, and that this log has its root at its size.
fn serve_witnessed(log: &SharedLog, shared: &Shared, witnessed: &TileFollower<ReplicaSource>) {
    let Some(w) = &shared.witnessing else {
        return;
    };
    let signed = match witnessed.checkpoint() {
        Ok(signed) => signed,
        Err(e) => return tracing::debug!("the bucket's witnessed checkpoint: {e}"),
    };
    let root = signed.checkpoint.root;
    let ours = log.read().expect("log lock").root_at(root.size).ok();
    if ours == Some(root) {
        if let Ok(note) = String::from_utf8(signed.note) {
            *w.latest.write().expect("witnessed lock") = Some(note);
        }
    }
}

/// One round of following etcd's checkpoint from the bucket. `Err`: the
/// bucket or etcd contradicts what this node verified (it stops).
fn follow(
    log: &SharedLog,
    shared: &Arc<Shared>,
    follower: &TileFollower<Source>,
) -> Result<(), String> {
    // A reason to retry is logged when it changes, not every round (an
    // empty ledger's bucket has no checkpoint until its first entry).
    static LAST: Mutex<Option<String>> = Mutex::new(None);
    let mut last = LAST.lock().expect("retry lock");
    match mirror::round(log, shared, follower) {
        Ok(()) => {
            *last = None;
            Ok(())
        }
        Err(mirror::Stop::Retry(why)) => {
            if last.as_deref() != Some(why.as_str()) {
                tracing::warn!("standby: {why}; retrying (said once until it changes)");
                *last = Some(why);
            }
            Ok(())
        }
        Err(mirror::Stop::Halt(why)) => Err(why),
    }
}

fn halt(shared: &Shared, lock: &WriterLock, why: String) {
    tracing::error!("standby stopped: {why}");
    let _ = shared.halted.set(why.clone());
    lock.lose(why);
    lock.resign();
}

/// Won: keep the lease alive, bring the log to exactly etcd's checkpoint,
/// then start writing.
fn take_over(
    log: &SharedLog,
    shared: &Arc<Shared>,
    lock: &Arc<WriterLock>,
    follower: &TileFollower<Source>,
    promotion: Promotion,
    lease: Lease,
    asked: Instant,
) {
    let _ = lock.lease.set(lease);
    *lock.valid_until.lock().expect("lease lock") =
        Some(asked + lock.config.ttl - lock.config.ttl / 5);
    *lock.writer.write().expect("writer lock") = Some(lock.name().to_owned());
    {
        let (lock, weak) = (lock.clone(), Arc::downgrade(shared));
        std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || lock.keep_alive(weak))
            .expect("spawning the lease thread");
    }
    tracing::info!(lease = lease.0, "won the writer's lock; catching up");
    let target = loop {
        if let Err(why) = follow(log, shared, follower) {
            return halt(shared, lock, why);
        }
        if lock.lost().is_some() {
            return;
        }
        match caught_up(log, shared, lock) {
            Ok(Some(target)) => break target,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(why) => return halt(shared, lock, why),
        }
    };
    if target.is_none() {
        // The first writer under this lock: its log as it is (empty, or
        // from before the lock) is what it publishes first, once
        // replication has put its tiles in the bucket and it in etcd.
        let head = log.read().expect("log lock").head().root;
        let signer = shared.signer.as_ref().expect("a locked node has its key");
        lock.signed(&signer.sign(head));
    }
    lock.put.lock().expect("put lock").last = target;
    promote(log, shared, promotion);
    let _ = lock.writing.set(());
    tracing::info!(size = log.read().expect("log lock").size(), "writing");
}

/// `Some(etcd's checkpoint)` once the log is exactly at it (`Some(None)`
/// when etcd holds none yet: the log as it is continues); `None` while
/// behind; `Err` when the log holds more than etcd vouches for.
fn caught_up(
    log: &SharedLog,
    shared: &Shared,
    lock: &WriterLock,
) -> Result<Option<Option<String>>, String> {
    let note = match lock.etcd.checkpoint() {
        Ok(note) => note,
        Err(e) => {
            tracing::warn!("reading etcd's checkpoint: {e}");
            return Ok(None);
        }
    };
    let Some(note) = note else {
        return Ok(Some(None));
    };
    let verifier = ledger::checkpoint::CheckpointVerifier::from_vkey(&shared.vkey)
        .map_err(|e| e.to_string())?;
    let cp = verifier
        .verify(note.as_bytes())
        .map_err(|e| format!("etcd's checkpoint: {e}"))?;
    let log = log.read().expect("log lock");
    match log.size().cmp(&cp.root.size) {
        std::cmp::Ordering::Less => Ok(None),
        std::cmp::Ordering::Greater => Err(format!(
            "this log holds {} entries, etcd's checkpoint {}: restart to set the rest aside",
            log.size(),
            cp.root.size
        )),
        std::cmp::Ordering::Equal if log.head().root != cp.root => {
            Err("another root than etcd's checkpoint at its size: a fork".into())
        }
        std::cmp::Ordering::Equal => Ok(Some(Some(note))),
    }
}

fn promote(log: &SharedLog, shared: &Arc<Shared>, p: Promotion) {
    let existing = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(p.replica.checkpoint())
        .unwrap_or_else(|e| {
            tracing::warn!("reading the bucket's checkpoint: {e}");
            None
        });
    let replication = crate::replicate::start(
        log.clone(),
        shared,
        ReplicaConfig {
            replica: p.replica,
            existing,
            interval: p.interval,
            ack_after_replication: true,
        },
    );
    assert!(
        shared.replication.set(replication).is_ok(),
        "replication starts once"
    );
    if shared.witnessing.is_some() {
        crate::witnesses::start(log.clone(), Arc::downgrade(shared));
    }
    let (queue, handle) = crate::sequencer::start(log.clone(), shared.clone());
    *p.sequencer.handle.lock().expect("sequencer lock") = Some(handle);
    assert!(p.queue.set(queue).is_ok(), "the node is promoted once");
}

/// The answer to a submission while this node does not write: `307` to the
/// writer named in etcd, or `overloaded` saying why.
pub(crate) fn not_writing(lock: &WriterLock) -> crate::ApiError {
    use ledger::code::Code;
    if let Some(why) = lock.lost() {
        return crate::ApiError::new(
            Code::Overloaded,
            format!("this node no longer writes ({why}); submit to the node that holds the lock"),
        );
    }
    if lock.won() {
        let why = if lock.holds() {
            "this node won the writer's lock and is catching up to its checkpoint"
        } else {
            "this node's writer's lease is not confirmed (etcd unreachable?)"
        };
        return crate::ApiError::new(Code::Overloaded, format!("{why}; retry shortly"));
    }
    match lock.writer().filter(|w| w != lock.name()) {
        Some(writer) => {
            let mut e = crate::ApiError::new(
                Code::Overloaded,
                format!("this node is a standby; the writer is {writer}"),
            );
            e.redirect = Some(format!("{}/v1/entries", writer.trim_end_matches('/')));
            e
        }
        None => crate::ApiError::new(
            Code::Overloaded,
            "this node is a standby and no writer holds the lock yet; retry shortly",
        ),
    }
}
