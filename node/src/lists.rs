//! The public list and lookup routes over derived state (SPEC §7): orgs,
//! funds and their flows, beneficiaries, duplicate-aid alerts, credit
//! points, assessments, needs. Lists answer `{"items":[…],"next_cursor"}`
//! and page with `limit` (≤ 1,000) and an opaque `cursor`.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use ledger::api::{EntrySummary, FundView, OrgView, Page};
use ledger::code::Code;
use ledger::domain::{Category, Index, Kind, MonitoringAlert, NeedState, UnknownName};
use ledger::entry::Leaf;
use ledger::query;
use ledger::records::{FundRec, MonitoringAlertRec, Totals};
use ledger::state::StateError;
use ledger::store::{Log, RocksBackend};
use serde_json::{json, Value};

use crate::{ApiError, Node, MAX_BATCH};

/// Default page size.
const DEFAULT_LIMIT: usize = 100;

struct Paging {
    limit: usize,
    cursor: Option<String>,
}

fn paging(q: &HashMap<String, String>) -> Result<Paging, ApiError> {
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_BATCH).contains(l))
            .ok_or_else(|| ApiError::bad_param(format!("limit must be 1..={MAX_BATCH}")))?,
    };
    Ok(Paging {
        limit,
        cursor: q.get("cursor").cloned(),
    })
}

fn page(items: Vec<Value>, next: Option<String>) -> Json<Value> {
    Json(json!(Page {
        items,
        next_cursor: next
    }))
}

fn seq_cursor(c: &Option<String>) -> Result<Option<u64>, ApiError> {
    c.as_deref()
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| ApiError::bad_param("cursor is not one this node gave"))
        })
        .transpose()
}

/// A table listing's page as the API answers it: the records shown, and
/// the next record's key in hex as the cursor.
fn table_page<T>(
    p: &Paging,
    list: impl FnOnce(&[u8], usize) -> Result<query::Page<T, Vec<u8>>, StateError>,
    show: impl Fn(T) -> Value,
) -> Result<Json<Value>, ApiError> {
    let from = match &p.cursor {
        Some(c) => {
            hex::decode(c).map_err(|_| ApiError::bad_param("cursor is not one this node gave"))?
        }
        None => Vec::new(),
    };
    let page = list(&from, p.limit).map_err(ApiError::internal)?;
    Ok(self::page(
        page.items.into_iter().map(show).collect(),
        page.next.map(hex::encode),
    ))
}

/// What the public sees of an entry in a list: seq, kind, issuer, body,
/// time, and for a correctable entry whether (and by which seq) it was
/// corrected and reversed.
fn entry_summary(log: &Log<RocksBackend>, seq: u64) -> Result<Value, ApiError> {
    Ok(serde_json::to_value(summary_of(log, seq)?).expect("summaries serialise"))
}

/// The entry at `seq` as listings show it.
fn summary_of(log: &Log<RocksBackend>, seq: u64) -> Result<EntrySummary, ApiError> {
    let bytes = log
        .leaf(seq)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("leaf {seq} missing")))?;
    let leaf = Leaf::from_bytes(&bytes).map_err(ApiError::internal)?;
    let st = leaf.entry.statement;
    let rec = query::entry(log.backend(), seq).map_err(ApiError::internal)?;
    let summary = EntrySummary {
        approval: rec
            .as_ref()
            .and_then(|r| r.approval.as_ref())
            .map(|a| a.state),
        body: st.body,
        corrected_by: rec.as_ref().map(|r| r.corrected_by),
        issuer: st.issuer,
        kind: st.kind,
        logged_at: leaf.logged_at,
        nonce: st.nonce,
        reversed: rec.map(|r| r.reversed),
        seq,
    };
    Ok(summary)
}

/// A page of the entries in one index, as summaries.
fn index_page(
    log: &Log<RocksBackend>,
    index: Index,
    value: &str,
    p: &Paging,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let seqs = query::index_seqs(log.backend(), index, value, seq_cursor(&p.cursor)?, p.limit)
        .map_err(ApiError::internal)?;
    let items = seqs
        .items
        .into_iter()
        .map(|s| entry_summary(log, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, seqs.next.map(|n| n.to_string())))
}

