/**
 * Data-parallel training over MPI (`deno task pretrain:mpi`): the same run as one process, split among
 * ranks. Each optimizer step every rank draws the whole global batch's micro-batches from the one
 * sampler stream a single process reads, and trains on its own contiguous share of them (rank `r` takes
 * micro-batches `r·k … r·k + k − 1`, `k = accumulation / ranks`): no two ranks see the same sequence,
 * and the sampler's state, identical on every rank, is the single process's. Gradients are scaled by
 * 1/accumulation as in one process and summed across ranks once per step, after accumulation; clipping
 * uses the global norm, and every rank applies the same update. With `--shard-optimizer` (ZeRO stage 1)
 * the gradient sum is reduce-scattered instead: each rank keeps and updates only its slice of the
 * flattened parameters' AdamW moments, then the parameters are all-gathered. Checkpoints keep the
 * single-process format, so any checkpoint continues under any rank count, sharded or not.
 *
 * The trainer calls this through a few hooks: {@link DataParallel.ready} once every input is checked,
 * {@link DataParallel.createOptimizer}, {@link DataParallel.owns} per micro-batch (`accumulateGradients`)
 * and {@link DataParallel.syncAndUpdate} between accumulation and the update, {@link DataParallel.beforeSave}
 * before a checkpoint, {@link DataParallel.agreeStop} after each step, and {@link DataParallel.writer}
 * (rank 0: the only rank whose run files write).
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { launchInfo } from "@tinyllama-ts/mpi";
import type { Backend, Tensor } from "@tinyllama-ts/backend";
import type { Model } from "@tinyllama-ts/model";
import {
  type AdamWConfig,
  isNormOrEmbedding,
  Optimizer,
  type ParamSlot,
  paramSlots,
  type UpdateResult,
} from "@tinyllama-ts/optim";
import type { StepOutcome } from "./step.ts";
import { readOptimizerState, writeOptimizerState } from "./optimizer_state.ts";

/** The collectives data parallelism needs (an `Mpi` of `@tinyllama-ts/mpi`, or {@link SINGLE_RANK}). */
export interface Collectives {
  readonly rank: number;
  readonly size: number;
  allreduceSum(buf: Float32Array | Float64Array): void;
  reduceScatterSum(send: Float32Array, recv: Float32Array): void;
  allgather(send: Float32Array | Float64Array, recv: Float32Array | Float64Array): void;
  broadcast(buf: Float64Array | Uint8Array, root?: number): void;
}

/**
 * One rank alone: every collective is the identity. Runs the data-parallel code paths in one process
 * (the tests compare them with the plain trainer).
 *
 * @example
 * ```ts
 * import { DataParallel, SINGLE_RANK } from "@tinyllama-ts/trainer";
 * const dp = new DataParallel(SINGLE_RANK, { shardOptimizer: true });
 * console.log(dp.writer); // true
 * ```
 */
export const SINGLE_RANK: Collectives = {
  rank: 0,
  size: 1,
  allreduceSum() {},
  reduceScatterSum(send, recv) {
    recv.set(send.subarray(0, recv.length));
  },
  allgather(send, recv) {
    recv.set(send);
  },
  broadcast() {},
};

/**
 * `deno task pretrain` started by an MPI launcher as one of several ranks would run N copies writing one
 * directory: it stops instead, naming `pretrain:mpi`. Only rank 0 says so (the others exit quietly with
 * the same code). The launcher's variables are read only where the task allows them.
 *
 * @example
 * ```ts
 * import { refuseUnderLauncher } from "@tinyllama-ts/trainer";
 * refuseUnderLauncher(); // returns outside a launcher
 * ```
 */
export function refuseUnderLauncher(): void {
  const { size, rank } = launchInfo();
  if (size <= 1) return;
  if (rank !== 0) Deno.exit(2);
  throw new UserError(
    `deno task pretrain runs one process, and an MPI launcher started ${size}: run deno task pretrain:mpi ` +
      `under the launcher instead`,
  );
}

