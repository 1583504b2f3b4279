//! The arguments of the commands that take their own struct (the command
//! table itself is in `main.rs`).

use std::path::PathBuf;

use clap::Args;
use cli::parse;
use ledger::domain::{Category, Decision, Kind, OrgType, RecoveryReason, Risk, Role, Source, Tier};

use crate::{NodeArg, PolicyArgs, SignerArgs, VkeyArg};

#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// Key file to create; its public key goes to OUT.pub (neither is ever overwritten).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args)]
pub(crate) struct GenesisArgs {
    /// Base URL of the fresh node.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) node: String,
    /// The node's vkey, if you have it (else the node's own is used).
    #[arg(long)]
    pub(crate) vkey: Option<String>,
    /// The registrar's signing key file (from keygen); it signs entry 0.
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The registrar organisation's id, e.g. CN-USCI-11320000MB0000019A.
    #[arg(long)]
    pub(crate) id: String,
    /// Its name, e.g. 江苏省民政厅.
    #[arg(long)]
    pub(crate) name: String,
    /// government, union, charity or other (or a label such as 政府).
    #[arg(long = "type", default_value = "government", value_parser = parse::arg::org_type)]
    pub(crate) org_type: OrgType,
    /// 6-digit region code (GB/T 2260).
    #[arg(long, value_parser = parse::arg::region)]
    pub(crate) region: String,
    /// Roles of the signing key, comma-separated (registrar is always one).
    #[arg(long, value_delimiter = ',', default_value = "registrar,admin")]
    pub(crate) roles: Vec<Role>,
    /// Another key of the registrar organisation and its roles: HEX=role,role (repeat for more).
    #[arg(long = "org-key")]
    pub(crate) org_keys: Vec<String>,
}

#[derive(clap::Subcommand)]
pub(crate) enum PseudonymCmd {
    /// Create the service's key (ristretto255, mode 0600) in DIR and print its public key last.
    Init(PseudonymInitArgs),
    /// Serve POST /v1/evaluate (RFC 9497 VOPRF) for the ledger's organisations, and /metrics.
    Serve(PseudonymServeArgs),
    /// Print the pseudonyms of ID numbers from the service, its proofs checked against the ledger's key.
    Of(PseudonymOfArgs),
}

#[derive(Args)]
pub(crate) struct PseudonymInitArgs {
    /// The service's directory (created).
    #[arg(long)]
    pub(crate) dir: PathBuf,
}

#[derive(Args)]
pub(crate) struct PseudonymServeArgs {
    /// The service's directory.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Base URL of the ledger's node, whose organisations and keys are checked.
    #[arg(long, env = "AIDLEDGER_NODE", default_value = "http://127.0.0.1:8080")]
    pub(crate) node: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8085")]
    pub(crate) listen: String,
    /// Evaluations per organisation per day (UTC+8).
    #[arg(long, default_value_t = cli::pseudonym::service::DEFAULT_QUOTA)]
    pub(crate) quota: u64,
}

#[derive(Args)]
pub(crate) struct PseudonymOfArgs {
    /// Base URL of the pseudonym service (default: the one the ledger records).
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// Base URL of the ledger's node, which names the service's key.
    #[arg(long, env = "AIDLEDGER_NODE", default_value = "http://127.0.0.1:8080")]
    pub(crate) node: String,
    /// Signing key file of the organisation asking.
    #[arg(long, env = "AIDLEDGER_KEY")]
    pub(crate) key: PathBuf,
    /// The organisation asking.
    #[arg(long, env = "AIDLEDGER_ISSUER")]
    pub(crate) issuer: String,
    /// bnf (beneficiaries) or vol (volunteers).
    #[arg(long, default_value = "bnf", value_parser = ["bnf", "vol"])]
    pub(crate) domain: String,
    /// ID numbers; read from stdin if none.
    pub(crate) ids: Vec<String>,
}

