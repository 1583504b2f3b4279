//! The auditor's checks: every leaf (canonical bytes, seq, chain link,
//! signature) and the rules' decision for it, against a signed checkpoint;
//! incremental runs from a state directory; fork and rollback detection;
//! the monitor's saved state. What is found wrong is classified by
//! [`crate::finding`] from what is known here (the leaves around a fault).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context;
use ledger::checkpoint::{Checkpoint, CheckpointVerifier};
use ledger::entry::{Leaf, PublicKey};
use ledger::merkle::{leaf_hash, Frontier, Hash};
use ledger::sequencer::{ReplayError, Replayer};
use ledger::spill::SpillState;
use ledger::verify::{ChainVerifier, Position, VerifyError};
use ledger::witness::Policy;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::client::NodeClient;
use crate::finding::{self, Ahead, Around, Finding};
use crate::{write_durably, Failed};

mod monitor;
mod tiles;

pub use monitor::{monitor, MonitorState, Watch};
pub use tiles::verify_tiles;

/// Leaves read past a fault of the chain, to tell a gap from a swap and a
/// changed leaf from a changed link.
pub const LOOKAHEAD: usize = 16;

impl From<Finding> for Failed {
    fn from(f: Finding) -> Failed {
        Failed(f.to_string())
    }
}

/// Which checkpoints are believed: signed by the node's key and, with a
/// witness policy, cosigned by its quorum (and recently enough, with a
/// maximum age).
pub struct Trust {
    /// The node's checkpoint verifier (from its vkey).
    pub verifier: CheckpointVerifier,
    /// The witness policy a checkpoint must meet, if any.
    pub policy: Option<Policy>,
    /// How old the newest cosignature of a checkpoint may be.
    pub max_age: Option<std::time::Duration>,
}

impl Trust {
    /// Only the node's signature.
    pub fn node(verifier: CheckpointVerifier) -> Trust {
        Trust {
            verifier,
            policy: None,
            max_age: None,
        }
    }

    /// The node's key, and the policy in `policy` (a C2SP tlog-policy file)
    /// if given, with `max_age` in seconds.
    pub fn with_policy(
        verifier: CheckpointVerifier,
        policy: Option<&Path>,
        max_age: Option<u64>,
    ) -> anyhow::Result<Trust> {
        let policy = policy
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Policy::parse(&text).with_context(|| t!("trust.policy", path = p.display()))
            })
            .transpose()?;
        anyhow::ensure!(
            max_age.is_none() || policy.is_some(),
            "{}",
            t!("trust.max_age")
        );
        Ok(Trust {
            verifier,
            policy,
            max_age: max_age.map(std::time::Duration::from_secs),
        })
    }

    /// Checks a checkpoint fetched now: the node's signature, the quorum,
    /// the age of its newest cosignature.
    pub fn check(&self, note: &[u8]) -> anyhow::Result<Checkpoint> {
        Ok(self.check_witnessed(note)?.0)
    }

    /// As [`Trust::check`], with the names of the witnesses whose
    /// cosignatures verified (none without a policy).
    pub fn check_witnessed(&self, note: &[u8]) -> anyhow::Result<(Checkpoint, Vec<String>)> {
        let cp = self.check_signed(note)?;
        let Some(policy) = &self.policy else {
            return Ok((cp, Vec::new()));
        };
        let witnessed = policy.verify(note).map_err(|e| {
            Failed::from(Finding::NoQuorum {
                size: cp.root.size,
                why: e.to_string(),
            })
        })?;
        if let Some(max_age) = self.max_age {
            let newest = witnessed
                .cosignatures
                .iter()
                .map(|(_, t)| *t)
                .max()
                .unwrap_or(0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if now.saturating_sub(newest) > max_age.as_secs() {
                return Err(Failed::from(Finding::TooOld {
                    age: now.saturating_sub(newest),
                    max: max_age.as_secs(),
                })
                .into());
            }
        }
        let names = witnessed.cosignatures.into_iter().map(|(n, _)| n).collect();
        Ok((cp, names))
    }

    /// Checks only the node's signature: for a checkpoint believed before
    /// (a state directory's), whose cosignatures were checked then.
    pub fn check_signed(&self, note: &[u8]) -> anyhow::Result<Checkpoint> {
        verify_checkpoint(&self.verifier, note)
    }
}

