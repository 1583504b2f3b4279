//! The workflows of rules version 2 (SPEC §6.2) from the command line:
//! `rules activate`, `need review`, `household monitor|visit|close|show`,
//! `fund recover`, `approve` (with no seq: what waits for approval) and
//! `reject`. Each builds a typed body and goes through
//! `admin::sign_and_submit`: checked as the node would, signed, submitted,
//! its receipt verified.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use ledger::api::{EntrySummary, Page};
use ledger::body::{self, AnyBody};
use ledger::records::HouseholdRec;
use rust_i18n::t;
use serde::Deserialize;

use crate::args::{
    ApproveArgs, FundRecoverArgs, HouseholdCloseArgs, HouseholdMonitorArgs, HouseholdShowArgs,
    HouseholdVisitArgs, NeedReviewArgs, RejectArgs, RulesActivateArgs, RulesPseudonymKeyArgs,
    ServiceArg,
};
use cli::admin;
use cli::client::{seg, NodeClient};
use cli::vocab;

pub(crate) fn rules_activate(args: RulesActivateArgs) -> anyhow::Result<ExitCode> {
    let done = t!("rules.activated", version = args.version).into_owned();
    let body = body::RulesActivate {
        version: args.version,
        note: args.note,
    };
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn pseudonym_key(args: RulesPseudonymKeyArgs) -> anyhow::Result<ExitCode> {
    // Checked here too, so that a key pasted wrong is said before signing.
    ledger::oprf::PublicKey::from_hex(&args.public)?;
    let done = t!("rules.pseudonym_key", service = args.service).into_owned();
    let body = body::PseudonymKey {
        key: args.public,
        service: args.service,
    };
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

pub(crate) fn need_review(args: NeedReviewArgs) -> anyhow::Result<ExitCode> {
    let done = t!(
        "need.reviewed",
        need = args.need,
        decision = vocab::label("decision", args.decision.as_str())
    )
    .into_owned();
    let body = body::NeedReview {
        need: args.need,
        decision: args.decision,
        note: args.note,
    };
    admin::sign_and_submit(&args.signer.into(), &body, &done)
}

/// The household's pseudonym from what the user gave: a pseudonym, or a
/// resident ID number whose pseudonym the service gives the signer.
fn household_of(
    signer: &admin::Signer,
    given: &str,
    service: &ServiceArg,
) -> anyhow::Result<String> {
    super::pseudonym_of(
        &NodeClient::new(&signer.node),
        given,
        Some(&signer.key),
        Some(&signer.issuer),
        service.url.as_deref(),
    )
}

pub(crate) fn household_monitor(mut args: HouseholdMonitorArgs) -> anyhow::Result<ExitCode> {
    let signer: admin::Signer = args.signer.into();
    args.beneficiary = household_of(&signer, &args.beneficiary, &args.service)?;
    let done = t!("household.monitored", bnf = short(&args.beneficiary)).into_owned();
    let mut risks = args.risks;
    risks.sort();
    risks.dedup();
    let body = body::HouseholdMonitor {
        beneficiary: args.beneficiary,
        tier: args.tier,
        risks,
        region: args.region,
        review_by: args.review_by,
    };
    admin::sign_and_submit(&signer, &body, &done)
}

pub(crate) fn household_visit(mut args: HouseholdVisitArgs) -> anyhow::Result<ExitCode> {
    let signer: admin::Signer = args.signer.into();
    args.beneficiary = household_of(&signer, &args.beneficiary, &args.service)?;
    let done = t!(
        "household.visited",
        bnf = short(&args.beneficiary),
        next = args.next_review_by
    )
    .into_owned();
    let body = body::HouseholdVisit {
        beneficiary: args.beneficiary,
        date: args.date,
        findings: args.findings,
        next_review_by: args.next_review_by,
    };
    admin::sign_and_submit(&signer, &body, &done)
}

pub(crate) fn household_close(mut args: HouseholdCloseArgs) -> anyhow::Result<ExitCode> {
    let signer: admin::Signer = args.signer.into();
    args.beneficiary = household_of(&signer, &args.beneficiary, &args.service)?;
    let done = t!("household.closed", bnf = short(&args.beneficiary)).into_owned();
    let body = body::HouseholdClose {
        beneficiary: args.beneficiary,
        reason: args.reason,
    };
    admin::sign_and_submit(&signer, &body, &done)
}

/// `GET /v1/households/{bnf}`'s answer.
#[derive(Deserialize)]
struct HouseholdAnswer {
    household: HouseholdRec,
    open_alerts: Vec<ledger::domain::MonitoringAlert>,
    items: Vec<EntrySummary>,
}

pub(crate) fn household_show(
    args: HouseholdShowArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.node.node);
    let bnf = args.lookup.pseudonym(&client, &args.bnf)?;
    let answer: HouseholdAnswer = client
        .get_as(&format!("/v1/households/{}", seg(&bnf)))
        .with_context(|| t!("household.looking_up", bnf = short(&bnf)))?;
    let h = &answer.household;
    let state = if h.monitored {
        t!("household.state_monitored", since = h.since)
    } else {
        t!("household.state_closed")
    };
    let risks: Vec<String> = h
        .risks
        .iter()
        .map(|r| vocab::label("risk", r.as_str()))
        .collect();
    for (label, value) in [
        (t!("household.field.beneficiary"), h.beneficiary.clone()),
        (t!("household.field.state"), state.into_owned()),
        (
            t!("household.field.tier"),
            vocab::label("tier", h.tier.as_str()),
        ),
        (t!("household.field.risks"), risks.join(", ")),
        (t!("household.field.region"), h.region.clone()),
        (t!("household.field.review_by"), h.review_by.clone()),
        (t!("household.field.visits"), h.visits.to_string()),
    ] {
        writeln!(out, "{label:<12} {value}")?;
    }
    for alert in &answer.open_alerts {
        writeln!(out, "⚠ {}", vocab::label("alert", alert.as_str()))?;
    }
    for e in &answer.items {
        let what = match AnyBody::parse(e.kind, &e.body) {
            Ok(AnyBody::HouseholdMonitor(b)) => {
                t!("household.entry_monitor", review_by = b.review_by)
            }
            Ok(AnyBody::HouseholdVisit(b)) => t!(
                "household.entry_visit",
                date = b.date,
                findings = b.findings,
                next = b.next_review_by
            ),
            Ok(AnyBody::HouseholdClose(b)) => t!("household.entry_close", reason = b.reason),
            _ => continue,
        };
        writeln!(
            out,
            "{:>8}  {}  {what}",
            e.seq,
            &e.logged_at[..10.min(e.logged_at.len())]
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn fund_recover(mut args: FundRecoverArgs) -> anyhow::Result<ExitCode> {
    let signer: admin::Signer = args.signer.into();
    if !ledger::ident::is_org_id(&args.from) {
        args.from = household_of(&signer, &args.from, &args.service)?;
    }
    let done = t!(
        "fund.recovered",
        amount = vocab::yuan(args.amount),
        fund = args.fund
    )
    .into_owned();
    let body = body::FundRecover {
        fund: args.fund,
        amount: args.amount,
        from: args.from,
        reason: args.reason,
        date: args.date,
        disbursement: args.disbursement,
        reference: args.reference,
    };
    admin::sign_and_submit(&signer, &body, &done)
}

/// With seqs, approves each; with none, lists the disbursements of the
/// issuer's funds that wait for approval.
pub(crate) fn approve(args: ApproveArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if args.seqs.is_empty() {
        return waiting(&args.signer.node.node, &args.signer.issuer, out);
    }
    let signer: admin::Signer = args.signer.into();
    let mut worst = ExitCode::SUCCESS;
    for seq in args.seqs {
        let done = t!("approve.approved", seq = seq).into_owned();
        let code = admin::sign_and_submit(
            &signer,
            &body::DisbursementApprove { disbursement: seq },
            &done,
        )?;
        if code != ExitCode::SUCCESS {
            worst = code;
        }
    }
    Ok(worst)
}

pub(crate) fn reject(args: RejectArgs) -> anyhow::Result<ExitCode> {
    let signer: admin::Signer = args.signer.into();
    let mut worst = ExitCode::SUCCESS;
    for seq in args.seqs {
        let done = t!("approve.rejected", seq = seq).into_owned();
        let body = body::DisbursementReject {
            disbursement: seq,
            reason: args.reason.clone(),
        };
        let code = admin::sign_and_submit(&signer, &body, &done)?;
        if code != ExitCode::SUCCESS {
            worst = code;
        }
    }
    Ok(worst)
}

/// The disbursements of `org`'s funds waiting for a second key.
fn waiting(node: &str, org: &str, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(node);
    let mut path = format!("/v1/orgs/{}/pending", seg(org));
    let mut rows = Vec::new();
    loop {
        let page: Page<EntrySummary> = client.get_as(&path)?;
        rows.extend(page.items);
        match page.next_cursor {
            Some(c) => path = format!("/v1/orgs/{}/pending?cursor={}", seg(org), seg(&c)),
            None => break,
        }
    }
    if rows.is_empty() {
        writeln!(out, "{}", t!("approve.none", org = org))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{}", t!("approve.header"))?;
    for e in &rows {
        if let Ok(AnyBody::Disbursement(b)) = AnyBody::parse(e.kind, &e.body) {
            writeln!(
                out,
                "{:>8}  {}  {:>14}  {}  {}  {}",
                e.seq,
                b.date,
                vocab::yuan(b.amount),
                b.fund,
                short(&b.beneficiary),
                vocab::label("cause", b.cause.as_str())
            )?;
        }
    }
    writeln!(out, "{}", t!("approve.count", count = rows.len()))?;
    Ok(ExitCode::SUCCESS)
}

/// A pseudonym as the page shows it: `bnf_` and its first 8 hex.
fn short(bnf: &str) -> String {
    match bnf.get(..12) {
        Some(head) if bnf.len() > 12 => format!("{head}…"),
        _ => bnf.to_owned(),
    }
}
