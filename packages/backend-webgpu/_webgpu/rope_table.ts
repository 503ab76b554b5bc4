/**
 * The RoPE cosine/sine table the `rope` kernels read: for each position, `cos` of the head's `hd/2`
 * angles then their `sin`, angle `pos · base^(−2d/hd)` evaluated in f64 and rounded once to f32, as the
 * WASM core does (a GPU's `cos` is accurate only near zero, and positions reach the thousands).
 *
 * @example
 * ```ts
 * import { ropeTable } from "./rope_table.ts";
 * const t = ropeTable(10000, 4, 3); // 3 positions × [cos, cos, sin, sin]
 * console.log(t[4]); // cos(1) as f32
 * ```
 * @module
 */

/** `[positions, 2, headSize/2]` as f32. */
export function ropeTable(base: number, headSize: number, positions: number): Float32Array {
  const half = headSize / 2;
  const out = new Float32Array(positions * headSize);
  const invFreq = Array.from({ length: half }, (_, d) => Math.pow(base, (-2 * d) / headSize));
  for (let pos = 0; pos < positions; pos++) {
    for (let d = 0; d < half; d++) {
      const angle = pos * invFreq[d];
      out[pos * headSize + d] = Math.cos(angle);
      out[pos * headSize + half + d] = Math.sin(angle);
    }
  }
  return out;
}
