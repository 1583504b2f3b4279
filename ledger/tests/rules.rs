//! Every kind's accepted path and every refusal, each with its exact SPEC
//! code and the check that a refused entry changed nothing.

mod common;

use common::*;
use ledger::entry::PublicKey;
use ledger::records::NeedRec;
use ledger::rules::Code;
use ledger::sequencer::Outcome;
use ledger::state::tables::{read, Credits, Keys, Needs};
use serde_json::json;

/// A world with a funded charity fund and a union fund.
fn funded() -> World<ledger::store::MemBackend> {
    let mut w = World::new();
    w.ok(
        2,
        CHARITY,
        "fund.open",
        fund_open("CHA-MED", "medical", 50_000_000),
    );
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-MED", "amount": 1_000_000, "from": "社会捐赠", "date": "2026-01-07"}),
    );
    w.ok(3, UNION, "fund.open", fund_open("UNION-HARD", "tekun", 0));
    w.ok(3, UNION, "fund.receive", json!({"fund": "UNION-HARD", "amount": 500_000, "from": "工会经费", "date": "2026-01-08", "ref": "R-1"}));
    w
}

#[test]
fn money_flows_and_totals() {
    let mut w = funded();
    w.ok(2, CHARITY, "fund.transfer", json!({"from_fund": "CHA-MED", "to_fund": "UNION-HARD", "amount": 200_000, "date": "2026-01-10"}));
    w.ok(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(1), "illness", 300_000, "2026-02-01"),
    );
    let cha = w.fund("CHA-MED");
    assert_eq!(
        (
            cha.received,
            cha.transferred_out,
            cha.disbursed,
            cha.balance
        ),
        (1_000_000, 200_000, 300_000, 500_000)
    );
    assert_eq!(
        (cha.receipts, cha.transfers_out, cha.disbursements),
        (1, 1, 1)
    );
    assert_eq!(cha.execution_rate_bp(), Some(60)); // 300,000 of 50,000,000 = 0.6%
    let uni = w.fund("UNION-HARD");
    assert_eq!((uni.transferred_in, uni.balance), (200_000, 700_000));
    assert_eq!(uni.execution_rate_bp(), None);
    // Exactly the balance may be disbursed; one fen more may not.
    w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &bnf(2), "unemployment", 700_000, "2026-02-02"),
    );
    let msg = w.refuse(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &bnf(2), "unemployment", 1, "2026-02-02"),
        Code::RuleViolation,
    );
    assert!(msg.contains("insufficient"), "{msg}");
}

#[test]
fn keys_are_added_revoked_and_enforced() {
    let mut w = funded();
    // The charity's admin adds a disburse-only key (seed 5).
    w.ok(
        2,
        CHARITY,
        "key.add",
        json!({"org": CHARITY, "key": pubkey(5), "roles": ["disburse"]}),
    );
    w.ok(
        5,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(3), "illness", 1_000, "2026-02-01"),
    );
    // It may not open funds.
    w.refuse(
        5,
        CHARITY,
        "fund.open",
        fund_open("X", "other", 0),
        Code::RoleMissing,
    );
    // The key revokes itself; from then on it is refused.
    let at = w.ok(
        5,
        CHARITY,
        "key.revoke",
        json!({"org": CHARITY, "key": pubkey(5), "reason": "设备遗失"}),
    );
    let key = PublicKey(common::key(5).verifying_key().to_bytes());
    let k = read::<Keys>(w.log.backend(), &key).unwrap().unwrap();
    assert_eq!(k.revoked_seq, Some(at));
    w.refuse(
        5,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(3), "illness", 1_000, "2026-02-01"),
        Code::KeyRevoked,
    );
    // The registrar may add keys to any org, including registrar keys.
    w.ok(
        1,
        BUREAU,
        "key.add",
        json!({"org": UNION, "key": pubkey(6), "roles": ["credit"]}),
    );
    w.ok(
        1,
        BUREAU,
        "key.add",
        json!({"org": BUREAU, "key": pubkey(7), "roles": ["registrar"]}),
    );
    // An org's admin may not add keys to another org, nor grant registrar.
    w.refuse(
        2,
        CHARITY,
        "key.add",
        json!({"org": UNION, "key": pubkey(8), "roles": ["fund"]}),
        Code::RoleMissing,
    );
    w.refuse(
        2,
        CHARITY,
        "key.add",
        json!({"org": CHARITY, "key": pubkey(8), "roles": ["registrar"]}),
        Code::RoleMissing,
    );
    // Keys are never reused, revoked ones included.
    w.refuse(
        1,
        BUREAU,
        "key.add",
        json!({"org": CHARITY, "key": pubkey(5), "roles": ["fund"]}),
        Code::RuleViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "key.revoke",
        json!({"org": CHARITY, "key": pubkey(5), "reason": "x"}),
        Code::RuleViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "key.revoke",
        json!({"org": CHARITY, "key": pubkey(9), "reason": "x"}),
        Code::RuleViolation,
    );
    // Unknown key; key of another org.
    w.refuse(
        9,
        CHARITY,
        "fund.open",
        fund_open("X", "other", 0),
        Code::UnknownKey,
    );
    w.refuse(
        3,
        CHARITY,
        "fund.open",
        fund_open("X", "other", 0),
        Code::RoleMissing,
    );
}

