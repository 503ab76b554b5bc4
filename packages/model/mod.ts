/**
 * The Llama 2 model of tinyllama-ts: configurations, the backend interface and its implementations,
 * Hugging Face checkpoints in and out, and generation.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "@tinyllama-ts/model";
 * const cfg = await resolveConfig("micro-4l-4k");
 * ```
 * @module
 */
export type { AdamWParams, AttentionShape, Backend, DType, RopeShape, Tensor } from "./backend.ts";
export {
  headSize,
  type ModelConfig,
  ModelConfigSchema,
  parseConfig,
  PRESETS,
  resolveConfig,
} from "./config.ts";
export { ReferenceBackend } from "./reference_backend.ts";
export { KVCache, Model, paramSpecs } from "./model.ts";
export type { ForwardOptions, ForwardResult, InitScheme, LayerWeights, ParamSpec, Weights } from "./model.ts";
export { decode, encode, openSafetensors } from "./safetensors.ts";
export { writeSafetensors, writeSafetensorsCheckpoint } from "./safetensors.ts";
export type { CheckpointWriteOptions, FloatDType, SafetensorsReader, TensorInfo } from "./safetensors.ts";
export type { TensorToWrite, WriteOptions } from "./safetensors.ts";
export { configFromHf, configToHf, loadHfCheckpoint, saveHfCheckpoint, TOKENIZER_FILES } from "./hf.ts";
export type { HfDType, HfExtras, LoadedCheckpoint, SaveOptions } from "./hf.ts";
export { generate, nextToken, samplingProbs } from "./generate.ts";
export type { GenerateOptions, SamplingOptions } from "./generate.ts";
export { BACKEND_NAMES, createBackend } from "./create_backend.ts";
export { createWebGpuBackend, WebGpuBackend, type WebGpuBackendOptions } from "./webgpu_backend.ts";
