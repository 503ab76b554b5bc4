/**
 * The reference backend: every op of {@link Backend} as the obvious loops over `Float64Array` storage.
 * It is the oracle the WASM and WebGPU backends and the model are tested against, so it favours being
 * plainly right over being fast: attention materialises each score row, backward passes recompute
 * what they need from their inputs, and nothing is fused.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * const be = new ReferenceBackend();
 * const x = be.alloc(6), w = be.alloc(6), out = be.alloc(4);
 * be.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * be.write(w, new Float32Array([1, 0, 0, 0, 1, 0]));
 * be.matmulForward(out, x, w, 2, 3, 2); // out = [[1, 2], [4, 5]]
 * console.log(await be.read(out));
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type {
  AdamWParams,
  AttentionShape,
  Backend,
  BackendInfo,
  DType,
  RopeShape,
  Tensor,
} from "./backend.ts";
import * as checks from "./contract.ts";
import { checkWriteData } from "./contract.ts";
import { bf16ToF32 } from "./bf16.ts";

/** One allocation (a lone tensor or a whole group): freeing any member frees all of it. */
class Allocation {
  freed = false;
  constructor(readonly owner: ReferenceBackend) {}
}

/**
 * A reference tensor: f32 and bf16 tensors are held in f64, i32 tensors in i32. A view shares its
 * parent's storage and allocation (freed with it).
 */
class ReferenceTensor implements Tensor {
  readonly size: number;
  readonly dtype: DType;
  readonly data: Float64Array | Int32Array;
  constructor(size: number, dtype: DType, readonly allocation: Allocation, data?: Float64Array | Int32Array) {
    this.size = size;
    this.dtype = dtype;
    this.data = data ?? (dtype === "i32" ? new Int32Array(size) : new Float64Array(size));
  }
}

/**
 * Plain TypeScript f64 implementation of {@link Backend}, and the strictest one: a freed tensor (or any
 * member of a freed group) is poisoned, its storage overwritten with NaN and every later use refused;
 * a tensor of another backend is refused; aliasing the contract forbids is refused (`contract.ts`).
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * const be = new ReferenceBackend();
 * const a = be.alloc(3);
 * be.write(a, new Float32Array([3, 4, 0]));
 * const sq = be.alloc(1);
 * be.sumSquares(sq, [a]);
 * console.log(be.f64(sq)[0]); // 25
 * ```
 */
export class ReferenceBackend implements Backend {
  readonly info: BackendInfo = {
    name: "reference",
    device: "TypeScript f64 (reference)",
    gpu: false,
    maxTensorElements: 2 ** 30,
    memoryBytes: null,
  };

  // ---- memory ----

  readonly #groups = new Map<Allocation, ReferenceTensor[]>();

  alloc(size: number, dtype: DType = "f32"): Tensor {
    return this.allocGroup([size], dtype)[0];
  }

  allocGroup(sizes: readonly number[], dtype: DType = "f32"): Tensor[] {
    sizes.forEach((size, i) => checks.checkDims("allocGroup", { [`sizes[${i}]`]: size }));
    const allocation = new Allocation(this);
    const members = sizes.map((size) => new ReferenceTensor(size, dtype, allocation));
    this.#groups.set(allocation, members);
    return members;
  }

  free(t: Tensor): void {
    const { allocation } = this.#own(t);
    allocation.freed = true;
    // Poisoned: a view kept from `f64` reads NaN, and `#own` refuses every later use.
    for (const member of this.#groups.get(allocation)!) member.data.fill(member.dtype === "i32" ? -1 : NaN);
    this.#groups.delete(allocation);
  }

  write(t: Tensor, data: Float32Array | Int32Array | Uint16Array, offset = 0): void {
    const dst = this.#own(t).data;
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > t.size) {
      throw new UserError(
        `write: ${data.length} elements at offset ${offset} overflow a tensor of ${t.size}`,
      );
    }
    checkWriteData(t, data);
    dst.set(data instanceof Uint16Array ? bf16ToF32(data) : data, offset);
  }

