/**
 * Training a SentencePiece-compatible BPE tokenizer: Llama 2's layout (`<unk>`, `<s>`, `</s>`, 256
 * byte pieces, merged pieces best first, then single characters), identity normalization with the
 * dummy prefix, byte fallback on. The result encodes with this package and loads in SentencePiece.
 *
 * @module
 */

import { UserError } from "@tinyllama-ts/cli";
import {
  encodeModelProto,
  type ModelProto,
  type SentencePiece,
  tokenizerFromModelProto,
} from "./sentencepiece_model.ts";
import { bytePiece, PieceKind, type Tokenizer } from "./tokenizer.ts";

const SPACE_SYMBOL = "\u2581";
const RESERVED = 3 + 256; // <unk>, <s>, </s> and the byte pieces

/** Options of {@link trainBpeTokenizer}. */
export interface BpeTrainOptions {
  /** Total number of pieces, the 259 reserved ones included. */
  vocabSize: number;
  /** Share of character occurrences the kept characters must cover; the rest fall back to bytes. Default 0.9995. */
  characterCoverage?: number;
  /** Longest piece in characters. Default 16. */
  maxPieceLength?: number;
  /** Keep every digit a piece of its own, as Llama 2 does. Default true. */
  splitDigits?: boolean;
  /** Never merge across Unicode scripts (Han, Hiragana and Katakana count as one). Default true. */
  splitByUnicodeScript?: boolean;
  /**
   * Learn pieces made only of spaces (`▁▁▁▁`), as Llama 2 did, so indentation costs few tokens; a run
   * of spaces then stays with the word after it. Default true.
   */
  allowWhitespaceOnlyPieces?: boolean;
  /** Called now and then with the number of merges done and the number wanted. */
  onProgress?: (done: number, total: number) => void;
}

/** A tokenizer fresh from {@link trainBpeTokenizer}, with the model it encodes with. */
export interface TrainedTokenizer extends Tokenizer {
  /** The trained model as a `ModelProto`. */
  readonly model: ModelProto;
  /** The model serialized as a SentencePiece `tokenizer.model`. */
  toModelBytes(): Uint8Array<ArrayBuffer>;
}

/**
 * Learns a BPE vocabulary of `opts.vocabSize` pieces from `texts`. Each text is split into lines (a
 * line is one sentence, as SentencePiece's trainer reads its input) and each line into words at
 * spaces; merges never cross a word, a digit, a change of script or a character left to byte
 * fallback, and the most frequent pair merges first (ties: the pair of older symbols). Deterministic.
 * Throws a {@link UserError} when the vocabulary cannot be filled.
 *
 * @example
 * ```ts
 * import { trainBpeTokenizer } from "@tinyllama-ts/tokenizer";
 * const tok = trainBpeTokenizer(["the cat sat on the mat", "the dog sat"], { vocabSize: 280 });
 * tok.vocabSize; // 280
 * await Deno.writeFile("/tmp/tokenizer.model", tok.toModelBytes());
 * ```
 */
