/**
 * Argument checks shared by the backends: a tensor too small for the shape it is called with, the wrong
 * dtype, an impossible attention/RoPE shape or an output passed where the op reads is reported as a
 * one-line {@link UserError} before any kernel runs (a kernel would otherwise read past the tensor,
 * silently into a neighbour, or read what it has already overwritten).
 *
 * Aliasing rules (every backend refuses the rest with the same message): no output is also another
 * output or an input, except `ropeForward`'s `out`, which may be `x` (in place), and `add`'s `out`,
 * which may be `a`. Inputs may be the same tensor as each other. Tensors never partly overlap (each
 * is a tensor or group member of its own), so identity is overlap.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { AttentionShape, Backend, DType, RopeShape, Tensor } from "./backend.ts";

/** Throws unless `t` holds at least `size` elements of `dtype` (or of one of several). */
export function checkTensor(
  op: string,
  name: string,
  t: Tensor,
  size: number,
  dtype: DType | readonly DType[] = "f32",
): void {
  const ok = typeof dtype === "string" ? t.dtype === dtype : dtype.includes(t.dtype);
  if (!ok) {
    throw new UserError(`${op}: ${name} must be ${[dtype].flat().join(" or ")}, got ${t.dtype}`);
  }
  if (t.size < size) throw new UserError(`${op}: ${name} has ${t.size} elements, the shape needs ${size}`);
}

/** A tensor with the name an error message gives it. */
export type Named = readonly [string, Tensor];

/**
 * Throws when an output is also another output or an input (see the module's aliasing rules).
 * `mayAlias` names the inputs that may be the output itself (`ropeForward`'s `x`, `add`'s `a`).
 * Empty outputs write nothing and are exempt.
 */
export function checkAliasing(
  op: string,
  outputs: readonly Named[],
  inputs: readonly Named[],
  mayAlias: readonly string[] = [],
): void {
  const written = new Map<Tensor, string>();
  for (const [name, t] of outputs) {
    const other = written.get(t);
    if (other !== undefined) throw new UserError(`${op}: ${name} is the same tensor as ${other}`);
    if (t.size > 0) written.set(t, name);
  }
  for (const [name, t] of inputs) {
    const other = written.get(t);
    if (other !== undefined && !mayAlias.includes(name)) {
      throw new UserError(`${op}: ${other} is the same tensor as ${name}`);
    }
  }
}

/** Throws unless `data` is what `t` is written with: Int32Array for i32, Uint16Array (bits) for bf16. */
export function checkWriteData(t: Tensor, data: Float32Array | Int32Array | Uint16Array): void {
  const want = t.dtype === "i32" ? Int32Array : t.dtype === "bf16" ? Uint16Array : Float32Array;
  if (!(data instanceof want)) {
    throw new UserError(`write: ${data.constructor.name} data into a ${t.dtype} tensor`);
  }
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
  if (s.nQueryGroups === 0 || s.nHead % s.nQueryGroups !== 0) {
    throw new UserError(`${op}: nHead (${s.nHead}) must be a multiple of nQueryGroups (${s.nQueryGroups})`);
  }
  if (s.tq > s.kvLen || s.kvLen > s.kvStride) {
    throw new UserError(`${op}: need tq ≤ kvLen ≤ kvStride, got ${s.tq}, ${s.kvLen}, ${s.kvStride}`);
  }
}

