/**
 * TinyLlama's learning-rate schedule: linear warmup from 0, cosine decay to `minLr`, then `minLr`.
 *
 * @module
 */

/** The schedule's parameters (lit-gpt's `learning_rate`, `min_lr`, `warmup_steps`, `max_steps`). */
export interface CosineSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Floor the cosine decays to. */
  minLr: number;
  /** Optimizer steps of linear warmup. */
  warmupSteps: number;
  /** The step at which the cosine reaches `minLr`. */
  maxSteps: number;
}

/**
 * The learning rate at the 0-based optimizer step `step`: `lr·step/warmup` for `step < warmup`, `minLr` for
 * `step > maxSteps`, otherwise `minLr + ½(1 + cos(π·(step − warmup)/(maxSteps − warmup)))·(lr − minLr)`.
 * With `maxSteps ≤ warmupSteps` there is no decay: `lr` from the end of warmup to `maxSteps`.
 *
 * @example
 * ```ts
 * import { cosineLr } from "@tinyllama-ts/optim";
 * const s = { lr: 4e-4, minLr: 4e-5, warmupSteps: 2000, maxSteps: 1_430_512 };
 * cosineLr(0, s); // 0: TinyLlama's first step only fills the moments
 * cosineLr(1000, s); // 2e-4
 * ```
 */
export function cosineLr(step: number, s: CosineSchedule): number {
  if (step < s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  if (step > s.maxSteps) return s.minLr;
  const span = s.maxSteps - s.warmupSteps;
  if (span <= 0) return s.lr;
  const coeff = 0.5 * (1 + Math.cos((Math.PI * (step - s.warmupSteps)) / span));
  return s.minLr + coeff * (s.lr - s.minLr);
}
