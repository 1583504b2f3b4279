//! The real `aidledger-node` binary under abuse from the network, as an
//! attacker would try it: connections that send part of a head and go
//! silent, more of them than the node may hold, and requests the HTTP
//! stack itself refuses. Honest clients must still be served, and every
//! answer must have the SPEC's `{"error":{"code","message"}}` shape.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger::entry::SignedEntry;
use serde_json::{json, Value};

mod common;

/// Connections the node may hold in these tests.
const ROOM: u64 = 200;

struct Node {
    child: Child,
    addr: SocketAddr,
    stderr: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node with an open-files limit that leaves it `ROOM` connections,
/// and a header timeout of `header_timeout` seconds.
fn spawn(header_timeout: u64) -> Node {
    spawn_with(header_timeout, &[])
}

/// As [`spawn`], with more arguments.
fn spawn_with(header_timeout: u64, extra: &[&str]) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let stderr = dir.path().join("stderr");
    let files = node::serve::RESERVED_FILES + ROOM;
    let mut command = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    command
        .args(["serve", "--data"])
        .arg(dir.path().join("data"))
        .args([
            "--listen",
            &addr.to_string(),
            "--origin",
            "test.example/aid",
        ])
        .args(["--header-timeout", &header_timeout.to_string()])
        .args(extra)
        .stderr(std::fs::File::create(&stderr).unwrap());
    // SAFETY: setrlimit is a plain system call, safe between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = rustix::process::Rlimit {
                current: Some(files),
                maximum: Some(files),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)
                .map_err(std::io::Error::from)
        });
    }
    let child = testkit::spawn_listening(&mut command);
    Node {
        child,
        addr,
        stderr,
        _dir: dir,
    }
}

/// Sends `request` as it is on a fresh connection; returns the status and
/// the body parsed as JSON.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_slice(&answer[split + 4..])
        .unwrap_or_else(|e| panic!("{head}: body is not JSON ({e})"));
    (status, body)
}

