//! JSON Schema validation of submitted entries (draft 2020-12).
//!
//! The schemas are the files in `schemas/` at the workspace root, embedded at
//! build time: `entry.json` and `statement.json` for the envelope, and
//! `kinds/<kind>.json` for each kind's body. Formats the schema language
//! cannot express are registered as named formats (`org-id`: the GB 32100
//! check character). A refusal names the field (a JSON pointer) and the rule.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::{Registry, Validator};
use serde_json::Value;

use crate::entry::SignedEntry;

/// Base URI of the schemas' `$id`s.
pub const BASE_URI: &str = "https://aidledger.org/schemas/";

/// `(kind, body schema)` for every kind of SPEC §6, in the SPEC's order.
pub const KIND_SCHEMAS: [(&str, &str); 24] = [
    (
        "org.register",
        include_str!("../../schemas/kinds/org.register.json"),
    ),
    ("key.add", include_str!("../../schemas/kinds/key.add.json")),
    (
        "key.revoke",
        include_str!("../../schemas/kinds/key.revoke.json"),
    ),
    (
        "fund.open",
        include_str!("../../schemas/kinds/fund.open.json"),
    ),
    (
        "fund.receive",
        include_str!("../../schemas/kinds/fund.receive.json"),
    ),
    (
        "fund.transfer",
        include_str!("../../schemas/kinds/fund.transfer.json"),
    ),
    (
        "disbursement",
        include_str!("../../schemas/kinds/disbursement.json"),
    ),
    (
        "credit.award",
        include_str!("../../schemas/kinds/credit.award.json"),
    ),
    (
        "credit.redeem",
        include_str!("../../schemas/kinds/credit.redeem.json"),
    ),
    (
        "assessment.result",
        include_str!("../../schemas/kinds/assessment.result.json"),
    ),
    (
        "need.publish",
        include_str!("../../schemas/kinds/need.publish.json"),
    ),
    (
        "need.claim",
        include_str!("../../schemas/kinds/need.claim.json"),
    ),
    (
        "need.release",
        include_str!("../../schemas/kinds/need.release.json"),
    ),
    (
        "need.fulfil",
        include_str!("../../schemas/kinds/need.fulfil.json"),
    ),
    (
        "correction",
        include_str!("../../schemas/kinds/correction.json"),
    ),
    (
        "rules.activate",
        include_str!("../../schemas/kinds/rules.activate.json"),
    ),
    (
        "pseudonym.key",
        include_str!("../../schemas/kinds/pseudonym.key.json"),
    ),
    (
        "need.review",
        include_str!("../../schemas/kinds/need.review.json"),
    ),
    (
        "household.monitor",
        include_str!("../../schemas/kinds/household.monitor.json"),
    ),
    (
        "household.visit",
        include_str!("../../schemas/kinds/household.visit.json"),
    ),
    (
        "household.close",
        include_str!("../../schemas/kinds/household.close.json"),
    ),
    (
        "fund.recover",
        include_str!("../../schemas/kinds/fund.recover.json"),
    ),
    (
        "disbursement.approve",
        include_str!("../../schemas/kinds/disbursement.approve.json"),
    ),
    (
        "disbursement.reject",
        include_str!("../../schemas/kinds/disbursement.reject.json"),
    ),
];
const DEFS: &str = include_str!("../../schemas/defs.json");
const STATEMENT: &str = include_str!("../../schemas/statement.json");
const ENTRY: &str = include_str!("../../schemas/entry.json");

/// A schema refusal: where, and what rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// JSON pointer of the offending value, e.g. `/statement/body/amount`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

