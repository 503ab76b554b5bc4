/// <reference lib="dom" />
/**
 * The training page: loads the tokenizer and the corpus sample from the server (or takes a text
 * dropped on the page), starts the training worker, and shows what it reports: the backend it picked,
 * step, loss, tokens/s and the loss curve. Pause, sample and download talk to the worker between
 * steps. URL parameters set the run (`backend=auto|webgpu|wasm|wasm-single`, `steps`, `micro`, `global`,
 * `seq`, `seed`, `lr`, `warmup`, `autostart=1`); `window.tinyllama` exposes the state to scripts.
 *
 * @module
 */
import { DEFAULT_HPARAMS, type Hparams } from "../../trainer/hparams.ts";
import type { TextSource } from "../memory_data.ts";
import type { SessionStep } from "../session.ts";
import { drawPlot, formatNumber } from "./plot.ts";
import type { BackendChoice, FromWorker, ToWorker } from "./protocol.ts";

const PRESET = "micro-4l-4k";
const params = new URLSearchParams(location.search);
const num = (key: string, fallback: number) => {
  const v = params.get(key);
  return v === null || v === "" || !Number.isFinite(Number(v)) ? fallback : Number(v);
};
const hparams: Partial<Hparams> = {
  maxSteps: num("steps", 400),
  microBatchSize: num("micro", DEFAULT_HPARAMS.microBatchSize),
  globalBatchSize: num("global", num("micro", DEFAULT_HPARAMS.globalBatchSize)),
  seqLen: params.has("seq") ? num("seq", 128) : null,
  seed: num("seed", DEFAULT_HPARAMS.seed),
  lr: num("lr", DEFAULT_HPARAMS.lr),
  minLr: num("lr", DEFAULT_HPARAMS.lr) / 10,
  warmupSteps: num("warmup", DEFAULT_HPARAMS.warmupSteps),
};
const backendChoice = (params.get("backend") ?? "auto") as BackendChoice;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What the page knows, for the user and for scripts (the tests read it). */
const state = {
  status: "loading",
  backend: "",
  device: "",
  note: "",
  steps: [] as SessionStep[],
  done: false,
  error: "",
  dataName: "",
};

let worker: Worker | null = null;
let tokenizerModel: Uint8Array | null = null;
let builtin: TextSource[] = [];
let sources: TextSource[] = [];
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function request<T>(msg: ToWorker & { id: number }): Promise<T> {
  if (!worker) return Promise.reject(new Error("not training"));
  return new Promise<T>((resolve, reject) => {
    pending.set(msg.id, { resolve: resolve as (v: unknown) => void, reject });
    worker!.postMessage(msg);
  });
}

function setStatus(s: string) {
  state.status = s;
  $("status").textContent = s;
}

function render() {
  const last = state.steps.at(-1);
  $("step").textContent = last ? String(last.step + 1) : "–";
  $("loss").textContent = last?.loss != null ? last.loss.toFixed(4) : "–";
  const recent = state.steps.slice(-10);
  const rate = recent.length ? recent.reduce((a, r) => a + r.tokens_per_sec, 0) / recent.length : NaN;
  $("rate").textContent = Number.isFinite(rate) ? formatNumber(Math.round(rate)) : "–";
  drawPlot($("curve"), [{
    name: "loss",
    points: state.steps.filter((r) => r.loss !== null).map((r) => [r.step, r.loss!]),
  }]);
}

function onMessage(m: FromWorker) {
  switch (m.type) {
    case "ready": {
      state.backend = m.backend;
      state.device = m.device;
      state.note = m.note;
      const name = m.backend === "webgpu"
        ? "WebGPU"
        : m.device.includes(" 1 thread")
        ? "WASM, single-threaded"
        : "WASM, threaded";
      $("backend").textContent = `${name}: ${m.device}${m.note ? ` (${m.note})` : ""}`;
      $("data").textContent = `${state.dataName}: ${
        m.sourceTokens.map((s) => `${s.name} ${s.tokens} tokens`).join(", ")
      }; ${m.stepTokens} tokens a step, ${m.maxSteps} steps`;
      setStatus("training");
      break;
    }
    case "step":
      state.steps.push(m.record);
      render();
      break;
    case "done":
      state.done = true;
      setStatus("done");
      break;
    case "error": {
      const p = m.id !== undefined ? pending.get(m.id) : undefined;
      if (p) {
        pending.delete(m.id!);
        p.reject(new Error(m.message));
      } else {
        state.error = m.message;
        setStatus(`error: ${m.message}`);
      }
      break;
    }
    case "sample":
    case "checkpoint": {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.resolve(m.type === "sample" ? m.text : m.files);
      break;
    }
  }
}

