/**
 * The WASM backend: every op of {@link Backend} runs in the Rust compute core (`crates/core`, built
 * to `./_wasm/` with SIMD128, relaxed SIMD and threads). Tensors are regions of the module's shared
 * linear memory; kernels receive byte offsets and sizes, so a call copies no tensor data. `allocGroup`
 * places its tensors back to back in one region, so that AdamW, the squared norm, scaling and zeroing
 * over a whole group run as one call.
 *
 * Threads: the kernels split their work (matmul tiles, attention batch rows, row and element ranges)
 * between the calling thread and worker threads over the same memory (`_wasm_runtime.ts`). Every op
 * is still synchronous: it returns when all its tasks are done. A backend asks for `threads` threads
 * (default: `TINYLLAMA_THREADS` if readable, else the logical cores); {@link WasmBackend.create} waits
 * until the workers have started, the constructor does not (the first ops then run on fewer threads,
 * with the same results: which thread runs a task never changes what it computes).
 *
 * Views of the memory (`Float32Array` over `memory.buffer`) are made afresh for each access: an
 * allocation may grow the memory, after which `memory.buffer` is a longer buffer.
 *
 * @example
 * ```ts
 * import { WasmBackend } from "@tinyllama-ts/backend-wasm";
 * const be = await WasmBackend.create();
 * const x = be.alloc(6), w = be.alloc(6), out = be.alloc(4);
 * be.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * be.write(w, new Float32Array([1, 0, 0, 0, 1, 0]));
 * be.matmulForward(out, x, w, 2, 3, 2);
 * console.log(await be.read(out)); // Float32Array [1, 2, 4, 5]
 * be.destroy();
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
} from "@tinyllama-ts/backend";
import { bf16ToF32, contract as checks } from "@tinyllama-ts/backend";
import { core, defaultThreads, memory, useThreads } from "./_wasm_runtime.ts";

const BYTES = 4; // f32 and i32 alike

/** Bytes of one element: bf16 tensors take two (weights at half the memory). */
function bytesOf(dtype: DType): number {
  return dtype === "bf16" ? 2 : BYTES;
}

/**
 * The largest one allocation of the core: Rust's allocator takes sizes up to `isize::MAX`, 2 GiB on
 * wasm32 (less the alignment).
 */
const MAX_REGION_BYTES = 2 ** 31 - 64;

/**
 * One allocation call in linear memory: a lone tensor or a whole group, in one part, or in several
 * when the group is over {@link MAX_REGION_BYTES} (then each part holds whole tensors).
 */
class Region {
  freed = false;
  constructor(readonly owner: WasmBackend, readonly parts: readonly { ptr: number; bytes: number }[]) {}
}

/** A tensor: `size` elements at `byteOffset` inside a {@link Region}. */
class WasmTensor implements Tensor {
  constructor(
    readonly size: number,
    readonly dtype: DType,
    readonly byteOffset: number,
    readonly region: Region,
  ) {}
  get byteEnd(): number {
    return this.byteOffset + this.size * bytesOf(this.dtype);
  }
}

/** Options of {@link WasmBackend}. */
export interface WasmBackendOptions {
  /**
   * Threads for the kernels, the caller included (default: `TINYLLAMA_THREADS` when set and readable,
   * else `navigator.hardwareConcurrency`). The worker threads are shared by every backend of the
   * isolate, and the most recently created backend's count applies to all.
   */
  threads?: number;
}

/**
 * {@link Backend} on the Rust/WASM compute core.
 *
 * @example
 * ```ts
 * import { WasmBackend } from "@tinyllama-ts/backend-wasm";
 * const be = await WasmBackend.create({ threads: 2 });
 * const [p, g, m, v] = [be.allocGroup([3, 2]), be.allocGroup([3, 2]), be.allocGroup([3, 2]), be.allocGroup([3, 2])];
 * be.adamw(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 });
 * be.destroy();
 * ```
 */
export class WasmBackend implements Backend {
  /** What this backend is; `device` names the thread count asked for. */
  readonly info: BackendInfo;
  readonly #regions = new Set<Region>();
  readonly #memory = memory;
  readonly #started: Promise<void>;

