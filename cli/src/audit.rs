//! The auditor's checks: every leaf (canonical bytes, seq, chain link,
//! signature) and the rules' decision for it, against a signed checkpoint;
//! incremental runs from a state directory; fork and rollback detection.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context;
use ledger::checkpoint::{Checkpoint, CheckpointVerifier};
use ledger::entry::Leaf;
use ledger::merkle::{leaf_hash, Frontier, Hash};
use ledger::sequencer::{ReplayError, Replayer};
use ledger::spill::SpillState;
use ledger::verify::{ChainVerifier, Position, VerifyError};
use ledger::witness::Policy;
use serde::{Deserialize, Serialize};

use crate::client::NodeClient;
use crate::{write_durably, Failed};

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
                Policy::parse(&text).with_context(|| format!("the policy {}", p.display()))
            })
            .transpose()?;
        anyhow::ensure!(
            max_age.is_none() || policy.is_some(),
            "--max-age needs --policy"
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
        let cp = self.check_signed(note)?;
        let Some(policy) = &self.policy else {
            return Ok(cp);
        };
        let witnessed = policy.verify(note).map_err(|e| {
            Failed(format!(
                "the checkpoint of size {} lacks the witness quorum: {e}",
                cp.root.size
            ))
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
                return Err(Failed(format!(
                    "the checkpoint's newest cosignature is {} s old, more than --max-age {}",
                    now.saturating_sub(newest),
                    max_age.as_secs()
                ))
                .into());
            }
        }
        Ok(cp)
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
}

/// The default of [`Pins::replay_memory`]: with the chain verifier's and
/// the store's buffers, an audit of any size peaks well under 1 GiB.
pub const REPLAY_MEMORY: usize = 128 << 20;

/// Leaves handed to the replaying thread at a time.
const REPLAY_BATCH: usize = 256;

