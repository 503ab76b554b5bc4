/**
 * Byte-level BPE (GPT-2, Llama 3, Qwen 2, SmolLM): every byte of the text is a symbol of its own,
 * spelled by GPT-2's byte-to-character table (`Ġ` for a space), and merges apply by rank inside the
 * words a {@link PreTokenizer} cut. Added tokens (`<|begin_of_text|>`, `<think>`) are found in the text
 * first and keep their ids. Encoding equals Hugging Face `tokenizers` on the same `tokenizer.json`.
 *
 * @module
 */

import { UserError } from "@tinyllama-ts/cli";
import { KeyHeap } from "./_key_heap.ts";
import { PairTable } from "./_pair_table.ts";
import { decodeUtf8Lenient } from "./_utf8.ts";
import { LLAMA3_PATTERN, PreTokenizer, type PreTokenizerStep, QWEN2_PATTERN } from "./pre_tokenizer.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** A token matched in the text before pre-tokenization, as in `tokenizer.json`'s `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  /** Special tokens vanish from `decode`'s text. */
  special: boolean;
  /** Matched in the normalized text (true) or in the raw text (false). */
  normalized: boolean;
}

/** Everything a byte-level BPE model is, whichever file it came from. */
export interface ByteLevelBpeSpec {
  /** Token strings by id, in byte-level spelling; an added token's entry is its content. */
  tokens: string[];
  /** Merges in rank order as [left token, right token]. */
  merges: [string, string][];
  added: AddedToken[];
  /** Unicode normalization applied to the text outside raw added tokens. */
  normalizer: "none" | "nfc";
  preTokenizer: PreTokenizerStep[];
  /** A word that is a token is emitted whole, before any merge (Llama 3). */
  ignoreMerges: boolean;
  bosId: number;
  eosId: number;
}

const NO_RANK = 0x7fffffff;
const TWO_POW_32 = 4294967296;
// Words up to this many bytes merge by linear scans; longer ones use a heap.
const MAX_SCAN_SYMBOLS = 48;
// Words cached before the cache starts over.
const CACHE_LIMIT = 1 << 17;

/**
 * GPT-2's table from byte to character: printable Latin-1 bytes stand for themselves, the other 68
 * bytes for U+0100 onwards in byte order (so a space is `Ġ`, U+0120).
 *
 * @example
 * ```ts
 * import { BYTE_TO_CHAR } from "@tinyllama-ts/tokenizer";
 * BYTE_TO_CHAR[0x20]; // "Ġ"
 * BYTE_TO_CHAR[0x41]; // "A"
 * ```
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array(256);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
})();

// The inverse table, by UTF-16 code (every byte-level character is below U+0144); -1 elsewhere.
const CHAR_TO_BYTE = (() => {
  const t = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => t[c.charCodeAt(0)] = b);
  return t;
})();
const utf8 = new TextEncoder();

/**
 * A {@link Tokenizer} over a {@link ByteLevelBpeSpec}. `encode` matches added tokens (special ones
 * too) in the text, as Hugging Face does by default; `decode` drops special tokens.
 *
 * @example
 * ```ts
 * import { BYTE_TO_CHAR, ByteLevelBpeTokenizer } from "@tinyllama-ts/tokenizer";
 * const tokens = [...BYTE_TO_CHAR, "Ġa", "<|end|>"]; // byte b has id b
 * const tok = new ByteLevelBpeTokenizer({
 *   tokens, merges: [["Ġ", "a"]], // makes "Ġa" (id 256)
 *   added: [{ id: 257, content: "<|end|>", special: true, normalized: false }], normalizer: "none",
 *   preTokenizer: [{ type: "byte_level", addPrefixSpace: false, useRegex: true }],
 *   ignoreMerges: false, bosId: -1, eosId: 257,
 * });
 * tok.encode("a a<|end|>"); // [97, 256, 257]
 * tok.decode([97, 256, 257]); // "a a"
 * ```
 */
