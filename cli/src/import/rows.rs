//! A spreadsheet's rows: decoded (UTF-8 or GBK), numbered as the
//! spreadsheet numbers them, columns found by their headers, each row made
//! a body or a list of problems.

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use ledger::code::Code;
use ledger::domain::Kind;
use ledger::ident::{normalise_resident_id, IdProblem, PseudonymKind};
use serde_json::{Map, Value};

use rust_i18n::t;

use crate::explain::{self, Arg, Problem};
use crate::parse;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A string body field.
    Text(&'static str),
    /// A coded field (`target`), written as its code or a label of the
    /// vocabulary `vocab` (因病, 通过, 多发).
    Label(&'static str, &'static str),
    /// A list of codes or labels of `vocab`, separated as a sheet writes
    /// them (、 ， , ； ; / or spaces).
    Labels(&'static str, &'static str),
    /// An integer body field.
    Int(&'static str),
    /// Yuan with up to two decimals, sent as fen in `amount`.
    Yuan,
    /// A date, normalised to `YYYY-MM-DD`.
    Date(&'static str),
    /// A resident ID number, whose pseudonym (from the pseudonym service,
    /// [`Rows::pseudonymise`]) fills this field.
    IdNumber(&'static str, PseudonymKind),
}

/// The columns of a beneficiary: its pseudonym, or an ID number whose
/// pseudonym goes into `target`.
const fn beneficiary(target: &'static str) -> [(&'static [&'static str], Field); 2] {
    [
        (&["beneficiary", "受助人代码"], Field::Text(target)),
        (
            &["id_number", "身份证号", "身份证号码"],
            Field::IdNumber(target, PseudonymKind::Beneficiary),
        ),
    ]
}

/// The amount columns: yuan, or fen.
const AMOUNT: [(&[&str], Field); 2] = [
    (&["amount", "金额", "金额（元）", "金额(元)"], Field::Yuan),
    (
        &["amount_fen", "金额（分）", "金额(分)"],
        Field::Int("amount"),
    ),
];

const FUND: (&[&str], Field) = (&["fund", "资金编号", "项目编号"], Field::Text("fund"));
const REGION: (&[&str], Field) = (&["region", "行政区划", "区划代码"], Field::Text("region"));
const REF: (&[&str], Field) = (&["ref", "凭证号"], Field::Text("ref"));

/// Columns each kind takes: (header names, field). The first name is the
/// documented English header; the others are common spreadsheet headers.
fn columns(kind: Kind) -> anyhow::Result<Vec<(&'static [&'static str], Field)>> {
    use Field::*;
    let columns: Vec<(&'static [&'static str], Field)> = match kind {
        Kind::Disbursement => [FUND]
            .into_iter()
            .chain(beneficiary("beneficiary"))
            .chain(AMOUNT)
            .chain([
                (&["tier", "类别", "户别"][..], Label("tier", "tier")),
                (&["cause", "致困原因"], Label("cause", "cause")),
                (&["method", "发放方式"], Label("method", "method")),
                REGION,
                (&["date", "日期", "发放日期"], Date("date")),
                REF,
                (&["need", "需求编号"], Text("need")),
            ])
            .collect(),
        Kind::FundReceive => [FUND]
            .into_iter()
            .chain(AMOUNT)
            .chain([
                (&["from", "来源", "捐赠方"][..], Text("from")),
                (&["date", "日期", "到账日期"], Date("date")),
                REF,
            ])
            .collect(),
        Kind::CreditAward => vec![
            (&["holder", "积分对象"][..], Text("holder")),
            (
                &["id_number", "身份证号", "身份证号码"],
                IdNumber("holder", PseudonymKind::Volunteer),
            ),
            (&["points", "积分"], Int("points")),
            (&["reason", "事由"], Text("reason")),
            REF,
        ],
        Kind::HouseholdMonitor => beneficiary("beneficiary")
            .into_iter()
            .chain([
                (
                    &["tier", "类别", "户别", "监测类别"][..],
                    Label("tier", "tier"),
                ),
                (
                    &["risks", "风险类型", "返贫风险", "致贫风险"],
                    Labels("risks", "risk"),
                ),
                REGION,
                (
                    &["review_by", "下次回访日期", "回访日期", "复核日期"],
                    Date("review_by"),
                ),
            ])
            .collect(),
        Kind::HouseholdVisit => beneficiary("beneficiary")
            .into_iter()
            .chain([
                (&["date", "走访日期", "日期"][..], Date("date")),
                (&["findings", "走访情况", "情况"], Text("findings")),
                (&["next_review_by", "下次回访日期"], Date("next_review_by")),
            ])
            .collect(),
        Kind::HouseholdClose => beneficiary("beneficiary")
            .into_iter()
            .chain([(&["reason", "退出原因", "原因"][..], Text("reason"))])
            .collect(),
        Kind::FundRecover => [FUND]
            .into_iter()
            .chain(AMOUNT)
            .chain([
                (&["from", "退款人", "退回方"][..], Text("from")),
                (
                    &["id_number", "身份证号", "身份证号码"],
                    IdNumber("from", PseudonymKind::Beneficiary),
                ),
                (
                    &["reason", "回笼原因", "原因"],
                    Label("reason", "recovery_reason"),
                ),
                (&["date", "日期", "回笼日期", "退回日期"], Date("date")),
                (
                    &["disbursement", "原发放序号", "发放序号"],
                    Int("disbursement"),
                ),
                REF,
            ])
            .collect(),
        Kind::NeedReview => vec![
            (&["need", "需求编号"][..], Text("need")),
            (
                &["decision", "审核意见", "审核结果"],
                Label("decision", "decision"),
            ),
            (&["note", "审核说明", "说明"], Text("note")),
        ],
        other => bail!("{}", t!("import.kinds", kind = other)),
    };
    Ok(columns)
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
        Kind::HouseholdMonitor => &["beneficiary", "tier", "risks", "region", "review_by"],
        Kind::HouseholdVisit => &["beneficiary", "date", "findings", "next_review_by"],
        Kind::HouseholdClose => &["beneficiary", "reason"],
        Kind::FundRecover => &["fund", "amount", "from", "reason", "date"],
        Kind::NeedReview => &["need", "decision", "note"],
        _ => &[],
    }
}

impl Field {
    /// The body field the column fills.
    fn target(self) -> &'static str {
        match self {
            Field::Text(n)
            | Field::Label(n, _)
            | Field::Labels(n, _)
            | Field::Int(n)
            | Field::Date(n)
            | Field::IdNumber(n, _) => n,
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
    /// Import disbursements that would raise a duplicate-aid alert.
    pub allow_duplicates: bool,
}

/// One row that did not make it into the ledger, with everything wrong
/// with it.
#[derive(Debug, Clone)]
pub struct RowError {
    /// The spreadsheet's row number (the header is row 1).
    pub row: u64,
    /// Why it was not sent or not taken.
    pub code: RowFault,
    /// What is wrong, each with what to change.
    pub problems: Vec<Problem>,
}

impl RowError {
    pub(super) fn new(row: u64, code: RowFault, problems: Vec<Problem>) -> RowError {
        RowError {
            row,
            code,
            problems,
        }
    }

    /// The problems in `locale`.
    pub fn message_in(&self, locale: &str) -> String {
        explain::say_all(locale, &self.problems)
    }
}

/// The code of a row held back as a repeat.
/// Why a row is not in the ledger: the report's code column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFault {
    /// The row could not become an entry (`bad_row`).
    Unreadable,
    /// A disbursement held back as a likely second payment (`repeat`).
    Repeat,
    /// A disbursement held back because it would raise a duplicate-aid
    /// alert: another organisation paid the family for the same cause
    /// within 90 days (`duplicate`).
    Duplicate,
    /// Refused with a SPEC code, by the node or by the same checks here.
    Refused(Code),
    /// The node answered with a status but not the SPEC's error.
    Http(u16),
}

impl RowFault {
    /// The fault of a node's refusal.
    pub fn of(e: &crate::refusal::NodeError) -> RowFault {
        e.code.map_or(RowFault::Http(e.status), RowFault::Refused)
    }

    /// As the report writes it: the SPEC's code, `bad_row`, `repeat` or
    /// `http_<status>`.
    pub fn as_str(&self) -> std::borrow::Cow<'static, str> {
        match self {
            RowFault::Unreadable => "bad_row".into(),
            RowFault::Repeat => "repeat".into(),
            RowFault::Duplicate => "duplicate".into(),
            RowFault::Refused(c) => c.as_str().into(),
            RowFault::Http(status) => format!("http_{status}").into(),
        }
    }
}

