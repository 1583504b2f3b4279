//! The C2SP tlog-tiles static API: `/tile/<L>/<N>[.p/<W>]` (hash tiles of
//! height 8) and `/tile/entries/<N>[.p/<W>]` (bundles of leaf bytes, each
//! prefixed with its length as a big-endian u16). A tile's content never
//! changes once the tree has it, so every tile is served as immutable.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ledger::merkle::{hash_tile, TILE_HEIGHT};

use crate::{ApiError, Node};

const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// A parsed tile path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePath {
    /// Tile level, or `None` for an entries bundle.
    pub level: Option<u8>,
    /// Tile index.
    pub index: u64,
    /// Number of hashes or entries (256 for a full tile).
    pub width: u64,
}

/// Parses `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` (the part after `tile/`).
/// N is written in groups of three digits, all but the last prefixed `x`.
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
    // Canonical form only: no leading zero groups.
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

/// `GET /tile/{path}`.
pub async fn tile(
    State(node): State<Node>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let t = parse(&path)
        .ok_or_else(|| ApiError::not_found(format!("tile/{path} is not a tile path")))?;
    let body = node
        .read(move |log| {
            let level_bits = u32::from(t.level.unwrap_or(0)) * u32::from(TILE_HEIGHT);
            let available = log.size().checked_shr(level_bits).unwrap_or(0);
            let end = t
                .index
                .checked_mul(TILE_WIDTH)
                .and_then(|s| s.checked_add(t.width));
            if end.is_none_or(|e| e > available) {
                return Err(ApiError::not_found(format!(
                    "tile/{path} is beyond the tree"
                )));
            }
            match t.level {
                Some(level) => hash_tile(log.backend(), level, t.index, t.width as u32)
                    .map_err(ApiError::internal),
                None => {
                    let mut out = Vec::new();
                    for leaf in log
                        .leaves(t.index * TILE_WIDTH, t.width as usize)
                        .map_err(ApiError::internal)?
                    {
                        out.extend_from_slice(&(leaf.len() as u16).to_be_bytes());
                        out.extend_from_slice(&leaf);
                    }
                    Ok(out)
                }
            }
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = |level, index, width| {
            Some(TilePath {
                level,
                index,
                width,
            })
        };
        assert_eq!(parse("0/000"), t(Some(0), 0, 256));
        assert_eq!(parse("1/x001/234"), t(Some(1), 1234, 256));
        assert_eq!(parse("0/x001/x234/067.p/8"), t(Some(0), 1_234_067, 8));
        assert_eq!(parse("entries/041.p/153"), t(None, 41, 153));
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
}
