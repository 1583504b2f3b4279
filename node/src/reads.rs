//! The log's reads: `/v1/log`, the checkpoint, entries one by one and by
//! page, inclusion and consistency proofs.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use ledger::api::{ConsistencyProof, InclusionProof, LogInfo};
use ledger::code::{Code, Detail};

use crate::{ApiError, Node, MAX_BATCH};

fn param(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    q.get(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_param(format!("{name} must be a non-negative integer")))
        })
        .transpose()
}

fn required(q: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    param(q, name)?.ok_or_else(|| ApiError::bad_param(format!("{name} is required")))
}

/// `GET /v1/log`: origin, vkey, size, genesis leaf hash.
pub(crate) async fn log_info(State(node): State<Node>) -> Result<Json<Value>, ApiError> {
    let origin = node.shared.origin.clone();
    let vkey = node.shared.vkey.clone();
    node.read(move |log| {
        let genesis = log.leaf_hash(0).map_err(ApiError::internal)?;
        let rules = match genesis {
            Some(_) => Some(ledger::query::rules(log.backend()).map_err(ApiError::internal)?),
            None => None,
        };
        Ok(Json(json!(LogInfo {
            origin,
            vkey,
            size: log.size(),
            genesis,
            rules
        })))
    })
    .await
}

/// `GET /v1/checkpoint` (and `/checkpoint`): the latest signed checkpoint;
/// with a witness policy, the latest that met its quorum, cosignatures
/// included (SPEC §4.1).
pub(crate) async fn checkpoint(State(node): State<Node>) -> Response {
    let Some(text) = node.shared.published_checkpoint() else {
        let why = if node.shared.witnessing.is_some() {
            "no checkpoint has met the witness quorum yet"
        } else {
            "this node has no checkpoint yet: it has not followed its source yet"
        };
        return ApiError::not_found(why).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// `GET /v1/entries/{seq}`.
pub(crate) async fn entry(
    State(node): State<Node>,
    Path(seq): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::bad_param("seq must be a non-negative integer"))?;
    node.read(move |log| {
        let bytes = log.leaf(seq).map_err(ApiError::internal)?.ok_or_else(|| ApiError::no("entry", seq))?;
        let leaf: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
        Ok(Json(json!({"seq": seq, "leaf_hash": ledger::merkle::leaf_hash(&bytes).to_hex(), "leaf": leaf})))
    })
    .await
}

/// `GET /v1/entries?start=S&limit=N`: NDJSON, each line exactly the leaf bytes.
pub(crate) async fn entries_page(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let start = param(&q, "start")?.unwrap_or(0);
    let limit = param(&q, "limit")?.unwrap_or(MAX_BATCH as u64);
    if limit == 0 || limit > MAX_BATCH as u64 {
        return Err(ApiError::bad_param(format!(
            "limit must be 1..={MAX_BATCH}"
        )));
    }
    let body = node
        .read(move |log| {
            let leaves = log
                .leaves(start, limit as usize)
                .map_err(ApiError::internal)?;
            // Exactly the page's size: a page held for a client that reads
            // slowly holds no spare capacity beside it.
            let mut out = Vec::with_capacity(leaves.iter().map(|l| l.len() + 1).sum());
            for bytes in leaves {
                out.extend_from_slice(&bytes);
                out.push(b'\n');
            }
            Ok(out)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// `GET /v1/proof/inclusion?seq=S&size=N` (`size` defaults to the current size).
pub(crate) async fn inclusion(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let seq = required(&q, "seq")?;
    let size = param(&q, "size")?;
    node.read(move |log| {
        let size = size.unwrap_or(log.size());
        if seq >= size || size > log.size() {
            let log_size = log.size();
            return Err(ApiError::because(
                Code::NotFound,
                Detail::NoSeq {
                    seq,
                    size,
                    log_size,
                },
            ));
        }
        let path = log.prove_inclusion(seq, size).map_err(ApiError::internal)?;
        let leaf_hash = log
            .leaf_hash(seq)
            .map_err(ApiError::internal)?
            .expect("seq < size");
        Ok(Json(json!(InclusionProof {
            seq,
            size,
            leaf_hash,
            path
        })))
    })
    .await
}

/// `GET /v1/proof/consistency?first=M&second=N` (`second` defaults to the current size).
pub(crate) async fn consistency(
    State(node): State<Node>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let first = required(&q, "first")?;
    let second = param(&q, "second")?;
    node.read(move |log| {
        let second = second.unwrap_or(log.size());
        if first > second || second > log.size() {
            return Err(ApiError::not_found(format!(
                "no consistency proof from {first} to {second} (tree size {})",
                log.size()
            )));
        }
        let path = log
            .prove_consistency(first, second)
            .map_err(ApiError::internal)?;
        Ok(Json(json!(ConsistencyProof {
            first,
            second,
            path
        })))
    })
    .await
}
