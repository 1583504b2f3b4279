//! A realistic synthetic ledger for `aidledger-node demo`: a provincial
//! civil-affairs department (registrar), a federation of trade unions, a
//! charity federation and a Red Cross branch; funds of every category and
//! source; government purchase of services; over 10,000 disbursements
//! across five counties; a handful of duplicate-aid cases; needs claimed
//! and fulfilled; volunteer credit points; year-end assessments.
//!
//! Every entry is signed with a demo key (fixed seeds, public: never use
//! them for real) and goes through the same checks and rules as a
//! submission. Family pseudonyms are HMACs of synthetic resident ID numbers
//! with valid check characters, under a demo secret.

use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::domain::Kind;
use ledger::entry::SignedEntry;
use ledger::ident::{pseudonym, PseudonymKind};
use ledger::rules::check_submissions;
use ledger::sequencer::{sequence_group, Outcome};
use ledger::store::{Backend, Log};
use serde_json::{json, Value};

/// The demo's pseudonym secret (public, like the keys).
pub const DEMO_SECRET: &[u8] = b"demo-deployment-secret";

const BUREAU: &str = "CN-USCI-11320000MB0000019A";
const CHARITY: &str = "CN-USCI-53440300MJ0000018R";
const UNION: &str = "CN-USCI-81110000000000019C";
const REDCROSS: &str = "CN-USCI-91110000600037341L";
/// Seed of the generator that picks the disbursements' counties and amounts.
const DEMO_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

const COUNTIES: [&str; 5] = ["321181", "321182", "321183", "320102", "320211"];

/// Disbursements in the demo ledger (besides the duplicate-aid cases).
pub const DISBURSEMENTS: u64 = 10_200;

struct Demo {
    keys: [SigningKey; 5],
    entries: Vec<Value>,
    nonce: u64,
    rng: fastrand::Rng,
}

impl Demo {
    fn sign(&mut self, k: usize, issuer: &str, kind: Kind, day: u64, body: Value) {
        self.nonce += 1;
        let nonce = format!("demo-{:06}", self.nonce);
        let issued_at = format!("{}T09:00:00Z", date(day));
        let entry = SignedEntry::create(&self.keys[k], issuer, kind, &nonce, &issued_at, body)
            .expect("demo statements are canonical");
        self.entries
            .push(serde_json::to_value(entry).expect("entries serialise"));
    }
}

/// `2026-01-01` plus `day` days (0..365).
fn date(day: u64) -> String {
    const MONTHS: [u64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut d = day.min(364);
    for (m, len) in MONTHS.iter().enumerate() {
        if d < *len {
            return format!("2026-{:02}-{:02}", m + 1, d + 1);
        }
        d -= len;
    }
    unreachable!("day is capped at 364")
}

/// A synthetic resident ID with a valid GB 11643 check character.
fn resident_id(county: &str, n: u64) -> String {
    let body = format!(
        "{county}{}{:03}",
        19500101 + (n % 50) * 10_000 + (n % 12) * 100 + n % 28,
        n % 1000
    );
    let check = ledger::ident::resident_id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

fn family(n: u64) -> String {
    pseudonym(
        DEMO_SECRET,
        &resident_id(COUNTIES[(n % 5) as usize], n),
        PseudonymKind::Beneficiary,
    )
    .expect("synthetic IDs carry valid check characters")
}

fn fund(id: &str, title: &str, category: &str, source: &str, region: &str, budget: u64) -> Value {
    json!({"fund": id, "title": title, "category": category, "source": source, "region": region,
           "currency": "CNY", "budget": budget, "start": "2026-01-01", "end": "2026-12-31"})
}

/// One demo payment.
struct Payment<'a> {
    fund: &'a str,
    who: &'a str,
    tier: &'a str,
    cause: &'a str,
    amount: u64,
    region: &'a str,
    day: u64,
    reference: String,
}

impl Payment<'_> {
    /// The disbursement's body.
    fn body(&self) -> Value {
        json!({"fund": self.fund, "beneficiary": self.who, "tier": self.tier, "cause": self.cause,
               "amount": self.amount, "method": "cash", "region": self.region,
               "date": date(self.day), "ref": self.reference})
    }
}

