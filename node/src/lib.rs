//! aidledger-node: the HTTP face of the ledger and its only writer
//! (SPEC §7). This crate is glue: parsing requests, queueing entries
//! for the sequencer thread, and reading proofs and leaves from the
//! `ledger` crate's store.

#![deny(missing_docs)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use ledger::checkpoint::CheckpointSigner;
use ledger::code::Code;
use ledger::store::{Log, RocksBackend};
use tokio::sync::oneshot;

pub mod admission;
pub mod audited;
pub mod clients;
pub mod demo;
mod error;
mod fair;
mod health;
mod lists;
pub mod lock;
mod metrics;
pub mod mirror;
pub mod page;
mod places;
mod reads;
pub mod replicate;
pub mod run;
mod sequencer;
pub mod serve;
pub mod standby;
mod submit;
mod tiles;
mod witnesses;

pub use error::ApiError;
use sequencer::{Committed, Job, Queue, QueueError, Receipt, Submitted};
pub use witnesses::WitnessConfig;

/// The log, shared between the sequencer (writes) and the handlers (reads).
pub(crate) type SharedLog = Arc<RwLock<Log<RocksBackend>>>;

/// What a request gets for each entry: a receipt or an error.
pub(crate) type Answers = Vec<Result<Receipt, ApiError>>;

/// What the sequencer and the handlers share besides the log.
pub(crate) struct Shared {
    /// Signs a checkpoint after every commit group (none on a read mirror).
    pub(crate) signer: Option<CheckpointSigner>,
    /// The log's origin and vkey (the primary's on a mirror).
    pub(crate) origin: String,
    pub(crate) vkey: String,
    /// On a mirror: why it stopped following (a fork, a rewritten tile).
    pub(crate) halted: std::sync::OnceLock<String>,
    /// The latest signed checkpoint.
    pub(crate) checkpoint: RwLock<String>,
    /// Counters for `/metrics`.
    pub(crate) metrics: metrics::Metrics,
    /// With a witness policy: the witnessed checkpoint and the witnesses' state.
    pub(crate) witnessing: Option<witnesses::Witnessing>,
    /// With `--replicate`: the copy in object storage.
    pub(crate) replication: std::sync::OnceLock<Arc<replicate::Replication>>,
    /// With `--lock`: the writer's right in etcd (SPEC §8). The sequencer
    /// then hands its checkpoints to it, and replication publishes each in
    /// `checkpoint` once etcd holds it.
    pub(crate) lock: Option<Arc<standby::WriterLock>>,
}

impl Shared {
    /// The shared state of a node of the log `vkey` (with `signer`, if it
    /// may write), publishing `checkpoint` to begin with.
    fn new(
        vkey: &str,
        origin: &str,
        signer: Option<CheckpointSigner>,
        checkpoint: String,
        witnessing: Option<WitnessConfig>,
        lock: Option<Arc<standby::WriterLock>>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            signer,
            origin: origin.to_owned(),
            vkey: vkey.to_owned(),
            halted: std::sync::OnceLock::new(),
            checkpoint: RwLock::new(checkpoint),
            metrics: Default::default(),
            witnessing: witnessing.map(witnesses::Witnessing::new),
            replication: std::sync::OnceLock::new(),
            lock,
        })
    }

    /// The checkpoint the node publishes: its latest, or with a witness
    /// policy the latest that met the quorum (`None` until one has).
    pub(crate) fn published_checkpoint(&self) -> Option<String> {
        match &self.witnessing {
            // Empty on a mirror that has not followed yet.
            None => Some(self.checkpoint.read().expect("checkpoint lock").clone())
                .filter(|c| !c.is_empty()),
            Some(w) => w.latest.read().expect("witnessed lock").clone(),
        }
    }

    /// Wakes the replication thread: a new checkpoint is published.
    pub(crate) fn published_changed(&self) {
        if let Some(r) = self.replication.get() {
            r.wake();
        }
    }

    /// The size of [`Shared::published_checkpoint`] (0 before there is one).
    pub(crate) fn published_size(&self) -> u64 {
        self.published_checkpoint()
            .and_then(|n| ledger::witness::stated_checkpoint(n.as_bytes()))
            .map_or(0, |c| c.root.size)
    }
}

/// What a node is.
#[derive(Clone)]
enum Role {
    /// The writer: entries go to its sequencer through the queue.
    Primary(Queue),
    /// Under the writer's lock (SPEC §8): a standby until it wins the lock
    /// and catches up, then the writer (the queue is set).
    Locked(Arc<std::sync::OnceLock<Queue>>),
    /// A read mirror: submissions are refused, naming the primary that
    /// takes them.
    Mirror {
        /// The primary's URL.
        primary: Option<String>,
    },
}

