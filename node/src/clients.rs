//! Who a client is, for the write route's fairness, and which clients have
//! earned a share of their own.
//!
//! - Clients are told apart by network prefix ([`Prefix`]): an IPv4 /24 or
//!   an IPv6 /64, the block one host or one customer line typically holds.
//!   An attacker who spreads a flood over the addresses of one block is
//!   one client, as an IPv6 host with a /64 of its own would otherwise be
//!   2^64 clients.
//! - Above that, a client whose entries recently entered the log (signed
//!   by a registered key and accepted by the rules: not something a
//!   stranger can make) is in [`Standing`]: the check pool gives such
//!   clients most turns and admission does not count them against the
//!   bytes all other clients share, so a garbage-signed flood from any
//!   number of blocks cannot starve the organisations that submit valid
//!   entries. A new organisation waits among the others until its first
//!   entries are in.
//!
//! Behind a reverse proxy every client shares the proxy's address: there
//! the proxy should limit per client (and the node's limit be raised or
//! set to 0, no limit).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A client's network block: the first 24 bits of an IPv4 address (IPv4
/// mapped into IPv6 counts as IPv4), the first 64 of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// An IPv4 /24.
    V4([u8; 3]),
    /// An IPv6 /64.
    V6([u8; 8]),
}

impl Prefix {
    /// The block `ip` is in.
    pub fn of(ip: IpAddr) -> Prefix {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Prefix::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                Prefix::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
            }
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            Prefix::V6(o) => {
                let mut full = [0u8; 16];
                full[..8].copy_from_slice(o);
                write!(f, "{}/64", std::net::Ipv6Addr::from(full))
            }
        }
    }
}

/// Whose work it is: a client's block, or `None` for requests made inside
/// the process (one client together).
pub type Client = Option<Prefix>;

/// How long a client keeps its standing after its last entry entered the
/// log.
pub const STANDING_FOR: Duration = Duration::from_secs(600);

/// Clients remembered at most; past it the one whose last entry is oldest
/// is forgotten first.
const REMEMBERED: usize = 4096;

/// The clients whose entries recently entered the log.
#[derive(Debug, Default)]
pub struct Standing {
    last: Mutex<HashMap<Prefix, Instant>>,
}

impl Standing {
    /// `client`'s entries entered the log just now.
    pub fn vouch(&self, client: Client) {
        let Some(prefix) = client else { return };
        let now = Instant::now();
        let mut last = self.last.lock().expect("standing lock");
        if last.len() >= REMEMBERED && !last.contains_key(&prefix) {
            last.retain(|_, at| now.duration_since(*at) < STANDING_FOR);
            if last.len() >= REMEMBERED {
                let oldest = last.iter().min_by_key(|(_, at)| **at).map(|(p, _)| *p);
                if let Some(oldest) = oldest {
                    last.remove(&oldest);
                }
            }
        }
        last.insert(prefix, now);
    }

    /// Whether `client` has standing: requests from inside the process
    /// always do.
    pub fn has(&self, client: Client) -> bool {
        let Some(prefix) = client else { return true };
        self.last
            .lock()
            .expect("standing lock")
            .get(&prefix)
            .is_some_and(|at| at.elapsed() < STANDING_FOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_slash_24_and_slash_64() {
        let p = |s: &str| Prefix::of(s.parse().unwrap());
        assert_eq!(p("127.0.0.1"), p("127.0.0.254"));
        assert_ne!(p("127.0.0.1"), p("127.0.1.1"));
        assert_eq!(p("::ffff:10.1.2.3"), p("10.1.2.200"));
        assert_eq!(p("fd00:a1d::1"), p("fd00:a1d::ffff:ffff:ffff:ffff"));
        assert_ne!(p("fd00:a1d::1"), p("fd00:a1d:0:1::1"));
        assert_eq!(p("10.1.2.3").to_string(), "10.1.2.0/24");
        assert_eq!(p("fd00:a1d::9").to_string(), "fd00:a1d::/64");
    }

    #[test]
    fn standing_is_earned_by_entries_and_bounded() {
        let s = Standing::default();
        let client = |n: u16| Some(Prefix::of(IpAddr::from([10, (n >> 8) as u8, n as u8, 1])));
        assert!(!s.has(client(1)));
        assert!(s.has(None));
        s.vouch(client(1));
        assert!(s.has(client(1)));
        for n in 2..=REMEMBERED as u16 + 10 {
            s.vouch(client(n));
        }
        assert_eq!(s.last.lock().unwrap().len(), REMEMBERED);
        // The oldest were forgotten, the newest kept.
        assert!(!s.has(client(1)));
        assert!(s.has(client(REMEMBERED as u16 + 10)));
    }
}
