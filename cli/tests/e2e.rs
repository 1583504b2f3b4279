//! The CLI end to end against a real node on loopback: sign → submit →
//! verify; receipts checked offline; a tampered export names the bad seq;
//! a replaced history is reported as a fork by incremental verify and by
//! monitor; an interrupted CSV import re-run yields each row once; IATI XML
//! validates against the 2.03 XSD.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{aidledger, cli, ok, Node, World, CHARITY};

#[test]
fn sign_submit_verify_and_check_receipts() {
    let w = World::new();
    let entry = w.sign(
        &w.charity_key,
        CHARITY,
        "credit.award",
        json!({
        "holder": format!("vol_{}", "ab".repeat(32)), "points": 5, "reason": "志愿服务"}),
    );
    let receipts = w.submit(&entry);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["seq"], 4);

    // The same entry again is idempotent: the original seq.
    assert_eq!(w.submit(&entry)[0]["seq"], 4);

    // Offline receipt checks: alone, against the entry, and tampered.
    let rpath = w.path("receipt.json");
    std::fs::write(&rpath, receipts[0].to_string()).unwrap();
    let epath = w.path("entry.json");
    std::fs::write(&epath, &entry).unwrap();
    ok(&["check-receipt", "--vkey", &w.vkey, &rpath], None);
    ok(
        &[
            "check-receipt",
            "--vkey",
            &w.vkey,
            "--entry",
            &epath,
            &rpath,
        ],
        None,
    );
    let other = w.sign(
        &w.charity_key,
        CHARITY,
        "credit.award",
        json!({
        "holder": format!("vol_{}", "ab".repeat(32)), "points": 6, "reason": "志愿服务"}),
    );
    std::fs::write(&epath, &other).unwrap();
    let out = cli(
        &[
            "check-receipt",
            "--vkey",
            &w.vkey,
            "--entry",
            &epath,
            &rpath,
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("different entry"), "{}", out.stderr);
    let mut bad = receipts[0].clone();
    bad["inclusion"][0] = json!("00".repeat(32));
    std::fs::write(&rpath, bad.to_string()).unwrap();
    let out = cli(&["check-receipt", "--vkey", &w.vkey, &rpath], None);
    assert_eq!(out.code, 1, "{}", out.stderr);

    // A refused entry: exit 1 and the node's code.
    let overdraw = w.sign(&w.charity_key, CHARITY, "disbursement", json!({
        "fund": "MED-2026", "beneficiary": format!("bnf_{}", "cd".repeat(32)), "tier": "assisted",
        "cause": "illness", "amount": 999_999_999, "method": "cash", "region": "321181", "date": "2026-03-01"}));
    let out = cli(
        &["submit", "--node", &w.node.url, "--vkey", &w.vkey, "-"],
        Some(overdraw.as_bytes()),
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("rule_violation"), "{}", out.stderr);

    // The whole ledger verifies; a wrong vkey or genesis does not.
    let genesis = w.node.get("/v1/log")["genesis"]
        .as_str()
        .unwrap()
        .to_string();
    let out = w.verify(&["--genesis", &genesis]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("verified: 5 entries"), "{}", out.stdout);
    let out = w.verify(&["--genesis", &"11".repeat(32)]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("seq 0"), "{}", out.stderr);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let other_vkey = ledger::checkpoint::vkey_string(common::ORIGIN, &stranger);
    let out = cli(
        &["verify", "--node", &w.node.url, "--vkey", &other_vkey],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("checkpoint does not verify"),
        "{}",
        out.stderr
    );

    // prove: the inclusion of seq 2 in the latest checkpoint.
    let out = ok(
        &["prove", "--node", &w.node.url, "--vkey", &w.vkey, "2"],
        None,
    );
    let proof: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(proof["size"], 5);

    // A real ID number is never signed.
    let key = w.charity_key.to_str().unwrap();
    let body = json!({"holder": format!("vol_{}", "ab".repeat(32)), "points": 1, "reason": "张三 11010519491231002X"});
    let out = cli(
        &[
            "sign",
            "--key",
            key,
            "--issuer",
            CHARITY,
            "--kind",
            "credit.award",
            "--body",
            "-",
        ],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not signing: body.reason"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    // Key files others may read are refused, as ssh does.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&w.charity_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli(
        &[
            "sign",
            "--key",
            w.charity_key.to_str().unwrap(),
            "--issuer",
            CHARITY,
            "--kind",
            "credit.award",
            "--body",
            "-",
        ],
        Some(b"{}"),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
}

#[test]
fn a_tampered_export_fails_naming_the_seq() {
    let w = World::new();
    let out_file = w.path("ledger.ndjson");
    ok(&["export", "--node", &w.node.url, "--out", &out_file], None);
    let cp = format!("{out_file}.checkpoint");
    let out = ok(
        &[
            "verify",
            "--file",
            &out_file,
            "--checkpoint",
            &cp,
            "--vkey",
            &w.vkey,
        ],
        None,
    );
    assert!(out.stdout.contains("verified: 4 entries"), "{}", out.stdout);

    let verify_file = || {
        let args = [
            "verify",
            "--file",
            &out_file,
            "--checkpoint",
            &cp,
            "--vkey",
            &w.vkey,
        ];
        cli(&args, None)
    };
    // One byte of seq 3's amount changed: its signature no longer verifies.
    let text = std::fs::read_to_string(&out_file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen("10000000", "10000001", 1);
    std::fs::write(&out_file, lines.join("\n") + "\n").unwrap();
    let out = verify_file();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("seq 3"), "{}", out.stderr);

    // A missing line breaks the chain at the seq after it.
    lines = text.lines().map(str::to_string).collect();
    lines.remove(1);
    std::fs::write(&out_file, lines.join("\n") + "\n").unwrap();
    let out = verify_file();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("seq 1"), "{}", out.stderr);
}

