/**
 * The Llama 2 model (TinyLlama's architecture) over a {@link Backend}: embedding, `n_layer` blocks of
 * RMSNorm → grouped-query attention with RoPE → residual, RMSNorm → SwiGLU MLP → residual, a final
 * RMSNorm and an untied head. It only issues backend ops, so the same code runs on every backend.
 *
 * Memory, in the style of llm.c: the parameters are one backend group with a view per Hugging Face
 * tensor (in HF's order and names), the gradients a second group of the same layout, and the
 * activations a third, sized for one `[B, T]` and kept for the backward pass.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * model.init(1234);
 * const ids = new Int32Array([1, 5, 9, 2]), targets = new Int32Array([5, 9, 2, -1]);
 * const { loss } = await model.forward(ids, targets);
 * model.backward(); // gradients accumulate into model.grads
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { AttentionShape, Backend, RopeShape, Tensor } from "@tinyllama-ts/backend";
import { bf16ToF32, f32ToBf16 } from "@tinyllama-ts/backend";
import { headSize, type ModelConfig } from "./config.ts";
import { Random } from "@tinyllama-ts/random";

/** A parameter: its Hugging Face name and shape (`[out, in]` for linear weights). */
export interface ParamSpec {
  name: string;
  shape: readonly number[];
}

/** One block's weights (or their gradients). */
export interface LayerWeights {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** All weights (or gradients) by role; the same tensors as the flat lists, in the same order. */
export interface Weights {
  embed: Tensor;
  layers: LayerWeights[];
  norm: Tensor;
  lmHead: Tensor;
}

/**
 * The parameters of a config with their Hugging Face names, in checkpoint order: embedding, each
 * layer's `input_layernorm, q, k, v, o, post_attention_layernorm, gate, up, down`, final norm, head.
 *
 * @example
 * ```ts
 * import { paramSpecs, PRESETS } from "@tinyllama-ts/model";
 * const specs = paramSpecs(PRESETS["tinyllama-1.1b"]);
 * console.log(specs[2]); // { name: "model.layers.0.self_attn.q_proj.weight", shape: [2048, 2048] }
 * ```
 */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const C = c.n_embd, kvDim = c.n_query_groups * headSize(c), I = c.intermediate_size;
  const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [c.vocab_size, C] }];
  for (let l = 0; l < c.n_layer; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [C] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [C, C] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kvDim, C] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kvDim, C] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [C, C] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [C] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [I, C] },
      { name: `${p}.mlp.up_proj.weight`, shape: [I, C] },
      { name: `${p}.mlp.down_proj.weight`, shape: [C, I] },
    );
  }
  specs.push({ name: "model.norm.weight", shape: [C] }, { name: "lm_head.weight", shape: [c.vocab_size, C] });
  return specs;
}

/**
 * How the weights are held: `"f32"` (training and everything else), or `"bf16"`: the embedding, every
 * linear weight and the head as bf16 on the backend (half the memory, and half the memory traffic of
 * decoding), the norms in f32. A bf16 model evaluates and generates (the matmuls widen the weights
 * exactly, so it computes what an f32 model with the same values computes); it does not train.
 */
export type WeightDType = "f32" | "bf16";

/** Options of the {@link Model} constructor. */
export interface ModelOptions {
  /** See {@link WeightDType} (default `"f32"`). */
  weightDtype?: WeightDType;
  /**
   * Rows per block of the training forward's fused head and loss (default 256): the head's matmul,
   * the cross-entropy and the head's backward run block by block, so that only `rows × V` logits
   * exist at once, never all `B·T × V`.
   */
  lossChunkRows?: number;
}

/** Weight initialisations; both seeded, both with norms at one. */
export type InitScheme = "hf" | "tinyllama";

/** Options of {@link Model.forward}. */
export interface ForwardOptions {
  /** Rows of the batch; `inputs.length / batch` is the sequence length (default 1). */
  batch?: number;
  /**
   * Also return the logits `[B·T, V]` (read back before the loss overwrites them). With a gradient
   * this takes the unfused path, which holds all `B·T × V` logits (the fused one holds a block).
   */
  logits?: boolean;
  /** Prepare {@link Model.backward} (default: whenever targets are given). */
  grad?: boolean;
  /** Multiplies the gradient (not the returned loss): `1 / accumulation steps` for the trainer. */
  lossScale?: number;
}