/** Throws on an impossible RoPE shape (the rotate-half layout needs an even head size). */
export function checkRopeShape(op: string, s: RopeShape): void {
  checkDims(op, { b: s.b, t: s.t, nHeads: s.nHeads, headSize: s.headSize, posOffset: s.posOffset });
  if (s.headSize % 2 !== 0) throw new UserError(`${op}: headSize must be even, got ${s.headSize}`);
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

// ---- per-op contracts ----
// One function per op of the `Backend` interface: the shape, dtype and aliasing checks every backend
// makes before it runs the op, in one place so the three backends report the same error for the same
// bad call. Each takes exactly its op's arguments (typed from the interface, so the two cannot drift
// apart). What only one backend needs (WebGPU's binding limits, the token-id range checks that need the
// ids' values) stays in that backend.

/** `embeddingForward`'s contract: `out` `[n, c]`, `ids` `[n]` i32. */
export function checkEmbeddingForward(
  ...[out, table, ids, n, c]: Parameters<Backend["embeddingForward"]>
): void {
  const op = "embeddingForward";
  checkDims(op, { n, c });
  checkTensor(op, "out", out, n * c);
  checkTensor(op, "table", table, 0, ["f32", "bf16"]); // bf16: inference weights
  checkTensor(op, "ids", ids, n, "i32");
  checkAliasing(op, [["out", out]], [["table", table], ["ids", ids]]);
}

/** `embeddingBackward`'s contract: `dout` `[n, c]`, `ids` `[n]` i32. */
export function checkEmbeddingBackward(
  ...[dtable, dout, ids, n, c]: Parameters<Backend["embeddingBackward"]>
): void {
  const op = "embeddingBackward";
  checkDims(op, { n, c });
  checkTensor(op, "dtable", dtable, 0);
  checkTensor(op, "dout", dout, n * c);
  checkTensor(op, "ids", ids, n, "i32");
  checkAliasing(op, [["dtable", dtable]], [["dout", dout], ["ids", ids]]);
}

/** `rmsnormForward`'s contract: `out`, `x` `[n, c]`, `rstd` `[n]`, `weight` `[c]`. */
export function checkRmsnormForward(
  ...[out, rstd, x, weight, n, c]: Parameters<Backend["rmsnormForward"]>
): void {
  const op = "rmsnormForward";
  checkDims(op, { n, c });
  checkTensor(op, "out", out, n * c);
  checkTensor(op, "rstd", rstd, n);
  checkTensor(op, "x", x, n * c);
  checkTensor(op, "weight", weight, c);
  checkAliasing(op, [["out", out], ["rstd", rstd]], [["x", x], ["weight", weight]]);
}

/** `rmsnormBackward`'s contract: `dx`, `dout`, `x` `[n, c]`, `dweight`, `weight` `[c]`, `rstd` `[n]`. */
export function checkRmsnormBackward(
  ...[dx, dweight, dout, x, weight, rstd, n, c]: Parameters<Backend["rmsnormBackward"]>
): void {
  const op = "rmsnormBackward";
  checkDims(op, { n, c });
  for (const [name, t] of [["dx", dx], ["dout", dout], ["x", x]] as const) checkTensor(op, name, t, n * c);
  checkTensor(op, "dweight", dweight, c);
  checkTensor(op, "weight", weight, c);
  checkTensor(op, "rstd", rstd, n);
  checkAliasing(op, [["dx", dx], ["dweight", dweight]], [
    ["dout", dout],
    ["x", x],
    ["weight", weight],
    ["rstd", rstd],
  ]);
}

/** `matmulForward`'s contract: `out` `[n, m]`, `x` `[n, k]`, `w` `[m, k]`. */
export function checkMatmulForward(...[out, x, w, n, k, m]: Parameters<Backend["matmulForward"]>): void {
  const op = "matmulForward";
  checkDims(op, { n, k, m });
  checkTensor(op, "out", out, n * m);
  checkTensor(op, "x", x, n * k);
  checkTensor(op, "w", w, m * k, ["f32", "bf16"]);
  checkAliasing(op, [["out", out]], [["x", x], ["w", w]]);
}

/** `matmulBackward`'s contract: `dout` `[n, m]`, `x` and `dx` (when wanted) `[n, k]`, `w` and `dw` `[m, k]`. */
export function checkMatmulBackward(
  ...[dx, dw, dout, x, w, n, k, m]: Parameters<Backend["matmulBackward"]>
): void {
  const op = "matmulBackward";
  checkDims(op, { n, k, m });
  checkTensor(op, "dout", dout, n * m);
  checkTensor(op, "x", x, n * k);
  checkTensor(op, "w", w, m * k);
  if (dx) checkTensor(op, "dx", dx, n * k);
  if (dw) checkTensor(op, "dw", dw, m * k);
  const outputs: Named[] = [];
  if (dx) outputs.push(["dx", dx]);
  if (dw) outputs.push(["dw", dw]);
  checkAliasing(op, outputs, [["dout", dout], ["x", x], ["w", w]]);
}

/** `ropeForward`'s contract: `out` and `x` `[b, t, nHeads, headSize]`. */
export function checkRopeForward(...[out, x, s]: Parameters<Backend["ropeForward"]>): void {
  checkRope("ropeForward", { out, x }, s);
  checkAliasing("ropeForward", [["out", out]], [["x", x]], ["x"]);
}

/** `ropeBackward`'s contract: `dx` and `dout` `[b, t, nHeads, headSize]`. */
export function checkRopeBackward(...[dx, dout, s]: Parameters<Backend["ropeBackward"]>): void {
  checkRope("ropeBackward", { dx, dout }, s);
  checkAliasing("ropeBackward", [["dx", dx]], [["dout", dout]]);
}

function checkRope(op: string, tensors: Record<string, Tensor>, s: RopeShape): void {
  checkRopeShape(op, s);
  const size = s.b * s.t * s.nHeads * s.headSize;
  for (const [name, t] of Object.entries(tensors)) checkTensor(op, name, t, size);
}

/** `attentionForward`'s contract: `out`, `q` query-shaped, `k`, `v` cache-shaped, `lse` `[b, nHead, tq]`. */
export function checkAttentionForward(
  ...[out, lse, q, k, v, s]: Parameters<Backend["attentionForward"]>
): void {
  const op = "attentionForward";
  checkAttention(op, s, { out, q }, { k, v }, lse);
  checkAliasing(op, [["out", out], ["lse", lse]], [["q", q], ["k", k], ["v", v]]);
}

/** `attentionBackward`'s contract: as {@link checkAttentionForward}, each gradient shaped as its input. */
export function checkAttentionBackward(
  ...[dq, dk, dv, dout, q, k, v, out, lse, s]: Parameters<Backend["attentionBackward"]>
): void {
  const op = "attentionBackward";
  checkAttention(op, s, { dq, dout, q, out }, { dk, dv, k, v }, lse);
  checkAliasing(op, [["dq", dq], ["dk", dk], ["dv", dv]], [
    ["dout", dout],
    ["q", q],
    ["k", k],
    ["v", v],
    ["out", out],
    ["lse", lse],
  ]);
}

function checkAttention(
  op: string,
  s: AttentionShape,
  queryLike: Record<string, Tensor>,
  kvLike: Record<string, Tensor>,
  lse: Tensor,
): void {
  checkAttentionShape(op, s);
  for (const [name, t] of Object.entries(queryLike)) {
    checkTensor(op, name, t, s.b * s.tq * s.nHead * s.headSize);
  }
  for (const [name, t] of Object.entries(kvLike)) {
    checkTensor(op, name, t, s.b * s.kvStride * s.nQueryGroups * s.headSize);
  }
  checkTensor(op, "lse", lse, s.b * s.nHead * s.tq);
}

/** `swigluForward`'s contract: `out`, `gate`, `up` `[n]`. */
export function checkSwigluForward(...[out, gate, up, n]: Parameters<Backend["swigluForward"]>): void {
  checkElementwise("swigluForward", { out, gate, up }, n);
  checkAliasing("swigluForward", [["out", out]], [["gate", gate], ["up", up]]);
}

/** `swigluBackward`'s contract: `dgate`, `dup`, `dout`, `gate`, `up` `[n]`. */
export function checkSwigluBackward(
  ...[dgate, dup, dout, gate, up, n]: Parameters<Backend["swigluBackward"]>
): void {
  checkElementwise("swigluBackward", { dgate, dup, dout, gate, up }, n);
  checkAliasing("swigluBackward", [["dgate", dgate], ["dup", dup]], [
    ["dout", dout],
    ["gate", gate],
    ["up", up],
  ]);
}

/** `add`'s contract: `out`, `a`, `b` `[n]`; `out` may be `a` (in place), not `b`. */
export function checkAdd(...[out, a, b, n]: Parameters<Backend["add"]>): void {
  checkElementwise("add", { out, a, b }, n);
  checkAliasing("add", [["out", out]], [["a", a], ["b", b]], ["a"]);
}

function checkElementwise(op: string, tensors: Record<string, Tensor>, n: number): void {
  checkDims(op, { n });
  for (const [name, t] of Object.entries(tensors)) checkTensor(op, name, t, n);
}

/** `crossEntropy`'s contract: `losses` `[n]`, `logits` `[n, v]`, `targets` `[n]` i32. */
export function checkCrossEntropy(
  ...[losses, logits, targets, n, v]: Parameters<Backend["crossEntropy"]>
): void {
  const op = "crossEntropy";
  checkDims(op, { n, v });
  checkTensor(op, "losses", losses, n);
  checkTensor(op, "logits", logits, n * v);
  checkTensor(op, "targets", targets, n, "i32");
  checkAliasing(op, [["losses", losses], ["logits", logits]], [["targets", targets]]);
}

/** `sumSquares`'s contract: `out` holds one element, every `xs[i]` is f32 and none is `out`. */
export function checkSumSquares(...[out, xs]: Parameters<Backend["sumSquares"]>): void {
  const op = "sumSquares";
  checkTensor(op, "out", out, 1);
  xs.forEach((x, i) => checkTensor(op, `xs[${i}]`, x, 0));
  checkAliasing(op, [["out", out]], named(xs, "xs"));
}

/** `scaleBy`'s contract: `s` holds one element, every `xs[i]` is f32, appears once and is not `s`. */
export function checkScaleBy(...[xs, s]: Parameters<Backend["scaleBy"]>): void {
  const op = "scaleBy";
  checkTensor(op, "s", s, 1);
  xs.forEach((x, i) => checkTensor(op, `xs[${i}]`, x, 0));
  checkAliasing(op, named(xs, "xs"), [["s", s]]);
}

/** `[name[i], list[i]]` for every tensor of a list. */
function named(list: readonly Tensor[], name: string): Named[] {
  return list.map((t, i) => [`${name}[${i}]`, t] as const);
}

/** `adamw`'s contract: the lists line up ({@link checkAdamWLists}) and `step` is a 1-based integer. */
export function checkAdamW(...[params, grads, m, v, p, mask]: Parameters<Backend["adamw"]>): void {
  checkAdamWLists("adamw", params, grads, m, v, mask);
  if (!Number.isInteger(p.step) || p.step < 1) {
    throw new UserError(`adamw: step must be ≥ 1, got ${p.step}`);
  }
  const outputs = [...named(params, "params"), ...named(m, "m"), ...named(v, "v")];
  checkAliasing("adamw", outputs, named(grads, "grads"));
}

/** `clipFactor`'s contract: `s` and `normSq` hold one element each. */
export function checkClipFactor(...[s, normSq]: Parameters<Backend["clipFactor"]>): void {
  checkTensor("clipFactor", "s", s, 1);
  checkTensor("clipFactor", "normSq", normSq, 1);
  checkAliasing("clipFactor", [["s", s]], [["normSq", normSq]]);
}

/** `view`'s contract: `[offset, offset + size)` inside `t`. */
export function checkView(...[t, offset, size]: Parameters<Backend["view"]>): void {
  checkDims("view", { offset, size });
  if (offset + size > t.size) {
    throw new UserError(`view: elements [${offset}, ${offset + size}) outside a tensor of ${t.size}`);
  }
}
