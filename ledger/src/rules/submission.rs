//! What is checked of a submitted entry before the rules, in the SPEC's
//! order: JSON, size, schema (with the envelope), signature
//! (`verify_strict`). None of it reads state.

use serde_json::Value;

use super::{Code, Refusal};
use crate::canonical::parse_strict;
use crate::entry::{EntryError, SignedEntry, ENTRY_CONTEXT, MAX_LEAF_BYTES};

/// Bytes a leaf adds around its entry, at most: `{"entry":`, `,"logged_at":"…"`
/// (24-char timestamp), `,"prev":"<64 hex>"`, `,"seq":<≤16 digits>}`.
pub const LEAF_OVERHEAD: usize = 9 + 15 + 24 + 1 + 9 + 64 + 1 + 7 + 16 + 1;

/// Entries whose signatures are checked with one field inversion
/// ([`check_batch`]): large enough to amortise it, small enough to spread
/// a group over all cores and to share them between clients.
pub const CHECK_CHUNK: usize = 64;

/// A submitted entry that passed everything checked before the rules
/// (JSON, size, schema with the envelope, signature), with the message its
/// signature covers: `ENTRY_CONTEXT ‖ JCS(statement)`, canonicalised once
/// here and reused as the leaf's statement bytes. Only the checks of this
/// module make one, and the writer takes nothing else, so no entry reaches
/// the log without them.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedEntry {
    entry: SignedEntry,
    message: Vec<u8>,
}

impl CheckedEntry {
    /// The entry.
    pub fn entry(&self) -> &SignedEntry {
        &self.entry
    }

    /// The entry, for what is done with it after the write.
    pub fn into_entry(self) -> SignedEntry {
        self.entry
    }

    /// `JCS(statement)`: the bytes the leaf holds and the nonce record
    /// hashes.
    pub(crate) fn statement_bytes(&self) -> &[u8] {
        &self.message[ENTRY_CONTEXT.len()..]
    }
}

/// Everything checked before the rules, in the SPEC's order: JSON, size,
/// schema (with the envelope), signature (`verify_strict`).
pub fn check_submission(bytes: &[u8]) -> Result<CheckedEntry, Refusal> {
    check_submission_value(parse_strict(bytes).map_err(EntryError::from)?)
}

/// As [`check_submission`], for an entry already parsed strictly (one
/// element of a submitted array). The canonical size is what counts.
pub fn check_submission_value(value: Value) -> Result<CheckedEntry, Refusal> {
    let checked = check_unsigned(value)?;
    let entry = &checked.entry;
    crate::entry::verify_strict(&entry.statement.key, &checked.message, &entry.signature)?;
    Ok(checked)
}

/// [`check_submission_value`] of each of `values`, on all cores, with the
/// same answers in order: [`check_batch`] of each [`CHECK_CHUNK`] entries.
pub fn check_submissions(values: Vec<Value>) -> Vec<Result<CheckedEntry, Refusal>> {
    use rayon::prelude::*;
    if values.len() < 2 {
        return values.into_iter().map(check_submission_value).collect();
    }
    let chunks: Vec<Vec<Value>> = check_chunks(values).collect();
    chunks.into_par_iter().flat_map_iter(check_batch).collect()
}

/// `values` in order, [`CHECK_CHUNK`] at a time: what [`check_batch`]
/// takes.
pub fn check_chunks(values: Vec<Value>) -> impl Iterator<Item = Vec<Value>> {
    let mut values = values.into_iter();
    std::iter::from_fn(move || {
        Some(values.by_ref().take(CHECK_CHUNK).collect::<Vec<_>>()).filter(|c| !c.is_empty())
    })
}

/// [`check_submission_value`] of each of `values`, on this thread, with the
/// same answers in order; their signatures are checked together with
/// [`crate::entry::verify_strict_all`] (one field inversion).
pub fn check_batch(values: Vec<Value>) -> Vec<Result<CheckedEntry, Refusal>> {
    let unsigned: Vec<Result<CheckedEntry, Refusal>> =
        values.into_iter().map(check_unsigned).collect();
    let items: Vec<_> = unsigned
        .iter()
        .flatten()
        .map(|c| (&c.entry.statement.key, &c.message[..], &c.entry.signature))
        .collect();
    let mut verdicts = crate::entry::verify_strict_all(&items).into_iter();
    unsigned
        .into_iter()
        .map(|u| {
            let checked = u?;
            verdicts.next().expect("one verdict per entry")?;
            Ok(checked)
        })
        .collect()
}

/// Everything [`check_submission_value`] checks before the signature, with
/// the message the signature must cover.
fn check_unsigned(value: Value) -> Result<CheckedEntry, Refusal> {
    let canonical = crate::canonical::canonical_json(&value).map_err(EntryError::from)?;
    if canonical.len() + LEAF_OVERHEAD > MAX_LEAF_BYTES {
        return Err(Refusal::new(
            Code::TooLarge,
            format!(
                "entry of {} bytes makes a leaf over {MAX_LEAF_BYTES} bytes",
                canonical.len()
            ),
        ));
    }
    crate::schema::validate_entry(&value)
        .map_err(|e| Refusal::new(Code::SchemaViolation, e.to_string()))?;
    let entry = SignedEntry::from_value(value)?;
    let message = entry.statement.signed_message()?;
    Ok(CheckedEntry { entry, message })
}
