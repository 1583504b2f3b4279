//! The `aidledger` command line: signing and bulk import for fund managers,
//! verification for auditors. Thin glue over the `ledger` library (built
//! without its RocksDB store) and the node's HTTP API.

#![deny(missing_docs)]

use std::io::Write;
use std::path::Path;

pub mod audit;
pub mod client;
pub mod iati;
pub mod import;
pub mod receipt;

/// A verification failure (exit status 1), as opposed to a usage or I/O
/// error (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

/// Writes `bytes` to `path` so that it is whole or absent after a crash:
/// a temporary file, fsync, rename.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
