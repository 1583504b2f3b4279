//! Canonical JSON (SPEC §1): RFC 8785 JCS restricted to integers in
//! ±(2^53-1) and ASCII object keys. Under those restrictions JCS is "keys
//! sorted bytewise, no whitespace, minimal string escaping, UTF-8 output".
//!
//! [`parse_strict`] is the only way untrusted bytes become a JSON value in
//! this crate: it refuses floats, out-of-range integers, duplicate keys,
//! non-ASCII keys, NUL in strings and invalid UTF-8 (the last through
//! `serde_json`). [`canonical_json`] is the only way a value becomes bytes
//! that are hashed or signed.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Largest integer magnitude allowed anywhere in a statement: 2^53 - 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Lowercase hex of `bytes`, the form of every hash, key and signature in
/// the ledger's JSON. `hex::encode` builds its string a `char` at a time;
/// receipts are mostly hashes, so this is on the node's hot path.
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("output is twice the input");
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Why a JSON text or value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonError {
    /// Not JSON at all, or not UTF-8 (the parser's message says where).
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// A number that is not an integer in ±(2^53-1).
    #[error("number {0} is not an integer in ±(2^53-1)")]
    Number(String),
    /// The same key twice in one object.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    /// An object key with a non-ASCII character.
    #[error("object key {0:?} is not ASCII")]
    NonAsciiKey(String),
    /// A string holding U+0000.
    #[error("string contains NUL")]
    Nul,
}

impl CanonError {
    /// True when the input was not JSON at all (SPEC code `malformed_json`);
    /// every other refusal is a `schema_violation`.
    pub fn is_malformed(&self) -> bool {
        matches!(self, CanonError::Malformed(_))
    }
}

/// Parses untrusted JSON bytes, refusing anything without a canonical form.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, CanonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed.deserialize(&mut de).map_err(from_serde)?;
    de.end().map_err(from_serde)?;
    Ok(value)
}

/// Canonical bytes of `value` (SPEC §1). Errors if `value` holds a number or
/// key outside the restricted profile (possible for values built in code).
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CanonError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical bytes of `value` to `out`.
pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let i = checked_integer(n)?;
            out.extend_from_slice(i.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // ASCII keys: bytewise order equals JCS's UTF-16 code unit order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if !key.is_ascii() {
                    return Err(CanonError::NonAsciiKey(key.clone()));
                }
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out)?;
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// RFC 8785 §3.2.2.2: escape `"` and `\`, control characters as the short
/// forms where they exist and `\u00xx` (lowercase hex) otherwise; everything
/// else, including non-ASCII, is written as UTF-8.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) -> Result<(), CanonError> {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape at all: copy runs of plain bytes whole.
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[plain..i]);
        plain = i + 1;
        match b {
            0 => return Err(CanonError::Nul),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x01..=0x1f => {
                out.extend_from_slice(b"\\u00");
                push_hex(&[b], out);
            }
            _ => unreachable!("only bytes below 0x20, '\"' and '\\\\' are escaped"),
        }
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
    Ok(())
}

/// Appends `bytes` as lowercase hex (hashes, keys and signatures inside
/// canonical bytes), without the `String` that `hex::encode` builds.
pub(crate) fn push_hex(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// Appends an integer that must lie in ±(2^53-1).
pub(crate) fn write_integer(n: u64, out: &mut Vec<u8>) -> Result<(), CanonError> {
    if n > MAX_SAFE_INTEGER as u64 {
        return Err(CanonError::Number(n.to_string()));
    }
    out.extend_from_slice(n.to_string().as_bytes());
    Ok(())
}

/// `deserialize_with` helper: a JSON value under [`parse_strict`]'s rules,
/// for typed structs that carry free-form JSON (statement bodies).
pub(crate) fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    StrictSeed.deserialize(d)
}

fn checked_integer(n: &Number) -> Result<i64, CanonError> {
    match n.as_i64() {
        Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => Ok(i),
        _ => Err(CanonError::Number(n.to_string())),
    }
}

