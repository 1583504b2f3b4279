//! Random operations by several organisations, in random commit groups:
//! balances never go negative, every total equals the sum of the accepted
//! entries behind it (an independent model), incremental state equals a
//! replay of the leaves, and resubmission is idempotent.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use common::*;
use ledger::records::{CreditRec, FundRec};
use ledger::rules::check_submission;
use ledger::sequencer::{dump, replay, sequence_group, Outcome};
use ledger::state::{get, Table};
use proptest::prelude::*;
use serde_json::{json, Value};

const FUNDS: [(u8, &str, &str); 3] = [
    (2, CHARITY, "F-CHA"),
    (3, UNION, "F-UNI"),
    (4, CHARITY2, "F-RC"),
];

#[derive(Debug, Clone)]
enum Op {
    Receive {
        f: usize,
        amount: u64,
    },
    Transfer {
        f: usize,
        to: usize,
        amount: u64,
    },
    Disburse {
        f: usize,
        family: u64,
        cause: usize,
        amount: u64,
        day: u64,
    },
    Award {
        by: usize,
        v: u64,
        points: u64,
    },
    Redeem {
        by: usize,
        v: u64,
        points: u64,
    },
    Correct {
        back: u64,
        reverse: bool,
    },
    Resubmit {
        back: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..5_000u64).prop_map(|(f, amount)| Op::Receive { f, amount }),
        (0..3usize, 0..3usize, 1..4_000u64).prop_map(|(f, to, amount)| Op::Transfer {
            f,
            to,
            amount
        }),
        (0..3usize, 0..6u64, 0..3usize, 1..3_000u64, 0..365u64).prop_map(
            |(f, family, cause, amount, day)| Op::Disburse {
                f,
                family,
                cause,
                amount,
                day
            }
        ),
        (0..3usize, 0..4u64, 1..50u64).prop_map(|(by, v, points)| Op::Award { by, v, points }),
        (0..3usize, 0..4u64, 1..50u64).prop_map(|(by, v, points)| Op::Redeem { by, v, points }),
        (1..30u64, any::<bool>()).prop_map(|(back, reverse)| Op::Correct { back, reverse }),
        (0..20usize).prop_map(|back| Op::Resubmit { back }),
    ]
}

fn date(day: u64) -> String {
    let first = ledger::date::parse("2026-01-01").unwrap();
    let julian = first.to_julian_day() + i32::try_from(day).unwrap();
    ledger::date::format(ledger::date::Date::from_julian_day(julian).unwrap())
}

