/// <reference lib="dom" />
/**
 * The dashboard page: follows the server's `/events` stream (no reloads) and draws what the run's
 * report draws (loss and validation loss, learning rate, gradient norm, throughput) with the current
 * step, the ETA, the newest checkpoint and the sample of its evaluation. `window.dashboard` exposes
 * the records and status to scripts.
 *
 * @module
 */
import type { StepRecord, ValRecord } from "../../trainer/metrics.ts";
import type { RunStatus } from "../dashboard_server.ts";
import { drawPlot, formatNumber } from "./plot.ts";

// The lines of metrics.jsonl, as the trainer writes them.
type StepLine = StepRecord;
type ValLine = ValRecord;

const steps: StepLine[] = [];
const vals: ValLine[] = [];
const state = {
  steps,
  vals,
  status: null as RunStatus | null,
  lastUpdate: 0,
  updates: 0,
  loadedAt: Date.now(),
};
Object.assign(globalThis, { dashboard: state });

const $ = (id: string) => document.getElementById(id)!;

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "–";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.round(s % 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${sec}s` : `${sec}s`;
}

function render() {
  const last = steps.at(-1);
  const s = state.status;
  $("run").textContent = s?.run ?? "";
  $("step").textContent = last ? String(last.step + 1) : "–";
  $("loss").textContent = last?.loss != null ? last.loss.toFixed(4) : "–";
  $("val").textContent = vals.length ? vals.at(-1)!.val_loss.toFixed(4) : "–";
  const recent = steps.slice(-20);
  const rate = recent.length ? recent.reduce((a, r) => a + r.tokens_per_sec, 0) / recent.length : NaN;
  $("rate").textContent = Number.isFinite(rate) ? formatNumber(Math.round(rate)) : "–";
  $("elapsed").textContent = last ? duration(last.elapsed) : "–";
  const maxSteps = s?.latest?.maxSteps ?? null;
  const done = last !== undefined && maxSteps !== null && last.step + 1 >= maxSteps;
  if (last && maxSteps !== null && !done && recent.length >= 2) {
    const perStep = (recent.at(-1)!.elapsed - recent[0].elapsed) / (recent.at(-1)!.step - recent[0].step);
    $("eta").textContent = duration(perStep * (maxSteps - last.step - 1));
  } else $("eta").textContent = done ? "done" : "–";
  const quiet = (Date.now() - (s?.modified ?? state.lastUpdate)) / 1000;
  $("state").textContent = done
    ? `finished: ${last!.step + 1} of ${maxSteps} steps`
    : !last
    ? "no steps yet"
    : quiet > 30
    ? `not advancing for ${duration(quiet)} (stopped or killed?) at step ${last.step + 1}${
      maxSteps ? ` of ${maxSteps}` : ""
    }`
    : `running: step ${last.step + 1}${maxSteps ? ` of ${maxSteps}` : ""}`;

  const pts = (f: (r: StepLine) => number | null): [number, number][] =>
    steps.filter((r) => f(r) !== null).map((r) => [r.step, f(r)!]);
  drawPlot($("plot-loss"), [
    { name: "training", points: pts((r) => r.loss) },
    { name: "validation", points: vals.map((v) => [v.step, v.val_loss]) },
  ]);
  drawPlot($("plot-lr"), [{ name: "lr", points: pts((r) => r.lr) }]);
  drawPlot($("plot-grad_norm"), [{ name: "grad norm", points: pts((r) => r.grad_norm) }]);
  drawPlot($("plot-throughput"), [{ name: "tokens/s", points: pts((r) => r.tokens_per_sec) }]);

  if (s?.latest) {
    const l = s.latest;
    const link = `run/checkpoints/${l.name}/config.json`;
    $("checkpoint").innerHTML = "";
    const a = document.createElement("a");
    a.href = link;
    a.textContent = l.name;
    $("checkpoint").append(a, ` — step ${l.step}, ${l.tokens} tokens, ${duration(l.elapsed)} of training`);
  }
  const ev = s?.eval;
  $("sample").textContent = ev?.sample
    ? `${ev.checkpoint}${ev.val_loss !== null ? `, validation loss ${ev.val_loss.toFixed(4)}` : ""}\n` +
      `${ev.sample.prompt}${ev.sample.completion}\n(${ev.sample.settings})`
    : "";
}

const events = new EventSource("events");
events.addEventListener("metrics", (e) => {
  for (const r of JSON.parse((e as MessageEvent).data)) {
    if ("val_loss" in r) vals.push(r);
    else if ("loss" in r) steps.push(r);
  }
  state.lastUpdate = Date.now();
  state.updates++;
  render();
});
events.addEventListener("reset", () => {
  steps.length = 0;
  vals.length = 0;
  render();
});
events.addEventListener("status", (e) => {
  state.status = JSON.parse((e as MessageEvent).data);
  render();
});
events.addEventListener("error", () => $("state").textContent = "disconnected: retrying…");
setInterval(render, 5000);
render();
