/**
 * The backend interface: every numeric op the model needs, forward and backward, implemented once for
 * the WASM core and once for WebGPU (and once more in plain f64 TypeScript as the reference the tests
 * compare against). The model calls only these methods and never knows which backend runs it.
 *
 * Conventions shared by every implementation:
 * - Tensors are flat, row-major and owned by the backend; shapes are passed with each call.
 * - Ops are issued in order; a backend may queue them (WebGPU) and runs them before any `read` returns.
 * - Forward ops overwrite their outputs. Backward ops ACCUMULATE (`+=`) into every gradient they
 *   produce, so residual branches and micro-batches sum without extra copies; callers zero gradients.
 * - Activation layouts: tokens are `[B, T]`; hidden states `[B·T, C]`; queries `[B, T, nHead, headSize]`;
 *   keys and values `[B, T, nQueryGroups, headSize]` (heads of one token adjacent, as the projections produce them).
 * - Linear weights use Hugging Face's `[out_features, in_features]` layout: `y = x · Wᵀ`.
 *
 * @module
 */

/**
 * A tensor's element type: `f32` for values, `i32` for token ids and targets, `bf16` for weights kept
 * at half the memory for inference. A bf16 tensor is written as bf16 bits (`Uint16Array`) and read
 * widened to f32; only `matmulForward`'s `w` and `embeddingForward`'s `table` may be bf16, and they
 * compute exactly what they compute on the widened f32 values (widening is exact). A backend may
 * hold bf16 widened (WebGPU, the reference); WASM holds two bytes an element.
 */
export type DType = "f32" | "i32" | "bf16";

/** A handle to a backend-owned buffer of `size` elements. */
export interface Tensor {
  readonly size: number;
  readonly dtype: DType;
}

/** Shape of an attention call. Query `i` sits at absolute position `kvLen − tq + i` (causal). */
export interface AttentionShape {
  /** Batch size. */
  b: number;
  /** Number of query positions. */
  tq: number;
  /** Number of key/value positions in use (`tq` in training; the cache length when decoding). */
  kvLen: number;
  /** Positions allocated per batch row in `k` and `v` (`kvLen` in training; the cache capacity). */
  kvStride: number;
  nHead: number;
  /** Key/value heads (lit-gpt's `n_query_groups`); each serves `nHead / nQueryGroups` consecutive query heads. */
  nQueryGroups: number;
  headSize: number;
}

/** Shape of a RoPE call over `[B, T, nHeads, headSize]`, positions `posOffset + t`. */
export interface RopeShape {
  b: number;
  t: number;
  nHeads: number;
  headSize: number;
  /** `rope_base` (θ), 10000 for Llama 2. */
  base: number;
  /** Absolute position of `t = 0` (the KV-cache length when decoding). */
  posOffset: number;
}

/** AdamW hyper-parameters for one optimizer step; `step` is 1-based (bias correction). */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** What a backend is, declared by the backend itself: callers ask this, never the backend's class. */
export interface BackendInfo {
  /** The registry name: `"wasm"`, `"webgpu"` or `"reference"`. */
  readonly name: string;
  /** The device it computes on, for people: `"WebAssembly SIMD128, 2 threads"`, a GPU adapter's name. */
  readonly device: string;
  /** True when the ops run on a GPU adapter (a read then waits for queued work). */
  readonly gpu: boolean;
  /** Largest elements one tensor may hold on this backend (wasm32: one allocation, under 2 GiB). */
  readonly maxTensorElements: number;
  /**
   * Bytes all tensors together may take, where one memory holds them all (wasm32: its 4 GiB), else
   * null (the device's own limits apply).
   */
  readonly memoryBytes: number | null;
}

/**
 * The ops. Each `…Backward` sits beside its `…Forward`. Sizes in comments are element counts.
 */
export interface Backend {
  /** What this backend is. */
  readonly info: BackendInfo;

  // ---- memory ----
  /** A zero-filled tensor. */
  alloc(size: number, dtype?: DType): Tensor;
  /**
   * Several tensors that the backend places contiguously where it can (WASM: one region), so that
   * whole-model ops (norm, AdamW, zeroing) run as one call. Returned in the order of `sizes`.
   */
  allocGroup(sizes: readonly number[], dtype?: DType): Tensor[];
  /** Releases a tensor (or a whole group, given any of its members after the group). */
  free(t: Tensor): void;
  /** Copies host data into `t` starting at element `offset` (bf16 tensors: bf16 bits). */
  write(t: Tensor, data: Float32Array | Int32Array | Uint16Array, offset?: number): void;
  /** Copies `t` (or `length` elements from `offset`) to the host, after every queued op has run. */
  read(t: Tensor, offset?: number, length?: number): Promise<Float32Array | Int32Array>;
  /** `t[i] = 0`. */
  zero(t: Tensor): void;
  /** `dst[dstOffset + i] = src[srcOffset + i]` for `i < n`. */
  copy(dst: Tensor, src: Tensor, n: number, dstOffset?: number, srcOffset?: number): void;

