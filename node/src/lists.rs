//! The public list and lookup routes over derived state (SPEC §7): orgs,
//! funds and their flows, beneficiaries, duplicate-aid alerts, credit
//! points, assessments, needs. Lists answer `{"items":[…],"next_cursor"}`
//! and page with `limit` (≤ 1,000) and an opaque `cursor`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use ledger::domain::{Index, NeedState};
use ledger::entry::Leaf;
use ledger::query;
use ledger::records::FundRec;
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
    Json(json!({"items": items, "next_cursor": next}))
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
    let bytes = log
        .leaf(seq)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("leaf {seq} missing")))?;
    let leaf = Leaf::from_bytes(&bytes).map_err(ApiError::internal)?;
    let st = leaf.entry.statement;
    let mut v = json!({"seq": seq, "kind": st.kind, "issuer": st.issuer, "nonce": st.nonce, "body": st.body, "logged_at": leaf.logged_at});
    if let Some(rec) = query::entry(log.backend(), seq).map_err(ApiError::internal)? {
        v["corrected_by"] = json!(rec.corrected_by);
        v["reversed"] = json!(rec.reversed);
    }
    Ok(v)
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
    let rate = f.execution_rate_bp();
    let mut v = serde_json::to_value(f).expect("records serialise");
    v["execution_rate_bp"] = json!(rate);
    v
}

/// `GET /v1/orgs`.
pub async fn orgs(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        table_page(
            &p,
            |from, limit| query::orgs(log.backend(), from, limit),
            |o| json!(o),
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
            .ok_or_else(|| ApiError::not_found(format!("no org {id}")))?;
        let keys = query::org_keys(state, &id).map_err(ApiError::internal)?;
        let mut v = json!(org);
        v["keys"] = json!(keys);
        Ok(Json(v))
    })
    .await
}

/// `GET /v1/funds`.
pub async fn funds(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        table_page(
            &p,
            |from, limit| query::funds(log.backend(), from, limit),
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
            .ok_or_else(|| ApiError::not_found(format!("no fund {id}")))?;
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
            return Err(ApiError::not_found(format!("no fund {id}")));
        }
        let (items, next) = index_page(log, Index::Fund, &id, &p)?;
        Ok(page(items, next))
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

/// `GET /v1/alerts/duplicates`: newest first.
pub async fn alerts(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    node.read(move |log| {
        let alerts = query::alerts(log.backend(), seq_cursor(&p.cursor)?, p.limit)
            .map_err(ApiError::internal)?;
        Ok(page(
            alerts.items.into_iter().map(|a| json!(a)).collect(),
            alerts.next.map(|n| n.to_string()),
        ))
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
            .ok_or_else(|| ApiError::not_found(format!("no credit points for {holder}")))?;
        let (history, next) = index_page(log, Index::Credit, &holder, &p)?;
        Ok(Json(json!({"holder": c.holder, "balance": c.balance, "awarded": c.awarded, "redeemed": c.redeemed,
                       "items": history, "next_cursor": next})))
    })
    .await
}

/// `GET /v1/assessments?subject=`: assessment results of one subject.
pub async fn assessments(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let subject = q
        .get("subject")
        .cloned()
        .ok_or_else(|| ApiError::bad_param("subject is required"))?;
    node.read(move |log| {
        let (items, next) = index_page(log, Index::Assessment, &subject, &p)?;
        Ok(page(items, next))
    })
    .await
}

/// `GET /v1/needs?state=`: needs and their state (open, claimed, fulfilled).
pub async fn needs(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = paging(&q)?;
    let wanted = q
        .get("state")
        .map(|s| s.parse::<NeedState>())
        .transpose()
        .map_err(|_| ApiError::bad_param("state is open, claimed or fulfilled"))?;
    node.read(move |log| {
        table_page(
            &p,
            |from, limit| query::needs(log.backend(), wanted, from, limit),
            |n| json!(n),
        )
    })
    .await
}

/// `GET /v1/stats`: unreversed disbursements in total and by month, fund
/// category, province and issuer type.
pub async fn stats(State(node): State<Node>) -> Result<Json<Value>, ApiError> {
    node.read(|log| {
        let stats = query::stats(log.backend()).map_err(ApiError::internal)?;
        Ok(Json(
            serde_json::to_value(stats).map_err(ApiError::internal)?,
        ))
    })
    .await
}
