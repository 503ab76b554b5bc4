/**
 * bfloat16 on the host: the upper 16 bits of an f32. Widening is exact (every bf16 is an f32);
 * narrowing rounds to nearest, ties to even, as `torch.Tensor.to(torch.bfloat16)` does.
 *
 * @example
 * ```ts
 * import { bf16ToF32, f32ToBf16 } from "@tinyllama-ts/backend";
 * const bits = f32ToBf16(new Float32Array([1, 1 / 3]));
 * console.log(bf16ToF32(bits)); // Float32Array [1, 0.333984375]
 * ```
 * @module
 */

/**
 * bf16 bits widened to f32 (exact).
 *
 * @example
 * ```ts
 * import { bf16ToF32 } from "@tinyllama-ts/backend";
 * console.log(bf16ToF32(new Uint16Array([0x3f80]))[0]); // 1
 * ```
 */
export function bf16ToF32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

/**
 * f32 values rounded to bf16 bits (nearest, ties to even, as PyTorch rounds; NaN becomes 0x7fc0).
 *
 * @example
 * ```ts
 * import { f32ToBf16 } from "@tinyllama-ts/backend";
 * console.log(f32ToBf16(new Float32Array([1]))[0].toString(16)); // "3f80"
 * ```
 */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = u[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = 0x7fc0; // NaN: PyTorch's canonical quiet NaN
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
