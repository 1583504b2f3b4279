//! The node's HTTP/1.1 server loop, built to stay reachable when clients
//! misbehave:
//!
//! - a connection must send a request's whole head within the header
//!   timeout, both when it opens and between requests on a kept-alive
//!   connection, or it is closed (hyper's header-read timer);
//! - connections are capped below the process's file limit, leaving room
//!   for the store's files and the writer ([`RESERVED_FILES`]);
//! - at the cap a new connection is admitted by shedding another: first the
//!   one that has waited longest without a request in progress (a slow or
//!   silent head, an idle keep-alive), then a request older than
//!   [`Limits::busy_grace`]; only when every connection is in a fresh
//!   request is the newcomer answered `overloaded` and closed;
//! - the answers hyper writes by itself for a request it cannot parse
//!   (400, 414, 431, normally empty) get the SPEC's JSON error body
//!   ([`JsonErrors`]).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// File descriptors kept for everything but connections: RocksDB's table
/// files and blob files (each bounded by `MAX_OPEN_FILES`), its WAL,
/// manifest, lock and info log, the listener, stdio and the node's key.
pub const RESERVED_FILES: u64 = 2 * ledger::store::MAX_OPEN_FILES + 128;

/// The server's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a connection has to send a request's whole head, counted from
    /// its opening or from the end of its previous answer.
    pub header_timeout: Duration,
    /// A request in progress for longer than this may be shed when the
    /// node is at its cap and no connection is idle.
    pub busy_grace: Duration,
}

/// Why the limits cannot be set.
#[derive(Debug, thiserror::Error)]
#[error("the file limit ({0}) leaves no room for connections beside the store's {RESERVED_FILES} files; raise it (ulimit -n)")]
pub struct FileLimitTooLow(pub u64);

impl Limits {
    /// Limits for a process allowed `file_limit` open files: every
    /// descriptor not reserved may be a connection.
    pub fn for_file_limit(file_limit: u64) -> Result<Limits, FileLimitTooLow> {
        let room = file_limit.saturating_sub(RESERVED_FILES);
        if room < 16 {
            return Err(FileLimitTooLow(file_limit));
        }
        Ok(Limits {
            max_connections: room as usize,
            header_timeout: Duration::from_secs(10),
            busy_grace: Duration::from_secs(5),
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
            Some((id, shed)) => {
                let conn = connection(
                    stream,
                    id,
                    shed,
                    registry.clone(),
                    app.clone(),
                    limits.clone(),
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

/// Serves one connection until it closes, is shed, or the node stops.
async fn connection(
    stream: TcpStream,
    id: u64,
    shed: Arc<Notify>,
    registry: Shared,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let reg = registry.clone();
    // The client's address, for the write route's admission.
    let peer = stream
        .peer_addr()
        .ok()
        .map(|a| crate::admission::Peer(a.ip()));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        reg.lock().expect("registry lock").set_busy(id, true);
        if let Some(peer) = peer {
            req.extensions_mut().insert(peer);
        }
        let reg = reg.clone();
        let answer = app.clone().oneshot(req);
        async move {
            let res = answer.await;
            reg.lock().expect("registry lock").set_busy(id, false);
            res
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // One buffer per write, so that JsonErrors sees a whole head.
        .writev(false)
        .serve_connection(TokioIo::new(JsonErrors::new(stream)), service);
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

/// Answers a connection that cannot be admitted with `overloaded` and
/// closes it.
async fn refuse(mut stream: TcpStream) {
    let answer = json_answer(
        503,
        "Service Unavailable",
        "overloaded",
        "too many connections; retry shortly",
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer)).await;
}

/// A whole HTTP/1.1 answer with a SPEC error body, closing the connection.
fn json_answer(status: u16, reason: &str, code: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The automatic answer hyper writes for a request it could not parse
/// (always without a body), as a whole answer with the SPEC's JSON body.
/// Every answer of the router itself has a JSON body (see
/// `crate::json_errors`), so an empty 400, 414 or 431 is hyper's.
fn rewrite_automatic_answer(head: &[u8]) -> Option<Vec<u8>> {
    let (status, reason, code, message) = match head.get(..13)? {
        b"HTTP/1.1 400 " => (
            400,
            "Bad Request",
            "schema_violation",
            "malformed HTTP request",
        ),
        b"HTTP/1.1 414 " => (
            414,
            "URI Too Long",
            "too_large",
            "the request's URI is too long",
        ),
        b"HTTP/1.1 431 " => (
            431,
            "Request Header Fields Too Large",
            "too_large",
            "the request's headers are too large",
        ),
        _ => return None,
    };
    let lower = head.to_ascii_lowercase();
    let empty = lower.windows(21).any(|w| w == b"\r\ncontent-length: 0\r\n");
    (empty && head.ends_with(b"\r\n\r\n")).then(|| json_answer(status, reason, code, message))
}

/// A connection's stream that replaces hyper's bodiless automatic error
/// answers with [`rewrite_automatic_answer`]'s.
pub struct JsonErrors<S> {
    inner: S,
    /// A replacement answer not yet written, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<S> JsonErrors<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> JsonErrors<S> {
        JsonErrors {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> JsonErrors<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        if let Some(answer) = rewrite_automatic_answer(buf) {
            self.pending = answer;
            self.written = 0;
            // The rest is written by the flush hyper makes next.
            if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