fn fund_view(f: FundRec) -> Value {
    serde_json::to_value(FundView::from(f)).expect("records serialise")
}

/// The `q` of a search: at most 100 characters (empty: everything).
fn search_text(q: &HashMap<String, String>) -> Result<String, ApiError> {
    let text = q.get("q").cloned().unwrap_or_default();
    if text.chars().count() > 100 {
        return Err(ApiError::bad_param("q is at most 100 characters"));
    }
    Ok(text)
}

/// `GET /v1/orgs?q=`: organisations whose id or name contains `q`, each
/// with the totals of the funds it manages (`owned`).
pub async fn orgs(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let text = search_text(&q)?;
    node.read(move |log| {
        let owned = query::owned_funds(log.backend()).map_err(ApiError::internal)?;
        table_page(
            &p,
            |from, limit| query::orgs(log.backend(), &text, from, limit),
            |o| {
                let totals = owned.get(&o.id).copied().unwrap_or_default();
                let mut v = json!(o);
                v["owned"] = json!(totals);
                v
            },
        )
    })
    .await
}

/// `GET /v1/orgs/{id}`: the organisation and its keys with roles and the
/// seqs that added and revoked them.
pub async fn org(
    State(node): State<Node>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    node.read(move |log| {
        let state = log.backend();
        let org = query::org(state, &id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::no("org", &id))?;
        let keys = query::org_keys(state, &id).map_err(ApiError::internal)?;
        let owned = query::owned_funds(state)
            .map_err(ApiError::internal)?
            .remove(&id)
            .unwrap_or_default();
        let mut v = json!(OrgView { org, keys });
        v["owned"] = json!(owned);
        Ok(Json(v))
    })
    .await
}

/// `GET /v1/funds?q=`: funds whose id or title contains `q`.
pub async fn funds(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let text = search_text(&q)?;
    node.read(move |log| {
        table_page(
            &p,
            |from, limit| query::funds(log.backend(), &text, from, limit),
            fund_view,
        )
    })
    .await
}

/// `GET /v1/funds/{id}`: owner, budget, received, transfers, disbursed,
/// balance, counts and execution rate (basis points of the budget).
pub async fn fund(
    State(node): State<Node>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    node.read(move |log| {
        let f = query::fund(log.backend(), &id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::no("fund", &id))?;
        Ok(Json(fund_view(f)))
    })
    .await
}

/// `GET /v1/funds/{id}/flows`: where the fund's money came from and went,
/// entry by entry with seqs.
pub async fn flows(
    State(node): State<Node>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        if query::fund(log.backend(), &id)
            .map_err(ApiError::internal)?
            .is_none()
        {
            return Err(ApiError::no("fund", &id));
        }
        let (items, next) = index_page(log, Index::Fund, &id, &p)?;
        Ok(page(items, next))
    })
    .await
}