#[test]
fn registration_rules() {
    let mut w = World::new();
    let org = |id: &str, k: u8| {
        json!({"org": {"id": id, "name": "社区", "type": "other", "region": "321181"},
                                       "keys": [{"key": pubkey(k), "roles": ["publish"]}]})
    };
    w.ok(1, BUREAU, "org.register", org("CN-COMMUNITY-0001", 10));
    w.refuse(
        1,
        BUREAU,
        "org.register",
        org("CN-COMMUNITY-0001", 11),
        Code::RuleViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "org.register",
        org("CN-COMMUNITY-0002", 10),
        Code::RuleViolation,
    );
    // Only the registrar registers.
    w.refuse(
        2,
        CHARITY,
        "org.register",
        org("CN-COMMUNITY-0003", 12),
        Code::RoleMissing,
    );
    // A key listed twice; an invalid USCI check character; bad type.
    let twice = json!({"org": {"id": "CN-COMMUNITY-0004", "name": "n", "type": "other", "region": "321181"},
                       "keys": [{"key": pubkey(13), "roles": ["publish"]}, {"key": pubkey(13), "roles": ["fund"]}]});
    w.refuse(1, BUREAU, "org.register", twice, Code::RuleViolation);
    let msg = w.refuse(
        1,
        BUREAU,
        "org.register",
        org("CN-USCI-53440300MJ0000018A", 14),
        Code::SchemaViolation,
    );
    assert!(msg.contains("/statement/body/org/id"), "{msg}");
    let mut bad = org("CN-COMMUNITY-0005", 15);
    bad["org"]["type"] = json!("company");
    w.refuse(1, BUREAU, "org.register", bad, Code::SchemaViolation);
    let mut repeated = org("CN-COMMUNITY-0006", 16);
    repeated["keys"][0]["roles"] = json!(["fund", "fund"]);
    w.refuse(1, BUREAU, "org.register", repeated, Code::SchemaViolation);
}

#[test]
fn genesis_rules() {
    use ledger::store::MemBackend;
    let reg = |k: u8, roles: serde_json::Value, issuer: &str| {
        signed(
            k,
            issuer,
            "org.register",
            "g",
            json!({
            "org": {"id": BUREAU, "name": "江苏省民政厅", "type": "government", "region": "320000"},
            "keys": [{"key": pubkey(1), "roles": roles}]}),
        )
    };
    for (bytes, why) in [
        (
            reg(1, json!(["admin"]), BUREAU),
            "signing key without registrar role",
        ),
        (
            reg(2, json!(["registrar"]), BUREAU),
            "signed by a key it does not register",
        ),
        (
            reg(1, json!(["registrar"]), CHARITY),
            "issuer is not the registered org",
        ),
        (
            signed(1, BUREAU, "fund.open", "g", fund_open("F", "other", 0)),
            "not an org.register",
        ),
    ] {
        let mut w = World::bare(MemBackend::new());
        let msg = w.refuse_bytes(&bytes, Code::RuleViolation);
        assert!(msg.contains("genesis"), "{why}: {msg}");
    }
    let mut w = World::bare(MemBackend::new());
    assert!(
        matches!(w.submit_bytes(&reg(1, json!(["registrar"]), BUREAU)), Ok(Outcome::Sequenced(s)) if s.seq == 0)
    );
}

