//! The outside auditor's day (issue 28, items 4 and 7), with the real node
//! and the real `aidledger`, in English and in Chinese: `verify` of a good
//! ledger says what it checked; an export tampered in each way is refused
//! naming what was done and where; `check-receipt` names the entry it
//! matched; `monitor --state-dir` survives a restart and refuses a node
//! that was rolled back or rewritten.

use std::path::Path;
use std::process::Command;

use serde_json::json;

mod common;
use common::*;

const ZH: &[(&str, &str)] = &[("LANG", "zh_CN.UTF-8")];

/// A world of `4 + n` entries: the setup, then `n` credit awards.
fn world(n: u64) -> World {
    let w = World::new();
    award(&w, 100, n);
    w
}

/// Submits `n` awards to fresh holders from `from` on.
fn award(w: &World, from: u64, n: u64) -> Vec<serde_json::Value> {
    let entries: Vec<String> = (from..from + n)
        .map(|i| {
            w.sign(
                &w.charity_key,
                CHARITY,
                "credit.award",
                json!({"holder": format!("vol_{i:064x}"), "points": 1, "reason": "服务"}),
            )
        })
        .collect();
    w.submit(&entries.join("\n"))
}

/// Asserts that `text` says nothing in English: no run of two or more
/// English words (codes, hashes, paths and option names aside).
fn no_english_sentence(text: &str) {
    for line in text.lines() {
        let words: Vec<&str> = line
            .split(|c: char| !c.is_ascii_alphabetic() && c != '\'')
            .filter(|w| w.len() > 1)
            .collect();
        for pair in words.windows(2) {
            let sentence = pair
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '\''))
                && line.contains(&format!("{} {}", pair[0], pair[1]));
            assert!(!sentence, "English in Chinese output: {line}");
        }
    }
}

#[test]
fn verify_of_a_good_ledger_says_what_was_checked_in_both_languages() {
    let w = world(8);
    let root = w.node.get("/v1/log")["root"].as_str().map(str::to_owned);
    let out = w.verify(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "verified: 12 entries (size 12",
        "signatures: 12 entries, each verified under the key it names",
        "hash chain: seq 0 to seq 11, each linked to the one before",
        "rules: every entry replayed, none refused",
        "checkpoint: size 12, root ",
        &format!("signed by {ORIGIN}"),
        "witnesses: not checked",
    ] {
        assert!(out.stdout.contains(line), "{line}: {}", out.stdout);
    }
    if let Some(root) = root {
        assert!(out.stdout.contains(&root[..16]), "{}", out.stdout);
    }
    // With the published genesis, it is said to be seq 0.
    let genesis = w.node.get("/v1/log")["genesis"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = w.verify(&["--genesis", &genesis]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "genesis: seq 0 is the published genesis {}",
            &genesis[..16]
        )),
        "{}",
        out.stdout
    );

    let zh = cli_env(
        &["verify", "--node", &w.node.url, "--vkey", &w.vkey],
        None,
        ZH,
    );
    assert_eq!(zh.code, 0, "{}", zh.stderr);
    for line in [
        "已验证：12 条（规模 12",
        "签名：12 条，每条都用其所署公钥验证通过",
        "哈希链：序号 0 至 11",
        "规则：每条都已重放，没有被拒的",
        "检查点：规模 12",
        "见证：未检查",
    ] {
        assert!(zh.stdout.contains(line), "{line}: {}", zh.stdout);
    }
    no_english_sentence(&zh.stdout);

    // No --node: the config file's node, as every other command.
    let config = w.path("config.toml");
    std::fs::write(
        &config,
        format!("node = \"{}\"\nvkey = \"{}\"\n", w.node.url, w.vkey),
    )
    .unwrap();
    let out = cli_env(&["verify"], None, &[("AIDLEDGER_CONFIG", &config)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("verified: 12 entries"),
        "{}",
        out.stdout
    );
}

/// An export of a 12-entry ledger and the verify of a tampered copy.
struct Exported {
    w: World,
    file: String,
    checkpoint: String,
    lines: Vec<String>,
}

