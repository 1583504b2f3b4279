//! C2SP tlog-tiles paths and contents: hash tiles `tile/<L>/<N>[.p/<W>]`
//! (height 8) and entry bundles `tile/entries/<N>[.p/<W>]` (each leaf's
//! bytes after its length as a big-endian u16). Which tiles a tree of a
//! given size has, which ones growing it from one size to another adds,
//! and how a bundle splits into its leaves: what a node serves and
//! replicates and what a follower reads back.

use std::fmt;

use crate::merkle::{node_hash, Hash, TILE_HEIGHT};

/// Hashes or entries in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// One tile: a hash tile (`level` given) or an entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TilePath {
    /// Tile level, or `None` for an entry bundle.
    pub level: Option<u8>,
    /// Tile index within its level.
    pub index: u64,
    /// Hashes or entries in it (256 for a full tile).
    pub width: u64,
}

impl TilePath {
    /// Whether it is full (its content never changes once written).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The leaves of an entry bundle: `index * 256 ..` for `width`.
    pub fn first_leaf(&self) -> u64 {
        self.index * TILE_WIDTH
    }
}

/// `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`; N in groups of
/// three digits, all but the last prefixed `x`.
impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            Some(l) => write!(f, "tile/{l}/")?,
            None => write!(f, "tile/entries/")?,
        }
        let mut groups = vec![self.index % 1000];
        let mut n = self.index / 1000;
        while n > 0 {
            groups.push(n % 1000);
            n /= 1000;
        }
        for (i, g) in groups.iter().rev().enumerate() {
            let last = i == groups.len() - 1;
            write!(
                f,
                "{}{g:03}{}",
                if last { "" } else { "x" },
                if last { "" } else { "/" }
            )?;
        }
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// Parses what follows `tile/`: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`,
/// in canonical form only.
pub fn parse(path: &str) -> Option<TilePath> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let level = match parts.first()? {
        &"entries" => None,
        l if l.len() <= 2
            && l.bytes().all(|b| b.is_ascii_digit())
            && (l.len() == 1 || !l.starts_with('0')) =>
        {
            Some(l.parse::<u8>().ok().filter(|l| *l <= 7)?)
        }
        _ => return None,
    };
    parts.remove(0);
    let mut width = TILE_WIDTH;
    if parts.len() >= 2 && parts[parts.len() - 2].ends_with(".p") {
        let w = parts.pop()?;
        let ok = !w.is_empty()
            && w.len() <= 3
            && w.bytes().all(|b| b.is_ascii_digit())
            && !w.starts_with('0');
        width = w
            .parse()
            .ok()
            .filter(|w| ok && (1..TILE_WIDTH).contains(w))?;
        let last = parts.last_mut()?;
        *last = last.strip_suffix(".p")?;
    }
    let (last, groups) = parts.split_last()?;
    let mut index: u64 = 0;
    for g in groups {
        let digits = g.strip_prefix('x')?;
        index = index
            .checked_mul(1000)?
            .checked_add(three_digits(digits)?)?;
    }
    index = index.checked_mul(1000)?.checked_add(three_digits(last)?)?;
    (groups.is_empty() || !groups[0].starts_with("x000")).then_some(TilePath {
        level,
        index,
        width,
    })
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Whether a tree of `size` leaves has the tile.
pub fn in_tree(t: &TilePath, size: u64) -> bool {
    let level_bits = u32::from(t.level.unwrap_or(0)) * u32::from(TILE_HEIGHT);
    let available = size.checked_shr(level_bits).unwrap_or(0);
    t.index
        .checked_mul(TILE_WIDTH)
        .and_then(|s| s.checked_add(t.width))
        .is_some_and(|end| end <= available)
}

/// The tiles that growing the tree from `old` to `new` leaves writes: every
/// tile completed on the way and the partial tiles at the new right edge,
/// hash tiles of every level and the entry bundles beside level 0, lowest
/// level first (so a reader that follows the order never finds a parent
/// before its children).
pub fn added(old: u64, new: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    for t in tlog_tiles::Tile::new_tiles(TILE_HEIGHT, old, new) {
        let hash = TilePath {
            level: Some(t.level()),
            index: t.level_index(),
            width: u64::from(t.width()),
        };
        if t.level() == 0 {
            out.push(TilePath {
                level: None,
                ..hash
            });
        }
        out.push(hash);
    }
    out
}

/// The leaves of an entry bundle, each as its bytes; `None` if the bundle
/// is not `width` length-prefixed leaves exactly.
pub fn bundle_leaves(bundle: &[u8], width: u64) -> Option<Vec<&[u8]>> {
    let mut leaves = Vec::with_capacity(width as usize);
    let mut rest = bundle;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(2)?;
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        let (leaf, tail) = tail.split_at_checked(n)?;
        leaves.push(leaf);
        rest = tail;
    }
    (leaves.len() as u64 == width).then_some(leaves)
}

/// The hash tiles of a log built from its leaf hashes as they stream in,
/// holding one tile's hashes per level (at most 8 × 256): what an auditor
/// compares a bucket's hash tiles with, at any size of log.
#[derive(Debug, Default)]
pub struct TileBuilder {
    /// Per tile level: the index of the tile being filled, and its hashes.
    levels: Vec<(u64, Vec<Hash>)>,
}

