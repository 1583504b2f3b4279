//! What each `aidledger` command does, one function per command; `main`
//! parses the command line and calls them.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use cli::audit::{self, Pins, StateDir};
use cli::client::{seg, NodeClient};
use cli::i18n;
use cli::receipt::{self, Receipt, Submitter};
use cli::{admin, iati, import, vocab, write_durably, Failed};
use ledger::body;
use ledger::checkpoint::CheckpointVerifier;
use ledger::entry::{format_timestamp, SignedEntry};
use ledger::ident::{pseudonym, PseudonymKind};
use ledger::keyfile;
use ledger::merkle::Hash;
use rust_i18n::t;
use serde_json::Value;

use crate::{
    BeneficiaryArgs, CheckReceiptArgs, ExportArgs, FundCmd, FundOpenArgs, GenesisArgs, IatiArgs,
    ImportArgs, InitArgs, KeyAddArgs, KeyRevokeArgs, KeygenArgs, MonitorArgs, OrgRegisterArgs,
    PolicyArgs, ProveArgs, PseudonymArgs, SignArgs, SignerArgs, SubmitArgs, VerifyArgs, WitnessCmd,
};

pub(crate) fn keygen(
    KeygenArgs { out }: KeygenArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let public_file = public_path(&out);
    // Neither file is ever overwritten: refused before the key is made.
    if public_file.exists() {
        return Err(keyfile::KeyFileError::Exists(public_file).into());
    }
    let key = keyfile::create(&out)?;
    let public = hex::encode(key.verifying_key().to_bytes());
    write_new(&public_file, &public)?;
    writeln!(stdout, "{}", t!("keygen.public", key = public))?;
    writeln!(
        stdout,
        "{}",
        t!("keygen.public_file", path = public_file.display())
    )?;
    writeln!(stdout, "{}", t!("keygen.secret", path = out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `OUT.pub`: where a key file's public half goes.
fn public_path(key: &Path) -> PathBuf {
    let mut name = key.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes `text` and a newline to a new file (refused if one is there).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::Error::from(keyfile::KeyFileError::Exists(path.to_path_buf()))
            }
            _ => anyhow::Error::from(e).context(path.display().to_string()),
        })?;
    writeln!(f, "{text}")?;
    f.sync_all()?;
    Ok(())
}