/// `GET /v1/funds/{id}/flows/summary`: the fund's flows summed by where
/// the money came from and went, for its flow chart: received by source,
/// transferred in by fund and out by fund, recovered by whom it came back
/// from (an organisation, or `beneficiary`), disbursed by county. Reversed
/// entries and payments not approved (dual control) count for nothing.
/// One answer of a few hundred bytes instead of every flow (534 KB of JSON
/// for the demo's fund of temporary assistance).
///
/// The fund's entries are read a page at a time, each page under the
/// log's lock on its own, so that a fund of a million entries never holds
/// the writer back for long; each is read from its state record, and only
/// a receipt's or a recovery's leaf (their source is named only there).
pub async fn flow_summary(
    State(node): State<Node>,
    Path(id): Path<String>,
) -> Result<Json<FlowSummary>, ApiError> {
    let fund = id.clone();
    let exists = node
        .read(move |log| {
            Ok(query::fund(log.backend(), &fund)
                .map_err(ApiError::internal)?
                .is_some())
        })
        .await?;
    if !exists {
        return Err(ApiError::no("fund", &id));
    }
    let mut out = FlowSummary::default();
    let mut from = None;
    loop {
        let fund = id.clone();
        let (page, next) = node
            .read(move |log| {
                let seqs = query::index_seqs(log.backend(), Index::Fund, &fund, from, MAX_BATCH)
                    .map_err(ApiError::internal)?;
                let mut page = FlowSummary::default();
                for seq in seqs.items {
                    page.add(log, &fund, seq)?;
                }
                Ok((page, seqs.next))
            })
            .await?;
        out.merge(page);
        match next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    Ok(Json(out))
}

/// The answer of `GET /v1/funds/{id}/flows/summary`: sums in fen (exact:
/// a fund's sums are at most 2^53-1) keyed by counterpart.
#[derive(Debug, Default, serde::Serialize)]
pub struct FlowSummary {
    /// Disbursed (approved, unreversed) by county code.
    disbursed: BTreeMap<String, u64>,
    /// Entries read.
    entries: u64,
    /// Received by `from` (the source as the receipt names it).
    received: BTreeMap<String, u64>,
    /// Recovered by whom from: an organisation's id, or `beneficiary`.
    recovered: BTreeMap<String, u64>,
    /// Transferred in, by the fund it came from.
    transferred_in: BTreeMap<String, u64>,
    /// Transferred out, by the fund it went to.
    transferred_out: BTreeMap<String, u64>,
}

impl FlowSummary {
    /// Counts the entry at `seq` of `fund`'s index.
    fn add(&mut self, log: &Log<RocksBackend>, fund: &str, seq: u64) -> Result<(), ApiError> {
        self.entries += 1;
        // Entries without a record (a fund's opening) move no money.
        let Some(e) = query::entry(log.backend(), seq).map_err(ApiError::internal)? else {
            return Ok(());
        };
        if e.reversed {
            return Ok(());
        }
        let from = || -> Result<String, ApiError> {
            let body = summary_of(log, seq)?.body;
            Ok(body
                .get("from")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned())
        };
        let (sums, key) = match e.kind {
            Kind::FundReceive => (&mut self.received, from()?),
            Kind::FundRecover => {
                let from = from()?;
                let who = if from.starts_with("bnf_") {
                    "beneficiary".to_owned()
                } else {
                    from
                };
                (&mut self.recovered, who)
            }
            Kind::FundTransfer if e.to_fund.as_deref() == Some(fund) => {
                (&mut self.transferred_in, e.fund.clone().unwrap_or_default())
            }
            Kind::FundTransfer => (
                &mut self.transferred_out,
                e.to_fund.clone().unwrap_or_default(),
            ),
            Kind::Disbursement if e.paid() => {
                (&mut self.disbursed, e.region.clone().unwrap_or_default())
            }
            _ => return Ok(()),
        };
        *sums.entry(key).or_default() += e.amount;
        Ok(())
    }

    /// Adds another page's sums.
    fn merge(&mut self, other: FlowSummary) {
        self.entries += other.entries;
        for (into, from) in [
            (&mut self.disbursed, other.disbursed),
            (&mut self.received, other.received),
            (&mut self.recovered, other.recovered),
            (&mut self.transferred_in, other.transferred_in),
            (&mut self.transferred_out, other.transferred_out),
        ] {
            for (k, x) in from {
                *into.entry(k).or_default() += x;
            }
        }
    }
}

/// Index entries one `GET /v1/money` request looks at, at most.
const MONEY_BUDGET: usize = 20_000;

/// `GET /v1/money?from=&to=&kind=&min=&max=&region=&issuer=&fund=`: money
/// entries (receipts, transfers, disbursements, recoveries) by their
/// signed date, oldest first, filtered. A request looks at no more than
/// 20,000 entries, so a page may be short, even empty, with a
/// `next_cursor` to go on from (`DATE.SEQ`).
pub async fn money(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let date = |name: &str| -> Result<Option<String>, ApiError> {
        match q.get(name) {
            Some(d) if ledger::date::parse(d).is_some() => Ok(Some(d.clone())),
            Some(_) => Err(ApiError::bad_param(format!("{name} is a date, YYYY-MM-DD"))),
            None => Ok(None),
        }
    };
    let amount = |name: &str| -> Result<Option<u64>, ApiError> {
        q.get(name)
            .map(|v| v.parse::<u64>())
            .transpose()
            .map_err(|_| ApiError::bad_param(format!("{name} is an amount in fen")))
    };
    let kind = parsed::<Kind>(&q, "kind")?;
    if kind.is_some_and(|k| {
        !matches!(
            k,
            Kind::FundReceive | Kind::FundTransfer | Kind::Disbursement | Kind::FundRecover
        )
    }) {
        return Err(ApiError::bad_param(
            "kind is fund.receive, fund.transfer, disbursement or fund.recover",
        ));
    }
    let filter = query::MoneyFilter {
        from: date("from")?,
        to: date("to")?,
        kind,
        min: amount("min")?,
        max: amount("max")?,
        region: region_param(&q, "region")?,
        issuer: q.get("issuer").cloned(),
        fund: q.get("fund").cloned(),
    };
    let cursor = match &p.cursor {
        None => None,
        Some(c) => {
            let (d, seq) = c
                .rsplit_once('.')
                .and_then(|(d, s)| Some((d.to_owned(), s.parse::<u64>().ok()?)))
                .filter(|(d, _)| ledger::date::parse(d).is_some())
                .ok_or_else(|| ApiError::bad_param("cursor is DATE.SEQ from next_cursor"))?;
            Some((d, seq))
        }
    };
    node.read(move |log| {
        let found = query::money_entries(log.backend(), &filter, cursor, p.limit, MONEY_BUDGET)
            .map_err(ApiError::internal)?;
        let items = found
            .items
            .into_iter()
            .map(|e| {
                json!({
                    "seq": e.seq, "kind": e.kind, "issuer": e.issuer, "fund": e.fund,
                    "to_fund": e.to_fund, "amount": e.amount, "date": e.date,
                    "region": e.region, "beneficiary": e.beneficiary, "cause": e.cause,
                    "reversed": e.reversed, "approval": e.approval.map(|a| a.state),
                })
            })
            .collect();
        Ok(page(items, found.next.map(|(d, s)| format!("{d}.{s}"))))
    })
    .await
}

/// `GET /v1/beneficiaries/{bnf}`: disbursements and needs of one pseudonym, across all orgs.
pub async fn beneficiary(
    State(node): State<Node>,
    Path(bnf): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if !ledger::ident::is_beneficiary(&bnf) {
        return Err(ApiError::bad_param(
            "a beneficiary is bnf_ and 64 hex digits",
        ));
    }
    let p = paging(&q)?;
    node.read(move |log| {
        let (items, next) = index_page(log, Index::Beneficiary, &bnf, &p)?;
        Ok(page(items, next))
    })
    .await
}

/// `GET /v1/pseudonyms?prefix=bnf_a5943c0b`: up to `limit` (default and
/// at most 20) pseudonyms that begin with `prefix`, `bnf_` or `vol_` and
/// at least 4 hex digits: what the page's search makes of a shortened
/// pseudonym.
pub async fn pseudonyms(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let hex = prefix
        .strip_prefix("bnf_")
        .or_else(|| prefix.strip_prefix("vol_"))
        .unwrap_or_default();
    if !(4..=64).contains(&hex.len())
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ApiError::bad_param(
            "prefix is bnf_ or vol_ and 4 to 64 lower-case hex digits",
        ));
    }
    let limit = match q.get("limit") {
        None => 20,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=20).contains(l))
            .ok_or_else(|| ApiError::bad_param("limit must be 1..=20"))?,
    };
    node.read(move |log| {
        let items =
            query::pseudonyms_from(log.backend(), &prefix, limit).map_err(ApiError::internal)?;
        Ok(Json(json!({ "items": items })))
    })
    .await
}

