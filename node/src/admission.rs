//! The write route's admission per client: how many bytes of submissions
//! one client address may have in flight (being read, parsed, verified,
//! queued or committed) at once. A request past it waits, before its body
//! is read, until the client's earlier submissions are answered; a client
//! may have [`WAITING_PER_CLIENT`] requests waiting, and one more is
//! answered `overloaded` from its head alone. So one client flooding the
//! node with arrays, honest or garbage-signed, holds at most its share of
//! the parser, the verifier and the writer while others keep being served,
//! and its connections wait (TCP holds its uploads back) rather than
//! retrying as fast as they are refused.
//!
//! Clients are told apart by the address the server loop accepted them
//! from ([`Peer`]); behind a reverse proxy every client shares the proxy's
//! address, so there the proxy should limit per client instead (and the
//! node's limit be raised or set to 0, no limit).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::ApiError;
use ledger::code::Code;

/// The address a request's connection came from, put in the request's
/// extensions by the server loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

/// Bytes of submissions one client may have in flight by default: two
/// 1,000-entry arrays of typical entries, or thousands of single ones.
pub const DEFAULT_CLIENT_WRITES: usize = 1 << 20;

/// Requests one client may have waiting for its bytes in flight to fall.
pub const WAITING_PER_CLIENT: usize = 8;

/// The bytes of submissions in flight per client address.
#[derive(Debug)]
pub struct WriteAdmission {
    limit: usize,
    clients: Mutex<HashMap<IpAddr, Held>>,
    /// Signalled whenever bytes are released.
    released: Notify,
}

/// One client's bytes in flight and requests waiting.
#[derive(Debug, Default)]
struct Held {
    bytes: usize,
    waiting: usize,
}

impl WriteAdmission {
    /// At most `limit` bytes in flight per client; 0 for no limit.
    pub fn new(limit: usize) -> Arc<WriteAdmission> {
        Arc::new(WriteAdmission {
            limit,
            clients: Mutex::new(HashMap::new()),
            released: Notify::new(),
        })
    }

    /// Admits a request of `bytes` more from `peer` (a request with no
    /// peer, from inside the process, at once), once the client's bytes in
    /// flight leave room for it; a client with nothing in flight is
    /// admitted whatever the request's size. Refused with `overloaded`
    /// when the client already has [`WAITING_PER_CLIENT`] requests waiting.
    pub async fn admit(
        self: &Arc<Self>,
        peer: Option<Peer>,
        bytes: usize,
    ) -> Result<Admitted, ApiError> {
        let Some(Peer(ip)) = peer.filter(|_| self.limit > 0) else {
            return Ok(Admitted(None));
        };
        let mut waiting: Option<Waiting> = None;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the check: a release after it wakes us.
            released.as_mut().enable();
            {
                let mut clients = self.clients.lock().expect("admission lock");
                let held = clients.entry(ip).or_default();
                if held.bytes == 0 || held.bytes + bytes <= self.limit {
                    held.bytes += bytes;
                    break;
                }
                if waiting.is_none() {
                    if held.waiting >= WAITING_PER_CLIENT {
                        return Err(ApiError::new(
                            Code::Overloaded,
                            format!(
                                "this client already has {} bytes of submissions in flight (at most {} at once) and {} more requests waiting; retry after their receipts",
                                held.bytes, self.limit, held.waiting
                            ),
                        ));
                    }
                    held.waiting += 1;
                    waiting = Some(Waiting(self.clone(), ip));
                }
            }
            released.await;
        }
        Ok(Admitted(Some((self.clone(), ip, bytes))))
    }

    /// Clients with submissions in flight or waiting.
    pub fn clients(&self) -> usize {
        self.clients.lock().expect("admission lock").len()
    }

    /// Takes back `bytes` in flight or one request `waiting` of `ip`, and
    /// forgets a client with neither.
    fn release(&self, ip: IpAddr, bytes: usize, waiting: usize) {
        let mut clients = self.clients.lock().expect("admission lock");
        if let Some(held) = clients.get_mut(&ip) {
            held.bytes -= bytes;
            held.waiting -= waiting;
            if held.bytes == 0 && held.waiting == 0 {
                clients.remove(&ip);
            }
        }
        drop(clients);
        if bytes > 0 {
            self.released.notify_waiters();
        }
    }
}

/// Bytes admitted until this is dropped (the request answered or
/// abandoned).
pub struct Admitted(Option<(Arc<WriteAdmission>, IpAddr, usize)>);

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((admission, ip, bytes)) = self.0.take() {
            admission.release(ip, bytes, 0);
        }
    }
}

/// A request counted as waiting until this is dropped (admitted, or its
/// connection gone).
struct Waiting(Arc<WriteAdmission>, IpAddr);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.release(self.1, 0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn peer(n: u8) -> Option<Peer> {
        Some(Peer(IpAddr::from([10, 0, 0, n])))
    }

    /// Whether `admit` is still waiting after a moment.
    async fn waits(a: &Arc<WriteAdmission>, peer: Option<Peer>, bytes: usize) -> bool {
        let wait = tokio::time::timeout(Duration::from_millis(50), a.admit(peer, bytes));
        wait.await.is_err()
    }

    #[tokio::test]
    async fn a_client_past_its_limit_waits_and_others_do_not() {
        let a = WriteAdmission::new(100);
        let first = a.admit(peer(1), 60).await.unwrap();
        let second = a.admit(peer(1), 40).await.unwrap();
        assert!(waits(&a, peer(1), 1).await);
        // Another client, and requests from inside the process, go on.
        let other = a.admit(peer(2), 100).await.unwrap();
        let inside = a.admit(None, 10_000).await.unwrap();
        // A waiting request is admitted once its client's bytes fall.
        let waiting = tokio::spawn({
            let a = a.clone();
            async move { a.admit(peer(1), 60).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap().unwrap();
        drop((second, other, inside));
        // Nothing in flight: admitted whatever its size, and forgotten after.
        let big = a.admit(peer(1), 1_000).await.unwrap();
        drop(big);
        assert_eq!(a.clients(), 0);
        assert!(WriteAdmission::new(0)
            .admit(peer(1), 1_000_000)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn past_its_waiting_requests_a_client_is_refused() {
        let a = WriteAdmission::new(100);
        let held = a.admit(peer(1), 100).await.unwrap();
        let waiters: Vec<_> = (0..WAITING_PER_CLIENT)
            .map(|_| {
                let a = a.clone();
                tokio::spawn(async move { a.admit(peer(1), 100).await.map(|_| ()) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = a.admit(peer(1), 1).await.err().unwrap();
        assert_eq!(refused.code, Code::Overloaded);
        // Waiters that give up are no longer counted.
        for w in &waiters {
            w.abort();
        }
        for w in waiters {
            let _ = w.await;
        }
        assert!(waits(&a, peer(1), 1).await);
        drop(held);
        assert_eq!(a.clients(), 0);
    }
}