/// What the model expects of a fund or holder.
#[derive(Debug, Default, Clone, PartialEq)]
struct Totals {
    received: u64,
    tin: u64,
    tout: u64,
    disbursed: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_operations_keep_the_books(ops in proptest::collection::vec(op(), 1..120), groups in proptest::collection::vec(1usize..12, 1..40)) {
        let mut w = World::new();
        for (k, org, f) in FUNDS {
            w.ok(k, org, "fund.open", fund_open(f, "other", 1_000_000));
        }
        let mut submitted: Vec<Vec<u8>> = Vec::new();
        // seq -> (kind, fund, to_fund/holder, amount) of accepted money entries, for corrections.
        let mut money: HashMap<u64, (String, usize, usize, u64)> = HashMap::new();
        let mut nonce = 0;
        let mut bytes_of = |k: u8, org: &str, kind: &str, body: Value| {
            nonce += 1;
            signed(k, org, kind, &format!("p{nonce}"), body)
        };
        let mut requests = Vec::new();
        for o in &ops {
            let req = match o.clone() {
                Op::Receive { f, amount } => {
                    let (k, org, id) = FUNDS[f];
                    bytes_of(k, org, "fund.receive", json!({"fund": id, "amount": amount, "from": "x", "date": "2026-01-02"}))
                }
                Op::Transfer { f, to, amount } => {
                    let (k, org, id) = FUNDS[f];
                    bytes_of(k, org, "fund.transfer", json!({"from_fund": id, "to_fund": FUNDS[to].2, "amount": amount, "date": "2026-01-03"}))
                }
                Op::Disburse { f, family, cause, amount, day } => {
                    let (k, org, id) = FUNDS[f];
                    let cause = ["illness", "education", "housing"][cause];
                    bytes_of(k, org, "disbursement", disburse(id, &bnf(family), cause, amount, &date(day)))
                }
                Op::Award { by, v, points } => {
                    let (k, org, _) = FUNDS[by];
                    bytes_of(k, org, "credit.award", json!({"holder": vol(v), "points": points, "reason": "x"}))
                }
                Op::Redeem { by, v, points } => {
                    let (k, org, _) = FUNDS[by];
                    bytes_of(k, org, "credit.redeem", json!({"holder": vol(v), "points": points, "reason": "x"}))
                }
                Op::Correct { back, reverse } => {
                    let target = w.log.size().saturating_sub(back);
                    bytes_of(1, BUREAU, "correction", json!({"target": target, "reason": "x", "reverse": reverse}))
                }
                Op::Resubmit { back } => match submitted.len().checked_sub(back + 1) {
                    Some(i) => submitted[i].clone(),
                    None => continue,
                },
            };
            submitted.push(req.clone());
            requests.push(req);
        }

        let mut model: Vec<Totals> = vec![Totals::default(); 3];
        let mut points: HashMap<String, i64> = HashMap::new();
        let mut first_seq: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let mut rest = requests.as_slice();
        let mut g = groups.iter().cycle();
        while !rest.is_empty() {
            let n = (*g.next().unwrap()).min(rest.len());
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let entries: Vec<_> = group.iter().map(|b| check_submission(b).unwrap()).collect();
            let size_before = w.log.size();
            t += Duration::from_secs(1);
            let results = sequence_group(&mut w.log, entries.clone(), t).unwrap();
            let new = results.iter().filter(|r| matches!(r, Ok(Outcome::Sequenced(_)))).count() as u64;
            prop_assert_eq!(w.log.size(), size_before + new);
            for ((bytes, entry), r) in group.iter().zip(&entries).zip(results) {
                let key = entry.statement.canonical_bytes().unwrap();
                match r {
                    Ok(Outcome::Resubmitted(seq)) => prop_assert_eq!(first_seq.get(&key), Some(&seq)),
                    Err(e) => prop_assert!(!first_seq.contains_key(&key), "a known statement was refused: {e:?} {}", String::from_utf8_lossy(bytes)),
                    Ok(Outcome::Sequenced(s)) => {
                        prop_assert!(first_seq.insert(key, s.seq).is_none());
                        let body = &entry.statement.body;
                        let amt = |f: &str| body[f].as_u64().unwrap();
                        let idx = |f: &str| FUNDS.iter().position(|x| x.2 == body[f]).unwrap();
                        match entry.statement.kind.as_str() {
                            "fund.receive" => { model[idx("fund")].received += amt("amount"); money.insert(s.seq, ("r".into(), idx("fund"), 0, amt("amount"))); }
                            "fund.transfer" => {
                                model[idx("from_fund")].tout += amt("amount");
                                model[idx("to_fund")].tin += amt("amount");
                                money.insert(s.seq, ("t".into(), idx("from_fund"), idx("to_fund"), amt("amount")));
                            }
                            "disbursement" => { model[idx("fund")].disbursed += amt("amount"); money.insert(s.seq, ("d".into(), idx("fund"), 0, amt("amount"))); }
                            "credit.award" => *points.entry(body["holder"].as_str().unwrap().into()).or_default() += amt("points") as i64,
                            "credit.redeem" => *points.entry(body["holder"].as_str().unwrap().into()).or_default() -= amt("points") as i64,
                            "correction" if body["reverse"] == true => {
                                let target = body["target"].as_u64().unwrap();
                                if let Some((kind, f, to, a)) = money.get(&target).cloned() {
                                    match kind.as_str() {
                                        "r" => model[f].received -= a,
                                        "t" => { model[f].tout -= a; model[to].tin -= a; }
                                        _ => model[f].disbursed -= a,
                                    }
                                } else {
                                    // A credit reversal: recompute from the stored record below.
                                    let leaf = ledger::entry::Leaf::from_bytes(&w.log.leaf(target).unwrap().unwrap()).unwrap();
                                    let tb = &leaf.entry.statement.body;
                                    let sign = if leaf.entry.statement.kind == ledger::domain::Kind::CreditAward { -1 } else { 1 };
                                    *points.entry(tb["holder"].as_str().unwrap().into()).or_default() += sign * tb["points"].as_i64().unwrap();
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            // After every group: totals equal the model, balances are what they add up to.
            for (i, (_, _, id)) in FUNDS.iter().enumerate() {
                let f: FundRec = get(w.log.backend(), Table::Funds, id.as_bytes()).unwrap().unwrap();
                let m = &model[i];
                prop_assert_eq!((f.received, f.transferred_in, f.transferred_out, f.disbursed), (m.received, m.tin, m.tout, m.disbursed));
                prop_assert_eq!(f.balance as i128, m.received as i128 + m.tin as i128 - m.tout as i128 - m.disbursed as i128);
            }
            for (holder, expected) in &points {
                prop_assert!(*expected >= 0);
                let c: CreditRec = get(w.log.backend(), Table::Credits, holder.as_bytes()).unwrap().unwrap();
                prop_assert_eq!(c.balance as i64, *expected);
            }
        }
        // Incremental state equals a replay of the leaves.
        prop_assert_eq!(dump(&replay(&w.log).unwrap()).unwrap(), dump(w.log.backend()).unwrap());
    }
}
