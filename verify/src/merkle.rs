//! RFC 6962 / RFC 9162 §2.1 Merkle tree hashing and proofs.
//!
//! Proof generation and checking are Cloudflare's `tlog_tiles` (a port of Go's
//! sumdb `tlog`), whose *stored hash index* numbers every complete subtree
//! densely so that a key-value store can hold them: appending leaf `n` stores
//! `1 + trailing_ones(n)` hashes, and any root, inclusion or consistency proof
//! for any size `≤` the current one needs `O(log n)` stored hashes. Its proof
//! paths are exactly RFC 9162 §2.1.3 audit paths and §2.1.4 consistency paths
//! (checked against the RFC 6962 vectors in `tests/vectors/merkle.json`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tlog_tiles as tlog;

/// RFC 6962 §2.1 domain separation prefix for leaf hashes.
pub const LEAF_PREFIX: u8 = 0x00;
/// RFC 6962 §2.1 domain separation prefix for interior node hashes.
pub const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 hash: leaf, node or root. Compared in constant time; shown and
/// serialised as lowercase hex (SPEC §1).
#[derive(Clone, Copy, Default)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The hash with these bytes.
    pub const fn new(bytes: [u8; 32]) -> Hash {
        Hash(bytes)
    }
    /// Its bytes (compare hashes as [`Hash`]es: that is constant time).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// The all-zero hash: `prev` of seq 0 (SPEC §3).
    pub const ZERO: Hash = Hash([0; 32]);
    /// `MTH({}) = SHA-256("")`, the root of the empty tree.
    pub const EMPTY_ROOT: Hash = Hash(tlog::EMPTY_HASH.0);

    /// Parses 64 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, HashParseError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| HashParseError)?;
        Ok(Hash(out))
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        crate::canonical::lower_hex(&self.0)
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 64-hex-digit hash")]
pub struct HashParseError;

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for Hash {}

/// Hashes the bytes, as equality compares them.
impl std::hash::Hash for Hash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}
impl FromStr for Hash {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Hash, HashParseError> {
        Hash::from_hex(s)
    }
}
impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}
impl From<tlog::Hash> for Hash {
    fn from(h: tlog::Hash) -> Hash {
        Hash(h.0)
    }
}
impl From<Hash> for tlog::Hash {
    fn from(h: Hash) -> tlog::Hash {
        tlog::Hash(h.0)
    }
}

/// `SHA-256(0x00 || data)`: the RFC 6962 hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the RFC 6962 hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Why a proof did not verify, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Index or sizes outside what the proof can speak of (e.g. `seq ≥ size`).
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// The proof does not lead to the root it is checked against.
    #[error("proof does not verify")]
    Invalid,
}

/// A tree head: the root hash of the tree of the first `size` leaves. Proofs
/// are verified against it (`root.verify_inclusion(..)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootHash {
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 MTH of those leaves.
    pub hash: Hash,
}

impl RootHash {
    /// The empty tree.
    pub const EMPTY: RootHash = RootHash {
        size: 0,
        hash: Hash::EMPTY_ROOT,
    };

    /// RFC 9162 §2.1.3.2: does `path` prove that leaf `index` has hash `leaf`?
    pub fn verify_inclusion(
        &self,
        leaf: &Hash,
        index: u64,
        path: &[Hash],
    ) -> Result<(), ProofError> {
        if index >= self.size {
            return Err(ProofError::OutOfRange(format!(
                "seq {index} ≥ size {}",
                self.size
            )));
        }
        // 64 hashes suffice for any u64 size; longer paths are garbage and
        // would only cost time.
        if path.len() > 64 {
            return Err(ProofError::Invalid);
        }
        let proof: Vec<tlog::Hash> = path.iter().map(|h| (*h).into()).collect();
        tlog::check_record(&proof, self.size, self.hash.into(), index, (*leaf).into())
            .map_err(|_| ProofError::Invalid)
    }

    /// RFC 9162 §2.1.4.2: does `path` prove that `older` is a prefix of this tree?
    /// A consistency check from the empty tree is trivially true (empty path).
    pub fn verify_consistency(&self, older: &RootHash, path: &[Hash]) -> Result<(), ProofError> {
        if older.size > self.size {
            return Err(ProofError::OutOfRange(format!(
                "first size {} > second size {}",
                older.size, self.size
            )));
        }
        if older.size == 0 {
            return if path.is_empty() && older.hash == Hash::EMPTY_ROOT {
                Ok(())
            } else {
                Err(ProofError::Invalid)
            };
        }
        if path.len() > 128 {
            return Err(ProofError::Invalid);
        }
        let proof: Vec<tlog::Hash> = path.iter().map(|h| (*h).into()).collect();
        tlog::check_tree(
            &proof,
            self.size,
            self.hash.into(),
            older.size,
            older.hash.into(),
        )
        .map_err(|_| ProofError::Invalid)
    }
}

