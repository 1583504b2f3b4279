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

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::body::{self, Body};
use ledger::domain::{Category, Cause, Grade, OrgType, Role, Source, SubjectType, Tier};
use ledger::entry::SignedEntry;
use ledger::ident::{pseudonym, PseudonymKind};
use ledger::rules::check_submissions;
use ledger::sequencer::{sequence_group, Outcome};
use ledger::store::{Backend, Log};
use serde::Deserialize;
use serde_json::Value;

/// The demo's pseudonym secret (public, like the keys).
pub const DEMO_SECRET: &[u8] = b"demo-deployment-secret";

/// The demo ledger's data (`node/demo/demo.toml`).
const FIXTURE: &str = include_str!("../demo/demo.toml");

/// Family numbers of the duplicate-aid cases, the needs and the
/// volunteers start here: apart from the everyday disbursements' families.
const DUPLICATE_FAMILIES: u64 = 50_000;
const NEED_FAMILIES: u64 = 60_000;
const VOLUNTEERS: u64 = 70_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    counties: Vec<String>,
    registrar: OrgFixture,
    orgs: Vec<OrgFixture>,
    keys: Vec<KeyFixture>,
    funds: Vec<FundFixture>,
    transfers: Vec<TransferFixture>,
    disbursements: Disbursements,
    duplicates: Duplicates,
    needs: Needs,
    volunteers: Volunteers,
    assessments: Vec<AssessmentFixture>,
    indicators: Vec<body::Indicator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgFixture {
    id: String,
    name: String,
    #[serde(rename = "type")]
    org_type: OrgType,
    region: String,
    key: usize,
    roles: Vec<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFixture {
    org: String,
    signer: usize,
    key: usize,
    roles: Vec<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FundFixture {
    id: String,
    owner: String,
    title: String,
    category: Category,
    source: Source,
    from: String,
    receives: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferFixture {
    from_fund: String,
    to_fund: String,
    amount: u64,
    day: u64,
    #[serde(rename = "ref")]
    reference: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Disbursements {
    count: u64,
    first_day: u64,
    days: u64,
    families_per_plan: u64,
    seed: u64,
    plans: Vec<Plan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    fund: String,
    tier: Tier,
    cause: Cause,
    low: u64,
    high: u64,
    key: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Duplicates {
    count: u64,
    cause: Cause,
    tier: Tier,
    first: Payout,
    second: Payout,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payout {
    fund: String,
    amount: u64,
    day: u64,
    key: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Needs {
    count: u64,
    /// The first `claimed` needs are claimed, the rest stay open.
    claimed: u64,
    /// The first `fulfilled` claimed needs are paid and fulfilled.
    fulfilled: u64,
    publisher: String,
    claimer: String,
    fund: String,
    category: Category,
    cause: Cause,
    tier: Tier,
    amount: u64,
    first_day: u64,
    summary: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Volunteers {
    count: u64,
    awarded_by: Vec<String>,
    reason: String,
    redeem_every: u64,
    redeem_points: u64,
    redeem_reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssessmentFixture {
    subject_type: SubjectType,
    subject: String,
    score: u64,
    grade: Grade,
}

/// The demo's data, parsed.
fn fixture() -> Fixture {
    toml::from_str(FIXTURE).expect("node/demo/demo.toml is a demo fixture")
}

/// Everyday disbursements in the demo ledger (besides the duplicate-aid
/// cases and the needs).
pub fn planned_disbursements() -> u64 {
    fixture().disbursements.count
}

/// The demo key numbered `n`: its seed is `n` repeated.
fn demo_key(n: usize) -> SigningKey {
    SigningKey::from_bytes(&[u8::try_from(n).expect("demo keys are numbered 1-5"); 32])
}

/// Signs the demo's entries in order, each with a fresh nonce.
struct Signer {
    /// Each org's signing key number.
    keys: HashMap<String, usize>,
    /// Each fund's owner.
    owners: HashMap<String, String>,
    entries: Vec<Value>,
}

impl Signer {
    /// Signs `body` for `issuer` with its key (or key `key`), dated `day`.
    fn sign<B: Body>(&mut self, issuer: &str, key: Option<usize>, day: u64, body: &B) {
        let key = key.unwrap_or_else(|| self.keys[issuer]);
        let nonce = format!("demo-{:06}", self.entries.len() + 1);
        let issued_at = format!("{}T09:00:00Z", date(day));
        let entry = SignedEntry::create(
            &demo_key(key),
            issuer,
            B::KIND,
            &nonce,
            &issued_at,
            body::to_value(body),
        )
        .expect("demo statements are canonical");
        self.entries
            .push(serde_json::to_value(entry).expect("entries serialise"));
    }

    /// Signs `body` for the owner of `fund`.
    fn sign_for_fund<B: Body>(&mut self, fund: &str, key: Option<usize>, day: u64, body: &B) {
        let owner = self.owners[fund].clone();
        self.sign(&owner, key, day, body);
    }

    /// The seq the next entry gets: every demo entry is accepted in order
    /// from an empty log.
    fn next_seq(&self) -> u64 {
        self.entries.len() as u64
    }
}

/// `2026-01-01` plus `day` days, at most to the year's last day.
fn date(day: u64) -> String {
    let first = ledger::date::parse("2026-01-01").expect("a date");
    let day = i32::try_from(day.min(364)).expect("small");
    ledger::date::format(
        ledger::date::Date::from_julian_day(first.to_julian_day() + day).expect("in 2026"),
    )
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

/// `counties[n]`, cycling.
fn county(counties: &[String], n: u64) -> &str {
    &counties[(n % counties.len() as u64) as usize]
}

/// The pseudonym of synthetic person `n`, of a county of `counties`.
fn person(counties: &[String], n: u64, kind: PseudonymKind) -> String {
    pseudonym(DEMO_SECRET, &resident_id(county(counties, n), n), kind)
        .expect("synthetic IDs carry valid check characters")
}

fn family(counties: &[String], n: u64) -> String {
    person(counties, n, PseudonymKind::Beneficiary)
}

/// A cash disbursement's body.
#[allow(clippy::too_many_arguments)]
fn payment(
    fund: &str,
    beneficiary: String,
    tier: Tier,
    cause: Cause,
    amount: u64,
    region: &str,
    day: u64,
    reference: String,
) -> body::Disbursement {
    body::Disbursement {
        fund: fund.to_owned(),
        beneficiary,
        tier,
        cause,
        amount,
        method: ledger::domain::Method::Cash,
        region: region.to_owned(),
        date: date(day),
        reference: Some(reference),
        need: None,
    }
}

/// Every entry of the demo ledger, in order, as submitted JSON.
fn build() -> Vec<Value> {
    let fx = fixture();
    let mut d = Signer {
        keys: std::iter::once(&fx.registrar)
            .chain(&fx.orgs)
            .map(|o| (o.id.clone(), o.key))
            .collect(),
        owners: fx
            .funds
            .iter()
            .map(|f| (f.id.clone(), f.owner.clone()))
            .collect(),
        entries: Vec::new(),
    };
    registry(&fx, &mut d);
    funds(&fx, &mut d);
    everyday_disbursements(&fx, &mut d);
    duplicate_cases(&fx, &mut d);
    flood_needs(&fx, &mut d);
    volunteers(&fx, &mut d);
    assessments(&fx, &mut d);
    d.entries
}

/// The public key of demo key `n`, in hex.
fn key_hex(n: usize) -> String {
    hex::encode(demo_key(n).verifying_key().to_bytes())
}

/// The registrar (genesis), the other organisations, and the keys their
/// admins add.
fn registry(fx: &Fixture, d: &mut Signer) {
    for (o, day) in std::iter::once((&fx.registrar, 0)).chain(fx.orgs.iter().map(|o| (o, 1))) {
        let register = body::OrgRegister {
            org: body::Org {
                id: o.id.clone(),
                name: o.name.clone(),
                org_type: o.org_type,
                region: o.region.clone(),
            },
            keys: vec![body::KeyGrant {
                key: key_hex(o.key),
                roles: o.roles.clone(),
            }],
        };
        d.sign(&fx.registrar.id, None, day, &register);
    }
    for k in &fx.keys {
        let add = body::KeyAdd {
            org: k.org.clone(),
            key: key_hex(k.key),
            roles: k.roles.clone(),
        };
        d.sign(&k.org, Some(k.signer), 2, &add);
    }
}

/// Each fund opened by its owner and given its receipt, then the transfers.
fn funds(fx: &Fixture, d: &mut Signer) {
    for (i, f) in fx.funds.iter().enumerate() {
        let open = body::FundOpen {
            fund: f.id.clone(),
            title: f.title.clone(),
            category: f.category,
            source: f.source,
            region: fx.registrar.region.clone(),
            currency: "CNY".to_owned(),
            budget: f.receives + f.receives / 5,
            start: date(0),
            end: date(364),
            approval_threshold: None,
        };
        d.sign(&f.owner, None, 3, &open);
        let day = 5 + i as u64;
        let receive = body::FundReceive {
            fund: f.id.clone(),
            amount: f.receives,
            from: f.from.clone(),
            date: date(day),
            reference: Some(format!("RCV-2026-{i:04}")),
        };
        d.sign(&f.owner, None, day, &receive);
    }
    for t in &fx.transfers {
        let transfer = body::FundTransfer {
            from_fund: t.from_fund.clone(),
            to_fund: t.to_fund.clone(),
            amount: t.amount,
            date: date(t.day),
            reference: Some(t.reference.clone()),
        };
        d.sign_for_fund(&t.from_fund, None, t.day, &transfer);
    }
}

/// The everyday disbursements, the plans taking turns.
fn everyday_disbursements(fx: &Fixture, d: &mut Signer) {
    let plan = &fx.disbursements;
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let plans = plan.plans.len() as u64;
    for i in 0..plan.count {
        let p = &plan.plans[(i % plans) as usize];
        let family_no = i / plans % plan.families_per_plan + plan.families_per_plan * (i % plans);
        let county = &fx.counties[rng.usize(..fx.counties.len())];
        let amount = p.low + rng.u64(..p.high - p.low) / 100 * 100;
        let day = plan.first_day + i * plan.days / plan.count;
        let pay = payment(
            &p.fund,
            family(&fx.counties, family_no),
            p.tier,
            p.cause,
            amount,
            county,
            day,
            format!("DSB-{i:06}"),
        );
        d.sign_for_fund(&p.fund, p.key, day, &pay);
    }
}

/// Families helped for the same cause by two bodies within the window.
fn duplicate_cases(fx: &Fixture, d: &mut Signer) {
    let dup = &fx.duplicates;
    for case in 0..dup.count {
        let who = family(&fx.counties, DUPLICATE_FAMILIES + case);
        let county = county(&fx.counties, case);
        for (payout, label) in [(&dup.first, "A"), (&dup.second, "B")] {
            let day = payout.day + case;
            let pay = payment(
                &payout.fund,
                who.clone(),
                dup.tier,
                dup.cause,
                payout.amount,
                county,
                day,
                format!("DUP-{label}-{case}"),
            );
            d.sign_for_fund(&payout.fund, payout.key, day, &pay);
        }
    }
}

/// Needs published; most claimed, paid and marked fulfilled, some
/// claimed only, some still open.
fn flood_needs(fx: &Fixture, d: &mut Signer) {
    let needs = &fx.needs;
    for n in 0..needs.count {
        let who = family(&fx.counties, NEED_FAMILIES + n);
        let need = format!("XQ-2026-{n:04}");
        let county = county(&fx.counties, n);
        let day = needs.first_day + n;
        let publish = body::NeedPublish {
            need: need.clone(),
            beneficiary: who.clone(),
            category: needs.category,
            cause: needs.cause,
            amount: needs.amount,
            region: county.to_owned(),
            summary: needs.summary.clone(),
        };
        d.sign(&needs.publisher, None, day, &publish);
        if n >= needs.claimed {
            continue;
        }
        let claim = body::NeedClaim { need: need.clone() };
        d.sign(&needs.claimer, None, day + 1, &claim);
        if n >= needs.fulfilled {
            continue;
        }
        let mut pay = payment(
            &needs.fund,
            who,
            needs.tier,
            needs.cause,
            needs.amount,
            county,
            day + 5,
            format!("XQ-PAY-{n}"),
        );
        pay.need = Some(need.clone());
        let pay_seq = d.next_seq();
        d.sign(&needs.claimer, None, day + 5, &pay);
        let fulfil = body::NeedFulfil {
            need,
            disbursement: pay_seq,
        };
        d.sign(&needs.claimer, None, day + 6, &fulfil);
    }
}

/// Volunteers' credit points awarded and redeemed.
fn volunteers(fx: &Fixture, d: &mut Signer) {
    let vols = &fx.volunteers;
    for v in 0..vols.count {
        let holder = person(&fx.counties, VOLUNTEERS + v, PseudonymKind::Volunteer);
        let org = &vols.awarded_by[v as usize % vols.awarded_by.len()];
        let award = body::CreditAward {
            holder: holder.clone(),
            points: 10 + v % 40,
            reason: vols.reason.clone(),
            reference: None,
        };
        d.sign(org, None, 200 + v % 100, &award);
        if v % vols.redeem_every == 0 {
            let redeem = body::CreditRedeem {
                holder,
                points: vols.redeem_points,
                reason: vols.redeem_reason.clone(),
            };
            d.sign(org, None, 300, &redeem);
        }
    }
}

/// The year-end assessments.
fn assessments(fx: &Fixture, d: &mut Signer) {
    for a in &fx.assessments {
        let result = body::AssessmentResult {
            subject_type: a.subject_type,
            subject: a.subject.clone(),
            period_start: date(0),
            period_end: date(364),
            indicators: fx.indicators.clone(),
            score: a.score,
            grade: a.grade,
            report: None,
        };
        d.sign(&fx.registrar.id, None, 360, &result);
    }
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
        assert!(fixture().disbursements.plans.len() > 1);
        assert_eq!(date(59), "2026-03-01");
        assert_eq!(date(364), "2026-12-31");
    }
}
