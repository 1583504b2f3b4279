//! The HTTP/1.1 serve loop of every server of aidledger (the node, the
//! witness), built to stay reachable when clients misbehave:
//!
//! - a connection must send a request's whole head within the header
//!   timeout, both when it opens and between requests on a kept-alive
//!   connection, or it is closed (hyper's header-read timer);
//! - an answer the client does not take (its socket stays full) for the
//!   write timeout closes the connection ([`Deadline`]), and answers made
//!   but not yet taken are bounded in bytes over all connections: past
//!   [`Limits::max_unsent`] a large answer is replaced by `overloaded`
//!   ([`Backlog`], which each request carries so that a handler can refuse
//!   before building one), so clients that never read cannot fill the
//!   memory;
//! - connections are capped below the process's file limit, leaving room
//!   for the server's own files ([`Limits::for_file_limit`]);
//! - at the cap a new connection is admitted by shedding another: first the
//!   one that has waited longest without a request in progress (a slow or
//!   silent head, an idle keep-alive), then a request older than
//!   [`Limits::busy_grace`]; only when every connection is in a fresh
//!   request is the newcomer answered `overloaded` and closed;
//! - the answers hyper writes by itself for a request it cannot parse
//!   (400, 414, 431, normally empty) get the SPEC's JSON error body
//!   ([`JsonErrors`]);
//! - each request carries its client's address ([`Peer`]) for the
//!   handlers' own admission.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

mod stream;

use stream::refuse;
#[cfg(test)]
use stream::rewrite_automatic_answer;
pub use stream::{Deadline, JsonErrors};

/// The address a request's connection came from, put in the request's
/// extensions by the serve loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

/// The server's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a connection has to send a request's whole head, counted from
    /// its opening or from the end of its previous answer.
    pub header_timeout: Duration,
    /// A request in progress for longer than this may be shed when the
    /// server is at its cap and no connection is idle.
    pub busy_grace: Duration,
    /// Time an answer may wait for its client to take any of it (the
    /// connection's socket full) before the connection is closed.
    pub write_timeout: Duration,
    /// Bytes of answers made and held until their clients have taken all
    /// of them, all connections together; past it an answer larger than
    /// [`SMALL_ANSWER`] is replaced by `overloaded`.
    pub max_unsent: usize,
}

/// Answers up to this size are always sent, whatever is unsent: errors,
/// receipts, single entries and proofs stay small.
pub const SMALL_ANSWER: usize = 16 << 10;

/// Why the limits cannot be set.
#[derive(Debug, thiserror::Error)]
#[error("the file limit ({limit}) leaves no room for connections beside the {reserved} files kept for the server itself; raise it (ulimit -n)")]
pub struct FileLimitTooLow {
    /// The limit in force.
    pub limit: u64,
    /// Descriptors kept for everything but connections.
    pub reserved: u64,
}

impl Limits {
    /// Limits for a process allowed `file_limit` open files of which
    /// `reserved` are kept for its own files: every other descriptor may
    /// be a connection.
    pub fn for_file_limit(file_limit: u64, reserved: u64) -> Result<Limits, FileLimitTooLow> {
        let room = file_limit.saturating_sub(reserved);
        if room < 16 {
            return Err(FileLimitTooLow {
                limit: file_limit,
                reserved,
            });
        }
        Ok(Limits {
            max_connections: usize::try_from(room).unwrap_or(usize::MAX),
            header_timeout: Duration::from_secs(10),
            busy_grace: Duration::from_secs(5),
            write_timeout: Duration::from_secs(20),
            max_unsent: 256 << 20,
        })
    }
}

/// Raises this process's soft limit on open files to its hard limit and
/// returns the soft limit then in force.
pub fn raise_file_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!("could not raise the open-files limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// One open connection, as the admission sees it.
struct Conn {
    /// When its current state began: opened, request started, answer sent.
    since: Instant,
    /// A request is in progress.
    busy: bool,
    /// Wakes the connection's task to close it.
    shed: Arc<Notify>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    conns: HashMap<u64, Conn>,
}

impl Registry {
    /// The connection to shed for a newcomer, if any may be.
    fn victim(&self, now: Instant, busy_grace: Duration) -> Option<u64> {
        let oldest = |busy: bool| {
            self.conns
                .iter()
                .filter(move |(_, c)| c.busy == busy)
                .min_by_key(|(_, c)| c.since)
        };
        oldest(false)
            .or_else(|| oldest(true).filter(|(_, c)| now - c.since >= busy_grace))
            .map(|(&id, _)| id)
    }

    fn set_busy(&mut self, id: u64, busy: bool) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.busy = busy;
            c.since = Instant::now();
        }
    }
}

