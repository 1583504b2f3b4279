//! The PII guard (SPEC §6): resident ID numbers and mobile numbers found in
//! a statement's strings however they are spread, spelled or disguised.

use serde_json::Value;

use super::{is_beneficiary, is_hex64, is_org_id, is_region, is_volunteer, ID_CHECK, ID_WEIGHTS};

/// What the PII guard found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pii {
    /// A resident ID number (18 chars, valid check character).
    ResidentId,
    /// A mainland mobile number.
    Mobile,
}

impl Pii {
    /// The refusal's words for it.
    pub fn describe(self) -> &'static str {
        match self {
            Pii::ResidentId => "a resident ID number",
            Pii::Mobile => "a mobile phone number",
        }
    }
}

/// How the guard reads one character of NFKC-normalised text (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// A decimal digit of any script, or a Chinese numeral `〇`-`九`: its value.
    Digit(u8),
    /// `X`, `x` and their look-alikes `х Х χ Χ` (and `ｘ Ｘ`).
    X,
    /// Neither a letter nor a number (Unicode categories other than L and
    /// N), or a blank Hangul filler: dropped between two digits.
    Gap,
    /// Any other letter or number.
    Other,
}

/// How the guard reads an ASCII byte (NFKC leaves ASCII as it is).
#[inline]
fn read_ascii(b: u8) -> Read {
    match b {
        b'0'..=b'9' => Read::Digit(b - b'0'),
        b'X' | b'x' => Read::X,
        b if b.is_ascii_alphabetic() => Read::Other,
        // Controls, spaces, punctuation and symbols: categories C, Z, P, S.
        _ => Read::Gap,
    }
}

/// How the guard reads a character of NFKC-normalised text.
#[inline]
fn read_char(c: char) -> Read {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    if c.is_ascii() {
        return read_ascii(c as u8);
    }
    match c {
        '〇' | '\u{4E00}'..='\u{9FFF}' => read_cjk(c),
        // Cyrillic х Х, Greek χ Χ, fullwidth ｘ Ｘ (NFKC makes the last two
        // ASCII already).
        '\u{445}' | '\u{425}' | '\u{3C7}' | '\u{3A7}' | '\u{FF58}' | '\u{FF38}' => Read::X,
        // Blank Hangul fillers: letters that show nothing.
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => Read::Gap,
        c => match c.general_category_group() {
            GeneralCategoryGroup::Letter => Read::Other,
            GeneralCategoryGroup::Number => decimal_value(c).map_or(Read::Other, Read::Digit),
            _ => Read::Gap,
        },
    }
}

/// How the guard reads `〇` and the CJK Unified Ideographs (U+4E00-9FFF):
/// the Chinese numerals `〇一二三四五六七八九` as digits, the rest (all
/// assigned, all Lo: checked by a test) as letters. Most non-ASCII text
/// here is Chinese, so this skips the category table.
#[inline]
fn read_cjk(c: char) -> Read {
    match c {
        '〇' => Read::Digit(0),
        '一' => Read::Digit(1),
        '二' => Read::Digit(2),
        '三' => Read::Digit(3),
        '四' => Read::Digit(4),
        '五' => Read::Digit(5),
        '六' => Read::Digit(6),
        '七' => Read::Digit(7),
        '八' => Read::Digit(8),
        '九' => Read::Digit(9),
        _ => Read::Other,
    }
}

/// The value of a Unicode decimal digit (general category Nd). Unicode
/// keeps every script's decimal digits in contiguous runs of ten, 0 to 9
/// in order (a stability policy), and runs may abut (the mathematical
/// digits), so the value is the count of Nd characters before it in its
/// block, modulo ten.
fn decimal_value(c: char) -> Option<u8> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let is_nd = |c: char| c.general_category() == GeneralCategory::DecimalNumber;
    if !is_nd(c) {
        return None;
    }
    let before = (1..=c as u32)
        .map_while(|back| char::from_u32(c as u32 - back).filter(|&p| is_nd(p)))
        .count();
    Some((before % 10) as u8)
}

