//! C2SP tlog-policy files: the logs accepted, the witnesses named, their
//! groups and the quorum a checkpoint's cosignatures must meet.

use super::{is_decimal, signature_lines, WitnessVerifier};
use crate::checkpoint::{Checkpoint, CheckpointVerifier};

/// Why a policy file was refused, or a checkpoint under it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file breaks C2SP tlog-policy's syntax or rules.
    #[error("policy line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The checkpoint is not validly signed by a log the policy lists.
    #[error("the checkpoint is not signed by a log of the policy: {0}")]
    Log(String),
    /// The checkpoint lacks the quorum.
    #[error(
        "no quorum: cosigned by {}; missing {}{}",
        list(cosigned),
        list(missing),
        if invalid.is_empty() { String::new() } else { format!("; cosignatures that do not verify: {}", list(invalid)) }
    )]
    NoQuorum {
        /// Policy names of the witnesses whose cosignatures verified.
        cosigned: Vec<String>,
        /// Policy names of the witnesses that did not cosign.
        missing: Vec<String>,
        /// Policy names of the witnesses whose line did not verify.
        invalid: Vec<String>,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A log a policy accepts.
#[derive(Debug, Clone)]
pub struct PolicyLog {
    /// Its key (the key name is the origin).
    pub verifier: CheckpointVerifier,
    /// Where it is served, if given.
    pub url: Option<String>,
}

/// A witness a policy names.
#[derive(Debug, Clone)]
pub struct PolicyWitness {
    /// Its name in the policy (for groups and the quorum).
    pub name: String,
    /// Its key.
    pub verifier: WitnessVerifier,
    /// Its submission prefix, if given.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A C2SP tlog-policy: the logs accepted, the witnesses named, and the
/// quorum a checkpoint's cosignatures must meet.
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None`: `quorum none`.
    quorum: Option<Member>,
}

/// A checkpoint that met a policy: what it states, and who cosigned it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// (policy name, timestamp) of each witness whose cosignature verified.
    pub cosignatures: Vec<(String, u64)>,
}

impl Policy {
    /// Parses a policy file (C2SP tlog-policy).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut logs: Vec<PolicyLog> = Vec::new();
        let mut witnesses: Vec<PolicyWitness> = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut quorum: Option<Option<Member>> = None;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let err = |message: String| PolicyError::Syntax { line, message };
            if let Some(b) = raw
                .bytes()
                .find(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
            {
                return Err(err(format!("control character 0x{b:02x}")));
            }
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            if words.is_empty() || words[0].starts_with('#') {
                continue;
            }
            let lookup = |name: &str| -> Option<Member> {
                witnesses
                    .iter()
                    .position(|w| w.name == name)
                    .map(Member::Witness)
                    .or_else(|| {
                        groups
                            .iter()
                            .position(|g| g.name == name)
                            .map(Member::Group)
                    })
            };
            let url = |w: Option<&&str>| w.map(|u| (*u).to_owned());
            match words.as_slice() {
                ["log", vkey, rest @ ..] if rest.len() <= 1 => {
                    let verifier = CheckpointVerifier::from_vkey(vkey)
                        .map_err(|e| err(format!("log key: {e}")))?;
                    if logs.iter().any(|l| l.verifier.key() == verifier.key()) {
                        return Err(err("a log with this key is already listed".into()));
                    }
                    logs.push(PolicyLog {
                        verifier,
                        url: url(rest.first()),
                    });
                }
                ["witness", name, vkey, rest @ ..] if rest.len() <= 1 => {
                    if *name == "none" || lookup(name).is_some() {
                        return Err(err(format!("the name {name:?} is already defined")));
                    }
                    let verifier = WitnessVerifier::from_vkey(vkey)
                        .map_err(|e| err(format!("witness key: {e}")))?;
                    if witnesses.iter().any(|w| w.verifier.key == verifier.key) {
                        return Err(err("a witness with this key is already listed".into()));
                    }
                    witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        verifier,
                        url: url(rest.first()),
                    });
                }
                ["group", name, threshold, names @ ..] if !names.is_empty() => {
                    if *name == "none" || lookup(name).is_some() {
                        return Err(err(format!("the name {name:?} is already defined")));
                    }
                    let mut members = Vec::with_capacity(names.len());
                    for m in names {
                        let member = lookup(m).ok_or_else(|| {
                            err(format!("{m:?} is not defined on an earlier line"))
                        })?;
                        if members.contains(&member) {
                            return Err(err(format!("{m:?} is listed twice")));
                        }
                        members.push(member);
                    }
                    let n = members.len();
                    let threshold = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k if is_decimal(k) => k
                            .parse::<usize>()
                            .ok()
                            .filter(|k| (1..=n).contains(k))
                            .ok_or_else(|| err(format!("threshold {k} is not within 1..={n}")))?,
                        other => {
                            return Err(err(format!(
                                "threshold {other:?} is not all, any or a number"
                            )))
                        }
                    };
                    groups.push(Group {
                        name: (*name).to_owned(),
                        threshold,
                        members,
                    });
                }
                ["quorum", name] => {
                    if quorum.is_some() {
                        return Err(err("a second quorum line".into()));
                    }
                    quorum = Some(if *name == "none" {
                        None
                    } else {
                        Some(lookup(name).ok_or_else(|| {
                            err(format!("{name:?} is not defined on an earlier line"))
                        })?)
                    });
                }
                [word, ..] => return Err(err(format!("cannot read a {word:?} line here"))),
                [] => unreachable!("empty lines are skipped"),
            }
        }
        let quorum = quorum.ok_or(PolicyError::Syntax {
            line: text.split('\n').count(),
            message: "no quorum line".into(),
        })?;
        Ok(Policy {
            logs,
            witnesses,
            groups,
            quorum,
        })
    }

    /// The logs it accepts.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses it names.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Checks `note`: signed by one of the policy's logs, and cosigned by
    /// witnesses that meet the quorum. Cosignatures by keys the policy does
    /// not name are ignored.
    pub fn verify(&self, note: &[u8]) -> Result<Witnessed, PolicyError> {
        let mut checkpoint = None;
        let mut failures = Vec::new();
        for log in &self.logs {
            match log.verifier.verify(note) {
                Ok(cp) => {
                    checkpoint = Some(cp);
                    break;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        let checkpoint = checkpoint.ok_or_else(|| {
            PolicyError::Log(if failures.is_empty() {
                "the policy lists no log".into()
            } else {
                failures.join("; ")
            })
        })?;
        let body = checkpoint.body();
        let (_, lines) =
            signature_lines(note).ok_or_else(|| PolicyError::Log("not a signed note".into()))?;
        let mut cosigned = vec![None; self.witnesses.len()];
        let mut invalid = Vec::new();
        for (name, id, sig) in &lines {
            let Some(i) = self
                .witnesses
                .iter()
                .position(|w| w.verifier.name() == name && w.verifier.id() == *id)
            else {
                continue;
            };
            match self.witnesses[i].verifier.verify(&body, sig) {
                Ok(ts) => cosigned[i] = Some(ts),
                Err(_) => invalid.push(self.witnesses[i].name.clone()),
            }
        }
        let signed: Vec<bool> = cosigned.iter().map(Option::is_some).collect();
        let met = self.quorum.is_none_or(|q| self.satisfied(q, &signed));
        let names = |keep: bool| -> Vec<String> {
            self.witnesses
                .iter()
                .zip(&signed)
                .filter(|(_, s)| **s == keep)
                .map(|(w, _)| w.name.clone())
                .collect()
        };
        if !met {
            return Err(PolicyError::NoQuorum {
                cosigned: names(true),
                missing: names(false),
                invalid,
            });
        }
        Ok(Witnessed {
            checkpoint,
            cosignatures: self
                .witnesses
                .iter()
                .zip(cosigned)
                .filter_map(|(w, ts)| ts.map(|ts| (w.name.clone(), ts)))
                .collect(),
        })
    }

    /// Whether cosignatures by the witnesses marked `true` (in the order
    /// of [`Policy::witnesses`]) would meet the quorum: with the witnesses
    /// a node can reach, whether its checkpoints can still be published.
    pub fn quorum_met_by(&self, cosigning: &[bool]) -> bool {
        let mut signed = vec![false; self.witnesses.len()];
        for (s, c) in signed.iter_mut().zip(cosigning) {
            *s = *c;
        }
        self.quorum.is_none_or(|q| self.satisfied(q, &signed))
    }

    /// Whether `member` has witnessed, given which witnesses cosigned.
    fn satisfied(&self, member: Member, signed: &[bool]) -> bool {
        match member {
            Member::Witness(i) => signed[i],
            Member::Group(g) => {
                let group = &self.groups[g];
                group
                    .members
                    .iter()
                    .filter(|m| self.satisfied(**m, signed))
                    .count()
                    >= group.threshold
            }
        }
    }
}
