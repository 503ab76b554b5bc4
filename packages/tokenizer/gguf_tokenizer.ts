/**
 * The tokenizer a GGUF file embeds, as llama.cpp runs it. The fields come from `readGgufVocab` of
 * `@tinyllama-ts/checkpoint` (plain data); this module turns a `llama` (SentencePiece) vocabulary into
 * the package's SentencePiece BPE tokenizer, with llama.cpp's semantics: merges ranked by score, byte
 * fallback when all 256 `<0xNN>` tokens exist, a space prefix unless `add_space_prefix` is false, and
 * whitespace runs kept (llama.cpp's SentencePiece path never collapses them).
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@tinyllama-ts/tokenizer";
 * const tok = await loadTokenizer("tests/fixtures/gguf/gqa_a_q8_0.gguf");
 * tok.encode("the tiny llama", { bos: true });
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { openGguf } from "@tinyllama-ts/gguf";
import { type GgufVocab, readGgufVocab } from "@tinyllama-ts/gguf";
import { byteLevelBpeFromVocab } from "./byte_level_bpe.ts";
import { tokenizerFromModelProto } from "./sentencepiece_model.ts";
import { BYTE_PIECE, PieceKind, type Tokenizer } from "./tokenizer.ts";

/**
 * Reads the tokenizer embedded in the GGUF file at `path`; a file without one, or a tokenizer model
 * this package cannot run, is a {@link UserError}.
 *
 * @example
 * ```ts
 * import { loadGgufTokenizer } from "./gguf_tokenizer.ts";
 * const tok = await loadGgufTokenizer("tests/fixtures/gguf/gqa_a_q8_0.gguf");
 * console.log(tok.vocabSize); // 96
 * ```
 */
export async function loadGgufTokenizer(path: string): Promise<Tokenizer> {
  const file = await openGguf(path);
  try {
    const vocab = readGgufVocab(file);
    if (vocab === null) {
      throw new UserError(`${path}: the GGUF file embeds no tokenizer (no tokenizer.ggml.tokens)`);
    }
    return tokenizerFromGgufVocab(vocab, path);
  } finally {
    file.close();
  }
}

/**
 * The tokenizer of a GGUF vocabulary (`name` labels errors).
 *
 * @example
 * ```ts
 * import { tokenizerFromGgufVocab } from "./gguf_tokenizer.ts";
 * const tok = tokenizerFromGgufVocab({
 *   model: "llama", tokens: ["<unk>", "<s>", "</s>", "▁", "a", "▁a"], scores: [0, 0, 0, -3, -2, -1],
 *   types: [2, 3, 3, 1, 1, 1], bosId: 1, eosId: 2, unkId: 0,
 * }, "vocab");
 * tok.encode("a"); // [5]
 * ```
 */
export function tokenizerFromGgufVocab(vocab: GgufVocab, name: string): Tokenizer {
  if (vocab.model === "gpt2") {
    if (!vocab.merges || vocab.pre === undefined) {
      throw new UserError(
        `${name}: a GGUF "gpt2" tokenizer needs tokenizer.ggml.merges and tokenizer.ggml.pre`,
      );
    }
    return byteLevelBpeFromVocab({
      tokens: vocab.tokens,
      merges: vocab.merges,
      tokenTypes: vocab.types,
      pre: vocab.pre,
      bosId: vocab.bosId,
      eosId: vocab.eosId,
    }, name);
  }
  const n = vocab.tokens.length;
  const pieces = vocab.tokens.map((piece, id) => {
    let type = (vocab.types?.[id] ?? PieceKind.NORMAL) as PieceKind;
    if (id === vocab.unkId) type = PieceKind.UNKNOWN;
    return { piece, score: vocab.scores![id], type };
  });
  let bytes = 0;
  for (const p of pieces) if (p.type === PieceKind.BYTE && BYTE_PIECE.test(p.piece)) bytes++;
  const piece = (id: number | undefined) => (id === undefined || id >= n ? undefined : vocab.tokens[id]);
  return tokenizerFromModelProto({
    pieces,
    trainerSpec: {
      modelType: 2, // BPE
      vocabSize: n,
      byteFallback: bytes === 256,
      bosPiece: piece(vocab.bosId),
      eosPiece: piece(vocab.eosId),
    },
    normalizerSpec: {
      addDummyPrefix: vocab.addSpacePrefix ?? true,
      removeExtraWhitespaces: false,
      escapeWhitespaces: true,
    },
  }, name);
}