export function trainBpeTokenizer(texts: Iterable<string>, opts: BpeTrainOptions): TrainedTokenizer {
  const vocabSize = opts.vocabSize;
  const coverage = opts.characterCoverage ?? 0.9995;
  const maxLen = opts.maxPieceLength ?? 16;
  const splitDigits = opts.splitDigits ?? true;
  const splitByScript = opts.splitByUnicodeScript ?? true;
  const wsPieces = opts.allowWhitespaceOnlyPieces ?? true;
  if (!Number.isInteger(vocabSize) || vocabSize <= RESERVED || vocabSize >= 1 << 20) {
    throw new UserError(
      `vocab size ${vocabSize} must be an integer between ${RESERVED + 1} and ${(1 << 20) - 1}`,
    );
  }
  if (!(coverage > 0 && coverage <= 1)) {
    throw new UserError(`character coverage ${coverage} must be in (0, 1]`);
  }
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new UserError(`max piece length ${maxLen} must be >= 1`);

  const words = countWords(texts, wsPieces);
  const chars = keptCharacters(words, coverage);
  const mergesWanted = vocabSize - RESERVED - chars.length;
  if (mergesWanted < 0) {
    throw new UserError(
      `vocab size ${vocabSize} is too small: the corpus needs ${chars.length} characters besides the ` +
        `${RESERVED} reserved pieces (raise the vocab size or lower the character coverage)`,
    );
  }
  const classify = charClassifier(splitDigits, splitByScript);
  const merged = learnMerges(words, chars, classify, maxLen, mergesWanted, opts.onProgress);
  if (merged.length < mergesWanted) {
    throw new UserError(
      `vocab size ${vocabSize} is too large for this corpus: only ${
        RESERVED + chars.length + merged.length
      } ` +
        `pieces can be learned`,
    );
  }

  const pieces: SentencePiece[] = [
    { piece: "<unk>", score: 0, type: PieceKind.UNKNOWN },
    { piece: "<s>", score: 0, type: PieceKind.CONTROL },
    { piece: "</s>", score: 0, type: PieceKind.CONTROL },
  ];
  for (let b = 0; b < 256; b++) {
    pieces.push({ piece: bytePiece(b), score: 0, type: PieceKind.BYTE });
  }
  merged.forEach((piece, i) => pieces.push({ piece, score: -i, type: PieceKind.NORMAL }));
  chars.forEach((c, i) => pieces.push({ piece: c, score: -(merged.length + i), type: PieceKind.NORMAL }));

  const model: ModelProto = {
    pieces,
    trainerSpec: {
      modelType: 2,
      vocabSize,
      characterCoverage: coverage,
      maxSentencepieceLength: maxLen,
      splitByUnicodeScript: splitByScript,
      splitByWhitespace: true,
      splitByNumber: true,
      treatWhitespaceAsSuffix: false,
      splitDigits,
      allowWhitespaceOnlyPieces: wsPieces,
      byteFallback: true,
      unkId: 0,
      bosId: 1,
      eosId: 2,
      padId: -1,
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
  return new TrainedBpeTokenizer(model);
}

class TrainedBpeTokenizer implements TrainedTokenizer {
  readonly model: ModelProto;
  readonly #tok: Tokenizer;
  constructor(model: ModelProto) {
    this.model = model;
    this.#tok = tokenizerFromModelProto(model, "trained model");
  }
  get vocabSize(): number {
    return this.#tok.vocabSize;
  }
  get bosId(): number {
    return this.#tok.bosId;
  }
  get eosId(): number {
    return this.#tok.eosId;
  }
  get unkId(): number {
    return this.#tok.unkId;
  }
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[] {
    return this.#tok.encode(text, opts);
  }
  decode(ids: ArrayLike<number>): string {
    return this.#tok.decode(ids);
  }
  idToPiece(id: number): string {
    return this.#tok.idToPiece(id);
  }
  toModelBytes(): Uint8Array<ArrayBuffer> {
    return encodeModelProto(this.model);
  }
}

// Words with their counts: each line with the dummy prefix and spaces as ▁, split before every ▁
// (or, with whitespace-only pieces, before every run of ▁), as SentencePiece's SplitIntoWords does.
function countWords(texts: Iterable<string>, keepSpaceRuns: boolean): Map<string, number> {
  const words = new Map<string, number>();
  const boundary = keepSpaceRuns ? /(?<=[^\u2581])(?=\u2581)/ : /(?=\u2581)/;
  for (const text of texts) {
    for (const line of text.split(/\r\n|\r|\n/)) {
      if (line.length === 0) continue;
      for (const w of (SPACE_SYMBOL + line.replaceAll(" ", SPACE_SYMBOL)).split(boundary)) {
        words.set(w, (words.get(w) ?? 0) + 1);
      }
    }
  }
  return words;
}

// The most frequent characters covering `coverage` of all occurrences, most frequent first (ties:
// lower code point first).
function keptCharacters(words: Map<string, number>, coverage: number): string[] {
  const counts = new Map<string, number>();
  let total = 0;
  for (const [w, n] of words) {
    for (const c of w) counts.set(c, (counts.get(c) ?? 0) + n);
    total += n * [...w].length;
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!);
  const kept: string[] = [];
  let covered = 0;
  for (const [c, n] of sorted) {
    if (covered >= coverage * total && c !== SPACE_SYMBOL) continue;
    kept.push(c);
    covered += n;
  }
  return kept;
}

const ANY = 0; // joins whatever is around it: ▁ at a word's start, combining marks, joiners
const ALONE = 1; // never merges: digits when splitDigits
const COMMON = 2; // punctuation, symbols, spaces of other kinds
const NUMBER = 3;
const OTHER = 4; // letters of scripts not listed below
const SCRIPTS = [
  "Latin",
  "Greek",
  "Cyrillic",
  "Armenian",
  "Hebrew",
  "Arabic",
  "Syriac",
  "Thaana",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala",
  "Thai",
  "Lao",
  "Tibetan",
  "Myanmar",
  "Georgian",
  "Hangul",
  "Ethiopic",
  "Khmer",
  "Mongolian",
].map((name, i) => [new RegExp(`^\\p{Script=${name}}$`, "u"), OTHER + 1 + i] as const);
const CJ = OTHER + 1 + SCRIPTS.length;
const CJ_RE = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u30fc]$/u;

// A class per character; two characters of different classes (ANY aside) never share a piece.
function charClassifier(splitDigits: boolean, splitByScript: boolean): (c: string) => number {
  const cache = new Map<string, number>();
  return (c) => {
    let k = cache.get(c);
    if (k !== undefined) return k;
    if (c === SPACE_SYMBOL) k = ANY;
    else if (/^\p{Nd}$/u.test(c)) k = splitDigits ? ALONE : NUMBER;
    else if (!splitByScript) k = COMMON;
    else if (/^\p{Script=Inherited}$/u.test(c)) k = ANY;
    else if (/^\p{N}$/u.test(c)) k = NUMBER;
    else if (CJ_RE.test(c)) k = CJ;
    else if (/^\p{Script=Common}$/u.test(c)) k = COMMON;
    else k = SCRIPTS.find(([re]) => re.test(c))?.[1] ?? OTHER;
    cache.set(c, k);
    return k;
  };
}

// Byte-pair merges over the words' mergeable units; returns the new pieces in merge order.
function learnMerges(
  words: Map<string, number>,
  chars: string[],
  classify: (c: string) => number,
  maxLen: number,
  wanted: number,
  onProgress?: (done: number, total: number) => void,
): string[] {
  // Symbols: kept characters first, then merge results.
  const symStr: string[] = [...chars];
  const symLen: number[] = chars.map(() => 1);
  const symId = new Map<string, number>(chars.map((c, i) => [c, i]));
  const reserved = new Set(["<unk>", "<s>", "</s>", "<pad>"]);
  for (let b = 0; b < 256; b++) reserved.add(bytePiece(b));

  // Units: stretches of a word that may merge internally, counted over the corpus.
  const unitCounts = new Map<string, number>();
  for (const [w, n] of words) {
    let unit = "";
    let unitClass = ANY;
    const flush = () => {
      if ([...unit].length >= 2) unitCounts.set(unit, (unitCounts.get(unit) ?? 0) + n);
      unit = "";
      unitClass = ANY;
    };
    for (const c of w) {
      const k = symId.has(c) ? classify(c) : -1;
      if (k < 0 || k === ALONE) {
        flush();
        continue;
      }
      if (k !== ANY && unitClass !== ANY && k !== unitClass) flush();
      if (k !== ANY) unitClass = k;
      unit += c;
    }
    flush();
  }
  const seqs: Int32Array[] = [];
  const freq: number[] = [];
  for (const [u, n] of unitCounts) {
    seqs.push(Int32Array.from([...u], (c) => symId.get(c)!));
    freq.push(n);
  }

  // Pair statistics. Key: left * 2^20 + right (symbol ids stay below 2^20).
  const SHIFT = 1 << 20;
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const heap = new PairHeap();
  // SentencePiece's piece rule: ▁ only first, unless the piece is all ▁.
  const spaceOnly: boolean[] = chars.map((c) => c === SPACE_SYMBOL);
  const hasSpace: boolean[] = [...spaceOnly];
  const spacesOk = (a: number, b: number) =>
    (spaceOnly[a] && spaceOnly[b]) || (!hasSpace[b] && !(spaceOnly[a] && symLen[a] > 1));
  const allowed = (a: number, b: number) =>
    spacesOk(a, b) &&
    symLen[a] + symLen[b] <= maxLen && !reserved.has(symStr[a] + symStr[b]);
  for (let w = 0; w < seqs.length; w++) {
    const s = seqs[w];
    for (let i = 0; i + 1 < s.length; i++) {
      if (!allowed(s[i], s[i + 1])) continue;
      const key = s[i] * SHIFT + s[i + 1];
      counts.set(key, (counts.get(key) ?? 0) + freq[w]);
      let set = where.get(key);
      if (!set) where.set(key, set = new Set());
      set.add(w);
    }
  }
  for (const [key, n] of counts) heap.push(n, key);

  const learned: string[] = [];
  const touched = new Set<number>();
  while (learned.length < wanted && heap.size > 0) {
    const [n, key] = heap.pop();
    const current = counts.get(key) ?? 0;
    if (current !== n) {
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (n <= 0) break;
    const a = Math.floor(key / SHIFT), b = key % SHIFT;
    const str = symStr[a] + symStr[b];
    let id = symId.get(str);
    if (id === undefined) {
      id = symStr.length;
      symStr.push(str);
      symLen.push(symLen[a] + symLen[b]);
      spaceOnly.push(spaceOnly[a] && spaceOnly[b]);
      hasSpace.push(hasSpace[a] || hasSpace[b]);
      symId.set(str, id);
      learned.push(str);
      if (onProgress && learned.length % 256 === 0) onProgress(learned.length, wanted);
    }
    touched.clear();
    for (const w of where.get(key)!) {
      const s = seqs[w];
      // Is the pair still there? (Sets are never pruned.)
      let found = false;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) {
          found = true;
          break;
        }
      }
      if (!found) continue;
      const f = freq[w];
      // Remove the old pairs, merge left to right, add the new pairs.
      for (let i = 0; i + 1 < s.length; i++) {
        if (!allowed(s[i], s[i + 1])) continue;
        const k = s[i] * SHIFT + s[i + 1];
        counts.set(k, counts.get(k)! - f);
      }
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(id);
          i++;
        } else {
          out.push(s[i]);
        }
      }
      const next = Int32Array.from(out);
      seqs[w] = next;
      for (let i = 0; i + 1 < next.length; i++) {
        if (!allowed(next[i], next[i + 1])) continue;
        const k = next[i] * SHIFT + next[i + 1];
        counts.set(k, (counts.get(k) ?? 0) + f);
        let set = where.get(k);
        if (!set) where.set(k, set = new Set());
        set.add(w);
        touched.add(k);
      }
    }
    for (const k of touched) {
      const c = counts.get(k)!;
      if (c > 0) heap.push(c, k);
    }
    counts.delete(key);
    where.delete(key);
  }
  onProgress?.(learned.length, wanted);
  return learned;
}