/// Everything a handler needs.
#[derive(Clone)]
pub struct Node {
    log: SharedLog,
    shared: Arc<Shared>,
    /// What this node is: the writer, or a read mirror.
    role: Role,
    /// The HTML of `/`, with the page's trust anchor in it.
    page: axum::body::Bytes,
    /// Entries in flight per client on the write route.
    writes: Arc<admission::WriteAdmission>,
    /// Parses and checks submitted arrays, clients in turn.
    checks: Arc<fair::FairPool>,
    /// The clients whose entries recently entered the log.
    standing: Arc<clients::Standing>,
    /// Reads whose answers may be large, being built at once.
    large_reads: Arc<tokio::sync::Semaphore>,
    /// With `--auditors`: the auditors' signed statistics (SPEC §4.3).
    audited: Option<Arc<audited::Audited>>,
}

/// Turns transparent huge pages off for this process (Linux; elsewhere a
/// no-op). mimalloc marks its arenas for huge pages, and a request's
/// buffers come and go, so page faults would keep clearing fresh 2 MiB pages
/// whole during batch appends. Only the page size changes, so a kernel that
/// refuses the flag changes nothing else.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!("transparent huge pages stay on: {e}");
    }
}

/// The pool that checks submitted arrays: a thread per core.
fn check_pool() -> Arc<fair::FairPool> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(fair::FairPool::new(cores))
}

/// The gate of reads whose answers may be large: two per core. A thousand
/// clients asking for pages at once are built a few at a time, each only
/// once there is room for its answer, instead of on every thread of the
/// blocking pool, each leaving its buffers behind in its allocator.
fn large_reads() -> Arc<tokio::sync::Semaphore> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(tokio::sync::Semaphore::new(2 * cores))
}

/// Threads of the runtime's blocking pool, where reads and receipts run.
pub const BLOCKING_THREADS: usize = 64;

/// The header of `GET /v1/stats` that names the tree size its figures
/// were read at.
pub const TREE_SIZE_HEADER: &str = "aidledger-tree-size";

/// Largest request body.
pub const BODY_LIMIT: usize = 8 << 20;
/// Most entries in one submitted array, and most items on a page.
pub const MAX_BATCH: usize = 1_000;

impl Node {
    /// A node serving `log` as `role`, its page trusting the log's own vkey
    /// (see [`Node::with_anchor`]).
    fn new(log: SharedLog, shared: Arc<Shared>, role: Role) -> Node {
        let page = page::html(&page::Anchor {
            vkey: shared.vkey.clone(),
            policy: None,
            contact: None,
            auditors: None,
        })
        .into();
        Node {
            log,
            shared,
            role,
            page,
            writes: admission::WriteAdmission::new(0),
            checks: check_pool(),
            standing: Arc::default(),
            large_reads: large_reads(),
            audited: None,
        }
    }

    /// Starts the sequencer over `log`; returns the node and the sequencer
    /// thread, which ends once every clone of the node is dropped.
    pub fn start(
        log: Log<RocksBackend>,
        signer: CheckpointSigner,
    ) -> (Node, std::thread::JoinHandle<()>) {
        Node::start_with(log, signer, None)
    }

    /// As [`Node::start`]; with `witnesses`, a thread also collects
    /// cosignatures and `/checkpoint` serves only witnessed checkpoints.
    pub fn start_with(
        log: Log<RocksBackend>,
        signer: CheckpointSigner,
        witnesses: Option<WitnessConfig>,
    ) -> (Node, std::thread::JoinHandle<()>) {
        no_huge_pages();
        let checkpoint = signer.sign(log.head().root);
        let log = Arc::new(RwLock::new(log));
        let (vkey, origin) = (signer.vkey(), signer.origin().to_owned());
        let shared = Shared::new(&vkey, &origin, Some(signer), checkpoint, witnesses, None);
        if shared.witnessing.is_some() {
            witnesses::start(log.clone(), Arc::downgrade(&shared));
        }
        let (queue, handle) = sequencer::start(log.clone(), shared.clone());
        (Node::new(log, shared, Role::Primary(queue)), handle)
    }

