//! `aidledger`: keys, signing, bulk import, verification, receipts, export.

mod args;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use cli::{admin, i18n, Failed};
use ledger::domain::Kind;
use rust_i18n::t;

use args::*;

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
    /// Base URL of the node; several, comma-separated (the writer and its
    /// standbys), are tried in turn: the next one on a refused connection,
    /// a standby's redirect or `overloaded`, resubmitting the same entries.
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

/// A witness policy a checkpoint must meet (SPEC §4.1).
#[derive(Args)]
struct PolicyArgs {
    /// C2SP tlog-policy file: refuse a checkpoint its witnesses' quorum did
    /// not cosign.
    #[arg(long, env = "AIDLEDGER_POLICY")]
    policy: Option<PathBuf>,
    /// With --policy: refuse a checkpoint whose newest cosignature is older
    /// than this many seconds.
    #[arg(long)]
    max_age: Option<u64>,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    signer: SignerArgs,
    /// disbursement, fund.receive or credit.award.
    #[arg(long)]
    kind: Kind,
    /// The pseudonym service, for an id_number column (default: the one the
    /// ledger records; rules v2).
    #[arg(long)]
    service: Option<String>,
    /// utf-8, gbk or auto.
    #[arg(long, default_value = "auto")]
    encoding: String,
    /// Also import disbursements without a voucher number (ref) equal in fund,
    /// beneficiary, amount and date to one already in the ledger or earlier in the file.
    #[arg(long)]
    allow_repeat: bool,
    /// Also import disbursements that would raise a duplicate-aid alert (another
    /// organisation paid the family for the same cause within 90 days).
    #[arg(long)]
    allow_duplicates: bool,
    /// Write the rows not imported (row, code, every problem, how to fix)
    /// to this CSV, in the input's language (Chinese for a Chinese sheet or
    /// interface), amounts in yuan.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Check every row (against the node's state too: funds, balances,
    /// voucher numbers, repeats) and report; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// With a witness policy: receipts against the first witnessed
    /// checkpoint that covers each array of rows (waiting up to --wait
    /// seconds), so they pass `check-receipt --policy`.
    #[command(flatten)]
    witnessed: PolicyArgs,
    /// Seconds to wait for a witnessed checkpoint, with --policy.
    #[arg(long, default_value_t = 60)]
    wait: u64,
    /// Write the verified receipts (NDJSON) to this file.
    #[arg(long)]
    receipts: Option<PathBuf>,
    /// Also write each receipt as DIR/SEQ.tlog-proof (C2SP tlog-proof,
    /// SPEC §4.2) with its entry as DIR/SEQ.entry.json.
    #[arg(long, value_name = "DIR")]
    proofs_dir: Option<PathBuf>,
    /// The CSV file.
    file: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Create an Ed25519 signing key (mode 0600) and its public key in OUT.pub, and print both.
    Keygen(KeygenArgs),
    /// Start a new ledger: write entry 0 (the registrar organisation, signed by
    /// its key) to a fresh node and print what to publish: origin, vkey, genesis.
    Genesis(GenesisArgs),
    /// The pseudonym service (rules v2, SPEC §6.3): run it, or ask it for the pseudonyms of ID numbers.
    #[command(subcommand)]
    Pseudonym(PseudonymCmd),
    /// Sign a statement and print the entry (checked against the schema first).
    Sign(SignArgs),
    /// Submit entries (one JSON entry, an array, or NDJSON) and print verified receipts.
    Submit(SubmitArgs),
    /// Import spreadsheet rows (CSV, UTF-8 or GBK) as signed entries.
    Import(ImportArgs),
    /// Verify a whole ledger: signatures, chain, seqs, Merkle root and the rules.
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Check a receipt offline.
    #[command(after_help = EXIT_CODES)]
    CheckReceipt(CheckReceiptArgs),
    /// Fetch and check the inclusion proof of a seq in the latest checkpoint.
    #[command(after_help = EXIT_CODES)]
    Prove(ProveArgs),
    /// Watch the node's checkpoints; exit 1 on a fork or rollback.
    #[command(after_help = EXIT_CODES)]
    Monitor(MonitorArgs),
    /// Export the ledger as NDJSON leaves, with its checkpoint in OUT.checkpoint.
    Export(ExportArgs),
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
    Init(InitArgs),
    /// Show what one beneficiary received, across all organisations.
    Beneficiary(BeneficiaryArgs),
    /// Write IATI 2.03 activity XML for an organisation's funds.
    Iati(IatiArgs),
    /// Run a witness (C2SP tlog-witness): cosign only checkpoints that extend
    /// what it cosigned before.
    #[command(subcommand)]
    Witness(WitnessCmd),
    /// Activate the next rules version (registrar; SPEC §6.1).
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Review a need before it can be claimed (rules v2: two other organisations approve it).
    #[command(subcommand)]
    Need(NeedCmd),
    /// Monitor households at risk of falling back into poverty (rules v2).
    #[command(subcommand)]
    Household(HouseholdCmd),
    /// Approve disbursements waiting for a second key (rules v2); with no seq, list them.
    Approve(ApproveArgs),
    /// Reject disbursements waiting for a second key: their money returns to the fund.
    Reject(RejectArgs),
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Activate the version in force plus one, from the next entry on.
    Activate(RulesActivateArgs),
    /// Record the pseudonym service's public key and URL (registrar, once; rules v2).
    PseudonymKey(RulesPseudonymKeyArgs),
}

#[derive(Subcommand)]
enum NeedCmd {
    /// Approve or reject a pending need.
    Review(NeedReviewArgs),
}

