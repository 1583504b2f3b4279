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
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use rust_i18n::t;

use crate::client::{seg, NodeClient};
use crate::receipt::{Receipt, Submitter};

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
        other => bail!("import takes disbursement, fund.receive or credit.award rows, not {other}"),
    })
}

/// Spreadsheet labels accepted for coded values: (field, label, code).
const LABELS: &[(&str, &str, &str)] = &[
    ("tier", "救助户", "assisted"),
    ("tier", "脆弱户", "vulnerable"),
    ("tier", "监测户", "monitored"),
    ("cause", "疾病", "illness"),
    ("cause", "因病", "illness"),
    ("cause", "残疾", "disability"),
    ("cause", "因残", "disability"),
    ("cause", "教育", "education"),
    ("cause", "因学", "education"),
    ("cause", "灾害", "disaster"),
    ("cause", "因灾", "disaster"),
    ("cause", "失业", "unemployment"),
    ("cause", "住房", "housing"),
    ("cause", "养老", "elderly"),
    ("cause", "其他", "other"),
    ("method", "现金", "cash"),
    ("method", "实物", "in_kind"),
    ("method", "服务", "service"),
    ("method", "代金券", "voucher"),
];

/// The code a coded field's cell stands for, or why it stands for none
/// (the accepted labels and codes listed).
fn coded(field: &str, raw: &str) -> Result<String, String> {
    let of_field = || LABELS.iter().filter(move |(f, _, _)| *f == field);
    if let Some((_, _, code)) = of_field().find(|(_, label, code)| *label == raw || *code == raw) {
        return Ok((*code).to_owned());
    }
    let mut accepted: Vec<String> = Vec::new();
    for (_, label, code) in of_field() {
        let text = format!("{label}({code})");
        if !accepted.iter().any(|a| a.ends_with(&format!("({code})"))) {
            accepted.push(text);
        }
    }
    let key = format!("field.{field}");
    let name = t!(&key).into_owned();
    Err(t!(
        "row.label",
        field = name,
        value = raw,
        accepted = accepted.join(&t!("list.sep"))
    )
    .into_owned())
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
}