    /// A read mirror of the log whose vkey is `vkey`: it serves `log` and
    /// `checkpoint` (the primary's, verified) and takes no entries; a thread
    /// keeps it following `config.from` (see [`mirror`]).
    pub fn mirror(
        log: Log<RocksBackend>,
        vkey: &str,
        checkpoint: String,
        config: mirror::MirrorConfig,
    ) -> anyhow::Result<Node> {
        let verifier = ledger::checkpoint::CheckpointVerifier::from_vkey(vkey)?;
        let log = Arc::new(RwLock::new(log));
        let shared = Shared::new(vkey, verifier.origin(), None, checkpoint, None, None);
        let primary = config.primary.clone();
        mirror::start(log.clone(), Arc::downgrade(&shared), verifier, config);
        Ok(Node::new(log, shared, Role::Mirror { primary }))
    }

    /// A node under the writer's lock (SPEC §8, see [`standby`]): it serves
    /// `log` as a standby, following the checkpoint in etcd from the bucket,
    /// and becomes the writer once it wins the lock and has caught up.
    /// With `witnesses`, the writer has each checkpoint cosigned once etcd
    /// holds it, and a standby serves the bucket's witnessed checkpoint.
    /// Returns the node and where its sequencer thread will be.
    pub fn locked(
        log: Log<RocksBackend>,
        signer: CheckpointSigner,
        witnesses: Option<WitnessConfig>,
        lock: standby::LockConfig,
        replica: replicate::Replica,
        replicate_interval: Duration,
    ) -> (Node, standby::Sequencer) {
        no_huge_pages();
        let lock = Arc::new(standby::WriterLock::new(lock));
        let verifier = ledger::checkpoint::CheckpointVerifier::from_vkey(&signer.vkey())
            .expect("a signer's own vkey verifies");
        let log = Arc::new(RwLock::new(log));
        let (vkey, origin) = (signer.vkey(), signer.origin().to_owned());
        let shared = Shared::new(
            &vkey,
            &origin,
            Some(signer),
            String::new(),
            witnesses,
            Some(lock.clone()),
        );
        let queue = Arc::new(std::sync::OnceLock::new());
        let sequencer = standby::Sequencer::new(lock.clone());
        let follower = ledger::follow::TileFollower::new(
            mirror::Source::Locked(
                lock.etcd.clone(),
                replicate::ReplicaSource::new(replica.fresh()),
            ),
            verifier,
            None,
        );
        standby::start(
            log.clone(),
            Arc::downgrade(&shared),
            lock,
            follower,
            standby::Promotion {
                queue: queue.clone(),
                sequencer: sequencer.clone(),
                witnessed: shared.witnessing.as_ref().map(|w| {
                    ledger::follow::TileFollower::new(
                        replicate::ReplicaSource::new(replica.fresh()),
                        ledger::checkpoint::CheckpointVerifier::from_vkey(&shared.vkey)
                            .expect("a signer's own vkey verifies"),
                        Some(w.config.policy.clone()),
                    )
                }),
                replica,
                interval: replicate_interval,
            },
        );
        (Node::new(log, shared, Role::Locked(queue)), sequencer)
    }

    /// Starts copying the log to object storage (see [`replicate`]); the
    /// bucket's existing checkpoint, if any, must be this log's.
    pub fn replicate(&self, config: replicate::ReplicaConfig) {
        let r = replicate::start(self.log.clone(), &self.shared, config);
        assert!(
            self.shared.replication.set(r).is_ok(),
            "replication starts once"
        );
    }

    /// The node whose public page trusts `anchor` (by default: the node's
    /// own vkey and no witness policy).
    pub fn with_anchor(mut self, anchor: &page::Anchor) -> Node {
        self.page = page::html(anchor).into();
        self
    }

    /// The node that lets one client address have at most `limit` bytes of
    /// submissions in flight on the write route (0, the default: no limit);
    /// see [`admission`].
    pub fn with_client_writes(mut self, limit: usize) -> Node {
        self.writes = admission::WriteAdmission::new(limit);
        self
    }

    /// The node that takes and serves the signed statistics of the
    /// auditors in `audited` (see [`audited`]).
    pub fn with_auditors(mut self, audited: audited::Audited) -> Node {
        self.audited = Some(Arc::new(audited));
        self
    }

    fn page_html(&self) -> axum::body::Bytes {
        self.page.clone()
    }

