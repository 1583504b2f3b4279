//! `aidledger pseudonym serve`: the pseudonym service of rules version 2
//! (SPEC §6.3). It holds the deployment's only pseudonym key and answers
//! `POST /v1/evaluate` for active keys of registered organisations with a
//! role that records aid, within a daily quota per organisation.
//!
//! Its directory:
//!
//! - `service.key` (mode 0600): the ristretto255 scalar, 64 hex digits;
//!   `service.pub`: its public key, for the registrar's `pseudonym.key`;
//! - `requests.log`: one JSON line per request that passed the signature
//!   check (time, UTC+8 day, issuer, key, count, outcome), appended and
//!   fsynced before the answer. The day's counts are read back from it at
//!   start, so a restart (or a SIGKILL) does not reset a quota.
//!
//! The keys and roles come from the node (`/v1/orgs/{issuer}`), read again
//! once the copy is older than [`ORG_TTL`], so a key revoked on the ledger
//! stops working within seconds. The service never sees an ID number: it
//! evaluates blinded points.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ledger::api::OrgView;
use ledger::code::Code;
use ledger::domain::Role;
use ledger::oprf::{Answer, Request, ServiceKey, MAX_BATCH};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::client::{seg, NodeClient};

/// The service's key in its directory.
/// The service's secret key file in its directory.
pub use ledger::keyfile::SERVICE_KEY as KEY_FILE;
/// The request log.
pub const LOG_FILE: &str = "requests.log";

/// How long an organisation's keys read from the node are used.
pub const ORG_TTL: Duration = Duration::from_secs(2);
/// Most organisations whose keys are kept at once.
const MAX_ORGS: usize = 10_000;
/// How far a request's `issued_at` may be from the service's clock.
pub const WINDOW: Duration = Duration::from_secs(300);
/// The default evaluations per organisation per UTC+8 day.
pub const DEFAULT_QUOTA: u64 = 50_000;
/// Largest request body: 1,000 base64 elements and the rest.
const MAX_REQUEST: usize = 128 << 10;
/// Roles whose keys make pseudonyms (they record aid or monitor it).
const ROLES: [Role; 4] = [Role::Disburse, Role::Publish, Role::Credit, Role::Monitor];

/// Creates the service's key in `dir`; returns its public key (64 hex),
/// also written beside it. A directory that holds a key is refused.
pub fn init(dir: &Path) -> anyhow::Result<String> {
    let key = ServiceKey::generate(&mut rand_core::OsRng);
    Ok(ledger::keyfile::create_service_key(dir, &key)?)
}

/// Reads the key of the service in `dir` (refused if others may read it).
pub fn read_key(dir: &Path) -> anyhow::Result<ServiceKey> {
    let bytes = ledger::keyfile::read_bytes(&dir.join(KEY_FILE))?;
    Ok(ServiceKey::from_bytes(&bytes)?)
}

/// The UTC+8 day of `t`, as `YYYY-MM-DD`.
fn day_of(t: SystemTime) -> String {
    let shifted = t + Duration::from_secs(8 * 3600);
    ledger::entry::format_timestamp(shifted)[..10].to_owned()
}

/// One line of the request log.
#[derive(serde::Serialize, serde::Deserialize)]
struct Logged {
    time: String,
    day: String,
    issuer: String,
    key: String,
    count: u64,
    outcome: String,
}

/// The day's counts and the log they are kept in.
struct Counts {
    day: String,
    used: HashMap<String, u64>,
    log: std::fs::File,
}

