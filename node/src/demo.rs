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
//!
//! From 1 July the registrar activates rules version 2 (SPEC §6.2); from
//! then on the demo records every kind it adds: reviewed needs, monitored
//! households (several overdue, one unassisted), recoveries, and payments
//! approved by a second key (one rejected, one still pending).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::body::{self, Body};
use ledger::domain::{
    Category, Cause, Decision, Grade, OrgType, RecoveryReason, Risk, Role, Source, SubjectType,
    Tier,
};
use ledger::entry::SignedEntry;
use ledger::ident::PseudonymKind;
use ledger::rules::check_submissions;
use ledger::sequencer::{sequence_group, Outcome};
use ledger::store::{Backend, Log};
use serde::Deserialize;
use serde_json::Value;

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
    auditors: Vec<AuditorFixture>,
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
    v2: V2,
    /// The demo's pseudonym service key, derived from `v2.pseudonym_seed`
    /// when first needed.
    #[serde(skip)]
    pseudonyms: std::sync::OnceLock<ledger::oprf::ServiceKey>,
}

impl Fixture {
    /// The pseudonym of synthetic person `n` (of a county of `counties`):
    /// the SPEC §6.3 function under the demo's public key, as its
    /// pseudonym service would answer.
    fn person(&self, n: u64, kind: PseudonymKind) -> String {
        let key = self
            .pseudonyms
            .get_or_init(|| demo_pseudonym_key(&self.v2.pseudonym_seed));
        key.pseudonym(kind, &resident_id(county(&self.counties, n), n))
    }

