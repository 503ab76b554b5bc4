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
  configFromHf,
  configToHf,
  loadHfCheckpoint,
  openHfCheckpoint,
  saveHfCheckpoint,
  TOKENIZER_FILES,
} from "./hf.ts";
export type { CheckpointReader, HfDType, HfExtras, LoadedCheckpoint, SaveOptions } from "./hf.ts";
export { configFromGguf, openGgufCheckpoint, readGgufConfig, saveGguf } from "./gguf.ts";
export type { GgufExportType, GgufSaveOptions } from "./gguf.ts";
export { openGguf, writeGguf } from "./gguf_file.ts";
export type {
  GgufFile,
  GgufScalar,
  GgufScalarType,
  GgufTensorInfo,
  GgufTensorToWrite,
  GgufValue,
} from "./gguf_file.ts";
export { dequantize, GGML_TYPES, GgmlType, ggmlTypeName, quantizeQ8_0, tensorBytes } from "./gguf_quants.ts";
export { GgufTokenType, readGgufVocab, vocabMetadata } from "./gguf_vocab.ts";
export type { GgufVocab } from "./gguf_vocab.ts";
