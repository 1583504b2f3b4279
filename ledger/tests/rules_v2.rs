//! Rules versions (SPEC §6.1) and every rule of version 2 (§6.2), each
//! with an accepted case and its refusals (exact code, nothing changed),
//! and the replay of a ledger that holds them all.

mod common;

use std::time::Duration;

use common::*;
use ledger::domain::{Approval, MonitoringAlert, NeedState};
use ledger::records::{EntryRec, MonitoringAlertRec, NeedRec, RulesRec, TallyRec};
use ledger::rules::{Code, RulesVersion};
use ledger::sequencer::{dump, replay, Replayer};
use ledger::state::tables::{decode_value, read, Entries, Households, Needs, Rules, Tally, Watch};
use ledger::state::{MemState, StateRead, Table};
use ledger::store::MemBackend;
use serde_json::{json, Value};

const DAY: Duration = Duration::from_secs(86_400);

/// Seeds of the keys added under v2: a reviewer of the union and of the
/// second charity, a monitor of the bureau, a second (approving) key of
/// the charity.
const UNION_REVIEW: u8 = 5;
const CHARITY2_REVIEW: u8 = 6;
const BUREAU_MONITOR: u8 = 7;
const CHARITY_APPROVE: u8 = 8;

fn activate(w: &mut World<MemBackend>) -> u64 {
    w.ok(
        1,
        BUREAU,
        "rules.activate",
        json!({"version": 2, "note": "第2版规则"}),
    )
}

fn add_key(w: &mut World<MemBackend>, org: &str, k: u8, roles: &[&str]) {
    w.ok(
        1,
        BUREAU,
        "key.add",
        json!({"org": org, "key": pubkey(k), "roles": roles}),
    );
}

/// A world under v2 with reviewers, a monitor and an approver, and a
/// funded charity fund with an approval threshold of 1,000 yuan.
fn v2() -> World<MemBackend> {
    let mut w = World::new();
    activate(&mut w);
    add_key(&mut w, UNION, UNION_REVIEW, &["review"]);
    add_key(&mut w, CHARITY2, CHARITY2_REVIEW, &["review"]);
    add_key(&mut w, BUREAU, BUREAU_MONITOR, &["monitor"]);
    add_key(&mut w, CHARITY, CHARITY_APPROVE, &["approve", "disburse"]);
    let mut open = fund_open("CHA-DUAL", "medical", 10_000_000);
    open["approval_threshold"] = json!(100_000);
    w.ok(2, CHARITY, "fund.open", open);
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-DUAL", "amount": 1_000_000, "from": "社会捐赠", "date": "2026-02-01"}),
    );
    w
}

fn rules(w: &World<MemBackend>) -> RulesRec {
    read::<Rules>(w.log.backend(), ()).unwrap().unwrap()
}

fn tally(w: &World<MemBackend>) -> TallyRec {
    read::<Tally>(w.log.backend(), ()).unwrap().unwrap()
}

fn need(w: &World<MemBackend>, id: &str) -> NeedRec {
    read::<Needs>(w.log.backend(), id).unwrap().unwrap()
}

fn entry(w: &World<MemBackend>, seq: u64) -> EntryRec {
    read::<Entries>(w.log.backend(), seq).unwrap().unwrap()
}

fn alerts(w: &World<MemBackend>) -> Vec<MonitoringAlertRec> {
    let mut out = Vec::new();
    w.log
        .backend()
        .scan(Table::Watch, b"", b"", &mut |_, v| {
            out.push(decode_value::<Watch>(v)?);
            Ok(std::ops::ControlFlow::Continue(()))
        })
        .unwrap();
    out
}

fn pay(beneficiary: &str, amount: u64, fund: &str) -> Value {
    json!({"fund": fund, "beneficiary": beneficiary, "tier": "monitored", "cause": "illness",
           "amount": amount, "method": "cash", "region": "321181", "date": "2026-03-01"})
}

fn need_body(id: &str, who: u64) -> Value {
    json!({"need": id, "beneficiary": bnf(who), "category": "medical", "cause": "illness",
           "amount": 50_000, "region": "321181", "summary": "住院费用缺口"})
}

