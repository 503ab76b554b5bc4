/**
 * The tokenizer a GGUF file embeds (`tokenizer.ggml.*`), as plain data: what the export writes and
 * what a tokenizer loader reads. This module only moves the fields between a {@link GgufVocab} and
 * GGUF metadata; turning them into an encoder is the tokenizer package's job.
 *
 * Two models are defined by llama.cpp and carried here: `llama` (SentencePiece: tokens, scores, token
 * types) and `gpt2` (byte-level BPE: tokens, merges, token types and `tokenizer.ggml.pre`, the name
 * llama.cpp maps to a pre-tokenizer regex).
 *
 * @example
 * ```ts
 * import { vocabMetadata } from "./gguf_vocab.ts";
 * const entries = vocabMetadata({
 *   model: "llama", tokens: ["<unk>", "<s>", "</s>", "▁a"], scores: [0, 0, 0, -1], types: [2, 3, 3, 1],
 *   bosId: 1, eosId: 2, unkId: 0,
 * });
 * console.log(entries[0]); // ["tokenizer.ggml.model", { type: "string", value: "llama" }]
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { GgufFile, GgufValue } from "./gguf_file.ts";

/** Token types, numbered as llama.cpp (and SentencePiece) number them. */
export const GgufTokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** A GGUF-embedded tokenizer's fields. */
export interface GgufVocab {
  /** `tokenizer.ggml.model`: `llama` (SentencePiece) or `gpt2` (byte-level BPE). */
  model: "llama" | "gpt2";
  /** Token strings by id (SentencePiece spells spaces `▁`; byte-level BPE uses GPT-2's byte alphabet). */
  tokens: string[];
  /** Token scores (`llama`: required, they rank the merges). */
  scores?: number[];
  /** {@link GgufTokenType} of each token. */
  types?: number[];
  /** `gpt2`: merges as `"left right"`, in rank order. */
  merges?: string[];
  /** `gpt2`: the pre-tokenizer's name (`gpt-2`, `llama-bpe`, `qwen2`, `smollm`, ...). */
  pre?: string;
  bosId?: number;
  eosId?: number;
  unkId?: number;
  padId?: number;
  /** Whether encoding adds BOS / EOS (llama.cpp's defaults for `llama`: true / false). */
  addBos?: boolean;
  addEos?: boolean;
  /** `llama`: whether encoding prepends a space (default true). */
  addSpacePrefix?: boolean;
}

/**
 * The `tokenizer.ggml.*` metadata entries of `vocab`, in the order llama.cpp's converter writes them.
 *
 * @example
 * ```ts
 * import { vocabMetadata } from "./gguf_vocab.ts";
 * vocabMetadata({ model: "gpt2", tokens: ["a", "b", "ab"], merges: ["a b"], pre: "gpt-2" }).length; // 4
 * ```
 */