/// Most pseudonyms in one `POST /v1/beneficiaries`.
pub const MAX_HISTORIES: usize = 1_000;
/// Largest `limit` of `POST /v1/beneficiaries` (entries per pseudonym).
const MAX_HISTORY_LIMIT: usize = 100;

/// `POST /v1/beneficiaries` `{"beneficiaries":[bnf_…]}`: for each of up
/// to 1,000 pseudonyms, the first page of what `GET
/// /v1/beneficiaries/{bnf}` lists (`limit` per pseudonym, at most 100), in
/// the order asked. A read: it is what the CLI's check for duplicate aid
/// before paying asks about a sheet's families, 1,000 at a time.
pub async fn beneficiaries(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Asked {
        beneficiaries: Vec<String>,
    }
    let asked: Asked = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_param(format!(
            "the body is {{\"beneficiaries\": [\"bnf_…\", …]}}: {e}"
        ))
    })?;
    if asked.beneficiaries.len() > MAX_HISTORIES {
        return Err(ApiError::new(
            Code::TooLarge,
            format!("at most {MAX_HISTORIES} beneficiaries a request"),
        ));
    }
    if let Some(i) = asked
        .beneficiaries
        .iter()
        .position(|b| !ledger::ident::is_beneficiary(b))
    {
        return Err(ApiError::bad_param(format!(
            "beneficiaries[{i}] is not bnf_ and 64 hex digits"
        )));
    }
    let p = paging(&q)?;
    if p.cursor.is_some() || p.limit > MAX_HISTORY_LIMIT {
        return Err(ApiError::bad_param(format!(
            "limit is 1..={MAX_HISTORY_LIMIT} and there is no cursor: read on with GET /v1/beneficiaries/{{bnf}}"
        )));
    }
    node.read(move |log| {
        let items = asked
            .beneficiaries
            .into_iter()
            .map(|beneficiary| {
                let (items, next_cursor) = index_page(log, Index::Beneficiary, &beneficiary, &p)?;
                Ok(ledger::api::History {
                    beneficiary,
                    page: Page { items, next_cursor },
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Json(json!({ "items": items })))
    })
    .await
}

/// `GET /v1/index/{index}/{value}`: the entries an index lists under a
/// value, oldest first, as summaries: every entry of an org or of a kind,
/// a fund's, a pseudonym's, a date's, a credit holder's, an assessment
/// subject's, the corrections of a seq.
pub async fn index(
    State(node): State<Node>,
    Path((index, value)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let index = index
        .parse::<Index>()
        .ok()
        .filter(|i| *i != Index::OrgKey)
        .ok_or_else(|| {
            ApiError::bad_param(
                "index is one of org, kind, fund, bnf, date, credit, assess, corrects",
            )
        })?;
    let p = paging(&q)?;
    node.read(move |log| {
        let (items, next) = index_page(log, index, &value, &p)?;
        Ok(page(items, next))
    })
    .await
}

/// `GET /v1/alerts/duplicates`: newest first.
pub async fn alerts(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        let alerts = query::alerts(log.backend(), seq_cursor(&p.cursor)?, p.limit)
            .map_err(ApiError::internal)?;
        let items = alerts
            .items
            .into_iter()
            .map(|a| {
                // Each payment of the alert, its own first: who paid, how
                // much, when, from which fund.
                let payments = std::iter::once(a.seq)
                    .chain(a.matches.iter().copied())
                    .map(|seq| {
                        let e = summary_of(log, seq)?;
                        Ok(json!({
                            "seq": seq,
                            "issuer": e.issuer,
                            "fund": e.body.get("fund"),
                            "amount": e.body.get("amount"),
                            "date": e.body.get("date"),
                            "reversed": e.is_reversed(),
                        }))
                    })
                    .collect::<Result<Vec<Value>, ApiError>>()?;
                let mut v = json!(a);
                v["payments"] = Value::Array(payments);
                Ok(v)
            })
            .collect::<Result<Vec<Value>, ApiError>>()?;
        Ok(page(items, alerts.next.map(|n| n.to_string())))
    })
    .await
}

/// `GET /v1/credits`: every holder's balance, by holder.
pub async fn credit_holders(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        table_page(
            &p,
            |from, limit| query::credits(log.backend(), from, limit),
            |c| json!(c),
        )
    })
    .await
}