/** What {@link Model.forward} returns. */
export interface ForwardResult {
  /** Mean cross-entropy over the non-ignored targets (NaN if all are ignored; null without targets). */
  loss: number | null;
  /** Logits `[B·T, V]` when asked for. */
  logits: Float32Array | null;
  /** Number of non-ignored targets. */
  tokens: number;
}

/** Activations of one block (views into the activation group). */
interface BlockActs {
  /** Residual stream in, `[N, C]`. */
  x: Tensor;
  ln1: Tensor;
  rstd1: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: Tensor;
  lse: Tensor;
  mid: Tensor;
  ln2: Tensor;
  rstd2: Tensor;
  gate: Tensor;
  up: Tensor;
  h: Tensor;
  /** Residual stream out (the next block's `x`). */
  out: Tensor;
}

/**
 * Activations of one forward over `n = B·T` positions. Training keeps a {@link BlockActs} per block
 * for the backward pass; inference (no gradient, or the KV-cached path) reuses one block's buffers
 * for every block, with the residual stream updated in place, and the final norm in that block's
 * `ln1`/`rstd1`.
 */
interface Acts {
  n: number;
  /** Rows the logits buffer holds: `n`, or one block of the fused loss. */
  logitRows: number;
  /** One set of block buffers, refilled by recomputation in the backward. */
  recompute: boolean;
  group: Tensor[];
  ids: Tensor;
  targets: Tensor;
  blocks: BlockActs[];
  tmp: Tensor;
  lnf: Tensor;
  rstdf: Tensor;
  /** `[n, V]` logits; the cross-entropy overwrites them with its gradient. */
  logits: Tensor;
  losses: Tensor;
  /** `[B, C]`: each row's last position, for the cached path. */
  last: Tensor;
}

/** Gradient scratch of the backward pass, one block's worth, reused down the layers. */
interface Scratch {
  n: number;
  group: Tensor[];
  dres: Tensor;
  dln: Tensor;
  datt: Tensor;
  dq: Tensor;
  dqr: Tensor;
  dk: Tensor;
  dkr: Tensor;
  dv: Tensor;
  dh: Tensor;
  dgate: Tensor;
  dup: Tensor;
}

/**
 * A key/value cache for generation: per layer, keys and values `[B, capacity, nQueryGroups, headSize]` after
 * RoPE, `length` positions filled. Made by {@link Model.createCache}.
 */
export class KVCache {
  /** Positions filled. */
  length = 0;
  constructor(
    readonly batch: number,
    readonly capacity: number,
    readonly k: readonly Tensor[],
    readonly v: readonly Tensor[],
  ) {}
}

/**
 * The model: parameters (and, once used, gradients and activations) on one backend.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * model.init(0, "tinyllama");
 * console.log(model.names.length, model.numParams);
 * ```
 */
export class Model {
  readonly config: ModelConfig;
  readonly backend: Backend;
  /** Hugging Face names of {@link params}, in order. */
  readonly names: readonly string[];
  /** Shapes of {@link params}. */
  readonly shapes: readonly (readonly number[])[];
  /** The parameters: one backend group, a tensor per name. */
  readonly params: readonly Tensor[];
  /** The parameters by role. */
  readonly weights: Weights;
  /** Total number of parameters. */
  readonly numParams: number;
  /** How the weights are held (see {@link WeightDType}). */
  readonly weightDtype: WeightDType;
  /** The first tensor of each parameter group (one group, or the f32 and the bf16 one). */
  readonly #paramGroups: Tensor[];
  /** Rows per block of the fused head and loss. */
  readonly lossChunkRows: number;
  /**
   * Activation recomputation: the training forward keeps only each block's input (the residual
   * stream) and one block's buffers; {@link backward} runs each block's forward again from its input
   * before its backward. The same kernels on the same inputs give the same activations, so the
   * gradients are bit for bit those without it, for about one more forward of compute and
   * `n_layer − 1` blocks' activations less memory. Takes effect at the next training forward.
   */
  recompute = false;

  #grads: Tensor[] | null = null;
  #gradWeights: Weights | null = null;
  #acts: Acts | null = null;
  #infer: Acts | null = null;
  #scratch: Scratch | null = null;
  /**
   * Set by a forward with `grad`, cleared by the backward that consumes it; `fused` when that forward
   * already ran the head's backward (block by block, with the loss).
   */
  #pending: { b: number; t: number; fused: boolean } | null = null;

