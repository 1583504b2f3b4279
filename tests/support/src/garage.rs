//! A three-node Garage cluster on loopback (replication factor 3), for the
//! tests of replication to object storage: each node a real `garage server`
//! process with its own directories and ports, joined into one layout, with
//! a bucket and a key made through Garage's own CLI. Nodes can be SIGKILLed
//! and started again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_addr, Killed};

/// The Garage binary: `$GARAGE`, else the one `scripts/garage.sh` installs.
pub fn binary() -> PathBuf {
    if let Some(g) = std::env::var_os("GARAGE") {
        return PathBuf::from(g);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let bin = Path::new(&home).join(".cache/aidledger-tools/garage/bin/garage");
    assert!(
        bin.exists(),
        "{} is missing: scripts/garage.sh installs it (scripts/test.sh runs it)",
        bin.display()
    );
    bin
}

struct GarageNode {
    config: PathBuf,
    process: Option<Killed>,
}

/// A running cluster, its bucket and a key that may read and write it.
pub struct Garage {
    nodes: Vec<GarageNode>,
    /// S3 endpoints, one per node (`http://127.0.0.1:PORT`).
    pub endpoints: Vec<String>,
    /// The bucket made for the test.
    pub bucket: String,
    /// The key's id.
    pub key_id: String,
    /// The key's secret.
    pub secret: String,
}

fn run(config: &Path, args: &[&str]) -> String {
    let out = Command::new(binary())
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("garage runs");
    assert!(
        out.status.success(),
        "garage {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a CLI command until it succeeds (the cluster is still forming), up to 30 s.
fn run_until_ok(config: &Path, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(binary())
            .arg("-c")
            .arg(config)
            .args(args)
            .output()
            .expect("garage runs");
        if out.status.success() {
            return String::from_utf8(out.stdout).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "garage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn value_after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        .trim()
}

impl Garage {
    /// Starts three nodes under `dir`, joins them, applies a layout with
    /// replication factor 3, makes bucket `aidledger` and a key for it.
    pub fn start(dir: &Path) -> Garage {
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
            .collect();
        let mut nodes = Vec::new();
        let mut endpoints = Vec::new();
        let mut admins = Vec::new();
        for i in 0..3 {
            let home = dir.join(format!("garage-{i}"));
            std::fs::create_dir_all(&home).unwrap();
            let (rpc, s3, admin) = (free_addr(), free_addr(), free_addr());
            let config = home.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = {meta:?}\ndata_dir = {data:?}\ndb_engine = \"sqlite\"\n\
                     replication_factor = 3\nrpc_bind_addr = \"{rpc}\"\nrpc_public_addr = \"{rpc}\"\n\
                     rpc_secret = \"{secret}\"\n\n[s3_api]\ns3_region = \"garage\"\n\
                     api_bind_addr = \"{s3}\"\nroot_domain = \".s3.garage.localhost\"\n\n\
                     [admin]\napi_bind_addr = \"{admin}\"\nadmin_token = \"test-admin-token\"\n",
                    meta = home.join("meta"),
                    data = home.join("data"),
                ),
            )
            .unwrap();
            endpoints.push(format!("http://{s3}"));
            admins.push(admin);
            let mut node = GarageNode {
                config,
                process: None,
            };
            node.spawn();
            nodes.push(node);
        }
        let first = nodes[0].config.clone();
        let ids: Vec<String> = nodes
            .iter()
            .map(|n| {
                run_until_ok(&n.config, &["node", "id", "-q"])
                    .trim()
                    .to_owned()
            })
            .collect();
        for id in &ids[1..] {
            run_until_ok(&first, &["node", "connect", id]);
        }
        for id in &ids {
            let short = id.split('@').next().unwrap();
            run_until_ok(
                &first,
                &["layout", "assign", "-z", "dc1", "-c", "1GB", short],
            );
        }
        run_until_ok(&first, &["layout", "apply", "--version", "1"]);
        run_until_ok(&first, &["bucket", "create", "aidledger"]);
        let key = run_until_ok(&first, &["key", "create", "aidledger-test"]);
        let key_id = value_after(&key, "Key ID:").to_owned();
        let secret = value_after(&key, "Secret key:").to_owned();
        run(
            &first,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                "--owner",
                "aidledger",
                "--key",
                "aidledger-test",
            ],
        );
        Garage {
            nodes,
            endpoints,
            bucket: "aidledger".into(),
            key_id,
            secret,
        }
    }

    /// The environment a client of the first node's S3 API needs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoints[0].clone()),
            ("AWS_REGION", "garage".into()),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].process = None;
    }

    /// Starts node `i` again on its directories and ports.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].spawn();
    }

    /// The first node's S3 address.
    pub fn s3_addr(&self) -> SocketAddr {
        self.endpoints[0]
            .trim_start_matches("http://")
            .parse()
            .unwrap()
    }
}

impl GarageNode {
    fn spawn(&mut self) {
        let child: Child = Command::new(binary())
            .arg("-c")
            .arg(&self.config)
            .arg("server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("garage server starts");
        self.process = Some(Killed(child));
    }
}
