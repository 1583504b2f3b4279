//! Derived state rebuilt from the leaves alone: in memory for a check,
//! or in place in a RocksDB store whose state format changed
//! (`aidledger-node reindex`). The store keeps leaves and state; the
//! rules that turn one into the other are replayed here, so the store
//! never calls back up into the sequencer.

use super::{replay, ReplayError};
use crate::state::MemState;
use crate::store::{Backend, Log, StoreError};
#[cfg(feature = "store")]
use {
    super::Replayer,
    crate::entry::Leaf,
    crate::store::{Rebuild, RocksBackend, REBUILD_MEMORY},
};

/// The derived state of `log`, rebuilt from its leaves alone by the rules
/// ([`replay`]). A leaf the rules refuse makes the log
/// [`StoreError::Corrupt`]; a read that fails is [`StoreError::Io`].
pub fn rebuild_state<B: Backend>(log: &Log<B>) -> Result<MemState, StoreError> {
    replay(log).map_err(|e| match e {
        ReplayError::Refused { .. } => StoreError::Corrupt(format!("replaying the leaves: {e}")),
        ReplayError::Storage { .. } => StoreError::Io(format!("replaying the leaves: {e}")),
    })
}

/// Rebuilds the derived state of the RocksDB store in `dir`, of any
/// format, from its leaves: the log's checks at open, the state format
/// removed and every state table emptied, every leaf replayed through the
/// rules (each must be one they accept) with the state written as it grows
/// (a bounded amount in memory, whatever the size), and [`crate::store::STATE_FORMAT`]
/// recorded last, so that an interrupted run leaves a store that is
/// refused at open until it is run again. Returns the log's size.
#[cfg(feature = "store")]
pub fn reindex(dir: &std::path::Path) -> Result<u64, StoreError> {
    reindex_within(dir, REBUILD_MEMORY)
}

/// [`reindex`], holding about `memory` bytes of rebuilt state before
/// writing them.
#[cfg(feature = "store")]
pub fn reindex_within(dir: &std::path::Path, memory: usize) -> Result<u64, StoreError> {
    let mut backend = RocksBackend::open_any_format(dir)?;
    backend.begin_rebuild()?;
    let log = Log::open(backend)?;
    let mut replayer = Replayer::full_in(Rebuild::new(log.backend(), memory));
    let mut failure = None;
    log.scan(0, &mut |seq, bytes| {
        let pushed = Leaf::from_bytes(bytes)
            .map_err(|e| ReplayError::Refused {
                seq,
                refusal: e.into(),
            })
            .and_then(|leaf| replayer.push(&leaf));
        match pushed {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(match e {
            ReplayError::Refused { .. } => {
                StoreError::Corrupt(format!("replaying the leaves: {e}"))
            }
            ReplayError::Storage { .. } => StoreError::Io(format!("replaying the leaves: {e}")),
        });
    }
    replayer.state_mut().flush()?;
    log.backend().finish_rebuild()?;
    Ok(log.size())
}
