//! Helpers of the CLI's end-to-end tests: the real `aidledger-node` binary
//! on a free loopback port, and the real `aidledger` binary driven as a
//! user would.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ed25519_dalek::SigningKey;
use ledger::entry::SignedEntry;
use serde_json::{json, Value};

pub const BUREAU: &str = "CN-USCI-11320000MB0000019A";
pub const CHARITY: &str = "CN-USCI-53440300MJ0000018R";
pub const ORIGIN: &str = "test.example/aid";

/// The node binary, built beside `aidledger` (`cargo build --release --workspace`).
pub fn node_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name("aidledger-node");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace's binaries first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

pub use testkit::free_addr;

/// A running node; killed when dropped.
pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
    pub url: String,
}

impl Node {
    pub fn start(data: &Path, addr: SocketAddr) -> Node {
        Node::start_bin(&node_bin(), data, addr)
    }

    /// As [`Node::start`], with the node binary at `bin`.
    pub fn start_bin(bin: &Path, data: &Path, addr: SocketAddr) -> Node {
        let child = testkit::spawn_listening(
            Command::new(bin)
                .args([
                    "serve",
                    "--data",
                    data.to_str().unwrap(),
                    "--listen",
                    &addr.to_string(),
                    "--origin",
                    ORIGIN,
                ])
                .stderr(Stdio::null()),
        );
        Node {
            child,
            addr,
            url: format!("http://{addr}"),
        }
    }

