//! IATI 2.03 activity XML for one organisation's funds: one activity per
//! fund; receipts and transfers in as transaction type 1 (Incoming Funds);
//! transfers out and disbursements as type 3 (Disbursement), disbursements
//! summed per day and region so no beneficiary can be picked out. Reversed
//! entries are left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context};
use ledger::api::{EntrySummary, FundView, OrgView};
use ledger::body::AnyBody;
use ledger::records::{FundRec, OrgRec};
use quick_xml::escape::escape;
use rust_i18n::t;

use crate::client::{seg, NodeClient};

/// IATI sector (vocabulary 1, DAC 5-digit) for a fund category.
fn sector(category: &str) -> &'static str {
    match category {
        "medical" => "12220",
        "education" => "11220",
        "employment" => "16020",
        "housing" => "16040",
        "disaster" => "72010",
        _ => "16010",
    }
}

/// IATI OrganisationType for an org type.
fn org_type(t: &str) -> &'static str {
    match t {
        "government" => "10",
        "union" => "15",
        "charity" => "22",
        _ => "90",
    }
}

/// Fen as a decimal amount in yuan.
fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn narrative(out: &mut String, tag: &str, attrs: &str, text: &str) {
    let _ = write!(
        out,
        "<{tag}{attrs}><narrative>{}</narrative></{tag}>",
        escape(text)
    );
}

/// The IATI identifier of a fund's activity.
fn activity_id(owner: &str, fund: &str) -> String {
    format!("{owner}-{fund}")
}

/// Builds the XML document for `org`'s funds (or just `only`).
pub fn export(
    client: &NodeClient,
    org: &str,
    only: Option<&str>,
    today: &str,
    now: &str,
) -> anyhow::Result<String> {
    let org_rec: OrgView = client
        .get_as(&format!("/v1/orgs/{}", seg(org)))
        .with_context(|| t!("iati.org", org = org))?;
    let funds: Vec<FundRec> = match only {
        Some(id) => vec![
            client
                .get_as::<FundView>(&format!("/v1/funds/{}", seg(id)))?
                .fund,
        ],
        None => client.all_items("/v1/funds")?,
    };
    let funds: Vec<&FundRec> = funds.iter().filter(|f| f.owner == org).collect();
    if funds.is_empty() {
        bail!("{}", t!("iati.no_fund", org = org));
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<iati-activities version=\"2.03\" generated-datetime=\"{now}\">\n"
    );
    for fund in funds {
        let flows = client.all_items(&format!("/v1/funds/{}/flows", seg(&fund.fund)))?;
        activity(&mut out, &org_rec.org, fund, &flows, today, now);
    }
    out.push_str("</iati-activities>\n");
    Ok(out)
}

/// One fund as an `iati-activity`: what it is, then its transactions.
fn activity(
    out: &mut String,
    org: &OrgRec,
    fund: &FundRec,
    flows: &[EntrySummary],
    today: &str,
    now: &str,
) {
    describe(out, org, fund, today, now);
    transactions(out, &fund.fund, flows);
    out.push_str("</iati-activity>\n");
}

/// The activity's opening and identity: ids, organisations, title,
/// status, dates, sector and budget.
fn describe(out: &mut String, org: &OrgRec, fund: &FundRec, today: &str, now: &str) {
    let id = fund.fund.as_str();
    let owner = fund.owner.as_str();
    let (start, end) = (fund.start.as_str(), fund.end.as_str());
    let _ = write!(
        out,
        "<iati-activity last-updated-datetime=\"{now}\" xml:lang=\"zh\" default-currency=\"CNY\">\
         <iati-identifier>{}</iati-identifier>",
        escape(activity_id(owner, id))
    );
    narrative(
        out,
        "reporting-org",
        &format!(
            " ref=\"{}\" type=\"{}\"",
            escape(owner),
            org_type(org.org_type.as_str())
        ),
        &org.name,
    );
    narrative(out, "title", "", &fund.title);
    narrative(
        out,
        "description",
        "",
        &format!(
            "aidledger fund {id}: category {}, source {}",
            fund.category, fund.source
        ),
    );
    narrative(
        out,
        "participating-org",
        &format!(
            " ref=\"{}\" role=\"4\" type=\"{}\"",
            escape(owner),
            org_type(org.org_type.as_str())
        ),
        &org.name,
    );
    let status = if today < start {
        1
    } else if today <= end {
        2
    } else {
        3
    };
    let _ = write!(
        out,
        "<activity-status code=\"{status}\"/><activity-date iso-date=\"{start}\" type=\"1\"/>\
         <activity-date iso-date=\"{end}\" type=\"3\"/><recipient-country code=\"CN\"/>\
         <sector code=\"{}\" vocabulary=\"1\"/>\
         <budget type=\"1\" status=\"2\"><period-start iso-date=\"{start}\"/><period-end iso-date=\"{end}\"/>\
         <value currency=\"CNY\" value-date=\"{start}\">{}</value></budget>",
        sector(fund.category.as_str()),
        yuan(fund.budget)
    );
}

