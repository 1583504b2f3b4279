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
//! ID numbers in an `id_number` column are turned into pseudonyms on this
//! machine (`--secret-file`); columns the kind does not use (names, phone
//! numbers, …) are never read into an entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use ledger::domain::Kind;
use ledger::entry::SignedEntry;
use ledger::ident::{pseudonym, PseudonymKind};
use rayon::prelude::*;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use rust_i18n::t;

use crate::client::{seg, NodeClient};
use crate::explain::{self, Arg, Problem};
use crate::parse;
use crate::receipt::{Outcome, Receipt, Submitter};
use crate::vocab::yuan;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A string body field.
    Text(&'static str),
    /// An integer body field.
    Int(&'static str),
    /// Yuan with up to two decimals, sent as fen in `amount`.
    Yuan,
    /// A date, normalised to `YYYY-MM-DD`.
    Date(&'static str),
    /// A resident ID number, pseudonymised into this field.
    IdNumber(&'static str, PseudonymKind),
}

/// Columns each kind takes: (header names, field). The first name is the
/// documented English header; the others are common spreadsheet headers.
fn columns(kind: Kind) -> anyhow::Result<Vec<(&'static [&'static str], Field)>> {
    use Field::*;
    Ok(match kind {
        Kind::Disbursement => vec![
            (&["fund", "资金编号", "项目编号"][..], Text("fund")),
            (&["beneficiary", "受助人代码"], Text("beneficiary")),
            (
                &["id_number", "身份证号", "身份证号码"],
                IdNumber("beneficiary", PseudonymKind::Beneficiary),
            ),
            (&["tier", "类别", "户别"], Text("tier")),
            (&["cause", "致困原因"], Text("cause")),
            (&["amount", "金额", "金额（元）", "金额(元)"], Yuan),
            (&["amount_fen", "金额（分）", "金额(分)"], Int("amount")),
            (&["method", "发放方式"], Text("method")),
            (&["region", "行政区划", "区划代码"], Text("region")),
            (&["date", "日期", "发放日期"], Date("date")),
            (&["ref", "凭证号"], Text("ref")),
            (&["need", "需求编号"], Text("need")),
        ],
        Kind::FundReceive => vec![
            (&["fund", "资金编号", "项目编号"][..], Text("fund")),
            (&["amount", "金额", "金额（元）", "金额(元)"], Yuan),
            (&["amount_fen", "金额（分）", "金额(分)"], Int("amount")),
            (&["from", "来源", "捐赠方"], Text("from")),
            (&["date", "日期", "到账日期"], Date("date")),
            (&["ref", "凭证号"], Text("ref")),
        ],
        Kind::CreditAward => vec![
            (&["holder", "积分对象"][..], Text("holder")),
            (
                &["id_number", "身份证号", "身份证号码"],
                IdNumber("holder", PseudonymKind::Volunteer),
            ),
            (&["points", "积分"], Int("points")),
            (&["reason", "事由"], Text("reason")),
            (&["ref", "凭证号"], Text("ref")),
        ],
        other => bail!("{}", t!("import.kinds", kind = other)),
    })
}

/// Body fields a kind's rows must fill, each with the columns that can.
fn required(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Disbursement => &[
            "fund",
            "beneficiary",
            "tier",
            "cause",
            "amount",
            "method",
            "region",
            "date",
        ],
        Kind::FundReceive => &["fund", "amount", "from", "date"],
        Kind::CreditAward => &["holder", "points", "reason"],
        _ => &[],
    }
}

impl Field {
    /// The body field the column fills.
    fn target(self) -> &'static str {
        match self {
            Field::Text(n) | Field::Int(n) | Field::Date(n) | Field::IdNumber(n, _) => n,
            Field::Yuan => "amount",
        }
    }
}

/// A number Excel wrote in scientific notation (`3.21181E+17`): what an ID
/// number becomes in a cell formatted as a number, its last digits lost.
fn is_scientific(raw: &str) -> bool {
    let Some((mantissa, exponent)) = raw.split_once(['E', 'e']) else {
        return false;
    };
    let digits = mantissa.replace('.', "");
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && exponent
            .trim_start_matches('+')
            .bytes()
            .all(|b| b.is_ascii_digit())
        && !exponent.is_empty()
}

