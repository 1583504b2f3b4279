//! What each `aidledger` command does, one function per command; `main`
//! parses the command line and calls them. The auditor's commands are in
//! `check`, the tables in `tables`, the spreadsheet import in `sheet`.

pub(crate) mod check;
pub(crate) mod sheet;
pub(crate) mod tables;
pub(crate) mod workflow;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use cli::audit::{self};
use cli::client::NodeClient;
use cli::i18n;
use cli::receipt::{self, Submitter};
use cli::{admin, Failed};
use ledger::body;
use ledger::checkpoint::CheckpointVerifier;
use ledger::entry::{format_timestamp, SignedEntry};
use ledger::ident::PseudonymKind;
use ledger::keyfile;
use rust_i18n::t;
use serde_json::Value;

use crate::{
    FundOpenArgs, GenesisArgs, InitArgs, KeyAddArgs, KeyRevokeArgs, KeygenArgs, OrgRegisterArgs,
    PolicyArgs, PseudonymCmd, SignArgs, SubmitArgs, WitnessCmd,
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

/// `ids`, or the non-empty lines of stdin if there are none.
fn ids_or_stdin(ids: Vec<String>) -> anyhow::Result<Vec<String>> {
    if !ids.is_empty() {
        return Ok(ids);
    }
    Ok(std::io::stdin()
        .lock()
        .lines()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect())
}

pub(crate) fn pseudonyms(cmd: PseudonymCmd, stdout: &mut impl Write) -> anyhow::Result<ExitCode> {
    use cli::pseudonym::{client, service};
    match cmd {
        PseudonymCmd::Init(a) => {
            let public = service::init(&a.dir)?;
            writeln!(
                stdout,
                "{}",
                t!(
                    "keygen.secret",
                    path = a.dir.join(service::KEY_FILE).display()
                )
            )?;
            writeln!(stdout, "{public}")?;
        }
        PseudonymCmd::Serve(a) => {
            let s = service::Service::open(&a.dir, &a.node, a.quota)?;
            service::serve(s, &a.listen)?;
        }
        PseudonymCmd::Of(a) => {
            let node = NodeClient::new(&a.node);
            let signing = keyfile::read(&a.key)?;
            // Refusals (no key in the ledger, the service's, a proof that
            // fails, an ID that is none) exit 1; the rest 2.
            let c = client::PseudonymClient::from_ledger(
                &node,
                a.service.as_deref(),
                signing,
                &a.issuer,
            )?;
            let domain = if a.domain == "vol" {
                PseudonymKind::Volunteer
            } else {
                PseudonymKind::Beneficiary
            };
            let ids = client::normalise_all(&ids_or_stdin(a.ids)?)
                .map_err(|e| cli::Failed(e.to_string()))?;
            for p in c.pseudonyms(domain, &ids)? {
                writeln!(stdout, "{p}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `given` if it is a pseudonym, else the pseudonym of the resident ID
/// number it is. The number is normalised and
/// checked here and its pseudonym asked of the pseudonym service, blinded
/// (it never leaves this machine otherwise), or it is refused before any
/// request.
pub(crate) fn pseudonym_of(
    client: &NodeClient,
    given: &str,
    key: Option<&Path>,
    issuer: Option<&str>,
    service: Option<&str>,
) -> anyhow::Result<String> {
    if ledger::ident::is_beneficiary(given) {
        return Ok(given.to_owned());
    }
    let id = match ledger::ident::normalise_resident_id(given) {
        Ok(id) => id,
        Err(ledger::ident::IdProblem::CheckChar { expected }) => {
            return Err(
                cli::Failed(t!("beneficiary.check_char", expected = expected).into_owned()).into(),
            )
        }
        Err(ledger::ident::IdProblem::Shape) => anyhow::bail!("{}", t!("beneficiary.shape")),
    };
    let (Some(key), Some(issuer)) = (key, issuer) else {
        anyhow::bail!("{}", t!("beneficiary.never_sent"));
    };
    let pseudonyms = cli::pseudonym::client::PseudonymClient::from_ledger(
        client,
        service,
        keyfile::read(key)?,
        issuer,
    )?;
    let mut made = pseudonyms.pseudonyms(PseudonymKind::Beneficiary, &[id])?;
    Ok(made.remove(0))
}

impl crate::args::IdLookupArgs {
    /// `given`, or the pseudonym of the ID number it is (see [`pseudonym_of`]).
    pub(crate) fn pseudonym(&self, client: &NodeClient, given: &str) -> anyhow::Result<String> {
        pseudonym_of(
            client,
            given,
            self.key.as_deref(),
            self.issuer.as_deref(),
            self.service.url.as_deref(),
        )
    }
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
        anyhow::anyhow!("{}", t!("sign.refused", message = i18n::refusal(&r.into())))
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
        proofs_dir,
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
    let proofs = proofs_dir
        .as_deref()
        .map(receipt::ProofsDir::create)
        .transpose()?;
    let mut refused = 0;
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(r) => {
                if let Some(dir) = &proofs {
                    dir.write(r)?;
                }
                writeln!(stdout, "{}", serde_json::to_string(r)?)?
            }
            Err(e) => {
                refused += 1;
                let message = i18n::coded(e);
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
        approval_threshold: args.approval_threshold,
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
        let theirs = info.genesis.map(|h| h.to_hex());
        if theirs.as_deref() != Some(published.as_str()) {
            let none = t!("init.no_genesis");
            return Err(Failed(
                t!(
                    "init.other_genesis",
                    genesis = theirs.as_deref().unwrap_or(&none),
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
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let saved = cli::config::Config {
        node: Some(node),
        origin: Some(info.origin.clone()),
        vkey: Some(info.vkey.clone()),
        genesis: info.genesis.map(|h| h.to_hex()),
        key: key.map(absolute),
        issuer,
        secret_file: None,
    };
    saved.save(&path)?;
    let empty = t!("init.empty_ledger");
    for (label, value) in [
        ("init.origin", info.origin.clone()),
        ("init.vkey", info.vkey.clone()),
        ("init.key_id", format!("{:08x}", verifier.id())),
        (
            "init.genesis",
            info.genesis
                .map_or_else(|| empty.into_owned(), |h| h.to_hex()),
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
pub(crate) fn trust(
    verifier: CheckpointVerifier,
    args: &PolicyArgs,
) -> anyhow::Result<audit::Trust> {
    audit::Trust::with_policy(verifier, args.policy.as_deref(), args.max_age)
}

/// Moves each receipt onto the first witnessed checkpoint that covers all
/// of them (polled until `wait` has passed): its note and the inclusion
/// proof in its tree, checked.
pub(crate) fn witnessed_receipts(
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

/// Columns a terminal gives a string: two for a Chinese character, one
/// for the rest.
pub(crate) fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `s` padded with spaces to `columns` on the terminal.
pub(crate) fn pad(s: &str, columns: usize) -> String {
    format!("{s}{}", " ".repeat(columns.saturating_sub(width(s))))
}

/// `s` right-aligned in `columns` on the terminal.
pub(crate) fn pad_left(s: &str, columns: usize) -> String {
    format!("{}{s}", " ".repeat(columns.saturating_sub(width(s))))
}

/// A label and its value, the labels aligned.
pub(crate) fn table_line(label: &str, value: &str) -> String {
    format!("{}{value}", pad(label, 16))
}