  // ---- embedding ----
  /** `out[n,:] = table[ids[n],:]`; out `[N,C]`, table `[V,C]`, ids `[N]` i32. */
  embeddingForward(out: Tensor, table: Tensor, ids: Tensor, n: number, c: number): void;
  /** `dtable[ids[n],:] += dout[n,:]`. */
  embeddingBackward(dtable: Tensor, dout: Tensor, ids: Tensor, n: number, c: number): void;

  // ---- RMSNorm ----
  /** `out = x · rstd · weight`, `rstd[n] = 1/sqrt(mean(x[n,:]²) + eps)` saved for backward. */
  rmsnormForward(
    out: Tensor,
    rstd: Tensor,
    x: Tensor,
    weight: Tensor,
    n: number,
    c: number,
    eps: number,
  ): void;
  /** `dx += …`, `dweight += …` from `dout`, using the saved `rstd`. */
  rmsnormBackward(
    dx: Tensor,
    dweight: Tensor,
    dout: Tensor,
    x: Tensor,
    weight: Tensor,
    rstd: Tensor,
    n: number,
    c: number,
  ): void;

  // ---- linear (bias-free matmul) ----
  /** `out[N,M] = x[N,K] · w[M,K]ᵀ`. */
  matmulForward(out: Tensor, x: Tensor, w: Tensor, n: number, k: number, m: number): void;
  /** `dx[N,K] += dout · w`, `dw[M,K] += doutᵀ · x`. Either gradient may be `null` (not wanted). */
  matmulBackward(
    dx: Tensor | null,
    dw: Tensor | null,
    dout: Tensor,
    x: Tensor,
    w: Tensor,
    n: number,
    k: number,
    m: number,
  ): void;

  // ---- RoPE (rotate-half layout of Hugging Face and lit-gpt) ----
  /** `out = rope(x)`; `out` may be `x` (in place). */
  ropeForward(out: Tensor, x: Tensor, s: RopeShape): void;
  /** `dx += ropeᵀ(dout)` (the inverse rotation). */
  ropeBackward(dx: Tensor, dout: Tensor, s: RopeShape): void;

  // ---- causal grouped-query attention, FlashAttention style ----
  /**
   * `out[B,tq,nHead,hd] = softmax(q·kᵀ/√hd + causal mask) · v`; `lse[B,nHead,tq]` keeps the
   * log-sum-exp of the scaled scores for backward. Never materialises a T×T matrix.
   */
  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionShape): void;
  /** `dq += …`, `dk += …`, `dv += …`, recomputing the probabilities from `lse`. Training shapes only. */
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
  ): void;

  // ---- SwiGLU ----
  /** `out = silu(gate) · up`, elementwise over `n`. */
  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void;
  /** `dgate += …`, `dup += …`. */
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void;

  // ---- residual ----
  /** `out = a + b` over `n` (`out` may alias `a`). */
  add(out: Tensor, a: Tensor, b: Tensor, n: number): void;

  // ---- loss ----
  /**
   * Softmax cross-entropy over `logits[N,V]` against `targets[N]` (i32; a negative target is ignored:
   * loss 0, gradient 0). Writes `losses[N]`. With `gradScale` non-null, the logits are overwritten
   * in place by `gradScale · (softmax − onehot)`, the gradient the head's backward needs.
   */
  crossEntropy(
    losses: Tensor,
    logits: Tensor,
    targets: Tensor,
    n: number,
    v: number,
    gradScale: number | null,
  ): void;

  // ---- optimizer ----
  /** `out[0] += Σ x²` over every tensor in `xs` (the squared global gradient norm). */
  sumSquares(out: Tensor, xs: readonly Tensor[]): void;
  /** `x *= s[0]` for every tensor in `xs`, with `s` a one-element tensor (clip factor stays on device). */
  scaleBy(xs: readonly Tensor[], s: Tensor): void;
  /**
   * `torch.optim.AdamW` for each `(param, grad, m, v)`: `p -= lr·wd·p`, then the bias-corrected update.
   * `weightDecayMask[i]` false exempts tensor `i` from decay (all true: decay everywhere, as TinyLlama).
   */
  adamw(
    params: readonly Tensor[],
    grads: readonly Tensor[],
    m: readonly Tensor[],
    v: readonly Tensor[],
    p: AdamWParams,
    weightDecayMask?: readonly boolean[],
  ): void;
  /**
   * The clip factor from a squared norm: `s[0] = min(1, maxNorm / (sqrt(normSq[0]) + 1e-6))`, as
   * `torch.nn.utils.clip_grad_norm_` computes it.
   */
  clipFactor(s: Tensor, normSq: Tensor, maxNorm: number): void;

  /** Waits for queued work and releases everything. */
  destroy(): void;

  // ---- views ----
  /**
   * Elements `[offset, offset + size)` of `t` as a tensor of their own that shares `t`'s storage (no
   * copy), so that an op runs on a block of rows of a larger tensor (the model's chunked loss). Valid
   * while `t` is; never freed itself (free `t`). A view and the tensor it is cut from are the same
   * memory: an op must not get both as operands that it writes.
   */
  view(t: Tensor, offset: number, size: number): Tensor;
}