  /** Allocates zeroed parameters; call {@link init} or load a checkpoint into them. */
  constructor(backend: Backend, config: ModelConfig, opts: ModelOptions = {}) {
    this.backend = backend;
    this.config = config;
    const specs = paramSpecs(config);
    this.names = specs.map((s) => s.name);
    this.shapes = specs.map((s) => s.shape);
    this.weightDtype = opts.weightDtype ?? "f32";
    this.lossChunkRows = opts.lossChunkRows ?? 256;
    if (!Number.isSafeInteger(this.lossChunkRows) || this.lossChunkRows < 1) {
      throw new UserError(`lossChunkRows must be a positive integer, got ${opts.lossChunkRows}`);
    }
    if (this.weightDtype === "f32") {
      this.params = backend.allocGroup(specs.map((s) => numel(s.shape)));
      this.#paramGroups = [this.params[0]];
    } else if (this.weightDtype === "bf16") {
      // The norms (vectors) stay f32; the matrices go into one bf16 group.
      const isNorm = this.names.map((n) => n.endsWith("norm.weight"));
      const sizes = specs.map((s) => numel(s.shape));
      const norms = backend.allocGroup(sizes.filter((_, i) => isNorm[i]));
      const mats = backend.allocGroup(sizes.filter((_, i) => !isNorm[i]), "bf16");
      let a = 0, b = 0;
      this.params = isNorm.map((norm) => norm ? norms[a++] : mats[b++]);
      this.#paramGroups = [norms[0], mats[0]];
    } else {
      throw new UserError(`unknown weight dtype "${this.weightDtype}" (f32, bf16)`);
    }
    this.weights = weightsOf(this.params, config.n_layer);
    this.numParams = this.params.reduce((a, t) => a + t.size, 0);
  }

  /**
   * The gradients, a group with the layout of {@link params}; allocated zeroed on first use.
   * {@link backward} accumulates into them; {@link zeroGrad} clears them.
   */
  get grads(): readonly Tensor[] {
    this.#ensureGrads();
    return this.#grads!;
  }

  /** The gradients by role (allocated zeroed on first use, as {@link grads}). */
  get gradWeights(): Weights {
    return this.#ensureGrads();
  }

