/**
 * The compute core's runtime for a browser page: the same exports as the WASM backend's
 * `_wasm_runtime.ts` (which reads the module with `Deno.readFile` and starts `node:worker_threads`
 * workers), here with `fetch` and Web Workers. `bundle.ts` substitutes this module for that one when
 * it bundles the page (an import-map entry keyed by the runtime's file URL), so the backend itself runs
 * unchanged. The `.wasm` and the worker's bundle are served beside the page's bundle.
 *
 * Threads need a `SharedArrayBuffer`, so a cross-origin-isolated page (the server sends COOP and COEP on
 * every response); without isolation, or without workers, the kernels run on the page's thread alone,
 * with the same results.
 *
 * @module
 */
import * as core from "../backend-wasm/_wasm/tinyllama_core.js";

/** Where the page's bundle finds the core and the worker (served beside it). */
export const WASM_FILE = "tinyllama_core_bg.wasm";
/** The worker's bundle, beside the page's. */
export const WORKER_FILE = "wasm_worker.js";

const module = await WebAssembly.compileStreaming(fetch(new URL(WASM_FILE, import.meta.url)));
core.initSync({ module });

/** The core's exports (the page's instance). */
export { core };

/** The shared linear memory: every tensor lives in it. */
export const memory: WebAssembly.Memory = core.linear_memory() as WebAssembly.Memory;

/** Most threads (the caller included) the core has scratch for. */
export const MAX_THREADS = 64;

/** Message from the page to a new worker. */
export interface WorkerStart {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: number;
}

let workers = 0;
let started: Promise<void> = Promise.resolve();

/** Whether workers can share the core's memory here (a cross-origin-isolated page). */
export function threadsAvailable(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true &&
    typeof Worker === "function";
}

/** The logical cores when threads are available, else 1. */
export function defaultThreads(): number {
  if (!threadsAvailable()) return 1;
  return Math.max(1, Math.min(navigator.hardwareConcurrency ?? 1, MAX_THREADS));
}

/**
 * Makes the kernels use `threads` threads from now on, starting the workers that are missing; resolves
 * once they joined (or failed, or 10 s passed). Without isolation the count is 1.
 */
export function useThreads(threads: number): Promise<void> {
  const want = threadsAvailable() ? Math.max(1, Math.min(Math.floor(threads), MAX_THREADS)) : 1;
  core.pool_set_threads(want);
  if (workers >= want - 1) return started;
  const ends: Promise<void>[] = [];
  while (workers < want - 1) {
    const worker = new Worker(new URL(WORKER_FILE, import.meta.url), { type: "module" });
    ends.push(new Promise((resolve) => worker.addEventListener("error", () => resolve(), { once: true })));
    const start: WorkerStart = { module, memory, slot: ++workers };
    worker.postMessage(start);
  }
  const joined = (async () => {
    const deadline = performance.now() + 10_000;
    while (core.pool_threads() < want && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  started = Promise.race([joined, Promise.all(ends).then(() => {})]);
  return started;
}
