/**
 * A worker thread of the compute core (see `_wasm_runtime.ts`): instantiates the module over the shared
 * memory it is sent (wasm-bindgen gives this instance its own stack and TLS), then takes part in every
 * job for as long as its isolate lives (`worker_loop` never returns).
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { initSync, worker_loop } from "./_wasm/tinyllama_core.js";
import type { WorkerStart } from "./_wasm_runtime.ts";

parentPort!.once("message", (start: WorkerStart) => {
  initSync({ module: start.module, memory: start.memory });
  worker_loop(start.slot);
});
