//! The workflows of rules version 2 with the real `aidledger` and the real
//! node (issue 29): the registrar activates version 2 and adds keys of the
//! new roles; a need is reviewed by two other organisations; a household
//! is put under monitoring, visited and shown; a fund under dual control
//! pays, a second key lists what waits, approves one and rejects one;
//! money is recovered; `verify` says which rules judged which seqs. In
//! English and in Chinese.

mod common;

use common::*;
use serde_json::json;

const ZH: [(&str, &str); 1] = [("LANG", "zh_CN.UTF-8")];
const UNION: &str = "CN-USCI-81110000000000019C";
const CHARITY2: &str = "CN-USCI-91110000600037341L";

fn bnf(n: u32) -> String {
    format!("bnf_{n:064x}")
}

/// `args` signed by `key` for `issuer` on the world's node.
fn signer<'a>(w: &'a World, key: &'a str, issuer: &'a str) -> Vec<String> {
    [
        "--node",
        &w.node.url,
        "--vkey",
        &w.vkey,
        "--key",
        key,
        "--issuer",
        issuer,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn run(args: &[&str], signed: &[String]) -> Out {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(signed.iter().cloned());
    cli(&all, None)
}

#[test]
fn version_2_workflows_from_the_command_line() {
    let w = World::new();
    let bureau = w.bureau_key.to_str().unwrap().to_owned();
    let charity = w.charity_key.to_str().unwrap().to_owned();
    let as_bureau = signer(&w, &bureau, BUREAU);
    let as_charity = signer(&w, &charity, CHARITY);

    // Before activation a v2 option is refused by the node's rules.
    let early = run(
        &[
            "fund",
            "open",
            "--id",
            "BIG-0",
            "--title",
            "大额救助",
            "--category",
            "临时救助",
            "--source",
            "社会捐赠",
            "--region",
            "321181",
            "--start",
            "2026-01-01",
            "--end",
            "2026-12-31",
            "--approval-threshold",
            "10000",
        ],
        &as_charity,
    );
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(
        early.stderr.contains("schema_violation") || early.stderr.contains("rules version"),
        "{}",
        early.stderr
    );

    let activated = run(
        &[
            "rules",
            "activate",
            "--version",
            "2",
            "--note",
            "启用第2版规则",
        ],
        &as_bureau,
    );
    assert_eq!(activated.code, 0, "{}", activated.stderr);
    let again = run(
        &["rules", "activate", "--version", "2", "--note", "again"],
        &as_bureau,
    );
    assert_eq!(again.code, 1, "{}", again.stderr);

    // Keys of the new roles: two more organisations review needs, the
    // bureau gets a monitor (who also publishes), the charity an approver.
    let reviewer_a = w.dir.path().join("union.key");
    let reviewer_b = w.dir.path().join("redcross.key");
    let approver = w.dir.path().join("approver.key");
    let monitor = w.dir.path().join("monitor.key");
    let (a_pub, b_pub) = (keygen(&reviewer_a), keygen(&reviewer_b));
    let (approver_pub, monitor_pub) = (keygen(&approver), keygen(&monitor));
    for (id, name, t, key) in [
        (UNION, "市总工会", "union", a_pub.trim()),
        (CHARITY2, "红十字会", "charity", b_pub.trim()),
    ] {
        let out = run(
            &[
                "org",
                "register",
                "--id",
                id,
                "--name",
                name,
                "--type",
                t,
                "--region",
                "321181",
                "--org-key",
                &format!("{key}=review"),
            ],
            &as_bureau,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    for (org, key, roles) in [
        (CHARITY, approver_pub.trim(), "approve"),
        (BUREAU, monitor_pub.trim(), "monitor,publish"),
    ] {
        let out = run(
            &[
                "key", "add", "--org", org, "--public", key, "--roles", roles,
            ],
            &as_bureau,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    // A need reviewed twice opens; the publisher cannot review it.
    let monitor_s = monitor.to_str().unwrap().to_owned();
    let as_monitor = signer(&w, &monitor_s, BUREAU);
    let publish = w.sign(
        &monitor,
        BUREAU,
        "need.publish",
        json!({
        "need": "XQ-1", "beneficiary": bnf(1), "category": "medical", "cause": "illness",
        "amount": 200_000, "region": "321181", "summary": "住院费用缺口"}),
    );
    w.submit(&publish);
    let a_s = reviewer_a.to_str().unwrap().to_owned();
    let b_s = reviewer_b.to_str().unwrap().to_owned();
    for (key, org, decision) in [(&a_s, UNION, "通过"), (&b_s, CHARITY2, "approve")] {
        let out = run(
            &[
                "need",
                "review",
                "--need",
                "XQ-1",
                "--decision",
                decision,
                "--note",
                "入户核实",
            ],
            &signer(&w, key, org),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let need = w.node.get("/v1/needs?state=open");
    assert_eq!(need["items"][0]["need"], "XQ-1", "{need}");

    // A household under monitoring, visited, shown in both languages.
    let out = run(
        &[
            "household",
            "monitor",
            "--beneficiary",
            &bnf(7),
            "--risks",
            "因病,收入骤减",
            "--region",
            "321181",
            "--review-by",
            "2026/9/30",
        ],
        &as_monitor,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(
        &[
            "household",
            "visit",
            "--beneficiary",
            &bnf(7),
            "--date",
            "2026-09-20",
            "--findings",
            "已复工",
            "--next-review-by",
            "2026-12-31",
        ],
        &as_monitor,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = ok(&["household", "show", "--node", &w.node.url, &bnf(7)], None);
    assert!(
        shown.stdout.contains("2026-12-31") && shown.stdout.contains("illness"),
        "{}",
        shown.stdout
    );
    let shown = cli_env(
        &["household", "show", "--node", &w.node.url, &bnf(7)],
        None,
        &ZH,
    );
    assert!(
        shown.stdout.contains("因病") && shown.stdout.contains("回访"),
        "{}",
        shown.stdout
    );
    // A township's monitoring sheet (GBK, Chinese headers, ID numbers made
    // pseudonyms by the pseudonym service); a row with a risk no rule knows
    // is named by its row.
    let _service = w.pseudonym_service();
    let mut sheet = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/households-gbk.csv"
    ))
    .to_vec();
    sheet.extend(
        encoding_rs::GBK
            .encode("赵某,,监测户,因赌,321181,2026/12/31,\r\n")
            .0
            .iter(),
    );
    let file = w.path("households.csv");
    std::fs::write(&file, sheet).unwrap();
    let import = |locale: &[(&str, &str)]| {
        let mut args = vec!["import", "--kind", "household.monitor"];
        args.extend(as_monitor.iter().map(String::as_str));
        args.push(&file);
        cli_env(&args, None, locale)
    };
    let imported = import(&ZH);
    assert_eq!(imported.code, 1, "one row refused: {}", imported.stderr);
    assert!(
        imported.stderr.contains("第 5 行：bad_row")
            && imported.stderr.contains("“因赌”")
            && imported.stderr.contains("缺少受助人代码"),
        "{}",
        imported.stderr
    );
    let monitored = w.pseudonyms_of("bnf", &["321182197508210226"]);
    let household = w.node.get(&format!("/v1/households/{}", monitored[0]));
    assert_eq!(
        household["household"]["risks"],
        json!(["disability"]),
        "{household}"
    );
    assert_eq!(
        household["household"]["review_by"], "2027-01-15",
        "{household}"
    );
    let again = import(&[]);
    assert!(
        again.stdout.contains("0 added") && again.stdout.contains("3 already"),
        "a re-run adds nothing: {}",
        again.stdout
    );
    // The single-entry builders take the ID number too (written as a
    // caseworker types it): its pseudonym comes from the service, and the
    // number is in no output.
    let size = w.size();
    let wrong = run(
        &[
            "household",
            "visit",
            "--beneficiary",
            "321182197508210227",
            "--date",
            "2026-12-01",
            "--findings",
            "x",
            "--next-review-by",
            "2027-03-01",
        ],
        &as_monitor,
    );
    assert!(
        wrong.code == 1 && wrong.stderr.contains("should be 6") && w.size() == size,
        "a wrong check character is named and nothing is written: {}",
        wrong.stderr
    );
    let visited = run(
        &[
            "household",
            "visit",
            "--beneficiary",
            "３２１１８２ 19750821022６",
            "--date",
            "2026-12-01",
            "--findings",
            "病情稳定",
            "--next-review-by",
            "2027-03-01",
        ],
        &as_monitor,
    );
    assert_eq!(visited.code, 0, "{}", visited.stderr);
    assert!(
        !visited.stdout.contains("19750821") && !visited.stderr.contains("19750821"),
        "{}",
        visited.stdout
    );
    let household = w.node.get(&format!("/v1/households/{}", monitored[0]));
    assert_eq!(
        household["household"]["review_by"], "2027-03-01",
        "the visit is the imported household's: {household}"
    );
    let shown = cli(
        &[
            "household",
            "show",
            "--node",
            &w.node.url,
            "--key",
            &monitor_s,
            "--issuer",
            BUREAU,
            "321182197508210226",
        ],
        None,
    );
    assert!(
        shown.code == 0 && shown.stdout.contains(&monitored[0][..12]),
        "{} {}",
        shown.stdout,
        shown.stderr
    );
    let closed = run(
        &[
            "household",
            "close",
            "--beneficiary",
            &bnf(8),
            "--reason",
            "x",
        ],
        &as_monitor,
    );
    assert_eq!(
        closed.code, 1,
        "a household not monitored: {}",
        closed.stderr
    );

    // Dual control: 10,000 yuan or more waits for the approver.
    let out = run(
        &[
            "fund",
            "open",
            "--id",
            "BIG-1",
            "--title",
            "大额救助",
            "--category",
            "临时救助",
            "--source",
            "社会捐赠",
            "--region",
            "321181",
            "--budget",
            "1000000",
            "--start",
            "2026-01-01",
            "--end",
            "2026-12-31",
            "--approval-threshold",
            "10000",
        ],
        &as_charity,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pay = |n: u32, amount: u64| {
        w.sign(
            &w.charity_key,
            CHARITY,
            "disbursement",
            json!({
            "fund": "BIG-1", "beneficiary": bnf(n), "tier": "vulnerable", "cause": "illness",
            "amount": amount, "method": "cash", "region": "321181", "date": "2026-03-01"}),
        )
    };
    let receive = w.sign(
        &w.charity_key,
        CHARITY,
        "fund.receive",
        json!({
        "fund": "BIG-1", "amount": 10_000_000, "from": "定向捐赠", "date": "2026-02-01"}),
    );
    let receipts = w.submit(
        &[
            receive,
            pay(11, 500_000),
            pay(12, 2_000_000),
            pay(13, 3_000_000),
        ]
        .join("\n"),
    );
    let (small, big, bigger) = (
        receipts[1]["seq"].as_u64().unwrap(),
        receipts[2]["seq"].as_u64().unwrap(),
        receipts[3]["seq"].as_u64().unwrap(),
    );
    let approver_s = approver.to_str().unwrap().to_owned();
    let as_approver = signer(&w, &approver_s, CHARITY);
    let listed = run(&["approve"], &as_approver);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains(&big.to_string()) && listed.stdout.contains("20,000.00"),
        "{}",
        listed.stdout
    );
    assert!(
        !listed
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{small} "))),
        "{}",
        listed.stdout
    );
    // The key that paid may not approve.
    let own = run(&["approve", &big.to_string()], &as_charity);
    assert_eq!(own.code, 1, "{}", own.stderr);
    assert!(
        own.stderr.contains("role_missing") || own.stderr.contains("signed"),
        "{}",
        own.stderr
    );
    assert_eq!(run(&["approve", &big.to_string()], &as_approver).code, 0);
    let rejected = run(
        &["reject", &bigger.to_string(), "--reason", "超出标准"],
        &as_approver,
    );
    assert_eq!(rejected.code, 0, "{}", rejected.stderr);
    let listed = cli_env(
        &[
            "approve",
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--key",
            &approver_s,
            "--issuer",
            CHARITY,
        ],
        None,
        &ZH,
    );
    assert!(listed.stdout.contains("没有待审批"), "{}", listed.stdout);
    let fund = w.node.get("/v1/funds/BIG-1");
    assert_eq!(
        (fund["disbursed"].as_u64(), fund["pending"].as_u64()),
        (Some(2_500_000), Some(0))
    );

    // Money recovered against the approved payment, at most its amount.
    let out = run(
        &[
            "fund",
            "recover",
            "--fund",
            "BIG-1",
            "--amount",
            "5,000",
            "--from",
            &bnf(12),
            "--reason",
            "多发",
            "--date",
            "2026-04-01",
            "--disbursement",
            &big.to_string(),
        ],
        &as_charity,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(
        &[
            "fund",
            "recover",
            "--fund",
            "BIG-1",
            "--amount",
            "20000",
            "--from",
            &bnf(12),
            "--reason",
            "overpaid",
            "--date",
            "2026-04-02",
            "--disbursement",
            &big.to_string(),
        ],
        &as_charity,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    // Recoveries from a sheet: the second row passes the payment's bound
    // and is refused by the node, named by its row.
    let sheet = w.path("recoveries.csv");
    std::fs::write(
        &sheet,
        format!(
            "资金编号,退款人,金额（元）,回笼原因,退回日期,原发放序号,凭证号\n\
             BIG-1,{b},1000,多发,2026/4/3,{big},HK-1\n\
             BIG-1,{b},20000,多发,2026/4/4,{big},HK-2\n",
            b = bnf(12)
        ),
    )
    .unwrap();
    let mut args = vec!["import", "--kind", "fund.recover"];
    args.extend(as_charity.iter().map(String::as_str));
    args.push(&sheet);
    let imported = cli(&args, None);
    assert_eq!(imported.code, 1, "{}", imported.stderr);
    assert!(
        imported.stdout.contains("1 added") && imported.stderr.contains("row 3: rule_violation"),
        "{}\n{}",
        imported.stdout,
        imported.stderr
    );
    let shown = ok(&["fund", "BIG-1", "--node", &w.node.url], None);
    assert!(
        shown.stdout.contains("recovered") && shown.stdout.contains("6,000.00"),
        "{}",
        shown.stdout
    );

    // In IATI the recovery is Incoming Funds (type 1); the rejected
    // payment is no transaction.
    let xml = w.path("big.xml");
    ok(
        &[
            "iati",
            "--node",
            &w.node.url,
            "--org",
            CHARITY,
            "--fund",
            "BIG-1",
            "--out",
            &xml,
        ],
        None,
    );
    let xml = std::fs::read_to_string(&xml).unwrap();
    assert!(xml.contains("recovery (overpaid)"), "{xml}");
    let recovery = xml
        .split("<transaction>")
        .find(|t| t.contains("recovery (overpaid)"))
        .unwrap();
    assert!(
        recovery.contains("<transaction-type code=\"1\"/>") && recovery.contains(">5000.00<"),
        "{recovery}"
    );
    assert!(!xml.contains("30000.00"), "the rejected payment: {xml}");

    // The audit says which rules judged which seqs.
    let verified = w.verify(&[]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert!(
        verified.stdout.contains("rules version 1 judged seqs 0–4"),
        "{}",
        verified.stdout
    );
    assert!(
        verified
            .stdout
            .contains("rules version 2 judged seqs from 5 on"),
        "{}",
        verified.stdout
    );
    // The node says the same of its rules as the audit's own replay.
    let rules = &w.node.get("/v1/log")["rules"];
    assert_eq!(rules["version"], 2, "{rules}");
    assert_eq!(
        (
            &rules["activations"][0]["seq"],
            &rules["activations"][0]["from"]
        ),
        (&json!(4), &json!(5)),
        "{rules}"
    );
    let verified = cli_env(
        &["verify", "--node", &w.node.url, "--vkey", &w.vkey],
        None,
        &ZH,
    );
    assert!(
        verified.stdout.contains("第 2 版规则适用于序号 5 起"),
        "{}",
        verified.stdout
    );
}
