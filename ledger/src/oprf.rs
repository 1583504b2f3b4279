//! The pseudonym function of rules version 2 (SPEC §6.3): RFC 9497 VOPRF
//! mode, suite ristretto255-SHA512, over `aidledger/pseudonym/v2/` +
//! domain + `\n` + the normalised ID number.
//!
//! The service holds the only key ([`ServiceKey`]); a client blinds its
//! inputs ([`blind`]), the service evaluates them with one batched DLEQ
//! proof ([`ServiceKey::evaluate`]), and the client checks the proof
//! against the key the ledger names and unblinds ([`Blinded::finish`]).
//! The service never sees an ID number; a client that does not check the
//! proof could be given another function's outputs.
//!
//! No I/O: the wire format (base64 in JSON) and the HTTP exchange are the
//! CLI's.

use rand_core::{CryptoRng, RngCore};
use voprf::{BlindedElement, Group, Ristretto255, VoprfClient, VoprfServer};

use crate::ident::PseudonymKind;

type Suite = Ristretto255;

/// The most blinded elements one request may carry.
pub const MAX_BATCH: usize = 1_000;

/// The bytes of an element (a compressed ristretto255 point).
pub type Element = [u8; 32];

/// The bytes of a proof: the scalars `c` and `s`.
pub type ProofBytes = [u8; 64];

/// What went wrong with an evaluation or its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OprfError {
    /// Element `index` of a request is no ristretto255 point, or is the
    /// identity.
    #[error("element {index} is not a valid ristretto255 point other than the identity")]
    BadElement {
        /// Its place in the request, from 0.
        index: usize,
    },
    /// A request with no element, or more than [`MAX_BATCH`].
    #[error("{count} elements in one request; from 1 to {MAX_BATCH}")]
    BatchSize {
        /// How many it had.
        count: usize,
    },
    /// An answer with another number of elements than were sent.
    #[error("the service answered {answered} elements for {sent}")]
    Count {
        /// Elements sent.
        sent: usize,
        /// Elements answered.
        answered: usize,
    },
    /// The answer's proof does not verify against the key: the service
    /// used another key, or the answer was altered.
    #[error("the service's proof does not verify against the pseudonym key in the ledger")]
    Proof,
    /// A key that is no ristretto255 point (or scalar) of the right length.
    #[error("not a pseudonym key: {0}")]
    Key(&'static str),
}

/// The input of the pseudonym of normalised ID number `id` in `domain`.
pub fn input(domain: PseudonymKind, id: &str) -> Vec<u8> {
    format!("aidledger/pseudonym/v2/{}\n{id}", domain.label()).into_bytes()
}

/// The pseudonym a 64-byte output stands for: the domain, `_`, and the
/// lowercase hex of the output's first 32 bytes.
pub fn pseudonym_of(domain: PseudonymKind, output: &[u8]) -> String {
    format!("{}_{}", domain.label(), hex::encode(&output[..32]))
}

/// The service's public key `K`, as `pseudonym.key` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(Element);

impl PublicKey {
    /// From 64 hex digits; refused unless a ristretto255 point other than
    /// the identity.
    pub fn from_hex(hex: &str) -> Result<PublicKey, OprfError> {
        let bytes: Element = hex::decode(hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(OprfError::Key("not 64 hex digits"))?;
        Suite::deserialize_elem(&bytes).map_err(|_| OprfError::Key("not a ristretto255 point"))?;
        Ok(PublicKey(bytes))
    }

    /// As 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The service's secret key `k` and its public key.
pub struct ServiceKey(VoprfServer<Suite>);

impl ServiceKey {
    /// A fresh random key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> ServiceKey {
        ServiceKey(VoprfServer::new(rng).expect("a random scalar is a key"))
    }

    /// The key RFC 9497's `DeriveKeyPair` makes from `seed` and `info`
    /// (the demo's key, from a public seed; never for real).
    pub fn derive(seed: &[u8; 32], info: &[u8]) -> Result<ServiceKey, OprfError> {
        VoprfServer::new_from_seed(seed, info)
            .map(ServiceKey)
            .map_err(|_| OprfError::Key("no key from this seed"))
    }

    /// From the 32 bytes of its scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<ServiceKey, OprfError> {
        VoprfServer::new_with_key(bytes)
            .map(ServiceKey)
            .map_err(|_| OprfError::Key("not a non-zero ristretto255 scalar of 32 bytes"))
    }

