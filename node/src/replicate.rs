//! The log copied to S3-compatible object storage as C2SP tlog-tiles: every
//! hash tile and entry bundle the tree gains, then the checkpoint (the
//! witnessed one when the node has a witness policy), always last, so a
//! reader never finds a checkpoint whose tiles are missing.
//!
//! Objects are written only where nothing is yet. Not every store honours a
//! conditional put (Garage 2.5 ignores `If-None-Match: *`), so the writer
//! reads first: an object already there with the same bytes is left alone,
//! one with other bytes stops replication for good, loudly, and is never
//! overwritten. At start the bucket's checkpoint must be signed by this
//! node's key and name a root this log has at that size.
//!
//! Endpoint, region and credentials come from the usual AWS variables
//! (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`); an `http://` endpoint is
//! allowed as such.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use ledger::checkpoint::CheckpointVerifier;
use ledger::follow::{BadTile, FollowError, TileFollower, TileSource};
use ledger::tiles::{self, TilePath};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, PutOptions, PutPayload, RetryConfig,
};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::{Shared, SharedLog};

/// What replication could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// The `--replicate` URL or the AWS settings are unusable.
    #[error("{0}")]
    Config(String),
    /// The object store failed or refused (endpoint, credentials, bucket).
    #[error("{0}")]
    Storage(String),
    /// An object holds other bytes than this log has at its place.
    #[error(
        "{path} in the bucket differs from this log's; replication stopped, nothing overwritten"
    )]
    Differs {
        /// The object's path under the prefix.
        path: String,
    },
    /// This node lost the writer's lock (SPEC §8).
    #[error("the writer's lock is lost: {0}; nothing more is copied or acknowledged")]
    Lock(String),
    /// The bucket's checkpoint is not one of this log's.
    #[error(
        "the bucket's checkpoint is not this log's: {0}; replication stopped, nothing overwritten"
    )]
    Foreign(String),
}

/// Where an S3-compatible store is and the key to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `http(s)://host:port`; none for AWS itself.
    pub endpoint: Option<String>,
    /// The region (`garage` for Garage's default).
    pub region: Option<String>,
    /// The access key's id.
    pub access_key_id: Option<String>,
    /// Its secret.
    pub secret_access_key: Option<String>,
}

/// A bucket and prefix on an S3-compatible store.
#[derive(Clone)]
pub struct Replica {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    settings: S3Settings,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Replica {
    /// `s3://BUCKET[/PREFIX]`, with endpoint, region and credentials from
    /// the environment (see the module docs).
    pub fn from_url(url: &str) -> Result<Replica, ReplicaError> {
        let var = |name: &str| std::env::var(name).ok();
        Replica::new(
            url,
            &S3Settings {
                endpoint: var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT")),
                region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
                access_key_id: var("AWS_ACCESS_KEY_ID"),
                secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            },
        )
    }

