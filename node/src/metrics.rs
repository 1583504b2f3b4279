//! Prometheus metrics (`GET /metrics`, OpenMetrics text through
//! `prometheus-client`): entries and groups sequenced, group sizes, commit
//! latency (rules, `WriteBatch` and fsync of a group), refusals by code,
//! request latency; the witnesses' and the replication's values are added
//! at each scrape by their own modules ([`Metrics::render`]).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const SECONDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const SIZES: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// The node's counters (each a shared handle: cheap to clone into the
/// registry of a scrape).
#[derive(Debug)]
pub struct Metrics {
    entries: Counter,
    groups: Counter,
    group_size: Histogram,
    commit: Histogram,
    request: Histogram,
    refusals: Family<[(&'static str, &'static str); 1], Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            entries: Counter::default(),
            groups: Counter::default(),
            group_size: Histogram::new(SIZES),
            commit: Histogram::new(SECONDS),
            request: Histogram::new(SECONDS),
            refusals: Family::default(),
        }
    }
}

impl Metrics {
    /// A commit group of `submitted` entries of which `new` were sequenced.
    pub fn group(&self, submitted: usize, new: usize, took: Duration) {
        self.entries.inc_by(new as u64);
        self.groups.inc();
        self.group_size.observe(submitted as f64);
        self.commit.observe(took.as_secs_f64());
    }
    /// An entry refused with `code`.
    pub fn refused(&self, code: ledger::code::Code) {
        self.refusals
            .get_or_create(&[("code", code.as_str())])
            .inc();
    }
    /// A request answered after `took`.
    pub fn request(&self, took: Duration) {
        self.request.observe(took.as_secs_f64());
    }
    /// The OpenMetrics text: these counters, the log's size, and what
    /// `more` registers for this scrape (the witnesses' lag, the
    /// replication's).
    pub fn render(&self, log_size: u64, more: impl FnOnce(&mut Registry)) -> String {
        let mut r = Registry::default();
        r.register(
            "aidledger_log_size",
            "Leaves in the log",
            ConstGauge::new(log_size as i64),
        );
        r.register(
            "aidledger_entries",
            "Entries sequenced by this process",
            self.entries.clone(),
        );
        r.register(
            "aidledger_groups",
            "Commit groups (one WriteBatch, one fsync, one checkpoint each)",
            self.groups.clone(),
        );
        r.register(
            "aidledger_group_entries",
            "Entries submitted per commit group",
            self.group_size.clone(),
        );
        r.register(
            "aidledger_commit_seconds",
            "Time to apply the rules to a group and write it durably (fsync included)",
            self.commit.clone(),
        );
        r.register(
            "aidledger_refusals",
            "Entries refused, by SPEC code",
            self.refusals.clone(),
        );
        r.register(
            "aidledger_request_seconds",
            "HTTP request latency",
            self.request.clone(),
        );
        more(&mut r);
        let mut out = String::new();
        encode(&mut out, &r).expect("writing to a String does not fail");
        out
    }
}