    /// The 32 bytes of its scalar (for the key file).
    pub fn to_bytes(&self) -> [u8; 32] {
        let bytes = self.0.serialize();
        let mut scalar = [0; 32];
        scalar.copy_from_slice(&bytes[..32]);
        scalar
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(&Suite::serialize_elem(self.0.get_public_key()));
        PublicKey(bytes)
    }

    /// Evaluates a request's blinded elements, with one proof for all.
    pub fn evaluate(
        &self,
        rng: &mut (impl RngCore + CryptoRng),
        blinded: &[Element],
    ) -> Result<(Vec<Element>, ProofBytes), OprfError> {
        Ok(self.evaluate_decoded(rng, &decode(blinded)?))
    }

    /// [`ServiceKey::evaluate`] of elements already decoded.
    pub fn evaluate_decoded(
        &self,
        rng: &mut (impl RngCore + CryptoRng),
        blinded: &Decoded,
    ) -> (Vec<Element>, ProofBytes) {
        let result = self
            .0
            .batch_blind_evaluate(rng, &blinded.0)
            .expect("at most MAX_BATCH elements, each a point");
        let evaluated = result
            .messages
            .iter()
            .map(|m| {
                let mut e = [0; 32];
                e.copy_from_slice(&m.serialize());
                e
            })
            .collect();
        let mut proof = [0; 64];
        proof.copy_from_slice(&result.proof.serialize());
        (evaluated, proof)
    }

    /// The pseudonym of normalised ID number `id` in `domain`, computed
    /// directly with the key (what a blinded exchange yields).
    pub fn pseudonym(&self, domain: PseudonymKind, id: &str) -> String {
        let output = self
            .0
            .evaluate(&input(domain, id))
            .expect("an input of a few dozen bytes");
        pseudonym_of(domain, &output)
    }
}

/// A request's blinded elements, each a ristretto255 point other than the
/// identity, from 1 to [`MAX_BATCH`] of them.
pub struct Decoded(Vec<BlindedElement<Suite>>);