/// The replayed state equals the stored state byte for byte, and a lean
/// replay reaches the same decisions holding only the deciding tables.
fn replays_the_same(w: &World<MemBackend>) {
    let stored = dump(w.log.backend()).unwrap();
    assert_eq!(dump(&replay(&w.log).unwrap()).unwrap(), stored);
    let mut lean = Replayer::lean_in(MemState::new(), 0);
    w.log
        .scan(0, &mut |_, bytes| {
            lean.push(&ledger::Leaf::from_bytes(bytes).unwrap())
                .unwrap();
            true
        })
        .unwrap();
    let decisive: Vec<_> = stored.into_iter().filter(|(t, _, _)| t.decides()).collect();
    assert_eq!(dump(lean.state_mut()).unwrap(), decisive);
}

#[test]
fn versions_are_activated_once_each_and_never_judge_earlier_entries() {
    let mut w = World::new();
    assert_eq!(rules(&w).version, RulesVersion::V1);
    // Everything version 2 adds is unknown under version 1.
    w.refuse(
        2,
        CHARITY,
        "need.review",
        json!({"need": "N-1", "decision": "approve", "note": "核实"}),
        Code::SchemaViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "key.add",
        json!({"org": UNION, "key": pubkey(5), "roles": ["review"]}),
        Code::SchemaViolation,
    );
    let mut open = fund_open("F-T", "medical", 0);
    open["approval_threshold"] = json!(100);
    let msg = w.refuse(2, CHARITY, "fund.open", open, Code::SchemaViolation);
    assert!(msg.contains("approval_threshold"), "{msg}");
    // Only the registrar, only the next version.
    w.refuse(
        2,
        CHARITY,
        "rules.activate",
        json!({"version": 2, "note": "x"}),
        Code::RoleMissing,
    );
    for wrong in [3, 5] {
        w.refuse(
            1,
            BUREAU,
            "rules.activate",
            json!({"version": wrong, "note": "x"}),
            Code::RuleViolation,
        );
    }
    w.refuse(
        1,
        BUREAU,
        "rules.activate",
        json!({"version": 1, "note": "x"}),
        Code::SchemaViolation,
    );
    // A need published under v1 stays open: v2 does not judge it.
    w.ok(2, CHARITY, "need.publish", need_body("N-OLD", 1));
    let at = activate(&mut w);
    let r = rules(&w);
    assert_eq!(r.version, RulesVersion::V2);
    assert_eq!(
        r.spans(),
        vec![(RulesVersion::V1, 0), (RulesVersion::V2, at + 1)]
    );
    assert_eq!(need(&w, "N-OLD").state, NeedState::Open);
    w.ok(3, UNION, "need.claim", json!({"need": "N-OLD"}));
    // Version 3 does not exist here; 2 is in force.
    let msg = w.refuse(
        1,
        BUREAU,
        "rules.activate",
        json!({"version": 3, "note": "x"}),
        Code::RuleViolation,
    );
    assert!(msg.contains("not known"), "{msg}");
    w.refuse(
        1,
        BUREAU,
        "rules.activate",
        json!({"version": 2, "note": "again"}),
        Code::RuleViolation,
    );
    replays_the_same(&w);
}