/// What a run checks the leaves against.
pub struct Pins {
    /// Which checkpoints are believed.
    pub trust: Trust,
    /// The pinned genesis leaf hash, if any.
    pub genesis: Option<Hash>,
    /// Bytes of replayed state held in memory; the rest goes to disk.
    pub replay_memory: usize,
    /// Replay all that readers see, not only what decides, and recompute
    /// the statistics (SPEC §4.3) at the end.
    pub stats: bool,
}

/// The default of [`Pins::replay_memory`]: with the chain verifier's and
/// the store's buffers, an audit of any size peaks well under 1 GiB.
pub const REPLAY_MEMORY: usize = 128 << 20;

/// Leaves handed to the replaying thread at a time.
const REPLAY_BATCH: usize = 256;

/// Batches of leaves that may wait for the replaying thread: ~33,000
/// leaves (~35 MB), so that this thread goes on checking while the replay
/// moves its state to disk (~300 ms at the default budget, ~21,000 leaves
/// at full speed) instead of leaving a core idle.
const REPLAY_QUEUE: usize = 128;

/// Streams leaves through the chain verifier (on this thread, signatures in
/// batches on all cores) and the rules (replayed on a second thread, so the
/// two overlap). The first fault by seq is reported, whichever check found it.
pub struct Audit {
    chain: ChainVerifier,
    genesis: Option<Hash>,
    pinned_genesis: Option<Hash>,
    batch: Vec<Leaf>,
    to_replay: Option<mpsc::SyncSender<Vec<Leaf>>>,
    replaying: std::thread::JoinHandle<(Replayer<SpillState>, Option<ReplayError>)>,
    /// Who signs with each key seen (the first issuer that named it): a bad
    /// signature is reported with its signer, found a batch later.
    issuers: HashMap<PublicKey, String>,
}

/// What a finished audit leaves to keep.
pub struct Verified {
    /// Where the chain stands.
    pub position: Position,
    /// The replayed state.
    pub replay: Replayer<SpillState>,
    /// Leaf hash of seq 0.
    pub genesis: Option<Hash>,
}

impl Audit {
    /// From seq 0, with the replayed state in a temporary directory past
    /// `pins.replay_memory`.
    pub fn new(pins: &Pins) -> anyhow::Result<Audit> {
        let dir = tempfile::Builder::new()
            .prefix("aidledger-replay-")
            .tempdir()
            .with_context(|| t!("verify.state_tmp"))?
            // The store removes it when dropped.
            .keep();
        let state = SpillState::temporary(&dir, pins.replay_memory);
        let replay = if pins.stats {
            Replayer::full_in(state)
        } else {
            Replayer::lean_in(state, 0)
        };
        Ok(Audit::resume(
            Position::default(),
            replay,
            None,
            pins.genesis,
        ))
    }

    /// After an already verified prefix.
    pub fn resume(
        position: Position,
        replay: Replayer<SpillState>,
        genesis: Option<Hash>,
        pinned_genesis: Option<Hash>,
    ) -> Audit {
        let (tx, rx) = mpsc::sync_channel::<Vec<Leaf>>(REPLAY_QUEUE);
        let replaying = std::thread::spawn(move || {
            let mut replay = replay;
            for batch in rx {
                for leaf in &batch {
                    if let Err(e) = replay.push(leaf) {
                        return (replay, Some(e));
                    }
                }
            }
            (replay, None)
        });
        Audit {
            chain: ChainVerifier::resume(position).with_threads(threads()),
            genesis,
            pinned_genesis,
            batch: Vec::with_capacity(REPLAY_BATCH),
            to_replay: Some(tx),
            replaying,
            issuers: HashMap::new(),
        }
    }

