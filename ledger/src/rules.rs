//! The rules of SPEC §6 as one pure function, [`apply`]: given the derived
//! state before an entry and the entry with its seq, either the writes the
//! entry causes or a refusal with the SPEC's code. The node, the replaying
//! auditor and the tests all call it.
//!
//! Checks run in the SPEC's order from `pii_detected` on (parsing, schema and
//! signature come before, in [`check_submission`]): PII → identical
//! resubmission / `nonce_conflict` → `unknown_key` → `key_revoked` →
//! `role_missing` → `rule_violation`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::{parse_strict, MAX_SAFE_INTEGER};
use crate::entry::{EntryError, SignedEntry, Statement, MAX_LEAF_BYTES};
use crate::ident;
use crate::state::{
    alert_key, get, key, AlertRec, CreditRec, Effects, EntryRec, FundRec, HistoryItem, KeyRec,
    NeedRec, NonceRec, OrgRec, Part, StateError, StateRead, StatsRec, Table,
};

pub use crate::code::Code;

/// Why an entry is refused. A refused entry changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct Refusal {
    /// SPEC code.
    pub code: Code,
    /// Human-readable reason naming the field or rule.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
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

/// A `role_missing`.
fn role(message: impl Into<String>) -> Stop {
    Stop::Refused(Refusal::new(Code::RoleMissing, message))
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

/// Bytes a leaf adds around its entry, at most: `{"entry":`, `,"logged_at":"…"`
/// (24-char timestamp), `,"prev":"<64 hex>"`, `,"seq":<≤16 digits>}`.
pub const LEAF_OVERHEAD: usize = 9 + 15 + 24 + 1 + 9 + 64 + 1 + 7 + 16 + 1;

/// Everything checked before the rules, in the SPEC's order: JSON, size,
/// schema (with the envelope), signature (`verify_strict`).
pub fn check_submission(bytes: &[u8]) -> Result<SignedEntry, Refusal> {
    check_submission_value(parse_strict(bytes).map_err(EntryError::from)?)
}

/// As [`check_submission`], for an entry already parsed strictly (one
/// element of a submitted array). The canonical size is what counts.
pub fn check_submission_value(value: Value) -> Result<SignedEntry, Refusal> {
    let (entry, msg) = check_unsigned(value)?;
    crate::entry::verify_strict(&entry.statement.key, &msg, &entry.signature)?;
    Ok(entry)
}

/// [`check_submission_value`] of each of `values`, on all cores, with the
/// same answers in order. Signatures are checked in chunks with
/// [`crate::entry::verify_strict_all`]: one field inversion a chunk.
pub fn check_submissions(values: Vec<Value>) -> Vec<Result<SignedEntry, Refusal>> {
    use rayon::prelude::*;
    /// Entries whose signatures share one inversion.
    const CHUNK: usize = 64;
    if values.len() < 2 {
        return values.into_iter().map(check_submission_value).collect();
    }
    let unsigned: Vec<Result<(SignedEntry, Vec<u8>), Refusal>> =
        values.into_par_iter().map(check_unsigned).collect();
    let signed: Vec<Result<(), EntryError>> = unsigned
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| {
            let items: Vec<_> = chunk
                .iter()
                .flatten()
                .map(|(e, msg)| (&e.statement.key, &msg[..], &e.signature))
                .collect();
            let mut verdicts = crate::entry::verify_strict_all(&items).into_iter();
            chunk
                .iter()
                .map(move |u| match u {
                    Ok(_) => verdicts.next().expect("one verdict per entry"),
                    Err(_) => Ok(()), // refused before its signature
                })
                .collect::<Vec<_>>()
        })
        .collect();
    unsigned
        .into_iter()
        .zip(signed)
        .map(|(u, verdict)| {
            let (entry, _) = u?;
            verdict?;
            Ok(entry)
        })
        .collect()
}

/// Everything [`check_submission_value`] checks before the signature; also
/// the message the signature must cover.
fn check_unsigned(value: Value) -> Result<(SignedEntry, Vec<u8>), Refusal> {
    let canonical = crate::canonical::canonical_json(&value).map_err(EntryError::from)?;
    if canonical.len() + LEAF_OVERHEAD > MAX_LEAF_BYTES {
        return Err(Refusal::new(
            Code::TooLarge,
            format!(
                "entry of {} bytes makes a leaf over 65535 bytes",
                canonical.len()
            ),
        ));
    }
    crate::schema::validate_entry(&value)
        .map_err(|e| Refusal::new(Code::SchemaViolation, e.to_string()))?;
    let entry = SignedEntry::from_value(value)?;
    let msg = entry.statement.signed_message()?;
    Ok((entry, msg))
}

/// What applying an accepted entry gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new entry: sequence it with these writes.
    New(Effects),
    /// The same statement was already sequenced at this seq (answer 200).
    Resubmission(u64),
}

