// The public page: views over the node's read API, a verify button on
// every entry, and a monitor in every visitor's browser.

import { applyStatic, beijing, findPlaces, lang, num, regionName, setLang, setPlaces, t, word, yuan, yuanBrief } from "./i18n.js";
import { parseJson, plus, yuanText } from "./money.js";
import * as v from "./verify.js";
import { barFigure, flowFigure } from "./charts.js";
import { bnfLink, card, facts, h, link, pagedTable, seqLink, table } from "./view.js";

const main = document.getElementById("main");
const anchor = readAnchor();
let orgNames = {};

// ---- the API ----------------------------------------------------------------

async function fetchOk(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r;
}
// Totals over funds may pass 2^53-1: read exactly (money.js), not by r.json().
const api = async (path) => parseJson(await (await fetchOk(path)).text());
const text = async (path) => (await fetchOk(path)).text();
/** Words as a list in the page's language: 因病、收入骤减 / Illness, Income loss. */
const wordList = (words) => words.join(lang() === "en" ? ", " : "、");
const withCursor = (path, cursor) => path + (cursor ? `${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}` : "");
const orgName = (id) => orgNames[id] || id;
const orgLink = (id) => (id ? link(`org/${id}`, orgName(id)) : "—");
const regionLink = (code) => (code ? link(`region/${code}`, regionName(code)) : "—");

// ---- trust anchor and monitor -------------------------------------------

/** The log key and witness policy the operator configured (meta tags). */
function readAnchor() {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
  const vkeyText = meta("aidledger-vkey");
  const policyB64 = meta("aidledger-policy");
  const policyText = policyB64 ? new TextDecoder().decode(v.b64decode(policyB64)) : null;
  return {
    vkeyText,
    vkey: v.parseVkey(vkeyText),
    policyText,
    policy: policyText ? v.parsePolicy(policyText) : null,
    contact: meta("aidledger-contact"),
    auditors: meta("aidledger-auditors") ? v.parseAuditors(new TextDecoder().decode(v.b64decode(meta("aidledger-auditors")))) : [],
  };
}

/** One record per site, whatever key the page names: the last checkpoint
 * this browser verified and the key it verified it under. Kept per key, a
 * page and node that both swapped keys would start afresh, unseen. */
const STORE = "aidledger:checkpoint";
let monitor = { state: "none" };

/** The stored record `{vkey, note}`, or null. */
function storedCheckpoint() {
  try {
    const r = JSON.parse(localStorage.getItem(STORE));
    return typeof r?.vkey === "string" && typeof r?.note === "string" ? r : null;
  } catch {
    return null;
  }
}

/** Fetches and checks the checkpoint; compares it with the one this browser
 * verified last (consistency proof); keeps the new one if it extends it. */
async function watch() {
  const note = await text("/checkpoint");
  let fresh;
  try {
    fresh = v.trustedCheckpoint(note, anchor);
  } catch (e) {
    const why = ["checkpoint", "witnesses"].includes(e.message) ? t(`step_${e.message}`) : e.message;
    monitor = { state: "bad", why, note };
    return banner("bad", [note]);
  }
  const record = storedCheckpoint();
  monitor = { state: "ok", cp: fresh.cp, signed: fresh.signed };
  if (record && record.vkey !== anchor.vkeyText) {
    // Another key than the one this browser verified the log under: the
    // record is kept, so the banner stays until the operator explains.
    monitor = { state: "key", cp: fresh.cp, oldKey: record.vkey };
    return banner("key", [`${t("banner_old_key")}: ${record.vkey}`, record.note, note]);
  }
  const stored = record?.note;
  if (stored && stored !== note) {
    const old = v.parseCheckpoint(stored);
    let extends_ = false;
    if (fresh.cp.size < old.size) {
      monitor = { state: "rollback", old, cp: fresh.cp };
      return banner("rollback", [stored, note]);
    }
    if (fresh.cp.size > old.size) {
      const proof = await api(`/v1/proof/consistency?first=${old.size}&second=${fresh.cp.size}`);
      extends_ = v.consistencyOk(old.size, fresh.cp.size, proof.path.map(v.hex.decode), old.root, fresh.cp.root);
    } else {
      extends_ = v.hex.encode(old.root) === v.hex.encode(fresh.cp.root);
    }
    if (!extends_) {
      monitor = { state: "fork", old, cp: fresh.cp };
      return banner("fork", [stored, note]);
    }
    monitor.extended = old;
  }
  localStorage.setItem(STORE, JSON.stringify({ vkey: anchor.vkeyText, note }));
}

/** The red banner: what is wrong and the checkpoints to report. */
function banner(kind, notes) {
  const el = document.getElementById("banner");
  const report = [t(`banner_${kind}`, monitor.why), `vkey: ${anchor.vkeyText}`, ...notes].join("\n\n");
  const where = anchor.contact ? h("p", { class: "contact" }, t("report_to", anchor.contact)) : null;
  const area = h("textarea", { readonly: true, rows: 8, "aria-label": t("banner_report") });
  area.value = report;
  const copy = h("button", { type: "button", onclick: async () => {
    area.select();
    try { await navigator.clipboard.writeText(report); } catch { document.execCommand?.("copy"); }
    copy.textContent = t("copied");
  } }, t("copy"));
  el.replaceChildren(h("strong", {}, t(`banner_${kind}`, monitor.why)), h("p", {}, t("banner_report")), where, area, copy);
  el.dataset.kind = kind;
  el.hidden = false;
}

/** Warns when the API's own claim about its key differs from the anchor. */
async function checkLogKey() {
  const log = await api("/v1/log");
  const warn = document.getElementById("anchor-warning");
  if (log.vkey !== anchor.vkeyText) {
    warn.textContent = t("anchor_mismatch", log.vkey);
    warn.hidden = false;
  }
  return log;
}

// ---- entry verification ---------------------------------------------------

const STEPS = ["signature", "leaf", "checkpoint", "inclusion", "witnesses"];

/** The leaf at `seq` as the log serves it (one NDJSON line of
 * `/v1/entries?start=`): its bytes, which Verify hashes, their text and its
 * parse. The entry view shows this parse and nothing else of the entry, so
 * what is shown is what is verified. */
async function leafAt(seq) {
  const raw = new Uint8Array(await (await fetchOk(`/v1/entries?start=${seq}&limit=1`)).arrayBuffer());
  const end = raw.indexOf(10);
  const bytes = raw.subarray(0, end < 0 ? raw.length : end);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  return { bytes, text, leaf: JSON.parse(text) };
}

/** Runs every step of SPEC §2–§4.1 for `got`, the leaf at `seq` from
 * `leafAt`; each result is true, false or "skipped". Nothing is taken from
 * the node on trust. */
