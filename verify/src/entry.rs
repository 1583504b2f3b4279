//! Statements, signed entries and leaves (SPEC §2, §3).

use std::fmt;
use std::time::SystemTime;

use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::canonical::{
    self, parse_strict, push_hex, write_integer, write_string, write_value, CanonError,
};
use crate::domain::Kind;
use crate::merkle::{leaf_hash, Hash};

/// Domain separation prefix of every signed statement (SPEC §2).
pub const ENTRY_CONTEXT: &[u8] = b"aidledger/entry/v1\n";
/// Largest leaf in bytes: tile bundles prefix each leaf with a u16 length.
pub const MAX_LEAF_BYTES: usize = 65_535;
/// Statement format version.
pub const STATEMENT_VERSION: u64 = 1;

/// Why bytes are not a valid entry or leaf. Each maps to one SPEC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not JSON (`malformed_json`).
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON of the wrong shape, or outside SPEC §1's profile (`schema_violation`).
    #[error("{0}")]
    Schema(String),
    /// The leaf would exceed 65,535 bytes (`too_large`).
    #[error("leaf of {0} bytes exceeds 65535")]
    TooLarge(usize),
    /// `verify_strict` refused the signature, or the key is not a valid point (`bad_signature`).
    #[error("signature does not verify under the statement's key")]
    BadSignature,
    /// Stored leaf bytes are not the canonical encoding of the leaf they hold.
    #[error("leaf bytes are not canonical JSON")]
    NotCanonical,
}

impl From<CanonError> for EntryError {
    fn from(e: CanonError) -> EntryError {
        if e.is_malformed() {
            EntryError::Malformed(e.to_string())
        } else {
            EntryError::Schema(e.to_string())
        }
    }
}

macro_rules! hex_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Parses exactly the right number of hex digits.
            pub fn from_hex(s: &str) -> Option<$name> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(s, &mut out).ok()?;
                Some($name(out))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(&crate::canonical::lower_hex(&self.0))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&crate::canonical::lower_hex(&self.0))
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(serde::de::Error::custom(concat!(stringify!($name), " must be lowercase hex")));
                }
                $name::from_hex(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!(stringify!($name), " must be ", stringify!($len), " bytes of hex"))
                })
            }
        }
    };
}

hex_bytes!(
    /// An Ed25519 public key as it appears in statements (64 lowercase hex).
    PublicKey,
    32
);
hex_bytes!(
    /// An Ed25519 signature (128 lowercase hex).
    EntrySignature,
    64
);

/// What an organisation's key signs (SPEC §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Format version, 1.
    pub v: u64,
    /// Record kind (SPEC §6), e.g. `disbursement`.
    pub kind: Kind,
    /// Org id of the issuing organisation.
    pub issuer: String,
    /// The signing key; must be an active key of `issuer`.
    pub key: PublicKey,
    /// `(issuer, nonce)` is unique in the ledger.
    pub nonce: String,
    /// When the issuer signed, RFC 3339 UTC.
    pub issued_at: String,
    /// Kind-specific body.
    #[serde(deserialize_with = "canonical::deserialize_strict")]
    pub body: Value,
}