#[test]
fn needs_are_reviewed_by_two_other_organisations_before_a_claim() {
    let mut w = v2();
    w.ok(2, CHARITY, "need.publish", need_body("N-1", 1));
    assert_eq!(need(&w, "N-1").state, NeedState::Pending);
    assert_eq!(tally(&w).needs_pending, 1);
    w.refuse(
        3,
        UNION,
        "need.claim",
        json!({"need": "N-1"}),
        Code::RuleViolation,
    );
    let approve = json!({"need": "N-1", "decision": "approve", "note": "入户核实，情况属实"});
    // A key without `review`, the publisher's own org, an unknown need.
    w.refuse(3, UNION, "need.review", approve.clone(), Code::RoleMissing);
    add_key(&mut w, CHARITY, 9, &["review"]);
    w.refuse(
        9,
        CHARITY,
        "need.review",
        approve.clone(),
        Code::RuleViolation,
    );
    let mut unknown = approve.clone();
    unknown["need"] = json!("N-404");
    w.refuse(
        UNION_REVIEW,
        UNION,
        "need.review",
        unknown,
        Code::RuleViolation,
    );
    w.ok(UNION_REVIEW, UNION, "need.review", approve.clone());
    assert_eq!(need(&w, "N-1").state, NeedState::Pending);
    // The same org twice does not make two.
    add_key(&mut w, UNION, 10, &["review"]);
    w.refuse(
        10,
        UNION,
        "need.review",
        approve.clone(),
        Code::RuleViolation,
    );
    w.ok(CHARITY2_REVIEW, CHARITY2, "need.review", approve.clone());
    let n = need(&w, "N-1");
    assert_eq!(n.state, NeedState::Open);
    assert_eq!(n.reviews.len(), 2);
    assert_eq!((tally(&w).needs_pending, tally(&w).needs_open), (0, 1));
    w.refuse(
        UNION_REVIEW,
        UNION,
        "need.review",
        approve,
        Code::RuleViolation,
    );
    w.ok(3, UNION, "need.claim", json!({"need": "N-1"}));

    // One reject is final.
    w.ok(2, CHARITY, "need.publish", need_body("N-2", 2));
    w.ok(
        UNION_REVIEW,
        UNION,
        "need.review",
        json!({"need": "N-2", "decision": "approve", "note": "属实"}),
    );
    w.ok(
        CHARITY2_REVIEW,
        CHARITY2,
        "need.review",
        json!({"need": "N-2", "decision": "reject", "note": "已有其他救助"}),
    );
    assert_eq!(need(&w, "N-2").state, NeedState::Rejected);
    assert_eq!(tally(&w).needs_rejected, 1);
    w.refuse(
        3,
        UNION,
        "need.claim",
        json!({"need": "N-2"}),
        Code::RuleViolation,
    );
    replays_the_same(&w);
}

#[test]
fn monitored_households_are_visited_closed_and_found_when_overdue_or_unassisted() {
    let mut w = v2();
    let monitor = |who: u64, review_by: &str| {
        json!({"beneficiary": bnf(who), "tier": "monitored", "risks": ["illness", "income"],
               "region": "321181", "review_by": review_by})
    };
    // Only a key with `monitor`; risks from the list, 1 to 8, no repeats.
    w.refuse(
        1,
        BUREAU,
        "household.monitor",
        monitor(1, "2026-04-30"),
        Code::RoleMissing,
    );
    let mut bad = monitor(1, "2026-04-30");
    bad["risks"] = json!([]);
    w.refuse(
        BUREAU_MONITOR,
        BUREAU,
        "household.monitor",
        bad,
        Code::SchemaViolation,
    );
    bad = monitor(1, "2026-04-30");
    bad["risks"] = json!(["illness", "illness"]);
    w.refuse(
        BUREAU_MONITOR,
        BUREAU,
        "household.monitor",
        bad,
        Code::SchemaViolation,
    );
    let visit = |who: u64, date: &str, next: &str| json!({"beneficiary": bnf(who), "date": date, "findings": "已复工", "next_review_by": next});
    w.refuse(
        BUREAU_MONITOR,
        BUREAU,
        "household.visit",
        visit(1, "2026-03-01", "2026-06-30"),
        Code::RuleViolation,
    );
    w.refuse(
        BUREAU_MONITOR,
        BUREAU,
        "household.close",
        json!({"beneficiary": bnf(1), "reason": "x"}),
        Code::RuleViolation,
    );

    // The clock starts on 2026-02-25 (UTC+8).
    w.ok(
        BUREAU_MONITOR,
        BUREAU,
        "household.monitor",
        monitor(1, "2026-03-10"),
    );
    w.ok(
        BUREAU_MONITOR,
        BUREAU,
        "household.monitor",
        monitor(2, "2026-03-31"),
    );
    w.ok(
        BUREAU_MONITOR,
        BUREAU,
        "household.monitor",
        monitor(3, "2026-03-31"),
    );
    assert_eq!(tally(&w).households_monitored, 3);
    // A visit after its own next review date is refused.
    w.refuse(
        BUREAU_MONITOR,
        BUREAU,
        "household.visit",
        visit(2, "2026-03-05", "2026-03-04"),
        Code::RuleViolation,
    );
    w.ok(
        BUREAU_MONITOR,
        BUREAU,
        "household.visit",
        visit(2, "2026-03-05", "2026-06-30"),
    );
    // Household 3 gets aid; household 1 is closed later.
    w.ok(2, CHARITY, "disbursement", pay(&bnf(3), 50_000, "CHA-DUAL"));
    assert!(alerts(&w).is_empty());

    // 2026-03-11: household 1 is overdue (review_by 03-10), once.
    w.pass(DAY * 14);
    let seq = w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-DUAL", "amount": 1, "from": "捐赠", "date": "2026-03-11"}),
    );
    let a = alerts(&w);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].alert, a[0].seq, a[0].beneficiary.as_str()),
        (MonitoringAlert::OverdueReview, seq, bnf(1).as_str())
    );
    assert_eq!(a[0].since, "2026-03-10");
    w.pass(DAY);
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-DUAL", "amount": 1, "from": "捐赠", "date": "2026-03-12"}),
    );
    assert_eq!(alerts(&w).len(), 1, "raised once per review_by");
    w.ok(
        BUREAU_MONITOR,
        BUREAU,
        "household.close",
        json!({"beneficiary": bnf(1), "reason": "风险消除"}),
    );
    w.refuse(
        BUREAU_MONITOR,
        BUREAU,
        "household.visit",
        visit(1, "2026-03-12", "2026-06-30"),
        Code::RuleViolation,
    );
    assert_eq!(tally(&w).households_monitored, 2);

    // Past 60 days: household 2 got no aid (unassisted); household 3 did;
    // household 3's review (03-31) is overdue too.
    w.pass(DAY * 60);
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "CHA-DUAL", "amount": 1, "from": "捐赠", "date": "2026-05-11"}),
    );
    let a = alerts(&w);
    let kinds: Vec<_> = a.iter().map(|a| (a.alert, a.beneficiary.clone())).collect();
    assert!(
        kinds.contains(&(MonitoringAlert::Unassisted, bnf(2))),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(MonitoringAlert::OverdueReview, bnf(3))),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&(MonitoringAlert::Unassisted, bnf(3))),
        "{kinds:?}"
    );
    assert_eq!(a.len(), 3);
    let h = read::<Households>(w.log.backend(), bnf(2).as_str())
        .unwrap()
        .unwrap();
    assert_eq!((h.visits, h.review_by.as_str()), (1, "2026-06-30"));
    replays_the_same(&w);
}

