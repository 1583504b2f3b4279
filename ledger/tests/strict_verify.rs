//! `entry::verify_strict` against ed25519-dalek's `VerifyingKey::verify_strict`:
//! the two must give the same answer on every (key, message, signature).
//! The cases are built with curve25519-dalek so that each strict rule is
//! exercised: small-order and mixed-order keys and `R`, non-canonical
//! encodings of `A`, `R` and `s`, and tampered or random signatures.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::traits::IsIdentity;
use curve25519_dalek::Scalar;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use ledger::entry::{verify_strict, verify_strict_all, EntrySignature, PublicKey};
use proptest::prelude::*;
use sha2::{Digest, Sha512};
use std::sync::LazyLock;

/// Cases per property: `STRICT_VERIFY_CASES` for the long form (issue 19
/// asks 1,000,000), else the suite's `default`.
fn cases(default: u32) -> u32 {
    testkit::env_number("STRICT_VERIFY_CASES", default)
}

/// (ours, ed25519-dalek's) acceptance. Key bytes that are no curve point are
/// refused by both.
fn both(key: [u8; 32], msg: &[u8], sig: [u8; 64]) -> (bool, bool) {
    let ours = verify_strict(&PublicKey(key), msg, &EntrySignature(sig)).is_ok();
    let theirs = VerifyingKey::from_bytes(&key)
        .is_ok_and(|k| k.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok());
    (ours, theirs)
}

/// `k = SHA-512(R || A || M) mod l`.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

/// A signature that satisfies `[s]B = R + [k](aB)` for the key bytes and
/// nonce point given, whatever torsion they carry beyond `aB` and `rB`.
fn sign_raw(a: Scalar, key: [u8; 32], r: Scalar, nonce: EdwardsPoint, msg: &[u8]) -> [u8; 64] {
    let r_bytes = nonce.compress().to_bytes();
    let s = r + challenge(&r_bytes, &key, msg) * a;
    let mut sig = [0; 64];
    sig[..32].copy_from_slice(&r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// The 38 encodings of y = p + d (d < 19, either sign bit): no canonical
/// encoding is one of them.
static NON_CANONICAL: LazyLock<Vec<[u8; 32]>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for d in 0..19u8 {
        for sign in [0, 0x80] {
            let mut b = [0xff; 32];
            b[0] = 0xed + d;
            b[31] = 0x7f | sign;
            out.push(b);
        }
    }
    out
});

/// The eight points of small order, encoded.
static SMALL_ORDER: LazyLock<Vec<[u8; 32]>> = LazyLock::new(|| {
    EIGHT_TORSION
        .iter()
        .map(|t| t.compress().to_bytes())
        .collect()
});

/// Nonce encodings strict verification refuses: small order or not canonical.
static BAD_R: LazyLock<Vec<[u8; 32]>> = LazyLock::new(|| {
    SMALL_ORDER
        .iter()
        .chain(NON_CANONICAL.iter())
        .copied()
        .collect()
});

fn scalar(seed: [u8; 32]) -> Scalar {
    Scalar::from_bytes_mod_order(seed)
}