impl RootHash {
    /// The root of the tree's first `older` leaves that a consistency
    /// `path` from `older` to this tree states (RFC 9162 §2.1.4.2's `fr`),
    /// provided the path leads to this tree's root (its `sr`). A path that
    /// leads elsewhere (garbage) states nothing, and neither does one from
    /// a power-of-two size, whose path leaves the older root out. A root
    /// stated this way that differs from one the log signed for `older` is
    /// proof that the log signed two histories.
    pub fn older_root(&self, older: u64, path: &[Hash]) -> Option<Hash> {
        if older == 0 || older >= self.size || older.is_power_of_two() || path.len() > 128 {
            return None;
        }
        let (first, rest) = path.split_first()?;
        let (mut fn_, mut sn) = (older - 1, self.size - 1);
        while fn_ & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
        }
        let (mut fr, mut sr) = (*first, *first);
        for c in rest {
            if sn == 0 {
                return None;
            }
            if fn_ & 1 == 1 || fn_ == sn {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = node_hash(&sr, c);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        (sn == 0 && sr == self.hash).then_some(fr)
    }
}

/// Anything that can read stored hashes by stored hash index: the in-memory
/// tree and the durable stores. Proofs are made from it in `O(log n)` reads.
pub trait HashSource {
    /// The error the source's reads fail with.
    type Error;
    /// Returns the hashes at the given stored hash indexes, in order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

/// Adapts a [`HashSource`] to `tlog_tiles::HashReader`, keeping its error.
struct Reader<'a, S: HashSource> {
    source: &'a S,
    error: std::cell::RefCell<Option<S::Error>>,
}

impl<S: HashSource> tlog::HashReader for Reader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        match self.source.read_hashes(indexes) {
            Ok(hs) if hs.len() == indexes.len() => Ok(hs.into_iter().map(Into::into).collect()),
            Ok(_) => Err(tlog::Error::IndexesNotInTree),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(tlog::Error::IndexesNotInTree)
            }
        }
    }
}

/// A proof could not be made: a bad request or the source failed.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E> {
    /// The request is outside the tree.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The hash source failed.
    #[error("reading stored hashes: {0}")]
    Source(E),
}

fn run<S: HashSource, T>(
    source: &S,
    f: impl FnOnce(&Reader<'_, S>) -> Result<T, tlog::Error>,
) -> Result<T, ProveError<S::Error>> {
    let reader = Reader {
        source,
        error: std::cell::RefCell::new(None),
    };
    let result = f(&reader);
    if let Some(e) = reader.error.into_inner() {
        return Err(ProveError::Source(e));
    }
    result.map_err(|e| ProveError::Proof(ProofError::OutOfRange(e.to_string())))
}

/// Root hash of the first `size` leaves of `source`, for any stored size.
pub fn root_at<S: HashSource>(source: &S, size: u64) -> Result<RootHash, ProveError<S::Error>> {
    let hash = run(source, |r| tlog::tree_hash(size, r))?;
    Ok(RootHash {
        size,
        hash: hash.into(),
    })
}

/// RFC 9162 §2.1.3.1 inclusion path of leaf `index` in the tree of `size` leaves.
pub fn prove_inclusion<S: HashSource>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!("seq {index} ≥ size {size}")).into());
    }
    let p = run(source, |r| tlog::prove_record(size, index, r))?;
    Ok(p.into_iter().map(Into::into).collect())
}

/// RFC 9162 §2.1.4.1 consistency path from the tree of `first` leaves to the
/// tree of `second` leaves (`first ≤ second`; empty when `first` is 0 or equal).
pub fn prove_consistency<S: HashSource>(
    source: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if first > second {
        return Err(ProofError::OutOfRange(format!("first {first} > second {second}")).into());
    }
    if first == 0 {
        return Ok(Vec::new());
    }
    let p = run(source, |r| tlog::prove_tree(second, first, r))?;
    Ok(p.into_iter().map(Into::into).collect())
}

/// Height of C2SP tlog-tiles: a tile holds up to 256 hashes of one level.
pub const TILE_HEIGHT: u8 = 8;

/// The data of the C2SP hash tile at tile level `level`, index `index`,
/// `width` hashes wide (256 for a full tile): the hashes at tree level
/// `8 * level` of nodes `index * 256 ..`, concatenated. The caller checks
/// that the tree has them.
pub fn hash_tile<S: HashSource>(
    source: &S,
    level: u8,
    index: u64,
    width: u32,
) -> Result<Vec<u8>, ProveError<S::Error>> {
    if width == 0 || width > 1 << TILE_HEIGHT || level > 7 {
        return Err(
            ProofError::OutOfRange(format!("no tile {level}/{index} of width {width}")).into(),
        );
    }
    run(source, |r| {
        tlog::Tile::new(TILE_HEIGHT, level, index, width, false).read_data(r)
    })
}

