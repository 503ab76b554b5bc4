/**
 * The one list of backend names and the one way to create a backend from a name. Each backend package
 * is imported only when it is chosen.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { Backend } from "@tinyllama-ts/backend";

/** The backend names, the default first. */
export const BACKEND_NAMES = ["wasm", "webgpu", "reference"] as const;

/** One of {@link BACKEND_NAMES}. */
export type BackendName = typeof BACKEND_NAMES[number];

/**
 * Whether `name` is one of {@link BACKEND_NAMES}.
 *
 * @example
 * ```ts
 * import { isBackendName } from "@tinyllama-ts/backends";
 * console.log(isBackendName("wasm"), isBackendName("cuda")); // true false
 * ```
 */
export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

/** Options of {@link createBackend}; each applies to the backends that have it. */
export interface CreateBackendOptions {
  /** WASM: threads for the kernels (default: the machine's cores, or `TINYLLAMA_THREADS`). */
  threads?: number;
}

/**
 * A ready backend by name: `wasm` (the Rust core, the default), `webgpu`, or `reference` (plain f64
 * TypeScript: exact and slow, the oracle of the tests). An unknown name, or a backend this machine cannot
 * run (no WebGPU adapter), is a one-line {@link UserError}.
 *
 * @example
 * ```ts
 * import { createBackend } from "@tinyllama-ts/backends";
 * const backend = await createBackend("reference");
 * console.log(backend.info.name); // "reference"
 * ```
 */
export async function createBackend(name: string, options: CreateBackendOptions = {}): Promise<Backend> {
  if (!isBackendName(name)) {
    throw new UserError(`unknown backend "${name}" (expected ${BACKEND_NAMES.join(", ")})`);
  }
  switch (name) {
    case "reference": {
      const { ReferenceBackend } = await import("@tinyllama-ts/backend");
      return new ReferenceBackend();
    }
    case "wasm": {
      const { WasmBackend } = await import("@tinyllama-ts/backend-wasm");
      return await WasmBackend.create({ threads: options.threads });
    }
    case "webgpu": {
      const { createWebGpuBackend } = await import("@tinyllama-ts/backend-webgpu");
      return await createWebGpuBackend();
    }
  }
}
