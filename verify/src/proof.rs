//! Receipts as C2SP tlog-proof files (SPEC §4.2): the first line
//! `c2sp.org/tlog-proof@v1`; `extra` base64(JCS(`{"logged_at","prev"}`))
//! of the leaf; `index` its seq; the inclusion hashes, leaf to root, in
//! standard base64; a blank line; the checkpoint, cosignatures included.
//!
//! [`TlogProof::verify`] checks one against the entry it is for, with
//! nothing fetched: the leaf rebuilt from the entry, the seq and the extra
//! data, its hash proved in the checkpoint's tree, the checkpoint's
//! signature (the caller's [`CheckpointVerifier`]) and, where a policy is
//! used, the witnesses' quorum (the caller's, on the verified checkpoint).

use base64::prelude::{Engine, BASE64_STANDARD};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointVerifier};
use crate::entry::{Leaf, SignedEntry};
use crate::merkle::{leaf_hash, Hash};
use crate::witness::{is_decimal, proof_lines};

/// The first line of a tlog-proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The leaf's `logged_at` and `prev` (the `extra` line).
    pub extra: Extra,
    /// The entry's seq (the `index` line).
    pub index: u64,
    /// Inclusion proof, from the leaf's sibling up.
    pub path: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: String,
}

/// What the leaf holds besides the entry and its seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extra {
    /// When the node sequenced it.
    pub logged_at: String,
    /// The leaf hash of the seq before it.
    pub prev: Hash,
}

/// Which check a tlog-proof failed, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFileError {
    /// Not a tlog-proof, or not one of this ledger's form.
    #[error("not a c2sp.org/tlog-proof@v1 file of this ledger: {0}")]
    Malformed(String),
    /// The entry's signature does not verify under its key.
    #[error("the entry's signature does not verify: {0}")]
    Signature(String),
    /// The leaf rebuilt from the entry and the proof is not a valid leaf.
    #[error("the leaf rebuilt from the entry and the proof is not valid: {0}")]
    Leaf(String),
    /// The checkpoint is not signed by the log's key.
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    /// The leaf is not in the checkpoint's tree at the index.
    #[error("the entry is not proven at index {index} of the tree of size {size}")]
    Inclusion {
        /// The proof's index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
}

impl ProofFileError {
    /// The step's name, as `check-receipt` and the page name them.
    pub fn step(&self) -> &'static str {
        match self {
            ProofFileError::Malformed(_) => "format",
            ProofFileError::Signature(_) => "signature",
            ProofFileError::Leaf(_) => "leaf",
            ProofFileError::Checkpoint(_) => "checkpoint",
            ProofFileError::Inclusion { .. } => "inclusion",
        }
    }
}