#[test]
fn envelope_and_check_order() {
    let mut w = funded();
    w.refuse_bytes(b"{", Code::MalformedJson);
    w.refuse_bytes(b"[1,2", Code::MalformedJson);
    // too_large comes before the schema: an unknown field 70 kB long.
    let huge = signed(
        2,
        CHARITY,
        "fund.open",
        "big",
        json!({"fund": "F", "x": "a".repeat(70_000)}),
    );
    w.refuse_bytes(&huge, Code::TooLarge);
    // Schema: unknown field, float, missing field, unknown kind, bad nonce.
    let mut body = disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01");
    body["extra"] = json!(1);
    let msg = w.refuse(2, CHARITY, "disbursement", body, Code::SchemaViolation);
    assert!(msg.contains("/statement/body"), "{msg}");
    let float = String::from_utf8(signed(
        2,
        CHARITY,
        "disbursement",
        "f1",
        disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01"),
    ))
    .unwrap()
    .replace("\"amount\":100", "\"amount\":100.0");
    w.refuse_bytes(float.as_bytes(), Code::SchemaViolation);
    let mut missing = disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01");
    missing.as_object_mut().unwrap().remove("tier");
    w.refuse(2, CHARITY, "disbursement", missing, Code::SchemaViolation);
    // An unknown kind cannot be signed through the typed API: rename one.
    let unknown = String::from_utf8(signed(2, CHARITY, "fund.open", "k1", json!({})))
        .unwrap()
        .replace("\"kind\":\"fund.open\"", "\"kind\":\"fund.close\"");
    assert!(unknown.contains("fund.close"));
    w.refuse_bytes(unknown.as_bytes(), Code::SchemaViolation);
    w.refuse(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-30"),
        Code::SchemaViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "disbursement",
        disburse(
            "CHA-MED",
            "11010519491231002X",
            "illness",
            100,
            "2026-02-01",
        ),
        Code::SchemaViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(1), "illness", 0, "2026-02-01"),
        Code::SchemaViolation,
    );
    // bad_signature: the body changed after signing (and before the PII check).
    let good = String::from_utf8(signed(
        2,
        CHARITY,
        "disbursement",
        "s1",
        disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01"),
    ))
    .unwrap();
    w.refuse_bytes(
        good.replace("\"amount\":100", "\"amount\":900").as_bytes(),
        Code::BadSignature,
    );
    // A number past 2^53-1 has no canonical form: a schema violation, before the signature.
    w.refuse_bytes(
        good.replace("\"amount\":100", "\"amount\":9007199254740992")
            .as_bytes(),
        Code::SchemaViolation,
    );
    let with_id = String::from_utf8(signed(2, CHARITY, "disbursement", "s2", json!({"fund": "CHA-MED", "beneficiary": bnf(1),
        "tier": "vulnerable", "cause": "illness", "amount": 100, "method": "cash", "region": "321181", "date": "2026-02-01",
        "ref": "户主身份证11010519491231002X"}))).unwrap();
    w.refuse_bytes(
        with_id
            .replace("\"amount\":100", "\"amount\":101")
            .as_bytes(),
        Code::BadSignature,
    );
    // PII before nonce and key checks: an unknown key with an ID number in the body.
    let mut body = disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01");
    body["ref"] = json!("户主身份证11010519491231002X");
    let msg = w.refuse(9, CHARITY, "disbursement", body, Code::PiiDetected);
    assert!(msg.contains("body.ref"), "{msg}");
    w.refuse(
        2,
        CHARITY,
        "need.publish",
        json!({"need": "N-1", "beneficiary": bnf(1), "category": "medical",
        "cause": "illness", "amount": 1, "region": "321181", "summary": "联系电话13812345678"}),
        Code::PiiDetected,
    );
    // What people type: fullwidth digits, numbers split by separators.
    for typed in [
        "联系电话１３８１２３４５６７８",
        "电话 138 1234 5678",
        "身份证 110105-19491231-002X",
        "电话138\u{200B}1234\u{200B}5678",
    ] {
        let mut body = disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01");
        body["ref"] = json!(typed);
        let msg = w.refuse(2, CHARITY, "disbursement", body, Code::PiiDetected);
        assert!(msg.contains("body.ref"), "{typed}: {msg}");
    }
    // The nonce is read too.
    let in_nonce = signed(
        2,
        CHARITY,
        "disbursement",
        "pay-138-1234-5678",
        disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01"),
    );
    let msg = w.refuse_bytes(&in_nonce, Code::PiiDetected);
    assert!(msg.starts_with("nonce holds a mobile"), "{msg}");
    // An org id of another scheme is read after its `XX-SCHEME-` prefix.
    let msg = w.refuse(
        1,
        BUREAU,
        "org.register",
        json!({"org": {"id": "CN-ABC-11010519491231002X", "name": "x", "type": "other", "region": "320000"},
            "keys": [{"key": pubkey(7), "roles": ["admin"]}]}),
        Code::PiiDetected,
    );
    assert!(msg.contains("body.org.id"), "{msg}");
    // Allowed look-alikes are not PII.
    for allowed in [
        "订单 2026020100001234567",
        "账号 6222 0200 1234 5678 901",
        "2026-11-28 发放 3 笔",
    ] {
        let mut body = disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01");
        body["ref"] = json!(allowed);
        w.ok(2, CHARITY, "disbursement", body);
    }
}

