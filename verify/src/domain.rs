//! The ledger's closed vocabularies (SPEC §5–§6) as enums: kinds, roles,
//! organisation types, fund categories and sources, tiers, causes, methods,
//! need states, assessment subjects and grades, and the names of the query
//! indexes. Each serialises to the SPEC's string; adding a variant is one
//! line here, and the compiler then finds every `match` to extend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Defines a string-valued enum: `as_str`, `ALL`, `Display`, `FromStr` and
/// serde as the SPEC's strings.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[doc = concat!("`", $text, "`")] $(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Every value's string, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// The SPEC's string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<$name, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        name: s.to_owned(),
                        expected: $name::NAMES,
                    }),
                }
            }
        }
    };
}

/// A string that names no value of a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not one of {}", expected.join(", "))]
pub struct UnknownName {
    /// What was given.
    pub name: String,
    /// The vocabulary's strings.
    pub expected: &'static [&'static str],
}

vocabulary! {
    /// What a statement records (SPEC §6).
    Kind {
        OrgRegister = "org.register",
        KeyAdd = "key.add",
        KeyRevoke = "key.revoke",
        FundOpen = "fund.open",
        FundReceive = "fund.receive",
        FundTransfer = "fund.transfer",
        Disbursement = "disbursement",
        CreditAward = "credit.award",
        CreditRedeem = "credit.redeem",
        AssessmentResult = "assessment.result",
        NeedPublish = "need.publish",
        NeedClaim = "need.claim",
        NeedRelease = "need.release",
        NeedFulfil = "need.fulfil",
        Correction = "correction",
        RulesActivate = "rules.activate",
        PseudonymKey = "pseudonym.key",
        NeedReview = "need.review",
        HouseholdMonitor = "household.monitor",
        HouseholdVisit = "household.visit",
        HouseholdClose = "household.close",
        FundRecover = "fund.recover",
        DisbursementApprove = "disbursement.approve",
        DisbursementReject = "disbursement.reject",
    }
}

impl Kind {
    /// The role every entry of this kind needs. `None` for the kinds whose
    /// authority depends on the entry: `key.*` (the org's admin, a registrar
    /// or the key itself), `need.release`/`need.fulfil` (a `disburse` key of
    /// the claiming org) and `correction` (the target's own role or a
    /// registrar).
    pub const fn role(self) -> Option<Role> {
        match self {
            Kind::OrgRegister | Kind::RulesActivate | Kind::PseudonymKey => Some(Role::Registrar),
            Kind::FundOpen | Kind::FundReceive | Kind::FundTransfer | Kind::FundRecover => {
                Some(Role::Fund)
            }
            Kind::NeedReview => Some(Role::Review),
            Kind::HouseholdMonitor | Kind::HouseholdVisit | Kind::HouseholdClose => {
                Some(Role::Monitor)
            }
            Kind::DisbursementApprove | Kind::DisbursementReject => Some(Role::Approve),
            Kind::Disbursement | Kind::NeedClaim => Some(Role::Disburse),
            Kind::CreditAward | Kind::CreditRedeem => Some(Role::Credit),
            Kind::AssessmentResult => Some(Role::Assess),
            Kind::NeedPublish => Some(Role::Publish),
            Kind::KeyAdd
            | Kind::KeyRevoke
            | Kind::NeedRelease
            | Kind::NeedFulfil
            | Kind::Correction => None,
        }
    }

    /// Whether the body's `ref` is a voucher number, unique per issuing org.
    pub const fn takes_voucher(self) -> bool {
        matches!(
            self,
            Kind::FundReceive | Kind::FundTransfer | Kind::Disbursement | Kind::FundRecover
        )
    }
}

vocabulary! {
    /// What a key may sign (SPEC §5).
    Role {
        Registrar = "registrar",
        Admin = "admin",
        Fund = "fund",
        Disburse = "disburse",
        Credit = "credit",
        Assess = "assess",
        Publish = "publish",
        Review = "review",
        Monitor = "monitor",
        Approve = "approve",
    }
}

vocabulary! {
    /// What kind of body an organisation is.
    OrgType {
        Government = "government",
        Union = "union",
        Charity = "charity",
        Other = "other",
    }
}

vocabulary! {
    /// What a fund is for.
    Category {
        Dibao = "dibao",
        Tekun = "tekun",
        Temporary = "temporary",
        Medical = "medical",
        Education = "education",
        Housing = "housing",
        Employment = "employment",
        Disaster = "disaster",
        Other = "other",
    }
}

