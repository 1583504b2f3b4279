// Charts on a canvas by Chart.js (vendored; see ARCHITECTURE.md for why
// not ECharts), each with its data as a table beside it for screen
// readers and for those who prefer numbers.

import { t, yuan } from "./i18n.js";
import { h, table } from "./view.js";

const { Chart } = globalThis;
const PALETTE = ["#1f5fa8", "#d0782a", "#3a8f5c", "#b23a48", "#7a5ea8", "#5f8f9f", "#a8873a", "#4a4f5c", "#c45fa0"];

Chart.defaults.font.family = 'system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
Chart.defaults.color = "#1d2430";
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

/**
 * A figure: title, canvas chart and the same rows as a table.
 * `rows` are `{label, values: [fen…], onselect?}`; `series` names each value.
 */
export function barFigure(id, title, rows, series, { type = "bar", horizontal = false, onselect } = {}) {
  const canvas = h("canvas", { id, role: "img", "aria-label": title });
  const figure = h("figure", { class: "chart" }, h("figcaption", {}, title), h("div", { class: "plot" }, canvas));
  const columns = [
    { label: t("col_name"), cell: (r) => (onselect ? h("button", { type: "button", class: "linklike", onclick: () => onselect(r) }, r.label) : r.label), value: (r) => r.label },
    ...series.map((s, i) => ({ label: s, num: true, cell: (r) => yuan(r.values[i]), value: (r) => r.values[i] })),
  ];
  figure.append(h("details", {}, h("summary", {}, t("show_table")), table(columns, rows)));
  const config = {
    type,
    data: {
      labels: rows.map((r) => r.label),
      datasets: series.map((s, i) => ({
        label: s,
        // A bar's length needs no fen: a number (the table beside it is exact).
        data: rows.map((r) => Number(r.values[i]) / 100),
        backgroundColor: type === "doughnut" ? rows.map((_, j) => PALETTE[j % PALETTE.length]) : PALETTE[i % PALETTE.length],
      })),
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      plugins: { legend: { display: type === "doughnut" || series.length > 1 } },
      onClick: onselect ? (_, els) => els.length && onselect(rows[els[0].index]) : undefined,
    },
  };
  queueMicrotask(() => new Chart(canvas, config));
  return figure;
}

/** A flow chart: `flows` are `{from, to, flow}` in fen. */
export function flowFigure(id, title, flows) {
  const canvas = h("canvas", { id, role: "img", "aria-label": title });
  const figure = h("figure", { class: "chart tall" }, h("figcaption", {}, title), h("div", { class: "plot" }, canvas));
  const columns = [
    { label: t("col_counterpart"), cell: (f) => f.from },
    { label: t("col_region"), cell: (f) => f.to },
    { label: t("col_amount"), num: true, cell: (f) => yuan(f.flow), value: (f) => f.flow },
  ];
  figure.append(h("details", {}, h("summary", {}, t("show_table")), table(columns, flows)));
  queueMicrotask(
    () =>
      new Chart(canvas, {
        type: "sankey",
        data: { datasets: [{ data: flows.map((f) => ({ ...f, flow: Number(f.flow) / 100 })), colorFrom: () => PALETTE[0], colorTo: () => PALETTE[1] }] },
      }),
  );
  return figure;
}
