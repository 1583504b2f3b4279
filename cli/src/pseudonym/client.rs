//! Asking the pseudonym service (SPEC §6.3) for the pseudonyms of ID
//! numbers. Each ID is normalised and checked here, then blinded: only the
//! blinded point leaves this machine. Every answer's proof is checked
//! against the pseudonym key the ledger records (`/v1/log`, `rules`), so a
//! service with another key, which could give two organisations different
//! pseudonyms for one person, is caught before anything is used.

use anyhow::anyhow;
use ed25519_dalek::SigningKey;
use ledger::ident::PseudonymKind;
use ledger::oprf::{self, Answer, PublicKey, Request, MAX_BATCH};
use rayon::prelude::*;
use rust_i18n::t;

use crate::client::{NodeClient, NodeError};

/// Requests in flight at once.
const CONCURRENT: usize = 4;

/// A client of the ledger's pseudonym service, signing as one key of an
/// organisation.
pub struct PseudonymClient {
    service: NodeClient,
    key: PublicKey,
    signing: SigningKey,
    issuer: String,
}

/// Why a pseudonym could not be had; said as the CLI's refusal (exit
/// status 1).
#[derive(Debug)]
enum PseudonymError {
    /// The ledger records no pseudonym key (rules version 2 not active, or
    /// the registrar has not recorded the service yet).
    NoKey,
    /// The service refused the request.
    Refused(NodeError),
    /// The service's answer does not verify against the ledger's key.
    Proof {
        /// The service.
        service: String,
        /// The ledger's key.
        key: String,
        /// What did not hold.
        error: String,
    },
}

impl std::fmt::Display for PseudonymError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let said = match self {
            PseudonymError::NoKey => t!("pseudonym.no_key"),
            PseudonymError::Refused(e) => {
                t!("pseudonym.refused", error = crate::i18n::node_error(e))
            }
            PseudonymError::Proof {
                service,
                key,
                error,
            } => t!(
                "pseudonym.proof",
                service = service,
                key = key,
                error = error
            ),
        };
        f.write_str(&said)
    }
}

impl std::error::Error for PseudonymError {}

impl PseudonymError {
    /// As the CLI's refusal (exit status 1): no pseudonym, nothing written.
    fn failed(self) -> anyhow::Error {
        crate::Failed(self.to_string()).into()
    }
}

impl PseudonymClient {
    /// A client of the service the ledger at `node` names (or of
    /// `service`, if given), checking answers against the ledger's key.
    pub fn from_ledger(
        node: &NodeClient,
        service: Option<&str>,
        signing: SigningKey,
        issuer: &str,
    ) -> anyhow::Result<PseudonymClient> {
        let info = node.log_info()?;
        let Some(recorded) = info.rules.and_then(|r| r.pseudonym) else {
            return Err(PseudonymError::NoKey.failed());
        };
        let key = PublicKey::from_hex(&recorded.key)?;
        let url = service.unwrap_or(&recorded.service);
        Ok(PseudonymClient {
            service: NodeClient::new(url),
            key,
            signing,
            issuer: issuer.to_owned(),
        })
    }

    /// The pseudonyms of `ids` (normalised, see
    /// [`ledger::ident::normalise_resident_id`]) in `domain`, in order:
    /// [`MAX_BATCH`] a request, [`CONCURRENT`] requests at once.
    pub fn pseudonyms(&self, domain: PseudonymKind, ids: &[String]) -> anyhow::Result<Vec<String>> {
        let chunks: Vec<&[String]> = ids.chunks(MAX_BATCH).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(CONCURRENT.min(chunks.len()).max(1))
            .build()?;
        let answers: Vec<anyhow::Result<Vec<String>>> = pool.install(|| {
            chunks
                .par_iter()
                .map(|chunk| self.batch(domain, chunk))
                .collect()
        });
        let mut out = Vec::with_capacity(ids.len());
        for a in answers {
            out.extend(a?);
        }
        Ok(out)
    }

    /// One request.
    fn batch(&self, domain: PseudonymKind, ids: &[String]) -> anyhow::Result<Vec<String>> {
        let inputs = ids.iter().map(|id| oprf::input(domain, id)).collect();
        let blinded = oprf::blind(&mut rand_core::OsRng, inputs);
        let issued_at = ledger::entry::format_timestamp(std::time::SystemTime::now());
        let request = Request::sign(&self.signing, &self.issuer, issued_at, &blinded.elements)?;
        let (status, body) = self
            .service
            .post("/v1/evaluate", &serde_json::to_vec(&request)?)?;
        if status != 200 {
            let e = NodeError::from_answer(status, body.to_string().as_bytes());
            return Err(PseudonymError::Refused(e).failed());
        }
        let proof_error = |error: String| {
            PseudonymError::Proof {
                service: self.service.base().to_owned(),
                key: self.key.to_hex(),
                error,
            }
            .failed()
        };
        let answer: Answer =
            serde_json::from_value(body).map_err(|e| proof_error(format!("not an answer: {e}")))?;
        let (evaluated, proof) = answer.parts().map_err(|e| proof_error(e.to_string()))?;
        let outputs = blinded
            .finish(&evaluated, &proof, &self.key)
            .map_err(|e| proof_error(e.to_string()))?;
        Ok(outputs
            .iter()
            .map(|o| oprf::pseudonym_of(domain, o))
            .collect())
    }
}

/// Normalises written ID numbers, each checked (GB 11643); the first that
/// is none is named by its place (1 for the first), never by its digits.
pub fn normalise_all(ids: &[String]) -> anyhow::Result<Vec<String>> {
    use ledger::ident::IdProblem;
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            ledger::ident::normalise_resident_id(id).map_err(|e| {
                let (n, total) = (i + 1, ids.len());
                anyhow!(
                    "{}",
                    match e {
                        IdProblem::Shape => t!("pseudonym.id_shape", n = n, total = total),
                        IdProblem::CheckChar { expected } => {
                            t!(
                                "pseudonym.id_check",
                                n = n,
                                total = total,
                                expected = expected
                            )
                        }
                    }
                )
            })
        })
        .collect()
}
