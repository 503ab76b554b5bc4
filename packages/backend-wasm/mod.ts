/**
 * The WASM backend: the Rust compute core of `crates/core`, compiled to wasm32 with SIMD128 (the committed
 * artifact is in `_wasm/`), run on a pool of workers over one shared memory.
 *
 * @example
 * ```ts
 * import { WasmBackend } from "@tinyllama-ts/backend-wasm";
 * const backend = await WasmBackend.create({ threads: 1 });
 * console.log(backend.info.device);
 * backend.destroy();
 * ```
 * @module
 */
export { WasmBackend, type WasmBackendOptions } from "./wasm_backend.ts";
