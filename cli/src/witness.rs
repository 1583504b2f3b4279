//! `aidledger witness`: a C2SP tlog-witness. It keeps, per log it trusts,
//! the last checkpoint it cosigned, and cosigns a new one only if it
//! extends that one (the decision is `ledger::witness::AddCheckpoint`).
//!
//! Its directory:
//!
//! - `witness.key` (mode 0600), `witness.name` and `witness.vkey` (its
//!   vkey, to hand to the node's operator);
//! - `logs/<hex SHA-256(origin)>/origin` and `vkeys` (one trusted log key a
//!   line), written by `add-log`;
//! - `logs/<…>/checkpoint`: the latest cosigned checkpoint, the log's note
//!   with the witness's cosignature line appended, replaced durably (temporary
//!   file, fsync, rename, fsync of the directory) before the 200 is sent;
//! - `logs/<…>/evidence/<time>-<size>-<root hex>.note`: validly signed
//!   checkpoints that provably belong to another history than the one it
//!   cosigned (`Refusal::Forked`), once per tree head, at most
//!   [`EVIDENCE_BYTES`] a log. A genuine checkpoint with a garbage proof
//!   proves nothing and is not kept.
//!
//! Requests for one origin are serialised: the check against the stored
//! size and the replacement happen under one lock, so two racing requests
//! can never make it cosign two inconsistent trees. A lock exists only for
//! an origin the witness trusts, taken only for a checkpoint its key
//! signed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ledger::checkpoint::{Checkpoint, CheckpointVerifier};
use ledger::witness::{stated_checkpoint, AddCheckpoint, Refusal, WitnessSigner};
use rust_i18n::t;
use sha2::{Digest, Sha256};

use crate::write_durably;

/// Largest `add-checkpoint` body: 63 proof lines and a checkpoint with a
/// few hundred signature lines fit well within it.
const MAX_REQUEST: usize = 64 << 10;

/// The lowercase hex SHA-256 of an origin: its directory and its
/// monitoring path.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// The witness's signing key in its directory.
pub const KEY_FILE: &str = "witness.key";
/// Its vkey, written by `init` for the operator to hand on.
pub const VKEY_FILE: &str = "witness.vkey";

/// Creates a witness in `dir` named `name`; returns its vkey, also written
/// to [`VKEY_FILE`]. A directory that holds a witness key already is
/// refused, its key left as it is.
pub fn init(dir: &Path, name: &str) -> anyhow::Result<String> {
    // Checked before anything is written, so that a refused init changes
    // nothing (the name and vkey files of the witness there stay its own).
    if dir.join(KEY_FILE).exists() {
        return Err(ledger::keyfile::KeyFileError::Exists(dir.join(KEY_FILE)).into());
    }
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let key = ledger::keyfile::create(&dir.join(KEY_FILE))?;
    let signer = WitnessSigner::new(name, key)?;
    write_durably(&dir.join("witness.name"), format!("{name}\n").as_bytes())?;
    let vkey = signer.vkey();
    write_durably(&dir.join(VKEY_FILE), format!("{vkey}\n").as_bytes())?;
    Ok(vkey)
}

/// Trusts the log `origin` signing with `vkey` (more keys: more calls).
pub fn add_log(dir: &Path, origin: &str, vkey: &str) -> anyhow::Result<()> {
    let verifier = CheckpointVerifier::from_vkey(vkey)
        .map_err(|e| anyhow::anyhow!("{}", t!("trust.bad_vkey", vkey = vkey, error = e)))?;
    anyhow::ensure!(
        verifier.origin() == origin,
        "{}",
        t!(
            "witness.other_origin",
            vkey_origin = verifier.origin(),
            origin = origin
        )
    );
    let log = dir.join("logs").join(origin_hash(origin));
    std::fs::create_dir_all(log.join("evidence"))?;
    write_durably(&log.join("origin"), format!("{origin}\n").as_bytes())?;
    let mut keys = read_lines(&log.join("vkeys"))?;
    if !keys.iter().any(|k| k == vkey) {
        keys.push(vkey.to_owned());
    }
    write_durably(&log.join("vkeys"), (keys.join("\n") + "\n").as_bytes())?;
    Ok(())
}

