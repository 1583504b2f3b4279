//! A year of aid in one county-level city, on RocksDB: the civil-affairs
//! bureau (registrar), the city federation of trade unions and two charities;
//! funds of several categories; a government purchase of services (a
//! transfer from the bureau to a charity); hundreds of disbursements across
//! counties, one family helped twice for the same illness by two bodies;
//! needs claimed and fulfilled; volunteer credit points; a year-end
//! assessment. Then: totals equal the sums of their entries, exactly one
//! duplicate-aid alert, and a rebuild from the leaves alone reproduces the
//! stored state byte for byte, also after a reopen.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::*;
use ledger::domain::Index;
use ledger::entry::{Leaf, SignedEntry};
use ledger::query;
use ledger::records::AlertRec;
use ledger::rules::{check_submission, CheckedEntry};
use ledger::sequencer::{dump, replay, sequence_group, write_pipelined, Outcome};
use ledger::state::tables::{read, Credits, Needs};
use ledger::store::{Log, RocksBackend};
use serde_json::{json, Value};

struct Batch {
    entries: Vec<CheckedEntry>,
    nonce: u64,
}

impl Batch {
    fn add(&mut self, k: u8, issuer: &str, kind: &str, body: Value) {
        self.nonce += 1;
        let bytes = signed(k, issuer, kind, &format!("s-{}", self.nonce), body);
        self.entries.push(check_submission(&bytes).unwrap());
    }
}