impl Exported {
    fn new() -> Exported {
        let w = world(8);
        let file = w.path("ledger.ndjson");
        ok(&["export", "--node", &w.node.url, "--out", &file], None);
        let lines = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        Exported {
            checkpoint: format!("{file}.checkpoint"),
            w,
            file,
            lines,
        }
    }

    /// Verifies `text` as the export, in English and in Chinese: both fail
    /// with status 1 and contain their phrase.
    fn refused(&self, text: &str, en: &str, zh: &str) -> String {
        let damaged = self.w.path("damaged.ndjson");
        std::fs::write(&damaged, text).unwrap();
        let args = [
            "verify",
            "--file",
            &damaged,
            "--checkpoint",
            &self.checkpoint,
            "--vkey",
            &self.w.vkey,
        ];
        let out = cli(&args, None);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains(en), "expected {en:?}: {}", out.stderr);
        let out_zh = cli_env(&args, None, ZH);
        assert_eq!(out_zh.code, 1, "{}", out_zh.stderr);
        assert!(
            out_zh.stderr.contains(zh),
            "expected {zh:?}: {}",
            out_zh.stderr
        );
        no_english_sentence(&out_zh.stderr);
        out.stderr
    }

    fn joined(lines: &[String]) -> String {
        lines.join("\n") + "\n"
    }

    /// The lines with seq `seq`'s `logged_at` set to `to`.
    fn with_time(&self, seq: usize, to: &str) -> Vec<String> {
        let mut lines = self.lines.clone();
        let line = &lines[seq];
        let at = line.find("\"logged_at\":\"").unwrap() + "\"logged_at\":\"".len();
        let end = at + line[at..].find('"').unwrap();
        lines[seq] = format!("{}{to}{}", &line[..at], &line[end..]);
        lines
    }
}

