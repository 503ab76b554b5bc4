/**
 * The compute core's one instance in this isolate, and the worker threads that share its memory.
 *
 * The module (`./_wasm/`, built with atomics) imports a shared `WebAssembly.Memory`. Here it is
 * instantiated once; each worker (`./_wasm_worker.ts`) instantiates the same compiled module over the
 * same memory, with a stack of its own (wasm-bindgen's thread support), and then runs the core's
 * `worker_loop`, which takes tasks of the jobs that kernels called from here hand out (`pool.rs`).
 * Kernels never wait for workers to start: a job uses whichever workers have joined, so results do
 * not depend on how many there are.
 *
 * Workers are `node:worker_threads` workers, `unref`'d: unlike web workers, they never keep the
 * process alive, so a tool that ends without `destroy()` still exits. They start with the first
 * backend that asks for them and then live as long as this isolate, asleep (`memory.atomic.wait32`)
 * between jobs. (An earlier version stopped them when the last backend was destroyed; one of four full
 * `deno test` runs then aborted with heap corruption after every test had passed, most likely a worker
 * winding down while its test file's isolate was torn down. Sleeping workers have not done that in
 * three runs since.)
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import * as core from "./_wasm/tinyllama_core.js";

const module = await WebAssembly.compile(
  await Deno.readFile(new URL("./_wasm/tinyllama_core_bg.wasm", import.meta.url)),
);
core.initSync({ module });

/** The core's exports (the main thread's instance). */
export { core };

/** The shared linear memory: every tensor lives in it. */
export const memory: WebAssembly.Memory = core.linear_memory() as WebAssembly.Memory;

/** Most threads (the caller included) the core has scratch for. */
export const MAX_THREADS = 64;

/** Message from here to a new worker. */
export interface WorkerStart {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: number;
}

let workers = 0;
let started: Promise<void> = Promise.resolve();

/**
 * Threads to use by default: `TINYLLAMA_THREADS` when set and readable without a prompt, else the
 * machine's logical cores.
 */
export function defaultThreads(): number {
  const variable = "TINYLLAMA_THREADS";
  if (Deno.permissions.querySync({ name: "env", variable }).state === "granted") {
    const value = Number(Deno.env.get(variable));
    if (Number.isInteger(value) && value >= 1) return Math.min(value, MAX_THREADS);
  }
  return Math.max(1, Math.min(navigator.hardwareConcurrency ?? 1, MAX_THREADS));
}

/**
 * Makes the kernels use `threads` threads (this one included) from now on, for every backend of this
 * isolate, starting the workers that are missing. The promise resolves once they have joined (or
 * failed, or 10 s passed: the kernels are correct with any number of workers).
 */
export function useThreads(threads: number): Promise<void> {
  const want = Math.max(1, Math.min(Math.floor(threads), MAX_THREADS));
  core.pool_set_threads(want);
  if (workers >= want - 1) return started;
  const ends: Promise<void>[] = [];
  while (workers < want - 1) {
    const worker = new Worker(new URL("./_wasm_worker.ts", import.meta.url));
    ends.push(
      new Promise((resolve) => {
        worker.once("error", () => resolve());
        worker.once("exit", () => resolve());
      }),
    );
    const start: WorkerStart = { module, memory, slot: ++workers };
    worker.postMessage(start);
    worker.unref();
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
