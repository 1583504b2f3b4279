//! Following a log from its C2SP tiles: the one way a mirror, a restore and
//! an auditor read another copy of a log. A [`TileFollower`] reads a
//! [`TileSource`] (a node's HTTP root, a bucket, a CDN): the checkpoint,
//! checked with the log's key and a witness policy's quorum; whether it
//! extends what the caller holds; the entry bundles from a seq on, each
//! split into its leaves; and the hash tiles, compared as the leaves
//! complete them. The leaves' chain and the rules are the caller's
//! ([`crate::chain::ChainVerifier`], the `ledger` crate's replay), which
//! keeps this module free of state and of I/O: the source does the
//! reading.
//!
//! Errors keep apart what calls for different answers ([`FollowError`]):
//! a source that cannot be read now (retry), a checkpoint without the
//! quorum yet (retry), and a source that contradicts the log (a bad
//! signature, a rollback, a fork, a malformed or rewritten tile: halt).
//! A fault of the caller's own storage never passes through here.

use std::fmt;

use crate::checkpoint::{Checkpoint, CheckpointVerifier};
use crate::merkle::{leaf_hash, RootHash};
use crate::tiles::{self, TileBuilder, TilePath, TILE_WIDTH};
use crate::witness::Policy;

/// Where a log's tiles are read: `checkpoint` and `tile/…` as C2SP
/// tlog-tiles names them.
pub trait TileSource {
    /// The source's own fault (unreachable, timed out, not found): says
    /// nothing about the log, so worth retrying.
    type Error: fmt::Display;

    /// The signed checkpoint note.
    fn checkpoint(&self) -> Result<Vec<u8>, Self::Error>;

    /// The tile at `t`: an entry bundle or a hash tile.
    fn tile(&self, t: &TilePath) -> Result<Vec<u8>, Self::Error>;

    /// The tiles at `ts`, in order; a source that can read several at once
    /// overrides this (the follower asks for [`READ_AHEAD`] at a time).
    fn tiles(&self, ts: &[TilePath]) -> Vec<Result<Vec<u8>, Self::Error>> {
        ts.iter().map(|t| self.tile(t)).collect()
    }
}

/// Bundles the follower asks its source for at once.
pub const READ_AHEAD: usize = 16;

