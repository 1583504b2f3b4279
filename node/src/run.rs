//! Starting a node from one configuration: what `aidledger-node serve`,
//! `demo` and `mirror` run once their flags are read, and what a test or
//! another program can run the same way. The binary only turns flags into
//! these configurations.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ledger::checkpoint::{CheckpointSigner, CheckpointVerifier};
use ledger::store::{Log, RocksBackend, StoreError};

use crate::mirror::MirrorConfig;
use crate::serve::Limits;
use crate::{Node, WitnessConfig};

/// Everything a primary node needs to start.
pub struct ServeConfig {
    /// Data directory (created if missing): the store and the node's key.
    pub data: PathBuf,
    /// The log's origin line and checkpoint key name.
    pub origin: String,
    /// Address to listen on.
    pub listen: String,
    /// How connections are treated.
    pub limits: Limits,
    /// Bytes of submissions one client address may have in flight (0: no
    /// limit).
    pub client_writes: usize,
    /// The witnesses and their policy's text, if checkpoints are witnessed.
    pub witnesses: Option<(WitnessConfig, String)>,
    /// The vkey the public page trusts (default: this node's own).
    pub page_vkey: Option<String>,
    /// Where the page's visitors report a problem (`--page-contact`).
    pub page_contact: Option<String>,
    /// The auditors' `name vkey` list (`--auditors`; the demo's own by
    /// default for the demo).
    pub auditors: Option<PathBuf>,
    /// Copying the log to object storage.
    pub replicate: Option<ReplicateConfig>,
    /// Seed the synthetic demo ledger first (a store of an older format is
    /// seeded afresh rather than refused).
    pub demo: bool,
    /// The node's key file (default: `DATA/node.key`, created if missing).
    pub key: Option<PathBuf>,
    /// Write only under the writer's lock in etcd, as a standby until it
    /// is won (SPEC §8; needs `replicate` with `ack_after_replication`).
    pub lock: Option<crate::standby::LockConfig>,
}

/// Where and how often the log is copied to a bucket.
pub struct ReplicateConfig {
    /// `s3://BUCKET/PREFIX`.
    pub url: String,
    /// Time between two copies.
    pub interval: Duration,
    /// Receipts only once the entries are in the bucket.
    pub ack_after_replication: bool,
}