  #ensureGrads(): Weights {
    if (this.weightDtype !== "f32") {
      throw new UserError("a model with bf16 weights evaluates and generates; training needs f32 weights");
    }
    if (!this.#grads || !this.#gradWeights) {
      this.#grads = this.backend.allocGroup(this.shapes.map(numel));
      this.#gradWeights = weightsOf(this.#grads, this.config.n_layer);
    }
    return this.#gradWeights;
  }

  /** Index of a parameter by its Hugging Face name (a {@link UserError} if there is none). */
  indexOf(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new UserError(`the model has no parameter "${name}"`);
    return i;
  }

  /**
   * Seeded initialisation. `"hf"` (default): every linear and embedding weight normal with std 0.02,
   * as transformers' `LlamaPreTrainedModel._init_weights` (`initializer_range`) and lit-gpt's Llama
   * do. `"tinyllama"`: TinyLlama's pretraining init (GPT-NeoX), std `sqrt(2 / (5·n_embd))` and, for
   * the residual projections `o_proj` and `down_proj`, `1 / sqrt(n_embd) / n_layer`. RMSNorm weights
   * are ones in both. The values come from one stream seeded by `seed`, drawn in parameter order, so a
   * seed gives the same model on every backend.
   */
  init(seed: number, scheme: InitScheme = "hf"): void {
    const rng = new Random(seed);
    const c = this.config;
    const chunk = 1 << 20;
    for (let i = 0; i < this.params.length; i++) {
      const name = this.names[i], t = this.params[i];
      if (name.endsWith("norm.weight")) {
        this.#writeAt(t, new Float32Array(t.size).fill(1), 0);
        continue;
      }
      let std = 0.02;
      if (scheme === "tinyllama") {
        const residual = name.endsWith("o_proj.weight") || name.endsWith("down_proj.weight");
        std = residual ? 1 / Math.sqrt(c.n_embd) / c.n_layer : Math.sqrt(2 / 5 / c.n_embd);
      }
      for (let off = 0; off < t.size; off += chunk) {
        this.#writeAt(t, rng.fillNormal(new Float32Array(Math.min(chunk, t.size - off)), std), off);
      }
    }
  }

  /** Sets every gradient to zero. */
  zeroGrad(): void {
    for (const g of this.grads) this.backend.zero(g);
  }

  /**
   * Runs the model over `inputs` (`[B, T]` token ids, row-major). With `targets` (same shape, a
   * negative value ignores the position), returns the mean cross-entropy over the non-ignored
   * positions and, unless `grad: false`, leaves the scaled loss gradient ready for {@link backward}.
   */
  async forward(
    inputs: Int32Array,
    targets: Int32Array | null,
    opts: ForwardOptions = {},
  ): Promise<ForwardResult> {
    const c = this.config, be = this.backend, w = this.weights;
    const b = opts.batch ?? 1;
    const t = inputs.length / b;
    if (!Number.isInteger(b) || b < 1 || !Number.isInteger(t) || t < 1) {
      throw new UserError(`forward: ${inputs.length} input ids do not split into ${b} rows`);
    }
    if (t > c.block_size) {
      throw new UserError(`forward: sequence length ${t} exceeds block_size ${c.block_size}`);
    }
    if (targets && targets.length !== inputs.length) {
      throw new UserError(`forward: ${targets.length} targets for ${inputs.length} inputs`);
    }
    checkIds("input", inputs, c.vocab_size);
    const n = b * t, C = c.n_embd, V = c.vocab_size;
    const grad = targets !== null && (opts.grad ?? true);
    if (grad) this.#ensureGrads(); // a bf16 model says it cannot train before any work
    this.#pending = null;
    const fused = grad && !opts.logits;
    const a = grad ? this.#trainActs(n, fused) : this.#inferActs(n);
    be.write(a.ids, inputs);
    be.embeddingForward(a.blocks[0].x, w.embed, a.ids, n, C);
    for (let l = 0; l < c.n_layer; l++) this.#block(l, a.blocks[l], a.tmp, b, t, null);
    be.rmsnormForward(a.lnf, a.rstdf, a.blocks[c.n_layer - 1].out, w.norm, n, C, c.norm_eps);
    if (!fused) be.matmulForward(a.logits, a.lnf, w.lmHead, n, C, V);
    const logits = opts.logits ? (await be.read(a.logits, 0, n * V)) as Float32Array : null;
    if (!targets) return { loss: null, logits, tokens: 0 };

    let tokens = 0;
    for (let i = 0; i < n; i++) {
      if (targets[i] >= V) {
        throw new UserError(`target id ${targets[i]} at position ${i} is outside the vocabulary ${V}`);
      }
      if (targets[i] >= 0) tokens++;
    }
    be.write(a.targets, targets);
    const scale = grad ? (tokens > 0 ? (opts.lossScale ?? 1) / tokens : 0) : null;
    if (fused) this.#fusedHeadLoss(a, n, scale!);
    else be.crossEntropy(a.losses, a.logits, a.targets, n, V, scale);
    const losses = await be.read(a.losses, 0, n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += losses[i];
    if (grad) this.#pending = { b, t, fused };
    return { loss: tokens > 0 ? sum / tokens : NaN, logits, tokens };
  }

  /**
   * The head, the loss and the head's backward over blocks of {@link lossChunkRows} rows: each block's
   * logits go through the cross-entropy (which leaves their gradient in place) and straight into the
   * head's backward, so the logits buffer holds one block. The same ops as the unfused path on the
   * same rows; the head's weight gradient sums the blocks in row order, as the unfused product sums
   * its own row blocks. Leaves `d(lnf)` in the scratch's `dln` for {@link backward}.
   */
  #fusedHeadLoss(a: Acts, n: number, scale: number): void {
    const be = this.backend, C = this.config.n_embd, V = this.config.vocab_size, w = this.weights;
    const g = this.#ensureGrads(), d = this.#scratchFor(n), rows = this.lossChunkRows;
    be.zero(d.dln);
    for (let r0 = 0; r0 < n; r0 += rows) {
      const r = Math.min(rows, n - r0);
      const x = be.view(a.lnf, r0 * C, r * C), logits = be.view(a.logits, 0, r * V);
      be.matmulForward(logits, x, w.lmHead, r, C, V);
      be.crossEntropy(be.view(a.losses, r0, r), logits, be.view(a.targets, r0, r), r, V, scale);
      be.matmulBackward(be.view(d.dln, r0 * C, r * C), g.lmHead, logits, x, w.lmHead, r, C, V);
    }
  }

  /** One block: attention and MLP, each a pre-norm residual branch. With a cache, k/v go into it. */
  #block(l: number, a: BlockActs, tmp: Tensor, b: number, t: number, cache: KVCache | null): void {
    const be = this.backend, c = this.config, w = this.weights.layers[l];
    const n = b * t,
      C = c.n_embd,
      hd = headSize(c),
      nQueryGroups = c.n_query_groups,
      kvDim = nQueryGroups * hd;
    const I = c.intermediate_size;
    const pos = cache ? cache.length : 0;
    be.rmsnormForward(a.ln1, a.rstd1, a.x, w.inputNorm, n, C, c.norm_eps);
    be.matmulForward(a.q, a.ln1, w.q, n, C, C);
    be.matmulForward(a.k, a.ln1, w.k, n, C, kvDim);
    be.matmulForward(a.v, a.ln1, w.v, n, C, kvDim);
    be.ropeForward(a.q, a.q, this.#ropeShape(b, t, c.n_head, pos));
    be.ropeForward(a.k, a.k, this.#ropeShape(b, t, nQueryGroups, pos));
    let k = a.k, v = a.v, kvLen = t, kvStride = t;
    if (cache) {
      for (let r = 0; r < b; r++) {
        const dst = (r * cache.capacity + pos) * kvDim, src = r * t * kvDim;
        be.copy(cache.k[l], a.k, t * kvDim, dst, src);
        be.copy(cache.v[l], a.v, t * kvDim, dst, src);
      }
      k = cache.k[l], v = cache.v[l], kvLen = pos + t, kvStride = cache.capacity;
    }
    be.attentionForward(a.att, a.lse, a.q, k, v, {
      b,
      tq: t,
      kvLen,
      kvStride,
      nHead: c.n_head,
      nQueryGroups,
      headSize: hd,
    });
    be.matmulForward(tmp, a.att, w.o, n, C, C);
    be.add(a.mid, a.x, tmp, n * C);
    be.rmsnormForward(a.ln2, a.rstd2, a.mid, w.postNorm, n, C, c.norm_eps);
    be.matmulForward(a.gate, a.ln2, w.gate, n, C, I);
    be.matmulForward(a.up, a.ln2, w.up, n, C, I);
    be.swigluForward(a.h, a.gate, a.up, n * I);
    be.matmulForward(tmp, a.h, w.down, n, I, C);
    be.add(a.out, a.mid, tmp, n * C);
  }

  /**
   * Accumulates the gradient of the last forward's (scaled) mean loss into {@link grads}: the head,
   * the final norm, the blocks from the last to the first, the embedding. Needs a forward with
   * targets and `grad` since; the forward's logits buffer holds the loss gradient until then (or,
   * on the fused path, that forward already added the head's gradient and left `d(lnf)`).
   */
  backward(): void {
    if (!this.#pending || !this.#acts) {
      throw new Error("backward() needs a forward() with targets (and grad enabled) before it");
    }
    const { b, t, fused } = this.#pending;
    this.#pending = null;
    const be = this.backend, c = this.config, w = this.weights, a = this.#acts;
    const g = this.#ensureGrads();
    const n = b * t, C = c.n_embd, V = c.vocab_size, I = c.intermediate_size;
    const hd = headSize(c), nQueryGroups = c.n_query_groups, kvDim = nQueryGroups * hd;
    const d = this.#scratchFor(n);
    const att: AttentionShape = {
      b,
      tq: t,
      kvLen: t,
      kvStride: t,
      nHead: c.n_head,
      nQueryGroups,
      headSize: hd,
    };
    const ropeQ = this.#ropeShape(b, t, c.n_head, 0), ropeK = this.#ropeShape(b, t, nQueryGroups, 0);

    be.zero(d.dres);
    if (!fused) {
      be.zero(d.dln);
      be.matmulBackward(d.dln, g.lmHead, a.logits, a.lnf, w.lmHead, n, C, V);
    }
    be.rmsnormBackward(d.dres, g.norm, d.dln, a.blocks[c.n_layer - 1].out, w.norm, a.rstdf, n, C);
    for (let l = c.n_layer - 1; l >= 0; l--) {
      const x = a.blocks[l], wl = w.layers[l], gl = g.layers[l];
      // Block l's activations again, from its kept input (its output is rewritten with the same values).
      if (a.recompute) this.#block(l, x, a.tmp, b, t, null);
      // MLP branch: out = mid + down(silu(gate(ln2)) · up(ln2)); d.dres holds d(out), then d(mid).
      be.zero(d.dh);
      be.matmulBackward(d.dh, gl.down, d.dres, x.h, wl.down, n, I, C);
      be.zero(d.dgate);
      be.zero(d.dup);
      be.swigluBackward(d.dgate, d.dup, d.dh, x.gate, x.up, n * I);
      be.zero(d.dln);
      be.matmulBackward(d.dln, gl.gate, d.dgate, x.ln2, wl.gate, n, C, I);
      be.matmulBackward(d.dln, gl.up, d.dup, x.ln2, wl.up, n, C, I);
      be.rmsnormBackward(d.dres, gl.postNorm, d.dln, x.mid, wl.postNorm, x.rstd2, n, C);
      // Attention branch: mid = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))); d.dres → d(x).
      be.zero(d.datt);
      be.matmulBackward(d.datt, gl.o, d.dres, x.att, wl.o, n, C, C);
      be.zero(d.dq);
      be.zero(d.dk);
      be.zero(d.dv);
      be.attentionBackward(d.dq, d.dk, d.dv, d.datt, x.q, x.k, x.v, x.att, x.lse, att);
      be.zero(d.dqr);
      be.zero(d.dkr);
      be.ropeBackward(d.dqr, d.dq, ropeQ);
      be.ropeBackward(d.dkr, d.dk, ropeK);
      be.zero(d.dln);
      be.matmulBackward(d.dln, gl.q, d.dqr, x.ln1, wl.q, n, C, C);
      be.matmulBackward(d.dln, gl.k, d.dkr, x.ln1, wl.k, n, C, kvDim);
      be.matmulBackward(d.dln, gl.v, d.dv, x.ln1, wl.v, n, C, kvDim);
      be.rmsnormBackward(d.dres, gl.inputNorm, d.dln, x.x, wl.inputNorm, x.rstd1, n, C);
    }
    be.embeddingBackward(g.embed, d.dres, a.ids, n, C);
  }

  /**
   * A key/value cache for {@link forwardCached}: `batch` rows of up to `capacity` positions
   * (at most `block_size`).
   */
  createCache(batch: number, capacity: number): KVCache {
    const c = this.config;
    if (capacity > c.block_size) {
      throw new UserError(`${capacity} positions exceed the model's block_size ${c.block_size}`);
    }
    const size = batch * capacity * c.n_query_groups * headSize(c);
    const k = this.backend.allocGroup(new Array(c.n_layer).fill(size));
    const v = this.backend.allocGroup(new Array(c.n_layer).fill(size));
    return new KVCache(batch, capacity, k, v);
  }

  /** Releases a cache's tensors. */
  freeCache(cache: KVCache): void {
    this.backend.free(cache.k[0]);
    this.backend.free(cache.v[0]);
  }

  /**
   * Runs `ids` (`[B, t]`, the next `t` positions of every row) through the model, appending their keys
   * and values to `cache`; returns the logits of each row's last position, `[B, V]`.
   */
  async forwardCached(ids: Int32Array, cache: KVCache): Promise<Float32Array> {
    const c = this.config, be = this.backend, w = this.weights;
    const b = cache.batch, t = ids.length / b;
    if (!Number.isInteger(t) || t < 1) throw new UserError(`forwardCached: ${ids.length} ids for ${b} rows`);
    if (cache.length + t > cache.capacity) {
      throw new UserError(`the KV cache holds ${cache.capacity} positions, ${cache.length + t} needed`);
    }
    checkIds("input", ids, c.vocab_size);
    const n = b * t, C = c.n_embd;
    const a = this.#inferActs(n);
    be.write(a.ids, ids);
    be.embeddingForward(a.blocks[0].x, w.embed, a.ids, n, C);
    for (let l = 0; l < c.n_layer; l++) this.#block(l, a.blocks[l], a.tmp, b, t, cache);
    cache.length += t;
    // Only each row's last position goes through the final norm's output into the head.
    be.rmsnormForward(a.lnf, a.rstdf, a.blocks[c.n_layer - 1].out, w.norm, n, C, c.norm_eps);
    for (let r = 0; r < b; r++) be.copy(a.last, a.lnf, C, r * C, (r * t + t - 1) * C);
    be.matmulForward(a.logits, a.last, w.lmHead, b, C, c.vocab_size);
    return (await be.read(a.logits, 0, b * c.vocab_size)) as Float32Array;
  }

  /** Copies parameter `i` (or the one named so) to the host. */
  async readParam(nameOrIndex: string | number): Promise<Float32Array> {
    const i = typeof nameOrIndex === "number" ? nameOrIndex : this.indexOf(nameOrIndex);
    return (await this.backend.read(this.params[i])) as Float32Array;
  }

  /** Copies gradient `i` (or the one named so) to the host. */
  async readGrad(nameOrIndex: string | number): Promise<Float32Array> {
    const i = typeof nameOrIndex === "number" ? nameOrIndex : this.indexOf(nameOrIndex);
    return (await this.backend.read(this.grads[i])) as Float32Array;
  }

  /**
   * Sets parameter `i` (or the one named so) from host data of exactly its size: f32 values, or bf16
   * bits (`Uint16Array`, widened exactly for an f32 parameter). f32 values into a bf16 parameter are
   * rounded to nearest even.
   */
  writeParam(nameOrIndex: string | number, data: Float32Array | Uint16Array): void {
    const i = typeof nameOrIndex === "number" ? nameOrIndex : this.indexOf(nameOrIndex);
    if (data.length !== this.params[i].size) {
      throw new UserError(
        `${this.names[i]}: ${data.length} values for a parameter of ${this.params[i].size}`,
      );
    }
    this.#writeAt(this.params[i], data, 0);
  }

  /** Writes f32 values or bf16 bits into a parameter, converting to its dtype. */
  #writeAt(t: Tensor, data: Float32Array | Uint16Array, offset: number): void {
    if (t.dtype === "bf16" && data instanceof Float32Array) data = f32ToBf16(data);
    else if (t.dtype !== "bf16" && data instanceof Uint16Array) data = bf16ToF32(data);
    this.backend.write(t, data, offset);
  }

  /** Releases every tensor of the model (not the backend). */
  destroy(): void {
    const be = this.backend;
    for (const g of this.#paramGroups) be.free(g);
    if (this.#grads) be.free(this.#grads[0]);
    this.#freeActs(this.#acts);
    this.#freeActs(this.#infer);
    if (this.#scratch) be.free(this.#scratch.group[0]);
    this.#grads =
      this.#gradWeights =
      this.#scratch =
      this.#acts =
      this.#infer =
        null;
    this.#pending = null;
  }

  #ropeShape(b: number, t: number, nHeads: number, posOffset: number): RopeShape {
    return { b, t, nHeads, headSize: headSize(this.config), base: this.config.rope_base, posOffset };
  }

  /**
   * Training activations for `n` positions, reallocated when `n` or the path changes: the fused path's
   * logits buffer holds one block of rows, the unfused one all `n`.
   */
  #trainActs(n: number, fused: boolean): Acts {
    const logitRows = fused ? Math.min(n, this.lossChunkRows) : n;
    const a = this.#acts;
    if (a?.n === n && a.logitRows === logitRows && a.recompute === this.recompute) return a;
    this.#freeActs(a);
    return this.#acts = this.#allocActs(n, this.recompute ? "recompute" : this.config.n_layer, logitRows);
  }

  /** Inference activations for at least `n` positions (grown on demand). */
  #inferActs(n: number): Acts {
    if (this.#infer && this.#infer.n >= n) return this.#infer;
    this.#freeActs(this.#infer);
    return this.#infer = this.#allocActs(n, 1, n);
  }

  /**
   * One group of activations: `distinct` sets of block buffers (`n_layer` for training, then block
   * `l`'s output is block `l+1`'s input; 1 for inference, shared by every block and updated in place;
   * `"recompute"`: a residual stream buffer per block boundary and one set of the other buffers,
   * which each block's forward fills, in the forward and again in the backward).
   */
  #allocActs(n: number, mode: number | "recompute", logitRows: number): Acts {
    const c = this.config, be = this.backend;
    const { layout, blocks, recompute, inPlace, tmp, logits, losses, lnf, rstdf } = actsLayout(
      c,
      n,
      mode,
      logitRows,
    );
    const group = be.allocGroup(layout.sizes);
    const views = blocks.map((blk) => mapViews(blk, group) as unknown as BlockActs);
    return {
      n,
      logitRows,
      recompute,
      group,
      ids: be.alloc(n, "i32"),
      targets: be.alloc(n, "i32"),
      blocks: inPlace ? new Array(c.n_layer).fill(views[0]) : views,
      tmp: group[tmp],
      lnf: group[lnf],
      rstdf: group[rstdf],
      logits: group[logits],
      losses: group[losses],
      last: group[tmp], // free once the blocks are done
    };
  }

  #freeActs(a: Acts | null): void {
    if (!a) return;
    this.backend.free(a.group[0]);
    this.backend.free(a.ids);
    this.backend.free(a.targets);
    if (a === this.#acts) this.#pending = null;
  }

  /** The backward scratch for `n` positions. */
  #scratchFor(n: number): Scratch {
    if (this.#scratch && this.#scratch.n === n) return this.#scratch;
    if (this.#scratch) this.backend.free(this.#scratch.group[0]);
    const group = this.backend.allocGroup(Object.values(scratchSizes(this.config, n)));
    const s = { n, group } as Scratch;
    SCRATCH_NAMES.forEach((name, i) => (s[name] = group[i]));
    this.#scratch = s;
    return s;
  }
}

