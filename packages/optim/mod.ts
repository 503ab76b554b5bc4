/**
 * The optimizer of tinyllama-ts: TinyLlama's cosine schedule, AdamW with global-norm clipping run on a
 * backend, and a plain float64 reference of both for tests.
 *
 * @example
 * ```ts
 * import { cosineLr } from "@tinyllama-ts/optim";
 * const lr = cosineLr(100, { lr: 4e-4, minLr: 4e-5, warmupSteps: 2000, maxSteps: 10000 });
 * ```
 * @module
 */
export { cosineLr, type CosineSchedule } from "./schedule.ts";
export {
  type AdamWConfig,
  isNormOrEmbedding,
  Optimizer,
  type OptimizerMoments,
  type ParamSlot,
  paramSlots,
  type UpdateResult,
} from "./optimizer.ts";
export { adamwReference, type AdamWStep, clipGradNormReference } from "./reference.ts";
