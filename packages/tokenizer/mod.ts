/**
 * Tokenizers in TypeScript: Llama 2's SentencePiece BPE loaded from `tokenizer.model` or Hugging Face
 * `tokenizer.json`, encoding exactly as SentencePiece does; byte-level BPE (GPT-2, Llama 3, Qwen 2,
 * SmolLM) from `tokenizer.json` or GGUF's `gpt2` fields ({@link byteLevelBpeFromVocab}), encoding
 * exactly as Hugging Face `tokenizers` does; and a BPE trainer that writes `tokenizer.model` files
 * SentencePiece loads.
 *
 * @example
 * ```ts
 * import { loadTokenizer, trainBpeTokenizer } from "@tinyllama-ts/tokenizer";
 * const tok = await loadTokenizer("tests/fixtures/tokenizer/tiny.model");
 * const ids = tok.encode("Once upon a time", { bos: true });
 * tok.decode(ids); // "Once upon a time"
 *
 * const trained = trainBpeTokenizer(["a small corpus", "of two lines"], { vocabSize: 300 });
 * const bytes = trained.toModelBytes(); // a tokenizer.model
 * ```
 * @module
 */
export { PieceKind, type Tokenizer } from "./tokenizer.ts";
export { loadTokenizer, parseTokenizerBytes } from "./load.ts";
export {
  decodeModelProto,
  encodeModelProto,
  type ModelProto,
  type NormalizerSpec,
  parseSentencePieceModel,
  type SentencePiece,
  tokenizerFromModelProto,
  type TrainerSpec,
} from "./sentencepiece_model.ts";
export { parseHfTokenizerJson } from "./hf_tokenizer_json.ts";
export {
  type AddedToken,
  BYTE_TO_CHAR,
  byteLevelBpeFromVocab,
  type ByteLevelBpeSpec,
  ByteLevelBpeTokenizer,
  byteLevelGgufFields,
  type ByteLevelVocab,
  GGUF_PRE_NAMES,
  GgufTokenType,
  toByteLevel,
} from "./byte_level_bpe.ts";
export {
  compileOnigurumaPattern,
  GPT2_PATTERN,
  LLAMA3_PATTERN,
  PreTokenizer,
  type PreTokenizerStep,
  QWEN2_PATTERN,
} from "./pre_tokenizer.ts";
export { type BpeTrainOptions, trainBpeTokenizer, type TrainedTokenizer } from "./train.ts";
