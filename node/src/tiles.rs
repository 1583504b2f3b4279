//! The C2SP tlog-tiles static API: `/tile/<L>/<N>[.p/<W>]` (hash tiles of
//! height 8) and `/tile/entries/<N>[.p/<W>]` (bundles of leaf bytes, each
//! prefixed with its length as a big-endian u16). A tile's content never
//! changes once the tree has it, so every tile is served as immutable.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ledger::tiles::{content, in_tree, parse};

use crate::{ApiError, Node};

/// `GET /tile/{path}`.
pub async fn tile(
    State(node): State<Node>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let t = parse(&path)
        .ok_or_else(|| ApiError::not_found(format!("tile/{path} is not a tile path")))?;
    let body = node
        .read(move |log| {
            if !in_tree(&t, log.size()) {
                return Err(ApiError::not_found(format!(
                    "tile/{path} is beyond the tree"
                )));
            }
            content(log, &t).map_err(ApiError::internal)
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
