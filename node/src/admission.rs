//! The write route's admission per client: how many bytes of submissions
//! one client (a network block, [`Prefix`]) may have in flight (being
//! read, parsed, verified, queued or committed) at once, and how many all
//! clients without standing ([`crate::clients::Standing`]) may have
//! together. A request past either waits, before its body is read, until
//! earlier submissions are answered; a client may have
//! [`WAITING_PER_CLIENT`] requests waiting, the clients without standing
//! [`SHARED_WAITING`] together, and one more is answered `overloaded` from
//! its head alone. So a flood of arrays, honest or garbage-signed, from
//! one block or from many, holds at most its share of the parser, the
//! verifier and the writer while organisations whose entries recently
//! entered the log keep being served, and the flood's connections wait
//! (TCP holds its uploads back) rather than retrying as fast as they are
//! refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::clients::{Client, Prefix};
use crate::error::ApiError;
use ledger::code::Code;

pub use server::Peer;

/// Bytes of submissions one client may have in flight by default: two
/// 1,000-entry arrays of typical entries, or thousands of single ones.
pub const DEFAULT_CLIENT_WRITES: usize = 1 << 20;

/// Requests one client may have waiting for its bytes in flight to fall.
pub const WAITING_PER_CLIENT: usize = 8;

/// The clients without standing may have this many times one client's
/// bytes in flight together.
pub const SHARED_CLIENTS: usize = 8;

/// How long a request refused `overloaded` from its head waits for its
/// answer: a flood's connections then retry a few times a second, not as
/// fast as they are refused.
pub const REFUSAL_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Requests the clients without standing may have waiting together.
pub const SHARED_WAITING: usize = 256;

/// The bytes of submissions in flight per client and for the clients
/// without standing together.
#[derive(Debug)]
pub struct WriteAdmission {
    limit: usize,
    state: Mutex<Held>,
    /// Signalled whenever bytes are released.
    released: Notify,
}

#[derive(Debug, Default)]
struct Held {
    clients: HashMap<Prefix, InFlight>,
    /// What the clients without standing hold together.
    shared: InFlight,
}

/// Bytes in flight and requests waiting.
#[derive(Debug, Default, Clone, Copy)]
struct InFlight {
    bytes: usize,
    waiting: usize,
}

impl InFlight {
    /// Whether `bytes` more fit under `limit` (anything fits when nothing
    /// is in flight).
    fn room(&self, bytes: usize, limit: usize) -> bool {
        self.bytes == 0 || self.bytes + bytes <= limit
    }
}

/// Where a request's bytes are counted.
#[derive(Debug, Clone, Copy)]
struct Account {
    prefix: Prefix,
    /// Also in the shared count (a client without standing).
    shared: bool,
}

impl WriteAdmission {
    /// At most `limit` bytes in flight per client (and
    /// [`SHARED_CLIENTS`] times that for those without standing
    /// together); 0 for no limit.
    pub fn new(limit: usize) -> Arc<WriteAdmission> {
        Arc::new(WriteAdmission {
            limit,
            state: Mutex::new(Held::default()),
            released: Notify::new(),
        })
    }

    /// Admits a request of `bytes` more from `client` (a request with no
    /// client, from inside the process, at once), once the client's bytes
    /// in flight, and without `standing` the shared bytes, leave room for
    /// it. Refused with `overloaded` when the client, or without standing
    /// the clients without it together, already have their most requests
    /// waiting.
    pub async fn admit(
        self: &Arc<Self>,
        client: Client,
        standing: bool,
        bytes: usize,
    ) -> Result<Admitted, ApiError> {
        let Some(prefix) = client.filter(|_| self.limit > 0) else {
            return Ok(Admitted(None));
        };
        let account = Account {
            prefix,
            shared: !standing,
        };
        let shared_limit = self.limit.saturating_mul(SHARED_CLIENTS);
        let mut waiting: Option<Waiting> = None;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the check: a release after it wakes us.
            released.as_mut().enable();
            {
                let mut guard = self.state.lock().expect("admission lock");
                let held = &mut *guard;
                let own = held.clients.entry(prefix).or_default();
                if own.room(bytes, self.limit)
                    && (standing || held.shared.room(bytes, shared_limit))
                {
                    own.bytes += bytes;
                    if account.shared {
                        held.shared.bytes += bytes;
                    }
                    break;
                }
                if waiting.is_none() {
                    if own.waiting >= WAITING_PER_CLIENT {
                        return Err(ApiError::new(
                            Code::Overloaded,
                            format!(
                                "this client ({prefix}) already has {} bytes of submissions in flight (at most {} at once) and {} more requests waiting; retry after their receipts",
                                own.bytes, self.limit, own.waiting
                            ),
                        ));
                    }
                    if account.shared && held.shared.waiting >= SHARED_WAITING {
                        return Err(ApiError::new(
                            Code::Overloaded,
                            format!(
                                "{SHARED_WAITING} submissions from clients without recent entries are waiting already; retry shortly"
                            ),
                        ));
                    }
                    own.waiting += 1;
                    if account.shared {
                        held.shared.waiting += 1;
                    }
                    waiting = Some(Waiting(self.clone(), account));
                }
            }
            released.await;
        }
        Ok(Admitted(Some((self.clone(), account, bytes))))
    }

    /// Clients with submissions in flight or waiting.
    pub fn clients(&self) -> usize {
        self.state.lock().expect("admission lock").clients.len()
    }

    /// Takes back `bytes` in flight or one request `waiting` of `account`,
    /// and forgets a client with neither.
    fn release(&self, account: Account, bytes: usize, waiting: usize) {
        let mut guard = self.state.lock().expect("admission lock");
        let held = &mut *guard;
        if let Some(own) = held.clients.get_mut(&account.prefix) {
            own.bytes -= bytes;
            own.waiting -= waiting;
            if own.bytes == 0 && own.waiting == 0 {
                held.clients.remove(&account.prefix);
            }
        }
        if account.shared {
            held.shared.bytes -= bytes;
            held.shared.waiting -= waiting;
        }
        drop(guard);
        if bytes > 0 {
            self.released.notify_waiters();
        }
    }
}