fn read_lines(path: &Path) -> std::io::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// One piece of evidence: a validly signed checkpoint the witness refused.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The log.
    pub origin: String,
    /// When it was refused, seconds since the epoch.
    pub time: u64,
    /// What it states.
    pub checkpoint: Checkpoint,
    /// Its file.
    pub path: PathBuf,
}

/// A witness at work: its key, its directory, one lock per origin.
pub struct Witness {
    dir: PathBuf,
    signer: WitnessSigner,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// What an `add-checkpoint` request gets.
#[derive(Debug)]
pub enum Answer {
    /// 200: the cosignature line.
    Cosigned(String),
    /// The protocol's refusal.
    Refused(Refusal),
}

impl Witness {
    /// Opens the witness in `dir` (made by [`init`]).
    pub fn open(dir: &Path) -> anyhow::Result<Witness> {
        let key = ledger::keyfile::read(&dir.join(KEY_FILE))?;
        let name = std::fs::read_to_string(dir.join("witness.name"))
            .with_context(|| format!("{} is not a witness directory", dir.display()))?;
        Ok(Witness {
            dir: dir.to_path_buf(),
            signer: WitnessSigner::new(name.trim(), key)?,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// Its vkey.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    fn log_dir(&self, origin: &str) -> PathBuf {
        self.dir.join("logs").join(origin_hash(origin))
    }

    /// The keys trusted for `origin`; `None` for a log it does not know.
    fn trusted(&self, origin: &str) -> std::io::Result<Option<Vec<CheckpointVerifier>>> {
        let keys = read_lines(&self.log_dir(origin).join("vkeys"))?;
        Ok((!keys.is_empty()).then(|| {
            keys.iter()
                .filter_map(|k| CheckpointVerifier::from_vkey(k).ok())
                .collect()
        }))
    }

    /// The latest checkpoint it cosigned for `origin`, as served.
    pub fn latest(&self, origin_hash: &str) -> std::io::Result<Option<Vec<u8>>> {
        if origin_hash.len() != 64 || !origin_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let path = self
            .dir
            .join("logs")
            .join(origin_hash.to_ascii_lowercase())
            .join("checkpoint");
        match std::fs::read(path) {
            Ok(note) => Ok(Some(note)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Decides an `add-checkpoint` request at `now` (seconds since the
    /// epoch). A cosignature is returned only once the new state is durable.
    /// Nothing is held or written for a request until its checkpoint is
    /// known to be signed by a key trusted for its origin: a stranger's
    /// requests cost a parse, a directory look-up and a signature check.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> anyhow::Result<Answer> {
        let req = match AddCheckpoint::parse(body) {
            Ok(req) => req,
            Err(refusal) => return Ok(Answer::Refused(refusal)),
        };
        let Some(origin) = req.origin() else {
            return Ok(Answer::Refused(Refusal::Malformed(
                "not a signed checkpoint".into(),
            )));
        };
        let trusted = self.trusted(&origin)?;
        let signed = trusted
            .as_deref()
            .is_some_and(|keys| keys.iter().any(|k| k.verify(&req.note).is_ok()));
        if !signed {
            // Unknown origin, or not signed by its key: decided without
            // the stored state, which such a request never reaches.
            return match req.decide(|_| trusted.clone(), None) {
                Err(refusal) => Ok(Answer::Refused(refusal)),
                Ok(_) => anyhow::bail!("a checkpoint refused by its signatures was accepted"),
            };
        }
        let lock = {
            let mut locks = self.locks.lock().expect("witness locks");
            Arc::clone(locks.entry(origin.clone()).or_default())
        };
        let _held = lock.lock().expect("origin lock");
        let log_dir = self.log_dir(&origin);
        let stored = match std::fs::read(log_dir.join("checkpoint")) {
            Ok(note) => Some(stored_root(&note, trusted.as_deref().unwrap_or_default())?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        match req.decide(|_| trusted.clone(), stored) {
            Ok(cp) => {
                let line = self.signer.cosign(&cp, now);
                let mut note = req.note.clone();
                note.extend_from_slice(line.as_bytes());
                write_durably(&log_dir.join("checkpoint"), &note)?;
                Ok(Answer::Cosigned(line))
            }
            Err(refusal @ Refusal::Forked(_)) => {
                keep_evidence(&log_dir.join("evidence"), &req.note, now)?;
                Ok(Answer::Refused(refusal))
            }
            Err(refusal) => Ok(Answer::Refused(refusal)),
        }
    }

    /// The evidence kept, oldest first.
    pub fn evidence(&self) -> anyhow::Result<Vec<Evidence>> {
        let mut out = Vec::new();
        let logs = match std::fs::read_dir(self.dir.join("logs")) {
            Ok(logs) => logs,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for log in logs {
            let log = log?.path();
            let origin = std::fs::read_to_string(log.join("origin")).unwrap_or_default();
            let Ok(files) = std::fs::read_dir(log.join("evidence")) else {
                continue;
            };
            for file in files {
                let path = file?.path();
                let note = std::fs::read(&path)?;
                let time = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.split('-').next())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if let Some(checkpoint) = stated_checkpoint(&note) {
                    out.push(Evidence {
                        origin: origin.trim().to_owned(),
                        time,
                        checkpoint,
                        path,
                    });
                }
            }
        }
        out.sort_by_key(|e| (e.time, e.path.clone()));
        Ok(out)
    }
}

/// Bytes of evidence kept per log at most: a log's key could sign forks
/// without end, and the witness's disk is not theirs to fill. Past it a
/// fork is still refused, and said on stderr, but not written.
const EVIDENCE_BYTES: u64 = 4 << 20;

/// Keeps `note`, a validly signed checkpoint of another history, in `dir`
/// as `<time>-<size>-<root hex>.note`, once per tree head (a forked node
/// sending the same checkpoint every second writes it once), within
/// [`EVIDENCE_BYTES`].
fn keep_evidence(dir: &Path, note: &[u8], now: u64) -> anyhow::Result<()> {
    let Some(cp) = stated_checkpoint(note) else {
        return Ok(());
    };
    let head = format!("-{}-{}.note", cp.root.size, cp.root.hash.to_hex());
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0;
    for file in std::fs::read_dir(dir)? {
        let file = file?;
        if file.file_name().to_string_lossy().ends_with(&head) {
            return Ok(());
        }
        bytes += file.metadata()?.len();
    }
    if bytes + note.len() as u64 > EVIDENCE_BYTES {
        eprintln!(
            "witness: evidence of another history of {} at size {} not kept: {} already holds {bytes} bytes of evidence",
            cp.origin,
            cp.root.size,
            dir.display()
        );
        return Ok(());
    }
    write_durably(&dir.join(format!("{now}{head}")), note)?;
    Ok(())
}

/// The tree a stored checkpoint states (it was verified when stored).
fn stored_root(note: &[u8], keys: &[CheckpointVerifier]) -> anyhow::Result<ledger::RootHash> {
    keys.iter()
        .find_map(|k| k.verify(note).ok())
        .or_else(|| stated_checkpoint(note))
        .map(|cp| cp.root)
        .context("the stored checkpoint is unreadable")
}

/// What one witness answered to a forwarded checkpoint.
#[derive(Debug)]
pub struct Gossiped {
    /// The witness's name in the policy.
    pub witness: String,
    /// Its answer: the HTTP status (200: cosigned, 422: it saw another
    /// history), or why it could not be asked.
    pub answer: Result<u16, String>,
}

/// Forwards the checkpoint `note` (stating `cp`) to every witness of
/// `policy` that has a URL, as a monitor gossiping what it was shown: from
/// the size each witness holds (its 409 answer), with a consistency proof
/// fetched from `node`. A split view shown to this monitor thus reaches the
/// witnesses, which refuse it (422) and keep it as evidence.
pub fn gossip(
    policy: &ledger::witness::Policy,
    node: &crate::client::NodeClient,
    note: &[u8],
    cp: &Checkpoint,
) -> Vec<Gossiped> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    policy
        .witnesses()
        .iter()
        .filter_map(|w| Some((w, w.url.as_deref()?)))
        .map(|(w, url)| Gossiped {
            witness: w.name.clone(),
            answer: forward(&agent, url, node, note, cp),
        })
        .collect()
}

fn forward(
    agent: &ureq::Agent,
    url: &str,
    node: &crate::client::NodeClient,
    note: &[u8],
    cp: &Checkpoint,
) -> Result<u16, String> {
    let mut old = 0;
    for _ in 0..2 {
        let proof = if old == 0 || old >= cp.root.size {
            Vec::new()
        } else {
            node.consistency(old, cp.root.size)
                .map_err(|e| e.to_string())?
        };
        let body = AddCheckpoint {
            old: old.min(cp.root.size),
            proof,
            note: note.to_vec(),
        }
        .to_bytes();
        let mut answer = agent
            .post(format!("{}/add-checkpoint", url.trim_end_matches('/')))
            .send(&body[..])
            .map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        if status != 409 {
            return Ok(status);
        }
        let text = answer
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        old = text
            .trim()
            .parse()
            .map_err(|_| format!("a 409 without a size: {text:?}"))?;
        if old > cp.root.size {
            // The witness holds a larger tree than the node shows us.
            return Ok(422);
        }
    }
    Ok(409)
}

/// Descriptors kept for everything but connections: stdio, the listener,
/// the files of one request per blocking thread.
const RESERVED_FILES: u64 = 64 + 4 * BLOCKING_THREADS as u64;

/// Threads for the requests' file work (reading keys and checkpoints,
/// durable writes); more requests wait their turn.
const BLOCKING_THREADS: usize = 16;

/// Serves the witness on `listen` (on the node's hardened serve loop:
/// header and write timeouts, a connection cap that sheds idle
/// connections first) until Ctrl-C or SIGTERM: `POST
/// /add-checkpoint` and `GET /<origin hash>/checkpoint`. Prints one line
/// when it listens.
pub fn serve(witness: Witness, listen: &str) -> anyhow::Result<()> {
    let limits = server::Limits::for_file_limit(server::raise_file_limit(), RESERVED_FILES)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| t!("witness.listen", listen = listen))?;
        println!(
            "{}",
            t!(
                "witness.listening",
                url = format!("http://{}", listener.local_addr()?)
            )
        );
        let app = Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .route("/{origin_hash}/checkpoint", get(latest))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST))
            .with_state(Arc::new(witness));
        server::serve(listener, app, limits, shutdown()).await?;
        anyhow::Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let answer = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now())).await;
    match answer {
        Ok(Ok(Answer::Cosigned(line))) => (StatusCode::OK, line).into_response(),
        Ok(Ok(Answer::Refused(Refusal::Conflict(size)))) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{size}\n"),
        )
            .into_response(),
        Ok(Ok(Answer::Refused(r))) => (
            StatusCode::from_u16(r.status()).expect("a protocol status"),
            format!("{r}\n"),
        )
            .into_response(),
        Ok(Err(e)) => {
            eprintln!("witness: {e:#}");
            (StatusCode::INTERNAL_SERVER_ERROR, "storage failure\n").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
    }
}

async fn latest(State(w): State<Arc<Witness>>, UrlPath(hash): UrlPath<String>) -> Response {
    match tokio::task::spawn_blocking(move || w.latest(&hash)).await {
        Ok(Ok(Some(note))) => (StatusCode::OK, note).into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            "no checkpoint cosigned for this log\n",
        )
            .into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "storage failure\n").into_response(),
    }
}
