//! `/healthz`: the node's state in a word (ok, degraded, stopped, fork)
//! and a line of why, 200 or 503.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::Node;

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
pub(crate) struct NotAnError;

/// `GET /healthz` (a decision of ours, SPEC §7): `text/plain`, the state on
/// the first line (`ok`, `degraded`, `stopped`, `fork`; the worst wins),
/// then one line per detail: each witness down and since when, whether the
/// others still make the quorum, a fork a witness proved, replication's
/// lag or why it stopped, why a mirror stopped following. 200 for `ok`
/// and `degraded`, 503 for `stopped` and `fork`; never an error body.
pub(crate) async fn healthz(State(node): State<Node>) -> Response {
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
    if let Some(lock) = &node.shared.lock {
        let (line, bad) = lock.health();
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
