//! RFC 9497 Appendix A.1, ristretto255-SHA512 (OPRF and VOPRF modes, the
//! VOPRF batch of two included), against the crate the pseudonym service
//! is built on and against `ledger::oprf`'s own functions (SPEC §6.3).
//!
//! The blinds are the vectors' (deterministic blinding); the proofs' random
//! scalars are not reproduced, so each vector's proof is verified instead,
//! and a proof the service makes is checked to verify.

use ledger::oprf::{Blinded, PublicKey, ServiceKey};
use voprf::{
    BlindedElement, EvaluationElement, Group, OprfClient, OprfServer, Proof, Ristretto255,
    VoprfClient, VoprfServer,
};

const SEED: &str = "a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
const KEY_INFO: &str = "74657374206b6579";
const INPUTS: [&str; 2] = ["00", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"];
const BLIND_1: &str = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706";
const BLIND_2: &str = "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn scalar(s: &str) -> <Ristretto255 as Group>::Scalar {
    Ristretto255::deserialize_scalar(&h(s)).unwrap()
}

fn seed() -> [u8; 32] {
    h(SEED).try_into().unwrap()
}

/// One vector: input, blind, blinded element, evaluated element, output.
struct Vector {
    input: &'static str,
    blind: &'static str,
    blinded: &'static str,
    evaluated: &'static str,
    output: &'static str,
}

#[test]
fn oprf_mode() {
    let server = OprfServer::<Ristretto255>::new_from_seed(&seed(), &h(KEY_INFO)).unwrap();
    assert_eq!(
        hex::encode(server.serialize()),
        "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
    );
    for v in [
        Vector {
            input: INPUTS[0],
            blind: BLIND_1,
            blinded: "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
            evaluated: "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
            output: "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
        },
        Vector {
            input: INPUTS[1],
            blind: BLIND_1,
            blinded: "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
            evaluated: "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
            output: "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
        },
    ] {
        let input = h(v.input);
        let blinded =
            OprfClient::<Ristretto255>::deterministic_blind_unchecked(&input, scalar(v.blind))
                .unwrap();
        assert_eq!(hex::encode(blinded.message.serialize()), v.blinded);
        let evaluated = server.blind_evaluate(&blinded.message);
        assert_eq!(hex::encode(evaluated.serialize()), v.evaluated);
        let output = blinded.state.finalize(&input, &evaluated).unwrap();
        assert_eq!(hex::encode(output), v.output);
        assert_eq!(hex::encode(server.evaluate(&input).unwrap()), v.output);
    }
}

