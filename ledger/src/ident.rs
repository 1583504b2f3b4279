//! Identifiers and privacy (SPEC §6): org ids with the GB 32100 check
//! character, region codes, resident ID check characters (GB 11643),
//! `bnf_`/`vol_` pseudonyms and the PII guard.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// GB 32100-2015 character set of unified social credit codes (no I, O, S, V, Z).
const USCI_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCI_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// An 18-character unified social credit code with a valid check character.
pub fn is_usci(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 18
        && code.is_char_boundary(17)
        && usci_check_char(&code[..17]) == Some(char::from(b[17]))
}

/// The GB 32100 check character for the first 17 characters of a unified
/// social credit code, or `None` if they are not 17 characters of its set
/// (digits and capitals without I, O, S, V, Z).
pub fn usci_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (i, &c) in b.iter().enumerate() {
        let v = USCI_CHARS.iter().position(|&x| x == c)?;
        sum += v as u32 * USCI_WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(USCI_CHARS[check as usize]))
}

/// `^[A-Z]{2}-[A-Z0-9]{2,10}-[A-Za-z0-9._-]{1,64}$`, and with prefix
/// `CN-USCI-` a valid unified social credit code.
pub fn is_org_id(id: &str) -> bool {
    let mut parts = id.splitn(3, '-');
    let (Some(country), Some(registry), Some(local)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let shape = country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (2..=10).contains(&registry.len())
        && registry
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    shape && (country != "CN" || registry != "USCI" || is_usci(local))
}

/// A 6-digit GB/T 2260 administrative division code.
pub fn is_region(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// `prefix` followed by 64 lowercase hex digits.
fn is_prefixed_hex(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(is_hex64)
}

/// 64 lowercase hex digits (keys, hashes).
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A beneficiary pseudonym `bnf_` + 64 hex.
pub fn is_beneficiary(s: &str) -> bool {
    is_prefixed_hex(s, "bnf_")
}

/// A volunteer pseudonym `vol_` + 64 hex.
pub fn is_volunteer(s: &str) -> bool {
    is_prefixed_hex(s, "vol_")
}

/// An 18-character resident ID number whose GB 11643 check character is
/// valid (`x` accepted for `X`).
pub fn is_resident_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 18
        && id.is_char_boundary(17)
        && resident_id_check_char(&id[..17]) == Some(char::from(b[17].to_ascii_uppercase()))
}

/// The GB 11643 check character (`0`-`9` or `X`) for the first 17 digits of
/// a resident ID number, or `None` if they are not 17 ASCII digits.
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    Some(char::from(ID_CHECK[(sum % 11) as usize]))
}

/// What a pseudonym stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PseudonymKind {
    /// `bnf_`: a beneficiary (family member receiving aid).
    Beneficiary,
    /// `vol_`: a volunteer earning credit points.
    Volunteer,
}

/// Why a pseudonym could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a resident ID number with a valid check character")]
pub struct InvalidResidentId;

/// `bnf_`/`vol_` + hex(HMAC-SHA256(secret, normalised ID)). Normalising trims
/// white space and upper-cases the check character; the ID must be valid.
pub fn pseudonym(
    secret: &[u8],
    resident_id: &str,
    kind: PseudonymKind,
) -> Result<String, InvalidResidentId> {
    let id = resident_id.trim().to_ascii_uppercase();
    if !is_resident_id(&id) {
        return Err(InvalidResidentId);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    let prefix = match kind {
        PseudonymKind::Beneficiary => "bnf_",
        PseudonymKind::Volunteer => "vol_",
    };
    Ok(format!(
        "{prefix}{}",
        crate::canonical::lower_hex(&mac.finalize().into_bytes())
    ))
}

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

/// How the guard reads a character, as one ASCII byte: a decimal digit of
/// any script as its ASCII digit, `X`/`x`/`Ｘ`/`ｘ` as `X`, a separator as
/// `-`, anything else as `_`.
fn read_char(c: char) -> u8 {
    match c {
        '0'..='9' => c as u8,
        'X' | 'x' | '\u{FF38}' | '\u{FF58}' => b'X',
        ' '
        | '\u{A0}'
        | '\u{3000}'
        | '-'
        | '\u{2010}'..='\u{2015}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'
        | '\u{FEFF}' => b'-',
        c if c.is_ascii() => b'_',
        c => decimal_value(c).map_or(b'_', |v| b'0' + v),
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

/// The first personal data in `text`, per SPEC §6: read with
/// [`read_char`], then checked as written and with every run of separators
/// between two digits removed.
pub fn find_pii(text: &str) -> Option<Pii> {
    // Most strings hold no digit at all.
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let written: Vec<u8> = text.chars().map(read_char).collect();
    find_pii_read(&written).or_else(|| {
        let joined = join_separated_digits(&written);
        (joined.len() != written.len())
            .then(|| find_pii_read(&joined))
            .flatten()
    })
}

/// `read` without the separator runs that stand between two digits.
fn join_separated_digits(read: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(read.len());
    let mut i = 0;
    while i < read.len() {
        if read[i] == b'-' {
            let end = i + read[i..].iter().take_while(|&&b| b == b'-').count();
            let between_digits = out.last().is_some_and(u8::is_ascii_digit)
                && read.get(end).is_some_and(u8::is_ascii_digit);
            if !between_digits {
                out.extend_from_slice(&read[i..end]);
            }
            i = end;
        } else {
            out.push(read[i]);
            i += 1;
        }
    }
    out
}

/// The scan over read text: a maximal run of 17 digits followed by a digit
/// or `X` (not inside a longer run) with a valid GB 11643 check character,
/// or a maximal run of exactly 11 digits matching `1[3-9]\d{9}`.
fn find_pii_read(b: &[u8]) -> Option<Pii> {
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let run = &b[start..i];
        let id_candidate = match run.len() {
            18 => Some(run),
            17 if b.get(i) == Some(&b'X') => Some(&b[start..=i]),
            _ => None,
        };
        if id_candidate.is_some_and(|c| is_resident_id(std::str::from_utf8(c).expect("ASCII"))) {
            return Some(Pii::ResidentId);
        }
        if run.len() == 11 && run[0] == b'1' && (b'3'..=b'9').contains(&run[1]) {
            return Some(Pii::Mobile);
        }
    }
    None
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
    fn walk(v: &Value, path: &mut String) -> Option<(String, Pii)> {
        match v {
            Value::String(s) => guarded_part(s)
                .and_then(find_pii)
                .map(|p| (path.clone(), p)),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
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
    fn org_ids() {
        assert!(is_org_id("CN-USCI-53440300MJ0000018R"));
        assert!(!is_org_id("CN-USCI-53440300MJ0000018A"));
        assert!(is_org_id("XM-DAC-41114"));
        assert!(is_org_id("CN-COMMUNITY-group.7_a-b"));
        for bad in [
            "cn-USCI-1",
            "CN-U-1",
            "CN-USCI-",
            "CN-ABCDEFGHIJK-1",
            "CN-X1-a b",
            "CNUSCI1",
        ] {
            assert!(!is_org_id(bad), "{bad}");
        }
    }

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
}
