//! Random operations by several organisations, in random commit groups,
//! against an independent model that predicts each one's answer: accepted
//! at the next seq, answered as a resubmission of an earlier seq, or
//! refused with a given code. A rule that wrongly refuses fails the
//! property as surely as one that wrongly accepts. After every group the
//! funds' and credit holders' totals equal the model's; at the end the
//! incremental state equals a replay of the leaves.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use common::*;
use ledger::rules::{check_submission, Code};
use ledger::sequencer::{dump, replay, sequence_group, Outcome};
use proptest::prelude::*;
use serde_json::json;

/// (key, org, fund id) of the three funds, one per org.
const FUNDS: [(u8, &str, &str); 3] = [
    (2, CHARITY, "F-CHA"),
    (3, UNION, "F-UNI"),
    (4, CHARITY2, "F-RC"),
];

/// Entries the setup sequences (genesis, three orgs, three funds): the
/// first seq the operations can get.
const FIRST_SEQ: u64 = 7;

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
    /// A registrar's correction of seq `FIRST_SEQ + at`.
    Correct {
        at: u64,
        reverse: bool,
    },
    /// The statement submitted `back` requests ago, again.
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
        (0..60u64, any::<bool>()).prop_map(|(at, reverse)| Op::Correct { at, reverse }),
        (0..20usize).prop_map(|back| Op::Resubmit { back }),
    ]
}

fn date(day: u64) -> String {
    let first = ledger::date::parse("2026-01-01").unwrap();
    let julian = first.to_julian_day() + i32::try_from(day).unwrap();
    ledger::date::format(ledger::date::Date::from_julian_day(julian).unwrap())
}

/// The bytes a client submits for `op` (not a resubmission), with nonce `n`.
fn request(op: &Op, n: usize) -> Vec<u8> {
    let nonce = format!("p{n}");
    match *op {
        Op::Receive { f, amount } => {
            let (k, org, id) = FUNDS[f];
            let body = json!({"fund": id, "amount": amount, "from": "x", "date": "2026-01-02"});
            signed(k, org, "fund.receive", &nonce, body)
        }
        Op::Transfer { f, to, amount } => {
            let (k, org, id) = FUNDS[f];
            let body = json!({"from_fund": id, "to_fund": FUNDS[to].2, "amount": amount, "date": "2026-01-03"});
            signed(k, org, "fund.transfer", &nonce, body)
        }
        Op::Disburse {
            f,
            family,
            cause,
            amount,
            day,
        } => {
            let (k, org, id) = FUNDS[f];
            let cause = ["illness", "education", "housing"][cause];
            let body = disburse(id, &bnf(family), cause, amount, &date(day));
            signed(k, org, "disbursement", &nonce, body)
        }
        Op::Award { by, v, points } => {
            let (k, org, _) = FUNDS[by];
            let body = json!({"holder": vol(v), "points": points, "reason": "x"});
            signed(k, org, "credit.award", &nonce, body)
        }
        Op::Redeem { by, v, points } => {
            let (k, org, _) = FUNDS[by];
            let body = json!({"holder": vol(v), "points": points, "reason": "x"});
            signed(k, org, "credit.redeem", &nonce, body)
        }
        Op::Correct { at, reverse } => {
            let body = json!({"target": FIRST_SEQ + at, "reason": "x", "reverse": reverse});
            signed(1, BUREAU, "correction", &nonce, body)
        }
        Op::Resubmit { .. } => unreachable!("a resubmission repeats earlier bytes"),
    }
}

/// A fund's totals as the model keeps them.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Fund {
    received: u64,
    tin: u64,
    tout: u64,
    disbursed: u64,
}

impl Fund {
    fn balance(&self) -> u64 {
        self.received + self.tin - self.tout - self.disbursed
    }
}

/// An accepted entry a correction can target, and whether one did.
#[derive(Debug, Clone)]
struct Correctable {
    op: Op,
    corrected: bool,
}

/// What the model says of one submission.
#[derive(Debug, Clone, PartialEq)]
enum Predicted {
    New,
    Resubmitted(u64),
    Refused(Code),
}

/// The ledger as the model sees it: written from SPEC §6, sharing no code
/// with the rules.
#[derive(Default)]
struct Model {
    funds: [Fund; 3],
    points: HashMap<u64, u64>,
    correctable: HashMap<u64, Correctable>,
    /// Statement bytes of accepted entries → their seq.
    accepted: HashMap<Vec<u8>, u64>,
    next_seq: u64,
}

impl Model {
    /// Predicts `op` (submitted as `bytes`) and, if accepted, applies it.
    fn submit(&mut self, op: &Op, bytes: &[u8]) -> Predicted {
        if let Some(seq) = self.accepted.get(bytes) {
            return Predicted::Resubmitted(*seq);
        }
        let seq = self.next_seq;
        let verdict = self.apply(op, seq);
        if verdict == Predicted::New {
            self.accepted.insert(bytes.to_vec(), seq);
            self.next_seq += 1;
        }
        verdict
    }

