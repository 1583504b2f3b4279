//! `verify --tiles`: a log audited from its tiles alone, through the
//! verifier's `TileFollower`.

use ledger::follow::{FollowError, TileFollower, TileSource};
use ledger::tiles::TilePath;

use super::{Audit, Pins, Report, LOOKAHEAD};
use crate::client::NodeClient;
use crate::Failed;

/// `verify --tiles`: the whole log from a C2SP tlog-tiles URL with no node
/// behind it (a bucket's public endpoint, a CDN, a node's own root): the
/// checkpoint at `/checkpoint`, every entry bundle through the audit (as
/// `verify --node`: canonical leaves, chain, signatures, the rules), then
/// every hash tile compared with the one the leaves give. A tile that is
/// missing, malformed or not what the leaves give is named.
pub fn verify_tiles(
    pins: &Pins,
    client: &NodeClient,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Report> {
    let note = client.get("/checkpoint")?;
    let (cp, witnesses) = pins.trust.check_witnessed(&note)?;
    let size = cp.root.size;
    progress.set_length(size);
    // The checkpoint's trust is the auditor's own (its findings, --max-age);
    // the follower reads the tiles and compares the hash tiles.
    let follower = TileFollower::new(HttpTiles(client), pins.trust.verifier.clone(), None);
    let failed = |e: FollowError<String>| -> anyhow::Error { Failed(e.to_string()).into() };
    let mut audit = Audit::new(pins)?;
    let mut hash_tiles = follower.hash_tiles();
    for bundle in follower.bundles(0, size) {
        let bundle = bundle.map_err(failed)?;
        let leaves = bundle.leaves(0).map_err(|b| failed(b.into()))?;
        let mut leaves = leaves.into_iter().map(|(_, leaf)| leaf);
        while let Some(leaf) = leaves.next() {
            if let Err(fault) = audit.push(leaf) {
                let after: Vec<Vec<u8>> = std::iter::once(leaf)
                    .chain(leaves.by_ref().take(LOOKAHEAD))
                    .map(<[u8]>::to_vec)
                    .collect();
                return Err(audit.fail(fault, &after, false));
            }
            hash_tiles.push(leaf);
        }
        if let Err(e) = hash_tiles.check_completed() {
            // A fault among the leaves already pushed comes first.
            return Err(match audit.close(None) {
                Err(earlier) => earlier,
                Ok(_) => failed(e),
            });
        }
        progress.set_position(audit.size());
    }
    let mut done = audit.finish(&cp)?;
    hash_tiles.finish().map_err(failed)?;
    progress.finish_and_clear();
    Ok(Report {
        checkpoint: cp,
        witnesses,
        from: 0,
        genesis: pins.genesis.and(done.genesis),
        rules: super::rule_spans(done.replay.state_mut())?,
        stats: super::stats_of(pins, done.replay.state_mut())?,
    })
}

/// A log's tiles at a node's root, a bucket's public endpoint or a CDN.
struct HttpTiles<'a>(&'a NodeClient);

impl TileSource for HttpTiles<'_> {
    type Error = String;

    fn checkpoint(&self) -> Result<Vec<u8>, String> {
        self.0
            .get("/checkpoint")
            .map_err(|e| format!("checkpoint: cannot be read: {e:#}"))
    }

    fn tile(&self, t: &TilePath) -> Result<Vec<u8>, String> {
        self.0
            .get(&format!("/{t}"))
            .map_err(|e| format!("{t}: cannot be read: {e:#}"))
    }
}