pub(crate) fn genesis(args: GenesisArgs, stdout: &mut impl Write) -> anyhow::Result<ExitCode> {
    let more_keys = args
        .org_keys
        .iter()
        .map(|k| admin::key_with_roles(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    admin::genesis(
        admin::Genesis {
            node: args.node,
            vkey: args.vkey,
            key: args.key,
            org: body::Org {
                id: args.id,
                name: args.name,
                org_type: args.org_type,
                region: args.region,
            },
            roles: args.roles,
            more_keys,
        },
        stdout,
    )
}

pub(crate) fn pseudonyms(
    PseudonymArgs {
        secret_file,
        volunteer,
        ids,
    }: PseudonymArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let secret = keyfile::read_secret(&secret_file)?;
    let kind = if volunteer {
        PseudonymKind::Volunteer
    } else {
        PseudonymKind::Beneficiary
    };
    let ids = if ids.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()?
    } else {
        ids
    };
    for id in ids.iter().filter(|l| !l.trim().is_empty()) {
        // The ID number itself is never echoed: only its position.
        let p = pseudonym(&secret, id, kind).map_err(|_| {
            anyhow::anyhow!(
                "{}",
                t!(
                    "pseudonym.bad_id",
                    n = ids.iter().position(|x| x == id).unwrap_or(0) + 1,
                    total = ids.len()
                )
            )
        })?;
        writeln!(stdout, "{p}")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sign(
    SignArgs {
        key,
        issuer,
        kind,
        body,
        nonce,
        issued_at,
    }: SignArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let key = keyfile::read(&key)?;
    let body: Value =
        serde_json::from_slice(&read_input(&body)?).with_context(|| t!("sign.not_json"))?;
    if let Some((path, pii)) = ledger::ident::pii_in_body(&body) {
        anyhow::bail!("{}", t!("sign.pii", path = path, what = i18n::pii(pii)));
    }
    let nonce = nonce.unwrap_or_else(cli::fresh_nonce);
    let issued_at = issued_at.unwrap_or_else(|| format_timestamp(SystemTime::now()));
    let entry = SignedEntry::create(&key, &issuer, kind, &nonce, &issued_at, body)?;
    let value = serde_json::to_value(&entry)?;
    ledger::rules::check_submission_value(value.clone()).map_err(|r| {
        anyhow::anyhow!(
            "{}",
            t!(
                "sign.refused",
                message = i18n::refusal(r.code.as_str(), &r.message)
            )
        )
    })?;
    writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn submit(
    SubmitArgs {
        node,
        vkey,
        witnessed,
        wait,
        file,
    }: SubmitArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let entries = parse_entries(&read_input(&file)?)?;
    if entries.is_empty() {
        anyhow::bail!("{}", t!("submit.empty"));
    }
    let client = NodeClient::new(&node.node);
    let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
    let trust = trust(verifier.clone(), &witnessed)?;
    let mut outcomes = Submitter::new(&client, &verifier).submit(&entries)?;
    if trust.policy.is_some() {
        witnessed_receipts(&client, &trust, &mut outcomes, Duration::from_secs(wait))?;
    }
    let mut refused = 0;
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(r) => writeln!(stdout, "{}", serde_json::to_string(r)?)?,
            Err(e) => {
                refused += 1;
                let message = i18n::coded(&e.code, &e.message);
                eprintln!("{}", t!("submit.refused", n = i + 1, message = message));
            }
        }
    }
    eprintln!(
        "{}",
        t!(
            "submit.summary",
            ok = outcomes.len() - refused,
            total = outcomes.len()
        )
    );
    if refused > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

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
    Ok(ExitCode::SUCCESS)
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
        witnessed,
    }: ProveArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&node.node);
    let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
    let note = client.checkpoint()?;
    let cp = trust(verifier.clone(), &witnessed)?.check(&note)?;
    let (leaf, path) = client.inclusion(seq, cp.root.size)?;
    cp.root
        .verify_inclusion(&leaf, seq, &path)
        .map_err(|e| Failed(t!("prove.bad_proof", seq = seq, error = e).into_owned()))?;
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

pub(crate) fn fund_open(args: FundOpenArgs) -> anyhow::Result<ExitCode> {
    let body = body::FundOpen {
        fund: args.id,
        title: args.title,
        category: args.category,
        source: args.source,
        region: args.region,
        currency: "CNY".to_owned(),
        budget: args.budget,
        start: args.start,
        end: args.end,
    };
    let done = t!("fund.opened", fund = body.fund).into_owned();
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn org_register(args: OrgRegisterArgs) -> anyhow::Result<ExitCode> {
    admin::check_org_id(&args.id)?;
    let keys = args
        .org_keys
        .iter()
        .map(|k| admin::key_with_roles(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = body::OrgRegister {
        org: body::Org {
            id: args.id,
            name: args.name,
            org_type: args.org_type,
            region: args.region,
        },
        keys,
    };
    let done = t!("org.registered", org = body.org.id, name = body.org.name).into_owned();
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn key_add(args: KeyAddArgs) -> anyhow::Result<ExitCode> {
    let done = t!("key.added", key = args.public, org = args.org).into_owned();
    let body = body::KeyAdd {
        org: args.org,
        key: args.public,
        roles: args.roles,
    };
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn key_revoke(args: KeyRevokeArgs) -> anyhow::Result<ExitCode> {
    let done = t!("key.revoked", key = args.public, org = args.org).into_owned();
    let body = body::KeyRevoke {
        org: args.org,
        key: args.public,
        reason: args.reason,
    };
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn init(
    InitArgs {
        node,
        vkey,
        genesis,
        key,
        issuer,
        secret_file,
    }: InitArgs,
    stdout: &mut impl Write,
    config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let path = config
        .or_else(cli::config::default_path)
        .with_context(|| t!("init.no_path"))?;
    let client = NodeClient::new(&node);
    let info = client.log_info()?;
    let verifier = CheckpointVerifier::from_vkey(&info.vkey)
        .with_context(|| t!("init.bad_vkey", vkey = info.vkey))?;
    verifier
        .verify(&client.checkpoint()?)
        .map_err(|e| Failed(t!("init.bad_checkpoint", error = e).into_owned()))?;
    if let Some(published) = &vkey {
        if *published != info.vkey {
            return Err(Failed(
                t!("init.other_vkey", vkey = info.vkey, published = published).into_owned(),
            )
            .into());
        }
    }
    if let Some(published) = &genesis {
        if info.genesis.as_deref() != Some(published.as_str()) {
            let none = t!("init.no_genesis");
            return Err(Failed(
                t!(
                    "init.other_genesis",
                    genesis = info.genesis.as_deref().unwrap_or(&none),
                    published = published
                )
                .into_owned(),
            )
            .into());
        }
    }
    if let Some(k) = &key {
        keyfile::read(k)?;
    }
    if let Some(f) = &secret_file {
        keyfile::read_secret(f)?;
    }
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let saved = cli::config::Config {
        node: Some(node),
        origin: Some(info.origin.clone()),
        vkey: Some(info.vkey.clone()),
        genesis: info.genesis.clone(),
        key: key.map(absolute),
        issuer,
        secret_file: secret_file.map(absolute),
    };
    saved.save(&path)?;
    let empty = t!("init.empty_ledger");
    for (label, value) in [
        ("init.origin", info.origin.clone()),
        ("init.vkey", info.vkey.clone()),
        ("init.key_id", format!("{:08x}", verifier.id())),
        (
            "init.genesis",
            info.genesis.as_deref().unwrap_or(&empty).to_owned(),
        ),
        ("init.size", info.size.to_string()),
    ] {
        writeln!(stdout, "{}", table_line(&t!(label), &value))?;
    }
    let compared = match (&vkey, &genesis) {
        (Some(_), Some(_)) => "init.both_match",
        (Some(_), None) => "init.vkey_matches",
        (None, Some(_)) => "init.genesis_matches",
        (None, None) => "init.compare",
    };
    writeln!(
        stdout,
        "{}",
        t!(
            "init.written",
            compared = t!(compared),
            path = path.display()
        )
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn fund_show(
    FundCmd {
        node, limit, id, ..
    }: FundCmd,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let id = id.with_context(|| t!("fund.no_id"))?;
    let client = NodeClient::new(&node.node);
    let f = client
        .get_json(&format!("/v1/funds/{}", seg(&id)))
        .with_context(|| t!("fund.looking_up", fund = id))?;
    let names = org_names(&client)?;
    let text = |field: &str| f[field].as_str().unwrap_or("-").to_owned();
    let rows = [
        ("fund", text("fund")),
        ("title", text("title")),
        ("owner", org_name(&names, &text("owner"))),
        ("category", vocab::label("category", &text("category"))),
        ("source", vocab::label("source", &text("source"))),
        ("region", text("region")),
        ("start", text("start")),
        ("end", text("end")),
    ];
    for (field, value) in rows {
        let label = format!("fund.field.{field}");
        writeln!(stdout, "{}", table_line(&t!(&label), &value))?;
    }
    for field in [
        "budget",
        "received",
        "transferred_in",
        "transferred_out",
        "disbursed",
        "balance",
    ] {
        let money = t!("money", amount = format!("{:>16}", yuan(&f[field])));
        let label = format!("fund.field.{field}");
        writeln!(stdout, "{}", table_line(&t!(&label), &money))?;
    }
    if let Some(bp) = f["execution_rate_bp"].as_u64() {
        let rate = format!("{:>16}%", format!("{}.{:02}", bp / 100, bp % 100));
        writeln!(stdout, "{}", table_line(&t!("fund.field.executed"), &rate))?;
    }
    let flows = f["receipts"].as_u64().unwrap_or(0)
        + f["transfers_in"].as_u64().unwrap_or(0)
        + f["transfers_out"].as_u64().unwrap_or(0)
        + f["disbursements"].as_u64().unwrap_or(0);
    if limit > 0 {
        let page = client.get_json(&format!(
            "/v1/funds/{}/flows?limit={}",
            seg(&id),
            limit.min(cli::client::PAGE)
        ))?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        writeln!(stdout)?;
        entries_table(stdout, &items, &names)?;
        if flows > items.len() as u64 {
            writeln!(
                stdout,
                "{}",
                t!(
                    "fund.more_flows",
                    shown = items.len(),
                    flows = flows,
                    page = cli::client::PAGE
                )
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn beneficiary(
    BeneficiaryArgs {
        node,
        secret_file,
        bnf,
    }: BeneficiaryArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let bnf = beneficiary_pseudonym(&bnf, secret_file.as_deref())?;
    let client = NodeClient::new(&node.node);
    let items = client.all_items(&format!("/v1/beneficiaries/{}", seg(&bnf)))?;
    entries_table(stdout, &items, &org_names(&client)?)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn iati_export(
    IatiArgs {
        node,
        org,
        fund,
        out,
    }: IatiArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&node.node);
    let now = format_timestamp(SystemTime::now());
    let now = format!("{}Z", &now[..19]);
    let xml = iati::export(&client, &org, fund.as_deref(), &now[..10], &now)?;
    write_durably(&out, xml.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    writeln!(stdout, "{}", t!("iati.wrote", path = out.display()))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn import_csv(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let ImportArgs {
        signer:
            SignerArgs {
                node,
                vkey,
                key,
                issuer,
            },
        kind,
        secret_file,
        encoding,
        allow_repeat,
        report,
        dry_run,
        witnessed,
        wait,
        receipts,
        file,
    } = args;
    let key = keyfile::read(&key)?;
    let secret = secret_file.map(|f| keyfile::read_secret(&f)).transpose()?;
    let bytes = std::fs::read(&file).with_context(|| t!("io.reading", path = file.display()))?;
    let rows = import::read_rows(&bytes, &encoding, kind, secret.as_deref())?;
    // The report speaks the input's language: Chinese for a Chinese sheet
    // or a Chinese interface.
    let report_zh = rows.gbk || rows.chinese_headers || i18n::is_zh();
    let report_gbk = rows.gbk;
    let client = NodeClient::new(&node.node);
    let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
    let trust = trust(verifier.clone(), &witnessed)?;
    let size_before = client.log_info()?.size;
    let opts = import::Import {
        issuer: &issuer,
        kind,
        key: &key,
        allow_repeat,
        dry_run,
    };
    let preflight = import::preflight(&client, &opts, &rows)?;
    for warning in &preflight.warnings {
        eprintln!("{}", t!("msg.warning", message = warning));
    }
    if !rows.ignored.is_empty() {
        eprintln!(
            "{}",
            t!("import.ignored", columns = rows.ignored.join(", "))
        );
    }
    let mut receipts_out = receipts
        .filter(|_| !dry_run)
        .map(|p| std::fs::File::create(&p).with_context(|| t!("io.creating", path = p.display())))
        .transpose()?
        .map(std::io::BufWriter::new);
    let stop = interrupt_flag()?;
    let started = std::time::Instant::now();
    let bar = progress(0, &t!("progress.importing"));
    let mut submitter = Submitter::new(&client, &verifier);
    let mut witness = |outcomes: &mut [receipt::Outcome]| {
        if trust.policy.is_some() {
            witnessed_receipts(&client, &trust, outcomes, Duration::from_secs(wait))?;
        }
        Ok(())
    };
    let summary = import::run(
        &opts,
        &client,
        &mut submitter,
        rows,
        &preflight.funds,
        size_before,
        &bar,
        &stop,
        &mut witness,
        |r| {
            if let Some(out) = receipts_out.as_mut() {
                // One whole line per write: an interrupted run leaves whole lines.
                let mut line = serde_json::to_vec(r)?;
                line.push(b'\n');
                out.write_all(&line)?;
            }
            Ok(())
        },
    )?;
    if let Some(out) = receipts_out {
        out.into_inner()?.sync_all()?;
    }
    let locale = rust_i18n::locale();
    for e in summary.errors.iter().take(20) {
        let message = t!(
            "explain",
            meaning = cli::explain::meaning(&locale, &e.code),
            message = e.message_in(&locale)
        );
        eprintln!(
            "{}",
            t!("import.row", row = e.row, code = e.code, message = message)
        );
    }
    if summary.errors.len() > 20 {
        eprintln!("{}", t!("import.more", count = summary.errors.len() - 20));
    }
    if let Some(report) = report {
        write_report(&report, &summary.errors, report_gbk, report_zh)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let refused = summary.errors.len() as u64 - summary.held;
    if dry_run {
        println!(
            "{}",
            t!(
                "import.dry_summary",
                rows = summary.rows,
                added = summary.added,
                already = summary.already,
                held = summary.held,
                refused = refused
            )
        );
    } else {
        println!(
            "{}",
            t!(
                "import.summary",
                rows = summary.rows,
                added = summary.added,
                already = summary.already,
                held = summary.held,
                refused = refused,
                secs = format!("{secs:.1}"),
                rate = format!("{:.0}", summary.rows as f64 / secs.max(1e-9))
            )
        );
    }
    if let Some(n) = summary.interrupted_after {
        eprintln!("{}", t!("import.interrupted", rows = n));
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The pseudonym to look up. A resident ID number is turned into one here
/// with the secret, or refused before any request: it never leaves this
/// machine.
pub(crate) fn beneficiary_pseudonym(
    given: &str,
    secret_file: Option<&Path>,
) -> anyhow::Result<String> {
    if ledger::ident::is_beneficiary(given) {
        return Ok(given.to_owned());
    }
    let looks_like_id = ledger::ident::find_pii(given).is_some()
        || given.trim().len() == 18 && given.trim().chars().take(17).all(|c| c.is_ascii_digit());
    if !looks_like_id {
        anyhow::bail!("{}", t!("beneficiary.shape"));
    }
    let Some(secret_file) = secret_file else {
        anyhow::bail!("{}", t!("beneficiary.never_sent"));
    };
    let secret = keyfile::read_secret(secret_file)?;
    pseudonym(&secret, given, PseudonymKind::Beneficiary)
        .map_err(|_| anyhow::anyhow!("{}", t!("beneficiary.bad_id")))
}

/// Writes the rows not imported so that Excel opens the file as it is: in
/// GBK if the input was GBK, else UTF-8 with a BOM; in Chinese (column
/// names, every problem, how to fix) if `zh`. One line per row, with all
/// its problems; amounts in yuan.
pub(crate) fn write_report(
    path: &Path,
    errors: &[import::RowError],
    gbk: bool,
    zh: bool,
) -> anyhow::Result<()> {
    use cli::explain;
    let locale = if zh { explain::ZH } else { "en" };
    let header = |key: &str| explain::lookup(locale, key);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        header("report.row"),
        header("report.code"),
        header("report.message"),
        header("report.fix"),
    ])?;
    for e in errors {
        let message = explain::lookup(locale, "explain")
            .replace("%{meaning}", &explain::meaning(locale, &e.code))
            .replace("%{message}", &e.message_in(locale));
        w.write_record([
            e.row.to_string(),
            e.code.clone(),
            message,
            explain::fix(locale, &e.code),
        ])?;
    }
    let text = String::from_utf8(w.into_inner()?)?;
    let bytes = if gbk {
        encoding_rs::GBK.encode(&text).0.into_owned()
    } else {
        let mut b = b"\xEF\xBB\xBF".to_vec();
        b.extend_from_slice(text.as_bytes());
        b
    };
    write_durably(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// A flag set by the first Ctrl-C (the import stops between arrays, with
/// whole lines in its receipts file); a second Ctrl-C stops at once.
pub(crate) fn interrupt_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    ctrlc::set_handler(move || {
        if set.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\n{}", t!("import.stopping"));
    })
    .with_context(|| t!("io.ctrlc"))?;
    Ok(flag)
}

pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| t!("io.reading", path = path.display()))
}

/// One entry, a JSON array of entries, or NDJSON.
pub(crate) fn parse_entries(bytes: &[u8]) -> anyhow::Result<Vec<SignedEntry>> {
    let parse = |v: Value| {
        SignedEntry::from_value(v)
            .map_err(|e| anyhow::anyhow!("{}", t!("submit.not_entry", error = e)))
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => items.into_iter().map(parse).collect(),
        Ok(v) => Ok(vec![parse(v)?]),
        Err(_) => bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.trim_ascii().is_empty())
            .map(|(i, l)| {
                serde_json::from_slice(l)
                    .map_err(anyhow::Error::from)
                    .and_then(parse)
                    .with_context(|| t!("io.line", line = i + 1))
            })
            .collect(),
    }
}

pub(crate) fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} {rate}/s eta {eta}")
            .expect("a valid template")
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}", state.per_sec());
                },
            ),
    );
    bar.set_message(what.to_string());
    bar
}

pub(crate) fn yuan(v: &Value) -> String {
    v.as_u64().map_or_else(|| "-".into(), vocab::yuan)
}

/// Entry summaries as a table: seq, date, kind, issuer, amount, detail.
/// Organisation ids → names, for tables that say who did what.
fn org_names(client: &NodeClient) -> anyhow::Result<HashMap<String, String>> {
    Ok(client
        .all_items("/v1/orgs")?
        .iter()
        .filter_map(|o| Some((o["id"].as_str()?.to_owned(), o["name"].as_str()?.to_owned())))
        .collect())
}

/// An organisation as a reader knows it: its name, then its id.
fn org_name(names: &HashMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

/// Columns a terminal gives a string: two for a Chinese character, one
/// for the rest.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `s` padded with spaces to `columns` on the terminal.
fn pad(s: &str, columns: usize) -> String {
    format!("{s}{}", " ".repeat(columns.saturating_sub(width(s))))
}

/// `s` right-aligned in `columns` on the terminal.
fn pad_left(s: &str, columns: usize) -> String {
    format!("{}{s}", " ".repeat(columns.saturating_sub(width(s))))
}

/// A label and its value, the labels aligned.
fn table_line(label: &str, value: &str) -> String {
    format!("{}{value}", pad(label, 16))
}

pub(crate) fn entries_table(
    out: &mut impl Write,
    items: &[Value],
    names: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let columns = |seq: &str, date: &str, kind: &str, issuer: &str, amount: &str, detail: &str| {
        format!(
            "{}  {}  {}  {}  {}  {detail}",
            pad_left(seq, 8),
            pad(date, 10),
            pad(kind, 14),
            pad(issuer, 28),
            pad_left(amount, 14)
        )
    };
    writeln!(
        out,
        "{}",
        columns(
            &t!("table.seq"),
            &t!("table.date"),
            &t!("table.kind"),
            &t!("table.issuer"),
            &t!("table.amount"),
            &t!("table.detail")
        )
    )?;
    for e in items {
        let b = &e["body"];
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        let logged = text(&e["logged_at"]);
        let date = b["date"]
            .as_str()
            .map_or_else(|| logged[..10.min(logged.len())].to_owned(), str::to_owned);
        let kind = text(&e["kind"]);
        let detail = match kind.as_str() {
            "disbursement" => format!(
                "{} {} {} {}",
                text(&b["fund"]),
                vocab::label("cause", &text(&b["cause"])),
                vocab::label("method", &text(&b["method"])),
                text(&b["region"])
            ),
            "fund.transfer" => format!("{} → {}", text(&b["from_fund"]), text(&b["to_fund"])),
            "fund.receive" => {
                t!("table.from", from = org_name(names, &text(&b["from"]))).into_owned()
            }
            "need.publish" => t!(
                "table.need",
                need = text(&b["need"]),
                cause = vocab::label("cause", &text(&b["cause"]))
            )
            .into_owned(),
            _ => String::new(),
        };
        let reversed = if e["reversed"] == true {
            t!("table.reversed").into_owned()
        } else {
            String::new()
        };
        let issuer = text(&e["issuer"]);
        let issuer = names.get(&issuer).cloned().unwrap_or(issuer);
        writeln!(
            out,
            "{}",
            columns(
                &e["seq"].to_string(),
                &date,
                &i18n::kind(&kind),
                &issuer,
                &yuan(&b["amount"]),
                &format!("{detail}{reversed}")
            )
        )?;
    }
    writeln!(out, "{}", t!("table.count", count = items.len()))?;
    Ok(())
}

pub(crate) fn witness(cmd: WitnessCmd, stdout: &mut impl Write) -> anyhow::Result<ExitCode> {
    use cli::witness;
    match cmd {
        WitnessCmd::Init(a) => {
            let vkey = witness::init(&a.dir, &a.name)?;
            writeln!(stdout, "{}", t!("witness.init.name", name = a.name))?;
            writeln!(stdout, "{}", t!("witness.init.vkey", vkey = vkey))?;
            writeln!(
                stdout,
                "{}",
                t!(
                    "witness.init.vkey_file",
                    path = a.dir.join(witness::VKEY_FILE).display()
                )
            )?;
            writeln!(
                stdout,
                "{}",
                t!(
                    "keygen.secret",
                    path = a.dir.join(witness::KEY_FILE).display()
                )
            )?;
        }
        WitnessCmd::AddLog(a) => {
            witness::add_log(&a.dir, &a.origin, &a.vkey)?;
            writeln!(
                stdout,
                "{}",
                t!("witness.trusting", origin = a.origin, vkey = a.vkey)
            )?;
        }
        WitnessCmd::Serve(a) => {
            let w = witness::Witness::open(&a.dir)?;
            eprintln!("{}", t!("witness.vkey", vkey = w.vkey()));
            witness::serve(w, &a.listen)?;
        }
        WitnessCmd::Evidence(a) => {
            let evidence = witness::Witness::open(&a.dir)?.evidence()?;
            for e in &evidence {
                writeln!(
                    stdout,
                    "{}",
                    t!(
                        "witness.evidence_line",
                        time = e.time,
                        origin = e.origin,
                        size = e.checkpoint.root.size,
                        root = e.checkpoint.root.hash,
                        path = e.path.display()
                    )
                )?;
            }
            if evidence.is_empty() {
                writeln!(stdout, "{}", t!("witness.no_evidence"))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a checkpoint must carry to be believed: the node's signature, and
/// the policy's quorum if one is given.
fn trust(verifier: CheckpointVerifier, args: &PolicyArgs) -> anyhow::Result<audit::Trust> {
    audit::Trust::with_policy(verifier, args.policy.as_deref(), args.max_age)
}

/// Moves each receipt onto the first witnessed checkpoint that covers all
/// of them (polled until `wait` has passed): its note and the inclusion
/// proof in its tree, checked.
fn witnessed_receipts(
    client: &NodeClient,
    trust: &audit::Trust,
    outcomes: &mut [receipt::Outcome],
    wait: Duration,
) -> anyhow::Result<()> {
    let Some(needed) = outcomes.iter().flatten().map(|r| r.seq + 1).max() else {
        return Ok(());
    };
    let deadline = std::time::Instant::now() + wait;
    let (note, cp) = loop {
        if let Ok(note) = client.checkpoint() {
            if let Ok(cp) = trust.check(&note) {
                if cp.root.size >= needed {
                    break (note, cp);
                }
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(Failed(
                t!(
                    "submit.no_witnessed",
                    seq = needed - 1,
                    secs = wait.as_secs()
                )
                .into_owned(),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let note = String::from_utf8(note).expect("a verified note is UTF-8");
    for r in outcomes.iter_mut().flatten() {
        let (leaf, path) = client.inclusion(r.seq, cp.root.size)?;
        if leaf != r.leaf_hash {
            return Err(Failed(t!("submit.other_leaf", seq = r.seq).into_owned()).into());
        }
        cp.root
            .verify_inclusion(&leaf, r.seq, &path)
            .map_err(|e| Failed(t!("submit.not_included", seq = r.seq, error = e).into_owned()))?;
        r.checkpoint = note.clone();
        r.inclusion = path;
    }
    Ok(())
}