/// Maps a parser error (ours are tagged) to a [`CanonError`].
pub(crate) fn from_serde(e: serde_json::Error) -> CanonError {
    // Our visitors report their refusals through `de::Error::custom` with a
    // tag; anything else is the parser's own syntax or UTF-8 error.
    let text = e.to_string();
    for (tag, make) in [
        (
            "\u{1}number:",
            CanonError::Number as fn(String) -> CanonError,
        ),
        ("\u{1}duplicate:", CanonError::DuplicateKey),
        ("\u{1}nonascii:", CanonError::NonAsciiKey),
    ] {
        if let Some(rest) = text.strip_prefix(tag) {
            let detail = rest.rsplit_once(" at line ").map_or(rest, |(d, _)| d);
            return make(detail.to_string());
        }
    }
    if text.starts_with("\u{1}nul") {
        return CanonError::Nul;
    }
    // A number too large for any float (`1e400`) is JSON, but out of range:
    // refused like 2^64 and 1.5, not as malformed (SPEC §1).
    if let Some(rest) = text.strip_prefix("number out of range") {
        let at = rest.trim_start_matches(" at ");
        return CanonError::Number(format!("out of range ({at})"));
    }
    CanonError::Malformed(text)
}

struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) {
            Ok(Value::from(v))
        } else {
            Err(E::custom(format_args!("\u{1}number:{v}")))
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) => Err(E::custom(format_args!("\u{1}number:{v}"))),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Err(E::custom(format_args!("\u{1}number:{v:?}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        if v.contains('\0') {
            return Err(E::custom("\u{1}nul"));
        }
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        if v.contains('\0') {
            return Err(E::custom("\u{1}nul"));
        }
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if !key.is_ascii() {
                return Err(de::Error::custom(format_args!("\u{1}nonascii:{key}")));
            }
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("\u{1}duplicate:{key}")));
            }
            let value = access.next_value_seed(StrictSeed)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_equals_hex_encode() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&bytes), hex::encode(&bytes));
        assert_eq!(lower_hex(&[]), "");
    }

    fn check(input: &str, expected: Result<&str, CanonError>) {
        let got = parse_strict(input.as_bytes())
            .and_then(|v| canonical_json(&v))
            .map(|b| String::from_utf8(b).unwrap());
        assert_eq!(got, expected.map(str::to_owned), "input {input:?}");
    }

    #[test]
    fn canonical_form() {
        check(
            r#" { "b" : 1, "a" : [true, null, -3] } "#,
            Ok(r#"{"a":[true,null,-3],"b":1}"#),
        );
        check(
            r#"{"s":"é\u00e9\n\u001f\"\\/"}"#,
            Ok("{\"s\":\"éé\\n\\u001f\\\"\\\\/\"}"),
        );
        check(
            r#"{"z":{"y":1,"x":2},"a":""}"#,
            Ok(r#"{"a":"","z":{"x":2,"y":1}}"#),
        );
        check("9007199254740991", Ok("9007199254740991"));
        check("-9007199254740991", Ok("-9007199254740991"));
        check(r#""\ud83d\ude00""#, Ok("\"😀\""));
    }

    #[test]
    fn refusals() {
        check(
            "9007199254740992",
            Err(CanonError::Number("9007199254740992".into())),
        );
        check(
            "-9007199254740992",
            Err(CanonError::Number("-9007199254740992".into())),
        );
        check(
            "18446744073709551616",
            Err(CanonError::Number("1.8446744073709552e19".into())),
        );
        check("1.0", Err(CanonError::Number("1.0".into())));
        check("1e2", Err(CanonError::Number("100.0".into())));
        for out_of_range in ["1e400", "-1e400", r#"{"amount":1E999}"#] {
            let e = parse_strict(out_of_range.as_bytes()).unwrap_err();
            assert!(matches!(e, CanonError::Number(_)), "{out_of_range}: {e:?}");
        }
        check(
            r#"{"a":1,"a":2}"#,
            Err(CanonError::DuplicateKey("a".into())),
        );
        check(r#"{"é":1}"#, Err(CanonError::NonAsciiKey("é".into())));
        check(r#""a\u0000b""#, Err(CanonError::Nul));
        assert!(parse_strict(b"{").unwrap_err().is_malformed());
        assert!(parse_strict(b"[1] x").unwrap_err().is_malformed());
        assert!(parse_strict(b"\"\xff\"").unwrap_err().is_malformed());
        assert!(parse_strict(br#""\ud800""#).unwrap_err().is_malformed());
    }

    #[test]
    fn values_built_in_code_are_checked_too() {
        let v = serde_json::json!({"x": 1.5});
        assert!(matches!(canonical_json(&v), Err(CanonError::Number(_))));
        let v = serde_json::json!({"x": u64::MAX});
        assert!(matches!(canonical_json(&v), Err(CanonError::Number(_))));
    }
}
