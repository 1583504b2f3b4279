//! What the registrar sets for the whole ledger: `rules.activate` (SPEC
//! §6.1) and, from rules v2, `pseudonym.key` (§6.3).

use super::{rule, schema, Cx, Stop};
use crate::body::{PseudonymKey, RulesActivate};
use crate::records::{ActivationRec, PseudonymRec};

impl Cx<'_> {
    /// The version in force plus one, in force from the next seq on.
    pub(super) fn rules_activate(&mut self) -> Result<(), Stop> {
        let b: RulesActivate = self.body()?;
        let in_force = self.version()?;
        let wanted = in_force.number() + 1;
        if b.version != wanted {
            return Err(rule(format!(
                "rules version {in_force} is in force: only version {wanted} can be activated, not {}",
                b.version
            )));
        }
        let version = in_force.next().ok_or_else(|| {
            rule(format!(
                "rules version {} is not known to this implementation",
                b.version
            ))
        })?;
        let seq = self.seq;
        let rules = self.rules_mut()?;
        rules.version = version;
        rules.activations.push(ActivationRec {
            version,
            seq,
            from: seq + 1,
            note: b.note,
        });
        Ok(())
    }

    /// The pseudonym service's key: at most one in a ledger.
    pub(super) fn pseudonym_key(&mut self) -> Result<(), Stop> {
        let b: PseudonymKey = self.body()?;
        if crate::oprf::PublicKey::from_hex(&b.key).is_err() {
            return Err(schema(format!(
                "key {:?} is not a ristretto255 point other than the identity",
                b.key
            )));
        }
        if let Some(p) = &self.rules()?.pseudonym {
            return Err(rule(format!(
                "the pseudonym key was recorded at seq {}; a ledger has one",
                p.seq
            )));
        }
        let seq = self.seq;
        self.rules_mut()?.pseudonym = Some(PseudonymRec {
            key: b.key,
            service: b.service,
            seq,
        });
        Ok(())
    }
}