export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** Byte-level models have no unknown token: -1. */
  readonly unkId = -1;
  readonly spec: ByteLevelBpeSpec;

  readonly #pairs: PairTable;
  readonly #byteIds = new Int32Array(256);
  readonly #vocab: Map<string, number> | null;
  readonly #pre: PreTokenizer;
  readonly #rawAdded: RegExp | null;
  readonly #normAdded: RegExp | null;
  readonly #addedIds = new Map<string, number>();
  readonly #special: Uint8Array;
  readonly #cache = new Map<string, number[]>();
  readonly #addedIdSet: Set<number>;
  // Decoding: the bytes of each token (added tokens: their UTF-8), filled as tokens are decoded.
  readonly #bytes: (Uint8Array | undefined)[];

  #sym = new Int32Array(256);
  #rank = new Int32Array(256);
  #merged = new Int32Array(256);
  #next = new Int32Array(256);
  #prev = new Int32Array(256);
  readonly #heap = new KeyHeap();

  constructor(spec: ByteLevelBpeSpec) {
    this.spec = spec;
    const n = spec.tokens.length;
    if (n >= 1 << 30) throw new Error(`too many tokens (${n})`);
    if (spec.merges.length >= 1 << 21) throw new Error(`too many merges (${spec.merges.length})`);
    this.vocabSize = n;
    this.bosId = spec.bosId;
    this.eosId = spec.eosId;
    this.#special = new Uint8Array(n);
    const addedIds = new Set<number>();
    for (const a of spec.added) {
      this.#addedIds.set(a.content, a.id);
      addedIds.add(a.id);
      if (a.special) this.#special[a.id] = 1;
    }
    const index = new Map<string, number>();
    for (let id = 0; id < n; id++) {
      if (!addedIds.has(id) && !index.has(spec.tokens[id])) index.set(spec.tokens[id], id);
    }
    for (let b = 0; b < 256; b++) {
      const id = index.get(BYTE_TO_CHAR[b]);
      if (id === undefined) throw new Error(`no token for byte 0x${b.toString(16)} (${BYTE_TO_CHAR[b]})`);
      this.#byteIds[b] = id;
    }
    this.#pairs = new PairTable(spec.merges.length);
    for (let r = 0; r < spec.merges.length; r++) {
      const [left, right] = spec.merges[r];
      const a = index.get(left);
      const b = index.get(right);
      if (a === undefined || b === undefined) {
        throw new Error(`merge ${r} (${left} ${right}) is not two tokens`);
      }
      const m = index.get(left + right);
      if (m === undefined) throw new Error(`merge ${r} (${left} ${right}) makes no token`);
      // A later duplicate of a pair replaces the earlier one, as Hugging Face's hash map does.
      this.#pairs.set(a, b, m, r);
    }
    this.#vocab = spec.ignoreMerges ? index : null;
    this.#pre = new PreTokenizer(spec.preTokenizer);
    this.#rawAdded = alternation(spec.added.filter((a) => !a.normalized).map((a) => a.content));
    this.#normAdded = alternation(spec.added.filter((a) => a.normalized).map((a) => a.content));
    this.#addedIdSet = addedIds;
    this.#bytes = new Array(n).fill(undefined);
  }

  /** Token ids of `text`; `bos`/`eos` add those tokens before and after (when the model has them). */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.bos && this.bosId >= 0) out.push(this.bosId);
    this.#splitAdded(text, this.#rawAdded, out, (raw) => {
      const norm = this.spec.normalizer === "nfc" ? raw.normalize("NFC") : raw;
      this.#splitAdded(
        norm,
        this.#normAdded,
        out,
        (t) => this.#pre.split(t, (w) => this.#encodeWord(w, out)),
      );
    });
    if (opts.eos && this.eosId >= 0) out.push(this.eosId);
    return out;
  }

  /** The text of `ids`: the bytes of the tokens as UTF-8, special tokens left out. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
      }
      if (this.#special[id]) continue;
      for (const b of this.#bytes[id] ?? this.#tokenBytes(id)) bytes.push(b);
    }
    return decodeUtf8Lenient(bytes, bytes.length);
  }

  // The bytes a token stands for: its characters through CHAR_TO_BYTE, or an added token's UTF-8.
  #tokenBytes(id: number): Uint8Array {
    const t = this.spec.tokens[id];
    let out = new Uint8Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
      if (b < 0 || this.#addedIdSet.has(id)) {
        out = utf8.encode(t);
        break;
      }
      out[i] = b;
    }
    return this.#bytes[id] = out;
  }

  /** The token string of `id` as stored (`Ġthe`, `<|end_of_text|>`). */
  idToPiece(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
    return this.spec.tokens[id];
  }

  // Cuts text at the matches of `added` (leftmost, longest first): matches become their ids, the text
  // between them goes to `rest`.
  #splitAdded(text: string, added: RegExp | null, out: number[], rest: (t: string) => void): void {
    if (added === null) {
      rest(text);
      return;
    }
    added.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = added.exec(text)) !== null) {
      if (m.index > last) rest(text.slice(last, m.index));
      out.push(this.#addedIds.get(m[0])!);
      last = m.index + m[0].length;
    }
    if (last < text.length) rest(last === 0 ? text : text.slice(last));
  }

  #encodeWord(word: string, out: number[]): void {
    const cached = this.#cache.get(word);
    if (cached !== undefined) {
      for (let i = 0; i < cached.length; i++) out.push(cached[i]);
      return;
    }
    const ids: number[] = [];
    const whole = this.#vocab?.get(toByteLevel(word));
    if (whole !== undefined) ids.push(whole);
    else this.#bpe(word, ids);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(word, ids);
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  // BPE over the UTF-8 bytes of one word.
  #bpe(word: string, out: number[]): void {
    let n = 0;
    this.#ensure(word.length * 3 + 1);
    const sym = this.#sym;
    const byteIds = this.#byteIds;
    for (let i = 0; i < word.length; i++) {
      let c = word.charCodeAt(i);
      if (c < 0x80) {
        sym[n++] = byteIds[c];
        continue;
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < word.length) {
        const lo = word.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate reads as U+FFFD, as in UTF-8 output
      if (c < 0x800) {
        sym[n++] = byteIds[0xc0 | (c >> 6)];
        sym[n++] = byteIds[0x80 | (c & 0x3f)];
      } else if (c < 0x10000) {
        sym[n++] = byteIds[0xe0 | (c >> 12)];
        sym[n++] = byteIds[0x80 | ((c >> 6) & 0x3f)];
        sym[n++] = byteIds[0x80 | (c & 0x3f)];
      } else {
        sym[n++] = byteIds[0xf0 | (c >> 18)];
        sym[n++] = byteIds[0x80 | ((c >> 12) & 0x3f)];
        sym[n++] = byteIds[0x80 | ((c >> 6) & 0x3f)];
        sym[n++] = byteIds[0x80 | (c & 0x3f)];
      }
    }
    if (n <= MAX_SCAN_SYMBOLS) {
      const m = this.#mergeByScan(n);
      for (let i = 0; i < m; i++) out.push(sym[i]);
    } else {
      this.#mergeByHeap(n);
      for (let i = 0; i !== -1; i = this.#next[i]) out.push(this.#sym[i]);
    }
  }

  // Repeatedly merges the lowest-ranked adjacent pair, leftmost first; returns the symbol count.
  #mergeByScan(n: number): number {
    const sym = this.#sym, rank = this.#rank, merged = this.#merged, pairs = this.#pairs;
    const look = (i: number) => {
      const slot = pairs.find(sym[i], sym[i + 1]);
      if (slot < 0) rank[i] = NO_RANK;
      else {
        rank[i] = pairs.rank(slot);
        merged[i] = pairs.merged(slot);
      }
    };
    for (let i = 0; i + 1 < n; i++) look(i);
    for (;;) {
      let best = NO_RANK;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (rank[i] < best) {
          best = rank[i];
          at = i;
        }
      }
      if (at < 0) return n;
      sym[at] = merged[at];
      for (let j = at + 1; j + 1 < n; j++) {
        sym[j] = sym[j + 1];
        rank[j] = rank[j + 1];
        merged[j] = merged[j + 1];
      }
      n--;
      if (at > 0) look(at - 1);
      if (at + 1 < n) look(at);
      else rank[at] = NO_RANK;
    }
  }

  // The same merges driven by a heap of (rank, position) for long words; the result is the list from
  // 0 along #next.
  #mergeByHeap(n: number): void {
    const sym = this.#sym, prev = this.#prev, next = this.#next, pairs = this.#pairs, heap = this.#heap;
    heap.clear();
    const push = (pos: number) => {
      const right = next[pos];
      if (right < 0) return;
      const slot = pairs.find(sym[pos], sym[right]);
      if (slot >= 0) heap.push(pairs.rank(slot) * TWO_POW_32 + pos);
    };
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const pos = key % TWO_POW_32;
      const rank = (key - pos) / TWO_POW_32;
      if (sym[pos] < 0) continue;
      const right = next[pos];
      if (right < 0) continue;
      const slot = pairs.find(sym[pos], sym[right]);
      if (slot < 0 || pairs.rank(slot) !== rank) continue;
      sym[pos] = pairs.merged(slot);
      sym[right] = -1;
      const after = next[right];
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      if (prev[pos] >= 0) push(prev[pos]);
      push(pos);
    }
  }

  #ensure(n: number): void {
    if (this.#sym.length >= n) return;
    let size = this.#sym.length;
    while (size < n) size *= 2;
    this.#sym = new Int32Array(size);
    this.#rank = new Int32Array(size);
    this.#merged = new Int32Array(size);
    this.#next = new Int32Array(size);
    this.#prev = new Int32Array(size);
  }
}

