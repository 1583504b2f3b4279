//! The read API's answers as types (SPEC §7), shared by the node, which
//! writes them, and the CLI, which reads them: a page, an entry's summary,
//! a fund, an organisation with its keys. Errors are
//! [`crate::code::ErrorBody`]. No HTTP here: only the shapes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Kind;
use crate::merkle::Hash;
use crate::records::{FundRec, KeyRec, OrgRec, RulesRec};

/// A page of a listing: its items and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last.
    pub next_cursor: Option<String>,
}

/// One pseudonym's first page in `POST /v1/beneficiaries`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History<T> {
    /// The pseudonym asked about.
    pub beneficiary: String,
    /// Its entries, oldest first, and where the rest start (then
    /// `GET /v1/beneficiaries/{bnf}?cursor=` reads on).
    #[serde(flatten)]
    pub page: Page<T>,
}

/// An entry as listings show it: the statement's parts, when it was logged,
/// and what corrected it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntrySummary {
    /// Under dual control (rules v2), where the disbursement's approval
    /// stands: pending, approved or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::domain::Approval>,
    /// The statement's body.
    pub body: Value,
    /// The correction that targets it, if one does (present only for the
    /// kinds whose record the rules keep: money, points, assessments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_by: Option<Option<u64>>,
    /// The signing organisation.
    pub issuer: String,
    /// Its kind.
    pub kind: Kind,
    /// When the node logged it.
    pub logged_at: String,
    /// The statement's nonce.
    pub nonce: String,
    /// Whether a correction reversed it (present as `corrected_by` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversed: Option<bool>,
    /// Its seq.
    pub seq: u64,
}

impl EntrySummary {
    /// True if a correction reversed it.
    pub fn is_reversed(&self) -> bool {
        self.reversed == Some(true)
    }

    /// True unless it waits for approval or was rejected (dual control):
    /// what counts as money paid, before any correction.
    pub fn is_decided_paid(&self) -> bool {
        self.approval
            .is_none_or(|a| a == crate::domain::Approval::Approved)
    }
}

/// `GET /v1/funds/{id}`: the fund's record and its execution rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundView {
    /// The record with its running totals.
    #[serde(flatten)]
    pub fund: FundRec,
    /// Disbursed as a share of the budget in basis points; `None` for a
    /// zero budget.
    pub execution_rate_bp: Option<u64>,
    /// Recovered as a share of disbursed in basis points (资金回笼率);
    /// `None` when nothing was disbursed.
    #[serde(default)]
    pub recovery_rate_bp: Option<u64>,
}

impl From<FundRec> for FundView {
    fn from(fund: FundRec) -> FundView {
        FundView {
            execution_rate_bp: fund.execution_rate_bp(),
            recovery_rate_bp: fund.recovery_rate_bp(),
            fund,
        }
    }
}

/// `GET /v1/orgs/{id}`: the organisation and its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    /// The record.
    #[serde(flatten)]
    pub org: OrgRec,
    /// Its keys with their roles, as added and revoked.
    pub keys: Vec<KeyRec>,
}

/// `GET /v1/log`: what a client pins and where the log stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// The log's origin (its checkpoint key's name).
    pub origin: String,
    /// The node's checkpoint vkey.
    pub vkey: String,
    /// The number of leaves.
    pub size: u64,
    /// The leaf hash of seq 0, once there is one.
    pub genesis: Option<Hash>,
    /// The rules in force (SPEC §6.1): the version, every activation, the
    /// pseudonym key. Absent from nodes older than rule versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesRec>,
}

/// `GET /v1/proof/inclusion`: RFC 9162 §2.1.3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf's seq.
    pub seq: u64,
    /// The tree's size.
    pub size: u64,
    /// The leaf's hash.
    pub leaf_hash: Hash,
    /// The audit path.
    pub path: Vec<Hash>,
}

/// `GET /v1/proof/consistency`: RFC 9162 §2.1.4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub first: u64,
    /// The newer size.
    pub second: u64,
    /// The proof.
    pub path: Vec<Hash>,
}

/// The answer to an array of entries (`POST /v1/entries`, SPEC §7): one
/// item per entry, in order. `R` is the receipt as its reader holds it
/// (the node writes hex strings, the CLI reads hashes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchAnswer<R> {
    /// One per entry.
    pub results: Vec<BatchItem<R>>,
}

