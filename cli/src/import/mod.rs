//! Bulk import from a spreadsheet export (CSV, UTF-8 or GBK): one signed
//! entry per row, submitted in arrays of 1,000 with every receipt verified.
//!
//! A row's identity is its content, not the file it came in: its nonce is
//! `imp-` and a hash of the issuer, the kind and the canonical body it
//! becomes (amounts in fen, dates and labels normalised, ID numbers as
//! pseudonyms), with a counter for the second and later identical rows of
//! one file. So the same rows re-saved by a spreadsheet (BOM, CRLF),
//! converted from GBK, copied under another name or imported again after an
//! interruption are "already in the ledger": the node answers an identical
//! statement with its original seq, and one signed at another time with
//! `nonce_conflict`, which for a nonce made from the content can only mean
//! the same row. A row changed after it was imported is a new row: with a
//! voucher number (`ref`) the node refuses it as a duplicate voucher; without
//! one a disbursement equal in fund, beneficiary, amount and date to one of
//! the issuer's own in the ledger or earlier in the file is held back before
//! signing, unless `--allow-repeat` (monthly payments repeat, but not twice
//! on one day for the same amount).
//!
//! ID numbers in an `id_number` column are checked here and their
//! pseudonyms asked of the pseudonym service, blinded (SPEC §6.3); columns
//! the kind does not use (names, phone numbers, …) are never read into an
//! entry.
//!
//! `rows` reads the sheet into bodies, `preflight` checks key, role, funds
//! and balances before anything is signed; this module signs and submits.

mod preflight;
mod rows;

use preflight::precheck;
pub use preflight::{preflight, Funds, Preflight};
pub use rows::{read_rows, Import, RowError, RowFault, Rows};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use ledger::api::{EntrySummary, FundView};
use ledger::body::{AnyBody, Disbursement};
use ledger::code::Code;
use ledger::domain::Kind;
use ledger::entry::SignedEntry;
use rayon::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::client::{seg, NodeClient};
use crate::explain::{self, Arg, Problem};
use crate::receipt::{Outcome, Receipt, Submitter};

pub use crate::parse::yuan_to_fen;

/// A row refused by a rule (checked here as the node would).
const RULE: RowFault = RowFault::Refused(Code::RuleViolation);

/// What an import did.
#[derive(Default)]
pub struct Summary {
    /// Rows in the file.
    pub rows: u64,
    /// Rows sequenced by this run.
    pub added: u64,
    /// Rows that were already in the ledger.
    pub already: u64,
    /// Rows held back as repeats or duplicates (also listed in `errors`).
    pub held: u64,
    /// Disbursements that would raise a duplicate-aid alert (held back, and
    /// with them the whole file: nothing was signed).
    pub duplicates: u64,
    /// Rows refused, unreadable or held back.
    pub errors: Vec<RowError>,
    /// Columns not read.
    pub ignored: Vec<String>,
    /// Rows dealt with before an interruption, if the run was interrupted.
    pub interrupted_after: Option<u64>,
}

/// A row on its way to the ledger.
struct Row {
    row: u64,
    body: Value,
    fields: Fields,
    nonce: String,
}

/// The fields of a body the import itself reads (the rest is for the
/// schema and the rules), in their types. A row is read before it is
/// validated: a field that is missing or not of its type is `None` here
/// and refused later by the schema.
#[derive(Debug, Default)]
struct Fields {
    fund: Option<String>,
    amount: Option<u64>,
    reference: Option<String>,
    beneficiary: Option<String>,
    date: Option<String>,
}

impl Fields {
    fn of(body: &Value) -> Fields {
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        Fields {
            fund: field("fund"),
            amount: body.get("amount").and_then(Value::as_u64),
            reference: field("ref"),
            beneficiary: field("beneficiary"),
            date: field("date"),
        }
    }
}

/// The nonce of a row: `imp-` and 40 letters `a`-`p` spelling 160 bits of
/// SHA-256 over the issuer, the kind, the canonical body and `occurrence`
/// (0 for the first row with this body in the file, 1 for the second, …).
/// Letters, not hex: the PII guard reads nonces, and hex digits could
/// happen to spell a phone number.
pub fn row_nonce(issuer: &str, kind: Kind, canonical_body: &[u8], occurrence: u32) -> String {
    let mut h = Sha256::new();
    for part in [issuer.as_bytes(), kind.as_str().as_bytes(), canonical_body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(occurrence.to_be_bytes());
    let digest = h.finalize();
    let mut nonce = String::from("imp-");
    for b in &digest[..20] {
        nonce.push(char::from(b'a' + (b >> 4)));
        nonce.push(char::from(b'a' + (b & 15)));
    }
    nonce
}

/// What makes two disbursements the same payment when they carry no
/// voucher number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PaymentKey {
    fund: String,
    beneficiary: String,
    amount: u64,
    date: String,
}

