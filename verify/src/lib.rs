//! aidledger verification: everything an auditor needs to check a ledger,
//! and nothing that does I/O (SPEC §1–§5).
//!
//! - `canonical_json(v)`: RFC 8785 JCS restricted to integers in ±(2^53-1)
//!   and ASCII keys ([`canonical`]). Nothing is hashed or signed any other way.
//! - An organisation signs `b"aidledger/entry/v1\n" || JCS(statement)` with
//!   Ed25519; only what `verify_strict` accepts is valid ([`entry`]).
//! - A leaf is `{"entry":{"signature","statement"},"logged_at","prev","seq"}`;
//!   `leaf_bytes = JCS(leaf)` (≤ 65,535 bytes), `leaf_hash = SHA-256(0x00 ||
//!   leaf_bytes)`, `prev = leaf_hash(seq - 1)` (64 zeros at seq 0).
//! - The Merkle tree is RFC 6962 MTH over `leaf_bytes`; interior nodes are
//!   `SHA-256(0x01 || left || right)` ([`merkle`]).
//! - A checkpoint is the C2SP note `origin\nsize\nbase64(root)\n` signed with
//!   the log's Ed25519 key; its key id is
//!   `SHA-256(origin || 0x0A || 0x01 || pubkey)[0..4]` ([`checkpoint`]);
//!   witnesses cosign it and a policy says whose cosignatures count
//!   ([`witness`]).
//! - Tiles are C2SP tlog-tiles of height 8 ([`tiles`]).
//! - [`chain::ChainVerifier`] checks a stream of leaves: bytes, sequence,
//!   links, times and signatures, and the root they make.
//! - [`follow::TileFollower`] reads another copy of a log from its tiles
//!   through a [`follow::TileSource`] (the source does the I/O): the
//!   checkpoint and quorum, rollbacks and forks, bundles, hash tiles.
//! - [`proof`]: receipts as C2SP tlog-proof files (SPEC §4.2), verified
//!   offline against the entry they are for.
//! - [`audited`]: auditors' signed notes over the statistics at a size
//!   (SPEC §4.3).
//!
//! The crate's dependencies have no I/O runtime (no tokio, hyper, axum,
//! RocksDB or fjall); `scripts/test.sh` checks it. The `ledger` crate builds
//! the store and the rules on it and re-exports these modules.

#![deny(missing_docs)]

pub mod audited;
pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod date;
pub mod domain;
pub mod entry;
pub mod follow;
pub mod merkle;
pub mod proof;
pub mod tiles;
pub mod witness;

pub use canonical::{canonical_json, parse_strict, CanonError};
pub use chain::{ChainVerifier, KnownLeaves, VerifiedLeaves, VerifyError};
pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, CheckpointVerifier};
pub use entry::{EntryError, Leaf, LeafRecord, PublicKey, SignedEntry, Statement};
pub use merkle::{Hash, RootHash};
