//! The rules of SPEC §6 as one pure function, [`apply`]: given the derived
//! state before an entry and the entry with its seq, either the writes the
//! entry causes or a refusal with the SPEC's code. The node, the replaying
//! auditor and the tests all call it.
//!
//! Checks run in the SPEC's order from `pii_detected` on (parsing, schema and
//! signature come before, in [`check_submission`]): the rules version in
//! force (a kind, role or field it lacks is a `schema_violation`) → PII →
//! identical resubmission / `nonce_conflict` → `unknown_key` →
//! `key_revoked` → `role_missing` → `rule_violation`.
//!
//! The rules of each area are in their own file: [`registry`] (orgs and
//! keys), [`settings`] (rule versions and the pseudonym key), [`funds`]
//! (funds, receipts, transfers, disbursements, recoveries and the
//! duplicate-aid alert), [`approvals`] (dual control), [`credits`],
//! [`assessments`], [`needs`], [`households`] (monitoring and its alerts)
//! and [`corrections`]. [`version`] is the table of what each rules
//! version adds.

mod approvals;
mod assessments;
mod corrections;
mod credits;
mod funds;
mod households;
mod needs;
mod registry;
mod settings;
mod submission;
mod version;

use sha2::{Digest, Sha256};

use crate::body::Body;
use crate::canonical::MAX_SAFE_INTEGER;
use crate::domain::{Index, Kind, Role};
use crate::entry::{EntryError, SignedEntry, Statement};
use crate::ident;
use crate::records::{AssistRec, EntryRec, HouseholdRec, KeyRec, NonceRec, RulesRec, TallyRec};
use crate::state::tables::{
    contains, index_key, location, read, Assists, Beneficiaries, Entries, Histories, Households,
    Keys, Nonces, Rules, Tally, Vouchers,
};
use crate::state::{Effects, StateError, StateRead, Table};

pub use crate::code::{Code, Detail};
pub use funds::within_duplicate_window;
pub use submission::{
    check_batch, check_chunks, check_submission, check_submission_value, check_submissions,
    CheckedEntry, CHECK_CHUNK, LEAF_OVERHEAD,
};
pub use version::{Additions, Change, RulesVersion, VERSIONS};

/// Why an entry is refused. A refused entry changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct Refusal {
    /// SPEC code.
    pub code: Code,
    /// Human-readable reason naming the field or rule.
    pub message: String,
    /// The refusal's ids and numbers, for clients to say it in their
    /// language; `message` is its English.
    pub detail: Option<Detail>,
}

impl Refusal {
    /// A refusal with `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// A refusal with `code` about `detail`, said in English as the message.
    pub fn because(code: Code, detail: Detail) -> Refusal {
        Refusal {
            code,
            message: detail.to_string(),
            detail: Some(detail),
        }
    }
}

impl From<EntryError> for Refusal {
    fn from(e: EntryError) -> Refusal {
        let code = match e {
            EntryError::Malformed(_) => Code::MalformedJson,
            EntryError::TooLarge(_) => Code::TooLarge,
            EntryError::BadSignature => Code::BadSignature,
            EntryError::Schema(_) | EntryError::NotCanonical => Code::SchemaViolation,
        };
        Refusal::new(code, e.to_string())
    }
}

/// Why the rules stopped on an entry, inside this module: the entry's
/// fault (a refusal, the submitter's to act on) or the store's (a state
/// that could not be read, the operator's). [`apply`] hands the two out
/// apart.
#[derive(Debug)]
enum Stop {
    Refused(Refusal),
    Storage(StateError),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Stop {
        Stop::Refused(r)
    }
}

impl From<StateError> for Stop {
    fn from(e: StateError) -> Stop {
        Stop::Storage(e)
    }
}

/// A `rule_violation` naming the rule.
fn rule(message: impl Into<String>) -> Stop {
    Stop::Refused(Refusal::new(Code::RuleViolation, message))
}

/// A `rule_violation` with its ids and numbers: a client says it from
/// `detail`, the message is its English.
fn because(detail: Detail) -> Stop {
    Stop::Refused(Refusal::because(Code::RuleViolation, detail))
}

/// A `role_missing`.
fn role(message: impl Into<String>) -> Stop {
    Stop::Refused(Refusal::new(Code::RoleMissing, message))
}

