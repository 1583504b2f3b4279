//! One writer across machines (SPEC §8, issue 32) with real components on
//! loopback: a three-member etcd cluster (Debian's `etcd-server`) holds the
//! writer's lock and checkpoint, a three-node Garage cluster the tiles, and
//! two or three `aidledger-node serve --lock` processes take turns.
//!
//! - The writer SIGKILLed under load, again and again: every receipt's
//!   entry is at its seq exactly once, gapless; the chain and checkpoints
//!   verify; no seq has two leaves on any node or in the bucket.
//! - The writer paused (SIGSTOP) past its lease: the standby takes over;
//!   resumed, the old writer refuses to write and publishes nothing.
//! - etcd members killed: one down, writes go on; two down, they stop with
//!   `overloaded` and resume when a member returns, nothing lost.
//!
//! `FAILOVER_KILLS` (default 4; the long form 20) sets the kills.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::rig::{
    agree, genesis, kill_under_load, settle, signal, submit_anywhere, submit_until, vkey, Rig,
};
use serde_json::Value;

mod common;

#[test]
fn the_writer_killed_under_load_again_and_again_loses_and_forks_nothing() {
    let kills: usize = testkit::env_number("FAILOVER_KILLS", 4);
    let mut rig = Rig::start(3);
    genesis(&rig);
    let (acked, mut failovers) = kill_under_load(&mut rig, kills);
    let w = rig.wait_writer(Duration::from_secs(30));
    let (_, log) = testkit::http_get(rig.addrs[w], "/v1/log");
    let size = serde_json::from_slice::<Value>(&log).unwrap()["size"]
        .as_u64()
        .unwrap();
    settle(&rig, size as usize);
    let longest = agree(&rig, &acked);
    failovers.sort();
    println!(
        "failover: {} kills, {} receipts kept, log of {}; first write after a kill p50 {:.2} s, max {:.2} s",
        kills,
        acked.len(),
        longest.len(),
        failovers[failovers.len() / 2].as_secs_f64(),
        failovers.last().unwrap().as_secs_f64()
    );
}

