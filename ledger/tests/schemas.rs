//! The JSON Schemas in `schemas/`: every kind has a schema and an example
//! body, every example validates, every example of the shared vectors
//! validates, and refusals name the field.

mod common;

use std::path::PathBuf;

use ledger::rules::{check_submission, Code};
use ledger::schema::{validate_entry, KIND_SCHEMAS};
use serde_json::{json, Value};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn entry_with(kind: &str, body: Value) -> Value {
    json!({
        "statement": {"v": 1, "kind": kind, "issuer": common::CHARITY, "key": common::pubkey(2),
                      "nonce": "example-1", "issued_at": "2026-03-01T09:00:00Z", "body": body},
        "signature": "00".repeat(64),
    })
}

#[test]
fn every_kind_has_a_schema_file_and_a_valid_example() {
    let mut files: Vec<String> = std::fs::read_dir(schemas_dir().join("kinds"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_owned()
        })
        .collect();
    files.sort();
    let mut kinds: Vec<String> = KIND_SCHEMAS.iter().map(|(k, _)| k.to_string()).collect();
    kinds.sort();
    assert_eq!(files, kinds, "schemas/kinds/ and the embedded list differ");
    for kind in kinds {
        let text = std::fs::read_to_string(schemas_dir().join(format!("examples/{kind}.json")))
            .unwrap_or_else(|_| panic!("no example for {kind}"));
        let body: Value = serde_json::from_str(&text).unwrap();
        validate_entry(&entry_with(&kind, body)).unwrap_or_else(|e| panic!("example {kind}: {e}"));
    }
}

#[test]
fn vector_entries_pass_schema_and_signature() {
    let v: Value = serde_json::from_str(include_str!("../../tests/vectors/ledger.json")).unwrap();
    for l in v["leaves"].as_array().unwrap() {
        let bytes = serde_json::to_vec(&l["entry"]).unwrap();
        check_submission(&bytes).unwrap_or_else(|e| panic!("seq {}: {e}", l["seq"]));
    }
}

#[test]
fn refusals_name_the_field() {
    let check = |body: Value, kind: &str, path: &str| {
        let e = validate_entry(&entry_with(kind, body)).unwrap_err();
        assert_eq!(e.path, path, "{e}");
    };
    let mut d = common::disburse("F", &common::bnf(1), "illness", 100, "2026-02-01");
    d["method"] = json!("bank");
    check(d, "disbursement", "/statement/body/method");
    let mut d = common::disburse("F", &common::bnf(1), "illness", 100, "2026-02-01");
    d["amount"] = json!(-5);
    check(d, "disbursement", "/statement/body/amount");
    let mut a = serde_json::from_str::<Value>(
        &std::fs::read_to_string(schemas_dir().join("examples/assessment.result.json")).unwrap(),
    )
    .unwrap();
    a["indicators"][1]["weight"] = json!(101);
    check(
        a,
        "assessment.result",
        "/statement/body/indicators/1/weight",
    );
    let mut e = entry_with("need.claim", json!({"need": "N"}));
    e["statement"]["issuer"] = json!("CN-USCI-53440300MJ0000018A");
    assert_eq!(validate_entry(&e).unwrap_err().path, "/statement/issuer");
    e["statement"]["issuer"] = json!(common::CHARITY);
    e["signature"] = json!("00");
    assert_eq!(validate_entry(&e).unwrap_err().path, "/signature");
    // Through the whole check, a schema refusal carries the code and the path.
    let r = check_submission(&common::signed(
        2,
        common::CHARITY,
        "need.claim",
        "n1",
        json!({"need": "N", "x": 1}),
    ))
    .unwrap_err();
    assert_eq!(r.code, Code::SchemaViolation);
    assert!(r.message.contains("/statement/body"), "{}", r.message);
}
