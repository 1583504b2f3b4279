//! A read mirror: follows a log's C2SP tiles (the primary's own
//! `/checkpoint` and `/tile/…`, a bucket's public endpoint or a CDN in front
//! of it), verifies everything before it stores it, and serves the whole
//! read API and the page. Submissions go to the primary.
//!
//! Each round: the checkpoint, checked with the log's vkey (and the witness
//! policy's quorum); the entry bundles from the mirror's size on, each leaf
//! through a `ChainVerifier` resumed where the mirror stands (so the new
//! tree extends the verified one: consistency by construction), the leaves
//! already held compared byte for byte, the root against the checkpoint;
//! only then, reading the bundles again (each leaf must have the hash just
//! verified), the rules replayed for the derived state and the leaves
//! appended, 4,096 at a time. A
//! checkpoint smaller than what the mirror holds, another root at its size,
//! a rewritten bundle or a leaf that fails a check halts following for
//! good: the mirror keeps serving what it verified and `/healthz` says why.

use std::sync::{Arc, Weak};
use std::time::Duration;

use ledger::checkpoint::CheckpointVerifier;
use ledger::follow::{BadTile, FollowError, TileFollower, TileSource};
use ledger::tiles::TilePath;
use ledger::witness::Policy;

use crate::replicate::ReplicaSource;
use crate::{Shared, SharedLog};

/// Where and how a mirror follows.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// The tiles' base URL (`URL/checkpoint`, `URL/tile/…`): `http(s)://…`,
    /// or `s3://BUCKET/PREFIX` read with the AWS_* settings.
    pub from: String,
    /// A witness policy the checkpoints must meet, and its text (for the page).
    pub policy: Option<Policy>,
    /// The policy's text.
    pub policy_text: Option<String>,
    /// The primary that takes submissions, named in the answer to one.
    pub primary: Option<String>,
    /// Time between two rounds.
    pub interval: Duration,
}

/// Why a round did not bring the mirror up to the checkpoint.
pub(crate) enum Stop {
    /// The source is unreachable or not ready, or this mirror's own store
    /// failed: try again next round.
    Retry(String),
    /// The source contradicts what the mirror verified: stop following.
    Halt(String),
}

impl From<BadTile> for Stop {
    fn from(b: BadTile) -> Stop {
        Stop::Halt(b.to_string())
    }
}

impl<E: std::fmt::Display> From<FollowError<E>> for Stop {
    fn from(e: FollowError<E>) -> Stop {
        if e.is_retryable() {
            Stop::Retry(e.to_string())
        } else {
            Stop::Halt(e.to_string())
        }
    }
}

pub(crate) fn start(
    log: SharedLog,
    shared: Weak<Shared>,
    verifier: CheckpointVerifier,
    config: MirrorConfig,
) {
    std::thread::Builder::new()
        .name("mirror".into())
        .spawn(move || {
            let source = match Source::new(&config.from) {
                Ok(source) => TileFollower::new(source, verifier, config.policy.clone()),
                Err(why) => {
                    tracing::error!(from = %config.from, "mirror: {why}");
                    if let Some(shared) = shared.upgrade() {
                        let _ = shared.halted.set(why);
                    }
                    return;
                }
            };
            loop {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                match round(&log, &shared, &source) {
                    Ok(()) => {}
                    Err(Stop::Retry(why)) => {
                        tracing::warn!(from = %config.from, "mirror: {why}; retrying")
                    }
                    Err(Stop::Halt(why)) => {
                        tracing::error!(from = %config.from, "mirror stopped following: {why}");
                        let _ = shared.halted.set(why);
                        return;
                    }
                }
                drop(shared);
                std::thread::sleep(config.interval);
            }
        })
        .expect("spawning the mirror thread");
}

/// Where the tiles are read from.
pub(crate) enum Source {
    /// A plain HTTP(S) base URL.
    Http(ureq::Agent, String),
    /// An S3 bucket and prefix.
    S3(ReplicaSource),
    /// A standby's: the checkpoint etcd holds (the bucket's until etcd
    /// holds one), the tiles from the bucket (SPEC §8).
    Locked(crate::lock::Etcd, ReplicaSource),
}

impl Source {
    fn new(from: &str) -> Result<Source, String> {
        if from.starts_with("s3://") {
            let replica = crate::replicate::Replica::from_url(from).map_err(|e| e.to_string())?;
            return Ok(Source::S3(ReplicaSource::new(replica)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Source::Http(agent, from.trim_end_matches('/').to_owned()))
    }
}

/// `base/path` over HTTP: its body if the answer is 200.
fn http_get(agent: &ureq::Agent, base: &str, path: &str) -> Result<Vec<u8>, String> {
    let url = format!("{base}/{path}");
    let mut answer = agent.get(&url).call().map_err(|e| format!("{url}: {e}"))?;
    let status = answer.status().as_u16();
    let body = answer
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| format!("{url}: {e}"))?;
    if status != 200 {
        return Err(format!("{url}: HTTP {status}"));
    }
    Ok(body)
}

impl TileSource for Source {
    type Error = String;