impl PaymentKey {
    fn of(row: &Fields) -> Option<PaymentKey> {
        if row.reference.is_some() {
            return None;
        }
        let beneficiary = row.beneficiary.as_deref()?;
        // A cell that is no pseudonym is refused when its entry is checked
        // (schema or PII guard); it is never looked up at the node.
        if !ledger::ident::is_beneficiary(beneficiary) {
            return None;
        }
        Some(PaymentKey {
            fund: row.fund.clone()?,
            beneficiary: beneficiary.to_owned(),
            amount: row.amount?,
            date: row.date.clone()?,
        })
    }

    /// The key of a disbursement the ledger holds.
    fn of_entry(body: &Disbursement) -> Option<PaymentKey> {
        PaymentKey::of(&Fields {
            fund: Some(body.fund.clone()),
            amount: Some(body.amount),
            reference: body.reference.clone(),
            beneficiary: Some(body.beneficiary.clone()),
            date: Some(body.date.clone()),
        })
    }
}

/// The issuer's unreversed disbursements in the ledger with the payment
/// keys of `rows`: key → (seq, nonce) of each. Reads each fund's flows or
/// each beneficiary's history, whichever takes fewer requests.
fn ledger_payments(
    client: &NodeClient,
    issuer: &str,
    keys: &[&PaymentKey],
) -> anyhow::Result<HashMap<PaymentKey, Vec<(u64, String)>>> {
    let mut by_fund: HashMap<&str, Vec<&PaymentKey>> = HashMap::new();
    for k in keys {
        by_fund.entry(&k.fund).or_default().push(k);
    }
    let wanted: std::collections::HashSet<&PaymentKey> = keys.iter().copied().collect();
    let mut found: HashMap<PaymentKey, Vec<(u64, String)>> = HashMap::new();
    let mut take = |item: EntrySummary| {
        if item.kind != Kind::Disbursement || item.issuer != issuer || item.is_reversed() {
            return;
        }
        let Ok(AnyBody::Disbursement(body)) = AnyBody::parse(item.kind, &item.body) else {
            return;
        };
        if let Some(key) = PaymentKey::of_entry(&body) {
            if wanted.contains(&key) {
                found.entry(key).or_default().push((item.seq, item.nonce));
            }
        }
    };
    for (fund, keys) in by_fund {
        let info: FundView = client.get_as(&format!("/v1/funds/{}", seg(fund)))?;
        let pages_of_fund = info.fund.disbursements / crate::client::PAGE + 1;
        let mut beneficiaries: Vec<&str> = keys.iter().map(|k| k.beneficiary.as_str()).collect();
        beneficiaries.sort_unstable();
        beneficiaries.dedup();
        if pages_of_fund <= beneficiaries.len() as u64 {
            client.each_item(&format!("/v1/funds/{}/flows", seg(fund)), &mut take)?;
        } else {
            for b in beneficiaries {
                client.each_item(&format!("/v1/beneficiaries/{}", seg(b)), &mut take)?;
            }
        }
    }
    Ok(found)
}

/// Requests for histories (1,000 families each) made at once when
/// looking for duplicate aid.
const HISTORY_READS: usize = 4;