/// Why following stopped.
#[derive(Debug)]
pub enum FollowError<E> {
    /// The source could not be read: try again.
    Source(E),
    /// The checkpoint is signed by the log's key but its cosignatures do
    /// not meet the policy's quorum (yet).
    NoQuorum {
        /// Its size.
        size: u64,
        /// What the policy found.
        why: String,
    },
    /// The checkpoint is not the log's: malformed, or not signed by its key.
    Checkpoint(String),
    /// The checkpoint is smaller than what was verified before.
    Rollback {
        /// The checkpoint's size.
        size: u64,
        /// The size verified before.
        held: u64,
    },
    /// Another root at a size verified before, or a leaf held rewritten.
    Fork {
        /// Where the histories part.
        at: u64,
        /// What differs.
        why: String,
    },
    /// A tile that is not what the log's leaves give: malformed, or a hash
    /// tile other than the leaves' hashes.
    Tile {
        /// The tile's path.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A tile that is not what the log's leaves give: malformed, or a hash
/// tile other than the leaves' hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTile {
    /// The tile's path.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for BadTile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for BadTile {}

impl<E> From<BadTile> for FollowError<E> {
    fn from(b: BadTile) -> FollowError<E> {
        FollowError::Tile {
            path: b.path,
            problem: b.problem,
        }
    }
}

impl<E> FollowError<E> {
    /// True when the log's copy may yet be right and a later try may
    /// succeed: the source unreachable, or the quorum not met yet.
    pub fn is_retryable(&self) -> bool {
        matches!(self, FollowError::Source(_) | FollowError::NoQuorum { .. })
    }
}

fn bad_tile(t: &TilePath, problem: impl Into<String>) -> BadTile {
    BadTile {
        path: t.to_string(),
        problem: problem.into(),
    }
}

impl<E: fmt::Display> fmt::Display for FollowError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowError::Source(e) => write!(f, "the source cannot be read: {e}"),
            FollowError::NoQuorum { size, why } => {
                write!(f, "the checkpoint of size {size} lacks the quorum: {why}")
            }
            FollowError::Checkpoint(why) => write!(f, "the checkpoint: {why}"),
            FollowError::Rollback { size, held } => write!(
                f,
                "the checkpoint covers {size} entries, {held} were verified before: a rollback"
            ),
            FollowError::Fork { at, why } => write!(f, "a fork at {at}: {why}"),
            FollowError::Tile { path, problem } => write!(f, "{path}: {problem}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for FollowError<E> {}

/// A checkpoint the follower checked: the log's signature and, with a
/// policy, its quorum.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The note as read.
    pub note: Vec<u8>,
    /// (policy name, timestamp) of each witness whose cosignature verified.
    pub cosignatures: Vec<(String, u64)>,
}

/// An entry bundle read and split.
#[derive(Debug)]
pub struct Bundle {
    /// Its tile.
    pub tile: TilePath,
    bytes: Vec<u8>,
}

impl Bundle {
    /// Its leaves with their seqs, from `from` on (leaves before it are
    /// skipped); a bundle that is not `width` length-prefixed leaves is a
    /// [`BadTile`].
    pub fn leaves(&self, from: u64) -> Result<Vec<(u64, &[u8])>, BadTile> {
        let leaves = tiles::bundle_leaves(&self.bytes, self.tile.width).ok_or_else(|| {
            bad_tile(
                &self.tile,
                format!("not {} length-prefixed leaves", self.tile.width),
            )
        })?;
        Ok((self.tile.first_leaf()..)
            .zip(leaves)
            .filter(|(seq, _)| *seq >= from)
            .collect())
    }
}

/// Reads a log's tiles from a source and checks what does not need the
/// leaves' meaning: checkpoint, quorum, extension, tile shapes, hash tiles.
pub struct TileFollower<S> {
    source: S,
    log_key: CheckpointVerifier,
    policy: Option<Policy>,
}

impl<S: TileSource> TileFollower<S> {
    /// A follower of the log whose checkpoints `log_key` verifies and,
    /// with `policy`, whose witnesses' quorum cosigns.
    pub fn new(source: S, log_key: CheckpointVerifier, policy: Option<Policy>) -> Self {
        TileFollower {
            source,
            log_key,
            policy,
        }
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The source's checkpoint, signed by the log's key and cosigned by the
    /// policy's quorum.
    pub fn checkpoint(&self) -> Result<Signed, FollowError<S::Error>> {
        let note = self.source.checkpoint().map_err(FollowError::Source)?;
        let checkpoint = self
            .log_key
            .verify(&note)
            .map_err(|e| FollowError::Checkpoint(e.to_string()))?;
        let cosignatures = match &self.policy {
            None => Vec::new(),
            Some(policy) => {
                policy
                    .verify(&note)
                    .map_err(|e| FollowError::NoQuorum {
                        size: checkpoint.root.size,
                        why: e.to_string(),
                    })?
                    .cosignatures
            }
        };
        Ok(Signed {
            checkpoint,
            note,
            cosignatures,
        })
    }

    /// The entry bundles of the tree of `size` holding leaves from `from` on.
    pub fn bundle_paths(from: u64, size: u64) -> impl Iterator<Item = TilePath> + Clone {
        (from / TILE_WIDTH..size.div_ceil(TILE_WIDTH)).map(move |index| TilePath {
            level: None,
            index,
            width: (size - index * TILE_WIDTH).min(TILE_WIDTH),
        })
    }

    /// The entry bundles of the tree of `size` holding leaves from `from`
    /// on, read [`READ_AHEAD`] at a time, in order.
    pub fn bundles(&self, from: u64, size: u64) -> Bundles<'_, S> {
        Bundles {
            follower: self,
            paths: Self::bundle_paths(from, size).collect(),
            next: 0,
            read: std::collections::VecDeque::new(),
        }
    }

    /// A check of the hash tiles of a tree grown from empty: push every
    /// leaf hash in order, then [`HashTiles::finish`].
    pub fn hash_tiles(&self) -> HashTiles<'_, S> {
        HashTiles {
            follower: self,
            builder: TileBuilder::new(),
            completed: Vec::new(),
            compared: 0,
        }
    }

    fn compare(&self, t: &TilePath, expected: &[u8]) -> Result<(), FollowError<S::Error>> {
        let there = self.source.tile(t).map_err(FollowError::Source)?;
        if there != expected {
            return Err(bad_tile(t, "not the hashes the leaves give").into());
        }
        Ok(())
    }
}

/// Whether `new` extends a tree verified before (`held`): false when it
/// is the same tree, an error when it is smaller or another root at the
/// same size. (A larger tree extends it only if its leaves, checked
/// from `held.size` on by a resumed chain verifier, reach its root.)
pub fn extends<E>(new: &RootHash, held: &RootHash) -> Result<bool, FollowError<E>> {
    if new.size < held.size {
        return Err(FollowError::Rollback {
            size: new.size,
            held: held.size,
        });
    }
    if new.size == held.size && new != held {
        return Err(FollowError::Fork {
            at: new.size,
            why: "another root at the size verified before".into(),
        });
    }
    Ok(new.size > held.size)
}

/// The bundles of [`TileFollower::bundles`].
pub struct Bundles<'a, S: TileSource> {
    follower: &'a TileFollower<S>,
    paths: Vec<TilePath>,
    next: usize,
    read: std::collections::VecDeque<(TilePath, Read<S>)>,
}

