//! CLI benchmarks (issue 5), timing the real `aidledger` binary:
//!
//! - `verify --file` of a 1,000,000-entry export (signatures, chain, seqs,
//!   root and the rules' replay), with its peak memory;
//! - `import` of a 100,000-row CSV into a local node (the release
//!   `aidledger-node` binary beside it, on loopback).
//!
//! `cargo bench -p cli --bench cli [-- ENTRIES [ROWS]]`. Build the
//! workspace's binaries first (`cargo build --release --workspace --bins`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
const ORIGIN: &str = "bench.example/aid";

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let entries = args.next().unwrap_or(1_000_000);
    let rows = args.next().unwrap_or(100_000);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    verify_bench(dir.path(), entries);
    import_bench(dir.path(), rows);
    if std::env::var_os("BENCH_KEEP").is_some() {
        // For profiling the binary by hand on the same files.
        eprintln!("kept {}", dir.keep().display());
    }
}

fn bin(name: &str) -> std::path::PathBuf {
    let b = Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name(name);
    assert!(
        b.exists(),
        "build {} first: cargo build --release --workspace --bins",
        b.display()
    );
    b
}

fn verify_bench(dir: &Path, n: u64) {
    let started = Instant::now();
    let (export, cp, vkey) = common::write_export(dir, n, ORIGIN);
    // Beside the export, for runs by hand on the kept files (BENCH_KEEP).
    std::fs::write(dir.join("export.vkey"), &vkey).unwrap();
    let size = std::fs::metadata(&export).unwrap().len();
    eprintln!(
        "generated {n} entries ({} MB) in {:.1} s",
        size >> 20,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut child = Command::new(bin("aidledger"))
        .args([
            "verify",
            "--file",
            export.to_str().unwrap(),
            "--checkpoint",
            cp.to_str().unwrap(),
            "--vkey",
            &vkey,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kb) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak_kb = peak_kb.max(
                    kb.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse()
                        .unwrap_or(0),
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let secs = started.elapsed().as_secs_f64();
    assert!(status.success(), "verify failed");
    println!(
        "verify --file: {n} entries in {secs:.2} s = {:.0} entries/s; peak memory {} MiB (export {} MiB)",
        n as f64 / secs,
        peak_kb >> 10,
        size >> 20
    );
}

fn import_bench(dir: &Path, rows: u64) {
    let node = common::Node::start(&dir.join("node"), common::free_addr());
    let url = node.url.clone();

    let registrar = SigningKey::from_bytes(&[1; 32]);
    let key_file = dir.join("charity.key");
    std::fs::write(&key_file, format!("{}\n", hex::encode([2u8; 32]))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let charity = SigningKey::from_bytes(&[2; 32]);
    let setup_file = dir.join("setup.ndjson");
    let ndjson: Vec<String> = common::setup(&registrar, &charity)
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    std::fs::write(&setup_file, ndjson.join("\n")).unwrap();
    let ok = Command::new(bin("aidledger"))
        .args(["submit", "--node", &url, setup_file.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());

    let csv_file = dir.join("rows.csv");
    let mut csv = String::from("fund,beneficiary,tier,cause,amount,method,region,date,ref\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "F,bnf_{i:064x},assisted,illness,{}.{:02},cash,3211{:02},2026-{:02}-{:02},V{i}\n",
            100 + i % 900,
            i % 100,
            81 + i % 3,
            1 + i % 12,
            1 + i % 28
        ));
    }
    std::fs::write(&csv_file, csv).unwrap();
    let started = Instant::now();
    let out = Command::new(bin("aidledger"))
        .args([
            "import",
            "--node",
            &url,
            "--key",
            key_file.to_str().unwrap(),
            "--issuer",
            common::CHARITY,
            "--kind",
            "disbursement",
            csv_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "import: {rows} rows in {secs:.2} s = {:.0} rows/s ({})",
        rows as f64 / secs,
        String::from_utf8_lossy(&out.stdout).trim()
    );
    drop(node);
}