/// The rows (disbursements) that would raise a duplicate-aid alert (SPEC
/// §6): the family had aid for the same cause from another organisation,
/// unreversed and not rejected, dated within 90 days of the row's. Each
/// with the earlier payment (organisation, fund, cause, date, amount) and
/// how many more there are. The histories of the distinct beneficiaries
/// are read 1,000 a request, [`HISTORY_READS`] requests at once.
fn duplicate_aid(
    client: &NodeClient,
    issuer: &str,
    rows: &[Row],
) -> anyhow::Result<Vec<(u64, Problem)>> {
    let mut families: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.fields.beneficiary.as_deref())
        .filter(|b| ledger::ident::is_beneficiary(b))
        .collect();
    families.sort_unstable();
    families.dedup();
    // A few requests of 1,000 at once: the node reads while the next is sent.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(HISTORY_READS)
        .build()?;
    let read: Vec<Vec<Vec<EntrySummary>>> = pool.install(|| {
        families
            .par_chunks(crate::client::MAX_HISTORIES)
            .map(|chunk| client.histories(chunk))
            .collect::<anyhow::Result<_>>()
    })?;
    let histories = families.iter().copied().zip(read.into_iter().flatten());
    let histories: HashMap<&str, Vec<EntrySummary>> = histories.into_iter().collect();
    let mut found = Vec::new();
    for r in rows {
        let (Some(b), Some(date)) = (r.fields.beneficiary.as_deref(), r.fields.date.as_deref())
        else {
            continue;
        };
        let cause = r
            .body
            .get("cause")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let earlier: Vec<&EntrySummary> = histories
            .get(b)
            .into_iter()
            .flatten()
            .filter(|e| {
                e.kind == Kind::Disbursement
                    && e.issuer != issuer
                    && !e.is_reversed()
                    && e.approval != Some(ledger::domain::Approval::Rejected)
                    && e.body.get("cause").and_then(Value::as_str) == Some(cause)
                    && e.body
                        .get("date")
                        .and_then(Value::as_str)
                        .is_some_and(|d| ledger::rules::within_duplicate_window(date, d))
            })
            .collect();
        let Some(first) = earlier.first() else {
            continue;
        };
        let field = |name: &str| {
            first
                .body
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut p = Problem::new("row.duplicate")
            .text("org", &first.issuer)
            .text("fund", field("fund"))
            .with("cause", Arg::Code("cause", cause.to_owned()))
            .text("date", field("date"))
            .with(
                "amount",
                Arg::Fen(
                    first
                        .body
                        .get("amount")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                ),
            )
            .text("seq", first.seq.to_string());
        if earlier.len() > 1 {
            p = p.text("more", (earlier.len() - 1).to_string());
            p.key = "row.duplicate_more";
        }
        found.push((r.row, p));
    }
    Ok(found)
}

/// Voucher numbers (`ref`) the issuer used in the flows of `funds`:
/// ref → (seq, nonce). What the node's state shows of them without an
/// index of its own (used by a dry run).
fn ledger_refs(
    client: &NodeClient,
    issuer: &str,
    funds: &[&str],
) -> anyhow::Result<HashMap<String, (u64, String)>> {
    let mut found = HashMap::new();
    for fund in funds {
        client.each_item(
            &format!("/v1/funds/{}/flows", seg(fund)),
            &mut |item: EntrySummary| {
                if item.issuer != issuer {
                    return;
                }
                let body = AnyBody::parse(item.kind, &item.body).ok();
                if let Some(r) = body.as_ref().and_then(AnyBody::reference) {
                    found.entry(r.to_owned()).or_insert((item.seq, item.nonce));
                }
            },
        )?;
    }
    Ok(found)
}

/// What happens to each array of receipts before it is kept: with a
/// witness policy, each is moved onto the witnessed checkpoint covering it.
pub type Witnessed<'a> = dyn FnMut(&mut [Outcome]) -> anyhow::Result<()> + 'a;

