/**
 * The report page model and its HTML: a page is a title and sections of blocks (tables, notes,
 * key/value lists, preformatted text, charts). Every command that writes a report (`run`,
 * `compare`; `check` and `sweep` can add theirs) builds a `ReportPage` from its documents and
 * calls `renderReportHtml`; nothing here knows a command.
 *
 * Charts are Vega-Lite specifications with their data inline. The page carries Vega, Vega-Lite and
 * vega-embed (vendor.ts) and the specs as JSON, and a small script embeds each spec as SVG in its
 * figure. One self-contained file: no request leaves the page when it opens.
 *
 * For tests and tools the page exposes its state: each chart's figure gets `data-chart` (its id)
 * and, once drawn, `data-rendered="true"` (or `data-error` with the message); `<body>` gets
 * `data-report-status` "rendering", then "done" or "error".
 */
import { vendorScripts, type VendorScript } from "./vendor.ts"

/** A Vega-Lite specification (vega-lite's TopLevelSpec; kept structural to avoid its types here). */
export type ChartSpec = Readonly<Record<string, unknown>>

export type Cell = string | number

export type Block =
  | {
      readonly kind: "table"
      readonly caption?: string
      readonly head: readonly string[]
      readonly rows: readonly (readonly Cell[])[]
      /** Columns that hold numbers are right-aligned; by default every column but the first. */
      readonly numericColumns?: readonly number[]
    }
  | { readonly kind: "keyValues"; readonly entries: readonly (readonly [string, Cell])[] }
  | { readonly kind: "note"; readonly text: string }
  | { readonly kind: "pre"; readonly caption?: string; readonly text: string }
  | {
      readonly kind: "chart"
      /** Unique on the page: the tests and `data-chart` use it. */
      readonly id: string
      readonly title: string
      readonly spec: ChartSpec
      /** One sentence under the chart: what it shows and how it was computed. */
      readonly caption?: string
    }

export interface Section {
  readonly id: string
  readonly title: string
  readonly blocks: readonly Block[]
}

export interface ReportPage {
  /** Which command wrote it ("run", "compare", ...): the `data-report` attribute of `<body>`. */
  readonly kind: string
  readonly title: string
  readonly subtitle?: string
  readonly sections: readonly Section[]
  /** Footer line: program name and version. */
  readonly generator: string
}

/** Every chart block of the page, in order. */
export function pageCharts(page: ReportPage): { id: string; title: string; spec: ChartSpec }[] {
  const out: { id: string; title: string; spec: ChartSpec }[] = []
  for (const section of page.sections) for (const block of section.blocks) if (block.kind === "chart") out.push(block)
  return out
}

