//! Auditors' signed statistics (SPEC §4.3): an auditor who replayed the
//! ledger to size N signs, with its own Ed25519 key, a C2SP signed note
//! whose body is `aidledger/stats/v1`, the origin, N, the root at N and the
//! hash of the figures it recomputed, each line ending in `\n`.
//!
//! The figures themselves are the ledger crate's (`api::StatsAnswer`); this
//! module knows only their hash.

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::SigningKey;
use signed_note::{Note, VerificationError, Verifiers};

use crate::checkpoint::{key_id, sign_note, vkey_string, CheckpointError, CheckpointVerifier};
use crate::merkle::{Hash, RootHash};

/// The first line of an audited-statistics note.
pub const STATS_HEADER: &str = "aidledger/stats/v1";

/// What an auditor's note says: the ledger, its size and root, and the hash
/// of the figures over seqs 0..N-1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsClaim {
    /// The log's origin.
    pub origin: String,
    /// N and the root hash at N.
    pub root: RootHash,
    /// `SHA-256(JCS(stats(N)))`.
    pub stats_hash: Hash,
}

impl StatsClaim {
    /// The five body lines the signature covers.
    pub fn body(&self) -> String {
        format!(
            "{STATS_HEADER}\n{}\n{}\n{}\n{}\n",
            self.origin,
            self.root.size,
            BASE64_STANDARD.encode(self.root.hash.as_bytes()),
            BASE64_STANDARD.encode(self.stats_hash.as_bytes())
        )
    }

    /// Parses a note's body: exactly the five lines, N in decimal without
    /// leading zeros, both hashes 32 bytes of standard base64.
    pub fn parse(body: &[u8]) -> Result<StatsClaim, AuditedError> {
        let bad = |why: &str| AuditedError::Malformed(why.to_owned());
        let text = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
        let lines = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("body does not end in a newline"))?;
        let [header, origin, size, root, stats] = lines.split('\n').collect::<Vec<_>>()[..] else {
            return Err(bad("body is not five lines"));
        };
        if header != STATS_HEADER {
            return Err(bad("first line is not aidledger/stats/v1"));
        }
        if origin.is_empty() {
            return Err(bad("empty origin"));
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("size is not a decimal number"));
        }
        let size = size.parse().map_err(|_| bad("size is too large"))?;
        let hash = |line: &str, what: &str| -> Result<Hash, AuditedError> {
            let raw = BASE64_STANDARD
                .decode(line)
                .map_err(|_| bad(&format!("{what} is not base64")))?;
            let raw: [u8; 32] = raw
                .try_into()
                .map_err(|_| bad(&format!("{what} is not 32 bytes")))?;
            Ok(Hash::new(raw))
        };
        Ok(StatsClaim {
            origin: origin.to_owned(),
            root: RootHash {
                size,
                hash: hash(root, "root")?,
            },
            stats_hash: hash(stats, "stats hash")?,
        })
    }
}

/// Why an auditor's note or key was refused. Never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditedError {
    /// Not a signed note, or its body is not the five lines.
    #[error("malformed audited-statistics note: {0}")]
    Malformed(String),
    /// No signature by a listed auditor.
    #[error("the note is not signed by a listed auditor")]
    UnknownAuditor,
    /// A listed auditor's signature line that does not verify.
    #[error("the signature of {0} does not verify")]
    BadSignature(String),
    /// An auditors file line that is not `name vkey`.
    #[error("auditors file line {line}: {why}")]
    BadList {
        /// 1-based.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// Signs audited statistics with an auditor's key.
pub struct StatsSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl StatsSigner {
    /// A signer named `name` (a valid note key name: no spaces or '+').
    pub fn new(name: &str, key: SigningKey) -> Result<StatsSigner, CheckpointError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::BadVkey(
                "name is not a valid key name (no spaces or '+')",
            ));
        }
        Ok(StatsSigner {
            name: name.to_owned(),
            id: key_id(name, &key.verifying_key()),
            key,
        })
    }

    /// The vkey a node's operator lists, after the name.
    pub fn vkey(&self) -> String {
        vkey_string(&self.name, &self.key.verifying_key())
    }

    /// The auditor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed note of `claim`.
    pub fn sign(&self, claim: &StatsClaim) -> String {
        sign_note(&self.name, self.id, &self.key, &claim.body())
    }
}

/// The auditors whose notes count: a node's `--auditors` list, a page's.
#[derive(Debug, Clone, Default)]
pub struct Auditors {
    keys: Vec<CheckpointVerifier>,
}

