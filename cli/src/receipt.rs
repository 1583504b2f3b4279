//! Receipts: submitting entries and checking what the node answers. A
//! receipt counts only once its checkpoint verifies with the node's vkey,
//! its inclusion proof verifies against that checkpoint, and the leaf
//! rebuilt from the entry we sent, the receipt's `seq`, `logged_at` and
//! `prev` hashes to its `leaf_hash` (SPEC §7): no leaf is fetched.

use std::collections::HashMap;

use anyhow::Context;
use ledger::api::{BatchAnswer, BatchItem};
use ledger::canonical::{canonical_json, parse_strict, CanonError};
use ledger::checkpoint::{Checkpoint, CheckpointError, CheckpointVerifier};
use ledger::entry::{EntryError, Leaf, SignedEntry};
use ledger::merkle::{leaf_hash, Hash, ProofError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{NodeClient, NodeError, PAGE};

/// A receipt as the node sends it (SPEC §7), plus, when this tool wrote
/// it, the leaf it is for, so that the receipt can later be tied to the
/// entry offline without keeping the entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's seq.
    pub seq: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// When it was sequenced.
    pub logged_at: String,
    /// The leaf hash of the seq before it.
    pub prev: Hash,
    /// The signed checkpoint of its commit group.
    pub checkpoint: String,
    /// Inclusion proof of `seq` in that checkpoint's tree.
    pub inclusion: Vec<Hash>,
    /// The leaf (added by `aidledger submit` and `import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<Value>,
}

