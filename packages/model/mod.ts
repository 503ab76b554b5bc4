/**
 * The Llama 2 model of tinyllama-ts: named configurations (lit-gpt's keys), the model over any
 * {@link https://jsr.io/@tinyllama-ts/backend | backend}, and generation with a KV cache. The model never
 * knows which backend runs it.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * ```
 * @module
 */
export {
  headSize,
  type ModelConfig,
  ModelConfigSchema,
  parseConfig,
  PRESETS,
  resolveConfig,
} from "./config.ts";
export { KVCache, Model, paramSpecs } from "./model.ts";
export type {
  ForwardOptions,
  ForwardResult,
  InitScheme,
  LayerWeights,
  ModelOptions,
  ParamSpec,
  WeightDType,
  Weights,
} from "./model.ts";
export { generate, nextToken, samplingProbs } from "./generate.ts";
export type { GenerateOptions, SamplingOptions } from "./generate.ts";
export { maxMicroBatch, memoryPlan } from "./memory_plan.ts";
export type { MemoryPlan, MemoryPlanOptions } from "./memory_plan.ts";