/// Runs an import: rows → checks → signed entries → verified receipts.
/// Stops between arrays once `stop` is set. A dry run stops before the
/// first request that writes and counts in `added` the rows that would go in.
#[allow(clippy::too_many_arguments)]
pub fn run(
    opts: &Import<'_>,
    client: &NodeClient,
    submitter: &mut Submitter<'_>,
    rows: Rows,
    funds: &Funds,
    size_before: u64,
    progress: &indicatif::ProgressBar,
    stop: &AtomicBool,
    witnessed: &mut Witnessed<'_>,
    mut receipts: impl FnMut(&Receipt) -> anyhow::Result<()>,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        rows: (rows.bodies.len() + rows.errors.len()) as u64,
        errors: rows.errors,
        ignored: rows.ignored,
        ..Summary::default()
    };
    progress.set_length(summary.rows);
    progress.inc(summary.errors.len() as u64);

    // Nonces from content; identical rows of one file counted apart. Rows
    // of a fund that is not there (or not the issuer's) are row errors.
    let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut pending = Vec::with_capacity(rows.bodies.len());
    for (row, body) in rows.bodies {
        let fields = Fields::of(&body);
        if let Some(p) = fields.fund.as_ref().and_then(|f| funds.refused.get(f)) {
            summary
                .errors
                .push(RowError::new(row, RULE, vec![p.clone()]));
            progress.inc(1);
            continue;
        }
        let canonical =
            ledger::canonical_json(&body).map_err(|e| anyhow::anyhow!("row {row}: {e}"))?;
        let n = seen.entry(canonical.clone()).or_insert(0);
        let nonce = row_nonce(opts.issuer, opts.kind, &canonical, *n);
        *n += 1;
        pending.push(Row {
            row,
            body,
            fields,
            nonce,
        });
    }

    // A voucher number used twice in the file: the later row names the
    // earlier (the node would refuse it naming only a seq).
    let mut first_ref: HashMap<String, u64> = HashMap::new();
    pending.retain(|r| {
        let Some(reference) = r.fields.reference.as_deref() else {
            return true;
        };
        match first_ref.get(reference) {
            Some(earlier) => {
                summary.errors.push(RowError::new(
                    r.row,
                    RULE,
                    vec![Problem::new("row.voucher_file")
                        .text("ref", reference)
                        .text("row", earlier.to_string())],
                ));
                progress.inc(1);
                false
            }
            None => {
                first_ref.insert(reference.to_owned(), r.row);
                true
            }
        }
    });

    // Disbursements without a voucher number that repeat a payment.
    if opts.kind == Kind::Disbursement && !opts.allow_repeat {
        let keys: Vec<PaymentKey> = pending
            .iter()
            .filter_map(|r| PaymentKey::of(&r.fields))
            .collect();
        let mut distinct: Vec<&PaymentKey> = keys.iter().collect();
        distinct.sort_unstable_by(|a, b| {
            (&a.fund, &a.beneficiary, &a.date, a.amount).cmp(&(
                &b.fund,
                &b.beneficiary,
                &b.date,
                b.amount,
            ))
        });
        distinct.dedup();
        let in_ledger = if distinct.is_empty() {
            HashMap::new()
        } else {
            ledger_payments(client, opts.issuer, &distinct)?
        };
        let mut first_row: HashMap<PaymentKey, u64> = HashMap::new();
        let mut kept = Vec::with_capacity(pending.len());
        for r in pending {
            let Some(key) = PaymentKey::of(&r.fields) else {
                kept.push(r);
                continue;
            };
            let earlier = in_ledger.get(&key).map(Vec::as_slice).unwrap_or_default();
            if earlier.iter().any(|(_, nonce)| *nonce == r.nonce) {
                // This very row, imported before.
                summary.already += 1;
                progress.inc(1);
                continue;
            }
            let held = if let Some((seq, _)) = earlier.first() {
                Some(Problem::new("row.repeat_ledger").text("seq", seq.to_string()))
            } else {
                first_row
                    .get(&key)
                    .map(|row| Problem::new("row.repeat_file").text("row", row.to_string()))
            };
            match held {
                Some(problem) => {
                    summary.held += 1;
                    summary
                        .errors
                        .push(RowError::new(r.row, RowFault::Repeat, vec![problem]));
                    progress.inc(1);
                }
                None => {
                    first_row.insert(key, r.row);
                    kept.push(r);
                }
            }
        }
        pending = kept;
    }

    // Aid another organisation already gave the family for the same cause
    // within 90 days: listed, and nothing of the file is signed.
    if opts.kind == Kind::Disbursement && !opts.allow_duplicates {
        let found = duplicate_aid(client, opts.issuer, &pending)?;
        if !found.is_empty() {
            summary.duplicates = found.len() as u64;
            summary.held += found.len() as u64;
            progress.inc(found.len() as u64);
            summary.errors.extend(
                found
                    .into_iter()
                    .map(|(row, p)| RowError::new(row, RowFault::Duplicate, vec![p])),
            );
            summary.errors.sort_by_key(|e| e.row);
            progress.finish_and_clear();
            return Ok(summary);
        }
    }

    let issued_at = ledger::entry::format_timestamp(std::time::SystemTime::now());
    let sign = |r: &Row| {
        SignedEntry::create(
            opts.key,
            opts.issuer,
            opts.kind,
            &r.nonce,
            &issued_at,
            r.body.clone(),
        )
        .map_err(|e| {
            let problem = Problem::new("row.node")
                .text("code", "schema_violation")
                .text("message", e.to_string());
            (Code::SchemaViolation, vec![problem])
        })
        .and_then(|e| precheck(&e).map(|()| e))
        .map_err(|(code, problems)| RowError::new(r.row, RowFault::Refused(code), problems))
    };

    if opts.dry_run {
        dry_run(opts, client, &pending, funds, &mut summary, sign)?;
        summary.errors.sort_by_key(|e| e.row);
        progress.finish_and_clear();
        return Ok(summary);
    }

    // Which row of this run each new seq holds, to name the row a later
    // one clashes with.
    let mut row_of_seq: HashMap<u64, u64> = HashMap::new();
    let mut done = summary.rows - pending.len() as u64;
    for chunk in pending.chunks(crate::client::PAGE as usize) {
        if stop.load(Ordering::SeqCst) {
            summary.interrupted_after = Some(done);
            break;
        }
        let signed: Vec<(u64, Result<SignedEntry, RowError>)> =
            chunk.par_iter().map(|r| (r.row, sign(r))).collect();
        let mut rows_sent = Vec::new();
        let mut entries = Vec::new();
        for (row, entry) in signed {
            match entry {
                Ok(e) => {
                    rows_sent.push(row);
                    entries.push(e);
                }
                Err(e) => summary.errors.push(e),
            }
        }
        let mut outcomes = submitter.submit(&entries)?;
        witnessed(&mut outcomes)?;
        for (row, outcome) in rows_sent.into_iter().zip(outcomes) {
            match outcome {
                Ok(r) => {
                    if r.seq < size_before {
                        summary.already += 1;
                    } else {
                        summary.added += 1;
                        row_of_seq.insert(r.seq, row);
                    }
                    receipts(&r)?;
                }
                // The nonce is the row's content: the same row, signed at
                // another time.
                Err(e) if e.code == Some(ledger::code::Code::NonceConflict) => summary.already += 1,
                Err(e) => {
                    let problem = explain::node_refusal(&e, |s| row_of_seq.get(&s).copied());
                    summary
                        .errors
                        .push(RowError::new(row, RowFault::of(&e), vec![problem]))
                }
            }
        }
        done += chunk.len() as u64;
        progress.inc(chunk.len() as u64);
    }
    summary.errors.sort_by_key(|e| e.row);
    progress.finish_and_clear();
    Ok(summary)
}