/// A `schema_violation` found by a rule (a check the JSON Schema cannot
/// express).
fn schema(message: impl Into<String>) -> Stop {
    Stop::Refused(Refusal::new(Code::SchemaViolation, message))
}

/// What applying an accepted entry gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new entry: sequence it with these writes.
    New(Effects),
    /// The same statement was already sequenced at this seq (answer 200).
    Resubmission(u64),
}

/// Where an entry is sequenced: its seq and its leaf's `logged_at`, whose
/// day in UTC+8 is "today" for the monitoring alerts (SPEC §6.2).
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    /// The entry's seq.
    pub seq: u64,
    /// Its leaf's `logged_at` (RFC 3339, UTC).
    pub logged_at: &'a str,
    /// Whether to derive what readers see beyond the decisions (the
    /// monitoring sweep and alerts): an auditor's lean replay does not.
    pub derived: bool,
}

impl Position<'_> {
    /// The day of `logged_at` in UTC+8 (China Standard Time).
    fn day(&self) -> Option<crate::date::Date> {
        let t = self.logged_at;
        let day = crate::date::parse(t.get(..10)?)?;
        let hour: u8 = t.get(11..13)?.parse().ok()?;
        if hour >= 16 {
            day.next_day()
        } else {
            Some(day)
        }
    }
}

/// Applies SPEC §6 to `entry` sequenced `at` on top of `state`.
/// The outer `Err` is a state that could not be read (the operator's to
/// act on); the inner one a refusal of the entry (the submitter's).
pub fn apply(
    state: &dyn StateRead,
    at: Position<'_>,
    entry: &SignedEntry,
) -> Result<Result<Applied, Refusal>, StateError> {
    let statement = match entry.statement.canonical_bytes() {
        Ok(statement) => statement,
        Err(e) => return Ok(Err(e.into())),
    };
    apply_prepared(state, at, entry, &prepare(entry, &statement))
}

/// What [`apply`] needs of an entry that does not depend on the state: the
/// sequencer makes it for a whole group on all cores.
pub(crate) struct Prepared {
    /// `SHA-256(JCS(statement))`, kept in the nonce record.
    statement_hash: [u8; 32],
    /// The PII guard's refusal, if any: raised after the rules version is
    /// checked, as the SPEC orders them.
    pii: Option<Refusal>,
    /// The rules version the statement needs, when it is later than 1,
    /// and what needs it.
    needs: Option<(RulesVersion, String)>,
}

/// The state-free checks and work of [`apply`] for `entry`, whose
/// statement's canonical bytes are `statement`: its hash, the PII guard
/// and the rules version it needs.
pub(crate) fn prepare(entry: &SignedEntry, statement: &[u8]) -> Prepared {
    let pii = ident::pii_in_statement(&entry.statement).map(|(path, pii)| {
        Refusal::new(
            Code::PiiDetected,
            format!("{path} holds {}; use a bnf_/vol_ pseudonym", pii.describe()),
        )
    });
    Prepared {
        statement_hash: Sha256::digest(statement).into(),
        pii,
        needs: RulesVersion::needed_by(&entry.statement),
    }
}

/// As [`apply`], given [`prepare`]'s result for `entry`.
pub(crate) fn apply_prepared(
    state: &dyn StateRead,
    at: Position<'_>,
    entry: &SignedEntry,
    prepared: &Prepared,
) -> Result<Result<Applied, Refusal>, StateError> {
    match decide(state, at, entry, prepared) {
        Ok(applied) => Ok(Ok(applied)),
        Err(Stop::Refused(refusal)) => Ok(Err(refusal)),
        Err(Stop::Storage(e)) => Err(e),
    }
}