    fn checkpoint(&self) -> Result<Vec<u8>, String> {
        match self {
            Source::Http(agent, base) => http_get(agent, base, "checkpoint"),
            Source::S3(bucket) => bucket.checkpoint(),
            Source::Locked(etcd, bucket) => match etcd.checkpoint() {
                Ok(Some(note)) => Ok(note.into_bytes()),
                Ok(None) => bucket.checkpoint(),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    fn tile(&self, t: &TilePath) -> Result<Vec<u8>, String> {
        match self {
            Source::Http(agent, base) => http_get(agent, base, &t.to_string()),
            Source::S3(bucket) | Source::Locked(_, bucket) => bucket.tile(t),
        }
    }

    fn tiles(&self, ts: &[TilePath]) -> Vec<Result<Vec<u8>, String>> {
        match self {
            Source::Http(..) => ts.iter().map(|t| self.tile(t)).collect(),
            Source::S3(bucket) | Source::Locked(_, bucket) => bucket.tiles(ts),
        }
    }
}

pub(crate) fn round(
    log: &SharedLog,
    shared: &Arc<Shared>,
    follower: &TileFollower<Source>,
) -> Result<(), Stop> {
    let signed = follower.checkpoint()?;
    let note = String::from_utf8(signed.note)
        .map_err(|_| Stop::Halt("the checkpoint is not UTF-8".into()))?;
    let (held, held_root, position) = {
        let log = log.read().expect("log lock");
        let position = log.position().map_err(|e| Stop::Retry(e.to_string()))?;
        (log.size(), log.head().root, position)
    };
    let root = signed.checkpoint.root;
    if !ledger::follow::extends::<String>(&root, &held_root)? {
        *shared.checkpoint.write().expect("checkpoint lock") = note;
        return Ok(());
    }
    let size = root.size;
    // First pass: every new leaf verified and the root checked, keeping
    // only each leaf's hash (32 bytes), so that catching up on a long log
    // needs little memory. The leaves held are compared byte for byte.
    let mut chain = ledger::ChainVerifier::resume(position)
        .with_threads(2)
        .remembering();
    for bundle in follower.bundles(held, size) {
        let bundle = bundle?;
        let t = bundle.tile;
        for (seq, bytes) in bundle.leaves(t.first_leaf())? {
            if seq < held {
                let ours = log
                    .read()
                    .expect("log lock")
                    .leaf(seq)
                    .map_err(|e| Stop::Retry(e.to_string()))?;
                if ours.as_deref() != Some(bytes) {
                    return Err(Stop::Halt(format!("{t} rewrites leaf {seq}: a fork")));
                }
                continue;
            }
            chain
                .push(bytes)
                .map_err(|e| Stop::Halt(format!("{t}: {e}")))?;
        }
        chain.flush().map_err(|e| Stop::Halt(format!("{t}: {e}")))?;
    }
    let (_, mut known) = chain
        .finish_known(&root)
        .map_err(|e| Stop::Halt(e.to_string()))?;
    // Second pass, a few bundles at a time: the same leaves (verified by
    // their hashes), their state by the rules, one atomic append each. A
    // fault of this machine's store is retried, not taken for a fork.
    let mut bundles = follower.bundles(held, size).peekable();
    while bundles.peek().is_some() {
        let fetched = bundles
            .by_ref()
            .take(FOLLOW_BUNDLES)
            .collect::<Result<Vec<_>, _>>()?;
        let mut new = Vec::new();
        for bundle in &fetched {
            new.extend(bundle.leaves(held)?);
        }
        let verified = known
            .take(new.iter().map(|(_, bytes)| *bytes))
            .map_err(|seq| {
                Stop::Halt(format!(
                    "leaf {seq} changed while being read: the source rewrites"
                ))
            })?;
        let followed = {
            let log = log.read().expect("log lock");
            ledger::sequencer::follow(log.backend(), verified).map_err(|e| match e {
                ledger::sequencer::ReplayError::Storage { .. } => Stop::Retry(e.to_string()),
                ledger::sequencer::ReplayError::Refused { .. } => Stop::Halt(e.to_string()),
            })?
        };
        log.write()
            .expect("log lock")
            .append_followed(followed)
            .map_err(|e| Stop::Retry(format!("storing: {e}")))?;
    }
    *shared.checkpoint.write().expect("checkpoint lock") = note;
    Ok(())
}

/// Bundles stored per append while catching up (16 × 256 leaves).
const FOLLOW_BUNDLES: usize = 16;