/// The first personal data in `text`, per SPEC §6: normalised (NFKC, then
/// read with [`read_char`]) and checked as written and with every run of
/// [`Read::Gap`]s that stands between two digits removed; a finding as
/// written is reported before one in the joined reading.
///
/// No allocation, and the normaliser only where it can change something:
/// ASCII text is read byte by byte (NFKC leaves it as it is), everyday
/// Chinese text ([`read_common`]) character by character, text that the
/// NFKC quick check finds normalised as it is, other text through a
/// streaming NFKC. The guard runs on every string of every entry.
pub fn find_pii(text: &str) -> Option<Pii> {
    use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
    if text.is_ascii() {
        // Most strings are ASCII without a digit.
        if !text.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        return scan(text.bytes().map(read_ascii));
    }
    if text.chars().all(|c| read_common(c).is_some()) {
        scan(text.chars().filter_map(read_common))
    } else if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        scan(text.chars().map(read_char))
    } else {
        scan(text.nfkc().map(read_char))
    }
}

/// How the guard reads a character of everyday Chinese text, if it is one:
/// ASCII, a CJK Unified Ideograph, fullwidth ASCII (U+FF01-FF5E), `〇` or
/// the punctuation `、。〈〉《》「」『』【】“”‘’—…·￥¥` and the ideographic
/// space. Under NFKC each of these is one character, or gaps only (`…`),
/// and none composes with its neighbour in such text, so a string made of
/// them alone is read character by character, without the normaliser.
#[inline]
fn read_common(c: char) -> Option<Read> {
    match c {
        '\0'..='\x7f' => Some(read_ascii(c as u8)),
        '〇' | '\u{4E00}'..='\u{9FFF}' => Some(read_cjk(c)),
        '\u{FF01}'..='\u{FF5E}' => Some(read_ascii((c as u32 - 0xFEE0) as u8)),
        '\u{3000}'..='\u{3002}'
        | '\u{3008}'..='\u{3011}'
        | '\u{2014}'
        | '\u{2018}'
        | '\u{2019}'
        | '\u{201C}'
        | '\u{201D}'
        | '\u{2026}'
        | '\u{B7}'
        | '\u{A5}'
        | '\u{FFE5}' => Some(Read::Gap),
        _ => None,
    }
}

/// The two checks over one reading of a string, side by side.
fn scan(read: impl Iterator<Item = Read>) -> Option<Pii> {
    // The digit run as written, and the one with gaps between digits dropped.
    let mut written = Run::default();
    let mut joined = Run::default();
    // Gaps since the joined run's last digit (they stay in the joined text
    // unless a digit follows).
    let mut gap = false;
    let mut found_joined = None;
    for r in read {
        match r {
            Read::Digit(d) => {
                written.push(d);
                joined.push(d);
                gap = false;
            }
            // Outside any digit run (most of any text): nothing to do.
            _ if joined.len == 0 => {}
            Read::Gap => {
                if let Some(p) = written.end(false) {
                    return Some(p);
                }
                gap = true;
            }
            Read::X | Read::Other => {
                let x = r == Read::X;
                if let Some(p) = written.end(x) {
                    return Some(p);
                }
                let p = joined.end(x && !gap);
                found_joined = found_joined.or(p);
                gap = false;
            }
        }
    }
    written
        .end(false)
        .or(found_joined)
        .or_else(|| joined.end(false))
}

/// A maximal run of digits being read: its first 18 digits and its length.
#[derive(Default)]
struct Run {
    digits: [u8; 18],
    len: usize,
}

impl Run {
    #[inline]
    fn push(&mut self, d: u8) {
        if let Some(slot) = self.digits.get_mut(self.len) {
            *slot = d;
        }
        self.len = self.len.saturating_add(1);
    }

    /// The run ends, followed by an `X` or not: what it is. A resident ID
    /// number is 18 digits, or 17 and the `X` after them, with a valid
    /// GB 11643 check character; a mobile number `1[3-9]\d{9}` is the whole
    /// run, or follows `86` in a run of 13 or `0086` in a run of 15.
    #[inline]
    fn end(&mut self, x_follows: bool) -> Option<Pii> {
        let d = &self.digits;
        match std::mem::take(&mut self.len) {
            0 => None,
            18 if id_check(d) == b'0' + d[17] => Some(Pii::ResidentId),
            17 if x_follows && id_check(d) == b'X' => Some(Pii::ResidentId),
            11 => mobile(&d[..11]),
            13 if d[..2] == [8, 6] => mobile(&d[2..13]),
            15 if d[..4] == [0, 0, 8, 6] => mobile(&d[4..15]),
            _ => None,
        }
    }
}

/// The GB 11643 check character of the first 17 digits (values 0-9).
#[inline]
fn id_check(d: &[u8; 18]) -> u8 {
    let sum: u32 = d[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&v, w)| u32::from(v) * w)
        .sum();
    ID_CHECK[(sum % 11) as usize]
}

