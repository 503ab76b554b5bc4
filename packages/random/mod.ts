/**
 * The project's one source of seeded randomness, in two forms that share nothing but the idea that a seed
 * fixes every number: a stream generator ({@link Random}, xoshiro128**) for weight initialisation, sampling
 * and test data, and counter-based functions ({@link uniform}, {@link FeistelPermutation}) for the data
 * sampler, whose whole state must be a few integers a checkpoint can hold.
 *
 * @example
 * ```ts
 * import { FeistelPermutation, Random } from "@tinyllama-ts/random";
 * const r = new Random(42);
 * const x = r.floats(4); // uniform in [-1, 1)
 * const p = new FeistelPermutation(10, 7);
 * console.log(x.length, p.at(3) < 10);
 * ```
 * @module
 */
export { Random } from "./random.ts";
export { FeistelPermutation, fmix32, hashInts, uniform } from "./counter.ts";
