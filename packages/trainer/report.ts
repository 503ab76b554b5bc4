/**
 * `OUT/report.html`: one self-contained page (no network, no external files) with the run's plots (loss,
 * validation loss, learning rate, throughput over steps), the model configuration and hyper-parameters,
 * the final metrics and the generated sample. The data sits in the page as JSON and a small inline
 * script draws the plots as SVG when it loads.
 *
 * @module
 */
import type { MetricsRecord, StepRecord, ValRecord } from "./metrics.ts";

/** What the report shows. */
export interface ReportInput {
  title: string;
  metrics: readonly MetricsRecord[];
  /** The model configuration (lit-gpt keys). */
  config: Record<string, unknown>;
  hparams: Record<string, unknown>;
  /** Headline numbers, in order (e.g. final loss, validation loss, tokens, seconds). */
  final: Record<string, string | number | null>;
  /** A generated sample, if there is one. */
  sample?: { prompt: string; completion: string; settings: string } | null;
}

/** The four plots: title, which records, and the value they show. */
const PLOTS = [
  { id: "loss", title: "Training loss", y: "loss" },
  { id: "val_loss", title: "Validation loss", y: "val_loss" },
  { id: "lr", title: "Learning rate", y: "lr" },
  { id: "throughput", title: "Throughput (tokens/s)", y: "tokens_per_sec" },
] as const;

/**
 * The report's HTML.
 *
 * @example
 * ```ts
 * import { renderReport } from "@tinyllama-ts/trainer";
 * const html = renderReport({
 *   title: "run",
 *   metrics: [{ step: 0, loss: 8.3, lr: 0, grad_norm: 1, tokens: 1024, tokens_per_sec: 900, elapsed: 1.1 }],
 *   config: { name: "micro-4l-4k" },
 *   hparams: { lr: 3e-3 },
 *   final: { "final loss": 8.3 },
 * });
 * ```
 */
export function renderReport(r: ReportInput): string {
  const steps = r.metrics.filter((m): m is StepRecord => "loss" in m);
  const vals = r.metrics.filter((m): m is ValRecord => "val_loss" in m);
  const series = {
    loss: steps.filter((s) => s.loss !== null).map((s) => [s.step, s.loss as number]),
    val_loss: vals.map((v) => [v.step, v.val_loss]),
    lr: steps.map((s) => [s.step, s.lr]),
    tokens_per_sec: steps.map((s) => [s.step, s.tokens_per_sec]),
  };
  // `<` escaped so that no string in the data can close the script element.
  const json = JSON.stringify(series).replace(/</g, "\\u003c");
  const table = (o: Record<string, unknown>) =>
    `<table>${
      Object.entries(o).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(formatValue(v))}</td></tr>`).join("")
    }</table>`;
  const figures = PLOTS.map((p) =>
    `<figure id="plot-${p.id}" data-series="${p.y}"><figcaption>${esc(p.title)}</figcaption></figure>`
  ).join("\n");
  const sample = r.sample
    ? `<p class="muted">${esc(r.sample.settings)}</p><pre><b>${esc(r.sample.prompt)}</b>${
      esc(r.sample.completion)
    }</pre>`
    : `<p class="muted">No sample (run <code>deno task pretrain:eval</code>).</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 0.5em; }
figcaption { font-weight: 600; margin-bottom: 0.3em; }
svg { width: 100%; height: auto; display: block; }
svg .axis { stroke: #999; stroke-width: 1; } svg .grid { stroke: #eee; stroke-width: 1; }
svg text { font-size: 11px; fill: #555; } svg .line { fill: none; stroke: #2563eb; stroke-width: 1.6; }
svg .dot { fill: #dc2626; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 2em; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
th { font-weight: 500; color: #555; } td { font-family: ui-monospace, monospace; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 1em; border-radius: 6px; }
.muted { color: #777; }
</style>
</head>
<body>
<h1>${esc(r.title)}</h1>
<h2>Final metrics</h2>
${table(r.final)}
<h2>Curves</h2>
<div class="plots">
${figures}
</div>
<h2>Sample</h2>
${sample}
<div class="cols">
<div><h2>Model</h2>${table(r.config)}</div>
<div><h2>Hyper-parameters</h2>${table(r.hparams)}</div>
</div>
<script type="application/json" id="series">${json}</script>
<script>
${PLOT_SCRIPT}
</script>
</body>
</html>
`;
}

/** Draws each `figure[data-series]` as an SVG line plot; sets `body[data-plots]` to the count drawn. */
const PLOT_SCRIPT = String.raw`(() => {
  const series = JSON.parse(document.getElementById("series").textContent);
  const NS = "http://www.w3.org/2000/svg", W = 520, H = 260, L = 64, R = 12, T = 10, B = 32;
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  };
  const fmt = (v) => {
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-2 || a >= 1e5)) return v.toExponential(1);
    return String(Number(v.toPrecision(3)));
  };
  const ticks = (lo, hi, n) => {
    if (hi === lo) return [lo];
    const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  };
  let drawn = 0;
  for (const fig of document.querySelectorAll("figure[data-series]")) {
    const pts = series[fig.dataset.series] || [];
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" }, fig);
    if (pts.length === 0) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no data";
      continue;
    }
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), sy = (y) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
    for (const v of ticks(y0, y1, 5)) {
      el("line", { class: "grid", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }, svg);
      el("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, svg).textContent = fmt(v);
    }
    for (const v of ticks(x0, x1, 6)) {
      el("text", { x: sx(v), y: H - B + 16, "text-anchor": "middle" }, svg).textContent = fmt(v);
    }
    el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }, svg);
    el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
    el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, svg).textContent = "step";
    const d = pts.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    el("path", { class: "line", d, "data-points": pts.length }, svg);
    if (pts.length < 40) for (const p of pts) el("circle", { class: "dot", cx: sx(p[0]), cy: sy(p[1]), r: 2.5 }, svg);
    drawn++;
  }
  document.body.dataset.plots = String(drawn);
})();`;

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
