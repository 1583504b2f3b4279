//! One definition per table of derived state: which [`Table`] it is, what
//! its key is made from and how, and the record its values hold. The rules
//! and the queries read and write through these, so that a key is built in
//! one place and a table's bytes can only be read as its own record.
//!
//! [`Table::Index`] holds keys alone (empty values): see [`index_key`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{decode, encode, key, Part, StateError, StateRead, Table, Write};
use crate::entry::PublicKey;
use crate::records::{
    AlertRec, AssistRec, CreditRec, EntryRec, FundRec, HistoryItem, HouseholdRec, KeyRec,
    MonitoringAlertRec, NeedRec, NonceRec, OrgRec, RulesRec, StatsRec, SweepRec, TallyRec,
};

/// A table with records: its key and its value types, tied together.
pub trait Schema {
    /// The table.
    const TABLE: Table;
    /// What a key is made from.
    type Key<'a>: Copy;
    /// The record stored under a key.
    type Value: Serialize + DeserializeOwned;
    /// The stored key.
    fn key(k: Self::Key<'_>) -> Vec<u8>;
}

/// Defines a table's [`Schema`] as a unit type.
macro_rules! tables {
    ($($(#[$meta:meta])* $name:ident: $table:ident, $key:ty => $value:ty, |$k:ident| $build:expr;)+) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Schema for $name {
                const TABLE: Table = Table::$table;
                type Key<'a> = $key;
                type Value = $value;
                fn key<'a>($k: $key) -> Vec<u8> {
                    $build
                }
            }
        )+
    };
}