fn point(s: Scalar) -> EdwardsPoint {
    ED25519_BASEPOINT_POINT * s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn valid_tampered_and_random(
        seed in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..200),
        bit in 0usize..512,
        junk_key in any::<[u8; 32]>(),
        junk_sig in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let sk = SigningKey::from_bytes(&seed);
        let key = sk.verifying_key().to_bytes();
        let sig = sk.sign(&msg).to_bytes();
        prop_assert_eq!(both(key, &msg, sig), (true, true));
        let mut flipped = sig;
        flipped[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(both(key, &msg, flipped), (false, false));
        let mut other = msg.clone();
        other.push(0);
        prop_assert_eq!(both(key, &other, sig), (false, false));
        let junk: [u8; 64] = junk_sig.try_into().unwrap();
        let (ours, theirs) = both(junk_key, &msg, junk);
        prop_assert_eq!(ours, theirs);
        let (ours, theirs) = both(key, &msg, junk);
        prop_assert_eq!(ours, theirs);
    }

    /// `A = aB + T`: accepted by both exactly when `[k]T` vanishes.
    #[test]
    fn mixed_order_keys(a in any::<[u8; 32]>(), r in any::<[u8; 32]>(), t in 0usize..8, msg in any::<[u8; 16]>()) {
        let (a, r) = (scalar(a), scalar(r));
        let key = (point(a) + EIGHT_TORSION[t]).compress().to_bytes();
        let sig = sign_raw(a, key, r, point(r), &msg);
        let (ours, theirs) = both(key, &msg, sig);
        prop_assert_eq!(ours, theirs);
        if t == 0 {
            prop_assert!(ours);
        }
        // A small-order R with s = ka: [s]B - [k]A is -[k]T, of small
        // order, and can equal R. Strict refuses it.
        for nonce in EIGHT_TORSION {
            let sig = sign_raw(a, key, Scalar::ZERO, nonce, &msg);
            prop_assert_eq!(both(key, &msg, sig), (false, false));
        }
    }

    /// `R = rB + T` with `s` made for it: `[s]B - [k]A` is `rB`, not `R`.
    #[test]
    fn mixed_order_nonces(a in any::<[u8; 32]>(), r in any::<[u8; 32]>(), t in 0usize..8, msg in any::<[u8; 16]>()) {
        let (a, r) = (scalar(a), scalar(r));
        let key = point(a).compress().to_bytes();
        let sig = sign_raw(a, key, r, point(r) + EIGHT_TORSION[t], &msg);
        prop_assert_eq!(both(key, &msg, sig), (t == 0, t == 0));
    }

    /// Small-order `R` or `A`, non-canonical `R`, `A` or `s`: refused by
    /// both. Each case draws one of each crafted encoding, so that a case
    /// costs a few checks and the long form reaches every combination.
    #[test]
    fn edge_encodings(
        a in any::<[u8; 32]>(),
        s in any::<[u8; 32]>(),
        msg in any::<[u8; 16]>(),
        r_at in 0..BAD_R.len(),
        weak in 0usize..8,
        torsion in 0usize..8,
        key_at in 0..NON_CANONICAL.len(),
    ) {
        let a = scalar(a);
        let key = point(a).compress().to_bytes();
        let s = scalar(s).to_bytes();
        let mut sig = [0; 64];
        sig[..32].copy_from_slice(&BAD_R[r_at]);
        sig[32..].copy_from_slice(&s);
        let (ours, theirs) = both(key, &msg, sig);
        prop_assert_eq!(ours, theirs);
        // A small-order key with a small-order R and s = 0: [s]B - [k]A
        // is itself of small order, so R may equal it. Strict refuses.
        sig[32..].fill(0);
        prop_assert_eq!(both(SMALL_ORDER[weak], &msg, sig), (false, false));
        // A small-order key T and R = [s]B + T': [s]B - [k]T equals R
        // whenever -[k]T happens to be T', which a forger can try for.
        let mut sig = [0; 64];
        sig[..32].copy_from_slice(&(point(scalar(s)) + EIGHT_TORSION[torsion]).compress().to_bytes());
        sig[32..].copy_from_slice(&s);
        prop_assert_eq!(both(SMALL_ORDER[weak], &msg, sig), (false, false));
        // A key that is no canonical encoding.
        let mut sig = [0; 64];
        sig[..32].copy_from_slice(&point(a).compress().to_bytes());
        sig[32..].copy_from_slice(&s);
        let (ours, theirs) = both(NON_CANONICAL[key_at], &msg, sig);
        prop_assert_eq!(ours, theirs);
    }

    /// `s + l` in place of `s`: the same equation, but `s` is not canonical.
    #[test]
    fn non_canonical_s(seed in any::<[u8; 32]>(), msg in any::<[u8; 16]>()) {
        let sk = SigningKey::from_bytes(&seed);
        let key = sk.verifying_key().to_bytes();
        let mut sig = sk.sign(&msg).to_bytes();
        prop_assert_eq!(both(key, &msg, sig), (true, true));
        // l = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let l: [u8; 32] = (Scalar::ZERO - Scalar::ONE).to_bytes();
        let mut carry = 1u16; // (l - 1) + 1
        for i in 0..32 {
            let sum = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
            sig[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        prop_assert_eq!(carry, 0);
        prop_assert_eq!(both(key, &msg, sig), (false, false));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(32)))]

    /// The batched check gives each item the single check's answer, whatever
    /// the mix of valid, forged, small-order and malformed items around it.
    #[test]
    fn all_at_once_equals_one_by_one(
        cases in proptest::collection::vec((any::<[u8; 32]>(), 0u8..6, any::<u16>()), 0..40),
    ) {
        let mut items: Vec<([u8; 32], Vec<u8>, [u8; 64])> = Vec::new();
        for (seed, how, n) in cases {
            let sk = SigningKey::from_bytes(&seed);
            let msg = n.to_le_bytes().to_vec();
            let mut key = sk.verifying_key().to_bytes();
            let mut sig = sk.sign(&msg).to_bytes();
            match how {
                0 => {}
                1 => sig[usize::from(n) % 64] ^= 1,
                2 => key = seed, // most often no point, or another key
                3 => sig[..32].copy_from_slice(&EIGHT_TORSION[usize::from(n) % 8].compress().to_bytes()),
                4 => key = EIGHT_TORSION[usize::from(n) % 8].compress().to_bytes(),
                _ => sig[63] |= 0xf0, // s far above the group order
            }
            items.push((key, msg, sig));
        }
        let keys: Vec<PublicKey> = items.iter().map(|(k, _, _)| PublicKey(*k)).collect();
        let sigs: Vec<EntrySignature> = items.iter().map(|(_, _, s)| EntrySignature(*s)).collect();
        let refs: Vec<(&PublicKey, &[u8], &EntrySignature)> = items
            .iter()
            .enumerate()
            .map(|(i, (_, m, _))| (&keys[i], &m[..], &sigs[i]))
            .collect();
        let one_by_one: Vec<_> = refs.iter().map(|(k, m, s)| verify_strict(k, m, s)).collect();
        prop_assert_eq!(verify_strict_all(&refs), one_by_one);
    }
}

/// The mixed-order key case accepts sometimes and refuses sometimes for a
/// torsion point of order 2, so both outcomes are compared above.
#[test]
fn mixed_order_keys_reach_both_outcomes() {
    let t = EIGHT_TORSION[4];
    assert!(!t.is_identity() && (t + t).is_identity(), "of order 2");
    let a = scalar([5; 32]);
    let key = (point(a) + t).compress().to_bytes();
    let outcomes: Vec<bool> = (0..32u8)
        .map(|i| {
            let sig = sign_raw(a, key, scalar([i; 32]), point(scalar([i; 32])), &[i]);
            let (ours, theirs) = both(key, &[i], sig);
            assert_eq!(ours, theirs);
            ours
        })
        .collect();
    assert!(outcomes.contains(&true) && outcomes.contains(&false));
}
