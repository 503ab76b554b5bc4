/**
 * The optimizer in plain float64 TypeScript, written the way `torch.optim.AdamW` (its single-tensor,
 * `foreach=False` path) and `torch.nn.utils.clip_grad_norm_` compute, for tests to hold the backends'
 * optimizer against.
 *
 * @module
 */

/** One AdamW update's hyper-parameters; `step` is the 1-based count that bias correction uses. */
export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/**
 * Clips `grads` in place to a global L2 norm of at most `maxNorm` and returns the norm before clipping.
 * Like PyTorch, the factor is `min(1, maxNorm / (norm + 1e-6))` and it is applied even when it is 1.
 *
 * @example
 * ```ts
 * import { clipGradNormReference } from "@tinyllama-ts/optim";
 * const g = [new Float64Array([3, 4])];
 * clipGradNormReference(g, 1); // 5; g is now ≈ [0.6, 0.8]
 * ```
 */
export function clipGradNormReference(grads: readonly Float64Array[], maxNorm: number): number {
  let sumSq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
  const norm = Math.sqrt(sumSq);
  const factor = Math.min(1, maxNorm / (norm + 1e-6));
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= factor;
  return norm;
}

/**
 * One AdamW step over every `(params[t], grads[t], m[t], v[t])`, in place: decoupled decay
 * `p ← p·(1 − lr·wd)`, the moments, then `p ← p − (lr/bc1)·m / (√v/√bc2 + eps)`.
 * `weightDecayMask[t]` false exempts tensor `t` from decay.
 *
 * @example
 * ```ts
 * import { adamwReference } from "@tinyllama-ts/optim";
 * const p = [new Float64Array([1])], g = [new Float64Array([0.5])];
 * const m = [new Float64Array(1)], v = [new Float64Array(1)];
 * adamwReference(p, g, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, step: 1 });
 * // p[0][0] ≈ 0.9: the first bias-corrected step moves by lr·sign(g)
 * ```
 */
export function adamwReference(
  params: readonly Float64Array[],
  grads: readonly Float64Array[],
  m: readonly Float64Array[],
  v: readonly Float64Array[],
  s: AdamWStep,
  weightDecayMask?: readonly boolean[],
): void {
  const bc1 = 1 - Math.pow(s.beta1, s.step);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(s.beta2, s.step));
  const stepSize = s.lr / bc1;
  for (let t = 0; t < params.length; t++) {
    const p = params[t], g = grads[t], mt = m[t], vt = v[t];
    const decay = (weightDecayMask?.[t] ?? true) ? s.weightDecay : 0;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - s.lr * decay;
      mt[i] += (g[i] - mt[i]) * (1 - s.beta1);
      vt[i] = vt[i] * s.beta2 + (1 - s.beta2) * g[i] * g[i];
      p[i] -= (stepSize * mt[i]) / (Math.sqrt(vt[i]) / bc2Sqrt + s.eps);
    }
  }
}