    /// Queues `entries` for the sequencer and waits until their group is
    /// durable (or failed).
    async fn sequence(&self, entries: Vec<Submitted>) -> Result<Committed, ApiError> {
        let queue = match &self.role {
            Role::Primary(queue) => queue,
            Role::Locked(queue) => {
                let lock = self
                    .shared
                    .lock
                    .as_ref()
                    .expect("a locked node has its lock");
                match queue.get() {
                    Some(queue) if lock.holds() => queue,
                    _ => return Err(standby::not_writing(lock)),
                }
            }
            Role::Mirror { primary } => {
                let to = primary.as_deref().unwrap_or("the primary node");
                return Err(ApiError::new(
                    Code::MethodNotAllowed,
                    format!("this node is a read mirror; submit entries to {to}"),
                ));
            }
        };
        let (reply, rx) = oneshot::channel();
        queue
            .submit(Job::new(entries, reply))
            .map_err(|e| match e {
                QueueError::Full => {
                    ApiError::new(Code::Overloaded, "the sequencer is behind; retry shortly")
                }
                QueueError::Closed => ApiError::new(Code::Overloaded, "the node is shutting down"),
            })?;
        rx.await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    /// Receipts (inclusion proofs) for a committed job, made here, not on
    /// the sequencer's thread. One receipt takes microseconds (hashes mostly
    /// cached, the log's lock free but while a head moves): made in place;
    /// an array's on the blocking pool.
    async fn receipts(&self, committed: Committed) -> Result<Answers, ApiError> {
        if committed.outcomes.len() == 1 {
            submit::receipts(&self.log.read().expect("log lock"), committed)
        } else {
            self.read(move |log| submit::receipts(log, committed)).await
        }
    }

    /// Runs `f` on the log under a read lock, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Log<RocksBackend>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || f(&log.read().expect("log lock")))
            .await
            .map_err(ApiError::internal)?
    }
}

/// Every route of this node: path and handlers. The router is built from
/// this table, and a test checks it against `openapi.json` both ways.
pub fn routes() -> Vec<(&'static str, MethodRouter<Node>)> {
    vec![
        ("/v1/entries", post(submit::submit).get(reads::entries_page)),
        ("/v1/entries/{seq}", get(reads::entry)),
        ("/v1/log", get(reads::log_info)),
        ("/v1/checkpoint", get(reads::checkpoint)),
        ("/checkpoint", get(reads::checkpoint)),
        ("/v1/proof/inclusion", get(reads::inclusion)),
        ("/v1/proof/consistency", get(reads::consistency)),
        ("/v1/orgs", get(lists::orgs)),
        ("/v1/orgs/{id}", get(lists::org)),
        ("/v1/orgs/{id}/pending", get(lists::pending)),
        ("/v1/funds", get(lists::funds)),
        ("/v1/funds/{id}", get(lists::fund)),
        ("/v1/funds/{id}/flows", get(lists::flows)),
        ("/v1/funds/{id}/flows/summary", get(lists::flow_summary)),
        ("/v1/money", get(lists::money)),
        ("/v1/beneficiaries", post(lists::beneficiaries)),
        ("/v1/pseudonyms", get(lists::pseudonyms)),
        ("/v1/beneficiaries/{bnf}", get(lists::beneficiary)),
        ("/v1/alerts/duplicates", get(lists::alerts)),
        ("/v1/alerts/monitoring", get(lists::monitoring_alerts)),
        ("/v1/households/{bnf}", get(lists::household)),
        ("/v1/index/{index}/{value}", get(lists::index)),
        ("/v1/credits", get(lists::credit_holders)),
        ("/v1/credits/{holder}", get(lists::credits)),
        ("/v1/assessments", get(lists::assessments)),
        ("/v1/needs", get(lists::needs)),
        ("/v1/stats", get(lists::stats)),
        ("/v1/stats/audited", get(audited::get).post(audited::post)),
        ("/v1/stats/regions", get(lists::regions)),
        ("/v1/regions", get(places::regions)),
        ("/v1/stats/overlap", get(lists::overlap)),
        ("/v1/stats/monitoring", get(lists::monitoring)),
        ("/tile/{*path}", get(tiles::tile)),
        ("/metrics", get(metrics)),
        ("/openapi.json", get(openapi)),
        ("/healthz", get(health::healthz)),
        ("/", get(page::index)),
        ("/assets/{version}/{*path}", get(page::asset)),
    ]
}

/// The OpenAPI 3.1 description of every route.
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The router with every route of this node (used by `main` and by tests
/// through `oneshot`).
pub fn app(node: Node) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, handlers)| r.route(path, handlers))
        .route_layer(axum::middleware::from_fn_with_state(node.clone(), admit))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(Code::MethodNotAllowed, "method not allowed on this route")
        })
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            time_request,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(compression())
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(node)
}