#[test]
fn money_recovered_goes_back_into_the_fund_within_each_disbursement() {
    let mut w = v2();
    let paid = w.ok(2, CHARITY, "disbursement", pay(&bnf(1), 80_000, "CHA-DUAL"));
    let before = w.fund("CHA-DUAL");
    let recover = |amount: u64, d: Option<u64>| {
        let mut b = json!({"fund": "CHA-DUAL", "amount": amount, "from": bnf(1), "reason": "overpaid", "date": "2026-03-20"});
        if let Some(d) = d {
            b["disbursement"] = json!(d);
        }
        b
    };
    // The fund's owner with `fund`; a known disbursement of this fund.
    w.refuse(
        3,
        UNION,
        "fund.recover",
        recover(10_000, Some(paid)),
        Code::RoleMissing,
    );
    w.refuse(
        2,
        CHARITY,
        "fund.recover",
        recover(10_000, Some(1)),
        Code::RuleViolation,
    );
    w.refuse(
        2,
        CHARITY,
        "fund.recover",
        recover(80_001, Some(paid)),
        Code::RuleViolation,
    );
    let mut bad = recover(1, None);
    bad["reason"] = json!("gift");
    w.refuse(2, CHARITY, "fund.recover", bad, Code::SchemaViolation);
    let r1 = w.ok(2, CHARITY, "fund.recover", recover(30_000, Some(paid)));
    w.ok(2, CHARITY, "fund.recover", recover(50_000, Some(paid)));
    w.refuse(
        2,
        CHARITY,
        "fund.recover",
        recover(1, Some(paid)),
        Code::RuleViolation,
    );
    let mut unlinked = recover(5_000, None);
    unlinked["from"] = json!(UNION);
    unlinked["ref"] = json!("HL-1");
    w.ok(2, CHARITY, "fund.recover", unlinked.clone());
    w.refuse(2, CHARITY, "fund.recover", unlinked, Code::RuleViolation);
    let f = w.fund("CHA-DUAL");
    assert_eq!(f.recovered, 85_000);
    assert_eq!(f.recoveries, 3);
    assert_eq!(f.balance, before.balance + 85_000);
    assert_eq!(entry(&w, paid).recovered, 80_000);
    assert_eq!(tally(&w).recovered.amount, 85_000);
    // A disbursement with recoveries is not reversed before them.
    w.refuse(
        2,
        CHARITY,
        "correction",
        json!({"target": paid, "reason": "错付", "reverse": true}),
        Code::RuleViolation,
    );
    w.ok(
        2,
        CHARITY,
        "correction",
        json!({"target": r1, "reason": "重复登记", "reverse": true}),
    );
    assert_eq!(entry(&w, paid).recovered, 50_000);
    assert_eq!(w.fund("CHA-DUAL").recovered, 55_000);
    w.ok(2, CHARITY, "fund.recover", recover(30_000, Some(paid)));
    replays_the_same(&w);
}