#[test]
fn a_year_of_aid() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::on(RocksBackend::open(dir.path()).unwrap());
    let mut b = Batch {
        entries: Vec::new(),
        nonce: 0,
    };
    let funds = [
        (1, BUREAU, "MZ-2026-DIBAO", "dibao", "fiscal"),
        (1, BUREAU, "MZ-2026-TEMP", "temporary", "fiscal"),
        (3, UNION, "ZGH-2026-KUNNAN", "tekun", "union_dues"),
        (2, CHARITY, "CSH-2026-MED", "medical", "donation"),
        (4, CHARITY2, "HSH-2026-DIS", "disaster", "crowdfunding"),
    ];
    for (k, org, id, category, source) in funds {
        let mut body = fund_open(id, category, 200_000_000);
        body["source"] = json!(source);
        b.add(k, org, "fund.open", body);
        b.add(k, org, "fund.receive", json!({"fund": id, "amount": 100_000_000, "from": "年度预算/募集", "date": "2026-01-05"}));
    }
    // Government purchase of services: the bureau funds the charity's medical aid.
    b.add(
        1,
        BUREAU,
        "fund.transfer",
        json!({"from_fund": "MZ-2026-TEMP", "to_fund": "CSH-2026-MED",
        "amount": 30_000_000, "date": "2026-01-20", "ref": "政府购买服务合同-2026-007"}),
    );

    // Disbursements across three counties over the year.
    let regions = ["321181", "321182", "321183"];
    let causes = [
        "illness",
        "disability",
        "education",
        "elderly",
        "unemployment",
        "housing",
    ];
    let mut x = 7u64;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut disbursed: BTreeMap<&str, u64> = BTreeMap::new();
    for i in 0..600u64 {
        let (k, org, fund, _, _) = funds[(next() % 5) as usize];
        // Families 1000.. are helped by one body each; never the same cause twice by two bodies.
        let family = 1000 + i;
        let amount = 20_000 + next() % 480_000;
        let month = 1 + i % 12;
        let mut body = disburse(
            fund,
            &bnf(family),
            causes[(next() % 6) as usize],
            amount,
            &format!("2026-{month:02}-15"),
        );
        body["region"] = json!(regions[(next() % 3) as usize]);
        body["method"] = json!(["cash", "in_kind", "service", "voucher"][(next() % 4) as usize]);
        b.add(k, org, "disbursement", body);
        *disbursed.entry(fund).or_default() += amount;
    }
    // The family helped twice for the same illness, by the charity and by the union.
    let family = bnf(7);
    b.add(
        2,
        CHARITY,
        "disbursement",
        disburse("CSH-2026-MED", &family, "illness", 800_000, "2026-03-02"),
    );
    b.add(
        3,
        UNION,
        "disbursement",
        disburse("ZGH-2026-KUNNAN", &family, "illness", 300_000, "2026-04-20"),
    );
    *disbursed.entry("CSH-2026-MED").or_default() += 800_000;
    *disbursed.entry("ZGH-2026-KUNNAN").or_default() += 300_000;

    // A need published by the bureau, claimed by the Red Cross.
    b.add(1, BUREAU, "need.publish", json!({"need": "XQ-2026-0001", "beneficiary": bnf(9), "category": "disaster",
        "cause": "disaster", "amount": 1_500_000, "region": "321182", "summary": "房屋因洪水受损，需修缮"}));
    b.add(4, CHARITY2, "need.claim", json!({"need": "XQ-2026-0001"}));
    let mut pay = disburse("HSH-2026-DIS", &bnf(9), "disaster", 1_500_000, "2026-07-03");
    pay["need"] = json!("XQ-2026-0001");
    b.add(4, CHARITY2, "disbursement", pay);
    *disbursed.entry("HSH-2026-DIS").or_default() += 1_500_000;

    // Volunteers earn and redeem credit points.
    for v in 0..20 {
        b.add(
            2,
            CHARITY,
            "credit.award",
            json!({"holder": vol(v), "points": 10 + v, "reason": "入户走访"}),
        );
    }
    b.add(
        2,
        CHARITY,
        "credit.redeem",
        json!({"holder": vol(3), "points": 13, "reason": "兑换米面油"}),
    );

    // Sequence in commit groups of 50, as a node would.
    let mut t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let mut seq_of_last = 0;
    let entries = std::mem::take(&mut b.entries);
    let mut pipelined = Vec::new();
    for group in entries.chunks(50) {
        t += Duration::from_secs(1);
        pipelined.push((group.to_vec(), t));
        for r in sequence_group(&mut w.log, group.to_vec(), t).unwrap() {
            match r {
                Ok(Outcome::Sequenced(s)) => seq_of_last = s.seq,
                other => panic!("scenario entry refused: {other:?}"),
            }
        }
    }
    // The same groups through the two-stage writer (each group's rules run
    // while the one before is being committed, reading its writes in
    // flight) give the same leaves and the same state, byte for byte.
    {
        let other = std::sync::RwLock::new(World::new().log);
        pipelined.reverse();
        let mut results = Vec::new();
        write_pipelined(
            &other,
            || pipelined.pop().map(|(group, t)| (group, t, ())),
            |_| (),
            |(), r| results.extend(r.expect("the group is committed").0),
        );
        let other = other.into_inner().unwrap();
        assert_eq!(results.len(), entries.len());
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(Outcome::Sequenced(_)))));
        assert_eq!(other.head(), w.log.head());
        assert_eq!(
            dump(other.backend()).unwrap(),
            dump(w.log.backend()).unwrap()
        );
    }
    // The fulfil refers to the disbursement's seq: the last disbursement before the credits.
    let fulfil_target = seq_of_last - 21;
    let leaf = Leaf::from_bytes(&w.log.leaf(fulfil_target).unwrap().unwrap()).unwrap();
    assert_eq!(leaf.entry.statement.body["need"], "XQ-2026-0001");
    w.ok(
        4,
        CHARITY2,
        "need.fulfil",
        json!({"need": "XQ-2026-0001", "disbursement": fulfil_target}),
    );
    // Year-end assessment of the charity and the union's fund by the bureau.
    w.ok(1, BUREAU, "assessment.result", json!({"subject_type": "org", "subject": CHARITY,
        "period_start": "2026-01-01", "period_end": "2026-12-31", "score": 8650, "grade": "good",
        "indicators": [{"code": "exec", "name": "预算执行率", "unit": "%", "op": "ge", "target": 90, "actual": 87, "weight": 50, "score": 4350},
                       {"code": "ontime", "name": "按时发放率", "unit": "%", "op": "ge", "target": 98, "actual": 99, "weight": 50, "score": 4300}]}));

    // Totals equal the sums of their entries.
    for (_, _, id, _, _) in funds {
        let f = w.fund(id);
        assert_eq!(f.disbursed, disbursed.get(id).copied().unwrap_or(0), "{id}");
        assert_eq!(f.received, 100_000_000, "{id}");
        assert_eq!(
            f.balance,
            f.received + f.transferred_in - f.transferred_out - f.disbursed,
            "{id}"
        );
    }
    assert_eq!(w.fund("MZ-2026-TEMP").transferred_out, 30_000_000);
    assert_eq!(w.fund("CSH-2026-MED").transferred_in, 30_000_000);
    let n = read::<Needs>(w.log.backend(), "XQ-2026-0001")
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.state.as_str(), n.claimer.as_deref()),
        ("fulfilled", Some(CHARITY2))
    );
    let c = read::<Credits>(w.log.backend(), &vol(3)).unwrap().unwrap();
    assert_eq!((c.awarded, c.redeemed, c.balance), (13, 13, 0));

    // Exactly one duplicate-aid alert: the union's payment to family 7.
    let alerts: Vec<AlertRec> = query::alerts(w.log.backend(), None, 100).unwrap().items;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (
            alerts[0].beneficiary.as_str(),
            alerts[0].issuer.as_str(),
            alerts[0].matches.len()
        ),
        (family.as_str(), UNION, 1)
    );

    // Statistics add up to the funds' totals.
    let stats = query::stats(w.log.backend()).unwrap();
    let all_disbursed: u128 = funds
        .iter()
        .map(|(_, _, id, _, _)| u128::from(w.fund(id).disbursed))
        .sum();
    let all_count: u64 = funds
        .iter()
        .map(|(_, _, id, _, _)| w.fund(id).disbursements)
        .sum();
    assert_eq!(
        (stats.total.amount, stats.total.count),
        (all_disbursed, all_count)
    );
    assert_eq!(
        stats.by_month.values().map(|t| t.amount).sum::<u128>(),
        all_disbursed
    );
    assert_eq!(
        stats.by_category["medical"].amount,
        u128::from(w.fund("CSH-2026-MED").disbursed)
    );
    assert_eq!(
        stats.by_issuer_type["union"].amount,
        u128::from(w.fund("ZGH-2026-KUNNAN").disbursed)
    );
    assert_eq!(stats.by_province.keys().collect::<Vec<_>>(), ["320000"]);

    // Indexes list every entry of a fund, beneficiary and org, in pages.
    let f = w.fund("CSH-2026-MED");
    let mut seqs = Vec::new();
    let mut cursor = None;
    loop {
        let page =
            query::index_seqs(w.log.backend(), Index::Fund, "CSH-2026-MED", cursor, 37).unwrap();
        assert!(page.items.len() <= 37);
        seqs.extend(page.items);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(seqs.windows(2).all(|p| p[0] < p[1]));
    // fund.open + receipts + transfers in + disbursements.
    assert_eq!(
        seqs.len() as u64,
        1 + f.receipts + f.transfers_in + f.disbursements
    );
    for s in &seqs {
        let leaf = Leaf::from_bytes(&w.log.leaf(*s).unwrap().unwrap()).unwrap();
        assert!(leaf
            .entry
            .statement
            .body
            .to_string()
            .contains("CSH-2026-MED"));
    }
    assert_eq!(
        query::index_seqs(w.log.backend(), Index::Beneficiary, &family, None, 10)
            .unwrap()
            .items
            .len(),
        2
    );
    let union_entries = query::index_seqs(w.log.backend(), Index::Org, UNION, None, 1000).unwrap();
    assert!(union_entries.items.len() > 50 && union_entries.next.is_none());

    // A rebuild from the leaves alone reproduces the stored state byte for byte.
    let stored = dump(w.log.backend()).unwrap();
    assert!(stored.len() > 3_000);
    assert_eq!(dump(&replay(&w.log).unwrap()).unwrap(), stored);
    // An auditor's lean replay keeps the state the rules decide with:
    // everything but indexes, alerts, duplicate-aid histories, the tally and
    // its beneficiaries. Here it is held within a budget so small that it
    // spills to disk every few entries, and saved and reopened halfway as an
    // incremental audit's state directory is.
    let size = w.log.size();
    let spill_dir = tempfile::tempdir().unwrap();
    let open = |next| ledger::spill::SpillState::open(spill_dir.path(), 4096, next).unwrap();
    let (state, kept) = open(0);
    assert!(!kept, "nothing was saved");
    let mut lean = Some(ledger::sequencer::Replayer::lean_in(state, 0));
    w.log
        .scan(0, &mut |seq, bytes| {
            if seq == size / 2 {
                let mut half = lean.take().unwrap();
                half.state_mut().save(seq).unwrap();
                drop(half);
                let (state, kept) = open(seq);
                assert!(kept, "saved for this seq");
                lean = Some(ledger::sequencer::Replayer::lean_in(state, seq));
            }
            let replayer = lean.as_mut().unwrap();
            replayer.push(&Leaf::from_bytes(bytes).unwrap()).unwrap();
            true
        })
        .unwrap();
    let mut lean = lean.unwrap();
    assert_eq!(lean.next_seq(), size);
    assert!(lean.state_mut().spills() > 10);
    let decisive: Vec<_> = stored
        .iter()
        .filter(|(t, _, _)| t.decides())
        .cloned()
        .collect();
    assert_eq!(dump(lean.state_mut()).unwrap(), decisive);
    // A run that spilled after the last save is not taken for a saved one.
    drop(lean);
    let (state, kept) = open(size);
    assert!(!kept, "the second half spilled without a save");
    assert_eq!(dump(&state).unwrap(), vec![]);
    drop(w);
    // A reindex holding a few KiB at a time (writing the state hundreds of
    // times as it grows) rebuilds the same state.
    assert_eq!(
        ledger::sequencer::reindex_within(dir.path(), 4096).unwrap(),
        size
    );
    let log = Log::open(RocksBackend::open(dir.path()).unwrap()).unwrap();
    assert_eq!(log.size(), size);
    assert_eq!(dump(log.backend()).unwrap(), stored);
    assert_eq!(dump(&replay(&log).unwrap()).unwrap(), stored);
}

