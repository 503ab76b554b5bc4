/**
 * The GGUF container of llama.cpp (version 3): typed metadata, tensor descriptors and data, read lazily
 * and written atomically; the ggml tensor types with their exact dequantization (and Q8_0 quantization);
 * and the tokenizer fields (`tokenizer.ggml.*`). It knows no model: `@tinyllama-ts/checkpoint` maps a
 * Llama onto it, `@tinyllama-ts/tokenizer` reads the vocabulary from it.
 *
 * @example
 * ```ts
 * import { openGguf, writeGguf } from "@tinyllama-ts/gguf";
 * const path = `${await Deno.makeTempDir()}/m.gguf`;
 * await writeGguf(path, [["general.architecture", { type: "string", value: "llama" }]], []);
 * const file = await openGguf(path);
 * console.log(file.string("general.architecture")); // llama
 * file.close();
 * ```
 * @module
 */
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
