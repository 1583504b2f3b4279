//! Bulk import from a spreadsheet export (CSV, UTF-8 or GBK): one signed
//! entry per row, submitted in arrays of 1,000 with every receipt verified.
//!
//! A row's nonce is `imp-<tag>-<row>`, with `tag` fixed by a journal file
//! kept next to the CSV on the first run (with the statements' `issued_at`),
//! so a re-run after an interruption signs the very same statements: rows
//! already in the ledger come back as identical resubmissions (their
//! original seq), the rest are added, and nothing is there twice. A row
//! edited after it was imported is refused as `nonce_conflict`.
//!
//! ID numbers in an `id_number` column are turned into pseudonyms on this
//! machine (`--secret-file`); columns the kind does not use (names, phone
//! numbers, …) are never read into an entry.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use ledger::entry::SignedEntry;
use ledger::ident::{pseudonym, PseudonymKind};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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
fn columns(kind: &str) -> anyhow::Result<Vec<(&'static [&'static str], Field)>> {
    use Field::*;
    Ok(match kind {
        "disbursement" => vec![
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
        "fund.receive" => vec![
            (&["fund", "资金编号", "项目编号"][..], Text("fund")),
            (&["amount", "金额", "金额（元）", "金额(元)"], Yuan),
            (&["amount_fen", "金额（分）", "金额(分)"], Int("amount")),
            (&["from", "来源", "捐赠方"], Text("from")),
            (&["date", "日期", "到账日期"], Date("date")),
            (&["ref", "凭证号"], Text("ref")),
        ],
        "credit.award" => vec![
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

/// Spreadsheet labels accepted for coded values, with their codes.
const LABELS: &[(&str, &str)] = &[
    ("救助户", "assisted"),
    ("脆弱户", "vulnerable"),
    ("监测户", "monitored"),
    ("疾病", "illness"),
    ("因病", "illness"),
    ("残疾", "disability"),
    ("因残", "disability"),
    ("教育", "education"),
    ("因学", "education"),
    ("灾害", "disaster"),
    ("因灾", "disaster"),
    ("失业", "unemployment"),
    ("住房", "housing"),
    ("养老", "elderly"),
    ("其他", "other"),
    ("现金", "cash"),
    ("实物", "in_kind"),
    ("服务", "service"),
    ("代金券", "voucher"),
];

/// Options of one import.
pub struct Import<'a> {
    /// The CSV file.
    pub file: &'a Path,
    /// `utf-8`, `gbk` or `auto`.
    pub encoding: &'a str,
    /// Issuing organisation.
    pub issuer: &'a str,
    /// Kind of every row.
    pub kind: &'a str,
    /// Signing key.
    pub key: &'a SigningKey,
    /// Pseudonym secret, needed if there is an ID column.
    pub secret: Option<Vec<u8>>,
    /// Journal path (default: the CSV's path + `.import.json`).
    pub journal: Option<PathBuf>,
}

/// One row that did not make it into the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    /// Spreadsheet row number (the header is row 1).
    pub row: u64,
    /// SPEC error code (or `bad_row` for what could not become an entry).
    pub code: String,
    /// Why.
    pub message: String,
}

/// The journal that makes a re-run sign the same statements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Journal {
    tag: String,
    issued_at: String,
    issuer: String,
    kind: String,
}

/// The rows of a CSV as entries to sign: (row number, body) or a row error.
pub struct Rows {
    /// Rows turned into bodies.
    pub bodies: Vec<(u64, Value)>,
    /// Rows that could not be.
    pub errors: Vec<RowError>,
    /// Headers not read (never sent).
    pub ignored: Vec<String>,
    /// SHA-256 of the file bytes.
    pub digest: [u8; 32],
}

/// Decodes the file (UTF-8, with or without BOM, or GBK).
fn decode(bytes: &[u8], encoding: &str) -> anyhow::Result<String> {
    let utf8 = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match encoding {
        "utf-8" | "utf8" => Ok(std::str::from_utf8(utf8)
            .context("the file is not valid UTF-8 (try --encoding gbk)")?
            .to_string()),
        "auto" if std::str::from_utf8(utf8).is_ok() => Ok(String::from_utf8(utf8.to_vec())?),
        "gbk" | "auto" => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
            if had_errors {
                bail!("the file is neither valid UTF-8 nor valid GBK");
            }
            Ok(text.into_owned())
        }
        other => bail!("unknown encoding {other}: use utf-8, gbk or auto"),
    }
}

/// Reads the rows into bodies for `kind`.
pub fn read_rows(
    bytes: &[u8],
    encoding: &str,
    kind: &str,
    secret: Option<&[u8]>,
) -> anyhow::Result<Rows> {
    let text = decode(bytes, encoding)?;
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
    if used.iter().any(|(_, f)| matches!(f, Field::IdNumber(..))) && secret.is_none() {
        bail!("the file has an ID number column: give --secret-file to turn it into pseudonyms");
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
        digest: Sha256::digest(bytes).into(),
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
        let (name, value) = match *field {
            Field::Text(name) => {
                let code = LABELS
                    .iter()
                    .find(|(l, _)| *l == raw)
                    .map_or(raw, |(_, c)| c);
                (name, Value::from(code))
            }
            Field::Int(name) => (
                name,
                Value::from(
                    raw.replace(',', "")
                        .parse::<u64>()
                        .map_err(|_| format!("{name}: {raw:?} is not a whole number"))?,
                ),
            ),
            Field::Yuan => ("amount", Value::from(yuan_to_fen(raw)?)),
            Field::Date(name) => (
                name,
                Value::from(date(raw).ok_or_else(|| format!("{name}: {raw:?} is not a date"))?),
            ),
            Field::IdNumber(name, kind) => {
                let secret = secret.expect("checked with the headers");
                let p = pseudonym(secret, raw, kind).map_err(|_| {
                    format!(
                        "the ID number in column {} is not valid (check character)",
                        i + 1
                    )
                })?;
                (name, Value::from(p))
            }
        };
        if body.insert(name.to_string(), value).is_some() {
            return Err(format!("{name} is given by two columns"));
        }
    }
    Ok(Value::Object(body))
}

/// `1,200.5` yuan → 120050 fen.
fn yuan_to_fen(raw: &str) -> Result<u64, String> {
    let bad = || format!("amount: {raw:?} is not an amount in yuan (at most two decimals)");
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
    ledger::entry::is_date(&s).then_some(s)
}

/// What an import did.
pub struct Summary {
    /// Rows in the file.
    pub rows: u64,
    /// Rows sequenced by this run.
    pub added: u64,
    /// Rows that were already in the ledger (identical resubmissions).
    pub already: u64,
    /// Rows refused or unreadable.
    pub errors: Vec<RowError>,
    /// Columns not read.
    pub ignored: Vec<String>,
}

/// Runs an import: rows → signed entries → verified receipts.
pub fn run(
    opts: &Import<'_>,
    submitter: &mut Submitter<'_>,
    size_before: u64,
    progress: &indicatif::ProgressBar,
    mut receipts: impl FnMut(&Receipt) -> anyhow::Result<()>,
) -> anyhow::Result<Summary> {
    let bytes =
        std::fs::read(opts.file).with_context(|| format!("reading {}", opts.file.display()))?;
    let rows = read_rows(&bytes, opts.encoding, opts.kind, opts.secret.as_deref())?;
    let journal = journal(opts, &rows.digest)?;
    let mut summary = Summary {
        rows: (rows.bodies.len() + rows.errors.len()) as u64,
        added: 0,
        already: 0,
        errors: rows.errors,
        ignored: rows.ignored,
    };
    progress.set_length(summary.rows);
    progress.inc(summary.errors.len() as u64);
    for chunk in rows.bodies.chunks(crate::client::PAGE as usize) {
        let signed: Vec<(u64, Result<SignedEntry, RowError>)> = chunk
            .par_iter()
            .map(|(row, body)| {
                let nonce = format!("imp-{}-{row}", journal.tag);
                let entry = SignedEntry::create(
                    opts.key,
                    opts.issuer,
                    opts.kind,
                    &nonce,
                    &journal.issued_at,
                    body.clone(),
                )
                .map_err(|e| ("schema_violation", e.to_string()))
                .and_then(|e| precheck(&e).map(|()| e))
                .map_err(|(code, message)| RowError {
                    row: *row,
                    code: code.into(),
                    message,
                });
                (*row, entry)
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
                Err(e) => summary.errors.push(RowError {
                    row,
                    code: e.code,
                    message: e.message,
                }),
            }
        }
        progress.inc(chunk.len() as u64);
    }
    summary.errors.sort_by_key(|e| e.row);
    progress.finish_and_clear();
    Ok(summary)
}

/// The checks the node makes before the rules, run here so a bad row is
/// reported by row number without a round trip, and so that a resident ID
/// or mobile number typed into any column never leaves this machine.
fn precheck(e: &SignedEntry) -> Result<(), (&'static str, String)> {
    let value = serde_json::to_value(e).map_err(|e| ("schema_violation", e.to_string()))?;
    ledger::schema::validate_entry(&value).map_err(|e| ("schema_violation", e.to_string()))?;
    match ledger::ident::pii_in_body(&e.statement.body) {
        Some((path, _)) => Err((
            "pii_detected",
            format!("{path} holds a resident ID or mobile number; not sent"),
        )),
        None => Ok(()),
    }
}

/// Reads the import's journal, or writes a new one.
fn journal(opts: &Import<'_>, digest: &[u8; 32]) -> anyhow::Result<Journal> {
    let path = opts.journal.clone().unwrap_or_else(|| {
        let mut p = opts.file.as_os_str().to_owned();
        p.push(".import.json");
        PathBuf::from(p)
    });
    if let Ok(bytes) = std::fs::read(&path) {
        let j: Journal = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is damaged", path.display()))?;
        if j.issuer != opts.issuer || j.kind != opts.kind {
            bail!(
                "{} belongs to an import of {} rows by {}; remove it or give --journal",
                path.display(),
                j.kind,
                j.issuer
            );
        }
        return Ok(j);
    }
    let j = Journal {
        tag: hex::encode(&digest[..6]),
        issued_at: ledger::entry::format_timestamp(std::time::SystemTime::now()),
        issuer: opts.issuer.to_string(),
        kind: opts.kind.to_string(),
    };
    crate::write_durably(&path, &serde_json::to_vec_pretty(&j)?)?;
    Ok(j)
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
        let rows = read_rows(&gbk, "auto", "disbursement", Some(b"s")).unwrap();
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
        assert!(read_rows(&gbk, "auto", "disbursement", None).is_err());
    }
}
