//! `aidledger monitor`: a node watched at an interval, each checkpoint
//! proved to extend the one before (across restarts with `--state-dir`),
//! and what it saw gossiped to the witnesses of a policy.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ledger::checkpoint::Checkpoint;
use ledger::entry::format_timestamp;
use ledger::merkle::Hash;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::{check_extends, StateDir, Trust};
use crate::client::NodeClient;
use crate::finding::{self, Finding};
use crate::{write_durably, Failed};

/// What `monitor --state-dir` keeps in `monitor.state`: the last
/// checkpoint it verified (and proved to extend the one before), when, and
/// the genesis it proved at seq 0 if one was pinned.
#[derive(Serialize, Deserialize)]
struct Watched {
    checkpoint: String,
    size: u64,
    root: Hash,
    verified_at: String,
    genesis: Option<Hash>,
}

const MONITOR_FILE: &str = "monitor.state";

/// Where a monitor keeps what it verified, so that a restart cannot be
/// shown an older or other history than the one it saw.
pub struct MonitorState {
    dir: PathBuf,
}

impl MonitorState {
    /// In `dir`, created if missing.
    pub fn open(dir: &Path) -> anyhow::Result<MonitorState> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(MonitorState {
            dir: dir.to_owned(),
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.join(MONITOR_FILE)
    }

    fn load(&self) -> anyhow::Result<Option<Watched>> {
        let path = self.path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                anyhow::anyhow!(
                    "{}",
                    t!("monitor.damaged", file = path.display().to_string())
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| t!("io.reading", path = path.display())),
        }
    }

    /// Written whole or not at all (temporary file, fsync, rename).
    fn save(&self, watched: &Watched) -> anyhow::Result<()> {
        write_durably(&self.path(), &serde_json::to_vec(watched)?)
            .with_context(|| format!("writing {}", self.path().display()))
    }
}

/// How `monitor` runs.
pub struct Watch<'a> {
    /// Which checkpoints are believed.
    pub trust: &'a Trust,
    /// The published genesis leaf hash, if given.
    pub genesis: Option<Hash>,
    /// Where to keep the verified state, if anywhere.
    pub state: Option<&'a MonitorState>,
    /// Seconds between polls.
    pub interval: std::time::Duration,
    /// One poll, then return.
    pub once: bool,
}

/// Proves that seq 0 of the tree of `cp` is the published genesis `pin`.
fn prove_genesis(client: &NodeClient, cp: &Checkpoint, pin: Hash) -> anyhow::Result<()> {
    if cp.root.size == 0 {
        return Ok(());
    }
    let wrong =
        |found| -> anyhow::Error { Failed::from(Finding::Genesis { found, pinned: pin }).into() };
    let (leaf, path) = client.inclusion(0, cp.root.size)?;
    if leaf != pin {
        return Err(wrong(leaf));
    }
    cp.root
        .verify_inclusion(&pin, 0, &path)
        .map_err(|_| wrong(leaf))
}

/// `monitor`: polls the checkpoint, proves each new one extends the last
/// verified (the saved one too, after a restart) and, with a pinned
/// genesis, that seq 0 is it; reports every new tree head and saves it.
/// Returns on a fork (or an error), or after one poll with `once`.
pub fn monitor(watch: &Watch, client: &NodeClient, out: &mut dyn Write) -> anyhow::Result<()> {
    let trust = watch.trust;
    let saved = match watch.state {
        Some(state) => state.load()?,
        None => None,
    };
    // The checkpoints a first poll must extend: the monitor's own, and a
    // `verify --state-dir` run's in the same directory.
    let mut anchors: Vec<(Checkpoint, String)> = Vec::new();
    let mut genesis = saved.as_ref().and_then(|w| w.genesis);
    if let Some(state) = watch.state {
        match &saved {
            Some(w) => {
                eprintln!(
                    "{}",
                    t!(
                        "monitor.resumed",
                        size = w.size,
                        root = finding::short(&w.root),
                        when = w.verified_at,
                        dir = state.dir.display().to_string()
                    )
                );
                anchors.push((
                    trust.check_signed(w.checkpoint.as_bytes())?,
                    w.checkpoint.clone(),
                ));
            }
            None => eprintln!(
                "{}",
                t!("monitor.fresh", dir = state.dir.display().to_string())
            ),
        }
        if let Some(note) = StateDir(state.dir.clone()).checkpoint()? {
            anchors.push((trust.check_signed(note.as_bytes())?, note));
        }
    }
    if let (Some(pin), Some(was)) = (watch.genesis, genesis) {
        if pin != was {
            return Err(Failed::from(Finding::StateGenesis { was, pinned: pin }).into());
        }
    }
    let mut last: Option<(Checkpoint, String)> = None;
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
                        return Err(Failed::from(Finding::WitnessSawOther {
                            witness: g.witness.to_string(),
                            size: signed.root.size,
                        })
                        .into())
                    }
                    Ok(status) => eprintln!(
                        "{}",
                        t!(
                            "monitor.witness_status",
                            witness = g.witness.to_string(),
                            status = status
                        )
                    ),
                    Err(e) => eprintln!(
                        "{}",
                        t!(
                            "monitor.witness_error",
                            witness = g.witness.to_string(),
                            error = format!("{e:#}")
                        )
                    ),
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
            None => {
                for (old, old_note) in &anchors {
                    check_extends(client, old, old_note, &cp, &note)?;
                }
                if let Some(pin) = watch.genesis.filter(|_| genesis.is_none()) {
                    prove_genesis(client, &cp, pin)?;
                    if cp.root.size > 0 {
                        genesis = Some(pin);
                    }
                }
                true
            }
        };
        if new {
            writeln!(
                out,
                "{}",
                t!("monitor.head", size = cp.root.size, root = cp.root.hash)
            )?;
            out.flush()?;
            let unchanged = saved
                .as_ref()
                .is_some_and(|w| w.size == cp.root.size && w.genesis == genesis);
            if let Some(state) = watch.state.filter(|_| !unchanged) {
                state.save(&Watched {
                    checkpoint: note.clone(),
                    size: cp.root.size,
                    root: cp.root.hash,
                    verified_at: format_timestamp(std::time::SystemTime::now()),
                    genesis,
                })?;
            }
            last = Some((cp, note));
        }
        if watch.once {
            return Ok(());
        }
        std::thread::sleep(watch.interval);
    }
}
