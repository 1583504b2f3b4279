//! Setting an organisation up with commands rather than JSON written by
//! hand: `org register`, `key add`, `key revoke`, `fund open` build the
//! body, check it as the node would, sign it, submit it and verify the
//! receipt.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use ledger::body::{self, Body, KeyGrant};
use ledger::domain::Role;
use ledger::entry::{format_timestamp, SignedEntry};
use rust_i18n::t;

use crate::client::NodeClient;
use crate::receipt::{Outcome, Submitter};

/// Who signs, for whom, and where it goes.
pub struct Signer {
    /// The node.
    pub node: String,
    /// The vkey to trust (else the node's own).
    pub vkey: Option<String>,
    /// A pinned genesis.
    pub genesis: Option<String>,
    /// The signing key file.
    pub key: PathBuf,
    /// The issuing organisation.
    pub issuer: String,
}

/// `HEX=role,role` → `{"key": HEX, "roles": [...]}`.
pub fn key_with_roles(spec: &str) -> anyhow::Result<KeyGrant> {
    let (key, roles) = spec
        .split_once('=')
        .with_context(|| t!("admin.org_key_shape", spec = spec))?;
    let roles = roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<Role>()
                .with_context(|| t!("admin.org_key", spec = spec))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!roles.is_empty(), "{}", t!("admin.no_role", spec = spec));
    Ok(KeyGrant {
        key: key.trim().to_owned(),
        roles,
    })
}

/// Refuses an org id the node would refuse, saying why; for a unified
/// social credit code with a wrong check character, the right one.
pub fn check_org_id(id: &str) -> anyhow::Result<()> {
    if ledger::ident::is_org_id(id) {
        return Ok(());
    }
    if let Some(code) = id.strip_prefix("CN-USCI-") {
        if code.len() == 18 && code.is_ascii() {
            if let Some(right) = ledger::ident::usci_check_char(&code[..17]) {
                anyhow::bail!(
                    "{}",
                    t!(
                        "admin.usci_check",
                        id = id,
                        body = &code[..17],
                        right = right,
                        given = &code[17..]
                    )
                );
            }
        }
        anyhow::bail!("{}", t!("admin.usci_shape", id = id));
    }
    anyhow::bail!("{}", t!("admin.org_id", id = id))
}

/// Builds, checks, signs and submits one entry of `kind`, prints its
/// verified receipt (JSON, stdout) and `done` (stderr). A refusal exits 1
/// with the node's code and message; nothing is sent if the entry fails the
/// checks the node would make, or if the node's checkpoint does not verify
/// with the vkey.
pub fn sign_and_submit<B: Body>(signer: &Signer, body: &B, done: &str) -> anyhow::Result<ExitCode> {
    match submit_one(signer, body)? {
        Ok(receipt) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", serde_json::to_string(&receipt)?)?;
            eprintln!(
                "{}",
                rust_i18n::t!("admin.done", what = done, seq = receipt.seq)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// Says the node's refusal (stderr) and gives exit status 1.
pub fn refused(e: &crate::client::NodeError) -> ExitCode {
    let message = crate::i18n::coded(e);
    eprintln!("{}", rust_i18n::t!("msg.refused", message = message));
    ExitCode::from(1)
}

/// The body of [`sign_and_submit`]: builds, checks, signs and submits one
/// entry; its verified receipt, or the node's refusal.
pub fn submit_one<B: Body>(signer: &Signer, body: &B) -> anyhow::Result<Outcome> {
    let key: SigningKey = ledger::keyfile::read(&signer.key)?;
    let nonce = crate::fresh_nonce();
    let issued_at = format_timestamp(SystemTime::now());
    let entry = SignedEntry::create(
        &key,
        &signer.issuer,
        B::KIND,
        &nonce,
        &issued_at,
        body::to_value(body),
    )?;
    ledger::rules::check_submission_value(serde_json::to_value(&entry)?).map_err(|r| {
        anyhow::anyhow!(
            "{}",
            t!("sign.refused", message = crate::i18n::refusal(&r.into()))
        )
    })?;
    let client = NodeClient::new(&signer.node);
    let verifier = crate::trusted_verifier(&client, signer.vkey.clone(), signer.genesis.clone())?;
    Submitter::new(&client, &verifier)
        .submit(std::slice::from_ref(&entry))?
        .pop()
        .with_context(|| t!("receipt.results"))
}

/// Entry 0 of a new ledger (SPEC §5): the registrar organisation, registered
/// by a statement its own key signs with the `registrar` role.
pub struct Genesis {
    /// The fresh node.
    pub node: String,
    /// The node's vkey, if the operator has it already (else the node's own).
    pub vkey: Option<String>,
    /// The registrar's signing key file.
    pub key: PathBuf,
    /// The registrar organisation.
    pub org: body::Org,
    /// The roles of the signing key (`registrar` is added when missing).
    pub roles: Vec<Role>,
    /// Other keys of the registrar organisation.
    pub more_keys: Vec<KeyGrant>,
}

/// `aidledger genesis`: refuses a node that holds any entry; else signs the
/// registrar's `org.register`, submits it through [`submit_one`] (receipt
/// verified, its seq must be 0) and prints, to `out`, the three values the
/// operator publishes: origin, vkey and the genesis leaf hash (the labels
/// are those of `init`, in both languages, so that a script can read them).
pub fn genesis(g: Genesis, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    check_org_id(&g.org.id)?;
    let client = NodeClient::new(&g.node);
    let before = client.log_info()?;
    if before.size > 0 {
        anyhow::bail!(
            "{}",
            rust_i18n::t!(
                "genesis.exists",
                node = g.node,
                genesis = before.genesis.map_or("-".into(), |g| g.to_hex()),
                size = before.size
            )
        );
    }
    let key = ledger::keyfile::read(&g.key)?;
    let public = hex::encode(key.verifying_key().to_bytes());
    let mut roles = g.roles;
    if !roles.contains(&Role::Registrar) {
        roles.insert(0, Role::Registrar);
    }
    let mut keys = vec![KeyGrant {
        key: public.clone(),
        roles,
    }];
    keys.extend(g.more_keys);
    let body = body::OrgRegister { org: g.org, keys };
    let signer = Signer {
        node: g.node,
        vkey: g.vkey,
        genesis: None,
        key: g.key,
        issuer: body.org.id.clone(),
    };
    let receipt = match submit_one(&signer, &body)? {
        Ok(r) => r,
        Err(e) => return Ok(refused(&e)),
    };
    if receipt.seq != 0 {
        return Err(crate::Failed(
            rust_i18n::t!("genesis.not_first", seq = receipt.seq).into_owned(),
        )
        .into());
    }
    let info = client.log_info()?;
    let genesis = receipt.leaf_hash;
    anyhow::ensure!(
        info.genesis == Some(genesis),
        "the node's /v1/log names genesis {:?}, not the receipt's {genesis}",
        info.genesis
    );
    // The receipt was verified with this vkey (the one given, which must
    // then be the node's, or the node's own).
    let vkey = signer.vkey.unwrap_or(info.vkey);
    writeln!(
        out,
        "{}",
        rust_i18n::t!(
            "genesis.done",
            org = body.org.id,
            name = body.org.name,
            key = public
        )
    )?;
    writeln!(out, "{}", rust_i18n::t!("genesis.publish"))?;
    writeln!(out, "origin   {}", info.origin)?;
    writeln!(out, "vkey     {vkey}")?;
    writeln!(out, "genesis  {genesis}")?;
    Ok(ExitCode::SUCCESS)
}