/// Every entry of the demo ledger, in order, as submitted JSON.
fn build() -> Vec<Value> {
    let keys = [1u8, 2, 3, 4, 5].map(|s| SigningKey::from_bytes(&[s; 32]));
    let hex = |k: &SigningKey| hex::encode(k.verifying_key().to_bytes());
    let mut d = Demo {
        entries: Vec::new(),
        nonce: 0,
        // Seeded: the demo ledger is the same on every run.
        rng: fastrand::Rng::with_seed(DEMO_SEED),
        keys: keys.clone(),
    };
    let roles = [
        "registrar",
        "admin",
        "fund",
        "disburse",
        "assess",
        "publish",
    ];
    d.sign(0, BUREAU, Kind::OrgRegister, 0, json!({"org": {"id": BUREAU, "name": "江苏省民政厅", "type": "government", "region": "320000"},
        "keys": [{"key": hex(&keys[0]), "roles": roles}]}));
    for (k, id, name, t, region) in [
        (1, CHARITY, "江苏省慈善总会", "charity", "320000"),
        (2, UNION, "江苏省总工会", "union", "320000"),
        (3, REDCROSS, "江苏省红十字会", "charity", "320000"),
    ] {
        d.sign(0, BUREAU, Kind::OrgRegister, 1, json!({"org": {"id": id, "name": name, "type": t, "region": region},
            "keys": [{"key": hex(&keys[k]), "roles": ["admin", "fund", "disburse", "credit", "publish"]}]}));
    }
    // An extra, disburse-only key for the charity's caseworkers.
    d.sign(
        1,
        CHARITY,
        Kind::KeyAdd,
        2,
        json!({"org": CHARITY, "key": hex(&keys[4]), "roles": ["disburse"]}),
    );

    // (issuer key, org, id, title, category, source, receipts in fen)
    let funds: [(usize, &str, &str, &str, &str, &str, u64); 9] = [
        (
            0,
            BUREAU,
            "MZ-2026-DIBAO",
            "2026年城乡低保资金",
            "dibao",
            "fiscal",
            900_000_000,
        ),
        (
            0,
            BUREAU,
            "MZ-2026-TEMP",
            "2026年临时救助资金",
            "temporary",
            "fiscal",
            500_000_000,
        ),
        (
            0,
            BUREAU,
            "MZ-2026-MED",
            "2026年医疗救助资金",
            "medical",
            "fiscal",
            2_500_000_000,
        ),
        (
            2,
            UNION,
            "ZGH-2026-KUNNAN",
            "困难职工帮扶资金",
            "tekun",
            "union_dues",
            500_000_000,
        ),
        (
            2,
            UNION,
            "ZGH-2026-JIUYE",
            "职工就业援助资金",
            "employment",
            "union_dues",
            400_000_000,
        ),
        (
            1,
            CHARITY,
            "CSZH-2026-DABING",
            "大病医疗救助专项",
            "medical",
            "donation",
            2_000_000_000,
        ),
        (
            1,
            CHARITY,
            "CSZH-2026-JIAOYU",
            "助学圆梦",
            "education",
            "crowdfunding",
            500_000_000,
        ),
        (
            3,
            REDCROSS,
            "HSH-2026-ZAIHAI",
            "防汛救灾专项",
            "disaster",
            "donation",
            120_000_000,
        ),
        (
            3,
            REDCROSS,
            "HSH-2026-ZHUFANG",
            "危房改造援助",
            "housing",
            "other",
            2_500_000_000,
        ),
    ];
    for (i, (k, org, id, title, category, source, amount)) in funds.iter().enumerate() {
        d.sign(
            *k,
            org,
            Kind::FundOpen,
            3,
            fund(id, title, category, source, "320000", amount + amount / 5),
        );
        d.sign(*k, org, Kind::FundReceive, 5 + i as u64, json!({"fund": id, "amount": amount, "from": if *source == "fiscal" { "省级财政拨款" } else { "社会捐赠" },
            "date": date(5 + i as u64), "ref": format!("RCV-2026-{i:04}")}));
    }
    // Government purchase of services.
    d.sign(
        0,
        BUREAU,
        Kind::FundTransfer,
        20,
        json!({"from_fund": "MZ-2026-TEMP", "to_fund": "CSZH-2026-DABING", "amount": 40_000_000,
        "date": date(20), "ref": "政府购买服务合同-2026-007"}),
    );
    d.sign(
        0,
        BUREAU,
        Kind::FundTransfer,
        160,
        json!({"from_fund": "MZ-2026-TEMP", "to_fund": "HSH-2026-ZAIHAI", "amount": 30_000_000,
        "date": date(160), "ref": "防汛应急调拨-2026-03"}),
    );

    // Disbursements across counties; each family is helped by one body for each cause.
    let plans: [(usize, &str, &str, &str, &str, u64, u64); 8] = [
        (
            0,
            BUREAU,
            "MZ-2026-DIBAO",
            "assisted",
            "other",
            60_000,
            120_000,
        ),
        (
            0,
            BUREAU,
            "MZ-2026-MED",
            "assisted",
            "illness",
            200_000,
            3_000_000,
        ),
        (
            0,
            BUREAU,
            "MZ-2026-TEMP",
            "monitored",
            "unemployment",
            50_000,
            300_000,
        ),
        (
            2,
            UNION,
            "ZGH-2026-KUNNAN",
            "vulnerable",
            "elderly",
            50_000,
            500_000,
        ),
        (
            2,
            UNION,
            "ZGH-2026-JIUYE",
            "monitored",
            "unemployment",
            100_000,
            400_000,
        ),
        (
            4,
            CHARITY,
            "CSZH-2026-DABING",
            "vulnerable",
            "disability",
            300_000,
            2_000_000,
        ),
        (
            1,
            CHARITY,
            "CSZH-2026-JIAOYU",
            "vulnerable",
            "education",
            100_000,
            500_000,
        ),
        (
            3,
            REDCROSS,
            "HSH-2026-ZHUFANG",
            "assisted",
            "housing",
            500_000,
            3_000_000,
        ),
    ];
    for i in 0..DISBURSEMENTS {
        let (k, org, fund_id, tier, cause, low, high) = plans[(i % 8) as usize];
        let family_no = i / 8 % 1_500 + 1_500 * (i % 8);
        let county = COUNTIES[d.rng.usize(..COUNTIES.len())];
        let amount = low + d.rng.u64(..high - low) / 100 * 100;
        let day = 15 + i * 340 / DISBURSEMENTS;
        d.sign(
            k,
            org,
            Kind::Disbursement,
            day,
            Payment {
                fund: fund_id,
                who: &family(family_no),
                tier,
                cause,
                amount,
                region: county,
                day,
                reference: format!("DSB-{i:06}"),
            }
            .body(),
        );
    }
    // Duplicate-aid cases: the same family helped for the same illness by
    // the department and by the charity within weeks.
    for case in 0..6u64 {
        let who = family(50_000 + case);
        let county = COUNTIES[case as usize % 5];
        d.sign(
            0,
            BUREAU,
            Kind::Disbursement,
            100 + case,
            Payment {
                fund: "MZ-2026-MED",
                who: &who,
                tier: "monitored",
                cause: "illness",
                amount: 800_000,
                region: county,
                day: 100 + case,
                reference: format!("DUP-A-{case}"),
            }
            .body(),
        );
        d.sign(
            4,
            CHARITY,
            Kind::Disbursement,
            130 + case,
            Payment {
                fund: "CSZH-2026-DABING",
                who: &who,
                tier: "monitored",
                cause: "illness",
                amount: 1_200_000,
                region: county,
                day: 130 + case,
                reference: format!("DUP-B-{case}"),
            }
            .body(),
        );
    }
    // Floods: needs published by the department, claimed and fulfilled by the Red Cross.
    for n in 0..12u64 {
        let who = family(60_000 + n);
        let need = format!("XQ-2026-{n:04}");
        d.sign(0, BUREAU, Kind::NeedPublish, 170 + n, json!({"need": need, "beneficiary": who, "category": "disaster", "cause": "disaster",
            "amount": 1_500_000, "region": COUNTIES[n as usize % 5], "summary": "房屋因洪水受损，需修缮"}));
        d.sign(3, REDCROSS, Kind::NeedClaim, 171 + n, json!({"need": need}));
        let mut pay = Payment {
            fund: "HSH-2026-ZAIHAI",
            who: &who,
            tier: "assisted",
            cause: "disaster",
            amount: 1_500_000,
            region: COUNTIES[n as usize % 5],
            day: 175 + n,
            reference: format!("XQ-PAY-{n}"),
        }
        .body();
        pay["need"] = json!(need);
        // Every demo entry is accepted in order from an empty log: its seq is its index.
        let pay_seq = d.entries.len() as u64;
        d.sign(3, REDCROSS, Kind::Disbursement, 175 + n, pay);
        d.sign(
            3,
            REDCROSS,
            Kind::NeedFulfil,
            176 + n,
            json!({"need": need, "disbursement": pay_seq}),
        );
    }
    // Volunteers earn credit points with the charity and the union.
    for v in 0..300u64 {
        let vol = pseudonym(
            DEMO_SECRET,
            &resident_id("321181", 70_000 + v),
            PseudonymKind::Volunteer,
        )
        .expect("valid id");
        let (k, org) = if v % 2 == 0 { (1, CHARITY) } else { (2, UNION) };
        d.sign(
            k,
            org,
            Kind::CreditAward,
            200 + v % 100,
            json!({"holder": vol, "points": 10 + v % 40, "reason": "入户走访困难家庭"}),
        );
        if v % 5 == 0 {
            d.sign(
                k,
                org,
                Kind::CreditRedeem,
                300,
                json!({"holder": vol, "points": 5, "reason": "兑换生活用品"}),
            );
        }
    }
    // Year-end assessments by the department.
    let indicators = json!([
        {"code": "exec", "name": "预算执行率", "unit": "%", "op": "ge", "target": 90, "actual": 93, "weight": 40, "score": 4000},
        {"code": "ontime", "name": "按时发放率", "unit": "%", "op": "ge", "target": 98, "actual": 97, "weight": 30, "score": 2700},
        {"code": "dup", "name": "重复救助处置", "unit": "件", "op": "le", "target": 0, "actual": 6, "weight": 30, "score": 2100}]);
    for (t, subject, score, grade) in [
        ("org", CHARITY, 8800, "good"),
        ("org", UNION, 9100, "excellent"),
        ("fund", "HSH-2026-ZAIHAI", 9300, "excellent"),
        ("region", "321181", 8500, "good"),
    ] {
        d.sign(
            0,
            BUREAU,
            Kind::AssessmentResult,
            360,
            json!({"subject_type": t, "subject": subject, "period_start": "2026-01-01",
            "period_end": "2026-12-31", "indicators": indicators, "score": score, "grade": grade}),
        );
    }
    d.entries
}

/// Seeds an empty log with the demo ledger; returns how many entries went in.
/// A log that is not empty is left as it is.
pub fn seed<B: Backend>(log: &mut Log<B>) -> anyhow::Result<u64> {
    if log.size() > 0 {
        return Ok(0);
    }
    let entries = build();
    let checked = check_submissions(entries)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    // The demo's year happened in the past: logged_at runs through it.
    let mut t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
    for group in checked.chunks(crate::sequencer::MAX_GROUP) {
        t += Duration::from_secs(3_000);
        for (i, r) in sequence_group(log, group.to_vec(), t)?
            .into_iter()
            .enumerate()
        {
            match r {
                Ok(Outcome::Sequenced(_)) => {}
                other => anyhow::bail!("demo entry {i} of a group was not sequenced: {other:?}"),
            }
        }
    }
    Ok(log.size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_ids_are_valid() {
        for n in [0, 1, 77, 50_000, 70_299] {
            assert!(
                ledger::ident::is_resident_id(&resident_id("321181", n)),
                "{n}"
            );
        }
        assert_eq!(date(0), "2026-01-01");
        assert_eq!(date(59), "2026-03-01");
        assert_eq!(date(364), "2026-12-31");
    }
}
