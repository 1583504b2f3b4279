//! The CPU work of submitted arrays (parsing, schema, signatures), shared
//! fairly between clients: each client (a network block,
//! [`crate::clients::Prefix`]) has its own queue of tasks, and the pool's
//! threads take one task from each client with work in turn. Clients with
//! standing (entries recently in the log, [`crate::clients::Standing`])
//! take their turns in a tier of their own, which gets
//! [`STANDING_TURNS`] of every `STANDING_TURNS + 1` tasks while both tiers
//! have work: a flood from any number of blocks shares the rest. An array is cut into tasks of [`ledger::rules::CHECK_CHUNK`]
//! entries, so a client sending 1,000-entry arrays of garbage gets the
//! same share of the verifier as one sending 100 honest entries, and the
//! honest array waits for at most one task per thread (a chunk, or the
//! parsing of one body) rather than for the flood's arrays ahead of it
//! (rayon's pool, used before, runs jobs in arrival order).
//!
//! [`admission`](crate::admission) bounds what a client may have queued.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use crate::clients::Client;

/// Of every `STANDING_TURNS + 1` tasks run while both tiers have work,
/// this many are those of clients with standing.
pub const STANDING_TURNS: u32 = 3;

type Task = Box<dyn FnOnce() + Send>;

/// Threads that run clients' tasks in turn; they end when this is dropped
/// (after the tasks already queued).
pub struct FairPool {
    inner: Arc<Inner>,
}

struct Inner {
    queues: Mutex<Queues>,
    ready: Condvar,
}

#[derive(Default)]
struct Queues {
    /// Each client's tier (0: with standing, 1: the others) and tasks.
    tasks: HashMap<Client, (usize, VecDeque<Task>)>,
    /// Clients with queued tasks, per tier, in the order they take their
    /// turns.
    turns: [VecDeque<Client>; 2],
    /// Tasks of the first tier run since the last of the second.
    streak: u32,
    closed: bool,
}

impl Queues {
    /// The tier whose turn it is, if any has work.
    fn tier(&mut self) -> Option<usize> {
        let (standing, others) = (!self.turns[0].is_empty(), !self.turns[1].is_empty());
        let tier = if standing && (!others || self.streak < STANDING_TURNS) {
            self.streak += 1;
            0
        } else if others {
            self.streak = 0;
            1
        } else {
            return None;
        };
        Some(tier)
    }
}

/// The task's result was lost: the task panicked.
#[derive(Debug, thiserror::Error)]
#[error("a check task ended without a result")]
pub struct Lost;

impl FairPool {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> FairPool {
        let inner = Arc::new(Inner {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
        });
        for i in 0..threads.max(1) {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(format!("aidledger-check-{i}"))
                .spawn(move || {
                    lower_priority();
                    inner.work()
                })
                .expect("spawn a check thread");
        }
        FairPool { inner }
    }

    /// Queues `task` for `client` (in the first tier if it has `standing`)
    /// now and gives its result when it has run; if the result is dropped
    /// first, the task does not run.
    pub fn run<T: Send + 'static>(
        &self,
        client: Client,
        standing: bool,
        task: impl FnOnce() -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, Lost>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut guard = self.inner.queues.lock().expect("pool lock");
            let q = &mut *guard;
            let (tier, queue) = q
                .tasks
                .entry(client)
                .or_insert_with(|| (usize::from(!standing), VecDeque::new()));
            if queue.is_empty() {
                q.turns[*tier].push_back(client);
            }
            queue.push_back(Box::new(move || {
                // A request abandoned meanwhile (its connection closed, its
                // time out) has nobody to answer: its work is skipped.
                if !tx.is_closed() {
                    let _ = tx.send(task());
                }
            }));
        }
        self.inner.ready.notify_one();
        async move { rx.await.map_err(|_| Lost) }
    }
}

/// Checking is what a flood makes the node do: the pool's threads run
/// below the writer, the HTTP threads and the receipts (Linux's nice
/// value is per thread), so an honest client's entries, once checked, are
/// not slowed by the checks queued behind them. With nothing else to run
/// the pool has the cores as before.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!("check threads keep their priority: {e}");
    }
}