/// Applies SPEC §6 to `entry` sequenced at `seq` on top of `state`.
/// The outer `Err` is a state that could not be read (the operator's to
/// act on); the inner one a refusal of the entry (the submitter's).
pub fn apply(
    state: &dyn StateRead,
    seq: u64,
    entry: &SignedEntry,
) -> Result<Result<Applied, Refusal>, StateError> {
    match prepare(entry) {
        Ok(prepared) => apply_prepared(state, seq, entry, &prepared),
        Err(refusal) => Ok(Err(refusal)),
    }
}

/// What [`apply`] needs of an entry that does not depend on the state: the
/// sequencer makes it for a whole group on all cores.
pub struct Prepared {
    /// `JCS(statement)`: its hash goes in the nonce record, the bytes in
    /// the leaf.
    pub statement: Vec<u8>,
    statement_hash: [u8; 32],
}

/// The state-free checks and work of [`apply`]: the canonical statement
/// and the PII guard.
pub fn prepare(entry: &SignedEntry) -> Result<Prepared, Refusal> {
    let statement = entry.statement.canonical_bytes()?;
    if let Some((path, pii)) = ident::pii_in_statement(&entry.statement) {
        return Err(Refusal::new(
            Code::PiiDetected,
            format!("{path} holds {}; use a bnf_/vol_ pseudonym", pii.describe()),
        ));
    }
    Ok(Prepared {
        statement_hash: Sha256::digest(&statement).into(),
        statement,
    })
}

/// As [`apply`], given [`prepare`]'s result for `entry`.
pub fn apply_prepared(
    state: &dyn StateRead,
    seq: u64,
    entry: &SignedEntry,
    prepared: &Prepared,
) -> Result<Result<Applied, Refusal>, StateError> {
    match decide(state, seq, entry, prepared) {
        Ok(applied) => Ok(Ok(applied)),
        Err(Stop::Refused(refusal)) => Ok(Err(refusal)),
        Err(Stop::Storage(e)) => Err(e),
    }
}

fn decide(
    state: &dyn StateRead,
    seq: u64,
    entry: &SignedEntry,
    prepared: &Prepared,
) -> Result<Applied, Stop> {
    let st = &entry.statement;
    let statement_hash = prepared.statement_hash;
    let nonce_key = nonce_key(st);
    if let Some(used) = get::<NonceRec>(state, Table::Nonces, &nonce_key)? {
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
    let mut cx = Cx {
        state,
        seq,
        st,
        key: None,
        fx: Effects::default(),
    };
    if seq == 0 {
        cx.genesis()?;
    } else {
        cx.key = Some(cx.authenticate()?);
    }
    cx.kind()?;
    let mut fx = cx.fx;
    fx.put(
        Table::Nonces,
        nonce_key,
        &NonceRec {
            seq,
            statement: statement_hash,
        },
    );
    fx.index(key(&[
        Part::Str("org"),
        Part::Str(&st.issuer),
        Part::Seq(seq),
    ]));
    fx.index(key(&[
        Part::Str("kind"),
        Part::Str(&st.kind),
        Part::Seq(seq),
    ]));
    Ok(Applied::New(fx))
}

/// The point reads of [`apply`] for `st` that miss every cache: its nonce
/// and, for a disbursement, the beneficiary's history. The sequencer reads
/// them for a whole group in one batch before the rules run.
pub fn cold_reads(st: &Statement) -> Vec<(Table, Vec<u8>)> {
    let mut reads = vec![(Table::Nonces, nonce_key(st))];
    let field = |name| st.body.get(name).and_then(Value::as_str);
    if let Some(reference) = field("ref").filter(|_| takes_voucher(&st.kind)) {
        reads.push((Table::Vouchers, voucher_key(&st.issuer, reference)));
    }
    if st.kind == "disbursement" {
        if let (Some(beneficiary), Some(cause)) = (field("beneficiary"), field("cause")) {
            reads.push((Table::Histories, history_key(beneficiary, cause)));
        }
    }
    reads
}

struct Cx<'a> {
    state: &'a dyn StateRead,
    seq: u64,
    st: &'a Statement,
    /// The signing key's record (absent only for genesis).
    key: Option<KeyRec>,
    fx: Effects,
}

/// Key of `(issuer, nonce)` in [`Table::Nonces`].
fn nonce_key(st: &Statement) -> Vec<u8> {
    key(&[Part::Str(&st.issuer), Part::Str(&st.nonce)])
}

/// The kinds whose `ref` is a voucher number, unique per issuing org.
fn takes_voucher(kind: &str) -> bool {
    matches!(kind, "fund.receive" | "fund.transfer" | "disbursement")
}

/// Key of `(issuer, ref)` in [`Table::Vouchers`].
fn voucher_key(issuer: &str, reference: &str) -> Vec<u8> {
    key(&[Part::Str(issuer), Part::Str(reference)])
}