/** The training or inference activations' group layout (see `Model.#allocActs`); sizes in elements. Internal: for `memory_plan.ts`. */
export function actsLayout(c: ModelConfig, n: number, mode: number | "recompute", logitRows: number) {
  const C = c.n_embd, kvDim = c.n_query_groups * headSize(c), I = c.intermediate_size;
  const recompute = mode === "recompute", distinct = recompute ? 1 : mode;
  const inPlace = distinct === 1 && !recompute;
  const layout = new Views();
  const res = Array.from({ length: inPlace ? 1 : c.n_layer + 1 }, () => layout.add(n * C));
  const made = Array.from({ length: distinct }, (_, l) => ({
    x: res[inPlace ? 0 : l],
    ln1: layout.add(n * C),
    rstd1: layout.add(n),
    q: layout.add(n * C),
    k: layout.add(n * kvDim),
    v: layout.add(n * kvDim),
    att: layout.add(n * C),
    lse: layout.add(n * c.n_head),
    mid: inPlace ? res[0] : layout.add(n * C),
    ln2: layout.add(n * C),
    rstd2: layout.add(n),
    gate: layout.add(n * I),
    up: layout.add(n * I),
    h: layout.add(n * I),
    out: res[inPlace ? 0 : l + 1],
  }));
  const tmp = layout.add(n * C), logits = layout.add(logitRows * c.vocab_size), losses = layout.add(n);
  const lnf = inPlace ? made[0].ln1 : layout.add(n * C),
    rstdf = inPlace ? made[0].rstd1 : layout.add(n);
  // Recomputation: every block shares the one set of buffers but for its own input and output.
  const blocks = recompute
    ? Array.from({ length: c.n_layer }, (_, l) => ({ ...made[0], x: res[l], out: res[l + 1] }))
    : made;
  return { layout, blocks, recompute, inPlace, tmp, logits, losses, lnf, rstdf };
}

