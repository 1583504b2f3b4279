//! Prometheus metrics (`GET /metrics`, text format 0.0.4): entries and
//! groups sequenced, group sizes, commit latency (rules, `WriteBatch` and
//! fsync of a group), refusals by code, request latency.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A histogram with fixed buckets.
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
    fn observe(&self, v: f64) {
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            if v <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const SIZES: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// The node's counters.
pub struct Metrics {
    entries: AtomicU64,
    groups: AtomicU64,
    group_size: Histogram,
    commit: Histogram,
    request: Histogram,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            entries: AtomicU64::new(0),
            groups: AtomicU64::new(0),
            group_size: Histogram::new(SIZES),
            commit: Histogram::new(SECONDS),
            request: Histogram::new(SECONDS),
            refusals: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// A commit group of `submitted` entries of which `new` were sequenced.
    pub fn group(&self, submitted: usize, new: usize, took: Duration) {
        self.entries.fetch_add(new as u64, Ordering::Relaxed);
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.group_size.observe(submitted as f64);
        self.commit.observe(took.as_secs_f64());
    }
    /// An entry refused with `code`.
    pub fn refused(&self, code: ledger::code::Code) {
        *self
            .refusals
            .lock()
            .expect("metrics lock")
            .entry(code.as_str())
            .or_default() += 1;
    }
    /// A request answered after `took`.
    pub fn request(&self, took: Duration) {
        self.request.observe(took.as_secs_f64());
    }
    /// The Prometheus text.
    pub fn render(&self, log_size: u64) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP aidledger_log_size Leaves in the log.\n# TYPE aidledger_log_size gauge\naidledger_log_size {log_size}");
        let _ = writeln!(
            out,
            "# HELP aidledger_entries_total Entries sequenced by this process.\n# TYPE aidledger_entries_total counter\naidledger_entries_total {}",
            self.entries.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP aidledger_groups_total Commit groups (one WriteBatch, one fsync, one checkpoint each).\n# TYPE aidledger_groups_total counter\naidledger_groups_total {}",
            self.groups.load(Ordering::Relaxed)
        );
        self.group_size.render(
            &mut out,
            "aidledger_group_entries",
            "Entries submitted per commit group.",
        );
        self.commit.render(
            &mut out,
            "aidledger_commit_seconds",
            "Time to apply the rules to a group and write it durably (fsync included).",
        );
        let _ = writeln!(out, "# HELP aidledger_refusals_total Entries refused, by SPEC code.\n# TYPE aidledger_refusals_total counter");
        for (code, n) in self.refusals.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "aidledger_refusals_total{{code=\"{code}\"}} {n}");
        }
        self.request.render(
            &mut out,
            "aidledger_request_seconds",
            "HTTP request latency.",
        );
        out
    }
}
