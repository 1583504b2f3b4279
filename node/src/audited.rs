//! Auditors' signed statistics (SPEC §4.3): `POST /v1/stats/audited`
//! takes a note signed by an auditor the operator lists (`--auditors`),
//! whose root is this tree's at its size and whose hash is that of the
//! figures sent with it; `GET /v1/stats/audited` answers the largest size
//! with notes.
//!
//! Accepted notes are appended to `audited.jsonl` in the data directory
//! and fsynced before the answer; at start every line is checked again as
//! if it were posted. The node never computes or changes the figures: it
//! keeps what auditors sign, those that disagree included, for clients to
//! compare.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ledger::api::{AuditedAnswer, AuditedPost, StatsAnswer};
use ledger::audited::{AuditedError, Auditors};
use ledger::code::Code;
use ledger::store::{Log, RocksBackend};

use crate::{ApiError, Node};

/// The file of accepted notes, one `{"note","stats"}` per line.
pub const FILE: &str = "audited.jsonl";

/// Largest `stats` a note may come with (the demo's are ~2 KB; a ledger
/// of many years and provinces, tens of KB).
const MAX_POST: usize = 1 << 20;

/// The listed auditors and the notes they signed.
pub struct Audited {
    auditors: Auditors,
    /// The log's origin: the one notes must name.
    origin: String,
    /// The auditors' `name vkey` lines, for the page's anchor.
    pub(crate) list: String,
    file: PathBuf,
    notes: Mutex<Vec<Accepted>>,
}

struct Accepted {
    size: u64,
    note: String,
    stats: StatsAnswer,
}

impl Audited {
    /// The auditors listed in `list` (`name vkey` lines), with the notes
    /// already accepted in `data`, each checked again against `log`, whose
    /// origin is `origin`.
    pub fn open(
        list: &str,
        data: &Path,
        origin: &str,
        log: &Log<RocksBackend>,
    ) -> anyhow::Result<Audited> {
        let auditors = Auditors::parse(list)?;
        let file = data.join(FILE);
        let audited = Audited {
            auditors,
            origin: origin.to_owned(),
            list: list.to_owned(),
            file,
            notes: Mutex::default(),
        };
        let text = match std::fs::read_to_string(&audited.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", audited.file.display())),
        };
        let mut notes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let post: AuditedPost = serde_json::from_str(line)
                .with_context(|| format!("{} line {} is damaged", audited.file.display(), i + 1))?;
            // A note of an auditor taken off the list stays in the file but
            // is no longer served.
            match audited.check(&post, log) {
                Ok(size) => notes.push(Accepted {
                    size,
                    note: post.note,
                    stats: post.stats,
                }),
                Err(e) => tracing::warn!(
                    line = i + 1,
                    "audited note not served: {}",
                    e.body().error.message
                ),
            }
        }
        *audited.notes.lock().expect("audited lock") = notes;
        Ok(audited)
    }

    /// Checks a posted note; returns its size N.
    fn check(&self, post: &AuditedPost, log: &Log<RocksBackend>) -> Result<u64, ApiError> {
        let (_, claim) = self
            .auditors
            .verify(post.note.as_bytes())
            .map_err(|e| match e {
                AuditedError::UnknownAuditor => ApiError::new(
                    Code::UnknownKey,
                    "the note is not signed by an auditor this node lists (--auditors)",
                ),
                AuditedError::BadSignature(_) => ApiError::new(Code::BadSignature, e.to_string()),
                other => ApiError::bad_param(other.to_string()),
            })?;
        let size = claim.root.size;
        if claim.origin != self.origin {
            return Err(ApiError::new(
                Code::RuleViolation,
                format!("the note is for {}, not this ledger", claim.origin),
            ));
        }
        if size == 0 || size > log.size() {
            return Err(ApiError::new(
                Code::RuleViolation,
                format!(
                    "the note is for size {size}; this ledger has 1..={}",
                    log.size()
                ),
            ));
        }
        let root = log.root_at(size).map_err(ApiError::internal)?;
        if root.hash != claim.root.hash {
            return Err(ApiError::new(
                Code::RuleViolation,
                format!("the note's root at size {size} is not this ledger's"),
            ));
        }
        if post.stats.hash() != claim.stats_hash {
            return Err(ApiError::new(
                Code::RuleViolation,
                "the note's stats hash is not SHA-256 of the figures sent (JCS)",
            ));
        }
        Ok(size)
    }

    /// Keeps an accepted note: appended and fsynced. `false` if the same
    /// note was already kept.
    fn keep(&self, post: AuditedPost, size: u64) -> std::io::Result<bool> {
        let mut notes = self.notes.lock().expect("audited lock");
        if notes.iter().any(|n| n.note == post.note) {
            return Ok(false);
        }
        let mut line = serde_json::to_vec(&post).expect("plain data serialises");
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)?;
        file.write_all(&line)?;
        file.sync_all()?;
        notes.push(Accepted {
            size,
            note: post.note,
            stats: post.stats,
        });
        Ok(true)
    }

    /// The largest size with notes: the first note's figures and every
    /// note at that size.
    fn latest(&self) -> AuditedAnswer {
        let notes = self.notes.lock().expect("audited lock");
        let size = notes.iter().map(|n| n.size).max().unwrap_or(0);
        let at: Vec<&Accepted> = notes.iter().filter(|n| n.size == size).collect();
        AuditedAnswer {
            size,
            stats: at.first().map(|n| n.stats.clone()),
            notes: at.iter().map(|n| n.note.clone()).collect(),
        }
    }
}

/// `POST /v1/stats/audited`: 201 when kept, 200 when already kept.
pub async fn post(
    State(node): State<Node>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Some(audited) = node.audited.clone() else {
        return Err(ApiError::new(
            Code::UnknownKey,
            "this node lists no auditors (--auditors)",
        ));
    };
    if body.len() > MAX_POST {
        return Err(ApiError::new(
            Code::TooLarge,
            format!("at most {MAX_POST} bytes"),
        ));
    }
    let post: AuditedPost = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_param(format!(
            "the body is {{\"note\": \"…\", \"stats\": {{the answer of GET /v1/stats}}}}: {e}"
        ))
    })?;
    let (checking, checked) = (audited.clone(), post.clone());
    let size = node.read(move |log| checking.check(&checked, log)).await?;
    // The file is written outside the log's lock: the sequencer does not
    // wait for this fsync.
    let new = tokio::task::spawn_blocking(move || audited.keep(post, size))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(serde_json::json!({ "size": size }))))
}

/// `GET /v1/stats/audited`: size 0 and no notes until one is kept (not
/// 404: the route is there, the page asks on every visit).
pub async fn get(State(node): State<Node>) -> Json<AuditedAnswer> {
    Json(node.audited.as_ref().map_or(
        AuditedAnswer {
            size: 0,
            stats: None,
            notes: Vec::new(),
        },
        |a| a.latest(),
    ))
}