impl Receipt {
    /// The receipt as a C2SP tlog-proof (SPEC §4.2): the same seq, leaf
    /// time and `prev`, inclusion proof and checkpoint.
    pub fn tlog_proof(&self) -> ledger::proof::TlogProof {
        ledger::proof::TlogProof {
            extra: ledger::proof::Extra {
                logged_at: self.logged_at.clone(),
                prev: self.prev,
            },
            index: self.seq,
            path: self.inclusion.clone(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

/// `--proofs-dir`: for each receipt, `SEQ.tlog-proof` and, beside it, the
/// entry it is for (`SEQ.entry.json`, as signed), so that
/// `check-receipt --entry SEQ.entry.json SEQ.tlog-proof` needs nothing
/// else. Each file is written whole and synced.
pub struct ProofsDir(std::path::PathBuf);

impl ProofsDir {
    /// The directory, created if missing.
    pub fn create(dir: &std::path::Path) -> anyhow::Result<ProofsDir> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ProofsDir(dir.to_path_buf()))
    }

    /// Writes one receipt's files.
    pub fn write(&self, r: &Receipt) -> anyhow::Result<()> {
        let proof = self.0.join(format!("{}.tlog-proof", r.seq));
        crate::write_durably(&proof, r.tlog_proof().to_text().as_bytes())
            .with_context(|| format!("writing {}", proof.display()))?;
        if let Some(entry) = r.leaf.as_ref().and_then(|l| l.get("entry")) {
            let path = self.0.join(format!("{}.entry.json", r.seq));
            crate::write_durably(&path, &serde_json::to_vec(entry)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Why a receipt does not count.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// Its checkpoint is not signed by the node's key.
    #[error("the receipt's checkpoint does not verify: {0}")]
    Checkpoint(CheckpointError),
    /// Its inclusion proof does not prove its leaf hash in that checkpoint.
    #[error("seq {seq} is not proven in the checkpoint's tree of size {size}: {error}")]
    NotIncluded {
        /// The receipt's seq.
        seq: u64,
        /// The checkpoint's tree size.
        size: u64,
        /// Why the proof fails.
        error: ProofError,
    },
    /// The leaf it carries (or the entry sent) does not hash to its leaf hash.
    #[error("seq {seq}: the leaf hashes to {found}, the receipt says {expected}")]
    LeafHash {
        /// The receipt's seq.
        seq: u64,
        /// What the leaf hashes to.
        found: Hash,
        /// The receipt's leaf hash.
        expected: Hash,
    },
    /// The leaf is not canonical JSON.
    #[error("the leaf is not canonical JSON: {0}")]
    NotCanonical(CanonError),
    /// The leaf is not a well-formed leaf.
    #[error("the leaf is malformed: {0}")]
    Leaf(EntryError),
    /// The leaf's seq, `logged_at` or `prev` are not the receipt's.
    #[error("the leaf's seq, logged_at or prev differ from the receipt's")]
    LeafMismatch,
    /// The leaf's entry is not validly signed.
    #[error("the leaf's entry does not verify: {0}")]
    Signature(EntryError),
    /// The entry file given to tie the receipt to is not a signed entry.
    #[error("the entry file is not a signed entry: {0}")]
    NotAnEntry(EntryError),
    /// The receipt has no leaf to compare an entry with.
    #[error(
        "this receipt carries no leaf, so it cannot be tied to an entry offline; \
         give the leaf (GET /v1/entries/{{seq}}) instead"
    )]
    NoLeaf,
    /// The receipt's leaf holds another entry.
    #[error("seq {0} holds a different entry")]
    OtherEntry(u64),
}

/// Checks a receipt: the checkpoint's signature, the inclusion proof, and
/// the leaf if the receipt carries one. Returns the checkpoint.
pub fn check(verifier: &CheckpointVerifier, r: &Receipt) -> Result<Checkpoint, ReceiptError> {
    let cp = verifier
        .verify(r.checkpoint.as_bytes())
        .map_err(ReceiptError::Checkpoint)?;
    included(&cp, r)?;
    if let Some(leaf) = &r.leaf {
        leaf_of(r, leaf)?
            .entry
            .verify()
            .map_err(ReceiptError::Signature)?;
    }
    Ok(cp)
}

/// Checks the receipt's inclusion proof against its verified checkpoint.
fn included(cp: &Checkpoint, r: &Receipt) -> Result<(), ReceiptError> {
    cp.root
        .verify_inclusion(&r.leaf_hash, r.seq, &r.inclusion)
        .map_err(|error| ReceiptError::NotIncluded {
            seq: r.seq,
            size: cp.root.size,
            error,
        })
}

/// The receipt's leaf, checked to be the one its hash names.
fn leaf_of(r: &Receipt, leaf: &Value) -> Result<Leaf, ReceiptError> {
    let bytes = canonical_json(leaf).map_err(ReceiptError::NotCanonical)?;
    let found = leaf_hash(&bytes);
    if found != r.leaf_hash {
        return Err(ReceiptError::LeafHash {
            seq: r.seq,
            found,
            expected: r.leaf_hash,
        });
    }
    let leaf = Leaf::from_bytes(&bytes).map_err(ReceiptError::Leaf)?;
    if leaf.seq != r.seq || leaf.logged_at != r.logged_at || leaf.prev != r.prev {
        return Err(ReceiptError::LeafMismatch);
    }
    Ok(leaf)
}

/// Checks that `other` (a submitted entry, a leaf, or a `GET
/// /v1/entries/{seq}` answer) is what the receipt is for.
pub fn check_entry(r: &Receipt, other: &Value) -> Result<(), ReceiptError> {
    if other.get("statement").is_some() {
        let entry = SignedEntry::from_value(other.clone()).map_err(ReceiptError::NotAnEntry)?;
        let leaf = r.leaf.as_ref().ok_or(ReceiptError::NoLeaf)?;
        if leaf_of(r, leaf)?.entry != entry {
            return Err(ReceiptError::OtherEntry(r.seq));
        }
        return Ok(());
    }
    let leaf = other.get("leaf").unwrap_or(other);
    leaf_of(r, leaf).map(|_| ())
}

/// One entry's result: its verified receipt, or the node's refusal.
pub type Outcome = Result<Receipt, NodeError>;

/// Submits entries in arrays of up to 1,000 and verifies every receipt.
pub struct Submitter<'a> {
    client: &'a NodeClient,
    verifier: &'a CheckpointVerifier,
    checkpoints: HashMap<String, Checkpoint>,
}

/// Largest array body sent (the node takes 8 MiB).
const MAX_BODY: usize = 7 << 20;

impl<'a> Submitter<'a> {
    /// Submits to `client`, verifying with `verifier`.
    pub fn new(client: &'a NodeClient, verifier: &'a CheckpointVerifier) -> Submitter<'a> {
        Submitter {
            client,
            verifier,
            checkpoints: HashMap::new(),
        }
    }

    /// Submits `entries` and returns one outcome each, in order. An `Err`
    /// is a transport failure or a receipt that does not verify: the caller
    /// stops, since the node cannot be trusted.
    pub fn submit(&mut self, entries: &[SignedEntry]) -> anyhow::Result<Vec<Outcome>> {
        let mut out = Vec::with_capacity(entries.len());
        let mut start = 0;
        while start < entries.len() {
            let mut body = b"[".to_vec();
            let mut end = start;
            while end < entries.len() && end - start < PAGE as usize && body.len() < MAX_BODY {
                if end > start {
                    body.push(b',');
                }
                serde_json::to_writer(&mut body, &entries[end])?;
                end += 1;
            }
            body.push(b']');
            let (status, answer) = self.client.post("/v1/entries", &body)?;
            if status != 200 {
                return Err(NodeError::from_answer(status, answer.to_string().as_bytes()).into());
            }
            let results = serde_json::from_value::<BatchAnswer<Receipt>>(answer)
                .ok()
                .map(|a| a.results)
                .filter(|r| r.len() == end - start)
                .with_context(|| rust_i18n::t!("receipt.results"))?;
            let mut batch: Vec<Outcome> = results
                .into_iter()
                .map(|item| match item {
                    BatchItem::Refused(body) => Err(NodeError::from_body(400, body)),
                    BatchItem::Receipt(r) => Ok(r),
                })
                .collect();
            if let Err(e) = self.verify(&entries[start..end], &mut batch) {
                let recorded = out.iter().chain(&batch).filter(|o| o.is_ok()).count();
                return Err(crate::Failed(format!(
                    "{e}; {recorded} entries are recorded; re-run with the right vkey to collect their receipts"
                ))
                .into());
            }
            out.extend(batch);
            start = end;
        }
        Ok(out)
    }

    /// Verifies receipts: each one's leaf, rebuilt from the entry sent,
    /// must hash to its `leaf_hash`, which its checkpoint must include.
    fn verify(
        &mut self,
        entries: &[SignedEntry],
        batch: &mut [Outcome],
    ) -> Result<(), ReceiptError> {
        for (entry, outcome) in entries.iter().zip(batch.iter_mut()) {
            let Ok(r) = outcome else { continue };
            let leaf = Leaf {
                entry: entry.clone(),
                logged_at: r.logged_at.clone(),
                prev: r.prev,
                seq: r.seq,
            };
            let bytes = leaf.to_bytes().map_err(ReceiptError::Leaf)?;
            let found = leaf_hash(&bytes);
            if found != r.leaf_hash {
                return Err(ReceiptError::LeafHash {
                    seq: r.seq,
                    found,
                    expected: r.leaf_hash,
                });
            }
            r.leaf = Some(parse_strict(&bytes).map_err(ReceiptError::NotCanonical)?);
            let cp = match self.checkpoints.get(&r.checkpoint) {
                Some(cp) => cp.clone(),
                None => {
                    let cp = self
                        .verifier
                        .verify(r.checkpoint.as_bytes())
                        .map_err(ReceiptError::Checkpoint)?;
                    self.checkpoints.insert(r.checkpoint.clone(), cp.clone());
                    cp
                }
            };
            included(&cp, r)?;
        }
        Ok(())
    }
}