fn post(addr: SocketAddr, body: &[u8]) -> (u16, Value) {
    let mut req = format!(
        "POST /v1/entries HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// The vector ledger's five entries, then `n` credit awards by its charity.
fn honest_entries(n: usize) -> Vec<Vec<u8>> {
    let mut out = common::vector_entries();
    let charity = SigningKey::from_bytes(&[2; 32]);
    out.extend((0..n).map(|i| {
        let e = SignedEntry::create(
            &charity,
            "CN-USCI-53440300MJ0000018R",
            ledger::domain::Kind::CreditAward,
            &format!("honest-{i}"),
            "2026-03-01T09:00:00Z",
            json!({"holder": format!("vol_{i:064x}"), "points": 1, "reason": "服务"}),
        )
        .unwrap();
        serde_json::to_vec(&e).unwrap()
    }));
    out
}

/// More slow-head connections than the node has file descriptors, held
/// open, do not keep an honest client out: it gets every submission
/// accepted, and the node never runs out of descriptors.
#[test]
fn slow_heads_beyond_the_cap_do_not_lock_out_honest_clients() {
    // This test process holds every attacking connection open.
    node::serve::raise_file_limit();
    let node = spawn(30);
    let mut attackers = Vec::new();
    for _ in 0..node::serve::RESERVED_FILES + 2 * ROOM {
        let mut s = TcpStream::connect(node.addr).unwrap();
        // Part of a head, then silence.
        let _ = s.write_all(b"POST /v1/entries HTTP/1.1\r\nHost: x\r\n");
        attackers.push(s);
    }
    let mut accepted = 0;
    for entry in honest_entries(15) {
        let (status, answer) = post(node.addr, &entry);
        assert_eq!(status, 201, "{answer}");
        accepted += 1;
    }
    assert_eq!(accepted, 20);
    // While the attack goes on, a fresh wave of it does not either.
    for _ in 0..ROOM {
        if let Ok(mut s) = TcpStream::connect(node.addr) {
            let _ = s.write_all(b"GET / HTTP/1.1\r\n");
            attackers.push(s);
        }
    }
    let (status, log) = get(node.addr, "/v1/log");
    assert_eq!(status, 200);
    assert_eq!(log["size"], 20);
    drop(attackers);
    let stderr = std::fs::read_to_string(&node.stderr).unwrap();
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    assert!(stderr.contains("shedding"), "{stderr}");
}

/// A connection that sends part of a head and goes silent, or stays idle
/// after an answer, is closed after the header timeout.
#[test]
fn silent_and_idle_connections_are_closed() {
    let node = spawn(1);
    let mut silent = TcpStream::connect(node.addr).unwrap();
    silent.write_all(b"GET /v1/log HTTP/1.1\r\nHo").unwrap();
    let mut idle = TcpStream::connect(node.addr).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    for s in [&mut silent, &mut idle] {
        // Bounded so that a node that never closes fails the test.
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut all = Vec::new();
        let closed = s.read_to_end(&mut all);
        assert!(closed.is_ok(), "not closed: {closed:?}");
    }
}

/// Answers made by the HTTP stack, not a handler, have the SPEC's shape.
#[test]
fn every_refusal_has_the_spec_shape() {
    let node = spawn(30);
    let addr = node.addr;
    let check = |(status, body): (u16, Value), want_status: u16, want_code: &str| {
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["code"], want_code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    };
    // A body over the limit, announced by its length.
    let big = format!(
        "POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        node::BODY_LIMIT + 1
    );
    check(raw(addr, big.as_bytes()), 413, "too_large");
    // A URI past hyper's limit.
    let long = format!(
        "GET /v1/funds/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    check(raw(addr, long.as_bytes()), 414, "too_large");
    // More header fields than hyper parses.
    let mut many = String::from("GET /v1/log HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    check(raw(addr, many.as_bytes()), 431, "too_large");
    // Not HTTP at all.
    check(raw(addr, b"NOT A REQUEST\r\n\r\n"), 400, "schema_violation");
    // Invalid UTF-8 in a path segment.
    check(get(addr, "/v1/funds/%ff"), 400, "schema_violation");
    check(get(addr, "/v1/entries/%ff%fe"), 400, "schema_violation");
    // Numbers: out of range is a schema violation, like 2^64 and 1.5.
    for n in ["1e400", "18446744073709551616", "1.5"] {
        check(
            post(addr, format!("{{\"amount\":{n}}}").as_bytes()),
            400,
            "schema_violation",
        );
    }
    check(post(addr, b"{\"amount\":"), 400, "malformed_json");
    check(get(addr, "/no/such/route"), 404, "not_found");
}

/// One client flooding the write route with garbage-signed arrays (each
/// entry costs the node a signature check) is held to its limit of bytes
/// in flight, its requests past it wait, and past its waiting requests it
/// is answered `overloaded`, while another client's submissions are all
/// accepted.
#[test]
fn a_client_flooding_the_write_route_is_held_to_its_limit() {
    flood_from(&[[127, 0, 2, 2].into()]);
}

/// The same flood spread over 40 addresses of one /24 is one client: it
/// gets no more room than one address (without blocks, each address would
/// have its own waiting requests and none would be refused).
#[test]
fn a_flood_from_many_addresses_of_one_block_is_one_client() {
    let sources: Vec<std::net::IpAddr> = (1..=40).map(|i| [127, 0, 3, i].into()).collect();
    flood_from(&sources);
}

/// Floods the write route from `sources` (one connection each, at least
/// more than may wait) while an honest client at 127.0.0.1 submits.
fn flood_from(sources: &[std::net::IpAddr]) {
    // Room for one of the flood's arrays at a time.
    let node = spawn_with(30, &["--client-writes", "500000"]);
    let addr = node.addr;
    let charity = SigningKey::from_bytes(&[2; 32]);
    let garbage: Vec<Value> = (0..1000)
        .map(|i| {
            let e = SignedEntry::create(
                &charity,
                "CN-USCI-53440300MJ0000018R",
                ledger::domain::Kind::CreditAward,
                &format!("flood-{i}"),
                "2026-03-01T09:00:00Z",
                json!({"holder": format!("vol_{i:064x}"), "points": 1, "reason": "服务"}),
            )
            .unwrap();
            let mut v = serde_json::to_value(e).unwrap();
            v["signature"] = json!(hex::encode([i as u8 | 1; 64]));
            v
        })
        .collect();
    let flood = serde_json::to_vec(&garbage).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let connections = sources.len().max(node::admission::WAITING_PER_CLIENT + 4);
    let (overloaded, answered) = std::thread::scope(|scope| {
        // More connections than may wait: some are refused.
        let floods: Vec<_> = (0..connections)
            .map(|i| {
                let attacker = sources[i % sources.len()];
                let (stop, flood) = (&stop, &flood);
                scope.spawn(move || {
                    let (mut overloaded, mut answered) = (0, 0);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let mut s = testkit::connect_from(attacker, addr).unwrap();
                        write!(
                            s,
                            "POST /v1/entries HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                            flood.len()
                        )
                        .unwrap();
                        // Refused from its head, the body may meet a closed socket.
                        let _ = s.write_all(flood);
                        let mut answer = Vec::new();
                        let _ = s.read_to_end(&mut answer);
                        match &answer[9..12] {
                            b"503" => overloaded += 1,
                            b"200" => answered += 1,
                            other => panic!("flood answered {}", String::from_utf8_lossy(other)),
                        }
                    }
                    (overloaded, answered)
                })
            })
            .collect();
        for (i, entry) in honest_entries(100).iter().enumerate() {
            let (status, body) = post(addr, entry);
            assert!(status == 201, "honest entry {i}: {status} {body}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        floods
            .into_iter()
            .map(|f| f.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert!(
        overloaded > 0,
        "the flood was never held back ({answered} answered)"
    );
    assert!(answered > 0, "the flood was refused whole");
    let (_, log) = get(addr, "/v1/log");
    assert_eq!(log["size"], 105, "only the honest entries are in the log");
}

/// Clients that ask for large answers and never read them: past
/// `--max-unsent` bytes made but not taken, a large answer is
/// `overloaded` (small ones still go out); a connection whose answer is not
/// read within the write timeout is closed, which frees its bytes, so a
/// reading client gets its page again while the non-readers still read
/// nothing.
#[test]
fn clients_that_never_read_are_bounded_and_closed() {
    let node = spawn_with(30, &["--write-timeout", "2", "--max-unsent", "3000000"]);
    let addr = node.addr;
    let entries = honest_entries(995);
    let array = format!(
        "[{}]",
        entries
            .iter()
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(post(addr, array.as_bytes()).0, 200);
    let page = "/v1/entries?start=0&limit=1000";
    let fetch = || {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {page} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    };
    assert_eq!(&fetch()[9..12], b"200");
    // Non-readers: a small receive buffer, the request 20 times over
    // (pipelined: once the kernel's buffers are full the answers stay in
    // the node), then nothing.
    const ASKED: usize = 20;
    let mut silent = Vec::new();
    for _ in 0..12 {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&addr.into()).unwrap();
        let mut s: TcpStream = socket.into();
        let request = format!("GET {page} HTTP/1.1\r\nHost: x\r\n\r\n");
        s.write_all(request.repeat(ASKED).as_bytes()).unwrap();
        silent.push(s);
    }
    std::thread::sleep(Duration::from_millis(1500));
    // Their answers hold the node's room for unsent bytes: a reader's large
    // answer is refused, a small one is not.
    let (status, body) = get(addr, page);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "overloaded");
    assert_eq!(get(addr, "/v1/log").0, 200);
    // After the write timeout the node has closed them, which frees their
    // bytes: the same large answer goes out again while they still have
    // not read a byte.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(&fetch()[9..12], b"200");
    drop(silent);
}

/// HTTP/2 is not spoken. A connection that opens with HTTP/2's connection
/// preface (prior-knowledge h2c: `PRI * HTTP/2.0…SM…` and a SETTINGS
/// frame) is closed at once without an answer, as hyper's HTTP/1 server
/// does; a request line naming another HTTP version gets a 400 in the
/// SPEC's shape; and the node goes on serving. (What docs/operating.md says.)
#[test]
fn an_http2_preface_is_closed_without_an_answer() {
    let node = spawn(30);
    let mut s = TcpStream::connect(node.addr).unwrap();
    // Well under the header timeout: closed at once, not timed out.
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut answer = Vec::new();
    match s.read_to_end(&mut answer) {
        Ok(_) => assert!(
            answer.is_empty(),
            "answered: {:?}",
            String::from_utf8_lossy(&answer)
        ),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let (status, body) = raw(node.addr, b"GET /v1/log HTTP/2.0\r\nHost: x\r\n\r\n");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "schema_violation", "{body}");
    assert_eq!(get(node.addr, "/v1/log").0, 200);
}