#[test]
fn nonces_make_submission_idempotent() {
    let mut w = funded();
    let bytes = signed(
        2,
        CHARITY,
        "disbursement",
        "pay-1",
        disburse("CHA-MED", &bnf(1), "illness", 100, "2026-02-01"),
    );
    let Ok(Outcome::Sequenced(first)) = w.submit_bytes(&bytes) else {
        panic!()
    };
    let size = w.log.size();
    // The same statement again, with whitespace and key order changed: the original seq, nothing new.
    let reordered =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
            .unwrap();
    assert_eq!(
        w.submit_bytes(&reordered),
        Ok(Outcome::Resubmitted(first.seq))
    );
    assert_eq!(w.log.size(), size);
    // Another statement under the same nonce: a conflict.
    let other = signed(
        2,
        CHARITY,
        "disbursement",
        "pay-1",
        disburse("CHA-MED", &bnf(1), "illness", 101, "2026-02-01"),
    );
    w.refuse_bytes(&other, Code::NonceConflict);
    // The same nonce is free for another issuer.
    let theirs = signed(
        3,
        UNION,
        "disbursement",
        "pay-1",
        disburse("UNION-HARD", &bnf(1), "illness", 100, "2026-02-01"),
    );
    assert!(matches!(w.submit_bytes(&theirs), Ok(Outcome::Sequenced(_))));
}

#[test]
fn fund_rules() {
    let mut w = funded();
    w.refuse(
        2,
        CHARITY,
        "fund.open",
        fund_open("CHA-MED", "medical", 1),
        Code::RuleViolation,
    );
    let mut backwards = fund_open("CHA-2", "medical", 1);
    backwards["start"] = json!("2027-01-01");
    w.refuse(2, CHARITY, "fund.open", backwards, Code::RuleViolation);
    let mut usd = fund_open("CHA-3", "medical", 1);
    usd["currency"] = json!("USD");
    w.refuse(2, CHARITY, "fund.open", usd, Code::SchemaViolation);
    // Only the owner receives into, transfers from and disburses from a fund.
    w.refuse(
        3,
        UNION,
        "fund.receive",
        json!({"fund": "CHA-MED", "amount": 1, "from": "x", "date": "2026-01-07"}),
        Code::RoleMissing,
    );
    w.refuse(
        3,
        UNION,
        "disbursement",
        disburse("CHA-MED", &bnf(1), "illness", 1, "2026-02-01"),
        Code::RoleMissing,
    );
    w.refuse(
        3,
        UNION,
        "fund.transfer",
        json!({"from_fund": "CHA-MED", "to_fund": "UNION-HARD", "amount": 1, "date": "2026-01-10"}),
        Code::RoleMissing,
    );
    w.refuse(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "NOPE", "amount": 1, "from": "x", "date": "2026-01-07"}),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "fund.transfer",
        json!({"from_fund": "CHA-MED", "to_fund": "CHA-MED", "amount": 1, "date": "2026-01-10"}),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "fund.transfer",
        json!({"from_fund": "CHA-MED", "to_fund": "NOPE", "amount": 1, "date": "2026-01-10"}),
        Code::RuleViolation,
    );
    w.refuse(2, CHARITY, "fund.transfer", json!({"from_fund": "CHA-MED", "to_fund": "UNION-HARD", "amount": 1_000_001, "date": "2026-01-10"}), Code::RuleViolation);
    // Sums past 2^53-1 are refused.
    let max = 9_007_199_254_740_991u64;
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-MED", "amount": max - 1_000_000, "from": "x", "date": "2026-01-07"}),
    );
    let msg = w.refuse(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-MED", "amount": 1, "from": "x", "date": "2026-01-07"}),
        Code::RuleViolation,
    );
    assert!(msg.contains("2^53-1"), "{msg}");
}