/// Bytes admitted until this is dropped (the request answered or
/// abandoned).
pub struct Admitted(Option<(Arc<WriteAdmission>, Account, usize)>);

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((admission, account, bytes)) = self.0.take() {
            admission.release(account, bytes, 0);
        }
    }
}

/// A request counted as waiting until this is dropped (admitted, or its
/// connection gone).
struct Waiting(Arc<WriteAdmission>, Account);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.release(self.1, 0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn peer(n: u8) -> Client {
        Some(Prefix::of(std::net::IpAddr::from([10, 0, n, 1])))
    }

    /// Whether `admit` is still waiting after a moment.
    async fn waits(a: &Arc<WriteAdmission>, peer: Client, bytes: usize) -> bool {
        let wait = tokio::time::timeout(Duration::from_millis(50), a.admit(peer, true, bytes));
        wait.await.is_err()
    }

    #[tokio::test]
    async fn a_client_past_its_limit_waits_and_others_do_not() {
        let a = WriteAdmission::new(100);
        let first = a.admit(peer(1), true, 60).await.unwrap();
        let second = a.admit(peer(1), true, 40).await.unwrap();
        assert!(waits(&a, peer(1), 1).await);
        // Another client, and requests from inside the process, go on.
        let other = a.admit(peer(2), true, 100).await.unwrap();
        let inside = a.admit(None, true, 10_000).await.unwrap();
        // A waiting request is admitted once its client's bytes fall.
        let waiting = tokio::spawn({
            let a = a.clone();
            async move { a.admit(peer(1), true, 60).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap().unwrap();
        drop((second, other, inside));
        // Nothing in flight: admitted whatever its size, and forgotten after.
        let big = a.admit(peer(1), true, 1_000).await.unwrap();
        drop(big);
        assert_eq!(a.clients(), 0);
        assert!(WriteAdmission::new(0)
            .admit(peer(1), true, 1_000_000)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn past_its_waiting_requests_a_client_is_refused() {
        let a = WriteAdmission::new(100);
        let held = a.admit(peer(1), true, 100).await.unwrap();
        let waiters: Vec<_> = (0..WAITING_PER_CLIENT)
            .map(|_| {
                let a = a.clone();
                tokio::spawn(async move { a.admit(peer(1), true, 100).await.map(|_| ()) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = a.admit(peer(1), true, 1).await.err().unwrap();
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

    #[tokio::test]
    async fn clients_without_standing_share_one_limit_and_others_pass_it() {
        let a = WriteAdmission::new(100);
        // Blocks without standing fill the shared bytes, one client each.
        let held: Vec<_> = admit_all(&a, (0..SHARED_CLIENTS as u8).collect(), 100).await;
        // One block more waits although its own bytes are free...
        let wait = tokio::time::timeout(Duration::from_millis(50), a.admit(peer(100), false, 10));
        assert!(wait.await.is_err());
        // ... and a client with standing does not.
        let standing = a.admit(peer(200), true, 100).await.unwrap();
        // Once a shared request is answered the waiting block goes in.
        let waiting = tokio::spawn({
            let a = a.clone();
            async move { a.admit(peer(100), false, 10).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(held);
        waiting.await.unwrap().unwrap();
        drop(standing);
        assert_eq!(a.clients(), 0);
        let shared = a.state.lock().unwrap().shared;
        assert_eq!((shared.bytes, shared.waiting), (0, 0));
    }

    async fn admit_all(a: &Arc<WriteAdmission>, blocks: Vec<u8>, bytes: usize) -> Vec<Admitted> {
        let mut out = Vec::new();
        for b in blocks {
            out.push(a.admit(peer(b), false, bytes).await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn past_the_shared_waiting_requests_the_others_are_refused() {
        let a = WriteAdmission::new(100);
        let _full = a.admit(peer(0), false, 100 * SHARED_CLIENTS).await.unwrap();
        let waiters: Vec<_> = (0..SHARED_WAITING)
            .map(|i| {
                let a = a.clone();
                let block = Some(Prefix::of(std::net::IpAddr::from([
                    10,
                    1 + (i / 250) as u8,
                    (i % 250) as u8,
                    1,
                ])));
                tokio::spawn(async move { a.admit(block, false, 10).await.map(|_| ()) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = a.admit(peer(99), false, 1).await.err().unwrap();
        assert_eq!(refused.code, Code::Overloaded);
        assert!(a.admit(peer(98), true, 1).await.is_ok());
        for w in waiters {
            w.abort();
        }
    }
}