async function verifyEntry(seq, got) {
  const out = {};
  const { bytes, text: leafText, leaf } = got;
  out.signature = v.entrySignatureOk(leaf.entry);
  const hash = v.leafHash(bytes);
  const stated = await api(`/v1/entries/${seq}`);
  out.leaf = leaf.seq === seq && v.jcs(leaf) === leafText && stated.leaf_hash === v.hex.encode(hash);
  const note = await text("/checkpoint");
  let cp = null, signed = [];
  try {
    cp = v.parseCheckpoint(note);
    out.checkpoint = v.checkpointSignedBy(cp, anchor.vkey);
    signed = anchor.policy ? v.cosigners(cp, anchor.policy) : [];
  } catch {
    out.checkpoint = false;
  }
  if (cp && seq < cp.size) {
    const proof = await api(`/v1/proof/inclusion?seq=${seq}&size=${cp.size}`);
    out.inclusion = v.inclusionOk(seq, cp.size, hash, proof.path.map(v.hex.decode), cp.root);
  } else {
    out.inclusion = false;
  }
  out.witnesses = anchor.policy ? out.checkpoint && v.quorumMet(anchor.policy, signed) : "skipped";
  return out;
}

function verifyPanel(seq, got) {
  const list = h("ol", { class: "steps" });
  const result = h("p", { id: "verify-result", role: "status" });
  const meaning = h("div", { class: "meaning" });
  const button = h("button", { type: "button", id: "verify", class: "primary", onclick: run }, t("verify"));
  async function run() {
    button.disabled = true;
    result.textContent = t("verifying");
    delete result.dataset.result;
    let steps;
    try {
      steps = await verifyEntry(seq, got);
    } catch (e) {
      steps = Object.fromEntries(STEPS.map((s) => [s, false]));
      steps.error = e.message;
    }
    list.replaceChildren(
      ...STEPS.map((s) => {
        const ok = steps[s];
        const mark = ok === "skipped" ? "—" : ok ? "✓" : "✗";
        return h(
          "li",
          { dataset: { step: s, ok: String(ok) }, class: ok === false ? "bad" : "good" },
          `${mark} `,
          ok === "skipped" ? t("step_skipped") : t(`step_${s}`),
          " ",
          h("small", { class: "tech" }, `(${t(`tech_${s}`)})`),
        );
      }),
    );
    const failed = STEPS.find((s) => steps[s] === false);
    result.textContent = failed ? t("verify_fail", t(`step_${failed}`)) : t("verify_ok");
    // What a ✗ means and what to do, with the operator's report channel.
    meaning.replaceChildren(
      failed ? h("p", { id: "verify-meaning" }, t(`fail_${failed}`)) : null,
      failed && anchor.contact ? h("p", { class: "contact" }, t("report_to", anchor.contact)) : null,
    );
    result.dataset.result = failed ? "fail" : "ok";
    if (failed) result.dataset.failed = failed;
    button.disabled = false;
  }
  return h("section", { class: "verify", "aria-label": t("verify") }, button, list, result, meaning);
}

// ---- views -------------------------------------------------------------------

const views = {
  "": home,
  funds: () => fundsView(),
  fund: (id) => fundView(id),
  alerts: () => alertsView(),
  monitoring: () => monitoringView(),
  needs: () => needsView(),
  assessments: () => assessmentsView(),
  credits: () => creditsView(),
  credit: (holder) => holderView(holder),
  orgs: () => orgsView(),
  org: (id) => orgView(id),
  entry: (seq) => entryView(Number(seq)),
  bnf: (bnf) => bnfView(bnf),
  search: (q) => searchView(q),
  region: (code) => regionView(code),
  money: () => moneyView(),
  index: (index, value) => indexView(index, value),
  trust: () => trustView(),
};

/** The auditors' signed figures, checked in this browser against the
 * checkpoint it trusts (SPEC §4.3): `null` when the node has none or no
 * checkpoint is trusted, `{failed}` when they do not verify. */
async function auditedFigures() {
  const cp = monitor.cp;
  if (!anchor.auditors.length || !cp) return null;
  try {
    const answer = await api("/v1/stats/audited");
    if (!answer.notes?.length) return null;
    const path = Number.isSafeInteger(answer.size) && answer.size >= 1 && answer.size < cp.size
      ? (await api(`/v1/proof/consistency?first=${answer.size}&second=${cp.size}`)).path.map(v.hex.decode)
      : [];
    return { ...v.checkAudited(answer, anchor.auditors, cp, path), stats: answer.stats };
  } catch (e) {
    return { failed: e.message };
  }
}

/** What the auditors recomputed, apart from the node's own figures; red
 * where they disagree with each other or with the node at the same size. */
function auditedSection(a, stats, statsSize) {
  if (!a) return null;
  const title = h("h2", { id: "audited-title" }, t("audited"));
  const attrs = { class: "audited", id: "audited", "aria-labelledby": "audited-title", "data-verified": "true" };
  if (a.failed) return h("section", attrs, title, h("p", { class: "warning", id: "audited-warning", role: "alert" }, t("audited_failed", a.failed)));
  const warnings = [];
  if (a.disagree.length) warnings.push(t("audited_disagree", wordList(a.disagree), wordList(a.agree), a.size - 1));
  if (statsSize === a.size && v.statsHash(stats) !== a.hash) warnings.push(t("audited_node_differs", a.size - 1));
  const o = a.stats.overview;
  return h(
    "section",
    attrs,
    title,
    h("p", { id: "audited-by" }, t("audited_by", wordList(a.agree), a.size - 1)),
    facts([
      [t("disbursed"), yuan(o.disbursed)],
      [t("disbursements"), num(a.stats.total.count)],
      [t("received"), yuan(o.received)],
      [t("balance"), yuan(o.balance)],
    ]),
    ...warnings.map((w) => h("p", { class: "warning", role: "alert" }, w)),
    statsSize > a.size ? h("p", { class: "hint", id: "audited-newer" }, t("audited_newer", statsSize - a.size)) : null,
  );
}

