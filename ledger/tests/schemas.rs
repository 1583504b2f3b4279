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

/// The field names a serde struct declares, read from what its derived
/// `Deserialize` hands `deserialize_struct`.
fn declared_fields<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{self, Deserializer, Visitor};
    struct Introspect<'a>(&'a mut Vec<&'static str>);
    impl<'de> Deserializer<'de> for Introspect<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(fields);
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }
    let mut fields = Vec::new();
    let _ = T::deserialize(Introspect(&mut fields));
    fields.sort_unstable();
    fields
}

/// The property names of a schema object, sorted.
fn properties(schema: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = schema["properties"]
        .as_object()
        .expect("an object schema")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

/// The typed bodies of `ledger::body` and the kinds' JSON Schemas name the
/// same fields, nested objects included, and every kind has a body type.
#[test]
fn body_types_name_the_fields_of_their_schemas() {
    use ledger::body::{self, Body};
    use ledger::domain::Kind;
    fn check<T: Body>(seen: &mut Vec<Kind>) -> Value {
        let file = schemas_dir().join(format!("kinds/{}.json", T::KIND));
        let schema: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        assert_eq!(declared_fields::<T>(), properties(&schema), "{}", T::KIND);
        seen.push(T::KIND);
        schema
    }
    let mut seen = Vec::new();
    let register = check::<body::OrgRegister>(&mut seen);
    let org = &register["properties"]["org"];
    assert_eq!(declared_fields::<body::Org>(), properties(org));
    let grant = &register["properties"]["keys"]["items"];
    assert_eq!(declared_fields::<body::KeyGrant>(), properties(grant));
    check::<body::KeyAdd>(&mut seen);
    check::<body::KeyRevoke>(&mut seen);
    check::<body::FundOpen>(&mut seen);
    check::<body::FundReceive>(&mut seen);
    check::<body::FundTransfer>(&mut seen);
    check::<body::Disbursement>(&mut seen);
    check::<body::CreditAward>(&mut seen);
    check::<body::CreditRedeem>(&mut seen);
    let assessment = check::<body::AssessmentResult>(&mut seen);
    let indicator = &assessment["properties"]["indicators"]["items"];
    assert_eq!(declared_fields::<body::Indicator>(), properties(indicator));
    check::<body::NeedPublish>(&mut seen);
    check::<body::NeedClaim>(&mut seen);
    check::<body::NeedRelease>(&mut seen);
    check::<body::NeedFulfil>(&mut seen);
    check::<body::Correction>(&mut seen);
    check::<body::RulesActivate>(&mut seen);
    check::<body::PseudonymKey>(&mut seen);
    check::<body::NeedReview>(&mut seen);
    check::<body::HouseholdMonitor>(&mut seen);
    check::<body::HouseholdVisit>(&mut seen);
    check::<body::HouseholdClose>(&mut seen);
    check::<body::FundRecover>(&mut seen);
    check::<body::DisbursementApprove>(&mut seen);
    check::<body::DisbursementReject>(&mut seen);
    seen.sort();
    assert_eq!(seen, Kind::ALL, "a kind without a body type");
}

/// Every example body reads as its kind's type and writes back the same
/// JSON: the types accept what the schemas accept.
#[test]
fn example_bodies_round_trip_through_their_types() {
    use ledger::body::{self, Body};
    fn round_trip<T: Body>() {
        let file = schemas_dir().join(format!("examples/{}.json", T::KIND));
        let example: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let typed: T = body::parse(&example).unwrap_or_else(|e| panic!("{}: {e}", T::KIND));
        assert_eq!(body::to_value(&typed), example, "{}", T::KIND);
    }
    round_trip::<body::OrgRegister>();
    round_trip::<body::KeyAdd>();
    round_trip::<body::KeyRevoke>();
    round_trip::<body::FundOpen>();
    round_trip::<body::FundReceive>();
    round_trip::<body::FundTransfer>();
    round_trip::<body::Disbursement>();
    round_trip::<body::CreditAward>();
    round_trip::<body::CreditRedeem>();
    round_trip::<body::AssessmentResult>();
    round_trip::<body::NeedPublish>();
    round_trip::<body::NeedClaim>();
    round_trip::<body::NeedRelease>();
    round_trip::<body::NeedFulfil>();
    round_trip::<body::Correction>();
    round_trip::<body::RulesActivate>();
    round_trip::<body::PseudonymKey>();
    round_trip::<body::NeedReview>();
    round_trip::<body::HouseholdMonitor>();
    round_trip::<body::HouseholdVisit>();
    round_trip::<body::HouseholdClose>();
    round_trip::<body::FundRecover>();
    round_trip::<body::DisbursementApprove>();
    round_trip::<body::DisbursementReject>();
}

/// The replay's typed check gives the verdict and the path of the JSON one,
/// for every kind's example and every way of spoiling its envelope that the
/// types still let through.
#[test]
fn the_typed_check_agrees_with_the_json_schema() {
    let spoiled: Vec<(&str, Value)> = vec![
        ("v", json!(2)),
        ("issuer", json!("CN-USCI-53440300MJ0000018A")),
        ("issuer", json!("")),
        ("issuer", json!("XM-DAC-41122")),
        ("nonce", json!("")),
        ("nonce", json!("a".repeat(65))),
        ("nonce", json!("a".repeat(64))),
        ("nonce", json!("a b")),
        ("nonce", json!("ok.1:x-Y_z")),
        ("issued_at", json!("2026-03-01T09:00:00.123456789Z")),
        ("issued_at", json!("2026-03-01T09:00:00.1234567890Z")),
        ("issued_at", json!("2026-13-45T99:99:99Z")),
        ("issued_at", json!("2026-03-01 09:00:00Z")),
        ("issued_at", json!("2026-03-01T09:00:00.Z")),
        ("issued_at", json!("2026-03-01T09:00:00z")),
        ("issued_at", json!("2026-03-01T09:00:00+08:00")),
        ("issued_at", json!("２026-03-01T09:00:00Z")),
        ("issued_at", json!("2026-03-01T09:00:00Z\n")),
        ("body", json!([])),
        ("body", json!(5)),
        ("body", json!({})),
        ("body", json!({"x": 1})),
    ];
    let mut cases = 0;
    for (kind, _) in KIND_SCHEMAS {
        let example: Value = serde_json::from_str(
            &std::fs::read_to_string(schemas_dir().join(format!("examples/{kind}.json"))).unwrap(),
        )
        .unwrap();
        let mut entries = vec![entry_with(kind, example.clone())];
        for (member, value) in &spoiled {
            let mut e = entry_with(kind, example.clone());
            e["statement"][*member] = value.clone();
            entries.push(e);
        }
        for e in entries {
            let json = validate_entry(&e).map_err(|e| e.path);
            let typed: ledger::entry::SignedEntry = serde_json::from_value(e.clone()).unwrap();
            let typed = ledger::schema::validate_signed(&typed).map_err(|e| e.path);
            assert_eq!(typed, json, "{e}");
            cases += 1;
        }
    }
    assert_eq!(cases, KIND_SCHEMAS.len() * (spoiled.len() + 1));
}
