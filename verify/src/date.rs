//! Calendar dates as the SPEC writes them, `YYYY-MM-DD` (SPEC §1): the
//! shape is checked here, the calendar by the `time` crate.

pub use time::Date;

/// The date `s` names, if it is `YYYY-MM-DD` and a real calendar day.
pub fn parse(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |r: std::ops::Range<usize>| -> Option<u16> {
        b[r].iter().try_fold(0u16, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
        })
    };
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    Date::from_calendar_date(i32::from(number(0..4)?), month, day).ok()
}

/// `d` as `YYYY-MM-DD`.
pub fn format(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Whole days from `a` to `b` (negative when `b` is earlier).
pub fn days_between(a: Date, b: Date) -> i64 {
    i64::from(b.to_julian_day()) - i64::from(a.to_julian_day())
}

/// The day `n` days after `d` (before, for a negative `n`), if the
/// calendar has it.
pub fn add_days(d: Date, n: i64) -> Option<Date> {
    let day = i64::from(d.to_julian_day()).checked_add(n)?;
    Date::from_julian_day(i32::try_from(day).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        let d = |s| parse(s).unwrap();
        assert_eq!(days_between(d("2026-02-28"), d("2026-03-01")), 1);
        assert_eq!(days_between(d("2024-02-28"), d("2024-03-01")), 2);
        assert_eq!(days_between(d("2000-03-01"), d("1970-01-01")), -11_017);
        for bad in [
            "2026-13-01",
            "2025-02-29",
            "2026-1-01",
            "2026/01/01",
            "２026-01-01",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(format(d("0999-01-09")), "0999-01-09");
        assert_eq!(add_days(d("2026-12-31"), 61), Some(d("2027-03-02")));
        assert_eq!(add_days(d("2026-03-01"), -1), Some(d("2026-02-28")));
    }
}