/// Batches of leaves that may wait for the replaying thread: ~50,000
/// leaves (~50 MB), so that this thread goes on checking while the replay
/// moves its state to disk (~300 ms at the default budget) instead of
/// leaving a core idle.
const REPLAY_QUEUE: usize = 192;

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
            .context("creating a directory for the replayed state")?
            // The store removes it when dropped.
            .keep();
        let state = SpillState::temporary(&dir, pins.replay_memory);
        Ok(Audit::resume(
            Position::default(),
            Replayer::lean_in(state, 0),
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
        }
    }

    /// Leaves checked so far.
    pub fn size(&self) -> u64 {
        self.chain.size()
    }

    /// Checks the next leaf.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), AuditFault> {
        let leaf = self.chain.push(bytes).map_err(AuditFault::Chain)?;
        if leaf.seq == 0 {
            let h = leaf_hash(bytes);
            if let Some(pin) = self.pinned_genesis.filter(|p| *p != h) {
                return Err(AuditFault::Genesis(format!(
                    "seq 0: genesis leaf hash is {h}, the pinned genesis is {pin}"
                )));
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
    /// chain's (including `fault`, one already found), or the rules'.
    fn close(mut self, fault: Option<AuditFault>) -> Result<Verified, Failed> {
        self.send();
        self.to_replay = None;
        let chain = match fault {
            Some(f) => Some(f),
            None => self.chain.flush().err().map(AuditFault::Chain),
        };
        let (replay, refused) = self
            .replaying
            .join()
            .expect("the replaying thread does not panic");
        let chain_seq = chain.as_ref().map_or(u64::MAX, AuditFault::seq);
        match (chain, refused) {
            (_, Some(r)) if r.seq() < chain_seq => Err(Failed(match r {
                ReplayError::Refused { .. } => format!("{r} (the rules refuse this entry)"),
                ReplayError::Storage { .. } => format!("{r} (the audit's replayed state)"),
            })),
            (Some(f), _) => Err(Failed(f.to_string())),
            (None, _) => Ok(Verified {
                position: self.chain.position(),
                replay,
                genesis: self.genesis,
            }),
        }
    }

    /// Checks everything pending and that the leaves make the tree of
    /// `checkpoint`.
    pub fn finish(self, checkpoint: &Checkpoint) -> Result<Verified, Failed> {
        let done = self.close(None)?;
        let root = done.position.frontier.root();
        if root != checkpoint.root {
            return Err(Failed(format!(
                "the {} leaves give root {}, the checkpoint says size {} root {}",
                root.size, root.hash, checkpoint.root.size, checkpoint.root.hash
            )));
        }
        Ok(done)
    }

    /// Stops at a fault found while pushing, reporting the earliest one.
    pub fn fail(self, fault: AuditFault) -> Failed {
        match self.close(Some(fault)) {
            Err(f) => f,
            Ok(_) => unreachable!("a fault was given"),
        }
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
    Genesis(String),
}

impl AuditFault {
    fn seq(&self) -> u64 {
        match self {
            AuditFault::Chain(e) => e.seq,
            AuditFault::Genesis(_) => 0,
        }
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Verifies and parses a checkpoint note, or fails naming the reason.
pub fn verify_checkpoint(v: &CheckpointVerifier, note: &[u8]) -> anyhow::Result<Checkpoint> {
    v.verify(note)
        .map_err(|e| Failed(format!("the checkpoint does not verify: {e}")).into())
}

/// `verify --file`: an export against a checkpoint file.
pub fn verify_file(
    pins: &Pins,
    export: &Path,
    checkpoint: &Path,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Checkpoint> {
    let note =
        std::fs::read(checkpoint).with_context(|| format!("reading {}", checkpoint.display()))?;
    let cp = pins.trust.check(&note)?;
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
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if let Err(fault) = audit.push(&line) {
            return Err(audit.fail(fault).into());
        }
        if audit.size() % crate::PROGRESS_EVERY == 0 {
            progress.set_position(audit.size());
        }
    }
    audit.finish(&cp)?;
    progress.finish_and_clear();
    Ok(cp)
}

/// `verify --tiles`: the whole log from a C2SP tlog-tiles URL with no node
/// behind it (a bucket's public endpoint, a CDN, a node's own root): the
/// checkpoint at `/checkpoint`, every entry bundle through the audit (as
/// `verify --node`: canonical leaves, chain, signatures, the rules), then
/// every hash tile compared with the one the leaves give. A tile that is
/// missing, malformed or not what the leaves give is named.
pub fn verify_tiles(
    pins: &Pins,
    client: &NodeClient,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Checkpoint> {
    use ledger::tiles::{self, TilePath, TILE_WIDTH};
    let bad_tile = |t: &TilePath, problem: &str| Failed(format!("{t}: {problem}"));
    let fetch = |t: &TilePath| -> anyhow::Result<Vec<u8>> {
        client
            .get(&format!("/{t}"))
            .map_err(|e| bad_tile(t, &format!("cannot be read: {e:#}")).into())
    };
    let note = client.get("/checkpoint")?;
    let cp = pins.trust.check(&note)?;
    let size = cp.root.size;
    progress.set_length(size);
    let mut audit = Audit::new(pins)?;
    // Hash tiles are compared as the leaves complete them, holding one
    // tile per level: the audit's memory does not grow with the log.
    let mut tiles = tiles::TileBuilder::new();
    let mut completed = Vec::new();
    let compare = |t: &TilePath, expected: &[u8]| -> anyhow::Result<()> {
        if fetch(t)? != expected {
            return Err(bad_tile(t, "not the hashes the leaves give").into());
        }
        Ok(())
    };
    for index in 0..size.div_ceil(TILE_WIDTH) {
        let t = TilePath {
            level: None,
            index,
            width: (size - index * TILE_WIDTH).min(TILE_WIDTH),
        };
        let bundle = fetch(&t)?;
        let leaves = tiles::bundle_leaves(&bundle, t.width)
            .ok_or_else(|| bad_tile(&t, &format!("not {} length-prefixed leaves", t.width)))?;
        for leaf in leaves {
            if let Err(fault) = audit.push(leaf) {
                return Err(audit.fail(fault).into());
            }
            tiles.push(ledger::merkle::leaf_hash(leaf), &mut |t, data| {
                completed.push((t, data))
            });
        }
        for (t, data) in completed.drain(..) {
            if let Err(e) = compare(&t, &data) {
                // A fault among the leaves already pushed comes first.
                return Err(match audit.close(None) {
                    Err(earlier) => earlier.into(),
                    Ok(_) => e,
                });
            }
        }
        progress.set_position(audit.size());
    }
    audit.finish(&cp)?;
    for (t, data) in tiles.partial() {
        compare(&t, &data)?;
    }
    progress.finish_and_clear();
    Ok(cp)
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
    let fork = |why: String| -> anyhow::Error {
        Failed(format!(
            "FORK OR ROLLBACK: {why}\n--- previously verified checkpoint ---\n{old_note}--- checkpoint now served ---\n{new_note}"
        ))
        .into()
    };
    if new.root.size < old.root.size {
        return Err(fork(format!(
            "the log shrank from {} to {} entries",
            old.root.size, new.root.size
        )));
    }
    if new.root.size == old.root.size {
        if new.root.hash != old.root.hash {
            return Err(fork(format!(
                "two different roots for size {}",
                new.root.size
            )));
        }
        return Ok(());
    }
    let path = client.consistency(old.root.size, new.root.size)?;
    new.root
        .verify_consistency(&old.root, &path)
        .map_err(|e| fork(format!("the consistency proof does not verify: {e}")))
}

/// `verify --node`: the whole log, or with a state directory only what is
/// new since the last run (after proving the old tree is a prefix).
pub fn verify_node(
    pins: &Pins,
    client: &NodeClient,
    state: Option<&StateDir>,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<(Checkpoint, u64)> {
    let note = client.checkpoint()?;
    let cp = pins.trust.check(&note)?;
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
                return Err(Failed(format!(
                    "the state directory verified genesis {was}, not the pinned {pin}"
                ))
                .into());
            }
        }
        check_extends(client, &old, &saved.checkpoint, &cp, &note)?;
        let frontier = Frontier::from_peaks(saved.size, saved.peaks.clone())
            .filter(|f| f.root() == old.root)
            .context("the state directory's tree does not match its checkpoint")?;
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
                            "{}: the replayed state of the last run was not saved whole; \
                             verifying from seq 0 (the last checkpoint is still proved a prefix)",
                            dir.0.display()
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
    let mut fault = None;
    let fetched = client.leaves(from, cp.root.size, |_, bytes| {
        if let Err(f) = audit.push(bytes) {
            fault = Some(f);
            anyhow::bail!("stop");
        }
        if audit.size() % crate::PROGRESS_EVERY == 0 {
            progress.set_position(audit.size());
        }
        Ok(())
    });
    if let Some(f) = fault {
        return Err(audit.fail(f).into());
    }
    fetched?;
    let mut done = audit.finish(&cp)?;
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
    let verified = cp.root.size - from;
    Ok((cp, verified))
}

/// `monitor`: polls the checkpoint, proves each new one extends the last,
/// and reports every new tree head; returns only on a fork (or an error).
pub fn monitor(
    trust: &Trust,
    client: &NodeClient,
    start: Option<String>,
    interval: std::time::Duration,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut last: Option<(Checkpoint, String)> = match start {
        Some(note) => Some((trust.check_signed(note.as_bytes())?, note)),
        None => None,
    };
    let mut gossiped = None;
    loop {
        let note = client.checkpoint()?;
        // Gossip first: a checkpoint the node signed reaches the witnesses
        // even when it lacks their quorum (a split view shown to us).
        let signed = trust.check_signed(&note)?;
        if let Some(policy) = trust
            .policy
            .as_ref()
            .filter(|_| gossiped.as_ref() != Some(&signed))
        {
            for g in crate::witness::gossip(policy, client, &note, &signed) {
                match g.answer {
                    Ok(200) => {}
                    Ok(422) => {
                        return Err(Failed(format!(
                            "witness {} refused size {} root {}: it saw another history (a split view or a rollback)",
                            g.witness, signed.root.size, signed.root.hash
                        ))
                        .into())
                    }
                    Ok(status) => eprintln!("witness {}: answered {status}", g.witness),
                    Err(e) => eprintln!("witness {}: {e}", g.witness),
                }
            }
            gossiped = Some(signed);
        }
        let cp = trust.check(&note)?;
        let note = String::from_utf8(note).expect("a verified note is UTF-8");
        let new = match &last {
            Some((old, old_note)) => {
                check_extends(client, old, old_note, &cp, &note)?;
                cp.root.size > old.root.size
            }
            None => true,
        };
        if new {
            writeln!(out, "size {} root {}", cp.root.size, cp.root.hash)?;
            out.flush()?;
            last = Some((cp, note));
        }
        std::thread::sleep(interval);
    }
}
