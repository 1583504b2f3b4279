//! The CLI as its users meet it: a fund manager importing spreadsheets that
//! get re-saved, converted and renamed, interrupting an import, pointing it
//! at a wrong trust anchor; a caseworker looking up a family by its ID
//! number. The real node and the real `aidledger` binary.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::*;

/// The same four rows, as a spreadsheet's export would write them.
const ROWS: &str = "姓名,资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,发放日期,凭证号\n\
张某,MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000a1,救助户,因病,\"3,000.00\",现金,321181,2026/3/5,MZ-0301\n\
李某,MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000a2,监测户,因病,\"1,500.50\",现金,321182,2026/3/6,MZ-0302\n\
王某,MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000a3,脆弱户,因学,800,代金券,321181,2026/3/9,\n\
赵某,MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000a4,脆弱户,因病,200,现金,321181,2026/3/9,\n";

fn imported(out: &Out) -> (u64, u64) {
    let line = out.stdout.lines().last().unwrap_or_default();
    let count = |what: &str| -> u64 {
        let before = line.split(what).next().unwrap();
        before
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    (count(" added"), count(" already"))
}

#[test]
fn a_resaved_converted_or_renamed_spreadsheet_never_pays_twice() {
    let w = World::new();
    let utf8 = w.path("发放表.csv");
    std::fs::write(&utf8, ROWS).unwrap();
    let out = ok(&w.import_args(&utf8, &[]), None);
    assert_eq!(imported(&out), (4, 0), "{}", out.stdout);
    let size = w.size();

    // Excel's re-save: BOM and CRLF, another name.
    let excel = w.path("发放表 (2).csv");
    std::fs::write(&excel, format!("\u{FEFF}{}", ROWS.replace('\n', "\r\n"))).unwrap();
    // Converted to GBK, another name again.
    let gbk = w.path("gbk.csv");
    std::fs::write(&gbk, encoding_rs::GBK.encode(ROWS).0).unwrap();
    for file in [&excel, &gbk, &utf8] {
        let out = ok(&w.import_args(file, &[]), None);
        assert_eq!(imported(&out), (0, 4), "{file}: {}", out.stdout);
        assert_eq!(w.size(), size, "{file} added entries");
    }
    let fund = w.node.get("/v1/funds/MED-2026");
    assert_eq!(fund["disbursements"], 4);

    // A changed row: with its voucher number, refused as a duplicate
    // voucher; without one, held back as a repeat of the same payment.
    let changed = w.path("changed.csv");
    std::fs::write(
        &changed,
        ROWS.replace("\"3,000.00\"", "\"3,100.00\"")
            .replace("因学,800", "因病,800"),
    )
    .unwrap();
    let report = w.path("changed-report.csv");
    let out = cli(&w.import_args(&changed, &["--report", &report]), None);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(w.size(), size, "a changed row was added");
    // The sheet's headers are Chinese: so is its report.
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report
            .contains("2,rule_violation,违反账本规则（凭证号 MZ-0301 已被账本中序号 4 的记录使用"),
        "{report}"
    );
    assert!(report.contains("4,repeat,"), "{report}");
    // A second payment on purpose goes in with --allow-repeat (the
    // duplicate voucher is still refused).
    let out = cli(&w.import_args(&changed, &["--allow-repeat"]), None);
    assert_eq!(imported(&out), (1, 2), "{}", out.stdout);
}

