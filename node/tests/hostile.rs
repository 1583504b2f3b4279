//! Hostile input (issue 19): a corpus of bad requests, by class, sent to
//! the real node binary on loopback. Each must get the SPEC's status and
//! error code, the log must not grow, and at the end the store must be
//! byte for byte what it was (every leaf, the tree and every state table:
//! a digest taken with the node stopped before and after).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use ledger::domain::Kind;
use ledger::store::{Log, RocksBackend};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common;
use common::{submit, CHARITY};

const REGISTRAR: &str = "CN-USCI-11320000MB0000019A";
const UNION: &str = "CN-USCI-81110000000000019C";
/// The charity's fund in the demo ledger.
const FUND: &str = "CSZH-2026-DABING";
/// A resident ID number with a valid check character (SPEC vectors).
const ID_NUMBER: &str = "11010519491231002X";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn node(data: &Path, addr: SocketAddr) -> testkit::Killed {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aidledger-node"));
    c.args(["demo", "--data", data.to_str().unwrap()])
        .args(["--listen", &addr.to_string()])
        .stderr(Stdio::null());
    testkit::Killed(testkit::spawn_listening(&mut c))
}

/// Every leaf, the tree head and every state table, hashed: read with the
/// node stopped.
fn digest(data: &Path) -> (u64, String) {
    let log = Log::open(RocksBackend::open(data).unwrap()).unwrap();
    let mut h = Sha256::new();
    log.scan(0, &mut |seq, bytes| {
        h.update(seq.to_be_bytes());
        h.update(bytes);
        true
    })
    .unwrap();
    h.update(log.root_at(log.size()).unwrap().hash.to_hex());
    for (table, k, v) in ledger::sequencer::dump(log.backend()).unwrap() {
        h.update(table.name());
        for part in [k, v] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
    }
    (log.size(), hex::encode(h.finalize()))
}

/// An entry signed by key `signer` for `issuer`.
fn signed(signer: u8, issuer: &str, kind: Kind, nonce: &str, body: Value) -> Value {
    let e = ledger::SignedEntry::create(
        &key(signer),
        issuer,
        kind,
        nonce,
        "2026-11-28T09:00:00Z",
        body,
    )
    .unwrap();
    serde_json::to_value(e).unwrap()
}

fn award_body(reason: &str) -> Value {
    json!({"holder": format!("vol_{}", "cd".repeat(32)), "points": 1, "reason": reason})
}

/// A valid credit award by the charity (key 2), not yet in the ledger.
fn award(nonce: &str) -> Value {
    signed(2, CHARITY, Kind::CreditAward, nonce, award_body("志愿服务"))
}

/// `entry` with `f` applied to its JSON, the signature left as it was
/// (the SPEC checks the schema before the signature).
fn edited(mut entry: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut entry);
    entry
}

/// `entry` with its statement re-signed by `signer` after `f`.
fn resigned(entry: Value, signer: u8, f: impl FnOnce(&mut Value)) -> Value {
    let mut statement = entry["statement"].clone();
    f(&mut statement);
    let statement: ledger::entry::Statement = serde_json::from_value(statement).unwrap();
    serde_json::to_value(statement.sign(&key(signer)).unwrap()).unwrap()
}

