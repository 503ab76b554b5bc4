/**
 * Backend selection for the command-line tools: one function from a `--backend` value to a ready
 * {@link Backend}. Each backend is imported only when chosen, so a tool that runs on WASM never loads
 * WebGPU code.
 *
 * @example
 * ```ts
 * import { createBackend } from "@tinyllama-ts/model";
 * const backend = await createBackend("reference");
 * console.log(backend.name); // "reference"
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { Backend } from "./backend.ts";

/** The `--backend` values, the default first. */
export const BACKEND_NAMES: readonly string[] = ["wasm", "webgpu", "reference"];

/**
 * A backend by name: `wasm` (the Rust core, the default of the tools), `webgpu`, or `reference`
 * (plain f64 TypeScript: exact and slow, for tests). An unknown or unavailable one is a
 * {@link UserError}.
 *
 * @example
 * ```ts
 * import { createBackend } from "@tinyllama-ts/model";
 * const backend = await createBackend("wasm");
 * ```
 */
export async function createBackend(name: string): Promise<Backend> {
  switch (name) {
    case "reference": {
      const { ReferenceBackend } = await import("./reference_backend.ts");
      return new ReferenceBackend();
    }
    case "wasm": {
      const { WasmBackend } = await import("./wasm_backend.ts");
      return await WasmBackend.create();
    }
    case "webgpu": {
      const { createWebGpuBackend } = await import("./webgpu_backend.ts");
      return await createWebGpuBackend();
    }
    default:
      throw new UserError(`unknown backend "${name}" (expected ${BACKEND_NAMES.join(", ")})`);
  }
}
