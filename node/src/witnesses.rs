//! Collecting witness cosignatures (SPEC §4.1, C2SP tlog-witness): with a
//! policy, a thread sends the node's newest checkpoint to every witness of
//! the policy, at most once an interval, with a consistency proof from the
//! size each witness holds (learned from its 409 answers), checks each
//! cosignature returned, and publishes the checkpoint with the cosignature
//! lines once they meet the policy's quorum. Receipts are not delayed: they
//! carry the node's own checkpoint.
//!
//! Per witness it keeps since when it has been down (no answer, or an
//! answer that is not a cosignature) and asks it again, for the same
//! checkpoint, every interval until it cosigns; `/healthz` and the log say
//! "witness NAME unreachable since T", once when it goes down. A witness
//! that proved a fork (422) is not asked again: every new checkpoint of
//! this history would only be more evidence of the same fork on its disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use ledger::checkpoint::Checkpoint;
use ledger::entry::format_timestamp;
use ledger::witness::{stated_checkpoint, AddCheckpoint, Policy, PolicyWitness};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::{Shared, SharedLog};

/// How the node asks its witnesses.
pub struct WitnessConfig {
    /// Which witnesses, where, and the quorum.
    pub policy: Policy,
    /// Shortest time between two rounds.
    pub interval: Duration,
    /// How long one request to a witness may take.
    pub timeout: Duration,
}

/// What the node knows of its witnesses; shared with the handlers.
pub(crate) struct Witnessing {
    pub(crate) config: WitnessConfig,
    /// The newest checkpoint that met the quorum, with its cosignatures.
    pub(crate) latest: RwLock<Option<String>>,
    /// Refusals that mean another history was shown to a witness (422).
    pub(crate) forks: AtomicU64,
    /// Per witness of the policy, in its order.
    status: Mutex<Vec<Status>>,
}

#[derive(Clone, Default)]
struct Status {
    /// The size the witness holds, as far as the node knows.
    size: u64,
    /// When it last cosigned.
    cosigned_at: Option<Instant>,
    /// Since when it has not cosigned, and why (cleared when it does).
    down: Option<Down>,
    /// The fork it reported: its 422 message, or the larger size it holds.
    fork: Option<String>,
    /// Whether it proved the fork (a 422): it is not asked again.
    proved: bool,
}

/// A witness that stopped cosigning: since when, and why.
#[derive(Clone)]
struct Down {
    since: SystemTime,
    what: Trouble,
    why: String,
}

/// How a witness fails the node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trouble {
    /// No answer (connection refused, timeout).
    Unreachable,
    /// An answer other than a cosignature or a 409.
    Refusing,
}

impl Trouble {
    fn as_str(self) -> &'static str {
        match self {
            Trouble::Unreachable => "unreachable",
            Trouble::Refusing => "refusing our checkpoints",
        }
    }
}

/// The witnesses' part of `/healthz`.
pub(crate) struct WitnessHealth {
    /// `witness NAME holds another history: …`, one per witness that proved a fork.
    pub(crate) forks: Vec<String>,
    /// `witness NAME unreachable since T (why)`, one per witness down, and
    /// then whether the quorum is still possible.
    pub(crate) degraded: Vec<String>,
}

impl Witnessing {
    pub(crate) fn new(config: WitnessConfig) -> Witnessing {
        let n = config.policy.witnesses().len();
        Witnessing {
            config,
            latest: RwLock::new(None),
            forks: AtomicU64::new(0),
            status: Mutex::new(vec![Status::default(); n]),
        }
    }

    /// What `/healthz` says of the witnesses: forks proved, witnesses down
    /// and whether the others can still make the quorum.
    pub(crate) fn health(&self) -> WitnessHealth {
        let status = self.status.lock().expect("witness status").clone();
        let witnesses = self.config.policy.witnesses();
        let mut health = WitnessHealth {
            forks: Vec::new(),
            degraded: Vec::new(),
        };
        for (w, s) in witnesses.iter().zip(&status) {
            if let Some(f) = &s.fork {
                health.forks.push(fork_line(&w.name, s.proved, f));
            } else if let Some(d) = &s.down {
                health.degraded.push(down_line(&w.name, d));
            }
        }
        if !health.degraded.is_empty() {
            let up: Vec<bool> = status
                .iter()
                .zip(witnesses)
                .map(|(s, w)| w.url.is_some() && s.down.is_none() && s.fork.is_none())
                .collect();
            health.degraded.push(if self.config.policy.quorum_met_by(&up) {
                "the other witnesses still make the quorum: checkpoints are published".to_owned()
            } else {
                "the witnesses left cannot make the quorum: no new checkpoint is published until enough return".to_owned()
            });
        }
        health
    }