impl std::fmt::Display for RowFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

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
    /// Rows with an ID number that is none (also in `errors`): a file with
    /// any is not sent at all.
    pub bad_ids: usize,
    /// The ID numbers whose pseudonyms the bodies still need: (index in
    /// `bodies`, field, domain, normalised ID). Only in memory; emptied by
    /// [`Rows::pseudonymise`].
    ids: Vec<(usize, &'static str, PseudonymKind, String)>,
}

/// Pseudonyms of normalised ID numbers in a domain, in order (the
/// pseudonym service, [`crate::pseudonym::client::PseudonymClient`]).
pub type Pseudonymise<'a> = dyn Fn(PseudonymKind, &[String]) -> anyhow::Result<Vec<String>> + 'a;

impl Rows {
    /// Whether some row gave an ID number instead of a pseudonym.
    pub fn needs_pseudonyms(&self) -> bool {
        !self.ids.is_empty()
    }

    /// Fills in the pseudonyms of the rows' ID numbers, each distinct ID
    /// asked once per domain, and forgets the ID numbers.
    pub fn pseudonymise(&mut self, pseudonyms: &Pseudonymise<'_>) -> anyhow::Result<()> {
        for domain in [PseudonymKind::Beneficiary, PseudonymKind::Volunteer] {
            let mut distinct: Vec<&String> = self
                .ids
                .iter()
                .filter(|(_, _, d, _)| *d == domain)
                .map(|(_, _, _, id)| id)
                .collect();
            if distinct.is_empty() {
                continue;
            }
            distinct.sort_unstable();
            distinct.dedup();
            let distinct: Vec<String> = distinct.into_iter().cloned().collect();
            let made = pseudonyms(domain, &distinct)?;
            anyhow::ensure!(
                made.len() == distinct.len(),
                "{} pseudonyms for {} IDs",
                made.len(),
                distinct.len()
            );
            for (body, field, d, id) in &self.ids {
                if *d != domain {
                    continue;
                }
                let at = distinct.binary_search(id).expect("every ID was asked");
                self.bodies[*body].1[*field] = Value::from(made[at].clone());
            }
        }
        self.ids.clear();
        Ok(())
    }
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
pub fn read_rows(bytes: &[u8], encoding: &str, kind: Kind) -> anyhow::Result<Rows> {
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
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    let mut ids = Vec::new();
    let mut bad_ids = 0;
    for record in reader.records() {
        let record = record.with_context(|| t!("import.reading_csv"))?;
        let byte = record.position().map_or(0, |p| p.byte() as usize);
        let row = row_at(&text, &starts, byte);
        if record.iter().all(str::is_empty) {
            continue;
        }
        match row_body(kind, &record, &used) {
            Ok((body, row_ids)) => {
                let at = bodies.len();
                ids.extend(row_ids.into_iter().map(|(f, d, id)| (at, f, d, id)));
                bodies.push((row, body));
            }
            Err(problems) => {
                if problems.iter().any(|p| p.key.starts_with("row.id_")) {
                    bad_ids += 1;
                }
                errors.push(RowError::new(row, RowFault::Unreadable, problems));
            }
        }
    }
    Ok(Rows {
        bodies,
        errors,
        ignored,
        gbk,
        chinese_headers: headers.iter().any(|h| !h.is_ascii()),
        bad_ids,
        ids,
    })
}

/// The ID numbers of a row whose pseudonyms it needs: (field, domain,
/// normalised ID).
type RowIds = Vec<(&'static str, PseudonymKind, String)>;

/// A row's body and its ID numbers, or every problem it has (not only the
/// first).
fn row_body(
    kind: Kind,
    record: &csv::StringRecord,
    used: &[(usize, Field)],
) -> Result<(Value, RowIds), Vec<Problem>> {
    let mut body = Map::new();
    let mut ids = RowIds::new();
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
            Field::Label(_, vocab) => parse::coded(vocab, raw).map(Value::from),
            Field::Labels(_, vocab) => raw
                .split(['、', '，', ',', '；', ';', '/', ' '])
                .filter(|l| !l.trim().is_empty())
                .map(|l| parse::coded(vocab, l))
                .collect::<Result<Vec<String>, Problem>>()
                .map(Value::from),
            // An id the node's URLs carry (`/v1/funds/{id}`): one that
            // cannot be an id is this row's error, not the import's.
            Field::Text(name @ ("fund" | "need")) if !is_local_id(raw) => {
                Err(bad_local_id(name, raw))
            }
            Field::Text("region") => parse::region(raw).map(Value::from),
            Field::Text("beneficiary") if !ledger::ident::is_beneficiary(raw) => {
                Err(Problem::new("row.beneficiary").text("value", shown(raw)))
            }
            // Who paid money back: a household or an organisation.
            Field::Text("from")
                if kind == Kind::FundRecover
                    && !ledger::ident::is_beneficiary(raw)
                    && !ledger::ident::is_org_id(raw) =>
            {
                Err(Problem::new("row.payer").text("value", shown(raw)))
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
            Field::IdNumber(_, _) if is_scientific(raw) => Err(Problem::new("row.id_excel")
                .text("column", (i + 1).to_string())
                .text("value", raw)),
            // The pseudonym is asked for later, for the whole file at once;
            // the number itself is never put in a body or a message.
            Field::IdNumber(name, domain) => match normalise_resident_id(raw) {
                Ok(id) => {
                    ids.push((name, domain, id));
                    continue;
                }
                Err(IdProblem::Shape) => {
                    Err(Problem::new("row.id_shape").text("column", (i + 1).to_string()))
                }
                Err(IdProblem::CheckChar { expected }) => Err(Problem::new("row.id_check")
                    .text("column", (i + 1).to_string())
                    .text("expected", expected.to_string())),
            },
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
        Ok((Value::Object(body), ids))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::ZH;

    /// A stand-in for the pseudonym service: the ID's digits, padded.
    fn fake_of(id: &str) -> String {
        format!("bnf_{:0>64}", id.to_ascii_lowercase().replace('x', "a"))
    }

    fn fake(_: PseudonymKind, ids: &[String]) -> anyhow::Result<Vec<String>> {
        Ok(ids.iter().map(|id| fake_of(id)).collect())
    }

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
                let rows = read_rows(&bytes, "auto", Kind::Disbursement).unwrap();
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
        let mut rows = read_rows(&gbk, "auto", Kind::Disbursement).unwrap();
        assert!(rows.needs_pseudonyms());
        rows.pseudonymise(&fake).unwrap();
        assert!(!rows.needs_pseudonyms());
        assert_eq!(rows.ignored, ["姓名"]);
        assert_eq!(rows.bodies.len(), 1);
        let (row, body) = &rows.bodies[0];
        assert_eq!(*row, 2);
        assert_eq!(body["amount"], 120_050);
        assert_eq!(body["tier"], "assisted");
        assert_eq!(body["cause"], "illness");
        assert_eq!(body["date"], "2026-03-05");
        assert_eq!(body["beneficiary"], fake_of("11010519491231002X"));
        assert!(!body.to_string().contains("张三"));
        assert_eq!(rows.errors.len(), 1);
        assert_eq!(rows.errors[0].row, 3);
        assert_eq!(rows.bad_ids, 1);
        let said = rows.errors[0].message_in(ZH);
        assert!(
            said.contains("按前 17 位应为 X") && !said.contains("110105"),
            "{said}"
        );
    }

    #[test]
    fn every_problem_of_a_row_is_said_without_schema_text() {
        let csv = "资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,日期\n\
                   F1,bnf_00000000000000000000000000000000000000000000000000000000000000a1,贫困户,因病,0,现金,3211,\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::Disbursement).unwrap();
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
        let e = read_rows(b"fund,amount\nF,1\n", "utf-8", Kind::Disbursement)
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
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::Disbursement).unwrap();
        assert!(
            rows.errors[0]
                .message_in("en")
                .contains("format the column as text"),
            "{}",
            rows.errors[0].message_in("en")
        );
    }

    #[test]
    fn a_monitoring_sheet_takes_several_risks_in_a_cell_and_names_a_bad_row() {
        let sample = include_bytes!("../../samples/households-gbk.csv");
        let rows = read_rows(sample, "auto", Kind::HouseholdMonitor).unwrap();
        assert!(rows.gbk && rows.chinese_headers);
        assert_eq!(rows.ignored, ["姓名", "联系电话"]);
        assert!(rows.errors.is_empty(), "{:?}", rows.errors);
        let risks: Vec<&Value> = rows.bodies.iter().map(|(_, b)| &b["risks"]).collect();
        assert_eq!(
            risks,
            [
                &serde_json::json!(["illness", "income"]),
                &serde_json::json!(["disability"]),
                &serde_json::json!(["education", "unemployment"])
            ]
        );
        let (_, first) = &rows.bodies[0];
        assert_eq!(first["tier"], "monitored");
        assert_eq!(first["review_by"], "2026-12-31");
        assert!(!first.to_string().contains("139"), "{first}");

        let csv = "受助人代码,户别,返贫风险,区划代码,下次回访日期\n\
                   bnf_00000000000000000000000000000000000000000000000000000000000000a1,监测户,因赌,321181,2026-12-31\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::HouseholdMonitor).unwrap();
        assert_eq!(rows.errors[0].row, 2);
        let zh = rows.errors[0].message_in(ZH);
        assert!(
            zh.contains("“因赌”") && zh.contains("因病(illness)"),
            "{zh}"
        );
    }

    #[test]
    fn a_recovery_names_who_paid_back_and_a_visit_its_dates() {
        let csv = "资金编号,退款人,金额（元）,回笼原因,退回日期,原发放序号\n\
                   F1,bnf_00000000000000000000000000000000000000000000000000000000000000a1,500,多发,2026/4/1,12\n\
                   F1,张三,500,多发,2026/4/1,12\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::FundRecover).unwrap();
        let (_, body) = &rows.bodies[0];
        assert_eq!(body["reason"], "overpaid");
        assert_eq!(
            (body["amount"].as_u64(), body["disbursement"].as_u64()),
            (Some(50_000), Some(12))
        );
        assert_eq!(rows.errors[0].row, 3);
        assert!(rows.errors[0]
            .message_in("en")
            .contains("neither a beneficiary pseudonym"));

        let csv = "受助人代码,走访日期,走访情况,下次回访日期\n\
                   bnf_00000000000000000000000000000000000000000000000000000000000000a1,2026/9/20,已复工,2026/12/31\n";
        let rows = read_rows(csv.as_bytes(), "utf-8", Kind::HouseholdVisit).unwrap();
        assert_eq!(rows.bodies[0].1["next_review_by"], "2026-12-31");
        let e = read_rows(b"beneficiary,date\n", "utf-8", Kind::HouseholdVisit)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("next_review_by (next_review_by / 下次回访日期)"),
            "{e}"
        );
    }
}