async function home() {
  const statsAnswer = fetchOk("/v1/stats");
  const [stats, statsSize, log, audited] = await Promise.all([
    statsAnswer.then((r) => r.text()).then(parseJson),
    statsAnswer.then((r) => Number(r.headers.get("aidledger-tree-size"))),
    api("/v1/log"),
    auditedFigures(),
  ]);
  const o = stats.overview;
  const cp = monitor.cp;
  const last = log.size ? await api(`/v1/entries/${log.size - 1}`) : null;
  const witnessed = anchor.policy
    ? (monitor.signed || []).map((s) => `${s.name} (${beijing(s.time, false)})`).join("、") || "—"
    : t("no_policy");
  const glance = h(
    "section",
    { "aria-labelledby": "glance" },
    h("h2", { id: "glance" }, t("glance")),
    h(
      "div",
      { class: "cards" },
      card("card-received", t("received"), yuanBrief(o.received), o.received, "#/index/kind/fund.receive", yuan(o.received)),
      card("card-transferred", t("transferred"), yuanBrief(o.transferred), o.transferred, "#/index/kind/fund.transfer", yuan(o.transferred)),
      card("card-disbursed", t("disbursed"), yuanBrief(o.disbursed), o.disbursed, "#/index/kind/disbursement", yuan(o.disbursed)),
      card("card-balance", t("balance"), yuanBrief(o.balance), o.balance, "#/funds", yuan(o.balance)),
    ),
  );
  // The counts and the checkpoint come after the first charts: on a phone
  // the money and a chart fit the first screen and a half.
  const counts = h(
    "section",
    { "aria-label": t("glance_counts") },
    h(
      "div",
      { class: "cards" },
      card("card-orgs", t("orgs"), num(o.orgs), o.orgs, "#/orgs"),
      card("card-funds", t("funds"), num(o.funds), o.funds, "#/funds"),
      card("card-disbursements", t("disbursements"), num(stats.total.count), stats.total.count, "#/index/kind/disbursement"),
      card("card-beneficiaries", t("beneficiaries"), num(o.beneficiaries), o.beneficiaries),
      card("card-needs-open", t("needs_open"), num(o.needs.open), o.needs.open, "#/needs"),
      card("card-needs-claimed", t("needs_claimed"), num(o.needs.claimed), o.needs.claimed, "#/needs"),
      card("card-needs-fulfilled", t("needs_fulfilled"), num(o.needs.fulfilled), o.needs.fulfilled, "#/needs"),
    ),
    h(
      "div",
      { class: "cards" },
      card("card-checkpoint", `${t("checkpoint")} · ${t("checkpoint_size")}`, cp ? num(cp.size) : "—", cp ? cp.size : "", "#/trust"),
      card("card-time", t("checkpoint_time"), last ? beijing(last.leaf.logged_at) : "—", last ? last.leaf.logged_at : ""),
      card("card-witnesses", t("witnessed_by"), witnessed, (monitor.signed || []).length),
    ),
  );
  const amounts = (map) => Object.entries(map).map(([k, x]) => ({ key: k, label: word(k), values: [x.amount] }));
  const months = Object.entries(stats.by_month).map(([k, x]) => ({ key: k, label: k, values: [x.amount] }));
  const charts = h(
    "div",
    { class: "grid" },
    barFigure("chart-month", t("chart_month"), months, [t("disbursed")]),
    barFigure("chart-category", t("chart_category"), amounts(stats.by_category), [t("disbursed")], { horizontal: true }),
    barFigure("chart-issuer", t("chart_issuer"), amounts(stats.by_issuer_type), [t("disbursed")], { type: "doughnut" }),
  );
  const region = h("div", { class: "region" });
  const budget = h("div");
  render(auditedSection(audited, stats, statsSize), glance, charts, counts, region, budget);
  await Promise.all([regionChart(region, null, []), budgetChart(budget)]);
}

/** Disbursed by region: provinces, then a selected one's cities, then counties. */
async function regionChart(box, parent, trail) {
  const data = await api(`/v1/stats/regions${parent ? `?parent=${parent}` : ""}`);
  const rows = Object.entries(data.regions).map(([code, x]) => ({ key: code, label: regionName(code), values: [x.amount] }));
  // Provinces and a province's cities drill down; a city's counties are the last level.
  const select = parent && !parent.endsWith("0000") ? undefined : (r) => regionChart(box, r.key, [...trail, parent]);
  const crumbs = h(
    "p",
    { class: "crumbs" },
    parent ? h("button", { type: "button", onclick: () => regionChart(box, trail[trail.length - 1] ?? null, trail.slice(0, -1)) }, t("region_up")) : null,
    " ",
    parent ? regionName(parent) : t("region_all"),
    select ? ` · ${t("region_hint")}` : "",
  );
  box.replaceChildren(crumbs, barFigure("chart-region", t("chart_region"), rows, [t("disbursed")], { onselect: select }));
  box.dataset.parent = parent || "";
}

async function budgetChart(box) {
  const funds = await api("/v1/funds?limit=1000");
  const rows = funds.items.map((f) => ({ key: f.fund, label: f.title, values: [f.budget, plus(f.received, f.transferred_in), f.disbursed] }));
  box.replaceChildren(barFigure("chart-budget", t("chart_budget"), rows, [t("budget"), t("received"), t("disbursed")], { onselect: (r) => go(`fund/${r.key}`) }));
}

const fundColumns = () => [
  { label: t("col_fund"), cell: (f) => link(`fund/${f.fund}`, f.title), value: (f) => f.title },
  { label: t("col_owner"), cell: (f) => orgLink(f.owner), value: (f) => orgName(f.owner) },
  { label: t("col_category"), cell: (f) => word(f.category) },
  { label: t("budget"), num: true, cell: (f) => yuan(f.budget), value: (f) => f.budget },
  { label: t("received"), num: true, cell: (f) => yuan(f.received), value: (f) => f.received },
  { label: t("disbursed"), num: true, cell: (f) => yuan(f.disbursed), value: (f) => f.disbursed },
  { label: t("balance"), num: true, cell: (f) => yuan(f.balance), value: (f) => f.balance },
  { label: t("execution"), num: true, cell: (f) => (f.execution_rate_bp == null ? "—" : `${(f.execution_rate_bp / 100).toFixed(2)}%`), value: (f) => f.execution_rate_bp ?? -1 },
];

async function fundsView() {
  const list = pagedTable(fundColumns(), (c) => api(withCursor("/v1/funds?limit=20", c)));
  render(h("h2", {}, t("funds_title")), h("p", { class: "hint" }, t("sort_hint")), list);
  await list.ready;
}

async function fundView(id) {
  const path = `/v1/funds/${encodeURIComponent(id)}`;
  // The fund and its flows summed by counterpart (a few KB, not every flow).
  const [f, sums] = await Promise.all([api(path), api(`${path}/flows/summary`)]);
  const flows = [];
  const add = (from, to, amount) => flows.push({ from, to, flow: amount });
  const each = (map, fn) => Object.entries(map).forEach(([k, amount]) => amount > 0 && fn(k, amount));
  each(sums.received, (from, x) => add(`${word("fund.receive")}: ${from}`, f.title, x));
  each(sums.transferred_in, (from, x) => add(`${word("fund.transfer")}: ${from}`, f.title, x));
  each(sums.transferred_out, (to, x) => add(f.title, `${word("fund.transfer")}: ${to}`, x));
  each(sums.recovered, (from, x) => add(`${word("fund.recover")}: ${from === "beneficiary" ? t("col_beneficiary") : orgName(from)}`, f.title, x));
  // Under dual control only an approved payment has left the fund.
  each(sums.disbursed, (region, x) => add(f.title, regionName(region), x));
  if (f.pending > 0) add(f.title, t("pending_approval"), f.pending);
  if (f.balance > 0) add(f.title, t("balance"), f.balance);
  const list = pagedTable(
    [
      { label: t("col_seq"), cell: (e) => seqLink(e.seq), value: (e) => e.seq, num: true },
      { label: t("col_kind"), cell: (e) => word(e.kind) },
      { label: t("col_date"), cell: (e) => e.body.date || beijing(e.logged_at).slice(0, 10) },
      { label: t("col_amount"), num: true, cell: (e) => (e.body.amount ? yuan(e.body.amount) : "—"), value: (e) => e.body.amount || 0 },
      { label: t("col_counterpart"), cell: (e) => (e.body.beneficiary ? bnfLink(e.body.beneficiary) : e.body.from || e.body.to_fund || "—") },
      { label: t("col_issuer"), cell: (e) => orgLink(e.issuer) },
    ],
    (c) => api(withCursor(`/v1/funds/${encodeURIComponent(id)}/flows?limit=50`, c)),
  );
  render(
    h("h2", {}, `${t("fund_title")}: ${f.title}`),
    facts([
      [t("col_id"), f.fund], [t("col_owner"), orgLink(f.owner)], [t("col_category"), word(f.category)], ["", ""],
      [t("budget"), yuan(f.budget)], [t("received"), yuan(f.received)], [t("transferred"), `+${yuan(f.transferred_in)} / −${yuan(f.transferred_out)}`],
      [t("disbursed"), yuan(f.disbursed)], [t("balance"), yuan(f.balance)],
      [f.pending ? t("pending_approval") : "", `${yuan(f.pending)} (${num(f.pending_count)})`],
      [f.approval_threshold ? t("approval_threshold") : "", yuan(f.approval_threshold || 0)],
      [f.recovered ? t("recovered") : "", `${yuan(f.recovered)} (${num(f.recoveries)})`],
      [f.recovered && f.recovery_rate_bp != null ? t("recovery_rate") : "", `${(f.recovery_rate_bp / 100).toFixed(2)}%`],
    ].filter(([k]) => k)),
    flowFigure("chart-flow", t("chart_flow"), flows),
    h("h3", {}, t("flows_title")),
    list,
  );
  await list.ready;
}

