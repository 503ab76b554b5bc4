/**
 * A cache from text chunks to their token ids that is probed with a range of a larger string, so a
 * hit allocates nothing: the caller hashes the range while scanning it, and a stored chunk matches
 * when its hash, its length and `text.startsWith(chunk, start)` agree. Ids live in one growing pool.
 * When the table is half full it starts over: simpler than LRU, and natural text refills the common
 * chunks at once.
 *
 * @module
 */

/** Multiplier of the FNV-1a-style hash the caller computes: `h = Math.imul(h ^ code, HASH_MUL)`. */
export const HASH_MUL = 0x01000193;
/** Starting value of that hash. */
export const HASH_SEED = 0x811c9dc5 | 0;

/**
 * @example
 * ```ts
 * import { ChunkCache, HASH_MUL, HASH_SEED } from "./_chunk_cache.ts";
 * const cache = new ChunkCache(1024);
 * const text = "a cat";
 * let h = HASH_SEED;
 * for (let i = 1; i < 5; i++) h = Math.imul(h ^ text.charCodeAt(i), HASH_MUL);
 * cache.set(h, text.slice(1, 5), [7, 9]);
 * const out: number[] = [];
 * cache.emit(text, 1, 5, h, out); // true; out = [7, 9]
 * ```
 */
export class ChunkCache {
  readonly #mask: number;
  readonly #limit: number;
  readonly #hashes: Int32Array;
  // Offset of the chunk's ids in the pool, -1 for an empty slot; the id count is in #lengths.
  readonly #offsets: Int32Array;
  readonly #lengths: Int32Array;
  readonly #keys: string[];
  #pool = new Int32Array(1 << 16);
  #poolSize = 0;
  #size = 0;

  /** @param capacity chunks kept before starting over (rounded up to a power of two, times two slots). */
  constructor(capacity: number) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.#mask = slots - 1;
    this.#limit = slots >> 1;
    this.#hashes = new Int32Array(slots);
    this.#offsets = new Int32Array(slots).fill(-1);
    this.#lengths = new Int32Array(slots);
    this.#keys = new Array(slots).fill("");
  }

  /** Appends the cached ids of `text[start, end)` (hashed to `hash`) to `out`; false on a miss. */
  emit(text: string, start: number, end: number, hash: number, out: number[]): boolean {
    const len = end - start;
    let slot = hash & this.#mask;
    for (;;) {
      const off = this.#offsets[slot];
      if (off < 0) return false;
      if (this.#hashes[slot] === hash) {
        const key = this.#keys[slot];
        if (key.length === len && text.startsWith(key, start)) {
          const pool = this.#pool;
          const n = this.#lengths[slot];
          for (let i = 0; i < n; i++) out.push(pool[off + i]);
          return true;
        }
      }
      slot = (slot + 1) & this.#mask;
    }
  }

  /** Stores the ids of `chunk` (hashed to `hash`); the caller has just missed it. */
  set(hash: number, chunk: string, ids: ArrayLike<number>): void {
    if (this.#size >= this.#limit) this.#clear();
    if (this.#poolSize + ids.length > this.#pool.length) {
      const bigger = new Int32Array(Math.max(this.#pool.length * 2, this.#poolSize + ids.length));
      bigger.set(this.#pool.subarray(0, this.#poolSize));
      this.#pool = bigger;
    }
    let slot = hash & this.#mask;
    while (this.#offsets[slot] >= 0) slot = (slot + 1) & this.#mask;
    this.#hashes[slot] = hash;
    this.#keys[slot] = chunk;
    this.#offsets[slot] = this.#poolSize;
    this.#lengths[slot] = ids.length;
    for (let i = 0; i < ids.length; i++) this.#pool[this.#poolSize++] = ids[i];
    this.#size++;
  }

  #clear(): void {
    this.#offsets.fill(-1);
    this.#keys.fill("");
    this.#poolSize = 0;
    this.#size = 0;
  }
}
