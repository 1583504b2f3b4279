//! The public list and lookup routes over derived state (SPEC §7): orgs,
//! funds and their flows, beneficiaries, duplicate-aid alerts, credit
//! points, assessments, needs. Lists answer `{"items":[…],"next_cursor"}`
//! and page with `limit` (≤ 1,000) and an opaque `cursor`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use ledger::entry::Leaf;
use ledger::query;
use ledger::state::{
    decode, get, key, CreditRec, EntryRec, FundRec, KeyRec, NeedRec, OrgRec, Part, StateRead, Table,
};
use ledger::store::{Log, RocksBackend};
use serde::de::DeserializeOwned;
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

/// A page of whole records from a state table, in key order.
fn table_page<T: DeserializeOwned>(
    state: &dyn StateRead,
    table: Table,
    p: &Paging,
    keep: impl Fn(&T) -> bool,
    show: impl Fn(T) -> Value,
) -> Result<Json<Value>, ApiError> {
    let from = match &p.cursor {
        Some(c) => {
            hex::decode(c).map_err(|_| ApiError::bad_param("cursor is not one this node gave"))?
        }
        None => Vec::new(),
    };
    let mut items = Vec::new();
    let mut next = None;
    let mut bad = None;
    state
        .scan(table, b"", &from, &mut |k, v| match decode::<T>(table, v) {
            Ok(_) if items.len() == p.limit => {
                next = Some(hex::encode(k));
                false
            }
            Ok(rec) => {
                if keep(&rec) {
                    items.push(show(rec));
                }
                true
            }
            Err(e) => {
                bad = Some(e);
                false
            }
        })
        .map_err(ApiError::internal)?;
    if let Some(e) = bad {
        return Err(ApiError::internal(e));
    }
    Ok(page(items, next))
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
    let rec: Option<EntryRec> =
        get(log.backend(), Table::Entries, &seq.to_be_bytes()).map_err(ApiError::internal)?;
    if let Some(rec) = rec {
        v["corrected_by"] = json!(rec.corrected_by);
        v["reversed"] = json!(rec.reversed);
    }
    Ok(v)
}

/// A page of the entries in one index, as summaries.
fn index_page(
    log: &Log<RocksBackend>,
    name: &str,
    value: &str,
    p: &Paging,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let seqs = query::index_seqs(log.backend(), name, value, seq_cursor(&p.cursor)?, p.limit)
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
        table_page::<OrgRec>(log.backend(), Table::Orgs, &p, |_| true, |o| json!(o))
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
        let org: OrgRec = get(state, Table::Orgs, id.as_bytes())
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no org {id}")))?;
        let mut keys = Vec::new();
        let prefix = key(&[Part::Str("orgkey"), Part::Str(&id)]);
        let mut hexes = Vec::new();
        state
            .scan(Table::Index, &prefix, b"", &mut |k, _| {
                hexes.push(String::from_utf8_lossy(&k[prefix.len()..k.len() - 1]).into_owned());
                true
            })
            .map_err(ApiError::internal)?;
        for h in hexes {
            let raw = hex::decode(&h).map_err(ApiError::internal)?;
            if let Some(k) = get::<KeyRec>(state, Table::Keys, &raw).map_err(ApiError::internal)? {
                keys.push(json!(k));
            }
        }
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
        table_page::<FundRec>(log.backend(), Table::Funds, &p, |_| true, fund_view)
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
        let f: FundRec = get(log.backend(), Table::Funds, id.as_bytes())
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
        if log
            .backend()
            .get(Table::Funds, id.as_bytes())
            .map_err(ApiError::internal)?
            .is_none()
        {
            return Err(ApiError::not_found(format!("no fund {id}")));
        }
        let (items, next) = index_page(log, "fund", &id, &p)?;
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
        let (items, next) = index_page(log, "bnf", &bnf, &p)?;
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
        let c: CreditRec = get(log.backend(), Table::Credits, holder.as_bytes())
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no credit points for {holder}")))?;
        let (history, next) = index_page(log, "credit", &holder, &p)?;
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
        let (items, next) = index_page(log, "assess", &subject, &p)?;
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
    let wanted = q.get("state").cloned();
    if let Some(s) = &wanted {
        if !["open", "claimed", "fulfilled"].contains(&s.as_str()) {
            return Err(ApiError::bad_param("state is open, claimed or fulfilled"));
        }
    }
    node.read(move |log| {
        table_page::<NeedRec>(
            log.backend(),
            Table::Needs,
            &p,
            |n| wanted.as_ref().is_none_or(|w| *w == n.state),
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
