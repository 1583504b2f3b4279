// DOM helpers. Text from the ledger only ever goes in as text nodes
// (textContent), never as HTML: an entry whose summary holds <script> shows
// those characters.

import { t } from "./i18n.js";

/** An element: `attrs` are properties or attributes, children are nodes or text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A link to a view of the page. */
export const link = (route, text) => h("a", { href: "#/" + route.split("/").map(encodeURIComponent).join("/") }, text);

/** A link to an entry by seq (or a dash). */
export const seqLink = (seq) => (seq == null ? "—" : link(`entry/${seq}`, `#${seq}`));

/** A pseudonym, shortened for reading, linking to everything it received. */
export const bnfLink = (bnf) => h("a", { href: `#/bnf/${bnf}`, title: bnf }, bnf.slice(0, 12) + "…");

const isNumeric = (x) => typeof x === "number" || typeof x === "bigint";

/**
 * A table of columns `[{label, value(item) → sort key, cell(item) → node or
 * text, num}]`. Headers are buttons that sort the rows shown; each sort is
 * announced through aria-sort. Inside an element of class `stack`, a
 * narrow screen shows each row as a card of labelled cells.
 */
export function table(columns, items, caption, { download = true } = {}) {
  const body = h("tbody");
  let order = items.slice();
  // Each cell names its column, for tables stacked into cards on a phone.
  const render = () => body.replaceChildren(...order.map((it) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "n" : null, "data-label": c.label }, c.cell(it))))));
  const heads = columns.map((c, i) => {
    const th = h("th", { scope: "col", class: c.num ? "n" : null, "aria-sort": "none" });
    const button = h("button", { type: "button", class: "sort", onclick: () => sortBy(i) }, c.label);
    th.append(button);
    return th;
  });
  function sortBy(i) {
    const c = columns[i];
    const th = heads[i];
    const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    heads.forEach((x) => x.setAttribute("aria-sort", "none"));
    th.setAttribute("aria-sort", dir);
    const key = c.value || ((it) => String(c.cell(it)));
    order.sort((a, b) => {
      const x = key(a), y = key(b);
      // Amounts past 2^53-1 are BigInts (money.js); < and > compare them with numbers exactly.
      const r = isNumeric(x) && isNumeric(y) ? (x < y ? -1 : x > y ? 1 : 0) : String(x).localeCompare(String(y));
      return dir === "ascending" ? r : -r;
    });
    render();
  }
  render();
  const box = scrolling(h("table", {}, caption ? h("caption", {}, caption) : null, h("thead", {}, h("tr", {}, heads)), body));
  return download ? h("div", { class: "table" }, downloads(columns, async () => order), box) : box;
}

/** A box that scrolls sideways, saying so (`data-overflow` and a hint
 * above it) while its content is wider than it. */
function scrolling(content) {
  const box = h("div", { class: "scroll", "data-hint": t("scroll_hint") }, content);
  new ResizeObserver(() => {
    box.dataset.overflow = String(box.scrollWidth > box.clientWidth + 1);
  }).observe(box);
  return box;
}

/** Most rows a download of a paged list fetches. */
const MAX_DOWNLOAD = 10_000;

/** A cell as text for a file: what the page shows; a number without its
 * grouping or unit; text that a spreadsheet would run as a formula
 * (=, +, -, @) quoted with an apostrophe. */
function cellText(c, item) {
  const v = c.cell(item);
  const text = (v instanceof Node ? v.textContent : String(v ?? "")).trim();
  if (c.num) return text.replace(/[^0-9.\-—]/g, "");
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** Rows as CSV (RFC 4180; UTF-8 with a byte-order mark, so that a
 * spreadsheet program reads the Chinese): the columns' labels, then each
 * row's cells as shown. */
export function csv(columns, items) {
  const field = (s) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [columns.map((c) => field(c.label)), ...items.map((it) => columns.map((c) => field(cellText(c, it))))];
  return "\uFEFF" + lines.map((l) => l.join(",")).join("\r\n") + "\r\n";
}

function save(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** CSV and JSON buttons for the rows `items()` gives (the API's items, as
 * the API answered them, for JSON). */
function downloads(columns, items) {
  const name = "aidledger-" + (location.hash.replace(/^#\/?/, "").replace(/[^\w\u4e00-\u9fff-]+/g, "-").replace(/^-|-$/g, "") || "overview");
  const button = (label, make) => {
    const b = h("button", { type: "button", class: "download", onclick: async () => {
      b.disabled = true;
      try { make(await items()); } finally { b.disabled = false; }
    } }, label);
    return b;
  };
  return h(
    "div",
    { class: "downloads" },
    button(t("download_csv"), (rows) => save(`${name}.csv`, "text/csv;charset=utf-8", csv(columns, rows))),
    button(t("download_json"), (rows) => save(`${name}.json`, "application/json", JSON.stringify(rows, (_, x) => (typeof x === "bigint" ? x.toString() : x), 1))),
  );
}

/**
 * A paged list from the API: `fetchPage(cursor)` answers `{items,
 * next_cursor}`; the table shows one page with next and previous buttons.
 */
export function pagedTable(columns, fetchPage, caption) {
  const box = h("div", { class: "paged" });
  const cursors = [null];
  let at = 0;
  // A download holds every page (up to MAX_DOWNLOAD rows), not the one shown.
  const all = downloads(columns, async () => {
    const rows = [];
    for (let cursor = null; rows.length < MAX_DOWNLOAD; ) {
      const page = await fetchPage(cursor);
      rows.push(...page.items);
      if (!(cursor = page.next_cursor)) break;
    }
    return rows.slice(0, MAX_DOWNLOAD);
  });
  async function show() {
    const page = await fetchPage(cursors[at]);
    if (page.next_cursor) cursors[at + 1] = page.next_cursor;
    const prev = h("button", { type: "button", disabled: at === 0, onclick: () => { at--; show(); } }, t("prev"));
    const next = h("button", { type: "button", disabled: !page.next_cursor, onclick: () => { at++; show(); } }, t("next"));
    box.replaceChildren(
      page.items.length ? all : null,
      page.items.length ? table(columns, page.items, caption, { download: false }) : h("p", {}, t("search_none")),
      h("div", { class: "pager" }, prev, h("span", { "aria-live": "polite" }, t("page", at + 1)), next),
    );
    box.dataset.page = String(at + 1);
    box.dataset.rows = String(page.items.length);
  }
  box.ready = show();
  return box;
}

/** A labelled figure: `value` shown, `raw` kept for tests and screen readers. */
export const card = (id, label, value, raw, href, exact) =>
  h(
    "div",
    { class: "card" },
    h("span", {}, label),
    href ? h("a", { href, id, dataset: { value: raw } }, value) : h("b", { id, dataset: { value: raw } }, value),
    exact ? h("small", { class: "exact" }, exact) : null,
  );

/** A definition list of `[label, value]` rows. */
export const facts = (rows) => h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