impl Statement {
    /// `JCS(statement)`.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out)?;
        Ok(out)
    }

    /// Appends `JCS(statement)`: the members in JCS order, written directly
    /// (equal to `canonical_json(to_value(self))`, tested, without the copy).
    pub fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), CanonError> {
        out.extend_from_slice(b"{\"body\":");
        write_value(&self.body, out)?;
        out.extend_from_slice(b",\"issued_at\":");
        write_string(&self.issued_at, out)?;
        out.extend_from_slice(b",\"issuer\":");
        write_string(&self.issuer, out)?;
        out.extend_from_slice(b",\"key\":\"");
        push_hex(&self.key.0, out);
        out.extend_from_slice(b"\",\"kind\":");
        write_string(self.kind.as_str(), out)?;
        out.extend_from_slice(b",\"nonce\":");
        write_string(&self.nonce, out)?;
        out.extend_from_slice(b",\"v\":");
        write_integer(self.v, out)?;
        out.push(b'}');
        Ok(())
    }

    /// The exact bytes signed: `aidledger/entry/v1\n` + `JCS(statement)`.
    pub fn signed_message(&self) -> Result<Vec<u8>, EntryError> {
        let mut msg = Vec::with_capacity(512);
        msg.extend_from_slice(ENTRY_CONTEXT);
        self.write_canonical(&mut msg)?;
        Ok(msg)
    }

    /// Checks the envelope rules of SPEC §1–§2 that do not depend on the kind:
    /// version, nonce and timestamp syntax, and every object key's pattern.
    pub fn check_envelope(&self) -> Result<(), EntryError> {
        if self.v != STATEMENT_VERSION {
            return Err(EntryError::Schema(format!("v must be {STATEMENT_VERSION}")));
        }
        if !is_nonce(&self.nonce) {
            return Err(EntryError::Schema(
                "nonce must be 1-64 chars of [A-Za-z0-9._:-]".into(),
            ));
        }
        if !is_rfc3339_utc(&self.issued_at) {
            return Err(EntryError::Schema(
                "issued_at must be an RFC 3339 UTC timestamp ending in Z".into(),
            ));
        }
        check_keys(&self.body, "body")
    }

    /// Signs this statement.
    pub fn sign(self, key: &SigningKey) -> Result<SignedEntry, EntryError> {
        let signature = key.sign(&self.signed_message()?);
        Ok(SignedEntry {
            statement: self,
            signature: EntrySignature(signature.to_bytes()),
        })
    }
}

fn check_keys(value: &Value, path: &str) -> Result<(), EntryError> {
    match bad_key(value) {
        None => Ok(()),
        Some((at, k)) => Err(EntryError::Schema(format!(
            "{path}{at}: key {k:?} does not match ^[a-z][a-z0-9_]{{0,63}}$"
        ))),
    }
}

/// The first object key in `value` that is not `^[a-z][a-z0-9_]{0,63}$`,
/// with the path from `value` to the object holding it. The path is only
/// built for a bad key: valid entries allocate nothing here.
fn bad_key(value: &Value) -> Option<(String, &str)> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let ok = k.len() <= 64
                && k.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Some((String::new(), k.as_str()));
            }
            bad_key(v).map(|(at, bad)| (format!(".{k}{at}"), bad))
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| bad_key(v).map(|(at, bad)| (format!("[{i}]{at}"), bad))),
        _ => None,
    }
}