/// `1[3-9]\d{9}` over 11 digit values.
#[inline]
fn mobile(d: &[u8]) -> Option<Pii> {
    (d[0] == 1 && (3..=9).contains(&d[1])).then_some(Pii::Mobile)
}

/// The part of a body string the guard reads: none of a value whose format
/// is pinned and cannot carry personal data (pseudonyms, 64-hex keys,
/// `CN-USCI-` org ids with a valid check character, regions, dates), the
/// part after `XX-SCHEME-` of any other org id, else the whole string.
fn guarded_part(s: &str) -> Option<&str> {
    if is_beneficiary(s)
        || is_volunteer(s)
        || is_hex64(s)
        || is_region(s)
        || crate::date::parse(s).is_some()
        || (s.starts_with("CN-USCI-") && is_org_id(s))
    {
        return None;
    }
    if is_org_id(s) {
        return s.splitn(3, '-').nth(2);
    }
    Some(s)
}

/// Where the first personal data in a statement is (`nonce` or a path into
/// the body), if any: the guard of SPEC §6, which the node, the replay and
/// the CLI (before it signs) all run.
pub fn pii_in_statement(statement: &crate::Statement) -> Option<(String, Pii)> {
    find_pii(&statement.nonce)
        .map(|p| ("nonce".to_owned(), p))
        .or_else(|| pii_in_body(&statement.body))
}