#[test]
fn payments_at_the_threshold_wait_for_a_second_key() {
    let mut w = v2();
    let small = w.ok(2, CHARITY, "disbursement", pay(&bnf(1), 99_999, "CHA-DUAL"));
    assert_eq!(entry(&w, small).approval, None);
    let big = w.ok(
        2,
        CHARITY,
        "disbursement",
        pay(&bnf(2), 100_000, "CHA-DUAL"),
    );
    let f = w.fund("CHA-DUAL");
    assert_eq!(
        (f.pending, f.pending_count, f.disbursed),
        (100_000, 1, 99_999)
    );
    assert_eq!(f.balance, 1_000_000 - 99_999 - 100_000);
    assert_eq!(tally(&w).pending.amount, 100_000);
    // Reserved: the balance left cannot pay it twice.
    w.refuse(
        2,
        CHARITY,
        "disbursement",
        pay(&bnf(3), 900_000, "CHA-DUAL"),
        Code::RuleViolation,
    );
    let approve = json!({"disbursement": big});
    // Not the signer, not another org, not a key without `approve`.
    add_key(&mut w, CHARITY, 11, &["approve"]);
    w.refuse(
        2,
        CHARITY,
        "disbursement.approve",
        approve.clone(),
        Code::RoleMissing,
    );
    w.refuse(
        3,
        UNION,
        "disbursement.approve",
        approve.clone(),
        Code::RoleMissing,
    );
    add_key(&mut w, UNION, 12, &["approve"]);
    w.refuse(
        12,
        UNION,
        "disbursement.approve",
        approve.clone(),
        Code::RoleMissing,
    );
    w.refuse(
        11,
        CHARITY,
        "disbursement.approve",
        json!({"disbursement": small}),
        Code::RuleViolation,
    );
    // A pending one neither fulfils a need nor is corrected.
    w.refuse(
        2,
        CHARITY,
        "correction",
        json!({"target": big, "reason": "x", "reverse": true}),
        Code::RuleViolation,
    );
    w.ok(11, CHARITY, "disbursement.approve", approve.clone());
    let f = w.fund("CHA-DUAL");
    assert_eq!(
        (f.pending, f.pending_count, f.disbursed, f.disbursements),
        (0, 0, 199_999, 2)
    );
    assert_eq!(entry(&w, big).approval.unwrap().state, Approval::Approved);
    w.refuse(
        11,
        CHARITY,
        "disbursement.approve",
        approve,
        Code::RuleViolation,
    );

    // A key that signed it may not reject it either; a rejection gives
    // the money back.
    let third = w.ok(
        CHARITY_APPROVE,
        CHARITY,
        "disbursement",
        pay(&bnf(3), 200_000, "CHA-DUAL"),
    );
    let reject = json!({"disbursement": third, "reason": "超出救助标准"});
    w.refuse(
        CHARITY_APPROVE,
        CHARITY,
        "disbursement.reject",
        reject.clone(),
        Code::RoleMissing,
    );
    let balance = w.fund("CHA-DUAL").balance;
    w.ok(11, CHARITY, "disbursement.reject", reject.clone());
    let f = w.fund("CHA-DUAL");
    assert_eq!(
        (f.balance, f.pending, f.disbursed),
        (balance + 200_000, 0, 199_999)
    );
    w.refuse(
        11,
        CHARITY,
        "disbursement.approve",
        json!({"disbursement": third}),
        Code::RuleViolation,
    );
    w.refuse(2, CHARITY, "fund.recover", json!({"fund": "CHA-DUAL", "amount": 1, "from": bnf(3), "reason": "overpaid", "date": "2026-03-20", "disbursement": third}), Code::RuleViolation);
    w.refuse(
        2,
        CHARITY,
        "correction",
        json!({"target": third, "reason": "x", "reverse": false}),
        Code::RuleViolation,
    );

    // A need is fulfilled only by an approved disbursement.
    w.ok(2, CHARITY, "need.publish", need_body("N-9", 9));
    w.ok(
        UNION_REVIEW,
        UNION,
        "need.review",
        json!({"need": "N-9", "decision": "approve", "note": "属实"}),
    );
    w.ok(
        CHARITY2_REVIEW,
        CHARITY2,
        "need.review",
        json!({"need": "N-9", "decision": "approve", "note": "属实"}),
    );
    w.ok(2, CHARITY, "need.claim", json!({"need": "N-9"}));
    let mut body = pay(&bnf(9), 150_000, "CHA-DUAL");
    body["need"] = json!("N-9");
    let paid = w.ok(2, CHARITY, "disbursement", body);
    w.refuse(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-9", "disbursement": paid}),
        Code::RuleViolation,
    );
    w.ok(
        11,
        CHARITY,
        "disbursement.approve",
        json!({"disbursement": paid}),
    );
    w.ok(
        2,
        CHARITY,
        "need.fulfil",
        json!({"need": "N-9", "disbursement": paid}),
    );
    replays_the_same(&w);
}