impl Drop for FairPool {
    fn drop(&mut self) {
        self.inner.queues.lock().expect("pool lock").closed = true;
        self.inner.ready.notify_all();
    }
}

impl Inner {
    fn work(&self) {
        while let Some(task) = self.next() {
            // A panicking task loses its own result only.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
        }
    }

    /// The next client's next task; `None` once closed and drained.
    fn next(&self) -> Option<Task> {
        let mut q = self.queues.lock().expect("pool lock");
        loop {
            if let Some(tier) = q.tier() {
                let client = q.turns[tier].pop_front().expect("a tier with work");
                let (_, queue) = q
                    .tasks
                    .get_mut(&client)
                    .expect("a client in turn has tasks");
                let task = queue.pop_front().expect("a client in turn has tasks");
                if queue.is_empty() {
                    q.tasks.remove(&client);
                } else {
                    q.turns[tier].push_back(client);
                }
                return Some(task);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).expect("pool lock");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn client(n: u8) -> Client {
        Some(crate::clients::Prefix::of(std::net::IpAddr::from([
            10, 0, n, 1,
        ])))
    }

    #[tokio::test]
    async fn clients_take_turns_whatever_they_queued() {
        let pool = FairPool::new(1);
        // Hold the only thread while the queues fill.
        let (hold, held) = mpsc::channel::<()>();
        let blocker = pool.run(client(9), false, move || held.recv().unwrap());
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut done = Vec::new();
        for (who, n) in [(1, 5), (2, 2), (3, 1)] {
            for i in 0..n {
                let order = order.clone();
                done.push(pool.run(client(who), false, move || {
                    order.lock().unwrap().push((who, i))
                }));
            }
        }
        hold.send(()).unwrap();
        blocker.await.unwrap();
        for d in done {
            d.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [
                (1, 0),
                (2, 0),
                (3, 0),
                (1, 1),
                (2, 1),
                (1, 2),
                (1, 3),
                (1, 4)
            ]
        );
    }

    #[tokio::test]
    async fn clients_with_standing_take_most_turns_whatever_the_others_number() {
        let pool = FairPool::new(1);
        let (hold, held) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let blocker = pool.run(client(250), false, move || {
            started.send(()).unwrap();
            held.recv().unwrap()
        });
        // The thread holds the blocker before anything else is queued.
        running.recv().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut done = Vec::new();
        // A hundred blocks flooding, one honest client with standing.
        let task = |standing: bool| {
            let order = order.clone();
            move || order.lock().unwrap().push(standing)
        };
        for who in 0..100u8 {
            done.push(pool.run(client(who), false, task(false)));
        }
        for _ in 0..30 {
            done.push(pool.run(client(200), true, task(true)));
        }
        hold.send(()).unwrap();
        blocker.await.unwrap();
        for d in done {
            d.await.unwrap();
        }
        let order = order.lock().unwrap();
        // The honest client's 30 tasks ran within the first 40, three of
        // every four turns.
        let first: Vec<bool> = order[..40].to_vec();
        assert_eq!(first.iter().filter(|s| **s).count(), 30, "{first:?}");
        assert_eq!(
            &first[..8],
            [true, true, true, false, true, true, true, false]
        );
    }

    #[tokio::test]
    async fn the_tasks_of_an_abandoned_request_are_skipped() {
        let pool = FairPool::new(1);
        let (hold, held) = mpsc::channel::<()>();
        let blocker = pool.run(None, true, move || held.recv().unwrap());
        let ran = Arc::new(Mutex::new(false));
        let abandoned = pool.run(client(1), false, {
            let ran = ran.clone();
            move || *ran.lock().unwrap() = true
        });
        drop(abandoned);
        hold.send(()).unwrap();
        blocker.await.unwrap();
        pool.run(client(1), false, || ()).await.unwrap();
        assert!(!*ran.lock().unwrap());
    }

    #[tokio::test]
    async fn a_panicking_task_loses_only_its_result() {
        let pool = FairPool::new(1);
        let lost = pool.run(None, true, || panic!("in a task"));
        assert!(lost.await.is_err());
        assert_eq!(pool.run(None, true, || 7).await.unwrap(), 7);
    }
}