#[test]
fn credit_points() {
    let mut w = funded();
    w.ok(
        2,
        CHARITY,
        "credit.award",
        json!({"holder": vol(1), "points": 50, "reason": "社区探访志愿服务"}),
    );
    w.ok(
        2,
        CHARITY,
        "credit.award",
        json!({"holder": UNION, "points": 10, "reason": "联合救助", "ref": "A-1"}),
    );
    w.ok(
        2,
        CHARITY,
        "credit.redeem",
        json!({"holder": vol(1), "points": 20, "reason": "兑换生活用品"}),
    );
    w.refuse(
        2,
        CHARITY,
        "credit.redeem",
        json!({"holder": vol(1), "points": 31, "reason": "x"}),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "credit.award",
        json!({"holder": "CN-COMMUNITY-9", "points": 1, "reason": "x"}),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "credit.award",
        json!({"holder": bnf(1), "points": 1, "reason": "x"}),
        Code::SchemaViolation,
    );
    // A key without the credit role may not award.
    w.ok(
        1,
        BUREAU,
        "org.register",
        json!({"org": {"id": "CN-COMMUNITY-7", "name": "社区", "type": "other", "region": "321181"},
        "keys": [{"key": pubkey(20), "roles": ["publish"]}]}),
    );
    w.refuse(
        20,
        "CN-COMMUNITY-7",
        "credit.award",
        json!({"holder": vol(1), "points": 1, "reason": "x"}),
        Code::RoleMissing,
    );
    let c = read::<Credits>(w.log.backend(), &vol(1)).unwrap().unwrap();
    assert_eq!((c.balance, c.awarded, c.redeemed), (30, 50, 20));
}

fn assess(subject_type: &str, subject: &str) -> serde_json::Value {
    json!({"subject_type": subject_type, "subject": subject, "period_start": "2026-01-01", "period_end": "2026-12-31",
        "indicators": [{"code": "cover", "name": "救助覆盖率", "unit": "%", "op": "ge", "target": 95, "actual": 97, "weight": 60, "score": 6000},
                       {"code": "late", "name": "超时发放", "unit": "次", "op": "le", "target": 0, "actual": 1, "weight": 40, "score": 3000}],
        "score": 9000, "grade": "excellent"})
}

#[test]
fn assessments() {
    let mut w = funded();
    w.ok(1, BUREAU, "assessment.result", assess("org", CHARITY));
    w.ok(1, BUREAU, "assessment.result", assess("fund", "UNION-HARD"));
    w.ok(1, BUREAU, "assessment.result", assess("region", "321181"));
    w.ok(
        2,
        CHARITY,
        "assessment.result",
        assess("fund", "UNION-HARD"),
    );
    w.refuse(
        1,
        BUREAU,
        "assessment.result",
        assess("org", BUREAU),
        Code::RuleViolation,
    );
    w.refuse(
        3,
        UNION,
        "assessment.result",
        assess("fund", "UNION-HARD"),
        Code::RuleViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "assessment.result",
        assess("org", "CN-COMMUNITY-404"),
        Code::RuleViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "assessment.result",
        assess("fund", "NOPE"),
        Code::RuleViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "assessment.result",
        assess("region", "32118"),
        Code::SchemaViolation,
    );
    let mut backwards = assess("org", CHARITY);
    backwards["period_start"] = json!("2027-01-01");
    w.refuse(
        1,
        BUREAU,
        "assessment.result",
        backwards,
        Code::RuleViolation,
    );
    let mut score = assess("org", CHARITY);
    score["score"] = json!(10_001);
    w.refuse(1, BUREAU, "assessment.result", score, Code::SchemaViolation);
    let mut none = assess("org", CHARITY);
    none["indicators"] = json!([]);
    w.refuse(1, BUREAU, "assessment.result", none, Code::SchemaViolation);
}