/** The self-contained HTML of `page`. */
export function renderReportHtml(page: ReportPage, vendor: readonly VendorScript[] = vendorScripts()): string {
  const ids = new Set<string>()
  for (const chart of pageCharts(page)) {
    if (ids.has(chart.id)) throw new Error(`report: chart id "${chart.id}" used twice`)
    ids.add(chart.id)
  }
  const specs: Record<string, ChartSpec> = {}
  for (const chart of pageCharts(page)) specs[chart.id] = chart.spec
  const nav = page.sections.map((s) => `<a href="#${attr(s.id)}">${text(s.title)}</a>`).join("\n")
  const body = page.sections.map(renderSection).join("\n")
  const credits = vendor.map((v) => `${v.name} ${v.version}`).join(", ")
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${text(page.title)}</title>
<style>${STYLE}</style>
</head>
<body data-report="${attr(page.kind)}" data-report-status="rendering">
<header>
<h1>${text(page.title)}</h1>
${page.subtitle === undefined ? "" : `<p class="subtitle">${text(page.subtitle)}</p>`}
<nav>${nav}</nav>
</header>
<main>
${body}
</main>
<footer>${text(page.generator)}; charts: ${text(credits)}</footer>
${vendor.map((v) => `<script data-vendor="${attr(v.name)}">${scriptText(v.source)}</script>`).join("\n")}
<script type="application/json" id="report-charts">${jsonText(specs)}</script>
<script>${BOOTSTRAP}</script>
</body>
</html>
`
}

function renderSection(section: Section): string {
  return `<section id="${attr(section.id)}">
<h2>${text(section.title)}</h2>
${section.blocks.map(renderBlock).join("\n")}
</section>`
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case "note":
      return `<p class="note">${text(block.text)}</p>`
    case "pre":
      return `${block.caption === undefined ? "" : `<p class="caption">${text(block.caption)}</p>`}<pre>${text(block.text)}</pre>`
    case "keyValues":
      return `<dl>${block.entries.map(([k, v]) => `<dt>${text(k)}</dt><dd>${text(cell(v))}</dd>`).join("")}</dl>`
    case "table": {
      const numeric = new Set(block.numericColumns ?? block.head.map((_, i) => i).filter((i) => i > 0))
      const th = block.head.map((h, i) => `<th${numeric.has(i) ? ' class="num"' : ""}>${text(h)}</th>`).join("")
      const rows = block.rows
        .map(
          (row) =>
            `<tr>${row.map((c, i) => `<td${numeric.has(i) ? ' class="num"' : ""}>${text(cell(c))}</td>`).join("")}</tr>`,
        )
        .join("\n")
      return `<table>${block.caption === undefined ? "" : `<caption>${text(block.caption)}</caption>`}<thead><tr>${th}</tr></thead><tbody>
${rows}
</tbody></table>`
    }
    case "chart":
      return `<figure class="chart" data-chart="${attr(block.id)}">
<figcaption>${text(block.title)}</figcaption>
<div class="vega" id="chart-${attr(block.id)}"></div>
${block.caption === undefined ? "" : `<p class="caption">${text(block.caption)}</p>`}
</figure>`
  }
}

function cell(value: Cell): string {
  return typeof value === "number" ? String(value) : value
}

function text(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
}

function attr(value: string): string {
  return text(value).replace(/"/g, "&quot;")
}

/** Script text must not contain `</script` (it would end the element early). */
function scriptText(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1")
}

/** JSON inside `<script>`: `<` escaped so that no string in the data can close the element. */
function jsonText(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029")
}

/** Embeds every chart as SVG; records per-chart and page status in data attributes. */
const BOOTSTRAP = `
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("report-charts").textContent);
  var ids = Object.keys(specs);
  var failed = 0;
  var jobs = ids.map(function (id) {
    var figure = document.querySelector('figure[data-chart="' + id + '"]');
    var target = document.getElementById("chart-" + id);
    return vegaEmbed(target, specs[id], { renderer: "svg", actions: false })
      .then(function () { figure.setAttribute("data-rendered", "true"); })
      .catch(function (error) {
        failed++;
        var message = String(error && error.message ? error.message : error);
        figure.setAttribute("data-error", message);
        target.textContent = "chart failed: " + message;
        console.error("chart " + id + ": " + message);
      });
  });
  Promise.all(jobs).then(function () {
    document.body.setAttribute("data-report-status", failed > 0 ? "error" : "done");
  });
})();
`

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 22px; margin: 0 0 4px; }
.subtitle { color: var(--muted); margin: 0 0 8px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
nav a { color: #0969da; text-decoration: none; }
main { padding: 0 24px 24px; max-width: 1440px; }
section { margin-top: 22px; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; }
th { background: var(--bg-alt); }
td.num, th.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; font-variant-numeric: tabular-nums; }
pre { background: var(--bg-alt); border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 420px; font-size: 12px; }
.note, .caption { color: var(--muted); font-size: 13px; }
figure.chart { display: inline-block; vertical-align: top; margin: 8px 14px 14px 0; max-width: 100%; overflow-x: auto; }
figcaption { font-weight: 600; margin-bottom: 4px; }
footer { color: var(--muted); font-size: 12px; padding: 12px 24px; border-top: 1px solid var(--line); }
`