#[test]
fn a_repeat_within_one_file_is_held_back() {
    let w = World::new();
    let twice = w.path("twice.csv");
    let row = "MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000b1,assisted,illness,5.00,cash,321181,2026-04-01\n";
    std::fs::write(
        &twice,
        format!("fund,beneficiary,tier,cause,amount,method,region,date\n{row}{row}"),
    )
    .unwrap();
    let out = cli(&w.import_args(&twice, &[]), None);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("row 3: repeat: held back as a likely second payment (same fund, beneficiary, amount and date as row 2;"),
        "{}",
        out.stderr
    );
    assert_eq!(w.node.get("/v1/funds/MED-2026")["disbursements"], 1);
    // With --allow-repeat both rows are payments, and a re-run adds neither again.
    let out = ok(&w.import_args(&twice, &["--allow-repeat"]), None);
    assert_eq!(imported(&out), (1, 1), "{}", out.stdout);
    let out = ok(&w.import_args(&twice, &["--allow-repeat"]), None);
    assert_eq!(imported(&out), (0, 2), "{}", out.stdout);
    assert_eq!(w.node.get("/v1/funds/MED-2026")["disbursements"], 2);
}

#[test]
fn a_wrong_vkey_writes_nothing() {
    let w = World::new();
    let file = w.path("rows.csv");
    std::fs::write(&file, ROWS).unwrap();
    let size = w.size();
    let other = {
        let d = tempfile::tempdir().unwrap();
        let n = Node::start(&d.path().join("n"), free_addr());
        n.get("/v1/log")["vkey"].as_str().unwrap().to_string()
    };
    let mut args = w.import_args(&file, &[]);
    let at = args.iter().position(|a| a == "--vkey").unwrap();
    args[at + 1] = other.clone();
    let out = cli(&args, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not verify with this vkey"),
        "{}",
        out.stderr
    );
    assert_eq!(w.size(), size);
    let out = cli(
        &["submit", "--node", &w.node.url, "--vkey", &other, "-"],
        Some(
            w.sign(
                &w.charity_key,
                CHARITY,
                "credit.award",
                serde_json::json!({"holder": CHARITY, "points": 1, "reason": "x"}),
            )
            .as_bytes(),
        ),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(w.size(), size);
    // A genesis that is not the node's: nothing either.
    let args = w.import_args(&file, &["--genesis", &"0".repeat(64)]);
    let out = cli(&args, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(w.size(), size);
}

#[test]
fn checks_before_signing_name_what_is_wrong() {
    let w = World::new();
    let file = w.path("rows.csv");
    // An unknown fund is its rows' error, not the file's.
    std::fs::write(&file, ROWS.replacen("MED-2026", "NO-SUCH-FUND", 1)).unwrap();
    let out = cli(&w.import_args(&file, &[]), None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("row 2: rule_violation: a rule of the ledger forbids it (fund NO-SUCH-FUND does not exist on this ledger; correct the fund id, or open the fund first"),
        "{}",
        out.stderr
    );
    assert_eq!(imported(&out), (3, 0), "{}", out.stdout);
    // The bureau's key is not the charity's.
    let mut args = w.import_args(&w.path("rows.csv"), &[]);
    let at = args.iter().position(|a| a == "--key").unwrap();
    args[at + 1] = w.bureau_key.to_str().unwrap().to_string();
    std::fs::write(&file, ROWS).unwrap();
    let out = cli(&args, None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is not a key of"), "{}", out.stderr);
    // A total past the balance is a warning with the shortfall in yuan.
    std::fs::write(&file, ROWS.replace("\"3,000.00\"", "\"1,000,000.00\"")).unwrap();
    let out = cli(&w.import_args(&file, &[]), None);
    assert!(out.stderr.contains("short)"), "{}", out.stderr);
    // An empty submission is a usage error.
    let out = cli(
        &["submit", "--node", &w.node.url, "--vkey", &w.vkey, "-"],
        Some(b""),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn sigint_mid_import_then_a_rerun_gives_every_row_once() {
    let w = World::new();
    let rows = 30_000u64;
    let mut csv = String::from("fund,beneficiary,tier,cause,amount,method,region,date,ref\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "MED-2026,bnf_{i:064x},assisted,illness,1.00,cash,321181,2026-05-01,V-{i}\n"
        ));
    }
    let file = w.path("big.csv");
    std::fs::write(&file, csv).unwrap();
    let receipts = w.path("receipts.ndjson");
    let args = w.import_args(&file, &["--receipts", &receipts]);
    let mut first = aidledger()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while w.size() < 4 + 2_000 {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the import ended first"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    let status = first.wait().unwrap();
    let mut stderr = String::new();
    first
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(w.size() < 4 + rows, "the import finished before the SIGINT");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    // Whole lines only, each a receipt.
    let text = std::fs::read_to_string(&receipts).unwrap();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(r["seq"].is_u64());
    }
    let out = ok(&args, None);
    assert!(
        out.stdout.contains(&format!("{rows} rows:")),
        "{}",
        out.stdout
    );
    assert_eq!(w.size(), 4 + rows, "every row exactly once");
    assert_eq!(w.node.get("/v1/funds/MED-2026")["disbursements"], rows);
    // The receipts of the re-run check, line by line.
    ok(&["check-receipt", "--vkey", &w.vkey, &receipts], None);
}

#[test]
fn a_resident_id_given_to_beneficiary_is_never_sent() {
    // A "node" that only counts connections.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let out = cli(&["beneficiary", "--node", &url, "11010519491231002X"], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--key and --issuer"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("11010519491231002X"),
        "the number is echoed"
    );
    assert!(listener.accept().is_err(), "the CLI connected to the node");
}

#[test]
fn an_organisation_is_set_up_with_commands_and_a_config() {
    let w = World::new();
    let union_key = w.path("union.key");
    let union_pub = common::keygen(std::path::Path::new(&union_key));
    let out = cli(&["keygen", "--out", &union_key], None);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.matches("exists").count(), 1, "{}", out.stderr);
    let bureau = w.bureau_key.to_str().unwrap();
    let register = |id: &str| {
        cli(
            &[
                "org",
                "register",
                "--node",
                &w.node.url,
                "--vkey",
                &w.vkey,
                "--key",
                bureau,
                "--issuer",
                BUREAU,
                "--id",
                id,
                "--name",
                "市总工会",
                "--type",
                "union",
                "--region",
                "321100",
                "--org-key",
                &format!("{union_pub}=admin,fund,disburse"),
            ],
            None,
        )
    };
    // A wrong GB 32100 check character is explained, with the right one.
    let out = register("CN-USCI-81110000000000019D");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("it is C, not D: CN-USCI-81110000000000019C"),
        "{}",
        out.stderr
    );
    let union = "CN-USCI-81110000000000019C";
    let out = register(union);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("registered at seq 4"), "{}", out.stderr);

    // init pins the node's vkey and genesis; later commands need no flags.
    let config = w.path("config.toml");
    let genesis = w.node.get("/v1/log")["genesis"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(
        &[
            "init",
            "--config",
            &config,
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--genesis",
            &genesis,
            "--key",
            &union_key,
            "--issuer",
            union,
        ],
        None,
    );
    assert!(
        out.stdout.contains(&w.vkey) && out.stdout.contains(&genesis),
        "{}",
        out.stdout
    );
    let wrong = cli(
        &[
            "init",
            "--config",
            &w.path("other.toml"),
            "--node",
            &w.node.url,
            "--genesis",
            &"0".repeat(64),
        ],
        None,
    );
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(!std::path::Path::new(&w.path("other.toml")).exists());
    ok(
        &[
            "--config",
            &config,
            "fund",
            "open",
            "--id",
            "GH-2026",
            "--title",
            "困难职工帮扶",
            "--category",
            "tekun",
            "--source",
            "union_dues",
            "--region",
            "321100",
            "--budget",
            "1,000,000",
            "--start",
            "2026-01-01",
            "--end",
            "2026-12-31",
        ],
        None,
    );
    assert_eq!(w.node.get("/v1/funds/GH-2026")["budget"], 100_000_000);
    assert_eq!(w.node.get("/v1/funds/GH-2026")["owner"], union);

    // A second key, then its revocation: what it signs afterwards is refused.
    let clerk_key = w.path("clerk.key");
    let clerk_pub = common::keygen(std::path::Path::new(&clerk_key));
    ok(
        &[
            "--config", &config, "key", "add", "--org", union, "--public", &clerk_pub, "--roles",
            "fund",
        ],
        None,
    );
    ok(
        &[
            "--config", &config, "key", "revoke", "--org", union, "--public", &clerk_pub,
            "--reason", "调岗",
        ],
        None,
    );
    let out = cli(
        &[
            "--config",
            &config,
            "fund",
            "open",
            "--key",
            &clerk_key,
            "--id",
            "GH-2027",
            "--title",
            "x",
            "--category",
            "tekun",
            "--source",
            "union_dues",
            "--region",
            "321100",
            "--start",
            "2027-01-01",
            "--end",
            "2027-12-31",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("key_revoked"), "{}", out.stderr);
}

/// The main messages in both languages, as a fund manager sees them: help,
/// an import with a refused row (amounts in yuan, the code explained), the
/// refusal report as Excel opens it.
#[test]
fn chinese_and_english_messages() {
    let w = World::new();
    let zh = [("LANG", "zh_CN.UTF-8")];
    let help = cli_env(&["--help"], None, &zh);
    assert!(
        help.stdout
            .starts_with("救助资金账本的签名、导入与验证工具\n\n用法： aidledger"),
        "{}",
        help.stdout
    );
    assert!(
        help.stdout
            .contains("  import         把电子表格（CSV，UTF-8 或 GBK）的每一行作为签名记录导入\n"),
        "{}",
        help.stdout
    );
    assert!(
        help.stdout.contains("  -h, --help             显示帮助\n"),
        "{}",
        help.stdout
    );
    let en = cli(&["--help"], None);
    assert!(
        en.stdout
            .starts_with("Sign, import and verify entries of the aid ledger\n"),
        "{}",
        en.stdout
    );
    // --lang wins over the locale.
    let forced = cli_env(&["--lang", "en", "--help"], None, &zh);
    assert_eq!(forced.stdout, en.stdout);

    let file = w.path("发放.csv");
    std::fs::write(
        &file,
        encoding_rs::GBK.encode(
            "资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,发放日期,凭证号\n\
             MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000c1,救助户,因病,\"1,000,000.00\",现金,321181,2026/3/5,MZ-0901\n\
             MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000c2,贫困户,因病,10,现金,321181,2026/3/5,MZ-0902\n",
        ).0,
    )
    .unwrap();
    let report = w.path("未导入.csv");
    let out = cli_env(&w.import_args(&file, &["--report", &report]), None, &zh);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let stderr = out.stderr.replace('\r', "");
    assert!(stderr.contains("aidledger：注意：资金 MED-2026：可用 100,000.00 元，需要 1,000,000.00 元（缺 900,000.00 元）；超出余额的行将被拒绝\n"), "{stderr}");
    assert!(stderr.contains("第 2 行：rule_violation：违反账本规则（资金 MED-2026 余额不足：可用 100,000.00 元，本行需要 1,000,000.00 元）\n"), "{stderr}");
    assert!(stderr.contains("第 3 行：bad_row：该行无法转为记录（类别：“贫困户”不是可用的填法；可填 救助户(assisted)、脆弱户(vulnerable)、监测户(monitored)）\n"), "{stderr}");
    let summary = out.stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("共 2 行：新增 0 行，已在账本中 0 行，疑似重复暂缓 0 行，被拒 2 行（"),
        "{summary}"
    );
    // The report: GBK like its input, with Chinese column names.
    let bytes = std::fs::read(&report).unwrap();
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    assert!(!bad);
    assert!(
        text.starts_with("行号,错误代码,说明,处理办法\n2,rule_violation,\"违反账本规则（资金 MED-2026 余额不足：可用 100,000.00 元，本行需要 1,000,000.00 元）\",按说明改正该行后重新导入"),
        "{text}"
    );

    let out = cli_env(
        &["beneficiary", "--node", &w.node.url, "11010519491231002X"],
        None,
        &zh,
    );
    assert_eq!(
        out.stderr,
        "aidledger：错误：这是身份证号，不会发送给节点：请给出 --key 与 --issuer（或先运行 aidledger init），向假名服务换算其假名\n"
    );

    let out = cli(&w.import_args(&file, &[]), None);
    let stderr = out.stderr;
    assert!(stderr.contains("row 2: rule_violation: a rule of the ledger forbids it (fund MED-2026 has 100,000.00 yuan available, the row needs 1,000,000.00 yuan)\n"), "{stderr}");
    assert!(
        out.stdout.lines().last().unwrap().starts_with(
            "2 rows: 0 added, 0 already in the ledger, 0 held back as repeats, 2 refused ("
        ),
        "{}",
        out.stdout
    );
}

