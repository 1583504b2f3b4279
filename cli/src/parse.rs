//! Values as people write them, read once for every command: a cell of an
//! imported spreadsheet and an option of `fund open` or `org register` go
//! through the same functions, so what `import` accepts the builders
//! accept (Chinese labels such as 临时救助, dates such as `2026/1/1`,
//! amounts such as `¥1,200.50` or `650元`). A value refused says what to
//! change, as a [`Problem`].

use crate::explain::{Arg, Problem};
use crate::vocab::LABELS;

/// The code a coded field's value stands for (a label or the code itself).
pub fn coded(field: &'static str, raw: &str) -> Result<String, Problem> {
    let raw = raw.trim();
    LABELS
        .iter()
        .find(|(f, label, code)| *f == field && (*label == raw || *code == raw))
        .map(|(_, _, code)| (*code).to_owned())
        .ok_or_else(|| {
            Problem::new("row.label")
                .with("field", Arg::Field(field))
                .text("value", raw)
                .with("accepted", Arg::Labels(field))
        })
}

/// Yuan as written in a sheet or on the command line → fen: `1,200.5`,
/// `¥80`, `650元`, `1，200` (a full-width comma). At most two decimals;
/// zero allowed (a budget may be 0; an amount's minimum is checked apart).
pub fn yuan_to_fen(raw: &str) -> Result<u64, Problem> {
    let bad = |key| Problem::new(key).text("value", raw.trim());
    let s = raw.trim();
    let s = s
        .trim_start_matches(['¥', '￥'])
        .trim_end_matches("人民币")
        .trim_end_matches(['元', '圆'])
        .trim();
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .collect();
    if s.contains(['分', '角']) {
        return Err(bad("row.yuan_unit"));
    }
    if s.starts_with('-') {
        return Err(bad("row.yuan_negative"));
    }
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if !frac.is_empty() && frac.len() > 2 && frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("row.yuan_decimals"));
    }
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad("row.not_yuan"));
    }
    let fen: u64 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| bad("row.not_yuan"))?;
    whole
        .parse::<u64>()
        .ok()
        .and_then(|y| y.checked_mul(100)?.checked_add(fen))
        // Past the largest amount an entry may hold (SPEC §6).
        .filter(|fen| *fen < 1 << 53)
        .ok_or_else(|| bad("row.yuan_too_large"))
}

/// `2026/3/5`, `2026-3-5`, `2026.3.5`, `2026年3月5日` or `2026-03-05` →
/// `2026-03-05`.
pub fn date(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_suffix('日').unwrap_or(raw);
    let mut parts = raw.split(['-', '/', '.', '年', '月']);
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

/// A date for `field`, or what to write instead.
pub fn date_of(field: &'static str, raw: &str) -> Result<String, Problem> {
    date(raw).ok_or_else(|| {
        Problem::new("row.not_date")
            .with("field", Arg::Field(field))
            .text("value", raw.trim())
    })
}

/// A GB/T 2260 region code: six digits.
pub fn region(raw: &str) -> Result<String, Problem> {
    let s = raw.trim();
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(Problem::new("row.region").text("value", s))
    }
}

/// A whole number (`1,200` allowed) for `field`.
pub fn whole(field: &'static str, raw: &str) -> Result<u64, Problem> {
    raw.trim()
        .replace([',', '，'], "")
        .parse::<u64>()
        .map_err(|_| {
            Problem::new("row.not_whole")
                .with("field", Arg::Field(field))
                .text("value", raw.trim())
        })
}

/// clap parsers of the builders' options, each the function above.
pub mod arg {
    use ledger::domain::{Category, Decision, OrgType, RecoveryReason, Risk, Source, Tier};

    fn coded<T: std::str::FromStr>(field: &'static str, raw: &str) -> Result<T, String> {
        super::coded(field, raw)
            .map_err(|p| p.to_string())?
            .parse()
            .map_err(|_| raw.to_owned())
    }