/** The optimizer of a data-parallel run: the plain one (replicated) or the sharded one. */
export type ParallelOptimizer = Optimizer | ShardedOptimizer;

/** Thrown on every rank when some rank failed before training started; rank 0 prints it. */
export class StartFailure extends UserError {
  /** The lowest rank that failed, or null when every rank did. */
  readonly failedRank: number | null;
  constructor(failedRank: number | null, message: string) {
    super(failedRank === null ? message : `rank ${failedRank}: ${message}`);
    this.failedRank = failedRank;
  }
}

/**
 * Data parallelism over `comm`'s ranks (see the module documentation).
 *
 * @example
 * ```ts ignore
 * import { Mpi } from "@tinyllama-ts/mpi";
 * import { DataParallel, pretrainMain } from "@tinyllama-ts/trainer";
 * const dp = new DataParallel(Mpi.init(), { shardOptimizer: true });
 * await pretrainMain(["--data", "data/corpus"], { parallel: dp });
 * ```
 */
export class DataParallel {
  readonly comm: Collectives;
  readonly shardOptimizer: boolean;
  #started = false;

  constructor(comm: Collectives, opts: { shardOptimizer?: boolean } = {}) {
    this.comm = comm;
    this.shardOptimizer = opts.shardOptimizer ?? false;
  }

  get rank(): number {
    return this.comm.rank;
  }

  get size(): number {
    return this.comm.size;
  }

  /** Whether this rank writes (metrics, checkpoints, report, messages): rank 0 only. */
  get writer(): boolean {
    return this.comm.rank === 0;
  }

  /** Whether every rank passed {@link ready}: from then on a failure aborts the job. */
  get started(): boolean {
    return this.#started;
  }

  /** The global batch in micro-batches per rank; a batch that does not split is a {@link UserError}. */
  microBatchesPerRank(globalBatchSize: number, microBatchSize: number): number {
    const per = microBatchSize * this.size;
    if (globalBatchSize % per !== 0) {
      throw new UserError(
        `--global-batch-size ${globalBatchSize} does not split into --micro-batch-size ${microBatchSize} × ` +
          `${this.size} ranks (make it a multiple of ${per})`,
      );
    }
    return globalBatchSize / per;
  }

  /**
   * The collective that ends the checks: every rank calls it once its inputs are checked (nothing is
   * written before). A rank that failed calls {@link failAtStart} instead; then every rank throws the
   * same {@link StartFailure}.
   */
  ready(): void {
    this.#agree(null);
    this.#started = true;
  }

  /** A rank's failure before {@link ready}, agreed with the others; throws the {@link StartFailure}. */
  failAtStart(error: unknown): never {
    this.#agree(error);
    throw new Error("unreachable: a failure was agreed");
  }

  /** The optimizer for this run: AdamW over all parameters, or over this rank's slice with sharding. */
  createOptimizer(backend: Backend, model: Model, config: AdamWConfig): ParallelOptimizer {
    const slots = paramSlots(model);
    return this.shardOptimizer
      ? new ShardedOptimizer(backend, slots, config, this.comm)
      : new Optimizer(backend, slots, config);
  }

  /** Bytes of AdamW moments this rank holds, for the line printed at start. */
  optimizerBytes(model: Model): number {
    const n = model.params.reduce((a, p) => a + p.size, 0);
    return 2 * 4 * (this.shardOptimizer ? Math.ceil(n / this.size) : n);
  }

  /** Whether micro-batch `i` of a step's `accumulation` is this rank's (contiguous shares, rank order). */
  owns(i: number, accumulation: number): boolean {
    return Math.floor(i / (accumulation / this.size)) === this.rank;
  }

