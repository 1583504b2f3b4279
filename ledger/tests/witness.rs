//! Witness cosignatures, `add-checkpoint` decisions and policies (SPEC §4.1,
//! C2SP tlog-cosignature, tlog-witness, tlog-policy). Cosignature bytes are
//! decoded here by hand and checked with ed25519-dalek directly, not with
//! the code under test.

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signature, SigningKey};
use ledger::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier};
use ledger::merkle::{MemTree, RootHash};
use ledger::witness::{
    AddCheckpoint, Policy, PolicyError, Refusal, WitnessSigner, WitnessVerifier,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "ledger.example.gov.cn/aid/2026";

fn witness(n: u8) -> WitnessSigner {
    WitnessSigner::new(
        &format!("w{n}.audit.example.gov.cn"),
        SigningKey::from_bytes(&[100 + n; 32]),
    )
    .unwrap()
}

fn log_signer(seed: u8) -> CheckpointSigner {
    CheckpointSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

/// A tree of `n` leaves (leaf i is its index's bytes) and its root.
fn tree(n: u64) -> (MemTree, RootHash) {
    let mut t = MemTree::new();
    for i in 0..n {
        t.push(ledger::merkle::leaf_hash(&i.to_be_bytes()));
    }
    let root = t.root();
    (t, root)
}

fn checkpoint(root: RootHash) -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.to_owned(),
        root,
    }
}

#[test]
fn cosignature_lines_are_the_c2sp_bytes() {
    let key = SigningKey::from_bytes(&[107; 32]);
    let w = witness(7);
    let name = "w7.audit.example.gov.cn";
    // vkey: name + hex(SHA-256(name || 0x0A || 0x04 || pubkey)[..4]) + base64(0x04 || pubkey).
    let pk = key.verifying_key().to_bytes();
    let mut typed = vec![0x04];
    typed.extend_from_slice(&pk);
    let id: [u8; 4] = Sha256::digest([name.as_bytes(), b"\n", &typed].concat())[..4]
        .try_into()
        .unwrap();
    assert_eq!(
        w.vkey(),
        format!(
            "{name}+{}+{}",
            hex::encode(id),
            BASE64_STANDARD.encode(&typed)
        )
    );
    let (_, root) = tree(5);
    let cp = checkpoint(root);
    let line = w.cosign(&cp, 1_790_000_000);
    let rest = line
        .strip_prefix(&format!("\u{2014} {name} "))
        .unwrap()
        .strip_suffix('\n')
        .unwrap();
    let blob = BASE64_STANDARD.decode(rest).unwrap();
    assert_eq!(blob.len(), 4 + 8 + 64);
    assert_eq!(blob[..4], id);
    assert_eq!(
        u64::from_be_bytes(blob[4..12].try_into().unwrap()),
        1_790_000_000
    );
    let message = format!("cosignature/v1\ntime 1790000000\n{}", cp.body());
    key.verifying_key()
        .verify_strict(
            message.as_bytes(),
            &Signature::from_bytes(&blob[12..].try_into().unwrap()),
        )
        .unwrap();
    // Our verifier reads the same bytes back.
    let v = WitnessVerifier::from_vkey(&w.vkey()).unwrap();
    assert_eq!(v.verify(&cp.body(), &blob[4..]), Ok(1_790_000_000));
    // Among an answer's lines, its own valid one is found; over another
    // body, none.
    let answer = format!("{}{line}", witness(8).cosign(&cp, 1_790_000_000));
    assert_eq!(
        v.find_cosignature(&cp.body(), &answer),
        Some(line.trim_end())
    );
    assert_eq!(
        v.find_cosignature(&checkpoint(tree(6).1).body(), &answer),
        None
    );
    let mut flipped = blob[4..].to_vec();
    flipped[20] ^= 1;
    assert!(v.verify(&cp.body(), &flipped).is_err());
    // A checkpoint (type 0x01) vkey is not a witness key, nor the reverse.
    assert!(WitnessVerifier::from_vkey(&log_signer(1).vkey()).is_err());
    assert!(CheckpointVerifier::from_vkey(&w.vkey()).is_err());
}

