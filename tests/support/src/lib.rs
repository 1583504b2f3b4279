//! What the workspace's tests share: a free loopback port, a binary that
//! serves started and awaited until it listens, and a plain HTTP GET. Std
//! only, so that any crate's tests can use it; with the feature `cdp`, a
//! headless Chromium driven over the DevTools protocol ([`cdp`]); with
//! `garage`, a Garage cluster on loopback ([`garage`]).

#[cfg(feature = "cdp")]
pub mod cdp;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "fuzz")]
pub mod fuzz;
#[cfg(feature = "garage")]
pub mod garage;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

/// A loopback address no one listens on right now.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("a bound socket has an address")
}

/// Spawns `command` (whose stdout this takes) and waits for its first
/// line, which must announce that it listens: `aidledger-node serve` and
/// `demo` print it once the socket is bound.
pub fn spawn_listening(command: &mut Command) -> Child {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout is piped"))
        .read_line(&mut line)
        .expect("read the server's first line");
    assert!(line.contains("listening"), "{line}");
    child
}

/// An HTTP/1.1 answer: status, head (status line and headers) and body.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends `method path` with `body` on a fresh connection and reads the
/// whole answer.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
    try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// As [`http`], with what went wrong (a refused connection, an answer cut
/// off by a killed server) as an error instead of a panic.
pub fn try_http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Result<Answer, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .map_err(|e| format!("send the head: {e}"))?;
    s.write_all(body)
        .map_err(|e| format!("send the body: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("read the answer: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status code")?;
    Ok(Answer {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
}

/// The status and body of a plain HTTP/1.1 GET of `path` on `addr`.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let a = http(addr, "GET", path, b"");
    (a.status, a.body)
}

/// A child process killed when dropped, so that a failing test leaves no
/// server running behind it.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Killed {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Killed {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Serves the files under `root` over plain HTTP/1.1 (GET only, 404 for
/// what is missing) on a loopback port, from a background thread, as a
/// static host or CDN would serve a bucket's objects.
pub fn serve_dir(root: std::path::PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                    // The rest of the head.
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let file = root.join(path.trim_start_matches('/'));
                    let (status, body) = match std::fs::read(&file) {
                        Ok(b) if !path.contains("..") => ("200 OK", b),
                        _ => ("404 Not Found", b"not found".to_vec()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-type: application/octet-stream\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(head.as_bytes()).is_err()
                        || stream.write_all(&body).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// `aidledger-node demo` (the binary at `node`) on `data` and `addr`, with
/// `extra` flags, once it listens; killed when dropped.
pub fn demo(
    node: &std::path::Path,
    data: &std::path::Path,
    addr: SocketAddr,
    extra: &[&str],
) -> Killed {
    Killed(spawn_listening(
        Command::new(node)
            .args(["demo", "--data"])
            .arg(data)
            .args(["--listen", &addr.to_string()])
            .args(extra)
            .stderr(Stdio::null()),
    ))
}

/// A TCP connection to `to` from the local address `from` (on Linux any
/// 127.x.y.z is this machine; an IPv6 address must be routed to the
/// loopback, as the abuse bench does in its own network namespace): a
/// second client address for tests of per-client limits.
pub fn connect_from(from: std::net::IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let from_addr = SocketAddr::new(from, 0);
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(from_addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.bind(&from_addr.into())?;
    socket.connect(&to.into())?;
    Ok(socket.into())
}

/// `var` read as a number, or `default` when it is unset or not one: how a
/// harness's long form is asked for (more cases, more kills, more flips).
pub fn env_number<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A run's random seed: `var` if set (to repeat a run), else a fresh one.
/// Printed as `var=seed`, so that a failing run can be repeated.
pub fn seed(var: &str) -> u64 {
    let seed = env_number(var, std::process::id() as u64 ^ now_nanos());
    println!("{var}={seed}");
    seed
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Resident memory of process `pid` in KiB (Linux: `VmRSS` of
/// `/proc/<pid>/status`); 0 when it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