/// A fund cell with URL-special characters (`/`, `?`, `#`, `%`, a space)
/// is no fund id: a row error in the report, and the other rows go in (no
/// request retried, no import aborted). Ids put into a URL are
/// percent-encoded: a valid fund id with `:` and `.` is looked up as
/// itself, and a typed id with a `/` does not reach another route.
#[test]
fn a_fund_cell_that_is_no_id_is_a_row_error_and_the_rest_goes_in() {
    let w = World::new();
    let fund = "MED:2026.b";
    w.submit(&[
        w.sign(&w.charity_key, CHARITY, "fund.open", serde_json::json!({
            "fund": fund, "title": "大病救助二", "category": "medical", "source": "donation",
            "region": "321181", "currency": "CNY", "budget": 1_000_000, "start": "2026-01-01", "end": "2026-12-31"})),
        w.sign(&w.charity_key, CHARITY, "fund.receive", serde_json::json!({
            "fund": fund, "amount": 100_000, "from": "年度募捐", "date": "2026-01-05"})),
    ]
    .join("\n"));
    let size = w.size();
    let row = |fund: &str, n: u32| {
        format!("{fund},bnf_{n:064x},assisted,illness,1.00,cash,321181,2026-05-01,URL-{n}\n")
    };
    let bad = [
        "MED-2026/flows",
        "MED?2026",
        "MED#2026",
        "MED%2F2026",
        "MED 2026",
        "MED%2026",
    ];
    let mut csv = String::from("fund,beneficiary,tier,cause,amount,method,region,date,ref\n");
    csv += &row("MED-2026", 1);
    for (i, f) in bad.iter().enumerate() {
        csv += &row(&format!("\"{f}\""), 10 + i as u32);
    }
    csv += &row(fund, 2);
    csv += &row("MED-2026", 3);
    let file = w.path("url-cells.csv");
    std::fs::write(&file, csv).unwrap();
    let report = w.path("url-cells-report.csv");
    let started = std::time::Instant::now();
    let out = cli(&w.import_args(&file, &["--report", &report]), None);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !out.stderr.contains("retrying"),
        "a request was retried: {}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(imported(&out), (3, 0), "{}", out.stdout);
    assert_eq!(w.size(), size + 3);
    assert_eq!(w.node.get("/v1/funds/MED:2026.b")["disbursements"], 1);
    let report = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = report.lines().skip(1).collect();
    assert_eq!(lines.len(), bad.len(), "{report}");
    for (line, f) in lines.iter().zip(bad) {
        assert!(line.contains(",bad_row,"), "{report}");
        assert!(
            line.contains(&format!("fund: \"\"{f}\"\" is not an id")),
            "{report}"
        );
    }

    // Looked up by hand: the id is one path segment, whatever it holds.
    let out = ok(&["fund", "--node", &w.node.url, "--limit", "0", fund], None);
    assert!(out.stdout.contains("大病救助二"), "{}", out.stdout);
    let out = cli(&["fund", "--node", &w.node.url, "MED-2026/flows"], None);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("not_found"), "{}", out.stderr);
}