/// A nonce's syntax (SPEC §2): `^[A-Za-z0-9._:-]{1,64}$`.
pub fn is_nonce(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` with a real calendar date and time.
pub fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let frac = &b[19..b.len() - 1];
    let frac_ok = frac.is_empty()
        || (frac[0] == b'.'
            && (2..=10).contains(&frac.len())
            && frac[1..].iter().all(u8::is_ascii_digit));
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(h), Some(mi), Some(sec)) = (num(11..13), num(14..16), num(17..19)) else {
        return false;
    };
    frac_ok && crate::date::parse(&s[..10]).is_some() && h < 24 && mi < 60 && sec < 60
}

/// A submitted entry: a statement and its signature (SPEC §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEntry {
    /// Ed25519 signature over [`Statement::signed_message`].
    pub signature: EntrySignature,
    /// The signed statement.
    pub statement: Statement,
}

impl SignedEntry {
    /// Builds a version-1 statement whose `key` is `signer`'s and signs it.
    pub fn create(
        signer: &SigningKey,
        issuer: &str,
        kind: Kind,
        nonce: &str,
        issued_at: &str,
        body: Value,
    ) -> Result<SignedEntry, EntryError> {
        Statement {
            v: STATEMENT_VERSION,
            kind,
            issuer: issuer.to_owned(),
            key: PublicKey(signer.verifying_key().to_bytes()),
            nonce: nonce.to_owned(),
            issued_at: issued_at.to_owned(),
            body,
        }
        .sign(signer)
    }

    /// Parses a submitted entry from untrusted bytes: strict JSON, the
    /// entry's shape and the envelope rules. Does not check the signature.
    pub fn from_json(bytes: &[u8]) -> Result<SignedEntry, EntryError> {
        SignedEntry::from_value(parse_strict(bytes)?)
    }

    /// As [`SignedEntry::from_json`], from a strictly parsed value.
    pub fn from_value(value: Value) -> Result<SignedEntry, EntryError> {
        let entry: SignedEntry =
            serde_json::from_value(value).map_err(|e| EntryError::Schema(e.to_string()))?;
        entry.statement.check_envelope()?;
        Ok(entry)
    }

    /// Ed25519 `verify_strict` of the signature over the canonical statement.
    pub fn verify(&self) -> Result<(), EntryError> {
        verify_strict(
            &self.statement.key,
            &self.statement.signed_message()?,
            &self.signature,
        )
    }
}

/// `verify_strict` (SPEC §2): canonical `S`, key and `R` not of small order,
/// cofactorless equation. Accepts exactly what ed25519-dalek's
/// `VerifyingKey::verify_strict` accepts (`tests/strict_verify.rs` checks
/// the two against each other on valid, forged and edge-case signatures),
/// with one square root fewer.
///
/// ed25519-dalek decompresses `R` (a square root) to refuse a small-order
/// `R`, computes `R' = [s]B - [k]A` and accepts iff `compress(R')` equals
/// the signature's `R` bytes. Here `R` is not decompressed: when the bytes
/// equal `compress(R')` they decompress to `R'` itself, so "`R` is not of
/// small order" is "`R'` is not of small order", three doublings. When the
/// bytes differ, both refuse.
pub fn verify_strict(key: &PublicKey, msg: &[u8], sig: &EntrySignature) -> Result<(), EntryError> {
    let expected = expected_r(key, msg, sig).ok_or(EntryError::BadSignature)?;
    r_matches(&expected, &expected.compress(), sig)
}

/// [`verify_strict`] of each of `items` (key, signed message, signature),
/// in order, with the same answers. Compressing `[s]B - [k]A` needs a
/// field inversion (~a fifth of a verification); here one inversion serves
/// all the items (Montgomery's trick, curve25519-dalek's
/// `compress_batch_alloc`).
pub fn verify_strict_all(
    items: &[(&PublicKey, &[u8], &EntrySignature)],
) -> Vec<Result<(), EntryError>> {
    use curve25519_dalek::EdwardsPoint;
    let expected: Vec<Option<EdwardsPoint>> = items
        .iter()
        .map(|(key, msg, sig)| expected_r(key, msg, sig))
        .collect();
    let points: Vec<EdwardsPoint> = expected.iter().flatten().copied().collect();
    let mut compressed = EdwardsPoint::compress_batch_alloc(&points).into_iter();
    items
        .iter()
        .zip(expected)
        .map(|((_, _, sig), point)| {
            let point = point.ok_or(EntryError::BadSignature)?;
            let c = compressed.next().expect("one encoding per point");
            r_matches(&point, &c, sig)
        })
        .collect()
}

/// `[s]B - [k]A`, or `None` for a key that is no point or of small order,
/// or an `s` that is not below the group order.
fn expected_r(
    key: &PublicKey,
    msg: &[u8],
    sig: &EntrySignature,
) -> Option<curve25519_dalek::EdwardsPoint> {
    use curve25519_dalek::{EdwardsPoint, Scalar};
    use sha2::{Digest, Sha512};
    let minus_a = minus_key_point(key)?;
    let (r, s) = sig.0.split_at(32);
    let s: Scalar = Option::from(Scalar::from_canonical_bytes(
        s.try_into().expect("64 = 32 + 32"),
    ))?;
    let k: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(key.0)
        .chain_update(msg)
        .finalize()
        .into();
    let k = Scalar::from_bytes_mod_order_wide(&k);
    Some(EdwardsPoint::vartime_double_scalar_mul_basepoint(
        &k, &minus_a, &s,
    ))
}

/// The last step of [`verify_strict`]: `expected`, whose encoding is
/// `compressed`, is the signature's `R` and not of small order.
fn r_matches(
    expected: &curve25519_dalek::EdwardsPoint,
    compressed: &curve25519_dalek::edwards::CompressedEdwardsY,
    sig: &EntrySignature,
) -> Result<(), EntryError> {
    if compressed.as_bytes()[..] == sig.0[..32] && !expected.is_small_order() {
        Ok(())
    } else {
        Err(EntryError::BadSignature)
    }
}

/// `-A` for a public key `A`, from a per-thread cache: a ledger has few
/// signing keys, and decompressing one costs a fifth of a verification.
/// `None` for bytes that are no curve point and for small-order (weak) keys.
fn minus_key_point(key: &PublicKey) -> Option<curve25519_dalek::EdwardsPoint> {
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use std::cell::RefCell;
    use std::collections::HashMap;
    /// Bound on cached keys per thread (the cache is emptied when full).
    const MAX_KEYS: usize = 4_096;
    thread_local! {
        static KEYS: RefCell<HashMap<[u8; 32], EdwardsPoint>> = RefCell::new(HashMap::new());
    }
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some(k) = keys.get(&key.0) {
            return Some(*k);
        }
        let a = CompressedEdwardsY(key.0).decompress()?;
        if a.is_small_order() {
            return None;
        }
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(key.0, -a);
        Some(-a)
    })
}