impl Counts {
    /// Opens (or creates) the log and sums today's evaluations from it. A
    /// last line cut short by a crash is no request that was answered: it
    /// is skipped, and a newline keeps the next one apart.
    fn open(path: &Path, today: &str) -> anyhow::Result<Counts> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            // A record that cannot be read would reset every quota.
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut used: HashMap<String, u64> = HashMap::new();
        for line in bytes.split(|b| *b == b'\n') {
            match serde_json::from_slice::<Logged>(line) {
                Ok(l) if l.day == today && l.outcome == "evaluated" => {
                    *used.entry(l.issuer).or_default() += l.count;
                }
                _ => {}
            }
        }
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        if bytes.last().is_some_and(|b| *b != b'\n') {
            log.write_all(b"\n")?;
            log.sync_all()?;
        }
        Ok(Counts {
            day: today.to_owned(),
            used,
            log,
        })
    }

    /// Appends `line` durably.
    fn append(&mut self, line: &Logged) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).expect("a log line is JSON");
        bytes.push(b'\n');
        self.log.write_all(&bytes)?;
        self.log.sync_data()
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
struct Metrics {
    registry: Registry,
    evaluations: Family<Vec<(String, String)>, Counter>,
    refusals: Family<Vec<(String, String)>, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics::default();
        m.registry.register(
            "aidledger_pseudonym_evaluations",
            "Elements evaluated, by organisation",
            m.evaluations.clone(),
        );
        m.registry.register(
            "aidledger_pseudonym_refusals",
            "Requests refused, by organisation (when known) and code",
            m.refusals.clone(),
        );
        m
    }
}

/// The running service.
pub struct Service {
    key: ServiceKey,
    node: NodeClient,
    quota: u64,
    orgs: Mutex<HashMap<String, (Instant, Option<OrgView>)>>,
    counts: Mutex<Counts>,
    metrics: Metrics,
}

impl Service {
    /// The service of the key in `dir`, checking keys against the node at
    /// `node`, allowing `quota` evaluations per organisation per day.
    pub fn open(dir: &Path, node: &str, quota: u64) -> anyhow::Result<Service> {
        let key = read_key(dir)?;
        let counts = Counts::open(&dir.join(LOG_FILE), &day_of(SystemTime::now()))?;
        Ok(Service {
            key,
            node: NodeClient::new(node),
            quota,
            orgs: Mutex::new(HashMap::new()),
            counts: Mutex::new(counts),
            metrics: Metrics::new(),
        })
    }
}

/// A refusal in the SPEC's error shape.
struct Refused {
    status: StatusCode,
    code: Code,
    message: String,
}

fn refused(code: Code, message: impl Into<String>) -> Refused {
    Refused {
        status: StatusCode::from_u16(code.http_status()).expect("a SPEC status"),
        code,
        message: message.into(),
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code.as_str(), "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

/// A request that passed [`check_request`], with its elements' bytes.
pub type Checked = (Request, Vec<ledger::oprf::Element>);

/// The checks of a request that need no state (its shape, its size, its
/// elements' encoding, its signature and its time, received at `now`):
/// the request and its elements, or the refusal's code and message.
pub fn check_request(body: &[u8], now: SystemTime) -> Result<Checked, (Code, String)> {
    parse(body, now).map_err(|r| (r.code, r.message))
}

fn parse(body: &[u8], now: SystemTime) -> Result<Checked, Refused> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| refused(Code::MalformedJson, format!("the body is not JSON: {e}")))?;
    let count = value["blinded"].as_array().map_or(0, Vec::len);
    if count > MAX_BATCH {
        return Err(refused(
            Code::TooLarge,
            format!("{count} blinded elements; at most {MAX_BATCH} a request"),
        ));
    }
    let request: Request = serde_json::from_value(value).map_err(|e| {
        refused(
            Code::SchemaViolation,
            format!("not an evaluation request: {e}"),
        )
    })?;
    if request.blinded.is_empty() {
        return Err(refused(Code::SchemaViolation, "no blinded element"));
    }
    // Only an organisation id is looked up at the node.
    if !ledger::ident::is_org_id(&request.issuer) {
        return Err(refused(
            Code::SchemaViolation,
            format!("issuer {:?} is not an organisation id", request.issuer),
        ));
    }
    let elements = request
        .elements()
        .map_err(|e| refused(Code::SchemaViolation, e.to_string()))?;
    request.verify().map_err(|e| match e {
        ledger::oprf::RequestError::Signature => refused(Code::BadSignature, e.to_string()),
        e => refused(Code::SchemaViolation, e.to_string()),
    })?;
    let issued = ledger::entry::parse_timestamp(&request.issued_at).ok_or_else(|| {
        refused(
            Code::SchemaViolation,
            format!("issued_at {:?} is not a time", request.issued_at),
        )
    })?;
    let off = now
        .duration_since(issued)
        .or_else(|_| issued.duration_since(now))
        .unwrap_or_default();
    if off > WINDOW {
        return Err(refused(
            Code::SchemaViolation,
            format!(
                "issued_at {} is {} s from the service's clock; at most {} s",
                request.issued_at,
                off.as_secs(),
                WINDOW.as_secs()
            ),
        ));
    }
    Ok((request, elements))
}