type Shared = Arc<Mutex<Registry>>;

/// Serves `app` on `listener` under `limits` until `shutdown` resolves,
/// then lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let registry = Shared::default();
    let backlog = Backlog::new(limits.max_unsent);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut last_accept_error: Option<Instant> = None;
    let mut shed = 0u64;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // accepted: say so at most once a second, back off a moment.
                    if last_accept_error.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                        tracing::warn!("accept error: {e}");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while tasks.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let admitted = {
            let mut reg = registry.lock().expect("registry lock");
            let room = reg.conns.len() < limits.max_connections
                || match reg.victim(Instant::now(), limits.busy_grace) {
                    Some(victim) => {
                        let conn = reg.conns.remove(&victim).expect("a listed connection");
                        conn.shed.notify_one();
                        shed += 1;
                        if shed.is_power_of_two() {
                            tracing::warn!(
                                shed,
                                "at the connection cap ({}): shedding the longest-waiting connections",
                                limits.max_connections
                            );
                        }
                        true
                    }
                    None => false,
                };
            room.then(|| {
                let id = reg.next_id;
                reg.next_id += 1;
                let shed = Arc::new(Notify::new());
                reg.conns.insert(
                    id,
                    Conn {
                        since: Instant::now(),
                        busy: false,
                        shed: shed.clone(),
                    },
                );
                (id, shed)
            })
        };
        match admitted {
            Some(ticket) => {
                let conn = connection(
                    stream,
                    ticket,
                    registry.clone(),
                    app.clone(),
                    limits.clone(),
                    backlog.clone(),
                    stopped.clone(),
                );
                tasks.spawn(conn);
            }
            None => {
                tasks.spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection until it closes, is shed, or the server stops.
async fn connection(
    stream: TcpStream,
    (id, shed): (u64, Arc<Notify>),
    registry: Shared,
    app: Router,
    limits: Limits,
    backlog: Backlog,
    mut stopped: watch::Receiver<bool>,
) {
    let reg = registry.clone();
    let peer = stream.peer_addr().ok().map(|a| Peer(a.ip()));
    let io = Deadline::new(stream, limits.write_timeout);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        reg.lock().expect("registry lock").set_busy(id, true);
        if let Some(peer) = peer {
            req.extensions_mut().insert(peer);
        }
        req.extensions_mut().insert(backlog.clone());
        let reg = reg.clone();
        let backlog = backlog.clone();
        let answer = app.clone().oneshot(req);
        async move {
            let res = answer.await;
            reg.lock().expect("registry lock").set_busy(id, false);
            res.map(|r| backlog.bound(r))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Vectored writes: hyper queues an answer's body as it is (freed once
        // written) instead of copying it into a buffer of its own, whose
        // capacity a connection kept for its life (a thousand connections
        // that each once took a 1 MB page held a gigabyte). The head is
        // always the first buffer of a write, so JsonErrors sees it whole.
        .writev(true)
        .serve_connection(TokioIo::new(JsonErrors::new(io)), service);
    tokio::pin!(conn);
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!("connection closed: {e}");
            }
        }
        () = shed.notified() => {}
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                () = shed.notified() => {}
            }
        }
    }
    registry.lock().expect("registry lock").conns.remove(&id);
}

/// Bytes of answers made (polled from their bodies by hyper) and not yet
/// dropped by hyper, all connections together. hyper keeps a body's frame
/// whole until its last byte is written, so this is the memory that
/// clients which do not read can hold, not only the part they have not
/// taken: the socket taking most of a 1 MB page frees none of it.
#[derive(Clone)]
pub struct Backlog {
    held: Arc<AtomicUsize>,
    max: usize,
}

