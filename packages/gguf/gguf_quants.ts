/**
 * ggml's tensor types as GGUF stores them: the type ids, block sizes, dequantization of F32, F16, BF16,
 * Q8_0, Q4_0, Q4_1, Q4_K and Q6_K to f32, and Q8_0 quantization.
 *
 * Dequantization computes what `gguf-py` (llama.cpp's Python package) computes with numpy in float32,
 * operation by operation (each product and sum rounded to f32 with `Math.fround`), so the floats are
 * bit-equal to `gguf.quants.dequantize`. Q8_0 quantization is `gguf.quants.quantize`'s (scale
 * `max|x| / 127` rounded to f16, values rounded half away from zero), which is ggml's reference
 * `quantize_row_q8_0`: the same bytes as llama.cpp's converter writes.
 *
 * @example
 * ```ts
 * import { dequantize, GgmlType, quantizeQ8_0 } from "./gguf_quants.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => i - 16);
 * const q = quantizeQ8_0(x); // 34 bytes: an f16 scale and 32 int8
 * dequantize(GgmlType.Q8_0, q, 32); // close to x
 * ```
 * @module
 */

/** ggml tensor type ids (`GGMLQuantizationType`); those this module reads are listed in {@link GGML_TYPES}. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 8,
  Q4_K: 12,
  Q6_K: 14,
  BF16: 30,
} as const;

/** Block size (values) and block bytes of each type read here. */
export const GGML_TYPES: Readonly<Record<number, { name: string; block: number; bytes: number }>> = {
  0: { name: "F32", block: 1, bytes: 4 },
  1: { name: "F16", block: 1, bytes: 2 },
  2: { name: "Q4_0", block: 32, bytes: 18 },
  3: { name: "Q4_1", block: 32, bytes: 20 },
  8: { name: "Q8_0", block: 32, bytes: 34 },
  12: { name: "Q4_K", block: 256, bytes: 144 },
  14: { name: "Q6_K", block: 256, bytes: 210 },
  30: { name: "BF16", block: 1, bytes: 2 },
};

// Names of the other ggml types, for error messages.
const OTHER_TYPE_NAMES: Record<number, string> = {
  6: "Q5_0",
  7: "Q5_1",
  9: "Q8_1",
  10: "Q2_K",
  11: "Q3_K",
  13: "Q5_K",
  15: "Q8_K",
  16: "IQ2_XXS",
  17: "IQ2_XS",
  18: "IQ3_XXS",
  19: "IQ1_S",
  20: "IQ4_NL",
  21: "IQ3_S",
  22: "IQ2_S",
  23: "IQ4_XS",
  24: "I8",
  25: "I16",
  26: "I32",
  27: "I64",
  28: "F64",
  29: "IQ1_M",
  34: "TQ1_0",
  35: "TQ2_0",
  39: "MXFP4",
  40: "NVFP4",
  41: "Q1_0",
};

const SUPPORTED = Object.values(GGML_TYPES).map((t) => t.name).join(", ");

/**
 * The name of a ggml type id (`Q8_0`), or `type N` for an id ggml does not define.
 *
 * @example
 * ```ts
 * import { ggmlTypeName } from "./gguf_quants.ts";
 * ggmlTypeName(8); // "Q8_0"
 * ```
 */
export function ggmlTypeName(type: number): string {
  return GGML_TYPES[type]?.name ?? OTHER_TYPE_NAMES[type] ?? `type ${type}`;
}

/**
 * Stored bytes of a tensor of `type` and `dims` (innermost first). An unsupported type, or an innermost
 * dimension that is not a whole number of blocks, throws an Error naming it.
 *
 * @example
 * ```ts
 * import { GgmlType, tensorBytes } from "./gguf_quants.ts";
 * tensorBytes(GgmlType.Q8_0, [64, 3]); // 204
 * ```
 */
export function tensorBytes(type: number, dims: readonly number[]): number {
  const t = GGML_TYPES[type];
  if (!t) {
    throw new Error(`tensor type ${ggmlTypeName(type)} (${type}) is not supported (${SUPPORTED})`);
  }
  if (dims[0] % t.block !== 0) {
    throw new Error(`${t.name} rows of ${dims[0]} values are not a whole number of ${t.block}-value blocks`);
  }
  return (dims.reduce((a, b) => a * b, 1) / t.block) * t.bytes;
}

const f32 = Math.fround;

/**
 * Stored bytes of `n` values of `type` to f32, bit-equal to `gguf.quants.dequantize`.
 *
 * @example
 * ```ts
 * import { dequantize, GgmlType } from "./gguf_quants.ts";
 * dequantize(GgmlType.BF16, new Uint8Array([0x80, 0x3f]), 1); // Float32Array [1]
 * ```
 */