    /// `s3://BUCKET[/PREFIX]` with these settings. Few retries: a wrong
    /// endpoint or key should fail in seconds with one line, not retry for
    /// minutes.
    pub fn new(url: &str, settings: &S3Settings) -> Result<Replica, ReplicaError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| ReplicaError::Config(format!("{url}: not an s3://BUCKET/PREFIX URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(ReplicaError::Config(format!("{url}: no bucket")));
        }
        let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
        if let Some(e) = &settings.endpoint {
            builder = builder.with_endpoint(e);
        }
        if let Some(r) = &settings.region {
            builder = builder.with_region(r);
        }
        if let Some(k) = &settings.access_key_id {
            builder = builder.with_access_key_id(k);
        }
        if let Some(k) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(k);
        }
        let client = ClientOptions::new()
            .with_allow_http(
                settings
                    .endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://")),
            )
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30));
        let store = builder
            .with_client_options(client)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| ReplicaError::Config(format!("{url}: {e}")))?;
        Ok(Replica {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_owned(),
            url: url.to_owned(),
            settings: settings.clone(),
        })
    }

    /// Another client of the same bucket, with connections of its own: a
    /// client's connections belong to the async runtime that opened them,
    /// so each thread with a runtime of its own takes one.
    pub fn fresh(&self) -> Replica {
        Replica::new(&self.url, &self.settings).expect("these settings made a client already")
    }

    /// The URL it was made from.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn storage(&self, what: &str, e: object_store::Error) -> ReplicaError {
        ReplicaError::Storage(format!("{what}: {e}"))
    }

    /// The object at `rel` under the prefix, if there is one.
    pub async fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => Ok(Some(
                r.bytes()
                    .await
                    .map_err(|e| self.storage(&format!("reading {rel}"), e))?
                    .to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.storage(&format!("reading {rel}"), e)),
        }
    }

    /// The tiles at `ts`, read at once; a missing one is an error naming it.
    pub async fn get_tiles(&self, ts: &[TilePath]) -> Vec<Result<Vec<u8>, String>> {
        let reads: Vec<_> = ts
            .iter()
            .map(|t| {
                let (replica, path) = (self.clone(), t.to_string());
                tokio::spawn(async move {
                    match replica.get(&path).await {
                        Ok(Some(bytes)) => Ok(bytes),
                        Ok(None) => Err(format!("{path}: not in the bucket")),
                        Err(e) => Err(e.to_string()),
                    }
                })
            })
            .collect();
        let mut out = Vec::with_capacity(reads.len());
        for read in reads {
            out.push(read.await.unwrap_or_else(|e| Err(e.to_string())));
        }
        out
    }

    /// Writes `bytes` at `rel`, replacing what is there.
    pub async fn put(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        immutable: bool,
    ) -> Result<(), ReplicaError> {
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::CacheControl,
            if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }
            .into(),
        );
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&self.path(rel), PutPayload::from(bytes), options)
            .await
            .map(drop)
            .map_err(|e| self.storage(&format!("writing {rel}"), e))
    }

    /// Writes `bytes` at `rel` unless an object is there: the same bytes
    /// are left alone, other bytes are [`ReplicaError::Differs`].
    pub async fn put_new(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        immutable: bool,
    ) -> Result<(), ReplicaError> {
        match self.get(rel).await? {
            Some(there) if there == bytes => Ok(()),
            Some(_) => Err(ReplicaError::Differs {
                path: rel.to_owned(),
            }),
            None => self.put(rel, bytes, immutable).await,
        }
    }

    /// The bucket's checkpoint, if any. Also what start-up calls to find a
    /// wrong endpoint, bad credentials or a missing bucket at once.
    pub async fn checkpoint(&self) -> Result<Option<String>, ReplicaError> {
        match self.get("checkpoint").await? {
            None => {
                // A missing object, or a missing bucket: listing tells which.
                let prefix =
                    (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
                self.store
                    .list_with_delimiter(prefix.as_ref())
                    .await
                    .map_err(|e| self.storage("listing", e))?;
                Ok(None)
            }
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| ReplicaError::Foreign("not UTF-8".into())),
        }
    }

    /// Copies what growing the tree from `from` to `size` adds (every new
    /// tile and bundle, from `log`), all at once. Objects already there are
    /// left alone when they hold the same bytes and refused when not; with
    /// `overwrite` (a writer under the lock, SPEC §8) they are replaced:
    /// every tile added holds a leaf past what etcd vouches for, so what is
    /// there was left by a writer that lost the lock and acknowledged none of it.
    pub async fn push_tiles(
        &self,
        log: &SharedLog,
        from: u64,
        size: u64,
        overwrite: bool,
    ) -> Result<(), ReplicaError> {
        let mut writes = tokio::task::JoinSet::new();
        for t in tiles::added(from, size) {
            let bytes = {
                let log = log.read().expect("log lock");
                tiles::content(&log, &t).map_err(|e| ReplicaError::Storage(format!("{t}: {e}")))?
            };
            let replica = self.clone();
            writes.spawn(async move {
                if overwrite {
                    replica.put(&t.to_string(), bytes, t.is_full()).await
                } else {
                    replica.put_new(&t.to_string(), bytes, t.is_full()).await
                }
            });
        }
        // Every write finishes (or fails) before the caller goes on to the
        // checkpoint; a difference is reported before a mere failure.
        let mut failed = None;
        while let Some(done) = writes.join_next().await {
            match done.expect("a tile write task") {
                Ok(()) => {}
                Err(e @ ReplicaError::Differs { .. }) => failed = Some(e),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// The size the bucket's checkpoint vouches for, once it is checked to be
/// this log's: signed by `verifier`, of a size this log has, with the root
/// this log has at that size.
pub fn check_bucket(
    log: &SharedLog,
    verifier: &CheckpointVerifier,
    note: &str,
) -> Result<u64, ReplicaError> {
    let cp = verifier
        .verify(note.as_bytes())
        .map_err(|e| ReplicaError::Foreign(e.to_string()))?;
    let log = log.read().expect("log lock");
    if cp.root.size > log.size() {
        return Err(ReplicaError::Foreign(format!(
            "it covers {} entries, this log has {}",
            cp.root.size,
            log.size()
        )));
    }
    let here = log
        .root_at(cp.root.size)
        .map_err(|e| ReplicaError::Storage(e.to_string()))?;
    if here != cp.root {
        return Err(ReplicaError::Foreign(format!(
            "another root at size {}",
            cp.root.size
        )));
    }
    Ok(cp.root.size)
}

/// Replication's progress, for `/metrics` and `/healthz`.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Entries the bucket's checkpoint covers.
    pub(crate) size: u64,
    /// Since when the bucket has been behind the published checkpoint.
    behind_since: Option<Instant>,
    /// Why replication stopped for good (the bucket disagrees).
    pub(crate) stopped: Option<String>,
    /// The last failure to reach the store (retried).
    pub(crate) failing: Option<String>,
}

/// The replication thread's shared state.
pub(crate) struct Replication {
    pub(crate) replica: Replica,
    pub(crate) progress: Mutex<Progress>,
    interval: Duration,
    /// Receipts wait for the bucket (`--ack-after-replication`).
    ack: bool,
    /// The size the bucket holds, and whether replication stopped: what
    /// receipts wait on in synchronous mode.
    replicated: tokio::sync::watch::Sender<(u64, bool)>,
    /// Set when a new checkpoint is published; the thread waits on it.
    kicked: (Mutex<bool>, Condvar),
}

impl Replication {
    /// Whether receipts wait until their entries are in the bucket.
    pub(crate) fn acks(&self) -> bool {
        self.ack
    }

    /// Wakes the thread in synchronous mode: there is a new checkpoint to
    /// copy and receipts wait for it. Asynchronous replication keeps to its
    /// interval instead, so that each copy covers many groups (fewer
    /// partial tiles written over and again).
    pub(crate) fn wake(&self) {
        if self.ack {
            *self.kicked.0.lock().expect("kick lock") = true;
            self.kicked.1.notify_one();
        }
    }

    /// Notes since when the bucket is behind.
    fn behind(&self) {
        self.progress
            .lock()
            .expect("progress lock")
            .behind_since
            .get_or_insert_with(Instant::now);
    }

    /// Waits up to `interval` for [`Replication::wake`].
    fn wait(&self) {
        let guard = self.kicked.0.lock().expect("kick lock");
        let (mut kicked, _) = self
            .kicked
            .1
            .wait_timeout_while(guard, self.interval, |k| !*k)
            .expect("kick lock");
        *kicked = false;
    }

    /// Returns once the bucket holds a tree of `size` entries or more: the
    /// receipts of synchronous mode. Refused with `overloaded` (the entries
    /// are durable on this node; a resubmission gets the receipts) when
    /// replication stopped or takes longer than a request may, or, under
    /// the writer's `lock`, as soon as its lease has gone unconfirmed for a
    /// second (etcd without a quorum, or the lease lost).
    pub(crate) async fn until_replicated(
        &self,
        size: u64,
        lock: Option<&crate::standby::WriterLock>,
    ) -> Result<(), crate::ApiError> {
        let mut rx = self.replicated.subscribe();
        let started = tokio::time::Instant::now();
        let deadline = started + crate::REQUEST_TIMEOUT / 2;
        let mut unconfirmed: Option<tokio::time::Instant> = None;
        let why = loop {
            let slice = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
            let wait = rx.wait_for(|(done, stopped)| *stopped || *done >= size);
            match tokio::time::timeout_at(slice, wait).await {
                Ok(Ok(state)) if !state.1 => return Ok(()),
                Ok(_) => break self.stopped_why(),
                Err(_) if tokio::time::Instant::now() >= deadline => break self.failing_why(),
                Err(_) => {}
            }
            match lock {
                Some(lock) if lock.lost().is_some() || !lock.holds() => {
                    let since = *unconfirmed.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= Duration::from_secs(1) || lock.lost().is_some() {
                        break Some(match lock.lost() {
                            Some(why) => format!("this node lost the writer's lock ({why})"),
                            None => "the writer's lease is not confirmed: etcd may lack a quorum"
                                .to_owned(),
                        });
                    }
                }
                _ => unconfirmed = None,
            }
        };
        let mut message = "the entries are durable on this node but not acknowledged: \
                           they are not yet in its object storage"
            .to_owned();
        if let Some(why) = why {
            message.push_str(&format!(" ({why})"));
        }
        message.push_str("; resubmit them for their receipts");
        Err(crate::ApiError::new(
            ledger::code::Code::Overloaded,
            message,
        ))
    }

    fn stopped_why(&self) -> Option<String> {
        self.progress.lock().expect("progress lock").stopped.clone()
    }

    fn failing_why(&self) -> Option<String> {
        self.progress.lock().expect("progress lock").failing.clone()
    }

    /// Adds to a scrape: the replicated size, the lag in entries and
    /// seconds, whether replication stopped.
    pub(crate) fn register(&self, r: &mut Registry, published: u64) {
        let p = self.progress.lock().expect("progress lock");
        let gauge = |n: u64| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
        r.register(
            "aidledger_replicated_entries",
            "Leaves in the bucket",
            gauge(p.size),
        );
        r.register(
            "aidledger_replication_lag_entries",
            "Published leaves not yet in the bucket",
            gauge(published.saturating_sub(p.size)),
        );
        r.register(
            "aidledger_replication_lag_seconds",
            "Seconds the bucket has been behind",
            ConstGauge::new(p.behind_since.map_or(0.0, |t| t.elapsed().as_secs_f64())),
        );
        r.register(
            "aidledger_replication_stopped",
            "1 once replication stopped (see /healthz)",
            gauge(u64::from(p.stopped.is_some())),
        );
    }

    /// One line for `/healthz`, and whether the node is unhealthy.
    pub(crate) fn health(&self, published: u64) -> (String, bool) {
        let p = self.progress.lock().expect("progress lock");
        if let Some(why) = &p.stopped {
            return (format!("replication stopped: {why}"), true);
        }
        let seconds = p.behind_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let mut line = format!(
            "replication to {}: {} entries behind, {seconds:.1} s",
            self.replica.url,
            published.saturating_sub(p.size)
        );
        if let Some(e) = &p.failing {
            line.push_str(&format!("; retrying after: {e}"));
        }
        (line, false)
    }
}

/// What the node replicates and how often it looks.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// The bucket.
    pub replica: Replica,
    /// The bucket's checkpoint as found at start-up (checked against the log there).
    pub existing: Option<String>,
    /// Longest wait between two looks at the published checkpoint.
    pub interval: Duration,
    /// Receipts only once their entries are in the bucket.
    pub ack_after_replication: bool,
}

pub(crate) fn start(
    log: SharedLog,
    shared: &Arc<Shared>,
    config: ReplicaConfig,
) -> Arc<Replication> {
    let replication = Arc::new(Replication {
        replica: config.replica,
        progress: Mutex::default(),
        interval: config.interval,
        ack: config.ack_after_replication,
        replicated: tokio::sync::watch::Sender::new((0, false)),
        kicked: (Mutex::new(false), Condvar::new()),
    });
    let from = match config.existing {
        None => Ok(0),
        Some(note) => CheckpointVerifier::from_vkey(&shared.vkey)
            .map_err(|e| ReplicaError::Config(e.to_string()))
            .and_then(|v| check_bucket(&log, &v, &note)),
    };
    let weak = Arc::downgrade(shared);
    let r = replication.clone();
    std::thread::Builder::new()
        .name("replicate".into())
        .spawn(move || run(log, weak, r, from))
        .expect("spawning the replication thread");
    replication
}

fn run(log: SharedLog, shared: Weak<Shared>, r: Arc<Replication>, from: Result<u64, ReplicaError>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for replication");
    let stop = |e: ReplicaError| {
        tracing::error!(replica = r.replica.url(), "{e}");
        r.progress.lock().expect("progress lock").stopped = Some(e.to_string());
        r.replicated.send_modify(|(_, stopped)| *stopped = true);
    };
    let mut done = match from {
        Ok(size) => size,
        Err(e) => return stop(e),
    };
    r.progress.lock().expect("progress lock").size = done;
    r.replicated.send_replace((done, false));
    // Under the lock: the size whose checkpoint etcd holds from this writer.
    let mut cas_done = done;
    let mut backoff = r.interval;
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let stepped = step(&runtime, &log, &shared, &r, &mut cas_done, &mut done);
        let locked = shared.lock.is_some();
        drop(shared);
        match stepped {
            Ok(true) => backoff = r.interval,
            Ok(false) => r.wait(),
            Err(
                e @ (ReplicaError::Differs { .. }
                | ReplicaError::Foreign(_)
                | ReplicaError::Lock(_)),
            ) => return stop(e),
            Err(e) => {
                tracing::warn!(replica = r.replica.url(), "{e}; retrying");
                r.progress.lock().expect("progress lock").failing = Some(e.to_string());
                std::thread::sleep(backoff);
                // Under the lock receipts wait for this: back to work
                // within a second of the store or etcd returning.
                let most = if locked { 1 } else { 30 };
                backoff = (backoff * 2).min(Duration::from_secs(most));
            }
        }
    }
}

