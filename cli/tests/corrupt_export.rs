//! Corruption of an export (issue 19): one byte flipped at random in an
//! NDJSON export, then `verify --file` (the CLI's own code, in process):
//! every flip must fail the audit, and the failure must name the seq of
//! the damaged line (or the next one, whose `prev` no longer matches), or,
//! on the last line, the root against the checkpoint.
//!
//! The export is of rules version 2 (households monitored and visited,
//! money recovered), so the replay that must catch a flip runs its rules.
//!
//! `EXPORT_FLIPS` sets the number of flips (default 200; the long form is
//! 1,000), `EXPORT_SEED` repeats a run.

mod common;

use std::collections::BTreeMap;

use cli::audit::{Pins, Trust};
use ledger::checkpoint::CheckpointVerifier;

const ENTRIES: u64 = 300;

#[test]
fn every_flipped_byte_of_an_export_fails_verify_naming_its_seq() {
    let flips: usize = testkit::env_number("EXPORT_FLIPS", 200);
    let seed = testkit::seed("EXPORT_SEED");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let (export, checkpoint, vkey) = common::write_export_v2(dir.path(), ENTRIES, common::ORIGIN);
    let pins = Pins {
        trust: Trust::node(CheckpointVerifier::from_vkey(&vkey).unwrap()),
        genesis: None,
        replay_memory: 1 << 20,
        stats: false,
    };
    let hidden = indicatif::ProgressBar::hidden();
    cli::audit::verify_file(&pins, &export, &checkpoint, &hidden).expect("the export verifies");
    let pristine = std::fs::read(&export).unwrap();
    let damaged = dir.path().join("damaged.ndjson");
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for _ in 0..flips {
        let mut bytes = pristine.clone();
        let at = rng.usize(..bytes.len());
        bytes[at] ^= rng.u8(1..);
        std::fs::write(&damaged, &bytes).unwrap();
        let line = pristine[..at].iter().filter(|b| **b == b'\n').count() as u64;
        let err = match cli::audit::verify_file(&pins, &damaged, &checkpoint, &hidden) {
            Ok(_) => {
                wrong.push(format!("byte {at} (line {line}): verified"));
                continue;
            }
            Err(e) => format!("{e:#}"),
        };
        let names =
            |seq: u64| err.contains(&format!("seq {seq}:")) || err.contains(&format!("seq {seq} "));
        if names(line) {
            *named.entry("its seq").or_default() += 1;
        } else if names(line + 1) {
            *named.entry("the next seq (prev)").or_default() += 1;
        } else if line + 1 >= ENTRIES && err.contains("root") {
            *named.entry("the root (last line)").or_default() += 1;
        } else {
            wrong.push(format!("byte {at} (line {line}): {err}"));
        }
    }
    for (how, n) in &named {
        println!("{how}: {n}");
    }
    assert!(
        wrong.is_empty(),
        "seed {seed}: {} of {flips} flips not named:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