/// What a source gave for one tile.
type Read<S> = Result<Vec<u8>, <S as TileSource>::Error>;

impl<S: TileSource> Iterator for Bundles<'_, S> {
    type Item = Result<Bundle, FollowError<S::Error>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.read.is_empty() && self.next < self.paths.len() {
            let end = (self.next + READ_AHEAD).min(self.paths.len());
            let batch = &self.paths[self.next..end];
            let got = self.follower.source.tiles(batch);
            self.read.extend(batch.iter().copied().zip(got));
            self.next = end;
        }
        let (tile, got) = self.read.pop_front()?;
        Some(
            got.map(|bytes| Bundle { tile, bytes })
                .map_err(FollowError::Source),
        )
    }
}

/// The hash tiles of a tree checked as its leaves arrive, holding one tile
/// per level: memory does not grow with the log.
pub struct HashTiles<'a, S: TileSource> {
    follower: &'a TileFollower<S>,
    builder: TileBuilder,
    completed: Vec<(TilePath, Vec<u8>)>,
    compared: u64,
}

impl<S: TileSource> HashTiles<'_, S> {
    /// The next leaf's bytes.
    pub fn push(&mut self, leaf: &[u8]) {
        let completed = &mut self.completed;
        self.builder
            .push(leaf_hash(leaf), &mut |t, data| completed.push((t, data)));
    }

    /// Compares the tiles the leaves pushed so far completed.
    pub fn check_completed(&mut self) -> Result<(), FollowError<S::Error>> {
        for (t, data) in self.completed.drain(..) {
            self.follower.compare(&t, &data)?;
            self.compared += 1;
        }
        Ok(())
    }

    /// Compares the rest: the completed tiles, then the partial ones at the
    /// tree's right edge. Gives the number of tiles compared in all.
    pub fn finish(mut self) -> Result<u64, FollowError<S::Error>> {
        self.check_completed()?;
        for (t, data) in self.builder.partial() {
            self.follower.compare(&t, &data)?;
            self.compared += 1;
        }
        Ok(self.compared)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::checkpoint::CheckpointSigner;
    use crate::merkle::{hash_tile, MemTree};

    /// A log's tiles in memory, as a bucket would hold them.
    struct Mem {
        objects: HashMap<String, Vec<u8>>,
        down: Cell<bool>,
    }

    impl TileSource for Mem {
        type Error = String;
        fn checkpoint(&self) -> Result<Vec<u8>, String> {
            self.get("checkpoint")
        }
        fn tile(&self, t: &TilePath) -> Result<Vec<u8>, String> {
            self.get(&t.to_string())
        }
    }

    impl Mem {
        fn get(&self, path: &str) -> Result<Vec<u8>, String> {
            if self.down.get() {
                return Err("unreachable".into());
            }
            self.objects
                .get(path)
                .cloned()
                .ok_or(format!("{path}: missing"))
        }
    }

    fn signer() -> CheckpointSigner {
        CheckpointSigner::new("example.org/log", SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    /// `size` leaves (any bytes: the follower does not read them) with
    /// their bundles, hash tiles and the checkpoint.
    fn log(size: u64) -> (Mem, Vec<Vec<u8>>, RootHash) {
        let leaves: Vec<Vec<u8>> = (0..size)
            .map(|i| format!("leaf {i}").into_bytes())
            .collect();
        let mut tree = MemTree::new();
        let mut objects = HashMap::new();
        for leaf in &leaves {
            tree.push(leaf_hash(leaf));
        }
        for t in tiles::added(0, size) {
            let data = match t.level {
                Some(level) => hash_tile(&tree, level, t.index, t.width as u32).unwrap(),
                None => {
                    let first = t.first_leaf() as usize;
                    let mut out = Vec::new();
                    for leaf in &leaves[first..first + t.width as usize] {
                        out.extend_from_slice(&(leaf.len() as u16).to_be_bytes());
                        out.extend_from_slice(leaf);
                    }
                    out
                }
            };
            objects.insert(t.to_string(), data);
        }
        let root = tree.root();
        objects.insert("checkpoint".into(), signer().sign(root).into_bytes());
        let mem = Mem {
            objects,
            down: Cell::new(false),
        };
        (mem, leaves, root)
    }

    fn follower(mem: Mem) -> TileFollower<Mem> {
        let key = CheckpointVerifier::from_vkey(&signer().vkey()).unwrap();
        TileFollower::new(mem, key, None)
    }

    /// Every leaf from `from`, and the hash tiles checked from 0.
    fn follow_all(
        f: &TileFollower<Mem>,
        from: u64,
    ) -> Result<(Vec<Vec<u8>>, u64), FollowError<String>> {
        let size = f.checkpoint()?.checkpoint.root.size;
        let mut got = Vec::new();
        let mut hashes = f.hash_tiles();
        for bundle in f.bundles(0, size) {
            let bundle = bundle?;
            for (seq, leaf) in bundle.leaves(0)? {
                hashes.push(leaf);
                if seq >= from {
                    got.push(leaf.to_vec());
                }
            }
            hashes.check_completed()?;
        }
        Ok((got, hashes.finish()?))
    }

    #[test]
    fn a_log_is_read_whole_and_its_hash_tiles_checked() {
        for size in [1, 255, 256, 257, 70_000] {
            let (mem, leaves, root) = log(size);
            let f = follower(mem);
            assert_eq!(f.checkpoint().unwrap().checkpoint.root, root);
            let (got, compared) = follow_all(&f, 0).unwrap();
            assert_eq!(got, leaves, "{size}");
            let hash_tiles = tiles::added(0, size)
                .iter()
                .filter(|t| t.level.is_some())
                .count();
            assert_eq!(compared, hash_tiles as u64, "{size}");
            let from = size / 2;
            let tail: Vec<_> = f
                .bundles(from, size)
                .flat_map(|b| {
                    let b = b.unwrap();
                    b.leaves(from)
                        .unwrap()
                        .into_iter()
                        .map(|(_, l)| l.to_vec())
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(tail, leaves[from as usize..], "{size} from {from}");
        }
    }

    #[test]
    fn faults_are_told_apart() {
        let (mut mem, _, root) = log(600);
        // A hash tile that is not the leaves': named, not retried.
        mem.objects.get_mut("tile/0/000").unwrap()[0] ^= 1;
        let e = follow_all(&follower(mem), 0).unwrap_err();
        assert!(
            matches!(&e, FollowError::Tile { path, .. } if path == "tile/0/000"),
            "{e}"
        );
        assert!(!e.is_retryable());
        // A bundle cut short.
        let (mut mem, _, _) = log(600);
        mem.objects.get_mut("tile/entries/001").unwrap().pop();
        let e = follow_all(&follower(mem), 0).unwrap_err();
        assert!(
            e.to_string().starts_with("tile/entries/001: not 256"),
            "{e}"
        );
        // The source down: retried, and nothing said of the log.
        let (mem, _, _) = log(600);
        mem.down.set(true);
        let e = follower(mem).checkpoint().unwrap_err();
        assert!(matches!(e, FollowError::Source(_)) && e.is_retryable());
        // Another log's key.
        let (mem, _, _) = log(3);
        let other =
            CheckpointSigner::new("example.org/log", SigningKey::from_bytes(&[8; 32])).unwrap();
        let f = TileFollower::new(
            mem,
            CheckpointVerifier::from_vkey(&other.vkey()).unwrap(),
            None,
        );
        assert!(matches!(f.checkpoint(), Err(FollowError::Checkpoint(_))));
        // Smaller than held: a rollback; another root at the held size: a fork.
        let (_, _, smaller) = log(599);
        let (_, _, other_root) = log(600);
        let roll = extends::<String>(&smaller, &root).unwrap_err();
        assert!(matches!(
            roll,
            FollowError::Rollback {
                size: 599,
                held: 600
            }
        ));
        assert!(!extends::<String>(&other_root, &root).unwrap());
        let mut forged = root;
        forged.hash = leaf_hash(b"another history");
        let fork = extends::<String>(&forged, &root).unwrap_err();
        assert!(matches!(fork, FollowError::Fork { at: 600, .. }));
        assert!(extends::<String>(&root, &smaller).unwrap());
    }
}