fn need_body(id: &str, who: &str) -> serde_json::Value {
    json!({"need": id, "beneficiary": who, "category": "medical", "cause": "illness", "amount": 500_000,
           "region": "321181", "summary": "白血病化疗费用缺口"})
}

fn need(w: &World<ledger::store::MemBackend>, id: &str) -> NeedRec {
    read::<Needs>(w.log.backend(), id).unwrap().unwrap()
}

#[test]
fn needs_are_claimed_once() {
    let mut w = funded();
    w.ok(1, BUREAU, "need.publish", need_body("N-1", &bnf(7)));
    w.refuse(
        1,
        BUREAU,
        "need.publish",
        need_body("N-1", &bnf(7)),
        Code::RuleViolation,
    );
    w.ok(2, CHARITY, "need.claim", json!({"need": "N-1"}));
    assert_eq!(need(&w, "N-1").claimer.as_deref(), Some(CHARITY));
    // Only a disburse key of the claiming organisation releases or fulfils it.
    w.ok(
        1,
        BUREAU,
        "key.add",
        json!({"org": CHARITY, "key": pubkey(9), "roles": ["credit"]}),
    );
    for (kind, body) in [
        ("need.release", json!({"need": "N-1", "reason": "x"})),
        ("need.fulfil", json!({"need": "N-1", "disbursement": 0})),
    ] {
        let msg = w.refuse(9, CHARITY, kind, body, Code::RoleMissing);
        assert!(msg.contains("disburse"), "{msg}");
    }
    // A second organisation cannot claim it; the claimer alone releases or fulfils.
    let msg = w.refuse(
        3,
        UNION,
        "need.claim",
        json!({"need": "N-1"}),
        Code::RuleViolation,
    );
    assert!(msg.contains(CHARITY), "{msg}");
    w.refuse(
        3,
        UNION,
        "need.release",
        json!({"need": "N-1", "reason": "x"}),
        Code::RoleMissing,
    );
    w.refuse(
        2,
        CHARITY,
        "need.claim",
        json!({"need": "N-404"}),
        Code::RuleViolation,
    );
    // A disbursement naming the need must come from the claimer, to its beneficiary.
    w.refuse(
        3,
        UNION,
        "disbursement",
        json!({"fund": "UNION-HARD", "beneficiary": bnf(7), "tier": "assisted", "cause": "illness",
        "amount": 1, "method": "cash", "region": "321181", "date": "2026-03-01", "need": "N-1"}),
        Code::RuleViolation,
    );
    let mut for_other = disburse("CHA-MED", &bnf(8), "illness", 1, "2026-03-01");
    for_other["need"] = json!("N-1");
    w.refuse(2, CHARITY, "disbursement", for_other, Code::RuleViolation);
    let mut paid = disburse("CHA-MED", &bnf(7), "illness", 500_000, "2026-03-01");
    paid["need"] = json!("N-1");
    let pay = w.ok(2, CHARITY, "disbursement", paid);
    let other_bnf = w.ok(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(8), "illness", 1, "2026-03-01"),
    );
    let union_pay = w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &bnf(7), "illness", 1, "2026-03-01"),
    );
    w.refuse(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-1", "disbursement": other_bnf}),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-1", "disbursement": union_pay}),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-1", "disbursement": 2}),
        Code::RuleViolation,
    );
    w.ok(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-1", "disbursement": pay}),
    );
    let n = need(&w, "N-1");
    assert_eq!((n.state.as_str(), n.fulfilled_by), ("fulfilled", Some(pay)));
    w.refuse(
        2,
        CHARITY,
        "need.release",
        json!({"need": "N-1", "reason": "x"}),
        Code::RuleViolation,
    );
    // The same disbursement cannot fulfil a second need.
    w.ok(1, BUREAU, "need.publish", need_body("N-2", &bnf(7)));
    w.ok(2, CHARITY, "need.claim", json!({"need": "N-2"}));
    w.refuse(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-2", "disbursement": pay}),
        Code::RuleViolation,
    );
    // Release reopens it for others.
    w.ok(
        2,
        CHARITY,
        "need.release",
        json!({"need": "N-2", "reason": "资金不足"}),
    );
    w.ok(3, UNION, "need.claim", json!({"need": "N-2"}));
}

