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
    if b.len() != 18 {
        return false;
    }
    let mut sum = 0;
    for (i, &c) in b[..17].iter().enumerate() {
        let Some(v) = USCI_CHARS.iter().position(|&x| x == c) else {
            return false;
        };
        sum += v as u32 * USCI_WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    b[17] == USCI_CHARS[check as usize]
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
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    b[17].to_ascii_uppercase() == ID_CHECK[(sum % 11) as usize]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pii {
    /// A resident ID number (18 chars, valid check character).
    ResidentId,
    /// A mainland mobile number.
    Mobile,
}

/// The first personal data in `text`, per SPEC §6: a maximal run of 17 ASCII
/// digits followed by a digit or `X`/`x` (not inside a longer run) with a
/// valid GB 11643 check character, or a maximal run of exactly 11 digits
/// matching `1[3-9]\d{9}`.
pub fn find_pii(text: &str) -> Option<Pii> {
    let b = text.as_bytes();
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
            17 if i < b.len() && (b[i] == b'X' || b[i] == b'x') => Some(&b[start..=i]),
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

/// Values whose format is pinned and cannot carry personal data: the guard
/// skips them (pseudonyms, 64-hex keys, valid org ids, regions, dates).
fn is_exempt(s: &str) -> bool {
    is_beneficiary(s)
        || is_volunteer(s)
        || is_hex64(s)
        || is_org_id(s)
        || is_region(s)
        || crate::entry::is_date(s)
}

/// The path of the first string in `body` holding personal data, if any.
pub fn pii_in_body(body: &Value) -> Option<(String, Pii)> {
    fn walk(v: &Value, path: &mut String) -> Option<(String, Pii)> {
        match v {
            Value::String(s) if !is_exempt(s) => find_pii(s).map(|p| (path.clone(), p)),
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
        // Full-width digits are not ASCII digits.
        assert_eq!(find_pii("１３８１２３４５６７８"), None);
        assert_eq!(find_pii("12812345678"), None);
        assert_eq!(find_pii("电话:13812345678。"), Some(Pii::Mobile));
        // Exempt shapes are not searched.
        let body =
            serde_json::json!({"region": "320000", "who": format!("bnf_{}", "1".repeat(64))});
        assert_eq!(pii_in_body(&body), None);
        let body = serde_json::json!({"a": [{"b": "call 13912345678"}]});
        assert_eq!(
            pii_in_body(&body),
            Some(("body.a[0].b".into(), Pii::Mobile))
        );
    }
}
