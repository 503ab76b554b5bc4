/**
 * The on-disk layout of one packed shard, byte for byte the format of lit-gpt's `PackedDataset`
 * (which TinyLlama uses): a 24-byte header, then `chunkSize` tokens, little-endian.
 *
 * | offset | size | field                                   |
 * | ------ | ---- | --------------------------------------- |
 * | 0      | 7    | magic `LITPKDS`                         |
 * | 7      | 8    | u64 version, always 1                   |
 * | 15     | 1    | u8 dtype code (see {@link DTYPE_CODES}) |
 * | 16     | 8    | u64 chunk size in tokens                |
 * | 24     | …    | the tokens                              |
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** The 7 magic bytes every shard starts with. */
export const SHARD_MAGIC: Uint8Array = new TextEncoder().encode("LITPKDS");

/** Bytes before the first token. */
export const SHARD_HEADER_BYTES = 24;

/** The only format version lit-gpt writes or reads. */
export const SHARD_VERSION = 1;

/** A token element type that a shard may hold. */
export type TokenDtype = "uint8" | "int8" | "int16" | "int32" | "int64" | "uint16";

/**
 * lit-gpt's dtype codes (`packed_dataset.dtypes`). Codes 6 and 7 (float32, float64) exist there but
 * cannot hold token ids, so they are rejected here.
 *
 * @example
 * ```ts
 * import { DTYPE_CODES } from "@tinyllama-ts/data";
 * console.log(DTYPE_CODES.uint16); // 8
 * ```
 */
export const DTYPE_CODES: Readonly<Record<TokenDtype, number>> = {
  uint8: 1,
  int8: 2,
  int16: 3,
  int32: 4,
  int64: 5,
  uint16: 8,
};

const DTYPE_BY_CODE = new Map<number, TokenDtype>(
  Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as TokenDtype]),
);

/**
 * Bytes per token of a dtype.
 *
 * @example
 * ```ts
 * import { dtypeBytes } from "@tinyllama-ts/data";
 * console.log(dtypeBytes("uint16")); // 2
 * ```
 */
export function dtypeBytes(dtype: TokenDtype): number {
  switch (dtype) {
    case "uint8":
    case "int8":
      return 1;
    case "int16":
    case "uint16":
      return 2;
    case "int32":
      return 4;
    case "int64":
      return 8;
  }
}

/**
 * The dtype lit-gpt's builder picks with `dtype="auto"`: uint16 below a vocabulary of 65500, else int32.
 *
 * @example
 * ```ts
 * import { dtypeForVocab } from "@tinyllama-ts/data";
 * console.log(dtypeForVocab(32000)); // "uint16"
 * ```
 */
export function dtypeForVocab(vocabSize: number): "uint16" | "int32" {
  return vocabSize < 65500 ? "uint16" : "int32";
}

/** What a shard's header says. */
export interface ShardHeader {
  dtype: TokenDtype;
  /** Tokens in the shard. */
  chunkSize: number;
}

/**
 * The 24 header bytes of a shard.
 *
 * @example
 * ```ts
 * import { encodeShardHeader } from "@tinyllama-ts/data";
 * const h = encodeShardHeader({ dtype: "uint16", chunkSize: 2049 * 1024 });
 * console.log(h.length); // 24
 * ```
 */