    fn family(&self, n: u64) -> String {
        self.person(n, PseudonymKind::Beneficiary)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditorFixture {
    name: String,
    key: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2 {
    activate_day: u64,
    note: String,
    pseudonym_seed: String,
    pseudonym_service: String,
    keys: Vec<V2Key>,
    dual: Dual,
    needs: V2Needs,
    households: HouseholdsFixture,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Key {
    org: String,
    key: usize,
    roles: Vec<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Dual {
    id: String,
    owner: String,
    title: String,
    category: Category,
    source: Source,
    from: String,
    receives: u64,
    threshold: u64,
    payer: usize,
    approver: usize,
    amounts: Vec<u64>,
    rejected: usize,
    reject_reason: String,
    first_day: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Needs {
    count: u64,
    first_day: u64,
    amount: u64,
    summary: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HouseholdsFixture {
    count: u64,
    first_day: u64,
    review_day: u64,
    visited: u64,
    visit_day: u64,
    next_review_day: u64,
    aid_day: u64,
    aid_fund: String,
    aid_amount: u64,
    close_day: u64,
    recover_day: u64,
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
    SigningKey::from_bytes(&[u8::try_from(n).expect("demo keys are numbered 1-9"); 32])
}

/// Signs the demo's entries in order, each with a fresh nonce.
struct Signer {
    /// Each org's signing key number.
    keys: HashMap<String, usize>,
    /// Each fund's owner.
    owners: HashMap<String, String>,
    entries: Vec<Value>,
    /// Each entry's day on the demo's clock, for the entries signed under
    /// rules v2 (`None`: sequenced at the start of the year).
    clock: Vec<Option<u64>>,
    /// The day the next entries are logged on, once the clock runs.
    today: Option<u64>,
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
        self.clock.push(self.today.map(|t| t.max(day)));
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

/// Every entry of the demo ledger, in order, as submitted JSON, with the
/// day each is logged on (`None`: at the start of the year).
fn build() -> (Vec<Value>, Vec<Option<u64>>) {
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
        clock: Vec::new(),
        today: None,
    };
    registry(&fx, &mut d);
    funds(&fx, &mut d);
    everyday_disbursements(&fx, &mut d);
    duplicate_cases(&fx, &mut d);
    flood_needs(&fx, &mut d);
    volunteers(&fx, &mut d);
    assessments(&fx, &mut d);
    rules_v2(&fx, &mut d);
    (d.entries, d.clock)
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
            fx.family(family_no),
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
        let who = fx.family(DUPLICATE_FAMILIES + case);
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
        let who = fx.family(NEED_FAMILIES + n);
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
        let holder = fx.person(VOLUNTEERS + v, PseudonymKind::Volunteer);
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

/// Rules version 2 from 1 July: the activation, the keys of the new roles,
/// the pseudonym key, a fund under dual control with its approvals and a
/// rejection, needs reviewed twice (one rejected), monitored households
/// (several overdue, one unassisted, one closed) and recoveries.
fn rules_v2(fx: &Fixture, d: &mut Signer) {
    let v2 = &fx.v2;
    let registrar = fx.registrar.id.as_str();
    d.today = Some(v2.activate_day);
    let activate = body::RulesActivate {
        version: 2,
        note: v2.note.clone(),
    };
    d.sign(registrar, None, v2.activate_day, &activate);
    for k in &v2.keys {
        let add = body::KeyAdd {
            org: k.org.clone(),
            key: key_hex(k.key),
            roles: k.roles.clone(),
        };
        d.sign(registrar, None, v2.activate_day, &add);
    }
    let pseudonym = body::PseudonymKey {
        key: demo_pseudonym_key(&v2.pseudonym_seed).public().to_hex(),
        service: v2.pseudonym_service.clone(),
    };
    d.sign(registrar, None, v2.activate_day + 1, &pseudonym);
    let dual = dual_control(fx, d);
    reviewed_needs(fx, d, dual);
    monitored_households(fx, d);
}

/// The demo's pseudonym service key: RFC 9497's `DeriveKeyPair` over the
/// SHA-256 of a public seed (demo only: anyone can compute its
/// pseudonyms).
pub fn demo_pseudonym_key(seed: &str) -> ledger::oprf::ServiceKey {
    use sha2::Digest;
    let seed: [u8; 32] = sha2::Sha256::digest(seed.as_bytes()).into();
    ledger::oprf::ServiceKey::derive(&seed, b"aidledger demo pseudonym service")
        .expect("a key from a 32-byte seed")
}

/// The directory the demo's pseudonym service runs from, under the demo's
/// data directory: its key is written there on first use (`scripts/run.sh`
/// starts `aidledger pseudonym serve --dir` on it), so that the pseudonyms
/// it gives are the demo ledger's.
pub fn pseudonym_service_dir(data: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let dir = data.join("pseudonym-service");
    if !dir.join(ledger::keyfile::SERVICE_KEY).exists() {
        ledger::keyfile::create_service_key(
            &dir,
            &demo_pseudonym_key(&fixture().v2.pseudonym_seed),
        )?;
    }
    Ok(dir)
}

/// The demo's auditors (SPEC §4.3) under the demo's data directory: each
/// one's key in `auditors/NAME.key` (demo keys: public), the node's list
/// of them, `auditors/list`, whose path is returned, and the log's `vkey`
/// they pin in `auditors/log.vkey` (a real auditor takes it from the
/// operator's publication). Keys are written when missing.
pub fn auditors_dir(data: &std::path::Path, vkey: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = data.join("auditors");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("log.vkey"), format!("{vkey}\n"))?;
    let mut list = String::from("# The demo's auditors (node/demo/demo.toml): name vkey\n");
    for a in &fixture().auditors {
        let key = demo_key(a.key);
        let path = dir.join(format!("{}.key", a.name));
        if !path.exists() {
            ledger::keyfile::create_with(&path, &key.to_bytes())?;
        }
        let signer = ledger::audited::StatsSigner::new(&a.name, key)?;
        list.push_str(&format!("{} {}\n", a.name, signer.vkey()));
    }
    let path = dir.join("list");
    std::fs::write(&path, list)?;
    Ok(path)
}

/// The large-payment fund: opened with a threshold, funded, paid into by
/// the caseworkers; a second key approves, rejects one, leaves the last
/// pending. Returns the fund's id.
fn dual_control<'f>(fx: &'f Fixture, d: &mut Signer) -> &'f str {
    let f = &fx.v2.dual;
    d.owners.insert(f.id.clone(), f.owner.clone());
    let open = body::FundOpen {
        fund: f.id.clone(),
        title: f.title.clone(),
        category: f.category,
        source: f.source,
        region: fx.registrar.region.clone(),
        currency: "CNY".to_owned(),
        budget: f.receives,
        start: date(fx.v2.activate_day),
        end: date(364),
        approval_threshold: Some(f.threshold),
    };
    d.sign(&f.owner, None, f.first_day - 2, &open);
    let receive = body::FundReceive {
        fund: f.id.clone(),
        amount: f.receives,
        from: f.from.clone(),
        date: date(f.first_day - 1),
        reference: Some("JZ-REC-1".to_owned()),
    };
    d.sign(&f.owner, None, f.first_day - 1, &receive);
    let last = f.amounts.len() - 1;
    for (i, &amount) in f.amounts.iter().enumerate() {
        let day = f.first_day + i as u64;
        let n = 80_000 + i as u64;
        let pay = payment(
            &f.id,
            fx.family(n),
            Tier::Vulnerable,
            Cause::Illness,
            amount,
            county(&fx.counties, n),
            day,
            format!("JZ-{i:03}"),
        );
        let seq = d.next_seq();
        d.sign(&f.owner, Some(f.payer), day, &pay);
        if amount < f.threshold || i == last {
            continue;
        }
        if i == f.rejected {
            let reject = body::DisbursementReject {
                disbursement: seq,
                reason: f.reject_reason.clone(),
            };
            d.sign(&f.owner, Some(f.approver), day + 1, &reject);
        } else {
            let approve = body::DisbursementApprove { disbursement: seq };
            d.sign(&f.owner, Some(f.approver), day + 1, &approve);
        }
    }
    &f.id
}

/// Needs the department publishes under v2, reviewed by the union and the
/// Red Cross.
fn reviewed_needs(fx: &Fixture, d: &mut Signer, fund: &str) {
    let n = &fx.v2.needs;
    let (union, red_cross) = (&fx.orgs[1].id, &fx.orgs[2].id);
    let (union_key, red_cross_key) = (7, 8);
    for i in 0..n.count {
        let day = n.first_day + i;
        let who = fx.family(90_000 + i);
        let need = format!("XQ-V2-{i:04}");
        let region = county(&fx.counties, i).to_owned();
        let publish = body::NeedPublish {
            need: need.clone(),
            beneficiary: who.clone(),
            category: Category::Medical,
            cause: Cause::Illness,
            amount: n.amount,
            region: region.clone(),
            summary: n.summary.clone(),
        };
        d.sign(&fx.registrar.id, None, day, &publish);
        let review = |decision, note: &str| body::NeedReview {
            need: need.clone(),
            decision,
            note: note.to_owned(),
        };
        d.sign(
            union,
            Some(union_key),
            day + 2,
            &review(Decision::Approve, "村民议事小组入户核实，情况属实"),
        );
        match i {
            0 | 1 => d.sign(
                red_cross,
                Some(red_cross_key),
                day + 3,
                &review(Decision::Approve, "志愿者回访核实，情况属实"),
            ),
            2 => d.sign(
                red_cross,
                Some(red_cross_key),
                day + 3,
                &review(Decision::Reject, "已获医保全额报销，无资金缺口"),
            ),
            _ => continue,
        }
        if i != 0 {
            continue;
        }
        let owner = d.owners[fund].clone();
        d.sign(
            &owner,
            None,
            day + 4,
            &body::NeedClaim { need: need.clone() },
        );
        let mut pay = payment(
            fund,
            who,
            Tier::Vulnerable,
            Cause::Illness,
            n.amount,
            &region,
            day + 5,
            format!("XQ-V2-PAY-{i}"),
        );
        pay.need = Some(need.clone());
        let seq = d.next_seq();
        d.sign(&owner, None, day + 5, &pay);
        d.sign(
            &owner,
            None,
            day + 6,
            &body::NeedFulfil {
                need,
                disbursement: seq,
            },
        );
    }
}

/// Households under monitoring: visited, aided, closed, found overdue or
/// unassisted; two aid payments later recovered.
fn monitored_households(fx: &Fixture, d: &mut Signer) {
    let h = &fx.v2.households;
    let registrar = fx.registrar.id.as_str();
    let monitor_key = 6;
    let who = |i: u64| fx.family(95_000 + i);
    for i in 0..h.count {
        let monitor = body::HouseholdMonitor {
            beneficiary: who(i),
            tier: Tier::Monitored,
            risks: vec![
                [
                    Risk::Illness,
                    Risk::Unemployment,
                    Risk::Income,
                    Risk::Disaster,
                ][i as usize % 4],
                Risk::Income,
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
            region: county(&fx.counties, i).to_owned(),
            review_by: date(h.review_day),
        };
        d.sign(registrar, Some(monitor_key), h.first_day, &monitor);
    }
    let mut aid = Vec::new();
    for i in 0..h.count - 1 {
        aid.push(d.next_seq());
        let pay = payment(
            &h.aid_fund,
            who(i),
            Tier::Monitored,
            Cause::Unemployment,
            h.aid_amount,
            county(&fx.counties, i),
            h.aid_day,
            format!("JC-{i:03}"),
        );
        d.sign_for_fund(&h.aid_fund, None, h.aid_day, &pay);
    }
    for i in 0..h.visited {
        let visit = body::HouseholdVisit {
            beneficiary: who(i),
            date: date(h.visit_day),
            findings: "家庭主要劳动力已就业，收入恢复".to_owned(),
            next_review_by: date(h.next_review_day),
        };
        d.sign(registrar, Some(monitor_key), h.visit_day, &visit);
    }
    for (i, (amount, reason)) in [
        (h.aid_amount / 2, RecoveryReason::Overpaid),
        (h.aid_amount, RecoveryReason::Ineligible),
    ]
    .into_iter()
    .enumerate()
    {
        let recover = body::FundRecover {
            fund: h.aid_fund.clone(),
            amount,
            from: who(i as u64 + 1),
            reason,
            date: date(h.recover_day + i as u64),
            disbursement: Some(aid[i + 1]),
            reference: Some(format!("HL-{i:03}")),
        };
        d.sign_for_fund(&h.aid_fund, None, h.recover_day + i as u64, &recover);
    }
    let unused = body::FundRecover {
        fund: fx.v2.dual.id.clone(),
        amount: 200_000,
        from: fx.orgs[2].id.clone(),
        reason: RecoveryReason::Unused,
        date: date(h.recover_day + 5),
        disbursement: None,
        reference: Some("HL-JZ-001".to_owned()),
    };
    d.sign_for_fund(&fx.v2.dual.id, None, h.recover_day + 5, &unused);
    let close = body::HouseholdClose {
        beneficiary: who(0),
        reason: "收入稳定超过半年，风险消除".to_owned(),
    };
    d.sign(registrar, Some(monitor_key), h.close_day, &close);
}

/// Seeds an empty log with the demo ledger; returns how many entries went in.
/// A log that is not empty is left as it is.
pub fn seed<B: Backend>(log: &mut Log<B>) -> anyhow::Result<u64> {
    if log.size() > 0 {
        return Ok(0);
    }
    let (entries, clock) = build();
    let checked = check_submissions(entries)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    // The demo's year happened in the past. Its first part is logged at the
    // start of the year; under rules v2 each entry is logged on its day
    // (at 10:00 UTC+8), so that the monitoring alerts fall due.
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
    let mut t = start;
    let mut rest = &checked[..];
    let mut days = &clock[..];
    while !rest.is_empty() {
        let day = days[0];
        let run = days.iter().take_while(|d| **d == day).count();
        let group = match day {
            None => run.min(crate::sequencer::MAX_GROUP),
            Some(_) => run,
        };
        t = match day {
            None => t + Duration::from_secs(3_000),
            Some(day) => (t + Duration::from_secs(60))
                .max(start + Duration::from_secs(day * 86_400 + 2 * 3_600)),
        };
        for (i, r) in sequence_group(log, rest[..group].to_vec(), t)?
            .into_iter()
            .enumerate()
        {
            match r {
                Ok(Outcome::Sequenced(_)) => {}
                other => anyhow::bail!("demo entry {i} of a group was not sequenced: {other:?}"),
            }
        }
        rest = &rest[group..];
        days = &days[group..];
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