impl TlogProof {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let extra = serde_json::to_vec(&self.extra).expect("plain data serialises");
        let mut out = format!(
            "{HEADER}\nextra {}\nindex {}\n",
            BASE64_STANDARD.encode(extra),
            self.index
        );
        for h in &self.path {
            out.push_str(&BASE64_STANDARD.encode(h.as_bytes()));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a file's text (the `extra` line is required: without it the
    /// leaf cannot be rebuilt).
    pub fn parse(text: &str) -> Result<TlogProof, ProofFileError> {
        let bad = |why: &str| ProofFileError::Malformed(why.to_owned());
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or_else(|| bad("no extra line (logged_at and prev)"))?;
        let extra = BASE64_STANDARD
            .decode(extra)
            .map_err(|_| bad("extra is not base64"))?;
        // The extra data is JCS: parsing and writing it again gives it back.
        let parsed: Extra =
            serde_json::from_slice(&extra).map_err(|e| bad(&format!("extra: {e}")))?;
        if serde_json::to_vec(&parsed).expect("plain data serialises") != extra {
            return Err(bad("extra is not the canonical JSON of logged_at and prev"));
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .filter(|n| is_decimal(n))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("no index line with a decimal index"))?;
        let path = proof_lines(lines).map_err(bad)?;
        if !checkpoint.ends_with('\n') {
            return Err(bad("the checkpoint does not end in a newline"));
        }
        Ok(TlogProof {
            extra: parsed,
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The proof of `leaf`, included in the tree of `checkpoint` by `path`.
    pub fn of_leaf(leaf: &Leaf, path: Vec<Hash>, checkpoint: String) -> TlogProof {
        TlogProof {
            extra: Extra {
                logged_at: leaf.logged_at.clone(),
                prev: leaf.prev,
            },
            index: leaf.seq,
            path,
            checkpoint,
        }
    }

    /// Checks the proof for `entry`: the entry's signature, the leaf
    /// rebuilt from it, the checkpoint's signature by `log`, the inclusion
    /// of the leaf's hash at the index. Returns the verified checkpoint
    /// (for the caller's witness policy) and the leaf.
    pub fn verify(
        &self,
        entry: &SignedEntry,
        log: &CheckpointVerifier,
    ) -> Result<(Checkpoint, Leaf), ProofFileError> {
        entry
            .verify()
            .map_err(|e| ProofFileError::Signature(e.to_string()))?;
        let leaf = Leaf {
            entry: entry.clone(),
            logged_at: self.extra.logged_at.clone(),
            prev: self.extra.prev,
            seq: self.index,
        };
        let bytes = leaf
            .to_bytes()
            .map_err(|e| ProofFileError::Leaf(e.to_string()))?;
        let cp = log
            .verify(self.checkpoint.as_bytes())
            .map_err(|e| ProofFileError::Checkpoint(e.to_string()))?;
        cp.root
            .verify_inclusion(&leaf_hash(&bytes), self.index, &self.path)
            .map_err(|_| ProofFileError::Inclusion {
                index: self.index,
                size: cp.root.size,
            })?;
        Ok((cp, leaf))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::checkpoint::CheckpointSigner;
    use crate::domain::Kind;
    use crate::merkle::{prove_inclusion, MemTree};

    /// Three leaves, a checkpoint of them, and the proof of the middle one.
    fn three() -> (Vec<Leaf>, CheckpointVerifier, TlogProof) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut leaves = Vec::new();
        let mut tree = MemTree::new();
        let mut prev = Hash::new([0; 32]);
        for seq in 0..3u64 {
            let entry = SignedEntry::create(
                &key,
                "CN-USCI-53440300MJ0000018R",
                Kind::CreditAward,
                &format!("20260101T000000Z-{seq:06}"),
                "2026-01-01T00:00:00Z",
                json!({"holder": format!("vol_{seq:064x}"), "points": 1, "reason": "服务"}),
            )
            .unwrap();
            let leaf = Leaf {
                entry,
                logged_at: "2026-01-01T00:00:01Z".into(),
                prev,
                seq,
            };
            prev = leaf_hash(&leaf.to_bytes().unwrap());
            tree.push(prev);
            leaves.push(leaf);
        }
        let signer =
            CheckpointSigner::new("example.org/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let verifier = CheckpointVerifier::from_vkey(&signer.vkey()).unwrap();
        let path = prove_inclusion(&tree, 1, 3).unwrap();
        let proof = TlogProof::of_leaf(&leaves[1], path, signer.sign(tree.root()));
        (leaves, verifier, proof)
    }

    #[test]
    fn a_proof_written_reads_back_and_verifies_offline() {
        let (leaves, log, proof) = three();
        let text = proof.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        assert!(text.contains("\nindex 1\n"));
        let read = TlogProof::parse(&text).unwrap();
        assert_eq!(read, proof);
        let (cp, leaf) = read.verify(&leaves[1].entry, &log).unwrap();
        assert_eq!(cp.root.size, 3);
        assert_eq!(leaf, leaves[1]);
    }

    #[test]
    fn each_step_that_fails_is_named() {
        let (leaves, log, proof) = three();
        // Another entry than the one proved: its leaf is not at the index.
        let other = proof.verify(&leaves[2].entry, &log).unwrap_err();
        assert_eq!(other.step(), "inclusion");
        // Another time in the extra data: another leaf.
        let mut moved = proof.clone();
        moved.extra.logged_at = "2026-01-01T00:00:02Z".into();
        assert_eq!(
            moved.verify(&leaves[1].entry, &log).unwrap_err().step(),
            "inclusion"
        );
        // The checkpoint of another key.
        let stranger = CheckpointVerifier::from_vkey(
            &CheckpointSigner::new("example.org/log", SigningKey::from_bytes(&[2; 32]))
                .unwrap()
                .vkey(),
        )
        .unwrap();
        assert_eq!(
            proof
                .verify(&leaves[1].entry, &stranger)
                .unwrap_err()
                .step(),
            "checkpoint"
        );
        // A statement changed after signing.
        let mut forged = leaves[1].entry.clone();
        forged.statement.body["points"] = json!(2);
        assert_eq!(proof.verify(&forged, &log).unwrap_err().step(), "signature");
        // Not the format.
        let text = proof.to_text();
        for bad in [
            text.replacen("tlog-proof@v1", "tlog-proof@v2", 1),
            text.replacen("\nindex 1\n", "\nindex 01\n", 1),
            text.replacen("\nextra ", "\nextras ", 1),
            text.replacen("\n\n", "\n", 1),
        ] {
            assert_eq!(
                TlogProof::parse(&bad).unwrap_err().step(),
                "format",
                "{bad}"
            );
        }
    }
}