/// Answers gzipped for clients that accept it, at the fastest level (a
/// list is written as it is asked; brotli's fastest made a fund's flows
/// larger than gzip's, 73 KB against 68 KB of 417 KB): JSON of 1 KiB or
/// more. The page's files are gzipped once by `page`; NDJSON leaves,
/// tiles and checkpoints go as they are (verifiers and mirrors read them in
/// bulk, and the node would spend its cores on them).
fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{Predicate, SizeAbove};
    let json = |_: StatusCode,
                _: axum::http::Version,
                headers: &axum::http::HeaderMap,
                _: &axum::http::Extensions| {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    };
    tower_http::compression::CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(json))
}

/// Routes whose answers stay small (an entry, the log's head, a proof): they
/// are served whatever clients that do not read hold.
const SMALL_ROUTES: [&str; 8] = [
    "/v1/entries/{seq}",
    "/v1/log",
    "/v1/checkpoint",
    "/checkpoint",
    "/v1/proof/inclusion",
    "/v1/proof/consistency",
    "/healthz",
    "/v1/regions",
];

/// Admits a request before its handler runs. A submission is admitted by
/// its client's bytes in flight (see [`admission`]) before its body is
/// read. A read of a route whose answer may be large waits its turn at
/// [`large_reads`], then is refused `overloaded` without being built while
/// answers not yet taken by their clients are at the server's limit
/// (building a 1,000-entry page only for the serve loop to drop it cost
/// the clients that never read nothing, and everyone else CPU and memory).
async fn admit(
    State(node): State<Node>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Every POST but one is a submission; `POST /v1/beneficiaries` is a
    // read that asks about many pseudonyms at once.
    let read = req.method() != axum::http::Method::POST
        || req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .is_some_and(|p| p.as_str() == "/v1/beneficiaries");
    if read {
        let small = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .is_none_or(|p| SMALL_ROUTES.contains(&p.as_str()));
        if small {
            return next.run(req).await;
        }
        let _turn = node.large_reads.acquire().await.expect("never closed");
        let full = req
            .extensions()
            .get::<serve::Backlog>()
            .is_some_and(serve::Backlog::is_full);
        if full {
            return ApiError::new(
                Code::Overloaded,
                "answers not yet read by their clients are at this server's limit; retry shortly",
            )
            .into_response();
        }
        return next.run(req).await;
    }
    let bytes = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(BODY_LIMIT);
    let client = submit::client_of(req.extensions().get::<admission::Peer>().copied());
    let standing = node.standing.has(client);
    match node.writes.admit(client, standing, bytes).await {
        Ok(_admitted) => next.run(req).await,
        Err(e) => {
            node.shared.metrics.refused(e.code);
            // A client past its waiting requests is answered after a pause:
            // refused at once, a flood retries as fast as it is refused
            // (60 addresses of one /24 made 6,000 refusals a second, and
            // the accepting and refusing cost the honest client three
            // quarters of its throughput).
            tokio::time::sleep(admission::REFUSAL_PAUSE).await;
            e.into_response()
        }
    }
}

/// Bytes a request's headers may take together (names and values): hyper
/// reads up to about 400 KiB of head, which one client could hold on every
/// connection it opens.
pub const HEAD_LIMIT: usize = 32 << 10;

/// Longest a request may take, its body's upload included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Gives every error answer the SPEC's shape. The handlers answer with
/// [`ApiError`] already; this catches the answers made by the HTTP stack
/// itself (body limit, path and query decoding, the request timeout), which
/// come as plain text or empty, keeping their status. A body announced
/// longer than [`BODY_LIMIT`] is refused before it is read.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) {
        return ApiError::new(
            Code::TooLarge,
            format!("the body may be at most {BODY_LIMIT} bytes"),
        )
        .into_response();
    }
    let head: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if head > HEAD_LIMIT {
        return ApiError::new(
            Code::TooLarge,
            format!("the headers may take at most {HEAD_LIMIT} bytes"),
        )
        .into_response();
    }
    let res = next.run(req).await;
    if res.extensions().get::<health::NotAnError>().is_some() {
        return res;
    }
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    // The stack's statuses, as the SPEC's codes; any other client error is
    // a request of the wrong form, any other server error internal.
    let code = match status {
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::URI_TOO_LONG
        | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Code::TooLarge,
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => Code::Overloaded,
        s if s.is_client_error() => Code::SchemaViolation,
        _ => Code::Internal,
    };
    /// Of a rejection's text, at most this many bytes become the message.
    const MESSAGE_LIMIT: usize = 4096;
    let text = axum::body::to_bytes(res.into_body(), MESSAGE_LIMIT)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match (code, text.trim()) {
        (Code::Internal, _) => "internal error".to_owned(),
        (Code::Overloaded, "") => {
            format!("no answer within {} s; retry", REQUEST_TIMEOUT.as_secs())
        }
        (_, "") => status.canonical_reason().unwrap_or("error").to_owned(),
        (_, text) => text.to_owned(),
    };
    (status, Json(ApiError::new(code, message).body())).into_response()
}

