//! Witnesses (SPEC §4.1): C2SP tlog-cosignature v1 Ed25519 cosignatures
//! (signature type `0x04`), the decision a C2SP tlog-witness makes on an
//! `add-checkpoint` request, and C2SP tlog-policy files with their quorum.
//! Pure: no I/O, no clock (timestamps are passed in).
//!
//! A cosignature line is `— <name> base64(key_id[4] || u64be timestamp ||
//! ed25519_signature[64])`; the key id is `SHA-256(name || 0x0A || 0x04 ||
//! pubkey32)[0..4]` and the signed message is `cosignature/v1\ntime
//! <timestamp>\n` followed by the checkpoint body (its three lines).

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointVerifier};
use crate::merkle::{Hash, RootHash};

/// C2SP signed-note signature type of timestamped Ed25519 cosignatures.
pub const COSIGNATURE_TYPE: u8 = 0x04;

/// The header line of the cosigned message (domain separation).
const HEADER: &str = "cosignature/v1\n";

/// Most consistency-proof lines an `add-checkpoint` request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// Largest timestamp a cosignature may carry (C2SP: at most 2^63 - 1).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Why a witness key, a cosignature or a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The vkey is not `<name>+<8 hex>+<base64(0x04 || key32)>` with a matching key id.
    #[error("malformed witness key: {0}")]
    BadVkey(&'static str),
    /// The cosignature is not `key_id || timestamp || signature` by this key.
    #[error("cosignature of {0} does not verify")]
    BadCosignature(String),
}

/// `SHA-256(name || 0x0A || 0x04 || pubkey32)[0..4]` as a u32.
pub fn cosignature_key_id(name: &str, key: &VerifyingKey) -> u32 {
    signed_note::key_id(name, &typed_key(key))
}

fn typed_key(key: &VerifyingKey) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = COSIGNATURE_TYPE;
    out[1..].copy_from_slice(key.as_bytes());
    out
}

/// The message a cosignature signs: the header, the timestamp line, then
/// the checkpoint body (its three lines, final newline included).
pub fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("{HEADER}time {timestamp}\n{body}")
}

/// A witness's key: makes cosignature lines.
pub struct WitnessSigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl WitnessSigner {
    /// A witness named `name` (a valid note key name, e.g. `audit.example.gov.cn/w1`).
    pub fn new(name: &str, key: SigningKey) -> Result<WitnessSigner, WitnessError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(WitnessError::BadVkey(
                "name is not a valid key name (no spaces or '+')",
            ));
        }
        let id = cosignature_key_id(name, &key.verifying_key());
        Ok(WitnessSigner {
            name: name.to_owned(),
            key,
            id,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its vkey, `<name>+<8 hex key id>+<base64(0x04 || pubkey32)>`.
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(typed_key(&self.key.verifying_key()))
        )
    }

    /// The cosignature line (ending in `\n`) for the checkpoint `cp` at
    /// `timestamp` (seconds since the epoch; must not be zero).
    pub fn cosign(&self, cp: &Checkpoint, timestamp: u64) -> String {
        let timestamp = timestamp.clamp(1, MAX_TIMESTAMP);
        let sig = self
            .key
            .sign(cosigned_message(&cp.body(), timestamp).as_bytes());
        let mut blob = Vec::with_capacity(4 + 8 + 64);
        blob.extend_from_slice(&self.id.to_be_bytes());
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}\n", self.name, BASE64_STANDARD.encode(blob))
    }
}

