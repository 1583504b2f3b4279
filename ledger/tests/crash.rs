//! Crash safety: a process appending groups is killed with SIGKILL at random
//! moments; after each kill the store must reopen with every acknowledged
//! group present, a consistent head, and no partial group.
//!
//! The writer is this same test binary re-run with `--ignored --exact
//! crash_writer` (a child process), so the kill is a real process death.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use ledger::store::{Log, RocksBackend};
use ledger::verify::ChainVerifier;

const DIR_VAR: &str = "AIDLEDGER_CRASH_DIR";

/// Group sizes follow from the size before the group, so the parent knows
/// every size the writer can leave behind.
fn next_group(size: u64) -> u64 {
    1 + (size.wrapping_mul(7919) ^ (size >> 3)) % 150
}

#[test]
#[ignore = "child process of kill_9_never_loses_an_acknowledged_group"]
fn crash_writer() {
    let dir = std::env::var(DIR_VAR).expect("run by the crash test");
    let mut log = Log::open(RocksBackend::open(dir.as_ref()).unwrap()).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let size = log.size();
        let entries = (0..next_group(size))
            .map(|i| common::entry(4, size + i, 200))
            .collect();
        log.append(entries, SystemTime::now()).unwrap();
        // Now and then every memtable is flushed and a new WAL file
        // begins, so that kills also land just after a switch.
        if log.size() % 10 == 0 {
            log.backend().flush().unwrap();
        }
        // Acknowledged only after append returned, i.e. after the fsync.
        writeln!(out, "acked {}", log.size()).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_never_loses_an_acknowledged_group() {
    let dir = tempfile::tempdir().unwrap();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked_total = 0;
    for round in 0..24 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "crash_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("acked ") {
                    acked = Some(n.parse::<u64>().unwrap());
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(20 + rng.u64(..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();

        let log = Log::open(RocksBackend::open(dir.path()).unwrap())
            .unwrap_or_else(|e| panic!("round {round}: store does not reopen: {e}"));
        let size = log.size();
        if let Some(acked) = acked {
            assert!(
                size >= acked,
                "round {round}: acknowledged size {acked} but store has {size}"
            );
            acked_total += 1;
        }
        // The size is a group boundary: no group is half there.
        let mut boundary = 0;
        while boundary < size {
            boundary += next_group(boundary);
        }
        assert_eq!(
            boundary, size,
            "round {round}: size {size} is inside a group"
        );
        // The whole chain verifies and matches the head.
        let mut verifier = ChainVerifier::new();
        log.scan(0, &mut |_, bytes| {
            verifier.push(bytes).unwrap();
            true
        })
        .unwrap();
        verifier.finish(&log.head().root).unwrap();
    }
    assert!(
        acked_total >= 10,
        "too few rounds got as far as an acknowledgement ({acked_total})"
    );
}
