//! The write route under abuse (issue 19): an honest client submitting
//! 100-entry arrays one after another from 127.0.0.1, for SECONDS each
//! (default 10), with no attack, then during each attack from 127.0.0.2:
//!
//! - slow-loris: 2,000 connections each sending a request head one byte a
//!   second (the node closes them at its header timeout; they reconnect);
//! - 10,000 idle connections, opened and held;
//! - a flood of garbage-signed 1,000-entry arrays from 8 connections at once
//!   (each entry costs the node a signature check).
//!
//! Reports the honest client's entries/s and request p50/p99, and what the
//! attack got. `cargo bench -p node --bench abuse [-- SECONDS]`.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::batches;

const ATTACKER: [u8; 4] = [127, 0, 0, 2];

fn post(s: &mut TcpStream, body: &[u8]) -> std::io::Result<u16> {
    write!(
        s,
        "POST /v1/entries HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    Ok(std::str::from_utf8(answer.get(9..12).unwrap_or(b"000"))
        .unwrap_or("0")
        .parse()
        .unwrap_or(0))
}

/// The honest client for `seconds`: entries/s, p50 and p99 in ms.
fn honest(addr: SocketAddr, arrays: &mut impl Iterator<Item = Vec<u8>>, seconds: u64) -> String {
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut entries = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let array = arrays.next().expect("enough arrays");
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        let status = post(&mut s, &array).unwrap();
        assert_eq!(status, 200, "the honest client was refused");
        latencies.push(t.elapsed());
        entries += 100;
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    format!(
        "{:.0} entries/s, p50 {:.1} ms, p99 {:.1} ms",
        entries as f64 / started.elapsed().as_secs_f64(),
        pct(0.5),
        pct(0.99)
    )
}

/// 100-entry arrays, signed ahead (signing is not what is measured).
fn arrays(n: usize) -> Vec<Vec<u8>> {
    batches(n.div_ceil(10), "abuse")
        .into_iter()
        .flat_map(|b| {
            let entries: Vec<serde_json::Value> = serde_json::from_slice(&b).unwrap();
            entries
                .chunks(100)
                .map(|c| serde_json::to_vec(c).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    c.args(["demo", "--data", dir.path().to_str().unwrap()])
        .args(["--listen", &addr.to_string()])
        .stderr(Stdio::null());
    let _node = testkit::Killed(testkit::spawn_listening(&mut c));
    let attacker = IpAddr::from(ATTACKER);
    // Four runs of up to ~250 arrays a second.
    let mut arrays = arrays(4 * 250 * seconds as usize).into_iter();

    println!("no attack: {}", honest(addr, &mut arrays, seconds));

    let stop = AtomicBool::new(false);
    let reconnects = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..20 {
            scope.spawn(|| {
                let mut conns: Vec<TcpStream> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    conns.retain_mut(|s| s.write_all(b"G").is_ok());
                    while conns.len() < 100 {
                        if let Ok(s) = testkit::connect_from(attacker, addr) {
                            conns.push(s);
                            reconnects.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        println!(
            "slow-loris (2,000 connections, a byte a second): {}; {} connections opened",
            honest(addr, &mut arrays, seconds),
            reconnects.load(Ordering::Relaxed)
        );
        stop.store(true, Ordering::Relaxed);
    });

    let idle: Vec<TcpStream> = (0..10_000)
        .filter_map(|_| testkit::connect_from(attacker, addr).ok())
        .collect();
    println!(
        "{} idle connections: {}",
        idle.len(),
        honest(addr, &mut arrays, seconds)
    );
    drop(idle);

    let garbage: Vec<serde_json::Value> = {
        let b = &batches(1, "garbage")[0];
        let mut v: Vec<serde_json::Value> = serde_json::from_slice(b).unwrap();
        for (i, e) in v.iter_mut().enumerate() {
            e["signature"] = serde_json::json!(hex::encode([i as u8 | 1; 64]));
        }
        v
    };
    let flood = serde_json::to_vec(&garbage).unwrap();
    let stop = AtomicBool::new(false);
    let (overloaded, checked) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = testkit::connect_from(attacker, addr) else {
                        continue;
                    };
                    match post(&mut s, &flood) {
                        Ok(503) => overloaded.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => checked.fetch_add(1, Ordering::Relaxed),
                        Err(_) => 0,
                    };
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        let honest = honest(addr, &mut arrays, seconds);
        stop.store(true, Ordering::Relaxed);
        println!(
            "garbage-signed flood (8 connections of 1,000-entry arrays): {honest}; the flood had {} arrays checked, {} refused overloaded",
            checked.load(Ordering::Relaxed),
            overloaded.load(Ordering::Relaxed)
        );
    });
}
