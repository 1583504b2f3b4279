//! What a user is told about a value or a row that cannot go in: one
//! [`Problem`] per thing wrong, kept as a key of the table
//! (`cli/locales/app.yml`) and its arguments, and said in whichever
//! language the reader needs (the terminal's, or the input file's for an
//! import report). Amounts travel as fen and are said in yuan; field names
//! are said as the spreadsheet's column names. Nothing here is JSON-Schema
//! text or a node's English.

use std::fmt;

use ledger::code::Detail;

use crate::refusal::NodeError;

pub use crate::vocab::ZH;

/// One argument of a problem, rendered per language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Text shown as it is (a cell, an id).
    Text(String),
    /// An amount in fen, said in yuan with thousands separators.
    Fen(u64),
    /// A body field, said by its column name (`field.<name>`).
    Field(&'static str),
    /// The labels and codes accepted for a coded field.
    Labels(&'static str),
    /// Another text of the table, by its key.
    Key(&'static str),
    /// A coded value of a field (`cause`, `illness`): its label in Chinese,
    /// its code in English.
    Code(&'static str, String),
}

/// The body fields an import fills, said by their column names.
const FIELDS: &[&str] = &[
    "fund",
    "beneficiary",
    "tier",
    "cause",
    "amount",
    "method",
    "region",
    "date",
    "ref",
    "need",
    "from",
    "holder",
    "points",
    "reason",
    "risks",
    "review_by",
    "next_review_by",
    "findings",
    "disbursement",
    "decision",
    "note",
];

/// A body field named in a path: by its column name if it is one an
/// import fills, else as it is.
pub fn field_arg(name: &str) -> Arg {
    FIELDS
        .iter()
        .find(|f| **f == name)
        .map_or_else(|| Arg::Text(name.to_owned()), |f| Arg::Field(f))
}

/// One thing wrong: a key of the table and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The table's key.
    pub key: &'static str,
    /// `%{name}` → value.
    pub args: Vec<(&'static str, Arg)>,
}

impl Problem {
    /// A problem said by `key`.
    pub fn new(key: &'static str) -> Problem {
        Problem {
            key,
            args: Vec::new(),
        }
    }

    /// With `%{name}` set to `arg`.
    pub fn with(mut self, name: &'static str, arg: Arg) -> Problem {
        self.args.push((name, arg));
        self
    }

    /// With `%{name}` set to `text`.
    pub fn text(self, name: &'static str, text: impl Into<String>) -> Problem {
        self.with(name, Arg::Text(text.into()))
    }

    /// The problem in `locale`.
    pub fn say_in(&self, locale: &str) -> String {
        let mut s = lookup(locale, self.key);
        for (name, arg) in &self.args {
            let value = match arg {
                Arg::Text(t) => t.clone(),
                Arg::Fen(fen) => crate::vocab::yuan(*fen),
                Arg::Field(f) => field_name(locale, f),
                Arg::Labels(field) => {
                    crate::vocab::accepted(field).join(&lookup(locale, "list.sep"))
                }
                Arg::Key(key) => lookup(locale, key),
                Arg::Code(field, code) => crate::vocab::label_in(locale, field, code),
            };
            s = s.replace(&format!("%{{{name}}}"), &value);
        }
        s
    }
}

impl fmt::Display for Problem {
    /// In the interface's language.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.say_in(&rust_i18n::locale()))
    }
}

impl std::error::Error for Problem {}

/// The text of `key` in `locale` (English if the table has none there; the
/// key itself if neither).
pub fn lookup(locale: &str, key: &str) -> String {
    crate::_rust_i18n_try_translate(locale, key)
        .or_else(|| crate::_rust_i18n_try_translate("en", key))
        .map_or_else(|| key.to_owned(), |c| c.into_owned())
}

/// A body field as its column is called in `locale`.
pub fn field_name(locale: &str, field: &str) -> String {
    let key = format!("field.{field}");
    crate::_rust_i18n_try_translate(locale, &key)
        .map_or_else(|| field.to_owned(), |c| c.into_owned())
}

/// Several problems of one row, in `locale`.
pub fn say_all(locale: &str, problems: &[Problem]) -> String {
    let sep = lookup(locale, "problem.sep");
    problems
        .iter()
        .map(|p| p.say_in(locale))
        .collect::<Vec<_>>()
        .join(&sep)
}

/// What a SPEC code (or the import's `bad_row` and `repeat`) means, in
/// `locale`.
pub fn meaning(locale: &str, code: &str) -> String {
    lookup(locale, &format!("code.{code}"))
}

/// What to do about a row refused with `code`, in `locale`.
pub fn fix(locale: &str, code: &str) -> String {
    lookup(locale, &format!("fix.{code}"))
}

/// The node's refusal of a row as a problem: from the refusal's details
/// (a balance short, a voucher number used before, a need or fund that is
/// missing …) with their numbers; any other said by its code alone in
/// Chinese and with the node's words in English. `row_of_seq` names the
/// row of this import that holds a seq, if one does.
pub fn node_refusal(e: &NodeError, row_of_seq: impl Fn(u64) -> Option<u64>) -> Problem {
    match &e.detail {
        Some(Detail::InsufficientBalance {
            fund,
            available,
            needed,
            ..
        }) => Problem::new("row.insufficient")
            .text("fund", fund)
            .with("available", Arg::Fen(*available))
            .with("needed", Arg::Fen(*needed)),
        Some(Detail::DuplicateVoucher { reference, seq, .. }) => match row_of_seq(*seq) {
            Some(row) => Problem::new("row.voucher_file")
                .text("ref", reference)
                .text("row", row.to_string()),
            None => Problem::new("row.voucher_ledger")
                .text("ref", reference)
                .text("seq", seq.to_string()),
        },
        Some(Detail::NoNeed { need }) => Problem::new("row.no_need").text("need", need),
        Some(Detail::NeedNotClaimed { need, .. }) => {
            Problem::new("row.need_unclaimed").text("need", need)
        }
        Some(Detail::NeedOtherBeneficiary { need }) => {
            Problem::new("row.need_other").text("need", need)
        }
        Some(Detail::NoFund { fund }) => Problem::new("row.no_fund").text("fund", fund),
        Some(Detail::UnknownHolder { holder }) => {
            Problem::new("row.holder_unknown").text("holder", holder)
        }
        _ => Problem::new("row.node")
            .text("code", e.code_str())
            .text("message", &e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(detail: Detail) -> NodeError {
        ledger::rules::Refusal::because(ledger::code::Code::RuleViolation, detail).into()
    }

    #[test]
    fn node_refusals_are_said_with_their_numbers_in_both_languages() {
        let p = node_refusal(
            &refused(Detail::InsufficientBalance {
                fund: "MED".into(),
                available: 23_239_900,
                needed: 100_000_000,
                reversing: None,
            }),
            |_| None,
        );
        assert_eq!(
            p.say_in(ZH),
            "资金 MED 余额不足：可用 232,399.00 元，本行需要 1,000,000.00 元"
        );
        assert!(p.say_in("en").contains("232,399.00 yuan available"));
        let v = refused(Detail::DuplicateVoucher {
            issuer: "CN-USCI-X".into(),
            reference: "MZ-1".into(),
            seq: 7,
        });
        let in_file = node_refusal(&v, |s| (s == 7).then_some(3));
        assert_eq!(
            in_file.say_in(ZH),
            "凭证号 MZ-1 与第 3 行重复；请改正其中一行的凭证号"
        );
        let before = node_refusal(&v, |_| None);
        assert!(
            before.say_in(ZH).contains("序号 7"),
            "{}",
            before.say_in(ZH)
        );
        let need = node_refusal(
            &refused(Detail::NeedNotClaimed {
                need: "N-1".into(),
                issuer: "CN-USCI-X".into(),
            }),
            |_| None,
        );
        assert!(
            need.say_in(ZH).contains("需求 N-1 未由本机构认领"),
            "{}",
            need.say_in(ZH)
        );
        let need = node_refusal(&refused(Detail::NoNeed { need: "N-2".into() }), |_| None);
        assert!(
            need.say_in(ZH).contains("需求 N-2 在此账本中不存在"),
            "{}",
            need.say_in(ZH)
        );
        let holder = refused(Detail::UnknownHolder {
            holder: "XM-DAC-1".into(),
        });
        let holder = node_refusal(&holder, |_| None);
        assert!(
            holder
                .say_in(ZH)
                .contains("积分对象 XM-DAC-1 不是已登记的机构"),
            "{}",
            holder.say_in(ZH)
        );
        let other = ledger::rules::Refusal::new(
            ledger::code::Code::UnknownKey,
            "key abc is not registered",
        );
        let other = node_refusal(&other.into(), |_| None);
        assert!(
            !other.say_in(ZH).contains("registered"),
            "{}",
            other.say_in(ZH)
        );
        assert!(other.say_in("en").contains("key abc is not registered"));
    }

    #[test]
    fn the_english_message_is_never_read() {
        // Words that once were parsed, without details: said by code alone.
        let words = NodeError::from_answer(
            422,
            br#"{"error":{"code":"rule_violation","message":"no need \"N-2\""}}"#,
        );
        assert_eq!(node_refusal(&words, |_| None).key, "row.node");
        // The details alone decide, whatever the message says.
        let answer = br#"{"error":{"code":"rule_violation","message":"x","details":{"reason":"no_fund","fund":"F-9"}}}"#;
        let e = NodeError::from_answer(422, answer);
        assert_eq!(e.code, Some(ledger::code::Code::RuleViolation));
        assert!(node_refusal(&e, |_| None).say_in(ZH).contains("F-9"));
        // Not the SPEC's shape: no code, the body's start as the message.
        let proxy = NodeError::from_answer(502, b"<html>Bad Gateway</html>");
        assert_eq!((proxy.code, proxy.code_str().as_str()), (None, "http_502"));
    }

    #[test]
    fn every_code_has_a_meaning_and_a_fix_in_both_languages() {
        let codes = ledger::code::Code::ALL.map(|c| c.as_str());
        for code in codes.iter().copied().chain(["bad_row", "repeat"]) {
            for locale in ["en", ZH] {
                for key in [format!("code.{code}"), format!("fix.{code}")] {
                    assert!(
                        crate::_rust_i18n_try_translate(locale, &key).is_some(),
                        "{locale} {key}"
                    );
                }
            }
        }
    }
}
