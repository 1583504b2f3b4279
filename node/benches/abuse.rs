//! The write route under abuse (issues 19 and 27): an honest client
//! submitting 100-entry arrays one after another from 127.0.0.1, for
//! SECONDS each (default 10), with no attack, then during each attack:
//!
//! - slow-loris: 2,000 connections each sending a request head one byte a
//!   second (the node closes them at its header timeout; they reconnect);
//! - 10,000 idle connections, opened and held;
//! - floods of garbage-signed 1,000-entry arrays (each entry costs the node
//!   a signature check): from one address; from 60 addresses of one /24;
//!   from 60 /24 blocks; and from 1,000 addresses of one IPv6 /64;
//! - 5,000 clients asking for 1,000-entry pages and never reading them,
//!   while the honest client submits single entries (its p99 and the
//!   node's peak resident memory are reported).
//!
//! The IPv6 /64 cannot be had on the host's loopback (`::1` is one
//! address): run as root, the bench first moves itself into a network
//! namespace of its own (`unshare(CLONE_NEWNET)`; the node, its child, is
//! in it too), brings its loopback up and routes `fd00:a1d::/64` to it
//! (`ip -6 route add local`), so that any address of the /64 is this
//! machine; no packet leaves the namespace. Without root that flood is
//! skipped, and said so.
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

/// The single attacker: another /24 than the honest client's.
const ATTACKER: [u8; 4] = [127, 0, 2, 2];

/// The IPv6 /64 of the namespace's loopback.
const V6_BLOCK: &str = "fd00:a1d::";

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

/// Moves this process into a network namespace of its own with the
/// loopback up and [`V6_BLOCK`]/64 routed to it; false where it cannot
/// (not root, no `ip`).
fn enter_namespace() -> bool {
    // SAFETY: only the network namespace is unshared (no file table), on
    // the only thread there is yet.
    if unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }.is_err() {
        return false;
    }
    let ip = |args: &str| {
        Command::new("ip")
            .args(args.split(' '))
            .status()
            .is_ok_and(|s| s.success())
    };
    ip("link set lo up")
        && ip(&format!("-6 route add local {V6_BLOCK}/64 dev lo"))
        && std::fs::write("/proc/sys/net/ipv6/ip_nonlocal_bind", "1").is_ok()
}

/// Garbage-signed 1,000-entry arrays from `sources` over `connections`
/// connections (each new connection from the next source) while the
/// honest client runs: its figures and what the flood got.
fn flood(
    addr: SocketAddr,
    sources: &[IpAddr],
    connections: usize,
    body: &[u8],
    arrays: &mut impl Iterator<Item = Vec<u8>>,
    seconds: u64,
) -> String {
    let stop = AtomicBool::new(false);
    let next = AtomicU64::new(0);
    let (overloaded, checked) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..connections {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let from =
                        sources[next.fetch_add(1, Ordering::Relaxed) as usize % sources.len()];
                    let Ok(mut s) = testkit::connect_from(from, target(addr, from)) else {
                        continue;
                    };
                    match post(&mut s, body) {
                        Ok(503) => overloaded.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => checked.fetch_add(1, Ordering::Relaxed),
                        Err(_) => 0,
                    };
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        let honest = honest(addr, arrays, seconds);
        stop.store(true, Ordering::Relaxed);
        format!(
            "{honest}; the flood had {} arrays checked, {} refused overloaded",
            checked.load(Ordering::Relaxed),
            overloaded.load(Ordering::Relaxed)
        )
    })
}

/// The node's address as seen from `from`: its IPv6 address for an IPv6
/// source (the node listens on both).
fn target(addr: SocketAddr, from: IpAddr) -> SocketAddr {
    match from {
        IpAddr::V6(_) => SocketAddr::new(format!("{V6_BLOCK}1").parse().unwrap(), addr.port()),
        IpAddr::V4(_) => addr,
    }
}