/** Sizes of the backward's scratch group for `n` positions, by name (see `Model.#scratchFor`). */
export function scratchSizes(c: ModelConfig, n: number): Record<(typeof SCRATCH_NAMES)[number], number> {
  const C = c.n_embd, kvDim = c.n_query_groups * headSize(c), I = c.intermediate_size;
  const sizes = [n * C, n * C, n * C, n * C, n * C, n * kvDim, n * kvDim, n * kvDim, n * I, n * I, n * I];
  return Object.fromEntries(SCRATCH_NAMES.map((name, i) => [name, sizes[i]])) as Record<
    (typeof SCRATCH_NAMES)[number],
    number
  >;
}

const SCRATCH_NAMES = ["dres", "dln", "datt", "dq", "dqr", "dk", "dkr", "dv", "dh", "dgate", "dup"] as const;

/** Collects the sizes of a group's views; `add` returns the view's index. */
class Views {
  readonly sizes: number[] = [];
  add(size: number): number {
    this.sizes.push(size);
    return this.sizes.length - 1;
  }
}

function mapViews(indices: Record<string, number>, group: Tensor[]): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(indices).map(([k, i]) => [k, group[i]]));
}

function weightsOf(list: readonly Tensor[], nLayer: number): Weights {
  const layers: LayerWeights[] = [];
  for (let l = 0; l < nLayer; l++) {
    const [inputNorm, q, k, v, o, postNorm, gate, up, down] = list.slice(1 + 9 * l, 10 + 9 * l);
    layers.push({ inputNorm, q, k, v, o, postNorm, gate, up, down });
  }
  return { embed: list[0], layers, norm: list[1 + 9 * nLayer], lmHead: list[2 + 9 * nLayer] };
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkIds(what: string, ids: Int32Array, vocab: number): void {
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw new UserError(`${what} id ${ids[i]} at position ${i} is outside the vocabulary ${vocab}`);
    }
  }
}