/// Issue 30: aid another organisation already gave a family for the same
/// cause within 90 days is found before anything is signed: the rows are
/// listed with the earlier payment, in the report too, nothing of the file
/// is sent; `--dry-run` shows the same; `--allow-duplicates` imports them,
/// and the node raises its alert.
#[test]
fn aid_another_organisation_gave_is_caught_before_paying() {
    const UNION: &str = "CN-USCI-81110000000000019C";
    let w = World::new();
    let union_key = w.dir.path().join("union.key");
    let union_pub = keygen(&union_key);
    ok(
        &[
            "org",
            "register",
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--key",
            w.bureau_key.to_str().unwrap(),
            "--issuer",
            BUREAU,
            "--id",
            UNION,
            "--name",
            "市总工会",
            "--type",
            "union",
            "--region",
            "321181",
            "--org-key",
            &format!("{union_pub}=fund,disburse"),
        ],
        None,
    );
    let bnf = |n: u32| format!("bnf_{n:064x}");
    let union_entries = [
        w.sign(&union_key, UNION, "fund.open", serde_json::json!({
            "fund": "GH-2026", "title": "困难职工帮扶", "category": "medical", "source": "donation",
            "region": "321181", "currency": "CNY", "budget": 0, "start": "2026-01-01", "end": "2026-12-31"})),
        w.sign(&union_key, UNION, "fund.receive", serde_json::json!({
            "fund": "GH-2026", "amount": 1_000_000, "from": "会费", "date": "2026-01-05"})),
        w.sign(&union_key, UNION, "disbursement", serde_json::json!({
            "fund": "GH-2026", "beneficiary": bnf(0xa1), "tier": "assisted", "cause": "illness",
            "amount": 50_000, "method": "cash", "region": "321181", "date": "2026-03-01"})),
    ];
    w.submit(&union_entries.join("\n"));
    let sheet = w.path("发放表.csv");
    std::fs::write(
        &sheet,
        format!(
            "资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,发放日期\n\
             MED-2026,{a1},救助户,因病,300,现金,321181,2026/3/20\n\
             MED-2026,{a2},救助户,因病,300,现金,321181,2026/3/20\n\
             MED-2026,{a1},救助户,因学,350,现金,321181,2026/3/20\n\
             MED-2026,{a1},救助户,因病,300,现金,321181,2026/7/20\n",
            a1 = bnf(0xa1),
            a2 = bnf(0xa2)
        ),
    )
    .unwrap();
    let size = w.size();
    let report = w.path("report.csv");
    let out = cli(&w.import_args(&sheet, &["--report", &report]), None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "row 2: duplicate: held back as duplicate aid (would raise a duplicate-aid alert: {UNION} paid this family for illness on 2026-03-01, 500.00 yuan from fund GH-2026"
        )),
        "{}",
        out.stderr
    );
    // Another cause, or more than 90 days later, is no duplicate.
    assert!(
        !out.stderr.contains("row 3")
            && !out.stderr.contains("row 4")
            && !out.stderr.contains("row 5"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Nothing was signed or sent"),
        "{}",
        out.stderr
    );
    assert_eq!(w.size(), size, "nothing of the file was sent");
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(report.contains("2,duplicate,"), "{report}");
    // The same, said in Chinese, by a dry run.
    let out = cli_env(
        &w.import_args(&sheet, &["--dry-run"]),
        None,
        &[("LANG", "zh_CN.UTF-8")],
    );
    assert!(
        out.stderr.contains("会触发重复救助预警") && out.stderr.contains("致困原因：疾病"),
        "{}",
        out.stderr
    );
    assert_eq!(w.size(), size);
    // Meant: imported, and the node raises its alert.
    let out = ok(&w.import_args(&sheet, &["--allow-duplicates"]), None);
    assert!(out.stdout.contains("4 added"), "{}", out.stdout);
    let alerts = w.node.get("/v1/alerts/duplicates");
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1, "{alerts}");
}
