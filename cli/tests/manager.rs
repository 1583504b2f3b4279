//! A county fund manager's day with the real node and the real
//! `aidledger` (issue 28): a fund opened with the words of a sheet, a
//! GBK sheet saved by Excel (CRLF) with every common mistake, a dry run
//! that writes nothing, the import and its report (in the sheet's
//! language, amounts in yuan, every problem of a row, the clashing row
//! named), a re-import that adds nothing; in Chinese and in English.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::*;

const ZH: [(&str, &str); 1] = [("LANG", "zh_CN.UTF-8")];

fn bnf(n: u32) -> String {
    format!("bnf_{n:064x}")
}

/// The sheet, as a county office keeps it: rows 2, 3 and 7 are good; 4 has
/// four mistakes; 5 reuses row 2's voucher number; 6 names a fund that is
/// not there; 8 repeats row 7's payment; 9 pays more than the fund holds.
fn sheet() -> String {
    let head =
        "姓名,资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,发放日期,凭证号";
    let rows = [
        format!(
            "张某,MED-2026,{},救助户,因病,\"3,000.00\",现金,321181,2026/3/5,V-1",
            bnf(1)
        ),
        format!(
            "李某,MED-2026,{},监测户,因病,650元,现金,321181,2026/3/6,V-2",
            bnf(2)
        ),
        format!("王某,MED-2026,{},贫困户,因病,0,现金,3211,,V-3", bnf(3)),
        format!(
            "赵某,MED-2026,{},救助户,因病,100,现金,321181,2026/3/7,V-1",
            bnf(4)
        ),
        format!(
            "钱某,MED-2099,{},救助户,因病,100,现金,321181,2026/3/7,V-5",
            bnf(5)
        ),
        format!(
            "孙某,MED-2026,{},脆弱户,因学,200,代金券,321181,2026/3/9,",
            bnf(6)
        ),
        format!(
            "孙某,MED-2026,{},脆弱户,因学,200,代金券,321181,2026/3/9,",
            bnf(6)
        ),
        format!(
            "周某,MED-2026,{},救助户,因病,\"1,000,000.00\",现金,321181,2026/3/9,V-9",
            bnf(9)
        ),
    ];
    let mut s = head.to_owned();
    for r in rows {
        s.push_str("\r\n");
        s.push_str(&r);
    }
    s.push_str("\r\n");
    s
}

/// A GBK report's lines.
fn report_lines(path: &str) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    assert!(!bad, "the report is not GBK");
    text.lines().map(str::to_owned).collect()
}

/// What every report of the sheet says, row by row (the dry run's and the
/// import's alike).
fn check_report(lines: &[String]) {
    assert_eq!(lines[0], "行号,错误代码,说明,处理办法");
    let rows: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(rows, ["4", "5", "6", "8", "9"], "{lines:#?}");
    let line = |row: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{row},")))
            .unwrap()
            .as_str()
    };
    // Every problem of row 4, each with what to change.
    let four = line("4");
    assert!(four.starts_with("4,bad_row,该行无法转为记录（"), "{four}");
    for said in [
        "类别：“贫困户”不是可用的填法；可填 救助户(assisted)、脆弱户(vulnerable)、监测户(monitored)",
        "金额须大于 0",
        "区划代码：“3211”不是 6 位行政区划代码",
        "缺少日期；请填写该格",
        "按说明改正所列的格后重新导入",
    ] {
        assert!(four.contains(said), "{said}: {four}");
    }
    assert!(
        line("5").contains("凭证号 V-1 与第 2 行重复；请改正其中一行的凭证号"),
        "{}",
        line("5")
    );
    assert!(
        line("6").contains("资金 MED-2099 在此账本中不存在"),
        "{}",
        line("6")
    );
    assert!(
        line("8").starts_with(
            "8,repeat,疑似重复发放，已暂缓（与第 7 行的资金、受助人、金额、日期都相同"
        ),
        "{}",
        line("8")
    );
    // Yuan, never fen: 100,000 received, 3,000 + 650 + 200 paid.
    assert!(
        line("9").contains("资金 MED-2026 余额不足：可用 96,150.00 元，本行需要 1,000,000.00 元"),
        "{}",
        line("9")
    );
    let all = lines.join("\n");
    for english in [
        "required property",
        "minimum",
        "does not match",
        "duplicate voucher",
        "insufficient",
        "9615000",
    ] {
        assert!(!all.contains(english), "{english}: {all}");
    }
}