/// `entry` with the signature's bytes changed by `f`.
fn with_signature(entry: Value, f: impl FnOnce(&mut [u8; 64])) -> Value {
    let mut sig: [u8; 64] = hex::decode(entry["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    f(&mut sig);
    edited(entry, |e| e["signature"] = json!(hex::encode(sig)))
}

/// The order of the Ed25519 group, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `s + L` (little-endian): the same scalar, not in canonical form.
fn plus_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = s[i] as u16 + L[i] as u16 + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// A point of order 2 in its canonical encoding: (0, -1).
fn order_two() -> [u8; 32] {
    let mut p = [0xff; 32];
    p[0] = 0xec;
    p[31] = 0x7f;
    p
}

/// One request of the corpus, sent as these bytes on a fresh connection.
struct Case {
    class: &'static str,
    request: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn request(method: &str, path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn post_bytes(body: &[u8]) -> Vec<u8> {
    request(
        "POST",
        "/v1/entries",
        "Content-Type: application/json\r\n",
        body,
    )
}

fn post(entry: &Value) -> Vec<u8> {
    post_bytes(&serde_json::to_vec(entry).unwrap())
}

fn get(path: &str) -> Vec<u8> {
    request("GET", path, "", b"")
}

/// Sends `bytes` as they are; the status and the error code of the
/// answer (which must have the SPEC's shape).
fn send(addr: SocketAddr, bytes: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // The node may answer and close before reading all of a refused body.
    let _ = s.write_all(bytes);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body: Value = serde_json::from_slice(&answer[split + 4..]).unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("(none)");
    let message = body["error"]["message"].as_str().unwrap_or("");
    if code != "(none)" {
        assert!(!message.is_empty(), "{head}: an error without a message");
    }
    (status, code.to_string())
}

fn fund_balance(addr: SocketAddr, fund: &str) -> u64 {
    let (status, body) = testkit::http_get(addr, &format!("/v1/funds/{fund}"));
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["balance"].as_u64().unwrap()
}

fn claimed_need(addr: SocketAddr) -> String {
    let (_, body) = testkit::http_get(addr, "/v1/needs?state=claimed&limit=1");
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["items"][0]["need"].as_str().unwrap().to_string()
}

/// The seq of the first item of a listing at `path`.
fn first_seq(addr: SocketAddr, path: &str) -> u64 {
    let (_, body) = testkit::http_get(addr, path);
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["items"][0]["seq"].as_u64().unwrap()
}

/// Entries the corpus refers to, submitted before the baseline: a key the
/// charity added and revoked, an award with a voucher number, and a
/// correction of another award.
struct Setup {
    with_ref: Value,
    correction: u64,
}

fn setup(addr: SocketAddr) -> Setup {
    let hex6 = hex::encode(key(16).verifying_key().to_bytes());
    let add = signed(
        2,
        CHARITY,
        Kind::KeyAdd,
        "hostile-key-add",
        json!({"org": CHARITY, "key": hex6, "roles": ["credit"]}),
    );
    let revoke = signed(
        2,
        CHARITY,
        Kind::KeyRevoke,
        "hostile-key-revoke",
        json!({"org": CHARITY, "key": hex6, "reason": "离职"}),
    );
    let with_ref = signed(
        2,
        CHARITY,
        Kind::FundReceive,
        "hostile-ref",
        json!({"fund": FUND, "amount": 100, "from": "募捐", "date": "2026-11-01", "ref": "HOSTILE-0001"}),
    );
    for e in [&add, &revoke, &with_ref] {
        submit(addr, &serde_json::from_value(e.clone()).unwrap());
    }
    let target = submit(
        addr,
        &serde_json::from_value(award("hostile-corrected")).unwrap(),
    );
    let correction = signed(
        2,
        CHARITY,
        Kind::Correction,
        "hostile-correction",
        json!({"target": target, "reason": "录入错误", "reverse": true}),
    );
    let correction = submit(addr, &serde_json::from_value(correction).unwrap());
    Setup {
        with_ref,
        correction,
    }
}

fn corpus(addr: SocketAddr, s: &Setup) -> Vec<Case> {
    let good = award("hostile-good");
    let good_bytes = serde_json::to_vec(&good).unwrap();
    let text = String::from_utf8(good_bytes.clone()).unwrap();
    let case = |class, request, status, code| Case {
        class,
        request,
        status,
        code,
    };
    let schema = |class, entry: Value| case(class, post(&entry), 400, "schema_violation");
    let pii = |class, entry: Value| case(class, post(&entry), 422, "pii_detected");
    let rule = |class, entry: Value| case(class, post(&entry), 422, "rule_violation");
    let charity = |kind, nonce, body| signed(2, CHARITY, kind, nonce, body);
    let balance = fund_balance(addr, FUND);
    vec![
        // Malformed bytes.
        case("empty body", post_bytes(b""), 400, "malformed_json"),
        case("truncated JSON", post_bytes(&good_bytes[..good_bytes.len() / 2]), 400, "malformed_json"),
        case("one brace", post_bytes(b"{"), 400, "malformed_json"),
        case("trailing bytes after the entry", post_bytes(format!("{text} x").as_bytes()), 400, "malformed_json"),
        case("two entries without an array", post_bytes(format!("{text}{text}").as_bytes()), 400, "malformed_json"),
        case("deep nesting of arrays", post_bytes(&b"[".repeat(100_000)), 400, "malformed_json"),
        case(
            "deep nesting inside the body",
            post_bytes(text.replace("\"points\":1", &format!("\"points\":{}1{}", "[".repeat(5000), "]".repeat(5000))).as_bytes()),
            400,
            "malformed_json",
        ),
        case("invalid UTF-8 in a string", post_bytes(&[&good_bytes[..40], b"\xff\xfe", &good_bytes[40..]].concat()), 400, "malformed_json"),
        case("raw control character in a string", post_bytes(text.replace("志愿服务", "志愿\u{1}服务").as_bytes()), 400, "malformed_json"),
        case("lone surrogate escape", post_bytes(text.replace("志愿服务", "\\ud800").as_bytes()), 400, "malformed_json"),
        // Well-formed JSON that no statement may hold (SPEC §1).
        case("duplicate keys", post_bytes(text.replace("\"points\":1", "\"points\":1,\"points\":2").as_bytes()), 400, "schema_violation"),
        case("huge number", post_bytes(text.replace("\"points\":1", "\"points\":1e400").as_bytes()), 400, "schema_violation"),
        case("number with 400 digits", post_bytes(text.replace("\"points\":1", &format!("\"points\":{}", "9".repeat(400))).as_bytes()), 400, "schema_violation"),
        // Well-formed JSON of the wrong shape.
        schema("a bare string", json!("entry")),
        schema("statement is an array", edited(good.clone(), |e| e["statement"] = json!([1]))),
        schema("kind is a number", edited(good.clone(), |e| e["statement"]["kind"] = json!(7))),
        schema("unknown kind", edited(good.clone(), |e| e["statement"]["kind"] = json!("fund.steal"))),
        schema("unknown statement field", edited(good.clone(), |e| e["statement"]["admin"] = json!(true))),
        schema("unknown body field", edited(good.clone(), |e| e["statement"]["body"]["bonus"] = json!(1))),
        schema("unknown top-level field", edited(good.clone(), |e| e["extra"] = json!(1))),
        schema("missing nonce", edited(good.clone(), |e| { e["statement"].as_object_mut().unwrap().remove("nonce"); })),
        schema("version 2", edited(good.clone(), |e| e["statement"]["v"] = json!(2))),
        schema("non-integer points", edited(good.clone(), |e| e["statement"]["body"]["points"] = json!(1.5))),
        schema("negative points", edited(good.clone(), |e| e["statement"]["body"]["points"] = json!(-1))),
        schema("points past 2^53-1", edited(good.clone(), |e| e["statement"]["body"]["points"] = json!(1u64 << 53))),
        schema("points as a string", edited(good.clone(), |e| e["statement"]["body"]["points"] = json!("1"))),
        schema("NUL in a string", edited(good.clone(), |e| e["statement"]["body"]["reason"] = json!("志愿\u{0}服务"))),
        schema("empty nonce", edited(good.clone(), |e| e["statement"]["nonce"] = json!(""))),
        schema("impossible date", charity(Kind::FundReceive, "hostile-date", json!({"fund": FUND, "amount": 1, "from": "捐赠", "date": "2026-02-30"}))),
        schema("malformed issued_at", edited(good.clone(), |e| e["statement"]["issued_at"] = json!("yesterday"))),
        schema("key not hex", edited(good.clone(), |e| e["statement"]["key"] = json!("zz".repeat(32)))),
        schema("signature of the wrong length", edited(good.clone(), |e| e["signature"] = json!("00".repeat(63)))),
        schema("signature not hex", edited(good.clone(), |e| e["signature"] = json!("xy".repeat(64)))),
        case("an array of 1001 entries", post(&json!(vec![good.clone(); 1001])), 413, "too_large"),
        case("a body past the limit", post_bytes(&vec![b' '; node::BODY_LIMIT + 1]), 413, "too_large"),
        case(
            "an entry past the leaf limit",
            post(&charity(Kind::CreditAward, "hostile-big", award_body(&"长".repeat(30_000)))),
            413,
            "too_large",
        ),
        // Signatures.
        case("random signature", post(&with_signature(good.clone(), |s| s.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8))), 400, "bad_signature"),
        case("signature over other bytes", post(&edited(good.clone(), |e| e["statement"]["body"]["points"] = json!(2))), 400, "bad_signature"),
        case("signature by another key", post(&edited(good.clone(), |e| e["signature"] = json!(hex::encode(key(19).sign(b"other").to_bytes())))), 400, "bad_signature"),
        case("non-canonical S (S + L)", post(&with_signature(good.clone(), |s| { let big = plus_l(&s[32..]); s[32..].copy_from_slice(&big); })), 400, "bad_signature"),
        case("S all ones", post(&with_signature(good.clone(), |s| s[32..].fill(0xff))), 400, "bad_signature"),
        case("small-order R", post(&with_signature(good.clone(), |s| s[..32].copy_from_slice(&order_two()))), 400, "bad_signature"),
        case("identity R", post(&with_signature(good.clone(), |s| { s[..32].fill(0); s[0] = 1; })), 400, "bad_signature"),
        case(
            "small-order key (identity) with a zero signature",
            post(&edited(good.clone(), |e| {
                let mut id = [0u8; 32];
                id[0] = 1;
                e["statement"]["key"] = json!(hex::encode(id));
                let mut sig = [0u8; 64];
                sig[0] = 1;
                e["signature"] = json!(hex::encode(sig));
            })),
            400,
            "bad_signature",
        ),
        case("key not on the curve", post(&edited(good.clone(), |e| e["statement"]["key"] = json!(format!("02{}", "00".repeat(31))))), 400, "bad_signature"),
        // Keys and roles.
        case("unknown key", post(&signed(19, CHARITY, Kind::CreditAward, "hostile-unknown", award_body("志愿服务"))), 403, "unknown_key"),
        case("revoked key", post(&signed(16, CHARITY, Kind::CreditAward, "hostile-revoked", award_body("志愿服务"))), 403, "key_revoked"),
        case("key without the role", post(&signed(5, CHARITY, Kind::CreditAward, "hostile-role", award_body("志愿服务"))), 403, "role_missing"),
        case("another organisation's key", post(&signed(3, CHARITY, Kind::CreditAward, "hostile-other-org", award_body("志愿服务"))), 403, "role_missing"),
        case("registrar role granted by an admin", post(&charity(Kind::KeyAdd, "hostile-grant", json!({"org": CHARITY, "key": hex::encode(key(17).verifying_key().to_bytes()), "roles": ["registrar"]}))), 403, "role_missing"),
        case(
            "replayed nonce with a changed body",
            post(&resigned(s.with_ref.clone(), 2, |st| st["body"]["amount"] = json!(5))),
            409,
            "nonce_conflict",
        ),
        // Personal data, in every kind of string.
        pii("ID number in a reason", charity(Kind::CreditAward, "hostile-pii-1", award_body(&format!("户主{ID_NUMBER}")))),
        pii("ID number in a fund title", charity(Kind::FundOpen, "hostile-pii-2", json!({"fund": "H-1", "title": format!("救助{ID_NUMBER}"), "category": "medical", "source": "donation", "region": "320000", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31"}))),
        pii("mobile number in a receipt's payer", charity(Kind::FundReceive, "hostile-pii-3", json!({"fund": FUND, "amount": 1, "from": "张先生13812345678", "date": "2026-11-01"}))),
        pii("ID number in a voucher number", charity(Kind::CreditAward, "hostile-pii-4", json!({"holder": format!("vol_{}", "cd".repeat(32)), "points": 1, "reason": "志愿服务", "ref": ID_NUMBER}))),
        pii("ID number in the nonce", charity(Kind::CreditAward, ID_NUMBER, award_body("志愿服务"))),
        pii("ID number in a need's summary", charity(Kind::NeedPublish, "hostile-pii-6", json!({"need": "H-N-1", "beneficiary": format!("bnf_{}", "ab".repeat(32)), "category": "medical", "cause": "illness", "amount": 100, "region": "321181", "summary": format!("身份证{ID_NUMBER}")}))),
        pii("ID number in an org name", signed(1, REGISTRAR, Kind::OrgRegister, "hostile-pii-7", json!({"org": {"id": "XX-ORG-7", "name": format!("某{ID_NUMBER}会"), "type": "other", "region": "320000"}, "keys": [{"key": hex::encode(key(18).verifying_key().to_bytes()), "roles": ["fund"]}]}))),
        pii("ID number after an org id's scheme", signed(1, REGISTRAR, Kind::OrgRegister, "hostile-pii-8", json!({"org": {"id": format!("XX-ORG-{ID_NUMBER}"), "name": "某会", "type": "other", "region": "320000"}, "keys": [{"key": hex::encode(key(18).verifying_key().to_bytes()), "roles": ["fund"]}]}))),
        pii("ID number in a revocation reason", charity(Kind::KeyRevoke, "hostile-pii-9", json!({"org": CHARITY, "key": hex::encode(key(5).verifying_key().to_bytes()), "reason": ID_NUMBER}))),
        pii("ID number in fullwidth digits", charity(Kind::CreditAward, "hostile-pii-10", award_body("证件号１１０１０５１９４９１２３１００２Ｘ"))),
        pii("mobile number split by spaces", charity(Kind::CreditAward, "hostile-pii-11", award_body("电话 138 1234 5678"))),
        pii("ID number split by hyphens", charity(Kind::CreditAward, "hostile-pii-12", award_body("身份证 110105-19491231-002X"))),
        pii("mobile number split by zero-width spaces", charity(Kind::CreditAward, "hostile-pii-13", award_body("电话138\u{200b}1234\u{200b}5678"))),
        pii("ID number split by ideographic spaces", charity(Kind::CreditAward, "hostile-pii-14", award_body("110105\u{3000}19491231\u{3000}002X"))),
        // Rules.
        rule("overdraw by one fen", charity(Kind::Disbursement, "hostile-overdraw", json!({"fund": FUND, "beneficiary": format!("bnf_{}", "ab".repeat(32)), "tier": "assisted", "cause": "illness", "amount": balance + 1, "method": "cash", "region": "321181", "date": "2026-11-01"}))),
        rule("a balance past 2^53-1", charity(Kind::FundReceive, "hostile-sum", json!({"fund": FUND, "amount": (1u64 << 53) - 1, "from": "捐赠", "date": "2026-11-01"}))),
        rule("claim of a claimed need", charity(Kind::NeedClaim, "hostile-claim", json!({"need": claimed_need(addr)}))),
        rule("assessment of oneself", signed(1, REGISTRAR, Kind::AssessmentResult, "hostile-self", json!({"subject_type": "org", "subject": REGISTRAR, "period_start": "2026-01-01", "period_end": "2026-06-30", "indicators": [{"code": "a", "name": "b", "unit": "%", "op": "ge", "target": 1, "actual": 1, "weight": 100, "score": 10000}], "score": 10000, "grade": "excellent"}))),
        rule("genesis twice", signed(1, REGISTRAR, Kind::OrgRegister, "hostile-genesis", json!({"org": {"id": REGISTRAR, "name": "江苏省民政厅", "type": "government", "region": "320000"}, "keys": [{"key": hex::encode(key(1).verifying_key().to_bytes()), "roles": ["registrar"]}]}))),
        rule("correction of a correction", charity(Kind::Correction, "hostile-cc", json!({"target": s.correction, "reason": "再更正", "reverse": false}))),
        rule("correction of a seq not in the log", charity(Kind::Correction, "hostile-c404", json!({"target": 1u64 << 40, "reason": "更正", "reverse": false}))),
        rule("voucher number used before", charity(Kind::FundReceive, "hostile-ref-2", json!({"fund": FUND, "amount": 100, "from": "募捐", "date": "2026-11-02", "ref": "HOSTILE-0001"}))),
        rule("transfer to the same fund", charity(Kind::FundTransfer, "hostile-self-transfer", json!({"from_fund": FUND, "to_fund": FUND, "amount": 1, "date": "2026-11-01"}))),
        rule("fund opened twice", charity(Kind::FundOpen, "hostile-fund-twice", json!({"fund": FUND, "title": "重复", "category": "medical", "source": "donation", "region": "320000", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31"}))),
        rule("redeem more points than held", charity(Kind::CreditRedeem, "hostile-redeem", json!({"holder": format!("vol_{}", "ef".repeat(32)), "points": 1, "reason": "兑换"}))),
        case("disbursement from another org's fund", post(&signed(3, UNION, Kind::Disbursement, "hostile-other-fund", json!({"fund": FUND, "beneficiary": format!("bnf_{}", "ab".repeat(32)), "tier": "assisted", "cause": "illness", "amount": 1, "method": "cash", "region": "321181", "date": "2026-11-01"}))), 403, "role_missing"),
        // Rules version 2 (the demo activated it): every new kind's refusals.
        rule("rules version 3, unknown here", signed(1, REGISTRAR, Kind::RulesActivate, "hostile-v3", json!({"version": 3, "note": "x"}))),
        rule("rules version 2 again", signed(1, REGISTRAR, Kind::RulesActivate, "hostile-v2", json!({"version": 2, "note": "x"}))),
        schema("rules version 1", signed(1, REGISTRAR, Kind::RulesActivate, "hostile-v1", json!({"version": 1, "note": "x"}))),
        case("rules activated by a charity", post(&charity(Kind::RulesActivate, "hostile-v-charity", json!({"version": 3, "note": "x"}))), 403, "role_missing"),
        rule("a second pseudonym key", signed(1, REGISTRAR, Kind::PseudonymKey, "hostile-pk", json!({"key": "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76", "service": "https://p.example"}))),
        schema("a pseudonym key that is no point", signed(1, REGISTRAR, Kind::PseudonymKey, "hostile-pk-bad", json!({"key": "ff".repeat(32), "service": "https://p.example"}))),
        case("a pseudonym key by a charity", post(&charity(Kind::PseudonymKey, "hostile-pk-charity", json!({"key": "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76", "service": "https://p.example"}))), 403, "role_missing"),
        rule("a second review by the same org", signed(7, UNION, Kind::NeedReview, "hostile-review-twice", json!({"need": "XQ-V2-0003", "decision": "approve", "note": "再审"}))),
        rule("a review of a rejected need", signed(8, "CN-USCI-91110000600037341L", Kind::NeedReview, "hostile-review-rejected", json!({"need": "XQ-V2-0002", "decision": "approve", "note": "复核"}))),
        rule("a review of an unknown need", signed(7, UNION, Kind::NeedReview, "hostile-review-404", json!({"need": "XQ-404", "decision": "approve", "note": "x"}))),
        case("a review without the review role", post(&charity(Kind::NeedReview, "hostile-review-role", json!({"need": "XQ-V2-0003", "decision": "approve", "note": "x"}))), 403, "role_missing"),
        schema("a review's decision not in the list", signed(7, UNION, Kind::NeedReview, "hostile-review-maybe", json!({"need": "XQ-V2-0003", "decision": "maybe", "note": "x"}))),
        rule("a claim of a pending need", charity(Kind::NeedClaim, "hostile-claim-pending", json!({"need": "XQ-V2-0003"}))),
        rule("a visit of a household not monitored", signed(6, REGISTRAR, Kind::HouseholdVisit, "hostile-visit", json!({"beneficiary": format!("bnf_{}", "cd".repeat(32)), "date": "2026-11-01", "findings": "x", "next_review_by": "2026-12-01"}))),
        rule("a close of a household not monitored", signed(6, REGISTRAR, Kind::HouseholdClose, "hostile-close", json!({"beneficiary": format!("bnf_{}", "cd".repeat(32)), "reason": "x"}))),
        case("monitoring without the monitor role", post(&charity(Kind::HouseholdMonitor, "hostile-monitor-role", json!({"beneficiary": format!("bnf_{}", "cd".repeat(32)), "tier": "monitored", "risks": ["illness"], "region": "321181", "review_by": "2026-12-01"}))), 403, "role_missing"),
        schema("nine risks", signed(6, REGISTRAR, Kind::HouseholdMonitor, "hostile-risks", json!({"beneficiary": format!("bnf_{}", "cd".repeat(32)), "tier": "monitored", "risks": ["illness", "disability", "education", "disaster", "unemployment", "housing", "elderly", "income", "other"], "region": "321181", "review_by": "2026-12-01"}))),
        rule("a recovery against what is no disbursement", charity(Kind::FundRecover, "hostile-recover-kind", json!({"fund": FUND, "amount": 1, "from": CHARITY, "reason": "overpaid", "date": "2026-11-01", "disbursement": 1}))),
        rule("a recovery of more than was paid", charity(Kind::FundRecover, "hostile-recover-more", json!({"fund": FUND, "amount": 9_007_199_254_740_991u64, "from": CHARITY, "reason": "overpaid", "date": "2026-11-01", "disbursement": first_seq(addr, "/v1/funds/CSZH-2026-DABING/flows?limit=1000&cursor=10") }))),
        case("a recovery into another org's fund", post(&signed(3, UNION, Kind::FundRecover, "hostile-recover-other", json!({"fund": FUND, "amount": 1, "from": UNION, "reason": "unused", "date": "2026-11-01"}))), 403, "role_missing"),
        schema("a recovery for no listed reason", charity(Kind::FundRecover, "hostile-recover-why", json!({"fund": FUND, "amount": 1, "from": UNION, "reason": "gift", "date": "2026-11-01"}))),
        schema("an approval threshold of zero", charity(Kind::FundOpen, "hostile-threshold", json!({"fund": "HOSTILE-T", "title": "t", "category": "medical", "source": "donation", "region": "320000", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31", "approval_threshold": 0}))),
        case("an approval by a key without the approve role", post(&signed(5, CHARITY, Kind::DisbursementApprove, "hostile-approve-role", json!({"disbursement": first_seq(addr, "/v1/orgs/CN-USCI-53440300MJ0000018R/pending")}))), 403, "role_missing"),
        rule("an approval of a payment under the threshold", signed(9, CHARITY, Kind::DisbursementApprove, "hostile-approve-small", json!({"disbursement": first_seq(addr, "/v1/funds/CSZH-2026-DABING/flows?limit=1000&cursor=10")}))),
        rule("a rejection of what is no disbursement", signed(9, CHARITY, Kind::DisbursementReject, "hostile-reject-kind", json!({"disbursement": 1, "reason": "x"}))),
        // Paths, queries and heads.
        case("seq past u64", get("/v1/entries/99999999999999999999999"), 400, "schema_violation"),
        case("negative seq", get("/v1/entries/-1"), 400, "schema_violation"),
        case("limit past u64", get("/v1/entries?limit=99999999999999999999999"), 400, "schema_violation"),
        case("negative start", get("/v1/entries?start=-5"), 400, "schema_violation"),
        case("proof at u64::MAX", get("/v1/proof/inclusion?seq=18446744073709551615&size=18446744073709551615"), 404, "not_found"),
        case("consistency past the log", get("/v1/proof/consistency?first=1&second=99999999"), 404, "not_found"),
        case("cursor that is not ours", get("/v1/orgs?cursor=%ff%fe%00"), 400, "schema_violation"),
        case("path traversal", get("/v1/../../../etc/passwd"), 404, "not_found"),
        case("encoded traversal in an asset", get("/assets/x/..%2f..%2fCargo.toml"), 404, "not_found"),
        case("traversal in a tile path", get("/tile/../../etc/passwd"), 404, "not_found"),
        case("NUL in a path segment", get("/v1/funds/%00"), 404, "not_found"),
        case("a method the route lacks", request("PUT", "/v1/entries", "", b"{}"), 405, "method_not_allowed"),
        case("a URI of 100,000 bytes", get(&format!("/v1/orgs?q={}", "a".repeat(100_000))), 414, "too_large"),
        case("a header of 100,000 bytes", request("GET", "/v1/log", &format!("X-Big: {}\r\n", "a".repeat(100_000)), b""), 413, "too_large"),
        case("headers past the limit together", request("GET", "/v1/log", &format!("X-A: {}\r\nX-B: {}\r\n", "a".repeat(20_000), "b".repeat(20_000)), b""), 413, "too_large"),
        case("ten thousand headers", request("GET", "/v1/log", &"X-A: b\r\n".repeat(10_000), b""), 431, "too_large"),
        case(
            "both Content-Length and chunked",
            b"POST /v1/entries HTTP/1.1\r\nHost: node\r\nConnection: close\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
            "malformed_json",
        ),
    ]
}

/// `digits` with `gap` between each two of them.
fn spread(digits: &str, gap: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 {
            out.push_str(gap);
        }
        out.push(c);
    }
    out
}

/// Personal data the PII guard finds only after normalising (SPEC §6,
/// 2026-12-03): digits split by characters that are neither letters nor
/// digits, country prefixes, look-alike check characters, digits of other
/// forms, and a nonce that happens to hold a mobile number.
fn hidden_pii() -> Vec<Case> {
    const MOBILE: &str = "13812345678";
    const ID17: &str = "11010519491231002";
    // Each gap class between every two digits of a mobile number in a reason.
    const GAPS: &[(&str, &str)] = &[
        ("mobile number split by soft hyphens", "\u{AD}"),
        ("mobile number split by left-to-right marks", "\u{200E}"),
        ("mobile number split by right-to-left marks", "\u{200F}"),
        ("mobile number split by invisible times", "\u{2062}"),
        (
            "mobile number split by combining grapheme joiners",
            "\u{34F}",
        ),
        ("mobile number split by variation selectors", "\u{FE0F}"),
        (
            "mobile number split by Mongolian vowel separators",
            "\u{180E}",
        ),
        ("mobile number split by bidi embeddings", "\u{202A}"),
        ("mobile number split by bidi isolates", "\u{2066}"),
        ("mobile number split by Hangul fillers", "\u{3164}"),
        ("mobile number split by combining accents", "\u{301}"),
        ("mobile number split by thin spaces", "\u{2009}"),
        ("mobile number split by narrow no-break spaces", "\u{202F}"),
        ("mobile number split by figure spaces", "\u{2007}"),
        ("mobile number split by tabs", "\t"),
        ("mobile number split by newlines", "\n"),
        ("mobile number split by minus signs", "\u{2212}"),
        ("mobile number split by fullwidth hyphens", "\u{FF0D}"),
        ("mobile number split by small hyphens", "\u{FE63}"),
        ("mobile number split by underscores", "_"),
        ("mobile number split by full stops", "."),
        ("mobile number split by slashes", "/"),
        ("mobile number split by commas", ","),
        ("mobile number split by middle dots", "\u{B7}"),
    ];
    let award = |nonce: &str, reason: &str| {
        signed(2, CHARITY, Kind::CreditAward, nonce, award_body(reason))
    };
    let pii = |class, entry: Value| Case {
        class,
        request: post(&entry),
        status: 422,
        code: "pii_detected",
    };
    let mut cases: Vec<Case> = GAPS
        .iter()
        .enumerate()
        .map(|(i, (class, gap))| {
            pii(
                class,
                award(
                    &format!("hostile-gap-{i}"),
                    &format!("电话{}", spread(MOBILE, gap)),
                ),
            )
        })
        .collect();
    let keycaps: String = MOBILE
        .chars()
        .map(|c| format!("{c}\u{FE0F}\u{20E3}"))
        .collect();
    cases.extend([
        pii(
            "ID number split by soft hyphens",
            award(
                "hostile-norm-1",
                &format!("身份证{}X", spread(ID17, "\u{AD}")),
            ),
        ),
        pii(
            "mobile number in parentheses",
            award("hostile-norm-2", "电话(138)1234-5678"),
        ),
        pii(
            "mobile number after +86",
            award("hostile-norm-3", "电话+86 138 1234 5678"),
        ),
        pii(
            "mobile number after 0086",
            award("hostile-norm-4", "电话008613812345678"),
        ),
        pii(
            "ID number with a Cyrillic check character",
            award("hostile-norm-5", &format!("身份证{ID17}\u{425}")),
        ),
        pii(
            "ID number with a Greek check character",
            award("hostile-norm-6", &format!("身份证{ID17}\u{3A7}")),
        ),
        pii(
            "ID number with a Roman numeral check character",
            award("hostile-norm-7", &format!("身份证{ID17}\u{2169}")),
        ),
        pii(
            "mobile number in superscript digits",
            award("hostile-norm-8", "电话¹³⁸¹²³⁴⁵⁶⁷⁸"),
        ),
        pii(
            "mobile number in subscript digits",
            award("hostile-norm-9", "电话₁₃₈₁₂₃₄₅₆₇₈"),
        ),
        pii(
            "mobile number in circled digits",
            award("hostile-norm-10", "电话①③⑧①②③④⑤⑥⑦⑧"),
        ),
        pii(
            "mobile number in keycap digits",
            award("hostile-norm-11", &format!("电话{keycaps}")),
        ),
        pii(
            "mobile number in Chinese numerals",
            award("hostile-norm-12", "电话一三八一二三四五六七八"),
        ),
        pii(
            "ID number in Chinese numerals",
            award(
                "hostile-norm-13",
                "身份证一一〇一〇五一九四九一二三一〇〇二X",
            ),
        ),
        // The nonce is read too: a random UUID can hold a mobile number
        // across its hyphens, and so can any nonce with digits.
        pii(
            "mobile number across a UUID nonce's hyphens",
            award("d2c7e9f0-5b1e-4a13-8123-45678cdef012", "志愿服务"),
        ),
        pii(
            "mobile number split by dots in the nonce",
            award("tel.138.1234.5678", "志愿服务"),
        ),
    ]);
    cases
}

#[test]
fn hostile_requests_get_the_spec_s_codes_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = testkit::free_addr();
    let running = node(&data, addr);
    let setup = setup(addr);
    drop(running);
    let before = digest(&data.join("db"));
    let _running = node(&data, addr);
    let cases: Vec<Case> = corpus(addr, &setup)
        .into_iter()
        .chain(hidden_pii())
        .collect();
    let classes: std::collections::BTreeSet<_> = cases.iter().map(|c| c.class).collect();
    assert!(classes.len() >= 60, "{} classes", classes.len());
    let mut wrong = Vec::new();
    for c in &cases {
        let (status, code) = send(addr, &c.request);
        if (status, code.as_str()) != (c.status, c.code) {
            wrong.push(format!(
                "{}: {status} {code}, not {} {}",
                c.class, c.status, c.code
            ));
        }
        let (_, log) = testkit::http_get(addr, "/v1/log");
        let size = serde_json::from_slice::<Value>(&log).unwrap()["size"]
            .as_u64()
            .unwrap();
        if size != before.0 {
            wrong.push(format!("{}: ACCEPTED (the log grew to {size})", c.class));
            break;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    drop(_running);
    assert_eq!(digest(&data.join("db")), before, "the store changed");
}
