/**
 * The WebGPU backend: the WGSL kernels of `kernels/` (embedded in `_kernels.ts`), run through Deno's
 * built-in WebGPU, or a browser's.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
 * const backend = await createWebGpuBackend(); // a one-line UserError without an adapter
 * console.log(backend.info.device);
 * backend.destroy();
 * ```
 * @module
 */
export { createWebGpuBackend, WebGpuBackend, type WebGpuBackendOptions } from "./webgpu_backend.ts";
