/**
 * An open-addressing hash table from a pair of symbol ids to the merge it allows: the merged id and
 * the merge's rank (lower merges first). Flat typed arrays keep the BPE inner loop free of allocation
 * and of the boxed-number keys a `Map` would need for two 20-bit ids.
 *
 * @module
 */

const EMPTY = -1;

/**
 * @example
 * ```ts
 * import { PairTable } from "./_pair_table.ts";
 * const t = new PairTable(1);
 * t.set(4, 7, 9, 0);
 * t.find(4, 7); // slot index >= 0; t.merged(slot) === 9, t.rank(slot) === 0
 * ```
 */
export class PairTable {
  // Four int32 per slot: left, right, merged, rank.
  readonly #slots: Int32Array;
  readonly #mask: number;
  #size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.#slots = new Int32Array(cap * 4).fill(EMPTY);
    this.#mask = cap - 1;
  }

  /** Number of pairs stored. */
  get size(): number {
    return this.#size;
  }

  /** Adds or replaces the merge for (left, right). Both ids must be >= 0. */
  set(left: number, right: number, merged: number, rank: number): void {
    const s = this.#slots;
    let i = this.#hash(left, right);
    for (;;) {
      const o = i << 2;
      if (s[o] === EMPTY) {
        s[o] = left;
        s[o + 1] = right;
        s[o + 2] = merged;
        s[o + 3] = rank;
        this.#size++;
        if (this.#size * 2 > this.#mask + 1) throw new Error("PairTable over capacity");
        return;
      }
      if (s[o] === left && s[o + 1] === right) {
        s[o + 2] = merged;
        s[o + 3] = rank;
        return;
      }
      i = (i + 1) & this.#mask;
    }
  }

  /** The slot holding (left, right), or -1. Negative ids (unknown characters) never match. */
  find(left: number, right: number): number {
    if ((left | right) < 0) return -1;
    const s = this.#slots;
    let i = this.#hash(left, right);
    for (;;) {
      const o = i << 2;
      const l = s[o];
      if (l === EMPTY) return -1;
      if (l === left && s[o + 1] === right) return o;
      i = (i + 1) & this.#mask;
    }
  }

  /** Merged id stored at a slot returned by {@link find}. */
  merged(slot: number): number {
    return this.#slots[slot + 2];
  }

  /** Rank stored at a slot returned by {@link find}. */
  rank(slot: number): number {
    return this.#slots[slot + 3];
  }

  #hash(left: number, right: number): number {
    const h = Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77);
    return (h ^ (h >>> 15)) & this.#mask;
  }
}
