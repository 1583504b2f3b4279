//! The body of each kind of statement (SPEC §6), typed. The JSON Schemas in
//! `schemas/kinds/` are the contract and are checked first; these types are
//! how the rules read a body and how tools build one. A test checks that
//! each type names exactly the fields of its kind's schema.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{
    Category, Cause, Decision, Grade, Kind, Method, Op, OrgType, RecoveryReason, Risk, Role,
    Source, SubjectType, Tier,
};

/// A body type and the kind whose statements carry it.
pub trait Body: Serialize + DeserializeOwned {
    /// Its kind.
    const KIND: Kind;
}

macro_rules! bodies {
    ($($ty:ident => $kind:ident,)+) => {
        $(impl Body for $ty {
            const KIND: Kind = Kind::$kind;
        })+

        /// Any kind's body, in its type: what a reader of entries of
        /// several kinds (a table of entries, an export, an import's rows)
        /// holds instead of looking fields up by name.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum AnyBody {
            $(#[doc = concat!("`", stringify!($kind), "`")] $ty($ty),)+
        }

        impl AnyBody {
            /// Reads `body` as the body of `kind`.
            pub fn parse(kind: Kind, body: &Value) -> Result<AnyBody, serde_json::Error> {
                Ok(match kind {
                    $(Kind::$kind => AnyBody::$ty(parse(body)?),)+
                })
            }
        }
    };
}

bodies! {
    OrgRegister => OrgRegister,
    KeyAdd => KeyAdd,
    KeyRevoke => KeyRevoke,
    FundOpen => FundOpen,
    FundReceive => FundReceive,
    FundTransfer => FundTransfer,
    Disbursement => Disbursement,
    CreditAward => CreditAward,
    CreditRedeem => CreditRedeem,
    AssessmentResult => AssessmentResult,
    NeedPublish => NeedPublish,
    NeedClaim => NeedClaim,
    NeedRelease => NeedRelease,
    NeedFulfil => NeedFulfil,
    Correction => Correction,
    RulesActivate => RulesActivate,
    PseudonymKey => PseudonymKey,
    NeedReview => NeedReview,
    HouseholdMonitor => HouseholdMonitor,
    HouseholdVisit => HouseholdVisit,
    HouseholdClose => HouseholdClose,
    FundRecover => FundRecover,
    DisbursementApprove => DisbursementApprove,
    DisbursementReject => DisbursementReject,
}

/// The organisation an `org.register` registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    /// Org id (unified social credit code or registry id).
    pub id: String,
    /// Name.
    pub name: String,
    /// What kind of body it is.
    #[serde(rename = "type")]
    pub org_type: OrgType,
    /// Region code.
    pub region: String,
}

/// A key and the roles granted to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGrant {
    /// Lowercase hex public key.
    pub key: String,
    /// Roles granted.
    pub roles: Vec<Role>,
}

/// `org.register`: an organisation and its first keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgRegister {
    /// The organisation.
    pub org: Org,
    /// Its keys.
    pub keys: Vec<KeyGrant>,
}

/// `key.add`: a new key for an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAdd {
    /// The organisation.
    pub org: String,
    /// Lowercase hex public key.
    pub key: String,
    /// Roles granted.
    pub roles: Vec<Role>,
}

/// `key.revoke`: a key stops signing from the next seq on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevoke {
    /// The organisation.
    pub org: String,
    /// Lowercase hex public key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// `fund.open`: a fund with its budget and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundOpen {
    /// Fund id.
    pub fund: String,
    /// Title.
    pub title: String,
    /// What it is for.
    pub category: Category,
    /// Where its money comes from.
    pub source: Source,
    /// Region code.
    pub region: String,
    /// Always `CNY`.
    pub currency: String,
    /// Budget, minor units.
    pub budget: u64,
    /// First day.
    pub start: String,
    /// Last day.
    pub end: String,
    /// Rules v2: a disbursement of at least this many minor units needs a
    /// second key's approval (dual control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_threshold: Option<u64>,
}

