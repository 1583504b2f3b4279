//! The SPEC's error codes (§7), one enum for the rules, the node and the
//! CLI: each code's string and HTTP status in one `match` without a
//! fallback, so that a new code cannot silently become a 500. And the
//! error answer itself ([`ErrorBody`]), with the numbers and ids of a
//! refusal ([`Detail`]), so that a client says it in its own language
//! without reading the English message.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::Kind;

/// A SPEC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Not JSON.
    MalformedJson,
    /// Wrong shape, unknown field, bad identifier or parameter.
    SchemaViolation,
    /// The signature does not verify.
    BadSignature,
    /// The key is not registered.
    UnknownKey,
    /// The key was revoked.
    KeyRevoked,
    /// The key lacks the role, or belongs to another org.
    RoleMissing,
    /// No such entry, route or record.
    NotFound,
    /// The route does not take this method.
    MethodNotAllowed,
    /// `(issuer, nonce)` used for a different statement.
    NonceConflict,
    /// Over the leaf size, the batch or a request limit.
    TooLarge,
    /// A rule of SPEC §6 refuses it; the message names the rule.
    RuleViolation,
    /// A resident ID or mobile number in a statement.
    PiiDetected,
    /// Past an organisation's evaluations for the day (the pseudonym
    /// service, SPEC §6.3).
    QuotaExceeded,
    /// The node is busy or stopping; retry.
    Overloaded,
    /// The node failed (storage); no detail is given to clients.
    Internal,
}

impl Code {
    /// Every code, in the SPEC's order.
    pub const ALL: [Code; 15] = [
        Code::MalformedJson,
        Code::SchemaViolation,
        Code::BadSignature,
        Code::UnknownKey,
        Code::KeyRevoked,
        Code::RoleMissing,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::NonceConflict,
        Code::TooLarge,
        Code::RuleViolation,
        Code::PiiDetected,
        Code::QuotaExceeded,
        Code::Overloaded,
        Code::Internal,
    ];

    /// The code's string and its HTTP status (SPEC §7).
    pub fn spec(self) -> (&'static str, u16) {
        match self {
            Code::MalformedJson => ("malformed_json", 400),
            Code::SchemaViolation => ("schema_violation", 400),
            Code::BadSignature => ("bad_signature", 400),
            Code::UnknownKey => ("unknown_key", 403),
            Code::KeyRevoked => ("key_revoked", 403),
            Code::RoleMissing => ("role_missing", 403),
            Code::NotFound => ("not_found", 404),
            Code::MethodNotAllowed => ("method_not_allowed", 405),
            Code::NonceConflict => ("nonce_conflict", 409),
            Code::TooLarge => ("too_large", 413),
            Code::RuleViolation => ("rule_violation", 422),
            Code::PiiDetected => ("pii_detected", 422),
            Code::QuotaExceeded => ("quota_exceeded", 429),
            Code::Overloaded => ("overloaded", 503),
            Code::Internal => ("internal", 500),
        }
    }

    /// The SPEC's code string.
    pub fn as_str(self) -> &'static str {
        self.spec().0
    }

    /// The HTTP status that answers it.
    pub fn http_status(self) -> u16 {
        self.spec().1
    }

    /// The code named `s`.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Code::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown error code {s:?}")))
    }
}