    /// Leaves checked so far.
    pub fn size(&self) -> u64 {
        self.chain.size()
    }

    /// Checks the next leaf.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), AuditFault> {
        let leaf = self.chain.push(bytes).map_err(AuditFault::Chain)?;
        let statement = &leaf.entry.statement;
        self.issuers
            .entry(statement.key)
            .or_insert_with(|| statement.issuer.clone());
        if leaf.seq == 0 {
            let h = leaf_hash(bytes);
            if let Some(pin) = self.pinned_genesis.filter(|p| *p != h) {
                return Err(AuditFault::Genesis(Finding::Genesis {
                    found: h,
                    pinned: pin,
                }));
            }
            self.genesis = Some(h);
        }
        self.batch.push(leaf);
        if self.batch.len() >= REPLAY_BATCH {
            self.send();
        }
        Ok(())
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(REPLAY_BATCH));
        if let Some(tx) = &self.to_replay {
            // The replaying thread stops at the first refusal; its report
            // comes when it is joined.
            if tx.send(batch).is_err() {
                self.to_replay = None;
            }
        }
    }

    /// Finishes both checks and reports the earliest fault, if any: the
    /// chain's (including `fault`, one already found, with what was read
    /// after it), or the rules'. A fault of the replay's own storage is this
    /// machine's, not the ledger's: an error, not a failed verification.
    fn close(mut self, fault: Option<(AuditFault, Around)>) -> anyhow::Result<Verified> {
        self.send();
        self.to_replay = None;
        let chain = match fault {
            Some(f) => Some(f),
            None => self
                .chain
                .flush()
                .err()
                .map(|e| (AuditFault::Chain(e), Around::default())),
        };
        let (replay, refused) = self
            .replaying
            .join()
            .expect("the replaying thread does not panic");
        let chain_seq = chain.as_ref().map_or(u64::MAX, |(f, _)| f.seq());
        match (chain, refused) {
            (_, Some(r)) if r.seq() < chain_seq => match r {
                ReplayError::Refused { seq, refusal } => Err(Failed::from(Finding::Refused {
                    seq,
                    code: refusal.code,
                    message: refusal.message,
                })
                .into()),
                ReplayError::Storage { seq, error } => Err(anyhow::anyhow!(
                    "{}",
                    t!("verify.replay_storage", seq = seq, error = error)
                )),
            },
            (Some((AuditFault::Genesis(f), _)), _) => Err(Failed::from(f).into()),
            (Some((AuditFault::Chain(e), mut around)), _) => {
                if let ledger::verify::Failure::Signature(key) = &e.failure {
                    around.issuer = self.issuers.get(key).cloned();
                }
                Err(Failed::from(finding::classify(&e, &around)).into())
            }
            (None, _) => Ok(Verified {
                position: self.chain.position(),
                replay,
                genesis: self.genesis,
            }),
        }
    }

    /// Checks everything pending and that the leaves make the tree of
    /// `checkpoint`.
    pub fn finish(self, checkpoint: &Checkpoint) -> anyhow::Result<Verified> {
        let done = self.close(None)?;
        let root = done.position.frontier.root();
        if root != checkpoint.root {
            return Err(Failed::from(finding::root(root.size, checkpoint.root.size)).into());
        }
        Ok(done)
    }

    /// Stops at a fault found while pushing, reporting the earliest one.
    /// `after` holds the faulty leaf's bytes and those read after it (up to
    /// [`LOOKAHEAD`]); `cut_inside` says the faulty leaf ended a file
    /// without its newline.
    pub fn fail(self, fault: AuditFault, after: &[Vec<u8>], cut_inside: bool) -> anyhow::Error {
        let around = Around {
            ahead: after.iter().map(|b| ahead(b)).collect(),
            previous_logged_at: self.chain.position().logged_at,
            cut_inside,
            issuer: None,
        };
        match self.close(Some((fault, around))) {
            Err(f) => f,
            Ok(_) => unreachable!("a fault was given"),
        }
    }
}

