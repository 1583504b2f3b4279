//! aidledger-node: the HTTP face of the ledger and its only writer
//! (SPEC §7). This crate is glue: parsing requests, queueing entries
//! for the sequencer thread, and reading proofs and leaves from the
//! `ledger` crate's store.

#![deny(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use ledger::checkpoint::CheckpointSigner;
use ledger::code::Code;
use ledger::store::{Log, RocksBackend};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub mod admission;
pub mod clients;
pub mod demo;
mod error;
mod fair;
mod lists;
mod metrics;
pub mod mirror;
pub mod page;
pub mod replicate;
mod sequencer;
pub mod serve;
mod tiles;
mod witnesses;

pub use error::ApiError;
use ledger::sequencer::Outcome;
use sequencer::{Committed, Job, Queue, QueueError, Receipt, Submitted};
pub use witnesses::WitnessConfig;

/// The log, shared between the sequencer (writes) and the handlers (reads).
pub(crate) type SharedLog = Arc<RwLock<Log<RocksBackend>>>;

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
}

impl Shared {
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

/// Everything a handler needs.
#[derive(Clone)]
pub struct Node {
    log: SharedLog,
    shared: Arc<Shared>,
    /// The sequencer's queue (none on a read mirror).
    queue: Option<Queue>,
    /// On a mirror: the primary that takes submissions.
    primary: Option<String>,
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

/// Largest request body.
pub const BODY_LIMIT: usize = 8 << 20;
/// Most entries in one submitted array, and most items on a page.
pub const MAX_BATCH: usize = 1_000;

impl Node {
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
        let shared = Arc::new(Shared {
            origin: signer.origin().to_owned(),
            vkey: signer.vkey(),
            signer: Some(signer),
            halted: std::sync::OnceLock::new(),
            checkpoint: RwLock::new(checkpoint),
            metrics: Default::default(),
            witnessing: witnesses.map(witnesses::Witnessing::new),
            replication: std::sync::OnceLock::new(),
        });
        if shared.witnessing.is_some() {
            witnesses::start(log.clone(), Arc::downgrade(&shared));
        }
        let page = page::html(&page::Anchor {
            vkey: shared.vkey.clone(),
            policy: None,
        })
        .into();
        let (queue, handle) = sequencer::start(log.clone(), shared.clone());
        (
            Node {
                log,
                shared,
                queue: Some(queue),
                page,
                primary: None,
                writes: admission::WriteAdmission::new(0),
                checks: check_pool(),
                standing: Arc::default(),
                large_reads: large_reads(),
            },
            handle,
        )
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
        let shared = Arc::new(Shared {
            signer: None,
            origin: verifier.origin().to_owned(),
            vkey: vkey.to_owned(),
            halted: std::sync::OnceLock::new(),
            checkpoint: RwLock::new(checkpoint),
            metrics: Default::default(),
            witnessing: None,
            replication: std::sync::OnceLock::new(),
        });
        let page = page::html(&page::Anchor {
            vkey: vkey.to_owned(),
            policy: config.policy_text.clone(),
        })
        .into();
        let primary = config.primary.clone();
        mirror::start(log.clone(), Arc::downgrade(&shared), verifier, config);
        Ok(Node {
            log,
            shared,
            queue: None,
            page,
            primary,
            writes: admission::WriteAdmission::new(0),
            checks: check_pool(),
            standing: Arc::default(),
            large_reads: large_reads(),
        })
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

    fn page_html(&self) -> axum::body::Bytes {
        self.page.clone()
    }