async function alertsView() {
  const overlap = pagedTable(
    [
      { label: t("col_cause"), cell: (r) => word(r.cause) },
      { label: t("col_region"), cell: (r) => regionLink(r.region), value: (r) => regionName(r.region) },
      { label: t("beneficiaries"), num: true, cell: (r) => num(r.beneficiaries), value: (r) => r.beneficiaries },
      { label: t("disbursements"), num: true, cell: (r) => num(r.disbursements), value: (r) => r.disbursements },
      { label: t("col_amount"), num: true, cell: (r) => yuan(r.amount), value: (r) => r.amount },
      { label: t("col_alerts"), num: true, cell: (r) => num(r.alerts), value: (r) => r.alerts },
    ],
    (c) => api(withCursor("/v1/stats/overlap?limit=50", c)),
  );
  const alerts = pagedTable(
    [
      { label: t("col_seq"), cell: (a) => seqLink(a.seq), value: (a) => a.seq, num: true },
      { label: t("col_date"), cell: (a) => a.date },
      { label: t("col_cause"), cell: (a) => word(a.cause) },
      { label: t("col_issuer"), cell: (a) => orgLink(a.issuer), value: (a) => orgName(a.issuer) },
      { label: t("col_beneficiary"), cell: (a) => bnfLink(a.beneficiary), value: (a) => a.beneficiary },
      { label: t("col_payments"), cell: (a) => h("ul", { class: "payments" }, (a.payments || []).map((p) => h("li", {}, orgLink(p.issuer), " · ", yuan(p.amount), " · ", p.date || "", " (", seqLink(p.seq), ")"))) },
    ],
    (c) => api(withCursor("/v1/alerts/duplicates?limit=20", c)),
  );
  alerts.id = "alerts";
  render(h("h2", {}, t("overlap_title")), h("p", { class: "hint" }, t("overlap_note")), overlap, h("h2", {}, t("alerts_title")), alerts);
  await Promise.all([overlap.ready, alerts.ready]);
}

async function monitoringView() {
  const counties = pagedTable(
    [
      { label: t("col_region"), cell: (r) => regionLink(r.region), value: (r) => regionName(r.region) },
      { label: t("col_monitored"), num: true, cell: (r) => num(r.monitored), value: (r) => r.monitored },
      { label: t("col_overdue"), num: true, cell: (r) => num(r.overdue_review), value: (r) => r.overdue_review },
      { label: t("col_unassisted"), num: true, cell: (r) => num(r.unassisted), value: (r) => r.unassisted },
    ],
    () => api("/v1/stats/monitoring"),
  );
  const alerts = pagedTable(
    [
      { label: t("col_seq"), cell: (a) => seqLink(a.seq), value: (a) => a.seq, num: true },
      { label: t("col_date"), cell: (a) => a.day },
      { label: t("col_alert"), cell: (a) => word(a.alert) },
      { label: t("col_beneficiary"), cell: (a) => bnfLink(a.beneficiary), value: (a) => a.beneficiary },
      { label: t("col_region"), cell: (a) => regionLink(a.region), value: (a) => regionName(a.region) },
      { label: t("col_risks"), cell: (a) => wordList(a.risks.map(word)) },
      { label: t("col_since"), cell: (a) => a.since },
      { label: t("col_open"), cell: (a) => t(a.open ? "yes" : "no") },
    ],
    (c) => api(withCursor("/v1/alerts/monitoring?limit=20", c)),
  );
  counties.id = "monitoring-counties";
  alerts.id = "monitoring-alerts";
  alerts.classList.add("stack");
  render(
    h("h2", {}, t("monitoring_title")),
    h("p", { class: "hint" }, t("monitoring_note")),
    counties,
    h("h2", {}, t("monitoring_alerts_title")),
    alerts,
  );
  await Promise.all([counties.ready, alerts.ready]);
}

const needColumns = () => [
  { label: t("col_need"), cell: (n) => n.need },
  { label: t("col_state"), cell: (n) => word(n.state) },
  { label: t("col_category"), cell: (n) => word(n.category) },
  { label: t("col_region"), cell: (n) => regionLink(n.region), value: (n) => regionName(n.region) },
  { label: t("col_amount"), num: true, cell: (n) => yuan(n.amount), value: (n) => n.amount },
  { label: t("col_summary"), cell: (n) => n.summary },
  { label: t("col_publisher"), cell: (n) => orgLink(n.publisher) },
  { label: t("col_reviews"), cell: (n) => (n.reviews || []).map((r) => h("span", {}, orgLink(r.org), " ", word(r.decision), " ")) },
  { label: t("col_published"), cell: (n) => seqLink(n.published_seq), value: (n) => n.published_seq },
  { label: t("col_claimer"), cell: (n) => orgLink(n.claimer) },
  { label: t("col_claimed"), cell: (n) => seqLink(n.claimed_seq), value: (n) => n.claimed_seq ?? -1 },
  { label: t("col_fulfilled"), cell: (n) => seqLink(n.fulfilled_by), value: (n) => n.fulfilled_by ?? -1 },
];

/** Yuan typed by a person (1,200.50 or 1200.5) as whole fen, or "" if none. */
function fenOf(text) {
  const m = /^\s*(\d[\d,]*)(?:\.(\d{1,2}))?\s*$/.exec(text || "");
  return m ? String(BigInt(m[1].replace(/,/g, "")) * 100n + BigInt((m[2] || "0").padEnd(2, "0"))) : "";
}

/** Money entries by signed date, filtered by date range, amount, place,
 * organisation, fund and kind (`/v1/money`). */