#[derive(Args)]
pub(crate) struct SignArgs {
    /// Signing key file.
    #[arg(long, env = "AIDLEDGER_KEY")]
    pub(crate) key: PathBuf,
    /// Issuing organisation id.
    #[arg(long, env = "AIDLEDGER_ISSUER")]
    pub(crate) issuer: String,
    /// Kind, e.g. disbursement.
    #[arg(long)]
    pub(crate) kind: Kind,
    /// Body JSON file, or - for stdin.
    #[arg(long)]
    pub(crate) body: PathBuf,
    /// Nonce (default: time and random digits).
    #[arg(long)]
    pub(crate) nonce: Option<String>,
    /// issued_at (default: now).
    #[arg(long)]
    pub(crate) issued_at: Option<String>,
}

#[derive(Args)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    #[command(flatten)]
    pub(crate) vkey: VkeyArg,
    /// With a witness policy: wait (up to --wait seconds) for the first
    /// witnessed checkpoint that covers the entries, and print receipts
    /// against it.
    #[command(flatten)]
    pub(crate) witnessed: PolicyArgs,
    /// Seconds to wait for a witnessed checkpoint, with --policy.
    #[arg(long, default_value_t = 60)]
    pub(crate) wait: u64,
    /// Also write each receipt as DIR/SEQ.tlog-proof (C2SP tlog-proof,
    /// SPEC §4.2) with its entry as DIR/SEQ.entry.json.
    #[arg(long, value_name = "DIR")]
    pub(crate) proofs_dir: Option<PathBuf>,
    /// File of entries, or - for stdin.
    #[arg(default_value = "-")]
    pub(crate) file: PathBuf,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// Node to verify (default: the config file's node, or $AIDLEDGER_NODE).
    #[arg(long, conflicts_with_all = ["file", "tiles"])]
    pub(crate) node: Option<String>,
    /// A C2SP tlog-tiles URL to verify with no node: a bucket's public
    /// endpoint, a CDN in front of it, or a node's root.
    #[arg(long, conflicts_with_all = ["file", "state_dir"])]
    pub(crate) tiles: Option<String>,
    /// Export file (NDJSON leaves) to verify instead.
    #[arg(long, requires = "checkpoint")]
    pub(crate) file: Option<PathBuf>,
    /// The checkpoint the export must match.
    #[arg(long)]
    pub(crate) checkpoint: Option<PathBuf>,
    /// The node's vkey.
    #[arg(long, env = "AIDLEDGER_VKEY")]
    pub(crate) vkey: String,
    /// Pinned genesis leaf hash.
    #[arg(long, env = "AIDLEDGER_GENESIS")]
    pub(crate) genesis: Option<String>,
    /// Keep the verified state here and verify only new entries next time.
    #[arg(long, conflicts_with = "file")]
    pub(crate) state_dir: Option<PathBuf>,
    /// MiB of replayed state to hold in memory; the rest goes to disk (in
    /// the state directory, or a temporary one under $TMPDIR).
    #[arg(long = "replay-memory", value_name = "MIB", default_value_t = cli::audit::REPLAY_MEMORY >> 20)]
    pub(crate) replay_memory_mib: usize,
    /// After the audit, sign the statistics recomputed from the entries
    /// (SPEC §4.3) with this Ed25519 key file (from keygen) and post them
    /// to the node.
    #[arg(long, value_name = "KEY", requires = "name", conflicts_with_all = ["file", "tiles", "state_dir"])]
    pub(crate) sign_stats: Option<PathBuf>,
    /// The auditor's name in the signed note, e.g. audit.jiangsu.gov.cn.
    #[arg(long, requires = "sign_stats")]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) witnessed: PolicyArgs,
}

#[derive(Args)]
pub(crate) struct CheckReceiptArgs {
    /// The node's vkey.
    #[arg(long, env = "AIDLEDGER_VKEY")]
    pub(crate) vkey: String,
    /// The entry or leaf the receipt must be for.
    #[arg(long)]
    pub(crate) entry: Option<PathBuf>,
    /// Receipt JSON file.
    pub(crate) receipt: PathBuf,
    #[command(flatten)]
    pub(crate) witnessed: PolicyArgs,
}