fn size_of(note: &str) -> u64 {
    ledger::witness::stated_checkpoint(note.as_bytes()).map_or(0, |c| c.root.size)
}

/// One pass of replication; `Ok(true)` when it moved on.
///
/// Under the lock (SPEC §8), first the newest signed checkpoint: its tiles
/// to the bucket, then etcd's checkpoint replaced, and only then is it
/// published (`/checkpoint`, and the witnesses asked about it). Then, with
/// or without the lock, the published checkpoint (witnessed, with a
/// witness policy) goes to the bucket, with its tiles when there is no
/// lock, and the receipts it covers are released.
fn step(
    runtime: &tokio::runtime::Runtime,
    log: &SharedLog,
    shared: &Shared,
    r: &Replication,
    cas_done: &mut u64,
    done: &mut u64,
) -> Result<bool, ReplicaError> {
    let mut moved = false;
    if let Some(lock) = &shared.lock {
        if let Some(why) = lock.lost() {
            return Err(ReplicaError::Lock(why.to_owned()));
        }
        // A new signed checkpoint; or, for the first writer under the
        // lock, its first one, whatever its size (even the empty tree's).
        let first = shared
            .checkpoint
            .read()
            .expect("checkpoint lock")
            .is_empty();
        if let Some(note) = lock
            .newest_signed()
            .filter(|n| first || size_of(n) > *cas_done)
        {
            if !lock.holds() {
                // Paused past the lease, or etcd unreachable: nothing is
                // written until a keep-alive vouches for the lease again.
                return Err(ReplicaError::Storage(
                    "the writer's lease is not confirmed".into(),
                ));
            }
            let size = size_of(&note);
            r.behind();
            runtime.block_on(r.replica.push_tiles(log, *cas_done, size, true))?;
            match lock.replace(&note) {
                Ok(true) => {}
                Ok(false) => {
                    let why = "etcd's checkpoint is not the one this writer last wrote, \
                               or the lease is gone: another writer exists";
                    lock.lose(why.into());
                    return Err(ReplicaError::Lock(why.into()));
                }
                Err(e) => return Err(ReplicaError::Storage(format!("etcd: {e}"))),
            }
            *shared.checkpoint.write().expect("checkpoint lock") = note;
            *cas_done = size;
            moved = true;
        }
    }
    let Some(note) = shared.published_checkpoint() else {
        return Ok(moved);
    };
    let size = size_of(&note);
    if size <= *done {
        return Ok(moved);
    }
    r.behind();
    match &shared.lock {
        None => runtime.block_on(r.replica.push_tiles(log, *done, size, false))?,
        // A writer paused since etcd took this checkpoint must not put it
        // over its successor's newer one in the bucket.
        Some(lock) if !lock.holds() => {
            return Err(ReplicaError::Storage(
                "the writer's lease is not confirmed".into(),
            ))
        }
        Some(_) => {}
    }
    runtime.block_on(r.replica.put("checkpoint", note.into_bytes(), false))?;
    *done = size;
    let mut p = r.progress.lock().expect("progress lock");
    p.size = size;
    p.failing = None;
    p.behind_since = None;
    drop(p);
    r.replicated.send_replace((size, false));
    Ok(true)
}

