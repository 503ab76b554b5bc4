/**
 * The WebGPU adapter as the GPU benchmark reports it first: its name, all of its limits and its
 * features (is `subgroups` offered? `shader-f16`?). Imports nothing, so that `run.sh` can probe the
 * adapter before anything else (and again with the Vulkan loader's debug output when none appears).
 *
 * Usage: deno run --no-config bench/gpu/adapter.ts   (prints one JSON line; exit 3 without an adapter)
 *
 * @module
 */

/** What {@link describeAdapter} reports. */
export interface AdapterReport {
  /** The adapter's description, else its device or vendor name. */
  name: string;
  /** `adapter.info`'s fields (vendor, architecture, device, description). */
  info: Record<string, string>;
  /** Every limit the adapter reports, by its WebGPU name. */
  limits: Record<string, number>;
  /** The features it offers, sorted. */
  features: string[];
  /** Whether it offers `subgroups` and `shader-f16`, the two the kernels may use. */
  subgroups: boolean;
  shader_f16: boolean;
}

/**
 * The high-performance adapter's report, or null when there is none (or no WebGPU at all).
 *
 * @example
 * ```ts
 * import { describeAdapter } from "./adapter.ts";
 * const report = await describeAdapter();
 * console.log(report?.name ?? "no adapter", report?.limits.maxStorageBufferBindingSize);
 * ```
 */
export async function describeAdapter(): Promise<AdapterReport | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  const adapter = await gpu?.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const info: Record<string, string> = {};
  for (const key of ["vendor", "architecture", "device", "description"] as const) {
    info[key] = String(adapter.info[key] ?? "");
  }
  const limits: Record<string, number> = {};
  // WebIDL attributes are getters on the prototype: walk the prototype's names, not own keys.
  const proto = Object.getPrototypeOf(adapter.limits);
  for (const key of Object.getOwnPropertyNames(proto).sort()) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === "number") limits[key] = value;
  }
  const features = [...adapter.features].map(String).sort();
  return {
    name: info.description || info.device || info.vendor || "WebGPU adapter",
    info,
    limits,
    features,
    subgroups: features.includes("subgroups"),
    shader_f16: features.includes("shader-f16"),
  };
}

if (import.meta.main) {
  const report = await describeAdapter();
  console.log(JSON.stringify({ adapter: report ?? { error: "no WebGPU adapter" } }));
  if (!report) Deno.exit(3);
}