/// One row that did not make it into the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    /// Spreadsheet row number (the header is row 1).
    pub row: u64,
    /// SPEC error code, `bad_row` for what could not become an entry, or
    /// `repeat` for a disbursement held back as a likely second payment.
    pub code: String,
    /// Why.
    pub message: String,
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
                .context("the file is not valid UTF-8 (try --encoding gbk)")?
                .to_string(),
            false,
        )),
        "auto" if std::str::from_utf8(utf8).is_ok() => {
            Ok((String::from_utf8(utf8.to_vec())?, false))
        }
        "gbk" | "auto" => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
            if had_errors {
                bail!("the file is neither valid UTF-8 nor valid GBK");
            }
            Ok((text.into_owned(), true))
        }
        other => bail!("unknown encoding {other}: use utf-8, gbk or auto"),
    }
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
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader.headers().context("reading the header row")?.clone();
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
        let record = record.context("reading the CSV")?;
        let row = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        match row_body(&record, &used, secret) {
            Ok(body) => bodies.push((row, body)),
            Err(message) => errors.push(RowError {
                row,
                code: "bad_row".into(),
                message,
            }),
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

fn row_body(
    record: &csv::StringRecord,
    used: &[(usize, Field)],
    secret: Option<&[u8]>,
) -> Result<Value, String> {
    let mut body = Map::new();
    for (i, field) in used {
        let raw = record.get(*i).unwrap_or("");
        if raw.is_empty() {
            continue;
        }
        let (name, value) =
            match *field {
                Field::Text(name @ ("tier" | "cause" | "method")) => {
                    (name, Value::from(coded(name, raw)?))
                }
                // An id the node's URLs carry (`/v1/funds/{id}`): one that
                // cannot be an id is this row's error, not the import's.
                Field::Text(name @ ("fund" | "need")) if !is_local_id(raw) => {
                    return Err(bad_local_id(name, raw))
                }
                Field::Text(name) => (name, Value::from(raw)),
                Field::Int(name) => (
                    name,
                    Value::from(raw.replace(',', "").parse::<u64>().map_err(|_| {
                        t!("row.not_whole", field = name, value = raw).into_owned()
                    })?),
                ),
                Field::Yuan => ("amount", Value::from(yuan_to_fen(raw)?)),
                Field::Date(name) => (
                    name,
                    Value::from(date(raw).ok_or_else(|| {
                        t!("row.not_date", field = name, value = raw).into_owned()
                    })?),
                ),
                Field::IdNumber(_, _) if is_scientific(raw) => {
                    return Err(t!("row.excel_number", column = i + 1, value = raw).into_owned())
                }
                Field::IdNumber(name, kind) => {
                    let secret = secret.expect("checked with the headers");
                    let p = pseudonym(secret, raw, kind)
                        .map_err(|_| t!("row.bad_id", column = i + 1).into_owned())?;
                    (name, Value::from(p))
                }
            };
        if body.insert(name.to_string(), value).is_some() {
            return Err(t!("row.two_columns", field = name).into_owned());
        }
    }
    Ok(Value::Object(body))
}

/// A fund or need id as SPEC §6 has them: `^[A-Za-z0-9._:-]{1,96}$`.
fn is_local_id(s: &str) -> bool {
    (1..=96).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Why `raw` is no `field` (fund or need) id; the cell is not repeated when
/// it holds what looks like an ID or phone number.
fn bad_local_id(field: &str, raw: &str) -> String {
    let value = if ledger::ident::find_pii(raw).is_some() {
        "…"
    } else {
        raw
    };
    let key = format!("field.{field}");
    t!("row.bad_local_id", field = t!(&key), value = value).into_owned()
}

/// `1,200.5` yuan → 120050 fen.
pub fn yuan_to_fen(raw: &str) -> Result<u64, String> {
    let bad = || t!("row.not_yuan", value = raw).into_owned();
    let s: String = raw.trim_start_matches(['¥', '￥']).replace(',', "");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let fen = format!("{frac:0<2}").parse::<u64>().map_err(|_| bad())?;
    whole
        .parse::<u64>()
        .ok()
        .and_then(|y| y.checked_mul(100)?.checked_add(fen))
        // Past the largest amount an entry may hold (SPEC §6): a row error
        // here rather than a schema refusal from the node.
        .filter(|fen| *fen < 1 << 53)
        .ok_or_else(bad)
}

/// `2026/3/5`, `2026-3-5` or `2026-03-05` → `2026-03-05`.
fn date(raw: &str) -> Option<String> {
    let mut parts = raw.split(['-', '/', '.']);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || m.is_empty()
        || m.len() > 2
        || d.is_empty()
        || d.len() > 2
    {
        return None;
    }
    let (y, m, d): (u32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let s = format!("{y:04}-{m:02}-{d:02}");
    ledger::date::parse(&s).is_some().then_some(s)
}

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

/// Runs an import: rows → checks → signed entries → verified receipts.
/// Stops between arrays once `stop` is set.
#[allow(clippy::too_many_arguments)]
pub fn run(
    opts: &Import<'_>,
    client: &NodeClient,
    submitter: &mut Submitter<'_>,
    rows: Rows,
    size_before: u64,
    progress: &indicatif::ProgressBar,
    stop: &AtomicBool,
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

    // Nonces from content; identical rows of one file counted apart.
    let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut pending = Vec::with_capacity(rows.bodies.len());
    for (row, body) in rows.bodies {
        let canonical =
            ledger::canonical_json(&body).map_err(|e| anyhow::anyhow!("row {row}: {e}"))?;
        let n = seen.entry(canonical.clone()).or_insert(0);
        let nonce = row_nonce(opts.issuer, opts.kind, &canonical, *n);
        *n += 1;
        pending.push(Row { row, body, nonce });
    }

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
                Some(t!("row.repeat_ledger", seq = seq).into_owned())
            } else {
                first_row
                    .get(&key)
                    .map(|row| t!("row.repeat_file", row = row).into_owned())
            };
            match held {
                Some(message) => {
                    summary.held += 1;
                    summary.errors.push(RowError {
                        row: r.row,
                        code: REPEAT.into(),
                        message,
                    });
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
    let mut done = summary.rows - pending.len() as u64;
    for chunk in pending.chunks(crate::client::PAGE as usize) {
        if stop.load(Ordering::SeqCst) {
            summary.interrupted_after = Some(done);
            break;
        }
        let signed: Vec<(u64, Result<SignedEntry, RowError>)> = chunk
            .par_iter()
            .map(|r| {
                let entry = SignedEntry::create(
                    opts.key,
                    opts.issuer,
                    opts.kind,
                    &r.nonce,
                    &issued_at,
                    r.body.clone(),
                )
                .map_err(|e| ("schema_violation", e.to_string()))
                .and_then(|e| precheck(&e).map(|()| e))
                .map_err(|(code, message)| RowError {
                    row: r.row,
                    code: code.into(),
                    message,
                });
                (r.row, entry)
            })
            .collect();
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
        for (row, outcome) in rows_sent.into_iter().zip(submitter.submit(&entries)?) {
            match outcome {
                Ok(r) => {
                    if r.seq < size_before {
                        summary.already += 1;
                    } else {
                        summary.added += 1;
                    }
                    receipts(&r)?;
                }
                // The nonce is the row's content: the same row, signed at
                // another time.
                Err(e) if e.code == ledger::code::Code::NonceConflict.as_str() => {
                    summary.already += 1
                }
                Err(e) => summary.errors.push(RowError {
                    row,
                    code: e.code,
                    message: e.message,
                }),
            }
        }
        done += chunk.len() as u64;
        progress.inc(chunk.len() as u64);
    }
    summary.errors.sort_by_key(|e| e.row);
    progress.finish_and_clear();
    Ok(summary)
}

/// Fen as yuan with thousands separators: `1234567` → `12,345.67`.
pub fn yuan(fen: u64) -> String {
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", fen % 100)
}

/// The checks made once before anything is signed: the key is registered
/// to the issuer, active, and holds the role the kind needs; every fund
/// named exists and is the issuer's. Returns warnings (a file whose total
/// passes a fund's balance); an `Err` means nothing may be sent.
pub fn preflight(
    client: &NodeClient,
    opts: &Import<'_>,
    rows: &Rows,
) -> anyhow::Result<Vec<String>> {
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
        bail!("{} rows cannot be imported", opts.kind);
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
    for (fund, total) in needed {
        let f = match client.get_json(&format!("/v1/funds/{}", seg(fund))) {
            Ok(f) => f,
            Err(e)
                if e.downcast_ref::<crate::client::NodeError>()
                    .is_some_and(|n| n.status == 404) =>
            {
                bail!("{}", t!("preflight.no_fund", fund = fund))
            }
            Err(e) => return Err(e),
        };
        if f["owner"] != opts.issuer {
            bail!(
                "{}",
                t!(
                    "preflight.not_their_fund",
                    fund = fund,
                    owner = f["owner"].as_str().unwrap_or("?"),
                    org = opts.issuer
                )
            );
        }
        let balance = f["balance"].as_u64().unwrap_or(0);
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
    Ok(warnings)
}

/// The checks the node makes before the rules, run here so a bad row is
/// reported by row number without a round trip, and so that a resident ID
/// or mobile number typed into any column never leaves this machine.
fn precheck(e: &SignedEntry) -> Result<(), (&'static str, String)> {
    let value = serde_json::to_value(e).map_err(|e| ("schema_violation", e.to_string()))?;
    ledger::schema::validate_entry(&value).map_err(|e| ("schema_violation", e.to_string()))?;
    match ledger::ident::pii_in_statement(&e.statement) {
        Some((path, pii)) => Err((
            "pii_detected",
            t!(
                "row.pii",
                path = path,
                what = match pii {
                    ledger::ident::Pii::ResidentId => t!("pii.resident_id"),
                    ledger::ident::Pii::Mobile => t!("pii.mobile"),
                }
            )
            .into_owned(),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_and_dates_are_read_as_spreadsheets_write_them() {
        assert_eq!(yuan_to_fen("1,200.5"), Ok(120_050));
        assert_eq!(yuan_to_fen("¥80"), Ok(8_000));
        assert_eq!(yuan_to_fen("0.07"), Ok(7));
        for bad in ["", "1.234", "-5", "1e3", "12.x", "."] {
            assert!(yuan_to_fen(bad).is_err(), "{bad}");
        }
        assert_eq!(date("2026/3/5").as_deref(), Some("2026-03-05"));
        assert_eq!(date("2026-03-05").as_deref(), Some("2026-03-05"));
        assert_eq!(date("2026/2/30"), None);
        assert_eq!(date("26/3/5"), None);
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
        assert_eq!(coded("tier", "救助户"), Ok("assisted".into()));
        assert_eq!(coded("tier", "monitored"), Ok("monitored".into()));
        let e = coded("tier", "贫困户").unwrap_err();
        assert!(
            e.contains("救助户(assisted), 脆弱户(vulnerable), 监测户(monitored)"),
            "{e}"
        );
        assert!(is_scientific("3.21181E+17") && is_scientific("1E+17"));
        assert!(!is_scientific("321181196003120136") && !is_scientific("E+17"));
        let csv = "资金编号,身份证号,类别,致困原因,金额（元）,发放方式,区划代码,日期\n\
                   F1,3.21181E+17,救助户,因病,100,现金,110105,2026/3/5\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::Disbursement, Some(b"s")).unwrap();
        assert!(
            rows.errors[0].message.contains("format the column as text"),
            "{}",
            rows.errors[0].message
        );
    }
}