struct Schemas {
    entry: Validator,
    kinds: HashMap<&'static str, Validator>,
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("embedded schemas are JSON")
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut resources = vec![
            (format!("{BASE_URI}defs.json"), parse(DEFS)),
            (format!("{BASE_URI}statement.json"), parse(STATEMENT)),
        ];
        for (kind, text) in KIND_SCHEMAS {
            resources.push((format!("{BASE_URI}kinds/{kind}.json"), parse(text)));
        }
        let registry = Registry::new()
            .extend(resources.iter().map(|(uri, v)| (uri.as_str(), v)))
            .and_then(|r| r.prepare())
            .expect("embedded schemas form a registry");
        let build = |schema: &Value| {
            jsonschema::draft202012::options()
                .with_registry(&registry)
                .should_validate_formats(true)
                .with_format("org-id", crate::ident::is_org_id)
                .offline()
                .build(schema)
                .expect("embedded schemas compile")
        };
        Schemas {
            entry: build(&parse(ENTRY)),
            kinds: KIND_SCHEMAS
                .iter()
                .map(|(kind, text)| (*kind, build(&parse(text))))
                .collect(),
        }
    })
}

fn first_error(validator: &Validator, value: &Value, prefix: &str) -> Result<(), SchemaError> {
    // `is_valid` builds no error values: the fast path for the usual case.
    if validator.is_valid(value) {
        return Ok(());
    }
    match validator.iter_errors(value).next() {
        None => Ok(()),
        Some(e) => Err(SchemaError {
            path: format!("{prefix}{}", e.instance_path()),
            message: e.to_string(),
        }),
    }
}

/// Validates a submitted entry: the envelope against `entry.json`, then the
/// body against its kind's schema.
pub fn validate_entry(entry: &Value) -> Result<(), SchemaError> {
    let s = schemas();
    first_error(&s.entry, entry, "")?;
    let statement = &entry["statement"];
    validate_body(
        statement["kind"].as_str().unwrap_or_default(),
        &statement["body"],
    )
}

/// [`validate_entry`] for an entry already parsed into its types, as a
/// replay holds it: the same verdict and path, without turning the entry
/// back into a JSON value. The types already keep what `entry.json` and
/// `statement.json` require of the members, `kind`, `key` and `signature`;
/// the rest of the envelope is checked here as those schemas say.
pub fn validate_signed(entry: &SignedEntry) -> Result<(), SchemaError> {
    let st = &entry.statement;
    let at = |member: &str, message: String| SchemaError {
        path: format!("/statement/{member}"),
        message,
    };
    if st.v != 1 {
        return Err(at("v", format!("1 was expected, not {}", st.v)));
    }
    if !crate::ident::is_org_id(&st.issuer) {
        return Err(at("issuer", format!("{:?} is not a \"org-id\"", st.issuer)));
    }
    if !crate::entry::is_nonce(&st.nonce) {
        return Err(at(
            "nonce",
            format!(
                "{:?} does not match \"^[A-Za-z0-9._:-]{{1,64}}$\"",
                st.nonce
            ),
        ));
    }
    if !timestamp_shaped(&st.issued_at) {
        return Err(at(
            "issued_at",
            format!(
                "{:?} is not an RFC 3339 UTC timestamp ending in Z",
                st.issued_at
            ),
        ));
    }
    if !st.body.is_object() {
        return Err(at("body", format!("{} is not of type \"object\"", st.body)));
    }
    validate_body(st.kind.as_str(), &st.body)
}

/// `statement.json`'s `issued_at` pattern:
/// `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$`.
fn timestamp_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() < 20 || !b.is_ascii() || b[b.len() - 1] != b'Z' {
        return false;
    }
    let fixed = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let fraction = &b[19..b.len() - 1];
    fixed
        && (fraction.is_empty()
            || (fraction[0] == b'.'
                && (2..=10).contains(&fraction.len())
                && fraction[1..].iter().all(u8::is_ascii_digit)))
}

fn validate_body(kind: &str, body: &Value) -> Result<(), SchemaError> {
    let validator = schemas().kinds.get(kind).ok_or_else(|| SchemaError {
        path: "/statement/kind".into(),
        message: format!("unknown kind {kind:?}"),
    })?;
    first_error(validator, body, "/statement/body")
}