/// `GET /v1/credits/{holder}`: balance and history.
pub async fn credits(
    State(node): State<Node>,
    Path(holder): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        let c = query::credit(log.backend(), &holder)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::no("holder", &holder))?;
        let (history, next) = index_page(log, Index::Credit, &holder, &p)?;
        Ok(Json(json!({"holder": c.holder, "balance": c.balance, "awarded": c.awarded, "redeemed": c.redeemed,
                       "items": history, "next_cursor": next})))
    })
    .await
}

/// `GET /v1/assessments?subject=`: assessment results of one subject
/// (an org, a fund or a region), or of all, oldest first.
pub async fn assessments(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let (index, value) = match q.get("subject") {
        Some(subject) => (Index::Assessment, subject.clone()),
        None => (Index::Kind, Kind::AssessmentResult.as_str().to_owned()),
    };
    node.read(move |log| {
        let (items, next) = index_page(log, index, &value, &p)?;
        Ok(page(items, next))
    })
    .await
}

/// `GET /v1/needs?state=&category=&region=`: needs and their state (open,
/// claimed, fulfilled), of a category, in a region (a province or city
/// code holds its counties).
pub async fn needs(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let filter = query::NeedFilter {
        state: parsed::<NeedState>(&q, "state")?,
        category: parsed::<Category>(&q, "category")?,
        region: region_param(&q, "region")?,
    };
    node.read(move |log| {
        table_page(
            &p,
            |from, limit| query::needs(log.backend(), &filter, from, limit),
            |n| json!(n),
        )
    })
    .await
}