/// Options of one import.
pub struct Import<'a> {
    /// Issuing organisation.
    pub issuer: &'a str,
    /// Kind of every row.
    pub kind: Kind,
    /// Signing key.
    pub key: &'a SigningKey,
    /// Import disbursements equal in fund, beneficiary, amount and date to
    /// one already in the ledger or earlier in the file.
    pub allow_repeat: bool,
    /// Check every row, against the node's state too, and send nothing.
    pub dry_run: bool,
}

/// One row that did not make it into the ledger, with everything wrong
/// with it.
#[derive(Debug, Clone)]
pub struct RowError {
    /// The spreadsheet's row number (the header is row 1).
    pub row: u64,
    /// SPEC error code, `bad_row` for what could not become an entry, or
    /// `repeat` for a disbursement held back as a likely second payment.
    pub code: String,
    /// What is wrong, each with what to change.
    pub problems: Vec<Problem>,
}

impl RowError {
    fn new(row: u64, code: &str, problems: Vec<Problem>) -> RowError {
        RowError {
            row,
            code: code.to_owned(),
            problems,
        }
    }

    /// The problems in `locale`.
    pub fn message_in(&self, locale: &str) -> String {
        explain::say_all(locale, &self.problems)
    }
}

/// The code of a row held back as a repeat.
pub const REPEAT: &str = "repeat";

/// The rows of a CSV as entries to sign: (row number, body) or a row error.
pub struct Rows {
    /// Rows turned into bodies.
    pub bodies: Vec<(u64, Value)>,
    /// Rows that could not be.
    pub errors: Vec<RowError>,
    /// Headers not read (never sent).
    pub ignored: Vec<String>,
    /// The file was GBK.
    pub gbk: bool,
    /// The header row had Chinese names.
    pub chinese_headers: bool,
}

/// Decodes the file (UTF-8, with or without BOM, or GBK); true if GBK.
fn decode(bytes: &[u8], encoding: &str) -> anyhow::Result<(String, bool)> {
    let utf8 = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match encoding {
        "utf-8" | "utf8" => Ok((
            std::str::from_utf8(utf8)
                .with_context(|| t!("import.not_utf8"))?
                .to_string(),
            false,
        )),
        "auto" if std::str::from_utf8(utf8).is_ok() => {
            Ok((String::from_utf8(utf8.to_vec())?, false))
        }
        "gbk" | "auto" => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
            if had_errors {
                bail!("{}", t!("import.not_text"));
            }
            Ok((text.into_owned(), true))
        }
        other => bail!("{}", t!("import.encoding", encoding = other)),
    }
}

/// Where each of the spreadsheet's rows starts in `text`: a row ends at a
/// CRLF, LF or CR outside quotes (a quoted cell may hold line breaks and
/// stays one row, as a spreadsheet shows it).
fn row_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut quoted = false;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => quoted = !quoted,
            b'\r' if !quoted => {
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                starts.push(i + 1);
            }
            b'\n' if !quoted => starts.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    starts
}

/// The spreadsheet's row number (1 for the first) of the record the CSV
/// reader says starts at `byte`: the reader may point at the line break
/// that ended the row before, so its first byte that is no break counts.
fn row_at(text: &str, starts: &[usize], byte: usize) -> u64 {
    let first = text.as_bytes()[byte.min(text.len())..]
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .map_or(text.len(), |n| byte + n);
    starts.partition_point(|s| *s <= first) as u64
}

