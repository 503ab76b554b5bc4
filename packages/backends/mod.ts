/**
 * The registry of backends: the one list of their names and the one way to create one by name. Each
 * backend package is imported only when it is chosen, so a program that runs on WASM never loads WebGPU.
 *
 * @example
 * ```ts
 * import { BACKEND_NAMES, createBackend } from "@tinyllama-ts/backends";
 * const backend = await createBackend("reference");
 * console.log(BACKEND_NAMES, backend.info.name);
 * ```
 * @module
 */
export {
  BACKEND_NAMES,
  type BackendName,
  createBackend,
  type CreateBackendOptions,
  isBackendName,
} from "./registry.ts";