/// The path of the first string in `body` holding personal data, if any.
pub fn pii_in_body(body: &Value) -> Option<(String, Pii)> {
    use std::fmt::Write;
    fn walk(v: &Value, path: &mut String) -> Option<(String, Pii)> {
        match v {
            Value::String(s) => guarded_part(s)
                .and_then(find_pii)
                .map(|p| (path.clone(), p)),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            Value::Object(map) => map.iter().find_map(|(k, item)| {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(body, &mut "body".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_details() {
        // A 17-digit run followed by X with a valid check: an ID even when glued to text.
        assert_eq!(find_pii("ID:11010519491231002xyz"), Some(Pii::ResidentId));
        // Inside a longer digit run it is not an ID.
        assert_eq!(find_pii("9110105194912310021"), None);
        // Digits of any script count, read as their value.
        assert_eq!(find_pii("１３８１２３４５６７８"), Some(Pii::Mobile));
        assert_eq!(find_pii("١٣٨١٢٣٤٥٦٧٨"), Some(Pii::Mobile));
        assert_eq!(find_pii("𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖"), Some(Pii::Mobile));
        // Separators join digits only between two digits.
        assert_eq!(find_pii("138 1234 5678"), Some(Pii::Mobile));
        assert_eq!(find_pii("138\u{3000}1234\u{2014}5678"), Some(Pii::Mobile));
        assert_eq!(find_pii("a-13812345678-b"), Some(Pii::Mobile));
        assert_eq!(find_pii("1381234 56789"), None);
        assert_eq!(find_pii("11010519491231002 X"), None);
        assert_eq!(find_pii("12812345678"), None);
        assert_eq!(find_pii("电话:13812345678。"), Some(Pii::Mobile));
        // Exempt shapes are not searched.
        let body =
            serde_json::json!({"region": "320000", "who": format!("bnf_{}", "1".repeat(64))});
        assert_eq!(pii_in_body(&body), None);
        // Only the local part of an org id of another scheme is read.
        let body = serde_json::json!({"org": "CN-ABC-11010519491231002X"});
        assert_eq!(
            pii_in_body(&body),
            Some(("body.org".into(), Pii::ResidentId))
        );
        let body = serde_json::json!({"org": "CN-13812345-678"});
        assert_eq!(pii_in_body(&body), None);
        let body = serde_json::json!({"a": [{"b": "call 13912345678"}]});
        assert_eq!(
            pii_in_body(&body),
            Some(("body.a[0].b".into(), Pii::Mobile))
        );
    }

    const MOBILE: &str = "13812345678";
    /// 17 digits; with `X` a resident ID number with a valid check character.
    const ID17: &str = "11010519491231002";

    /// `digits` with `gap` between each two of them.
    fn spread(digits: &str, gap: &str) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 {
                out.push_str(gap);
            }
            out.push(c);
        }
        out
    }

    /// Characters that are neither letters nor digits, by class (SPEC §6,
    /// 2026-12-03): each must be dropped between two digits.
    const GAPS: &[(&str, &str)] = &[
        ("soft hyphen", "\u{AD}"),
        ("left-to-right mark", "\u{200E}"),
        ("right-to-left mark", "\u{200F}"),
        ("invisible times", "\u{2062}"),
        ("combining grapheme joiner", "\u{34F}"),
        ("variation selector 16", "\u{FE0F}"),
        ("variation selector 1", "\u{FE00}"),
        ("Mongolian vowel separator", "\u{180E}"),
        ("left-to-right embedding", "\u{202A}"),
        ("right-to-left override", "\u{202E}"),
        ("left-to-right isolate", "\u{2066}"),
        ("pop directional isolate", "\u{2069}"),
        ("word joiner", "\u{2060}"),
        ("Hangul filler", "\u{3164}"),
        ("Hangul choseong filler", "\u{115F}"),
        ("Hangul jungseong filler", "\u{1160}"),
        ("halfwidth Hangul filler", "\u{FFA0}"),
        ("combining acute accent", "\u{301}"),
        ("thin space", "\u{2009}"),
        ("narrow no-break space", "\u{202F}"),
        ("figure space", "\u{2007}"),
        ("tab", "\t"),
        ("newline", "\n"),
        ("CR LF", "\r\n"),
        ("minus sign", "\u{2212}"),
        ("fullwidth hyphen-minus", "\u{FF0D}"),
        ("small hyphen-minus", "\u{FE63}"),
        ("underscore", "_"),
        ("full stop", "."),
        ("slash", "/"),
        ("comma", ","),
        ("middle dot", "\u{B7}"),
        ("ideographic comma", "\u{3001}"),
        ("fullwidth comma", "\u{FF0C}"),
        ("a run of several", " \u{AD}-\u{200E}."),
    ];

    #[test]
    fn every_gap_class_is_dropped_between_digits() {
        for (class, gap) in GAPS {
            for prefix in ["tel ", "电话"] {
                let spread_mobile = format!("{prefix}{}", spread(MOBILE, gap));
                assert_eq!(
                    find_pii(&spread_mobile),
                    Some(Pii::Mobile),
                    "{class}: {spread_mobile:?}"
                );
                let grouped = format!("{prefix}138{gap}1234{gap}5678");
                assert_eq!(
                    find_pii(&grouped),
                    Some(Pii::Mobile),
                    "{class}: {grouped:?}"
                );
                let spread_id = format!("{prefix}{}X", spread(ID17, gap));
                assert_eq!(
                    find_pii(&spread_id),
                    Some(Pii::ResidentId),
                    "{class}: {spread_id:?}"
                );
                let grouped = format!("{prefix}110105{gap}19491231{gap}002X");
                assert_eq!(
                    find_pii(&grouped),
                    Some(Pii::ResidentId),
                    "{class}: {grouped:?}"
                );
                // Not between two digits, a gap still ends a run.
                let after = format!("{prefix}{ID17}{gap}X");
                assert_eq!(find_pii(&after), None, "{class}: {after:?}");
                let twelve = format!("{prefix}{MOBILE}{gap}9");
                assert_eq!(find_pii(&twelve), Some(Pii::Mobile), "{class}: as written");
            }
        }
    }

    #[test]
    fn parentheses_and_country_prefixes() {
        for s in [
            "(138)1234-5678",
            "（138）1234 5678",
            "+8613812345678",
            "+86 138 1234 5678",
            "+86-138-1234-5678",
            "(+86)13812345678",
            "008613812345678",
            "0086 138 1234 5678",
            "＋８６　１３８１２３４５６７８",
            "电话:0086-13912345678。",
        ] {
            assert_eq!(find_pii(s), Some(Pii::Mobile), "{s:?}");
        }
        for s in [
            // Not a country prefix: another 13- or 15-digit run, or a run of 14.
            "8513812345678",
            "8612812345678",
            "86138123456789",
            "00861381234567",
            "001613812345678",
            "0086128123456789",
        ] {
            assert_eq!(find_pii(s), None, "{s:?}");
        }
    }

    #[test]
    fn look_alike_check_characters() {
        for x in ["X", "x", "Х", "х", "Χ", "χ", "Ⅹ", "ⅹ", "Ｘ", "ｘ"] {
            let s = format!("身份证{ID17}{x}");
            assert_eq!(find_pii(&s), Some(Pii::ResidentId), "{s:?}");
            let s = format!("110105-19491231-002{x}");
            assert_eq!(find_pii(&s), Some(Pii::ResidentId), "{s:?}");
        }
        // A letter that is no look-alike is not a check character.
        assert_eq!(find_pii(&format!("{ID17}Y")), None);
    }

    #[test]
    fn digit_forms() {
        for s in [
            "¹³⁸¹²³⁴⁵⁶⁷⁸",
            "₁₃₈₁₂₃₄₅₆₇₈",
            "①③⑧①②③④⑤⑥⑦⑧",
            "⑴⑶⑻⑴⑵⑶⑷⑸⑹⑺⑻",
            "⒈⒊⒏⒈⒉⒊⒋⒌⒍⒎⒏",
            "１３８１２３４５６７８",
            "𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖",
            "١٣٨١٢٣٤٥٦٧٨",
            "१३८१२३४५६७८",
            "一三八一二三四五六七八",
            "一三八 一二三四 五六七八",
            "㊀㊂㊇㊀㊁㊂㊃㊄㊅㊆㊇",
            "1三8一2三4五6七8",
        ] {
            assert_eq!(find_pii(s), Some(Pii::Mobile), "{s:?}");
        }
        // Keycaps: digit, VS16, combining enclosing keycap.
        let keycaps: String = MOBILE
            .chars()
            .map(|c| format!("{c}\u{FE0F}\u{20E3}"))
            .collect();
        assert_eq!(find_pii(&keycaps), Some(Pii::Mobile), "{keycaps:?}");
        let keycaps: String = MOBILE.chars().map(|c| format!("{c}\u{20E3}")).collect();
        assert_eq!(find_pii(&keycaps), Some(Pii::Mobile), "{keycaps:?}");
        for s in [
            "一一〇一〇五一九四九一二三一〇〇二X",
            "一一〇一〇五一九四九一二三一〇〇二Ⅹ",
            "¹¹⁰¹⁰⁵¹⁹⁴⁹¹²³¹⁰⁰²ˣ",
        ] {
            // ˣ (modifier small x) is x after NFKC.
            assert_eq!(find_pii(s), Some(Pii::ResidentId), "{s:?}");
        }
        // Chinese numbers written with 十/百 are not digit strings.
        assert_eq!(find_pii("一百三十八万"), None);
        assert_eq!(find_pii("第一二三批"), None);
    }

    /// The ASCII fast path reads every byte as the Unicode reading does.
    #[test]
    fn ascii_reading_matches_the_categories() {
        use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
        for b in 0..=127u8 {
            let c = char::from(b);
            let by_category = match c.general_category_group() {
                _ if c == 'x' || c == 'X' => Read::X,
                GeneralCategoryGroup::Letter => Read::Other,
                GeneralCategoryGroup::Number => Read::Digit(decimal_value(c).unwrap()),
                _ => Read::Gap,
            };
            assert_eq!(read_ascii(b), by_category, "{b}");
        }
    }

    /// The reading without the normaliser ([`read_common`]) is the reading
    /// of the NFKC text: for each such character alone, and for every pair
    /// of a sample of them (nothing composes).
    #[test]
    fn everyday_text_reads_as_normalised() {
        use unicode_normalization::UnicodeNormalization;
        let normalised = |s: &str| -> Vec<Read> {
            let mut out: Vec<Read> = Vec::new();
            for r in s.nfkc().map(read_char) {
                // A run of gaps reads as one gap.
                if !(r == Read::Gap && out.last() == Some(&Read::Gap)) {
                    out.push(r);
                }
            }
            out
        };
        let common: Vec<char> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| read_common(c).is_some())
            .collect();
        for &c in &common {
            assert_eq!(
                normalised(&c.to_string()),
                [read_common(c).unwrap()],
                "U+{:04X}",
                c as u32
            );
        }
        let sample: Vec<char> = common
            .iter()
            .copied()
            .filter(|&c| !('\u{4E0A}'..='\u{9FFF}').contains(&c) || c == '九')
            .collect();
        let mut pair = String::new();
        for &a in &sample {
            for &b in &sample {
                pair.clear();
                pair.push(a);
                pair.push(b);
                let each: String = [a, b]
                    .iter()
                    .flat_map(|c| c.to_string().nfkc().collect::<Vec<_>>())
                    .collect();
                assert_eq!(pair.nfkc().collect::<String>(), each, "{pair:?}");
            }
        }
    }

    /// The shortcut for CJK Unified Ideographs agrees with the table.
    #[test]
    fn cjk_unified_ideographs_are_letters() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in '\u{4E00}'..='\u{9FFF}' {
            assert_eq!(c.general_category(), GeneralCategory::OtherLetter, "{c}");
        }
    }
}