/// `fund.receive`: money into a fund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundReceive {
    /// Fund id.
    pub fund: String,
    /// Amount, minor units.
    pub amount: u64,
    /// Who paid it.
    pub from: String,
    /// Value date.
    pub date: String,
    /// Voucher number, unique per issuer.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `fund.transfer`: money from one fund to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundTransfer {
    /// Source fund (the issuer's).
    pub from_fund: String,
    /// Destination fund.
    pub to_fund: String,
    /// Amount, minor units.
    pub amount: u64,
    /// Value date.
    pub date: String,
    /// Voucher number, unique per issuer.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `disbursement`: aid paid to a beneficiary from a fund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disbursement {
    /// Fund id (the issuer's).
    pub fund: String,
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// The beneficiary's tier.
    pub tier: Tier,
    /// Why.
    pub cause: Cause,
    /// Amount, minor units.
    pub amount: u64,
    /// How.
    pub method: Method,
    /// Region code.
    pub region: String,
    /// Value date.
    pub date: String,
    /// Voucher number, unique per issuer.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The need it answers, claimed by the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need: Option<String>,
}

/// `credit.award`: credit points to an org or a volunteer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditAward {
    /// Org id or `vol_` pseudonym.
    pub holder: String,
    /// Points.
    pub points: u64,
    /// Why.
    pub reason: String,
    /// The issuer's reference.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `credit.redeem`: credit points spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRedeem {
    /// Org id or `vol_` pseudonym.
    pub holder: String,
    /// Points.
    pub points: u64,
    /// For what.
    pub reason: String,
}

/// One performance indicator of an assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// Short code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Unit of `target` and `actual`.
    pub unit: String,
    /// How `actual` is compared with `target`.
    pub op: Op,
    /// Target.
    pub target: i64,
    /// Actual.
    pub actual: i64,
    /// Weight, 0–100.
    pub weight: u64,
    /// Score, 0–100.
    pub score: u64,
}

/// `assessment.result`: a performance assessment of an org, fund or region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentResult {
    /// What is assessed.
    pub subject_type: SubjectType,
    /// Its id (org id, fund id or region code).
    pub subject: String,
    /// First day assessed.
    pub period_start: String,
    /// Last day assessed.
    pub period_end: String,
    /// The indicators.
    pub indicators: Vec<Indicator>,
    /// Overall score, 0–100.
    pub score: u64,
    /// Overall grade.
    pub grade: Grade,
    /// Report text or reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// `need.publish`: a family's need, open for an org to claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedPublish {
    /// Need id.
    pub need: String,
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// What kind of aid.
    pub category: Category,
    /// Why.
    pub cause: Cause,
    /// Amount asked, minor units.
    pub amount: u64,
    /// Region code.
    pub region: String,
    /// Summary, without personal data.
    pub summary: String,
}

/// `need.claim`: an org takes on an open need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedClaim {
    /// Need id.
    pub need: String,
}

/// `need.release`: the claimer gives a need back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedRelease {
    /// Need id.
    pub need: String,
    /// Why.
    pub reason: String,
}

/// `need.fulfil`: the claimer's disbursement that met a need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedFulfil {
    /// Need id.
    pub need: String,
    /// Seq of the disbursement.
    pub disbursement: u64,
}

/// `correction`: amends (and with `reverse`, undoes) an earlier entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// Seq of the entry corrected.
    pub target: u64,
    /// Why.
    pub reason: String,
    /// Whether its money or points are undone.
    pub reverse: bool,
}

/// `rules.activate`: the next rules version, in force from the next seq
/// (SPEC §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesActivate {
    /// The version in force plus one.
    pub version: u64,
    /// Why, and what changes.
    pub note: String,
}

/// `pseudonym.key`: the pseudonym service's public key (SPEC §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PseudonymKey {
    /// The ristretto255 public key `K`, lowercase hex.
    pub key: String,
    /// The service's URL.
    pub service: String,
}

/// `need.review`: one organisation's check of a pending need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedReview {
    /// Need id.
    pub need: String,
    /// Approve or reject.
    pub decision: Decision,
    /// What the reviewer found.
    pub note: String,
}

