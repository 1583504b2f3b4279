//! The SPEC's error codes (§7), one enum for the rules, the node and the
//! CLI: each code's string and HTTP status in one `match` without a
//! fallback, so that a new code cannot silently become a 500.

use std::fmt;

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
    /// The node is busy or stopping; retry.
    Overloaded,
    /// The node failed (storage); no detail is given to clients.
    Internal,
}

impl Code {
    /// Every code, in the SPEC's order.
    pub const ALL: [Code; 14] = [
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

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
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
}