/// What a refusal is about, in ids and numbers (amounts in fen): sent as the
/// error's `details` (SPEC §7), and said in English by its `Display`, which
/// is the error's `message`. Tagged by `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Detail {
    /// A fund holds less than the entry takes from it; with `reversing`,
    /// less than reversing that kind of entry takes back.
    InsufficientBalance {
        /// The fund.
        fund: String,
        /// Its balance.
        available: u64,
        /// What the entry takes.
        needed: u64,
        /// The kind of the entry a correction reverses, if one does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reversing: Option<Kind>,
    },
    /// A holder has fewer credit points than the entry takes.
    InsufficientCredits {
        /// The holder.
        holder: String,
        /// Its points.
        available: u64,
        /// What the entry takes.
        needed: u64,
        /// The kind of the entry a correction reverses, if one does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reversing: Option<Kind>,
    },
    /// The issuer used this voucher number before.
    DuplicateVoucher {
        /// The organisation.
        issuer: String,
        /// The voucher number.
        reference: String,
        /// The entry that used it.
        seq: u64,
    },
    /// No fund has this id.
    NoFund {
        /// The id.
        fund: String,
    },
    /// No need has this id.
    NoNeed {
        /// The id.
        need: String,
    },
    /// A disbursement names a need its issuer has not claimed.
    NeedNotClaimed {
        /// The need.
        need: String,
        /// The disbursement's issuer.
        issuer: String,
    },
    /// A disbursement names a need of another beneficiary.
    NeedOtherBeneficiary {
        /// The need.
        need: String,
    },
    /// Credit points for a holder that is neither an org nor a volunteer.
    UnknownHolder {
        /// The holder.
        holder: String,
    },
    /// A record the request names does not exist.
    NotFound {
        /// What it is: `entry`, `org`, `fund`, `need`, `beneficiary`, …
        thing: String,
        /// Its id.
        id: String,
    },
    /// A seq beyond the tree asked about, or a tree larger than the log.
    NoSeq {
        /// The seq.
        seq: u64,
        /// The size of the tree asked about.
        size: u64,
        /// The log's size.
        log_size: u64,
    },
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reversing = |k: &Option<Kind>| match k {
            Some(Kind::FundReceive) => " to reverse the receipt",
            Some(Kind::FundTransfer) => " to reverse the transfer",
            Some(Kind::CreditAward) => " to reverse the award",
            Some(_) => " to reverse the entry",
            None => "",
        };
        match self {
            Detail::InsufficientBalance {
                fund,
                available,
                needed,
                reversing: k,
            } => write!(
                f,
                "insufficient balance in fund {fund:?}{}: {available} available, {needed} needed",
                reversing(k)
            ),
            Detail::InsufficientCredits {
                holder,
                available,
                needed,
                reversing: k,
            } => write!(
                f,
                "insufficient credit points of {holder}{}: {available} available, {needed} needed",
                reversing(k)
            ),
            Detail::DuplicateVoucher {
                issuer,
                reference,
                seq,
            } => {
                write!(
                    f,
                    "duplicate voucher: {issuer} already used ref {reference:?} at seq {seq}"
                )
            }
            Detail::NoFund { fund } => write!(f, "no fund {fund:?}"),
            Detail::NoNeed { need } => write!(f, "no need {need:?}"),
            Detail::NeedNotClaimed { need, issuer } => {
                write!(f, "need {need:?} is not claimed by {issuer}")
            }
            Detail::NeedOtherBeneficiary { need } => {
                write!(f, "need {need:?} is for another beneficiary")
            }
            Detail::UnknownHolder { holder } => {
                write!(
                    f,
                    "holder {holder} is neither a registered org nor a vol_ pseudonym"
                )
            }
            Detail::NotFound { thing, id } => write!(f, "no {thing} {id}"),
            Detail::NoSeq {
                seq,
                size,
                log_size,
            } => {
                write!(
                    f,
                    "no seq {seq} in a tree of size {size} (tree size {log_size})"
                )
            }
        }
    }
}

/// An error answer of the HTTP API (SPEC §7):
/// `{"error":{"code","message","details"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorAnswer,
}

/// The `error` member of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// SPEC code.
    pub code: Code,
    /// What went wrong, in English.
    pub message: String,
    /// The refusal's ids and numbers, when it has them; a reason this
    /// build does not know reads as none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known_detail"
    )]
    pub details: Option<Detail>,
}

fn known_detail<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Detail>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(Detail::deserialize(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_string_and_a_status() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert!((400..600).contains(&c.http_status()), "{c}");
        }
        assert_eq!(Code::parse("teapot"), None);
    }

    #[test]
    fn details_travel_as_json_and_say_the_english_message() {
        let d = Detail::InsufficientBalance {
            fund: "MED".into(),
            available: 5,
            needed: 7,
            reversing: None,
        };
        assert_eq!(
            d.to_string(),
            "insufficient balance in fund \"MED\": 5 available, 7 needed"
        );
        let body = ErrorBody {
            error: ErrorAnswer {
                code: Code::RuleViolation,
                message: d.to_string(),
                details: Some(d),
            },
        };
        let json = serde_json::to_string(&body).unwrap();
        assert!(json.contains(r#""details":{"reason":"insufficient_balance","fund":"MED","available":5,"needed":7}"#), "{json}");
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), body);
        let plain = r#"{"error":{"code":"not_found","message":"no route"}}"#;
        assert_eq!(
            serde_json::from_str::<ErrorBody>(plain)
                .unwrap()
                .error
                .details,
            None
        );
        assert!(
            serde_json::from_str::<ErrorBody>(r#"{"error":{"code":"teapot","message":""}}"#)
                .is_err()
        );
        let newer =
            r#"{"error":{"code":"rule_violation","message":"m","details":{"reason":"later"}}}"#;
        let newer = serde_json::from_str::<ErrorBody>(newer).unwrap();
        assert_eq!(
            (newer.error.code, newer.error.details),
            (Code::RuleViolation, None)
        );
    }
}