/// `n` clients asking for 1,000-entry pages and never reading, kept that
/// many (a closed one is opened again), while the honest client submits
/// single entries for `seconds`: its figures and the node's peak RSS.
fn non_readers(
    addr: SocketAddr,
    pid: u32,
    n: usize,
    singles: &mut impl Iterator<Item = Vec<u8>>,
    seconds: u64,
) -> String {
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(testkit::rss_kib(pid) / 1024);
    let reopened = AtomicU64::new(0);
    let request = b"GET /v1/entries?start=0&limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n";
    std::thread::scope(|scope| {
        for t in 0..10u8 {
            let (stop, reopened) = (&stop, &reopened);
            scope.spawn(move || {
                let from = IpAddr::from([127, 0, 6, t + 1]);
                let mut conns: Vec<TcpStream> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    // A pipelined request more on each; a closed one fails.
                    conns.retain_mut(|s| s.write_all(request).is_ok());
                    while conns.len() < n / 10 && !stop.load(Ordering::Relaxed) {
                        if let Ok(mut s) = testkit::connect_from(from, addr) {
                            if s.write_all(request).is_ok() {
                                conns.push(s);
                                reopened.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(testkit::rss_kib(pid) / 1024, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        // Measured once all are open (or after a minute).
        let ramp = Instant::now();
        while (reopened.load(Ordering::Relaxed) as usize) < n
            && ramp.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let honest = honest_singles(addr, singles, seconds);
        stop.store(true, Ordering::Relaxed);
        format!(
            "{honest}; node peak RSS {} MiB; {} connections opened",
            peak.load(Ordering::Relaxed),
            reopened.load(Ordering::Relaxed)
        )
    })
}

/// The honest client submitting single entries for `seconds`.
fn honest_singles(
    addr: SocketAddr,
    singles: &mut impl Iterator<Item = Vec<u8>>,
    seconds: u64,
) -> String {
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let entry = singles.next().expect("enough entries");
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        let status = post(&mut s, &entry).unwrap();
        assert_eq!(status, 201, "the honest client was refused");
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    format!(
        "{:.0} single entries/s, p50 {:.1} ms, p99 {:.1} ms",
        latencies.len() as f64 / started.elapsed().as_secs_f64(),
        pct(0.5),
        pct(0.99)
    )
}

fn main() {
    // First, while this is the only thread: the namespace is per thread.
    let v6 = enter_namespace();
    node::serve::raise_file_limit();
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    // Both families on one port: 127.0.0.1 and the IPv6 block.
    let listen = if v6 {
        format!("[::]:{}", addr.port())
    } else {
        addr.to_string()
    };
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    c.args(["demo", "--data", dir.path().to_str().unwrap()])
        .args(["--listen", &listen])
        .stderr(Stdio::null());
    let node = testkit::Killed(testkit::spawn_listening(&mut c));
    let pid = node.0.id();
    let attacker = IpAddr::from(ATTACKER);
    // Seven runs of up to ~250 arrays a second.
    let mut arrays = arrays(7 * 250 * seconds as usize).into_iter();

    println!("no attack: {}", honest(addr, &mut arrays, seconds));
    // `-- SECONDS non-readers`: that case alone.
    let only_non_readers = std::env::args().any(|a| a == "non-readers");
    if only_non_readers {
        return non_readers_case(addr, pid, arrays, seconds);
    }

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
    let body = serde_json::to_vec(&garbage).unwrap();
    println!(
        "garbage-signed flood from one address (8 connections of 1,000-entry arrays): {}",
        flood(addr, &[attacker], 8, &body, &mut arrays, seconds)
    );
    let block: Vec<IpAddr> = (1..=60).map(|i| IpAddr::from([127, 0, 3, i])).collect();
    println!(
        "garbage-signed flood from 60 addresses of one /24 (16 connections): {}",
        flood(addr, &block, 16, &body, &mut arrays, seconds)
    );
    let blocks: Vec<IpAddr> = (0..60).map(|i| IpAddr::from([127, 10 + i, 0, 1])).collect();
    println!(
        "garbage-signed flood from 60 /24 blocks (16 connections): {}",
        flood(addr, &blocks, 16, &body, &mut arrays, seconds)
    );
    if v6 {
        let many: Vec<IpAddr> = (0..1000u32)
            .map(|i| {
                format!(
                    "{V6_BLOCK}{:x}:{:x}",
                    0x100 + i / 7,
                    u64::from(i) * 2_654_435_761 % 65_536
                )
                .parse()
                .unwrap()
            })
            .collect();
        println!(
            "garbage-signed flood from 1,000 addresses of one IPv6 /64 (16 connections): {}",
            flood(addr, &many, 16, &body, &mut arrays, seconds)
        );
    } else {
        println!(
            "garbage-signed flood from an IPv6 /64: skipped (needs root for a network namespace)"
        );
    }
    non_readers_case(addr, pid, arrays, seconds);
}

/// The non-readers' case, with single entries cut from `arrays`.
fn non_readers_case(
    addr: SocketAddr,
    pid: u32,
    arrays: impl Iterator<Item = Vec<u8>>,
    seconds: u64,
) {
    let mut singles = arrays.flat_map(|a| {
        let v: Vec<serde_json::Value> = serde_json::from_slice(&a).unwrap();
        v.into_iter()
            .map(|e| serde_json::to_vec(&e).unwrap())
            .collect::<Vec<_>>()
    });
    println!(
        "5,000 clients never reading their 1,000-entry pages: {}",
        non_readers(addr, pid, 5_000, &mut singles, seconds)
    );
}