/// Opens (or seeds) the store, starts the writer and serves until Ctrl-C
/// or SIGTERM; returns once the queued groups are written.
pub fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let ServeConfig {
        data,
        origin,
        listen,
        limits,
        client_writes,
        witnesses,
        page_vkey,
        page_contact,
        auditors,
        replicate,
        demo,
        key,
        lock,
    } = config;
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let key = match &key {
        Some(path) => ledger::keyfile::read(path)
            .with_context(|| format!("the node's key {}", path.display()))?,
        None => ledger::keyfile::read_or_create(&data.join("node.key"))?,
    };
    let signer = CheckpointSigner::new(&origin, key)?;
    let db = data.join("db");
    let backend = match RocksBackend::open(&db) {
        // The demo ledger is synthetic: one written by an older build is
        // seeded afresh rather than refused.
        Err(e @ StoreError::Format { .. }) if demo => {
            eprintln!("{e}; seeding the demo ledger afresh");
            std::fs::remove_dir_all(&db).with_context(|| format!("removing {}", db.display()))?;
            RocksBackend::open(&db)
        }
        opened => opened,
    }
    .with_context(|| format!("opening the store in {}", data.display()))?;
    let mut log =
        Log::open(backend).context("the store failed its checks at open; not serving it")?;
    if let Some(lock) = &lock {
        anyhow::ensure!(!demo, "the demo does not run under a lock");
        anyhow::ensure!(
            replicate.as_ref().is_some_and(|r| r.ack_after_replication),
            "--lock needs --replicate s3://… --ack-after-replication"
        );
        let url = &replicate.as_ref().expect("checked").url;
        let replica = crate::replicate::Replica::from_url(url)?;
        log = set_aside_unacknowledged(log, &db, lock, &signer, &replica)?;
    }
    let mut auditors = auditors;
    if demo {
        let started = std::time::Instant::now();
        let seeded = crate::demo::seed(&mut log)?;
        crate::demo::pseudonym_service_dir(&data)?;
        let list = crate::demo::auditors_dir(&data, &signer.vkey())?;
        auditors.get_or_insert(list);
        if seeded > 0 {
            eprintln!(
                "seeded the demo ledger: {seeded} entries in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    tracing::info!(size = log.size(), vkey = %signer.vkey(), max_connections = limits.max_connections, "store opened");
    let audited = open_auditors(auditors.as_deref(), &data, &origin, &log)?;
    let anchor = crate::page::Anchor {
        vkey: page_vkey.unwrap_or_else(|| signer.vkey()),
        policy: witnesses.as_ref().map(|(_, text)| text.clone()),
        contact: page_contact,
        auditors: audited.as_ref().map(|a| a.list.clone()),
    };
    CheckpointVerifier::from_vkey(&anchor.vkey).context("--page-vkey")?;
    if let Some(lock) = lock {
        let replicate = replicate.expect("checked above");
        let replica = crate::replicate::Replica::from_url(&replicate.url)?;
        let (node, sequencer) = Node::locked(
            log,
            signer,
            witnesses.map(|(config, _)| config),
            lock,
            replica,
            replicate.interval,
        );
        let mut node = node.with_anchor(&anchor).with_client_writes(client_writes);
        if let Some(audited) = audited {
            node = node.with_auditors(audited);
        }
        serve_http(node, &listen, limits, "aidledger-node")?;
        sequencer
            .finish()
            .map_err(|_| anyhow::anyhow!("the sequencer thread panicked"))?;
        tracing::info!("stopped");
        return Ok(());
    }
    let (node, sequencer) = Node::start_with(log, signer, witnesses.map(|(config, _)| config));
    let mut node = node.with_anchor(&anchor).with_client_writes(client_writes);
    if let Some(audited) = audited {
        node = node.with_auditors(audited);
    }
    if let Some(ReplicateConfig {
        url,
        interval,
        ack_after_replication,
    }) = replicate
    {
        // One clear line now for a wrong endpoint, key or bucket.
        let replica = crate::replicate::Replica::from_url(&url)?;
        let existing = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(replica.checkpoint())
            .with_context(|| format!("replicating to {url}"))?;
        node.replicate(crate::replicate::ReplicaConfig {
            replica,
            existing,
            interval,
            ack_after_replication,
        });
    }
    serve_http(node, &listen, limits, "aidledger-node")?;
    // The router, every handler and the runtime are gone: the sequencer
    // finishes the groups already queued and stops.
    sequencer
        .join()
        .map_err(|_| anyhow::anyhow!("the sequencer thread panicked"))?;
    tracing::info!("stopped");
    Ok(())
}

/// A node under the lock keeps no leaf past etcd's checkpoint, nor one that
/// differs from the bucket's below it: those were never acknowledged (this
/// node died or lost the lock before etcd held them), and another writer
/// may have sequenced other leaves at their seqs since. The store is then moved aside to `db.unacknowledged-SECONDS`
/// (kept for the operator to look at) and the node starts from an empty
/// one, which it fills from the bucket, verifying every leaf, as a standby.
fn set_aside_unacknowledged(
    log: Log<RocksBackend>,
    db: &std::path::Path,
    lock: &crate::standby::LockConfig,
    signer: &CheckpointSigner,
    replica: &crate::replicate::Replica,
) -> anyhow::Result<Log<RocksBackend>> {
    let etcd = crate::lock::Etcd::new(lock.url.clone(), Duration::from_secs(5));
    let mut tries = 0;
    let note = loop {
        match etcd.checkpoint() {
            Ok(note) => break note,
            Err(e) if tries < 30 => {
                tries += 1;
                tracing::warn!("reading the lock's checkpoint: {e}; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => return Err(e).context("reading the lock's checkpoint from etcd"),
        }
    };
    let Some(note) = note else {
        return Ok(log);
    };
    let cp = CheckpointVerifier::from_vkey(&signer.vkey())?
        .verify(note.as_bytes())
        .context("etcd's checkpoint is not signed by this node's key")?;
    let size = cp.root.size;
    let held = log.size();
    if held == 0 {
        return Ok(log);
    }
    if held <= size {
        // The leaves chain by `prev`: the same last leaf is the same log.
        let follower = ledger::follow::TileFollower::new(
            crate::replicate::ReplicaSource::new(replica.clone()),
            CheckpointVerifier::from_vkey(&signer.vkey())?,
            None,
        );
        let bundle = follower
            .bundles(held - 1, size)
            .next()
            .expect("a bundle holds every leaf below the size")
            .context("reading the bucket")?;
        let theirs = bundle.leaves(held - 1)?.first().map(|(_, b)| b.to_vec());
        if theirs == log.leaf(held - 1)? {
            return Ok(log);
        }
    }
    drop(log);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = db.with_file_name(format!("db.unacknowledged-{stamp}"));
    std::fs::rename(db, &aside)
        .with_context(|| format!("moving {} aside to {}", db.display(), aside.display()))?;
    tracing::warn!(
        held,
        acknowledged = size,
        aside = %aside.display(),
        "this store held leaves the lock's checkpoint does not vouch for; moved aside, following the bucket afresh"
    );
    Ok(Log::open(RocksBackend::open(db)?)?)
}

/// Everything a read mirror needs to start.
pub struct MirrorRun {
    /// Data directory of the mirror's store (created if missing).
    pub data: PathBuf,
    /// Address to listen on.
    pub listen: String,
    /// How connections are treated.
    pub limits: Limits,
    /// The log's vkey, as published.
    pub vkey: String,
    /// What to follow and how.
    pub config: MirrorConfig,
    /// The auditors whose signed statistics the mirror takes, serves and
    /// names in its page (`--auditors`).
    pub auditors: Option<PathBuf>,
}

/// Opens the mirror's store, starts following and serves until Ctrl-C or
/// SIGTERM.
pub fn mirror(run: MirrorRun) -> anyhow::Result<()> {
    let MirrorRun {
        data,
        listen,
        limits,
        vkey,
        mut config,
        auditors,
    } = run;
    if let Some(text) = &config.policy_text {
        config.policy = Some(ledger::witness::Policy::parse(text).context("--policy")?);
    }
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let log = Log::open(
        RocksBackend::open(&data.join("db"))
            .with_context(|| format!("opening the store in {}", data.display()))?,
    )
    .context("the store failed its checks at open; not serving it")?;
    let origin = CheckpointVerifier::from_vkey(&vkey)?.origin().to_owned();
    let audited = open_auditors(auditors.as_deref(), &data, &origin, &log)?;
    let anchor = crate::page::Anchor {
        vkey: vkey.clone(),
        policy: config.policy_text.clone(),
        contact: None,
        auditors: audited.as_ref().map(|a| a.list.clone()),
    };
    let mut node = Node::mirror(log, &vkey, String::new(), config)?.with_anchor(&anchor);
    if let Some(audited) = audited {
        node = node.with_auditors(audited);
    }
    serve_http(node, &listen, limits, "aidledger-node mirror")
}

/// The auditors listed in the file at `path` (`--auditors`), with the
/// notes already kept in `data`.
fn open_auditors(
    path: Option<&std::path::Path>,
    data: &std::path::Path,
    origin: &str,
    log: &Log<RocksBackend>,
) -> anyhow::Result<Option<crate::audited::Audited>> {
    path.map(|path| {
        let list =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        crate::audited::Audited::open(&list, data, origin, log)
            .with_context(|| format!("the auditors in {}", path.display()))
    })
    .transpose()
}

/// Serves `node` on `listen` until Ctrl-C or SIGTERM, announcing it as
/// `name` on stdout; returns once the runtime and every handler are gone.
fn serve_http(node: Node, listen: &str, limits: Limits, name: &str) -> anyhow::Result<()> {
    // Reads run on the blocking pool: thousands of clients asking at once
    // queue for these threads (the cores are the limit anyway) rather than
    // each getting a thread and its stack.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(crate::BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        println!("{name} listening on http://{}", listener.local_addr()?);
        crate::serve::serve(listener, crate::app(node), limits, shutdown()).await?;
        anyhow::Ok(())
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