    /// Queues `entries` for the sequencer and waits until their group is
    /// durable (or failed).
    async fn sequence(&self, entries: Vec<Submitted>) -> Result<Committed, ApiError> {
        let Some(queue) = &self.queue else {
            let to = self.primary.as_deref().unwrap_or("the primary node");
            return Err(ApiError::new(
                Code::MethodNotAllowed,
                format!("this node is a read mirror; submit entries to {to}"),
            ));
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
            receipts(&self.log.read().expect("log lock"), committed)
        } else {
            self.read(move |log| receipts(log, committed)).await
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
        ("/v1/entries", post(submit).get(entries_page)),
        ("/v1/entries/{seq}", get(entry)),
        ("/v1/log", get(log_info)),
        ("/v1/checkpoint", get(checkpoint)),
        ("/checkpoint", get(checkpoint)),
        ("/v1/proof/inclusion", get(inclusion)),
        ("/v1/proof/consistency", get(consistency)),
        ("/v1/orgs", get(lists::orgs)),
        ("/v1/orgs/{id}", get(lists::org)),
        ("/v1/funds", get(lists::funds)),
        ("/v1/funds/{id}", get(lists::fund)),
        ("/v1/funds/{id}/flows", get(lists::flows)),
        ("/v1/beneficiaries/{bnf}", get(lists::beneficiary)),
        ("/v1/alerts/duplicates", get(lists::alerts)),
        ("/v1/index/{index}/{value}", get(lists::index)),
        ("/v1/credits", get(lists::credit_holders)),
        ("/v1/credits/{holder}", get(lists::credits)),
        ("/v1/assessments", get(lists::assessments)),
        ("/v1/needs", get(lists::needs)),
        ("/v1/stats", get(lists::stats)),
        ("/v1/stats/regions", get(lists::regions)),
        ("/v1/stats/overlap", get(lists::overlap)),
        ("/tile/{*path}", get(tiles::tile)),
        ("/metrics", get(metrics)),
        ("/openapi.json", get(openapi)),
        ("/healthz", get(healthz)),
        ("/", get(page::index)),
        ("/assets/{version}/{*path}", get(page::asset)),
    ]
}

/// The state `/healthz` names on its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Health {
    /// Everything works.
    Ok,
    /// Serving and writing, but a witness is down (the quorum may still be
    /// met, or not: the detail says which).
    Degraded,
    /// Replication or a mirror's following stopped and needs the operator.
    Stopped,
    /// A witness proved that this log showed it another history.
    Fork,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Stopped => "stopped",
            Health::Fork => "fork",
        }
    }