/// The example `add-checkpoint` body of C2SP tlog-witness parses as it
/// says: old size, four proof hashes, and a checkpoint of
/// `example.com/behind-the-sofa` at size 20852163 with two signature lines.
#[test]
fn the_c2sp_example_request_parses() {
    let body = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";
    let req = AddCheckpoint::parse(body.as_bytes()).unwrap();
    assert_eq!(req.old, 20_852_014);
    assert_eq!(req.proof.len(), 4);
    assert_eq!(
        BASE64_STANDARD.encode(req.proof[3].as_bytes()),
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0="
    );
    assert_eq!(req.origin().as_deref(), Some("example.com/behind-the-sofa"));
    let cp = ledger::witness::stated_checkpoint(&req.note).unwrap();
    assert_eq!(cp.root.size, 20_852_163);
    assert_eq!(req.to_bytes(), body.as_bytes());
    // A log we do not know: 404, before any signature is looked at.
    assert_eq!(req.decide(|_| None, None).unwrap_err().status(), 404);
}

fn request(old: u64, proof: Vec<ledger::Hash>, note: &str) -> AddCheckpoint {
    let req = AddCheckpoint {
        old,
        proof,
        note: note.as_bytes().to_vec(),
    };
    // The wire form parses back to the same request.
    assert_eq!(AddCheckpoint::parse(&req.to_bytes()).unwrap(), req);
    req
}

/// Every answer of `add-checkpoint` is reached, in C2SP's order.
#[test]
fn add_checkpoint_answers_every_case() {
    let log = log_signer(1);
    let trusted = |origin: &str| {
        (origin == ORIGIN).then(|| vec![CheckpointVerifier::from_vkey(&log.vkey()).unwrap()])
    };
    let (_, r10) = tree(10);
    let (t16, r16) = tree(16);
    let note10 = log.sign(r10);
    let note16 = log.sign(r16);
    let proof = |m: u64, n: u64| ledger::merkle::prove_consistency(&t16, m, n).unwrap();
    // First contact: old 0, no proof.
    assert_eq!(
        request(0, vec![], &note10)
            .decide(trusted, None)
            .unwrap()
            .root,
        r10
    );
    // Extending what the witness holds, with a consistency proof.
    let p = proof(10, 16);
    assert_eq!(
        request(10, p.clone(), &note16)
            .decide(trusted, Some(r10))
            .unwrap()
            .root,
        r16
    );
    // The same tree again is fine.
    assert!(request(16, vec![], &note16)
        .decide(trusted, Some(r16))
        .is_ok());
    // 409: old is not what the witness holds; it says what it holds.
    let got = request(0, vec![], &note16).decide(trusted, Some(r10));
    assert_eq!(got, Err(Refusal::Conflict(10)));
    assert_eq!(got.unwrap_err().status(), 409);
    // 400: old larger than the checkpoint.
    let got = request(17, vec![], &note16).decide(trusted, Some(r16));
    assert_eq!(got.unwrap_err().status(), 400);
    // 404: unknown origin.
    let other =
        CheckpointSigner::new("other.example/log", SigningKey::from_bytes(&[9; 32])).unwrap();
    let got = request(0, vec![], &other.sign(r10)).decide(trusted, None);
    assert_eq!(got.unwrap_err().status(), 404);
    // 403: signed by another key under our origin; or a trusted key's line broken.
    let impostor = log_signer(2);
    let got = request(0, vec![], &impostor.sign(r10)).decide(trusted, None);
    assert_eq!(got.unwrap_err().status(), 403);
    let mut broken = note10.clone().into_bytes();
    let at = broken.len() - 5;
    broken[at] = if broken[at] == b'A' { b'B' } else { b'A' };
    let got = request(0, vec![], std::str::from_utf8(&broken).unwrap()).decide(trusted, None);
    assert_eq!(got.unwrap_err().status(), 403);
    // 422: a proof from size 0; a proof that fails; equal sizes, other roots.
    let got = request(0, p.clone(), &note16).decide(trusted, None);
    assert_eq!(got.unwrap_err().status(), 422);
    let mut bad = p.clone();
    bad[0] = ledger::Hash::new([1; 32]);
    let got = request(10, bad, &note16).decide(trusted, Some(r10));
    assert_eq!(got.unwrap_err().status(), 422);
    let forked = RootHash {
        size: 16,
        hash: ledger::Hash::new([3; 32]),
    };
    let got = request(16, vec![], &log.sign(forked)).decide(trusted, Some(r16));
    assert_eq!(got.unwrap_err().status(), 422);
    // An empty tree must have the empty root.
    let empty_bad = RootHash {
        size: 0,
        hash: ledger::Hash::new([3; 32]),
    };
    let got = request(0, vec![], &log.sign(empty_bad)).decide(trusted, None);
    assert_eq!(got.unwrap_err().status(), 422);
    // 400: malformed bodies.
    for body in [
        &b""[..],
        b"old 1\n",
        b"old 01\n\nx\n",
        b"old -1\n\nx\n",
        b"new 1\n\nx\n",
        b"old 1\nnot base64!\n\nx\n",
        b"old 1\nAAAA\n\nx\n",
    ] {
        assert_eq!(
            AddCheckpoint::parse(body).unwrap_err().status(),
            400,
            "{body:?}"
        );
    }
    let too_long = format!(
        "old 1\n{}\n{note16}",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64)
    );
    assert_eq!(
        AddCheckpoint::parse(too_long.as_bytes())
            .unwrap_err()
            .status(),
        400
    );
}

