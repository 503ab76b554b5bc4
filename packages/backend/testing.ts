/**
 * Test helpers for the backends and the model: the one error measure every numeric test uses.
 * Seeded test data comes from `Random` of `@tinyllama-ts/random` (`floats(n, scale)`, `ints(n, hi)`).
 *
 * @module
 */

/** The floor of {@link relError}'s denominator: it keeps an all-zero expected tensor from dividing by 0. */
const TINY = 1e-30;

/**
 * The relative error of `actual` against `expected`: `max|a − b| / max(max|b|, tiny)`, the largest
 * difference measured against the largest expected magnitude of the whole tensor (not element by
 * element, so that values near zero in a tensor of ordinary scale do not dominate). Against an
 * all-zero expected tensor any difference is a huge error. NaN anywhere in `actual` gives NaN, which
 * fails every `err <= tol` check.
 *
 * @example
 * ```ts
 * import { relError } from "@tinyllama-ts/backend/testing";
 * relError([1, 2.002], [1, 2]); // 0.001
 * ```
 */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`length ${actual.length} vs ${expected.length}`);
  }
  let maxDiff = 0, maxRef = TINY;
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= maxDiff)) maxDiff = diff; // NaN propagates as the maximum
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff / maxRef;
}