/// Decodes a request's blinded elements (what a service checks before it
/// counts them against a quota).
pub fn decode(blinded: &[Element]) -> Result<Decoded, OprfError> {
    if blinded.is_empty() || blinded.len() > MAX_BATCH {
        return Err(OprfError::BatchSize {
            count: blinded.len(),
        });
    }
    blinded
        .iter()
        .enumerate()
        .map(|(index, b)| {
            BlindedElement::<Suite>::deserialize(b).map_err(|_| OprfError::BadElement { index })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Decoded)
}

/// Inputs blinded for one request, kept until the answer comes.
pub struct Blinded {
    inputs: Vec<Vec<u8>>,
    clients: Vec<VoprfClient<Suite>>,
    /// The blinded elements to send, in the order of the inputs.
    pub elements: Vec<Element>,
}

/// Blinds `inputs` (see [`input`]) for one request.
pub fn blind(rng: &mut (impl RngCore + CryptoRng), inputs: Vec<Vec<u8>>) -> Blinded {
    let mut clients = Vec::with_capacity(inputs.len());
    let mut elements = Vec::with_capacity(inputs.len());
    for i in &inputs {
        let r = VoprfClient::<Suite>::blind(i, rng).expect("a non-empty input under 64 KiB");
        let mut e = [0; 32];
        e.copy_from_slice(&r.message.serialize());
        clients.push(r.state);
        elements.push(e);
    }
    Blinded {
        inputs,
        clients,
        elements,
    }
}

impl Blinded {
    /// Inputs blinded by clients made elsewhere, with their blinded
    /// elements: for tests that fix the blinds, as RFC 9497's vectors do
    /// (`VoprfClient::deterministic_blind_unchecked`).
    #[doc(hidden)]
    pub fn from_clients(
        inputs: Vec<Vec<u8>>,
        clients: Vec<VoprfClient<Suite>>,
        elements: Vec<Element>,
    ) -> Blinded {
        Blinded {
            inputs,
            clients,
            elements,
        }
    }

    /// Checks the service's answer against `key` and unblinds it: the
    /// 64-byte outputs, in the order of the inputs.
    ///
    /// RFC 9497's `VerifyProof` and `Finalize` (VOPRF mode), on
    /// curve25519-dalek 5: `voprf` multiplies each element twice for the
    /// composites with curve25519-dalek 4, and this check was most of an
    /// import's time (docs/performance.md, 2026-12-05). Here each
    /// composite is one multiscalar multiplication and the blinds are
    /// inverted in one batch; the hashing is `voprf`'s own
    /// (`Group::hash_to_scalar`). `ledger/tests/oprf_vectors.rs` holds it to
    /// the RFC's VOPRF vectors (the batch of two included) and to
    /// `voprf::VoprfClient::batch_finalize`, and refuses altered proofs,
    /// elements and keys.
    pub fn finish(
        &self,
        evaluated: &[Element],
        proof: &ProofBytes,
        key: &PublicKey,
    ) -> Result<Vec<Vec<u8>>, OprfError> {
        use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
        use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
        use curve25519_dalek::Scalar;
        use sha2::{Digest, Sha512};

        if evaluated.len() != self.clients.len() {
            return Err(OprfError::Count {
                sent: self.clients.len(),
                answered: evaluated.len(),
            });
        }
        // Deserialize: a point other than the identity (RFC 9497 §2.1).
        let point = |bytes: &Element| {
            CompressedRistretto(*bytes)
                .decompress()
                .filter(|p| *p != RistrettoPoint::identity())
        };
        let d: Vec<RistrettoPoint> = evaluated
            .iter()
            .enumerate()
            .map(|(index, e)| point(e).ok_or(OprfError::BadElement { index }))
            .collect::<Result<_, _>>()?;
        let c: Vec<RistrettoPoint> = self
            .elements
            .iter()
            .map(|e| point(e).expect("blinded by this client"))
            .collect();
        let scalar = |bytes: &[u8]| {
            let bytes: [u8; 32] = bytes.try_into().expect("32 bytes");
            // As voprf's DeserializeScalar: canonical, and not zero.
            Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes))
                .filter(|s| *s != Scalar::ZERO)
                .ok_or(OprfError::Proof)
        };
        let (proof_c, proof_s) = (scalar(&proof[..32])?, scalar(&proof[32..])?);
        let pk = point(&key.0).ok_or(OprfError::Key("not a point"))?;

        // ComputeComposites (the client's form: M and Z both summed).
        let context = context_string();
        let seed_dst = [b"Seed-".as_slice(), &context].concat();
        let seed = Sha512::new()
            .chain_update(i2osp_2(32))
            .chain_update(key.0)
            .chain_update(i2osp_2(seed_dst.len()))
            .chain_update(&seed_dst)
            .finalize();
        let weights: Vec<Scalar> = (0..d.len())
            .map(|i| {
                hash_to_scalar(&[
                    &i2osp_2(seed.len()),
                    &seed,
                    &i2osp_2(i),
                    &i2osp_2(32),
                    &self.elements[i],
                    &i2osp_2(32),
                    &evaluated[i],
                    b"Composite",
                ])
            })
            .collect();
        let m = RistrettoPoint::vartime_multiscalar_mul(&weights, &c);
        let z = RistrettoPoint::vartime_multiscalar_mul(&weights, &d);

        // VerifyProof: t2 = s·G + c·pk, t3 = s·M + c·Z, and c = H(transcript).
        let t2 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&proof_c, &pk, &proof_s);
        let t3 = RistrettoPoint::vartime_multiscalar_mul([proof_s, proof_c], [m, z]);
        let mut transcript: Vec<&[u8]> = Vec::with_capacity(11);
        let parts = [
            key.0,
            m.compress().0,
            z.compress().0,
            t2.compress().0,
            t3.compress().0,
        ];
        let len = i2osp_2(32);
        for part in &parts {
            transcript.push(&len);
            transcript.push(part);
        }
        transcript.push(b"Challenge");
        if hash_to_scalar(&transcript) != proof_c {
            return Err(OprfError::Proof);
        }

        // Finalize: N = blind⁻¹·D, output = Hash(input ‖ N ‖ "Finalize").
        let mut inverses: Vec<Scalar> = self
            .clients
            .iter()
            .map(|client| {
                // The client's state serialises as blind ‖ blinded element.
                let state = client.serialize();
                let blind: [u8; 32] = state[..32].try_into().expect("a 32-byte blind");
                Option::<Scalar>::from(Scalar::from_canonical_bytes(blind))
                    .expect("a blind is a canonical scalar")
            })
            .collect();
        Scalar::invert_batch_alloc(&mut inverses);
        Ok(self
            .inputs
            .iter()
            .zip(inverses.iter().zip(&d))
            .map(|(input, (inverse, d))| {
                let n = (inverse * d).compress();
                Sha512::new()
                    .chain_update(i2osp_2(input.len()))
                    .chain_update(input)
                    .chain_update(i2osp_2(32))
                    .chain_update(n.0)
                    .chain_update(b"Finalize")
                    .finalize()
                    .to_vec()
            })
            .collect())
    }
}

