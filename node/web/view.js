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
export function table(columns, items, caption) {
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
  return h("div", { class: "scroll" }, h("table", {}, caption ? h("caption", {}, caption) : null, h("thead", {}, h("tr", {}, heads)), body));
}

/**
 * A paged list from the API: `fetchPage(cursor)` answers `{items,
 * next_cursor}`; the table shows one page with next and previous buttons.
 */
export function pagedTable(columns, fetchPage, caption) {
  const box = h("div", { class: "paged" });
  const cursors = [null];
  let at = 0;
  async function show() {
    const page = await fetchPage(cursors[at]);
    if (page.next_cursor) cursors[at + 1] = page.next_cursor;
    const prev = h("button", { type: "button", disabled: at === 0, onclick: () => { at--; show(); } }, t("prev"));
    const next = h("button", { type: "button", disabled: !page.next_cursor, onclick: () => { at++; show(); } }, t("next"));
    box.replaceChildren(
      page.items.length ? table(columns, page.items, caption) : h("p", {}, t("search_none")),
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
