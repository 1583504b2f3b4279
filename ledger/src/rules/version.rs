//! Rule versions (SPEC §6.1): a ledger's entries are judged by the rules in
//! force at their seq. Version 1 is in force from genesis; `rules.activate`
//! switches on the next one from the seq after it. [`VERSIONS`] is the one
//! table of what each version adds: its kinds, roles and body fields, and
//! the changes to kinds that it keeps.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{Kind, Role};
use crate::entry::Statement;

/// A version of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RulesVersion {
    /// SPEC §6 as of 2026-12-03, in force from genesis.
    V1,
    /// SPEC §6.2: reviewed needs, monitored households, recoveries, dual
    /// control, the pseudonym key.
    V2,
}

/// A change that a version makes to a kind an earlier version has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `need.publish` makes a need `pending`; two reviews open it.
    ReviewedNeeds,
}

/// What one version adds to the one before it.
#[derive(Debug)]
pub struct Additions {
    /// The version.
    pub version: RulesVersion,
    /// Kinds it adds.
    pub kinds: &'static [Kind],
    /// Roles it adds.
    pub roles: &'static [Role],
    /// Body fields it adds to earlier kinds.
    pub fields: &'static [(Kind, &'static str)],
    /// What it changes in earlier kinds.
    pub changes: &'static [Change],
}

/// Every version, oldest first, with what it adds.
pub const VERSIONS: [Additions; 2] = [
    Additions {
        version: RulesVersion::V1,
        kinds: &[
            Kind::OrgRegister,
            Kind::KeyAdd,
            Kind::KeyRevoke,
            Kind::FundOpen,
            Kind::FundReceive,
            Kind::FundTransfer,
            Kind::Disbursement,
            Kind::CreditAward,
            Kind::CreditRedeem,
            Kind::AssessmentResult,
            Kind::NeedPublish,
            Kind::NeedClaim,
            Kind::NeedRelease,
            Kind::NeedFulfil,
            Kind::Correction,
            Kind::RulesActivate,
        ],
        roles: &[
            Role::Registrar,
            Role::Admin,
            Role::Fund,
            Role::Disburse,
            Role::Credit,
            Role::Assess,
            Role::Publish,
        ],
        fields: &[],
        changes: &[],
    },
    Additions {
        version: RulesVersion::V2,
        kinds: &[
            Kind::PseudonymKey,
            Kind::NeedReview,
            Kind::HouseholdMonitor,
            Kind::HouseholdVisit,
            Kind::HouseholdClose,
            Kind::FundRecover,
            Kind::DisbursementApprove,
            Kind::DisbursementReject,
        ],
        roles: &[Role::Review, Role::Monitor, Role::Approve],
        fields: &[(Kind::FundOpen, "approval_threshold")],
        changes: &[Change::ReviewedNeeds],
    },
];

impl RulesVersion {
    /// The version in force at genesis.
    pub const FIRST: RulesVersion = RulesVersion::V1;

    /// Its number, as `rules.activate` and the API write it.
    pub const fn number(self) -> u64 {
        match self {
            RulesVersion::V1 => 1,
            RulesVersion::V2 => 2,
        }
    }

    /// The version numbered `n`, if this implementation has it.
    pub fn from_number(n: u64) -> Option<RulesVersion> {
        VERSIONS.iter().map(|a| a.version).find(|v| v.number() == n)
    }

    /// The version after this one, if there is one.
    pub fn next(self) -> Option<RulesVersion> {
        RulesVersion::from_number(self.number() + 1)
    }

    /// Whether this version makes `change`.
    pub fn makes(self, change: Change) -> bool {
        VERSIONS
            .iter()
            .filter(|a| a.version <= self)
            .any(|a| a.changes.contains(&change))
    }

    /// The version that added `kind`.
    pub fn of_kind(kind: Kind) -> RulesVersion {
        VERSIONS
            .iter()
            .find(|a| a.kinds.contains(&kind))
            .map_or(RulesVersion::FIRST, |a| a.version)
    }

    /// The version that added `role`.
    pub fn of_role(role: Role) -> RulesVersion {
        VERSIONS
            .iter()
            .find(|a| a.roles.contains(&role))
            .map_or(RulesVersion::FIRST, |a| a.version)
    }

    /// The oldest version that has everything `st` uses (its kind, the
    /// roles it grants, its body's fields), with what needs it; `None`
    /// when version 1 has all of it. State-free: the rules compare it with
    /// the version in force only when it is later than version 1.
    pub fn needed_by(st: &Statement) -> Option<(RulesVersion, String)> {
        let mut needed = None;
        let mut need = |v: RulesVersion, what: String| {
            if v > RulesVersion::FIRST && needed.as_ref().is_none_or(|(n, _)| v > *n) {
                needed = Some((v, what));
            }
        };
        need(RulesVersion::of_kind(st.kind), format!("kind {}", st.kind));
        for role in granted_roles(st) {
            need(RulesVersion::of_role(role), format!("role {role}"));
        }
        if let Some(body) = st.body.as_object() {
            for a in &VERSIONS {
                for (kind, field) in a.fields {
                    if *kind == st.kind && body.contains_key(*field) {
                        need(a.version, format!("field {field} of {kind}"));
                    }
                }
            }
        }
        needed
    }
}

/// The roles a statement grants: `org.register`'s keys' and `key.add`'s.
fn granted_roles(st: &Statement) -> Vec<Role> {
    let names = |v: &serde_json::Value| -> Vec<Role> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str()?.parse().ok())
            .collect()
    };
    match st.kind {
        Kind::OrgRegister => st.body["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|k| names(&k["roles"]))
            .collect(),
        Kind::KeyAdd => names(&st.body["roles"]),
        _ => Vec::new(),
    }
}

impl fmt::Display for RulesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for RulesVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.number())
    }
}

impl<'de> Deserialize<'de> for RulesVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RulesVersion, D::Error> {
        let n = u64::deserialize(d)?;
        RulesVersion::from_number(n)
            .ok_or_else(|| serde::de::Error::custom(format!("no rules version {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind and role belongs to exactly one version, listed in order.
    #[test]
    fn the_table_names_every_kind_and_role_once() {
        for kind in Kind::ALL {
            let n = VERSIONS.iter().filter(|a| a.kinds.contains(kind)).count();
            assert_eq!(n, 1, "{kind}");
        }
        for role in Role::ALL {
            let n = VERSIONS.iter().filter(|a| a.roles.contains(role)).count();
            assert_eq!(n, 1, "{role}");
        }
        for (i, a) in VERSIONS.iter().enumerate() {
            assert_eq!(a.version.number(), i as u64 + 1);
            assert_eq!(
                RulesVersion::from_number(a.version.number()),
                Some(a.version)
            );
        }
        assert_eq!(RulesVersion::V1.next(), Some(RulesVersion::V2));
        assert_eq!(RulesVersion::from_number(0), None);
        assert!(!RulesVersion::V1.makes(Change::ReviewedNeeds));
        assert!(RulesVersion::V2.makes(Change::ReviewedNeeds));
    }
}
