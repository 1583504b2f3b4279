//! The tiles of a stored log: what the node serves and replicates. Tile
//! paths, which tiles a size has and how bundles split are the verifier's
//! ([`aidledger_verify::tiles`], re-exported here).

pub use aidledger_verify::tiles::*;

use crate::merkle::hash_tile;
use crate::store::{Backend, Log, StoreError};

/// What a tile of `log` holds: the hashes of a hash tile, or an entry
/// bundle's leaves each after its length (u16 big-endian). The caller checks
/// [`in_tree`] first.
pub fn content<B: Backend>(log: &Log<B>, t: &TilePath) -> Result<Vec<u8>, StoreError> {
    match t.level {
        Some(level) => hash_tile(log.backend(), level, t.index, t.width as u32)
            .map_err(|e| StoreError::Io(format!("tile {t}: {e}"))),
        None => {
            let mut out = Vec::new();
            for leaf in log.leaves(t.first_leaf(), t.width as usize)? {
                out.extend_from_slice(&(leaf.len() as u16).to_be_bytes());
                out.extend_from_slice(&leaf);
            }
            Ok(out)
        }
    }
}
