//! What each `aidledger` command does, one function per command; `main`
//! parses the command line and calls them.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use cli::audit::{self, Pins, StateDir};
use cli::client::{seg, NodeClient};
use cli::i18n;
use cli::receipt::{self, Receipt, Submitter};
use cli::{admin, iati, import, write_durably, Failed};
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
                "ID number {} of {} has a wrong check character",
                ids.iter().position(|x| x == id).unwrap_or(0) + 1,
                ids.len()
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
        serde_json::from_slice(&read_input(&body)?).context("the body is not JSON")?;
    if let Some((path, pii)) = ledger::ident::pii_in_body(&body) {
        anyhow::bail!(
            "not signing: {path} holds {}; use a pseudonym",
            pii.describe()
        );
    }
    let nonce = nonce.unwrap_or_else(cli::fresh_nonce);
    let issued_at = issued_at.unwrap_or_else(|| format_timestamp(SystemTime::now()));
    let entry = SignedEntry::create(&key, &issuer, kind, &nonce, &issued_at, body)?;
    let value = serde_json::to_value(&entry)?;
    ledger::rules::check_submission_value(value.clone())
        .map_err(|r| anyhow::anyhow!("not signing: {r}"))?;
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
    let pins = Pins {
        trust: trust(
            CheckpointVerifier::from_vkey(&vkey).context("--vkey")?,
            &witnessed,
        )?,
        genesis: genesis
            .map(|g| g.parse::<Hash>())
            .transpose()
            .map_err(|_| anyhow::anyhow!("--genesis is not 64 hex digits"))?,
        replay_memory: replay_memory_mib << 20,
    };
    // The config's node (AIDLEDGER_NODE) when neither a file nor tiles are
    // given: read here, since clap would take a variable's value as given
    // and refuse it beside --file.
    let node = node.or_else(|| {
        (file.is_none() && tiles.is_none())
            .then(|| std::env::var(cli::config::NODE_VAR).ok())
            .flatten()
    });
    anyhow::ensure!(
        node.is_some() || file.is_some() || tiles.is_some(),
        "{}",
        t!("verify.what")
    );
    let started = std::time::Instant::now();
    let bar = progress(0, &t!("progress.verifying"));
    let (cp, verified) = match (node, file) {
        _ if tiles.is_some() => {
            let client = NodeClient::new(tiles.as_deref().expect("just checked"));
            let cp = audit::verify_tiles(&pins, &client, &bar)?;
            let n = cp.root.size;
            (cp, n)
        }
        (_, Some(file)) => {
            let cp = audit::verify_file(
                &pins,
                &file,
                checkpoint.as_deref().expect("clap requires it"),
                &bar,
            )?;
            let n = cp.root.size;
            (cp, n)
        }
        (Some(node), None) => {
            let client = NodeClient::new(&node);
            audit::verify_node(&pins, &client, state_dir.map(StateDir).as_ref(), &bar)?
        }
        (None, None) => unreachable!("one of --node, --tiles, --file, checked above"),
    };
    let secs = started.elapsed().as_secs_f64();
    if verified == 0 && cp.root.size > 0 {
        writeln!(
            stdout,
            "{}",
            t!(
                "verify.nothing_new",
                size = cp.root.size,
                root = cp.root.hash
            )
        )?;
    } else {
        writeln!(
            stdout,
            "{}",
            t!(
                "verify.done",
                count = verified,
                size = cp.root.size,
                root = cp.root.hash,
                secs = format!("{secs:.1}"),
                rate = format!("{:.0}", verified as f64 / secs.max(1e-9))
            )
        )?;
    }
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
    let verifier = CheckpointVerifier::from_vkey(&vkey).context("--vkey")?;
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
                serde_json::from_slice(l)
                    .with_context(|| format!("line {} is not a receipt", i + 1))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    if receipts.is_empty() {
        anyhow::bail!("{} holds no receipt", receipt.display());
    }
    if entry.is_some() && receipts.len() > 1 {
        anyhow::bail!(
            "--entry checks one receipt; the file holds {}",
            receipts.len()
        );
    }
    for (i, r) in receipts.iter().enumerate() {
        let cp = receipt::check(&verifier, r)
            .map_err(|e| Failed(format!("receipt {} (seq {}): {e}", i + 1, r.seq)))?;
        policy.check(r.checkpoint.as_bytes())?;
        if let Some(entry) = &entry {
            let other: Value = serde_json::from_slice(&read_input(entry)?)
                .context("the entry file is not JSON")?;
            receipt::check_entry(r, &other).map_err(|e| Failed(e.to_string()))?;
        }
        if receipts.len() == 1 {
            writeln!(
                stdout,
                "{}",
                t!(
                    "receipt.one",
                    seq = r.seq,
                    size = cp.root.size,
                    root = cp.root.hash
                )
            )?;
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
    cp.root.verify_inclusion(&leaf, seq, &path).map_err(|e| {
        Failed(format!(
            "the inclusion proof of seq {seq} does not verify: {e}"
        ))
    })?;
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
        interval,
        state_dir,
        witnessed,
    }: MonitorArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let trust = trust(
        CheckpointVerifier::from_vkey(&vkey).context("--vkey")?,
        &witnessed,
    )?;
    let client = NodeClient::new(&node.node);
    let start = match state_dir {
        Some(d) => StateDir(d).checkpoint()?,
        None => None,
    };
    audit::monitor(
        &trust,
        &client,
        start,
        Duration::from_secs(interval),
        stdout,
    )?;
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
        .context("the node's checkpoint has no size line")?;
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?,
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
        "exported {size} entries to {} (checkpoint in {})",
        out.display(),
        Path::new(&cp_path).display()
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
    let done = format!("fund {} opened", body.fund);
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
    let done = format!("{} registered", body.org.id);
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn key_add(args: KeyAddArgs) -> anyhow::Result<ExitCode> {
    let done = format!("key {} added to {}", args.public, args.org);
    let body = body::KeyAdd {
        org: args.org,
        key: args.public,
        roles: args.roles,
    };
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn key_revoke(args: KeyRevokeArgs) -> anyhow::Result<ExitCode> {
    let done = format!("key {} of {} revoked", args.public, args.org);
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
        .context("no config path: give --config or set HOME")?;
    let client = NodeClient::new(&node);
    let info = client.log_info()?;
    let verifier = CheckpointVerifier::from_vkey(&info.vkey).context("the node's vkey")?;
    verifier.verify(&client.checkpoint()?).map_err(|e| {
        Failed(format!(
            "the node's checkpoint does not verify with its own vkey: {e}"
        ))
    })?;
    if let Some(published) = &vkey {
        if *published != info.vkey {
            return Err(Failed(format!(
                "the node's vkey {} is not the published {published}: another node, or a wrong URL; nothing was written",
                info.vkey
            ))
            .into());
        }
    }
    if let Some(published) = &genesis {
        if info.genesis.as_deref() != Some(published.as_str()) {
            return Err(Failed(format!(
                "the node's genesis {} is not the published {published}: another ledger; nothing was written",
                info.genesis.as_deref().unwrap_or("(none)")
            ))
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
    writeln!(stdout, "origin   {}", info.origin)?;
    writeln!(stdout, "vkey     {}", info.vkey)?;
    writeln!(stdout, "key id   {:08x}", verifier.id())?;
    writeln!(
        stdout,
        "genesis  {}",
        info.genesis.as_deref().unwrap_or("(empty ledger)")
    )?;
    writeln!(stdout, "size     {}", info.size)?;
    let compared = match (&vkey, &genesis) {
        (Some(_), Some(_)) => "the vkey and the genesis match what you gave",
        (Some(_), None) => "the vkey matches what you gave; compare the genesis with what the operator published",
        (None, Some(_)) => "the genesis matches what you gave; compare the vkey with what the operator published",
        (None, None) => "compare the vkey and the genesis with what the operator published before you trust them",
    };
    writeln!(stdout, "{compared}; written to {}", path.display())?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn fund_show(
    FundCmd {
        node, limit, id, ..
    }: FundCmd,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let id = id.context("give a fund id (aidledger fund ID), or aidledger fund open …")?;
    let client = NodeClient::new(&node.node);
    let f = client.get_json(&format!("/v1/funds/{}", seg(&id)))?;
    for field in [
        "fund", "title", "owner", "category", "source", "region", "start", "end",
    ] {
        writeln!(stdout, "{field:<16}{}", f[field].as_str().unwrap_or("-"))?;
    }
    for field in [
        "budget",
        "received",
        "transferred_in",
        "transferred_out",
        "disbursed",
        "balance",
    ] {
        writeln!(stdout, "{field:<16}{:>16} CNY", yuan(&f[field]))?;
    }
    if let Some(bp) = f["execution_rate_bp"].as_u64() {
        writeln!(
            stdout,
            "{:<16}{:>15}.{:02}%",
            "executed",
            bp / 100,
            bp % 100
        )?;
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
        entries_table(stdout, &items)?;
        if flows > items.len() as u64 {
            writeln!(
                stdout,
                "… {} of {flows} flows shown; --limit N shows more (at most {})",
                items.len(),
                cli::client::PAGE
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
    entries_table(
        stdout,
        &client.all_items(&format!("/v1/beneficiaries/{}", seg(&bnf)))?,
    )?;
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
    writeln!(stdout, "wrote {}", out.display())?;
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
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
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
        .map(|p| std::fs::File::create(&p).with_context(|| format!("creating {}", p.display())))
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
        .map_err(|_| anyhow::anyhow!("the resident ID number has a wrong check character"))
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
    .context("installing the Ctrl-C handler")?;
    Ok(flag)
}

pub(crate) fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// One entry, a JSON array of entries, or NDJSON.
pub(crate) fn parse_entries(bytes: &[u8]) -> anyhow::Result<Vec<SignedEntry>> {
    let parse = |v: Value| SignedEntry::from_value(v).map_err(anyhow::Error::from);
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
                    .with_context(|| format!("line {}", i + 1))
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
    v.as_u64().map_or_else(|| "-".into(), import::yuan)
}

/// Entry summaries as a table: seq, date, kind, issuer, amount, detail.
pub(crate) fn entries_table(out: &mut impl Write, items: &[Value]) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:>8}  {:<10}  {:<14}  {:<28}  {:>14}  detail",
        "seq", "date", "kind", "issuer", "amount CNY"
    )?;
    for e in items {
        let b = &e["body"];
        let date = b["date"].as_str().unwrap_or_else(|| {
            &e["logged_at"].as_str().unwrap_or("")
                [..10.min(e["logged_at"].as_str().unwrap_or("").len())]
        });
        let detail = match e["kind"].as_str().unwrap_or("") {
            "disbursement" => format!(
                "{} {} {} {}",
                b["fund"].as_str().unwrap_or(""),
                b["cause"].as_str().unwrap_or(""),
                b["method"].as_str().unwrap_or(""),
                b["region"].as_str().unwrap_or("")
            ),
            "fund.transfer" => format!(
                "{} → {}",
                b["from_fund"].as_str().unwrap_or(""),
                b["to_fund"].as_str().unwrap_or("")
            ),
            "fund.receive" => format!("from {}", b["from"].as_str().unwrap_or("")),
            "need.publish" => format!(
                "need {} {}",
                b["need"].as_str().unwrap_or(""),
                b["cause"].as_str().unwrap_or("")
            ),
            _ => String::new(),
        };
        let reversed = if e["reversed"] == true {
            " (reversed)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:>8}  {:<10}  {:<14}  {:<28}  {:>14}  {detail}{reversed}",
            e["seq"],
            date,
            e["kind"].as_str().unwrap_or(""),
            e["issuer"].as_str().unwrap_or(""),
            yuan(&b["amount"])
        )?;
    }
    writeln!(out, "{} entries", items.len())?;
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
            writeln!(stdout, "trusting {} ({})", a.origin, a.vkey)?;
        }
        WitnessCmd::Serve(a) => {
            let w = witness::Witness::open(&a.dir)?;
            eprintln!("witness {}", w.vkey());
            witness::serve(w, &a.listen)?;
        }
        WitnessCmd::Evidence(a) => {
            let evidence = witness::Witness::open(&a.dir)?.evidence()?;
            for e in &evidence {
                writeln!(
                    stdout,
                    "{}\t{}\tsize {}\troot {}\t{}",
                    e.time,
                    e.origin,
                    e.checkpoint.root.size,
                    e.checkpoint.root.hash,
                    e.path.display()
                )?;
            }
            if evidence.is_empty() {
                writeln!(
                    stdout,
                    "no evidence: every signed checkpoint extended the last one"
                )?;
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
            return Err(Failed(format!(
                "no witnessed checkpoint covering seq {} within {} s; the receipts are the node's promise only",
                needed - 1,
                wait.as_secs()
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let note = String::from_utf8(note).expect("a verified note is UTF-8");
    for r in outcomes.iter_mut().flatten() {
        let (leaf, path) = client.inclusion(r.seq, cp.root.size)?;
        if leaf != r.leaf_hash {
            return Err(Failed(format!("seq {}: the node now shows another leaf", r.seq)).into());
        }
        cp.root.verify_inclusion(&leaf, r.seq, &path).map_err(|e| {
            Failed(format!(
                "seq {}: no inclusion in the witnessed checkpoint: {e}",
                r.seq
            ))
        })?;
        r.checkpoint = note.clone();
        r.inclusion = path;
    }
    Ok(())
}