  /**
   * The gradient sync and update, between accumulation and the next step: `loss` is this rank's share of
   * the step's mean loss (its micro-batches' losses / accumulation); the gradients hold its share of the
   * step's gradient (each scaled by 1/accumulation). Sums both across ranks, then updates on every rank
   * alike (skipped everywhere when the summed loss or the global norm is not finite).
   */
  async syncAndUpdate(
    model: Model,
    optimizer: ParallelOptimizer,
    loss: number,
    lr: number,
  ): Promise<StepOutcome> {
    const sum = new Float64Array([loss]);
    this.comm.allreduceSum(sum);
    loss = sum[0];
    if (!Number.isFinite(loss)) return { loss, gradNorm: NaN, applied: false };
    const slots = paramSlots(model);
    const grads = await readFlat(model.backend, slots.map((s) => s.grad), this.size);
    let result: UpdateResult;
    if (optimizer instanceof ShardedOptimizer) {
      const shard = new Float32Array(grads.length / this.size);
      this.comm.reduceScatterSum(grads, shard);
      result = await optimizer.update(lr, shard);
    } else {
      this.comm.allreduceSum(grads);
      writeFlat(model.backend, slots.map((s) => s.grad), grads);
      result = await optimizer.update(lr);
    }
    return { loss, ...result };
  }

  /** Before a checkpoint, on every rank: a sharded optimizer gathers its moments (rank 0 writes them). */
  beforeSave(optimizer: ParallelOptimizer): Promise<void> {
    return optimizer instanceof ShardedOptimizer ? optimizer.gatherMoments() : Promise.resolve();
  }

  /** Whether any rank got a stop signal (so that every rank saves and stops after the same step). */
  agreeStop(stop: boolean): boolean {
    const flag = new Float64Array([stop ? 1 : 0]);
    this.comm.allreduceSum(flag);
    return flag[0] > 0;
  }

  /**
   * Rank 0 runs `f` first (say, preparing a shared cache), then the other ranks; a failure anywhere
   * is agreed and thrown on every rank. Call before {@link ready}.
   */
  async rankZeroFirst<T>(f: () => Promise<T>): Promise<T> {
    let value: T | undefined, error: unknown = null;
    const run = async () => {
      try {
        value = await f();
      } catch (e) {
        error = e ?? new Error("failed");
      }
    };
    if (this.writer) await run();
    this.#agree(error);
    if (!this.writer) await run();
    this.#agree(error);
    return value as T;
  }

  /** Every rank's status; the lowest failing rank's message goes to all, and all throw it. */
  #agree(error: unknown): void {
    const status = new Float64Array(this.size);
    this.comm.allgather(new Float64Array([error === null ? 0 : 1]), status);
    const failed = [...status].map((s, r) => s ? r : -1).filter((r) => r >= 0);
    if (failed.length === 0) return;
    const root = failed[0];
    let bytes = new TextEncoder().encode(error === null ? "" : errorLine(error));
    const length = new Float64Array([bytes.length]);
    this.comm.broadcast(length, root);
    if (this.rank !== root) bytes = new Uint8Array(length[0]);
    this.comm.broadcast(bytes, root);
    const message = new TextDecoder().decode(bytes);
    throw new StartFailure(failed.length === this.size ? null : root, message);
  }
}