/// A leaf read after a fault, parsed as far as it goes.
fn ahead(bytes: &[u8]) -> Ahead {
    #[derive(Deserialize)]
    struct Loose {
        seq: Option<u64>,
        prev: Option<Hash>,
    }
    let loose = serde_json::from_slice::<Loose>(bytes).ok();
    Ahead {
        seq: loose.as_ref().and_then(|l| l.seq),
        prev: loose.and_then(|l| l.prev),
        hash: leaf_hash(bytes),
    }
}

/// A fault found while pushing a leaf.
#[derive(Debug, thiserror::Error)]
pub enum AuditFault {
    /// Chain, seq, leaf or signature.
    #[error("{0}")]
    Chain(VerifyError),
    /// Not the pinned genesis.
    #[error("{0}")]
    Genesis(Finding),
}

impl AuditFault {
    fn seq(&self) -> u64 {
        match self {
            AuditFault::Chain(e) => e.seq,
            AuditFault::Genesis(_) => 0,
        }
    }
}

/// What a verification checked, for its success lines.
pub struct Report {
    /// The checkpoint the leaves were verified against.
    pub checkpoint: Checkpoint,
    /// The witnesses that cosigned it (with a policy).
    pub witnesses: Vec<String>,
    /// Seqs verified before this run (a state directory's).
    pub from: u64,
    /// The genesis, when it was pinned and matched.
    pub genesis: Option<Hash>,
    /// Each rules version in force and the first seq it judged (SPEC
    /// §6.1), oldest first.
    pub rules: Vec<(ledger::rules::RulesVersion, u64)>,
    /// With [`Pins::stats`]: the statistics over the verified entries.
    pub stats: Option<ledger::api::StatsAnswer>,
}

/// The statistics of a full replay's state, when the pins ask for them.
fn stats_of(
    pins: &Pins,
    state: &dyn ledger::state::StateRead,
) -> anyhow::Result<Option<ledger::api::StatsAnswer>> {
    pins.stats
        .then(|| ledger::query::stats_answer(state).map_err(|e| anyhow::anyhow!("{e}")))
        .transpose()
}

