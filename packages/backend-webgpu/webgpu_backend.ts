/**
 * The WebGPU backend: every op of {@link Backend} as WGSL compute kernels (`kernels/*.wgsl`, embedded in
 * `_kernels.ts`). Parameters, gradients, optimizer moments and activations live on the GPU for the whole
 * run; ops are recorded into one command encoder and submitted when the host reads a result or writes
 * data, so a training step costs a handful of submissions and reads back only its metrics.
 *
 * Memory and limits are described in `_webgpu/memory.ts`: tensors larger than one storage binding are
 * bound through windows and every op cuts its work to fit them.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
 * const be = await createWebGpuBackend();
 * const x = be.alloc(6), w = be.alloc(6), out = be.alloc(4);
 * be.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * be.write(w, new Float32Array([1, 0, 0, 0, 1, 0]));
 * be.matmulForward(out, x, w, 2, 3, 2);
 * console.log(await be.read(out)); // [1, 2, 4, 5]
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
import { type DeviceOptions, openDevice } from "./_webgpu/device.ts";
import { KERNELS, type KernelSpec } from "./_webgpu/kernels.ts";
import { GpuMemory, GpuTensor } from "./_webgpu/memory.ts";
import { CommandQueue, type Window } from "./_webgpu/queue.ts";
import { ropeTable } from "./_webgpu/rope_table.ts";
import {
  adjacentRuns,
  flatGrid,
  matmulBlocks,
  MAX_GROUPS_PER_DIM,
  pieces,
  roundDownTo,
} from "./_webgpu/split.ts";

/** Options of {@link createWebGpuBackend}. */
export interface WebGpuBackendOptions extends DeviceOptions {
  /**
   * Caps the bytes of one storage binding below the adapter's limit, so that tests exercise the
   * windowed paths on small tensors. Default: the adapter's `maxStorageBufferBindingSize`.
   */
  maxBindingBytes?: number;
}

/** Elements one `sum_squares_partial` workgroup reduces (256 invocations × 16). */
const SUM_CHUNK = 4096;
/** Rows per partial sum of RMSNorm's weight gradient. */
const RMSNORM_CHUNK_ROWS = 32;
/** Largest head size the attention kernels hold in registers. */
const MAX_HEAD_SIZE = 128;

/**
 * Opens the adapter and device and compiles every kernel. Without an adapter, a one-line
 * {@link UserError} says how to get one.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
 * const be = await createWebGpuBackend();
 * console.log(be.info.device);
 * be.destroy();
 * ```
 */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const { adapter, device } = await openDevice(options);
  const queue = new CommandQueue(device);
  await queue.compileAll();
  const limits = device.limits;
  const maxBindingBytes = Math.min(
    limits.maxStorageBufferBindingSize,
    options.maxBindingBytes ?? Infinity,
  );
  const memory = new GpuMemory(queue, {
    maxBufferBytes: limits.maxBufferSize,
    maxBindingBytes: Math.floor(maxBindingBytes / 4) * 4,
    alignBytes: limits.minStorageBufferOffsetAlignment,
  });
  const name = adapter.info.description || adapter.info.device || adapter.info.vendor || "WebGPU adapter";
  return new WebGpuBackend(queue, memory, name);
}

/**
 * {@link Backend} on WebGPU. Create it with {@link createWebGpuBackend}.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
 * const be = await createWebGpuBackend();
 * const [a, b] = be.allocGroup([3, 3]);
 * be.write(a, new Float32Array([1, 2, 3]));
 * be.write(b, new Float32Array([4, 5, 6]));
 * be.add(a, a, b, 3);
 * console.log(await be.read(a)); // [5, 7, 9]
 * be.destroy();
 * ```
 */
export class WebGpuBackend implements Backend {
  /** What this backend is; `device` is the adapter's description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  readonly info: BackendInfo;
  readonly #queue: CommandQueue;
  readonly #mem: GpuMemory;
  #ropeTables = new Map<string, { tensor: GpuTensor; positions: number }>();
  #scratch = new Map<string, GpuTensor>();
  #destroyed = false;

  /** Use {@link createWebGpuBackend}. */
  constructor(queue: CommandQueue, memory: GpuMemory, adapterName: string) {
    this.#queue = queue;
    this.#mem = memory;
    this.info = {
      name: "webgpu",
      device: adapterName,
      gpu: true,
      maxTensorElements: Math.floor(memory.limits.maxBufferBytes / 4),
      memoryBytes: null,
    };
  }