impl TileBuilder {
    /// No leaves yet.
    pub fn new() -> TileBuilder {
        TileBuilder::default()
    }

    /// Adds the next leaf hash; `full` gets each hash tile it completes
    /// (a full tile of 256 hashes), lowest level first.
    pub fn push(&mut self, leaf: Hash, full: &mut dyn FnMut(TilePath, Vec<u8>)) {
        let mut carry = Some(leaf);
        let mut level = 0;
        while let Some(hash) = carry.take() {
            if self.levels.len() == level {
                self.levels
                    .push((0, Vec::with_capacity(TILE_WIDTH as usize)));
            }
            let (index, hashes) = &mut self.levels[level];
            hashes.push(hash);
            if hashes.len() as u64 == TILE_WIDTH {
                let data = hashes.iter().flat_map(|h| *h.as_bytes()).collect();
                full(
                    TilePath {
                        level: Some(level as u8),
                        index: *index,
                        width: TILE_WIDTH,
                    },
                    data,
                );
                let mut row = std::mem::take(hashes);
                while row.len() > 1 {
                    row = row.chunks(2).map(|c| node_hash(&c[0], &c[1])).collect();
                }
                *index += 1;
                carry = row.pop();
                level += 1;
            }
        }
    }

    /// The partial hash tiles of the log so far, lowest level first.
    pub fn partial(&self) -> Vec<(TilePath, Vec<u8>)> {
        (0u8..)
            .zip(&self.levels)
            .filter(|(_, (_, hashes))| !hashes.is_empty())
            .map(|(level, (index, hashes))| {
                let path = TilePath {
                    level: Some(level),
                    index: *index,
                    width: hashes.len() as u64,
                };
                (path, hashes.iter().flat_map(|h| *h.as_bytes()).collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::hash_tile;

    #[test]
    fn streamed_hash_tiles_are_the_tree_s() {
        for size in [
            1u64, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 70_000,
        ] {
            let mut tree = crate::merkle::MemTree::new();
            let mut built = TileBuilder::new();
            let mut tiles = Vec::new();
            for i in 0..size {
                let h = crate::merkle::leaf_hash(&i.to_be_bytes());
                tree.push(h);
                built.push(h, &mut |t, data| tiles.push((t, data)));
            }
            tiles.extend(built.partial());
            let expected: Vec<_> = added(0, size)
                .into_iter()
                .filter(|t| t.level.is_some())
                .collect();
            let mut paths: Vec<_> = tiles.iter().map(|(t, _)| *t).collect();
            paths.sort_by_key(|t| (t.level, t.index));
            let mut sorted = expected.clone();
            sorted.sort_by_key(|t| (t.level, t.index));
            assert_eq!(paths, sorted, "size {size}");
            for (t, data) in tiles {
                let want = hash_tile(&tree, t.level.unwrap(), t.index, t.width as u32).unwrap();
                assert_eq!(data, want, "size {size}: {t}");
            }
        }
    }

    #[test]
    fn paths_round_trip() {
        let t = |level, index, width| TilePath {
            level,
            index,
            width,
        };
        for (path, tile) in [
            ("0/000", t(Some(0), 0, 256)),
            ("1/x001/234", t(Some(1), 1234, 256)),
            ("0/x001/x234/067.p/8", t(Some(0), 1_234_067, 8)),
            ("entries/041.p/153", t(None, 41, 153)),
        ] {
            assert_eq!(parse(path), Some(tile));
            assert_eq!(tile.to_string(), format!("tile/{path}"));
        }
        for bad in [
            "",
            "0",
            "0/1",
            "0/0001",
            "8/000",
            "00/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "0/x000/001",
            "x/000",
            "0/000/",
            "entries",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn growing_adds_completed_and_edge_tiles() {
        // 0 → 300: bundle and hash tile 0 full, then 44 wide; level 1 has 1.
        let got: Vec<String> = added(0, 300).iter().map(|t| t.to_string()).collect();
        assert_eq!(
            got,
            [
                "tile/entries/000",
                "tile/0/000",
                "tile/entries/001.p/44",
                "tile/0/001.p/44",
                "tile/1/000.p/1"
            ]
        );
        // Within one partial tile only that tile changes.
        let got: Vec<String> = added(300, 301).iter().map(|t| t.to_string()).collect();
        assert_eq!(got, ["tile/entries/001.p/45", "tile/0/001.p/45"]);
        for size in [1, 255, 256, 257, 65_536, 70_000] {
            assert!(added(0, size).iter().all(|t| in_tree(t, size)), "{size}");
        }
    }

    #[test]
    fn bundles_split_into_leaves() {
        let bundle = [&[0, 2][..], b"ab", &[0, 0], &[0, 1], b"c"].concat();
        assert_eq!(
            bundle_leaves(&bundle, 3),
            Some(vec![&b"ab"[..], &b""[..], &b"c"[..]])
        );
        assert_eq!(bundle_leaves(&bundle, 2), None);
        assert_eq!(bundle_leaves(&bundle[..3], 1), None);
    }
}