    /// Kills the node (as a crash or an operator would).
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn get(&self, path: &str) -> Value {
        let (_, body) = testkit::http_get(self.addr, path);
        serde_json::from_slice(&body).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of `aidledger` printed and its exit status.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `aidledger` binary, in English, with no config file of the user's.
pub fn aidledger() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger"));
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .env(
            "AIDLEDGER_CONFIG",
            "/nonexistent/aidledger-test/config.toml",
        );
    c
}

/// Runs `aidledger args…` with optional stdin, in English, with no config
/// file of the user's.
pub fn cli<S: AsRef<str>>(args: &[S], stdin: Option<&[u8]>) -> Out {
    cli_env(args, stdin, &[])
}

/// As [`cli`], with `env` set on top (e.g. `LANG`).
pub fn cli_env<S: AsRef<str>>(args: &[S], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Out {
    let mut child = aidledger()
        .args(args.iter().map(AsRef::as_ref))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        // A command that fails before it reads its input may be gone already.
        if let Err(e) = input.write_all(b) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Runs `aidledger` and asserts the exit status.
pub fn ok<S: AsRef<str>>(args: &[S], stdin: Option<&[u8]>) -> Out {
    let out = cli(args, stdin);
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    assert_eq!(
        out.code, 0,
        "aidledger {args:?}\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

/// `aidledger keygen --out path`: the public key, as written to `path.pub`.
pub fn keygen(path: &Path) -> String {
    ok(&["keygen", "--out", path.to_str().unwrap()], None);
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    std::fs::read_to_string(public).unwrap().trim().to_owned()
}

/// A ledger on a running node, set up with the CLI: a bureau (registrar),
/// a charity with a medical fund holding 100,000 yuan.
pub struct World {
    pub dir: tempfile::TempDir,
    pub node: Node,
    pub vkey: String,
    pub bureau_key: PathBuf,
    pub charity_key: PathBuf,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::start(&dir.path().join("node"), free_addr());
        let vkey = node.get("/v1/log")["vkey"].as_str().unwrap().to_string();
        let world = World {
            bureau_key: dir.path().join("bureau.key"),
            charity_key: dir.path().join("charity.key"),
            dir,
            node,
            vkey,
        };
        let bureau_pub = keygen(&world.bureau_key);
        let charity_pub = keygen(&world.charity_key);
        let entries = [
            world.sign(&world.bureau_key, BUREAU, "org.register", json!({
                "org": {"id": BUREAU, "name": "江苏省民政厅", "type": "government", "region": "320000"},
                "keys": [{"key": bureau_pub.trim(), "roles": ["registrar", "admin"]}]})),
            world.sign(&world.bureau_key, BUREAU, "org.register", json!({
                "org": {"id": CHARITY, "name": "慈善总会", "type": "charity", "region": "321181"},
                "keys": [{"key": charity_pub.trim(), "roles": ["fund", "disburse", "credit"]}]})),
            world.sign(&world.charity_key, CHARITY, "fund.open", json!({
                "fund": "MED-2026", "title": "大病救助", "category": "medical", "source": "donation",
                "region": "321181", "currency": "CNY", "budget": 50_000_000, "start": "2026-01-01", "end": "2026-12-31"})),
            world.sign(&world.charity_key, CHARITY, "fund.receive", json!({
                "fund": "MED-2026", "amount": 10_000_000, "from": "年度募捐", "date": "2026-01-05"})),
        ];
        world.submit(&entries.join("\n"));
        world
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// `aidledger sign`: the signed entry, compact.
    pub fn sign(&self, key: &Path, issuer: &str, kind: &str, body: Value) -> String {
        let out = ok(
            &[
                "sign",
                "--key",
                key.to_str().unwrap(),
                "--issuer",
                issuer,
                "--kind",
                kind,
                "--body",
                "-",
            ],
            Some(body.to_string().as_bytes()),
        );
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v.to_string()
    }

    /// `aidledger submit` of NDJSON: the verified receipts.
    pub fn submit(&self, ndjson: &str) -> Vec<Value> {
        let out = ok(
            &[
                "submit",
                "--node",
                &self.node.url,
                "--vkey",
                &self.vkey,
                "-",
            ],
            Some(ndjson.as_bytes()),
        );
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `aidledger import` arguments for `file` as the charity's
    /// disbursements, with `extra` options.
    pub fn import_args(&self, file: &str, extra: &[&str]) -> Vec<String> {
        let key = self.charity_key.to_str().unwrap();
        let mut args = vec![
            "import",
            "--node",
            &self.node.url,
            "--vkey",
            &self.vkey,
            "--key",
            key,
            "--issuer",
            CHARITY,
            "--kind",
            "disbursement",
        ];
        args.extend(extra);
        args.push(file);
        args.into_iter().map(str::to_string).collect()
    }

    /// `aidledger verify --node` of this world's node, with `extra` options.
    pub fn verify(&self, extra: &[&str]) -> Out {
        let mut args = vec!["verify", "--node", &self.node.url, "--vkey", &self.vkey];
        args.extend(extra);
        cli(&args, None)
    }

    /// A pseudonym service (SPEC §6.3) for this world's ledger: rules
    /// version 2 activated if it is not, the key of a service made here
    /// recorded by the registrar, and the service running with its default
    /// quota (stopped when dropped).
    pub fn pseudonym_service(&self) -> PseudonymService {
        self.pseudonym_service_with(None)
    }

    /// As [`World::pseudonym_service`], with `quota` evaluations a day.
    pub fn pseudonym_service_with(&self, quota: Option<u64>) -> PseudonymService {
        let dir = self.dir.path().join("pseudonym-service");
        let init = ok(&["pseudonym", "init", "--dir", dir.to_str().unwrap()], None);
        let public = init.stdout.lines().last().unwrap().trim().to_owned();
        let addr = free_addr();
        let url = format!("http://{addr}");
        let signer = [
            "--node",
            &self.node.url,
            "--vkey",
            &self.vkey,
            "--key",
            self.bureau_key.to_str().unwrap(),
            "--issuer",
            BUREAU,
        ];
        if self.node.get("/v1/log")["rules"]["version"].as_u64() < Some(2) {
            let mut args = vec!["rules", "activate", "--version", "2", "--note", "第2版规则"];
            args.extend(signer);
            ok(&args, None);
        }
        let mut args = vec![
            "rules",
            "pseudonym-key",
            "--public",
            &public,
            "--service",
            &url,
        ];
        args.extend(signer);
        ok(&args, None);
        PseudonymService {
            _process: serve_pseudonyms(&dir, &self.node.url, addr, quota),
            url,
            public,
        }
    }

    /// The pseudonyms of `ids` from the world's pseudonym service, asked as
    /// the charity, in `domain` (`bnf` or `vol`).
    pub fn pseudonyms_of(&self, domain: &str, ids: &[&str]) -> Vec<String> {
        let mut args = vec![
            "pseudonym",
            "of",
            "--node",
            &self.node.url,
            "--key",
            self.charity_key.to_str().unwrap(),
            "--issuer",
            CHARITY,
            "--domain",
            domain,
        ];
        args.extend(ids);
        ok(&args, None).stdout.lines().map(str::to_owned).collect()
    }

    pub fn size(&self) -> u64 {
        self.node.get("/v1/log")["size"].as_u64().unwrap()
    }
}

/// A witness in `dir` named `name` that trusts the log `origin` with key
/// `log_vkey` (`aidledger witness init` and `add-log`); returns its vkey.
/// A running pseudonym service of a world's ledger; stopped when dropped.
pub struct PseudonymService {
    /// Its base URL, as the ledger records it.
    pub url: String,
    /// Its public key, 64 hex.
    pub public: String,
    _process: testkit::Killed,
}

/// `aidledger pseudonym serve` of `dir` for the node at `node`, on `addr`,
/// with `quota` evaluations a day (the service's default if `None`), once it
/// listens; stopped when dropped.
pub fn serve_pseudonyms(
    dir: &Path,
    node: &str,
    addr: SocketAddr,
    quota: Option<u64>,
) -> testkit::Killed {
    let mut command = aidledger();
    command
        .args(["pseudonym", "serve", "--dir", dir.to_str().unwrap()])
        .args(["--node", node, "--listen", &addr.to_string()]);
    if let Some(quota) = quota {
        command.args(["--quota", &quota.to_string()]);
    }
    testkit::Killed(testkit::spawn_listening(&mut command))
}

pub fn new_witness(dir: &Path, name: &str, origin: &str, log_vkey: &str) -> String {
    let d = dir.to_str().unwrap();
    ok(&["witness", "init", "--name", name, "--dir", d], None);
    let vkey = std::fs::read_to_string(dir.join("witness.vkey"))
        .unwrap()
        .trim()
        .to_owned();
    ok(
        &[
            "witness", "add-log", "--dir", d, "--origin", origin, "--vkey", log_vkey,
        ],
        None,
    );
    vkey
}

/// `aidledger witness serve` for `dir` on `addr`, once it listens.
pub fn serve_witness(dir: &Path, addr: SocketAddr) -> testkit::Killed {
    testkit::Killed(testkit::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_aidledger"))
            .args([
                "witness",
                "serve",
                "--dir",
                dir.to_str().unwrap(),
                "--listen",
            ])
            .arg(addr.to_string())
            .stderr(Stdio::null()),
    ))
}

pub fn sign(key: &SigningKey, issuer: &str, kind: &str, nonce: &str, body: Value) -> SignedEntry {
    SignedEntry::create(
        key,
        issuer,
        kind.parse().expect("a kind"),
        nonce,
        "2026-11-21T08:30:00Z",
        body,
    )
    .unwrap()
}

/// The setup every ledger here starts with: a registrar, a charity, a fund
/// with money.
pub fn setup(registrar: &SigningKey, charity: &SigningKey) -> Vec<SignedEntry> {
    let hex = |k: &SigningKey| hex::encode(k.verifying_key().to_bytes());
    vec![
        sign(
            registrar,
            BUREAU,
            "org.register",
            "g",
            json!({
            "org": {"id": BUREAU, "name": "民政厅", "type": "government", "region": "320000"},
            "keys": [{"key": hex(registrar), "roles": ["registrar", "admin"]}]}),
        ),
        sign(
            registrar,
            BUREAU,
            "org.register",
            "r1",
            json!({
            "org": {"id": CHARITY, "name": "慈善会", "type": "charity", "region": "321181"},
            "keys": [{"key": hex(charity), "roles": ["fund", "disburse", "credit"]}]}),
        ),
        sign(
            charity,
            CHARITY,
            "fund.open",
            "f",
            json!({"fund": "F", "title": "大病救助", "category": "medical",
            "source": "donation", "region": "321181", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31"}),
        ),
        sign(
            charity,
            CHARITY,
            "fund.receive",
            "r",
            json!({"fund": "F", "amount": 9_000_000_000_000_000u64, "from": "募捐", "date": "2026-01-02"}),
        ),
    ]
}

/// Disbursements, with a credit award every tenth entry.
pub fn activity(charity: &SigningKey, i: u64) -> SignedEntry {
    if i % 10 == 9 {
        return sign(
            charity,
            CHARITY,
            "credit.award",
            &format!("c{i}"),
            json!({
            "holder": format!("vol_{:064x}", i % 5000), "points": 10, "reason": "志愿服务"}),
        );
    }
    let causes = ["illness", "education", "housing", "elderly"];
    sign(
        charity,
        CHARITY,
        "disbursement",
        &format!("d{i}"),
        json!({
        "fund": "F", "beneficiary": format!("bnf_{:064x}", i), "tier": "assisted",
        "cause": causes[(i % 4) as usize], "amount": 10_000 + i % 50_000, "method": "cash",
        "region": "321181", "date": format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28)}),
    )
}

/// Under rules version 2 (after [`setup`], the activation and a monitor's
/// key, `offset` entries in all): [`activity`], but in each hundred one
/// household put under monitoring (the family the next disbursement
/// pays), one visit of it and one recovery of 1 yuan against the
/// disbursement just before.
pub fn activity_v2(charity: &SigningKey, monitor: &SigningKey, offset: u64, i: u64) -> SignedEntry {
    let family = |i: u64| format!("bnf_{i:064x}");
    match i % 100 {
        50 => sign(
            monitor,
            BUREAU,
            "household.monitor",
            &format!("m{i}"),
            json!({"beneficiary": family(i + 1), "tier": "monitored", "risks": ["illness", "income"],
                   "region": "321181", "review_by": "2027-06-30"}),
        ),
        75 => sign(
            monitor,
            BUREAU,
            "household.visit",
            &format!("v{i}"),
            json!({"beneficiary": family(i - 24), "date": "2026-11-20", "findings": "已就业",
                   "next_review_by": "2027-09-30"}),
        ),
        32 => sign(
            charity,
            CHARITY,
            "fund.recover",
            &format!("h{i}"),
            json!({"fund": "F", "amount": 100, "from": family(i - 1), "reason": "overpaid",
                   "date": "2026-11-20", "disbursement": offset + i - 1}),
        ),
        _ => activity(charity, i),
    }
}

/// An export of `n` entries (a setup, then disbursements and awards from
/// [`activity`]) in `dir`, the checkpoint the node key `[3; 32]` signed for
/// it as `origin`, and that key's vkey. With `BENCH_RULES_V2` set, as
/// [`write_export_v2`].
pub fn write_export(dir: &Path, n: u64, origin: &str) -> (PathBuf, PathBuf, String) {
    write_export_with(dir, n, origin, std::env::var_os("BENCH_RULES_V2").is_some())
}

/// As [`write_export`], but the registrar activates rules version 2 after
/// the setup and adds a monitor's key (`[5; 32]`), and the rest is
/// [`activity_v2`].
pub fn write_export_v2(dir: &Path, n: u64, origin: &str) -> (PathBuf, PathBuf, String) {
    write_export_with(dir, n, origin, true)
}

fn write_export_with(dir: &Path, n: u64, origin: &str, v2: bool) -> (PathBuf, PathBuf, String) {
    use ledger::checkpoint::CheckpointSigner;
    use ledger::entry::Leaf;
    use ledger::merkle::{leaf_hash, Frontier, Hash};
    use rayon::prelude::*;
    let registrar = SigningKey::from_bytes(&[1; 32]);
    let charity = SigningKey::from_bytes(&[2; 32]);
    let node_key = SigningKey::from_bytes(&[3; 32]);
    let export = dir.join("export.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&export).unwrap());
    let mut frontier = Frontier::new();
    let mut prev = Hash::ZERO;
    let mut seq = 0u64;
    let mut write = |entries: Vec<SignedEntry>| {
        for entry in entries {
            let leaf = Leaf {
                entry,
                logged_at: "2026-11-21T08:30:01.000Z".into(),
                prev,
                seq,
            };
            let bytes = leaf.to_bytes().unwrap();
            prev = leaf_hash(&bytes);
            frontier.push(prev);
            out.write_all(&bytes).unwrap();
            out.write_all(b"\n").unwrap();
            seq += 1;
        }
    };
    let mut first = setup(&registrar, &charity);
    let monitor = SigningKey::from_bytes(&[5; 32]);
    if v2 {
        first.push(sign(
            &registrar,
            BUREAU,
            "rules.activate",
            "v2",
            json!({"version": 2, "note": "v2"}),
        ));
        first.push(sign(
            &registrar,
            BUREAU,
            "key.add",
            "k",
            json!({"org": BUREAU, "key": hex::encode(monitor.verifying_key().to_bytes()),
                   "roles": ["monitor"]}),
        ));
    }
    first.truncate(n as usize);
    let offset = first.len() as u64;
    write(first);
    let rest = n - offset;
    for chunk in (0..rest).collect::<Vec<_>>().chunks(100_000) {
        write(
            chunk
                .par_iter()
                .map(|i| {
                    if v2 {
                        activity_v2(&charity, &monitor, offset, *i)
                    } else {
                        activity(&charity, *i)
                    }
                })
                .collect(),
        );
    }
    out.into_inner().unwrap().sync_all().unwrap();
    let signer = CheckpointSigner::new(origin, node_key).unwrap();
    let cp = dir.join("export.checkpoint");
    std::fs::write(&cp, signer.sign(frontier.root())).unwrap();
    (export, cp, signer.vkey())
}
