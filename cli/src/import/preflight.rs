//! What is checked before anything is signed: the key and its role, the
//! funds (missing or another's make their rows row errors) and balances.

use std::collections::HashMap;

use anyhow::{bail, Context};
use ledger::api::{FundView, OrgView};
use ledger::code::Code;
use ledger::domain::Kind;
use ledger::entry::SignedEntry;

use rust_i18n::t;

use super::rows::{Import, Rows};
use crate::client::{seg, NodeClient};
use crate::explain::{self, Arg, Problem};
use crate::vocab::yuan;

/// The funds a file names, as the node shows them before anything is sent.
#[derive(Default)]
pub struct Funds {
    /// The issuer's funds: fund → balance (fen).
    pub balances: HashMap<String, u64>,
    /// Funds whose rows cannot go in (not on this ledger, or another
    /// organisation's): fund → why. Their rows are row errors.
    pub refused: HashMap<String, Problem>,
}

/// What the checks before signing found.
pub struct Preflight {
    /// Warnings (a file whose total passes a fund's balance).
    pub warnings: Vec<String>,
    /// The funds named.
    pub funds: Funds,
}

/// The checks made once before anything is signed: the key is registered
/// to the issuer, active, and holds the role the kind needs; every fund
/// named is read (one that is not there, or not the issuer's, makes its
/// rows row errors). An `Err` means nothing may be sent.
pub fn preflight(client: &NodeClient, opts: &Import<'_>, rows: &Rows) -> anyhow::Result<Preflight> {
    let key = hex::encode(opts.key.verifying_key().to_bytes());
    let org: OrgView = match client.get_as(&format!("/v1/orgs/{}", seg(opts.issuer))) {
        Ok(org) => org,
        Err(e)
            if e.downcast_ref::<crate::client::NodeError>()
                .is_some_and(|n| n.status == 404) =>
        {
            bail!("{}", t!("preflight.no_org", org = opts.issuer))
        }
        Err(e) => return Err(e),
    };
    let k = org.keys.iter().find(|k| k.key == key).with_context(|| {
        t!("preflight.not_their_key", key = key, org = opts.issuer).into_owned()
    })?;
    if let Some(seq) = k.revoked_seq {
        bail!(
            "{}",
            t!("preflight.revoked", key = key, org = opts.issuer, seq = seq)
        );
    }
    let Some(role) = opts.kind.role() else {
        bail!("{}", t!("import.kinds", kind = opts.kind));
    };
    if !k.roles.contains(&role) {
        bail!(
            "{}",
            t!(
                "preflight.role",
                key = key,
                org = opts.issuer,
                role = role,
                kind = opts.kind
            )
        );
    }
    let mut needed: std::collections::BTreeMap<String, u64> = Default::default();
    for (_, body) in &rows.bodies {
        let fields = super::Fields::of(body);
        if let Some(fund) = fields.fund {
            let n = needed.entry(fund).or_default();
            *n = n.saturating_add(fields.amount.unwrap_or(0));
        }
    }
    let mut warnings = Vec::new();
    let mut funds = Funds::default();
    for (fund, total) in &needed {
        let (fund, total) = (fund.as_str(), *total);
        let f = match client.get_as::<FundView>(&format!("/v1/funds/{}", seg(fund))) {
            Ok(f) => f.fund,
            Err(e)
                if e.downcast_ref::<crate::client::NodeError>()
                    .is_some_and(|n| n.status == 404) =>
            {
                funds.refused.insert(
                    fund.to_owned(),
                    Problem::new("row.no_fund").text("fund", fund),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        if f.owner != opts.issuer {
            funds.refused.insert(
                fund.to_owned(),
                Problem::new("row.not_their_fund")
                    .text("fund", fund)
                    .text("owner", &f.owner)
                    .text("org", opts.issuer),
            );
            continue;
        }
        let balance = f.balance;
        funds.balances.insert(fund.to_owned(), balance);
        if opts.kind == Kind::Disbursement && total > balance {
            warnings.push(
                rust_i18n::t!(
                    "import.shortfall",
                    fund = fund,
                    balance = yuan(balance),
                    needed = yuan(total),
                    short = yuan(total - balance)
                )
                .into_owned(),
            );
        }
    }
    Ok(Preflight { warnings, funds })
}

/// The checks the node makes before the rules, run here so a bad row is
/// reported by row number without a round trip, and so that a resident ID
/// or mobile number typed into any column never leaves this machine. A
/// schema refusal is said by the field it is about, never in the
/// validator's words.
pub(super) fn precheck(e: &SignedEntry) -> Result<(), (Code, Vec<Problem>)> {
    const SCHEMA: Code = Code::SchemaViolation;
    let value = serde_json::to_value(e).map_err(|e| {
        let problem = Problem::new("row.node")
            .text("code", SCHEMA.as_str())
            .text("message", e.to_string());
        (SCHEMA, vec![problem])
    })?;
    ledger::schema::validate_entry(&value).map_err(|e| {
        let field = e.path.rsplit('/').next().unwrap_or_default();
        let problem = Problem::new("row.schema").with("field", explain::field_arg(field));
        (SCHEMA, vec![problem])
    })?;
    match ledger::ident::pii_in_statement(&e.statement) {
        Some((path, pii)) => Err((
            Code::PiiDetected,
            vec![Problem::new("row.pii")
                .with(
                    "path",
                    explain::field_arg(path.rsplit('/').next().unwrap_or_default()),
                )
                .with(
                    "what",
                    Arg::Key(match pii {
                        ledger::ident::Pii::ResidentId => "pii.resident_id",
                        ledger::ident::Pii::Mobile => "pii.mobile",
                    }),
                )],
        )),
        None => Ok(()),
    }
}