/// The query parameter `name` as one of a vocabulary's words, if given.
fn parsed<T: std::str::FromStr<Err = UnknownName>>(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    q.get(name)
        .map(|v| v.parse::<T>())
        .transpose()
        .map_err(|e| ApiError::bad_param(format!("{name}: {e}")))
}

/// The query parameter `name` as a six-digit region code, if given.
fn region_param(q: &HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    match q.get(name) {
        Some(r) if r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(r.clone())),
        Some(_) => Err(ApiError::bad_param(format!(
            "{name} is a six-digit region code"
        ))),
        None => Ok(None),
    }
}

/// `GET /v1/stats`: [`ledger::api::StatsAnswer`], with the tree size it
/// was read at in the `aidledger-tree-size` header, so that a client can
/// compare it with audited figures of the same size (SPEC §4.3).
///
/// Sums over funds are `u128`s and may pass 2^53-1 (and `u64::MAX`), so
/// the answer is serialised from types, never through a `serde_json::Value`
/// (whose numbers stop at `u64`): every amount is written as the exact
/// integer.
pub async fn stats(
    State(node): State<Node>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    node.read(|log| {
        let answer = query::stats_answer(log.backend()).map_err(ApiError::internal)?;
        Ok((
            [(crate::TREE_SIZE_HEADER, log.size().to_string())],
            Json(answer),
        ))
    })
    .await
}

/// `GET /v1/households/{bnf}`: a household's monitoring record, the
/// alerts that stand for it now, and its monitoring entries (paged).
pub async fn household(
    State(node): State<Node>,
    Path(bnf): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if !ledger::ident::is_beneficiary(&bnf) {
        return Err(ApiError::bad_param(
            "a beneficiary is bnf_ and 64 hex digits",
        ));
    }
    let p = paging(&q)?;
    node.read(move |log| {
        let h = query::household(log.backend(), &bnf)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::no("household", &bnf))?;
        let open = query::open_alerts(log.backend(), &h).map_err(ApiError::internal)?;
        let (items, next) = index_page(log, Index::Household, &bnf, &p)?;
        Ok(Json(json!({
            "household": h,
            "open_alerts": open,
            "items": items,
            "next_cursor": next,
        })))
    })
    .await
}

/// `GET /v1/alerts/monitoring?alert=&region=`: monitoring alerts (SPEC
/// §6.2), newest first, each with the household's tier, risks and region
/// and whether it still stands.
pub async fn monitoring_alerts(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let alert = parsed::<MonitoringAlert>(&q, "alert")?;
    let region = region_param(&q, "region")?;
    node.read(move |log| {
        let state = log.backend();
        let page = {
            let keep = |a: &MonitoringAlertRec| {
                alert.is_none_or(|k| a.alert == k)
                    && region.as_deref().is_none_or(|r| in_region(&a.region, r))
            };
            let from = match &p.cursor {
                Some(c) => hex::decode(c)
                    .map_err(|_| ApiError::bad_param("cursor is not one this node gave"))?,
                None => Vec::new(),
            };
            query::monitoring_alerts(state, &from, p.limit, keep).map_err(ApiError::internal)?
        };
        let mut items = Vec::with_capacity(page.items.len());
        for a in page.items {
            let h = query::household(state, &a.beneficiary).map_err(ApiError::internal)?;
            let open = match &h {
                Some(h) => {
                    query::open_alerts(state, h)
                        .map_err(ApiError::internal)?
                        .contains(&a.alert)
                        && h.period == a.period
                }
                None => false,
            };
            let mut v = json!(a);
            v["open"] = json!(open);
            items.push(v);
        }
        Ok(self::page(items, page.next.map(hex::encode)))
    })
    .await
}

