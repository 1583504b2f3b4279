//! CLI benchmarks (issue 5), timing the real `aidledger` binary:
//!
//! - `verify --file` of a 1,000,000-entry export (signatures, chain, seqs,
//!   root and the rules' replay), with its peak memory;
//! - `import` of a 100,000-row CSV into a local node (the release
//!   `aidledger-node` binary beside it, on loopback).
//!
//! `cargo bench -p cli --bench cli [-- ENTRIES [ROWS]]`. Build the
//! workspace's binaries first (`cargo build --release --workspace --bins`).
//! `BENCH_IMPORT=ids` imports resident ID numbers through a pseudonym
//! service (rules v2); `BENCH_BIN_DIR` runs another build's binaries
//! (with `BENCH_IMPORT=secret` for a build that still took
//! `--secret-file`); `BENCH_SKIP_VERIFY` leaves the verify bench out.

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
    if std::env::var_os("BENCH_SKIP_VERIFY").is_none() {
        verify_bench(dir.path(), entries);
    }
    import_bench(dir.path(), rows);
    if std::env::var_os("BENCH_KEEP").is_some() {
        // For profiling the binary by hand on the same files.
        eprintln!("kept {}", dir.keep().display());
    }
}

/// The binary `name` beside this bench's `aidledger`, or in
/// `BENCH_BIN_DIR` (another build's, to compare in one run).
fn bin(name: &str) -> std::path::PathBuf {
    let b = match std::env::var_os("BENCH_BIN_DIR") {
        Some(d) => Path::new(&d).join(name),
        None => Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name(name),
    };
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

/// How the import bench's rows name their families (`BENCH_IMPORT`).
#[derive(PartialEq)]
enum Families {
    /// `bnf_` pseudonyms in the sheet (unset).
    Pseudonyms,
    /// Resident ID numbers, made pseudonyms by a pseudonym service that
    /// the bench runs and the ledger records under rules v2 (`ids`).
    Service,
    /// Resident ID numbers and a `--secret-file` (`secret`): the HMAC of
    /// rules v1, for the binaries of a build before issue 30
    /// (`BENCH_BIN_DIR`).
    Secret,
}

/// A valid resident ID number for row `i` (GB 11643: its check character
/// from the first 17 digits), distinct for every `i` below 10^6.
fn resident_id(i: u64) -> String {
    let body = format!(
        "3211811980{:02}{:02}{:03}",
        1 + i / 28_000 % 12,
        1 + i / 1_000 % 28,
        i % 1_000
    );
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn import_bench(dir: &Path, rows: u64) {
    let families = match std::env::var("BENCH_IMPORT").as_deref() {
        Ok("ids") => Families::Service,
        Ok("secret") => Families::Secret,
        _ => Families::Pseudonyms,
    };
    let node = common::Node::start_bin(
        &bin("aidledger-node"),
        &dir.join("node"),
        common::free_addr(),
    );
    let url = node.url.clone();

    let registrar = SigningKey::from_bytes(&[1; 32]);
    let key_file = dir.join("charity.key");
    std::fs::write(&key_file, format!("{}\n", hex::encode([2u8; 32]))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let charity = SigningKey::from_bytes(&[2; 32]);
    let mut setup = common::setup(&registrar, &charity);
    let mut extra: Vec<String> = Vec::new();
    let mut _service = None;
    match families {
        Families::Service => {
            let service_dir = dir.join("pseudonym-service");
            let out = Command::new(bin("aidledger"))
                .args(["pseudonym", "init", "--dir", service_dir.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success());
            let public = String::from_utf8(out.stdout).unwrap();
            let public = public.lines().last().unwrap().trim().to_owned();
            let addr = common::free_addr();
            setup.push(common::sign(
                &registrar,
                common::BUREAU,
                "rules.activate",
                "v2",
                serde_json::json!({"version": 2, "note": "bench"}),
            ));
            setup.push(common::sign(
                &registrar,
                common::BUREAU,
                "pseudonym.key",
                "pk",
                serde_json::json!({"key": public, "service": format!("http://{addr}")}),
            ));
            _service = Some(testkit::Killed(testkit::spawn_listening(
                Command::new(bin("aidledger"))
                    .args(["pseudonym", "serve", "--dir", service_dir.to_str().unwrap()])
                    .args(["--node", &url, "--listen", &addr.to_string()])
                    .args(["--quota", &(rows * 2).to_string()]),
            )));
        }
        Families::Secret => {
            let secret = dir.join("secret");
            std::fs::write(&secret, format!("{}\n", hex::encode([7u8; 32]))).unwrap();
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
            extra = vec!["--secret-file".into(), secret.to_str().unwrap().into()];
        }
        Families::Pseudonyms => {}
    }
    let setup_file = dir.join("setup.ndjson");
    let ndjson: Vec<String> = setup
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
    let who = if families == Families::Pseudonyms {
        "beneficiary"
    } else {
        "id_number"
    };
    let mut csv = format!("fund,{who},tier,cause,amount,method,region,date,ref\n");
    for i in 0..rows {
        let family = match families {
            Families::Pseudonyms => format!("bnf_{i:064x}"),
            _ => resident_id(i),
        };
        csv.push_str(&format!(
            "F,{family},assisted,illness,{}.{:02},cash,3211{:02},2026-{:02}-{:02},V{i}\n",
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
        ])
        .args(&extra)
        .arg(&csv_file)
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "import ({who}): {rows} rows in {secs:.2} s = {:.0} rows/s ({})",
        rows as f64 / secs,
        String::from_utf8_lossy(&out.stdout).trim()
    );
    drop(node);
}
