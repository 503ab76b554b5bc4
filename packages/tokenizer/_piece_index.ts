/**
 * Finds which piece a range of a string spells, without cutting the range out: building the pair
 * table asks this for every split of every piece (~370k ranges for Llama 2), and a `Map` lookup
 * would first allocate each substring. Keys are hashed with FNV-1a over UTF-16 units and confirmed
 * with `startsWith`.
 *
 * @module
 */

const MUL = 0x01000193;
const SEED = 0x811c9dc5 | 0;

/**
 * @example
 * ```ts
 * import { PieceIndex } from "./_piece_index.ts";
 * const index = new PieceIndex(["ab", "b", "abc"], () => true);
 * index.find("xabcx", 1, 4); // 2
 * index.find("xabcx", 0, 2); // -1
 * ```
 */
export class PieceIndex {
  readonly #pieces: readonly string[];
  readonly #hashes: Int32Array;
  readonly #ids: Int32Array;
  readonly #mask: number;

  /** Indexes the pieces for which `keep(id)` holds. */
  constructor(pieces: readonly string[], keep: (id: number) => boolean) {
    this.#pieces = pieces;
    let slots = 16;
    while (slots < pieces.length * 2) slots *= 2;
    this.#mask = slots - 1;
    this.#hashes = new Int32Array(slots);
    this.#ids = new Int32Array(slots).fill(-1);
    for (let id = 0; id < pieces.length; id++) {
      if (!keep(id)) continue;
      const p = pieces[id];
      let slot = hashRange(p, 0, p.length) & this.#mask;
      while (this.#ids[slot] >= 0) slot = (slot + 1) & this.#mask;
      this.#hashes[slot] = hashRange(p, 0, p.length);
      this.#ids[slot] = id;
    }
  }

  /** Id of the indexed piece equal to `s[start, end)`, or -1 (the first such id if several). */
  find(s: string, start: number, end: number): number {
    const h = hashRange(s, start, end);
    let slot = h & this.#mask;
    let found = -1;
    for (;;) {
      const id = this.#ids[slot];
      if (id < 0) return found;
      if (this.#hashes[slot] === h) {
        const p = this.#pieces[id];
        if (p.length === end - start && s.startsWith(p, start) && (found < 0 || id < found)) found = id;
      }
      slot = (slot + 1) & this.#mask;
    }
  }
}

function hashRange(s: string, start: number, end: number): number {
  let h = SEED;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), MUL);
  return h;
}
