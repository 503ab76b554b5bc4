/**
 * The optimizer the trainer drives: global-norm gradient clipping and AdamW, run by the backend over the
 * model's parameter and gradient tensors, so parameters and moments never leave the device. Only the
 * squared gradient norm is read back, once per step: it is a metric and the guard against a non-finite
 * step.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { Backend, Tensor } from "@tinyllama-ts/backend";

/** One trainable tensor: its Hugging Face name, shape, value and gradient (both on the backend). */
export interface ParamSlot {
  name: string;
  shape: readonly number[];
  param: Tensor;
  grad: Tensor;
}

/** What {@link paramSlots} needs of a model: its parameters' names, shapes, values and gradients. */
export interface TrainableParams {
  readonly names: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  readonly params: readonly Tensor[];
  /** The gradients, in the order of `params` (a model allocates them on first use). */
  readonly grads: readonly Tensor[];
}

/** A model's parameters with their gradients (allocated on first use), as {@link Optimizer}'s slots. */
export function paramSlots(model: TrainableParams): ParamSlot[] {
  const grads = model.grads;
  return model.names.map((name, i) => ({
    name,
    shape: model.shapes[i],
    param: model.params[i],
    grad: grads[i],
  }));
}

/** One parameter's AdamW moments, on the backend. */
export interface OptimizerMoments {
  /** The parameter's (Hugging Face) name. */
  name: string;
  shape: readonly number[];
  /** First moment. */
  m: Tensor;
  /** Second moment. */
  v: Tensor;
}

/** AdamW's and clipping's fixed hyper-parameters (the learning rate is given per step). */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Largest global L2 norm of the gradient; 0 disables clipping. */
  gradClip: number;
  /**
   * Whether norms and embeddings decay too. TinyLlama decays every parameter (the default, `true`);
   * `false` exempts RMSNorm weights and the token embedding.
   */
  decayNormsAndEmbeddings?: boolean;
}

/** What one {@link Optimizer.update} did. */
export interface UpdateResult {
  /** The global L2 norm of the gradient before clipping. */
  gradNorm: number;
  /** False when the norm was not finite and the parameters were left as they were. */
  applied: boolean;
}

/**
 * Clipping plus AdamW over a fixed list of parameters, with the moments `m` and `v` allocated on the
 * backend. The moments and the step count are exposed ({@link Optimizer.moments},
 * {@link Optimizer.stepCount}) for a checkpoint to save and restore.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { Optimizer } from "@tinyllama-ts/optim";
 * const be = new ReferenceBackend();
 * const param = be.alloc(2), grad = be.alloc(2);
 * be.write(param, new Float32Array([1, 1]));
 * be.write(grad, new Float32Array([3, 4]));
 * const opt = new Optimizer(be, [{ name: "w", shape: [2], param, grad }], {
 *   beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1,
 * });
 * const { gradNorm } = await opt.update(1e-3); // 5: the norm before clipping
 * ```
 */
export class Optimizer {
  readonly #be: Backend;
  readonly #slots: readonly ParamSlot[];
  readonly #config: AdamWConfig;
  readonly #params: Tensor[];
  readonly #grads: Tensor[];
  readonly #m: Tensor[];
  readonly #v: Tensor[];
  readonly #decayMask: boolean[];
  readonly #normSq: Tensor;
  readonly #clip: Tensor;
  #step = 0;

  constructor(backend: Backend, slots: readonly ParamSlot[], config: AdamWConfig) {
    checkConfig(config);
    this.#be = backend;
    this.#slots = slots;
    this.#config = config;
    this.#params = slots.map((s) => s.param);
    this.#grads = slots.map((s) => s.grad);
    const sizes = slots.map((s) => s.param.size);
    this.#m = backend.allocGroup(sizes);
    this.#v = backend.allocGroup(sizes);
    const decayAll = config.decayNormsAndEmbeddings ?? true;
    this.#decayMask = slots.map((s) => decayAll || !isNormOrEmbedding(s.name));
    this.#normSq = backend.alloc(1);
    this.#clip = backend.alloc(1);
  }