/// A witness's public key, as a policy names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl WitnessVerifier {
    /// Parses a witness vkey and checks that its key id matches its key.
    pub fn from_vkey(vkey: &str) -> Result<WitnessVerifier, WitnessError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(WitnessError::BadVkey("want <name>+<id>+<key>"));
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(WitnessError::BadVkey("invalid name"));
        }
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WitnessError::BadVkey("key id is not 8 hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| WitnessError::BadVkey("key id"))?;
        let raw = BASE64_STANDARD
            .decode(key_b64)
            .map_err(|_| WitnessError::BadVkey("key is not base64"))?;
        let [COSIGNATURE_TYPE, key @ ..] = raw.as_slice() else {
            return Err(WitnessError::BadVkey(
                "not an Ed25519 cosignature key (type 0x04)",
            ));
        };
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| WitnessError::BadVkey("Ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| WitnessError::BadVkey("not a valid Ed25519 point"))?;
        if cosignature_key_id(name, &key) != id {
            return Err(WitnessError::BadVkey("key id does not match name and key"));
        }
        Ok(WitnessVerifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its key id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Checks a cosignature (the bytes after the key id: timestamp and
    /// signature) over `body`; returns its timestamp.
    pub fn verify(&self, body: &str, cosignature: &[u8]) -> Result<u64, WitnessError> {
        let bad = || WitnessError::BadCosignature(self.name.clone());
        let (ts, sig) = cosignature.split_at_checked(8).ok_or_else(bad)?;
        let timestamp = u64::from_be_bytes(ts.try_into().expect("8 bytes"));
        let sig: [u8; 64] = sig.try_into().map_err(|_| bad())?;
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(bad());
        }
        self.key
            .verify_strict(
                cosigned_message(body, timestamp).as_bytes(),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| bad())?;
        Ok(timestamp)
    }
}

impl WitnessVerifier {
    /// The first of `lines` (note signature lines, as an `add-checkpoint`
    /// answer holds them) that is this witness's valid cosignature over
    /// `body`.
    pub fn find_cosignature<'a>(&self, body: &str, lines: &'a str) -> Option<&'a str> {
        lines.lines().find(|line| {
            signed_note::Signature::from_bytes(line.as_bytes()).is_ok_and(|sig| {
                sig.name() == self.name
                    && sig.id() == self.id
                    && self.verify(body, sig.signature()).is_ok()
            })
        })
    }
}

/// One signature line of a note: key name, key id, the bytes after the id.
type SignatureLine = (String, u32, Vec<u8>);

/// The signature lines of a signed note and the note's text. `None` if it
/// is not a note.
fn signature_lines(note: &[u8]) -> Option<(String, Vec<SignatureLine>)> {
    let text = std::str::from_utf8(note).ok()?;
    let (body, sigs) = text.rsplit_once("\n\n")?;
    let lines = sigs
        .strip_suffix('\n')?
        .split('\n')
        .map(|line| {
            let sig = signed_note::Signature::from_bytes(line.as_bytes()).ok()?;
            Some((sig.name().to_owned(), sig.id(), sig.signature().to_vec()))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((format!("{body}\n"), lines))
}

/// What an `add-checkpoint` request carries (C2SP tlog-witness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint.
    pub note: Vec<u8>,
}

/// Why a witness does not cosign, with the HTTP status C2SP tlog-witness
/// gives each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the body is not `old N`, proof lines, an empty line and a
    /// checkpoint, or `old` exceeds the checkpoint's size.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 404: the witness does not know the checkpoint's origin.
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    /// 403: no valid signature by a key trusted for the origin.
    #[error("not signed by a trusted key of {0:?}")]
    Unsigned(String),
    /// 409: `old` is not the size the witness holds (answered as `<size>\n`).
    #[error("the witness holds size {0}")]
    Conflict(u64),
    /// 422: the request does not show that the checkpoint extends what the
    /// witness holds (a proof that fails, a proof from size 0). Anybody can
    /// send a genuine checkpoint with a garbage proof: this proves nothing.
    #[error("inconsistent: {0}")]
    Inconsistent(String),
    /// 422: the validly signed checkpoint provably belongs to another
    /// history than the one the witness holds: equal sizes with other
    /// roots, an empty tree with a root that is not the empty one, or a
    /// proof that leads to the checkpoint's root from another root at the
    /// witness's size. Only the log's key can make one: evidence of a fork.
    #[error("another history: {0}")]
    Forked(String),
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::Unsigned(_) => 403,
            Refusal::UnknownLog(_) => 404,
            Refusal::Conflict(_) => 409,
            Refusal::Inconsistent(_) | Refusal::Forked(_) => 422,
        }
    }
}