#[test]
fn the_pseudonym_key_is_the_registrars_and_recorded_once() {
    let mut w = v2();
    let key = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";
    let body = json!({"key": key, "service": "https://pseudonym.example.gov.cn"});
    w.refuse(2, CHARITY, "pseudonym.key", body.clone(), Code::RoleMissing);
    w.refuse(
        1,
        BUREAU,
        "pseudonym.key",
        json!({"key": "00".repeat(32), "service": "https://p.example"}),
        Code::SchemaViolation,
    );
    w.refuse(
        1,
        BUREAU,
        "pseudonym.key",
        json!({"key": "ff".repeat(32), "service": "https://p.example"}),
        Code::SchemaViolation,
    );
    let seq = w.ok(1, BUREAU, "pseudonym.key", body.clone());
    assert_eq!(rules(&w).pseudonym.unwrap().seq, seq);
    w.refuse(1, BUREAU, "pseudonym.key", body, Code::RuleViolation);
    replays_the_same(&w);
}

/// One step of a random v2 history.
#[derive(Debug, Clone)]
enum Step {
    Pay(u64, u64),
    Approve(usize),
    Reject(usize),
    Recover(usize, u64),
    Reverse(usize),
    Monitor(u64, u64),
    Visit(u64, u64),
    Close(u64),
    Publish(u64),
    Review(u64, bool, bool),
    Days(u64),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (0u64..6, 1u64..300_000).prop_map(|(b, a)| Step::Pay(b, a)),
        (0usize..8).prop_map(Step::Approve),
        (0usize..8).prop_map(Step::Reject),
        (0usize..8, 1u64..200_000).prop_map(|(d, a)| Step::Recover(d, a)),
        (0usize..8).prop_map(Step::Reverse),
        (0u64..6, 0u64..90).prop_map(|(b, d)| Step::Monitor(b, d)),
        (0u64..6, 1u64..120).prop_map(|(b, d)| Step::Visit(b, d)),
        (0u64..6).prop_map(Step::Close),
        (0u64..4).prop_map(Step::Publish),
        (0u64..4, any::<bool>(), any::<bool>()).prop_map(|(n, u, a)| Step::Review(n, u, a)),
        (1u64..40).prop_map(Step::Days),
    ]
}