/// Reads the rows into bodies for `kind`.
pub fn read_rows(
    bytes: &[u8],
    encoding: &str,
    kind: Kind,
    secret: Option<&[u8]>,
) -> anyhow::Result<Rows> {
    let (text, gbk) = decode(bytes, encoding)?;
    let columns = columns(kind)?;
    let starts = row_starts(&text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .with_context(|| t!("import.header_row"))?
        .clone();
    let mut used: Vec<(usize, Field)> = Vec::new();
    let mut ignored = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        match columns
            .iter()
            .find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(h)))
        {
            Some((_, field)) => used.push((i, *field)),
            None => ignored.push(h.to_string()),
        }
    }
    // Checked once, at the header: every field the kind needs has a column.
    let missing: Vec<String> = required(kind)
        .iter()
        .filter(|field| !used.iter().any(|(_, f)| f.target() == **field))
        .map(|field| {
            let names: Vec<&str> = columns
                .iter()
                .filter(|(_, f)| f.target() == *field)
                .flat_map(|(names, _)| names.iter().copied())
                .collect();
            format!("{field} ({})", names.join(" / "))
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}",
            t!(
                "import.missing_columns",
                missing = missing.join(", "),
                found = headers.iter().collect::<Vec<_>>().join(", ")
            )
        );
    }
    if used.iter().any(|(_, f)| matches!(f, Field::IdNumber(..))) && secret.is_none() {
        bail!("{}", t!("import.need_secret"));
    }
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| t!("import.reading_csv"))?;
        let byte = record.position().map_or(0, |p| p.byte() as usize);
        let row = row_at(&text, &starts, byte);
        if record.iter().all(str::is_empty) {
            continue;
        }
        match row_body(kind, &record, &used, secret) {
            Ok(body) => bodies.push((row, body)),
            Err(problems) => errors.push(RowError::new(row, "bad_row", problems)),
        }
    }
    Ok(Rows {
        bodies,
        errors,
        ignored,
        gbk,
        chinese_headers: headers.iter().any(|h| !h.is_ascii()),
    })
}

/// A row's body, or every problem it has (not only the first).
fn row_body(
    kind: Kind,
    record: &csv::StringRecord,
    used: &[(usize, Field)],
    secret: Option<&[u8]>,
) -> Result<Value, Vec<Problem>> {
    let mut body = Map::new();
    let mut problems = Vec::new();
    let mut tried: Vec<&'static str> = Vec::new();
    for (i, field) in used {
        let raw = record.get(*i).unwrap_or("");
        if raw.is_empty() {
            continue;
        }
        let name = field.target();
        if tried.contains(&name) {
            problems.push(Problem::new("row.two_columns").with("field", Arg::Field(name)));
            continue;
        }
        tried.push(name);
        let value: Result<Value, Problem> = match *field {
            Field::Text(name @ ("tier" | "cause" | "method")) => {
                parse::coded(name, raw).map(Value::from)
            }
            // An id the node's URLs carry (`/v1/funds/{id}`): one that
            // cannot be an id is this row's error, not the import's.
            Field::Text(name @ ("fund" | "need")) if !is_local_id(raw) => {
                Err(bad_local_id(name, raw))
            }
            Field::Text("region") => parse::region(raw).map(Value::from),
            Field::Text("beneficiary") if !ledger::ident::is_beneficiary(raw) => {
                Err(Problem::new("row.beneficiary").text("value", shown(raw)))
            }
            Field::Text("holder")
                if !ledger::ident::is_org_id(raw) && !ledger::ident::is_volunteer(raw) =>
            {
                Err(Problem::new("row.holder").text("value", shown(raw)))
            }
            Field::Text(name) if raw.chars().count() > max_len(name) => {
                Err(Problem::new("row.too_long")
                    .with("field", Arg::Field(name))
                    .text("max", max_len(name).to_string()))
            }
            Field::Text(_) => Ok(Value::from(raw)),
            Field::Int("points") => match parse::whole("points", raw) {
                Ok(0) => Err(Problem::new("row.points_zero")),
                other => other.map(Value::from),
            },
            Field::Int("amount") => match parse::whole("amount_fen", raw) {
                Ok(0) => Err(Problem::new("row.amount_zero")),
                Ok(fen) if fen >= 1 << 53 => {
                    Err(Problem::new("row.yuan_too_large").text("value", raw))
                }
                other => other.map(Value::from),
            },
            Field::Int(name) => parse::whole(name, raw).map(Value::from),
            Field::Yuan => match parse::yuan_to_fen(raw) {
                Ok(0) => Err(Problem::new("row.amount_zero")),
                other => other.map(Value::from),
            },
            Field::Date(name) => parse::date_of(name, raw).map(Value::from),
            Field::IdNumber(_, _) if is_scientific(raw) => Err(Problem::new("row.excel_number")
                .text("column", (i + 1).to_string())
                .text("value", raw)),
            Field::IdNumber(_, kind) => {
                let secret = secret.expect("checked with the headers");
                pseudonym(secret, raw, kind)
                    .map(Value::from)
                    .map_err(|_| Problem::new("row.bad_id").text("column", (i + 1).to_string()))
            }
        };
        match value {
            Ok(v) => {
                body.insert(name.to_string(), v);
            }
            Err(p) => problems.push(p),
        }
    }
    for field in required(kind) {
        if !tried.contains(field) {
            problems.push(Problem::new("row.missing").with("field", Arg::Field(field)));
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(body))
    } else {
        Err(problems)
    }
}