/// What [`restore`] rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Entries in the restored log.
    pub size: u64,
    /// Hash tiles compared with the ones recomputed from the leaves.
    pub tiles_checked: u64,
}

/// Why a restore stopped; nothing is left to serve in that case.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The bucket could not be read.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The bucket has no checkpoint.
    #[error("{0} holds no checkpoint")]
    Empty(String),
    /// The vkey is not one.
    #[error("the log's vkey: {0}")]
    Vkey(String),
    /// The bucket cannot be read, its checkpoint is not the log's or lacks
    /// the quorum, or a tile is missing, malformed or not what the leaves
    /// give.
    #[error(transparent)]
    Follow(#[from] FollowError<String>),
    /// A leaf fails verification (chain, signature, canonical form) or the
    /// leaves do not give the checkpoint's root.
    #[error("the bucket's leaves: {0}")]
    Leaves(ledger::VerifyError),
    /// The store could not be written, or the rules refuse a leaf.
    #[error(transparent)]
    Store(#[from] ledger::StoreError),
}

impl From<BadTile> for RestoreError {
    fn from(b: BadTile) -> RestoreError {
        RestoreError::Follow(b.into())
    }
}

/// Rebuilds a store in `db` (a directory that must not hold one) from the
/// bucket alone: the checkpoint checked against `vkey` (and the quorum of
/// `policy`), every entry bundle read and verified by a `ChainVerifier`
/// (canonical leaves, seqs, chain, `logged_at`, signatures, the root),
/// the leaves written with their Merkle nodes, every hash tile compared
/// with the one the leaves give, then the derived state rebuilt by the
/// rules from seq 0. `progress(done, total)` is called after each bundle.
pub fn restore(
    replica: &Replica,
    db: &std::path::Path,
    vkey: &str,
    policy: Option<&ledger::witness::Policy>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Restored, RestoreError> {
    use ledger::store::{Log, RocksBackend};

    let verifier =
        CheckpointVerifier::from_vkey(vkey).map_err(|e| RestoreError::Vkey(e.to_string()))?;
    let source = ReplicaSource::new(replica.clone());
    if source.runtime.block_on(replica.checkpoint())?.is_none() {
        return Err(RestoreError::Empty(replica.url().to_owned()));
    }
    let follower = TileFollower::new(source, verifier, policy.cloned());
    let signed = follower.checkpoint()?;
    let size = signed.checkpoint.root.size;
    if db.exists() && std::fs::read_dir(db).map_or(true, |mut d| d.next().is_some()) {
        return Err(ledger::StoreError::Io(format!(
            "{} already holds a store; restore into an empty directory",
            db.display()
        ))
        .into());
    }
    let mut log = Log::open(RocksBackend::open(db)?)?;
    let mut chain = ledger::ChainVerifier::new().with_threads(2).keeping();
    // The hash tiles must be the ones the leaves give, compared as the
    // leaves complete them.
    let mut hash_tiles = follower.hash_tiles();
    for bundle in follower.bundles(0, size) {
        let bundle = bundle?;
        for (_, bytes) in bundle.leaves(0)? {
            chain.push(bytes).map_err(RestoreError::Leaves)?;
            hash_tiles.push(bytes);
        }
        let verified = chain.take_verified().map_err(RestoreError::Leaves)?;
        log.append_verified(verified)?;
        hash_tiles.check_completed()?;
        progress(log.size(), size);
    }
    chain
        .finish(&signed.checkpoint.root)
        .map_err(RestoreError::Leaves)?;
    let tiles_checked = hash_tiles.finish()?;
    drop(log);
    ledger::sequencer::reindex(db)?;
    Ok(Restored {
        size,
        tiles_checked,
    })
}

/// A bucket read as a log's tiles, with a runtime for its client.
pub struct ReplicaSource {
    replica: Replica,
    runtime: tokio::runtime::Runtime,
}

impl ReplicaSource {
    /// Reads `replica` (from outside any async runtime).
    pub fn new(replica: Replica) -> ReplicaSource {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for reading the bucket");
        ReplicaSource { replica, runtime }
    }
}

impl TileSource for ReplicaSource {
    type Error = String;

    fn checkpoint(&self) -> Result<Vec<u8>, String> {
        match self.runtime.block_on(self.replica.get("checkpoint")) {
            Ok(Some(note)) => Ok(note),
            Ok(None) => Err("checkpoint: not in the bucket".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn tile(&self, t: &TilePath) -> Result<Vec<u8>, String> {
        self.tiles(std::slice::from_ref(t))
            .pop()
            .expect("one answer per tile")
    }

    fn tiles(&self, ts: &[TilePath]) -> Vec<Result<Vec<u8>, String>> {
        self.runtime.block_on(self.replica.get_tiles(ts))
    }
}