  /** A backend whose worker threads start in the background (see {@link create} to wait for them). */
  constructor(opts: WasmBackendOptions = {}) {
    const threads = opts.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new UserError(`wasm backend: threads must be a positive integer, got ${threads}`);
    }
    this.#started = useThreads(threads);
    this.info = {
      name: "wasm",
      device: `WebAssembly SIMD128, ${threads} thread${threads === 1 ? "" : "s"}`,
      gpu: false,
      maxTensorElements: Math.floor(MAX_REGION_BYTES / BYTES),
      memoryBytes: 0xffff_0000, // wasm32's one shared memory (4 GiB less the last page)
    };
  }

  /** A backend whose worker threads have started. */
  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    const be = new WasmBackend(opts);
    await be.#started;
    return be;
  }

  /** Threads the kernels use now (the caller and the workers that have joined). */
  get threads(): number {
    return core.pool_threads();
  }

  // ---- memory ----

  alloc(size: number, dtype: DType = "f32"): Tensor {
    return this.allocGroup([size], dtype)[0];
  }

  allocGroup(sizes: readonly number[], dtype: DType = "f32"): Tensor[] {
    sizes.forEach((size, i) => checks.checkDims("allocGroup", { [`sizes[${i}]`]: size }));
    const total = sizes.reduce((a, b) => a + b, 0), elem = bytesOf(dtype);
    if (total * elem > 0xffff_0000) {
      throw new UserError(`alloc: ${total} ${dtype} elements exceed the 4 GiB of wasm32`);
    }
    // Consecutive tensors go into one part while it stays under the core's 2 GiB allocation limit.
    const partOf: number[] = [], partElems: number[] = [];
    for (const [i, size] of sizes.entries()) {
      if (size * elem > MAX_REGION_BYTES) {
        throw new UserError(`alloc: sizes[${i}] (${size} ${dtype} elements) exceeds one 2 GiB wasm32 region`);
      }
      const last = partElems.length - 1;
      if (last >= 0 && (partElems[last] + size) * elem <= MAX_REGION_BYTES) partElems[last] += size;
      else partElems.push(size);
      partOf.push(partElems.length - 1);
    }
    if (partElems.length === 0) partElems.push(0);
    // Rounded up to whole f32s: `zero` clears four bytes at a time.
    const parts = partElems.map((n) => {
      const bytes = Math.ceil((n * elem) / BYTES) * BYTES;
      return { ptr: core.alloc(bytes), bytes };
    });
    const region = new Region(this, parts);
    this.#regions.add(region);
    const offsets = parts.map((p) => p.ptr);
    return sizes.map((size, i) => {
      const t = new WasmTensor(size, dtype, offsets[partOf[i]], region);
      offsets[partOf[i]] += size * elem;
      return t;
    });
  }

  free(t: Tensor): void {
    const { region } = this.#own(t);
    region.freed = true;
    this.#regions.delete(region);
    for (const p of region.parts) core.free(p.ptr, p.bytes);
  }

  write(t: Tensor, data: Float32Array | Int32Array | Uint16Array, offset = 0): void {
    const w = this.#own(t);
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > t.size) {
      throw new UserError(
        `write: ${data.length} elements at offset ${offset} overflow a tensor of ${t.size}`,
      );
    }
    checks.checkWriteData(t, data);
    this.#view(w, offset, data.length).set(data);
  }

  read(t: Tensor, offset?: number, length?: number): Promise<Float32Array | Int32Array> {
    offset ??= 0;
    length ??= t.size - offset;
    try {
      const w = this.#own(t);
      if (
        !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
        offset + length > t.size
      ) {
        throw new UserError(`read: ${length} elements at offset ${offset} exceed ${t.size}`);
      }
      const view = this.#view(w, offset, length);
      return Promise.resolve(view instanceof Uint16Array ? bf16ToF32(view) : view.slice());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  zero(t: Tensor): void {
    const w = this.#own(t);
    if (w.dtype === "bf16") {
      this.#view(w, 0, w.size).fill(0); // may start or end mid-f32: the core zeroes whole f32s
      return;
    }
    core.zero(w.byteOffset, w.byteEnd - w.byteOffset);
  }

  copy(dst: Tensor, src: Tensor, n: number, dstOffset = 0, srcOffset = 0): void {
    const d = this.#own(dst), s = this.#own(src);
    checks.checkDims("copy", { n, dstOffset, srcOffset });
    if (dst.dtype !== src.dtype) throw new UserError(`copy: ${src.dtype} into ${dst.dtype}`);
    if (dstOffset + n > dst.size || srcOffset + n > src.size) {
      throw new UserError(`copy: ${n} elements overflow (dst ${dst.size}, src ${src.size})`);
    }
    const elem = bytesOf(src.dtype), from = s.byteOffset + srcOffset * elem;
    new Uint8Array(this.#memory.buffer).copyWithin(d.byteOffset + dstOffset * elem, from, from + n * elem);
  }

  // ---- embedding ----

  embeddingForward(out: Tensor, table: Tensor, ids: Tensor, n: number, c: number): void {
    const op = "embeddingForward";
    checks.checkEmbeddingForward(out, table, ids, n, c);
    const embed = table.dtype === "bf16" ? core.embedding_forward_bf16 : core.embedding_forward;
    const bad = embed(this.#ptr(out), this.#ptr(table), table.size, this.#ptr(ids), n, c);
    if (bad >= 0) this.#badId(op, ids, bad, table.size, c);
  }

  embeddingBackward(dtable: Tensor, dout: Tensor, ids: Tensor, n: number, c: number): void {
    const op = "embeddingBackward";
    checks.checkEmbeddingBackward(dtable, dout, ids, n, c);
    const bad = core.embedding_backward(
      this.#ptr(dtable),
      dtable.size,
      this.#ptr(dout),
      this.#ptr(ids),
      n,
      c,
    );
    if (bad >= 0) this.#badId(op, ids, bad, dtable.size, c);
  }

  #badId(op: string, ids: Tensor, row: number, tableSize: number, c: number): never {
    const id = this.#view(this.#own(ids), row, 1)[0];
    throw new UserError(
      `${op}: token id ${id} is outside the table's ${Math.floor(tableSize / Math.max(c, 1))} rows`,
    );
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
    core.rmsnorm_forward(this.#ptr(out), this.#ptr(rstd), this.#ptr(x), this.#ptr(weight), n, c, eps);
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
    core.rmsnorm_backward(
      this.#ptr(dx),
      this.#ptr(dweight),
      this.#ptr(dout),
      this.#ptr(x),
      this.#ptr(weight),
      this.#ptr(rstd),
      n,
      c,
    );
  }

  // ---- linear ----

  matmulForward(out: Tensor, x: Tensor, w: Tensor, n: number, k: number, m: number): void {
    checks.checkMatmulForward(out, x, w, n, k, m);
    const matmul = w.dtype === "bf16" ? core.matmul_forward_bf16 : core.matmul_forward;
    matmul(this.#ptr(out), this.#ptr(x), this.#ptr(w), n, k, m);
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
    if (!dx && !dw) return;
    core.matmul_backward(
      dx ? this.#ptr(dx) : 0,
      dx !== null,
      dw ? this.#ptr(dw) : 0,
      dw !== null,
      this.#ptr(dout),
      this.#ptr(x),
      this.#ptr(w),
      n,
      k,
      m,
    );
  }

  // ---- RoPE ----

  ropeForward(out: Tensor, x: Tensor, s: RopeShape): void {
    checks.checkRopeForward(out, x, s);
    core.rope_forward(this.#ptr(out), this.#ptr(x), s.b, s.t, s.nHeads, s.headSize, s.base, s.posOffset);
  }

  ropeBackward(dx: Tensor, dout: Tensor, s: RopeShape): void {
    checks.checkRopeBackward(dx, dout, s);
    core.rope_backward(this.#ptr(dx), this.#ptr(dout), s.b, s.t, s.nHeads, s.headSize, s.base, s.posOffset);
  }

  // ---- attention ----

  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionShape): void {
    checks.checkAttentionForward(out, lse, q, k, v, s);
    core.attention_forward(
      this.#ptr(out),
      this.#ptr(lse),
      this.#ptr(q),
      this.#ptr(k),
      this.#ptr(v),
      s.b,
      s.tq,
      s.kvLen,
      s.kvStride,
      s.nHead,
      s.nQueryGroups,
      s.headSize,
    );
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
    core.attention_backward(
      this.#ptr(dq),
      this.#ptr(dk),
      this.#ptr(dv),
      this.#ptr(dout),
      this.#ptr(q),
      this.#ptr(k),
      this.#ptr(v),
      this.#ptr(out),
      this.#ptr(lse),
      s.b,
      s.tq,
      s.kvLen,
      s.kvStride,
      s.nHead,
      s.nQueryGroups,
      s.headSize,
    );
  }

  // ---- SwiGLU ----

  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void {
    checks.checkSwigluForward(out, gate, up, n);
    core.swiglu_forward(this.#ptr(out), this.#ptr(gate), this.#ptr(up), n);
  }

  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
    checks.checkSwigluBackward(dgate, dup, dout, gate, up, n);
    core.swiglu_backward(
      this.#ptr(dgate),
      this.#ptr(dup),
      this.#ptr(dout),
      this.#ptr(gate),
      this.#ptr(up),
      n,
    );
  }

  // ---- residual ----

  add(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    checks.checkAdd(out, a, b, n);
    core.add(this.#ptr(out), this.#ptr(a), this.#ptr(b), n);
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
    const bad = core.cross_entropy(
      this.#ptr(losses),
      this.#ptr(logits),
      this.#ptr(targets),
      n,
      v,
      gradScale !== null,
      gradScale ?? 0,
    );
    if (bad >= 0) {
      const target = this.#view(this.#own(targets), bad, 1)[0];
      throw new UserError(`${op}: target ${target} at row ${bad} is outside the vocabulary ${v}`);
    }
  }

  // ---- optimizer ----

  sumSquares(out: Tensor, xs: readonly Tensor[]): void {
    checks.checkSumSquares(out, xs);
    for (const [first, n] of this.#runs([xs])) core.sum_squares(this.#ptr(out), this.#ptr(first[0]), n);
  }

  scaleBy(xs: readonly Tensor[], s: Tensor): void {
    checks.checkScaleBy(xs, s);
    for (const [first, n] of this.#runs([xs])) core.scale_by(this.#ptr(first[0]), n, this.#ptr(s));
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
    const decay = weightDecayMask?.map((d) => d ? 1 : 0);
    for (const [[pt, gt, mt, vt], n, i] of this.#runs([params, grads, m, v], decay)) {
      const wd = (weightDecayMask?.[i] ?? true) ? p.weightDecay : 0;
      core.adamw(
        this.#ptr(pt),
        this.#ptr(gt),
        this.#ptr(mt),
        this.#ptr(vt),
        n,
        p.lr,
        p.beta1,
        p.beta2,
        p.eps,
        wd,
        p.step,
      );
    }
  }

  clipFactor(s: Tensor, normSq: Tensor, maxNorm: number): void {
    checks.checkClipFactor(s, normSq, maxNorm);
    core.clip_factor(this.#ptr(s), this.#ptr(normSq), maxNorm);
  }

  destroy(): void {
    for (const region of this.#regions) {
      region.freed = true;
      for (const p of region.parts) core.free(p.ptr, p.bytes);
    }
    this.#regions.clear();
  }

  view(t: Tensor, offset: number, size: number): Tensor {
    checks.checkView(t, offset, size);
    const w = this.#own(t);
    return new WasmTensor(size, w.dtype, w.byteOffset + offset * bytesOf(w.dtype), w.region);
  }

  // ---- helpers ----

  #own(t: Tensor): WasmTensor {
    if (!(t instanceof WasmTensor) || t.region.owner !== this) {
      throw new UserError("tensor does not belong to this wasm backend");
    }
    if (t.region.freed) throw new UserError("tensor used after free");
    return t;
  }

  #ptr(t: Tensor): number {
    return this.#own(t).byteOffset;
  }

  #view(t: WasmTensor, offset: number, length: number): Float32Array | Int32Array | Uint16Array {
    const at = t.byteOffset + offset * bytesOf(t.dtype);
    if (t.dtype === "bf16") return new Uint16Array(this.#memory.buffer, at, length);
    return t.dtype === "f32"
      ? new Float32Array(this.#memory.buffer, at, length)
      : new Int32Array(this.#memory.buffer, at, length);
  }

  /**
   * Splits parallel tensor lists into runs that are contiguous in memory in every list (and share
   * `key`, when given), yielding each run's first tensors, its element count and its first index.
   */
  *#runs(
    lists: readonly (readonly Tensor[])[],
    key?: readonly number[],
  ): Generator<[WasmTensor[], number, number]> {
    const count = lists[0].length;
    let i = 0;
    while (i < count) {
      const first = lists.map((l) => this.#own(l[i]));
      let n = first[0].size, j = i + 1;
      while (
        j < count && (key === undefined || key[j] === key[i]) &&
        lists.every((l, li) => this.#own(l[j]).byteOffset === first[li].byteOffset + n * BYTES)
      ) {
        n += lists[0][j].size;
        j++;
      }
      yield [first, n, i];
      i = j;
    }
  }
}
