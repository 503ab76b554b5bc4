/**
 * The tokenizer interface every loader in this package returns, and the piece kinds it is built from.
 *
 * @module
 */

/**
 * A text ⇄ token-id mapping. SentencePiece models: `encode` adds the dummy-prefix `▁`, never
 * produces control pieces (`<s>`, `</s>`) or `<unk>` from their spelling, and falls back to `<0xNN>`
 * byte pieces for text outside the vocabulary; `decode` joins byte pieces back into UTF-8, drops
 * control pieces and strips the dummy prefix. Byte-level BPE models (`ByteLevelBpeTokenizer`):
 * `encode` is Hugging Face's (added and special tokens in the text are matched), `decode` drops
 * special tokens.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@tinyllama-ts/tokenizer";
 * const tok = await loadTokenizer("tests/fixtures/tokenizer/tiny.model");
 * const ids = tok.encode("Hello world", { bos: true });
 * tok.decode(ids); // "Hello world"
 * ```
 */
export interface Tokenizer {
  /** Number of pieces; ids run from 0 to `vocabSize - 1`. */
  readonly vocabSize: number;
  /** Id of `<s>`, or -1 when the model has none. */
  readonly bosId: number;
  /** Id of `</s>`, or -1 when the model has none. */
  readonly eosId: number;
  /** Id of the unknown piece (`<unk>`), or -1 when the model has none (byte-level BPE). */
  readonly unkId: number;
  /** Token ids of `text`; `bos`/`eos` add `<s>` before and `</s>` after. */
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
  /** The text of `ids`; throws a RangeError for an id outside the vocabulary. */
  decode(ids: ArrayLike<number>): string;
  /** The piece string of `id` as stored in the model (`▁the`, `<0x0A>`, `<s>`). */
  idToPiece(id: number): string;
}

/**
 * Kinds of pieces, numbered as in SentencePiece's `ModelProto.SentencePiece.Type`.
 *
 * @example
 * ```ts
 * import { PieceKind } from "@tinyllama-ts/tokenizer";
 * PieceKind.BYTE; // 6
 * ```
 */
export const PieceKind = {
  /** An ordinary piece that text segments into. */
  NORMAL: 1,
  /** The unknown piece, `<unk>`. */
  UNKNOWN: 2,
  /** A control piece such as `<s>`: never produced from text, invisible when decoded. */
  CONTROL: 3,
  /** A piece always kept whole when it appears in text. */
  USER_DEFINED: 4,
  /** A piece that exists but is split back into its parts when encoding. */
  UNUSED: 5,
  /** A `<0xNN>` byte piece used for byte fallback. */
  BYTE: 6,
} as const;

/** One of the {@link PieceKind} values. */
export type PieceKind = typeof PieceKind[keyof typeof PieceKind];

/** Matches a byte piece's spelling (`<0x0A>`), capturing the byte's two hex digits. */
export const BYTE_PIECE: RegExp = /^<0x([0-9A-F]{2})>$/;

/** The spelling of byte `b`'s piece: `<0x0A>` for 10. */
export function bytePiece(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}