async fn time_request(
    State(node): State<Node>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    node.shared.metrics.request(started.elapsed());
    res
}

/// `GET /metrics`: Prometheus text.
async fn metrics(State(node): State<Node>) -> Result<Response, ApiError> {
    let shared = node.shared.clone();
    let text = node
        .read(move |log| {
            let size = log.size();
            Ok(shared.metrics.render(size, |r| {
                if let Some(w) = &shared.witnessing {
                    w.register(r, size);
                }
                if let Some(rep) = shared.replication.get() {
                    rep.register(r, shared.published_size());
                }
                if let Some(lock) = &shared.lock {
                    lock.register(r);
                }
            }))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use ed25519_dalek::SigningKey;
    use ledger::entry::SignedEntry;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    async fn post(app: &Router, body: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::post("/v1/entries").body(Body::from(body)).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// With the sequencer stuck behind the log's lock, a full queue answers
    /// `overloaded` (503) at once instead of growing, and an entry refused
    /// that way is not in the log: it can be submitted again later as new.
    #[tokio::test(flavor = "multi_thread")]
    #[expect(
        clippy::await_holding_lock,
        reason = "the test holds the log's write lock to stall the writer on purpose"
    )]
    async fn a_full_queue_answers_overloaded_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let v: Value =
            serde_json::from_str(include_str!("../../tests/vectors/ledger.json")).unwrap();
        let signer =
            CheckpointSigner::new("t.example/aid", SigningKey::from_bytes(&[3; 32])).unwrap();
        let (node, writer) = Node::start(
            Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap(),
            signer,
        );
        let app = app(node.clone());
        for l in v["leaves"].as_array().unwrap() {
            let (status, _) = post(&app, serde_json::to_vec(&l["entry"]).unwrap()).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let base = node.log.read().unwrap().size();

        // The vectors' charity (seed 2) may award credit points. More
        // requests than one group (MAX_GROUP) and the queue can hold.
        let charity = SigningKey::from_bytes(&[2; 32]);
        let n = sequencer::MAX_GROUP + sequencer::QUEUE + 100;
        let entries: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let body =
                    json!({"holder": format!("vol_{i:064x}"), "points": 1, "reason": "服务"});
                let e = SignedEntry::create(
                    &charity,
                    "CN-USCI-53440300MJ0000018R",
                    ledger::domain::Kind::CreditAward,
                    &format!("q{i}"),
                    "2026-03-01T09:00:00Z",
                    body,
                )
                .unwrap();
                serde_json::to_vec(&e).unwrap()
            })
            .collect();
        let guard = node.log.write().unwrap();
        let tasks: Vec<_> = entries
            .iter()
            .cloned()
            .map(|e| {
                let app = app.clone();
                tokio::spawn(async move { post(&app, e).await })
            })
            .collect();
        // At most one group and a full queue can wait for the writer: every
        // other request is answered, and only with a refusal, while it is stuck.
        while tasks.iter().filter(|t| t.is_finished()).count() < 100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(guard);
        let mut overloaded = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let (status, answer) = t.await.unwrap();
            match status {
                StatusCode::CREATED => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(answer["error"]["code"], "overloaded");
                    overloaded.push(i);
                }
                other => panic!("{other}: {answer}"),
            }
        }
        assert!(overloaded.len() >= 100, "{} overloaded", overloaded.len());
        let size = node.log.read().unwrap().size();
        assert_eq!(size, base + (n - overloaded.len()) as u64);
        // A refused entry was never sequenced: it is new when sent again.
        let (status, r) = post(&app, entries[overloaded[0]].clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["seq"], size);
        // The writer closes the store before its directory is removed.
        drop((app, node));
        tokio::task::spawn_blocking(move || writer.join().expect("the writer thread"))
            .await
            .unwrap();
    }
}
