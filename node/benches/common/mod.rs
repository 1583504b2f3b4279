//! What the node's benchmarks share.

use rayon::prelude::*;

/// Entries in one submitted array.
pub const BATCH: usize = 1000;

/// `n` JSON arrays of [`BATCH`] credit awards signed by the demo charity
/// (its key is public), unique by `tag`.
pub fn batches(n: usize, tag: &str) -> Vec<Vec<u8>> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    (0..n)
        .map(|b| {
            let entries: Vec<_> = (0..BATCH)
                .into_par_iter()
                .map(|i| {
                    ledger::SignedEntry::create(
                        &key,
                        "CN-USCI-53440300MJ0000018R",
                        ledger::domain::Kind::CreditAward,
                        &format!("bench-{tag}-{b}-{i}"),
                        "2026-03-01T09:00:00Z",
                        serde_json::json!({"holder": format!("vol_{}", "ab".repeat(32)), "points": 1, "reason": "志愿服务"}),
                    )
                    .unwrap()
                })
                .collect();
            serde_json::to_vec(&entries).unwrap()
        })
        .collect()
}

/// The `p` quantile of `v` (sorted here) in milliseconds: the smallest
/// value at or above which a fraction `1 - p` of them lies. (Not every
/// bench that shares this module reports quantiles.)
#[allow(dead_code)]
pub fn pct(v: &mut [std::time::Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}