fn decide(
    state: &dyn StateRead,
    at: Position<'_>,
    entry: &SignedEntry,
    prepared: &Prepared,
) -> Result<Applied, Stop> {
    let st = &entry.statement;
    let seq = at.seq;
    let mut cx = Cx {
        state,
        seq,
        at,
        st,
        key: None,
        fx: Effects::default(),
        tally: None,
        rules: None,
        rules_changed: false,
        households: Vec::new(),
        assists: Vec::new(),
        raised: 0,
        sweeping: None,
    };
    if let Some((needed, what)) = &prepared.needs {
        let in_force = cx.version()?;
        if *needed > in_force {
            return Err(schema(format!(
                "{what} needs rules version {needed}; version {in_force} is in force"
            )));
        }
    }
    if let Some(pii) = &prepared.pii {
        return Err(pii.clone().into());
    }
    let statement_hash = prepared.statement_hash;
    let nonce_key = (st.issuer.as_str(), st.nonce.as_str());
    if let Some(used) = read::<Nonces>(state, nonce_key)? {
        if used.statement == statement_hash {
            return Ok(Applied::Resubmission(used.seq));
        }
        return Err(Refusal::new(
            Code::NonceConflict,
            format!(
                "nonce {:?} of {} was used at seq {} for another statement",
                st.nonce, st.issuer, used.seq
            ),
        )
        .into());
    }
    if seq == 0 {
        cx.genesis()?;
        cx.rules = Some(RulesRec::default());
        cx.rules_changed = true;
    } else {
        cx.key = Some(cx.authenticate()?);
        cx.sweep()?;
    }
    cx.kind()?;
    cx.finish();
    let mut fx = cx.fx;
    fx.set::<Nonces>(
        nonce_key,
        &NonceRec {
            seq,
            statement: statement_hash,
        },
    );
    fx.index(index_key(Index::Org, &st.issuer, seq));
    fx.index(index_key(Index::Kind, st.kind.as_str(), seq));
    Ok(Applied::New(fx))
}

/// The point reads of [`apply`] for `st` that miss every cache: its nonce,
/// its voucher number and, for a disbursement, the beneficiary's history
/// and, while any household is `monitoring`, its household. The sequencer
/// reads them for a whole group in one batch before the rules run.
pub(crate) fn cold_reads(st: &Statement, monitoring: bool) -> Vec<(Table, Vec<u8>)> {
    let mut reads = vec![location::<Nonces>((&st.issuer, &st.nonce))];
    let field = |name| st.body.get(name).and_then(serde_json::Value::as_str);
    if let Some(reference) = field("ref").filter(|_| st.kind.takes_voucher()) {
        reads.push(location::<Vouchers>((&st.issuer, reference)));
    }
    if st.kind == Kind::Disbursement {
        if let (Some(beneficiary), Some(cause)) = (field("beneficiary"), field("cause")) {
            reads.push(location::<Histories>((beneficiary, cause)));
        }
    }
    if matches!(st.kind, Kind::Disbursement | Kind::NeedPublish) {
        if let Some(beneficiary) = field("beneficiary") {
            reads.push(location::<Beneficiaries>(beneficiary));
            if monitoring && st.kind == Kind::Disbursement {
                reads.push(location::<Households>(beneficiary));
            }
        }
    }
    reads
}

/// One entry under the rules: the state before it, what it is, and the
/// writes decided so far.
struct Cx<'a> {
    state: &'a dyn StateRead,
    seq: u64,
    at: Position<'a>,
    st: &'a Statement,
    /// The signing key's record (absent only for genesis).
    key: Option<KeyRec>,
    fx: Effects,
    /// The ledger's tally once this entry changed it (written once, last).
    tally: Option<TallyRec>,
    /// The rules record once read (written last if changed).
    rules: Option<RulesRec>,
    rules_changed: bool,
    /// Households changed by this entry (and its sweep), written last:
    /// the entry's rules and the monitoring sweep see each other's changes.
    households: Vec<HouseholdRec>,
    /// The same for the monitoring alerts' records.
    assists: Vec<(String, AssistRec)>,
    /// Monitoring alerts raised at this leaf so far.
    raised: u32,
    /// The monitoring sweep's record, once this entry changed it.
    sweeping: Option<crate::records::SweepRec>,
}

/// `a + b` within the SPEC's integers, or a `rule_violation` naming `what`.
fn add(a: u64, b: u64, what: &str) -> Result<u64, Stop> {
    a.checked_add(b)
        .filter(|s| *s <= MAX_SAFE_INTEGER as u64)
        .ok_or_else(|| rule(format!("{what} would exceed 2^53-1")))
}

/// `needed` taken from fund `fund`'s `balance`, or a `rule_violation`
/// saying how much it holds (`reversing`: the kind a correction undoes).
fn take_from_fund(
    balance: u64,
    needed: u64,
    fund: &str,
    reversing: Option<Kind>,
) -> Result<u64, Stop> {
    balance.checked_sub(needed).ok_or_else(|| {
        because(Detail::InsufficientBalance {
            fund: fund.to_owned(),
            available: balance,
            needed,
            reversing,
        })
    })
}