/// The fund's unreversed flows as IATI transactions: receipts and
/// transfers one by one, disbursements summed by date and region (no
/// household is named).
fn transactions(out: &mut String, id: &str, flows: &[EntrySummary]) {
    // Disbursements: (date, region) → (sum, count).
    let mut paid: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    // Reversed entries, and payments waiting for approval or rejected, are
    // no money moved.
    for e in flows
        .iter()
        .filter(|e| !e.is_reversed() && e.is_decided_paid())
    {
        let Ok(body) = AnyBody::parse(e.kind, &e.body) else {
            continue;
        };
        let amount = body.amount().unwrap_or(0);
        let date = body.date().unwrap_or_default();
        match &body {
            AnyBody::FundReceive(b) => transaction(
                out,
                1,
                date,
                amount,
                &format!("receipt, seq {}", e.seq),
                Some(("provider-org", "", &b.from)),
                None,
            ),
            AnyBody::FundTransfer(b) if b.to_fund == id => {
                let attr = format!(
                    " provider-activity-id=\"{}\"",
                    escape(activity_id(&e.issuer, &b.from_fund))
                );
                transaction(
                    out,
                    1,
                    date,
                    amount,
                    &format!("transfer in, seq {}", e.seq),
                    Some(("provider-org", &attr, &b.from_fund)),
                    None,
                );
            }
            AnyBody::FundTransfer(b) => {
                transaction(
                    out,
                    3,
                    date,
                    amount,
                    &format!("transfer out, seq {}", e.seq),
                    Some(("receiver-org", "", &b.to_fund)),
                    None,
                );
            }
            // Money recovered (资金回笼) is back in the fund for use on the
            // activity: Incoming Funds. A bnf_ pseudonym is not named as
            // an organisation.
            AnyBody::FundRecover(b) => {
                let from = if b.from.starts_with("bnf_") {
                    "beneficiary (pseudonymous)"
                } else {
                    b.from.as_str()
                };
                transaction(
                    out,
                    1,
                    date,
                    amount,
                    &format!("recovery ({}), seq {}", b.reason, e.seq),
                    Some(("provider-org", "", from)),
                    None,
                );
            }
            AnyBody::Disbursement(b) => {
                let slot = paid.entry((date.to_owned(), b.region.clone())).or_default();
                slot.0 += amount;
                slot.1 += 1;
            }
            _ => {}
        }
    }
    for ((date, region), (sum, count)) in &paid {
        transaction(
            out,
            3,
            date,
            *sum,
            &format!("{count} disbursements to households"),
            None,
            Some(region),
        );
    }
}

fn transaction(
    out: &mut String,
    code: u8,
    date: &str,
    fen: u64,
    description: &str,
    org: Option<(&str, &str, &str)>,
    region: Option<&str>,
) {
    let _ = write!(
        out,
        "<transaction><transaction-type code=\"{code}\"/><transaction-date iso-date=\"{date}\"/>\
         <value currency=\"CNY\" value-date=\"{date}\">{}</value>",
        yuan(fen)
    );
    narrative(out, "description", "", description);
    if let Some((tag, attrs, name)) = org {
        narrative(out, tag, attrs, name);
    }
    if let Some(region) = region {
        let _ = write!(
            out,
            "<recipient-region code=\"{}\" vocabulary=\"99\"/>",
            escape(region)
        );
    }
    out.push_str("</transaction>");
}
