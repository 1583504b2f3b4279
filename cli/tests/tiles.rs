//! `aidledger verify --tiles`: the whole log verified from a C2SP tiles URL
//! with no node behind it (the tiles copied to a directory served as a
//! static host or CDN would), and a tampered or missing tile named.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::cli;

fn copy_tiles(node: SocketAddr, size: u64, dir: &Path) {
    let mut paths: Vec<String> = ledger::tiles::added(0, size)
        .iter()
        .map(|t| t.to_string())
        .collect();
    paths.push("checkpoint".into());
    for p in paths {
        let (status, body) = testkit::http_get(node, &format!("/{p}"));
        assert_eq!(status, 200, "{p}");
        let file = dir.join(&p);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
}

#[test]
fn verify_from_tiles_alone_and_name_a_bad_tile() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let node = testkit::demo(
        &Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name("aidledger-node"),
        &dir.path().join("node"),
        addr,
        &[],
    );
    let (_, log) = testkit::http_get(addr, "/v1/log");
    let log: serde_json::Value = serde_json::from_slice(&log).unwrap();
    let (size, vkey) = (
        log["size"].as_u64().unwrap(),
        log["vkey"].as_str().unwrap().to_owned(),
    );
    let verify = |url: &str| cli(&["verify", "--tiles", url, "--vkey", &vkey], None);
    // The node's own root serves the tiles.
    let out = verify(&format!("http://{addr}"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A static copy of them, as a bucket behind a CDN; the node gone.
    let tiles = dir.path().join("static");
    copy_tiles(addr, size, &tiles);
    drop(node);
    let url = format!("http://{}", testkit::serve_dir(tiles.clone()));
    let out = verify(&url);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A hash tile tampered with: named.
    let added = ledger::tiles::added(0, size);
    let tile = added.iter().find(|t| t.level == Some(0)).unwrap();
    let file = tiles.join(tile.to_string());
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let out = verify(&url);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{tile}: not the hashes the leaves give")),
        "{}",
        out.stderr
    );
    std::fs::write(&file, &good).unwrap();
    // A bundle missing: named.
    let bundle = added.iter().find(|t| t.level.is_none()).unwrap();
    std::fs::remove_file(tiles.join(bundle.to_string())).unwrap();
    let out = verify(&url);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("{bundle}: cannot be read")),
        "{}",
        out.stderr
    );
}
