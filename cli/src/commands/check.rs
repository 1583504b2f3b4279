//! The auditor's commands: `verify`, `check-receipt`, `prove`, `monitor`,
//! `export`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cli::audit::{self, Pins, StateDir};
use cli::client::NodeClient;
use cli::receipt::{self, Receipt};
use cli::{write_durably, Failed};
use ledger::checkpoint::CheckpointVerifier;
use ledger::merkle::Hash;
use rust_i18n::t;
use serde_json::Value;

use super::{progress, read_input, trust};
use crate::{CheckReceiptArgs, ExportArgs, MonitorArgs, ProveArgs, VerifyArgs};

pub(crate) fn verify(
    VerifyArgs {
        node,
        tiles,
        file,
        checkpoint,
        vkey,
        genesis,
        state_dir,
        replay_memory_mib,
        sign_stats,
        name,
        witnessed,
    }: VerifyArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let verifier = CheckpointVerifier::from_vkey(&vkey)
        .map_err(|e| anyhow::anyhow!("{}", t!("trust.bad_vkey", vkey = vkey, error = e)))?;
    let origin = verifier.origin().to_owned();
    let pins = Pins {
        trust: trust(verifier, &witnessed)?,
        genesis: genesis
            .map(|g| g.parse::<Hash>())
            .transpose()
            .map_err(|_| anyhow::anyhow!("{}", t!("trust.bad_genesis")))?,
        replay_memory: replay_memory_mib << 20,
        stats: sign_stats.is_some(),
    };
    // The auditor's key is read before hours of verifying, not after.
    let auditor = match (&sign_stats, &name) {
        (Some(path), Some(name)) => {
            let key = ledger::keyfile::read(path)?;
            Some(
                ledger::audited::StatsSigner::new(name, key)
                    .map_err(|e| anyhow::anyhow!("--name {name}: {e}"))?,
            )
        }
        _ => None,
    };
    // Like every command that talks to a node: the config file's node
    // (written by `init`, read into AIDLEDGER_NODE) when none is given.
    let node = node.or_else(|| {
        (tiles.is_none() && file.is_none())
            .then(|| std::env::var("AIDLEDGER_NODE").ok())
            .flatten()
            .filter(|n| !n.is_empty())
    });
    let started = std::time::Instant::now();
    let bar = progress(0, &t!("progress.verifying"));
    let node_url = node.clone();
    let report = match (node, file) {
        _ if tiles.is_some() => {
            let client = NodeClient::new(tiles.as_deref().expect("just checked"));
            audit::verify_tiles(&pins, &client, &bar)?
        }
        (_, Some(file)) => audit::verify_file(
            &pins,
            &file,
            checkpoint.as_deref().expect("clap requires it"),
            &bar,
        )?,
        (Some(node), None) => {
            let client = NodeClient::new(&node);
            audit::verify_node(&pins, &client, state_dir.map(StateDir).as_ref(), &bar)?
        }
        (None, None) => anyhow::bail!("{}", t!("verify.no_node")),
    };
    let secs = started.elapsed().as_secs_f64();
    let cp = &report.checkpoint;
    let size = cp.root.size;
    let verified = size - report.from;
    if verified == 0 && size > 0 {
        writeln!(
            stdout,
            "{}",
            t!("verify.nothing_new", size = size, root = cp.root.hash)
        )?;
    } else {
        writeln!(
            stdout,
            "{}",
            t!(
                "verify.done",
                count = verified,
                size = size,
                root = cp.root.hash,
                secs = format!("{secs:.1}"),
                rate = format!("{:.0}", verified as f64 / secs.max(1e-9))
            )
        )?;
        writeln!(stdout, "{}", t!("verify.signatures", count = verified))?;
        if size > 0 {
            let chain = if report.from > 0 {
                t!("verify.chain_resumed", from = report.from, to = size - 1)
            } else {
                t!("verify.chain", from = 0, to = size - 1)
            };
            writeln!(stdout, "{chain}")?;
        }
        writeln!(stdout, "{}", t!("verify.rules"))?;
    }
    for (i, (version, from)) in report.rules.iter().enumerate() {
        let line = match report.rules.get(i + 1) {
            Some((_, next)) => t!(
                "verify.rules_span",
                version = version.number(),
                from = from,
                to = next - 1
            ),
            None => t!(
                "verify.rules_since",
                version = version.number(),
                from = from
            ),
        };
        writeln!(stdout, "{line}")?;
    }
    if let Some(g) = report.genesis {
        writeln!(
            stdout,
            "{}",
            t!("verify.genesis", genesis = cli::finding::short(&g))
        )?;
    }
    writeln!(
        stdout,
        "{}",
        t!(
            "verify.checkpoint",
            size = size,
            root = cli::finding::short(&cp.root.hash),
            origin = origin
        )
    )?;
    say_witnesses(stdout, &report.witnesses, witnessed.policy.is_some())?;
    if tiles.is_some() {
        writeln!(stdout, "{}", t!("verify.tiles"))?;
    }
    if let (Some(auditor), Some(stats), Some(node)) = (auditor, report.stats, node_url) {
        sign_stats_and_post(
            &auditor,
            &report.checkpoint,
            &stats,
            &NodeClient::new(&node),
            stdout,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `verify --sign-stats`: signs the recomputed statistics at the verified
/// checkpoint's size (SPEC §4.3) and posts the note with them.
fn sign_stats_and_post(
    auditor: &ledger::audited::StatsSigner,
    cp: &ledger::checkpoint::Checkpoint,
    stats: &ledger::api::StatsAnswer,
    client: &NodeClient,
    stdout: &mut impl Write,
) -> anyhow::Result<()> {
    let claim = ledger::audited::StatsClaim {
        origin: cp.origin.clone(),
        root: cp.root,
        stats_hash: stats.hash(),
    };
    let note = auditor.sign(&claim);
    let post = ledger::api::AuditedPost {
        note,
        stats: stats.clone(),
    };
    let (status, answer) = client.post("/v1/stats/audited", &serde_json::to_vec(&post)?)?;
    let said = |key: &str| {
        t!(
            key,
            size = cp.root.size,
            name = auditor.name(),
            hash = cli::finding::short(&claim.stats_hash),
            total = stats.total.amount.to_string(),
            count = stats.total.count
        )
    };
    match status {
        201 => writeln!(stdout, "{}", said("verify.stats_posted"))?,
        200 => writeln!(stdout, "{}", said("verify.stats_kept"))?,
        _ => {
            let refused =
                cli::client::NodeError::from_answer(status, answer.to_string().as_bytes());
            let unknown = refused.code == Some(ledger::code::Code::UnknownKey);
            let hint = if unknown {
                format!(
                    "\n{}\n  {} {}",
                    t!("verify.stats_list_me"),
                    auditor.name(),
                    auditor.vkey()
                )
            } else {
                String::new()
            };
            anyhow::bail!("{}{hint}", t!("verify.stats_refused", error = refused));
        }
    }
    Ok(())
}

/// The success line about witnesses: who cosigned, or that none were asked for.
fn say_witnesses(stdout: &mut impl Write, names: &[String], policy: bool) -> anyhow::Result<()> {
    if policy {
        let names = names.join(&t!("list.sep"));
        writeln!(stdout, "{}", t!("verify.witnesses", names = names))?;
    } else {
        writeln!(stdout, "{}", t!("verify.no_witnesses"))?;
    }
    Ok(())
}

/// `check-receipt` of a C2SP tlog-proof file (SPEC §4.2): it needs the
/// entry, and checks it offline step by step, naming the step that fails.
fn check_proof_file(
    bytes: &[u8],
    path: &Path,
    entry: Option<&Path>,
    verifier: &CheckpointVerifier,
    (policy, with_policy): (&audit::Trust, bool),
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let entry_path = entry.ok_or_else(|| anyhow::anyhow!("{}", t!("receipt.proof_needs_entry")))?;
    let failed = |step: &str, why: String| -> anyhow::Error {
        Failed(
            t!(
                "receipt.proof_failed",
                file = path.display().to_string(),
                step = step,
                error = why
            )
            .into_owned(),
        )
        .into()
    };
    let text = std::str::from_utf8(bytes).map_err(|_| failed("format", "not UTF-8".into()))?;
    let proof =
        ledger::proof::TlogProof::parse(text).map_err(|e| failed(e.step(), e.to_string()))?;
    // The entry as submitted, its leaf, or the node's answer for it.
    let value: Value = serde_json::from_slice(&read_input(entry_path)?)
        .with_context(|| t!("receipt.entry_not_json"))?;
    let value = value.get("leaf").cloned().unwrap_or(value);
    let value = value.get("entry").cloned().unwrap_or(value);
    let signed = ledger::entry::SignedEntry::from_value(value)
        .map_err(|e| failed("signature", format!("{}: {e}", entry_path.display())))?;
    let (cp, leaf) = proof
        .verify(&signed, verifier)
        .map_err(|e| failed(e.step(), e.to_string()))?;
    let witnesses = policy
        .check_witnessed(proof.checkpoint.as_bytes())
        .map_err(|e| failed("witnesses", e.to_string()))?
        .1;
    let st = &leaf.entry.statement;
    writeln!(
        stdout,
        "{}",
        t!(
            "receipt.one",
            seq = leaf.seq,
            what = t!(
                "receipt.what",
                kind = st.kind.as_str(),
                issuer = st.issuer.as_str()
            ),
            size = cp.root.size,
            root = cli::finding::short(&cp.root.hash),
            origin = verifier.origin()
        )
    )?;
    say_witnesses(stdout, &witnesses, with_policy)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn check_receipt(
    CheckReceiptArgs {
        vkey,
        entry,
        receipt,
        witnessed,
    }: CheckReceiptArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let verifier = CheckpointVerifier::from_vkey(&vkey)
        .map_err(|e| anyhow::anyhow!("{}", t!("trust.bad_vkey", vkey = vkey, error = e)))?;
    let policy = trust(verifier.clone(), &witnessed)?;
    let bytes = read_input(&receipt)?;
    if bytes.starts_with(ledger::proof::HEADER.as_bytes()) {
        let with_policy = witnessed.policy.is_some();
        return check_proof_file(
            &bytes,
            &receipt,
            entry.as_deref(),
            &verifier,
            (&policy, with_policy),
            stdout,
        );
    }
    // One receipt (JSON), or the NDJSON that `submit` and `import --receipts` write.
    let receipts: Vec<Receipt> = match serde_json::from_slice::<Receipt>(&bytes) {
        Ok(r) => vec![r],
        Err(_) => bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.trim_ascii().is_empty())
            .map(|(i, l)| {
                serde_json::from_slice(l).with_context(|| t!("receipt.not_receipt", line = i + 1))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    if receipts.is_empty() {
        anyhow::bail!("{}", t!("receipt.none", path = receipt.display()));
    }
    if entry.is_some() && receipts.len() > 1 {
        anyhow::bail!("{}", t!("receipt.entry_one", count = receipts.len()));
    }
    let mut witnesses = Vec::new();
    for r in &receipts {
        let cp = receipt::check(&verifier, r)
            .map_err(|e| Failed::from(cli::finding::receipt(r.seq, &e)))?;
        witnesses = policy.check_witnessed(r.checkpoint.as_bytes())?.1;
        if let Some(entry) = &entry {
            let other: Value = serde_json::from_slice(&read_input(entry)?)
                .with_context(|| t!("receipt.entry_not_json"))?;
            receipt::check_entry(r, &other)
                .map_err(|e| Failed::from(cli::finding::receipt(r.seq, &e)))?;
        }
        if receipts.len() == 1 {
            let what = r
                .leaf
                .as_ref()
                .and_then(|l| l.get("entry")?.get("statement"))
                .map(|st| {
                    let field = |k: &str| st.get(k).and_then(Value::as_str).unwrap_or("-");
                    t!(
                        "receipt.what",
                        kind = field("kind"),
                        issuer = field("issuer")
                    )
                    .into_owned()
                })
                .unwrap_or_default();
            writeln!(
                stdout,
                "{}",
                t!(
                    "receipt.one",
                    seq = r.seq,
                    what = what,
                    size = cp.root.size,
                    root = cli::finding::short(&cp.root.hash),
                    origin = verifier.origin()
                )
            )?;
            if let Some(entry) = &entry {
                writeln!(
                    stdout,
                    "{}",
                    t!(
                        "receipt.entry",
                        file = entry.display().to_string(),
                        seq = r.seq
                    )
                )?;
            }
        }
    }
    if receipts.len() > 1 {
        let lo = receipts.iter().map(|r| r.seq).min().unwrap_or(0);
        let hi = receipts.iter().map(|r| r.seq).max().unwrap_or(0);
        writeln!(
            stdout,
            "{}",
            t!("receipt.many", count = receipts.len(), lo = lo, hi = hi)
        )?;
    }
    say_witnesses(stdout, &witnesses, witnessed.policy.is_some())?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn prove(
    ProveArgs {
        node,
        vkey,
        seq,
        seq_flag,
        out,
        witnessed,
    }: ProveArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let seq = seq.or(seq_flag).expect("clap requires one");
    let client = NodeClient::new(&node.node);
    let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
    let note = client.checkpoint()?;
    let cp = trust(verifier.clone(), &witnessed)?.check(&note)?;
    let (leaf, path) = client.inclusion(seq, cp.root.size)?;
    cp.root
        .verify_inclusion(&leaf, seq, &path)
        .map_err(|e| Failed(t!("prove.bad_proof", seq = seq, error = e).into_owned()))?;
    if let Some(out) = out {
        // The leaf for its time and `prev`; the file is checked as anyone
        // would check it before it is written.
        let bytes = client.get(&format!("/v1/entries?start={seq}&limit=1"))?;
        let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let stored = ledger::entry::Leaf::from_bytes(line)
            .ok()
            .filter(|l| l.seq == seq && ledger::merkle::leaf_hash(line) == leaf)
            .ok_or_else(|| Failed(t!("prove.leaf_differs", seq = seq).into_owned()))?;
        let note = String::from_utf8(note).expect("a verified note is UTF-8");
        let proof = ledger::proof::TlogProof::of_leaf(&stored, path, note);
        proof
            .verify(&stored.entry, &verifier)
            .map_err(|e| Failed(t!("prove.bad_proof", seq = seq, error = e).into_owned()))?;
        write_durably(&out, proof.to_text().as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
        writeln!(
            stdout,
            "{}",
            t!(
                "prove.wrote",
                path = out.display().to_string(),
                seq = seq,
                size = cp.root.size
            )
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let proof = serde_json::json!({
        "seq": seq, "size": cp.root.size, "leaf_hash": leaf, "path": path,
        "checkpoint": String::from_utf8_lossy(&note),
    });
    writeln!(stdout, "{}", serde_json::to_string_pretty(&proof)?)?;
    eprintln!(
        "{}",
        t!(
            "prove.done",
            seq = seq,
            leaf = leaf,
            size = cp.root.size,
            root = cp.root.hash,
            origin = verifier.origin()
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn monitor(
    MonitorArgs {
        node,
        vkey,
        genesis,
        interval,
        state_dir,
        once,
        witnessed,
    }: MonitorArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let trust = trust(
        CheckpointVerifier::from_vkey(&vkey)
            .map_err(|e| anyhow::anyhow!("{}", t!("trust.bad_vkey", vkey = vkey, error = e)))?,
        &witnessed,
    )?;
    let genesis = genesis
        .map(|g| g.parse::<Hash>())
        .transpose()
        .map_err(|_| anyhow::anyhow!("{}", t!("trust.bad_genesis")))?;
    let client = NodeClient::new(&node.node);
    let state = state_dir
        .as_deref()
        .map(audit::MonitorState::open)
        .transpose()?;
    let watch = audit::Watch {
        trust: &trust,
        genesis,
        state: state.as_ref(),
        interval: Duration::from_secs(interval),
        once,
    };
    audit::monitor(&watch, &client, stdout)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export(
    ExportArgs { node, out }: ExportArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&node.node);
    let note = client.checkpoint()?;
    let size: u64 = String::from_utf8_lossy(&note)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .with_context(|| t!("export.no_size"))?;
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&out).with_context(|| t!("io.creating", path = out.display()))?,
    );
    let bar = progress(size, &t!("progress.exporting"));
    client.leaves(0, size, |seq, bytes| {
        f.write_all(bytes)?;
        f.write_all(b"\n")?;
        if seq % cli::PROGRESS_EVERY == 0 {
            bar.set_position(seq);
        }
        Ok(())
    })?;
    f.into_inner()?.sync_all()?;
    bar.finish_and_clear();
    let mut cp_path = out.as_os_str().to_owned();
    cp_path.push(".checkpoint");
    write_durably(Path::new(&cp_path), &note)?;
    writeln!(
        stdout,
        "{}",
        t!(
            "export.done",
            size = size,
            out = out.display(),
            checkpoint = Path::new(&cp_path).display()
        )
    )?;
    Ok(ExitCode::SUCCESS)
}