/// `household.monitor`: a household enters monitoring, or its record is
/// updated (防止返贫动态监测).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdMonitor {
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// Its tier.
    pub tier: Tier,
    /// What puts it at risk, 1–8.
    pub risks: Vec<Risk>,
    /// Region code.
    pub region: String,
    /// The date by which it is to be reviewed.
    pub review_by: String,
}

/// `household.visit`: a review of a monitored household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdVisit {
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// Day of the visit.
    pub date: String,
    /// What was found, without personal data.
    pub findings: String,
    /// The next review's date.
    pub next_review_by: String,
}

/// `household.close`: monitoring ends (风险消除).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdClose {
    /// Beneficiary pseudonym.
    pub beneficiary: String,
    /// Why.
    pub reason: String,
}

/// `fund.recover`: money back into a fund (资金回笼).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundRecover {
    /// Fund id (the issuer's).
    pub fund: String,
    /// Amount, minor units.
    pub amount: u64,
    /// Who paid it back: a `bnf_` pseudonym or an org id.
    pub from: String,
    /// Why it came back.
    pub reason: RecoveryReason,
    /// Value date.
    pub date: String,
    /// Seq of the disbursement it recovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disbursement: Option<u64>,
    /// Voucher number, unique per issuer.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `disbursement.approve`: a second key approves a pending disbursement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisbursementApprove {
    /// Seq of the disbursement.
    pub disbursement: u64,
}

/// `disbursement.reject`: a second key refuses a pending disbursement;
/// its amount returns to the fund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisbursementReject {
    /// Seq of the disbursement.
    pub disbursement: u64,
    /// Why.
    pub reason: String,
}

/// Reads a statement's body as `T`. The schema was checked before, so a
/// failure here means the schema and the type disagree.
pub fn parse<T: Body>(body: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(body)
}

/// `body` as the JSON a statement carries.
pub fn to_value<T: Body>(body: &T) -> Value {
    serde_json::to_value(body).expect("bodies serialise")
}

impl AnyBody {
    /// The amount of money a body moves or asks for, minor units (none for
    /// kinds that move no money).
    pub fn amount(&self) -> Option<u64> {
        match self {
            AnyBody::FundReceive(b) => Some(b.amount),
            AnyBody::FundTransfer(b) => Some(b.amount),
            AnyBody::Disbursement(b) => Some(b.amount),
            AnyBody::NeedPublish(b) => Some(b.amount),
            AnyBody::FundRecover(b) => Some(b.amount),
            _ => None,
        }
    }

    /// The fund money leaves or enters (a transfer's source).
    pub fn fund(&self) -> Option<&str> {
        match self {
            AnyBody::FundOpen(b) => Some(&b.fund),
            AnyBody::FundReceive(b) => Some(&b.fund),
            AnyBody::FundTransfer(b) => Some(&b.from_fund),
            AnyBody::Disbursement(b) => Some(&b.fund),
            AnyBody::FundRecover(b) => Some(&b.fund),
            _ => None,
        }
    }

    /// The voucher number (`ref`), for the kinds that carry one.
    pub fn reference(&self) -> Option<&str> {
        match self {
            AnyBody::FundReceive(b) => b.reference.as_deref(),
            AnyBody::FundTransfer(b) => b.reference.as_deref(),
            AnyBody::Disbursement(b) => b.reference.as_deref(),
            AnyBody::CreditAward(b) => b.reference.as_deref(),
            AnyBody::FundRecover(b) => b.reference.as_deref(),
            _ => None,
        }
    }

    /// The value date (`date`), for the kinds that carry one.
    pub fn date(&self) -> Option<&str> {
        match self {
            AnyBody::FundReceive(b) => Some(&b.date),
            AnyBody::FundTransfer(b) => Some(&b.date),
            AnyBody::Disbursement(b) => Some(&b.date),
            AnyBody::FundRecover(b) => Some(&b.date),
            AnyBody::HouseholdVisit(b) => Some(&b.date),
            _ => None,
        }
    }
}