#[derive(Args)]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    #[command(flatten)]
    pub(crate) vkey: VkeyArg,
    /// The seq.
    #[arg(value_name = "SEQ", required_unless_present = "seq_flag")]
    pub(crate) seq: Option<u64>,
    /// The seq (as the positional SEQ).
    #[arg(long = "seq", value_name = "SEQ", conflicts_with = "seq")]
    pub(crate) seq_flag: Option<u64>,
    /// Write the proof as a C2SP tlog-proof file (SPEC §4.2), checked
    /// against the entry before it is written, instead of JSON on stdout.
    #[arg(long, value_name = "FILE.tlog-proof")]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) witnessed: PolicyArgs,
}

#[derive(Args)]
pub(crate) struct MonitorArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    /// The node's vkey.
    #[arg(long, env = "AIDLEDGER_VKEY")]
    pub(crate) vkey: String,
    /// The genesis leaf hash the operator published: seq 0 of the node's
    /// tree must be it (proved, not asked).
    #[arg(long, env = "AIDLEDGER_GENESIS")]
    pub(crate) genesis: Option<String>,
    /// Seconds between polls.
    #[arg(long, default_value_t = 30)]
    pub(crate) interval: u64,
    /// Keep the verified checkpoint here (created if missing): a restart
    /// resumes from it and refuses a node that was rolled back.
    #[arg(long)]
    pub(crate) state_dir: Option<PathBuf>,
    /// Poll once, save the state and exit (for a timer or cron).
    #[arg(long)]
    pub(crate) once: bool,
    #[command(flatten)]
    pub(crate) witnessed: PolicyArgs,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    /// Output file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args)]
pub(crate) struct InitArgs {
    /// Base URL of the node.
    #[arg(long)]
    pub(crate) node: String,
    /// The vkey the operator published: init refuses a node that differs.
    #[arg(long)]
    pub(crate) vkey: Option<String>,
    /// The genesis leaf hash the operator published: likewise.
    #[arg(long)]
    pub(crate) genesis: Option<String>,
    /// Your signing key file.
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// The organisation you sign for.
    #[arg(long)]
    pub(crate) issuer: Option<String>,
}

/// Who asks the pseudonym service, when a command is given a resident ID
/// number where a pseudonym goes.
#[derive(Args)]
pub(crate) struct IdLookupArgs {
    /// For an ID number: your signing key file, to ask the pseudonym
    /// service (the number leaves this machine only blinded).
    #[arg(long, env = "AIDLEDGER_KEY")]
    pub(crate) key: Option<PathBuf>,
    /// For an ID number: the organisation you sign for.
    #[arg(long, env = "AIDLEDGER_ISSUER")]
    pub(crate) issuer: Option<String>,
    #[command(flatten)]
    pub(crate) service: ServiceArg,
}

/// The pseudonym service to ask for an ID number's pseudonym.
#[derive(Args)]
pub(crate) struct ServiceArg {
    /// The pseudonym service, for an ID number (default: the one the ledger records).
    #[arg(long = "service", id = "service")]
    pub(crate) url: Option<String>,
}

#[derive(Args)]
pub(crate) struct BeneficiaryArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    #[command(flatten)]
    pub(crate) lookup: IdLookupArgs,
    /// bnf_ pseudonym, or a resident ID number (rules v2: its pseudonym from the service).
    pub(crate) bnf: String,
}

#[derive(Args)]
pub(crate) struct IatiArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    /// Organisation id.
    #[arg(long)]
    pub(crate) org: String,
    /// Only this fund.
    #[arg(long)]
    pub(crate) fund: Option<String>,
    /// Output XML file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args)]