async function moneyView() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const funds = await api("/v1/funds?limit=1000");
  const input = (name, attrs = {}) => h("input", { name, id: `f-${name}`, value: params.get(name) || "", ...attrs });
  const select = (name, options) =>
    h("select", { name, id: `f-${name}` }, h("option", { value: "" }, t("any")), options.map(([value, label]) => h("option", { value, selected: params.get(name) === value }, label)));
  const asYuan = (name) => (params.get(name) ? yuanText(params.get(name), "en-US").replace(/,/g, "") : "");
  const form = h(
    "form",
    { class: "filters", id: "money-filters", onsubmit: (e) => {
      e.preventDefault();
      const q = new URLSearchParams();
      for (const [k, x] of new FormData(form)) {
        if (!x) continue;
        if (k === "min" || k === "max") {
          const fen = fenOf(x);
          if (!fen) return void (document.getElementById("error").textContent = t("error", `${t(`filter_${k}`)}: ${x}`));
          q.set(k, fen);
        } else if (k === "region" && !/^\d{6}$/.test(x)) {
          const [code] = findPlaces(x);
          if (!code) return void (document.getElementById("error").textContent = t("region_unknown", x));
          q.set(k, code);
        } else q.set(k, x);
      }
      go(`money?${q}`);
    } },
    h("label", {}, t("filter_from"), " ", input("from", { type: "date" })),
    h("label", {}, t("filter_to"), " ", input("to", { type: "date" })),
    h("label", {}, t("filter_min"), " ", h("input", { name: "min", id: "f-min", inputmode: "decimal", size: 10, value: asYuan("min") })),
    h("label", {}, t("filter_max"), " ", h("input", { name: "max", id: "f-max", inputmode: "decimal", size: 10, value: asYuan("max") })),
    h("label", {}, t("filter_region"), " ", h("input", { name: "region", id: "f-region", size: 12, placeholder: t("filter_region_hint"), value: params.get("region") ? regionName(params.get("region")) : "" })),
    h("label", {}, t("filter_org"), " ", select("issuer", Object.entries(orgNames))),
    h("label", {}, t("filter_fund"), " ", select("fund", funds.items.map((f) => [f.fund, f.title]))),
    h("label", {}, t("filter_kind"), " ", select("kind", ["fund.receive", "fund.transfer", "disbursement", "fund.recover"].map((k) => [k, word(k)]))),
    h("button", { type: "submit" }, t("filter_apply")),
  );
  const titles = Object.fromEntries(funds.items.map((f) => [f.fund, f.title]));
  const fundCell = (id) => (id ? link(`fund/${id}`, titles[id] || id) : "—");
  const query = [...params].map(([k, x]) => `&${encodeURIComponent(k)}=${encodeURIComponent(x)}`).join("");
  const list = pagedTable(
    [
      { label: t("col_date"), cell: (e) => e.date || "—" },
      { label: t("col_seq"), cell: (e) => seqLink(e.seq), value: (e) => e.seq, num: true },
      { label: t("col_kind"), cell: (e) => word(e.kind) },
      { label: t("col_fund"), cell: (e) => (e.to_fund ? h("span", {}, fundCell(e.fund), " → ", fundCell(e.to_fund)) : fundCell(e.fund)) },
      { label: t("col_issuer"), cell: (e) => orgLink(e.issuer), value: (e) => orgName(e.issuer) },
      { label: t("col_amount"), num: true, cell: (e) => yuan(e.amount), value: (e) => e.amount },
      { label: t("col_region"), cell: (e) => regionLink(e.region), value: (e) => (e.region ? regionName(e.region) : "") },
      { label: t("col_beneficiary"), cell: (e) => (e.beneficiary ? bnfLink(e.beneficiary) : "—"), value: (e) => e.beneficiary || "" },
      { label: t("col_reversed"), cell: (e) => (e.reversed ? t("yes") : "") },
    ],
    (c) => api(withCursor(`/v1/money?limit=50${query}`, c)),
  );
  list.id = "money";
  render(h("h2", {}, t("money_title")), h("p", { class: "hint" }, t("money_note")), form, list);
  await list.ready;
}

async function needsView() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const select = (name, options) =>
    h("select", { name, id: `f-${name}` }, h("option", { value: "" }, t("any")), options.map((o) => h("option", { value: o, selected: params.get(name) === o }, word(o))));
  const form = h(
    "form",
    { class: "filters", onsubmit: (e) => {
      e.preventDefault();
      const q = new URLSearchParams([...new FormData(form)].filter(([, x]) => x));
      // A place by name or by code: the first (highest) region it names.
      const place = q.get("region");
      if (place && !/^\d{6}$/.test(place)) {
        const [code] = findPlaces(place);
        if (!code) return void (document.getElementById("error").textContent = t("region_unknown", place));
        q.set("region", code);
      }
      go(`needs?${q}`);
    } },
    h("label", {}, t("filter_state"), " ", select("state", ["pending", "open", "claimed", "fulfilled", "rejected"])),
    h("label", {}, t("filter_category"), " ", select("category", ["dibao", "tekun", "temporary", "medical", "education", "housing", "employment", "disaster", "other"])),
    h("label", {}, t("filter_region"), " ", h("input", { name: "region", size: 12, placeholder: t("filter_region_hint"), value: params.get("region") ? regionName(params.get("region")) : "" })),
    h("button", { type: "submit" }, t("filter_apply")),
  );
  const query = [...params].map(([k, x]) => `&${encodeURIComponent(k)}=${encodeURIComponent(x)}`).join("");
  const list = pagedTable(needColumns(), (c) => api(withCursor(`/v1/needs?limit=20${query}`, c)));
  render(h("h2", {}, t("needs_title")), form, list);
  await list.ready;
}

async function assessmentsView() {
  const list = pagedTable(
    [
      { label: t("col_seq"), cell: (e) => seqLink(e.seq), value: (e) => e.seq, num: true },
      { label: t("col_subject"), cell: (e) => (e.body.subject_type === "org" ? orgLink(e.body.subject) : e.body.subject_type === "fund" ? link(`fund/${e.body.subject}`, e.body.subject) : regionLink(e.body.subject)) },
      { label: t("col_period"), cell: (e) => `${e.body.period_start} – ${e.body.period_end}` },
      { label: t("col_score"), num: true, cell: (e) => (e.body.score / 100).toFixed(2), value: (e) => e.body.score },
      { label: t("col_grade"), cell: (e) => word(e.body.grade) },
      { label: t("col_assessor"), cell: (e) => orgLink(e.issuer) },
      { label: t("col_indicator"), cell: (e) => indicators(e.body.indicators) },
    ],
    (c) => api(withCursor("/v1/assessments?limit=20", c)),
  );
  render(h("h2", {}, t("assessments_title")), list);
  await list.ready;
}

const indicators = (list) =>
  table(
    [
      { label: t("col_name"), cell: (i) => i.name },
      { label: t("col_target"), num: true, cell: (i) => `${{ ge: "≥", le: "≤", eq: "=" }[i.op] || ""}${i.target}${i.unit}`, value: (i) => i.target },
      { label: t("col_actual"), num: true, cell: (i) => `${i.actual}${i.unit}`, value: (i) => i.actual },
      { label: t("col_weight"), num: true, cell: (i) => i.weight, value: (i) => i.weight },
      { label: t("col_score"), num: true, cell: (i) => (i.score / 100).toFixed(2), value: (i) => i.score },
    ],
    list,
  );

async function creditsView() {
  const list = pagedTable(
    [
      { label: t("col_holder"), cell: (c) => (c.holder.startsWith("vol_") ? link(`credit/${c.holder}`, c.holder.slice(0, 12) + "…") : link(`credit/${c.holder}`, orgName(c.holder))), value: (c) => c.holder },
      { label: t("balance"), num: true, cell: (c) => num(c.balance), value: (c) => c.balance },
      { label: t("col_awarded"), num: true, cell: (c) => num(c.awarded), value: (c) => c.awarded },
      { label: t("col_redeemed"), num: true, cell: (c) => num(c.redeemed), value: (c) => c.redeemed },
    ],
    (c) => api(withCursor("/v1/credits?limit=20", c)),
  );
  render(h("h2", {}, t("credits_title")), list);
  await list.ready;
}