/// The rest of a dry run: what the node's state shows of voucher numbers
/// (a row already in the ledger, or a number used by another entry), each
/// row signed and checked as the node would, and each fund's balance
/// followed row by row. Nothing is sent.
fn dry_run(
    opts: &Import<'_>,
    client: &NodeClient,
    pending: &[Row],
    funds: &Funds,
    summary: &mut Summary,
    sign: impl Fn(&Row) -> Result<SignedEntry, RowError>,
) -> anyhow::Result<()> {
    let mut named: Vec<&str> = pending
        .iter()
        .filter(|r| r.fields.reference.is_some())
        .filter_map(|r| r.fields.fund.as_deref())
        .collect();
    named.sort_unstable();
    named.dedup();
    let refs = ledger_refs(client, opts.issuer, &named)?;
    let mut balances = funds.balances.clone();
    for r in pending {
        if let Some(reference) = r.fields.reference.as_deref() {
            match refs.get(reference) {
                Some((_, nonce)) if *nonce == r.nonce => {
                    summary.already += 1;
                    continue;
                }
                Some((seq, _)) => {
                    summary.errors.push(RowError::new(
                        r.row,
                        RULE,
                        vec![Problem::new("row.voucher_ledger")
                            .text("ref", reference)
                            .text("seq", seq.to_string())],
                    ));
                    continue;
                }
                None => {}
            }
        }
        if let Err(e) = sign(r) {
            summary.errors.push(e);
            continue;
        }
        let (Some(fund), Some(amount)) = (r.fields.fund.as_deref(), r.fields.amount) else {
            summary.added += 1;
            continue;
        };
        let Some(balance) = balances.get_mut(fund) else {
            summary.added += 1;
            continue;
        };
        match opts.kind {
            Kind::Disbursement if amount > *balance => summary.errors.push(RowError::new(
                r.row,
                RULE,
                vec![Problem::new("row.insufficient")
                    .text("fund", fund)
                    .with("available", Arg::Fen(*balance))
                    .with("needed", Arg::Fen(amount))],
            )),
            Kind::Disbursement => {
                *balance -= amount;
                summary.added += 1;
            }
            _ => {
                *balance = balance.saturating_add(amount);
                summary.added += 1;
            }
        }
    }
    Ok(())
}