  /** Optimizer steps applied so far (AdamW's `t`; skipped steps do not count). */
  get stepCount(): number {
    return this.#step;
  }

  /** Which parameters decay, in slot order. */
  get weightDecayMask(): readonly boolean[] {
    return this.#decayMask;
  }

  /** The global L2 norm of the current gradients, without changing anything. */
  async gradNorm(): Promise<number> {
    this.#be.zero(this.#normSq);
    this.#be.sumSquares(this.#normSq, this.#grads);
    return Math.sqrt((await this.#be.read(this.#normSq))[0]);
  }

  /**
   * One step at learning rate `lr`: measures the gradient norm, clips the gradients to `gradClip` and
   * applies AdamW. With a non-finite norm nothing changes (`applied: false`). The gradients are left
   * clipped: the caller zeroes them before the next accumulation.
   */
  async update(lr: number): Promise<UpdateResult> {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new UserError(`learning rate must be ≥ 0, got ${lr}`);
    const gradNorm = await this.gradNorm();
    if (!Number.isFinite(gradNorm)) return { gradNorm, applied: false };
    const c = this.#config;
    if (c.gradClip > 0) {
      this.#be.clipFactor(this.#clip, this.#normSq, c.gradClip);
      this.#be.scaleBy(this.#grads, this.#clip);
    }
    this.#step++;
    this.#be.adamw(this.#params, this.#grads, this.#m, this.#v, {
      lr,
      beta1: c.beta1,
      beta2: c.beta2,
      eps: c.eps,
      weightDecay: c.weightDecay,
      step: this.#step,
    }, this.#decayMask);
    return { gradNorm, applied: true };
  }

  /** The backend the parameters and moments live on. */
  get backend(): Backend {
    return this.#be;
  }

  /**
   * AdamW's first and second moments, one entry per parameter in slot order, with the parameter's name
   * and shape: what a checkpoint saves and restores (the trainer's checkpoint module does the file I/O).
   */
  get moments(): readonly OptimizerMoments[] {
    return this.#slots.map((s, i) => ({ name: s.name, shape: s.shape, m: this.#m[i], v: this.#v[i] }));
  }

  /**
   * Restores the step count of a saved state (after its {@link moments} were written back): AdamW's
   * bias correction continues from it.
   */
  restoreStepCount(step: number): void {
    if (!Number.isSafeInteger(step) || step < 0) throw new UserError(`invalid optimizer step count ${step}`);
    this.#step = step;
  }

  /** Releases the moments. */
  free(): void {
    // Each moment group is freed through its first member (freeing a member frees its whole group).
    if (this.#m.length > 0) this.#be.free(this.#m[0]);
    if (this.#v.length > 0) this.#be.free(this.#v[0]);
    this.#be.free(this.#normSq);
    this.#be.free(this.#clip);
  }
}

/** RMSNorm weights and the token embedding: what `decayNormsAndEmbeddings: false` exempts. */
export function isNormOrEmbedding(name: string): boolean {
  return name.endsWith("norm.weight") || name.includes("embed_tokens");
}

function checkConfig(c: AdamWConfig): void {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new UserError(what);
  };
  check(c.beta1 >= 0 && c.beta1 < 1, `beta1 must be in [0, 1), got ${c.beta1}`);
  check(c.beta2 >= 0 && c.beta2 < 1, `beta2 must be in [0, 1), got ${c.beta2}`);
  check(c.eps > 0 && Number.isFinite(c.eps), `eps must be > 0, got ${c.eps}`);
  check(
    c.weightDecay >= 0 && Number.isFinite(c.weightDecay),
    `weight decay must be ≥ 0, got ${c.weightDecay}`,
  );
  check(c.gradClip >= 0 && Number.isFinite(c.gradClip), `grad clip must be ≥ 0, got ${c.gradClip}`);
}
