/**
 * How work is cut to fit the adapter: a dispatch grid within the per-dimension workgroup limit, ranges
 * cut into windows no larger than one storage binding, group members packed into buffers, and runs of
 * adjacent tensors merged so that whole-model ops need one dispatch per run. Pure arithmetic, tested
 * without a GPU.
 *
 * @module
 */

/** The most workgroups in one grid dimension (WebGPU's `maxComputeWorkgroupsPerDimension` default). */
export const MAX_GROUPS_PER_DIM = 65535;

/** Byte alignment of every tensor inside a buffer: the largest `minStorageBufferOffsetAlignment` allowed. */
export const TENSOR_ALIGN_BYTES = 256;

/**
 * A two-dimensional grid of at least `groups` workgroups; kernels read their flat index as
 * `y · nx + x` and skip indices past the end.
 *
 * @example
 * ```ts
 * import { flatGrid } from "./split.ts";
 * flatGrid(70000); // [35000, 2, 1]
 * ```
 */
export function flatGrid(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS_PER_DIM) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS_PER_DIM);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * `[start, length]` pieces covering `[0, total)` in steps of `step` (the last one shorter).
 *
 * @example
 * ```ts
 * import { pieces } from "./split.ts";
 * pieces(10, 4); // [[0, 4], [4, 4], [8, 2]]
 * ```
 */
export function pieces(total: number, step: number): [number, number][] {
  if (!(step >= 1)) throw new RangeError(`pieces: step must be ≥ 1, got ${step}`);
  const out: [number, number][] = [];
  for (let start = 0; start < total; start += step) out.push([start, Math.min(step, total - start)]);
  return out;
}

/** `x` rounded down to a multiple of `m` when it is at least `m` (else unchanged). */
export function roundDownTo(x: number, m: number): number {
  return x >= m ? Math.floor(x / m) * m : x;
}

/**
 * Where each member of a group goes: buffer index and element offset, every member aligned to
 * {@link TENSOR_ALIGN_BYTES}, a new buffer started whenever the next member would pass `maxBufferBytes`.
 * Returns the placements and each buffer's size in bytes.
 *
 * @example
 * ```ts
 * import { packGroup } from "./split.ts";
 * packGroup([10, 100], 1 << 20).placements; // [{ buffer: 0, offset: 0 }, { buffer: 0, offset: 64 }]
 * ```
 */
export function packGroup(
  sizes: readonly number[],
  maxBufferBytes: number,
): { placements: { buffer: number; offset: number }[]; bufferBytes: number[] } {
  const alignElems = TENSOR_ALIGN_BYTES / 4;
  const placements: { buffer: number; offset: number }[] = [];
  const bufferBytes: number[] = [];
  let used = 0; // elements used in the current buffer
  for (const size of sizes) {
    const offset = Math.ceil(used / alignElems) * alignElems;
    if (bufferBytes.length === 0 || (offset + size) * 4 > maxBufferBytes) {
      bufferBytes.push(0);
      placements.push({ buffer: bufferBytes.length - 1, offset: 0 });
      used = size;
    } else {
      placements.push({ buffer: bufferBytes.length - 1, offset });
      used = offset + size;
    }
    bufferBytes[bufferBytes.length - 1] = used * 4;
  }
  return { placements, bufferBytes };
}

/** A tensor's place for {@link adjacentRuns}: its buffer's identity, element offset and size. */
export interface Placed {
  readonly bufferId: number;
  readonly offset: number;
  readonly size: number;
}

/**
 * Merges consecutive entries of parallel tensor lists into runs that are contiguous in every list at
 * once (same buffer, each next tensor starting exactly where the previous one ends, no padding) and
 * share the same `key` (e.g. the weight-decay flag). Returns `[first, count]` index ranges.
 *
 * @example
 * ```ts
 * import { adjacentRuns } from "./split.ts";
 * const a = [{ bufferId: 1, offset: 0, size: 64 }, { bufferId: 1, offset: 64, size: 8 }];
 * adjacentRuns([a]); // [[0, 2]]
 * ```
 */
export function adjacentRuns(
  lists: readonly (readonly Placed[])[],
  key?: (i: number) => unknown,
): [number, number][] {
  const n = lists.length > 0 ? lists[0].length : 0;
  const runs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const last = runs[runs.length - 1];
    const joins = last !== undefined && last[0] + last[1] === i &&
      (key === undefined || key(i) === key(i - 1)) &&
      lists.every((l) =>
        l[i].bufferId === l[i - 1].bufferId && l[i].offset === l[i - 1].offset + l[i - 1].size
      );
    if (joins) last[1]++;
    else runs.push([i, 1]);
  }
  return runs;
}

/** Block sizes of a matmul `C[R,S] (+)= A(r,l)·B(l,s)` so that every operand window fits a binding. */
export interface MatmulBlocks {
  rows: number;
  cols: number;
  depth: number;
}

/**
 * Blocks of rows, columns and reduction depth for a matmul whose operands may exceed `capElems` (the
 * elements one binding may hold). `fits` says which operands fit whole (they never constrain);
 * row-major A constrains rows by `ld_a`, column-major A the depth; likewise B for columns or depth; C
 * constrains rows by `ld_c`. Returns null when even one row (or column) does not fit.
 *
 * @example
 * ```ts
 * import { matmulBlocks } from "./split.ts";
 * // out[300, 5000] does not fit 1e6-element windows: 128 rows at a time (a tile multiple).
 * matmulBlocks(300, 5000, 64, true, true, { a: true, b: true, c: false }, 1e6); // { rows: 128, cols: 5000, depth: 64 }
 * ```
 */
export function matmulBlocks(
  r: number,
  s: number,
  l: number,
  aRowMajor: boolean,
  bRowMajor: boolean,
  fits: { a: boolean; b: boolean; c: boolean },
  capElems: number,
): MatmulBlocks | null {
  const ldA = aRowMajor ? l : r, ldB = bRowMajor ? l : s;
  let rows = r, cols = s, depth = l;
  const limit = (ld: number) => Math.floor(capElems / Math.max(ld, 1));
  if (!fits.c) rows = Math.min(rows, limit(s));
  if (!fits.a) {
    if (aRowMajor) rows = Math.min(rows, limit(ldA));
    else depth = Math.min(depth, limit(ldA));
  }
  if (!fits.b) {
    if (bRowMajor) cols = Math.min(cols, limit(ldB));
    else depth = Math.min(depth, limit(ldB));
  }
  if (rows < 1 || cols < 1 || depth < 1) return null;
  // A block cut by a limit ends on a tile boundary; an uncut dimension stays whole.
  return {
    rows: rows < r ? roundDownTo(rows, 128) : r,
    cols: cols < s ? roundDownTo(cols, 128) : s,
    depth: depth < l ? roundDownTo(depth, 16) : l,
  };
}