#[derive(Subcommand)]
enum HouseholdCmd {
    /// Put a household under monitoring, or update its record.
    Monitor(HouseholdMonitorArgs),
    /// Record a visit and the next review's date.
    Visit(HouseholdVisitArgs),
    /// End a household's monitoring (risk removed).
    Close(HouseholdCloseArgs),
    /// Show a household's monitoring, its open alerts and its entries.
    Show(HouseholdShowArgs),
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
    Open(FundOpenArgs),
    /// Record money recovered into the issuer's fund (rules v2).
    Recover(FundRecoverArgs),
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Register an organisation with its keys (signed by the registrar).
    Register(OrgRegisterArgs),
}

#[derive(Subcommand)]
enum WitnessCmd {
    /// Create the witness's key (mode 0600) in DIR, its vkey in DIR/witness.vkey, and print it.
    Init(WitnessInitArgs),
    /// Trust a log: cosign checkpoints of ORIGIN signed with VKEY.
    AddLog(WitnessAddLogArgs),
    /// Serve POST /add-checkpoint and GET /<origin hash>/checkpoint.
    Serve(WitnessServeArgs),
    /// List the refused checkpoints kept as evidence of a fork.
    Evidence(WitnessDirArg),
}

#[derive(Args)]
struct WitnessDirArg {
    /// The witness's directory.
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Args)]
struct WitnessInitArgs {
    /// The witness's name, e.g. witness.audit.example.gov.cn.
    #[arg(long)]
    name: String,
    /// Its directory (created).
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Args)]
struct WitnessAddLogArgs {
    /// The witness's directory.
    #[arg(long)]
    dir: PathBuf,
    /// The log's origin.
    #[arg(long)]
    origin: String,
    /// The log's vkey.
    #[arg(long)]
    vkey: String,
}

#[derive(Args)]
struct WitnessServeArgs {
    /// The witness's directory.
    #[arg(long)]
    dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Add a key to an organisation.
    Add(KeyAddArgs),
    /// Revoke a key: entries it signs from now on are refused.
    Revoke(KeyRevokeArgs),
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

/// Turns transparent huge pages off for this process (Linux). mimalloc
/// marks its arenas for huge pages; an audit's replay state is freed at
/// every spill and built again, so each fresh 2 MiB page was cleared whole
/// by the kernel: ~8% of a 1M-entry `verify`. Elsewhere, or if the kernel
/// refuses, nothing changes but the page size.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

fn main() -> ExitCode {
    no_huge_pages();
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
                    if config.secret_file.is_some() {
                        eprintln!("{}", t!("config.secret_unused", path = path.display()));
                    }
                    for (name, value) in config.as_env() {
                        std::env::set_var(name, value);
                    }
                }
                Err(e) => {
                    eprintln!("{}", t!("msg.error", message = i18n::say_error(&e)));
                    return ExitCode::from(2);
                }
            }
        }
    }
    let parsed = i18n::localize(Cli::command())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => match i18n::clap_error(&e) {
            Some(message) => {
                eprintln!("{message}");
                return ExitCode::from(2);
            }
            None => e.exit(),
        },
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
            eprintln!("{}", t!("msg.error", message = i18n::say_error(&e)));
            ExitCode::from(2)
        }
    }
}

fn run(command: Command, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let stdout = &mut std::io::stdout().lock();
    match command {
        Command::Keygen(args) => commands::keygen(args, stdout),
        Command::Genesis(args) => commands::genesis(args, stdout),
        Command::Pseudonym(args) => commands::pseudonyms(args, stdout),
        Command::Sign(args) => commands::sign(args, stdout),
        Command::Submit(args) => commands::submit(args, stdout),
        Command::Import(args) => commands::sheet::import_csv(args),
        Command::Verify(args) => commands::check::verify(args, stdout),
        Command::CheckReceipt(args) => commands::check::check_receipt(args, stdout),
        Command::Prove(args) => commands::check::prove(args, stdout),
        Command::Monitor(args) => commands::check::monitor(args, stdout),
        Command::Export(args) => commands::check::export(args, stdout),
        Command::Fund(FundCmd {
            action: Some(FundAction::Open(args)),
            ..
        }) => commands::fund_open(args),
        Command::Fund(FundCmd {
            action: Some(FundAction::Recover(args)),
            ..
        }) => commands::workflow::fund_recover(args),
        Command::Fund(fund) => commands::tables::fund_show(fund, stdout),
        Command::Org(OrgCmd::Register(args)) => commands::org_register(args),
        Command::Key(KeyCmd::Add(args)) => commands::key_add(args),
        Command::Key(KeyCmd::Revoke(args)) => commands::key_revoke(args),
        Command::Init(args) => commands::init(args, stdout, config),
        Command::Beneficiary(args) => commands::tables::beneficiary(args, stdout),
        Command::Iati(args) => commands::tables::iati_export(args, stdout),
        Command::Witness(cmd) => commands::witness(cmd, stdout),
        Command::Rules(RulesCmd::Activate(args)) => commands::workflow::rules_activate(args),
        Command::Rules(RulesCmd::PseudonymKey(args)) => commands::workflow::pseudonym_key(args),
        Command::Need(NeedCmd::Review(args)) => commands::workflow::need_review(args),
        Command::Household(HouseholdCmd::Monitor(args)) => {
            commands::workflow::household_monitor(args)
        }
        Command::Household(HouseholdCmd::Visit(args)) => commands::workflow::household_visit(args),
        Command::Household(HouseholdCmd::Close(args)) => commands::workflow::household_close(args),
        Command::Household(HouseholdCmd::Show(args)) => {
            commands::workflow::household_show(args, stdout)
        }
        Command::Approve(args) => commands::workflow::approve(args, stdout),
        Command::Reject(args) => commands::workflow::reject(args),
    }
}
