//! The `aidledger` command line: signing and bulk import for fund managers,
//! verification for auditors. Thin glue over the `ledger` library (built
//! without its RocksDB store) and the node's HTTP API.

#![deny(missing_docs)]

use std::io::Write;
use std::path::Path;

rust_i18n::i18n!("locales", fallback = "en");

pub mod admin;
pub mod audit;
pub mod client;
pub mod config;
pub mod explain;
pub mod finding;
pub mod i18n;
pub mod iati;
pub mod import;
pub mod parse;
pub mod pseudonym;
pub mod receipt;
pub mod refusal;
pub mod vocab;
pub mod witness;

use ledger::checkpoint::CheckpointVerifier;
use ledger::merkle::Hash;

/// A verification failure (exit status 1), as opposed to a usage or I/O
/// error (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

/// Leaves between two updates of a progress bar: often enough to see it
/// move, rarely enough to cost nothing.
pub const PROGRESS_EVERY: u64 = 4096;

/// Writes `bytes` to `path` so that it is whole or absent after a crash,
/// and there after a power loss: a temporary file, fsync, rename, fsync of
/// the directory that holds the new name.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// The vkey to trust, checked against the node before anything is sent:
/// the node's latest checkpoint must verify with it and, if `genesis` is
/// given, the node's genesis must be that one. Without `vkey`, the node's
/// own (said so on stderr). A wrong trust anchor is a verification
/// failure, and nothing is written.
pub fn trusted_verifier(
    client: &client::NodeClient,
    vkey: Option<String>,
    genesis: Option<String>,
) -> anyhow::Result<CheckpointVerifier> {
    let vkey = match vkey {
        Some(v) => v,
        None => {
            let v = client.log_info()?.vkey;
            eprintln!("{}", rust_i18n::t!("trust.own_vkey", vkey = v));
            v
        }
    };
    let verifier = CheckpointVerifier::from_vkey(&vkey).map_err(|e| {
        anyhow::anyhow!(
            "{}",
            rust_i18n::t!("trust.bad_vkey", vkey = vkey, error = e)
        )
    })?;
    let note = client.checkpoint()?;
    verifier.verify(&note).map_err(|e| {
        Failed(rust_i18n::t!("trust.wrong_vkey", error = e.to_string()).into_owned())
    })?;
    if let Some(genesis) = genesis {
        let pinned: Hash = genesis
            .parse()
            .map_err(|_| anyhow::anyhow!("{}", rust_i18n::t!("trust.bad_genesis")))?;
        let theirs = client.log_info()?.genesis;
        if theirs != Some(pinned) {
            return Err(Failed(
                rust_i18n::t!(
                    "trust.wrong_genesis",
                    theirs = theirs.map_or("-".into(), |h| h.to_hex()),
                    pinned = pinned
                )
                .into_owned(),
            )
            .into());
        }
    }
    Ok(verifier)
}

/// A nonce for an entry signed by hand: `s-<unix ms>-n<8 hex>`. The letter
/// keeps the PII guard (which reads nonces) from joining the time's digits
/// to the random hex's across the `-`.
pub fn fresh_nonce() -> String {
    let mut r = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("s-{ms}-n{}", hex::encode(r))
}