impl Backlog {
    fn new(max: usize) -> Backlog {
        Backlog {
            held: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Whether answers held for their clients have reached the limit: a
    /// handler about to build a large answer may refuse at once instead
    /// (the serve loop would replace the answer by `overloaded` anyway).
    pub fn is_full(&self) -> bool {
        self.held.load(Ordering::Relaxed) >= self.max
    }

    /// `answer`, its frames counted while hyper holds them; or, when it is
    /// large and would take the answers held past the limit, an
    /// `overloaded` answer instead (the large one is dropped at once).
    fn bound(&self, answer: axum::response::Response) -> axum::response::Response {
        use http_body::Body as _;
        let size = answer.body().size_hint();
        let size = usize::try_from(size.exact().unwrap_or(size.lower())).unwrap_or(usize::MAX);
        let answer = if size > SMALL_ANSWER
            && self.held.load(Ordering::Relaxed).saturating_add(size) > self.max
        {
            tracing::debug!(
                size,
                "answers not taken by their clients are at the limit: overloaded"
            );
            overloaded(
                "answers not yet read by their clients are at this server's limit; retry shortly",
            )
        } else {
            answer
        };
        let held = self.held.clone();
        answer.map(|body| Body::new(Counted { body, held }))
    }
}

/// A frame of an answer, counted in [`Backlog`] until hyper drops it.
struct Held {
    data: Bytes,
    held: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.fetch_sub(self.data.len(), Ordering::Relaxed);
    }
}

/// A `503 overloaded` answer with the SPEC's body.
fn overloaded(message: &str) -> axum::response::Response {
    let body = serde_json::json!({"error": {"code": "overloaded", "message": message}}).to_string();
    axum::response::Response::builder()
        .status(503)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a valid answer")
}

/// An answer's body whose frames are counted in [`Backlog`] from when hyper
/// takes them until it drops them.
struct Counted {
    body: Body,
    held: Arc<AtomicUsize>,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        let held = &self.held;
        Poll::Ready(frame.map(|f| {
            f.map(|f| {
                f.map_data(|data| {
                    held.fetch_add(data.len(), Ordering::Relaxed);
                    Bytes::from_owner(Held {
                        data,
                        held: held.clone(),
                    })
                })
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_automatic_answers_get_a_json_body() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sat, 28 Nov 2026 08:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewrite_automatic_answer(head).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_large");
        // An answer with a body, or another status, is left alone.
        assert!(rewrite_automatic_answer(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n"
        )
        .is_none());
        assert!(
            rewrite_automatic_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none()
        );
    }

    #[test]
    fn an_answer_counts_until_its_last_byte_is_dropped() {
        use http_body::Body as _;
        let backlog = Backlog::new(2 * SMALL_ANSWER);
        let large = || axum::response::Response::new(Body::from(vec![7u8; SMALL_ANSWER + 1]));
        let mut answer = backlog.bound(large()).into_body();
        // Not counted before hyper takes it.
        assert!(!backlog.is_full());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut answer).poll_frame(&mut cx) else {
            panic!("one frame");
        };
        let data = frame.into_data().expect("data");
        assert_eq!(backlog.held.load(Ordering::Relaxed), SMALL_ANSWER + 1);
        // A second large answer would pass the limit: overloaded.
        let refused = backlog.bound(large());
        assert_eq!(refused.status(), 503);
        // Most of the first written (the socket took it) frees nothing:
        // hyper still holds the frame's whole buffer.
        let tail = data.slice(SMALL_ANSWER..);
        drop(data);
        assert_eq!(backlog.held.load(Ordering::Relaxed), SMALL_ANSWER + 1);
        drop(tail);
        assert_eq!(backlog.held.load(Ordering::Relaxed), 0);
        assert_eq!(backlog.bound(large()).status(), 200);
    }

    #[test]
    fn admission_sheds_the_longest_idle_first_then_old_requests() {
        let t0 = Instant::now();
        let mut reg = Registry::default();
        let conn = |since, busy| Conn {
            since,
            busy,
            shed: Arc::new(Notify::new()),
        };
        reg.conns.insert(1, conn(t0 + Duration::from_secs(1), true));
        reg.conns
            .insert(2, conn(t0 + Duration::from_secs(3), false));
        reg.conns
            .insert(3, conn(t0 + Duration::from_secs(2), false));
        let grace = Duration::from_secs(5);
        assert_eq!(reg.victim(t0 + Duration::from_secs(4), grace), Some(3));
        reg.conns.remove(&3);
        reg.conns.remove(&2);
        // Only a fresh request is left: nobody is shed.
        assert_eq!(reg.victim(t0 + Duration::from_secs(4), grace), None);
        // Once it is older than the grace, it may be.
        assert_eq!(reg.victim(t0 + Duration::from_secs(7), grace), Some(1));
    }
}
