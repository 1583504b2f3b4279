//! The write route's admission per client: how many bytes of submissions
//! one client address may have in flight (being read, parsed, verified,
//! queued or committed) at once. A request over it is answered `overloaded`
//! from its head alone, before its body is read, so one client flooding the
//! node with arrays, honest or garbage-signed, holds at most its share of
//! the parser, the verifier and the writer while others keep being served.
//!
//! Clients are told apart by the address the server loop accepted them
//! from ([`Peer`]); behind a reverse proxy every client shares the proxy's
//! address, so there the proxy should limit per client instead (and the
//! node's limit be raised or set to 0, no limit).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::error::ApiError;
use ledger::code::Code;

/// The address a request's connection came from, put in the request's
/// extensions by the server loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

/// Bytes of submissions one client may have in flight by default: two
/// 1,000-entry arrays of typical entries, or thousands of single ones.
pub const DEFAULT_CLIENT_WRITES: usize = 1 << 20;

/// The bytes of submissions in flight per client address.
#[derive(Debug)]
pub struct WriteAdmission {
    limit: usize,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

impl WriteAdmission {
    /// At most `limit` bytes in flight per client; 0 for no limit.
    pub fn new(limit: usize) -> Arc<WriteAdmission> {
        Arc::new(WriteAdmission {
            limit,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a request of `bytes` more from `peer` (a request with no
    /// peer, from inside the process, always), or refuses it with
    /// `overloaded`. A client with nothing in flight is always admitted,
    /// however large its request.
    pub fn admit(self: &Arc<Self>, peer: Option<Peer>, bytes: usize) -> Result<Admitted, ApiError> {
        let Some(Peer(ip)) = peer.filter(|_| self.limit > 0) else {
            return Ok(Admitted(None));
        };
        let mut in_flight = self.in_flight.lock().expect("admission lock");
        let held = in_flight.entry(ip).or_default();
        if *held > 0 && *held + bytes > self.limit {
            return Err(ApiError::new(
                Code::Overloaded,
                format!(
                    "this client already has {} bytes of submissions in flight (at most {} at once); retry after their receipts",
                    *held, self.limit
                ),
            ));
        }
        *held += bytes;
        Ok(Admitted(Some((self.clone(), ip, bytes))))
    }

    /// Clients with submissions in flight.
    pub fn clients(&self) -> usize {
        self.in_flight.lock().expect("admission lock").len()
    }
}

/// Bytes admitted until this is dropped (the request answered or
/// abandoned).
pub struct Admitted(Option<(Arc<WriteAdmission>, IpAddr, usize)>);

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((admission, ip, bytes)) = self.0.take() {
            let mut in_flight = admission.in_flight.lock().expect("admission lock");
            if let Some(held) = in_flight.get_mut(&ip) {
                *held -= bytes;
                if *held == 0 {
                    in_flight.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> Option<Peer> {
        Some(Peer(IpAddr::from([10, 0, 0, n])))
    }

    #[test]
    fn a_client_is_held_to_its_limit_and_others_are_not() {
        let a = WriteAdmission::new(100);
        let first = a.admit(peer(1), 60).unwrap();
        let second = a.admit(peer(1), 40).unwrap();
        let refused = a.admit(peer(1), 1).err().unwrap();
        assert_eq!(refused.code, Code::Overloaded);
        // Another client, and requests from inside the process, go on.
        let _other = a.admit(peer(2), 100).unwrap();
        let _inside = a.admit(None, 10_000).unwrap();
        drop(first);
        let _third = a.admit(peer(1), 60).unwrap();
        drop(second);
        drop(_third);
        // Nothing in flight: admitted whatever its size, and forgotten after.
        let big = a.admit(peer(1), 1_000).unwrap();
        drop(big);
        assert_eq!(a.clients(), 1);
        assert!(WriteAdmission::new(0).admit(peer(1), 1_000_000).is_ok());
    }
}
