/**
 * Checkpoint I/O, apart from the model it fills: safetensors files (read lazily, written atomically) and
 * Hugging Face checkpoint directories (`config.json` + `model.safetensors`, with the tokenizer beside),
 * and GGUF files as llama.cpp writes and reads them (quantized ones too).
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { saveHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * model.init(1);
 * await saveHfCheckpoint(model, await Deno.makeTempDir());
 * ```
 * @module
 */
export {
  decode,
  encode,
  openSafetensors,
  writeSafetensors,
  writeSafetensorsCheckpoint,
} from "./safetensors.ts";
export type {
  CheckpointWriteOptions,
  FloatDType,
  SafetensorsReader,
  TensorInfo,
  TensorToWrite,
  WriteOptions,
} from "./safetensors.ts";
export {
  checkConfigFits,
  checkFiniteParams,
  configFromHf,
  configToHf,
  loadHfCheckpoint,
  MAX_PARAMETERS,
  openHfCheckpoint,
  parameterCount,
  saveHfCheckpoint,
  tensorCount,
  TOKENIZER_FILES,
} from "./hf.ts";
export type {
  CheckpointReader,
  HfDType,
  HfExtras,
  LoadedCheckpoint,
  LoadOptions,
  SaveOptions,
} from "./hf.ts";
export { configFromGguf, openGgufCheckpoint, readGgufConfig, saveGguf } from "./gguf.ts";
export type { GgufExportType, GgufSaveOptions } from "./gguf.ts";