/// An auditor's replay finds an entry the rules would have refused, even
/// though its signature, chain and Merkle root are all in order (a node that
/// skipped the rules), and names its seq.
#[test]
fn replay_names_an_entry_the_rules_refuse() {
    use ledger::sequencer::Replayer;
    use ledger::verify::ChainVerifier;

    let mut w = World::new();
    w.ok(2, CHARITY, "fund.open", fund_open("F", "medical", 0));
    // Sequenced around the rules: a disbursement from an empty fund, signed
    // properly and chained properly.
    let size = w.log.size();
    let entry = check_submission(&signed(
        2,
        CHARITY,
        "disbursement",
        "overdraw",
        disburse("F", &bnf(1), "illness", 500, "2026-02-01"),
    ))
    .unwrap();
    append_around_the_rules(&mut w, entry.into_entry());

    // The chain verifier is satisfied: the fault is in the rules, not the bytes.
    let mut chain = ChainVerifier::new();
    let mut replayer = Replayer::new();
    let mut first_refused = None;
    w.log
        .scan(0, &mut |_, bytes| {
            let leaf = chain.push(bytes).unwrap();
            if let Err(e) = replayer.push(&leaf) {
                first_refused = Some(e);
                return false;
            }
            true
        })
        .unwrap();
    chain.finish(&w.log.head().root).unwrap();
    let e = first_refused.expect("replay must refuse the overdraft");
    assert_eq!(e.seq(), size);
    assert_eq!(
        e.refusal().unwrap().code,
        ledger::rules::Code::RuleViolation
    );
    assert!(e.refusal().unwrap().message.contains("insufficient"), "{e}");
    // And a rebuild from such a log fails at the same seq.
    assert_eq!(replay(&w.log).unwrap_err().seq(), size);
}

