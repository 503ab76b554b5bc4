/// <reference lib="dom" />
/**
 * A line plot as SVG, redrawn in place as points arrive: the plots of both pages (the training page's
 * loss curve, the dashboard's loss, learning rate, gradient norm and throughput). Each series is a
 * `path.line` whose `data-points` attribute counts its points.
 *
 * @module
 */

/** One line: its name, colour class and `[x, y]` points. */
export interface Series {
  name: string;
  points: [number, number][];
  /** CSS class for the line's colour (default `s0`, `s1`, … by position). */
  className?: string;
}

const NS = "http://www.w3.org/2000/svg";
const W = 520, H = 240, L = 60, R = 12, T = 10, B = 32;

function el(name: string, attrs: Record<string, string | number>, parent: Element): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent.appendChild(e);
  return e;
}

/** A number in at most three significant digits, or exponent form when very small or large. */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-2 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

function ticks(lo: number, hi: number, n: number): number[] {
  if (hi === lo) return [lo];
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

/** Draws `series` into `container` (replacing what was there); returns the points drawn. */
export function drawPlot(container: Element, series: readonly Series[], xLabel = "step"): number {
  container.querySelector("svg")?.remove();
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" }, container);
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  if (all.length === 0) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg).textContent =
      "no data yet";
    return 0;
  }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of all) {
    x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
  }
  if (x1 === x0) x0 -= 1, x1 += 1;
  if (y1 === y0) {
    const d = Math.abs(y0) * 0.1 || 1;
    y0 -= d, y1 += d;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  const sx = (x: number) => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = (y: number) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  for (const v of ticks(y0, y1, 5)) {
    el("line", { class: "grid", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }, svg);
    el("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, svg).textContent = formatNumber(v);
  }
  for (const v of ticks(x0, x1, 6)) {
    el("text", { x: sx(v), y: H - B + 16, "text-anchor": "middle" }, svg).textContent = formatNumber(v);
  }
  el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }, svg);
  el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
  el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, svg).textContent = xLabel;
  let drawn = 0;
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length === 0) return;
    const d = pts.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)} ${sy(p[1]).toFixed(1)}`).join(" ");
    el("path", { class: `line ${s.className ?? `s${i}`}`, d, "data-points": pts.length }, svg);
    if (pts.length < 40) {
      for (const p of pts) {
        el("circle", { class: `dot ${s.className ?? `s${i}`}`, cx: sx(p[0]), cy: sy(p[1]), r: 2.5 }, svg);
      }
    }
    drawn += pts.length;
  });
  return drawn;
}