export function encodeShardHeader(header: ShardHeader): Uint8Array {
  const out = new Uint8Array(SHARD_HEADER_BYTES);
  out.set(SHARD_MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(7, BigInt(SHARD_VERSION), true);
  view.setUint8(15, DTYPE_CODES[header.dtype]);
  view.setBigUint64(16, BigInt(header.chunkSize), true);
  return out;
}

/**
 * Parses and checks a shard header; `fileBytes`, when given, must be exactly header plus tokens.
 * Every problem is a {@link UserError} naming `path`.
 *
 * @example
 * ```ts
 * import { encodeShardHeader, parseShardHeader } from "@tinyllama-ts/data";
 * const bytes = encodeShardHeader({ dtype: "uint16", chunkSize: 8 });
 * console.log(parseShardHeader(bytes, "x.bin", 24 + 16)); // { dtype: "uint16", chunkSize: 8 }
 * ```
 */
export function parseShardHeader(bytes: Uint8Array, path: string, fileBytes?: number): ShardHeader {
  if (bytes.length < SHARD_HEADER_BYTES) {
    throw new UserError(`${path}: too short for a shard header (${bytes.length} bytes, need 24)`);
  }
  for (let i = 0; i < SHARD_MAGIC.length; i++) {
    if (bytes[i] !== SHARD_MAGIC[i]) throw new UserError(`${path}: wrong magic (expected LITPKDS)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SHARD_HEADER_BYTES);
  const version = view.getBigUint64(7, true);
  if (version !== BigInt(SHARD_VERSION)) {
    throw new UserError(`${path}: unsupported shard version ${version} (expected 1)`);
  }
  const code = view.getUint8(15);
  const dtype = DTYPE_BY_CODE.get(code);
  if (dtype === undefined) {
    const what = code === 6 || code === 7 ? "a float type, not token ids" : "unknown";
    throw new UserError(`${path}: dtype code ${code} is ${what}`);
  }
  const chunk = view.getBigUint64(16, true);
  if (chunk === 0n || chunk > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UserError(`${path}: invalid chunk size ${chunk}`);
  }
  const chunkSize = Number(chunk);
  if (fileBytes !== undefined) {
    const expected = SHARD_HEADER_BYTES + chunkSize * dtypeBytes(dtype);
    if (fileBytes !== expected) {
      throw new UserError(
        `${path}: size ${fileBytes} bytes does not fit the header (${chunkSize} ${dtype} tokens need ${expected})`,
      );
    }
  }
  return { dtype, chunkSize };
}

/**
 * Encodes tokens as a shard's token bytes (little-endian) in `dtype`; a token that does not fit is a bug
 * in the caller and throws a RangeError.
 *
 * @example
 * ```ts
 * import { encodeTokens } from "@tinyllama-ts/data";
 * console.log(encodeTokens([1, 258], "uint16")); // Uint8Array [1, 0, 2, 1]
 * ```
 */
export function encodeTokens(tokens: ArrayLike<number>, dtype: TokenDtype): Uint8Array {
  const n = tokens.length;
  const out = new Uint8Array(n * dtypeBytes(dtype));
  const view = new DataView(out.buffer);
  const [lo, hi] = DTYPE_RANGE[dtype];
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (!(t >= lo && t <= hi) || !Number.isInteger(t)) {
      throw new RangeError(`token ${t} does not fit ${dtype}`);
    }
    switch (dtype) {
      case "uint8":
        view.setUint8(i, t);
        break;
      case "int8":
        view.setInt8(i, t);
        break;
      case "int16":
        view.setInt16(i * 2, t, true);
        break;
      case "uint16":
        view.setUint16(i * 2, t, true);
        break;
      case "int32":
        view.setInt32(i * 4, t, true);
        break;
      case "int64":
        view.setBigInt64(i * 8, BigInt(t), true);
        break;
    }
  }
  return out;
}

const DTYPE_RANGE: Record<TokenDtype, [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * Decodes little-endian token bytes into `out` (one token per element), starting at `out[outOffset]`.
 * A token outside int32 (possible only with int64 shards) throws a {@link UserError} naming `path`.
 *
 * @example
 * ```ts
 * import { decodeTokens } from "@tinyllama-ts/data";
 * const out = new Int32Array(2);
 * decodeTokens(new Uint8Array([1, 0, 2, 1]), "uint16", out, 0, "x.bin");
 * console.log(out); // Int32Array [1, 258]
 * ```
 */
export function decodeTokens(
  bytes: Uint8Array,
  dtype: TokenDtype,
  out: Int32Array,
  outOffset: number,
  path: string,
): void {
  const n = bytes.length / dtypeBytes(dtype);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "uint8":
      for (let i = 0; i < n; i++) out[outOffset + i] = bytes[i];
      break;
    case "int8":
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt8(i);
      break;
    case "int16":
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt16(i * 2, true);
      break;
    case "uint16":
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getUint16(i * 2, true);
      break;
    case "int32":
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt32(i * 4, true);
      break;
    case "int64":
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v < -2147483648n || v > 2147483647n) {
          throw new UserError(`${path}: token ${v} does not fit int32`);
        }
        out[outOffset + i] = Number(v);
      }
      break;
  }
}