  read(t: Tensor, offset?: number, length?: number): Promise<Float32Array | Int32Array> {
    offset ??= 0;
    length ??= t.size - offset;
    try {
      const src = this.#own(t).data;
      if (
        !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
        offset + length > t.size
      ) {
        throw new UserError(`read: ${length} elements at offset ${offset} exceed ${t.size}`);
      }
      const part = src.subarray(offset, offset + length);
      return Promise.resolve(t.dtype === "i32" ? Int32Array.from(part) : Float32Array.from(part));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The live f64 storage of an f32 tensor (reference only): tests perturb inputs and read results at
   * full precision through it.
   */
  f64(t: Tensor): Float64Array {
    const data = this.#own(t).data;
    if (!(data instanceof Float64Array)) throw new UserError("f64: tensor is i32");
    return data;
  }

  zero(t: Tensor): void {
    this.#own(t).data.fill(0);
  }

  copy(dst: Tensor, src: Tensor, n: number, dstOffset = 0, srcOffset = 0): void {
    this.#own(dst);
    this.#own(src);
    checks.checkDims("copy", { n, dstOffset, srcOffset });
    if (dst.dtype !== src.dtype) throw new UserError(`copy: ${src.dtype} into ${dst.dtype}`);
    if (dstOffset + n > dst.size || srcOffset + n > src.size) {
      throw new UserError(`copy: ${n} elements overflow (dst ${dst.size}, src ${src.size})`);
    }
    const d = this.#own(dst).data, s = this.#own(src).data;
    for (let i = 0; i < n; i++) d[dstOffset + i] = s[srcOffset + i];
  }

  // ---- embedding ----

  embeddingForward(out: Tensor, table: Tensor, ids: Tensor, n: number, c: number): void {
    checks.checkEmbeddingForward(out, table, ids, n, c);
    const o = this.#f(out), tab = this.#f(table), id = this.#i(ids);
    checkIds("embeddingForward", id, n, Math.floor(table.size / Math.max(c, 1)));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < c; j++) o[i * c + j] = tab[id[i] * c + j];
    }
  }

