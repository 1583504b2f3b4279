//! `GET /v1/regions`: the GB/T 2260 names of every province, city and
//! county, from the vendored data (`node/web/vendor/gb2260/`, refreshed by
//! `scripts/vendor-web.sh`), so that clients show places by name.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `code<TAB>name` lines, sorted by code.
const TSV: &str = include_str!("../web/vendor/gb2260/regions.tsv");
const MANIFEST: &str = include_str!("../web/vendor/vendor.json");

/// Every region code and its name.
pub fn names() -> impl Iterator<Item = (&'static str, &'static str)> {
    TSV.lines().filter_map(|l| l.split_once('\t'))
}

/// The answer, made once: `{"source","regions":{code: name}}`.
static ANSWER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let manifest: serde_json::Value =
        serde_json::from_str(MANIFEST).expect("vendor.json is the vendoring script's JSON");
    let source = manifest
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "gb2260"))
        .map(|p| {
            format!(
                "{}@{} ({})",
                p["package"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default(),
                p["license"].as_str().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let regions: BTreeMap<&str, &str> = names().collect();
    serde_json::to_vec(&serde_json::json!({ "source": source, "regions": regions }))
        .expect("plain data serialises")
});

/// `GET /v1/regions`: the same for every node of a build, so cacheable.
pub async fn regions() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ANSWER.as_slice(),
    )
        .into_response()
}