/// `needed` credit points taken from `holder`'s `balance`, or a
/// `rule_violation` saying how many it has.
fn take_credits(
    balance: u64,
    needed: u64,
    holder: &str,
    reversing: Option<Kind>,
) -> Result<u64, Stop> {
    balance.checked_sub(needed).ok_or_else(|| {
        because(Detail::InsufficientCredits {
            holder: holder.to_owned(),
            available: balance,
            needed,
            reversing,
        })
    })
}

impl Cx<'_> {
    /// The statement's body as its kind's type.
    fn body<T: Body>(&self) -> Result<T, Stop> {
        crate::body::parse(&self.st.body).map_err(|e| schema(format!("body: {e}")))
    }

    fn has_role(&self, role: Role) -> bool {
        self.key.as_ref().is_some_and(|k| k.roles.contains(&role))
    }

    fn need_role(&self, needed: Role) -> Result<(), Stop> {
        if self.has_role(needed) {
            Ok(())
        } else {
            Err(role(format!(
                "{} needs a key with role {needed}",
                self.st.kind
            )))
        }
    }

    /// unknown_key → key_revoked → role_missing (the key's org).
    fn authenticate(&self) -> Result<KeyRec, Stop> {
        let k = read::<Keys>(self.state, &self.st.key)?.ok_or_else(|| {
            Refusal::new(
                Code::UnknownKey,
                format!("key {} is not registered", self.st.key),
            )
        })?;
        if let Some(at) = k.revoked_seq {
            return Err(Refusal::new(
                Code::KeyRevoked,
                format!("key {} was revoked at seq {at}", self.st.key),
            )
            .into());
        }
        if k.org != self.st.issuer {
            return Err(role(format!(
                "key {} belongs to {}, not to issuer {}",
                self.st.key, k.org, self.st.issuer
            )));
        }
        Ok(k)
    }

    /// The role of the kind, then the kind's own rules.
    fn kind(&mut self) -> Result<(), Stop> {
        if let Some(role) = self.st.kind.role() {
            self.need_role(role)?;
        }
        match self.st.kind {
            Kind::OrgRegister => self.org_register(),
            Kind::KeyAdd => self.key_add(),
            Kind::KeyRevoke => self.key_revoke(),
            Kind::FundOpen => self.fund_open(),
            Kind::FundReceive => self.fund_receive(),
            Kind::FundTransfer => self.fund_transfer(),
            Kind::Disbursement => self.disbursement(),
            Kind::CreditAward => self.credit_award(),
            Kind::CreditRedeem => self.credit_redeem(),
            Kind::AssessmentResult => self.assessment(),
            Kind::NeedPublish => self.need_publish(),
            Kind::NeedClaim => self.need_claim(),
            Kind::NeedRelease => self.need_release(),
            Kind::NeedFulfil => self.need_fulfil(),
            Kind::Correction => self.correction(),
            Kind::RulesActivate => self.rules_activate(),
            Kind::PseudonymKey => self.pseudonym_key(),
            Kind::NeedReview => self.need_review(),
            Kind::HouseholdMonitor => self.household_monitor(),
            Kind::HouseholdVisit => self.household_visit(),
            Kind::HouseholdClose => self.household_close(),
            Kind::FundRecover => self.fund_recover(),
            Kind::DisbursementApprove => self.disbursement_decide(true),
            Kind::DisbursementReject => self.disbursement_decide(false),
        }
    }

    /// The rules record (the version in force, the pseudonym key).
    fn rules(&mut self) -> Result<&mut RulesRec, Stop> {
        if self.rules.is_none() {
            self.rules = Some(read::<Rules>(self.state, ())?.unwrap_or_default());
        }
        Ok(self.rules.as_mut().expect("just set"))
    }

    /// The rules version in force at this entry's seq.
    fn version(&mut self) -> Result<RulesVersion, Stop> {
        Ok(self.rules()?.version)
    }

    /// The rules record, to change: written when the entry is done.
    fn rules_mut(&mut self) -> Result<&mut RulesRec, Stop> {
        self.rules()?;
        self.rules_changed = true;
        Ok(self.rules.as_mut().expect("just read"))
    }

    /// The record of household `bnf`, as this entry has left it so far.
    fn household(&self, bnf: &str) -> Result<Option<HouseholdRec>, Stop> {
        match self.households.iter().find(|h| h.beneficiary == bnf) {
            Some(h) => Ok(Some(h.clone())),
            None => Ok(read::<Households>(self.state, bnf)?),
        }
    }

    /// Sets household `h`'s record (written when the entry is done).
    fn put_household(&mut self, h: HouseholdRec) {
        match self
            .households
            .iter_mut()
            .find(|o| o.beneficiary == h.beneficiary)
        {
            Some(o) => *o = h,
            None => self.households.push(h),
        }
    }

    /// The monitoring alerts' record of household `bnf` for `period`, as
    /// this entry has left it so far (a fresh one when the stored one is
    /// of an earlier period).
    fn assist(&self, bnf: &str, period: u64) -> Result<AssistRec, Stop> {
        let rec = match self.assists.iter().find(|(b, _)| b == bnf) {
            Some((_, a)) => a.clone(),
            None => read::<Assists>(self.state, bnf)?.unwrap_or_default(),
        };
        Ok(if rec.period == period {
            rec
        } else {
            AssistRec {
                period,
                ..AssistRec::default()
            }
        })
    }

    /// Sets household `bnf`'s alert record (written when the entry is done).
    fn put_assist(&mut self, bnf: &str, a: AssistRec) {
        match self.assists.iter_mut().find(|(b, _)| b == bnf) {
            Some(o) => o.1 = a,
            None => self.assists.push((bnf.to_owned(), a)),
        }
    }

    /// Writes what this entry changed of the records kept until the end.
    fn finish(&mut self) {
        if let Some(tally) = self.tally {
            self.fx.set::<Tally>((), &tally);
        }
        if let Some(rules) = self.rules.as_ref().filter(|_| self.rules_changed) {
            self.fx.set::<Rules>((), rules);
        }
        for h in std::mem::take(&mut self.households) {
            self.fx.set::<Households>(&h.beneficiary, &h);
        }
        for (bnf, a) in std::mem::take(&mut self.assists) {
            self.fx.set::<Assists>(&bnf, &a);
        }
        if let Some(sweep) = self.sweeping.take() {
            self.fx.set::<crate::state::tables::Sweep>((), &sweep);
        }
    }

    /// The ledger's tally, to change for this entry.
    fn tally(&mut self) -> Result<&mut TallyRec, Stop> {
        if self.tally.is_none() {
            self.tally = Some(read::<Tally>(self.state, ())?.unwrap_or_default());
        }
        Ok(self.tally.as_mut().expect("just set"))
    }

    /// Lists this entry under its beneficiary, counting a pseudonym the
    /// ledger has not named before (one point read, batched with the
    /// group's cold reads).
    fn index_beneficiary(&mut self, bnf: &str) -> Result<(), Stop> {
        if !contains::<Beneficiaries>(self.state, bnf)? {
            self.fx.set::<Beneficiaries>(bnf, &self.seq);
            self.tally()?.beneficiaries += 1;
        }
        self.index(Index::Beneficiary, bnf);
        Ok(())
    }

    /// Lists this entry in `index` under `value`.
    fn index(&mut self, index: Index, value: &str) {
        self.fx.index(index_key(index, value, self.seq));
    }

    /// The record of this entry, with nothing kind-specific filled in.
    fn entry_rec(&self) -> EntryRec {
        EntryRec {
            seq: self.seq,
            kind: self.st.kind,
            issuer: self.st.issuer.clone(),
            fund: None,
            to_fund: None,
            amount: 0,
            holder: None,
            beneficiary: None,
            cause: None,
            date: None,
            region: None,
            corrected_by: None,
            reversed: false,
            fulfilled_need: None,
            approval: None,
            recovered: 0,
            recovers: None,
        }
    }

    fn put_entry(&mut self, rec: &EntryRec) {
        self.fx.set::<Entries>(rec.seq, rec);
    }

    fn entry(&self, seq: u64) -> Result<Option<EntryRec>, Stop> {
        Ok(read::<Entries>(self.state, seq)?)
    }

    /// The disbursement at `seq`, or a `rule_violation` saying it is none.
    fn disbursement_at(&self, seq: u64) -> Result<EntryRec, Stop> {
        self.entry(seq)?
            .filter(|e| e.kind == Kind::Disbursement)
            .ok_or_else(|| rule(format!("seq {seq} is not a disbursement")))
    }
}