/// `2026-02-25` plus `days`.
fn day(days: u64) -> String {
    let d =
        ledger::date::add_days(ledger::date::parse("2026-02-25").unwrap(), days as i64).unwrap();
    ledger::date::format(d)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Random v2 histories: every fund's balance is receipts + recoveries −
    /// transfers − (approved + pending) disbursements; every need is in one
    /// state that its reviews explain; each monitoring alert is raised once
    /// (per review date, per period); and the replay reproduces the state.
    #[test]
    fn random_v2_histories_keep_their_invariants(steps in proptest::collection::vec(step(), 1..80)) {
        let mut w = v2();
        let mut paid: Vec<u64> = Vec::new();
        let mut elapsed = 0u64;
        for s in steps {
            let _ = match s {
                Step::Pay(b, amount) => w.submit(2, CHARITY, "disbursement", pay(&bnf(b), amount, "CHA-DUAL")).map(|o| {
                    if let ledger::sequencer::Outcome::Sequenced(s) = o { paid.push(s.seq) }
                }),
                Step::Approve(i) => match paid.get(i) {
                    Some(d) => w.submit(CHARITY_APPROVE, CHARITY, "disbursement.approve", json!({"disbursement": d})).map(drop),
                    None => Ok(()),
                },
                Step::Reject(i) => match paid.get(i) {
                    Some(d) => w.submit(CHARITY_APPROVE, CHARITY, "disbursement.reject", json!({"disbursement": d, "reason": "x"})).map(drop),
                    None => Ok(()),
                },
                Step::Recover(i, amount) => match paid.get(i) {
                    Some(d) => w.submit(2, CHARITY, "fund.recover", json!({"fund": "CHA-DUAL", "amount": amount, "from": bnf(0), "reason": "overpaid", "date": "2026-03-01", "disbursement": d})).map(drop),
                    None => Ok(()),
                },
                Step::Reverse(i) => match paid.get(i) {
                    Some(d) => w.submit(2, CHARITY, "correction", json!({"target": d, "reason": "x", "reverse": true})).map(drop),
                    None => Ok(()),
                },
                Step::Monitor(b, d) => w.submit(BUREAU_MONITOR, BUREAU, "household.monitor", json!({"beneficiary": bnf(b), "tier": "monitored", "risks": ["illness"], "region": "321181", "review_by": day(elapsed + d)})).map(drop),
                Step::Visit(b, d) => w.submit(BUREAU_MONITOR, BUREAU, "household.visit", json!({"beneficiary": bnf(b), "date": day(elapsed), "findings": "x", "next_review_by": day(elapsed + d)})).map(drop),
                Step::Close(b) => w.submit(BUREAU_MONITOR, BUREAU, "household.close", json!({"beneficiary": bnf(b), "reason": "x"})).map(drop),
                Step::Publish(n) => w.submit(2, CHARITY, "need.publish", need_body(&format!("N-{n}"), n)).map(drop),
                Step::Review(n, union, approve) => {
                    let (k, org) = if union { (UNION_REVIEW, UNION) } else { (CHARITY2_REVIEW, CHARITY2) };
                    let decision = if approve { "approve" } else { "reject" };
                    w.submit(k, org, "need.review", json!({"need": format!("N-{n}"), "decision": decision, "note": "x"})).map(drop)
                }
                Step::Days(d) => {
                    w.pass(DAY * d as u32);
                    elapsed += d;
                    Ok(())
                }
            };
            let f = w.fund("CHA-DUAL");
            proptest::prop_assert_eq!(
                f.balance + f.transferred_out + f.disbursed + f.pending,
                f.received + f.transferred_in + f.recovered,
                "{:?}", f
            );
        }
        for n in 0..4u64 {
            if let Some(need) = read::<Needs>(w.log.backend(), format!("N-{n}").as_str()).unwrap() {
                let approvals = need.reviews.iter().filter(|r| r.decision == ledger::domain::Decision::Approve).count();
                let rejected = need.reviews.iter().any(|r| r.decision == ledger::domain::Decision::Reject);
                let expected = if rejected { NeedState::Rejected } else if approvals >= 2 { NeedState::Open } else { NeedState::Pending };
                proptest::prop_assert_eq!(need.state, expected);
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in alerts(&w) {
            proptest::prop_assert!(seen.insert((a.alert, a.beneficiary.clone(), a.period, a.since.clone())), "raised twice: {:?}", a);
        }
        let pending: u64 = paid
            .iter()
            .map(|s| entry(&w, *s))
            .filter(|e| e.approval.as_ref().is_some_and(|a| a.state == Approval::Pending))
            .map(|e| e.amount)
            .sum();
        proptest::prop_assert_eq!(pending, w.fund("CHA-DUAL").pending);
        replays_the_same(&w);
    }
}
