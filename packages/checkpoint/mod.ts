/**
 * Checkpoint I/O, apart from the model it fills: safetensors files (read lazily, written atomically) and
 * Hugging Face checkpoint directories (`config.json` + `model.safetensors`, with the tokenizer beside).
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
export { configFromHf, configToHf, loadHfCheckpoint, saveHfCheckpoint, TOKENIZER_FILES } from "./hf.ts";
export type { HfDType, HfExtras, LoadedCheckpoint, LoadOptions, SaveOptions } from "./hf.ts";