impl Service {
    /// The issuer's organisation as the node has it, read again once the
    /// copy is older than [`ORG_TTL`]. An organisation the node does not
    /// know is `None`; a node that cannot be read, `overloaded`.
    fn org(&self, issuer: &str) -> Result<Option<OrgView>, Refused> {
        if let Some((at, org)) = self.orgs.lock().expect("orgs").get(issuer) {
            if at.elapsed() < ORG_TTL {
                return Ok(org.clone());
            }
        }
        let org = match self
            .node
            .get_as::<OrgView>(&format!("/v1/orgs/{}", seg(issuer)))
        {
            Ok(org) => Some(org),
            Err(e)
                if e.downcast_ref::<crate::client::NodeError>()
                    .is_some_and(|n| n.status == 404) =>
            {
                None
            }
            Err(e) => {
                return Err(refused(
                    Code::Overloaded,
                    format!("the ledger's node cannot be read to check the key: {e:#}"),
                ))
            }
        };
        let mut orgs = self.orgs.lock().expect("orgs");
        // Requests signed by any key may name any issuer: the copies kept
        // are bounded: past the bound, stale ones are dropped, and while
        // it is still full a new one is used once and not kept.
        if orgs.len() >= MAX_ORGS {
            orgs.retain(|_, (at, _)| at.elapsed() < ORG_TTL);
        }
        if orgs.len() < MAX_ORGS {
            orgs.insert(issuer.to_owned(), (Instant::now(), org.clone()));
        }
        Ok(org)
    }

    /// The key must be an active key of the issuer with a role that makes
    /// pseudonyms.
    fn authorise(&self, request: &Request) -> Result<(), Refused> {
        let key = request.key.to_string();
        let Some(org) = self.org(&request.issuer)? else {
            return Err(refused(
                Code::UnknownKey,
                format!("{} is no organisation of the ledger", request.issuer),
            ));
        };
        let Some(k) = org.keys.iter().find(|k| k.key == key) else {
            return Err(refused(
                Code::UnknownKey,
                format!("key {key} is not a key of {}", request.issuer),
            ));
        };
        if let Some(seq) = k.revoked_seq {
            return Err(refused(
                Code::KeyRevoked,
                format!("key {key} was revoked at seq {seq}"),
            ));
        }
        if !k.roles.iter().any(|r| ROLES.contains(r)) {
            return Err(refused(
                Code::RoleMissing,
                format!("key {key} holds none of the roles disburse, publish, credit, monitor"),
            ));
        }
        Ok(())
    }

    /// Counts `n` evaluations against the issuer's day, durably, or
    /// refuses them past the quota (the refusal is logged too).
    fn reserve(&self, request: &Request, n: u64, now: SystemTime) -> Result<(), Refused> {
        let today = day_of(now);
        let mut counts = self.counts.lock().expect("counts");
        if counts.day != today {
            counts.day = today.clone();
            counts.used.clear();
        }
        let used = counts.used.get(&request.issuer).copied().unwrap_or(0);
        let over = used + n > self.quota;
        let line = Logged {
            time: ledger::entry::format_timestamp(now),
            day: today,
            issuer: request.issuer.clone(),
            key: request.key.to_string(),
            count: n,
            outcome: if over { "quota_exceeded" } else { "evaluated" }.to_owned(),
        };
        counts.append(&line).map_err(|e| {
            refused(
                Code::Internal,
                format!("the request log cannot be written: {e}"),
            )
        })?;
        if over {
            return Err(refused(
                Code::QuotaExceeded,
                format!(
                    "{} has used {used} of its {} evaluations today (UTC+8); {n} more would pass it",
                    request.issuer, self.quota
                ),
            ));
        }
        counts.used.insert(request.issuer.clone(), used + n);
        Ok(())
    }