#[test]
fn corrections() {
    let mut w = funded();
    let pay = w.ok(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &bnf(1), "illness", 400_000, "2026-02-01"),
    );
    let before = w.fund("CHA-MED").balance;
    let stats_before = ledger::query::stats(w.log.backend()).unwrap();
    assert_eq!(
        (stats_before.total.count, stats_before.total.amount),
        (1, 400_000)
    );
    assert_eq!(stats_before.by_month["2026-02"].amount, 400_000);
    assert_eq!(stats_before.by_province["320000"].count, 1);
    assert_eq!(stats_before.by_issuer_type["charity"].count, 1);
    w.ok(
        2,
        CHARITY,
        "correction",
        json!({"target": pay, "reason": "重复录入", "reverse": true}),
    );
    assert_eq!(w.fund("CHA-MED").balance, before + 400_000);
    assert_eq!(w.fund("CHA-MED").disbursed, 0);
    // A reversed disbursement leaves the statistics.
    let stats = ledger::query::stats(w.log.backend()).unwrap();
    assert_eq!(
        (
            stats.total.count,
            stats.total.amount,
            stats.by_category["medical"].amount
        ),
        (0, 0, 0)
    );
    // Corrected once only.
    w.refuse(
        2,
        CHARITY,
        "correction",
        json!({"target": pay, "reason": "x", "reverse": false}),
        Code::RuleViolation,
    );
    // Reversing a receipt whose money is spent would overdraw: refused.
    let rcv = w.ok(
        3,
        UNION,
        "fund.receive",
        json!({"fund": "UNION-HARD", "amount": 100_000, "from": "x", "date": "2026-02-01"}),
    );
    w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &bnf(2), "housing", 550_000, "2026-02-02"),
    );
    let msg = w.refuse(
        3,
        UNION,
        "correction",
        json!({"target": rcv, "reason": "x", "reverse": true}),
        Code::RuleViolation,
    );
    assert!(msg.contains("insufficient"), "{msg}");
    // Another org may not correct it; the registrar may (an amendment, no reversal).
    w.refuse(
        2,
        CHARITY,
        "correction",
        json!({"target": rcv, "reason": "x", "reverse": false}),
        Code::RoleMissing,
    );
    w.ok(
        1,
        BUREAU,
        "correction",
        json!({"target": rcv, "reason": "凭证号更正", "reverse": false}),
    );
    // Not correctable: registrations, keys, needs; reverse needs an amount.
    w.refuse(
        1,
        BUREAU,
        "correction",
        json!({"target": 1, "reason": "x", "reverse": false}),
        Code::RuleViolation,
    );
    let a = w.ok(1, BUREAU, "assessment.result", assess("org", CHARITY));
    w.refuse(
        1,
        BUREAU,
        "correction",
        json!({"target": a, "reason": "x", "reverse": true}),
        Code::RuleViolation,
    );
    w.ok(
        1,
        BUREAU,
        "correction",
        json!({"target": a, "reason": "指标口径更正", "reverse": false}),
    );
    // A target in the future is refused.
    w.refuse(
        1,
        BUREAU,
        "correction",
        json!({"target": 10_000, "reason": "x", "reverse": false}),
        Code::RuleViolation,
    );
    // Credit reversals keep balances non-negative.
    let award = w.ok(
        2,
        CHARITY,
        "credit.award",
        json!({"holder": vol(3), "points": 10, "reason": "x"}),
    );
    w.ok(
        2,
        CHARITY,
        "credit.redeem",
        json!({"holder": vol(3), "points": 8, "reason": "x"}),
    );
    w.refuse(
        2,
        CHARITY,
        "correction",
        json!({"target": award, "reason": "x", "reverse": true}),
        Code::RuleViolation,
    );
}

