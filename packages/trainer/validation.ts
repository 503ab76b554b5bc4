/**
 * Validation loss: the model's mean cross-entropy over the first blocks of each data source's `val`
 * split, in order (the same blocks every time, so losses compare across steps, runs and resumptions),
 * combined by the mixture's weights. Forward passes only: nothing the training step uses changes.
 *
 * @module
 */
import { type DataSpec, iterateBatches, normalizeWeights, splitShardPaths } from "@tinyllama-ts/data";
import type { Model } from "@tinyllama-ts/model";

/** Options of {@link validationLoss}. */
export interface ValidationOptions {
  seqLen: number;
  /** Rows per forward pass. */
  batchSize: number;
  /** Batches per source (at most; a small split gives fewer). */
  iters: number;
  /** Called with each batch's row count. */
  onBatch?: (rows: number) => void;
}

/**
 * The sources that have validation shards (a TinyLlama training directory may have none), with their
 * weights renormalised over those.
 */
export function validationSources(specs: readonly DataSpec[]): DataSpec[] {
  // One entry per directory: two prefixes of one TinyLlama directory share its validation shards.
  const byDir = new Map<string, number>();
  for (const s of specs) {
    if (splitShardPaths(s.dir, "val", s.prefix === undefined ? undefined : "val").length === 0) continue;
    byDir.set(s.dir, (byDir.get(s.dir) ?? 0) + s.weight);
  }
  if (byDir.size === 0) return [];
  const w = normalizeWeights([...byDir.values()]);
  return [...byDir.keys()].map((dir, i) => ({ dir, weight: w[i] }));
}

/**
 * The validation loss over `sources` (from {@link validationSources}): per source the mean over its
 * first `iters · batchSize` blocks, then the weighted mean over sources.
 *
 * @example
 * ```ts ignore
 * const loss = await validationLoss(model, validationSources(specs), { seqLen: 128, batchSize: 8, iters: 10 });
 * console.log(loss, Math.exp(loss)); // loss and perplexity
 * ```
 */
export async function validationLoss(
  model: Model,
  sources: readonly DataSpec[],
  opts: ValidationOptions,
): Promise<number> {
  let total = 0;
  for (const src of sources) {
    let sum = 0, rows = 0;
    const batches = iterateBatches(src, {
      seqLen: opts.seqLen,
      batchSize: opts.batchSize,
      maxBlocks: opts.iters * opts.batchSize,
    });
    for (const b of batches) {
      const r = await model.forward(b.inputs, b.targets, { batch: b.batchSize, grad: false });
      sum += (r.loss ?? NaN) * b.batchSize;
      rows += b.batchSize;
      opts.onBatch?.(b.batchSize);
    }
    total += src.weight * (sum / rows);
  }
  return total;
}
