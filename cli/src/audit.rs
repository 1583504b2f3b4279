//! The auditor's checks: every leaf (canonical bytes, seq, chain link,
//! signature) and the rules' decision for it, against a signed checkpoint;
//! incremental runs from a state directory; fork and rollback detection.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use ledger::checkpoint::{Checkpoint, CheckpointVerifier};
use ledger::merkle::{leaf_hash, Frontier, Hash};
use ledger::sequencer::Replayer;
use ledger::verify::{ChainVerifier, Position};
use serde::{Deserialize, Serialize};

use crate::client::NodeClient;
use crate::{write_durably, Failed};

/// What a run checks the leaves against.
pub struct Pins {
    /// The node's checkpoint verifier (from its vkey).
    pub verifier: CheckpointVerifier,
    /// The pinned genesis leaf hash, if any.
    pub genesis: Option<Hash>,
}

/// Streams leaves through the chain verifier and the rules.
pub struct Audit {
    chain: ChainVerifier,
    replay: Replayer,
    genesis: Option<Hash>,
    pinned_genesis: Option<Hash>,
}

impl Audit {
    /// From seq 0, checking signatures on all cores.
    pub fn new(pinned_genesis: Option<Hash>) -> Audit {
        Audit {
            chain: ChainVerifier::new().with_threads(threads()),
            replay: Replayer::lean(),
            genesis: None,
            pinned_genesis,
        }
    }

    /// Leaves verified so far.
    pub fn size(&self) -> u64 {
        self.chain.size()
    }

    /// Checks the next leaf. A [`Failed`] names the seq and the reason.
    pub fn push(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let leaf = self.chain.push(bytes).map_err(|e| Failed(e.to_string()))?;
        if leaf.seq == 0 {
            let h = leaf_hash(bytes);
            if let Some(pin) = self.pinned_genesis.filter(|p| *p != h) {
                return Err(Failed(format!(
                    "seq 0: genesis leaf hash is {h}, the pinned genesis is {pin}"
                ))
                .into());
            }
            self.genesis = Some(h);
        }
        self.replay.push(&leaf).map_err(|e| {
            // A bad signature earlier in the pending batch is the first fault.
            match self.chain.flush() {
                Err(sig) => Failed(sig.to_string()),
                Ok(()) => Failed(format!("{e} (the rules refuse this entry)")),
            }
        })?;
        Ok(())
    }

    /// Checks the pending signatures and that the leaves make the tree of
    /// `checkpoint`.
    pub fn finish(&mut self, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        let position = self.position()?;
        let root = position.frontier.root();
        if root != checkpoint.root {
            return Err(Failed(format!(
                "the {} leaves give root {}, the checkpoint says size {} root {}",
                root.size, root.hash, checkpoint.root.size, checkpoint.root.hash
            ))
            .into());
        }
        Ok(())
    }

    fn position(&mut self) -> anyhow::Result<Position> {
        self.chain.flush().map_err(|e| Failed(e.to_string()))?;
        Ok(self.chain.position())
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
    let cp = verify_checkpoint(&pins.verifier, &note)?;
    progress.set_length(cp.root.size);
    let file =
        std::fs::File::open(export).with_context(|| format!("opening {}", export.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut audit = Audit::new(pins.genesis);
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
        audit.push(&line)?;
        if audit.size() % 4096 == 0 {
            progress.set_position(audit.size());
        }
    }
    audit.finish(&cp)?;
    progress.finish_and_clear();
    Ok(cp)
}

/// What `--state-dir` keeps between runs: the last verified checkpoint and
/// where the audit stood, then the replay snapshot.
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
        Ok(self.load()?.map(|(s, _)| s.checkpoint))
    }

    fn load(&self) -> anyhow::Result<Option<(Saved, Vec<u8>)>> {
        let bytes = match std::fs::read(self.path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.path().display())),
        };
        let split = bytes
            .iter()
            .position(|b| *b == b'\n')
            .unwrap_or(bytes.len());
        let saved: Saved = serde_json::from_slice(&bytes[..split])
            .with_context(|| format!("{} is damaged", self.path().display()))?;
        Ok(Some((
            saved,
            bytes[(split + 1).min(bytes.len())..].to_vec(),
        )))
    }

    /// Writes the state whole or not at all; the checkpoint also on its
    /// own, for people to read.
    fn save(&self, saved: &Saved, replay: &[u8]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.0)
            .with_context(|| format!("creating {}", self.0.display()))?;
        let mut bytes = serde_json::to_vec(saved)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(replay);
        write_durably(&self.path(), &bytes)?;
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
    let cp = verify_checkpoint(&pins.verifier, &note)?;
    let note = String::from_utf8(note).expect("a verified note is UTF-8");
    let saved = match state {
        Some(dir) => dir.load()?,
        None => None,
    };
    let mut audit = Audit::new(pins.genesis);
    if let Some((saved, replay)) = &saved {
        let old = verify_checkpoint(&pins.verifier, saved.checkpoint.as_bytes())?;
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
        audit.chain = ChainVerifier::resume(Position {
            frontier,
            last_leaf: saved.last_leaf,
            logged_at: saved.logged_at.clone(),
        })
        .with_threads(threads());
        audit.replay = Replayer::restore(replay)?;
        audit.genesis = saved.genesis;
    }
    let from = audit.size();
    progress.set_length(cp.root.size);
    progress.set_position(from);
    client.leaves(from, cp.root.size, |_, bytes| {
        audit.push(bytes)?;
        if audit.size() % 4096 == 0 {
            progress.set_position(audit.size());
        }
        Ok(())
    })?;
    audit.finish(&cp)?;
    progress.finish_and_clear();
    if let Some(dir) = state {
        let position = audit.position()?;
        let saved = Saved {
            checkpoint: note,
            size: position.frontier.size(),
            peaks: position.frontier.peaks().to_vec(),
            last_leaf: position.last_leaf,
            logged_at: position.logged_at,
            genesis: audit.genesis,
        };
        dir.save(&saved, &audit.replay.snapshot())?;
    }
    let verified = cp.root.size - from;
    Ok((cp, verified))
}

/// `monitor`: polls the checkpoint, proves each new one extends the last,
/// and reports every new tree head; returns only on a fork (or an error).
pub fn monitor(
    verifier: &CheckpointVerifier,
    client: &NodeClient,
    start: Option<String>,
    interval: std::time::Duration,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut last: Option<(Checkpoint, String)> = match start {
        Some(note) => Some((verify_checkpoint(verifier, note.as_bytes())?, note)),
        None => None,
    };
    loop {
        let note = client.checkpoint()?;
        let cp = verify_checkpoint(verifier, &note)?;
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
