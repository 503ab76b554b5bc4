/**
 * A Web Worker of the compute core in a page (see `_wasm_runtime_browser.ts`): instantiates the module
 * over the shared memory it is sent, then takes part in every job (`worker_loop` never returns).
 *
 * @module
 */
import { initSync, worker_loop } from "../../backend-wasm/_wasm/tinyllama_core.js";
import type { WorkerStart } from "../_wasm_runtime_browser.ts";

self.addEventListener("message", (e) => {
  const start = (e as MessageEvent<WorkerStart>).data;
  initSync({ module: start.module, memory: start.memory });
  worker_loop(start.slot);
}, { once: true });
