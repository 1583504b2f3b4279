//! `POST /v1/entries`: one entry or an array, checked, queued for the
//! sequencer, answered with verified receipts once durable.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger::api::{BatchAnswer, BatchItem};
use ledger::code::Code;
use ledger::store::{Log, RocksBackend};
use serde_json::Value;

use ledger::sequencer::Outcome;

use crate::sequencer::{Committed, Receipt, Submitted};
use crate::{admission, clients, fair, Answers, ApiError, Node, MAX_BATCH};

/// `POST /v1/entries`: one entry (201 receipt; 200 for an identical
/// resubmission) or an array of up to 1,000 (200 `{"results":[…]}`).
pub(crate) async fn submit(
    State(node): State<Node>,
    peer: Option<axum::Extension<admission::Peer>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = client_of(peer.map(|p| p.0));
    let standing = node.standing.has(client);
    let (items, single) = if body.len() <= INLINE_PARSE {
        submitted_items(&body)?
    } else {
        node.checks
            .run(client, standing, move || submitted_items(&body))
            .await
            .map_err(ApiError::internal)??
    };
    let (entries, mut answers) = precheck(&node.checks, (client, standing), items, single).await?;
    let mut created = false;
    if !entries.is_empty() {
        let committed = node.sequence(entries).await?;
        created = committed
            .outcomes
            .iter()
            .any(|o| matches!(o, Ok(Outcome::Sequenced(_))));
        // Only new entries earn standing: a resubmission of a public entry
        // could be anybody's.
        if created {
            node.standing.vouch(client);
        }
        if let Some(r) = node.shared.replication.get().filter(|r| r.acks()) {
            r.until_replicated(committed.size, node.shared.lock.as_deref())
                .await?;
        }
        let mut receipts = node.receipts(committed).await?.into_iter();
        for slot in answers.iter_mut().filter(|a| a.is_none()) {
            *slot = Some(receipts.next().expect("one answer per entry"));
        }
    }
    let answers: Answers = answers
        .into_iter()
        .map(|a| a.expect("every entry answered"))
        .collect();
    for e in answers.iter().filter_map(|a| a.as_ref().err()) {
        node.shared.metrics.refused(e.code);
    }
    respond(answers, single, created)
}

/// The client a request's connection belongs to: its network block.
pub(crate) fn client_of(peer: Option<admission::Peer>) -> clients::Client {
    peer.map(|p| clients::Prefix::of(p.0))
}

/// Bodies up to this size are parsed on the async thread that read them;
/// larger ones (arrays) in the client's turn on the check pool.
const INLINE_PARSE: usize = 16 << 10;

/// The entries of a submitted body, and whether it was one entry rather
/// than an array.
fn submitted_items(body: &[u8]) -> Result<(Vec<Value>, bool), ApiError> {
    let value = ledger::parse_strict(body).map_err(|e| {
        let code = if e.is_malformed() {
            Code::MalformedJson
        } else {
            Code::SchemaViolation
        };
        ApiError::new(code, e.to_string())
    })?;
    match value {
        Value::Array(items) if items.len() > MAX_BATCH => Err(ApiError::new(
            Code::TooLarge,
            format!("at most {MAX_BATCH} entries per request"),
        )),
        Value::Array(items) => Ok((items, false)),
        other => Ok((vec![other], true)),
    }
}

/// Schema and verify_strict, off the async threads: an array's entries in
/// chunks on the check pool, in the client's turn; a single entry with the
/// rest of its commit group, by the sequencer. Gives the entries to
/// sequence, and one slot per submitted entry: its refusal already, or
/// `None` until the sequencer answers.
async fn precheck(
    pool: &fair::FairPool,
    (client, standing): (clients::Client, bool),
    items: Vec<Value>,
    single: bool,
) -> Result<(Vec<Submitted>, Vec<Option<Result<Receipt, ApiError>>>), ApiError> {
    if single {
        return Ok((
            items.into_iter().map(Submitted::Parsed).collect(),
            vec![None],
        ));
    }
    // Every chunk is queued before the first is awaited.
    let chunks: Vec<_> = ledger::rules::check_chunks(items)
        .map(|chunk| pool.run(client, standing, move || ledger::rules::check_batch(chunk)))
        .collect();
    let mut entries = Vec::new();
    let mut answers = Vec::new();
    for chunk in chunks {
        for c in chunk.await.map_err(ApiError::internal)? {
            answers.push(match c {
                Ok(entry) => {
                    entries.push(Submitted::Checked(Box::new(entry)));
                    None
                }
                Err(refusal) => Some(Err(refusal.into())),
            });
        }
    }
    Ok((entries, answers))
}

/// One entry's answer (201 when new, 200 for a resubmission), or an
/// array's `{"results":[…]}`.
fn respond(answers: Answers, single: bool, created: bool) -> Result<Response, ApiError> {
    if single {
        let receipt = answers.into_iter().next().expect("one entry")?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok((status, Json(receipt)).into_response());
    }
    // Serialised straight from these types: a batch's answer is
    // megabytes, and building it as a `Value` first would copy it all once
    // more.
    let results = answers
        .into_iter()
        .map(|a| a.map_or_else(|e| BatchItem::Refused(e.body()), BatchItem::Receipt))
        .collect();
    Ok(Json(BatchAnswer { results }).into_response())
}

/// Receipts (or refusals) for a committed job's outcomes.
pub(crate) fn receipts(log: &Log<RocksBackend>, committed: Committed) -> Result<Answers, ApiError> {
    let Committed {
        outcomes,
        checkpoint,
        size,
    } = committed;
    outcomes
        .into_iter()
        .map(|o| match o {
            Ok(outcome) => {
                let r = crate::sequencer::receipt(log, &outcome, &checkpoint, size)
                    .map_err(ApiError::internal)?;
                Ok(Ok(r))
            }
            Err(refusal) => Ok(Err(ApiError::from(refusal))),
        })
        .collect()
}