  embeddingBackward(dtable: Tensor, dout: Tensor, ids: Tensor, n: number, c: number): void {
    checks.checkEmbeddingBackward(dtable, dout, ids, n, c);
    const dt = this.#f(dtable), d = this.#f(dout), id = this.#i(ids);
    checkIds("embeddingBackward", id, n, Math.floor(dtable.size / Math.max(c, 1)));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < c; j++) dt[id[i] * c + j] += d[i * c + j];
    }
  }

  // ---- RMSNorm ----

  rmsnormForward(
    out: Tensor,
    rstd: Tensor,
    x: Tensor,
    weight: Tensor,
    n: number,
    c: number,
    eps: number,
  ): void {
    checks.checkRmsnormForward(out, rstd, x, weight, n, c, eps);
    const o = this.#f(out), r = this.#f(rstd), xs = this.#f(x), w = this.#f(weight);
    for (let i = 0; i < n; i++) {
      let ss = 0;
      for (let j = 0; j < c; j++) ss += xs[i * c + j] * xs[i * c + j];
      const rs = 1 / Math.sqrt(ss / c + eps);
      r[i] = rs;
      for (let j = 0; j < c; j++) o[i * c + j] = xs[i * c + j] * rs * w[j];
    }
  }

  rmsnormBackward(
    dx: Tensor,
    dweight: Tensor,
    dout: Tensor,
    x: Tensor,
    weight: Tensor,
    rstd: Tensor,
    n: number,
    c: number,
  ): void {
    checks.checkRmsnormBackward(dx, dweight, dout, x, weight, rstd, n, c);
    const gx = this.#f(dx), gw = this.#f(dweight), d = this.#f(dout);
    const xs = this.#f(x), w = this.#f(weight), r = this.#f(rstd);
    for (let i = 0; i < n; i++) {
      // out_j = w_j·x_j·r with r = (Σx²/c + eps)^(-1/2), so ∂r/∂x_j = −r³·x_j/c.
      const rs = r[i];
      let dot = 0;
      for (let j = 0; j < c; j++) dot += d[i * c + j] * w[j] * xs[i * c + j];
      for (let j = 0; j < c; j++) {
        const xj = xs[i * c + j];
        gx[i * c + j] += d[i * c + j] * w[j] * rs - dot * rs * rs * rs * xj / c;
        gw[j] += d[i * c + j] * xj * rs;
      }
    }
  }

  // ---- linear ----

  matmulForward(out: Tensor, x: Tensor, w: Tensor, n: number, k: number, m: number): void {
    checks.checkMatmulForward(out, x, w, n, k, m);
    const o = this.#f(out), xs = this.#f(x), ws = this.#f(w);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += xs[i * k + p] * ws[j * k + p];
        o[i * m + j] = s;
      }
    }
  }

  matmulBackward(
    dx: Tensor | null,
    dw: Tensor | null,
    dout: Tensor,
    x: Tensor,
    w: Tensor,
    n: number,
    k: number,
    m: number,
  ): void {
    checks.checkMatmulBackward(dx, dw, dout, x, w, n, k, m);
    const d = this.#f(dout), xs = this.#f(x), ws = this.#f(w);
    if (dx) {
      const gx = this.#f(dx);
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < k; p++) {
          let s = 0;
          for (let j = 0; j < m; j++) s += d[i * m + j] * ws[j * k + p];
          gx[i * k + p] += s;
        }
      }
    }
    if (dw) {
      const gw = this.#f(dw);
      for (let j = 0; j < m; j++) {
        for (let p = 0; p < k; p++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += d[i * m + j] * xs[i * k + p];
          gw[j * k + p] += s;
        }
      }
    }
  }

  // ---- RoPE ----

  ropeForward(out: Tensor, x: Tensor, s: RopeShape): void {
    checks.checkRopeForward(out, x, s);
    this.#rope(out, x, s, 1, false);
  }

  ropeBackward(dx: Tensor, dout: Tensor, s: RopeShape): void {
    checks.checkRopeBackward(dx, dout, s);
    this.#rope(dx, dout, s, -1, true);
  }

  /** Rotates pairs `(d, d + hd/2)` by `sign·angle`, writing or accumulating into `out`. */
  #rope(out: Tensor, x: Tensor, s: RopeShape, sign: number, accumulate: boolean): void {
    const o = this.#f(out), xs = this.#f(x);
    const half = s.headSize / 2;
    for (let b = 0; b < s.b; b++) {
      for (let t = 0; t < s.t; t++) {
        const pos = s.posOffset + t;
        for (let h = 0; h < s.nHeads; h++) {
          const base = ((b * s.t + t) * s.nHeads + h) * s.headSize;
          for (let d = 0; d < half; d++) {
            const angle = pos * Math.pow(s.base, (-2 * d) / s.headSize);
            const cos = Math.cos(angle), sin = sign * Math.sin(angle);
            const x1 = xs[base + d], x2 = xs[base + d + half];
            const y1 = x1 * cos - x2 * sin, y2 = x2 * cos + x1 * sin;
            if (accumulate) {
              o[base + d] += y1;
              o[base + d + half] += y2;
            } else {
              o[base + d] = y1;
              o[base + d + half] = y2;
            }
          }
        }
      }
    }
  }

  // ---- attention ----

  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionShape): void {
    checks.checkAttentionForward(out, lse, q, k, v, s);
    const o = this.#f(out), l = this.#f(lse), qs = this.#f(q), ks = this.#f(k), vs = this.#f(v);
    const hd = s.headSize;
    for (let b = 0; b < s.b; b++) {
      for (let h = 0; h < s.nHead; h++) {
        for (let i = 0; i < s.tq; i++) {
          const { probs, lse: rowLse } = attentionRow(qs, ks, s, b, h, i);
          l[(b * s.nHead + h) * s.tq + i] = rowLse;
          const oi = qIndex(s, b, i, h);
          for (let d = 0; d < hd; d++) {
            let acc = 0;
            for (let j = 0; j < probs.length; j++) acc += probs[j] * vs[kvIndex(s, b, j, h) + d];
            o[oi + d] = acc;
          }
        }
      }
    }
  }

  attentionBackward(
    dq: Tensor,
    dk: Tensor,
    dv: Tensor,
    dout: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    s: AttentionShape,
  ): void {
    checks.checkAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s);
    const gq = this.#f(dq), gk = this.#f(dk), gv = this.#f(dv), d = this.#f(dout);
    const qs = this.#f(q), ks = this.#f(k), vs = this.#f(v);
    const hd = s.headSize, scale = 1 / Math.sqrt(hd);
    // The reference recomputes the probabilities from q and k (`out` and `lse` are the fast backends'
    // shortcut), so it checks the op, not a backend's own saved statistics.
    for (let b = 0; b < s.b; b++) {
      for (let h = 0; h < s.nHead; h++) {
        for (let i = 0; i < s.tq; i++) {
          const { probs } = attentionRow(qs, ks, s, b, h, i);
          const qi = qIndex(s, b, i, h);
          // dP_j = dout_i·v_j; dS_j = P_j (dP_j − Σ_l P_l dP_l).
          const dp = new Float64Array(probs.length);
          let rowDot = 0;
          for (let j = 0; j < probs.length; j++) {
            const vj = kvIndex(s, b, j, h);
            let acc = 0;
            for (let e = 0; e < hd; e++) acc += d[qi + e] * vs[vj + e];
            dp[j] = acc;
            rowDot += probs[j] * acc;
          }
          for (let j = 0; j < probs.length; j++) {
            const kj = kvIndex(s, b, j, h);
            const ds = probs[j] * (dp[j] - rowDot) * scale;
            for (let e = 0; e < hd; e++) {
              gq[qi + e] += ds * ks[kj + e];
              gk[kj + e] += ds * qs[qi + e];
              gv[kj + e] += probs[j] * d[qi + e];
            }
          }
        }
      }
    }
  }

  // ---- SwiGLU ----

  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void {
    checks.checkSwigluForward(out, gate, up, n);
    const o = this.#f(out), g = this.#f(gate), u = this.#f(up);
    for (let i = 0; i < n; i++) o[i] = g[i] * sigmoid(g[i]) * u[i];
  }

  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
    checks.checkSwigluBackward(dgate, dup, dout, gate, up, n);
    const gg = this.#f(dgate), gu = this.#f(dup), d = this.#f(dout), g = this.#f(gate), u = this.#f(up);
    for (let i = 0; i < n; i++) {
      const sg = sigmoid(g[i]);
      // d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
      gg[i] += d[i] * u[i] * sg * (1 + g[i] * (1 - sg));
      gu[i] += d[i] * g[i] * sg;
    }
  }

  // ---- residual ----

  add(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    checks.checkAdd(out, a, b, n);
    const o = this.#f(out), as = this.#f(a), bs = this.#f(b);
    for (let i = 0; i < n; i++) o[i] = as[i] + bs[i];
  }

  // ---- loss ----

  crossEntropy(
    losses: Tensor,
    logits: Tensor,
    targets: Tensor,
    n: number,
    v: number,
    gradScale: number | null,
  ): void {
    const op = "crossEntropy";
    checks.checkCrossEntropy(losses, logits, targets, n, v, gradScale);
    const ls = this.#f(losses), z = this.#f(logits), tg = this.#i(targets);
    // Every target is checked before anything is written: a refused call changes nothing.
    for (let i = 0; i < n; i++) {
      if (tg[i] >= v) {
        throw new UserError(`${op}: target ${tg[i]} at row ${i} is outside the vocabulary ${v}`);
      }
    }
    for (let i = 0; i < n; i++) {
      const target = tg[i];
      const row = z.subarray(i * v, (i + 1) * v);
      let max = -Infinity;
      for (let j = 0; j < v; j++) max = Math.max(max, row[j]);
      let sum = 0;
      for (let j = 0; j < v; j++) sum += Math.exp(row[j] - max);
      const lse = max + Math.log(sum);
      ls[i] = target < 0 ? 0 : lse - row[target];
      if (gradScale !== null) {
        for (let j = 0; j < v; j++) {
          row[j] = target < 0 ? 0 : gradScale * (Math.exp(row[j] - lse) - (j === target ? 1 : 0));
        }
      }
    }
  }

  // ---- optimizer ----

  sumSquares(out: Tensor, xs: readonly Tensor[]): void {
    checks.checkSumSquares(out, xs);
    let s = 0;
    for (const t of xs) {
      const x = this.#f(t);
      for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    }
    this.#f(out)[0] += s;
  }

  scaleBy(xs: readonly Tensor[], s: Tensor): void {
    checks.checkScaleBy(xs, s);
    const factor = this.#f(s)[0];
    for (const t of xs) {
      const x = this.#f(t);
      for (let i = 0; i < x.length; i++) x[i] *= factor;
    }
  }

  adamw(
    params: readonly Tensor[],
    grads: readonly Tensor[],
    m: readonly Tensor[],
    v: readonly Tensor[],
    p: AdamWParams,
    weightDecayMask?: readonly boolean[],
  ): void {
    checks.checkAdamW(params, grads, m, v, p, weightDecayMask);
    const bc1 = 1 - Math.pow(p.beta1, p.step), bc2 = 1 - Math.pow(p.beta2, p.step);
    for (let t = 0; t < params.length; t++) {
      const ps = this.#f(params[t]), gs = this.#f(grads[t]), ms = this.#f(m[t]), vs = this.#f(v[t]);
      const decay = (weightDecayMask?.[t] ?? true) ? p.weightDecay : 0;
      for (let i = 0; i < ps.length; i++) {
        ps[i] -= p.lr * decay * ps[i];
        ms[i] = p.beta1 * ms[i] + (1 - p.beta1) * gs[i];
        vs[i] = p.beta2 * vs[i] + (1 - p.beta2) * gs[i] * gs[i];
        ps[i] -= p.lr * (ms[i] / bc1) / (Math.sqrt(vs[i] / bc2) + p.eps);
      }
    }
  }

  clipFactor(s: Tensor, normSq: Tensor, maxNorm: number): void {
    checks.checkClipFactor(s, normSq, maxNorm);
    this.#f(s)[0] = Math.min(1, maxNorm / (Math.sqrt(this.#f(normSq)[0]) + 1e-6));
  }

  destroy(): void {
    for (const [allocation, [first]] of [...this.#groups]) {
      if (!allocation.freed) this.free(first);
    }
  }

  view(t: Tensor, offset: number, size: number): Tensor {
    checks.checkView(t, offset, size);
    const parent = this.#own(t);
    return new ReferenceTensor(size, t.dtype, parent.allocation, parent.data.subarray(offset, offset + size));
  }

  // ---- helpers ----

  #own(t: Tensor): ReferenceTensor {
    if (!(t instanceof ReferenceTensor)) {
      throw new UserError("tensor does not belong to this reference backend");
    }
    if (t.allocation.freed) throw new UserError("tensor used after free");
    if (t.allocation.owner !== this) throw new UserError("tensor does not belong to this reference backend");
    return t;
  }

  #f(t: Tensor): Float64Array {
    const data = this.#own(t).data;
    if (!(data instanceof Float64Array)) throw new UserError("expected an f32 tensor, got i32");
    return data;
  }

  #i(t: Tensor): Int32Array {
    const data = this.#own(t).data;
    if (!(data instanceof Int32Array)) throw new UserError("expected an i32 tensor, got f32");
    return data;
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Checks every id before anything is written: a refused call changes nothing. */
function checkIds(op: string, ids: Int32Array, n: number, vocab: number): void {
  for (let i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw new UserError(`${op}: token id ${ids[i]} is outside the table's ${vocab} rows`);
    }
  }
}