impl Auditors {
    /// Parses `name vkey` lines; blank lines and `#` comments are skipped.
    /// The vkey's name must be the line's name, and no name twice.
    pub fn parse(text: &str) -> Result<Auditors, AuditedError> {
        let mut keys: Vec<CheckpointVerifier> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let bad = |why: String| AuditedError::BadList { line: i + 1, why };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(name), Some(vkey), None) = (words.next(), words.next(), words.next()) else {
                return Err(bad("want `name vkey`".into()));
            };
            let key = CheckpointVerifier::from_vkey(vkey).map_err(|e| bad(e.to_string()))?;
            if key.origin() != name {
                return Err(bad(format!("the vkey is {}'s, not {name}'s", key.origin())));
            }
            if keys.iter().any(|k| k.origin() == name) {
                return Err(bad(format!("{name} is listed twice")));
            }
            keys.push(key);
        }
        Ok(Auditors { keys })
    }

    /// Their names, in the list's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.origin())
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a note: every line by a listed auditor must verify, at
    /// least one must be there; other lines are ignored. Returns the
    /// auditors who signed it and what it says.
    pub fn verify(&self, note: &[u8]) -> Result<(Vec<String>, StatsClaim), AuditedError> {
        let parsed = Note::from_bytes(note).map_err(|e| AuditedError::Malformed(e.to_string()))?;
        let (signed, _) = parsed.verify(self).map_err(|e| match e {
            signed_note::NoteError::UnverifiedNote => AuditedError::UnknownAuditor,
            signed_note::NoteError::InvalidSignature { name, .. } => {
                AuditedError::BadSignature(name)
            }
            other => AuditedError::Malformed(other.to_string()),
        })?;
        let claim = StatsClaim::parse(parsed.text())?;
        Ok((signed.iter().map(|s| s.name().to_owned()).collect(), claim))
    }
}

impl Verifiers for Auditors {
    fn verifier(
        &self,
        name: &str,
        id: u32,
    ) -> Result<&dyn signed_note::Verifier, VerificationError> {
        self.keys
            .iter()
            .find(|k| k.origin() == name && k.id() == id)
            .map(|k| k as &dyn signed_note::Verifier)
            .ok_or_else(|| VerificationError::UnknownKey {
                name: name.to_owned(),
                id,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> StatsClaim {
        StatsClaim {
            origin: "demo.aidledger.local/aid/2026".into(),
            root: RootHash {
                size: 42,
                hash: Hash::new([7; 32]),
            },
            stats_hash: Hash::new([9; 32]),
        }
    }

    fn signer(name: &str, seed: u8) -> StatsSigner {
        StatsSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn a_listed_auditors_note_verifies_and_says_what_was_signed() {
        let office = signer("audit-office", 6);
        let list =
            Auditors::parse(&format!("# auditors\n\naudit-office {}\n", office.vkey())).unwrap();
        let note = office.sign(&claim());
        assert!(note.starts_with("aidledger/stats/v1\ndemo.aidledger.local/aid/2026\n42\n"));
        let (who, said) = list.verify(note.as_bytes()).unwrap();
        assert_eq!(who, ["audit-office"]);
        assert_eq!(said, claim());
    }

    #[test]
    fn an_unlisted_key_a_changed_body_or_a_bad_list_is_refused() {
        let office = signer("audit-office", 6);
        let other = signer("audit-office", 7);
        let list = Auditors::parse(&format!("audit-office {}", office.vkey())).unwrap();
        assert_eq!(
            list.verify(other.sign(&claim()).as_bytes()),
            Err(AuditedError::UnknownAuditor)
        );
        let changed = office.sign(&claim()).replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            list.verify(changed.as_bytes()),
            Err(AuditedError::BadSignature("audit-office".into()))
        );
        let mismatch = Auditors::parse(&format!("inspection {}", office.vkey()));
        assert!(matches!(
            mismatch,
            Err(AuditedError::BadList { line: 1, .. })
        ));
        let twice = Auditors::parse(&format!(
            "audit-office {0}\naudit-office {0}",
            office.vkey()
        ));
        assert!(matches!(twice, Err(AuditedError::BadList { line: 2, .. })));
    }

    #[test]
    fn only_the_five_lines_parse() {
        let good = claim().body();
        assert_eq!(StatsClaim::parse(good.as_bytes()), Ok(claim()));
        for bad in [
            good.replacen("aidledger/stats/v1", "aidledger/stats/v2", 1),
            good.replacen("\n42\n", "\n042\n", 1),
            good.replacen("\n42\n", "\n-1\n", 1),
            good.trim_end().to_owned(),
            format!("{good}extra\n"),
            good.replacen("\n42\n", "\n42\n\n", 1),
        ] {
            assert!(StatsClaim::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