/// RFC 9497's `contextString` for VOPRF mode with ristretto255-SHA512.
fn context_string() -> Vec<u8> {
    [b"OPRFV1-".as_slice(), &[1], b"-ristretto255-SHA512"].concat()
}

/// `I2OSP(n, 2)`; every length here is under 2^16 (at most [`MAX_BATCH`]
/// elements, inputs of a few dozen bytes).
fn i2osp_2(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("under 2^16").to_be_bytes()
}

/// RFC 9497's `HashToScalar` with the default DST (`"HashToScalar-" ||
/// contextString`), as `voprf` computes it, as a curve25519-dalek 5 scalar.
fn hash_to_scalar(input: &[&[u8]]) -> curve25519_dalek::Scalar {
    let dst = [b"HashToScalar-".as_slice(), &context_string()].concat();
    let s = <Suite as Group>::hash_to_scalar::<sha2::Sha512>(input, &[&dst])
        .expect("expand_message_xmd of a short input");
    Option::from(curve25519_dalek::Scalar::from_canonical_bytes(s.to_bytes()))
        .expect("voprf's scalars are canonical")
}

/// What a request's signature covers: this, then the canonical JSON
/// (SPEC §1) of the request without `signature`.
pub const REQUEST_CONTEXT: &[u8] = b"aidledger/pseudonym-request/v1\n";

/// `POST /v1/evaluate` (SPEC §6.3): blinded elements, signed by a key of
/// the issuer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The organisation asking.
    pub issuer: String,
    /// Its signing key.
    pub key: crate::PublicKey,
    /// When it was signed (SPEC §1 timestamp).
    pub issued_at: String,
    /// The blinded elements, base64.
    pub blinded: Vec<String>,
    /// Ed25519 over [`REQUEST_CONTEXT`] and the rest, hex.
    pub signature: crate::entry::EntrySignature,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    /// The evaluated elements, base64, in the order of the request's.
    pub evaluated: Vec<String>,
    /// The batched DLEQ proof, base64.
    pub proof: String,
}

/// Why a request's fields do not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// An element or the proof that is not base64 of the right length.
    #[error("{0} is not base64 of {1} bytes")]
    Encoding(&'static str, usize),
    /// The signature does not verify.
    #[error("the signature does not verify against the request's key")]
    Signature,
    /// A field that has no canonical JSON form (SPEC §1), so no signed
    /// bytes.
    #[error("not signable: {0}")]
    NotCanonical(String),
}

fn decode_b64<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], RequestError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(RequestError::Encoding(what, N))
}

