//! Organisations and their keys: genesis, `org.register`, `key.add`,
//! `key.revoke`.

use super::{role, rule, schema, Cx, Stop};
use crate::body::{KeyAdd, KeyRevoke, OrgRegister};
use crate::domain::{Kind, Role};
use crate::entry::PublicKey;
use crate::records::{KeyRec, OrgRec};
use crate::state::tables::{contains, org_key_key, read, Keys, Orgs};

impl Cx<'_> {
    /// SPEC §5: seq 0 registers the registrar org, signed by one of its
    /// registrar keys.
    pub(super) fn genesis(&mut self) -> Result<(), Stop> {
        let not = |why: &str| rule(format!("genesis: {why}"));
        if self.st.kind != Kind::OrgRegister {
            return Err(not("seq 0 must be an org.register"));
        }
        let b: OrgRegister = self.body()?;
        if b.org.id != self.st.issuer {
            return Err(not("the registered org must be the issuer"));
        }
        let own = self.st.key.to_string();
        let grant = b
            .keys
            .iter()
            .find(|g| g.key == own)
            .ok_or_else(|| not("must be signed by a key it registers"))?;
        if !grant.roles.contains(&Role::Registrar) {
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

    /// The raw bytes of hex key `k`, if no org holds it yet.
    fn key_unused(&self, k: &str) -> Result<PublicKey, Stop> {
        let raw =
            PublicKey::from_hex(k).ok_or_else(|| schema(format!("key {k:?} is not 64 hex")))?;
        if contains::<Keys>(self.state, &raw)? {
            return Err(rule(format!("key {k} is already registered")));
        }
        Ok(raw)
    }

    fn add_key(&mut self, raw: PublicKey, org: &str, roles: Vec<Role>) {
        let hex_key = crate::canonical::lower_hex(&raw.0);
        self.fx.index(org_key_key(org, &hex_key));
        let rec = KeyRec {
            key: hex_key,
            org: org.to_owned(),
            roles,
            added_seq: self.seq,
            revoked_seq: None,
        };
        self.fx.set::<Keys>(&raw, &rec);
    }

    pub(super) fn org_register(&mut self) -> Result<(), Stop> {
        let b: OrgRegister = self.body()?;
        if contains::<Orgs>(self.state, &b.org.id)? {
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
            id: b.org.id,
            name: b.org.name,
            org_type: b.org.org_type,
            region: b.org.region,
            registered_seq: self.seq,
        };
        self.fx.set::<Orgs>(&org.id, &org);
        self.tally()?.orgs += 1;
        Ok(())
    }

    pub(super) fn key_add(&mut self) -> Result<(), Stop> {
        let b: KeyAdd = self.body()?;
        let own_admin = self.st.issuer == b.org && self.has_role(Role::Admin);
        if !own_admin && !self.has_role(Role::Registrar) {
            return Err(role(format!(
                "key.add for {} needs that org's admin or a registrar",
                b.org
            )));
        }
        if b.roles.contains(&Role::Registrar) && !self.has_role(Role::Registrar) {
            return Err(role("only a registrar may grant the registrar role"));
        }
        if !contains::<Orgs>(self.state, &b.org)? {
            return Err(rule(format!("no org {}", b.org)));
        }
        let raw = self.key_unused(&b.key)?;
        self.add_key(raw, &b.org, b.roles);
        Ok(())
    }

    pub(super) fn key_revoke(&mut self) -> Result<(), Stop> {
        let b: KeyRevoke = self.body()?;
        let own_admin = self.st.issuer == b.org && self.has_role(Role::Admin);
        let itself = self.st.key.to_string() == b.key;
        if !own_admin && !itself && !self.has_role(Role::Registrar) {
            return Err(role(format!(
                "key.revoke for {} needs that org's admin, a registrar or the key itself",
                b.org
            )));
        }
        let raw = PublicKey::from_hex(&b.key).ok_or_else(|| schema("key is not 64 hex"))?;
        let mut k = read::<Keys>(self.state, &raw)?
            .filter(|k| k.org == b.org)
            .ok_or_else(|| rule(format!("key {} is not a key of {}", b.key, b.org)))?;
        if let Some(at) = k.revoked_seq {
            return Err(rule(format!("key {} is already revoked (seq {at})", b.key)));
        }
        k.revoked_seq = Some(self.seq);
        self.fx.set::<Keys>(&raw, &k);
        Ok(())
    }
}
