//! `aidledger-node serve --data DIR --listen ADDR --origin NAME`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use node::run::ServeConfig;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aidledger-node",
    version,
    about = "The aid ledger's HTTP node (the only writer)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the ledger in DATA over HTTP.
    Serve(NodeCmd),
    /// Serve as a standby under the writer's lock (SPEC §8): follow the log
    /// from the bucket up to the checkpoint in etcd, serve reads, send
    /// submitters to the writer, and take over as the writer when its lease
    /// lapses. The same as `serve` with --lock (which needs --replicate and
    /// --ack-after-replication), named for what it starts as.
    Standby(NodeCmd),
    /// Rebuild the derived state of the ledger in DATA from its leaves (after
    /// an upgrade that changed the state's format; the node is stopped).
    Reindex {
        /// Data directory of the ledger.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
    /// Seed DATA with a synthetic year of aid (first run only) and serve it.
    Demo {
        /// Data directory of the demo ledger.
        #[arg(long, default_value = "./demo-data")]
        data: PathBuf,
        /// The demo log's origin.
        #[arg(long, default_value = "demo.aidledger.local/aid/2026")]
        origin: String,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve a read mirror of a log: follow its tiles (a primary's root, a
    /// bucket's public endpoint, a CDN), verify every tile, leaf and
    /// checkpoint before storing, and serve the read API and the page.
    Mirror {
        /// The tiles' base URL (URL/checkpoint, URL/tile/…), or
        /// s3://BUCKET/PREFIX (endpoint and credentials from AWS_* variables).
        #[arg(long)]
        from: String,
        /// The log's vkey, as published.
        #[arg(long)]
        vkey: String,
        /// A witness policy every followed checkpoint must meet.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Data directory of the mirror's store (created if missing).
        #[arg(long, default_value = "./mirror-data")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// The primary to name to submitters (default: the --from URL).
        #[arg(long)]
        primary: Option<String>,
        /// Seconds between two rounds of following.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// The auditors whose signed statistics the mirror takes, serves
        /// and names in its page (SPEC §4.3): `name vkey` lines.
        #[arg(long, value_name = "FILE")]
        auditors: Option<PathBuf>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Rebuild a complete store in DATA from a bucket the node replicated
    /// to: every leaf, Merkle node and the derived state, each checked.
    Restore {
        /// The bucket: s3://BUCKET/PREFIX (endpoint and credentials from AWS_* variables).
        #[arg(long)]
        from: String,
        /// Data directory to create (its store must not exist yet).
        #[arg(long)]
        data: PathBuf,
        /// The log's vkey, as published: the bucket's checkpoint must verify with it.
        #[arg(long)]
        vkey: String,
        /// A witness policy whose quorum the bucket's checkpoint must carry.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The node's key file (from the operator's backup), copied to
        /// DATA/node.key once it matches the vkey, so that `serve` continues
        /// the same chain.
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

/// `serve` and `standby`: a ledger's node.
#[derive(clap::Args)]
struct NodeCmd {
    /// Data directory (created if missing): the store, and the node's key
    /// unless --key names it.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// The log's origin line and checkpoint key name, e.g. ledger.example.gov.cn/aid/2026.
    #[arg(long)]
    origin: String,
    #[command(flatten)]
    serve: ServeArgs,
}

/// What `serve` and `demo` share: where they listen and how they serve.
#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    witnesses: WitnessArgs,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    replicate: ReplicateArgs,
    #[command(flatten)]
    lock: LockArgs,
}

/// The writer's lock in etcd (SPEC §8).
#[derive(clap::Args)]
struct LockArgs {
    /// Write only while holding the writer's lock in etcd:
    /// etcd://HOST:PORT[,HOST:PORT…]/PREFIX. Until it wins the lock the node
    /// is a standby. Needs --replicate and --ack-after-replication.
    #[arg(long, value_name = "URL", requires = "ack_after_replication")]
    lock: Option<String>,
    /// Seconds the writer's lease lives without a keep-alive: how long a
    /// dead writer holds the others back.
    #[arg(long, default_value_t = 10.0)]
    lock_ttl: f64,
    /// Seconds between two looks of a standby at etcd and the bucket.
    #[arg(long, default_value_t = 0.5)]
    standby_interval: f64,
    /// This node's URL for clients, named in the lock and sent to
    /// submitters by the standbys [default: http://LISTEN].
    #[arg(long, value_name = "URL")]
    advertise: Option<String>,
    /// The node's key file [default: DATA/node.key, created if missing];
    /// every node under one lock signs with the same key.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

/// Copying the log to object storage.
#[derive(clap::Args)]
struct ReplicateArgs {
    /// Copy every tile, entry bundle and checkpoint to s3://BUCKET/PREFIX
    /// (endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "URL")]
    replicate: Option<String>,
    /// Seconds between two copies to the bucket (each covers every group
    /// since the last); with --ack-after-replication a new checkpoint
    /// starts a copy at once.
    #[arg(long, default_value_t = 1.0)]
    replicate_interval: f64,
    /// Answer a submission only once its entries are in the bucket too
    /// (on two machines at least); without it, receipts follow the local
    /// fsync and the bucket follows within the replication lag.
    #[arg(long, requires = "replicate")]
    ack_after_replication: bool,
}

/// What the public page trusts.
#[derive(clap::Args)]
struct PageArgs {
    /// The log vkey the page checks checkpoints against, as published
    /// elsewhere (default: this node's own). A mirror's page names the
    /// origin node's key here.
    #[arg(long)]
    page_vkey: Option<String>,
    /// Where the page's visitors report a problem (举报): a phone number,
    /// an address or a URL, shown as text in the footer and with the red
    /// banner of a rollback, fork or key change.
    #[arg(long)]
    page_contact: Option<String>,
    /// The auditors whose signed statistics the node takes and the page
    /// shows (SPEC §4.3): a file of `name vkey` lines. The demo lists its
    /// own two by default.
    #[arg(long, value_name = "FILE")]
    auditors: Option<PathBuf>,
}

/// Which witnesses cosign the node's checkpoints (SPEC §4.1).
#[derive(clap::Args)]
struct WitnessArgs {
    /// C2SP tlog-policy file naming the witnesses (with their URLs) and the
    /// quorum. With it, /checkpoint serves only checkpoints that met it.
    #[arg(long)]
    witness_policy: Option<PathBuf>,
    /// Seconds between two rounds of asking the witnesses, at the least.
    #[arg(long, default_value_t = 1.0)]
    witness_interval: f64,
    /// Seconds one request to a witness may take.
    #[arg(long, default_value_t = 5.0)]
    witness_timeout: f64,
}

impl WitnessArgs {
    /// The witnessing configuration and the policy's text.
    fn config(&self) -> anyhow::Result<Option<(node::WitnessConfig, String)>> {
        let Some(path) = &self.witness_policy else {
            return Ok(None);
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let policy = ledger::witness::Policy::parse(&text)
            .with_context(|| format!("the witness policy {}", path.display()))?;
        let config = node::WitnessConfig {
            policy,
            interval: seconds(self.witness_interval, "--witness-interval")?,
            timeout: seconds(self.witness_timeout, "--witness-timeout")?,
        };
        Ok(Some((config, text)))
    }
}

/// How the node treats connections.
#[derive(clap::Args)]
struct ConnArgs {
    /// Most connections open at once [default: the open-files limit less
    /// what the store needs]. At the cap the connection that has waited
    /// longest without a request is closed for a new one.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds a connection has to send a request's head, when it opens and
    /// between requests.
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds an answer may wait for its client to read any of it; then
    /// the connection is closed.
    #[arg(long, default_value_t = 20)]
    write_timeout: u64,
    /// Bytes of answers made but not yet read by their clients, all
    /// connections together; past it a large answer (a page of entries) is
    /// answered `overloaded` instead.
    #[arg(long, default_value_t = 256 << 20)]
    max_unsent: usize,
    /// Bytes of submissions one client address may have in flight on the
    /// write route at once; a request past it is answered `overloaded`
    /// before its body is read. 0: no limit (behind a proxy that limits per
    /// client).
    #[arg(long, default_value_t = node::admission::DEFAULT_CLIENT_WRITES)]
    client_writes: usize,
}

impl ConnArgs {
    fn limits(&self) -> anyhow::Result<node::serve::Limits> {
        let mut limits = node::serve::limits(node::serve::raise_file_limit())?;
        if let Some(max) = self.max_connections {
            anyhow::ensure!(
                (1..=limits.max_connections).contains(&max),
                "--max-connections must be 1..={} under this process's open-files limit",
                limits.max_connections
            );
            limits.max_connections = max;
        }
        anyhow::ensure!(
            self.header_timeout > 0,
            "--header-timeout must be at least 1"
        );
        limits.header_timeout = std::time::Duration::from_secs(self.header_timeout);
        anyhow::ensure!(self.write_timeout > 0, "--write-timeout must be at least 1");
        limits.write_timeout = std::time::Duration::from_secs(self.write_timeout);
        limits.max_unsent = self.max_unsent;
        Ok(limits)
    }
}

fn main() -> ExitCode {
    // Logs go to stderr; stdout carries only the "listening on" line.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aidledger-node: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(NodeCmd {
            data,
            origin,
            serve: args,
        }) => node::run::serve(args.config(data, origin, false)?),
        Command::Standby(NodeCmd {
            data,
            origin,
            serve: args,
        }) => {
            let config = args.config(data, origin, false)?;
            anyhow::ensure!(
                config.lock.is_some(),
                "a standby needs --lock etcd://HOST:PORT/PREFIX"
            );
            anyhow::ensure!(
                config.key.is_some(),
                "a standby needs --key: the writer's node.key, which every node of the log signs with"
            );
            node::run::serve(config)
        }
        Command::Demo {
            data,
            origin,
            serve: args,
        } => node::run::serve(args.config(data, origin, true)?),
        Command::Mirror {
            from,
            vkey,
            policy,
            data,
            listen,
            primary,
            interval,
            auditors,
            conn,
        } => node::run::mirror(node::run::MirrorRun {
            data,
            listen,
            limits: conn.limits()?,
            vkey,
            auditors,
            config: node::mirror::MirrorConfig {
                primary: Some(primary.unwrap_or_else(|| from.clone())),
                from,
                policy: None,
                policy_text: policy
                    .map(|p| {
                        std::fs::read_to_string(&p)
                            .with_context(|| format!("reading {}", p.display()))
                    })
                    .transpose()?,
                interval: seconds(interval, "--interval")?,
            },
        }),
        Command::Restore {
            from,
            data,
            vkey,
            policy,
            key,
        } => restore(&from, &data, &vkey, policy.as_deref(), key.as_deref()),
        Command::Reindex { data } => {
            let started = std::time::Instant::now();
            let size = ledger::sequencer::reindex(&data.join("db"))
                .with_context(|| format!("reindexing the store in {}", data.display()))?;
            println!(
                "derived state rebuilt from {size} leaves in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// A flag's positive number of seconds.
fn seconds(s: f64, flag: &str) -> anyhow::Result<std::time::Duration> {
    anyhow::ensure!(
        s.is_finite() && s > 0.0,
        "{flag} must be a positive number of seconds"
    );
    Ok(std::time::Duration::from_secs_f64(s))
}

impl ServeArgs {
    /// The node's configuration from these flags.
    fn config(self, data: PathBuf, origin: String, demo: bool) -> anyhow::Result<ServeConfig> {
        let ServeArgs {
            listen,
            conn,
            witnesses,
            page,
            replicate,
            lock,
        } = self;
        let key = lock.key.clone();
        let lock = match &lock.lock {
            None => None,
            Some(url) => Some(node::standby::LockConfig {
                url: node::lock::LockUrl::parse(url)?,
                name: lock
                    .advertise
                    .clone()
                    .unwrap_or_else(|| format!("http://{listen}")),
                ttl: seconds(lock.lock_ttl, "--lock-ttl")?,
                interval: seconds(lock.standby_interval, "--standby-interval")?,
            }),
        };
        let replicate = match replicate.replicate {
            Some(url) => Some(node::run::ReplicateConfig {
                url,
                interval: seconds(replicate.replicate_interval, "--replicate-interval")?,
                ack_after_replication: replicate.ack_after_replication,
            }),
            None => None,
        };
        Ok(ServeConfig {
            data,
            origin,
            listen,
            limits: conn.limits()?,
            client_writes: conn.client_writes,
            witnesses: witnesses.config()?,
            page_vkey: page.page_vkey,
            page_contact: page.page_contact,
            auditors: page.auditors,
            replicate,
            demo,
            key,
            lock,
        })
    }
}

fn restore(
    from: &str,
    data: &Path,
    vkey: &str,
    policy: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<()> {
    let replica = node::replicate::Replica::from_url(from)?;
    let policy = policy
        .map(|p| -> anyhow::Result<_> {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            ledger::witness::Policy::parse(&text)
                .with_context(|| format!("the policy {}", p.display()))
        })
        .transpose()?;
    if let Some(key) = key {
        let signing = ledger::keyfile::read(key)?;
        let verifier = ledger::checkpoint::CheckpointVerifier::from_vkey(vkey).context("--vkey")?;
        anyhow::ensure!(
            signing.verifying_key() == *verifier.key(),
            "{} is not the key of {vkey}",
            key.display()
        );
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} entries, {per_sec}, {eta} left",
        )
        .expect("a valid template"),
    );
    let restored = node::replicate::restore(
        &replica,
        &data.join("db"),
        vkey,
        policy.as_ref(),
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .with_context(|| format!("restoring from {from}"))?;
    bar.finish_and_clear();
    if let Some(key) = key {
        std::fs::copy(key, data.join("node.key"))
            .with_context(|| format!("copying {} into {}", key.display(), data.display()))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "restored {} entries from {from} in {seconds:.1} s ({:.0} entries/s); {} hash tiles checked",
        restored.size,
        restored.size as f64 / seconds.max(1e-9),
        restored.tiles_checked
    );
    Ok(())
}
