//! A blocking client of the node's HTTP API (SPEC §7). Nothing it fetches is
//! trusted: callers verify checkpoints, proofs and leaves themselves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use ledger::merkle::Hash;
use percent_encoding::{utf8_percent_encode, AsciiSet, PercentEncode, NON_ALPHANUMERIC};
use rust_i18n::t;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::refusal::NodeError;

/// Entries per page of `GET /v1/entries` and per submitted array (SPEC §7).
pub const PAGE: u64 = 1000;

/// Largest answer read: a page of leaves of at most `MAX_LEAF_BYTES`, each
/// with its newline, and room for anything around them.
const MAX_BODY: u64 = PAGE * (ledger::entry::MAX_LEAF_BYTES as u64 + 1) + ANSWER_SLACK;

/// Bytes allowed beyond a page's leaves in an answer.
const ANSWER_SLACK: u64 = 4096;

/// Attempts for a request that failed in transport or with 500/503.
const ATTEMPTS: u32 = 6;

/// What a path segment or query value keeps as it is: RFC 3986's
/// unreserved characters. Everything else (`/`, `?`, `#`, `%`, space,
/// `:`, non-ASCII, …) is percent-encoded, so an id is always one segment
/// and the node's extractor decodes it back to the same string.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` as one URL path segment (or query value), percent-encoded:
/// `format!("/v1/funds/{}", seg(id))`. Every id put into a path goes
/// through this, whether it came from the user, a file or the node.
pub fn seg(s: &str) -> PercentEncode<'_> {
    utf8_percent_encode(s, UNRESERVED)
}

pub use ledger::api::LogInfo;
use ledger::api::{ConsistencyProof, EntrySummary, History, InclusionProof, Page};

/// Most families one `POST /v1/beneficiaries` asks about.
pub const MAX_HISTORIES: usize = 1_000;

/// The node at one base URL, or several nodes of one log (a writer and its
/// standbys, SPEC §8: `URL1,URL2`), tried in turn.
#[derive(Clone)]
pub struct NodeClient {
    bases: Arc<[String]>,
    /// The one asked first: the last that answered.
    current: Arc<AtomicUsize>,
    agent: ureq::Agent,
}

impl NodeClient {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8080`), or of
    /// the nodes at `URL1,URL2,…`.
    pub fn new(base: &str) -> NodeClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            // A standby's 307 is followed here, to a node of the list.
            .max_redirects(0)
            .build()
            .into();
        let bases: Vec<String> = base
            .split(',')
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .filter(|b| !b.is_empty())
            .collect();
        NodeClient {
            bases: if bases.is_empty() {
                vec![String::new()].into()
            } else {
                bases.into()
            },
            current: Arc::default(),
            agent,
        }
    }

    /// The base URL of the node asked first.
    pub fn base(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Turns to the next node of the list, or to the one `location` (a
    /// standby's redirect) names if it is on the list.
    fn turn(&self, location: Option<&str>) {
        let named =
            location.and_then(|l| self.bases.iter().position(|b| l.starts_with(b.as_str())));
        let next = named.unwrap_or(self.current.load(Ordering::Relaxed) + 1);
        self.current
            .store(next % self.bases.len(), Ordering::Relaxed);
    }

    /// One request, retried with backoff while the node is unreachable or
    /// answers 500/503 (every request here is idempotent: reads, and
    /// submissions whose nonces make a repeat return the original seq).
    /// With several nodes, a refused connection, a redirect (a standby
    /// naming the writer) or a 503 turns to the next node at once; the
    /// backoff comes after each round of them all.
    fn request(&self, path: &str, body: Option<&[u8]>) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut wait = Duration::from_millis(200);
        let rounds = ATTEMPTS * self.bases.len() as u32;
        for attempt in 1..=rounds {
            let url = format!("{}{path}", self.base());
            let answer = match body {
                None => self.agent.get(&url).call(),
                Some(b) => self
                    .agent
                    .post(&url)
                    .header("content-type", "application/json")
                    .send(b),
            };
            let last = attempt == rounds;
            let retry = match answer {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    let location = r
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let bytes = r
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY)
                        .read_to_vec()
                        .with_context(|| t!("client.reading", url = url))?;
                    if status == 307 && !last && self.bases.len() > 1 {
                        self.turn(location.as_deref());
                        continue;
                    }
                    if !matches!(status, 500 | 503) || last {
                        return Ok((status, bytes));
                    }
                    let e = NodeError::from_answer(status, &bytes);
                    crate::i18n::node_error(&e)
                }
                Err(e) if last => {
                    return Err(anyhow!(e).context(t!("client.requesting", url = url)))
                }
                Err(e) => crate::i18n::say_error(&anyhow!(e)),
            };
            self.turn(None);
            if self.bases.len() > 1 && attempt % self.bases.len() as u32 != 0 {
                continue;
            }
            eprintln!(
                "{}",
                t!(
                    "client.retrying",
                    url = url,
                    error = retry,
                    secs = format!("{:.1}", wait.as_secs_f64())
                )
            );
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        unreachable!("the last attempt returns")
    }

    /// Calls `f` on every item of a paged list (SPEC §7: `{"items":[…],
    /// "next_cursor"}`, [`Page`]), in order, 1,000 a request.
    pub fn each_item<T: DeserializeOwned>(
        &self,
        path: &str,
        f: impl FnMut(T),
    ) -> anyhow::Result<()> {
        self.each_item_from(path, None, f)
    }

    /// As [`NodeClient::each_item`], from the page that `cursor` starts.
    pub fn each_item_from<T: DeserializeOwned>(
        &self,
        path: &str,
        mut cursor: Option<String>,
        mut f: impl FnMut(T),
    ) -> anyhow::Result<()> {
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                None => format!("{path}{sep}limit={PAGE}"),
                Some(c) => format!("{path}{sep}limit={PAGE}&cursor={}", seg(c)),
            };
            let page: Page<T> = self.get_as(&url)?;
            page.items.into_iter().for_each(&mut f);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }

