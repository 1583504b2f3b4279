//! C2SP tlog-checkpoints in C2SP signed-note form (SPEC §4).
//!
//! Note framing (text, blank line, `— name base64(key_id || sig)` lines) is
//! Cloudflare's `signed_note`; the checkpoint body is `tlog_tiles::Checkpoint`.
//! Signatures are made and checked here, with ed25519-dalek's `verify_strict`.

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, VerificationError, Verifier as _, Verifiers};

use crate::merkle::{Hash, RootHash};

/// C2SP signed-note signature type of Ed25519 keys.
const ED25519_TYPE: u8 = 0x01;

/// Why a checkpoint or vkey was refused. Never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The vkey string is not `<name>+<8 hex>+<base64(0x01 || key32)>` with a matching key id.
    #[error("malformed verifier key: {0}")]
    BadVkey(&'static str),
    /// Not a signed note, or its body is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature by the trusted key, or that signature does not verify.
    #[error("checkpoint is not signed by {0}")]
    Unsigned(String),
    /// The body names another origin than the key.
    #[error("checkpoint origin {found:?} is not {expected:?}")]
    WrongOrigin {
        /// The trusted origin.
        expected: String,
        /// What the note says.
        found: String,
    },
}

/// A checkpoint's content: which log, and its tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `ledger.example.gov.cn/aid/2026`.
    pub origin: String,
    /// Tree size and root hash.
    pub root: RootHash,
}

impl Checkpoint {
    /// The three body lines the signature covers, each ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.root.size,
            BASE64_STANDARD.encode(self.root.hash.as_bytes())
        )
    }
}

/// `SHA-256(name || 0x0A || 0x01 || pubkey32)[0..4]` as a u32 (SPEC §4).
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    signed_note::key_id(name, &typed_key(key))
}

fn typed_key(key: &VerifyingKey) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = ED25519_TYPE;
    out[1..].copy_from_slice(key.as_bytes());
    out
}

/// The C2SP vkey string `<name>+<8 hex key_id>+<base64(0x01 || pubkey32)>`.
pub fn vkey_string(name: &str, key: &VerifyingKey) -> String {
    format!(
        "{name}+{:08x}+{}",
        key_id(name, key),
        BASE64_STANDARD.encode(typed_key(key))
    )
}

/// Signs checkpoints with the node's key under the log's origin.
pub struct CheckpointSigner {
    origin: String,
    key: SigningKey,
    id: u32,
}

impl CheckpointSigner {
    /// A signer for `origin`, which must be a valid note key name.
    pub fn new(origin: &str, key: SigningKey) -> Result<CheckpointSigner, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::BadVkey(
                "origin is not a valid key name (no spaces or '+')",
            ));
        }
        let id = key_id(origin, &key.verifying_key());
        Ok(CheckpointSigner {
            origin: origin.to_owned(),
            key,
            id,
        })
    }
    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The vkey auditors pin.
    pub fn vkey(&self) -> String {
        vkey_string(&self.origin, &self.key.verifying_key())
    }
    /// The signed note text for `root`.
    pub fn sign(&self, root: RootHash) -> String {
        let body = Checkpoint {
            origin: self.origin.clone(),
            root,
        }
        .body();
        sign_note(&self.origin, self.id, &self.key, &body)
    }
}

/// The C2SP signed note of `body` with one Ed25519 signature line by the
/// key `name` (key id `id`).
pub(crate) fn sign_note(name: &str, id: u32, key: &SigningKey, body: &str) -> String {
    let sig = key.sign(body.as_bytes());
    let mut blob = id.to_be_bytes().to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    format!("{body}\n\u{2014} {name} {}\n", BASE64_STANDARD.encode(blob))
}

/// Verifies checkpoints against one pinned vkey.
#[derive(Debug, Clone)]
pub struct CheckpointVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CheckpointVerifier {
    /// Parses a vkey string and checks that its key id matches its key.
    pub fn from_vkey(vkey: &str) -> Result<CheckpointVerifier, CheckpointError> {
        // Three fields; the base64 key may itself contain '+'.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CheckpointError::BadVkey("want <name>+<id>+<key>"));
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::BadVkey("invalid name"));
        }
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CheckpointError::BadVkey("key id is not 8 hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| CheckpointError::BadVkey("key id"))?;
        let raw = BASE64_STANDARD
            .decode(key_b64)
            .map_err(|_| CheckpointError::BadVkey("key is not base64"))?;
        let [ED25519_TYPE, key @ ..] = raw.as_slice() else {
            return Err(CheckpointError::BadVkey("not an Ed25519 key (type 0x01)"));
        };
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| CheckpointError::BadVkey("Ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| CheckpointError::BadVkey("not a valid Ed25519 point"))?;
        if key_id(name, &key) != id {
            return Err(CheckpointError::BadVkey(
                "key id does not match name and key",
            ));
        }
        Ok(CheckpointVerifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The origin this key signs for.
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// The C2SP key id: the first 4 bytes of SHA-256(name, 0x0A, 0x01, key).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Parses and verifies a signed checkpoint. Signature lines of other keys
    /// (witness cosignatures) are ignored; at least one line must be ours and
    /// every line that claims to be ours must verify.
    pub fn verify(&self, note: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let note = Note::from_bytes(note).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        note.verify(self).map_err(|e| match e {
            signed_note::NoteError::UnverifiedNote
            | signed_note::NoteError::InvalidSignature { .. } => {
                CheckpointError::Unsigned(self.name.clone())
            }
            other => CheckpointError::Malformed(other.to_string()),
        })?;
        let body = tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|_| {
            CheckpointError::Malformed("body is not origin, size, base64 root".into())
        })?;
        if body.origin() != self.name {
            return Err(CheckpointError::WrongOrigin {
                expected: self.name.clone(),
                found: body.origin().to_owned(),
            });
        }
        Ok(Checkpoint {
            origin: body.origin().to_owned(),
            root: RootHash {
                size: body.size(),
                hash: Hash::new(body.hash().0),
            },
        })
    }
}

impl signed_note::Verifier for CheckpointVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&sig))
            .is_ok()
    }
}

impl Verifiers for CheckpointVerifier {
    fn verifier(
        &self,
        name: &str,
        id: u32,
    ) -> Result<&dyn signed_note::Verifier, VerificationError> {
        if name == self.name() && id == self.key_id() {
            Ok(self)
        } else {
            Err(VerificationError::UnknownKey {
                name: name.to_owned(),
                id,
            })
        }
    }
}