export function vocabMetadata(vocab: GgufVocab): [string, GgufValue][] {
  const n = vocab.tokens.length;
  const check = (what: string, arr: unknown[] | undefined) => {
    if (arr !== undefined && arr.length !== n) {
      throw new UserError(`tokenizer: ${arr.length} ${what} for ${n} tokens`);
    }
  };
  check("scores", vocab.scores);
  check("token types", vocab.types);
  if (vocab.model === "llama" && vocab.scores === undefined) {
    throw new UserError("tokenizer: a llama (SentencePiece) vocabulary needs scores");
  }
  if (vocab.model === "gpt2" && vocab.merges === undefined) {
    throw new UserError("tokenizer: a gpt2 (byte-level BPE) vocabulary needs merges");
  }
  const out: [string, GgufValue][] = [
    ["tokenizer.ggml.model", { type: "string", value: vocab.model }],
    ["tokenizer.ggml.pre", { type: "string", value: vocab.pre ?? "default" }],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: vocab.tokens }],
  ];
  if (vocab.scores) {
    out.push(["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: vocab.scores }]);
  }
  if (vocab.types) {
    out.push(["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: vocab.types }]);
  }
  if (vocab.merges) {
    out.push(["tokenizer.ggml.merges", { type: "array", itemType: "string", value: vocab.merges }]);
  }
  const id = (key: string, v: number | undefined) => {
    if (v === undefined || v < 0) return;
    if (v >= n) throw new UserError(`tokenizer: ${key} ${v} is outside the ${n} tokens`);
    out.push([`tokenizer.ggml.${key}`, { type: "uint32", value: v }]);
  };
  id("bos_token_id", vocab.bosId);
  id("eos_token_id", vocab.eosId);
  id("unknown_token_id", vocab.unkId);
  id("padding_token_id", vocab.padId);
  if (vocab.addBos !== undefined) {
    out.push(["tokenizer.ggml.add_bos_token", { type: "bool", value: vocab.addBos }]);
  }
  if (vocab.addEos !== undefined) {
    out.push(["tokenizer.ggml.add_eos_token", { type: "bool", value: vocab.addEos }]);
  }
  if (vocab.addSpacePrefix !== undefined) {
    out.push(["tokenizer.ggml.add_space_prefix", { type: "bool", value: vocab.addSpacePrefix }]);
  }
  return out;
}

/**
 * The tokenizer embedded in an open GGUF file, or null when it has no `tokenizer.ggml.tokens`. A model
 * other than `llama` or `gpt2`, or arrays of the wrong length or type, are {@link UserError}s.
 *
 * @example
 * ```ts
 * import { openGguf } from "./gguf_file.ts";
 * import { readGgufVocab } from "./gguf_vocab.ts";
 * const file = await openGguf("tests/fixtures/gguf/gqa_a_q8_0.gguf");
 * console.log(readGgufVocab(file)?.model); // "llama"
 * file.close();
 * ```
 */
export function readGgufVocab(file: GgufFile): GgufVocab | null {
  const tokens = file.array("tokenizer.ggml.tokens");
  if (tokens === undefined) return null;
  const fail = (msg: string): never => {
    throw new UserError(`${file.path}: ${msg}`);
  };
  const model = file.string("tokenizer.ggml.model");
  if (model !== "llama" && model !== "gpt2") {
    fail(
      `tokenizer model ${
        JSON.stringify(model ?? null)
      } is not supported (llama = SentencePiece, gpt2 = byte-level BPE)`,
    );
  }
  const n = tokens.length;
  const typed = <T>(key: string, what: string, ok: (v: unknown) => v is T): T[] | undefined => {
    const arr = file.array(key);
    if (arr === undefined) return undefined;
    if (arr.length !== n && key !== "tokenizer.ggml.merges") {
      fail(`${key} has ${arr.length} entries for ${n} tokens`);
    }
    for (const v of arr) if (!ok(v)) fail(`${key} must hold ${what}`);
    return arr as T[];
  };
  const isString = (v: unknown): v is string => typeof v === "string";
  const isNumber = (v: unknown): v is number => typeof v === "number";
  const vocab: GgufVocab = {
    model: model as "llama" | "gpt2",
    tokens: typed("tokenizer.ggml.tokens", "strings", isString)!,
    scores: typed("tokenizer.ggml.scores", "numbers", isNumber),
    types: typed("tokenizer.ggml.token_type", "integers", isNumber),
    merges: typed("tokenizer.ggml.merges", "strings", isString),
    pre: file.string("tokenizer.ggml.pre"),
  };
  const id = (key: string): number | undefined => {
    const v = file.number(`tokenizer.ggml.${key}`);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      fail(`tokenizer.ggml.${key} ${v} is outside the ${n} tokens`);
    }
    return v;
  };
  vocab.bosId = id("bos_token_id");
  vocab.eosId = id("eos_token_id");
  vocab.unkId = id("unknown_token_id");
  vocab.padId = id("padding_token_id");
  vocab.addBos = file.bool("tokenizer.ggml.add_bos_token");
  vocab.addEos = file.bool("tokenizer.ggml.add_eos_token");
  vocab.addSpacePrefix = file.bool("tokenizer.ggml.add_space_prefix");
  if (vocab.model === "llama" && vocab.scores === undefined) {
    fail("a llama (SentencePiece) tokenizer without tokenizer.ggml.scores cannot encode as llama.cpp does");
  }
  if (vocab.model === "gpt2" && vocab.merges === undefined) {
    fail("a gpt2 tokenizer without tokenizer.ggml.merges");
  }
  return vocab;
}
