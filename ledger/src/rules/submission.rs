//! What is checked of a submitted entry before the rules, in the SPEC's
//! order: JSON, size, schema (with the envelope), signature
//! (`verify_strict`). None of it reads state.

use serde_json::Value;

use super::{Code, Refusal};
use crate::canonical::parse_strict;
use crate::entry::{EntryError, SignedEntry, MAX_LEAF_BYTES};

/// Bytes a leaf adds around its entry, at most: `{"entry":`, `,"logged_at":"…"`
/// (24-char timestamp), `,"prev":"<64 hex>"`, `,"seq":<≤16 digits>}`.
pub const LEAF_OVERHEAD: usize = 9 + 15 + 24 + 1 + 9 + 64 + 1 + 7 + 16 + 1;

/// Entries whose signatures are checked with one field inversion
/// ([`check_batch`]): large enough to amortise it, small enough to spread
/// a group over all cores and to share them between clients.
pub const CHECK_CHUNK: usize = 64;

/// Everything checked before the rules, in the SPEC's order: JSON, size,
/// schema (with the envelope), signature (`verify_strict`).
pub fn check_submission(bytes: &[u8]) -> Result<SignedEntry, Refusal> {
    check_submission_value(parse_strict(bytes).map_err(EntryError::from)?)
}

/// As [`check_submission`], for an entry already parsed strictly (one
/// element of a submitted array). The canonical size is what counts.
pub fn check_submission_value(value: Value) -> Result<SignedEntry, Refusal> {
    let (entry, msg) = check_unsigned(value)?;
    crate::entry::verify_strict(&entry.statement.key, &msg, &entry.signature)?;
    Ok(entry)
}

/// [`check_submission_value`] of each of `values`, on all cores, with the
/// same answers in order: [`check_batch`] of each [`CHECK_CHUNK`] entries.
pub fn check_submissions(values: Vec<Value>) -> Vec<Result<SignedEntry, Refusal>> {
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
pub fn check_batch(values: Vec<Value>) -> Vec<Result<SignedEntry, Refusal>> {
    let unsigned: Vec<Result<(SignedEntry, Vec<u8>), Refusal>> =
        values.into_iter().map(check_unsigned).collect();
    let items: Vec<_> = unsigned
        .iter()
        .flatten()
        .map(|(e, msg)| (&e.statement.key, &msg[..], &e.signature))
        .collect();
    let mut verdicts = crate::entry::verify_strict_all(&items).into_iter();
    unsigned
        .into_iter()
        .map(|u| {
            let (entry, _) = u?;
            verdicts.next().expect("one verdict per entry")?;
            Ok(entry)
        })
        .collect()
}

/// Everything [`check_submission_value`] checks before the signature; also
/// the message the signature must cover.
fn check_unsigned(value: Value) -> Result<(SignedEntry, Vec<u8>), Refusal> {
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
    let msg = entry.statement.signed_message()?;
    Ok((entry, msg))
}