// A max-heap of (count, key), ties to the smaller key.
class PairHeap {
  #counts: number[] = [];
  #keys: number[] = [];
  get size(): number {
    return this.#counts.length;
  }
  push(count: number, key: number): void {
    const c = this.#counts, k = this.#keys;
    let i = c.length;
    c.push(count);
    k.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#above(count, key, c[p], k[p])) break;
      c[i] = c[p];
      k[i] = k[p];
      i = p;
    }
    c[i] = count;
    k[i] = key;
  }
  pop(): [number, number] {
    const c = this.#counts, k = this.#keys;
    const top: [number, number] = [c[0], k[0]];
    const lastC = c.pop()!, lastK = k.pop()!;
    const n = c.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let ch = 2 * i + 1;
        if (ch >= n) break;
        if (ch + 1 < n && this.#above(c[ch + 1], k[ch + 1], c[ch], k[ch])) ch++;
        if (!this.#above(c[ch], k[ch], lastC, lastK)) break;
        c[i] = c[ch];
        k[i] = k[ch];
        i = ch;
      }
      c[i] = lastC;
      k[i] = lastK;
    }
    return top;
  }
  #above(c1: number, k1: number, c2: number, k2: number): boolean {
    return c1 > c2 || (c1 === c2 && k1 < k2);
  }
}