/** Offset of query `(b, i, h)` in `[B, tq, nHead, hd]`. */
function qIndex(s: AttentionShape, b: number, i: number, h: number): number {
  return ((b * s.tq + i) * s.nHead + h) * s.headSize;
}

/** Offset of key/value position `j` serving query head `h` in `[B, kvStride, nQueryGroups, hd]`. */
function kvIndex(s: AttentionShape, b: number, j: number, h: number): number {
  const kvHead = Math.floor(h / (s.nHead / s.nQueryGroups));
  return ((b * s.kvStride + j) * s.nQueryGroups + kvHead) * s.headSize;
}

/** Softmax of one causal score row: query `i` sees keys `0 ..= kvLen − tq + i`. */
function attentionRow(
  q: Float64Array,
  k: Float64Array,
  s: AttentionShape,
  b: number,
  h: number,
  i: number,
): { probs: Float64Array; lse: number } {
  const scale = 1 / Math.sqrt(s.headSize);
  const visible = s.kvLen - s.tq + i + 1;
  const scores = new Float64Array(visible);
  const qi = qIndex(s, b, i, h);
  let max = -Infinity;
  for (let j = 0; j < visible; j++) {
    const kj = kvIndex(s, b, j, h);
    let dot = 0;
    for (let e = 0; e < s.headSize; e++) dot += q[qi + e] * k[kj + e];
    scores[j] = dot * scale;
    max = Math.max(max, scores[j]);
  }
  let sum = 0;
  for (let j = 0; j < visible; j++) sum += Math.exp(scores[j] - max);
  const lse = max + Math.log(sum);
  for (let j = 0; j < visible; j++) scores[j] = Math.exp(scores[j] - lse);
  return { probs: scores, lse };
}