  /**
   * Dispatches, submissions, pipelines and blocking reads (reads back to the host) so far (tests and
   * the benchmark report them).
   */
  get counters(): { dispatches: number; submits: number; pipelines: number; blockingReads: number } {
    return {
      dispatches: this.#queue.dispatches,
      submits: this.#queue.submits,
      pipelines: this.#queue.pipelineCount,
      blockingReads: this.#queue.blockingReads,
    };
  }

  /** Resolves when every recorded op has run on the device. */
  finish(): Promise<void> {
    return this.#queue.finish();
  }

  // ---- memory ----

  alloc(size: number, dtype: DType = "f32"): Tensor {
    return this.#mem.alloc([size], dtype, "tensor")[0];
  }

  allocGroup(sizes: readonly number[], dtype: DType = "f32"): Tensor[] {
    return this.#mem.alloc(sizes, dtype, "group");
  }

  free(t: Tensor): void {
    this.#mem.free(this.#own(t));
  }

  write(t: Tensor, data: Float32Array | Int32Array | Uint16Array, offset = 0): void {
    const g = this.#own(t);
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > t.size) {
      throw new UserError(
        `write: ${data.length} elements at offset ${offset} overflow a tensor of ${t.size}`,
      );
    }
    checks.checkWriteData(t, data);
    if (data.length === 0) return;
    // bf16 tensors are held widened to f32 here (the kernels read f32).
    if (data instanceof Uint16Array) data = bf16ToF32(data);
    g.host?.set(data as Int32Array, offset);
    this.#queue.writeBytes(g.buffer, (g.offset + offset) * 4, data);
  }

  async read(t: Tensor, offset = 0, length: number = t.size - offset): Promise<Float32Array | Int32Array> {
    const g = this.#own(t);
    if (
      !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
      offset + length > t.size
    ) {
      throw new UserError(`read: ${length} elements at offset ${offset} exceed ${t.size}`);
    }
    if (length === 0) return t.dtype === "i32" ? new Int32Array(0) : new Float32Array(0);
    const bytes = await this.#queue.readBytes(g.buffer, (g.offset + offset) * 4, length * 4);
    return t.dtype === "i32" ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  zero(t: Tensor): void {
    const g = this.#own(t);
    g.host?.fill(0);
    this.#fill(g, g.size);
  }

  copy(dst: Tensor, src: Tensor, n: number, dstOffset = 0, srcOffset = 0): void {
    checks.checkDims("copy", { n, dstOffset, srcOffset });
    if (dst.dtype !== src.dtype) throw new UserError(`copy: ${src.dtype} into ${dst.dtype}`);
    if (dstOffset + n > dst.size || srcOffset + n > src.size) {
      throw new UserError(`copy: ${n} elements overflow (dst ${dst.size}, src ${src.size})`);
    }
    const d = this.#own(dst), s = this.#own(src);
    if (d.host && s.host) d.host.set(s.host.subarray(srcOffset, srcOffset + n), dstOffset);
    this.#flat(KERNELS.copy, [[d, dstOffset], [s, srcOffset]], n, (len) => [len]);
  }

  // ---- embedding ----

  embeddingForward(out: Tensor, table: Tensor, ids: Tensor, n: number, c: number): void {
    const op = "embeddingForward";
    checks.checkEmbeddingForward(out, table, ids, n, c);
    const o = this.#own(out), tab = this.#own(table), id = this.#own(ids);
    const vocab = this.#checkIds(op, id, n, c, tab);
    if (n === 0 || c === 0) return;
    const rowsOut = this.#rowsPerWindow(c, o), rowsTable = this.#rowsPerWindow(c, tab);
    for (const [v0, vl] of pieces(vocab, rowsTable)) {
      for (const [r0, rl] of pieces(n, rowsOut)) {
        this.#queue.dispatch(
          KERNELS.embeddingForward,
          {},
          [this.#win(o, r0 * c, rl * c), this.#win(tab, v0 * c, vl * c), this.#win(id, r0, rl)],
          [rl, c, v0, v0 + vl],
          [],
          flatGrid(Math.ceil((rl * c) / 256)),
        );
      }
    }
  }

  embeddingBackward(dtable: Tensor, dout: Tensor, ids: Tensor, n: number, c: number): void {
    const op = "embeddingBackward";
    checks.checkEmbeddingBackward(dtable, dout, ids, n, c);
    const dt = this.#own(dtable), d = this.#own(dout), id = this.#own(ids);
    const vocab = this.#checkIds(op, id, n, c, dt);
    if (n === 0 || c === 0) return;
    // Enough (column, residue class) owners to fill the GPU; each walks the positions in order.
    const classes = Math.max(1, Math.min(64, Math.ceil(65536 / c)));
    const rowsOut = this.#rowsPerWindow(c, d), rowsTable = this.#rowsPerWindow(c, dt);
    for (const [v0, vl] of pieces(vocab, rowsTable)) {
      for (const [r0, rl] of pieces(n, rowsOut)) {
        this.#queue.dispatch(
          KERNELS.embeddingBackward,
          {},
          [this.#win(dt, v0 * c, vl * c), this.#win(d, r0 * c, rl * c), this.#win(id, r0, rl)],
          [rl, c, v0, v0 + vl, classes],
          [],
          flatGrid(Math.ceil((c * classes) / 256)),
        );
      }
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
    if (n === 0 || c === 0) return;
    const o = this.#own(out), r = this.#own(rstd), xs = this.#own(x), w = this.#own(weight);
    for (const [r0, rl] of pieces(n, this.#rowsPerWindow(c, o, xs))) {
      this.#queue.dispatch(
        KERNELS.rmsnormForward,
        {},
        [
          this.#win(o, r0 * c, rl * c),
          this.#win(r, r0, rl),
          this.#win(xs, r0 * c, rl * c),
          this.#win(w, 0, c),
        ],
        [rl, c],
        [eps],
        flatGrid(rl),
      );
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
    const op = "rmsnormBackward";
    checks.checkRmsnormBackward(dx, dweight, dout, x, weight, rstd, n, c);
    if (n === 0 || c === 0) return;
    const gx = this.#own(dx), gw = this.#own(dweight), d = this.#own(dout);
    const xs = this.#own(x), w = this.#own(weight), r = this.#own(rstd);
    let rows = this.#rowsPerWindow(c, gx, d, xs);
    const chunkRows = Math.min(RMSNORM_CHUNK_ROWS, rows);
    rows = roundDownTo(rows, chunkRows);
    const chunks = Math.ceil(n / chunkRows);
    if (chunks > MAX_GROUPS_PER_DIM) throw new UserError(`${op}: ${n} rows are too many for one call`);
    const partial = this.#scratchTensor("rmsnorm partial", chunks * c);
    for (const [r0, rl] of pieces(n, rows)) {
      const rowWindows = [this.#win(d, r0 * c, rl * c), this.#win(xs, r0 * c, rl * c)];
      this.#queue.dispatch(
        KERNELS.rmsnormBackwardDx,
        {},
        [this.#win(gx, r0 * c, rl * c), ...rowWindows, this.#win(w, 0, c), this.#win(r, r0, rl)],
        [rl, c],
        [],
        flatGrid(rl),
      );
      this.#queue.dispatch(
        KERNELS.rmsnormBackwardDweightPartial,
        {},
        [this.#win(partial, 0, chunks * c), ...rowWindows, this.#win(r, r0, rl)],
        [rl, c, chunkRows, r0 / chunkRows],
        [],
        [Math.ceil(c / 256), Math.ceil(rl / chunkRows), 1],
      );
    }
    this.#queue.dispatch(
      KERNELS.rmsnormBackwardDweightSum,
      {},
      [this.#win(gw, 0, c), this.#win(partial, 0, chunks * c)],
      [c, chunks],
      [],
      [Math.ceil(c / 256), 1, 1],
    );
  }

  // ---- linear ----

  matmulForward(out: Tensor, x: Tensor, w: Tensor, n: number, k: number, m: number): void {
    const op = "matmulForward";
    checks.checkMatmulForward(out, x, w, n, k, m);
    this.#matmul(op, this.#own(out), this.#own(x), this.#own(w), true, true, n, m, k, false);
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
    const op = "matmulBackward";
    checks.checkMatmulBackward(dx, dw, dout, x, w, n, k, m);
    if (dx) {
      // dx[N,K] += dout[N,M] · w[M,K]
      this.#matmul(op, this.#own(dx), this.#own(dout), this.#own(w), true, false, n, k, m, true);
    }
    if (dw) {
      // dw[M,K] += dout[N,M]ᵀ · x[N,K]
      this.#matmul(op, this.#own(dw), this.#own(dout), this.#own(x), false, false, m, k, n, true);
    }
  }

  /**
   * `C[R,S] (+)= Σ_l A(r,l)·B(l,s)`, A row-major `[R,L]` or stored `[L,R]`, B stored `[S,L]` or
   * `[L,S]`, C `[R,S]`; cut into blocks whose operand windows fit a binding.
   */
  #matmul(
    op: string,
    c: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    aRowMajor: boolean,
    bRowMajor: boolean,
    r: number,
    s: number,
    l: number,
    accumulate: boolean,
  ): void {
    if (r === 0 || s === 0) return;
    if (l === 0) {
      if (!accumulate) this.#fill(c, r * s);
      return;
    }
    const fits = { a: this.#mem.fitsWhole(a), b: this.#mem.fitsWhole(b), c: this.#mem.fitsWhole(c) };
    const blocks = matmulBlocks(r, s, l, aRowMajor, bRowMajor, fits, this.#mem.capElems);
    if (!blocks) {
      throw new UserError(`${op}: one row of an operand exceeds the adapter's storage binding limit`);
    }
    const ldA = aRowMajor ? l : r, ldB = bRowMajor ? l : s;
    const constants = { A_ROW_MAJOR: aRowMajor, B_ROW_MAJOR: bRowMajor };
    for (const [r0, rl] of pieces(r, blocks.rows)) {
      for (const [s0, sl] of pieces(s, blocks.cols)) {
        for (const [l0, ll] of pieces(l, blocks.depth)) {
          const aWin = aRowMajor
            ? this.#win(a, r0 * ldA + l0, (rl - 1) * ldA + ll)
            : this.#win(a, l0 * ldA + r0, (ll - 1) * ldA + rl);
          const bWin = bRowMajor
            ? this.#win(b, s0 * ldB + l0, (sl - 1) * ldB + ll)
            : this.#win(b, l0 * ldB + s0, (ll - 1) * ldB + sl);
          this.#queue.dispatch(
            KERNELS.matmul,
            constants,
            [this.#win(c, r0 * s + s0, (rl - 1) * s + sl), aWin, bWin],
            [rl, sl, ll, ldA, ldB, s, accumulate || l0 > 0 ? 1 : 0],
            [],
            [Math.ceil(sl / 128), Math.ceil(rl / 128), 1],
          );
        }
      }
    }
  }

  // ---- RoPE ----

  ropeForward(out: Tensor, x: Tensor, s: RopeShape): void {
    checks.checkRopeForward(out, x, s);
    this.#rope("ropeForward", KERNELS.ropeForward, out, x, s);
  }

  ropeBackward(dx: Tensor, dout: Tensor, s: RopeShape): void {
    checks.checkRopeBackward(dx, dout, s);
    this.#rope("ropeBackward", KERNELS.ropeBackward, dx, dout, s);
  }

  #rope(op: string, kernel: KernelSpec, out: Tensor, x: Tensor, s: RopeShape): void {
    const size = s.b * s.t * s.nHeads * s.headSize;
    if (size === 0) return;
    const o = this.#own(out), xs = this.#own(x);
    const hd = s.headSize, half = hd / 2, rows = s.b * s.t * s.nHeads;
    const table = this.#ropeTable(s.base, hd, s.posOffset + s.t);
    if (s.t * hd > this.#mem.capFor(table)) {
      throw new UserError(`${op}: ${s.t} positions exceed the binding limit`);
    }
    // Only the rows of positions posOffset .. posOffset + t − 1 are bound.
    const tableWindow = this.#win(table, s.posOffset * hd, s.t * hd);
    for (const [r0, rl] of pieces(rows, this.#rowsPerWindow(hd, o, xs))) {
      this.#queue.dispatch(
        kernel,
        {},
        [this.#win(o, r0 * hd, rl * hd), this.#win(xs, r0 * hd, rl * hd), tableWindow],
        [rl, r0, s.t, s.nHeads, half],
        [],
        flatGrid(Math.ceil((rl * half) / 256)),
      );
    }
  }

  /** The cos/sin table of `(base, headSize)` covering `positions`, grown (doubling) on demand. */
  #ropeTable(base: number, headSize: number, positions: number): GpuTensor {
    const key = `${base}/${headSize}`;
    const have = this.#ropeTables.get(key);
    if (have && have.positions >= positions) return have.tensor;
    const count = Math.max(positions, 2 * (have?.positions ?? 0), 256);
    if (have) this.#mem.free(have.tensor);
    const tensor = this.#mem.alloc([count * headSize], "f32", "rope table")[0];
    this.#queue.writeBytes(tensor.buffer, tensor.offset * 4, ropeTable(base, headSize, count));
    this.#ropeTables.set(key, { tensor, positions: count });
    return tensor;
  }

  // ---- attention ----

  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionShape): void {
    const op = "attentionForward";
    checks.checkAttentionForward(out, lse, q, k, v, s);
    if (s.b * s.tq * s.nHead === 0) return;
    const o = this.#own(out), l = this.#own(lse), qs = this.#own(q), ks = this.#own(k), vs = this.#own(v);
    const c = attentionConstants(op, s.headSize);
    // Slot 6 (dout in the backward passes) is declared by the shared reader and never read by the forward;
    // it gets a buffer of its own, because browsers (Dawn) refuse one range bound twice as read_write.
    const unused = this.#scratchTensor("attention forward slot 6", 1);
    for (const [b0, bl] of this.#batchBlocks(s, [o, qs], [ks, vs], [l])) {
      const w = this.#attentionWindows(s, b0, bl);
      this.#queue.dispatch(
        KERNELS.attentionForward,
        c,
        [w.q(o), w.stat(l), w.q(qs), w.kv(ks), w.kv(vs), this.#win(unused, 0, 1)],
        attentionU32s(s),
        [1 / Math.sqrt(s.headSize)],
        [Math.ceil(s.tq / c.BLK), s.nHead, bl],
      );
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
    const op = "attentionBackward";
    checks.checkAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s);
    if (s.b * s.tq * s.nHead === 0) return;
    const gq = this.#own(dq), gk = this.#own(dk), gv = this.#own(dv), d = this.#own(dout);
    const qs = this.#own(q), ks = this.#own(k), vs = this.#own(v), o = this.#own(out), l = this.#own(lse);
    const dsum = this.#scratchTensor("attention dsum", s.b * s.nHead * s.tq);
    const c = attentionConstants(op, s.headSize);
    const u32s = attentionU32s(s), f32s = [1 / Math.sqrt(s.headSize)];
    for (const [b0, bl] of this.#batchBlocks(s, [gq, d, qs, o], [gk, gv, ks, vs], [l, dsum])) {
      const w = this.#attentionWindows(s, b0, bl);
      this.#queue.dispatch(
        KERNELS.attentionBackwardDsum,
        { HD: s.headSize },
        [w.stat(dsum), w.q(d), w.q(o)],
        [s.tq, s.nHead],
        [],
        [Math.ceil(s.tq / 64), s.nHead, bl],
      );
      this.#queue.dispatch(
        KERNELS.attentionBackwardDq,
        c,
        [w.q(gq), w.stat(l), w.q(qs), w.kv(ks), w.kv(vs), w.q(d), w.stat(dsum)],
        u32s,
        f32s,
        [Math.ceil(s.tq / c.BLK), s.nHead, bl],
      );
      this.#queue.dispatch(
        KERNELS.attentionBackwardDkdv,
        c,
        [w.kv(gk), w.kv(gv), w.q(qs), w.kv(ks), w.kv(vs), w.q(d), w.stat(l), w.stat(dsum)],
        u32s,
        f32s,
        [Math.ceil(s.kvLen / c.BLK), s.nQueryGroups, bl],
      );
    }
  }

  /** Batch ranges whose query-, key/value- and statistics-shaped windows all fit a binding. */
  #batchBlocks(s: AttentionShape, qLike: GpuTensor[], kvLike: GpuTensor[], statLike: GpuTensor[]) {
    const batches = Math.min(
      s.b,
      this.#rowsFitting(s.tq * s.nHead * s.headSize, qLike),
      this.#rowsFitting(s.kvStride * s.nQueryGroups * s.headSize, kvLike),
      this.#rowsFitting(s.nHead * s.tq, statLike),
    );
    if (batches < 1) {
      throw new UserError("attention: one batch row exceeds the adapter's storage binding limit");
    }
    return pieces(s.b, batches);
  }

  #attentionWindows(s: AttentionShape, b0: number, bl: number) {
    const q = s.tq * s.nHead * s.headSize, kv = s.kvStride * s.nQueryGroups * s.headSize, st = s.nHead * s.tq;
    return {
      q: (t: GpuTensor) => this.#win(t, b0 * q, bl * q),
      kv: (t: GpuTensor) => this.#win(t, b0 * kv, bl * kv),
      stat: (t: GpuTensor) => this.#win(t, b0 * st, bl * st),
    };
  }

  // ---- SwiGLU ----

  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void {
    checks.checkSwigluForward(out, gate, up, n);
    this.#flat(
      KERNELS.swigluForward,
      [[this.#own(out), 0], [this.#own(gate), 0], [this.#own(up), 0]],
      n,
      (l) => [l],
    );
  }

  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
    checks.checkSwigluBackward(dgate, dup, dout, gate, up, n);
    this.#flat(
      KERNELS.swigluBackward,
      [dgate, dup, dout, gate, up].map((t): [GpuTensor, number] => [this.#own(t), 0]),
      n,
      (l) => [l],
    );
  }

  // ---- residual ----

  add(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    checks.checkAdd(out, a, b, n);
    this.#flat(KERNELS.add, [[this.#own(out), 0], [this.#own(a), 0], [this.#own(b), 0]], n, (l) => [l]);
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
    const ls = this.#own(losses), z = this.#own(logits), tg = this.#own(targets);
    const host = tg.host!;
    for (let i = 0; i < n; i++) {
      if (host[i] >= v) {
        throw new UserError(`${op}: target ${host[i]} at row ${i} is outside the vocabulary ${v}`);
      }
    }
    if (n === 0) return;
    if (v === 0) {
      this.#fill(ls, n);
      return;
    }
    for (const [r0, rl] of pieces(n, this.#rowsPerWindow(v, z))) {
      this.#queue.dispatch(
        KERNELS.crossEntropy,
        {},
        [this.#win(ls, r0, rl), this.#win(z, r0 * v, rl * v), this.#win(tg, r0, rl)],
        [rl, v, gradScale === null ? 0 : 1],
        [gradScale ?? 0],
        flatGrid(rl),
      );
    }
  }

  // ---- optimizer ----

  sumSquares(out: Tensor, xs: readonly Tensor[]): void {
    checks.checkSumSquares(out, xs);
    const o = this.#own(out);
    const list = xs.map((t) => this.#own(t));
    // Each run is cut into windows of whole 4096-element chunks; each chunk makes one partial.
    const spans = this.#spans([list]).flatMap(([i, len]) =>
      pieces(len, roundDownTo(this.#runCap(len), SUM_CHUNK)).map(([start, l]) => [list[i], start, l] as const)
    );
    let total = 0;
    for (const [, , l] of spans) total += Math.ceil(l / SUM_CHUNK);
    if (total === 0) return;
    const partials = this.#scratchTensor("sum squares partials", total);
    let first = 0;
    for (const [t, start, l] of spans) {
      const chunks = Math.ceil(l / SUM_CHUNK);
      this.#queue.dispatch(
        KERNELS.sumSquaresPartial,
        {},
        [this.#win(partials, 0, total), this.#runWindow(t, start, l)],
        [l, first],
        [],
        flatGrid(chunks),
      );
      first += chunks;
    }
    this.#queue.dispatch(
      KERNELS.sumSquaresFinal,
      {},
      [this.#win(o, 0, 1), this.#win(partials, 0, total)],
      [total],
      [],
      [1, 1, 1],
    );
  }

  scaleBy(xs: readonly Tensor[], s: Tensor): void {
    checks.checkScaleBy(xs, s);
    const factor = this.#own(s);
    const list = xs.map((t) => this.#own(t));
    for (const [i, len] of this.#spans([list])) {
      for (const [start, l] of pieces(len, this.#runCap(len))) {
        this.#queue.dispatch(
          KERNELS.scaleBy,
          {},
          [this.#runWindow(list[i], start, l), this.#win(factor, 0, 1)],
          [l],
          [],
          flatGrid(Math.ceil(l / 256)),
        );
      }
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
    const lists = [params, grads, m, v].map((l) => l.map((t) => this.#own(t)));
    const decays = (i: number) => weightDecayMask?.[i] ?? true;
    // f32 constants as the WASM core rounds them, from f64 bias corrections.
    const stepSize = p.lr / (1 - Math.pow(p.beta1, p.step));
    const bc2Sqrt = Math.sqrt(1 - Math.pow(p.beta2, p.step));
    for (const [i, len] of this.#spans(lists, decays)) {
      const decay = decays(i) ? 1 - p.lr * p.weightDecay : 1;
      const f32s = [decay, p.beta1, p.beta2, 1 - p.beta1, 1 - p.beta2, stepSize, bc2Sqrt, p.eps];
      for (const [start, l] of pieces(len, this.#runCap(len))) {
        this.#queue.dispatch(
          KERNELS.adamw,
          {},
          lists.map((list) => this.#runWindow(list[i], start, l)),
          [l],
          f32s,
          flatGrid(Math.ceil(l / 256)),
        );
      }
    }
  }

  clipFactor(s: Tensor, normSq: Tensor, maxNorm: number): void {
    checks.checkClipFactor(s, normSq, maxNorm);
    this.#queue.dispatch(
      KERNELS.clipFactor,
      {},
      [this.#win(this.#own(s), 0, 1), this.#win(this.#own(normSq), 0, 1)],
      [],
      [maxNorm],
      [1, 1, 1],
    );
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#mem.freeAll();
    this.#queue.destroy();
    this.#queue.device.destroy();
  }

  view(t: Tensor, offset: number, size: number): Tensor {
    checks.checkView(t, offset, size);
    const g = this.#own(t);
    const host = g.host ? g.host.subarray(offset, offset + size) : null;
    return new GpuTensor(size, g.dtype, g.buffer, g.offset + offset, g.allocation, host);
  }

  /** Bytes of the tensor buffers this backend holds now (what the memory plan is checked against). */
  get allocatedBytes(): number {
    return this.#mem.liveBytes;
  }

  // ---- helpers ----

  #own(t: Tensor): GpuTensor {
    if (!(t instanceof GpuTensor)) throw new UserError("tensor does not belong to this WebGPU backend");
    if (t.allocation.freed) throw new UserError("tensor used after free");
    if (!this.#mem.owns(t)) throw new UserError("tensor does not belong to this WebGPU backend");
    return t;
  }

  #win(t: GpuTensor, start: number, count: number): Window {
    return this.#mem.window(t, start, count);
  }

  /** A window over a run of adjacent tensors from `t` (see {@link GpuMemory.runWindow}). */
  #runWindow(t: GpuTensor, start: number, count: number): Window {
    return this.#mem.runWindow(t, start, count);
  }

  /** Elements per window over a run of `len` elements: all of them when they fit one binding. */
  #runCap(len: number): number {
    const lim = this.#mem.limits;
    return len * 4 <= lim.maxBindingBytes - lim.alignBytes ? len : this.#mem.capElems;
  }

  /** Runs of adjacent tensors in every list, as `[first index, total elements]`, empty runs dropped. */
  #spans(lists: readonly (readonly GpuTensor[])[], key?: (i: number) => unknown): [number, number][] {
    const placed = lists.map((l) =>
      l.map((t) => ({ bufferId: t.buffer.id, offset: t.offset, size: t.size }))
    );
    return adjacentRuns(placed, key)
      .map(([first, count]): [number, number] => {
        let len = 0;
        for (let i = first; i < first + count; i++) len += lists[0][i].size;
        return [first, len];
      })
      .filter(([, len]) => len > 0);
  }

  /** Elementwise op over `n` elements of each `[tensor, offset]`, cut into windows that fit. */
  #flat(
    kernel: KernelSpec,
    tensors: [GpuTensor, number][],
    n: number,
    u32s: (len: number) => number[],
  ): void {
    if (n === 0) return;
    const cap = Math.min(n, ...tensors.map(([t]) => this.#mem.capFor(t)));
    for (const [start, len] of pieces(n, cap)) {
      this.#queue.dispatch(
        kernel,
        {},
        tensors.map(([t, off]) => this.#win(t, off + start, len)),
        u32s(len),
        [],
        flatGrid(Math.ceil(len / 256)),
      );
    }
  }

  /** Zeroes the first `n` elements of `t` on the device. */
  #fill(t: GpuTensor, n: number): void {
    this.#flat(KERNELS.fill, [[t, 0]], n, (len) => [len, 0]);
  }

  /** Rows of `width` elements per window such that every tensor's row window fits (0 when none does). */
  #rowsFitting(width: number, tensors: readonly GpuTensor[]): number {
    let rows = Infinity;
    for (const t of tensors) rows = Math.min(rows, Math.floor(this.#mem.capFor(t) / Math.max(width, 1)));
    return rows;
  }

  /** `#rowsFitting`, but at least one row: a row that fits no window is a {@link UserError}. */
  #rowsPerWindow(width: number, ...tensors: GpuTensor[]): number {
    const rows = this.#rowsFitting(width, tensors);
    if (rows < 1) {
      throw new UserError(`a row of ${width} elements exceeds the adapter's storage binding limit`);
    }
    return rows;
  }

  /** A reusable internal f32 buffer of at least `size` elements (grown by reallocation). */
  #scratchTensor(name: string, size: number): GpuTensor {
    const have = this.#scratch.get(name);
    if (have && have.size >= size) return have;
    if (have) this.#mem.free(have);
    const t = this.#mem.alloc([Math.max(size, 2 * (have?.size ?? 0))], "f32", name)[0];
    if (!this.#mem.fitsWhole(t)) throw new UserError(`${name}: ${size} elements exceed the binding limit`);
    this.#scratch.set(name, t);
    return t;
  }

  /** Range-checks the host copy of `ids` against the table's rows; returns the row count. */
  #checkIds(op: string, ids: GpuTensor, n: number, c: number, table: GpuTensor): number {
    const vocab = Math.floor(table.size / Math.max(c, 1));
    const host = ids.host!;
    for (let i = 0; i < n; i++) {
      if (host[i] < 0 || host[i] >= vocab) {
        throw new UserError(`${op}: token id ${host[i]} is outside the table's ${vocab} rows`);
      }
    }
    return vocab;
  }
}

/** Pipeline constants of the attention kernels for a head size. */
function attentionConstants(op: string, headSize: number) {
  if (headSize > MAX_HEAD_SIZE) throw new UserError(`${op}: head size ${headSize} exceeds ${MAX_HEAD_SIZE}`);
  const hd4 = Math.ceil(headSize / 4);
  // Four BLK×HD tiles of f32 stay within 16 KiB of workgroup memory.
  const blk = headSize <= 64 ? 16 : 8;
  return { HD: headSize, HD4: hd4, BLK: blk, WG: blk * 8, CPL: Math.ceil(hd4 / 8) };
}

function attentionU32s(s: AttentionShape): number[] {
  return [s.tq, s.kvLen, s.kvStride, s.nHead, s.nQueryGroups];
}