/// The rules versions in force over the replayed ledger.
pub(crate) fn rule_spans(
    state: &dyn ledger::state::StateRead,
) -> anyhow::Result<Vec<(ledger::rules::RulesVersion, u64)>> {
    Ok(ledger::query::rules(state)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .spans())
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Verifies and parses a checkpoint note, or fails naming the reason.
pub fn verify_checkpoint(v: &CheckpointVerifier, note: &[u8]) -> anyhow::Result<Checkpoint> {
    v.verify(note)
        .map_err(|_| Failed::from(Finding::CheckpointUnsigned).into())
}

/// `verify --file`: an export against a checkpoint file.
pub fn verify_file(
    pins: &Pins,
    export: &Path,
    checkpoint: &Path,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Report> {
    let note =
        std::fs::read(checkpoint).with_context(|| format!("reading {}", checkpoint.display()))?;
    let (cp, witnesses) = pins.trust.check_witnessed(&note)?;
    progress.set_length(cp.root.size);
    let file =
        std::fs::File::open(export).with_context(|| format!("opening {}", export.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut audit = Audit::new(pins)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", export.display()))?;
        if n == 0 {
            break;
        }
        let whole = line.last() == Some(&b'\n');
        if whole {
            line.pop();
        }
        if let Err(fault) = audit.push(&line) {
            let mut after = vec![std::mem::take(&mut line)];
            while after.len() <= LOOKAHEAD {
                let mut next = Vec::new();
                if reader.read_until(b'\n', &mut next).unwrap_or(0) == 0 {
                    break;
                }
                if next.last() == Some(&b'\n') {
                    next.pop();
                }
                after.push(next);
            }
            return Err(audit.fail(fault, &after, !whole && after.len() == 1));
        }
        if audit.size() % crate::PROGRESS_EVERY == 0 {
            progress.set_position(audit.size());
        }
    }
    let mut done = audit.finish(&cp)?;
    progress.finish_and_clear();
    Ok(Report {
        checkpoint: cp,
        witnesses,
        from: 0,
        genesis: pins.genesis.and(done.genesis),
        rules: rule_spans(done.replay.state_mut())?,
        stats: stats_of(pins, done.replay.state_mut())?,
    })
}

/// What `--state-dir` keeps between runs in `audit.state`: the last
/// verified checkpoint and where the audit stood. The replayed state is
/// beside it, in `replay/`.
#[derive(Serialize, Deserialize)]
struct Saved {
    checkpoint: String,
    size: u64,
    peaks: Vec<Hash>,
    last_leaf: Hash,
    logged_at: Option<String>,
    genesis: Option<Hash>,
}

const STATE_FILE: &str = "audit.state";

/// The state directory of incremental audits.
pub struct StateDir(pub PathBuf);

impl StateDir {
    fn path(&self) -> PathBuf {
        self.0.join(STATE_FILE)
    }

    /// The last verified checkpoint note, if any.
    pub fn checkpoint(&self) -> anyhow::Result<Option<String>> {
        Ok(self.load()?.map(|saved| saved.checkpoint))
    }

    fn load(&self) -> anyhow::Result<Option<Saved>> {
        let file = match std::fs::File::open(self.path()) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.path().display())),
        };
        // Only the first line: state directories of earlier versions kept
        // a replay snapshot after it.
        let mut line = String::new();
        std::io::BufReader::new(file).read_line(&mut line)?;
        let saved = serde_json::from_str(&line)
            .with_context(|| format!("{} is damaged", self.path().display()))?;
        Ok(Some(saved))
    }

    /// The replayed state kept here if it is the state before seq `next`;
    /// otherwise an empty one (with `false`).
    fn replay(&self, pins: &Pins, next: u64) -> anyhow::Result<(SpillState, bool)> {
        let dir = self.0.join("replay");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        SpillState::open(&dir, pins.replay_memory, next)
            .with_context(|| format!("opening {}", dir.display()))
    }

    /// Writes the replayed state, then where the audit stands (whole or
    /// not at all), then the checkpoint on its own, for people to read.
    fn save(&self, saved: &Saved, replay: &mut SpillState) -> anyhow::Result<()> {
        replay
            .save(saved.size)
            .with_context(|| format!("saving the replayed state in {}", self.0.display()))?;
        write_durably(&self.path(), &serde_json::to_vec(saved)?)?;
        write_durably(&self.0.join("checkpoint"), saved.checkpoint.as_bytes())?;
        Ok(())
    }
}

/// How a newer checkpoint can fail to extend an older one.
pub fn check_extends(
    client: &NodeClient,
    old: &Checkpoint,
    old_note: &str,
    new: &Checkpoint,
    new_note: &str,
) -> anyhow::Result<()> {
    let fork = |why: Finding| -> anyhow::Error {
        Failed(format!(
            "{why}\n--- {} ---\n{old_note}--- {} ---\n{new_note}",
            t!("finding.fork_before"),
            t!("finding.fork_now")
        ))
        .into()
    };
    if new.root.size < old.root.size {
        return Err(fork(Finding::Shrank {
            from: old.root.size,
            to: new.root.size,
        }));
    }
    if new.root.size == old.root.size {
        if new.root.hash != old.root.hash {
            return Err(fork(Finding::Rewritten {
                size: new.root.size,
            }));
        }
        return Ok(());
    }
    let inconsistent = || {
        fork(Finding::Inconsistent {
            from: old.root.size,
            to: new.root.size,
        })
    };
    // A node that cannot prove the old tree a prefix of the new one fails
    // the same way as one whose proof does not verify.
    let path = client
        .consistency(old.root.size, new.root.size)
        .map_err(|_| inconsistent())?;
    new.root
        .verify_consistency(&old.root, &path)
        .map_err(|_| inconsistent())
}

