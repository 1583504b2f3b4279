//! A three-member etcd cluster on loopback (Debian's `etcd-server`, which
//! `scripts/test.sh` installs), for the tests of the writer's lock: each
//! member a real `etcd` process with its own data directory and ports.
//! Members can be SIGKILLed and started again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_addr, Killed};

/// The etcd binary: `$ETCD`, else `etcd` on the PATH.
pub fn binary() -> PathBuf {
    std::env::var_os("ETCD").map_or_else(|| PathBuf::from("etcd"), PathBuf::from)
}

struct Member {
    name: String,
    dir: PathBuf,
    client: SocketAddr,
    peer: SocketAddr,
    process: Option<Killed>,
}

/// A running cluster.
pub struct Etcd {
    members: Vec<Member>,
    cluster: String,
}

impl Etcd {
    /// Starts three members under `dir` and waits until the cluster has a
    /// leader.
    pub fn start(dir: &Path) -> Etcd {
        let members: Vec<Member> = (0..3)
            .map(|i| Member {
                name: format!("m{i}"),
                dir: dir.join(format!("m{i}")),
                client: free_addr(),
                peer: free_addr(),
                process: None,
            })
            .collect();
        let cluster = members
            .iter()
            .map(|m| format!("{}=http://{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut etcd = Etcd { members, cluster };
        for i in 0..3 {
            etcd.spawn(i);
        }
        etcd.wait_healthy(Duration::from_secs(30));
        etcd
    }

    fn spawn(&mut self, i: usize) {
        let m = &self.members[i];
        let state = if m.dir.exists() { "existing" } else { "new" };
        let child = Command::new(binary())
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.dir)
            .args(["--listen-client-urls", &format!("http://{}", m.client)])
            .args(["--advertise-client-urls", &format!("http://{}", m.client)])
            .args(["--listen-peer-urls", &format!("http://{}", m.peer)])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://{}", m.peer),
            ])
            .args(["--initial-cluster", &self.cluster])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", "aidledger-test"])
            // Quick elections on loopback.
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {}: {e} (scripts/test.sh installs etcd-server)",
                    binary().display()
                )
            });
        self.members[i].process = Some(Killed(child));
    }

    /// `etcd://` URL of the cluster's members with `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        let hosts: Vec<String> = self.members.iter().map(|m| m.client.to_string()).collect();
        format!("etcd://{}/{prefix}", hosts.join(","))
    }

    /// SIGKILLs member `i`.
    pub fn kill(&mut self, i: usize) {
        self.members[i].process = None;
    }

    /// Starts member `i` again (on its data) and waits until a member
    /// answers healthy.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_healthy(Duration::from_secs(30));
    }

    /// Waits until some running member says the cluster is healthy (it
    /// has a leader and a quorum).
    pub fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let healthy = self
                .members
                .iter()
                .filter(|m| m.process.is_some())
                .any(|m| {
                    crate::try_http(m.client, "GET", "/health", b"").is_ok_and(|a| {
                        a.status == 200 && String::from_utf8_lossy(&a.body).contains("\"true\"")
                    })
                });
            if healthy {
                return;
            }
            assert!(Instant::now() < deadline, "the etcd cluster is not healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