    /// Adds to a scrape: forks, and each witness's lag in entries and
    /// seconds (-1: never cosigned).
    pub(crate) fn register(&self, r: &mut Registry, log_size: u64) {
        r.register(
            "aidledger_witness_forks",
            "Witnesses that proved a fork (a checkpoint refused as another history), each counted once",
            ConstCounter::new(self.forks.load(Ordering::Relaxed)),
        );
        let entries = Family::<Vec<(String, String)>, Gauge>::default();
        let seconds = Family::<Vec<(String, String)>, Gauge<f64, AtomicU64>>::default();
        let status = self.status.lock().expect("witness status").clone();
        for (w, s) in self.config.policy.witnesses().iter().zip(&status) {
            let label = vec![("witness".to_owned(), w.name.clone())];
            let lag = log_size.saturating_sub(s.size);
            entries
                .get_or_create(&label)
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
            seconds
                .get_or_create(&label)
                .set(s.cosigned_at.map_or(-1.0, |t| t.elapsed().as_secs_f64()));
        }
        r.register(
            "aidledger_witness_lag_entries",
            "Entries past the size each witness holds",
            entries,
        );
        r.register(
            "aidledger_witness_lag_seconds",
            "Seconds since each witness last cosigned (-1: never)",
            seconds,
        );
    }
}

/// Starts the collecting thread; it ends when the node's shared state is
/// dropped.
pub(crate) fn start(log: SharedLog, shared: Weak<Shared>) {
    std::thread::Builder::new()
        .name("witnesses".into())
        .spawn(move || run(&log, &shared))
        .expect("spawn the witness thread");
}

fn run(log: &SharedLog, shared: &Weak<Shared>) {
    let Some(timeout) = shared
        .upgrade()
        .and_then(|s| s.witnessing.as_ref().map(|w| w.config.timeout))
    else {
        return;
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut round = Round::default();
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(w) = shared.witnessing.as_ref() else {
            return;
        };
        let started = Instant::now();
        let note = shared.checkpoint.read().expect("checkpoint lock").clone();
        if round.step(log, w, &agent, note) {
            shared.published_changed();
        }
        let interval = w.config.interval;
        drop(shared);
        std::thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}

/// The cosignatures gathered for the node's newest checkpoint.
#[derive(Default)]
struct Round {
    /// The checkpoint asked about.
    note: String,
    /// Per witness, its checked cosignature line for `note`.
    lines: Vec<Option<String>>,
    /// How many lines the published checkpoint carries (0: not published).
    published: usize,
    /// Whether the lack of a quorum was logged (once, until it is met).
    wanting: bool,
}

impl Round {
    /// Asks the witnesses that have not cosigned `note` yet (all of them
    /// for a new checkpoint; those that were down, for the same one), never
    /// one that proved a fork; publishes `note` with the lines once they
    /// meet the quorum, and again when a returning witness adds its own.
    /// Returns whether it published.
    fn step(&mut self, log: &SharedLog, w: &Witnessing, agent: &ureq::Agent, note: String) -> bool {
        let witnesses = w.config.policy.witnesses();
        if note != self.note {
            self.note = note;
            self.lines = vec![None; witnesses.len()];
            self.published = 0;
        }
        let Some(cp) = stated_checkpoint(self.note.as_bytes()) else {
            return false;
        };
        let cp = &cp;
        let proved: Vec<bool> = {
            let status = w.status.lock().expect("witness status");
            status.iter().map(|s| s.proved).collect()
        };
        let note = self.note.as_str();
        let asked: Vec<(usize, Option<String>)> = std::thread::scope(|scope| {
            let asks: Vec<_> = witnesses
                .iter()
                .enumerate()
                .filter(|(i, _)| self.lines[*i].is_none() && !proved[*i])
                .map(|(i, witness)| {
                    (
                        i,
                        scope.spawn(move || ask(log, w, agent, i, witness, note, cp)),
                    )
                })
                .collect();
            asks.into_iter()
                .map(|(i, a)| (i, a.join().unwrap_or(None)))
                .collect()
        });
        for (i, line) in asked {
            self.lines[i] = line;
        }
        let count = self.lines.iter().flatten().count();
        if count <= self.published {
            return false;
        }
        let mut cosigned = self.note.clone();
        for line in self.lines.iter().flatten() {
            cosigned.push_str(line);
        }
        match w.config.policy.verify(cosigned.as_bytes()) {
            Ok(_) => {
                *w.latest.write().expect("witnessed lock") = Some(cosigned);
                self.published = count;
                if std::mem::take(&mut self.wanting) {
                    tracing::info!(size = cp.root.size, "witness quorum met again");
                }
                true
            }
            Err(e) => {
                if !std::mem::replace(&mut self.wanting, true) {
                    tracing::warn!(size = cp.root.size, error = %e, "no witness quorum: checkpoints are not published until it is met (see /healthz)");
                }
                false
            }
        }
    }
}

/// One witness's cosignature line for `note` (stating `cp`), checked, or
/// `None`; its status updated: the size it holds, whether it is down, a
/// fork it proved.
fn ask(
    log: &SharedLog,
    w: &Witnessing,
    agent: &ureq::Agent,
    i: usize,
    witness: &PolicyWitness,
    note: &str,
    cp: &Checkpoint,
) -> Option<String> {
    let url = witness.url.as_deref()?;
    // A 409 tells the size the witness holds: one more try from there.
    for _ in 0..2 {
        let old = w.status.lock().expect("witness status")[i].size;
        let proof = if old == 0 || old >= cp.root.size {
            Vec::new()
        } else {
            log.read()
                .expect("log lock")
                .prove_consistency(old, cp.root.size)
                .ok()?
        };
        let body = AddCheckpoint {
            old: old.min(cp.root.size),
            proof,
            note: note.as_bytes().to_vec(),
        }
        .to_bytes();
        let answer = agent
            .post(format!("{}/add-checkpoint", url.trim_end_matches('/')))
            .send(&body[..]);
        let mut answer = match answer {
            Ok(a) => a,
            Err(e) => {
                went_down(w, i, witness, Trouble::Unreachable, e.to_string());
                return None;
            }
        };
        let status = answer.status().as_u16();
        let text = answer.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => {
                let Some(line) = witness.verifier.find_cosignature(&cp.body(), &text) else {
                    went_down(
                        w,
                        i,
                        witness,
                        Trouble::Refusing,
                        "its answer holds no valid cosignature".into(),
                    );
                    return None;
                };
                let line = format!("{line}\n");
                let back = {
                    let mut s = w.status.lock().expect("witness status");
                    s[i].size = cp.root.size;
                    s[i].cosigned_at = Some(Instant::now());
                    s[i].down.take()
                };
                if let Some(d) = back {
                    tracing::info!(witness = %witness.name, "witness {} cosigns again ({} since {})", witness.name, d.what.as_str(), format_timestamp(d.since));
                }
                return Some(line);
            }
            409 => {
                let held: u64 = text.trim().parse().ok()?;
                if held > cp.root.size {
                    // A rollback or another history, not yet proved: asked
                    // again, the witness proves it once our tree reaches
                    // its size.
                    report_fork(w, i, witness, false, format!("size {held}, past ours"));
                    return None;
                }
                w.status.lock().expect("witness status")[i].size = held;
            }
            422 => {
                report_fork(w, i, witness, true, text.trim().to_owned());
                return None;
            }
            other => {
                went_down(
                    w,
                    i,
                    witness,
                    Trouble::Refusing,
                    format!("{other} {}", text.trim()),
                );
                return None;
            }
        }
    }
    None
}

