/**
 * Model FLOPs utilisation: the FLOPs a training step needs (lit-gpt's estimate) over what the device could
 * do in the step's time, for devices whose peak is known.
 *
 * @module
 */
import type { ModelConfig } from "@tinyllama-ts/model";

/**
 * Training FLOPs per token, as lit-gpt's `estimate_flops` counts them: forward and backward (×3) of
 * `2·N` per token for the `N` parameters, plus attention's `4·n_layer·n_embd·seq_len` per token.
 *
 * @example
 * ```ts
 * import { trainingFlopsPerToken } from "@tinyllama-ts/trainer";
 * import { PRESETS } from "@tinyllama-ts/model";
 * const f = trainingFlopsPerToken(PRESETS["tinyllama-1.1b"], 1_100_048_384, 2048); // ≈ 7.7e9
 * ```
 */
export function trainingFlopsPerToken(c: ModelConfig, numParams: number, seqLen: number): number {
  return 3 * (2 * numParams + 4 * c.n_layer * c.n_embd * seqLen);
}

/** Dense float32 peaks (FLOP/s) of GPUs by a name fragment of their adapter description; WebGPU runs f32. */
const FP32_PEAKS: readonly [RegExp, number][] = [
  [/H200/i, 67e12],
  [/H100.*PCIe/i, 51e12],
  [/H100/i, 67e12],
  [/A100/i, 19.5e12],
  [/L40S/i, 91.6e12],
  [/L4\b/i, 30.3e12],
  [/RTX 4090/i, 82.6e12],
  [/RTX 3090/i, 35.6e12],
  [/\bT4\b/i, 8.1e12],
];

/**
 * The float32 peak of a device by its description (a WebGPU adapter's `description` or `device`), or
 * undefined when it is not known (every CPU: the WASM backend reports no MFU).
 *
 * @example
 * ```ts
 * import { fp32PeakFlops } from "@tinyllama-ts/trainer";
 * console.log(fp32PeakFlops("NVIDIA H100 80GB HBM3")); // 67000000000000
 * ```
 */
export function fp32PeakFlops(description: string | undefined): number | undefined {
  if (!description) return undefined;
  return FP32_PEAKS.find(([re]) => re.test(description))?.[1];
}
