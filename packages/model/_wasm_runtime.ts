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
 * backend that asks for them and stop when the last one is destroyed.
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
  epoch: number;
}

let users = 0;
let workers: Worker[] = [];
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
 * Registers a user of the pool that wants `threads` threads in all (this one included), starting the
 * missing workers. The promise resolves once they have joined (or failed, or 10 s passed: the kernels
 * are correct with any number of workers).
 */
export function acquire(threads: number): Promise<void> {
  users++;
  const want = Math.max(0, Math.min(Math.floor(threads), MAX_THREADS) - 1);
  if (workers.length >= want) return started;
  const epoch = core.pool_epoch();
  const ends: Promise<void>[] = [];
  while (workers.length < want) {
    const worker = new Worker(new URL("./_wasm_worker.ts", import.meta.url));
    ends.push(new Promise((resolve) => {
      worker.once("error", () => resolve());
      worker.once("exit", () => resolve());
    }));
    const start: WorkerStart = { module, memory, slot: workers.length + 1, epoch };
    worker.postMessage(start);
    worker.unref();
    workers.push(worker);
  }
  const target = 1 + workers.length;
  const joined = (async () => {
    const deadline = performance.now() + 10_000;
    while (core.pool_threads() < target && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  started = Promise.race([joined, Promise.all(ends).then(() => {})]);
  return started;
}

/** Ends a user's registration; the last one stops the workers (they return and exit by themselves). */
export function release(): void {
  users = Math.max(0, users - 1);
  if (users === 0 && workers.length > 0) {
    core.pool_shutdown();
    workers = [];
    started = Promise.resolve();
  }
}