function start() {
  worker?.terminate();
  for (const p of pending.values()) p.reject(new Error("restarted"));
  pending.clear();
  state.steps = [];
  state.done = false;
  state.error = "";
  render();
  setStatus("starting");
  worker = new Worker(new URL("train_worker.js", import.meta.url), { type: "module" });
  worker.addEventListener("message", (e) => onMessage((e as MessageEvent<FromWorker>).data));
  worker.addEventListener("error", (e) => {
    state.error = e.message || "the worker failed";
    setStatus(`error: ${state.error}`);
  });
  const msg: ToWorker = {
    type: "start",
    backend: backendChoice,
    preset: PRESET,
    hparams,
    tokenizerModel: tokenizerModel!,
    sources,
  };
  worker.postMessage(msg);
  $("pause").textContent = "Pause";
}

/** A continuation of `prompt` from the model as it is now. */
function sample(prompt: string): Promise<string> {
  return request<string>({ type: "sample", id: nextId++, prompt });
}

/** The checkpoint's files as they would download. */
function checkpointFiles(): Promise<{ name: string; bytes: Uint8Array }[]> {
  return request({ type: "checkpoint", id: nextId++ });
}

async function download() {
  for (const f of await checkpointFiles()) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([f.bytes as BlobPart]));
    a.download = f.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
}

/** The files as base64, for scripts driving the page. */
async function checkpointBase64(): Promise<{ name: string; base64: string }[]> {
  return (await checkpointFiles()).map((f) => {
    let s = "";
    for (let i = 0; i < f.bytes.length; i += 0x8000) {
      s += String.fromCharCode(...f.bytes.subarray(i, i + 0x8000));
    }
    return { name: f.name, base64: btoa(s) };
  });
}

Object.assign(globalThis, { tinyllama: { state, sample, checkpointBase64 } });

async function main() {
  $("pause").addEventListener("click", () => {
    if (!worker) return;
    const pausing = $("pause").textContent === "Pause";
    worker.postMessage({ type: pausing ? "pause" : "resume" } satisfies ToWorker);
    $("pause").textContent = pausing ? "Resume" : "Pause";
    setStatus(pausing ? "paused" : "training");
  });
  $("start").addEventListener("click", () => start());
  $("sample").addEventListener("click", async () => {
    $("sample-out").textContent = "…";
    try {
      $("sample-out").textContent = await sample(($("prompt") as HTMLInputElement).value || "The");
    } catch (e) {
      $("sample-out").textContent = `error: ${(e as Error).message}`;
    }
  });
  $("download").addEventListener("click", () => download().catch((e) => setStatus(`error: ${e.message}`)));
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", async (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (!file) return;
    sources = [{ name: file.name, weight: 1, texts: [await file.text()] }];
    state.dataName = `dropped ${file.name}`;
    start();
  });
  try {
    const [tok, corpus] = await Promise.all([
      fetch("data/tokenizer.model").then((r) =>
        r.ok ? r.arrayBuffer() : Promise.reject(new Error(r.statusText))
      ),
      fetch("data/corpus.json").then((r) => r.ok ? r.json() : Promise.reject(new Error(r.statusText))),
    ]);
    tokenizerModel = new Uint8Array(tok);
    builtin = corpus.sources;
    sources = builtin;
    state.dataName = corpus.name;
    $("data").textContent = `${corpus.name}: ${
      builtin.map((s) => `${s.name} (${s.texts.length} documents, weight ${s.weight})`).join(", ")
    }`;
    setStatus("ready");
    render();
    if (params.get("autostart") === "1") start();
  } catch (e) {
    state.error = (e as Error).message;
    setStatus(`error: cannot load the tokenizer or corpus (${state.error})`);
  }
}

main();