/// One sequenced entry (SPEC §3). `leaf_bytes = JCS(leaf)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaf {
    /// The submitted entry as accepted.
    pub entry: SignedEntry,
    /// The node's clock at sequencing, RFC 3339 UTC, non-decreasing with seq.
    pub logged_at: String,
    /// `leaf_hash(seq - 1)`, or 64 zeros for seq 0.
    pub prev: Hash,
    /// Position in the log, from 0.
    pub seq: u64,
}

impl Leaf {
    /// `JCS(leaf)`, refused with [`EntryError::TooLarge`] past 65,535 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntryError> {
        Ok(self.encode()?.0)
    }

    /// `JCS(leaf)` written directly, and where in it `JCS(statement)` lies.
    fn encode(&self) -> Result<(Vec<u8>, std::ops::Range<usize>), EntryError> {
        let statement = self.entry.statement.canonical_bytes()?;
        Leaf::encode_parts(
            &self.entry.signature,
            &statement,
            &self.logged_at,
            &self.prev,
            self.seq,
        )
    }

    /// `JCS(leaf)` of the leaf with these members, `statement` being
    /// `JCS(statement)` computed beforehand (the sequencer computes it for
    /// a whole group in parallel).
    pub fn encode_parts(
        signature: &EntrySignature,
        statement: &[u8],
        logged_at: &str,
        prev: &Hash,
        seq: u64,
    ) -> Result<(Vec<u8>, std::ops::Range<usize>), EntryError> {
        let mut out = Vec::with_capacity(statement.len() + 320);
        out.extend_from_slice(b"{\"entry\":{\"signature\":\"");
        push_hex(&signature.0, &mut out);
        out.extend_from_slice(b"\",\"statement\":");
        let start = out.len();
        out.extend_from_slice(statement);
        let statement = start..out.len();
        out.extend_from_slice(b"},\"logged_at\":");
        write_string(logged_at, &mut out)?;
        out.extend_from_slice(b",\"prev\":\"");
        push_hex(prev.as_bytes(), &mut out);
        out.extend_from_slice(b"\",\"seq\":");
        write_integer(seq, &mut out)?;
        out.push(b'}');
        if out.len() > MAX_LEAF_BYTES {
            return Err(EntryError::TooLarge(out.len()));
        }
        Ok((out, statement))
    }

    /// Parses stored or exported leaf bytes and checks they are exactly the
    /// canonical encoding of the leaf they hold.
    pub fn from_bytes(bytes: &[u8]) -> Result<Leaf, EntryError> {
        Ok(Leaf::parse(bytes)?.0)
    }

    /// As [`Leaf::from_bytes`], also giving the signed message
    /// (`aidledger/entry/v1\n` + the statement's canonical bytes, which lie
    /// verbatim inside the leaf's).
    pub fn parse(bytes: &[u8]) -> Result<(Leaf, Vec<u8>), EntryError> {
        if bytes.len() > MAX_LEAF_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        // Typed parsing is strict too: duplicate or unknown members are
        // errors, and the body goes through parse_strict's visitor.
        let leaf: Leaf = serde_json::from_slice(bytes)
            .map_err(|e| EntryError::from(canonical::from_serde(e)))?;
        let (canonical, statement) = leaf.encode()?;
        if canonical != bytes {
            return Err(EntryError::NotCanonical);
        }
        let mut msg = Vec::with_capacity(ENTRY_CONTEXT.len() + statement.len());
        msg.extend_from_slice(ENTRY_CONTEXT);
        msg.extend_from_slice(&bytes[statement]);
        Ok((leaf, msg))
    }
}