/// The longest text SPEC §6 allows in `field`.
fn max_len(field: &str) -> usize {
    match field {
        "ref" => 128,
        _ => 2000,
    }
}

/// A cell as a message may repeat it: not when it looks like an ID or
/// phone number.
fn shown(raw: &str) -> &str {
    if ledger::ident::find_pii(raw).is_some() {
        "…"
    } else {
        raw
    }
}

/// A fund or need id as SPEC §6 has them: `^[A-Za-z0-9._:-]{1,96}$`.
fn is_local_id(s: &str) -> bool {
    (1..=96).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Why `raw` is no `field` (fund or need) id; the cell is not repeated when
/// it holds what looks like an ID or phone number.
fn bad_local_id(field: &'static str, raw: &str) -> Problem {
    Problem::new("row.bad_local_id")
        .with("field", Arg::Field(field))
        .text("value", shown(raw))
}

pub use crate::parse::yuan_to_fen;

/// What an import did.
#[derive(Default)]
pub struct Summary {
    /// Rows in the file.
    pub rows: u64,
    /// Rows sequenced by this run.
    pub added: u64,
    /// Rows that were already in the ledger.
    pub already: u64,
    /// Rows held back as repeats (also listed in `errors`).
    pub held: u64,
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
    nonce: String,
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
    fn of(body: &Value) -> Option<PaymentKey> {
        if body.get("ref").is_some() {
            return None;
        }
        let beneficiary = body["beneficiary"].as_str()?;
        // A cell that is no pseudonym is refused when its entry is checked
        // (schema or PII guard); it is never looked up at the node.
        if !ledger::ident::is_beneficiary(beneficiary) {
            return None;
        }
        Some(PaymentKey {
            fund: body["fund"].as_str()?.to_owned(),
            beneficiary: beneficiary.to_owned(),
            amount: body["amount"].as_u64()?,
            date: body["date"].as_str()?.to_owned(),
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
    let mut take = |item: &Value| {
        if item["kind"] != "disbursement"
            || item["issuer"] != issuer
            || item["reversed"].as_bool() == Some(true)
        {
            return;
        }
        if let (Some(key), Some(seq)) = (PaymentKey::of(&item["body"]), item["seq"].as_u64()) {
            if wanted.contains(&key) {
                let nonce = item["nonce"].as_str().unwrap_or_default().to_owned();
                found.entry(key).or_default().push((seq, nonce));
            }
        }
    };
    for (fund, keys) in by_fund {
        let info = client.get_json(&format!("/v1/funds/{}", seg(fund)))?;
        let pages_of_fund = info["disbursements"].as_u64().unwrap_or(0) / crate::client::PAGE + 1;
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
            &mut |item: &Value| {
                if item["issuer"] != issuer {
                    return;
                }
                if let (Some(r), Some(seq)) = (item["body"]["ref"].as_str(), item["seq"].as_u64()) {
                    let nonce = item["nonce"].as_str().unwrap_or_default().to_owned();
                    found.entry(r.to_owned()).or_insert((seq, nonce));
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
        if let Some(p) = body["fund"].as_str().and_then(|f| funds.refused.get(f)) {
            summary
                .errors
                .push(RowError::new(row, "rule_violation", vec![p.clone()]));
            progress.inc(1);
            continue;
        }
        let canonical =
            ledger::canonical_json(&body).map_err(|e| anyhow::anyhow!("row {row}: {e}"))?;
        let n = seen.entry(canonical.clone()).or_insert(0);
        let nonce = row_nonce(opts.issuer, opts.kind, &canonical, *n);
        *n += 1;
        pending.push(Row { row, body, nonce });
    }

    // A voucher number used twice in the file: the later row names the
    // earlier (the node would refuse it naming only a seq).
    let mut first_ref: HashMap<String, u64> = HashMap::new();
    pending.retain(|r| {
        let Some(reference) = r.body["ref"].as_str() else {
            return true;
        };
        match first_ref.get(reference) {
            Some(earlier) => {
                summary.errors.push(RowError::new(
                    r.row,
                    "rule_violation",
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
            .filter_map(|r| PaymentKey::of(&r.body))
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
            let Some(key) = PaymentKey::of(&r.body) else {
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
                        .push(RowError::new(r.row, REPEAT, vec![problem]));
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
            ("schema_violation", vec![problem])
        })
        .and_then(|e| precheck(&e).map(|()| e))
        .map_err(|(code, problems)| RowError::new(r.row, code, problems))
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
                Err(e) if e.code == ledger::code::Code::NonceConflict.as_str() => {
                    summary.already += 1
                }
                Err(e) => {
                    let problem =
                        explain::node_refusal(&e.code, &e.message, |s| row_of_seq.get(&s).copied());
                    summary
                        .errors
                        .push(RowError::new(row, &e.code, vec![problem]))
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
        .filter(|r| r.body.get("ref").is_some())
        .filter_map(|r| r.body["fund"].as_str())
        .collect();
    named.sort_unstable();
    named.dedup();
    let refs = ledger_refs(client, opts.issuer, &named)?;
    let mut balances = funds.balances.clone();
    for r in pending {
        if let Some(reference) = r.body["ref"].as_str() {
            match refs.get(reference) {
                Some((_, nonce)) if *nonce == r.nonce => {
                    summary.already += 1;
                    continue;
                }
                Some((seq, _)) => {
                    summary.errors.push(RowError::new(
                        r.row,
                        "rule_violation",
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
        let (Some(fund), Some(amount)) = (r.body["fund"].as_str(), r.body["amount"].as_u64())
        else {
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
                "rule_violation",
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

/// The funds a file names, as the node shows them before anything is sent.
#[derive(Default)]
pub struct Funds {
    /// The issuer's funds: fund → balance (fen).
    pub balances: HashMap<String, u64>,
    /// Funds whose rows cannot go in (not on this ledger, or another
    /// organisation's): fund → why. Their rows are row errors.
    pub refused: HashMap<String, Problem>,
}

/// What the checks before signing found.
pub struct Preflight {
    /// Warnings (a file whose total passes a fund's balance).
    pub warnings: Vec<String>,
    /// The funds named.
    pub funds: Funds,
}

/// The checks made once before anything is signed: the key is registered
/// to the issuer, active, and holds the role the kind needs; every fund
/// named is read (one that is not there, or not the issuer's, makes its
/// rows row errors). An `Err` means nothing may be sent.
pub fn preflight(client: &NodeClient, opts: &Import<'_>, rows: &Rows) -> anyhow::Result<Preflight> {
    let key = hex::encode(opts.key.verifying_key().to_bytes());
    let org = match client.get_json(&format!("/v1/orgs/{}", seg(opts.issuer))) {
        Ok(org) => org,
        Err(e)
            if e.downcast_ref::<crate::client::NodeError>()
                .is_some_and(|n| n.status == 404) =>
        {
            bail!("{}", t!("preflight.no_org", org = opts.issuer))
        }
        Err(e) => return Err(e),
    };
    let k = org["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["key"] == key.as_str())
        .with_context(|| {
            t!("preflight.not_their_key", key = key, org = opts.issuer).into_owned()
        })?;
    if let Some(seq) = k["revoked_seq"].as_u64() {
        bail!(
            "{}",
            t!("preflight.revoked", key = key, org = opts.issuer, seq = seq)
        );
    }
    let Some(role) = opts.kind.role() else {
        bail!("{}", t!("import.kinds", kind = opts.kind));
    };
    if !k["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r == role.as_str())
    {
        bail!(
            "{}",
            t!(
                "preflight.role",
                key = key,
                org = opts.issuer,
                role = role,
                kind = opts.kind
            )
        );
    }
    let mut needed: std::collections::BTreeMap<&str, u64> = Default::default();
    for (_, body) in &rows.bodies {
        if let Some(fund) = body["fund"].as_str() {
            let amount = body["amount"].as_u64().unwrap_or(0);
            let n = needed.entry(fund).or_default();
            *n = n.saturating_add(amount);
        }
    }
    let mut warnings = Vec::new();
    let mut funds = Funds::default();
    for (fund, total) in needed {
        let f = match client.get_json(&format!("/v1/funds/{}", seg(fund))) {
            Ok(f) => f,
            Err(e)
                if e.downcast_ref::<crate::client::NodeError>()
                    .is_some_and(|n| n.status == 404) =>
            {
                funds.refused.insert(
                    fund.to_owned(),
                    Problem::new("row.no_fund").text("fund", fund),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        if f["owner"] != opts.issuer {
            funds.refused.insert(
                fund.to_owned(),
                Problem::new("row.not_their_fund")
                    .text("fund", fund)
                    .text("owner", f["owner"].as_str().unwrap_or("?"))
                    .text("org", opts.issuer),
            );
            continue;
        }
        let balance = f["balance"].as_u64().unwrap_or(0);
        funds.balances.insert(fund.to_owned(), balance);
        if opts.kind == Kind::Disbursement && total > balance {
            warnings.push(
                rust_i18n::t!(
                    "import.shortfall",
                    fund = fund,
                    balance = yuan(balance),
                    needed = yuan(total),
                    short = yuan(total - balance)
                )
                .into_owned(),
            );
        }
    }
    Ok(Preflight { warnings, funds })
}

/// The checks the node makes before the rules, run here so a bad row is
/// reported by row number without a round trip, and so that a resident ID
/// or mobile number typed into any column never leaves this machine. A
/// schema refusal is said by the field it is about, never in the
/// validator's words.
fn precheck(e: &SignedEntry) -> Result<(), (&'static str, Vec<Problem>)> {
    const SCHEMA: &str = "schema_violation";
    let value = serde_json::to_value(e).map_err(|e| {
        let problem = Problem::new("row.node")
            .text("code", SCHEMA)
            .text("message", e.to_string());
        (SCHEMA, vec![problem])
    })?;
    ledger::schema::validate_entry(&value).map_err(|e| {
        let field = e.path.rsplit('/').next().unwrap_or_default();
        let problem = Problem::new("row.schema").with("field", explain::field_arg(field));
        (SCHEMA, vec![problem])
    })?;
    match ledger::ident::pii_in_statement(&e.statement) {
        Some((path, pii)) => Err((
            "pii_detected",
            vec![Problem::new("row.pii")
                .with(
                    "path",
                    explain::field_arg(path.rsplit('/').next().unwrap_or_default()),
                )
                .with(
                    "what",
                    Arg::Key(match pii {
                        ledger::ident::Pii::ResidentId => "pii.resident_id",
                        ledger::ident::Pii::Mobile => "pii.mobile",
                    }),
                )],
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::ZH;

    #[test]
    fn rows_are_numbered_as_the_spreadsheet_numbers_them() {
        let head = "fund,beneficiary,tier,cause,amount,method,region,date,note\n";
        let good = "F1,bnf_00000000000000000000000000000000000000000000000000000000000000a1,assisted,illness,1,cash,321181,2026-03-05,x\n";
        let bad = "F1,x,assisted,illness,1,cash,321181,2026-03-05,x\n";
        // Rows 2 and 4 good, 3 bad, a blank line 5, a quoted cell over two
        // lines in row 6, 7 bad.
        let text = format!(
            "{head}{good}{bad}{good}\n{}{bad}",
            good.replace(",x\n", ",\"a\nb\"\n")
        );
        for ending in ["\n", "\r\n", "\r"] {
            let t = text.replace('\n', ending);
            for bytes in [
                t.clone().into_bytes(),
                [b"\xEF\xBB\xBF".as_slice(), t.as_bytes()].concat(),
                encoding_rs::GBK.encode(&t).0.into_owned(),
            ] {
                let rows = read_rows(&bytes, "auto", Kind::Disbursement, None).unwrap();
                let bad_rows: Vec<u64> = rows.errors.iter().map(|e| e.row).collect();
                let good_rows: Vec<u64> = rows.bodies.iter().map(|(r, _)| *r).collect();
                assert_eq!(bad_rows, [3, 7], "{ending:?}");
                assert_eq!(good_rows, [2, 4, 6], "{ending:?}");
            }
        }
    }

    #[test]
    fn gbk_rows_with_chinese_headers_become_bodies_and_names_stay_behind() {
        let csv = "资金编号,姓名,身份证号,类别,致困原因,金额（元）,发放方式,区划代码,日期\n\
                   F1,张三,11010519491231002X,救助户,因病,\"1,200.50\",现金,110105,2026/3/5\n\
                   F1,李四,110105194912310021,救助户,因病,100,现金,110105,2026/3/5\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(csv);
        let rows = read_rows(&gbk, "auto", Kind::Disbursement, Some(b"s")).unwrap();
        assert_eq!(rows.ignored, ["姓名"]);
        assert_eq!(rows.bodies.len(), 1);
        let (row, body) = &rows.bodies[0];
        assert_eq!(*row, 2);
        assert_eq!(body["amount"], 120_050);
        assert_eq!(body["tier"], "assisted");
        assert_eq!(body["cause"], "illness");
        assert_eq!(body["date"], "2026-03-05");
        assert!(body["beneficiary"].as_str().unwrap().starts_with("bnf_"));
        assert!(!body.to_string().contains("张三"));
        assert_eq!(rows.errors.len(), 1);
        assert_eq!(rows.errors[0].row, 3);
        assert!(read_rows(&gbk, "auto", Kind::Disbursement, None).is_err());
    }

    #[test]
    fn every_problem_of_a_row_is_said_without_schema_text() {
        let csv = "资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,日期\n\
                   F1,bnf_00000000000000000000000000000000000000000000000000000000000000a1,贫困户,因病,0,现金,3211,\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::Disbursement, None).unwrap();
        let zh = rows.errors[0].message_in(ZH);
        for said in [
            "“贫困户”",
            "金额须大于 0",
            "“3211”不是 6 位行政区划代码",
            "缺少日期",
        ] {
            assert!(zh.contains(said), "{said}: {zh}");
        }
        let en = rows.errors[0].message_in("en");
        assert!(en.contains("date is empty"), "{en}");
        assert!(
            !en.contains("required property") && !en.contains("minimum"),
            "{en}"
        );
    }

    #[test]
    fn headers_labels_and_excel_numbers_are_explained() {
        let e = read_rows(b"fund,amount\nF,1\n", "utf-8", Kind::Disbursement, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("beneficiary (beneficiary / 受助人代码 / id_number / 身份证号"),
            "{e}"
        );
        assert!(e.contains("cause (cause / 致困原因)"), "{e}");
        assert!(is_scientific("3.21181E+17") && is_scientific("1E+17"));
        assert!(!is_scientific("321181196003120136") && !is_scientific("E+17"));
        let csv = "资金编号,身份证号,类别,致困原因,金额（元）,发放方式,区划代码,日期\n\
                   F1,3.21181E+17,救助户,因病,100,现金,110105,2026/3/5\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::Disbursement, Some(b"s")).unwrap();
        assert!(
            rows.errors[0]
                .message_in("en")
                .contains("format the column as text"),
            "{}",
            rows.errors[0].message_in("en")
        );
    }
}