/// One entry's part of a [`BatchAnswer`]: its receipt, or the error body a
/// single submission would have had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchItem<R> {
    /// Refused (tried first: a receipt has no `error` member).
    Refused(crate::code::ErrorBody),
    /// Recorded, or already recorded.
    Receipt(R),
}

/// Disbursements' count and sum, as answers write them: keys in JCS order,
/// the sum exact at any size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sum {
    /// Their amounts, minor units.
    pub amount: u128,
    /// How many.
    pub count: u64,
}

impl From<crate::records::Totals> for Sum {
    fn from(t: crate::records::Totals) -> Sum {
        Sum {
            amount: t.amount,
            count: t.count,
        }
    }
}

/// `GET /v1/stats`: unreversed disbursements in total and by month, fund
/// category, province and issuer type, and the ledger at a glance. A pure
/// function of the leaves: `stats(N)` of SPEC §4.3 is this over seqs
/// 0..N-1.
///
/// Every object's members are declared in JCS order and every map is keyed
/// by ASCII text, so [`StatsAnswer::canonical`] (serde_json's compact
/// output) is the RFC 8785 form whose hash auditors sign. Sums over funds
/// may pass 2^53-1; they are written as exact integers, never as floats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsAnswer {
    /// By fund category.
    pub by_category: std::collections::BTreeMap<String, Sum>,
    /// By the signing organisation's type.
    pub by_issuer_type: std::collections::BTreeMap<String, Sum>,
    /// By `YYYY-MM` of the disbursement's `date`.
    pub by_month: std::collections::BTreeMap<String, Sum>,
    /// By province code (GB/T 2260).
    pub by_province: std::collections::BTreeMap<String, Sum>,
    /// Money and counts over the whole ledger.
    pub overview: Overview,
    /// All unreversed disbursements.
    pub total: Sum,
}

impl StatsAnswer {
    /// The canonical (RFC 8785) bytes.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain data serialises")
    }

    /// `stats_hash` of SPEC §4.3: SHA-256 of the canonical bytes.
    pub fn hash(&self) -> Hash {
        use sha2::Digest;
        Hash::new(sha2::Sha256::digest(self.canonical()).into())
    }
}

/// The ledger at a glance: money over all funds (exact), counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overview {
    /// Held by the funds now.
    pub balance: u128,
    /// Distinct beneficiary pseudonyms.
    pub beneficiaries: u64,
    /// Approved (or not needing approval) and unreversed.
    pub disbursed: u128,
    /// Opened funds.
    pub funds: u64,
    /// Households under monitoring now.
    pub households_monitored: u64,
    /// Needs by state.
    pub needs: NeedCounts,
    /// Registered organisations.
    pub orgs: u64,
    /// Disbursements waiting for a second key's approval (reserved, not
    /// disbursed).
    pub pending: Sum,
    /// Received from outside the ledger.
    pub received: u128,
    /// Money recovered into the funds (资金回笼).
    pub recovered: Sum,
    /// The rules version in force.
    pub rules_version: u64,
    /// Moved between funds.
    pub transferred: u128,
}

/// Needs by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedCounts {
    /// Claimed, not yet fulfilled.
    pub claimed: u64,
    /// Fulfilled.
    pub fulfilled: u64,
    /// Open for a claim.
    pub open: u64,
    /// Waiting for reviews (rules v2).
    pub pending: u64,
    /// Rejected by a reviewer.
    pub rejected: u64,
}

/// `GET /v1/stats/audited` (SPEC §4.3): the largest size auditors signed
/// figures for, the figures, and every accepted note at that size (notes
/// that disagree with `stats` included). Before any note: size 0, no
/// figures, no notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditedAnswer {
    /// N: the figures are over seqs 0..N-1.
    pub size: u64,
    /// The figures of the first note accepted at N.
    pub stats: Option<StatsAnswer>,
    /// Signed notes (`aidledger/stats/v1`), in the order accepted.
    pub notes: Vec<String>,
}

/// `POST /v1/stats/audited`: one auditor's note and the figures it signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditedPost {
    /// The signed note.
    pub note: String,
    /// The figures whose hash it names.
    pub stats: StatsAnswer,
}