/// VOPRF mode: test vectors 1 and 2 (batch size 1), then 3 (batch size 2),
/// each with its proof `(c, s)`.
#[test]
fn voprf_mode_and_the_batch_of_two() {
    let server = VoprfServer::<Ristretto255>::new_from_seed(&seed(), &h(KEY_INFO)).unwrap();
    let key = ServiceKey::derive(&seed(), &h(KEY_INFO)).unwrap();
    assert_eq!(
        hex::encode(key.to_bytes()),
        "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909"
    );
    let pk_hex = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e";
    assert_eq!(key.public(), PublicKey::from_hex(pk_hex).unwrap());
    let pk = server.get_public_key();
    assert_eq!(hex::encode(Ristretto255::serialize_elem(pk)), pk_hex);

    let one = Vector {
        input: INPUTS[0],
        blind: BLIND_1,
        blinded: "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
        evaluated: "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
        output: "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
    };
    let two = Vector {
        input: INPUTS[1],
        blind: BLIND_1,
        blinded: "cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c",
        evaluated: "60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468",
        output: "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
    };
    // Test vector 3's second element, under a blind of its own.
    let three_b = Vector {
        input: INPUTS[1],
        blind: BLIND_2,
        blinded: "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        evaluated: "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        output: two.output,
    };
    let cases: [(&[&Vector], &str); 3] = [
        (&[&one], "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d"),
        (&[&two], "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02"),
        (&[&one, &three_b], "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08"),
    ];
    let mut rng = rand_core::OsRng;
    for (vectors, proof_hex) in cases {
        let inputs: Vec<Vec<u8>> = vectors.iter().map(|v| h(v.input)).collect();
        let blinds: Vec<_> = vectors
            .iter()
            .zip(&inputs)
            .map(|(v, i)| {
                VoprfClient::<Ristretto255>::deterministic_blind_unchecked(i, scalar(v.blind))
                    .unwrap()
            })
            .collect();
        let clients: Vec<_> = blinds.iter().map(|b| b.state.clone()).collect();
        let messages: Vec<BlindedElement<Ristretto255>> =
            blinds.iter().map(|b| b.message.clone()).collect();
        for (b, v) in messages.iter().zip(vectors) {
            assert_eq!(hex::encode(b.serialize()), v.blinded);
        }
        // The vector's evaluation and proof verify and unblind to its outputs.
        let evaluated: Vec<EvaluationElement<Ristretto255>> = vectors
            .iter()
            .map(|v| EvaluationElement::deserialize(&h(v.evaluated)).unwrap())
            .collect();
        let proof = Proof::<Ristretto255>::deserialize(&h(proof_hex)).unwrap();
        let outputs: Vec<String> =
            VoprfClient::batch_finalize(&inputs, &clients, &evaluated, &proof, pk)
                .unwrap()
                .map(|o| hex::encode(o.unwrap()))
                .collect();
        let expected: Vec<&str> = vectors.iter().map(|v| v.output).collect();
        assert_eq!(outputs, expected);
        // So does our client's own check (`Blinded::finish`), and it refuses
        // the answer altered: the proof's c or s, an element, another key.
        let sent: Vec<[u8; 32]> = messages
            .iter()
            .map(|m| m.serialize().as_slice().try_into().unwrap())
            .collect();
        let blinded = Blinded::from_clients(inputs.clone(), clients.clone(), sent.clone());
        let answer: Vec<[u8; 32]> = vectors
            .iter()
            .map(|v| h(v.evaluated).try_into().unwrap())
            .collect();
        let proof_bytes: [u8; 64] = h(proof_hex).try_into().unwrap();
        let key_pk = PublicKey::from_hex(pk_hex).unwrap();
        let ours: Vec<String> = blinded
            .finish(&answer, &proof_bytes, &key_pk)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect();
        assert_eq!(ours, expected);
        for byte in [0, 31, 32, 63] {
            let mut bad = proof_bytes;
            bad[byte] ^= 1;
            assert!(
                blinded.finish(&answer, &bad, &key_pk).is_err(),
                "proof byte {byte}"
            );
        }
        let mut bad = answer.clone();
        bad[0] = h(pk_hex).try_into().unwrap(); // a valid point, not the answer
        assert!(blinded.finish(&bad, &proof_bytes, &key_pk).is_err());
        let other_key = ServiceKey::derive(&[7; 32], b"another").unwrap().public();
        assert!(blinded.finish(&answer, &proof_bytes, &other_key).is_err());
        // Our service evaluates to the same elements, and its proof (with a
        // random scalar of its own) verifies to the same outputs.
        let (ours, our_proof) = key.evaluate(&mut rng, &sent).unwrap();
        let ours_hex: Vec<String> = ours.iter().map(hex::encode).collect();
        let theirs: Vec<&str> = vectors.iter().map(|v| v.evaluated).collect();
        assert_eq!(ours_hex, theirs);
        let ours: Vec<EvaluationElement<Ristretto255>> = ours
            .iter()
            .map(|e| EvaluationElement::deserialize(e).unwrap())
            .collect();
        let our_proof = Proof::<Ristretto255>::deserialize(&our_proof).unwrap();
        let outputs: Vec<String> =
            VoprfClient::batch_finalize(&inputs, &clients, &ours, &our_proof, pk)
                .unwrap()
                .map(|o| hex::encode(o.unwrap()))
                .collect();
        assert_eq!(outputs, expected);
        // The proof of one batch does not verify another's answers.
        if vectors.len() == 1 {
            let other = Proof::<Ristretto255>::deserialize(&h("cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08")).unwrap();
            assert!(
                VoprfClient::batch_finalize(&inputs, &clients, &evaluated, &other, pk).is_err()
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// `Blinded::finish` (curve25519-dalek 5) agrees with `voprf`'s own
    /// `batch_finalize` on random keys and batches: the same outputs for a
    /// true answer, and a refusal exactly where `voprf` refuses an answer
    /// with one byte of the proof or of an element changed.
    #[test]
    fn finish_agrees_with_voprf(
        seed in proptest::array::uniform32(proptest::prelude::any::<u8>()),
        ids in proptest::collection::vec("[0-9]{17}[0-9X]", 1..24),
        flip in 0usize..96,
        bit in 0u8..8,
    ) {
        let mut rng = rand_core::OsRng;
        let key = ServiceKey::derive(&seed, b"finish vs voprf").unwrap();
        let pk = Ristretto255::deserialize_elem(&h(&key.public().to_hex())).unwrap();
        let inputs: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        let blinds: Vec<_> = inputs
            .iter()
            .map(|i| VoprfClient::<Ristretto255>::blind(i, &mut rng).unwrap())
            .collect();
        let clients: Vec<_> = blinds.iter().map(|b| b.state.clone()).collect();
        let sent: Vec<[u8; 32]> = blinds
            .iter()
            .map(|b| b.message.serialize().as_slice().try_into().unwrap())
            .collect();
        let blinded = Blinded::from_clients(inputs.clone(), clients.clone(), sent.clone());
        let (mut answer, mut proof) = key.evaluate(&mut rng, &sent).unwrap();
        // One answer in two is altered: a byte of the proof or of element 0.
        if flip < 64 {
            proof[flip] ^= 1 << bit;
        } else if flip < 80 {
            answer[0][flip - 64] ^= 1 << bit;
        }
        let ours = blinded.finish(&answer, &proof, &key.public()).ok();
        let theirs = answer
            .iter()
            .map(|e| EvaluationElement::<Ristretto255>::deserialize(e))
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .zip(Proof::<Ristretto255>::deserialize(&proof).ok())
            .and_then(|(evaluated, proof)| {
                VoprfClient::batch_finalize(&inputs, &clients, &evaluated, &proof, pk)
                    .ok()?
                    .map(|o| o.map(|o| o.to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .ok()
            });
        proptest::prop_assert_eq!(&ours, &theirs);
        proptest::prop_assert_eq!(ours.is_some(), flip >= 80);
    }
}