/// A leaf ready to store: its bytes and RFC 6962 leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRecord {
    /// `JCS(leaf)`.
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 || bytes)`.
    pub hash: Hash,
}

impl LeafRecord {
    /// Hashes `bytes`.
    pub fn new(bytes: Vec<u8>) -> LeafRecord {
        let hash = leaf_hash(&bytes);
        LeafRecord { bytes, hash }
    }
}

/// `logged_at` text for a clock reading: RFC 3339 UTC with milliseconds.
pub fn format_timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Reads a timestamp in any precision SPEC §1 allows.
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    if !is_rfc3339_utc(s) {
        return None;
    }
    humantime::parse_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for ok in [
            "2026-11-21T08:30:00Z",
            "2024-02-29T23:59:59.123456789Z",
            "2026-01-01T00:00:00.1Z",
        ] {
            assert!(is_rfc3339_utc(ok), "{ok}");
            assert!(parse_timestamp(ok).is_some(), "{ok}");
        }
        for bad in [
            "2026-11-21T08:30:00",
            "2026-11-21 08:30:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T08:30:00.Z",
            "2026-11-21T08:30:00.1234567890Z",
            "2026-11-21T08:30:00+08:00",
        ] {
            assert!(!is_rfc3339_utc(bad), "{bad}");
        }
        let t = parse_timestamp("2026-02-01T10:00:00.125Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-02-01T10:00:00.125Z");
    }

    #[test]
    fn direct_writers_equal_generic_canonical_json() {
        let st = Statement {
            v: 1,
            kind: Kind::NeedPublish,
            issuer: "江苏".into(),
            key: PublicKey([3; 32]),
            nonce: "k\u{1}\"".into(),
            issued_at: "2026-11-21T08:30:00Z".into(),
            body: serde_json::json!({"z": [1, -2, {"b": null, "a": "é\n"}], "a": true}),
        };
        let generic = canonical::canonical_json(&serde_json::to_value(&st).unwrap()).unwrap();
        assert_eq!(st.canonical_bytes().unwrap(), generic);
        let leaf = Leaf {
            entry: SignedEntry {
                signature: EntrySignature([9; 64]),
                statement: st,
            },
            logged_at: "2026-11-21T08:30:00.125Z".into(),
            prev: Hash::new([4; 32]),
            seq: 77,
        };
        let generic = canonical::canonical_json(&serde_json::to_value(&leaf).unwrap()).unwrap();
        assert_eq!(leaf.to_bytes().unwrap(), generic);
        let (parsed, msg) = Leaf::parse(&generic).unwrap();
        assert_eq!(parsed, leaf);
        assert_eq!(msg, leaf.entry.statement.signed_message().unwrap());
        // Anything but the canonical bytes is refused.
        let spaced = String::from_utf8(generic.clone())
            .unwrap()
            .replacen(":", ": ", 1);
        assert_eq!(
            Leaf::from_bytes(spaced.as_bytes()),
            Err(EntryError::NotCanonical)
        );
        let dup =
            String::from_utf8(generic)
                .unwrap()
                .replacen("{\"entry\":", "{\"seq\":1,\"entry\":", 1);
        assert!(Leaf::from_bytes(dup.as_bytes()).is_err());
    }

    #[test]
    fn envelope_rules() {
        let statement = |nonce: &str, body: Value| Statement {
            v: 1,
            kind: Kind::Correction,
            issuer: "CN-ORG-1".into(),
            key: PublicKey([7; 32]),
            nonce: nonce.into(),
            issued_at: "2026-11-21T08:30:00Z".into(),
            body,
        };
        assert!(
            statement("a.b:c-D_9", serde_json::json!({"ok_1": [{"x": 1}]}))
                .check_envelope()
                .is_ok()
        );
        for (nonce, body) in [
            ("", serde_json::json!({})),
            ("a b", serde_json::json!({})),
            (&"n".repeat(65) as &str, serde_json::json!({})),
            ("n", serde_json::json!({"Bad": 1})),
            ("n", serde_json::json!({"a": [{"_x": 1}]})),
        ] {
            assert!(matches!(
                statement(nonce, body).check_envelope(),
                Err(EntryError::Schema(_))
            ));
        }
        // The refusal names the object holding the bad key.
        let nested = serde_json::json!({"a": [1, {"b": {"ok": 1, "Bad": 2}}]});
        assert_eq!(
            statement("n", nested).check_envelope(),
            Err(EntryError::Schema(
                "body.a[1].b: key \"Bad\" does not match ^[a-z][a-z0-9_]{0,63}$".into()
            ))
        );
    }
}