impl AddCheckpoint {
    /// Parses a request body: `old <N>\n`, up to 63 base64 hash lines, an
    /// empty line, then the signed checkpoint.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, Refusal> {
        let bad = |why: &str| Refusal::Malformed(why.to_owned());
        let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| is_decimal(n))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad("the first line is not `old <size>`"))?;
        let proof = proof_lines(lines).map_err(bad)?;
        Ok(AddCheckpoint {
            old,
            proof,
            note: note.as_bytes().to_vec(),
        })
    }

    /// The request body for this request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(BASE64_STANDARD.encode(h.as_bytes()).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.note);
        out
    }

    /// The origin the checkpoint names (unverified): which log's state
    /// and lock the decision needs.
    pub fn origin(&self) -> Option<String> {
        stated_checkpoint(&self.note).map(|cp| cp.origin)
    }

    /// The witness's decision (C2SP tlog-witness `add-checkpoint`), given
    /// the keys it trusts for the origin the checkpoint names (`None`: an
    /// unknown log) and the tree it last cosigned for that origin (`None`:
    /// never). On `Ok` the witness stores the new tree, durably and under
    /// the same lock as the check, then cosigns it.
    pub fn decide(
        &self,
        trusted: impl Fn(&str) -> Option<Vec<CheckpointVerifier>>,
        stored: Option<RootHash>,
    ) -> Result<Checkpoint, Refusal> {
        let body = stated_checkpoint(&self.note)
            .ok_or_else(|| Refusal::Malformed("not a signed checkpoint".into()))?;
        let keys = trusted(&body.origin).ok_or_else(|| Refusal::UnknownLog(body.origin.clone()))?;
        let mut signed = None;
        for key in &keys {
            match key.verify(&self.note) {
                Ok(cp) => signed = Some(cp),
                // A line that claims a trusted key but does not verify makes
                // the note malformed: refused like an unsigned one.
                Err(CheckpointError::Unsigned(_)) if has_line_of(&self.note, key) => {
                    return Err(Refusal::Unsigned(body.origin))
                }
                Err(_) => {}
            }
        }
        let cp = signed.ok_or_else(|| Refusal::Unsigned(body.origin.clone()))?;
        if self.old > cp.root.size {
            return Err(Refusal::Malformed(format!(
                "old size {} is larger than the checkpoint's {}",
                self.old, cp.root.size
            )));
        }
        let held = stored.unwrap_or(RootHash::EMPTY);
        if self.old != held.size {
            return Err(Refusal::Conflict(held.size));
        }
        let inconsistent = |why: String| Err(Refusal::Inconsistent(why));
        let forked = |why: String| Err(Refusal::Forked(why));
        if cp.root.size == 0 && cp.root.hash != Hash::EMPTY_ROOT {
            return forked("an empty tree with another root than the empty one".into());
        }
        if self.old == 0 {
            if !self.proof.is_empty() {
                return inconsistent("a consistency proof from the empty tree".into());
            }
            return Ok(cp);
        }
        if self.old == cp.root.size && held.hash != cp.root.hash {
            return forked(format!(
                "another root for size {}: the witness holds {}",
                held.size, held.hash
            ));
        }
        if cp.root.verify_consistency(&held, &self.proof).is_err() {
            if let Some(other) = cp
                .root
                .older_root(held.size, &self.proof)
                .filter(|h| *h != held.hash)
            {
                return forked(format!(
                    "the proof shows size {} with root {other} under this checkpoint; the witness holds {}",
                    held.size, held.hash
                ));
            }
            return inconsistent(format!(
                "the proof does not show size {} extends the witness's {}",
                cp.root.size, held.size
            ));
        }
        Ok(cp)
    }
}

/// `s` is a decimal with no leading zeroes (`0` alone allowed).
/// Proof lines as C2SP's notes write them: up to [`MAX_PROOF_LINES`]
/// hashes, one standard-base64 SHA-256 a line (a tlog-witness request's,
/// a tlog-proof's).
pub(crate) fn proof_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<Hash>, &'static str> {
    let mut out = Vec::new();
    for l in lines {
        if out.len() == MAX_PROOF_LINES {
            return Err("more than 63 proof lines");
        }
        let raw = BASE64_STANDARD
            .decode(l)
            .map_err(|_| "a proof line is not base64")?;
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| "a proof line is not a 32-byte hash")?;
        out.push(Hash::new(raw));
    }
    Ok(out)
}

/// A decimal number as C2SP writes one: digits, no leading zero.
pub(crate) fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// The checkpoint a note's body states, without checking any signature.
pub fn stated_checkpoint(note: &[u8]) -> Option<Checkpoint> {
    let (text, _) = signature_lines(note)?;
    let cp = tlog_tiles::Checkpoint::from_bytes(text.as_bytes()).ok()?;
    Some(Checkpoint {
        origin: cp.origin().to_owned(),
        root: RootHash {
            size: cp.size(),
            hash: Hash::new(cp.hash().0),
        },
    })
}

/// Whether `note` has a signature line with `key`'s name and key id.
fn has_line_of(note: &[u8], key: &CheckpointVerifier) -> bool {
    signature_lines(note).is_some_and(|(_, lines)| {
        lines
            .iter()
            .any(|(name, id, _)| name == key.origin() && *id == key.id())
    })
}

mod policy;

pub use policy::{Policy, PolicyError, PolicyLog, PolicyWitness, Witnessed};