/// Whether region code `code` lies in `within` (a province `xx0000`, a
/// city `xxxx00` or a county).
fn in_region(code: &str, within: &str) -> bool {
    let kept = if within.ends_with("0000") {
        &within[..2]
    } else if within.ends_with("00") {
        &within[..4]
    } else {
        within
    };
    code.starts_with(kept)
}

/// `GET /v1/stats/monitoring`: by county, households monitored now and
/// of them those with an overdue review or flagged unassisted; counties
/// with the most overdue first.
pub async fn monitoring(State(node): State<Node>) -> Result<Json<Value>, ApiError> {
    node.read(|log| {
        let by = query::monitoring(log.backend()).map_err(ApiError::internal)?;
        let mut items: Vec<_> = by.into_iter().collect();
        items.sort_by(|a, b| {
            (b.1.overdue_review, b.1.unassisted, &a.0).cmp(&(
                a.1.overdue_review,
                a.1.unassisted,
                &b.0,
            ))
        });
        let items: Vec<Value> = items
            .into_iter()
            .map(|(region, c)| {
                let mut v = json!(c);
                v["region"] = json!(region);
                v
            })
            .collect();
        Ok(Json(json!({ "items": items })))
    })
    .await
}

/// `GET /v1/orgs/{id}/pending`: disbursements from the org's funds that
/// wait for a second key's approval, oldest first, as entries.
pub async fn pending(
    State(node): State<Node>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        if query::org(log.backend(), &id)
            .map_err(ApiError::internal)?
            .is_none()
        {
            return Err(ApiError::no("organisation", &id));
        }
        let pending = query::pending(log.backend(), &id, seq_cursor(&p.cursor)?, p.limit)
            .map_err(ApiError::internal)?;
        let items = pending
            .items
            .iter()
            .map(|e| entry_summary(log, e.seq))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, pending.next.map(|n| n.to_string())))
    })
    .await
}

/// `GET /v1/stats/regions?parent=`: unreversed disbursements by the regions
/// one level below `parent` (provinces without it, a province's cities, a
/// city's counties).
pub async fn regions(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<RegionsAnswer>, ApiError> {
    let parent = region_param(&q, "parent")?;
    if parent.as_deref().is_some_and(|p| !p.ends_with("00")) {
        return Err(ApiError::bad_param("parent is a province or city code"));
    }
    node.read(move |log| {
        let stats = query::stats(log.backend()).map_err(ApiError::internal)?;
        let regions = query::regions(&stats, parent.as_deref());
        Ok(Json(RegionsAnswer { parent, regions }))
    })
    .await
}

/// The answer of `GET /v1/stats/regions` (typed: its amounts are exact
/// `u128` sums, see [`stats`]).
#[derive(serde::Serialize)]
pub struct RegionsAnswer {
    parent: Option<String>,
    regions: BTreeMap<String, Totals>,
}

/// `GET /v1/stats/overlap`: duplicate aid by cause and county (from the
/// duplicate-aid alerts): beneficiaries, disbursements, amount, alerts;
/// ordered by cause, then county, and paged.
pub async fn overlap(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<OverlapPage>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        let rows = query::overlap(log.backend()).map_err(ApiError::internal)?;
        let at = |r: &query::Overlap| format!("{}/{}", r.cause, r.region);
        let start = match &p.cursor {
            None => 0,
            Some(c) => rows
                .iter()
                .position(|r| at(r) == *c)
                .ok_or_else(|| ApiError::bad_param("cursor is not one this node gave"))?,
        };
        let end = rows.len().min(start + p.limit);
        let next_cursor = rows.get(end).map(at);
        let items = rows.into_iter().skip(start).take(end - start).collect();
        Ok(Json(OverlapPage { items, next_cursor }))
    })
    .await
}

/// A page of `GET /v1/stats/overlap` (typed: its amounts are exact `u128`
/// sums, see [`stats`]).
#[derive(serde::Serialize)]
pub struct OverlapPage {
    items: Vec<query::Overlap>,
    next_cursor: Option<String>,
}
