/**
 * Environment variables that switch behaviour on. Every such variable of the project is read here, one
 * way: set to `1` means on; unset, empty or anything else means off; no permission to read it means off.
 *
 * @module
 */

/**
 * Whether the opt-in variable `name` is set to `1` (e.g. `TINYLLAMA_REQUIRE_WEBGPU=1` in CI turns a
 * skipped WebGPU test into a failure).
 *
 * @example
 * ```ts
 * import { optIn } from "@tinyllama-ts/cli";
 * if (optIn("TINYLLAMA_REQUIRE_CHROMIUM")) console.log("Chromium is required here");
 * ```
 */
export function optIn(name: string): boolean {
  try {
    return Deno.env.get(name) === "1";
  } catch {
    return false; // no --allow-env: nothing was opted into
  }
}
