//! aidledger core: the rules, the replay state and the durable store, on top
//! of the verifier's bytes, chain, proofs and checkpoints
//! ([`aidledger_verify`], whose modules are re-exported here).
//!
//! # Bytes (SPEC §1–§4)
//!
//! - `canonical_json(v)`: RFC 8785 JCS restricted to integers in ±(2^53-1)
//!   and ASCII keys ([`canonical`]). Nothing is hashed or signed any other way.
//! - An organisation signs `b"aidledger/entry/v1\n" || JCS(statement)` with
//!   Ed25519; the node accepts only what `verify_strict` accepts ([`entry`]).
//! - The node sequences an entry into the leaf
//!   `{"entry":{"signature","statement"},"logged_at","prev","seq"}`;
//!   `leaf_bytes = JCS(leaf)` (≤ 65,535 bytes), `leaf_hash = SHA-256(0x00 ||
//!   leaf_bytes)`, `prev = leaf_hash(seq - 1)` (64 zeros at seq 0).
//! - The Merkle tree is RFC 6962 MTH over `leaf_bytes`; interior nodes are
//!   `SHA-256(0x01 || left || right)` ([`merkle`]).
//! - A checkpoint is the C2SP note `origin\nsize\nbase64(root)\n` signed with
//!   the node's Ed25519 key; its key id is
//!   `SHA-256(origin || 0x0A || 0x01 || pubkey)[0..4]` ([`checkpoint`]).
//!
//! Verification ([`verify`], [`merkle::RootHash`], [`checkpoint::CheckpointVerifier`])
//! lives in `aidledger-verify`, which does no I/O; the rules and replay build
//! without the `store` feature (no RocksDB, no C++).

#![deny(missing_docs)]

/// A function of the write path: `pub` for the crate's own tests and
/// benches (feature `test-support`), `pub(crate)` in every other build, so
/// that leaves reach a log only through the checks.
macro_rules! sealed {
    ($(#[$meta:meta])* fn $($rest:tt)*) => {
        #[cfg(any(test, feature = "test-support"))]
        $(#[$meta])* pub fn $($rest)*
        #[cfg(not(any(test, feature = "test-support")))]
        $(#[$meta])* pub(crate) fn $($rest)*
    };
}

pub mod api;
pub mod body;
pub mod code;
pub mod ident;
pub mod keyfile;
pub mod oprf;
pub mod query;
pub mod records;
pub mod rules;
pub mod schema;
pub mod sequencer;
#[cfg(feature = "spill")]
pub mod spill;
pub mod state;
pub mod store;
pub mod tiles;

/// The streaming verifier of a chain of leaves.
pub use aidledger_verify::chain as verify;
pub use aidledger_verify::{
    audited, canonical, checkpoint, date, domain, entry, follow, merkle, proof, witness,
};

pub use canonical::{canonical_json, parse_strict, CanonError};
pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, CheckpointVerifier};
pub use entry::{EntryError, Leaf, LeafRecord, PublicKey, SignedEntry, Statement};
pub use merkle::{Hash, RootHash};
#[cfg(feature = "store")]
pub use store::RocksBackend;
pub use store::{Backend, Log, MemBackend, StoreError};
pub use verify::{ChainVerifier, KnownLeaves, VerifiedLeaves, VerifyError};