async function holderView(holder) {
  const first = await api(`/v1/credits/${encodeURIComponent(holder)}?limit=1`);
  const list = entryTable((c) => api(withCursor(`/v1/credits/${encodeURIComponent(holder)}?limit=20`, c)));
  render(h("h2", {}, `${t("holder_title")}: ${orgName(holder)}`), facts([[t("balance"), num(first.balance)], [t("col_awarded"), num(first.awarded)], [t("col_redeemed"), num(first.redeemed)]]), list);
  await list.ready;
}

/** A paged table of entry summaries (seq, kind, date, amount, issuer, state). */
const entryTable = (fetchPage) =>
  pagedTable(
    [
      { label: t("col_seq"), cell: (e) => seqLink(e.seq), value: (e) => e.seq, num: true },
      { label: t("col_kind"), cell: (e) => word(e.kind) },
      { label: t("col_date"), cell: (e) => e.body.date || beijing(e.logged_at).slice(0, 10) },
      { label: t("col_amount"), num: true, cell: (e) => (e.body.amount ? yuan(e.body.amount) : e.body.points ? `${e.body.points} ${t("col_points")}` : "—"), value: (e) => e.body.amount || e.body.points || 0 },
      { label: t("col_cause"), cell: (e) => word(e.body.cause || e.body.category) || e.body.reason || "" },
      { label: t("col_issuer"), cell: (e) => orgLink(e.issuer), value: (e) => orgName(e.issuer) },
      { label: t("col_state"), cell: (e) => (e.reversed ? t("reversed") : e.corrected_by != null ? t("corrected_by", e.corrected_by) : "") },
    ],
    fetchPage,
  );

async function orgsView() {
  const list = pagedTable(orgColumns(), (c) => api(withCursor("/v1/orgs?limit=20", c)));
  render(h("h2", {}, t("orgs_title")), list);
  await list.ready;
}

const orgColumns = () => [
  { label: t("col_name"), cell: (o) => link(`org/${o.id}`, o.name), value: (o) => o.name },
  { label: t("col_id"), cell: (o) => o.id },
  { label: t("col_type"), cell: (o) => word(o.type) },
  { label: t("col_region"), cell: (o) => regionLink(o.region), value: (o) => regionName(o.region) },
  { label: t("col_registered"), cell: (o) => seqLink(o.registered_seq), value: (o) => o.registered_seq },
  { label: t("col_funds_owned"), num: true, cell: (o) => num(o.owned?.funds ?? 0), value: (o) => o.owned?.funds ?? 0 },
  { label: t("received"), num: true, cell: (o) => yuan(o.owned?.received ?? 0), value: (o) => o.owned?.received ?? 0 },
  { label: t("disbursed"), num: true, cell: (o) => yuan(o.owned?.disbursed ?? 0), value: (o) => o.owned?.disbursed ?? 0 },
  { label: t("balance"), num: true, cell: (o) => yuan(o.owned?.balance ?? 0), value: (o) => o.owned?.balance ?? 0 },
];

async function orgView(id) {
  const o = await api(`/v1/orgs/${encodeURIComponent(id)}`);
  // Payments from the organisation's funds that wait for a second key
  // (rules v2, dual control), oldest first.
  const pending = pagedTable(
    [
      { label: t("col_seq"), cell: (e) => seqLink(e.seq), value: (e) => e.seq, num: true },
      { label: t("col_fund"), cell: (e) => link(`fund/${e.body.fund}`, e.body.fund) },
      { label: t("col_amount"), num: true, cell: (e) => yuan(e.body.amount), value: (e) => e.body.amount },
      { label: t("col_beneficiary"), cell: (e) => bnfLink(e.body.beneficiary), value: (e) => e.body.beneficiary },
      { label: t("col_date"), cell: (e) => e.body.date },
    ],
    (c) => api(withCursor(`/v1/orgs/${encodeURIComponent(id)}/pending?limit=20`, c)),
  );
  pending.id = "org-pending";
  pending.classList.add("stack");
  render(
    h("h2", {}, `${t("org_title")}: ${o.name}`),
    facts([[t("col_id"), o.id], [t("col_type"), word(o.type)], [t("col_region"), regionLink(o.region)], [t("col_registered"), seqLink(o.registered_seq)], [t("entries_title"), link(`index/org/${o.id}`, t("entries_all"))]]),
    h("h3", {}, t("org_totals")),
    facts([
      [t("col_funds_owned"), num(o.owned?.funds ?? 0)],
      [t("budget"), yuan(o.owned?.budget ?? 0)],
      [t("received"), yuan(o.owned?.received ?? 0)],
      [t("disbursed"), yuan(o.owned?.disbursed ?? 0)],
      [t("balance"), yuan(o.owned?.balance ?? 0)],
      [t("nav_money"), h("a", { href: `#/money?issuer=${encodeURIComponent(o.id)}` }, t("entries_all"))],
    ]),
    h("h3", {}, t("keys_title")),
    table(
      [
        { label: t("col_key"), cell: (k) => h("code", {}, k.key) },
        { label: t("col_roles"), cell: (k) => wordList(k.roles.map(word)) },
        { label: t("col_added"), cell: (k) => seqLink(k.added_seq), value: (k) => k.added_seq },
        { label: t("col_revoked"), cell: (k) => seqLink(k.revoked_seq), value: (k) => k.revoked_seq ?? -1 },
      ],
      o.keys,
    ),
    h("h3", {}, t("pending_title")),
    h("p", { class: "hint" }, t("pending_note")),
    pending,
  );
  await pending.ready;
}

/** Every entry an index lists under a value (an org's, a kind's, a date's…). */
async function indexView(index, value) {
  const list = entryTable((c) => api(withCursor(`/v1/index/${encodeURIComponent(index)}/${encodeURIComponent(value)}?limit=20`, c)));
  const title = index === "org" ? orgName(value) : index === "kind" ? word(value) : value;
  render(h("h2", {}, `${t("entries_title")}: ${title}`), list);
  await list.ready;
}

async function bnfView(bnf) {
  const list = entryTable((c) => api(withCursor(`/v1/beneficiaries/${encodeURIComponent(bnf)}?limit=20`, c)));
  render(h("h2", {}, t("bnf_title")), h("p", {}, h("code", {}, bnf)), list);
  await list.ready;
}