fn encode_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Request {
    /// A request for `elements`, signed now by `signing` for `issuer`.
    pub fn sign(
        signing: &ed25519_dalek::SigningKey,
        issuer: &str,
        issued_at: String,
        elements: &[Element],
    ) -> Result<Request, RequestError> {
        use ed25519_dalek::Signer;
        let mut r = Request {
            issuer: issuer.to_owned(),
            key: crate::PublicKey(signing.verifying_key().to_bytes()),
            issued_at,
            blinded: elements.iter().map(|e| encode_b64(e)).collect(),
            signature: crate::entry::EntrySignature([0; 64]),
        };
        r.signature = crate::entry::EntrySignature(signing.sign(&r.signed_bytes()?).to_bytes());
        Ok(r)
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, RequestError> {
        let mut v = serde_json::to_value(self).expect("a request is JSON");
        v.as_object_mut().expect("an object").remove("signature");
        let mut bytes = REQUEST_CONTEXT.to_vec();
        bytes.extend(
            crate::canonical_json(&v).map_err(|e| RequestError::NotCanonical(e.to_string()))?,
        );
        Ok(bytes)
    }

    /// Checks the signature (strict Ed25519, as entries are checked).
    pub fn verify(&self) -> Result<(), RequestError> {
        crate::entry::verify_strict(&self.key, &self.signed_bytes()?, &self.signature)
            .map_err(|_| RequestError::Signature)
    }

    /// The blinded elements' bytes.
    pub fn elements(&self) -> Result<Vec<Element>, RequestError> {
        self.blinded
            .iter()
            .map(|b| decode_b64("a blinded element", b))
            .collect()
    }
}

impl Answer {
    /// The answer of `evaluated` elements and their `proof`.
    pub fn new(evaluated: &[Element], proof: &ProofBytes) -> Answer {
        Answer {
            evaluated: evaluated.iter().map(|e| encode_b64(e)).collect(),
            proof: encode_b64(proof),
        }
    }

    /// Its elements and proof as bytes.
    pub fn parts(&self) -> Result<(Vec<Element>, ProofBytes), RequestError> {
        let evaluated = self
            .evaluated
            .iter()
            .map(|e| decode_b64("an evaluated element", e))
            .collect::<Result<_, _>>()?;
        Ok((evaluated, decode_b64("the proof", &self.proof)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blinded_exchange_gives_what_the_key_computes_and_a_wrong_key_is_caught() {
        let mut rng = rand_core::OsRng;
        let key = ServiceKey::generate(&mut rng);
        let ids = ["11010519491231002X", "110105194912310021"];
        let inputs = ids
            .iter()
            .flat_map(|id| {
                [PseudonymKind::Beneficiary, PseudonymKind::Volunteer].map(|d| input(d, id))
            })
            .collect();
        let blinded = blind(&mut rng, inputs);
        let (evaluated, proof) = key.evaluate(&mut rng, &blinded.elements).unwrap();
        let outputs = blinded.finish(&evaluated, &proof, &key.public()).unwrap();
        assert_eq!(
            pseudonym_of(PseudonymKind::Beneficiary, &outputs[0]),
            key.pseudonym(PseudonymKind::Beneficiary, ids[0])
        );
        assert_eq!(
            pseudonym_of(PseudonymKind::Volunteer, &outputs[3]),
            key.pseudonym(PseudonymKind::Volunteer, ids[1])
        );
        // A person's bnf_ and vol_ pseudonyms are unlinkable.
        assert_ne!(outputs[0][..32], outputs[1][..32]);

        let other = ServiceKey::generate(&mut rng);
        let (evaluated, proof) = other.evaluate(&mut rng, &blinded.elements).unwrap();
        assert_eq!(
            blinded.finish(&evaluated, &proof, &key.public()),
            Err(OprfError::Proof)
        );
        let restored = ServiceKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(restored.public(), key.public());
    }

    #[test]
    fn a_request_is_signed_over_its_canonical_json_and_a_changed_one_fails() {
        let mut rng = rand_core::OsRng;
        let signing = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
        let elements = blind(&mut rng, vec![b"a".to_vec(), b"b".to_vec()]).elements;
        let r = Request::sign(&signing, "CN-X", "2026-12-05T01:00:00Z".into(), &elements).unwrap();
        r.verify().unwrap();
        assert_eq!(r.elements().unwrap(), elements);
        let text = String::from_utf8(r.signed_bytes().unwrap()).unwrap();
        assert!(
            text.starts_with("aidledger/pseudonym-request/v1\n{\"blinded\":[")
                && !text.contains("signature"),
            "{text}"
        );
        let mut changed = r.clone();
        changed.blinded.swap(0, 1);
        assert_eq!(changed.verify(), Err(RequestError::Signature));
        let back: Request = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn requests_of_no_point_or_too_many_are_refused() {
        let mut rng = rand_core::OsRng;
        let key = ServiceKey::generate(&mut rng);
        let good = blind(&mut rng, vec![b"x".to_vec()]).elements[0];
        assert_eq!(
            key.evaluate(&mut rng, &[good, [0; 32]]),
            Err(OprfError::BadElement { index: 1 })
        );
        assert_eq!(
            key.evaluate(&mut rng, &[good, [0xff; 32]]),
            Err(OprfError::BadElement { index: 1 })
        );
        assert_eq!(
            key.evaluate(&mut rng, &vec![good; MAX_BATCH + 1]),
            Err(OprfError::BatchSize { count: 1_001 })
        );
        assert_eq!(
            key.evaluate(&mut rng, &[]),
            Err(OprfError::BatchSize { count: 0 })
        );
        assert!(PublicKey::from_hex(&"00".repeat(32)).is_err());
        assert!(PublicKey::from_hex(&key.public().to_hex()).is_ok());
    }
}