tables! {
    /// org id → [`OrgRec`].
    Orgs: Orgs, &'a str => OrgRec, |id| id.as_bytes().to_vec();
    /// public key (its 32 bytes) → [`KeyRec`].
    Keys: Keys, &'a PublicKey => KeyRec, |k| k.0.to_vec();
    /// fund id → [`FundRec`].
    Funds: Funds, &'a str => FundRec, |id| id.as_bytes().to_vec();
    /// `(issuer, nonce)` → [`NonceRec`].
    Nonces: Nonces, (&'a str, &'a str) => NonceRec,
        |k| key(&[Part::Str(k.0), Part::Str(k.1)]);
    /// holder → [`CreditRec`].
    Credits: Credits, &'a str => CreditRec, |holder| holder.as_bytes().to_vec();
    /// need id → [`NeedRec`].
    Needs: Needs, &'a str => NeedRec, |id| id.as_bytes().to_vec();
    /// seq (big-endian) → [`EntryRec`] of an entry later rules refer to.
    Entries: Entries, u64 => EntryRec, |seq| seq.to_be_bytes().to_vec();
    /// seq of the disbursement that raised it, inverted so that a forward
    /// scan lists the newest first → [`AlertRec`].
    Alerts: Alerts, u64 => AlertRec, |seq| (u64::MAX - seq).to_be_bytes().to_vec();
    /// `(beneficiary, cause)` → the [`HistoryItem`]s of its unreversed
    /// disbursements.
    Histories: Histories, (&'a str, &'a str) => Vec<HistoryItem>,
        |k| key(&[Part::Str(k.0), Part::Str(k.1)]);
    /// month (`YYYY-MM`) → [`StatsRec`].
    Stats: Stats, &'a str => StatsRec, |month| month.as_bytes().to_vec();
    /// `(issuer, voucher number)` → the seq that used it.
    Vouchers: Vouchers, (&'a str, &'a str) => u64,
        |k| key(&[Part::Str(k.0), Part::Str(k.1)]);
    /// The ledger's one row → [`TallyRec`].
    Tally: Tally, () => TallyRec, |_unit| b"ledger".to_vec();
    /// beneficiary pseudonym → the seq that first named it.
    Beneficiaries: Beneficiaries, &'a str => u64, |bnf| bnf.as_bytes().to_vec();
    /// The ledger's rules → [`RulesRec`]; written at genesis.
    Rules: Rules, () => RulesRec, |_unit| b"rules".to_vec();
    /// beneficiary pseudonym → [`HouseholdRec`].
    Households: Households, &'a str => HouseholdRec, |bnf| bnf.as_bytes().to_vec();
    /// `(due date, alert, beneficiary, period)` → nothing: a monitoring
    /// alert that may fall due on that day, if the household still matches.
    Due: Due, (&'a str, &'a str, &'a str, u64) => (),
        |k| key(&[Part::Str(k.0), Part::Str(k.1), Part::Str(k.2), Part::Seq(k.3)]);
    /// The monitoring sweep's one row → [`SweepRec`].
    Sweep: Sweep, () => SweepRec, |_unit| b"sweep".to_vec();
    /// beneficiary pseudonym → [`AssistRec`].
    Assists: Assists, &'a str => AssistRec, |bnf| bnf.as_bytes().to_vec();
    /// `(seq, number)` of the leaf that raised it, inverted so that a
    /// forward scan lists the newest first → [`MonitoringAlertRec`].
    Watch: Watch, (u64, u32) => MonitoringAlertRec,
        |k| [(u64::MAX - k.0).to_be_bytes().as_slice(), (u32::MAX - k.1).to_be_bytes().as_slice()].concat();
}

/// Key of the entry at `seq` in `index` under `value`: the index's
/// name, the value, the seq (big-endian, so a scan lists oldest first).
pub fn index_key(index: crate::domain::Index, value: &str, seq: u64) -> Vec<u8> {
    key(&[Part::Str(index.as_str()), Part::Str(value), Part::Seq(seq)])
}

/// Prefix of every key [`index_key`] builds for `index` and `value`.
pub fn index_prefix(index: crate::domain::Index, value: &str) -> Vec<u8> {
    key(&[Part::Str(index.as_str()), Part::Str(value)])
}

/// Key listing public key `key_hex` among the keys of `org` (listed once,
/// without a seq, under [`crate::domain::Index::OrgKey`]).
pub fn org_key_key(org: &str, key_hex: &str) -> Vec<u8> {
    key(&[
        Part::Str(crate::domain::Index::OrgKey.as_str()),
        Part::Str(org),
        Part::Str(key_hex),
    ])
}

/// The record at `k` in table `S`.
pub fn read<S: Schema>(
    state: &dyn StateRead,
    k: S::Key<'_>,
) -> Result<Option<S::Value>, StateError> {
    let mut record = Ok(None);
    state.get_with(S::TABLE, &S::key(k), &mut |bytes| {
        record = bytes.map(|b| decode(S::TABLE, b)).transpose();
    })?;
    record
}

/// Whether table `S` holds a record at `k` (not decoded).
pub fn contains<S: Schema>(state: &dyn StateRead, k: S::Key<'_>) -> Result<bool, StateError> {
    let mut found = false;
    state.get_with(S::TABLE, &S::key(k), &mut |bytes| found = bytes.is_some())?;
    Ok(found)
}

/// Decodes a value of table `S` read by a scan.
pub fn decode_value<S: Schema>(bytes: &[u8]) -> Result<S::Value, StateError> {
    decode(S::TABLE, bytes)
}

/// Where the record at `k` in table `S` lies: for batched reads.
pub fn location<S: Schema>(k: S::Key<'_>) -> (Table, Vec<u8>) {
    (S::TABLE, S::key(k))
}

/// The write that sets `k` in table `S` to `value`.
pub fn write<S: Schema>(k: S::Key<'_>, value: &S::Value) -> Write {
    Write {
        table: S::TABLE,
        key: S::key(k),
        value: encode(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemState;

    #[test]
    fn keys_are_built_as_the_stored_layout_says() {
        assert_eq!(Nonces::key(("a", "b")), b"a\x1fb\x1f");
        assert_eq!(Entries::key(1), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(Alerts::key(0), [0xff; 8]);
        assert!(Alerts::key(2) < Alerts::key(1), "newest first");
        assert_eq!(Tally::key(()), b"ledger");
        // A text part never runs into the next: ("ab", "c") ≠ ("a", "bc").
        assert_ne!(Vouchers::key(("ab", "c")), Vouchers::key(("a", "bc")));
    }

    #[test]
    fn a_record_reads_back_from_its_own_table_only() {
        let mut state = MemState::new();
        state.apply(&[write::<Vouchers>(("org", "v-1"), &7)]);
        assert_eq!(read::<Vouchers>(&state, ("org", "v-1")).unwrap(), Some(7));
        assert!(contains::<Vouchers>(&state, ("org", "v-1")).unwrap());
        assert!(!contains::<Vouchers>(&state, ("org", "v-2")).unwrap());
        assert_eq!(
            read::<Beneficiaries>(&state, "org\x1fv-1\x1f").unwrap(),
            None
        );
    }
}
