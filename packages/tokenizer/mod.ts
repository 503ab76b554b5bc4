/**
 * Llama 2's tokenizer in TypeScript: SentencePiece BPE loaded from `tokenizer.model` or Hugging Face
 * `tokenizer.json`, encoding exactly as SentencePiece does, and a BPE trainer that writes
 * `tokenizer.model` files SentencePiece loads.
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
export { type BpeTrainOptions, trainBpeTokenizer, type TrainedTokenizer } from "./train.ts";