/** An error's one-line message (a bug keeps its first stack line: the line that names it). */
function errorLine(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

/** One contiguous piece of the flattened parameters owned by this rank: part of slot `slot`. */
interface Piece {
  slot: number;
  /** Start within the slot's tensor. */
  start: number;
  length: number;
}

/**
 * AdamW with the moments sharded (ZeRO stage 1): the parameters flattened in slot order and padded to a
 * multiple of the ranks; rank `r` owns elements `r·S … r·S + S − 1` and holds only their moments, a copy
 * of their parameters and gradients, as backend tensors split at parameter boundaries (so each piece
 * has its parameter's weight-decay flag). Saved and loaded in the plain optimizer's file format.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { ShardedOptimizer, SINGLE_RANK } from "@tinyllama-ts/trainer";
 * const be = new ReferenceBackend();
 * const param = be.alloc(2), grad = be.alloc(2);
 * const opt = new ShardedOptimizer(be, [{ name: "w", shape: [2], param, grad }], {
 *   beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1,
 * }, SINGLE_RANK);
 * await opt.update(1e-3, new Float32Array([3, 4])); // this rank's slice of the summed gradient
 * ```
 */
export class ShardedOptimizer {
  readonly #be: Backend;
  readonly #slots: readonly ParamSlot[];
  readonly #config: AdamWConfig;
  readonly #comm: Collectives;
  readonly #pieces: Piece[];
  /** Elements per rank (the padded total over the ranks). */
  readonly shardSize: number;
  readonly #p: Tensor[];
  readonly #g: Tensor[];
  readonly #m: Tensor[];
  readonly #v: Tensor[];
  readonly #decayMask: boolean[];
  readonly #normSq: Tensor;
  readonly #clip: Tensor;
  #gathered: { m: Float32Array; v: Float32Array } | null = null;
  #step = 0;

  constructor(backend: Backend, slots: readonly ParamSlot[], config: AdamWConfig, comm: Collectives) {
    this.#be = backend;
    this.#slots = slots;
    this.#config = config;
    this.#comm = comm;
    const total = slots.reduce((a, s) => a + s.param.size, 0);
    this.shardSize = Math.ceil(total / comm.size);
    const lo = comm.rank * this.shardSize, hi = Math.min(total, lo + this.shardSize);
    this.#pieces = [];
    let off = 0;
    slots.forEach((s, slot) => {
      const a = Math.max(lo, off), b = Math.min(hi, off + s.param.size);
      if (a < b) this.#pieces.push({ slot, start: a - off, length: b - a });
      off += s.param.size;
    });
    // A rank past the end (more ranks than elements) still needs a tensor to pass to the ops.
    const sizes = this.#pieces.length > 0 ? this.#pieces.map((p) => p.length) : [1];
    [this.#p, this.#g, this.#m, this.#v] = [0, 1, 2, 3].map(() => backend.allocGroup(sizes));
    const decayAll = config.decayNormsAndEmbeddings ?? true;
    this.#decayMask = this.#pieces.map((p) => decayAll || !isNormOrEmbedding(slots[p.slot].name));
    this.#normSq = backend.alloc(1);
    this.#clip = backend.alloc(1);
    // The hyper-parameters are checked by the plain optimizer's own rules: one over a one-element slot.
    new Optimizer(backend, [{ name: "check", shape: [1], param: this.#normSq, grad: this.#clip }], config)
      .free();
  }

  /** Optimizer steps applied so far (AdamW's `t`). */
  get stepCount(): number {
    return this.#step;
  }

  /**
   * One step at learning rate `lr` given this rank's slice of the summed gradient (`shardSize`
   * elements; padding ignored): global norm from every rank's partial sum of squares, clipping, AdamW on
   * the slice, then every rank's updated slice gathered into the full parameters.
   */
  async update(lr: number, gradShard: Float32Array): Promise<UpdateResult> {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new UserError(`learning rate must be ≥ 0, got ${lr}`);
    const be = this.#be, n = this.#pieces.length;
    let at = 0;
    for (let i = 0; i < n; i++) {
      be.write(this.#g[i], gradShard.subarray(at, at + this.#pieces[i].length));
      at += this.#pieces[i].length;
    }
    const g = this.#g.slice(0, n);
    be.zero(this.#normSq);
    be.sumSquares(this.#normSq, g);
    const normSq = new Float64Array([(await be.read(this.#normSq))[0]]);
    this.#comm.allreduceSum(normSq);
    const gradNorm = Math.sqrt(normSq[0]);
    if (!Number.isFinite(gradNorm)) return { gradNorm, applied: false };
    const c = this.#config;
    if (c.gradClip > 0) {
      be.write(this.#normSq, new Float32Array([normSq[0]]));
      be.clipFactor(this.#clip, this.#normSq, c.gradClip);
      be.scaleBy(g, this.#clip);
    }
    // The slice's current parameters (the all-gather left every rank with the same full copy).
    this.#pieces.forEach((p, i) => be.copy(this.#p[i], this.#slots[p.slot].param, p.length, 0, p.start));
    this.#step++;
    const p = this.#p.slice(0, n), m = this.#m.slice(0, n), v = this.#v.slice(0, n);
    be.adamw(p, g, m, v, {
      lr,
      beta1: c.beta1,
      beta2: c.beta2,
      eps: c.eps,
      weightDecay: c.weightDecay,
      step: this.#step,
    }, this.#decayMask);
    const all = await this.#allgather(this.#p);
    writeFlat(be, this.#slots.map((s) => s.param), all);
    this.#gathered = null;
    return { gradNorm, applied: true };
  }

  /** Collective: every rank's moment slices gathered (rank 0 keeps them for {@link saveState}). */
  async gatherMoments(): Promise<void> {
    const m = await this.#allgather(this.#m), v = await this.#allgather(this.#v);
    this.#gathered = this.#comm.rank === 0 ? { m, v } : null;
  }

  /**
   * Writes the whole optimizer state in the plain {@link Optimizer}'s format (`optimizer_state.ts`); rank
   * 0, after {@link gatherMoments}.
   */
  async saveState(path: string): Promise<void> {
    const g = this.#gathered;
    if (!g) throw new Error("saveState needs gatherMoments() on every rank first, and runs on rank 0");
    let off = 0;
    const moments = this.#slots.map((s) => {
      const at = off;
      off += s.param.size;
      return { name: s.name, shape: s.shape, m: g.m.subarray(at, off), v: g.v.subarray(at, off) };
    });
    await writeOptimizerState(path, moments, this.#step);
  }

  /**
   * Restores an optimizer state file (written by any rank count, sharded or not): each rank keeps its
   * slices. A file that does not match the model is a one-line {@link UserError}.
   */
  async loadState(path: string): Promise<void> {
    const mine = new Map<number, number>(this.#pieces.map((p, i) => [p.slot, i]));
    this.#step = await readOptimizerState(path, this.#slots, (which, slot, full) => {
      const i = mine.get(slot);
      if (i === undefined) return;
      const p = this.#pieces[i];
      this.#be.write((which === "m" ? this.#m : this.#v)[i], full.subarray(p.start, p.start + p.length));
    });
    this.#gathered = null;
  }

  /** Releases the slices. */
  free(): void {
    for (const group of [this.#p, this.#g, this.#m, this.#v]) this.#be.free(group[0]);
    this.#be.free(this.#normSq);
    this.#be.free(this.#clip);
  }

  /** Every rank's slice of `group`, concatenated in rank order (padding dropped by the readers). */
  async #allgather(group: Tensor[]): Promise<Float32Array> {
    const mine = new Float32Array(this.shardSize);
    let at = 0;
    for (let i = 0; i < this.#pieces.length; i++) {
      mine.set(await this.#be.read(group[i], 0, this.#pieces[i].length) as Float32Array, at);
      at += this.#pieces[i].length;
    }
    const all = new Float32Array(this.shardSize * this.#comm.size);
    this.#comm.allgather(mine, all);
    return all;
  }
}

/** The tensors read into one host array, padded to a multiple of `ranks`. */
async function readFlat(be: Backend, tensors: readonly Tensor[], ranks: number): Promise<Float32Array> {
  const total = tensors.reduce((a, t) => a + t.size, 0);
  const flat = new Float32Array(Math.ceil(total / ranks) * ranks);
  let off = 0;
  for (const t of tensors) {
    flat.set(await be.read(t) as Float32Array, off);
    off += t.size;
  }
  return flat;
}

/** The host array written back over the tensors, in order (padding ignored). */
function writeFlat(be: Backend, tensors: readonly Tensor[], flat: Float32Array): void {
  let off = 0;
  for (const t of tensors) {
    be.write(t, flat.subarray(off, off + t.size));
    off += t.size;
  }
}
