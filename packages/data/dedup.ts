import { fmix32 } from "@tinyllama-ts/random";

/** How prepare removes duplicate documents. */
export type DedupMode = "none" | "exact" | "minhash";

const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * SlimPajama's text normalisation before hashing: lower case, ASCII punctuation removed (Python's
 * `string.punctuation`), runs of whitespace collapsed to one space, ends trimmed.
 *
 * @example
 * ```ts
 * import { normalizeText } from "@tinyllama-ts/data";
 * console.log(normalizeText("  Hello,\n\tWorld!  ")); // "hello world"
 * ```
 */
export function normalizeText(text: string): string {
  return text.toLowerCase().replace(ASCII_PUNCTUATION, "").replace(/\s+/g, " ").trim();
}

/**
 * murmur3 (x86, 32-bit) over a string's UTF-16 code units.
 *
 * @example
 * ```ts
 * import { hashString32 } from "@tinyllama-ts/data";
 * console.log(hashString32("abc", 0) === hashString32("abc", 0)); // true
 * ```
 */
export function hashString32(s: string, seed: number): number {
  let h = seed >>> 0;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  return fmix32(h ^ n);
}

/**
 * The exact-duplicate key of a document: a 64-bit hash (as 16 hex digits) of its normalised text, so
 * documents that differ only in case, punctuation or spacing share a key.
 *
 * @example
 * ```ts
 * import { exactDedupKey } from "@tinyllama-ts/data";
 * console.log(exactDedupKey("Hello, world") === exactDedupKey("hello  world!")); // true
 * ```
 */
export function exactDedupKey(text: string): string {
  const s = normalizeText(text);
  return hashString32(s, 0x2545f491).toString(16).padStart(8, "0") +
    hashString32(s, 0x9e3779b9).toString(16).padStart(8, "0");
}

/** Word n-gram width (SlimPajama's 13). */
export const SHINGLE_WORDS = 13;
/** Hash functions per MinHash signature (datasketch's default 128). */
export const NUM_PERM = 128;

const PERM_SEEDS = Uint32Array.from({ length: NUM_PERM }, (_, i) => fmix32(i * 0x9e3779b9 + 0x85ebca6b));

/**
 * The 32-bit hashes of a document's shingles: the word 13-grams of its normalised text (a document of
 * fewer than 13 words is one shingle of all its words; an empty one has none).
 *
 * @example
 * ```ts
 * import { shingleHashes } from "@tinyllama-ts/data";
 * console.log(shingleHashes("a b c d e f g h i j k l m n").length); // 2
 * ```
 */
export function shingleHashes(text: string): Uint32Array {
  const norm = normalizeText(text);
  if (norm === "") return new Uint32Array(0);
  const words = norm.split(" ");
  const wordHashes = words.map((w) => hashString32(w, 0x3c6ef372));
  const n = Math.max(1, words.length - SHINGLE_WORDS + 1);
  const width = Math.min(SHINGLE_WORDS, words.length);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let h = width;
    for (let j = 0; j < width; j++) h = fmix32((Math.imul(h, 0x01000193) ^ wordHashes[i + j]) >>> 0);
    out[i] = h;
  }
  return out;
}

/**
 * The MinHash signature of a document: for each of {@link NUM_PERM} hash functions (each a bijection of
 * 32-bit integers), the least image of any shingle. Two signatures agree at a position with probability
 * equal to the Jaccard similarity of the shingle sets. An empty document gets all 0xffffffff.
 *
 * @example
 * ```ts
 * import { minhashSignature } from "@tinyllama-ts/data";
 * console.log(minhashSignature("the quick brown fox").length); // 128
 * ```
 */
export function minhashSignature(text: string): Uint32Array {
  const shingles = shingleHashes(text);
  const sig = new Uint32Array(NUM_PERM).fill(0xffffffff);
  for (let p = 0; p < NUM_PERM; p++) {
    const seed = PERM_SEEDS[p];
    let min = 0xffffffff;
    for (let i = 0; i < shingles.length; i++) {
      const v = fmix32(shingles[i] ^ seed);
      if (v < min) min = v;
    }
    sig[p] = min;
  }
  return sig;
}

/**
 * The fraction of positions where two signatures agree: an estimate of the Jaccard similarity.
 *
 * @example
 * ```ts
 * import { minhashSignature, signatureSimilarity } from "@tinyllama-ts/data";
 * console.log(signatureSimilarity(minhashSignature("x y"), minhashSignature("X, y!"))); // 1
 * ```
 */
