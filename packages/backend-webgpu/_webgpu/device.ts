/**
 * Opening a WebGPU device with the limits the kernels need: the adapter's own maxima for buffer and
 * binding sizes, storage bindings per stage, workgroup memory and the smallest offset alignments.
 * No adapter is a one-line {@link UserError} that says how to get one.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** Options of {@link openDevice}. */
export interface DeviceOptions {
  /** Passed to `requestAdapter` (default `"high-performance"`). */
  powerPreference?: GPUPowerPreference;
}

/** The storage bindings the largest kernel (attention's key/value backward) uses. */
export const STORAGE_BINDINGS_NEEDED = 8;

/** The message of a missing adapter: what to install for a software or a hardware one. */
export const NO_ADAPTER_HINT =
  "install mesa-vulkan-drivers (a software Vulkan adapter) or your GPU's Vulkan driver, or use --backend wasm";

/**
 * Requests the adapter and a device with raised limits.
 *
 * @example
 * ```ts
 * import { openDevice } from "./device.ts";
 * const { device } = await openDevice();
 * console.log(device.limits.maxStorageBufferBindingSize);
 * ```
 */
export async function openDevice(
  options: DeviceOptions = {},
): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new UserError(`WebGPU is not available in this runtime: ${NO_ADAPTER_HINT}`);
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new UserError(`no WebGPU adapter found: ${NO_ADAPTER_HINT}`);
  const a = adapter.limits;
  if (a.maxStorageBuffersPerShaderStage < STORAGE_BINDINGS_NEEDED) {
    throw new UserError(
      `the WebGPU adapter allows ${a.maxStorageBuffersPerShaderStage} storage buffers per stage, ` +
        `${STORAGE_BINDINGS_NEEDED} are needed: ${NO_ADAPTER_HINT}`,
    );
  }
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxBufferSize: a.maxBufferSize,
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
      minStorageBufferOffsetAlignment: a.minStorageBufferOffsetAlignment,
      minUniformBufferOffsetAlignment: a.minUniformBufferOffsetAlignment,
    },
  });
  return { adapter, device };
}