async function entryView(seq) {
  const got = await leafAt(seq);
  const leaf = got.leaf;
  const st = leaf.entry.statement;
  // The funds it names, by title (the node's word on a fund's title; the
  // id beside it is the signed one).
  const funds = [...new Set(FUND_FIELDS.map((k) => st.body[k]).filter((x) => typeof x === "string"))];
  const titles = Object.fromEntries(
    await Promise.all(funds.map(async (id) => [id, (await api(`/v1/funds/${encodeURIComponent(id)}`).catch(() => null))?.title])),
  );
  const body = Object.entries(st.body).map(([k, x]) => [fieldLabel(k), fieldValue(k, x, titles)]);
  render(
    h("h2", {}, t("entry_title", seq), " · ", word(st.kind)),
    facts([
      [t("col_issuer"), orgLink(st.issuer)],
      [t("issuer_key"), h("code", {}, st.key)],
      [t("col_seq"), String(leaf.seq)],
      [t("logged_at"), beijing(leaf.logged_at)],
      [t("leaf_hash"), h("code", {}, v.hex.encode(v.leafHash(got.bytes)))],
      [t("prev_hash"), h("code", {}, leaf.prev)],
      [t("nonce"), st.nonce],
    ]),
    h("h3", {}, t("body")),
    h("dl", { class: "facts", id: "entry-body" }, body.flatMap(([k, x]) => [h("dt", {}, k), h("dd", {}, x)])),
    h("p", { id: "corrections" }),
    verifyPanel(seq, got),
    h("details", {}, h("summary", {}, t("statement")), h("pre", { class: "json" }, JSON.stringify(leaf.entry, null, 2))),
  );
  // Whether this entry was corrected or reversed: its summary in the
  // listing of its fund, credit holder or assessment subject says.
  const b = st.body;
  const listing = b.fund || b.from_fund ? `/v1/funds/${encodeURIComponent(b.fund || b.from_fund)}/flows`
    : b.holder ? `/v1/credits/${encodeURIComponent(b.holder)}`
    : st.kind === "assessment.result" ? `/v1/assessments?subject=${encodeURIComponent(b.subject)}` : null;
  const summary = listing ? await findSummary(listing, seq) : null;
  const note = document.getElementById("corrections");
  if (note && summary) {
    const said = summary.reversed ? `${t("reversed")} · ${t("corrected_by", summary.corrected_by)}` : summary.corrected_by != null ? t("corrected_by", summary.corrected_by) : t("not_corrected");
    note.textContent = `${said} (${t("node_says")})`;
  }
}

/** Money fields of a body, in fen. */
const MONEY_FIELDS = new Set(["amount", "budget", "approval_threshold"]);
/** Fields whose values are codes the page has words for. */
const CODE_FIELDS = new Set(["category", "cause", "tier", "method", "source", "decision", "reason", "type", "subject_type", "currency"]);

/** A body field's name in words (the name itself where the page has none). */
const fieldLabel = (k) => (t(`field_${k}`) === `field_${k}` ? k : t(`field_${k}`));

/** A body field's value as a resident reads it: money in 元, codes in
 * words, regions and organisations by name, funds and seqs as links. The
 * signed JSON itself is under "statement", below. */
const FUND_FIELDS = ["fund", "from_fund", "to_fund"];

function fieldValue(k, x, titles = {}) {
  if (x == null) return "—";
  if (MONEY_FIELDS.has(k)) return yuan(x);
  if (CODE_FIELDS.has(k)) return word(x);
  if (k === "risks" || k === "roles") return Array.isArray(x) ? x.map(word).join("、") : String(x);
  if (k === "region") return regionName(x);
  if (k === "org") return orgLink(x);
  if (FUND_FIELDS.includes(k)) return h("a", { href: `#/fund/${encodeURIComponent(x)}` }, titles[x] ? `${titles[x]} (${x})` : String(x));
  if (k === "disbursement") return seqLink(x);
  if (k === "beneficiary" || k === "holder") return h("code", {}, String(x));
  return typeof x === "object" ? JSON.stringify(x) : String(x);
}

/** The summary of entry `seq` in a seq-paged listing (cursor = seq). */
async function findSummary(path, seq) {
  const page = await api(`${path}${path.includes("?") ? "&" : "?"}limit=1&cursor=${seq}`).catch(() => null);
  return page?.items.find((x) => x.seq === seq) || null;
}

/** Where a pseudonym's page is: a family's, or a volunteer's points. */
const pseudonymRoute = (p) => (p.startsWith("bnf_") ? `bnf/${p}` : `credit/${p}`);

/** A search: a seq (`5000`, `#5000`), a pseudonym whole or shortened as
 * the page shows it (`bnf_a5943c0b…`, any case), else organisations and
 * funds by id or name. A miss says so, in place of the previous view. */
async function searchView(q) {
  const query = q.trim();
  const seq = /^#?\s*(\d+)$/.exec(query);
  if (seq) return go(`entry/${seq[1]}`, true);
  const pseudonym = query.toLowerCase().replace(/(…|\.{3})$/, "");
  if (/^(bnf|vol)_[0-9a-f]{64}$/.test(pseudonym)) return go(pseudonymRoute(pseudonym), true);
  if (/^(bnf|vol)_[0-9a-f]{4,63}$/.test(pseudonym)) {
    const found = (await api(`/v1/pseudonyms?prefix=${pseudonym}&limit=20`)).items;
    if (found.length === 1) return go(pseudonymRoute(found[0]), true);
    const list = found.map((p) => h("li", {}, h("a", { href: `#/${pseudonymRoute(p)}` }, h("code", {}, p))));
    return render(h("h2", {}, `${t("search_title")}: ${query}`), found.length ? h("ul", { id: "search-pseudonyms" }, list) : h("p", { id: "search-none" }, t("search_none")));
  }
  const [orgs, funds] = await Promise.all([api(`/v1/orgs?limit=50&q=${encodeURIComponent(query)}`), api(`/v1/funds?limit=50&q=${encodeURIComponent(query)}`)]);
  const places = findPlaces(query);
  render(
    h("h2", {}, `${t("search_title")}: ${query}`),
    orgs.items.length || funds.items.length || places.length ? null : h("p", { id: "search-none" }, t("search_none")),
    places.length ? h("h3", {}, t("places")) : null,
    places.length ? h("ul", { id: "search-places", class: "places" }, places.map((c) => h("li", {}, link(`region/${c}`, regionName(c))))) : null,
    orgs.items.length ? h("h3", {}, t("orgs")) : null,
    orgs.items.length ? table(orgColumns(), orgs.items) : null,
    funds.items.length ? h("h3", {}, t("funds")) : null,
    funds.items.length ? table(fundColumns(), funds.items) : null,
  );
}

/** A place: what was disbursed there (the node's figures), the level below
 * it, and its needs. */
async function regionView(code) {
  if (!/^\d{6}$/.test(code)) throw new Error(t("region_bad", code));
  const parent = code.endsWith("0000") ? null : code.endsWith("00") ? code.slice(0, 2) + "0000" : code.slice(0, 4) + "00";
  const around = await api(`/v1/stats/regions${parent ? `?parent=${parent}` : ""}`);
  const here = around.regions[code] || { count: 0, amount: 0 };
  const chart = h("div", { class: "region" });
  const needs = pagedTable(needColumns(), (c) => api(withCursor(`/v1/needs?limit=20&region=${code}`, c)));
  render(
    h("h2", { id: "region-title", title: code }, regionName(code)),
    facts([
      [t("col_region"), `${regionName(code)} (${code})`],
      [t("disbursed"), yuan(here.amount)],
      [t("disbursements"), num(here.count)],
    ]),
    code.endsWith("00") ? chart : null,
    h("h3", {}, t("needs_title")),
    needs,
  );
  await Promise.all([code.endsWith("00") ? regionChart(chart, code, parent ? [null, parent] : [null]) : null, needs.ready]);
}

/** A receipt file (C2SP tlog-proof) and its entry, dropped or chosen,
 * verified here with nothing fetched. */
