//! The commands that show the ledger as tables (`fund`, `beneficiary`) and
//! `iati`; names for ids, labels for codes, columns by terminal width.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use cli::client::{seg, NodeClient};
use cli::i18n;
use cli::{iati, vocab, write_durably};
use ledger::api::{EntrySummary, FundView, Page};
use ledger::body::AnyBody;
use ledger::domain::Approval;
use ledger::entry::format_timestamp;
use ledger::records::OrgRec;
use rust_i18n::t;

use super::{pad, pad_left, table_line};
use crate::{BeneficiaryArgs, FundCmd, IatiArgs};

pub(crate) fn fund_show(
    FundCmd {
        node, limit, id, ..
    }: FundCmd,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let id = id.with_context(|| t!("fund.no_id"))?;
    let client = NodeClient::new(&node.node);
    let view: FundView = client
        .get_as(&format!("/v1/funds/{}", seg(&id)))
        .with_context(|| t!("fund.looking_up", fund = id))?;
    let f = &view.fund;
    let names = org_names(&client)?;
    let rows = [
        ("fund", f.fund.clone()),
        ("title", f.title.clone()),
        ("owner", org_name(&names, &f.owner)),
        ("category", vocab::label("category", f.category.as_str())),
        ("source", vocab::label("source", f.source.as_str())),
        ("region", f.region.clone()),
        ("start", f.start.clone()),
        ("end", f.end.clone()),
    ];
    for (field, value) in rows {
        let label = format!("fund.field.{field}");
        writeln!(stdout, "{}", table_line(&t!(&label), &value))?;
    }
    for (field, fen) in [
        ("budget", f.budget),
        ("received", f.received),
        ("transferred_in", f.transferred_in),
        ("transferred_out", f.transferred_out),
        ("disbursed", f.disbursed),
        ("pending", f.pending),
        ("recovered", f.recovered),
        ("balance", f.balance),
    ] {
        if matches!(field, "pending" | "recovered") && fen == 0 {
            continue;
        }
        let money = t!("money", amount = format!("{:>16}", vocab::yuan(fen)));
        let label = format!("fund.field.{field}");
        writeln!(stdout, "{}", table_line(&t!(&label), &money))?;
    }
    if let Some(bp) = view.execution_rate_bp {
        let rate = format!("{:>16}%", format!("{}.{:02}", bp / 100, bp % 100));
        writeln!(stdout, "{}", table_line(&t!("fund.field.executed"), &rate))?;
    }
    if let Some(bp) = view.recovery_rate_bp.filter(|_| f.recovered > 0) {
        let rate = format!("{:>16}%", format!("{}.{:02}", bp / 100, bp % 100));
        writeln!(
            stdout,
            "{}",
            table_line(&t!("fund.field.recovery_rate"), &rate)
        )?;
    }
    if let Some(threshold) = f.approval_threshold {
        let money = t!("money", amount = format!("{:>16}", vocab::yuan(threshold)));
        writeln!(
            stdout,
            "{}",
            table_line(&t!("fund.field.approval_threshold"), &money)
        )?;
    }
    let flows = f.receipts
        + f.transfers_in
        + f.transfers_out
        + f.disbursements
        + f.pending_count
        + f.recoveries;
    if limit > 0 {
        let page: Page<EntrySummary> = client.get_as(&format!(
            "/v1/funds/{}/flows?limit={}",
            seg(&id),
            limit.min(cli::client::PAGE)
        ))?;
        let items = page.items;
        writeln!(stdout)?;
        entries_table(stdout, &items, &names)?;
        if flows > items.len() as u64 {
            writeln!(
                stdout,
                "{}",
                t!(
                    "fund.more_flows",
                    shown = items.len(),
                    flows = flows,
                    page = cli::client::PAGE
                )
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn beneficiary(
    BeneficiaryArgs { node, lookup, bnf }: BeneficiaryArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&node.node);
    let bnf = lookup.pseudonym(&client, &bnf)?;
    let items = client.all_items(&format!("/v1/beneficiaries/{}", seg(&bnf)))?;
    entries_table(stdout, &items, &org_names(&client)?)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn iati_export(
    IatiArgs {
        node,
        org,
        fund,
        out,
    }: IatiArgs,
    stdout: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&node.node);
    let now = format_timestamp(SystemTime::now());
    let now = format!("{}Z", &now[..19]);
    let xml = iati::export(&client, &org, fund.as_deref(), &now[..10], &now)?;
    write_durably(&out, xml.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    writeln!(stdout, "{}", t!("iati.wrote", path = out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Organisation ids → names, for tables that say who did what.
fn org_names(client: &NodeClient) -> anyhow::Result<HashMap<String, String>> {
    Ok(client
        .all_items::<OrgRec>("/v1/orgs")?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

/// An organisation as a reader knows it: its name, then its id.
fn org_name(names: &HashMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

/// Entry summaries as a table: seq, date, kind, issuer, amount, detail.
pub(crate) fn entries_table(
    out: &mut impl Write,
    items: &[EntrySummary],
    names: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let columns = |seq: &str, date: &str, kind: &str, issuer: &str, amount: &str, detail: &str| {
        format!(
            "{}  {}  {}  {}  {}  {detail}",
            pad_left(seq, 8),
            pad(date, 10),
            pad(kind, 14),
            pad(issuer, 28),
            pad_left(amount, 14)
        )
    };
    writeln!(
        out,
        "{}",
        columns(
            &t!("table.seq"),
            &t!("table.date"),
            &t!("table.kind"),
            &t!("table.issuer"),
            &t!("table.amount"),
            &t!("table.detail")
        )
    )?;
    for e in items {
        let body = AnyBody::parse(e.kind, &e.body).ok();
        let logged = &e.logged_at;
        let date = body
            .as_ref()
            .and_then(AnyBody::date)
            .unwrap_or(&logged[..10.min(logged.len())])
            .to_owned();
        let detail = match &body {
            Some(AnyBody::Disbursement(b)) => format!(
                "{} {} {} {}",
                b.fund,
                vocab::label("cause", b.cause.as_str()),
                vocab::label("method", b.method.as_str()),
                b.region
            ),
            Some(AnyBody::FundTransfer(b)) => format!("{} → {}", b.from_fund, b.to_fund),
            Some(AnyBody::FundRecover(b)) => format!(
                "{} {} {}",
                b.fund,
                vocab::label("recovery_reason", b.reason.as_str()),
                b.disbursement.map_or_else(String::new, |d| format!("#{d}"))
            ),
            Some(AnyBody::FundReceive(b)) => {
                t!("table.from", from = org_name(names, &b.from)).into_owned()
            }
            Some(AnyBody::NeedPublish(b)) => t!(
                "table.need",
                need = b.need,
                cause = vocab::label("cause", b.cause.as_str())
            )
            .into_owned(),
            _ => String::new(),
        };
        let reversed = if e.is_reversed() {
            t!("table.reversed").into_owned()
        } else {
            match e.approval {
                Some(Approval::Pending) => t!("table.pending").into_owned(),
                Some(Approval::Rejected) => t!("table.rejected").into_owned(),
                _ => String::new(),
            }
        };
        let issuer = names.get(&e.issuer).unwrap_or(&e.issuer);
        writeln!(
            out,
            "{}",
            columns(
                &e.seq.to_string(),
                &date,
                &i18n::kind(e.kind.as_str()),
                issuer,
                &body
                    .as_ref()
                    .and_then(AnyBody::amount)
                    .map_or_else(|| "-".into(), vocab::yuan),
                &format!("{detail}{reversed}")
            )
        )?;
    }
    writeln!(out, "{}", t!("table.count", count = items.len()))?;
    Ok(())
}
