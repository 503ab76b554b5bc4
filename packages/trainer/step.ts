/**
 * One optimizer step of TinyLlama's loop, in its two halves: accumulate the gradient of the global batch
 * (zero the gradients, run `accumulation` micro-batches forward and backward, each scaled by
 * 1/accumulation so they sum to the global batch's mean), then clip and update, unless the loss or the
 * gradient norm is not finite. A data-parallel run all-reduces the gradients between the halves.
 *
 * @module
 */
import type { Batch } from "@tinyllama-ts/data";
import type { Model } from "@tinyllama-ts/model";
import type { Optimizer } from "@tinyllama-ts/optim";

/** What one step did. */
export interface StepOutcome {
  /** Mean loss over the global batch, before the update (NaN/Infinity when not finite). */
  loss: number;
  /** Global gradient norm before clipping (NaN when the loss was not finite). */
  gradNorm: number;
  /** False when the step was skipped for a non-finite loss or norm. */
  applied: boolean;
}

/**
 * Zeroes the gradients and accumulates those of `accumulation` micro-batches from `nextBatch`; returns
 * the mean loss over them. With `owns` (data parallelism) every micro-batch is still drawn, so that the
 * sampler's stream is one process's, but only those it owns are trained: the result is this rank's share
 * of the step's mean loss (its losses / accumulation), and the gradients its share of the step's.
 *
 * @example
 * ```ts ignore
 * const loss = await accumulateGradients(model, () => sampler.nextBatch(8), 4);
 * ```
 */
export async function accumulateGradients(
  model: Model,
  nextBatch: () => Batch,
  accumulation: number,
  owns?: (microBatch: number) => boolean,
): Promise<number> {
  model.zeroGrad();
  let loss = 0;
  for (let i = 0; i < accumulation; i++) {
    const b = nextBatch();
    if (owns && !owns(i)) continue;
    const r = await model.forward(b.inputs, b.targets, { batch: b.batchSize, lossScale: 1 / accumulation });
    model.backward();
    loss += (r.loss ?? NaN) / accumulation;
  }
  return loss;
}

/**
 * Clips and applies the accumulated gradients at learning rate `lr`, unless `loss` is not finite.
 *
 * @example
 * ```ts ignore
 * const { gradNorm, applied } = await applyGradients(optimizer, loss, 4e-4);
 * ```
 */
export async function applyGradients(optimizer: Optimizer, loss: number, lr: number): Promise<StepOutcome> {
  if (!Number.isFinite(loss)) return { loss, gradNorm: NaN, applied: false };
  const { gradNorm, applied } = await optimizer.update(lr);
  return { loss, gradNorm, applied };
}

/**
 * Runs one whole step at learning rate `lr` over `accumulation` batches from `nextBatch`.
 *
 * @example
 * ```ts ignore
 * const { loss, gradNorm } = await optimizerStep(model, optimizer, () => sampler.nextBatch(8), 4, 4e-4);
 * ```
 */
export async function optimizerStep(
  model: Model,
  optimizer: Optimizer,
  nextBatch: () => Batch,
  accumulation: number,
  lr: number,
): Promise<StepOutcome> {
  return await applyGradients(optimizer, await accumulateGradients(model, nextBatch, accumulation), lr);
}