/**
 * The byte-level spelling of `text`: its UTF-8 bytes through {@link BYTE_TO_CHAR}.
 *
 * @example
 * ```ts
 * import { toByteLevel } from "@tinyllama-ts/tokenizer";
 * toByteLevel(" é"); // "ĠÃ©"
 * ```
 */
export function toByteLevel(text: string): string {
  let s = "";
  for (const b of utf8.encode(text)) s += BYTE_TO_CHAR[b];
  return s;
}

// One regex matching any of `words`, longest first at each position; null for none.
function alternation(words: string[]): RegExp | null {
  if (words.length === 0) return null;
  const sorted = [...new Set(words)].filter((w) => w.length > 0).sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return null;
  return new RegExp(sorted.map((w) => w.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")).join("|"), "gu");
}

/** The pre-tokenizer values of GGUF's `tokenizer.ggml.pre` this package knows, as Hugging Face steps. */
const GGUF_PRE: Record<
  string,
  { steps: PreTokenizerStep[]; normalizer: "none" | "nfc"; ignoreMerges: boolean }
> = (() => {
  const byteLevel = (useRegex: boolean): PreTokenizerStep => ({
    type: "byte_level",
    addPrefixSpace: false,
    useRegex,
  });
  const gpt2 = { steps: [byteLevel(true)], normalizer: "none" as const, ignoreMerges: false };
  const digitsThenGpt2 = {
    steps: [{ type: "digits" as const, individual: true }, byteLevel(true)],
    normalizer: "none" as const,
    ignoreMerges: false,
  };
  return {
    "gpt-2": gpt2,
    "llama-bpe": {
      steps: [{ type: "split", pattern: LLAMA3_PATTERN }, byteLevel(false)],
      normalizer: "none",
      ignoreMerges: true,
    },
    "qwen2": {
      steps: [{ type: "split", pattern: QWEN2_PATTERN }, byteLevel(false)],
      normalizer: "nfc",
      ignoreMerges: false,
    },
    "smollm": digitsThenGpt2,
    "starcoder": digitsThenGpt2,
  };
})();

/** The `tokenizer.ggml.pre` values {@link byteLevelBpeFromVocab} accepts. */
export const GGUF_PRE_NAMES: readonly string[] = Object.keys(GGUF_PRE);

/** GGUF's token types (`tokenizer.ggml.token_type`), as llama.cpp numbers them. */
export const GgufTokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** What GGUF's `gpt2` tokenizer stores, as {@link byteLevelBpeFromVocab} takes it. */
export interface ByteLevelVocab {
  /** `tokenizer.ggml.tokens`: token strings by id, byte-level spelling. */
  tokens: string[];
  /** `tokenizer.ggml.merges`: "left right" strings in rank order. */
  merges: string[];
  /** `tokenizer.ggml.token_type` ({@link GgufTokenType}); CONTROL and USER_DEFINED tokens are added tokens. */
  tokenTypes?: ArrayLike<number>;
  /** `tokenizer.ggml.pre`: one of {@link GGUF_PRE_NAMES}. */
  pre: string;
  /** `tokenizer.ggml.bos_token_id`, -1 or absent for none. */
  bosId?: number;
  /** `tokenizer.ggml.eos_token_id`, -1 or absent for none. */
  eosId?: number;
}

/**
 * Builds a byte-level BPE tokenizer from GGUF's `gpt2` tokenizer fields. `pre` picks the
 * pre-tokenizer, normalizer and `ignore_merges` of the Hugging Face `tokenizer.json` of the models
 * that carry that value: `gpt-2` (GPT-2's regex), `llama-bpe` (Llama 3's Split, ignore_merges),
 * `qwen2` (NFC, Qwen 2's Split), `smollm` and `starcoder` (individual digits, then GPT-2's regex).
 * CONTROL tokens become special added tokens, USER_DEFINED ones plain added tokens; both are matched
 * in the text. Throws a {@link UserError} for an unknown `pre`, a malformed merge or a missing byte.
 *
 * @example
 * ```ts
 * import { BYTE_TO_CHAR, byteLevelBpeFromVocab } from "@tinyllama-ts/tokenizer";
 * const tok = byteLevelBpeFromVocab({
 *   tokens: [...BYTE_TO_CHAR, "Ġ1", "<|endoftext|>"],
 *   merges: ["Ġ 1"],
 *   tokenTypes: [...new Array(257).fill(1), 3],
 *   pre: "smollm",
 *   eosId: 257,
 * });
 * tok.encode(" 12<|endoftext|>"); // [32, 49, 50, 257]: digits stand alone, so "Ġ1" never forms
 * ```
 */
export function byteLevelBpeFromVocab(vocab: ByteLevelVocab, name = "gguf"): ByteLevelBpeTokenizer {
  const fail = (msg: string): never => {
    throw new UserError(`${name}: ${msg}`);
  };
  const pre = GGUF_PRE[vocab.pre];
  if (pre === undefined) {
    fail(
      `tokenizer.ggml.pre ${JSON.stringify(vocab.pre)} is not supported (known: ${
        GGUF_PRE_NAMES.join(", ")
      })`,
    );
  }
  const types = vocab.tokenTypes;
  if (types !== undefined && types.length !== vocab.tokens.length) {
    fail(`${types.length} token types for ${vocab.tokens.length} tokens`);
  }
  const added: AddedToken[] = [];
  if (types !== undefined) {
    for (let id = 0; id < vocab.tokens.length; id++) {
      if (types[id] === GgufTokenType.CONTROL || types[id] === GgufTokenType.USER_DEFINED) {
        added.push({
          id,
          content: vocab.tokens[id],
          special: types[id] === GgufTokenType.CONTROL,
          normalized: false,
        });
      }
    }
  }
  const merges = vocab.merges.map((m, r): [string, string] => {
    const space = m.indexOf(" ");
    if (space <= 0 || space === m.length - 1) {
      return fail(`merge ${r} ${JSON.stringify(m)} is not two tokens`);
    }
    return [m.slice(0, space), m.slice(space + 1)];
  });
  return buildByteLevel({
    tokens: vocab.tokens,
    merges,
    added,
    normalizer: pre!.normalizer,
    preTokenizer: pre!.steps,
    ignoreMerges: pre!.ignoreMerges,
    bosId: vocab.bosId ?? -1,
    eosId: vocab.eosId ?? -1,
  }, fail);
}

/**
 * The GGUF `gpt2` fields of a byte-level tokenizer (the inverse of {@link byteLevelBpeFromVocab}): tokens,
 * merges as "left right", token types (special added tokens CONTROL, other added tokens USER_DEFINED,
 * the rest NORMAL), the `tokenizer.ggml.pre` value whose pre-tokenizer, normalizer and
 * `ignore_merges` equal the tokenizer's, and the start and end ids. Throws a {@link UserError} when no
 * `pre` value describes the tokenizer or an added token is matched after normalization (GGUF cannot
 * say so).
 *
 * @example
 * ```ts
 * import { BYTE_TO_CHAR, byteLevelBpeFromVocab, byteLevelGgufFields } from "@tinyllama-ts/tokenizer";
 * const tok = byteLevelBpeFromVocab({ tokens: [...BYTE_TO_CHAR, "Ġa"], merges: ["Ġ a"], pre: "llama-bpe" });
 * byteLevelGgufFields(tok).pre; // "llama-bpe"
 * ```
 */
export function byteLevelGgufFields(tok: ByteLevelBpeTokenizer): Required<ByteLevelVocab> {
  const spec = tok.spec;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const pre = GGUF_PRE_NAMES.find((name) => {
    const p = GGUF_PRE[name];
    return same(p.steps, spec.preTokenizer) && p.normalizer === spec.normalizer &&
      p.ignoreMerges === spec.ignoreMerges;
  });
  if (pre === undefined) {
    throw new UserError(
      `no tokenizer.ggml.pre value has this tokenizer's pre-tokenizer (${
        JSON.stringify(spec.preTokenizer)
      }), ` +
        `normalizer ${spec.normalizer} and ignore_merges ${spec.ignoreMerges}`,
    );
  }
  const tokenTypes = new Array<number>(spec.tokens.length).fill(GgufTokenType.NORMAL);
  for (const a of spec.added) {
    if (a.normalized && spec.normalizer !== "none") {
      throw new UserError(
        `added token ${JSON.stringify(a.content)} is matched after normalization; GGUF cannot store that`,
      );
    }
    tokenTypes[a.id] = a.special ? GgufTokenType.CONTROL : GgufTokenType.USER_DEFINED;
  }
  return {
    tokens: [...spec.tokens],
    merges: spec.merges.map(([a, b]) => `${a} ${b}`),
    tokenTypes,
    pre,
    bosId: spec.bosId,
    eosId: spec.eosId,
  };
}

/** Builds the tokenizer, turning the engine's complaints into {@link UserError}s through `fail`. */
export function buildByteLevel(spec: ByteLevelBpeSpec, fail: (msg: string) => never): ByteLevelBpeTokenizer {
  const n = spec.tokens.length;
  for (const id of [spec.bosId, spec.eosId]) {
    if (!Number.isInteger(id) || id < -1 || id >= n) fail(`special token id ${id} is outside the vocabulary`);
  }
  try {
    return new ByteLevelBpeTokenizer(spec);
  } catch (e) {
    return fail((e as Error).message);
  }
}