function proofChecker() {
  const proofInput = h("input", { type: "file", id: "proof-file", accept: ".tlog-proof,text/plain" });
  const entryInput = h("input", { type: "file", id: "proof-entry", accept: ".json,application/json" });
  const list = h("ol", { class: "steps", id: "proof-steps" });
  const result = h("p", { id: "proof-result", role: "status" });
  const STEPS_FILE = ["format", ...STEPS];
  async function check(files) {
    const named = [...files];
    const proofFile = named.find((f) => f.name.endsWith(".tlog-proof")) || proofInput.files[0];
    const entryFile = named.find((f) => f.name.endsWith(".json")) || entryInput.files[0];
    if (!proofFile || !entryFile) {
      result.textContent = t("proof_need_both");
      return;
    }
    let entry;
    try {
      entry = v.entryOf(JSON.parse(await entryFile.text()));
    } catch (e) {
      result.textContent = t("proof_bad_entry", e.message);
      result.dataset.result = "fail";
      return;
    }
    const out = v.verifyTlogProof(await proofFile.text(), entry, anchor);
    list.replaceChildren(
      ...STEPS_FILE.map((s) => {
        const ok = out.steps[s];
        const mark = ok === "skipped" ? "—" : ok ? "✓" : "✗";
        return h("li", { dataset: { step: s, ok: String(ok) }, class: ok === false ? "bad" : "good" }, `${mark} `, ok === "skipped" ? t("step_skipped") : t(`step_${s}`));
      }),
    );
    const failed = STEPS_FILE.find((s) => out.steps[s] === false);
    result.textContent = failed ? `${t("verify_fail", t(`step_${failed}`))} ${t(`fail_${failed}`)}` : t("proof_ok", out.seq, num(out.size));
    result.dataset.result = failed ? "fail" : "ok";
    if (failed) result.dataset.failed = failed;
    else delete result.dataset.failed;
  }
  const zone = h(
    "div",
    {
      class: "dropzone",
      id: "proof-drop",
      ondragover: (e) => e.preventDefault(),
      ondrop: (e) => { e.preventDefault(); check(e.dataTransfer.files); },
    },
    h("p", {}, t("proof_drop")),
    h("label", {}, t("proof_file"), " ", proofInput),
    h("label", {}, t("proof_entry"), " ", entryInput),
    h("button", { type: "button", id: "proof-check", onclick: () => check([]) }, t("verify")),
  );
  return h("section", { "aria-labelledby": "proof-title" }, h("h3", { id: "proof-title" }, t("proof_title")), h("p", {}, t("proof_note")), zone, list, result);
}

async function trustView() {
  const witnesses = anchor.policy
    ? table(
        [
          { label: t("witness"), cell: (w) => w.name },
          { label: t("col_key"), cell: (w) => h("code", {}, w.vkeyText) },
          { label: t("fingerprint"), cell: (w) => h("code", {}, v.fingerprint(w.vkeyText)) },
          { label: t("witnessed_by"), cell: (w) => ((monitor.signed || []).some((s) => s.name === w.name) ? "✓" : "—") },
        ],
        anchor.policy.witnesses,
      )
    : h("p", {}, t("no_policy"));
  const stored = storedCheckpoint();
  const last = stored ? v.parseCheckpoint(stored.note) : null;
  render(
    h("h2", {}, t("trust_title")),
    h("p", {}, t("anchor_note")),
    facts([[t("anchor_vkey"), h("code", { id: "anchor-vkey" }, anchor.vkeyText)], [t("fingerprint"), h("code", { id: "anchor-fingerprint" }, v.fingerprint(anchor.vkeyText))]]),
    h("h3", {}, t("policy_title")),
    witnesses,
    anchor.policyText ? h("pre", { class: "json" }, anchor.policyText) : null,
    h("h3", {}, t("monitor_title")),
    h("p", { id: "monitor-state", dataset: { state: monitor.state } }, last ? t("monitor_last", num(last.size), v.hex.encode(last.root)) : t("monitor_none")),
    monitor.extended ? h("p", {}, t("monitor_ok")) : null,
    h("button", { type: "button", onclick: () => { localStorage.removeItem(STORE); go("trust", true); } }, t("monitor_forget")),
    proofChecker(),
  );
}

// ---- routing -----------------------------------------------------------------

/** Views that show only what this browser verifies (an entry, the trust
 * anchor); every other view shows what the node computed, and says so. */
const VERIFIED_VIEWS = new Set(["entry", "trust"]);

function render(...nodes) {
  const shown = nodes.filter(Boolean);
  const [name] = location.hash.replace(/^#\/?/, "").split("/");
  if (!VERIFIED_VIEWS.has(name)) {
    // Before the first of the node's figures: after a title, and after
    // what this browser verified (the auditors' figures).
    const note = h("p", { class: "hint unverified", id: "unverified", role: "note" }, t("unverified"));
    let at = 0;
    while (shown[at]?.tagName === "H2" || shown[at]?.dataset?.verified === "true") at++;
    shown.splice(at, 0, note);
  }
  main.replaceChildren(...shown);
}

function go(route, replace = false) {
  const hash = `#/${route}`;
  // A new hash fires hashchange, which shows it; the same hash (a search
  // asked again) or a replaced one does not, so it is shown here. Shown
  // twice, two views would race to fill the page.
  const plain = (x) => { try { return decodeURIComponent(x); } catch { return x; } };
  const same = plain(location.hash) === plain(hash);
  if (replace) history.replaceState(null, "", hash);
  else location.hash = hash;
  // The promise of the view shown here, so that a view that hands over to
  // another (a search that finds one entry) is done when that one is.
  if (replace || same) return show();
}

/** Views asked for so far: a view that a newer one replaced while it
 * loaded (or handed over to) leaves the page and its error line alone. */
let asked = 0;

async function show() {
  const mine = ++asked;
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  const view = views[name] || home;
  document.body.dataset.loaded = "false";
  for (const a of document.querySelectorAll("nav a")) a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${name}`);
  try {
    await view(...rest.map(decodeURIComponent));
    if (mine !== asked) return;
    document.getElementById("error").textContent = "";
  } catch (e) {
    if (mine !== asked) return;
    // What failed to show is not left under the previous view's content.
    main.replaceChildren();
    document.getElementById("error").textContent = t("error", e.message);
  }
  document.body.dataset.loaded = "true";
  // The first view drawn: what the page's benchmark measures.
  if (!performance.getEntriesByName("rendered").length) performance.mark("rendered");
  main.focus({ preventScroll: true });
}

/** The page's fixed text in the current language, and the operator's
 * report channel (`--page-contact`) in the footer, as text. */
function applyFixed() {
  applyStatic(document);
  const contact = document.getElementById("contact");
  contact.hidden = !anchor.contact;
  contact.textContent = anchor.contact ? t("report_to", anchor.contact) : "";
}

async function start() {
  applyFixed();
  document.getElementById("lang").addEventListener("click", () => {
    setLang(lang() === "en" ? "zh" : "en");
    applyFixed();
    show();
  });
  document.getElementById("search").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = document.getElementById("q").value.trim();
    if (q) go(`search/${encodeURIComponent(q)}`);
  });
  window.addEventListener("hashchange", show);
  try {
    const [orgs, places] = await Promise.all([api("/v1/orgs?limit=1000"), api("/v1/regions"), watch(), checkLogKey()]);
    orgNames = Object.fromEntries(orgs.items.map((o) => [o.id, o.name]));
    setPlaces(places.regions);
  } catch (e) {
    document.getElementById("error").textContent = t("error", e.message);
  }
  await show();
}

start();