    /// 200 while the node serves as it should, if degraded; 503 when the
    /// operator must act.
    fn status(self) -> StatusCode {
        match self {
            Health::Ok | Health::Degraded => StatusCode::OK,
            Health::Stopped | Health::Fork => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Marks an answer that is not an error of the request, whatever its
/// status: `json_errors` leaves it as it is.
#[derive(Clone, Copy)]
struct NotAnError;

/// `GET /healthz` (a decision of ours, SPEC §7): `text/plain`, the state on
/// the first line (`ok`, `degraded`, `stopped`, `fork`; the worst wins),
/// then one line per detail: each witness down and since when, whether the
/// others still make the quorum, a fork a witness proved, replication's
/// lag or why it stopped, why a mirror stopped following. 200 for `ok`
/// and `degraded`, 503 for `stopped` and `fork`; never an error body.
async fn healthz(State(node): State<Node>) -> Response {
    let mut state = Health::Ok;
    let mut lines = Vec::new();
    let mut note = |s: Health, line: String| {
        state = state.max(s);
        lines.push(line);
    };
    if let Some(w) = &node.shared.witnessing {
        let h = w.health();
        for line in h.forks {
            note(Health::Fork, line);
        }
        for line in h.degraded {
            note(Health::Degraded, line);
        }
    }
    if let Some(why) = node.shared.halted.get() {
        note(Health::Stopped, format!("mirror stopped following: {why}"));
    }
    if let Some(r) = node.shared.replication.get() {
        let (line, bad) = r.health(node.shared.published_size());
        note(if bad { Health::Stopped } else { Health::Ok }, line);
    }
    let mut body = format!("{}\n", state.as_str());
    for line in lines {
        body.push_str(&line);
        body.push('\n');
    }
    let mut res = (
        state.status(),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response();
    res.extensions_mut().insert(NotAnError);
    res
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
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(node)
}

/// Routes whose answers stay small (an entry, the log's head, a proof): they
/// are served whatever clients that do not read hold.
const SMALL_ROUTES: [&str; 7] = [
    "/v1/entries/{seq}",
    "/v1/log",
    "/v1/checkpoint",
    "/checkpoint",
    "/v1/proof/inclusion",
    "/v1/proof/consistency",
    "/healthz",
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
    if req.method() != axum::http::Method::POST {
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
    let client = client_of(req.extensions().get::<admission::Peer>().copied());
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
    if res.extensions().get::<NotAnError>().is_some() {
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
            let mut text = shared.metrics.render(log.size());
            if let Some(w) = &shared.witnessing {
                text.push_str(&w.render(log.size()));
            }
            if let Some(r) = shared.replication.get() {
                text.push_str(&r.render(shared.published_size()));
            }
            Ok(text)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// What a request gets for each entry: a receipt or an error.
type Answers = Vec<Result<Receipt, ApiError>>;

/// `POST /v1/entries`: one entry (201 receipt; 200 for an identical
/// resubmission) or an array of up to 1,000 (200 `{"results":[…]}`).
async fn submit(
    State(node): State<Node>,
    peer: Option<axum::Extension<admission::Peer>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = client_of(peer.map(|p| p.0));
    let standing = node.standing.has(client);
    let (items, single) = if body.len() <= INLINE_PARSE {
        submitted_items(&body)?
    } else {
        node.checks
            .run(client, standing, move || submitted_items(&body))
            .await
            .map_err(ApiError::internal)??
    };
    let (entries, mut answers) = precheck(&node.checks, (client, standing), items, single).await?;
    let mut created = false;
    if !entries.is_empty() {
        let committed = node.sequence(entries).await?;
        created = committed
            .outcomes
            .iter()
            .any(|o| matches!(o, Ok(Outcome::Sequenced(_))));
        // Only new entries earn standing: a resubmission of a public entry
        // could be anybody's.
        if created {
            node.standing.vouch(client);
        }
        if let Some(r) = node.shared.replication.get().filter(|r| r.acks()) {
            r.until_replicated(committed.size).await?;
        }
        let mut receipts = node.receipts(committed).await?.into_iter();
        for slot in answers.iter_mut().filter(|a| a.is_none()) {
            *slot = Some(receipts.next().expect("one answer per entry"));
        }
    }
    let answers: Answers = answers
        .into_iter()
        .map(|a| a.expect("every entry answered"))
        .collect();
    for e in answers.iter().filter_map(|a| a.as_ref().err()) {
        node.shared.metrics.refused(e.code);
    }
    respond(answers, single, created)
}

/// The client a request's connection belongs to: its network block.
fn client_of(peer: Option<admission::Peer>) -> clients::Client {
    peer.map(|p| clients::Prefix::of(p.0))
}

/// Bodies up to this size are parsed on the async thread that read them;
/// larger ones (arrays) in the client's turn on the check pool.
const INLINE_PARSE: usize = 16 << 10;

/// The entries of a submitted body, and whether it was one entry rather
/// than an array.
fn submitted_items(body: &[u8]) -> Result<(Vec<Value>, bool), ApiError> {
    let value = ledger::parse_strict(body).map_err(|e| {
        let code = if e.is_malformed() {
            Code::MalformedJson
        } else {
            Code::SchemaViolation
        };
        ApiError::new(code, e.to_string())
    })?;
    match value {
        Value::Array(items) if items.len() > MAX_BATCH => Err(ApiError::new(
            Code::TooLarge,
            format!("at most {MAX_BATCH} entries per request"),
        )),
        Value::Array(items) => Ok((items, false)),
        other => Ok((vec![other], true)),
    }
}

/// Schema and verify_strict, off the async threads: an array's entries in
/// chunks on the check pool, in the client's turn; a single entry with the
/// rest of its commit group, by the sequencer. Gives the entries to
/// sequence, and one slot per submitted entry: its refusal already, or
/// `None` until the sequencer answers.
async fn precheck(
    pool: &fair::FairPool,
    (client, standing): (clients::Client, bool),
    items: Vec<Value>,
    single: bool,
) -> Result<(Vec<Submitted>, Vec<Option<Result<Receipt, ApiError>>>), ApiError> {
    if single {
        return Ok((
            items.into_iter().map(Submitted::Parsed).collect(),
            vec![None],
        ));
    }
    // Every chunk is queued before the first is awaited.
    let chunks: Vec<_> = ledger::rules::check_chunks(items)
        .map(|chunk| pool.run(client, standing, move || ledger::rules::check_batch(chunk)))
        .collect();
    let mut entries = Vec::new();
    let mut answers = Vec::new();
    for chunk in chunks {
        for c in chunk.await.map_err(ApiError::internal)? {
            answers.push(match c {
                Ok(entry) => {
                    entries.push(Submitted::Checked(Box::new(entry)));
                    None
                }
                Err(refusal) => Some(Err(refusal.into())),
            });
        }
    }
    Ok((entries, answers))
}

/// One entry's answer (201 when new, 200 for a resubmission), or an
/// array's `{"results":[…]}`.
fn respond(answers: Answers, single: bool, created: bool) -> Result<Response, ApiError> {
    if single {
        let receipt = answers.into_iter().next().expect("one entry")?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok((status, Json(receipt)).into_response());
    }
    let results: Vec<Answer> = answers
        .into_iter()
        .map(|a| a.map_or_else(|e| Answer::Refused(e.body()), Answer::Receipt))
        .collect();
    Ok(Json(Results { results }).into_response())
}

/// The answer to an array: one receipt or error body per entry, in order.
/// Serialised straight from these types: a batch's answer is megabytes,
/// and building it as a `Value` first would copy it all once more.
#[derive(Serialize)]
struct Results {
    results: Vec<Answer>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Receipt(Receipt),
    Refused(Value),
}

/// Receipts (or refusals) for a committed job's outcomes.
fn receipts(log: &Log<RocksBackend>, committed: Committed) -> Result<Answers, ApiError> {
    let Committed {
        outcomes,
        checkpoint,
        size,
    } = committed;
    outcomes
        .into_iter()
        .map(|o| match o {
            Ok(outcome) => {
                let r = sequencer::receipt(log, &outcome, &checkpoint, size)
                    .map_err(ApiError::internal)?;
                Ok(Ok(r))
            }
            Err(refusal) => Ok(Err(ApiError::from(refusal))),
        })
        .collect()
}

fn param(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    q.get(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_param(format!("{name} must be a non-negative integer")))
        })
        .transpose()
}

fn required(q: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    param(q, name)?.ok_or_else(|| ApiError::bad_param(format!("{name} is required")))
}

/// `GET /v1/log`: origin, vkey, size, genesis leaf hash.
async fn log_info(State(node): State<Node>) -> Result<Json<Value>, ApiError> {
    let origin = node.shared.origin.clone();
    let vkey = node.shared.vkey.clone();
    node.read(move |log| {
        let genesis = log
            .leaf_hash(0)
            .map_err(ApiError::internal)?
            .map(|h| h.to_hex());
        Ok(Json(
            json!({"origin": origin, "vkey": vkey, "size": log.size(), "genesis": genesis}),
        ))
    })
    .await
}

/// `GET /v1/checkpoint` (and `/checkpoint`): the latest signed checkpoint;
/// with a witness policy, the latest that met its quorum, cosignatures
/// included (SPEC §4.1).
async fn checkpoint(State(node): State<Node>) -> Response {
    let Some(text) = node.shared.published_checkpoint() else {
        return ApiError::not_found("no checkpoint has met the witness quorum yet").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// `GET /v1/entries/{seq}`.
async fn entry(State(node): State<Node>, Path(seq): Path<String>) -> Result<Json<Value>, ApiError> {
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::bad_param("seq must be a non-negative integer"))?;
    node.read(move |log| {
        let bytes = log.leaf(seq).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found(format!("no entry {seq}")))?;
        let leaf: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
        Ok(Json(json!({"seq": seq, "leaf_hash": ledger::merkle::leaf_hash(&bytes).to_hex(), "leaf": leaf})))
    })
    .await
}

/// `GET /v1/entries?start=S&limit=N`: NDJSON, each line exactly the leaf bytes.
async fn entries_page(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let start = param(&q, "start")?.unwrap_or(0);
    let limit = param(&q, "limit")?.unwrap_or(MAX_BATCH as u64);
    if limit == 0 || limit > MAX_BATCH as u64 {
        return Err(ApiError::bad_param(format!(
            "limit must be 1..={MAX_BATCH}"
        )));
    }
    let body = node
        .read(move |log| {
            let leaves = log
                .leaves(start, limit as usize)
                .map_err(ApiError::internal)?;
            // Exactly the page's size: a page held for a client that reads
            // slowly holds no spare capacity beside it.
            let mut out = Vec::with_capacity(leaves.iter().map(|l| l.len() + 1).sum());
            for bytes in leaves {
                out.extend_from_slice(&bytes);
                out.push(b'\n');
            }
            Ok(out)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

fn hexes(path: Vec<ledger::merkle::Hash>) -> Vec<String> {
    path.iter().map(|h| h.to_hex()).collect()
}

/// `GET /v1/proof/inclusion?seq=S&size=N` (`size` defaults to the current size).
async fn inclusion(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let seq = required(&q, "seq")?;
    let size = param(&q, "size")?;
    node.read(move |log| {
        let size = size.unwrap_or(log.size());
        if seq >= size || size > log.size() {
            return Err(ApiError::not_found(format!(
                "no seq {seq} in a tree of size {size} (tree size {})",
                log.size()
            )));
        }
        let path = log.prove_inclusion(seq, size).map_err(ApiError::internal)?;
        let leaf_hash = log
            .leaf_hash(seq)
            .map_err(ApiError::internal)?
            .expect("seq < size")
            .to_hex();
        Ok(Json(
            json!({"seq": seq, "size": size, "leaf_hash": leaf_hash, "path": hexes(path)}),
        ))
    })
    .await
}

/// `GET /v1/proof/consistency?first=M&second=N` (`second` defaults to the current size).
async fn consistency(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let first = required(&q, "first")?;
    let second = param(&q, "second")?;
    node.read(move |log| {
        let second = second.unwrap_or(log.size());
        if first > second || second > log.size() {
            return Err(ApiError::not_found(format!(
                "no consistency proof from {first} to {second} (tree size {})",
                log.size()
            )));
        }
        let path = log
            .prove_consistency(first, second)
            .map_err(ApiError::internal)?;
        Ok(Json(
            json!({"first": first, "second": second, "path": hexes(path)}),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use ed25519_dalek::SigningKey;
    use ledger::entry::SignedEntry;
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
        let (node, _) = Node::start(
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
    }
}
