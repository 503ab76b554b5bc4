/**
 * The memory a training run takes on a backend, from the same layouts the model allocates: parameters,
 * gradients, AdamW's two moments, the activations kept for the backward (all blocks', or with
 * recomputation each block's input and one block's buffers), the logits (one block of rows of the
 * fused loss), and the workspace (the backward's scratch and the optimizer's scalars). All f32.
 *
 * @example
 * ```ts
 * import { maxMicroBatch, memoryPlan, PRESETS } from "@tinyllama-ts/model";
 * const c = PRESETS["tinyllama-1.1b"];
 * console.log(memoryPlan(c, { microBatch: 8, seqLen: 2048 }).total / 1e9);
 * console.log(maxMicroBatch(c, { seqLen: 2048, memoryBytes: 80e9, recompute: true }));
 * ```
 * @module
 */
import type { ModelConfig } from "./config.ts";
import { actsLayout, paramSpecs, scratchSizes } from "./model.ts";

const F32 = 4;

/** What a plan is for. */
export interface MemoryPlanOptions {
  microBatch: number;
  seqLen: number;
  /** Activation recomputation (`Model.recompute`). */
  recompute?: boolean;
  /** Rows per block of the fused loss (`Model.lossChunkRows`, default 256). */
  lossChunkRows?: number;
}

/** Bytes by kind, and their sum. */
export interface MemoryPlan {
  parameters: number;
  gradients: number;
  moments: number;
  activations: number;
  logits: number;
  workspace: number;
  total: number;
}

/**
 * The bytes of one training step's tensors for `config` at a micro-batch and sequence length.
 *
 * @example
 * ```ts
 * import { memoryPlan, PRESETS } from "@tinyllama-ts/model";
 * const p = memoryPlan(PRESETS["micro-4l-4k"], { microBatch: 4, seqLen: 128 });
 * console.log(p.parameters === p.gradients, p.moments === 2 * p.parameters); // true true
 * ```
 */
export function memoryPlan(config: ModelConfig, o: MemoryPlanOptions): MemoryPlan {
  const n = o.microBatch * o.seqLen;
  const params = paramSpecs(config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  const logitRows = Math.min(n, o.lossChunkRows ?? 256);
  const acts = actsLayout(config, n, o.recompute ? "recompute" : config.n_layer, logitRows);
  const logits = acts.layout.sizes[acts.logits] * F32;
  const actElems = acts.layout.sizes.reduce((a, b) => a + b, 0) + 2 * n; // + ids and targets (i32)
  const scratch = Object.values(scratchSizes(config, n)).reduce((a, b) => a + b, 0);
  const plan = {
    parameters: params * F32,
    gradients: params * F32,
    moments: 2 * params * F32,
    activations: actElems * F32 - logits,
    logits,
    workspace: (scratch + 2) * F32, // + the optimizer's squared norm and clip factor
  };
  return { ...plan, total: Object.values(plan).reduce((a, b) => a + b, 0) };
}

/**
 * The largest micro-batch whose plan fits `memoryBytes` (0 when not even one sequence fits).
 *
 * @example
 * ```ts
 * import { maxMicroBatch, PRESETS } from "@tinyllama-ts/model";
 * console.log(maxMicroBatch(PRESETS["tinyllama-1.1b"], { seqLen: 2048, memoryBytes: 80e9 }));
 * ```
 */
export function maxMicroBatch(
  config: ModelConfig,
  o: Omit<MemoryPlanOptions, "microBatch"> & { memoryBytes: number },
): number {
  const fits = (b: number) => memoryPlan(config, { ...o, microBatch: b }).total <= o.memoryBytes;
  if (!fits(1)) return 0;
  let lo = 1, hi = 2;
  while (fits(hi) && hi < 1 << 20) lo = hi, hi *= 2;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