pub(crate) struct FundOpenArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// Fund id, e.g. MZ-2026-MED.
    #[arg(long)]
    pub(crate) id: String,
    /// Title, e.g. 2026年大病救助.
    #[arg(long)]
    pub(crate) title: String,
    /// dibao, tekun, temporary, medical, education, housing, employment, disaster or other
    /// (or a label such as 临时救助, as in a sheet).
    #[arg(long, value_parser = parse::arg::category)]
    pub(crate) category: Category,
    /// fiscal, donation, crowdfunding, union_dues or other (or a label such as 社会捐赠).
    #[arg(long, value_parser = parse::arg::source)]
    pub(crate) source: Source,
    /// 6-digit region code (GB/T 2260).
    #[arg(long, value_parser = parse::arg::region)]
    pub(crate) region: String,
    /// Budget in yuan (1,000,000, ¥650 or 650元).
    #[arg(long, default_value = "0", value_parser = parse::arg::yuan)]
    pub(crate) budget: u64,
    /// First day (2026-01-01 or 2026/1/1).
    #[arg(long, value_parser = parse::arg::date)]
    pub(crate) start: String,
    /// Last day (2026-12-31 or 2026/12/31).
    #[arg(long, value_parser = parse::arg::date)]
    pub(crate) end: String,
    /// Rules v2: a payment of at least this many yuan needs a second key's
    /// approval (dual control).
    #[arg(long, value_parser = parse::arg::yuan)]
    pub(crate) approval_threshold: Option<u64>,
}

#[derive(Args)]
pub(crate) struct OrgRegisterArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The new organisation's id, e.g. CN-USCI-53440300MJ0000018R.
    #[arg(long)]
    pub(crate) id: String,
    /// Its name.
    #[arg(long)]
    pub(crate) name: String,
    /// government, union, charity or other (or a label such as 工会).
    #[arg(long = "type", value_parser = parse::arg::org_type)]
    pub(crate) org_type: OrgType,
    /// 6-digit region code (GB/T 2260).
    #[arg(long, value_parser = parse::arg::region)]
    pub(crate) region: String,
    /// One of its keys and the roles it holds: HEX=role,role (repeat for more keys).
    #[arg(long = "org-key", required = true)]
    pub(crate) org_keys: Vec<String>,
}

#[derive(Args)]
pub(crate) struct KeyAddArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The organisation.
    #[arg(long)]
    pub(crate) org: String,
    /// The new public key (64 hex digits, as keygen prints it).
    #[arg(long)]
    pub(crate) public: String,
    /// Its roles, comma-separated: admin, fund, disburse, credit, assess, publish, and under rules v2 review, monitor, approve (registrar only by a registrar).
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) roles: Vec<Role>,
}

#[derive(Args)]
pub(crate) struct KeyRevokeArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The organisation.
    #[arg(long)]
    pub(crate) org: String,
    /// The public key to revoke.
    #[arg(long)]
    pub(crate) public: String,
    /// Why (kept in the ledger).
    #[arg(long)]
    pub(crate) reason: String,
}

#[derive(Args)]
pub(crate) struct RulesActivateArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The rules version to activate: the version in force plus one.
    #[arg(long)]
    pub(crate) version: u64,
    /// What changes, kept in the ledger.
    #[arg(long)]
    pub(crate) note: String,
}

#[derive(Args)]
pub(crate) struct RulesPseudonymKeyArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The service's public key (64 hex, the last line of `aidledger pseudonym init`).
    #[arg(long = "public")]
    pub(crate) public: String,
    /// The service's URL, where clients ask for pseudonyms.
    #[arg(long)]
    pub(crate) service: String,
}

#[derive(Args)]
pub(crate) struct NeedReviewArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The need's id.
    #[arg(long)]
    pub(crate) need: String,
    /// approve or reject (or 通过 / 驳回).
    #[arg(long, value_parser = parse::arg::decision)]
    pub(crate) decision: Decision,
    /// What the review found, kept in the ledger.
    #[arg(long)]
    pub(crate) note: String,
}