export function dequantize(type: number, bytes: Uint8Array, n: number): Float32Array {
  const t = GGML_TYPES[type];
  if (!t) throw new Error(`tensor type ${ggmlTypeName(type)} (${type}) is not supported (${SUPPORTED})`);
  if (n % t.block !== 0 || bytes.length !== (n / t.block) * t.bytes) {
    throw new Error(`${bytes.length} bytes are not ${n} values of ${t.name}`);
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const out = new Float32Array(n);
  const nBlocks = n / t.block;
  const view = new DataView(aligned.buffer, aligned.byteOffset, aligned.byteLength);
  const half = (at: number) => halfToFloat(view.getUint16(at, true));
  switch (type) {
    case GgmlType.F32:
      out.set(new Float32Array(aligned.buffer, aligned.byteOffset, n));
      break;
    case GgmlType.F16:
      out.set(new Float16Array(aligned.buffer, aligned.byteOffset, n));
      break;
    case GgmlType.BF16: {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    case GgmlType.Q8_0:
      for (let b = 0; b < nBlocks; b++) {
        const at = b * 34, d = half(at);
        for (let j = 0; j < 32; j++) out[b * 32 + j] = f32(view.getInt8(at + 2 + j) * d);
      }
      break;
    case GgmlType.Q4_0:
      for (let b = 0; b < nBlocks; b++) {
        const at = b * 18, d = half(at);
        for (let j = 0; j < 16; j++) {
          const q = aligned[at + 2 + j];
          out[b * 32 + j] = f32(d * ((q & 15) - 8));
          out[b * 32 + 16 + j] = f32(d * ((q >> 4) - 8));
        }
      }
      break;
    case GgmlType.Q4_1:
      for (let b = 0; b < nBlocks; b++) {
        const at = b * 20, d = half(at), m = half(at + 2);
        for (let j = 0; j < 16; j++) {
          const q = aligned[at + 4 + j];
          out[b * 32 + j] = f32(f32(d * (q & 15)) + m);
          out[b * 32 + 16 + j] = f32(f32(d * (q >> 4)) + m);
        }
      }
      break;
    case GgmlType.Q4_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ4K(aligned, b * 144, out, b * 256, half);
      break;
    case GgmlType.Q6_K:
      for (let b = 0; b < nBlocks; b++) dequantizeQ6K(aligned, view, b * 210, out, b * 256, half);
      break;
  }
  return out;
}

/** One Q4_K super-block: d, dmin (f16), 12 bytes of packed 6-bit scales and mins, 128 bytes of nibbles. */
function dequantizeQ4K(
  bytes: Uint8Array,
  at: number,
  out: Float32Array,
  o: number,
  half: (at: number) => number,
): void {
  const d = half(at), dmin = half(at + 2);
  const s = at + 4; // 12 scale bytes: d[0..3], m[4..7], m_d[8..11]
  const qs = at + 16;
  for (let sub = 0; sub < 8; sub++) {
    let sc: number, mn: number;
    if (sub < 4) {
      sc = bytes[s + sub] & 63;
      mn = bytes[s + 4 + sub] & 63;
    } else {
      const j = sub - 4;
      sc = (bytes[s + 8 + j] & 15) | ((bytes[s + j] >> 2) & 0x30);
      mn = (bytes[s + 8 + j] >> 4) | ((bytes[s + 4 + j] >> 2) & 0x30);
    }
    const dl = f32(d * sc), ml = f32(dmin * mn);
    // Sub-block 2g takes the low nibbles of bytes 32g..32g+31, sub-block 2g+1 their high nibbles.
    const g = sub >> 1, shift = (sub & 1) * 4;
    for (let l = 0; l < 32; l++) {
      out[o + sub * 32 + l] = f32(f32(dl * ((bytes[qs + g * 32 + l] >> shift) & 15)) - ml);
    }
  }
}

/** One Q6_K super-block: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, d (f16). */
function dequantizeQ6K(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  out: Float32Array,
  o: number,
  half: (at: number) => number,
): void {
  const ql = at, qh = at + 128, sc = at + 192, d = half(at + 208);
  for (let e = 0; e < 256; e++) {
    const g = e >> 7, r = e & 127; // two halves of 128 values
    const low = (bytes[ql + g * 64 + (r & 63)] >> ((r >> 6) * 4)) & 15;
    const high = (bytes[qh + g * 32 + (r & 31)] >> ((r >> 5) * 2)) & 3;
    const q = (low | (high << 4)) - 32;
    out[o + e] = f32(f32(d * view.getInt8(sc + (e >> 4))) * q);
  }
}

const halfScratch = new Uint16Array(1);
const halfView = new Float16Array(halfScratch.buffer);

function halfToFloat(bits: number): number {
  halfScratch[0] = bits;
  return halfView[0];
}

/**
 * Quantizes values to Q8_0 (their count a multiple of 32), byte-equal to `gguf.quants.quantize(x,
 * Q8_0)`: per block of 32, `d = max|x| / 127` (f32), `q = round(x * (1/d))` half away from zero, `d`
 * stored as f16.
 *
 * @example
 * ```ts
 * import { quantizeQ8_0 } from "./gguf_quants.ts";
 * quantizeQ8_0(new Float32Array(32).fill(1)).length; // 34
 * ```
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${values.length}`);
  const nBlocks = values.length / 32;
  const out = new Uint8Array(nBlocks * 34);
  const view = new DataView(out.buffer);
  const h = new Float16Array(1);
  const hb = new Uint16Array(h.buffer);
  for (let b = 0; b < nBlocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]));
    const d = f32(amax / 127);
    const id = d === 0 ? 0 : f32(1 / d);
    h[0] = d;
    view.setUint16(b * 34, hb[0], true);
    for (let j = 0; j < 32; j++) {
      const v = f32(values[b * 32 + j] * id);
      view.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
    }
  }
  return out;
}