#[test]
fn duplicate_aid_alerts() {
    let mut w = funded();
    let family = bnf(42);
    let first = w.ok(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &family, "illness", 10_000, "2026-02-01"),
    );
    // The same org again: no alert. Another cause: no alert.
    let same_org = w.ok(
        2,
        CHARITY,
        "disbursement",
        disburse("CHA-MED", &family, "illness", 10_000, "2026-02-10"),
    );
    let other_cause = w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &family, "education", 10_000, "2026-02-10"),
    );
    // Another org, same cause, 90 days later: an alert listing both earlier ones.
    let dup = w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &family, "illness", 10_000, "2026-05-02"),
    );
    // 87 days after the second but 96 after the first: only the second matches.
    let late = w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &family, "illness", 10_000, "2026-05-08"),
    );
    let alert = |w: &World<_>, seq: u64| ledger::query::alert(w.log.backend(), seq).unwrap();
    for quiet in [first, same_org, other_cause] {
        assert_eq!(alert(&w, quiet), None, "seq {quiet}");
    }
    assert_eq!(alert(&w, dup).unwrap().matches, vec![first, same_org]);
    assert_eq!(alert(&w, late).unwrap().matches, vec![same_org]);
    // A reversed disbursement no longer counts.
    w.ok(
        2,
        CHARITY,
        "correction",
        json!({"target": same_org, "reason": "x", "reverse": true}),
    );
    let after = w.ok(
        3,
        UNION,
        "disbursement",
        disburse("UNION-HARD", &family, "illness", 10_000, "2026-05-12"),
    );
    assert_eq!(alert(&w, after), None);
}

/// A voucher number is unique per issuing organisation across receipts,
/// transfers and disbursements (SPEC §6): a second use is a duplicate
/// voucher, even of a reversed entry's; another organisation may use it.
#[test]
fn a_voucher_number_pays_once() {
    let mut w = funded();
    let mut pay = disburse("CHA-MED", &bnf(1), "illness", 300_000, "2026-03-05");
    pay["ref"] = json!("MZ-0301");
    let first = w.ok(2, CHARITY, "disbursement", pay.clone());
    // The same row re-signed (another nonce): refused, and nothing changes.
    let msg = w.refuse(2, CHARITY, "disbursement", pay.clone(), Code::RuleViolation);
    assert!(
        msg.contains("duplicate voucher") && msg.contains(&format!("seq {first}")),
        "{msg}"
    );
    // Across kinds of the same organisation.
    let receive = json!({"fund": "CHA-MED", "amount": 5, "from": "x", "date": "2026-03-06", "ref": "MZ-0301"});
    w.refuse(2, CHARITY, "fund.receive", receive, Code::RuleViolation);
    let transfer = json!({"from_fund": "CHA-MED", "to_fund": "UNION-HARD", "amount": 5, "date": "2026-03-06", "ref": "MZ-0301"});
    w.refuse(2, CHARITY, "fund.transfer", transfer, Code::RuleViolation);
    // The union used R-1 already; the charity may use it.
    let receive =
        json!({"fund": "CHA-MED", "amount": 5, "from": "x", "date": "2026-03-06", "ref": "R-1"});
    w.ok(2, CHARITY, "fund.receive", receive);
    // A reversed entry's voucher stays used.
    w.ok(
        2,
        CHARITY,
        "correction",
        json!({"target": first, "reason": "录入错误", "reverse": true}),
    );
    w.refuse(2, CHARITY, "disbursement", pay, Code::RuleViolation);
    // Two uses in one commit group: the second is refused.
    let mut a = disburse("CHA-MED", &bnf(2), "illness", 10, "2026-03-07");
    a["ref"] = json!("MZ-0400");
    let mut b = disburse("CHA-MED", &bnf(3), "illness", 20, "2026-03-07");
    b["ref"] = json!("MZ-0400");
    let results = w.submit_group(vec![
        signed(2, CHARITY, "disbursement", "g-a", a),
        signed(2, CHARITY, "disbursement", "g-b", b),
    ]);
    assert!(
        matches!(results[0], Ok(Outcome::Sequenced(_))),
        "{results:?}"
    );
    assert!(
        matches!(&results[1], Err(r) if r.code == Code::RuleViolation),
        "{results:?}"
    );
}