/// `witness NAME unreachable since T (why)`.
fn down_line(name: &str, d: &Down) -> String {
    format!(
        "witness {name} {} since {} ({})",
        d.what.as_str(),
        format_timestamp(d.since),
        d.why
    )
}

/// Marks witness `i` down (keeping the first time it went down while it
/// stays so) and logs it once, when it goes down or its trouble changes.
fn went_down(w: &Witnessing, i: usize, witness: &PolicyWitness, what: Trouble, why: String) {
    let line = {
        let mut status = w.status.lock().expect("witness status");
        let s = &mut status[i];
        match &mut s.down {
            Some(d) if d.what == what => {
                d.why = why;
                None
            }
            down => {
                let d = Down {
                    since: SystemTime::now(),
                    what,
                    why,
                };
                let line = down_line(&witness.name, &d);
                *down = Some(d);
                Some(line)
            }
        }
    };
    if let Some(line) = line {
        tracing::warn!(witness = %witness.name, "{line}");
    }
}

/// `witness NAME holds another history: why`, or, not proved yet, `witness
/// NAME holds size N, past ours: …`.
fn fork_line(name: &str, proved: bool, why: &str) -> String {
    if proved {
        format!("witness {name} holds another history: {why}")
    } else {
        format!("witness {name} holds {why}: a rollback of this log, or another history")
    }
}

/// Records that witness `i` reported a fork: counted once per witness,
/// logged when it is first reported and when it is proved. A witness that
/// proved it (422) is not asked again: each new checkpoint of this history
/// would only be more evidence of the same fork on its disk.
fn report_fork(w: &Witnessing, i: usize, witness: &PolicyWitness, proved: bool, why: String) {
    let (first, newly) = {
        let mut status = w.status.lock().expect("witness status");
        let s = &mut status[i];
        let first = s.fork.is_none();
        let newly = first || (proved && !s.proved);
        if newly {
            s.fork = Some(why.clone());
            s.proved = proved;
            s.down = None;
        }
        (first, newly)
    };
    if first {
        w.forks.fetch_add(1, Ordering::Relaxed);
    }
    if newly {
        let line = fork_line(&witness.name, proved, &why);
        if proved {
            tracing::error!(witness = %witness.name, "{line}: split view or rollback; not asked again until the node restarts");
        } else {
            tracing::error!(witness = %witness.name, "{line}");
        }
    }
}