proptest! {
    /// Any body gets an answer, never a panic.
    #[test]
    fn garbage_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(req) = AddCheckpoint::parse(&body) {
            let _ = req.decide(|_| None, None);
        }
    }

    /// Text-shaped garbage around a real checkpoint gets an answer too.
    #[test]
    fn garbled_requests_never_panic(old in 0u64..40, lines in proptest::collection::vec("[A-Za-z0-9+/=]{0,50}", 0..5), cut in 0usize..200) {
        let log = log_signer(1);
        let (_, root) = tree(20);
        let mut note = log.sign(root).into_bytes();
        note.truncate(cut.min(note.len()));
        let mut body = format!("old {old}\n{}\n", lines.join("\n")).into_bytes();
        body.extend_from_slice(&note);
        let trusted = |o: &str| (o == ORIGIN).then(|| vec![CheckpointVerifier::from_vkey(&log.vkey()).unwrap()]);
        if let Ok(req) = AddCheckpoint::parse(&body) {
            let _ = req.decide(trusted, Some(root));
        }
    }
}

fn policy_text(quorum_lines: &str) -> String {
    format!(
        "# witnesses of the aid ledger\nlog {} http://127.0.0.1:8080\n\nwitness audit {} http://127.0.0.1:9001\nwitness discipline {}\n\twitness university   {}  \n{quorum_lines}\n",
        log_signer(1).vkey(),
        witness(1).vkey(),
        witness(2).vkey(),
        witness(3).vkey(),
    )
}

/// A note signed by the log and cosigned by the witnesses `by`, plus a
/// cosignature by a key the policy does not name.
fn cosigned_note(root: RootHash, by: &[u8]) -> String {
    let cp = checkpoint(root);
    let mut note = log_signer(1).sign(root);
    for n in by {
        note.push_str(&witness(*n).cosign(&cp, 1_790_000_000 + u64::from(*n)));
    }
    note.push_str(&witness(9).cosign(&cp, 1_790_000_009));
    note
}

