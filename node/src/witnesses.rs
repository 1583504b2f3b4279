//! Collecting witness cosignatures (SPEC §4.1, C2SP tlog-witness): with a
//! policy, a thread sends the node's newest checkpoint to every witness of
//! the policy, at most once an interval, with a consistency proof from the
//! size each witness holds (learned from its 409 answers), checks each
//! cosignature returned, and publishes the checkpoint with the cosignature
//! lines once they meet the policy's quorum. Receipts are not delayed: they
//! carry the node's own checkpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use ledger::witness::{stated_checkpoint, AddCheckpoint, Policy, PolicyWitness};

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
    config: WitnessConfig,
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
    /// The last fork it reported (its 422 message).
    fork: Option<String>,
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

    /// Prometheus lines: forks, and each witness's lag in entries and seconds.
    pub(crate) fn render(&self, log_size: u64) -> String {
        let mut out = format!(
            "# HELP aidledger_witness_forks_total Checkpoints a witness refused as not extending what it cosigned.\n# TYPE aidledger_witness_forks_total counter\naidledger_witness_forks_total {}\n",
            self.forks.load(Ordering::Relaxed)
        );
        out.push_str("# HELP aidledger_witness_lag_entries Entries past the size each witness holds.\n# TYPE aidledger_witness_lag_entries gauge\n");
        let status = self.status.lock().expect("witness status").clone();
        for (w, s) in self.config.policy.witnesses().iter().zip(&status) {
            out.push_str(&format!(
                "aidledger_witness_lag_entries{{witness=\"{}\"}} {}\n",
                w.name,
                log_size.saturating_sub(s.size)
            ));
        }
        out.push_str("# HELP aidledger_witness_lag_seconds Seconds since each witness last cosigned (-1: never).\n# TYPE aidledger_witness_lag_seconds gauge\n");
        for (w, s) in self.config.policy.witnesses().iter().zip(&status) {
            let secs = s.cosigned_at.map_or(-1.0, |t| t.elapsed().as_secs_f64());
            out.push_str(&format!(
                "aidledger_witness_lag_seconds{{witness=\"{}\"}} {secs:.3}\n",
                w.name
            ));
        }
        out
    }

    /// The forks witnesses reported, by witness, for `/healthz`.
    pub(crate) fn fork_reports(&self) -> Vec<String> {
        let status = self.status.lock().expect("witness status");
        self.config
            .policy
            .witnesses()
            .iter()
            .zip(status.iter())
            .filter_map(|(w, s)| s.fork.as_ref().map(|f| format!("{}: {f}", w.name)))
            .collect()
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
    let mut witnessed_size = None;
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(w) = shared.witnessing.as_ref() else {
            return;
        };
        let started = Instant::now();
        let note = shared.checkpoint.read().expect("checkpoint lock").clone();
        let size = stated_checkpoint(note.as_bytes()).map(|cp| cp.root.size);
        if size.is_some() && size != witnessed_size && round(log, w, &agent, &note) {
            witnessed_size = size;
            shared.published_changed();
        }
        let interval = w.config.interval;
        drop(shared);
        std::thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}

/// Asks every witness to cosign `note`; publishes it if the quorum is met.
fn round(log: &SharedLog, w: &Witnessing, agent: &ureq::Agent, note: &str) -> bool {
    let witnesses = w.config.policy.witnesses();
    let lines: Vec<Option<String>> = std::thread::scope(|scope| {
        let asks: Vec<_> = witnesses
            .iter()
            .enumerate()
            .map(|(i, witness)| scope.spawn(move || ask(log, w, agent, i, witness, note)))
            .collect();
        asks.into_iter().map(|a| a.join().unwrap_or(None)).collect()
    });
    let mut cosigned = note.to_owned();
    for line in lines.into_iter().flatten() {
        cosigned.push_str(&line);
    }
    match w.config.policy.verify(cosigned.as_bytes()) {
        Ok(_) => {
            *w.latest.write().expect("witnessed lock") = Some(cosigned);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "the newest checkpoint has no witness quorum yet");
            false
        }
    }
}

/// One witness's cosignature line for `note`, checked, or `None`.
fn ask(
    log: &SharedLog,
    w: &Witnessing,
    agent: &ureq::Agent,
    i: usize,
    witness: &PolicyWitness,
    note: &str,
) -> Option<String> {
    let url = witness.url.as_deref()?;
    let cp = stated_checkpoint(note.as_bytes())?;
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
                tracing::debug!(witness = %witness.name, error = %e, "witness unreachable");
                return None;
            }
        };
        let status = answer.status().as_u16();
        let text = answer.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => {
                let line = format!(
                    "{}\n",
                    witness.verifier.find_cosignature(&cp.body(), &text)?
                );
                let mut s = w.status.lock().expect("witness status");
                s[i].size = cp.root.size;
                s[i].cosigned_at = Some(Instant::now());
                return Some(line);
            }
            409 => {
                let held: u64 = text.trim().parse().ok()?;
                if held > cp.root.size {
                    report_fork(w, i, witness, format!("it holds size {held}, past ours"));
                    return None;
                }
                w.status.lock().expect("witness status")[i].size = held;
            }
            422 => {
                report_fork(w, i, witness, text.trim().to_owned());
                return None;
            }
            other => {
                tracing::warn!(witness = %witness.name, status = other, answer = %text.trim(), "witness refused the checkpoint");
                return None;
            }
        }
    }
    None
}

fn report_fork(w: &Witnessing, i: usize, witness: &PolicyWitness, why: String) {
    w.forks.fetch_add(1, Ordering::Relaxed);
    tracing::error!(witness = %witness.name, reason = %why, "a witness holds another history: split view or rollback");
    w.status.lock().expect("witness status")[i].fork = Some(why);
}
