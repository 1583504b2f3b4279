//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use ledger::entry::SignedEntry;
use serde_json::json;

/// A deterministic test key.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A signed entry whose body carries `i` (so every entry is distinct) and
/// `pad` bytes of text, signed by `key(k)`.
pub fn entry(k: u8, i: u64, pad: usize) -> SignedEntry {
    let body = json!({"amount": i as i64 + 1, "note": "x".repeat(pad), "fund": "F-1"});
    SignedEntry::create(
        &key(k),
        "CN-USCI-53440300MJ0000018R",
        ledger::domain::Kind::Disbursement,
        &format!("n-{i}"),
        "2026-11-21T08:30:00Z",
        body,
    )
    .unwrap()
}

use ledger::rules::{check_submission, Code, Refusal};
use ledger::sequencer::{dump, sequence_group, Outcome};
use ledger::store::{Backend, Log, MemBackend};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The civil-affairs department (registrar), seed 1.
pub const BUREAU: &str = "CN-USCI-11320000MB0000019A";
/// A charity foundation, seed 2.
pub const CHARITY: &str = "CN-USCI-53440300MJ0000018R";
/// A city federation of trade unions, seed 3.
pub const UNION: &str = "CN-USCI-81110000000000019C";
/// A second charity, seed 4.
pub const CHARITY2: &str = "CN-USCI-91110000600037341L";

/// A pseudonym from a small number.
pub fn bnf(n: u64) -> String {
    format!("bnf_{n:064x}")
}
/// A volunteer pseudonym from a small number.
pub fn vol(n: u64) -> String {
    format!("vol_{n:064x}")
}
/// Lowercase hex public key of seed `n`.
pub fn pubkey(n: u8) -> String {
    hex::encode(key(n).verifying_key().to_bytes())
}

/// A signed statement as the JSON bytes a client would submit.
pub fn signed(k: u8, issuer: &str, kind: &str, nonce: &str, body: Value) -> Vec<u8> {
    let entry = SignedEntry::create(
        &key(k),
        issuer,
        kind.parse().expect("a kind"),
        nonce,
        "2026-03-01T09:00:00Z",
        body,
    )
    .unwrap();
    serde_json::to_vec(&entry).unwrap()
}

/// A ledger under test with a clock and a nonce counter.
pub struct World<B: Backend> {
    /// The log.
    pub log: Log<B>,
    nonce: u64,
    now: SystemTime,
}

impl World<MemBackend> {
    /// An in-memory world with the four orgs registered and keyed.
    pub fn new() -> World<MemBackend> {
        World::on(MemBackend::new())
    }
}

impl<B: Backend> World<B> {
    /// A world on `backend` with the four orgs registered and keyed.
    pub fn on(backend: B) -> World<B> {
        let mut w = World::bare(backend);
        let all = [
            "registrar",
            "admin",
            "fund",
            "disburse",
            "assess",
            "credit",
            "publish",
        ];
        w.ok(
            1,
            BUREAU,
            "org.register",
            json!({
            "org": {"id": BUREAU, "name": "江苏省民政厅", "type": "government", "region": "320000"},
            "keys": [{"key": pubkey(1), "roles": all}]}),
        );
        for (k, id, name, t) in [
            (2, CHARITY, "示例慈善基金会", "charity"),
            (3, UNION, "市总工会", "union"),
            (4, CHARITY2, "红十字会", "charity"),
        ] {
            w.ok(1, BUREAU, "org.register", json!({
                "org": {"id": id, "name": name, "type": t, "region": "321181"},
                "keys": [{"key": pubkey(k), "roles": ["admin", "fund", "disburse", "credit", "assess", "publish"]}]}));
        }
        w
    }

    /// A world on `backend` as it is (an empty one has no genesis yet).
    pub fn bare(backend: B) -> World<B> {
        World {
            log: Log::open(backend).unwrap(),
            nonce: 0,
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_000_000),
        }
    }

    /// Moves the clock on by `d` (the next leaves' `logged_at`).
    pub fn pass(&mut self, d: Duration) {
        self.now += d;
    }

    /// Submits bytes through the whole path: checks, rules, commit.
    pub fn submit_bytes(&mut self, bytes: &[u8]) -> Result<Outcome, Refusal> {
        let entry = check_submission(bytes)?;
        self.now += Duration::from_secs(60);
        let mut results = sequence_group(&mut self.log, vec![entry], self.now).unwrap();
        results.pop().unwrap()
    }

    /// Submits `entries` (bytes as a client sends them) as one commit group.
    pub fn submit_group(&mut self, entries: Vec<Vec<u8>>) -> Vec<Result<Outcome, Refusal>> {
        let checked = entries
            .iter()
            .map(|b| check_submission(b).unwrap())
            .collect();
        self.now += Duration::from_secs(60);
        sequence_group(&mut self.log, checked, self.now).unwrap()
    }

    /// Signs and submits with a fresh nonce.
    pub fn submit(
        &mut self,
        k: u8,
        issuer: &str,
        kind: &str,
        body: Value,
    ) -> Result<Outcome, Refusal> {
        self.nonce += 1;
        let bytes = signed(k, issuer, kind, &format!("n{}", self.nonce), body);
        self.submit_bytes(&bytes)
    }

    /// Submits and expects a new seq.
    pub fn ok(&mut self, k: u8, issuer: &str, kind: &str, body: Value) -> u64 {
        match self.submit(k, issuer, kind, body.clone()) {
            Ok(Outcome::Sequenced(s)) => s.seq,
            other => panic!("{kind} {body} was not accepted: {other:?}"),
        }
    }

    /// Expects `code` from submitting `bytes`, and that nothing changed.
    pub fn refuse_bytes(&mut self, bytes: &[u8], code: Code) -> String {
        let before = (self.log.head(), dump(self.log.backend()).unwrap());
        let got = self.submit_bytes(bytes);
        let after = (self.log.head(), dump(self.log.backend()).unwrap());
        assert!(
            before == after,
            "a refused entry changed the ledger ({got:?})"
        );
        match got {
            Err(r) if r.code == code => r.message,
            other => panic!("expected {}, got {other:?}", code.as_str()),
        }
    }

    /// Expects `code` from a signed statement, and that nothing changed.
    pub fn refuse(&mut self, k: u8, issuer: &str, kind: &str, body: Value, code: Code) -> String {
        self.nonce += 1;
        let bytes = signed(k, issuer, kind, &format!("n{}", self.nonce), body);
        self.refuse_bytes(&bytes, code)
    }

    /// A fund record.
    pub fn fund(&self, id: &str) -> ledger::records::FundRec {
        ledger::state::tables::read::<ledger::state::tables::Funds>(self.log.backend(), id)
            .unwrap()
            .unwrap()
    }
}

/// A fund.open body.
pub fn fund_open(id: &str, category: &str, budget: u64) -> Value {
    json!({"fund": id, "title": "专项资金", "category": category, "source": "donation", "region": "321181",
           "currency": "CNY", "budget": budget, "start": "2026-01-01", "end": "2026-12-31"})
}

/// A disbursement body.
pub fn disburse(fund: &str, who: &str, cause: &str, amount: u64, date: &str) -> Value {
    json!({"fund": fund, "beneficiary": who, "tier": "vulnerable", "cause": cause, "amount": amount,
           "method": "cash", "region": "321181", "date": date})
}