    /// Every entry that names each of `families` (`bnf_` pseudonyms), in
    /// their order: one `POST /v1/beneficiaries` for up to
    /// [`MAX_HISTORIES`] families, then `GET /v1/beneficiaries/{bnf}` from
    /// the cursor for a history longer than its first page.
    pub fn histories(&self, families: &[&str]) -> anyhow::Result<Vec<Vec<EntrySummary>>> {
        let mut all = Vec::with_capacity(families.len());
        for chunk in families.chunks(MAX_HISTORIES) {
            let asked = serde_json::to_vec(&serde_json::json!({ "beneficiaries": chunk }))?;
            let (status, answer) = self.post("/v1/beneficiaries", &asked)?;
            if status != 200 {
                return Err(NodeError::from_answer(status, answer.to_string().as_bytes()).into());
            }
            let answer: Page<History<EntrySummary>> = serde_json::from_value(answer)
                .context("POST /v1/beneficiaries did not answer what the API describes")?;
            if answer.items.len() != chunk.len()
                || answer
                    .items
                    .iter()
                    .zip(chunk)
                    .any(|(h, b)| h.beneficiary != *b)
            {
                bail!("POST /v1/beneficiaries answered for other families than were asked");
            }
            for h in answer.items {
                let mut items = h.page.items;
                if h.page.next_cursor.is_some() {
                    let path = format!("/v1/beneficiaries/{}", seg(&h.beneficiary));
                    self.each_item_from(&path, h.page.next_cursor, |e| items.push(e))?;
                }
                all.push(items);
            }
        }
        Ok(all)
    }

    /// Every item of a paged list.
    pub fn all_items<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Vec<T>> {
        let mut items = Vec::new();
        self.each_item(path, |v| items.push(v))?;
        Ok(items)
    }

    /// GET `path`; a non-2xx answer is a [`NodeError`].
    pub fn get(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let (status, body) = self.request(path, None)?;
        if !(200..300).contains(&status) {
            return Err(NodeError::from_answer(status, &body).into());
        }
        Ok(body)
    }

    /// GET `path` as one of the API's answers ([`ledger::api`]).
    pub fn get_as<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let body = self.get(path)?;
        serde_json::from_slice(&body)
            .with_context(|| format!("{path} did not answer what the API describes"))
    }

    /// POST a JSON body: status and answer, whatever the status.
    pub fn post(&self, path: &str, body: &[u8]) -> anyhow::Result<(u16, Value)> {
        let (status, answer) = self.request(path, Some(body))?;
        let v =
            serde_json::from_slice(&answer).map_err(|_| NodeError::from_answer(status, &answer))?;
        Ok((status, v))
    }

    /// `GET /v1/log`.
    pub fn log_info(&self) -> anyhow::Result<LogInfo> {
        self.get_as("/v1/log")
    }

    /// `GET /v1/checkpoint`: the latest signed note, unverified.
    pub fn checkpoint(&self) -> anyhow::Result<Vec<u8>> {
        self.get("/v1/checkpoint")
    }

    /// `GET /v1/proof/consistency`.
    pub fn consistency(&self, first: u64, second: u64) -> anyhow::Result<Vec<Hash>> {
        let proof: ConsistencyProof = self.get_as(&format!(
            "/v1/proof/consistency?first={first}&second={second}"
        ))?;
        Ok(proof.path)
    }

    /// `GET /v1/proof/inclusion`: the leaf hash the node claims and the path.
    pub fn inclusion(&self, seq: u64, size: u64) -> anyhow::Result<(Hash, Vec<Hash>)> {
        let proof: InclusionProof =
            self.get_as(&format!("/v1/proof/inclusion?seq={seq}&size={size}"))?;
        Ok((proof.leaf_hash, proof.path))
    }

    /// The leaf bytes of seqs `start..end` (one NDJSON page per request);
    /// the next pages are fetched on another thread while `f` works.
    pub fn leaves(
        &self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, &[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (tx, rx) = mpsc::sync_channel::<anyhow::Result<(u64, u64, Vec<u8>)>>(4);
        let client = self.clone();
        let fetcher = std::thread::spawn(move || {
            let mut at = start;
            while at < end {
                let limit = (end - at).min(PAGE);
                let page = client.get(&format!("/v1/entries?start={at}&limit={limit}"));
                let failed = page.is_err();
                if tx.send(page.map(|p| (at, limit, p))).is_err() || failed {
                    return;
                }
                at += limit;
            }
        });
        let mut next = start;
        for page in rx {
            // Every page must hold exactly the leaves asked for, or the
            // next page's seqs would be misnumbered.
            let (at, limit, page) = page?;
            for line in page.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                if next == at + limit {
                    bail!("{}", t!("client.too_many_leaves", limit = limit, at = at));
                }
                f(next, line)?;
                next += 1;
            }
            if next != at + limit {
                bail!(
                    "{}",
                    t!(
                        "client.wrong_leaves",
                        sent = next - at,
                        at = at,
                        limit = limit
                    )
                );
            }
        }
        fetcher
            .join()
            .map_err(|_| anyhow!("{}", t!("client.panicked")))?;
        if next < end {
            bail!("{}", t!("client.short_leaves", next = next, end = end));
        }
        Ok(())
    }
}