export function signatureSimilarity(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/**
 * The LSH banding (bands × rows ≤ numPerm) that minimises the equally weighted false-positive and
 * false-negative areas under the S-curve `1 − (1 − s^r)^b` around `threshold`: the criterion datasketch's
 * `MinHashLSH` (and so SlimPajama) uses. For 0.8 and 128 permutations: 9 bands of 13 rows.
 *
 * @example
 * ```ts
 * import { lshParams } from "@tinyllama-ts/data";
 * console.log(lshParams(0.8, 128)); // { bands: 9, rows: 13 }
 * ```
 */
export function lshParams(threshold: number, numPerm: number): { bands: number; rows: number } {
  const integrate = (f: (s: number) => number, a: number, b: number) => {
    const n = 200; // Simpson's rule; the integrands are smooth polynomials
    const h = (b - a) / n;
    let sum = f(a) + f(b);
    for (let i = 1; i < n; i++) sum += f(a + i * h) * (i % 2 === 1 ? 4 : 2);
    return sum * h / 3;
  };
  let best = { bands: 1, rows: 1 };
  let bestError = Infinity;
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; r <= Math.floor(numPerm / b); r++) {
      const fp = integrate((s) => 1 - (1 - s ** r) ** b, 0, threshold);
      const fn = integrate((s) => (1 - s ** r) ** b, threshold, 1);
      const error = 0.5 * fp + 0.5 * fn;
      if (error < bestError) {
        bestError = error;
        best = { bands: b, rows: r };
      }
    }
  }
  return best;
}

/** What {@link Deduplicator.check} found. */
export type DedupVerdict = { duplicate: false } | { duplicate: true; of: number; kind: "exact" | "near" };

/**
 * Streaming duplicate removal in document order: the first document of a group is kept and later ones
 * are duplicates of it. `exact`: same normalised-text hash. `minhash`: exact duplicates, then MinHash LSH
 * (SlimPajama's method: word 13-grams, 128 permutations, bands for Jaccard 0.8) where an LSH candidate
 * is confirmed only if the signatures agree on at least 80% of positions. Near-duplicates are compared
 * with kept documents only. Memory: one key per kept document, plus its signature for `minhash`.
 *
 * @example
 * ```ts
 * import { Deduplicator, exactDedupKey } from "@tinyllama-ts/data";
 * const d = new Deduplicator("exact");
 * console.log(d.check(0, { exact: exactDedupKey("A b") }).duplicate); // false
 * console.log(d.check(1, { exact: exactDedupKey("a, B") })); // { duplicate: true, of: 0, kind: "exact" }
 * ```
 */
export class Deduplicator {
  readonly mode: DedupMode;
  readonly threshold: number;
  readonly #exact = new Map<string, number>();
  readonly #bands: Map<string, number[]>[];
  readonly #signatures = new Map<number, Uint32Array>();
  readonly #rows: number;

  constructor(mode: DedupMode, threshold = 0.8) {
    this.mode = mode;
    this.threshold = threshold;
    const { bands, rows } = mode === "minhash" ? lshParams(threshold, NUM_PERM) : { bands: 0, rows: 0 };
    this.#rows = rows;
    this.#bands = Array.from({ length: bands }, () => new Map());
  }

  /** Checks document `id` (ids must increase) and, unless it is a duplicate, remembers it. */
  check(id: number, key: { exact?: string; signature?: Uint32Array }): DedupVerdict {
    if (this.mode === "none") return { duplicate: false };
    const exact = key.exact;
    if (exact === undefined) throw new Error("Deduplicator.check: missing exact key");
    const first = this.#exact.get(exact);
    if (first !== undefined) return { duplicate: true, of: first, kind: "exact" };
    let bandKeys: string[] = [];
    if (this.mode === "minhash") {
      const sig = key.signature;
      if (sig === undefined) throw new Error("Deduplicator.check: missing signature");
      bandKeys = this.#bands.map((_, b) => sig.subarray(b * this.#rows, (b + 1) * this.#rows).join(","));
      const seen = new Set<number>();
      for (let b = 0; b < this.#bands.length; b++) {
        for (const other of this.#bands[b].get(bandKeys[b]) ?? []) {
          if (seen.has(other)) continue;
          seen.add(other);
          if (signatureSimilarity(sig, this.#signatures.get(other)!) >= this.threshold) {
            return { duplicate: true, of: other, kind: "near" };
          }
        }
      }
      this.#signatures.set(id, sig);
      bandKeys.forEach((k, b) => {
        const list = this.#bands[b].get(k);
        if (list === undefined) this.#bands[b].set(k, [id]);
        else list.push(id);
      });
    }
    this.#exact.set(exact, id);
    return { duplicate: false };
  }
}