    /// `--category`: a code or a label such as 临时救助.
    pub fn category(raw: &str) -> Result<Category, String> {
        coded("category", raw)
    }

    /// `--source`: a code or a label such as 社会捐赠.
    pub fn source(raw: &str) -> Result<Source, String> {
        coded("source", raw)
    }

    /// `--type` of an organisation: a code or a label such as 工会.
    pub fn org_type(raw: &str) -> Result<OrgType, String> {
        coded("org_type", raw)
    }

    /// `--decision` of a review: a code or a label such as 通过.
    pub fn decision(raw: &str) -> Result<Decision, String> {
        coded("decision", raw)
    }

    /// `--tier`: a code or a label such as 监测户.
    pub fn tier(raw: &str) -> Result<Tier, String> {
        coded("tier", raw)
    }

    /// One of `--risks`: a code or a label such as 因病.
    pub fn risk(raw: &str) -> Result<Risk, String> {
        coded("risk", raw)
    }

    /// `--reason` of a recovery: a code or a label such as 多发.
    pub fn recovery_reason(raw: &str) -> Result<RecoveryReason, String> {
        coded("recovery_reason", raw)
    }

    /// A date such as `2026/1/1`, as `YYYY-MM-DD`.
    pub fn date(raw: &str) -> Result<String, String> {
        super::date_of("date", raw).map_err(|p| p.to_string())
    }

    /// Yuan such as `1,000,000` or `650元`, as fen.
    pub fn yuan(raw: &str) -> Result<u64, String> {
        super::yuan_to_fen(raw).map_err(|p| p.to_string())
    }

    /// A six-digit region code.
    pub fn region(raw: &str) -> Result<String, String> {
        super::region(raw).map_err(|p| p.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::ZH;

    #[test]
    fn amounts_dates_and_labels_are_read_as_people_write_them() {
        for (raw, fen) in [
            ("1,200.5", 120_050),
            ("¥80", 8_000),
            ("0.07", 7),
            ("650元", 65_000),
            ("￥1，200.00元", 120_000),
            (" 3,000 ", 300_000),
            ("0", 0),
        ] {
            assert_eq!(yuan_to_fen(raw), Ok(fen), "{raw}");
        }
        let said = |raw: &str| yuan_to_fen(raw).unwrap_err().say_in(ZH);
        assert!(said("1.234").contains("超过两位小数"), "{}", said("1.234"));
        assert!(said("-5").contains("负"), "{}", said("-5"));
        assert!(said("65000分").contains("以元"), "{}", said("65000分"));
        for bad in ["", "1e3", "12.x", ".", "abc"] {
            assert!(yuan_to_fen(bad).is_err(), "{bad}");
        }
        assert_eq!(date("2026/1/1").as_deref(), Some("2026-01-01"));
        assert_eq!(date("2026年3月5日").as_deref(), Some("2026-03-05"));
        assert_eq!(date("2026-03-05").as_deref(), Some("2026-03-05"));
        assert_eq!(date("2026/2/30"), None);
        assert_eq!(date("26/3/5"), None);
        assert_eq!(coded("category", "临时救助"), Ok("temporary".into()));
        assert_eq!(coded("tier", "monitored"), Ok("monitored".into()));
        let e = coded("tier", "贫困户").unwrap_err().say_in(ZH);
        assert!(
            e.contains("救助户(assisted)、脆弱户(vulnerable)、监测户(monitored)"),
            "{e}"
        );
        assert!(region("32118").is_err() && region("321181").is_ok());
        assert_eq!(
            arg::category("临时救助").map(|c| c.as_str()),
            Ok("temporary")
        );
        assert_eq!(arg::yuan("650元"), Ok(65_000));
        assert_eq!(arg::org_type("工会").map(|t| t.as_str()), Ok("union"));
        assert_eq!(arg::source("社会捐赠").map(|t| t.as_str()), Ok("donation"));
        assert_eq!(arg::date("2026/1/1").as_deref(), Ok("2026-01-01"));
        assert!(arg::region("3211").is_err());
    }
}