#[test]
fn a_replaced_history_is_reported_as_a_fork() {
    let mut w = World::new();
    let state = w.path("audit");
    let out = w.verify(&["--state-dir", &state]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("verified: 4 entries"), "{}", out.stdout);
    let award = |w: &World, i: u64| {
        w.sign(
            &w.charity_key,
            CHARITY,
            "credit.award",
            json!({
            "holder": format!("vol_{i:064x}"), "points": 1, "reason": "服务"}),
        )
    };

    // New entries: the next run verifies only those.
    w.submit(&(0..3).map(|i| award(&w, i)).collect::<Vec<_>>().join("\n"));
    let out = w.verify(&["--state-dir", &state]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("verified: 3 entries (size 7"),
        "{}",
        out.stdout
    );

    let mut monitor = aidledger()
        .args([
            "monitor",
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--interval",
            "1",
            "--state-dir",
            &state,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));

    // The operator replaces the log with another history signed with the
    // same node key: the same first four entries, then other ones, 8 in all.
    let first4: Vec<Value> = (0..4)
        .map(|s| w.node.get(&format!("/v1/entries/{s}"))["leaf"]["entry"].clone())
        .collect();
    let forged = w.dir.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(w.dir.path().join("node/node.key"), forged.join("node.key")).unwrap();
    let addr = w.node.addr;
    w.node.kill();
    w.node = Node::start(&forged, addr);
    let mut history: Vec<String> = first4.iter().map(Value::to_string).collect();
    history.extend((10..14).map(|i| award(&w, i)));
    w.submit(&history.join("\n"));
    assert_eq!(w.size(), 8);

    let out = w.verify(&["--state-dir", &state]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("FORK OR ROLLBACK"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\n7\n") && out.stderr.contains("\n8\n"),
        "both checkpoints: {}",
        out.stderr
    );

    let started = Instant::now();
    let status = loop {
        if let Some(s) = monitor.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "monitor did not notice the fork"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    monitor
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FORK OR ROLLBACK"), "{stderr}");
}

/// A CSV of `n` one-yuan disbursements from the medical fund.
fn disbursement_csv(n: u64) -> String {
    let mut csv = String::from("fund,beneficiary,name,tier,cause,amount,method,region,date\n");
    for i in 0..n {
        csv.push_str(&format!(
            "MED-2026,bnf_{i:064x},某某,assisted,illness,1.00,cash,{},2026-0{}-1{}\n",
            ["321181", "321182"][(i % 2) as usize],
            1 + i % 9,
            i % 10
        ));
    }
    csv
}

#[test]
fn an_interrupted_import_rerun_yields_each_row_once() {
    let w = World::new();
    let rows = 20_000u64;
    let file = w.path("rows.csv");
    std::fs::write(&file, disbursement_csv(rows)).unwrap();
    let args = w.import_args(&file, &[]);

    // First run, killed once some batches are in the ledger.
    let mut first = aidledger()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while w.size() < 4 + 3_000 {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the import ended before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let partial = w.size();
    assert!(
        partial < 4 + rows,
        "the import finished before it was killed"
    );

    // The re-run adds the rest; rows already in come back with their seqs.
    let out = ok(&args, None);
    assert!(
        out.stdout.contains(&format!("{rows} rows:")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("0 refused"), "{}", out.stdout);
    assert_eq!(w.size(), 4 + rows, "every row exactly once");
    let fund = w.node.get("/v1/funds/MED-2026");
    assert_eq!(fund["disbursed"], rows * 100);
    assert_eq!(fund["disbursements"], rows);
    // The names column never left the machine.
    let page = w.node.get("/v1/entries/4");
    assert!(!page.to_string().contains("某某"));
    ok(&["verify", "--node", &w.node.url, "--vkey", &w.vkey], None);

    // Refused rows: exit 1, with row numbers in the report.
    let bad = w.path("bad.csv");
    std::fs::write(
        &bad,
        "fund,beneficiary,tier,cause,amount,method,region,date,ref\n\
         MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000aa,assisted,illness,2.00,cash,321181,2026-05-01,\n\
         MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000ab,assisted,illness,abc,cash,321181,2026-05-01,\n\
         MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000ac,assisted,illness,99999999,cash,321181,2026-05-01,\n\
         MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000ad,assisted,sickness,2.00,cash,321181,2026-05-01,\n\
         MED-2026,bnf_00000000000000000000000000000000000000000000000000000000000000ae,assisted,illness,2.00,cash,321181,2026-05-01,13912345678\n",
    )
    .unwrap();
    let report = w.path("report.csv");
    let out = cli(&w.import_args(&bad, &["--report", &report]), None);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    // UTF-8 with a BOM, so that Excel opens it as it is.
    assert_eq!(lines[0], "\u{feff}row,code,message,how to fix");
    assert!(lines[1].starts_with("3,bad_row,"), "{report}");
    assert!(lines[2].starts_with("4,rule_violation,"), "{report}");
    assert!(lines[3].starts_with("5,bad_row,"), "{report}");
    assert!(lines[4].starts_with("6,pii_detected,"), "{report}");
    assert_eq!(lines.len(), 5, "{report}");
    assert_eq!(w.size(), 4 + rows + 1);
}

#[test]
fn iati_export_validates_against_the_2_03_schema() {
    let w = World::new();
    let file = w.path("rows.csv");
    std::fs::write(&file, disbursement_csv(30)).unwrap();
    ok(&w.import_args(&file, &[]), None);
    // One disbursement reversed: it is left out of the totals.
    let reversal = w.sign(
        &w.charity_key,
        CHARITY,
        "correction",
        json!({"target": 4, "reason": "重复录入", "reverse": true}),
    );
    w.submit(&reversal);

    let xml_path = w.path("iati.xml");
    ok(
        &[
            "iati",
            "--node",
            &w.node.url,
            "--org",
            CHARITY,
            "--out",
            &xml_path,
        ],
        None,
    );
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(xml.contains("<transaction-type code=\"1\"/>"), "{xml}");
    assert!(xml.contains("<transaction-type code=\"3\"/>"), "{xml}");
    assert!(!xml.contains("bnf_"), "no beneficiary in IATI output");
    // 30 rows of 1 yuan over (date, region) slots, one reversed: 29 yuan paid.
    let paid: f64 = xml
        .split("<transaction>")
        .filter(|t| t.contains("code=\"3\""))
        .map(|t| {
            let v = t.split("\">").nth(1).unwrap();
            v[..v.find('<').unwrap()].parse::<f64>().unwrap()
        })
        .sum();
    assert_eq!(paid, 29.0);
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/iati/iati-activities-schema.xsd"
    );
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", schema, &xml_path])
        .output()
        .expect("xmllint (Debian package libxml2-utils) is needed: scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Readable tables.
    let out = ok(&["fund", "--node", &w.node.url, "MED-2026"], None);
    assert!(out.stdout.contains("(reversed)"), "{}", out.stdout);
    assert!(out.stdout.contains("disbursed"), "{}", out.stdout);
    let out = ok(
        &[
            "beneficiary",
            "--node",
            &w.node.url,
            &format!("bnf_{:064x}", 1),
        ],
        None,
    );
    assert!(out.stdout.contains("1 entries"), "{}", out.stdout);
}

#[test]
fn the_sample_spreadsheets_import_and_a_rerun_adds_nothing() {
    let w = World::new();
    let _service = w.pseudonym_service();
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    for sample in ["disbursements-gbk.csv", "disbursements-en.csv"] {
        let file = w.path(sample);
        std::fs::copy(format!("{samples}/{sample}"), &file).unwrap();
        let args = w.import_args(&file, &[]);
        let out = ok(&args, None);
        assert!(out.stdout.contains("0 refused"), "{}", out.stdout);
        let out = ok(&args, None);
        assert!(
            out.stdout.contains("0 added"),
            "a re-run adds nothing: {}",
            out.stdout
        );
    }
    // Setup, rules v2 and the pseudonym key, then the rows.
    assert_eq!(w.size(), 4 + 2 + 3 + 2);
    // The ID numbers' pseudonyms are the pseudonym service's.
    let first = w.node.get("/v1/entries/6")["leaf"]["entry"]["statement"]["body"].clone();
    let made = w.pseudonyms_of("bnf", &["321181196003120136"]);
    assert_eq!(first["beneficiary"].as_str().unwrap(), made[0]);
    assert_eq!(first["amount"], 300_000);
    assert_eq!(first["tier"], "assisted");
    assert_eq!(first["date"], "2026-03-05");
    let export = w.path("all.ndjson");
    ok(&["export", "--node", &w.node.url, "--out", &export], None);
    let all = std::fs::read_to_string(&export).unwrap();
    assert!(!all.contains("321181196003120136") && !all.contains("张某"));
}

#[test]
fn an_id_number_that_is_none_stops_the_whole_file_and_is_never_echoed() {
    let w = World::new();
    let _service = w.pseudonym_service();
    let file = w.path("ids.csv");
    std::fs::write(
        &file,
        "身份证号,资金编号,类别,致困原因,金额（元）,发放方式,区划代码,发放日期\n\
         321181196003120136,MED-2026,救助户,因病,100,现金,321181,2026/3/5\n\
         110105194912310021,MED-2026,救助户,因病,100,现金,321181,2026/3/5\n\
         11010519491231,MED-2026,救助户,因病,100,现金,321181,2026/3/5\n",
    )
    .unwrap();
    let size = w.size();
    let out = cli(&w.import_args(&file, &[]), None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("row 3")
            && out.stderr.contains("should be X")
            && out.stderr.contains("row 4"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("110105194912310021") && !out.stderr.contains("321181196003120136")
    );
    assert_eq!(w.size(), size, "nothing of the file was sent");
}