/// `verify --node`: the whole log, or with a state directory only what is
/// new since the last run (after proving the old tree is a prefix).
pub fn verify_node(
    pins: &Pins,
    client: &NodeClient,
    state: Option<&StateDir>,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Report> {
    let note = client.checkpoint()?;
    let (cp, witnesses) = pins.trust.check_witnessed(&note)?;
    let note = String::from_utf8(note).expect("a verified note is UTF-8");
    let saved = match state {
        Some(dir) => dir.load()?,
        None => None,
    };
    let mut resumed = None;
    if let Some(saved) = &saved {
        let old = pins.trust.check_signed(saved.checkpoint.as_bytes())?;
        if let (Some(pin), Some(was)) = (pins.genesis, saved.genesis) {
            if pin != was {
                return Err(Failed::from(Finding::StateGenesis { was, pinned: pin }).into());
            }
        }
        check_extends(client, &old, &saved.checkpoint, &cp, &note)?;
        let frontier = Frontier::from_peaks(saved.size, saved.peaks.clone())
            .filter(|f| f.root() == old.root)
            .with_context(|| t!("verify.state_tree"))?;
        resumed = Some(Position {
            frontier,
            last_leaf: saved.last_leaf,
            logged_at: saved.logged_at.clone(),
        });
    }
    let mut audit = match state {
        None => Audit::new(pins)?,
        Some(dir) => {
            let next = resumed.as_ref().map_or(0, |p| p.frontier.size());
            let (replay, kept) = dir.replay(pins, next)?;
            let (position, next, genesis) = match resumed {
                Some(position) if kept => (position, next, saved.and_then(|s| s.genesis)),
                _ => {
                    if next > 0 {
                        eprintln!(
                            "{}",
                            t!("verify.replay_lost", dir = dir.0.display().to_string())
                        );
                    }
                    (Position::default(), 0, None)
                }
            };
            Audit::resume(
                position,
                Replayer::lean_in(replay, next),
                genesis,
                pins.genesis,
            )
        }
    };
    let from = audit.size();
    progress.set_length(cp.root.size);
    progress.set_position(from);
    let mut fault: Option<(AuditFault, Vec<Vec<u8>>)> = None;
    let fetched = client.leaves(from, cp.root.size, |_, bytes| {
        // After a fault, a few more leaves, to say what the fault is.
        if let Some((_, after)) = &mut fault {
            after.push(bytes.to_vec());
            if after.len() > LOOKAHEAD {
                anyhow::bail!("stop");
            }
            return Ok(());
        }
        if let Err(f) = audit.push(bytes) {
            fault = Some((f, vec![bytes.to_vec()]));
        }
        if audit.size() % crate::PROGRESS_EVERY == 0 {
            progress.set_position(audit.size());
        }
        Ok(())
    });
    if let Some((f, after)) = fault {
        return Err(audit.fail(f, &after, false));
    }
    fetched?;
    let mut done = audit.finish(&cp)?;
    let rules = rule_spans(done.replay.state_mut())?;
    let stats = stats_of(pins, done.replay.state_mut())?;
    progress.finish_and_clear();
    if let Some(dir) = state {
        let saved = Saved {
            checkpoint: note,
            size: done.position.frontier.size(),
            peaks: done.position.frontier.peaks().to_vec(),
            last_leaf: done.position.last_leaf,
            logged_at: done.position.logged_at,
            genesis: done.genesis,
        };
        dir.save(&saved, done.replay.state_mut())?;
    }
    Ok(Report {
        checkpoint: cp,
        witnesses,
        from,
        genesis: pins.genesis.and(done.genesis),
        rules,
        stats,
    })
}
