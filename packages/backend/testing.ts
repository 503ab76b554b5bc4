/**
 * Test helpers for the backends: a seeded generator of test data and error measures.
 *
 * @module
 */

/**
 * A small seeded generator (mulberry32), so that every test sees the same data on every run.
 *
 * @example
 * ```ts
 * import { Rng } from "./testing.ts";
 * const x = new Rng(1).floats(10); // uniform in [-1, 1)
 * ```
 */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** `n` values uniform in [-scale, scale). */
  floats(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.next() * 2 - 1) * scale;
    return out;
  }

  /** `n` integers uniform in [0, hi). */
  ints(n: number, hi: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * hi);
    return out;
  }
}

/** max |a − b| / max(1, max |b|): the error of `a` relative to the scale of the expected values `b`. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxDiff = 0, maxRef = 1;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    if (!(diff <= maxDiff)) maxDiff = diff; // NaN propagates as the maximum
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxDiff / maxRef;
}