/// The right edge of a tree: the roots of its perfect subtrees, largest first
/// (one per one bit of `size`). Enough to append and to compute the root, in
/// `O(log n)` memory: what a streaming auditor keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Reads the frontier of the tree of `size` leaves from stored hashes.
    pub fn load<S: HashSource>(source: &S, size: u64) -> Result<Frontier, S::Error> {
        let mut indexes = Vec::new();
        for level in (0..64u8).rev() {
            if (size >> level) & 1 == 1 {
                // The perfect subtree at this level covering leaves below the
                // higher peaks: its index at `level` is (size >> level) - 1.
                indexes.push(tlog::stored_hash_index(level, (size >> level) - 1));
            }
        }
        let peaks = source.read_hashes(&indexes)?;
        Ok(Frontier { size, peaks })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The peaks, largest subtree first: with [`Frontier::size`], all an
    /// auditor keeps between runs.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Rebuilds a frontier from its size and peaks; `None` if their number
    /// is not one per one bit of `size`.
    pub fn from_peaks(size: u64, peaks: Vec<Hash>) -> Option<Frontier> {
        (peaks.len() == size.count_ones() as usize).then_some(Frontier { size, peaks })
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_stored(leaf, |_, _| {});
    }

    /// Appends one leaf hash and reports every hash the append completes as
    /// `(stored_hash_index, hash)`, the leaf's own first: exactly what a store
    /// writes (Go tlog's `StoredHashes`, without reading them back).
    pub fn push_stored(&mut self, leaf: Hash, mut store: impl FnMut(u64, Hash)) {
        let n = self.size;
        store(tlog::stored_hash_index(0, n), leaf);
        let mut h = leaf;
        let mut level = 0u8;
        // Each trailing one bit of n completes a subtree with its left
        // sibling, which is the top of the frontier.
        while (n >> level) & 1 == 1 {
            let left = self.peaks.pop().expect("frontier has a peak per one bit");
            h = node_hash(&left, &h);
            level += 1;
            store(tlog::stored_hash_index(level, n >> level), h);
        }
        self.peaks.push(h);
        self.size = n + 1;
    }

    /// RFC 6962 MTH of the leaves pushed so far.
    pub fn root(&self) -> RootHash {
        let hash = match self.peaks.split_last() {
            None => Hash::EMPTY_ROOT,
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, left| node_hash(left, &acc)),
        };
        RootHash {
            size: self.size,
            hash,
        }
    }
}

/// An in-memory Merkle tree holding every stored hash in a `Vec` indexed by
/// stored hash index. Used by tests, the in-memory store and tools.
#[derive(Debug, Clone, Default)]
pub struct MemTree {
    hashes: Vec<Hash>,
    frontier: Frontier,
}

impl MemTree {
    /// The empty tree.
    pub fn new() -> MemTree {
        MemTree::default()
    }
    /// Appends the leaf with the given leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let hashes = &mut self.hashes;
        self.frontier.push_stored(leaf, |index, h| {
            debug_assert_eq!(index as usize, hashes.len());
            hashes.push(h);
        });
    }
    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size
    }
    /// The current root.
    pub fn root(&self) -> RootHash {
        self.frontier.root()
    }
}

/// Reading past the end of an in-memory tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored hash {0} is not in the tree")]
pub struct NotInTree(pub u64);

impl HashSource for MemTree {
    type Error = NotInTree;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, NotInTree> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or(NotInTree(i))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_load_matches_pushes() {
        let mut tree = MemTree::new();
        for i in 0..70u64 {
            let loaded = Frontier::load(&tree, i).unwrap();
            assert_eq!(loaded, tree.frontier, "size {i}");
            assert_eq!(root_at(&tree, i).unwrap(), tree.root(), "size {i}");
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
    }

    #[test]
    fn proofs_outside_the_tree_are_refused() {
        let mut tree = MemTree::new();
        for i in 0..5u64 {
            tree.push(leaf_hash(&[i as u8]));
        }
        assert!(matches!(
            prove_inclusion(&tree, 5, 5),
            Err(ProveError::Proof(_))
        ));
        assert!(matches!(
            prove_inclusion(&tree, 0, 6),
            Err(ProveError::Source(_))
        ));
        assert!(matches!(
            prove_consistency(&tree, 3, 2),
            Err(ProveError::Proof(_))
        ));
        let root = tree.root();
        assert!(root.verify_inclusion(&leaf_hash(&[0]), 5, &[]).is_err());
        assert_eq!(root.verify_consistency(&RootHash::EMPTY, &[]), Ok(()));
        assert!(root
            .verify_consistency(
                &RootHash {
                    size: 6,
                    hash: root.hash
                },
                &[]
            )
            .is_err());
    }
}
