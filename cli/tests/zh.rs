//! The Chinese interface, whole (issue 28): every command's help, clap's
//! own errors, the common mistakes and the successful runs of every
//! command, run under `LANG=zh_CN.UTF-8` against a real node, and not one
//! untranslated English sentence in what they print. Data (JSON
//! receipts, proofs, keys, ids) is not a sentence and is left out.

use std::os::unix::fs::PermissionsExt;

mod common;
use common::*;
use serde_json::json;

const ZH: [(&str, &str); 1] = [("LANG", "zh_CN.UTF-8")];

/// Four or more English words in a row: a sentence nobody translated.
/// Words are runs of ASCII letters (an apostrophe inside allowed), perhaps
/// ending in punctuation; anything else between two words
/// (a digit, `-`, `/`, `<`, a Chinese character) ends the run, so
/// command lines, flags, ids and codes are not sentences.
fn english_sentence(text: &str) -> Option<String> {
    for line in text.lines() {
        let mut run: Vec<&str> = Vec::new();
        for token in line.split(' ') {
            let word = token.trim_end_matches([',', '.', ';', ':', '!', '?', ')']);
            let is_word = !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphabetic() || c == '\'')
                && word.starts_with(|c: char| c.is_ascii_alphabetic())
                && !token.starts_with('(');
            if is_word {
                run.push(token);
                if run.len() >= 4 {
                    return Some(format!("{:?} in {line:?}", run.join(" ")));
                }
            } else {
                run.clear();
            }
        }
    }
    None
}

/// Output that is data, not words for a reader: JSON documents and lines.
fn words_of(output: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(output).is_ok() {
        return String::new();
    }
    output
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `aidledger args…` in Chinese and asserts it printed no English
/// sentence; returns what it printed.
fn zh<S: AsRef<str>>(args: &[S], stdin: Option<&[u8]>) -> Out {
    let out = cli_env(args, stdin, &ZH);
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if let Some(found) = english_sentence(&words_of(text)) {
            panic!("aidledger {args:?}: untranslated English on {stream}: {found}\n{text}");
        }
    }
    out
}

/// As [`zh`], for a run that must succeed.
fn zh_ok<S: AsRef<str>>(args: &[S], stdin: Option<&[u8]>) -> Out {
    let out = zh(args, stdin);
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    assert_eq!(
        out.code, 0,
        "aidledger {args:?}\n{}\n{}",
        out.stdout, out.stderr
    );
    out
}

/// As [`zh`], for a run that must fail, saying so in Chinese.
fn zh_fails<S: AsRef<str>>(args: &[S], stdin: Option<&[u8]>) -> Out {
    let out = zh(args, stdin);
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    assert_ne!(
        out.code, 0,
        "aidledger {args:?}\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains("aidledger："),
        "aidledger {args:?}: {}",
        out.stderr
    );
    eprintln!("aidledger {args:?}\n{}", out.stderr);
    out
}

/// The commands under `path` that `aidledger PATH --help` lists, with
/// their own subcommands, depth first.
fn commands(path: &[String]) -> Vec<Vec<String>> {
    let mut args = path.to_vec();
    args.push("--help".into());
    let help = zh(&args, None);
    assert_eq!(help.code, 0, "{args:?}: {}", help.stderr);
    let mut found = Vec::new();
    let mut listing = false;
    for line in help.stdout.lines() {
        if line.starts_with("命令") {
            listing = true;
            continue;
        }
        if listing {
            let Some(name) = line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            else {
                break;
            };
            let mut sub = path.to_vec();
            sub.push(name.to_owned());
            found.push(sub.clone());
            found.extend(commands(&sub));
        }
    }
    found
}

#[test]
fn the_sentence_finder_finds_sentences_and_not_data() {
    assert!(english_sentence("aidledger：错误：the node sent more than 5 leaves").is_some());
    assert!(english_sentence("no evidence: every signed checkpoint").is_some());
    assert!(english_sentence("用法： aidledger fund open [OPTIONS] --key <KEY>").is_none());
    assert!(english_sentence("资金编号        CSZH-2026-DABING").is_none());
    assert!(english_sentence("节点拒绝：违反账本规则（rule_violation）").is_none());
}