    fn apply(&mut self, op: &Op, seq: u64) -> Predicted {
        let refused = Predicted::Refused(Code::RuleViolation);
        let correctable = Correctable {
            op: op.clone(),
            corrected: false,
        };
        match *op {
            Op::Receive { f, amount } => self.funds[f].received += amount,
            Op::Transfer { f, to, amount } => {
                if f == to || self.funds[f].balance() < amount {
                    return refused;
                }
                self.funds[f].tout += amount;
                self.funds[to].tin += amount;
            }
            Op::Disburse { f, amount, .. } => {
                if self.funds[f].balance() < amount {
                    return refused;
                }
                self.funds[f].disbursed += amount;
            }
            Op::Award { v, points, .. } => *self.points.entry(v).or_default() += points,
            Op::Redeem { v, points, .. } => {
                let held = self.points.entry(v).or_default();
                if *held < points {
                    return refused;
                }
                *held -= points;
            }
            Op::Correct { at, reverse } => {
                let target = FIRST_SEQ + at;
                let Some(t) = self.correctable.get(&target).filter(|t| !t.corrected) else {
                    return refused;
                };
                if reverse && !self.reverse(&t.op.clone()) {
                    return refused;
                }
                self.correctable
                    .get_mut(&target)
                    .expect("checked above")
                    .corrected = true;
                return Predicted::New;
            }
            Op::Resubmit { .. } => unreachable!("resolved to the repeated op"),
        }
        self.correctable.insert(seq, correctable);
        Predicted::New
    }

    /// Undoes `op`'s money or points; `false` (changing nothing) if that
    /// would overdraw.
    fn reverse(&mut self, op: &Op) -> bool {
        match *op {
            Op::Receive { f, amount } => {
                if self.funds[f].balance() < amount {
                    return false;
                }
                self.funds[f].received -= amount;
            }
            Op::Transfer { f, to, amount } => {
                if self.funds[to].balance() < amount {
                    return false;
                }
                self.funds[to].tin -= amount;
                self.funds[f].tout -= amount;
            }
            Op::Disburse { f, amount, .. } => self.funds[f].disbursed -= amount,
            Op::Award { v, points, .. } => {
                let held = self.points.entry(v).or_default();
                if *held < points {
                    return false;
                }
                *held -= points;
            }
            Op::Redeem { v, points, .. } => *self.points.entry(v).or_default() += points,
            Op::Correct { .. } | Op::Resubmit { .. } => unreachable!("not correctable"),
        }
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn the_rules_answer_what_the_model_predicts(
        ops in proptest::collection::vec(op(), 1..120),
        groups in proptest::collection::vec(1usize..12, 1..40),
    ) {
        let mut w = World::new();
        for (k, org, f) in FUNDS {
            w.ok(k, org, "fund.open", fund_open(f, "other", 1_000_000));
        }
        prop_assert_eq!(w.log.size(), FIRST_SEQ);
        // Each request: the op it carries and its bytes (a resubmission
        // repeats an earlier request's both).
        let mut requests: Vec<(Op, Vec<u8>)> = Vec::new();
        for (n, o) in ops.iter().enumerate() {
            let req = match o {
                Op::Resubmit { back } => match requests.len().checked_sub(back + 1) {
                    Some(i) => requests[i].clone(),
                    None => continue,
                },
                other => (other.clone(), request(other, n)),
            };
            requests.push(req);
        }
        let mut model = Model { next_seq: FIRST_SEQ, ..Model::default() };
        let mut t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let mut rest = requests.as_slice();
        let mut g = groups.iter().cycle();
        while !rest.is_empty() {
            let n = (*g.next().unwrap()).min(rest.len());
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let entries: Vec<_> = group.iter().map(|(_, b)| check_submission(b).unwrap()).collect();
            t += Duration::from_secs(1);
            let results = sequence_group(&mut w.log, entries.clone(), t).unwrap();
            for (((op, bytes), entry), got) in group.iter().zip(&entries).zip(results) {
                let statement = entry.entry().statement.canonical_bytes().unwrap();
                let expected = model.submit(op, &statement);
                let got = match got {
                    Ok(Outcome::Sequenced(s)) => {
                        prop_assert_eq!(s.seq, model.next_seq - 1, "{:?}", op);
                        Predicted::New
                    }
                    Ok(Outcome::Resubmitted(seq)) => Predicted::Resubmitted(seq),
                    Err(refusal) => Predicted::Refused(refusal.code),
                };
                prop_assert_eq!(got, expected, "{:?}: {}", op, String::from_utf8_lossy(bytes));
            }
            prop_assert_eq!(w.log.size(), model.next_seq);
            for (i, (_, _, id)) in FUNDS.iter().enumerate() {
                let f = ledger::query::fund(w.log.backend(), id).unwrap().unwrap();
                let m = model.funds[i];
                prop_assert_eq!(
                    (f.received, f.transferred_in, f.transferred_out, f.disbursed, f.balance),
                    (m.received, m.tin, m.tout, m.disbursed, m.balance())
                );
            }
            for (v, points) in &model.points {
                let held = ledger::query::credit(w.log.backend(), &vol(*v)).unwrap();
                prop_assert_eq!(held.map_or(0, |c| c.balance), *points);
            }
        }
        // Incremental state equals a replay of the leaves.
        prop_assert_eq!(dump(&replay(&w.log).unwrap()).unwrap(), dump(w.log.backend()).unwrap());
    }
}