#[test]
fn each_kind_of_tampering_is_named_with_its_seq() {
    let e = Exported::new();
    assert_eq!(e.lines.len(), 12);
    ok(
        &[
            "verify",
            "--file",
            &e.file,
            "--checkpoint",
            &e.checkpoint,
            "--vkey",
            &e.w.vkey,
        ],
        None,
    );

    // An entry removed.
    let mut lines = e.lines.clone();
    lines.remove(5);
    e.refused(
        &Exported::joined(&lines),
        "seq 5: the entry at seq 5 is missing",
        "缺少序号 5 的条目",
    );

    // Two swapped.
    let mut lines = e.lines.clone();
    lines.swap(5, 6);
    e.refused(
        &Exported::joined(&lines),
        "the entries seq 5 and seq 6 are swapped",
        "序号 5 与序号 6 的条目位置互换了",
    );

    // One repeated.
    let mut lines = e.lines.clone();
    lines.insert(6, lines[5].clone());
    e.refused(
        &Exported::joined(&lines),
        "the entry seq 5 appears twice",
        "序号 5 的条目重复出现",
    );

    // logged_at of seq 7 moved later: blamed on 7, not on 8 (whose link broke).
    let err = e.refused(
        &Exported::joined(&e.with_time(7, "2099-01-01T00:00:00.000Z")),
        "seq 7: its time (logged_at 2099-01-01T00:00:00.000Z) was changed after it was logged",
        "序号 7：其记账时间（logged_at 2099-01-01T00:00:00.000Z）在记账后被改动",
    );
    assert!(!err.contains("seq 8:"), "{err}");
    // ... or earlier.
    e.refused(
        &Exported::joined(&e.with_time(7, "2000-01-01T00:00:00.000Z")),
        "seq 7: its time (logged_at 2000-01-01T00:00:00.000Z) was changed",
        "序号 7：其记账时间（logged_at 2000-01-01T00:00:00.000Z）被改动",
    );

    // The file cut after seq 8, or inside seq 9.
    e.refused(
        &Exported::joined(&e.lines[..9]),
        "the file is cut after seq 8: it holds 9 entries, the checkpoint has 12; seq 9 to seq 11 are missing",
        "文件在序号 8 之后被截断",
    );
    let mut cut = Exported::joined(&e.lines[..9]);
    cut.push_str(&e.lines[9][..40]);
    e.refused(
        &cut,
        "seq 9: the file is cut in the middle of seq 9",
        "文件在序号 9 的中间被截断",
    );

    // A signature byte flipped: the signer is named.
    let mut lines = e.lines.clone();
    let line = &lines[6];
    let at = line.find("\"signature\":\"").unwrap() + "\"signature\":\"".len();
    let flipped = if &line[at..=at] == "0" { "1" } else { "0" };
    lines[6] = format!("{}{flipped}{}", &line[..at], &line[at + 1..]);
    let err = e.refused(
        &Exported::joined(&lines),
        "seq 6: its signature does not verify under its key",
        "序号 6：签名用其公钥",
    );
    assert!(err.contains(&format!("signed as {CHARITY}")), "{err}");

    // Another ledger's genesis.
    let args = [
        "verify",
        "--file",
        &e.file,
        "--checkpoint",
        &e.checkpoint,
        "--vkey",
        &e.w.vkey,
        "--genesis",
        &"0".repeat(64),
    ];
    let out = cli(&args, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("seq 0: this is not the published genesis"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_receipt_names_the_entry_it_matched_or_what_changed() {
    let w = World::new();
    let entry = w.sign(
        &w.charity_key,
        CHARITY,
        "credit.award",
        json!({"holder": format!("vol_{:064x}", 7), "points": 1, "reason": "服务"}),
    );
    let receipts = w.submit(&entry);
    let receipt = w.path("receipt.json");
    std::fs::write(&receipt, receipts[0].to_string()).unwrap();
    let entry_file = w.path("entry.json");
    std::fs::write(&entry_file, &entry).unwrap();
    let args = [
        "check-receipt",
        "--vkey",
        &w.vkey,
        "--entry",
        &entry_file,
        &receipt,
    ];
    let out = ok(&args, None);
    assert!(
        out.stdout.contains(&format!(
            "receipt verified: seq 4 (credit.award signed by {CHARITY}) is in the tree of size 5"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "entry: the one in {entry_file} is the entry at seq 4"
        )),
        "{}",
        out.stdout
    );
    let zh = cli_env(&args, None, ZH);
    assert_eq!(zh.code, 0, "{}", zh.stderr);
    assert!(zh.stdout.contains("回执已验证：序号 4"), "{}", zh.stdout);
    assert!(zh.stdout.contains("就是序号 4 的条目"), "{}", zh.stdout);
    no_english_sentence(&zh.stdout);

    // The receipt's leaf with another time: said as a changed leaf.
    let mut changed = receipts[0].clone();
    changed["leaf"]["logged_at"] = json!("2099-01-01T00:00:00.000Z");
    std::fs::write(&receipt, changed.to_string()).unwrap();
    let out = cli(&args, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("seq 4: the leaf in the receipt was changed"),
        "{}",
        out.stderr
    );
    let zh = cli_env(&args, None, ZH);
    assert_eq!(zh.code, 1, "{}", zh.stderr);
    assert!(zh.stderr.contains("回执中的叶子被改动"), "{}", zh.stderr);
    no_english_sentence(&zh.stderr);
}

/// Copies the directory `from` to `to` (the node's data, while it is down).
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_restarted_monitor_resumes_and_refuses_a_rolled_back_node() {
    let mut w = world(2);
    let genesis = w.node.get("/v1/log")["genesis"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = w.dir.path().join("node");
    let addr = w.node.addr;
    // The operator's copy of the data at size 6.
    w.node.kill();
    let old = w.dir.path().join("node-at-6");
    copy_dir(&data, &old);
    w.node = Node::start(&data, addr);

    let state = w.path("monitor-state/sub");
    let monitor = |w: &World, env: &[(&str, &str)]| {
        cli_env(
            &[
                "monitor",
                "--node",
                &w.node.url,
                "--vkey",
                &w.vkey,
                "--genesis",
                &genesis,
                "--state-dir",
                &state,
                "--once",
            ],
            None,
            env,
        )
    };
    let out = monitor(&w, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("no verified state"), "{}", out.stderr);
    assert!(out.stdout.starts_with("size 6 root "), "{}", out.stdout);
    assert!(Path::new(&state).join("monitor.state").exists());

    // Restarted after new entries: resumes from size 6, goes on to 9.
    award(&w, 200, 3);
    let out = monitor(&w, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("resumed from size 6, root "),
        "{}",
        out.stderr
    );
    assert!(out.stdout.starts_with("size 9 root "), "{}", out.stdout);
    let good = w.dir.path().join("node-at-9");
    w.node.kill();
    copy_dir(&data, &good);

    // The node rolled back to the copy at size 6.
    let rolled = w.dir.path().join("rolled");
    copy_dir(&old, &rolled);
    w.node = Node::start(&rolled, addr);
    let out = monitor(&w, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("FORK OR ROLLBACK: the log was rolled back: it shrank from 9 to 6 entries"),
        "{}",
        out.stderr
    );
    let zh = monitor(&w, ZH);
    assert_eq!(zh.code, 1, "{}", zh.stderr);
    assert!(
        zh.stderr.contains("账本被回滚：条目从 9 条减少到 6 条"),
        "{}",
        zh.stderr
    );

    // Other entries since: the same size with another root, then a larger
    // tree that does not contain the one verified.
    award(&w, 300, 3);
    let out = monitor(&w, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("two different roots for size 9"),
        "{}",
        out.stderr
    );
    award(&w, 400, 1);
    let out = monitor(&w, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the tree of size 10 does not contain the one of size 9"),
        "{}",
        out.stderr
    );

    // The real data back: resumes where it was, nothing to refuse.
    w.node.kill();
    w.node = Node::start(&good, addr);
    let out = monitor(&w, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("resumed from size 9, root "),
        "{}",
        out.stderr
    );
    let zh = monitor(&w, ZH);
    assert_eq!(zh.code, 0, "{}", zh.stderr);
    assert!(zh.stderr.contains("从规模 9"), "{}", zh.stderr);
    assert!(zh.stdout.starts_with("规模 9 根 "), "{}", zh.stdout);

    // A fresh monitor pinned to another genesis refuses the node.
    let other = w.path("other-state");
    let out = cli(
        &[
            "monitor",
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--genesis",
            &"0".repeat(64),
            "--state-dir",
            &other,
            "--once",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("seq 0: this is not the published genesis"),
        "{}",
        out.stderr
    );
}

/// `verify --sign-stats`: the demo's two auditors replay the demo ledger,
/// recompute its statistics, sign them and post them; the node keeps the
/// notes across a restart; an auditor the node does not list is told the
/// line to give its operator.
#[test]
fn auditors_sign_the_figures_they_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let addr = free_addr();
    let node = testkit::demo(&node_bin(), &data, addr, &[]);
    let url = format!("http://{addr}");
    let get = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&testkit::http_get(addr, path).1).unwrap()
    };
    let vkey = get("/v1/log")["vkey"].as_str().unwrap().to_owned();
    let size = get("/v1/log")["size"].as_u64().unwrap();
    let sign = |name: &str, key: &Path| {
        cli(
            &[
                "verify",
                "--node",
                &url,
                "--vkey",
                &vkey,
                "--sign-stats",
                key.to_str().unwrap(),
                "--name",
                name,
            ],
            None,
        )
    };
    let auditor = |name: &str| data.join("auditors").join(format!("{name}.key"));
    let out = sign("audit.jiangsu.demo", &auditor("audit.jiangsu.demo"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("statistics: recomputed from seqs 0..{size}-1"))
            && out
                .stdout
                .contains("signed as audit.jiangsu.demo and kept by the node"),
        "{}",
        out.stdout
    );
    let again = sign("audit.jiangsu.demo", &auditor("audit.jiangsu.demo"));
    assert!(
        again.stdout.contains("the node already keeps"),
        "{}",
        again.stdout
    );
    let out = sign(
        "inspection.jiangsu.demo",
        &auditor("inspection.jiangsu.demo"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // What they recomputed from the entries is what the node says.
    let audited = get("/v1/stats/audited");
    assert_eq!(audited["size"], size);
    assert_eq!(audited["stats"], get("/v1/stats"));
    assert_eq!(audited["notes"].as_array().unwrap().len(), 2);

    // An auditor the node does not list: refused, with the line to list it.
    let stranger = dir.path().join("stranger.key");
    keygen(&stranger);
    let out = sign("audit.example", &stranger);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("refused the signed statistics: unknown_key")
            && out.stderr.contains("\n  audit.example audit.example+"),
        "{}",
        out.stderr
    );
    // Kept across a restart.
    drop(node);
    let _node = testkit::demo(&node_bin(), &data, addr, &[]);
    assert_eq!(get("/v1/stats/audited"), audited);
}

/// Receipts as C2SP tlog-proof files (SPEC §4.2): `submit --proofs-dir`
/// writes one per entry with the entry beside it, `prove --out` writes
/// one for any seq, and `check-receipt` verifies them offline, naming the
/// step that fails.
#[test]
fn receipts_as_tlog_proof_files_verify_offline_and_name_what_fails() {
    let w = world(2);
    let entries: Vec<String> = (200..203)
        .map(|i| {
            w.sign(
                &w.charity_key,
                CHARITY,
                "credit.award",
                json!({"holder": format!("vol_{i:064x}"), "points": 2, "reason": "服务"}),
            )
        })
        .collect();
    let input = w.path("entries.ndjson");
    std::fs::write(&input, entries.join("\n")).unwrap();
    let dir = w.path("proofs");
    let out = cli(
        &[
            "submit",
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--proofs-dir",
            &dir,
            &input,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seqs: Vec<u64> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs.len(), 3);
    let check = |proof: &str, entry: &str| {
        cli(
            &["check-receipt", "--vkey", &w.vkey, "--entry", entry, proof],
            None,
        )
    };
    for seq in &seqs {
        let proof = format!("{dir}/{seq}.tlog-proof");
        let text = std::fs::read_to_string(&proof).unwrap();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
        assert!(text.contains(&format!("\nindex {seq}\n")), "{text}");
        let ok = check(&proof, &format!("{dir}/{seq}.entry.json"));
        assert_eq!(ok.code, 0, "{}", ok.stderr);
        assert!(
            ok.stdout.contains(&format!(
                "receipt verified: seq {seq} (credit.award signed by {CHARITY})"
            )),
            "{}",
            ok.stdout
        );
    }

    // `prove --out` for a seq the node proves in its latest checkpoint.
    let first = seqs[0];
    let proved = w.path("first.tlog-proof");
    let out = cli(
        &[
            "prove",
            "--node",
            &w.node.url,
            "--vkey",
            &w.vkey,
            "--seq",
            &first.to_string(),
            "--out",
            &proved,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("seq {first} in the tree of size")),
        "{}",
        out.stdout
    );
    let entry = format!("{dir}/{first}.entry.json");
    assert_eq!(check(&proved, &entry).code, 0);

    // What fails is named: another entry, a changed statement, another
    // checkpoint signature, not a tlog-proof; and no entry at all.
    let failed = |proof: &str, entry: &str, step: &str| {
        let out = check(proof, entry);
        assert_eq!(out.code, 1, "{step}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("the {step} check failed")),
            "{step}: {}",
            out.stderr
        );
    };
    failed(
        &proved,
        &format!("{dir}/{}.entry.json", seqs[1]),
        "inclusion",
    );
    let mut changed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&entry).unwrap()).unwrap();
    changed["statement"]["body"]["points"] = json!(3);
    let changed_path = w.path("changed.json");
    std::fs::write(&changed_path, changed.to_string()).unwrap();
    failed(&proved, &changed_path, "signature");
    let text = std::fs::read_to_string(&proved).unwrap();
    let sig_at = text.rfind(' ').unwrap() + 10;
    let mut forged = text.clone().into_bytes();
    forged[sig_at] = if forged[sig_at] == b'A' { b'B' } else { b'A' };
    let forged_path = w.path("forged.tlog-proof");
    std::fs::write(&forged_path, forged).unwrap();
    failed(&forged_path, &entry, "checkpoint");
    let wrong_path = w.path("wrong.tlog-proof");
    std::fs::write(&wrong_path, text.replacen("\nindex ", "\nindex 0", 1)).unwrap();
    failed(&wrong_path, &entry, "format");
    let out = cli(&["check-receipt", "--vkey", &w.vkey, &proved], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--entry"), "{}", out.stderr);
}
