// Counter-based randomness: every random number is a pure function of (seed, stream, counter), so the
// sampler's whole RNG state is a few integers and a resumed run draws exactly what the original would.
// Only 32-bit integer arithmetic is used, so results are identical on every platform.

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a list of non-negative integers (each below 2^53) to 32 bits. */
export function hashInts(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    const lo = x >>> 0;
    const hi = Math.floor(x / 4294967296) >>> 0;
    h = fmix32((h ^ lo) + 0x7f4a7c15);
    h = fmix32((h ^ hi) + 0x6a09e667);
  }
  return h;
}

/** A uniform double in [0, 1) with 53 random bits, from (seed, stream, counter). */
export function uniform(seed: number, stream: number, counter: number): number {
  const a = hashInts(seed, stream, counter, 1);
  const b = hashInts(seed, stream, counter, 2);
  return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
}

/**
 * A pseudo-random permutation of [0, n) that needs no memory: a balanced Feistel network over the
 * smallest even-bit power of two ≥ n, with cycle walking to stay inside [0, n). Because a Feistel
 * network is a bijection for any round function, so is the walked permutation.
 */
export class FeistelPermutation {
  readonly n: number;
  readonly #half: number;
  readonly #mask: number;
  readonly #keys: number[];

  constructor(n: number, key: number) {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new RangeError(`permutation size must be positive, got ${n}`);
    }
    this.n = n;
    let bits = 2;
    while (2 ** bits < n) bits += 2;
    this.#half = bits / 2; // at most 27 bits, so each half fits a 32-bit integer
    this.#mask = 2 ** this.#half - 1;
    this.#keys = Array.from({ length: 6 }, (_, r) => hashInts(key, r));
  }

  /** The image of `i` (0 ≤ i < n). */
  at(i: number): number {
    if (!(i >= 0 && i < this.n)) throw new RangeError(`index ${i} outside [0, ${this.n})`);
    let x = i;
    do x = this.#encrypt(x); while (x >= this.n);
    return x;
  }

  #encrypt(x: number): number {
    const size = 2 ** this.#half;
    let left = Math.floor(x / size);
    let right = x % size;
    for (const k of this.#keys) {
      const next = (left ^ (fmix32(right ^ k) & this.#mask)) >>> 0;
      left = right;
      right = next;
    }
    return left * size + right;
  }
}