/// The replay checks the schema too: a body the rules alone would accept but
/// the schema refuses (an unknown tier) is found.
#[test]
fn replay_checks_the_schema() {
    let mut w = World::new();
    w.ok(2, CHARITY, "fund.open", fund_open("F", "medical", 0));
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "F", "amount": 1000, "from": "x", "date": "2026-01-02"}),
    );
    let mut body = disburse("F", &bnf(1), "illness", 500, "2026-02-01");
    body["tier"] = json!("vip");
    let bytes = signed(2, CHARITY, "disbursement", "bad-tier", body);
    assert_eq!(
        check_submission(&bytes).unwrap_err().code,
        ledger::rules::Code::SchemaViolation
    );
    let entry = SignedEntry::from_json(&bytes).unwrap();
    let size = w.log.size();
    append_around_the_rules(&mut w, entry);
    let e = replay(&w.log).unwrap_err();
    assert_eq!(
        (e.seq(), e.refusal().unwrap().code),
        (size, ledger::rules::Code::SchemaViolation)
    );
    assert!(
        e.refusal()
            .unwrap()
            .message
            .contains("/statement/body/tier"),
        "{e}"
    );
}

/// The two-stage writer's rules see the groups built but not yet
/// committed: a fund opened in one group is usable in the next while the
/// first is still unwritten, and a nonce used there cannot be reused.
#[test]
fn pipelined_groups_see_the_groups_in_flight() {
    use ledger::sequencer::Pipeline;
    let mut w = World::new();
    let entry = |kind: &str, nonce: &str, body: Value| {
        check_submission(&signed(2, CHARITY, kind, nonce, body)).unwrap()
    };
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let mut pipeline = Pipeline::new(&w.log);
    let first = pipeline
        .build(
            vec![entry("fund.open", "p1", fund_open("P-FUND", "medical", 0))],
            t,
        )
        .unwrap();
    let receive = json!({"fund": "P-FUND", "amount": 5_000, "from": "捐赠", "date": "2026-03-01"});
    let second = pipeline
        .build(
            vec![
                entry("fund.receive", "p2", receive.clone()),
                entry("fund.receive", "p1", receive),
            ],
            t,
        )
        .unwrap();
    assert!(matches!(second.0[0], Ok(Outcome::Sequenced(_))));
    assert_eq!(
        second.0[1].as_ref().unwrap_err().code,
        ledger::rules::Code::NonceConflict
    );
    // Nothing is in the log yet; committed in order, both groups land.
    assert_eq!(w.log.tip().size(), first.1.tip().size() - 1);
    for (_, group) in [first, second] {
        w.log.commit(&group).unwrap();
        w.log.install(group);
    }
    assert_eq!(w.fund("P-FUND").balance, 5_000);
    assert_eq!(dump(w.log.backend()).unwrap(), {
        let state = replay(&w.log).unwrap();
        dump(&state).unwrap()
    });
}

