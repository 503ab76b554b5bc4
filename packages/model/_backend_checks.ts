/**
 * Argument checks shared by the backends: a tensor too small for the shape it is called with, the wrong
 * dtype or an impossible attention/RoPE shape is reported as one-line {@link UserError} before any
 * kernel runs (a kernel would otherwise read past the tensor, or silently into a neighbour).
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { AttentionShape, DType, RopeShape, Tensor } from "./backend.ts";

/** Throws unless `t` holds at least `size` elements of `dtype`. */
export function checkTensor(op: string, name: string, t: Tensor, size: number, dtype: DType = "f32"): void {
  if (t.dtype !== dtype) throw new UserError(`${op}: ${name} must be ${dtype}, got ${t.dtype}`);
  if (t.size < size) throw new UserError(`${op}: ${name} has ${t.size} elements, the shape needs ${size}`);
}

/** Throws unless every value is a non-negative integer. */
export function checkDims(op: string, dims: Record<string, number>): void {
  for (const [name, value] of Object.entries(dims)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new UserError(`${op}: ${name} must be a non-negative integer, got ${value}`);
    }
  }
}

/** Throws on an impossible attention shape. */
export function checkAttentionShape(op: string, s: AttentionShape): void {
  checkDims(op, { ...s });
  if (s.nKV === 0 || s.nHead % s.nKV !== 0) {
    throw new UserError(`${op}: nHead (${s.nHead}) must be a multiple of nKV (${s.nKV})`);
  }
  if (s.tq > s.kvLen || s.kvLen > s.kvStride) {
    throw new UserError(`${op}: need tq ≤ kvLen ≤ kvStride, got ${s.tq}, ${s.kvLen}, ${s.kvStride}`);
  }
}

/** Throws on an impossible RoPE shape (the rotate-half layout needs an even head size). */
export function checkRopeShape(op: string, s: RopeShape): void {
  checkDims(op, { b: s.b, t: s.t, nHeads: s.nHeads, headDim: s.headDim, posOffset: s.posOffset });
  if (s.headDim % 2 !== 0) throw new UserError(`${op}: headDim must be even, got ${s.headDim}`);
  if (!(s.base > 0)) throw new UserError(`${op}: base must be positive, got ${s.base}`);
}

/** Throws unless the optimizer's tensor lists line up and every tensor is f32 of matching size. */
export function checkAdamWLists(
  op: string,
  params: readonly Tensor[],
  grads: readonly Tensor[],
  m: readonly Tensor[],
  v: readonly Tensor[],
  mask: readonly boolean[] | undefined,
): void {
  const n = params.length;
  if (grads.length !== n || m.length !== n || v.length !== n || (mask && mask.length !== n)) {
    throw new UserError(`${op}: params, grads, m, v (and the decay mask) must have the same length`);
  }
  for (let i = 0; i < n; i++) {
    const size = params[i].size;
    checkTensor(op, `params[${i}]`, params[i], size);
    for (const [name, t] of [["grads", grads[i]], ["m", m[i]], ["v", v[i]]] as const) {
      checkTensor(op, `${name}[${i}]`, t, size);
      if (t.size !== size) throw new UserError(`${op}: ${name}[${i}] has ${t.size} elements, params ${size}`);
    }
  }
}
