//! `aidledger`: keys, signing, bulk import, verification, receipts, export.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use cli::audit::{self, Pins, StateDir};
use cli::client::NodeClient;
use cli::i18n;
use cli::receipt::{self, Receipt, Submitter};
use cli::{admin, iati, import, write_durably, Failed};
use ledger::checkpoint::CheckpointVerifier;
use ledger::domain::Kind;
use ledger::entry::{format_timestamp, SignedEntry};
use ledger::ident::{pseudonym, PseudonymKind};
use ledger::keyfile;
use ledger::merkle::Hash;
use rust_i18n::t;
use serde_json::Value;

// The same table as the library's, for the messages this binary prints.
rust_i18n::i18n!("locales", fallback = "en");

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Marks the commands whose help ends with the exit statuses; the text is
/// the table's `cli.exit_codes`, put there by `i18n::localize`.
const EXIT_CODES: &str = "";

#[derive(Parser)]
#[command(
    name = "aidledger",
    version,
    about = "Sign, import and verify entries of the aid ledger"
)]
struct Cli {
    /// Config file written by `init` [default: $AIDLEDGER_CONFIG or ~/.config/aidledger/config.toml].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Language of the interface: zh or en [default: from LANG].
    #[arg(long, global = true)]
    lang: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct NodeArg {
    /// Base URL of the node.
    #[arg(long, env = "AIDLEDGER_NODE", default_value = "http://127.0.0.1:8080")]
    node: String,
}

#[derive(Args)]
struct VkeyArg {
    /// The node's checkpoint vkey (`name+keyid+key`). Without it, the vkey the node itself
    /// publishes at /v1/log is used, which proves consistency but not identity.
    #[arg(long, env = "AIDLEDGER_VKEY")]
    vkey: Option<String>,
    /// The genesis leaf hash published with the vkey; the node's must match.
    #[arg(long, env = "AIDLEDGER_GENESIS")]
    genesis: Option<String>,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// disbursement, fund.receive or credit.award.
    #[arg(long)]
    kind: Kind,
    /// Pseudonym secret, for an id_number column.
    #[arg(long, env = "AIDLEDGER_SECRET_FILE")]
    secret_file: Option<PathBuf>,
    /// utf-8, gbk or auto.
    #[arg(long, default_value = "auto")]
    encoding: String,
    /// Also import disbursements without a voucher number (ref) equal in fund,
    /// beneficiary, amount and date to one already in the ledger or earlier in the file.
    #[arg(long)]
    allow_repeat: bool,
    /// Write refused rows (row, code, message) to this CSV.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the verified receipts (NDJSON) to this file.
    #[arg(long)]
    receipts: Option<PathBuf>,
    /// The CSV file.
    file: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Create an Ed25519 signing key (mode 0600) and print its public key.
    Keygen {
        /// Key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the pseudonyms of resident ID numbers (arguments, or one per line on stdin).
    Pseudonym {
        /// File holding the deployment's pseudonym secret (mode 0600).
        #[arg(long, env = "AIDLEDGER_SECRET_FILE")]
        secret_file: PathBuf,
        /// Volunteer pseudonyms (vol_) instead of beneficiary ones (bnf_).
        #[arg(long)]
        volunteer: bool,
        /// ID numbers; read from stdin if none.
        ids: Vec<String>,
    },
    /// Sign a statement and print the entry (checked against the schema first).
    Sign {
        /// Signing key file.
        #[arg(long, env = "AIDLEDGER_KEY")]
        key: PathBuf,
        /// Issuing organisation id.
        #[arg(long, env = "AIDLEDGER_ISSUER")]
        issuer: String,
        /// Kind, e.g. disbursement.
        #[arg(long)]
        kind: Kind,
        /// Body JSON file, or - for stdin.
        #[arg(long)]
        body: PathBuf,
        /// Nonce (default: time and random digits).
        #[arg(long)]
        nonce: Option<String>,
        /// issued_at (default: now).
        #[arg(long)]
        issued_at: Option<String>,
    },
    /// Submit entries (one JSON entry, an array, or NDJSON) and print verified receipts.
    Submit {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        vkey: VkeyArg,
        /// File of entries, or - for stdin.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Import spreadsheet rows (CSV, UTF-8 or GBK) as signed entries.
    Import(ImportArgs),
    /// Verify a whole ledger: signatures, chain, seqs, Merkle root and the rules.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// Node to verify.
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        node: Option<String>,
        /// Export file (NDJSON leaves) to verify instead.
        #[arg(long, requires = "checkpoint")]
        file: Option<PathBuf>,
        /// The checkpoint the export must match.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The node's vkey.
        #[arg(long, env = "AIDLEDGER_VKEY")]
        vkey: String,
        /// Pinned genesis leaf hash.
        #[arg(long, env = "AIDLEDGER_GENESIS")]
        genesis: Option<String>,
        /// Keep the verified state here and verify only new entries next time.
        #[arg(long, conflicts_with = "file")]
        state_dir: Option<PathBuf>,
    },
    /// Check a receipt offline.
    #[command(after_help = EXIT_CODES)]
    CheckReceipt {
        /// The node's vkey.
        #[arg(long, env = "AIDLEDGER_VKEY")]
        vkey: String,
        /// The entry or leaf the receipt must be for.
        #[arg(long)]
        entry: Option<PathBuf>,
        /// Receipt JSON file.
        receipt: PathBuf,
    },
    /// Fetch and check the inclusion proof of a seq in the latest checkpoint.
    #[command(after_help = EXIT_CODES)]
    Prove {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        vkey: VkeyArg,
        /// The seq.
        seq: u64,
    },
    /// Watch the node's checkpoints; exit 1 on a fork or rollback.
    #[command(after_help = EXIT_CODES)]
    Monitor {
        #[command(flatten)]
        node: NodeArg,
        /// The node's vkey.
        #[arg(long, env = "AIDLEDGER_VKEY")]
        vkey: String,
        /// Seconds between polls.
        #[arg(long, default_value_t = 30)]
        interval: u64,
        /// Start from the checkpoint last verified in this state directory.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Export the ledger as NDJSON leaves, with its checkpoint in OUT.checkpoint.
    Export {
        #[command(flatten)]
        node: NodeArg,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a fund's totals and flows (`fund ID`), or open a fund (`fund open`).
    Fund(FundCmd),
    /// Register an organisation and its keys (registrar).
    #[command(subcommand)]
    Org(OrgCmd),
    /// Add or revoke an organisation's key (its admin, or the registrar).
    #[command(subcommand)]
    Key(KeyCmd),
    /// Fetch the node's origin, vkey and genesis, show them to compare with
    /// what the operator published, and write them (with your key, issuer
    /// and secret paths) to the config file that later commands read.
    Init {
        /// Base URL of the node.
        #[arg(long)]
        node: String,
        /// The vkey the operator published: init refuses a node that differs.
        #[arg(long)]
        vkey: Option<String>,
        /// The genesis leaf hash the operator published: likewise.
        #[arg(long)]
        genesis: Option<String>,
        /// Your signing key file.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The organisation you sign for.
        #[arg(long)]
        issuer: Option<String>,
        /// The deployment's pseudonym secret file.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Show what one beneficiary received, across all organisations.
    Beneficiary {
        #[command(flatten)]
        node: NodeArg,
        /// Pseudonym secret: turns a resident ID number given instead of a
        /// pseudonym into one on this machine (the number is never sent).
        #[arg(long, env = "AIDLEDGER_SECRET_FILE")]
        secret_file: Option<PathBuf>,
        /// bnf_ pseudonym, or a resident ID number with --secret-file.
        bnf: String,
    },
    /// Write IATI 2.03 activity XML for an organisation's funds.
    Iati {
        #[command(flatten)]
        node: NodeArg,
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Only this fund.
        #[arg(long)]
        fund: Option<String>,
        /// Output XML file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Who signs an entry and where it goes.
#[derive(Args)]
struct SignerArgs {
    #[command(flatten)]
    node: NodeArg,
    #[command(flatten)]
    vkey: VkeyArg,
    /// Signing key file.
    #[arg(long, env = "AIDLEDGER_KEY")]
    key: PathBuf,
    /// The organisation that signs.
    #[arg(long, env = "AIDLEDGER_ISSUER")]
    issuer: String,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct FundCmd {
    #[command(subcommand)]
    action: Option<FundAction>,
    #[command(flatten)]
    node: NodeArg,
    /// Flows shown (oldest first); 0 shows only the totals.
    #[arg(long, default_value_t = 50)]
    limit: u64,
    /// Fund id.
    id: Option<String>,
}

#[derive(Subcommand)]
enum FundAction {
    /// Open a fund owned by the issuer (a key with the fund role).
    Open {
        #[command(flatten)]
        signer: SignerArgs,
        /// Fund id, e.g. MZ-2026-MED.
        #[arg(long)]
        id: String,
        /// Title, e.g. 2026年大病救助.
        #[arg(long)]
        title: String,
        /// dibao, tekun, temporary, medical, education, housing, employment, disaster or other.
        #[arg(long)]
        category: String,
        /// fiscal, donation, crowdfunding, union_dues or other.
        #[arg(long)]
        source: String,
        /// 6-digit region code (GB/T 2260).
        #[arg(long)]
        region: String,
        /// Budget in yuan.
        #[arg(long, default_value = "0")]
        budget: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        start: String,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        end: String,
    },
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Register an organisation with its keys (signed by the registrar).
    Register {
        #[command(flatten)]
        signer: SignerArgs,
        /// The new organisation's id, e.g. CN-USCI-53440300MJ0000018R.
        #[arg(long)]
        id: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// government, union, charity or other.
        #[arg(long = "type")]
        org_type: String,
        /// 6-digit region code (GB/T 2260).
        #[arg(long)]
        region: String,
        /// One of its keys and the roles it holds: HEX=role,role (repeat for more keys).
        #[arg(long = "org-key", required = true)]
        org_keys: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Add a key to an organisation.
    Add {
        #[command(flatten)]
        signer: SignerArgs,
        /// The organisation.
        #[arg(long)]
        org: String,
        /// The new public key (64 hex digits, as keygen prints it).
        #[arg(long)]
        public: String,
        /// Its roles, comma-separated: admin, fund, disburse, credit, assess, publish (registrar only by a registrar).
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
    },
    /// Revoke a key: entries it signs from now on are refused.
    Revoke {
        #[command(flatten)]
        signer: SignerArgs,
        /// The organisation.
        #[arg(long)]
        org: String,
        /// The public key to revoke.
        #[arg(long)]
        public: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: String,
    },
}

impl From<SignerArgs> for admin::Signer {
    fn from(a: SignerArgs) -> admin::Signer {
        admin::Signer {
            node: a.node.node,
            vkey: a.vkey.vkey,
            genesis: a.vkey.genesis,
            key: a.key,
            issuer: a.issuer,
        }
    }
}

/// The first word on the command line that is not an option (nor
/// `--config`'s value): the subcommand.
fn subcommand() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--config" || a == "--lang" {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// The value of a global option given on the command line (`--name V` or
/// `--name=V`), read before clap parses: the config and the language
/// decide the defaults and the help clap is given.
fn global_flag(name: &str) -> Option<String> {
    let mut args = std::env::args_os().skip(1);
    let long = format!("--{name}");
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        if a == long {
            return args.next().map(|v| v.to_string_lossy().into_owned());
        }
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

fn main() -> ExitCode {
    // The config's values become the defaults of their flags (clap reads
    // them from AIDLEDGER_* variables); flags and variables set by the
    // user win. `init` writes the file, so it does not read it.
    i18n::choose(global_flag("lang").as_deref());
    let is_init = subcommand().as_deref() == Some("init");
    if !is_init {
        if let Some(path) = global_flag("config")
            .map(PathBuf::from)
            .or_else(cli::config::default_path)
        {
            match cli::config::Config::load(&path) {
                Ok(config) => {
                    for (name, value) in config.as_env() {
                        std::env::set_var(name, value);
                    }
                }
                Err(e) => {
                    eprintln!("{}", t!("msg.error", message = format!("{e:#}")));
                    return ExitCode::from(2);
                }
            }
        }
    }
    let matches = i18n::localize(Cli::command()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli.command, cli.config) {
        Ok(code) => code,
        Err(e) if e.is::<Failed>() => {
            eprintln!("{}", t!("msg.failed", message = e.to_string()));
            ExitCode::from(1)
        }
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", t!("msg.error", message = format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn run(command: Command, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::Keygen { out } => {
            let key = keyfile::create(&out)?;
            writeln!(stdout, "{}", hex::encode(key.verifying_key().to_bytes()))?;
        }
        Command::Pseudonym {
            secret_file,
            volunteer,
            ids,
        } => {
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
        }
        Command::Sign {
            key,
            issuer,
            kind,
            body,
            nonce,
            issued_at,
        } => {
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
        }
        Command::Submit { node, vkey, file } => {
            let entries = parse_entries(&read_input(&file)?)?;
            if entries.is_empty() {
                anyhow::bail!("{}", t!("submit.empty"));
            }
            let client = NodeClient::new(&node.node);
            let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
            let outcomes = Submitter::new(&client, &verifier).submit(&entries)?;
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
        }
        Command::Import(args) => return import_csv(args),
        Command::Verify {
            node,
            file,
            checkpoint,
            vkey,
            genesis,
            state_dir,
        } => {
            let pins = Pins {
                verifier: CheckpointVerifier::from_vkey(&vkey).context("--vkey")?,
                genesis: genesis
                    .map(|g| g.parse::<Hash>())
                    .transpose()
                    .map_err(|_| anyhow::anyhow!("--genesis is not 64 hex digits"))?,
            };
            let started = std::time::Instant::now();
            let bar = progress(0, &t!("progress.verifying"));
            let (cp, verified) = match (node, file) {
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
                (None, None) => unreachable!("clap requires --node or --file"),
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
        }
        Command::CheckReceipt {
            vkey,
            entry,
            receipt,
        } => {
            let verifier = CheckpointVerifier::from_vkey(&vkey).context("--vkey")?;
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
                if let Some(entry) = &entry {
                    let other: Value = serde_json::from_slice(&read_input(entry)?)
                        .context("the entry file is not JSON")?;
                    receipt::check_entry(r, &other).map_err(Failed)?;
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
        }
        Command::Prove { node, vkey, seq } => {
            let client = NodeClient::new(&node.node);
            let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
            let note = client.checkpoint()?;
            let cp = audit::verify_checkpoint(&verifier, &note)?;
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
        }
        Command::Monitor {
            node,
            vkey,
            interval,
            state_dir,
        } => {
            let verifier = CheckpointVerifier::from_vkey(&vkey).context("--vkey")?;
            let client = NodeClient::new(&node.node);
            let start = match state_dir {
                Some(d) => StateDir(d).checkpoint()?,
                None => None,
            };
            audit::monitor(
                &verifier,
                &client,
                start,
                Duration::from_secs(interval),
                &mut stdout,
            )?;
        }
        Command::Export { node, out } => {
            let client = NodeClient::new(&node.node);
            let note = client.checkpoint()?;
            let size: u64 = String::from_utf8_lossy(&note)
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .context("the node's checkpoint has no size line")?;
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&out)
                    .with_context(|| format!("creating {}", out.display()))?,
            );
            let bar = progress(size, &t!("progress.exporting"));
            client.leaves(0, size, |seq, bytes| {
                f.write_all(bytes)?;
                f.write_all(b"\n")?;
                if seq % 4096 == 0 {
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
        }
        Command::Fund(FundCmd {
            action:
                Some(FundAction::Open {
                    signer,
                    id,
                    title,
                    category,
                    source,
                    region,
                    budget,
                    start,
                    end,
                }),
            ..
        }) => {
            let budget = import::yuan_to_fen(&budget).map_err(anyhow::Error::msg)?;
            let body = serde_json::json!({"fund": id, "title": title, "category": category,
                "source": source, "region": region, "currency": "CNY", "budget": budget,
                "start": start, "end": end});
            return admin::sign_and_submit(
                &signer.into(),
                Kind::FundOpen,
                body,
                &format!("fund {id} opened"),
            );
        }
        Command::Org(OrgCmd::Register {
            signer,
            id,
            name,
            org_type,
            region,
            org_keys,
        }) => {
            admin::check_org_id(&id)?;
            let keys = org_keys
                .iter()
                .map(|k| admin::key_with_roles(k))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let body = serde_json::json!({"org": {"id": id, "name": name, "type": org_type, "region": region},
                "keys": keys});
            return admin::sign_and_submit(
                &signer.into(),
                Kind::OrgRegister,
                body,
                &format!("{id} registered"),
            );
        }
        Command::Key(KeyCmd::Add {
            signer,
            org,
            public,
            roles,
        }) => {
            let body = serde_json::json!({"org": org, "key": public, "roles": roles});
            return admin::sign_and_submit(
                &signer.into(),
                Kind::KeyAdd,
                body,
                &format!("key {public} added to {org}"),
            );
        }
        Command::Key(KeyCmd::Revoke {
            signer,
            org,
            public,
            reason,
        }) => {
            let body = serde_json::json!({"org": org, "key": public, "reason": reason});
            return admin::sign_and_submit(
                &signer.into(),
                Kind::KeyRevoke,
                body,
                &format!("key {public} of {org} revoked"),
            );
        }
        Command::Init {
            node,
            vkey,
            genesis,
            key,
            issuer,
            secret_file,
        } => {
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
        }
        Command::Fund(FundCmd {
            action: None,
            node,
            limit,
            id,
        }) => {
            let id = id.context("give a fund id (aidledger fund ID), or aidledger fund open …")?;
            let client = NodeClient::new(&node.node);
            let f = client.get_json(&format!("/v1/funds/{id}"))?;
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
                    "/v1/funds/{id}/flows?limit={}",
                    limit.min(cli::client::PAGE)
                ))?;
                let items = page["items"].as_array().cloned().unwrap_or_default();
                writeln!(stdout)?;
                entries_table(&mut stdout, &items)?;
                if flows > items.len() as u64 {
                    writeln!(
                        stdout,
                        "… {} of {flows} flows shown; --limit N shows more (at most {})",
                        items.len(),
                        cli::client::PAGE
                    )?;
                }
            }
        }
        Command::Beneficiary {
            node,
            secret_file,
            bnf,
        } => {
            let bnf = beneficiary_pseudonym(&bnf, secret_file.as_deref())?;
            let client = NodeClient::new(&node.node);
            entries_table(
                &mut stdout,
                &client.all_items(&format!("/v1/beneficiaries/{bnf}"))?,
            )?;
        }
        Command::Iati {
            node,
            org,
            fund,
            out,
        } => {
            let client = NodeClient::new(&node.node);
            let now = format_timestamp(SystemTime::now());
            let now = format!("{}Z", &now[..19]);
            let xml = iati::export(&client, &org, fund.as_deref(), &now[..10], &now)?;
            write_durably(&out, xml.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            writeln!(stdout, "wrote {}", out.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import_csv(args: ImportArgs) -> anyhow::Result<ExitCode> {
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
        receipts,
        file,
    } = args;
    let key = keyfile::read(&key)?;
    let secret = secret_file.map(|f| keyfile::read_secret(&f)).transpose()?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let rows = import::read_rows(&bytes, &encoding, kind, secret.as_deref())?;
    let report_style = (rows.gbk, rows.chinese_headers);
    let client = NodeClient::new(&node.node);
    let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
    let size_before = client.log_info()?.size;
    let opts = import::Import {
        issuer: &issuer,
        kind,
        key: &key,
        allow_repeat,
    };
    for warning in import::preflight(&client, &opts, &rows)? {
        eprintln!("{}", t!("msg.warning", message = warning));
    }
    if !rows.ignored.is_empty() {
        eprintln!(
            "{}",
            t!("import.ignored", columns = rows.ignored.join(", "))
        );
    }
    let mut receipts_out = receipts
        .map(|p| std::fs::File::create(&p).with_context(|| format!("creating {}", p.display())))
        .transpose()?
        .map(std::io::BufWriter::new);
    let stop = interrupt_flag()?;
    let started = std::time::Instant::now();
    let bar = progress(0, &t!("progress.importing"));
    let mut submitter = Submitter::new(&client, &verifier);
    let summary = import::run(
        &opts,
        &client,
        &mut submitter,
        rows,
        size_before,
        &bar,
        &stop,
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
    for e in summary.errors.iter().take(20) {
        let message = i18n::explain(&e.code, &e.message);
        eprintln!(
            "{}",
            t!("import.row", row = e.row, code = e.code, message = message)
        );
    }
    if summary.errors.len() > 20 {
        eprintln!("{}", t!("import.more", count = summary.errors.len() - 20));
    }
    if let Some(report) = report {
        write_report(&report, &summary.errors, report_style)?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        t!(
            "import.summary",
            rows = summary.rows,
            added = summary.added,
            already = summary.already,
            held = summary.held,
            refused = summary.errors.len() as u64 - summary.held,
            secs = format!("{secs:.1}"),
            rate = format!("{:.0}", summary.rows as f64 / secs.max(1e-9))
        )
    );
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
fn beneficiary_pseudonym(given: &str, secret_file: Option<&Path>) -> anyhow::Result<String> {
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
/// GBK if the input was GBK, else UTF-8 with a BOM; Chinese column names if
/// the input had them (`style` = (gbk, chinese headers)).
fn write_report(
    path: &Path,
    errors: &[import::RowError],
    (gbk, chinese): (bool, bool),
) -> anyhow::Result<()> {
    let header = |key: &str| {
        if chinese {
            t!(key, locale = "zh-CN").into_owned()
        } else {
            t!(key, locale = "en").into_owned()
        }
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        header("report.row"),
        header("report.code"),
        header("report.message"),
    ])?;
    for e in errors {
        w.write_record([e.row.to_string(), e.code.clone(), e.message.clone()])?;
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
fn interrupt_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
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

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// One entry, a JSON array of entries, or NDJSON.
fn parse_entries(bytes: &[u8]) -> anyhow::Result<Vec<SignedEntry>> {
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

fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
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

fn yuan(v: &Value) -> String {
    v.as_u64().map_or_else(|| "-".into(), import::yuan)
}

/// Entry summaries as a table: seq, date, kind, issuer, amount, detail.
fn entries_table(out: &mut impl Write, items: &[Value]) -> anyhow::Result<()> {
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
