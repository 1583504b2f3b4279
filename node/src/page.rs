//! The public page: `node/web/` compiled into the binary. `GET /` answers
//! the HTML with the operator's trust anchor (the node's vkey and the
//! witness policy) in `<meta>` tags and a strict Content-Security-Policy;
//! `GET /assets/{version}/…` answers the scripts, styles and vendored
//! libraries, gzipped once (at the first request for one), under a version that is the hash of
//! them all, so that browsers may cache them for a year.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::prelude::{Engine, BASE64_STANDARD};
use sha2::{Digest, Sha256};

use crate::{ApiError, Node};

/// What the page trusts, given by the operator, not fetched from the API
/// it checks: the log's vkey and the witness policy (C2SP tlog-policy);
/// and where its visitors report a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The log's verifier key (C2SP vkey).
    pub vkey: String,
    /// The witness policy's text, if the node has one.
    pub policy: Option<String>,
    /// The operator's channel for reports (举报): a phone number, an
    /// address, a URL, shown as text in the footer and the red banner.
    pub contact: Option<String>,
    /// The auditors whose signed statistics the page shows (`name vkey`
    /// lines, SPEC §4.3), if the node lists any.
    pub auditors: Option<String>,
}

/// No script may run but the page's own files; no inline script or style,
/// no `eval`, no request but to this node.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One file of `node/web/`: its path under `/assets/{version}/`, type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    gzip: Vec<u8>,
}

macro_rules! assets {
    ($($path:literal => $type:expr),* $(,)?) => {
        [$(($path, $type, include_bytes!(concat!("../web/", $path)) as &[u8])),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file the page loads (the vendored ones with their licences).
const FILES: [(&str, &str, &[u8]); 22] = assets![
    "app.js" => JS,
    "favicon.svg" => "image/svg+xml",
    "view.js" => JS,
    "verify.js" => JS,
    "i18n.js" => JS,
    "charts.js" => JS,
    "money.js" => JS,
    "app.css" => "text/css; charset=utf-8",
    "vendor/vendor.json" => "application/json",
    "vendor/chart.js/chart.umd.min.js" => JS,
    "vendor/chart.js/LICENSE.md" => TEXT,
    "vendor/chartjs-chart-sankey/chartjs-chart-sankey.min.js" => JS,
    "vendor/chartjs-chart-sankey/LICENSE" => TEXT,
    "vendor/noble-ed25519/index.js" => JS,
    "vendor/noble-ed25519/LICENSE" => TEXT,
    "vendor/noble-hashes/sha2.js" => JS,
    "vendor/noble-hashes/_md.js" => JS,
    "vendor/noble-hashes/_u64.js" => JS,
    "vendor/noble-hashes/utils.js" => JS,
    "vendor/noble-hashes/LICENSE" => TEXT,
    "vendor/gb2260/regions.tsv" => "text/tab-separated-values; charset=utf-8",
    "vendor/gb2260/LICENSE" => TEXT,
];

/// The files the page needs before it can show anything (weighed for the
/// size budget): scripts and styles, not licences or the manifest.
pub fn is_code(path: &str) -> bool {
    path.ends_with(".js") || path.ends_with(".css")
}

/// First 16 hex digits of the SHA-256 over every file's path and bytes:
/// the assets' version, named by the page.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (path, _, bytes) in FILES {
        hash.update((path.len() as u64).to_be_bytes());
        hash.update(path);
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    }
    hex::encode(&hash.finalize()[..8])
});

/// The files gzipped, once, when the first one is asked for (not at start).
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(path, content_type, bytes)| Asset {
            path,
            content_type,
            bytes,
            gzip: gzip(bytes),
        })
        .collect()
});

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bytes).expect("writing to memory");
    z.finish().expect("writing to memory")
}

/// Each asset's path and gzipped size (the page's weight as served).
pub fn weights() -> Vec<(&'static str, usize)> {
    ASSETS.iter().map(|a| (a.path, a.gzip.len())).collect()
}

/// The HTML of `/` for `anchor`: the template with the assets' version
/// and the anchor filled in.
pub fn html(anchor: &Anchor) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let policy = anchor
        .policy
        .as_deref()
        .map(|p| BASE64_STANDARD.encode(p))
        .unwrap_or_default();
    include_str!("../web/index.html")
        .replace("%ASSETS%", &format!("/assets/{}", *VERSION))
        .replace("%VKEY%", &escape(&anchor.vkey))
        .replace("%POLICY%", &policy)
        .replace(
            "%CONTACT%",
            &escape(anchor.contact.as_deref().unwrap_or_default()),
        )
        .replace(
            "%AUDITORS%",
            &anchor
                .auditors
                .as_deref()
                .map(|a| BASE64_STANDARD.encode(a))
                .unwrap_or_default(),
        )
}

/// `GET /`: the page, never cached (the anchor and asset version live in it).
pub async fn index(State(node): State<Node>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        node.page_html(),
    )
        .into_response()
}

/// `GET /assets/{version}/{*path}`: one file of the page, gzipped when the
/// browser takes it, cached for a year (the version changes with any file).
pub async fn asset(
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path)
        .filter(|_| version == *VERSION)
        .ok_or_else(|| ApiError::not_found(format!("no asset {version}/{path}")))?;
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.split(';').next().unwrap_or("").trim() == "gzip")
        });
    let mut response = if gzip {
        let mut r = asset.gzip.clone().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        asset.bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}
