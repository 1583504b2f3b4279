//! Receipts: submitting entries and checking what the node answers. A
//! receipt counts only once its checkpoint verifies with the node's vkey,
//! its inclusion proof verifies against that checkpoint, and the leaf
//! rebuilt from the entry we sent, the receipt's `seq`, `logged_at` and
//! `prev` hashes to its `leaf_hash` (SPEC §7): no leaf is fetched.

use std::collections::HashMap;

use anyhow::Context;
use ledger::canonical::{canonical_json, parse_strict};
use ledger::checkpoint::{Checkpoint, CheckpointVerifier};
use ledger::entry::{Leaf, SignedEntry};
use ledger::merkle::{leaf_hash, Hash};
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

/// Checks a receipt: the checkpoint's signature, the inclusion proof, and
/// the leaf if the receipt carries one. Returns the checkpoint.
pub fn check(verifier: &CheckpointVerifier, r: &Receipt) -> Result<Checkpoint, String> {
    let cp = verifier
        .verify(r.checkpoint.as_bytes())
        .map_err(|e| format!("the receipt's checkpoint does not verify: {e}"))?;
    cp.root
        .verify_inclusion(&r.leaf_hash, r.seq, &r.inclusion)
        .map_err(|e| {
            format!(
                "seq {} is not proven in the checkpoint's tree of size {}: {e}",
                r.seq, cp.root.size
            )
        })?;
    if let Some(leaf) = &r.leaf {
        let leaf = leaf_of(r, leaf)?;
        leaf.entry
            .verify()
            .map_err(|e| format!("the leaf's entry does not verify: {e}"))?;
    }
    Ok(cp)
}

/// The receipt's leaf, checked to be the one its hash names.
fn leaf_of(r: &Receipt, leaf: &Value) -> Result<Leaf, String> {
    let bytes = canonical_json(leaf).map_err(|e| format!("the leaf is not canonical JSON: {e}"))?;
    if leaf_hash(&bytes) != r.leaf_hash {
        return Err(format!(
            "the leaf hashes to {}, the receipt says {}",
            leaf_hash(&bytes),
            r.leaf_hash
        ));
    }
    let leaf = Leaf::from_bytes(&bytes).map_err(|e| format!("the leaf is malformed: {e}"))?;
    if leaf.seq != r.seq || leaf.logged_at != r.logged_at || leaf.prev != r.prev {
        return Err("the leaf's seq, logged_at or prev differ from the receipt's".into());
    }
    Ok(leaf)
}

/// Checks that `other` (a submitted entry, a leaf, or a `GET
/// /v1/entries/{seq}` answer) is what the receipt is for.
pub fn check_entry(r: &Receipt, other: &Value) -> Result<(), String> {
    if other.get("statement").is_some() {
        let entry = SignedEntry::from_value(other.clone())
            .map_err(|e| format!("the entry file is not a signed entry: {e}"))?;
        let leaf = r.leaf.as_ref().ok_or(
            "this receipt carries no leaf, so it cannot be tied to an entry offline; \
             give the leaf (GET /v1/entries/{seq}) instead",
        )?;
        if leaf_of(r, leaf)?.entry != entry {
            return Err(format!("seq {} holds a different entry", r.seq));
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
            let results = answer["results"]
                .as_array()
                .filter(|r| r.len() == end - start)
                .context("the node's answer does not have one result per entry")?;
            let mut batch: Vec<Outcome> = Vec::with_capacity(results.len());
            for r in results {
                batch.push(match r.get("error") {
                    Some(_) => Err(NodeError::from_answer(400, r.to_string().as_bytes())),
                    None => Ok(serde_json::from_value(r.clone())
                        .context("the node sent a malformed receipt")?),
                });
            }
            if let Err(e) = self.verify(&entries[start..end], &mut batch) {
                let recorded = out.iter().chain(&batch).filter(|o| o.is_ok()).count();
                return Err(crate::Failed(format!(
                    "{e:#}; {recorded} entries are recorded; re-run with the right vkey to collect their receipts"
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
    fn verify(&mut self, entries: &[SignedEntry], batch: &mut [Outcome]) -> anyhow::Result<()> {
        for (entry, outcome) in entries.iter().zip(batch.iter_mut()) {
            let Ok(r) = outcome else { continue };
            let leaf = Leaf {
                entry: entry.clone(),
                logged_at: r.logged_at.clone(),
                prev: r.prev,
                seq: r.seq,
            };
            let bytes = leaf
                .to_bytes()
                .map_err(|e| anyhow::anyhow!("seq {}: {e}", r.seq))?;
            if leaf_hash(&bytes) != r.leaf_hash {
                anyhow::bail!(
                    "seq {}: the receipt's leaf hash is not that of the entry sent",
                    r.seq
                );
            }
            r.leaf = Some(parse_strict(&bytes)?);
            let cp = match self.checkpoints.get(&r.checkpoint) {
                Some(cp) => cp.clone(),
                None => {
                    let cp = self.verifier.verify(r.checkpoint.as_bytes()).map_err(|e| {
                        anyhow::anyhow!(
                            "seq {}: the receipt's checkpoint does not verify: {e}",
                            r.seq
                        )
                    })?;
                    self.checkpoints.insert(r.checkpoint.clone(), cp.clone());
                    cp
                }
            };
            cp.root
                .verify_inclusion(&r.leaf_hash, r.seq, &r.inclusion)
                .map_err(|e| {
                    anyhow::anyhow!("seq {}: the receipt's inclusion proof fails: {e}", r.seq)
                })?;
        }
        Ok(())
    }
}