#[test]
fn a_paused_writer_resumed_past_its_lease_writes_and_publishes_nothing() {
    let mut rig = Rig::start(2);
    genesis(&rig);
    let a = rig.wait_writer(Duration::from_secs(30));
    let b = 1 - a;
    for n in 0..5 {
        common::award(rig.addrs[a], &format!("before-{n}"));
    }
    let (_, before) = testkit::http_get(rig.addrs[a], "/checkpoint");
    signal(rig.pid(a), "-STOP");
    rig.paused[a] = true;
    // A submission that reaches the paused writer waits in its socket.
    let stuck = {
        let addr = rig.addrs[a];
        std::thread::spawn(move || {
            testkit::try_http(
                addr,
                "POST",
                "/v1/entries",
                &serde_json::to_vec(&common::award_entry("stuck")).unwrap(),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while rig.writer() != Some(b) {
        assert!(Instant::now() < deadline, "the standby did not take over");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut acked = HashMap::new();
    for n in 0..5 {
        let nonce = format!("after-{n}");
        acked.insert(nonce.clone(), common::award(rig.addrs[b], &nonce));
    }
    signal(rig.pid(a), "-CONT");
    rig.paused[a] = false;
    // The old writer answers what it held without a receipt, refuses new
    // entries, says why, and publishes no checkpoint past what it had.
    let stuck = stuck.join().unwrap();
    if let Ok(answer) = &stuck {
        assert!(
            answer.status != 200 && answer.status != 201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, health) = testkit::http_get(rig.addrs[a], "/healthz");
        if status == 503 {
            assert!(String::from_utf8_lossy(&health).contains("lock lost"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old writer does not say it lost the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = common::post(rig.addrs[a], &common::award_entry("late"));
    assert_eq!(
        refused.status,
        503,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(String::from_utf8_lossy(&refused.body).contains("overloaded"));
    let (_, after) = testkit::http_get(rig.addrs[a], "/checkpoint");
    assert_eq!(before, after, "the old writer published a checkpoint");
    // The standby's answers name the writer.
    let (_, metrics) = testkit::http_get(rig.addrs[a], "/metrics");
    assert!(String::from_utf8_lossy(&metrics).contains("aidledger_writer_lock_lost 1"));
    agree(&rig, &acked);
}

#[test]
fn etcd_losing_its_quorum_stops_writes_and_they_resume_with_it() {
    let mut rig = Rig::start(2);
    genesis(&rig);
    let w = rig.wait_writer(Duration::from_secs(30));
    let standby = 1 - w;
    // A standby sends submitters to the writer.
    let sent = common::post(rig.addrs[standby], &common::award_entry("to-standby"));
    assert_eq!(sent.status, 307, "{}", String::from_utf8_lossy(&sent.body));
    assert!(sent
        .head
        .to_ascii_lowercase()
        .contains(&format!("location: http://{}/v1/entries", rig.addrs[w])));
    let mut acked = HashMap::new();
    rig.etcd.kill(0);
    for n in 0..5 {
        let nonce = format!("one-down-{n}");
        acked.insert(nonce.clone(), common::award(rig.addrs[w], &nonce));
    }
    rig.etcd.kill(1);
    let asked = Instant::now();
    let refused = common::post(rig.addrs[w], &common::award_entry("no-quorum"));
    let body = String::from_utf8_lossy(&refused.body);
    assert_eq!(refused.status, 503, "{body}");
    assert!(body.contains("\"overloaded\""), "{body}");
    println!(
        "without a quorum, after {:.1} s: {body}",
        asked.elapsed().as_secs_f64()
    );
    rig.etcd.restart(1);
    let seq = submit_until(&rig.addrs, w, "back", Duration::from_secs(60));
    acked.insert("back".into(), seq);
    // The entry refused without a quorum may be in the log (durable on the
    // writer, acknowledged to nobody); resubmitted, it gets its receipt.
    let again = submit_anywhere(
        &rig.addrs,
        w,
        &serde_json::to_vec(&common::award_entry("no-quorum")).unwrap(),
    )
    .expect("the resubmission is answered");
    acked.insert("no-quorum".into(), again["seq"].as_u64().unwrap());
    let longest = agree(&rig, &acked);
    settle(&rig, longest.len());
    agree(&rig, &acked);
}

/// `aidledger submit` with every node's URL: through a standby's redirect
/// to the writer, then, the writer killed, on to the standby once it has
/// taken over, the same entry resubmitted until one takes it.
#[test]
fn the_cli_given_every_node_finds_the_writer() {
    let mut rig = Rig::start(2);
    // An empty ledger: the first writer publishes the empty tree's
    // checkpoint through etcd (`aidledger genesis` reads it), and the
    // standby follows it.
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..2 {
        loop {
            let (status, note) = testkit::http_get(rig.addrs[i], "/checkpoint");
            if status == 200 {
                let cp = ledger::witness::stated_checkpoint(&note).unwrap();
                assert_eq!(cp.root.size, 0);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} serves no checkpoint of the empty log"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    genesis(&rig);
    let w = rig.wait_writer(Duration::from_secs(30));
    let s = 1 - w;
    let submit = |nodes: [usize; 2], nonce: &str| -> Value {
        let list = nodes.map(|i| format!("http://{}", rig.addrs[i])).join(",");
        let mut child = Command::new(common::cli_bin())
            .args(["submit", "--node", &list, "--vkey", &vkey(), "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let entry = serde_json::to_vec(&common::award_entry(nonce)).unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &entry).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap()
    };
    let mut acked = HashMap::new();
    let first = submit([s, w], "cli-1");
    acked.insert("cli-1".to_owned(), first["seq"].as_u64().unwrap());
    rig.nodes[w] = None; // SIGKILL
    let second = submit([w, s], "cli-2");
    acked.insert("cli-2".to_owned(), second["seq"].as_u64().unwrap());
    assert_eq!(rig.writer(), Some(s));
    agree(&rig, &acked);
}

/// With a witness policy: the writer has a checkpoint cosigned only once
/// etcd holds it; a standby serves the bucket's witnessed checkpoint; after
/// the writer is killed the new writer's checkpoints extend what the
/// witness cosigned, so it cosigns them and receipts go on.
#[test]
fn under_a_witness_policy_the_new_writer_is_cosigned_too() {
    let mut rig = Rig::witnessed(2);
    genesis(&rig);
    let w = rig.wait_writer(Duration::from_secs(30));
    let s = 1 - w;
    let mut acked = HashMap::new();
    for n in 0..3 {
        let nonce = format!("witnessed-{n}");
        acked.insert(nonce.clone(), common::award(rig.addrs[w], &nonce));
    }
    let cosigned = |i: usize, size: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, note) = testkit::http_get(rig.addrs[i], "/checkpoint");
            let note = String::from_utf8_lossy(&note).into_owned();
            let at = ledger::witness::stated_checkpoint(note.as_bytes()).map(|c| c.root.size);
            if status == 200 && at >= Some(size as u64) {
                assert!(note.contains("\u{2014} audit.witness.test "), "{note}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} serves no witnessed checkpoint of {size}: {note}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let size = agree(&rig, &acked).len();
    cosigned(w, size);
    cosigned(s, size);
    rig.nodes[w] = None; // SIGKILL
    let seq = submit_until(&rig.addrs, s, "after-kill", Duration::from_secs(30));
    acked.insert("after-kill".into(), seq);
    let size = agree(&rig, &acked).len();
    cosigned(s, size);
}
