//! The writer's lock (SPEC §8) against a real three-member etcd cluster on
//! loopback: one writer at a time, the checkpoint replaced only by the
//! holder and only over the one it last wrote, the lock passing on when a
//! lease lapses, writes going on with one member down and stopping with
//! two, and coming back with them.

use std::time::Duration;

use node::lock::{Campaign, Etcd, LockUrl};
use testkit::etcd::Etcd as Cluster;

const TTL: Duration = Duration::from_secs(2);

fn client(cluster: &Cluster, prefix: &str) -> Etcd {
    Etcd::new(
        LockUrl::parse(&cluster.url(prefix)).unwrap(),
        Duration::from_secs(2),
    )
}

#[test]
fn one_writer_at_a_time_and_never_two_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path());
    let a = client(&cluster, "aidledger/test");
    let b = client(&cluster, "aidledger/test");

    // A wins; B finds the lock held and by whom.
    let Campaign::Won(lease_a) = a.campaign("node-a", TTL).unwrap() else {
        panic!("the first campaign wins");
    };
    assert_eq!(
        b.campaign("node-b", TTL).unwrap(),
        Campaign::Held("node-a".into())
    );
    assert_eq!(a.holder().unwrap().as_deref(), Some("node-a"));
    assert!(a.keep_alive(lease_a).unwrap());

    // The checkpoint: created once, then replaced only over the one A last
    // wrote; B, not holding the lock, cannot replace it even knowing it.
    assert!(a.replace_checkpoint(lease_a, None, "cp 1\n").unwrap());
    assert!(!a.replace_checkpoint(lease_a, None, "cp 1 again\n").unwrap());
    assert!(a
        .replace_checkpoint(lease_a, Some("cp 1\n"), "cp 2\n")
        .unwrap());
    assert!(!a
        .replace_checkpoint(lease_a, Some("cp 1\n"), "cp 3\n")
        .unwrap());
    let Campaign::Held(_) = b.campaign("node-b", TTL).unwrap() else {
        panic!("A still holds it");
    };
    assert_eq!(a.checkpoint().unwrap().as_deref(), Some("cp 2\n"));

    // One member down: the lock works on.
    cluster.kill(0);
    assert!(a.keep_alive(lease_a).unwrap());
    assert!(a
        .replace_checkpoint(lease_a, Some("cp 2\n"), "cp 3\n")
        .unwrap());

    // Two down: no quorum, no yes (an error: the writer acknowledges
    // nothing). The request may still be applied once a quorum returns
    // (etcd keeps the proposal), so its outcome is settled by reading.
    cluster.kill(1);
    assert!(a
        .replace_checkpoint(lease_a, Some("cp 3\n"), "cp 4\n")
        .is_err());
    assert!(a.checkpoint().is_err(), "no quorum, no read either");
    cluster.restart(1);
    let now = a.checkpoint().unwrap();
    assert!(
        matches!(now.as_deref(), Some("cp 3\n") | Some("cp 4\n")),
        "{now:?}"
    );
    // Settled: written (then or now), unless the lease lapsed while there
    // was no quorum; then A lost the lock and must not write.
    if a.keep_alive(lease_a).unwrap() {
        assert!(a
            .settle_checkpoint(lease_a, Some("cp 3\n"), "cp 4\n")
            .unwrap());
        assert_eq!(a.checkpoint().unwrap().as_deref(), Some("cp 4\n"));
    } else if now.as_deref() == Some("cp 3\n") {
        assert!(!a
            .settle_checkpoint(lease_a, Some("cp 3\n"), "cp 4\n")
            .unwrap());
    }
    cluster.restart(0);
}

#[test]
fn a_lapsed_lease_passes_the_lock_on_and_the_old_writer_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path());
    let a = client(&cluster, "aidledger/lapse");
    let b = client(&cluster, "aidledger/lapse");
    let Campaign::Won(lease_a) = a.campaign("node-a", TTL).unwrap() else {
        panic!("the first campaign wins");
    };
    assert!(a.replace_checkpoint(lease_a, None, "cp 1\n").unwrap());
    // A stops refreshing (paused, or its machine died): within the TTL and
    // a little, B wins, and continues from A's last checkpoint.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lease_b = loop {
        if let Campaign::Won(lease) = b.campaign("node-b", TTL).unwrap() {
            break lease;
        }
        assert!(std::time::Instant::now() < deadline, "B never won");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(b.checkpoint().unwrap().as_deref(), Some("cp 1\n"));
    assert!(b
        .replace_checkpoint(lease_b, Some("cp 1\n"), "cp 2 by b\n")
        .unwrap());
    // A comes back: its lease is gone, and its write is refused even over
    // the checkpoint it last wrote or the one it now reads.
    assert!(!a.keep_alive(lease_a).unwrap());
    assert!(!a
        .replace_checkpoint(lease_a, Some("cp 1\n"), "cp 2 by a\n")
        .unwrap());
    assert!(!a
        .replace_checkpoint(lease_a, Some("cp 2 by b\n"), "cp 3 by a\n")
        .unwrap());
    assert_eq!(a.checkpoint().unwrap().as_deref(), Some("cp 2 by b\n"));
    // A clean stop resigns at once.
    b.resign(lease_b).unwrap();
    assert_eq!(a.holder().unwrap(), None);
}