#[derive(Args)]
pub(crate) struct HouseholdMonitorArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    #[command(flatten)]
    pub(crate) service: ServiceArg,
    /// The household's bnf_ pseudonym, or a resident ID number (its
    /// pseudonym from the pseudonym service).
    #[arg(long)]
    pub(crate) beneficiary: String,
    /// assisted, vulnerable or monitored (or 监测户 …).
    #[arg(long, default_value = "monitored", value_parser = parse::arg::tier)]
    pub(crate) tier: Tier,
    /// Its risks, comma-separated: illness, disability, education, disaster,
    /// unemployment, housing, elderly, income, other (or 因病 …).
    #[arg(long, value_delimiter = ',', required = true, value_parser = parse::arg::risk)]
    pub(crate) risks: Vec<Risk>,
    /// 6-digit region code (GB/T 2260).
    #[arg(long, value_parser = parse::arg::region)]
    pub(crate) region: String,
    /// The date by which it is to be reviewed.
    #[arg(long, value_parser = parse::arg::date)]
    pub(crate) review_by: String,
}

#[derive(Args)]
pub(crate) struct HouseholdVisitArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    #[command(flatten)]
    pub(crate) service: ServiceArg,
    /// The household's bnf_ pseudonym, or a resident ID number (its
    /// pseudonym from the pseudonym service).
    #[arg(long)]
    pub(crate) beneficiary: String,
    /// Day of the visit.
    #[arg(long, value_parser = parse::arg::date)]
    pub(crate) date: String,
    /// What was found (no personal data).
    #[arg(long)]
    pub(crate) findings: String,
    /// The next review's date.
    #[arg(long, value_parser = parse::arg::date)]
    pub(crate) next_review_by: String,
}

#[derive(Args)]
pub(crate) struct HouseholdCloseArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    #[command(flatten)]
    pub(crate) service: ServiceArg,
    /// The household's bnf_ pseudonym, or a resident ID number (its
    /// pseudonym from the pseudonym service).
    #[arg(long)]
    pub(crate) beneficiary: String,
    /// Why (kept in the ledger).
    #[arg(long)]
    pub(crate) reason: String,
}

#[derive(Args)]
pub(crate) struct HouseholdShowArgs {
    #[command(flatten)]
    pub(crate) node: NodeArg,
    #[command(flatten)]
    pub(crate) lookup: IdLookupArgs,
    /// The household's bnf_ pseudonym, or a resident ID number (its
    /// pseudonym from the pseudonym service).
    pub(crate) bnf: String,
}

#[derive(Args)]
pub(crate) struct FundRecoverArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The fund the money goes back into (the issuer's).
    #[arg(long)]
    pub(crate) fund: String,
    /// Amount in yuan (1,000, ¥650 or 650元).
    #[arg(long, value_parser = parse::arg::yuan)]
    pub(crate) amount: u64,
    /// Who paid it back: a bnf_ pseudonym, a resident ID number (its
    /// pseudonym from the pseudonym service) or an organisation id.
    #[arg(long)]
    pub(crate) from: String,
    #[command(flatten)]
    pub(crate) service: ServiceArg,
    /// overpaid, ineligible, misappropriated, unused or other (or 多发 …).
    #[arg(long, value_parser = parse::arg::recovery_reason)]
    pub(crate) reason: RecoveryReason,
    /// Value date.
    #[arg(long, value_parser = parse::arg::date)]
    pub(crate) date: String,
    /// The seq of the disbursement it recovers.
    #[arg(long)]
    pub(crate) disbursement: Option<u64>,
    /// Voucher number, unique per organisation.
    #[arg(long = "ref")]
    pub(crate) reference: Option<String>,
}

#[derive(Args)]
pub(crate) struct ApproveArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// Seqs of the disbursements to approve; none lists what waits.
    pub(crate) seqs: Vec<u64>,
}

#[derive(Args)]
pub(crate) struct RejectArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// Why (kept in the ledger).
    #[arg(long)]
    pub(crate) reason: String,
    /// Seqs of the disbursements to reject.
    #[arg(required = true)]
    pub(crate) seqs: Vec<u64>,
}