#[test]
fn a_policy_counts_its_quorum() {
    let (_, root) = tree(12);
    let two_of_three = Policy::parse(&policy_text(
        "group officials all audit discipline\ngroup all-three 2 audit discipline university\nquorum all-three",
    ))
    .unwrap();
    assert_eq!(two_of_three.witnesses().len(), 3);
    assert_eq!(
        two_of_three.logs()[0].url.as_deref(),
        Some("http://127.0.0.1:8080")
    );
    let ok = two_of_three
        .verify(cosigned_note(root, &[1, 3]).as_bytes())
        .unwrap();
    assert_eq!(ok.checkpoint.root, root);
    assert_eq!(
        ok.cosignatures,
        [
            ("audit".to_owned(), 1_790_000_001),
            ("university".to_owned(), 1_790_000_003)
        ]
    );
    match two_of_three.verify(cosigned_note(root, &[2]).as_bytes()) {
        Err(PolicyError::NoQuorum {
            cosigned,
            missing,
            invalid,
        }) => {
            assert_eq!(cosigned, ["discipline"]);
            assert_eq!(missing, ["audit", "university"]);
            assert!(invalid.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // Which witnesses could still make the quorum (a node's health).
    assert!(two_of_three.quorum_met_by(&[true, false, true]));
    assert!(!two_of_three.quorum_met_by(&[false, true, false]));
    assert!(!two_of_three.quorum_met_by(&[]));
    // Nested groups: both officials, or nothing.
    let officials = Policy::parse(&policy_text(
        "group officials all audit discipline\ngroup either any officials university\nquorum officials",
    ))
    .unwrap();
    assert!(officials
        .verify(cosigned_note(root, &[1, 3]).as_bytes())
        .is_err());
    assert!(officials
        .verify(cosigned_note(root, &[1, 2]).as_bytes())
        .is_ok());
    // A cosignature that does not verify is named.
    let mut note = cosigned_note(root, &[1]);
    let other_cp = checkpoint(tree(13).1);
    note.push_str(&witness(2).cosign(&other_cp, 1_790_000_100));
    match officials.verify(note.as_bytes()) {
        Err(PolicyError::NoQuorum { invalid, .. }) => assert_eq!(invalid, ["discipline"]),
        other => panic!("{other:?}"),
    }
    // quorum none: the log's signature is enough; not the log's: refused.
    let none = Policy::parse(&policy_text("quorum none")).unwrap();
    assert!(none.quorum_met_by(&[]));
    assert!(none.verify(log_signer(1).sign(root).as_bytes()).is_ok());
    assert!(matches!(
        none.verify(log_signer(2).sign(root).as_bytes()),
        Err(PolicyError::Log(_))
    ));
}

#[test]
fn policy_files_follow_the_c2sp_rules() {
    let bad = |extra: &str| Policy::parse(&policy_text(extra)).unwrap_err();
    for (extra, why) in [
        ("", "no quorum line"),
        ("quorum nobody", "not defined"),
        ("quorum audit\nquorum audit", "second quorum"),
        ("group g 0 audit\nquorum g", "threshold 0"),
        ("group g 3 audit discipline\nquorum g", "threshold 3"),
        ("group g any audit audit\nquorum g", "twice"),
        ("group g any none\nquorum g", "not defined"),
        (
            "group audit any discipline\nquorum audit",
            "already defined",
        ),
        (
            "group g any later\nwitness later x\nquorum g",
            "not defined",
        ),
        ("frobnicate x\nquorum none", "cannot read"),
        ("group g many audit\nquorum g", "threshold"),
    ] {
        let e = bad(extra).to_string();
        assert!(e.contains(why), "{extra:?}: {e}");
    }
    // The same witness key twice, a log twice, a control character.
    let twice = format!(
        "{}\nwitness again {}\nquorum none\n",
        policy_text("").trim_end(),
        witness(1).vkey()
    );
    let e = Policy::parse(&twice).unwrap_err().to_string();
    assert!(e.contains("already listed"), "{e}");
    let logs = format!(
        "log {}\n{}",
        log_signer(1).vkey(),
        policy_text("quorum none")
    );
    assert!(Policy::parse(&logs)
        .unwrap_err()
        .to_string()
        .contains("already listed"));
    assert!(Policy::parse("quorum none\r\n").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A consistency proof states the older root it starts from: the true
    /// one for a genuine proof, the fork's for a forked tree (so a witness
    /// holding the true root can prove the fork), and nothing for a path
    /// that does not lead to the newer root (garbage proves nothing).
    #[test]
    fn a_consistency_proof_states_its_older_root(
        older in 1u64..70,
        extra in 1u64..70,
        forked_leaf in 0u64..70,
        garbage in any::<[u8; 32]>(),
    ) {
        let size = older + extra;
        let forked_leaf = forked_leaf % older;
        let (t, root) = tree(size);
        let proof = ledger::merkle::prove_consistency(&t, older, size).unwrap();
        let (_, older_root) = tree(older);
        let stated = root.older_root(older, &proof);
        if older.is_power_of_two() {
            prop_assert_eq!(stated, None);
        } else {
            prop_assert_eq!(stated, Some(older_root.hash));
        }
        // The fork: the same sizes, one leaf before `older` changed.
        let mut f = MemTree::new();
        for i in 0..size {
            let leaf = if i == forked_leaf { i + 1000 } else { i };
            f.push(ledger::merkle::leaf_hash(&leaf.to_be_bytes()));
        }
        let froot = f.root();
        let fproof = ledger::merkle::prove_consistency(&f, older, size).unwrap();
        prop_assert!(froot.verify_consistency(&older_root, &fproof).is_err());
        let stated = froot.older_root(older, &fproof);
        if !older.is_power_of_two() {
            let (_, f_older) = {
                let mut g = MemTree::new();
                for i in 0..older {
                    let leaf = if i == forked_leaf { i + 1000 } else { i };
                    g.push(ledger::merkle::leaf_hash(&leaf.to_be_bytes()));
                }
                let r = g.root();
                (g, r)
            };
            prop_assert_eq!(stated, Some(f_older.hash));
            prop_assert_ne!(f_older.hash, older_root.hash);
        }
        // Garbage in any position states nothing.
        let mut bad = proof.clone();
        if !bad.is_empty() {
            let at = garbage[0] as usize % bad.len();
            bad[at] = ledger::Hash::new(garbage);
            prop_assert_eq!(root.older_root(older, &bad), None);
        }
    }
}

/// A witness keeps as evidence only what proves a fork: the decision tells
/// a provable fork (`Forked`) from a request that merely fails to show an
/// extension (`Inconsistent`).
#[test]
fn only_a_provable_fork_is_forked() {
    let log = log_signer(1);
    let trusted = |origin: &str| {
        (origin == ORIGIN).then(|| vec![CheckpointVerifier::from_vkey(&log.vkey()).unwrap()])
    };
    let (_, r10) = tree(10);
    let (t20, r20) = tree(20);
    // A genuine checkpoint with a garbage proof: inconsistent, not forked.
    let garbage = vec![ledger::Hash::new([5; 32]); 4];
    let got = request(10, garbage, &log.sign(r20)).decide(trusted, Some(r10));
    assert!(matches!(got, Err(Refusal::Inconsistent(_))), "{got:?}");
    // A proof from the true tree at 10 to a forked 20: forked.
    let mut f = MemTree::new();
    for i in 0..20u64 {
        f.push(ledger::merkle::leaf_hash(
            &(i + u64::from(i == 3) * 1000).to_be_bytes(),
        ));
    }
    let proof = ledger::merkle::prove_consistency(&f, 10, 20).unwrap();
    let got = request(10, proof, &log.sign(f.root())).decide(trusted, Some(r10));
    assert!(matches!(got, Err(Refusal::Forked(_))), "{got:?}");
    // Another root for the size held: forked.
    let other = RootHash {
        size: 10,
        hash: ledger::Hash::new([3; 32]),
    };
    let got = request(10, vec![], &log.sign(other)).decide(trusted, Some(r10));
    assert!(matches!(got, Err(Refusal::Forked(_))), "{got:?}");
    // The genuine extension is cosigned.
    let proof = ledger::merkle::prove_consistency(&t20, 10, 20).unwrap();
    assert!(request(10, proof, &log.sign(r20))
        .decide(trusted, Some(r10))
        .is_ok());
}