vocabulary! {
    /// Where a fund's money comes from.
    Source {
        Fiscal = "fiscal",
        Donation = "donation",
        Crowdfunding = "crowdfunding",
        UnionDues = "union_dues",
        Other = "other",
    }
}

vocabulary! {
    /// A beneficiary's assistance tier.
    Tier {
        Assisted = "assisted",
        Vulnerable = "vulnerable",
        Monitored = "monitored",
    }
}

vocabulary! {
    /// Why aid is given: the duplicate-aid alert compares causes.
    Cause {
        Illness = "illness",
        Disability = "disability",
        Education = "education",
        Disaster = "disaster",
        Unemployment = "unemployment",
        Housing = "housing",
        Elderly = "elderly",
        Other = "other",
    }
}

vocabulary! {
    /// How aid is given.
    Method {
        Cash = "cash",
        InKind = "in_kind",
        Service = "service",
        Voucher = "voucher",
    }
}

vocabulary! {
    /// Where a published need stands.
    NeedState {
        Open = "open",
        Claimed = "claimed",
        Fulfilled = "fulfilled",
        /// Published under rules v2, waiting for two reviews.
        Pending = "pending",
        /// Refused by a reviewer (final).
        Rejected = "rejected",
    }
}

vocabulary! {
    /// A reviewer's decision on a pending need (`need.review`).
    Decision {
        Approve = "approve",
        Reject = "reject",
    }
}

vocabulary! {
    /// What puts a monitored household at risk of falling back into
    /// poverty (`household.monitor`).
    Risk {
        Illness = "illness",
        Disability = "disability",
        Education = "education",
        Disaster = "disaster",
        Unemployment = "unemployment",
        Housing = "housing",
        Elderly = "elderly",
        Income = "income",
        Other = "other",
    }
}

vocabulary! {
    /// Why money came back into a fund (`fund.recover`).
    RecoveryReason {
        Overpaid = "overpaid",
        Ineligible = "ineligible",
        Misappropriated = "misappropriated",
        Unused = "unused",
        Other = "other",
    }
}

vocabulary! {
    /// Where a disbursement at or over its fund's approval threshold
    /// stands (dual control, rules v2).
    Approval {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
}

vocabulary! {
    /// A monitoring alert of rules v2 (主动发现).
    MonitoringAlert {
        /// A monitored household's review date has passed.
        OverdueReview = "overdue_review",
        /// Monitored for more than 60 days without aid.
        Unassisted = "unassisted",
    }
}

vocabulary! {
    /// What an assessment assesses.
    SubjectType {
        Org = "org",
        Fund = "fund",
        Region = "region",
    }
}

vocabulary! {
    /// An assessment's overall grade.
    Grade {
        Excellent = "excellent",
        Good = "good",
        Fair = "fair",
        Poor = "poor",
    }
}

vocabulary! {
    /// How an indicator's actual value is compared with its target.
    Op {
        Eq = "eq",
        Ge = "ge",
        Le = "le",
    }
}

vocabulary! {
    /// The query indexes of derived state: entries listed by a value.
    Index {
        /// Every entry, by issuer.
        Org = "org",
        /// Every entry, by kind.
        Kind = "kind",
        /// Fund openings, receipts, transfers (both funds) and disbursements, by fund.
        Fund = "fund",
        /// Disbursements and needs, by beneficiary pseudonym.
        Beneficiary = "bnf",
        /// Receipts, transfers and disbursements, by `date`.
        Date = "date",
        /// Credit awards and redemptions, by holder.
        Credit = "credit",
        /// Assessment results, by subject.
        Assessment = "assess",
        /// Corrections, by the seq they correct.
        Corrects = "corrects",
        /// An org's keys (the key's hex in place of a seq).
        OrgKey = "orgkey",
        /// Monitoring entries (`household.*`), by beneficiary.
        Household = "household",
        /// Recoveries, by the disbursement they recover.
        Recovers = "recovers",
        /// Disbursements waiting for approval, by fund (removed once decided).
        Pending = "pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!("union_dues".parse::<Source>().unwrap(), Source::UnionDues);
        let err = "sponsor".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"sponsor\" is not one of registrar, admin, fund, disburse, credit, assess, publish, review, monitor, approve"
        );
    }
}