/// Key of a beneficiary's history for a cause in [`Table::Histories`].
fn history_key(beneficiary: &str, cause: &str) -> Vec<u8> {
    key(&[Part::Str(beneficiary), Part::Str(cause)])
}

fn body<T: DeserializeOwned>(st: &Statement) -> Result<T, Refusal> {
    T::deserialize(&st.body).map_err(|e| Refusal::new(Code::SchemaViolation, format!("body: {e}")))
}

fn add(a: u64, b: u64, what: &str) -> Result<u64, Stop> {
    a.checked_add(b)
        .filter(|s| *s <= MAX_SAFE_INTEGER as u64)
        .ok_or_else(|| rule(format!("{what} would exceed 2^53-1")))
}

fn sub(a: u64, b: u64, what: &str) -> Result<u64, Stop> {
    a.checked_sub(b)
        .ok_or_else(|| rule(format!("insufficient {what}: {a} available, {b} needed")))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's algorithm).
pub fn days(date: &str) -> Option<i64> {
    if !crate::entry::is_date(date) {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (
        date[..4].parse().ok()?,
        date[5..7].parse().ok()?,
        date[8..].parse().ok()?,
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Window of the duplicate-aid alert, in days either side (SPEC §6).
pub const DUPLICATE_WINDOW_DAYS: i64 = 90;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgBody {
    id: String,
    name: String,
    #[serde(rename = "type")]
    org_type: String,
    region: String,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyGrant {
    key: String,
    roles: Vec<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    org: OrgBody,
    keys: Vec<KeyGrant>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyAddBody {
    org: String,
    key: String,
    roles: Vec<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRevokeBody {
    org: String,
    key: String,
    #[allow(dead_code)]
    reason: String,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FundOpenBody {
    fund: String,
    title: String,
    category: String,
    source: String,
    region: String,
    currency: String,
    budget: u64,
    start: String,
    end: String,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiveBody {
    fund: String,
    amount: u64,
    #[allow(dead_code)]
    from: String,
    date: String,
    #[serde(rename = "ref")]
    #[allow(dead_code)]
    reference: Option<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    from_fund: String,
    to_fund: String,
    amount: u64,
    date: String,
    #[serde(rename = "ref")]
    #[allow(dead_code)]
    reference: Option<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct DisburseBody {
    fund: String,
    beneficiary: String,
    tier: String,
    cause: String,
    amount: u64,
    method: String,
    region: String,
    date: String,
    #[serde(rename = "ref")]
    reference: Option<String>,
    need: Option<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditBody {
    holder: String,
    points: u64,
    #[allow(dead_code)]
    reason: String,
    #[serde(rename = "ref")]
    #[allow(dead_code)]
    reference: Option<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AssessBody {
    subject_type: String,
    subject: String,
    period_start: String,
    period_end: String,
    indicators: Vec<Value>,
    score: u64,
    grade: String,
    report: Option<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedPublishBody {
    need: String,
    beneficiary: String,
    category: String,
    cause: String,
    amount: u64,
    region: String,
    summary: String,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedRefBody {
    need: String,
    #[allow(dead_code)]
    reason: Option<String>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedFulfilBody {
    need: String,
    disbursement: u64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrectionBody {
    target: u64,
    #[allow(dead_code)]
    reason: String,
    reverse: bool,
}

/// The role a kind needs (beyond per-kind conditions checked with it);
/// `""` for kinds decided per entry (key.*, need.release/fulfil, correction).
pub fn role_for(kind: &str) -> &'static str {
    match kind {
        "org.register" => "registrar",
        "fund.open" | "fund.receive" | "fund.transfer" => "fund",
        "disbursement" | "need.claim" => "disburse",
        "credit.award" | "credit.redeem" => "credit",
        "assessment.result" => "assess",
        "need.publish" => "publish",
        // key.*, need.release/fulfil and correction: decided per entry.
        _ => "",
    }
}

impl Cx<'_> {
    fn has_role(&self, role: &str) -> bool {
        self.key
            .as_ref()
            .is_some_and(|k| k.roles.iter().any(|r| r == role))
    }

    fn need_role(&self, needed: &str) -> Result<(), Stop> {
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
        let k = get::<KeyRec>(self.state, Table::Keys, &self.st.key.0)?.ok_or_else(|| {
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

    /// SPEC §5: seq 0 registers the registrar org, signed by one of its
    /// registrar keys.
    fn genesis(&mut self) -> Result<(), Stop> {
        let not = |why: &str| rule(format!("genesis: {why}"));
        if self.st.kind != "org.register" {
            return Err(not("seq 0 must be an org.register"));
        }
        let b: RegisterBody = body(self.st)?;
        if b.org.id != self.st.issuer {
            return Err(not("the registered org must be the issuer"));
        }
        let own = self.st.key.to_string();
        let grant = b
            .keys
            .iter()
            .find(|g| g.key == own)
            .ok_or_else(|| not("must be signed by a key it registers"))?;
        if !grant.roles.iter().any(|r| r == "registrar") {
            return Err(not("the signing key must get the registrar role"));
        }
        // From here the signing key is treated as the one just granted.
        self.key = Some(KeyRec {
            key: own,
            org: b.org.id.clone(),
            roles: grant.roles.clone(),
            added_seq: 0,
            revoked_seq: None,
        });
        Ok(())
    }

    fn kind(&mut self) -> Result<(), Stop> {
        let role = role_for(&self.st.kind);
        if !role.is_empty() {
            self.need_role(role)?;
        }
        match self.st.kind.as_str() {
            "org.register" => self.org_register(),
            "key.add" => self.key_add(),
            "key.revoke" => self.key_revoke(),
            "fund.open" => self.fund_open(),
            "fund.receive" => self.fund_receive(),
            "fund.transfer" => self.fund_transfer(),
            "disbursement" => self.disbursement(),
            "credit.award" => self.credit(true),
            "credit.redeem" => self.credit(false),
            "assessment.result" => self.assessment(),
            "need.publish" => self.need_publish(),
            "need.claim" => self.need_claim(),
            "need.release" => self.need_release(),
            "need.fulfil" => self.need_fulfil(),
            "correction" => self.correction(),
            other => {
                Err(Refusal::new(Code::SchemaViolation, format!("unknown kind {other:?}")).into())
            }
        }
    }

    fn fund(&self, id: &str) -> Result<FundRec, Stop> {
        get::<FundRec>(self.state, Table::Funds, id.as_bytes())?
            .ok_or_else(|| rule(format!("no fund {id:?}")))
    }

    fn owned_fund(&self, id: &str) -> Result<FundRec, Stop> {
        let f = self.fund(id)?;
        if f.owner != self.st.issuer {
            return Err(role(format!(
                "fund {id:?} belongs to {}; only its owner may use it",
                f.owner
            )));
        }
        Ok(f)
    }

    fn put_fund(&mut self, f: &FundRec) {
        self.fx.put(Table::Funds, f.fund.as_bytes().to_vec(), f);
    }

    fn index(&mut self, name: &str, value: &str) {
        self.fx.index(key(&[
            Part::Str(name),
            Part::Str(value),
            Part::Seq(self.seq),
        ]));
    }

    fn entry_rec(&self) -> EntryRec {
        EntryRec {
            seq: self.seq,
            kind: self.st.kind.clone(),
            issuer: self.st.issuer.clone(),
            ..EntryRec::default()
        }
    }

    fn put_entry(&mut self, rec: &EntryRec) {
        self.fx
            .put(Table::Entries, rec.seq.to_be_bytes().to_vec(), rec);
    }

    fn key_unused(&self, k: &str) -> Result<[u8; 32], Stop> {
        let raw = crate::entry::PublicKey::from_hex(k).ok_or_else(|| {
            Refusal::new(Code::SchemaViolation, format!("key {k:?} is not 64 hex"))
        })?;
        if self.state.get(Table::Keys, &raw.0)?.is_some() {
            return Err(rule(format!("key {k} is already registered")));
        }
        Ok(raw.0)
    }

    fn add_key(&mut self, raw: [u8; 32], org: &str, roles: Vec<String>) {
        let hex_key = crate::canonical::lower_hex(&raw);
        self.fx.index(key(&[
            Part::Str("orgkey"),
            Part::Str(org),
            Part::Str(&hex_key),
        ]));
        let rec = KeyRec {
            key: hex_key,
            org: org.to_owned(),
            roles,
            added_seq: self.seq,
            revoked_seq: None,
        };
        self.fx.put(Table::Keys, raw.to_vec(), &rec);
    }

    fn org_register(&mut self) -> Result<(), Stop> {
        let b: RegisterBody = body(self.st)?;
        if get::<OrgRec>(self.state, Table::Orgs, b.org.id.as_bytes())?.is_some() {
            return Err(rule(format!("org {} is already registered", b.org.id)));
        }
        let mut seen = std::collections::HashSet::new();
        for g in &b.keys {
            if !seen.insert(g.key.as_str()) {
                return Err(rule(format!("key {} is listed twice", g.key)));
            }
            let raw = self.key_unused(&g.key)?;
            self.add_key(raw, &b.org.id, g.roles.clone());
        }
        let org = OrgRec {
            id: b.org.id.clone(),
            name: b.org.name,
            org_type: b.org.org_type,
            region: b.org.region,
            registered_seq: self.seq,
        };
        self.fx.put(Table::Orgs, org.id.as_bytes().to_vec(), &org);
        Ok(())
    }

    fn key_add(&mut self) -> Result<(), Stop> {
        let b: KeyAddBody = body(self.st)?;
        let own_admin = self.st.issuer == b.org && self.has_role("admin");
        if !own_admin && !self.has_role("registrar") {
            return Err(role(format!(
                "key.add for {} needs that org's admin or a registrar",
                b.org
            )));
        }
        if b.roles.iter().any(|r| r == "registrar") && !self.has_role("registrar") {
            return Err(role("only a registrar may grant the registrar role"));
        }
        if get::<OrgRec>(self.state, Table::Orgs, b.org.as_bytes())?.is_none() {
            return Err(rule(format!("no org {}", b.org)));
        }
        let raw = self.key_unused(&b.key)?;
        self.add_key(raw, &b.org, b.roles);
        Ok(())
    }

    fn key_revoke(&mut self) -> Result<(), Stop> {
        let b: KeyRevokeBody = body(self.st)?;
        let own_admin = self.st.issuer == b.org && self.has_role("admin");
        let itself = self.st.key.to_string() == b.key;
        if !own_admin && !itself && !self.has_role("registrar") {
            return Err(role(format!(
                "key.revoke for {} needs that org's admin, a registrar or the key itself",
                b.org
            )));
        }
        let raw = crate::entry::PublicKey::from_hex(&b.key)
            .ok_or_else(|| Refusal::new(Code::SchemaViolation, "key is not 64 hex"))?;
        let mut k = get::<KeyRec>(self.state, Table::Keys, &raw.0)?
            .filter(|k| k.org == b.org)
            .ok_or_else(|| rule(format!("key {} is not a key of {}", b.key, b.org)))?;
        if let Some(at) = k.revoked_seq {
            return Err(rule(format!("key {} is already revoked (seq {at})", b.key)));
        }
        k.revoked_seq = Some(self.seq);
        self.fx.put(Table::Keys, raw.0.to_vec(), &k);
        Ok(())
    }

    fn fund_open(&mut self) -> Result<(), Stop> {
        let b: FundOpenBody = body(self.st)?;
        if self.state.get(Table::Funds, b.fund.as_bytes())?.is_some() {
            return Err(rule(format!("fund {:?} already exists", b.fund)));
        }
        if b.start > b.end {
            return Err(rule("fund start is after its end"));
        }
        let f = FundRec {
            fund: b.fund,
            owner: self.st.issuer.clone(),
            title: b.title,
            category: b.category,
            source: b.source,
            region: b.region,
            currency: b.currency,
            budget: b.budget,
            start: b.start,
            end: b.end,
            opened_seq: self.seq,
            received: 0,
            transferred_in: 0,
            transferred_out: 0,
            disbursed: 0,
            balance: 0,
            receipts: 0,
            transfers_in: 0,
            transfers_out: 0,
            disbursements: 0,
        };
        self.index("fund", &f.fund.clone());
        self.put_fund(&f);
        Ok(())
    }

    /// Claims voucher number `reference` for this entry's issuer: a second
    /// use by the same organisation is refused, even of a reversed entry's.
    fn voucher(&mut self, reference: Option<&str>) -> Result<(), Stop> {
        let Some(reference) = reference else {
            return Ok(());
        };
        let key = voucher_key(&self.st.issuer, reference);
        if let Some(seq) = get::<u64>(self.state, Table::Vouchers, &key)? {
            return Err(rule(format!(
                "duplicate voucher: {} already used ref {reference:?} at seq {seq}",
                self.st.issuer
            )));
        }
        self.fx.put(Table::Vouchers, key, &self.seq);
        Ok(())
    }

    fn fund_receive(&mut self) -> Result<(), Stop> {
        let b: ReceiveBody = body(self.st)?;
        let mut f = self.owned_fund(&b.fund)?;
        self.voucher(b.reference.as_deref())?;
        f.balance = add(f.balance, b.amount, "fund balance")?;
        f.received = add(f.received, b.amount, "fund receipts")?;
        f.receipts += 1;
        self.put_fund(&f);
        self.index("fund", &b.fund);
        self.index("date", &b.date);
        let rec = EntryRec {
            fund: Some(b.fund),
            amount: b.amount,
            date: Some(b.date),
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    fn fund_transfer(&mut self) -> Result<(), Stop> {
        let b: TransferBody = body(self.st)?;
        let mut from = self.owned_fund(&b.from_fund)?;
        self.voucher(b.reference.as_deref())?;
        if b.from_fund == b.to_fund {
            return Err(rule("a fund cannot transfer to itself"));
        }
        let mut to = self.fund(&b.to_fund)?;
        from.balance = sub(
            from.balance,
            b.amount,
            &format!("balance in fund {:?}", b.from_fund),
        )?;
        from.transferred_out = add(from.transferred_out, b.amount, "transfers out")?;
        from.transfers_out += 1;
        to.balance = add(to.balance, b.amount, "fund balance")?;
        to.transferred_in = add(to.transferred_in, b.amount, "transfers in")?;
        to.transfers_in += 1;
        self.put_fund(&from);
        self.put_fund(&to);
        self.index("fund", &b.from_fund);
        self.index("fund", &b.to_fund);
        self.index("date", &b.date);
        let rec = EntryRec {
            fund: Some(b.from_fund),
            to_fund: Some(b.to_fund),
            amount: b.amount,
            date: Some(b.date),
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    fn disbursement(&mut self) -> Result<(), Stop> {
        let b: DisburseBody = body(self.st)?;
        let mut f = self.owned_fund(&b.fund)?;
        self.voucher(b.reference.as_deref())?;
        if let Some(need_id) = &b.need {
            let need = self.need(need_id)?;
            if need.state != "claimed" || need.claimer.as_deref() != Some(&self.st.issuer) {
                return Err(rule(format!(
                    "need {need_id:?} is not claimed by {}",
                    self.st.issuer
                )));
            }
            if need.beneficiary != b.beneficiary {
                return Err(rule(format!("need {need_id:?} is for another beneficiary")));
            }
        }
        f.balance = sub(
            f.balance,
            b.amount,
            &format!("balance in fund {:?}", b.fund),
        )?;
        f.disbursed = add(f.disbursed, b.amount, "fund disbursements")?;
        f.disbursements += 1;
        self.put_fund(&f);
        self.count_disbursement(
            &b.date,
            &f.category,
            &b.region,
            &self.st.issuer.clone(),
            b.amount,
            1,
        )?;
        let own_days = days(&b.date).ok_or_else(|| Refusal::new(Code::SchemaViolation, "date"))?;
        let history_key = history_key(&b.beneficiary, &b.cause);
        let mut history: Vec<HistoryItem> =
            get(self.state, Table::Histories, &history_key)?.unwrap_or_default();
        let matches = self.duplicate_matches(&history, own_days);
        history.push(HistoryItem {
            seq: self.seq,
            issuer: self.st.issuer.clone(),
            date: b.date.clone(),
        });
        self.fx.put(Table::Histories, history_key, &history);
        if !matches.is_empty() {
            let alert = AlertRec {
                seq: self.seq,
                beneficiary: b.beneficiary.clone(),
                cause: b.cause.clone(),
                date: b.date.clone(),
                issuer: self.st.issuer.clone(),
                matches,
            };
            self.fx.put(Table::Alerts, alert_key(self.seq), &alert);
        }
        self.index("fund", &b.fund);
        self.index("bnf", &b.beneficiary);
        self.index("date", &b.date);
        let rec = EntryRec {
            fund: Some(b.fund),
            amount: b.amount,
            beneficiary: Some(b.beneficiary),
            cause: Some(b.cause),
            region: Some(b.region),
            date: Some(b.date),
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    /// Of the earlier unreversed disbursements to this beneficiary for this
    /// cause (`history`, one point read), those by another org dated within
    /// the window.
    fn duplicate_matches(&self, history: &[HistoryItem], own_days: i64) -> Vec<u64> {
        history
            .iter()
            .filter(|h| {
                h.issuer != self.st.issuer
                    && days(&h.date).is_some_and(|d| (d - own_days).abs() <= DUPLICATE_WINDOW_DAYS)
            })
            .map(|h| h.seq)
            .collect()
    }

    /// Counts a disbursement into (`sign` +1) or out of (−1) its month's statistics.
    fn count_disbursement(
        &mut self,
        date: &str,
        category: &str,
        region: &str,
        issuer: &str,
        amount: u64,
        sign: i8,
    ) -> Result<(), Stop> {
        let month = date.get(..7).unwrap_or_default().to_owned();
        let issuer_type = get::<OrgRec>(self.state, Table::Orgs, issuer.as_bytes())?
            .map_or_else(|| "other".to_owned(), |o| o.org_type);
        let mut stats: StatsRec =
            get(self.state, Table::Stats, month.as_bytes())?.unwrap_or_else(|| StatsRec {
                month: month.clone(),
                ..StatsRec::default()
            });
        stats.record(category, region, &issuer_type, amount, sign);
        self.fx.put(Table::Stats, month.into_bytes(), &stats);
        Ok(())
    }

    fn credit(&mut self, award: bool) -> Result<(), Stop> {
        let b: CreditBody = body(self.st)?;
        if !ident::is_volunteer(&b.holder)
            && get::<OrgRec>(self.state, Table::Orgs, b.holder.as_bytes())?.is_none()
        {
            return Err(rule(format!(
                "holder {} is neither a registered org nor a vol_ pseudonym",
                b.holder
            )));
        }
        let mut c = get::<CreditRec>(self.state, Table::Credits, b.holder.as_bytes())?
            .unwrap_or_else(|| CreditRec {
                holder: b.holder.clone(),
                ..CreditRec::default()
            });
        if award {
            c.balance = add(c.balance, b.points, "credit balance")?;
            c.awarded = add(c.awarded, b.points, "credit awarded")?;
        } else {
            c.balance = sub(
                c.balance,
                b.points,
                &format!("credit points of {}", b.holder),
            )?;
            c.redeemed = add(c.redeemed, b.points, "credit redeemed")?;
        }
        self.fx
            .put(Table::Credits, b.holder.as_bytes().to_vec(), &c);
        self.index("credit", &b.holder);
        let rec = EntryRec {
            holder: Some(b.holder),
            amount: b.points,
            ..self.entry_rec()
        };
        self.put_entry(&rec);
        Ok(())
    }

    fn assessment(&mut self) -> Result<(), Stop> {
        let b: AssessBody = body(self.st)?;
        if b.period_start > b.period_end {
            return Err(rule("period_start is after period_end"));
        }
        match b.subject_type.as_str() {
            "org" => {
                if get::<OrgRec>(self.state, Table::Orgs, b.subject.as_bytes())?.is_none() {
                    return Err(rule(format!("no org {}", b.subject)));
                }
                if b.subject == self.st.issuer {
                    return Err(rule("an assessor may not assess itself"));
                }
            }
            "fund" => {
                if self.fund(&b.subject)?.owner == self.st.issuer {
                    return Err(rule("an assessor may not assess a fund it owns"));
                }
            }
            _ => {
                if !ident::is_region(&b.subject) {
                    return Err(Refusal::new(
                        Code::SchemaViolation,
                        "/statement/body/subject: a region subject is 6 digits",
                    )
                    .into());
                }
            }
        }
        self.index("assess", &b.subject);
        let rec = self.entry_rec();
        self.put_entry(&rec);
        Ok(())
    }

    fn need(&self, id: &str) -> Result<NeedRec, Stop> {
        get::<NeedRec>(self.state, Table::Needs, id.as_bytes())?
            .ok_or_else(|| rule(format!("no need {id:?}")))
    }

    fn put_need(&mut self, n: &NeedRec) {
        self.fx.put(Table::Needs, n.need.as_bytes().to_vec(), n);
    }

    /// The need, claimed by the issuer (release, fulfil).
    fn claimed_need(&self, id: &str) -> Result<NeedRec, Stop> {
        let n = self.need(id)?;
        match &n.claimer {
            Some(c) if n.state == "claimed" && *c == self.st.issuer => Ok(n),
            Some(c) if n.state == "claimed" => Err(role(format!(
                "need {id:?} is claimed by {c}; only the claimer may"
            ))),
            _ => Err(rule(format!("need {id:?} is {}, not claimed", n.state))),
        }
    }

    fn need_publish(&mut self) -> Result<(), Stop> {
        let b: NeedPublishBody = body(self.st)?;
        if self.state.get(Table::Needs, b.need.as_bytes())?.is_some() {
            return Err(rule(format!("need {:?} already exists", b.need)));
        }
        let n = NeedRec {
            need: b.need,
            beneficiary: b.beneficiary,
            category: b.category,
            cause: b.cause,
            amount: b.amount,
            region: b.region,
            summary: b.summary,
            publisher: self.st.issuer.clone(),
            published_seq: self.seq,
            state: "open".into(),
            claimer: None,
            claimed_seq: None,
            fulfilled_by: None,
        };
        self.index("bnf", &n.beneficiary.clone());
        self.put_need(&n);
        Ok(())
    }

    fn need_claim(&mut self) -> Result<(), Stop> {
        let b: NeedRefBody = body(self.st)?;
        let mut n = self.need(&b.need)?;
        if n.state != "open" {
            let by = n.claimer.as_deref().unwrap_or("-");
            return Err(rule(format!(
                "need {:?} is already {} by {by}",
                b.need, n.state
            )));
        }
        n.state = "claimed".into();
        n.claimer = Some(self.st.issuer.clone());
        n.claimed_seq = Some(self.seq);
        self.put_need(&n);
        Ok(())
    }

    fn need_release(&mut self) -> Result<(), Stop> {
        // A disburse key of the claiming organisation (SPEC §6).
        self.need_role("disburse")?;
        let b: NeedRefBody = body(self.st)?;
        let mut n = self.claimed_need(&b.need)?;
        n.state = "open".into();
        n.claimer = None;
        n.claimed_seq = None;
        self.put_need(&n);
        Ok(())
    }

    fn need_fulfil(&mut self) -> Result<(), Stop> {
        self.need_role("disburse")?;
        let b: NeedFulfilBody = body(self.st)?;
        let mut n = self.claimed_need(&b.need)?;
        let mut d = get::<EntryRec>(self.state, Table::Entries, &b.disbursement.to_be_bytes())?
            .filter(|e| e.kind == "disbursement")
            .ok_or_else(|| rule(format!("seq {} is not a disbursement", b.disbursement)))?;
        if d.issuer != self.st.issuer {
            return Err(rule(format!(
                "disbursement {} is not the claimer's own",
                b.disbursement
            )));
        }
        if d.beneficiary.as_deref() != Some(&n.beneficiary) {
            return Err(rule(format!(
                "disbursement {} went to another beneficiary",
                b.disbursement
            )));
        }
        if d.reversed {
            return Err(rule(format!(
                "disbursement {} was reversed",
                b.disbursement
            )));
        }
        if let Some(other) = &d.fulfilled_need {
            return Err(rule(format!(
                "disbursement {} already fulfilled need {other:?}",
                b.disbursement
            )));
        }
        n.state = "fulfilled".into();
        n.fulfilled_by = Some(b.disbursement);
        d.fulfilled_need = Some(n.need.clone());
        self.put_need(&n);
        self.put_entry(&d);
        Ok(())
    }

    fn correction(&mut self) -> Result<(), Stop> {
        let b: CorrectionBody = body(self.st)?;
        let target = if b.target < self.seq {
            get::<EntryRec>(self.state, Table::Entries, &b.target.to_be_bytes())?
        } else {
            None
        };
        let mut t =
            target.ok_or_else(|| rule(format!("seq {} is not a correctable entry", b.target)))?;
        let own = self.st.issuer == t.issuer && self.has_role(role_for(&t.kind));
        if !own && !self.has_role("registrar") {
            return Err(role(format!(
                "a correction of seq {} needs a key of {} with role {}, or a registrar",
                b.target,
                t.issuer,
                role_for(&t.kind)
            )));
        }
        if let Some(by) = t.corrected_by {
            return Err(rule(format!(
                "seq {} was already corrected at seq {by}",
                b.target
            )));
        }
        if b.reverse {
            self.reverse(&t)?;
            t.reversed = true;
        }
        t.corrected_by = Some(self.seq);
        self.put_entry(&t);
        self.index("corrects", &b.target.to_string());
        Ok(())
    }

    /// Undoes the money or points of `t`; refused if that would overdraw.
    fn reverse(&mut self, t: &EntryRec) -> Result<(), Stop> {
        let fund_id = t.fund.clone().unwrap_or_default();
        match t.kind.as_str() {
            "fund.receive" => {
                let mut f = self.fund(&fund_id)?;
                f.balance = sub(
                    f.balance,
                    t.amount,
                    &format!("balance in fund {fund_id:?} to reverse the receipt"),
                )?;
                f.received -= t.amount;
                self.put_fund(&f);
            }
            "fund.transfer" => {
                let to_id = t.to_fund.clone().unwrap_or_default();
                let mut to = self.fund(&to_id)?;
                to.balance = sub(
                    to.balance,
                    t.amount,
                    &format!("balance in fund {to_id:?} to reverse the transfer"),
                )?;
                to.transferred_in -= t.amount;
                self.put_fund(&to);
                let mut from = self.fund(&fund_id)?;
                from.balance = add(from.balance, t.amount, "fund balance")?;
                from.transferred_out -= t.amount;
                self.put_fund(&from);
            }
            "disbursement" => {
                let mut f = self.fund(&fund_id)?;
                f.balance = add(f.balance, t.amount, "fund balance")?;
                f.disbursed -= t.amount;
                self.put_fund(&f);
                let (date, region) = (
                    t.date.clone().unwrap_or_default(),
                    t.region.clone().unwrap_or_default(),
                );
                self.count_disbursement(&date, &f.category, &region, &t.issuer, t.amount, -1)?;
                // A reversed disbursement no longer counts as aid given.
                let history_key = history_key(
                    t.beneficiary.as_deref().unwrap_or_default(),
                    t.cause.as_deref().unwrap_or_default(),
                );
                let mut history: Vec<HistoryItem> =
                    get(self.state, Table::Histories, &history_key)?.unwrap_or_default();
                history.retain(|h| h.seq != t.seq);
                self.fx.put(Table::Histories, history_key, &history);
            }
            "credit.award" | "credit.redeem" => {
                let holder = t.holder.clone().unwrap_or_default();
                let mut c = get::<CreditRec>(self.state, Table::Credits, holder.as_bytes())?
                    .ok_or_else(|| rule(format!("no credit record of {holder}")))?;
                if t.kind == "credit.award" {
                    c.balance = sub(
                        c.balance,
                        t.amount,
                        &format!("credit points of {holder} to reverse the award"),
                    )?;
                    c.awarded -= t.amount;
                } else {
                    c.balance = add(c.balance, t.amount, "credit balance")?;
                    c.redeemed -= t.amount;
                }
                self.fx.put(Table::Credits, holder.as_bytes().to_vec(), &c);
            }
            other => return Err(rule(format!("a {other} has no amount to reverse"))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers() {
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(days("2026-03-01").unwrap() - days("2026-02-28").unwrap(), 1);
        assert_eq!(days("2024-03-01").unwrap() - days("2024-02-28").unwrap(), 2);
        assert_eq!(days("2026-13-01"), None);
    }
}
