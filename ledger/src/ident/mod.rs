//! Identifiers and privacy (SPEC §6): org ids with the GB 32100 check
//! character, region codes, resident ID check characters (GB 11643),
//! `bnf_`/`vol_` pseudonyms and the PII guard.

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

/// Why a written ID number is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdProblem {
    /// Not 17 digits and a digit or `X`.
    #[error("not 18 characters of 17 digits and a digit or X")]
    Shape,
    /// The GB 11643 check character is not the one its digits give.
    #[error("its check character should be {expected}")]
    CheckChar {
        /// The check character the first 17 digits give.
        expected: char,
    },
}

/// A resident ID number as people write it, normalised: full-width digits
/// and letters made ASCII, a lower-case `x` upper-case, spaces (ASCII or
/// ideographic) left out; then its shape and its GB 11643 check character
/// are checked.
pub fn normalise_resident_id(raw: &str) -> Result<String, IdProblem> {
    let id: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            'Ｘ' | 'ｘ' | 'x' => 'X',
            c => c,
        })
        .collect();
    let b = id.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X')
    {
        return Err(IdProblem::Shape);
    }
    let expected = resident_id_check_char(&id[..17]).ok_or(IdProblem::Shape)?;
    if char::from(b[17]) != expected {
        return Err(IdProblem::CheckChar { expected });
    }
    Ok(id)
}

/// What a pseudonym stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PseudonymKind {
    /// `bnf_`: a beneficiary (family member receiving aid).
    Beneficiary,
    /// `vol_`: a volunteer earning credit points.
    Volunteer,
}

impl PseudonymKind {
    /// Its prefix without the `_`: `bnf` or `vol` (SPEC §6.3's domain).
    pub fn label(self) -> &'static str {
        match self {
            PseudonymKind::Beneficiary => "bnf",
            PseudonymKind::Volunteer => "vol",
        }
    }
}

mod pii;

pub use pii::{find_pii, pii_in_body, pii_in_statement, Pii};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_are_normalised_as_people_write_them() {
        for written in [
            "11010519491231002X",
            "11010519491231002x",
            "110105 1949 1231 002X",
            "１１０１０５１９４９１２３１００２Ｘ",
            "\u{3000}11010519491231002ｘ ",
        ] {
            assert_eq!(
                normalise_resident_id(written).unwrap(),
                "11010519491231002X"
            );
        }
        assert_eq!(
            normalise_resident_id("321182197508210226"),
            Ok("321182197508210226".into())
        );
        assert_eq!(
            normalise_resident_id("110105194912310021"),
            Err(IdProblem::CheckChar { expected: 'X' })
        );
        for bad in [
            "1101051949123100",
            "11010519491231002Y",
            "1101051949123100X1",
            "",
        ] {
            assert_eq!(normalise_resident_id(bad), Err(IdProblem::Shape), "{bad}");
        }
    }

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
}