#[test]
fn a_fund_managers_day_in_chinese_then_english() {
    let w = World::new();
    let file = w.path("发放表.csv");
    std::fs::write(&file, encoding_rs::GBK.encode(&sheet()).0).unwrap();
    let size = w.size();

    // The dry run: every row checked, against the node's state too; nothing written.
    let dry_report = w.path("试运行.csv");
    let out = cli_env(
        &w.import_args(&file, &["--dry-run", "--report", &dry_report]),
        None,
        &ZH,
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout.trim_end(),
        "试运行，未发送任何内容：共 8 行：可新增 3 行，已在账本中 0 行，疑似重复暂缓 1 行，被拒 4 行"
    );
    assert_eq!(w.size(), size, "the dry run wrote");
    let dry = report_lines(&dry_report);
    check_report(&dry);

    // The import: the same rows refused, the same words; the good rows in.
    let report = w.path("未导入.csv");
    let out = cli_env(&w.import_args(&file, &["--report", &report]), None, &ZH);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(w.size(), size + 3);
    let stderr = out.stderr.replace('\r', "");
    assert!(
        stderr.contains("第 5 行：rule_violation：违反账本规则（凭证号 V-1 与第 2 行重复；请改正其中一行的凭证号）\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("第 9 行：rule_violation：违反账本规则（资金 MED-2026 余额不足：可用 96,150.00 元，本行需要 1,000,000.00 元）\n"),
        "{stderr}"
    );
    let lines = report_lines(&report);
    check_report(&lines);
    assert_eq!(
        lines, dry,
        "the dry run and the import said different things"
    );
    assert_eq!(
        w.node.get("/v1/funds/MED-2026")["disbursed"],
        300_000 + 65_000 + 20_000
    );

    // Again, in English: a dry run sees the three rows in the ledger, and
    // the import adds nothing. The report stays Chinese: the sheet is.
    let out = cli(&w.import_args(&file, &["--dry-run"]), None);
    assert_eq!(
        out.stdout.trim_end(),
        "dry run, nothing was sent: 8 rows: 0 would be added, 3 already in the ledger, 1 held back as repeats, 4 refused"
    );
    assert!(
        out.stderr.contains("row 9: rule_violation: a rule of the ledger forbids it (fund MED-2026 has 96,150.00 yuan available, the row needs 1,000,000.00 yuan)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("row 4: bad_row: the row cannot become an entry (tier: \"贫困户\" is not accepted; use one of 救助户(assisted), 脆弱户(vulnerable), 监测户(monitored). the amount is 0"),
        "{}",
        out.stderr
    );
    let again = w.path("again.csv");
    let out = cli(&w.import_args(&file, &["--report", &again]), None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.lines().last().unwrap().starts_with(
            "8 rows: 0 added, 3 already in the ledger, 1 held back as repeats, 4 refused ("
        ),
        "{}",
        out.stdout
    );
    assert_eq!(w.size(), size + 3, "the re-import added");
    assert_eq!(report_lines(&again)[0], "行号,错误代码,说明,处理办法");

    // An English sheet in an English interface: an English report.
    let en = w.path("en.csv");
    std::fs::write(
        &en,
        format!("fund,beneficiary,tier,cause,amount,method,region,date\r\nMED-2026,{},assisted,illness,650元,cash,32118,2026/3/10\r\n", bnf(20)),
    )
    .unwrap();
    let en_report = w.path("en-report.csv");
    let out = cli(&w.import_args(&en, &["--report", &en_report]), None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = std::fs::read_to_string(&en_report).unwrap();
    assert!(
        text.starts_with("\u{FEFF}row,code,message,how to fix\n2,bad_row,\"the row cannot become an entry (region: \"\"32118\"\" is not a 6-digit region code"),
        "{text}"
    );
}

#[test]
fn fund_open_takes_what_a_sheet_says() {
    let w = World::new();
    let charity = w.charity_key.to_str().unwrap().to_owned();
    let open = |id: &str, budget: &str, env: &[(&str, &str)]| {
        cli_env(
            &[
                "fund",
                "open",
                "--node",
                &w.node.url,
                "--vkey",
                &w.vkey,
                "--key",
                &charity,
                "--issuer",
                CHARITY,
                "--id",
                id,
                "--title",
                "临时救助金",
                "--category",
                "临时救助",
                "--source",
                "社会捐赠",
                "--region",
                "321181",
                "--budget",
                budget,
                "--start",
                "2026/1/1",
                "--end",
                "2026年12月31日",
            ],
            None,
            env,
        )
    };
    let out = open("LS-2026", "¥1,650元", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fund = w.node.get("/v1/funds/LS-2026");
    assert_eq!(fund["budget"], 165_000);
    assert_eq!(fund["category"], "temporary");
    assert_eq!(fund["source"], "donation");
    assert_eq!(fund["start"], "2026-01-01");
    assert_eq!(fund["end"], "2026-12-31");
    // A value refused says what to change, in the interface's language;
    // nothing is sent.
    let size = w.size();
    let out = open("LS-2027", "65000分", &ZH);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("金额：“65000分”不是以元计；请以元填写，如 650 或 650.50"),
        "{}",
        out.stderr
    );
    let out = open("LS-2027", "650.123", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("has more than two decimals; round it to the fen"),
        "{}",
        out.stderr
    );
    assert_eq!(w.size(), size);
}

/// `import --policy`: receipts against the witnessed checkpoint that
/// covers them, which `check-receipt --policy` accepts.
#[test]
fn import_with_a_policy_writes_witnessed_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    std::fs::create_dir_all(&data).unwrap();
    let node_key = ledger::keyfile::create(&data.join("node.key")).unwrap();
    let log_vkey = ledger::checkpoint::CheckpointSigner::new(ORIGIN, node_key)
        .unwrap()
        .vkey();
    let wdir = dir.path().join("audit");
    let wvkey = new_witness(&wdir, "audit.witness.test", ORIGIN, &log_vkey);
    let waddr = free_addr();
    let _witness = serve_witness(&wdir, waddr);
    let policy = dir.path().join("policy");
    std::fs::write(
        &policy,
        format!("log {log_vkey}\nwitness audit {wvkey} http://{waddr}\nquorum audit\n"),
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let addr = free_addr();
    let _node = node_with_policy(&data, addr, policy);
    let url = format!("http://{addr}");

    // The bureau, the charity and its fund, as World sets them up.
    let bureau = dir.path().join("bureau.key");
    let charity = dir.path().join("charity.key");
    let key = |p: &Path| common::keygen(p);
    let (bureau_pub, charity_pub) = (key(&bureau), key(&charity));
    let sign = |k: &Path, issuer: &str, kind: &str, body: serde_json::Value| {
        ok(
            &[
                "sign",
                "--key",
                k.to_str().unwrap(),
                "--issuer",
                issuer,
                "--kind",
                kind,
                "--body",
                "-",
            ],
            Some(body.to_string().as_bytes()),
        )
        .stdout
        .replace('\n', "")
    };
    let entries = [
        sign(
            &bureau,
            BUREAU,
            "org.register",
            serde_json::json!({
            "org": {"id": BUREAU, "name": "民政厅", "type": "government", "region": "320000"},
            "keys": [{"key": bureau_pub, "roles": ["registrar", "admin"]}]}),
        ),
        sign(
            &bureau,
            BUREAU,
            "org.register",
            serde_json::json!({
            "org": {"id": CHARITY, "name": "慈善总会", "type": "charity", "region": "321181"},
            "keys": [{"key": charity_pub, "roles": ["fund", "disburse"]}]}),
        ),
        sign(
            &charity,
            CHARITY,
            "fund.open",
            serde_json::json!({
            "fund": "MED-2026", "title": "大病救助", "category": "medical", "source": "donation",
            "region": "321181", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31"}),
        ),
        sign(
            &charity,
            CHARITY,
            "fund.receive",
            serde_json::json!({
            "fund": "MED-2026", "amount": 10_000_000, "from": "募捐", "date": "2026-01-05"}),
        ),
    ];
    ok(
        &["submit", "--node", &url, "--vkey", &log_vkey, "-"],
        Some(entries.join("\n").as_bytes()),
    );
    let import = |n: u32, extra: &[&str]| {
        let file = dir.path().join(format!("rows-{n}.csv"));
        std::fs::write(
            &file,
            format!(
                "fund,beneficiary,tier,cause,amount,method,region,date,ref\n\
                 MED-2026,{},assisted,illness,10,cash,321181,2026-03-01,P-{n}a\n\
                 MED-2026,{},assisted,illness,20,cash,321181,2026-03-01,P-{n}b\n",
                bnf(n),
                bnf(n + 100)
            ),
        )
        .unwrap();
        let receipts = dir.path().join(format!("receipts-{n}.ndjson"));
        let receipts = receipts.to_str().unwrap().to_owned();
        let mut args = vec![
            "import",
            "--node",
            &url,
            "--vkey",
            &log_vkey,
            "--key",
            charity.to_str().unwrap(),
            "--issuer",
            CHARITY,
            "--kind",
            "disbursement",
            "--receipts",
            &receipts,
        ];
        args.extend(extra);
        args.push(file.to_str().unwrap());
        let out = cli(&args, None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        cli(
            &[
                "check-receipt",
                "--vkey",
                &log_vkey,
                "--policy",
                policy,
                &receipts,
            ],
            None,
        )
    };
    // Without the policy, the node's own checkpoints: refused by the policy.
    let refused = import(1, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("lacks the witness quorum"),
        "{}",
        refused.stderr
    );
    // With it, witnessed receipts.
    let passed = import(2, &["--policy", policy]);
    assert_eq!(passed.code, 0, "{}", passed.stderr);
    assert!(
        passed.stdout.contains("2 receipts verified"),
        "{}",
        passed.stdout
    );
}

/// `aidledger-node serve` with a witness policy, once it listens.
fn node_with_policy(data: &Path, addr: SocketAddr, policy: &str) -> testkit::Killed {
    let bin = Path::new(env!("CARGO_BIN_EXE_aidledger")).with_file_name("aidledger-node");
    testkit::Killed(testkit::spawn_listening(
        Command::new(bin)
            .args(["serve", "--data", data.to_str().unwrap(), "--listen"])
            .arg(addr.to_string())
            .args(["--origin", ORIGIN, "--witness-policy", policy])
            .args(["--witness-interval", "0.2"])
            .stderr(Stdio::null()),
    ))
}

/// The issue's own case: on an Excel-saved GBK sheet (CRLF) an invalid ID
/// number on line 12 is row 12, not the good row 11 above it; the number
/// is never echoed, and nothing of the file is sent (issue 30: one ID that
/// is none stops the file). `--lang zh` as well as the locale.
#[test]
fn an_invalid_id_number_is_reported_on_its_own_line() {
    let w = World::new();
    let mut csv = String::from(
        "姓名,资金编号,身份证号,类别,致困原因,金额（元）,发放方式,区划代码,发放日期\r\n",
    );
    for day in 1..=9 {
        csv.push_str(&format!(
            "某某,MED-2026,11010519491231002X,救助户,因病,10元,现金,321181,2026/4/{day}\r\n"
        ));
    }
    csv.push_str("某某,MED-2026,3.21181E+17,救助户,因病,10元,现金,321181,2026/4/10\r\n");
    csv.push_str("某某,MED-2026,110105194912310021,救助户,因病,10元,现金,321181,2026/4/11\r\n");
    let file = w.path("身份证.csv");
    std::fs::write(&file, encoding_rs::GBK.encode(&csv).0).unwrap();
    let size = w.size();
    let out = cli(
        &[
            ["--lang", "zh"].as_slice(),
            &w.import_args(&file, &[])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        ]
        .concat(),
        None,
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let stderr = out.stderr.replace('\r', "");
    assert!(
        stderr.contains("第 11 行：bad_row：该行无法转为记录（第 3 列：3.21181E+17 是被 Excel 转成数字的身份证号"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "第 12 行：bad_row：该行无法转为记录（第 3 列的身份证号校验位不对：按前 17 位应为 X；请改正号码）\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("110105194912310021"), "{stderr}");
    assert!(stderr.contains("未发送任何内容"), "{stderr}");
    assert_eq!(w.size(), size);
}