    /// A whole request: checks, quota, evaluation.
    fn evaluate(&self, body: &[u8]) -> Result<Answer, (Option<String>, Refused)> {
        let now = SystemTime::now();
        let (request, elements) = parse(body, now).map_err(|r| (None, r))?;
        let org = Some(request.issuer.clone());
        self.authorise(&request).map_err(|r| (org.clone(), r))?;
        let decoded = ledger::oprf::decode(&elements)
            .map_err(|e| (org.clone(), refused(Code::SchemaViolation, e.to_string())))?;
        self.reserve(&request, elements.len() as u64, now)
            .map_err(|r| (org.clone(), r))?;
        let (evaluated, proof) = self.key.evaluate_decoded(&mut rand_core::OsRng, &decoded);
        self.metrics
            .evaluations
            .get_or_create(&vec![("org".to_owned(), request.issuer)])
            .inc_by(elements.len() as u64);
        Ok(Answer::new(&evaluated, &proof))
    }
}

async fn evaluate(State(service): State<Arc<Service>>, body: Bytes) -> Response {
    let s = service.clone();
    let answer = tokio::task::spawn_blocking(move || s.evaluate(&body)).await;
    match answer {
        Ok(Ok(answer)) => axum::Json(answer).into_response(),
        Ok(Err((org, r))) => {
            let mut labels = vec![("code".to_owned(), r.code.as_str().to_owned())];
            if let Some(org) = org {
                labels.push(("org".to_owned(), org));
            }
            service.metrics.refusals.get_or_create(&labels).inc();
            r.into_response()
        }
        Err(_) => refused(Code::Internal, "the evaluation failed").into_response(),
    }
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let mut text = String::new();
    if encode(&mut text, &service.metrics.registry).is_err() {
        return refused(Code::Internal, "metrics").into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A body past [`MAX_REQUEST`], or not JSON at all, in the SPEC's shape.
async fn too_large() -> Response {
    refused(
        Code::TooLarge,
        format!("a request is at most {MAX_REQUEST} bytes"),
    )
    .into_response()
}

/// Serves the service on `listen` until SIGINT or SIGTERM.
pub fn serve(service: Service, listen: &str) -> anyhow::Result<()> {
    let limits = server::Limits::for_file_limit(server::raise_file_limit(), 64)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        println!(
            "pseudonym service listening on http://{}",
            listener.local_addr()?
        );
        let app = Router::new()
            .route("/v1/evaluate", post(evaluate))
            .route("/metrics", get(metrics))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST))
            .layer(axum::middleware::map_response(|r: Response| async move {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE
                    && r.headers()
                        .get(header::CONTENT_TYPE)
                        .is_none_or(|c| c != "application/json")
                {
                    too_large().await
                } else {
                    r
                }
            }))
            .with_state(Arc::new(service));
        server::serve(listener, app, limits, crate::witness::shutdown()).await?;
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_days_counts_come_back_from_the_record_and_a_torn_line_is_set_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let line = |day: &str, issuer: &str, count: u64, outcome: &str| {
            serde_json::to_string(&Logged {
                time: "2026-12-05T01:00:00.000Z".into(),
                day: day.into(),
                issuer: issuer.into(),
                key: "k".into(),
                count,
                outcome: outcome.into(),
            })
            .unwrap()
        };
        let text = [
            line("2026-12-05", "A", 700, "evaluated"),
            line("2026-12-05", "A", 300, "quota_exceeded"),
            line("2026-12-04", "A", 900, "evaluated"),
            line("2026-12-05", "B", 5, "evaluated"),
        ]
        .join("\n")
            + "\n{\"time\":\"2026-12-05T01:";
        std::fs::write(&path, text).unwrap();
        let mut counts = Counts::open(&path, "2026-12-05").unwrap();
        assert_eq!(counts.used["A"], 700);
        assert_eq!(counts.used["B"], 5);
        counts
            .append(&serde_json::from_str(&line("2026-12-05", "B", 1, "evaluated")).unwrap())
            .unwrap();
        drop(counts);
        let again = Counts::open(&path, "2026-12-05").unwrap();
        assert_eq!(again.used["B"], 6, "the torn line kept apart from the next");
    }
}