/// Appends `entry` as the next leaf, signed and chained properly but
/// without the rules: what a node that skipped them would write.
fn append_around_the_rules(w: &mut World<ledger::store::MemBackend>, entry: SignedEntry) {
    let leaf = Leaf {
        entry,
        logged_at: "2030-01-01T00:00:00.000Z".into(),
        prev: w.log.head().last_leaf,
        seq: w.log.size(),
    };
    w.log
        .append_records(
            vec![ledger::entry::LeafRecord::new(leaf.to_bytes().unwrap())],
            Vec::new(),
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
}

/// An auditor's replay refuses a second use of a voucher number that a
/// node sequenced around the rules, naming its seq.
#[test]
fn replay_refuses_a_duplicate_voucher() {
    let mut w = World::new();
    w.ok(2, CHARITY, "fund.open", fund_open("F", "medical", 0));
    w.ok(
        2,
        CHARITY,
        "fund.receive",
        json!({"fund": "F", "amount": 1000, "from": "x", "date": "2026-01-02", "ref": "V-1"}),
    );
    let size = w.log.size();
    let entry = check_submission(&signed(
        2,
        CHARITY,
        "fund.receive",
        "again",
        json!({"fund": "F", "amount": 1000, "from": "x", "date": "2026-01-03", "ref": "V-1"}),
    ))
    .unwrap();
    append_around_the_rules(&mut w, entry.into_entry());
    let e = replay(&w.log).unwrap_err();
    assert_eq!(e.seq(), size);
    assert_eq!(
        e.refusal().unwrap().code,
        ledger::rules::Code::RuleViolation
    );
    assert!(
        e.refusal().unwrap().message.contains("duplicate voucher"),
        "{e}"
    );
}