#[test]
fn every_command_speaks_chinese() {
    // Every command's help, and clap's own errors for each.
    let all = commands(&[]);
    assert!(all.len() >= 20, "{all:?}");
    for command in &all {
        let mut bogus = command.clone();
        bogus.push("--no-such-option".into());
        let out = zh(&bogus, None);
        assert_eq!(out.code, 2, "{bogus:?}");
        assert!(
            out.stderr.contains("不认识的参数"),
            "{bogus:?}: {}",
            out.stderr
        );
    }
    zh_fails(&["no-such-command"], None);
    zh_fails(&["keygen"], None);
    zh_fails(&["verify", "--node"], None);
    zh_fails(&["import", "--kind", "nothing", "x.csv"], None);

    let w = World::new();
    let node = w.node.url.as_str();
    let charity_key = w.charity_key.to_str().unwrap();
    let bureau_key = w.bureau_key.to_str().unwrap();

    // Keys and pseudonyms.
    let key = w.path("new.key");
    zh_ok(&["keygen", "--out", &key], None);
    let again = zh(&["keygen", "--out", &key], None);
    assert_eq!(again.code, 2);
    // The pseudonym service: a lookup, an ID that is none, a service key
    // others may read.
    let service = w.pseudonym_service();
    let of = |id: &str| {
        zh(
            &[
                "pseudonym",
                "of",
                "--node",
                &w.node.url,
                "--key",
                charity_key,
                "--issuer",
                CHARITY,
                id,
            ],
            None,
        )
    };
    assert_eq!(of("11010519491231002X").code, 0);
    let bad = of("110105194912310021");
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("按前 17 位应为 X"), "{}", bad.stderr);
    drop(service);
    let service_key = w.dir.path().join("pseudonym-service").join("service.key");
    std::fs::set_permissions(&service_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = zh(
        &[
            "pseudonym",
            "serve",
            "--dir",
            w.dir.path().join("pseudonym-service").to_str().unwrap(),
            "--node",
            &w.node.url,
        ],
        None,
    );
    assert!(exposed.stderr.contains("chmod 600"), "{}", exposed.stderr);
    zh_fails(
        &[
            "pseudonym",
            "init",
            "--dir",
            w.dir.path().join("pseudonym-service").to_str().unwrap(),
        ],
        None,
    );

    // Signing: PII, a body that is not JSON, one the rules refuse.
    let sign = |body: &str| {
        zh(
            &[
                "sign",
                "--key",
                charity_key,
                "--issuer",
                CHARITY,
                "--kind",
                "fund.receive",
                "--body",
                "-",
            ],
            Some(body.as_bytes()),
        )
    };
    let pii = sign(r#"{"fund":"MED-2026","amount":1,"from":"13812345678","date":"2026-01-05"}"#);
    assert!(pii.stderr.contains("手机号"), "{}", pii.stderr);
    sign("not json");
    sign(r#"{"fund":"MED-2026"}"#);

    // Submitting: accepted, then refused by the rules (more than the fund holds).
    let fine = w.sign(
        &w.charity_key,
        CHARITY,
        "fund.receive",
        json!({"fund": "MED-2026", "amount": 500, "from": "个人捐赠", "date": "2026-02-01"}),
    );
    zh_ok(
        &["submit", "--node", node, "--vkey", &w.vkey, "-"],
        Some(fine.as_bytes()),
    );
    let too_much = w.sign(
        &w.charity_key,
        CHARITY,
        "disbursement",
        json!({"fund": "MED-2026", "beneficiary": format!("bnf_{:064x}", 1), "tier": "assisted",
               "cause": "illness", "amount": 900_000_000, "method": "cash", "region": "321181",
               "date": "2026-03-01"}),
    );
    let refused = zh(
        &["submit", "--node", node, "--vkey", &w.vkey, "-"],
        Some(too_much.as_bytes()),
    );
    assert!(refused.stderr.contains("余额不足"), "{}", refused.stderr);
    zh_fails(&["submit", "--node", node, "-"], Some(b"{}"));

    // A sheet with mistakes, dry and real.
    let sheet = w.path("sheet.csv");
    std::fs::write(
        &sheet,
        format!(
            "资金编号,受助人代码,类别,致困原因,金额（元）,发放方式,区划代码,发放日期,凭证号\r\n\
             MED-2026,bnf_{:064x},救助户,因病,650元,现金,321181,2026/3/6,V-2\r\n\
             MED-2099,bnf_{:064x},贫困户,因病,0,现金,3211,,V-3\r\n",
            2, 3
        ),
    )
    .unwrap();
    let mut import = w.import_args(&sheet, &["--dry-run"]);
    zh(&import, None);
    import.retain(|a| a != "--dry-run");
    zh(&import, None);
    zh_fails(&w.import_args(&w.path("missing.csv"), &[]), None);

    // Admin entries: an org id with a wrong check character, a key added.
    zh_fails(
        &[
            "org",
            "register",
            "--node",
            node,
            "--key",
            bureau_key,
            "--issuer",
            BUREAU,
            "--id",
            "CN-USCI-53440300MJ0000018X",
            "--name",
            "某协会",
            "--type",
            "慈善组织",
            "--region",
            "321181",
            "--org-key",
            "00=fund",
        ],
        None,
    );
    let new_pub = std::fs::read_to_string(format!("{key}.pub"))
        .ok()
        .map(|s| s.trim().to_owned());
    if let Some(public) = new_pub {
        zh_ok(
            &[
                "key", "add", "--node", node, "--key", bureau_key, "--issuer", BUREAU, "--org",
                CHARITY, "--public", &public, "--roles", "credit",
            ],
            None,
        );
    }
    zh_ok(
        &[
            "fund",
            "open",
            "--node",
            node,
            "--key",
            charity_key,
            "--issuer",
            CHARITY,
            "--id",
            "EDU-2026",
            "--title",
            "助学金",
            "--category",
            "教育救助",
            "--source",
            "社会捐赠",
            "--region",
            "321181",
            "--budget",
            "1,000元",
            "--start",
            "2026/1/1",
            "--end",
            "2026/12/31",
        ],
        None,
    );

    // Reading: funds (names, not codes), a beneficiary, a missing fund.
    let fund = zh_ok(&["fund", "--node", node, "MED-2026"], None);
    assert!(fund.stdout.contains("慈善总会"), "{}", fund.stdout);
    assert!(fund.stdout.contains("医疗救助"), "{}", fund.stdout);
    zh_fails(&["fund", "--node", node, "NOPE"], None);
    zh_fails(&["fund", "--node", node], None);
    zh_ok(
        &["beneficiary", "--node", node, &format!("bnf_{:064x}", 2)],
        None,
    );
    zh_fails(&["beneficiary", "--node", node, "110105194912310021"], None);
    zh_ok(
        &[
            "iati",
            "--node",
            node,
            "--org",
            CHARITY,
            "--out",
            &w.path("iati.xml"),
        ],
        None,
    );

    // Auditing: verify, export, prove, a receipt, a missing seq.
    zh_ok(&["verify", "--node", node, "--vkey", &w.vkey], None);
    let export = w.path("ledger.ndjson");
    zh_ok(&["export", "--node", node, "--out", &export], None);
    zh_ok(
        &[
            "verify",
            "--vkey",
            &w.vkey,
            "--file",
            &export,
            "--checkpoint",
            &format!("{export}.checkpoint"),
        ],
        None,
    );
    let text = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = w.path("cut.ndjson");
    std::fs::write(&cut, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    std::fs::copy(format!("{export}.checkpoint"), format!("{cut}.checkpoint")).unwrap();
    let missing = zh(
        &[
            "verify",
            "--vkey",
            &w.vkey,
            "--file",
            &cut,
            "--checkpoint",
            &format!("{cut}.checkpoint"),
        ],
        None,
    );
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    let state = w.path("monitor-state");
    zh_ok(
        &[
            "monitor",
            "--node",
            node,
            "--vkey",
            &w.vkey,
            "--state-dir",
            &state,
            "--once",
        ],
        None,
    );
    zh_ok(
        &[
            "monitor",
            "--node",
            node,
            "--vkey",
            &w.vkey,
            "--state-dir",
            &state,
            "--once",
        ],
        None,
    );
    zh_ok(&["prove", "--node", node, "--vkey", &w.vkey, "1"], None);
    zh_fails(
        &["prove", "--node", node, "--vkey", &w.vkey, "999999"],
        None,
    );
    zh_fails(
        &["prove", "--node", node, "--vkey", "not-a-vkey", "1"],
        None,
    );
    let receipts = w.path("receipts.ndjson");
    std::fs::write(
        &receipts,
        zh(
            &["submit", "--node", node, "--vkey", &w.vkey, "-"],
            Some(fine.as_bytes()),
        )
        .stdout,
    )
    .unwrap();
    zh_ok(&["check-receipt", "--vkey", &w.vkey, &receipts], None);

    // Setting up: init against this node, and a node that is not there.
    let config = w.path("config.toml");
    zh_ok(
        &[
            "--config", &config, "init", "--node", node, "--vkey", &w.vkey,
        ],
        None,
    );
    zh_fails(
        &[
            "--config",
            &config,
            "init",
            "--node",
            node,
            "--vkey",
            "x+00000000+AAAA",
        ],
        None,
    );
    let gone = format!("http://{}", free_addr());
    let unreachable = zh(
        &["export", "--node", &gone, "--out", &w.path("gone.ndjson")],
        None,
    );
    assert!(
        unreachable.stderr.contains("连接被拒绝"),
        "{}",
        unreachable.stderr
    );

    // A witness: made, told of the log, asked for its evidence.
    let witness = w.path("witness");
    zh_ok(
        &[
            "witness",
            "init",
            "--name",
            "audit.example/w",
            "--dir",
            &witness,
        ],
        None,
    );
    zh_ok(
        &[
            "witness", "add-log", "--dir", &witness, "--origin", ORIGIN, "--vkey", &w.vkey,
        ],
        None,
    );
    zh_fails(
        &[
            "witness",
            "add-log",
            "--dir",
            &witness,
            "--origin",
            "other.example",
            "--vkey",
            &w.vkey,
        ],
        None,
    );
    zh_ok(&["witness", "evidence", "--dir", &witness], None);
}
