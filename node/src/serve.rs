//! The node on the shared serve loop ([`server`]): the descriptors it keeps
//! for its store.

pub use server::{raise_file_limit, serve, Backlog, FileLimitTooLow, Limits};

/// File descriptors kept for everything but connections: RocksDB's table
/// files and blob files (each bounded by `MAX_OPEN_FILES`), its WAL,
/// manifest, lock and info log, the listener, stdio and the node's key.
pub const RESERVED_FILES: u64 = 2 * ledger::store::MAX_OPEN_FILES + 128;

/// The node's limits for a process allowed `file_limit` open files.
pub fn limits(file_limit: u64) -> Result<Limits, FileLimitTooLow> {
    Limits::for_file_limit(file_limit, RESERVED_FILES)
}
