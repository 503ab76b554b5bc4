/**
 * WebGPU test setup: opens the backend once per test module, or explains why it cannot. Without an
 * adapter, GPU tests are skipped with a visible notice, unless `TINYLLAMA_REQUIRE_WEBGPU=1` (CI), where
 * they fail.
 *
 * @module
 */
import { optIn } from "@tinyllama-ts/cli";
import { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from "../webgpu_backend.ts";

/** True when CI demands an adapter. */
export function webGpuRequired(): boolean {
  return optIn("TINYLLAMA_REQUIRE_WEBGPU");
}

/** A backend, or null with the reason. */
export async function tryWebGpu(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend | string> {
  try {
    return await createWebGpuBackend(options);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Registers a test that needs the GPU: skipped (with one warning per module) when `backend` is a
 * reason string and an adapter is not required; failing with the reason when it is required.
 */
export function gpuTestRegistrar<T>(
  backend: T | string,
): (name: string, fn: (be: T) => Promise<void> | void) => void {
  const missing = typeof backend === "string";
  const required = webGpuRequired();
  if (missing && !required) console.warn(`WebGPU tests skipped: ${backend}`);
  return (name, fn) => {
    Deno.test({
      name,
      ignore: missing && !required,
      // Device resources outlive single tests by design (one device per module).
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        if (typeof backend === "string") throw new Error(`TINYLLAMA_REQUIRE_WEBGPU=1 but ${backend}`);
        await fn(backend as T);
      },
    });
  };
}
