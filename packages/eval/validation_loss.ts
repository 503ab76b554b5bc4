/**
 * Validation loss, one definition for the trainer's periodic validation, the pretraining pipeline's
 * final evaluation and `deno task eval`: the mean cross-entropy per target token (every counted target
 * weighs the same, however the tokens fall into rows and batches), as lit-gpt's validation and a
 * perplexity are defined. A mixture of sources is the weighted mean of each source's token mean.
 *
 * @module
 */
import {
  type Batch,
  type DataSpec,
  iterateBatches,
  normalizeWeights,
  type Split,
  splitShardPaths,
} from "@tinyllama-ts/data";
import type { Model } from "@tinyllama-ts/model";

/** A validation loss and what it averaged over. */
export interface ValidationResult {
  /** Mean cross-entropy per target token (NaN over no tokens). */
  loss: number;
  /** Target tokens counted. */
  tokens: number;
  /** Batches run. */
  batches: number;
}

/**
 * The mean loss per target token of `model` over `batches` (forward passes only: gradients, the
 * optimizer and the training data are untouched). `onBatch` sees the running result after each batch.
 *
 * @example
 * ```ts ignore
 * import { iterateBatches } from "@tinyllama-ts/data";
 * const r = await validationLoss(model, iterateBatches("data/val", { seqLen: 128, batchSize: 8 }));
 * console.log(r.loss, Math.exp(r.loss), r.tokens); // loss, perplexity, tokens
 * ```
 */
export async function validationLoss(
  model: Model,
  batches: Iterable<Batch> | AsyncIterable<Batch>,
  onBatch?: (sofar: ValidationResult) => void,
): Promise<ValidationResult> {
  let sum = 0, tokens = 0, n = 0;
  for await (const b of batches) {
    const r = await model.forward(b.inputs, b.targets, { batch: b.batchSize, grad: false });
    if (r.tokens > 0) sum += (r.loss ?? NaN) * r.tokens;
    tokens += r.tokens;
    n++;
    onBatch?.({ loss: sum / tokens, tokens, batches: n });
  }
  return { loss: tokens > 0 ? sum / tokens : NaN, tokens, batches: n };
}

/**
 * The sources of a data mixture that have validation shards (a TinyLlama training directory may have
 * none), one per directory, with their weights renormalised over those.
 *
 * @example
 * ```ts ignore
 * const sources = validationSources([{ dir: "data/a", weight: 0.7 }, { dir: "data/b", weight: 0.3 }]);
 * ```
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

/** Options of {@link mixtureValidationLoss}. */
export interface MixtureValidationOptions {
  /** Tokens per row. */
  seqLen: number;
  /** Rows per forward pass. */
  batchSize: number;
  /** Batches per source, at most (a small split gives fewer). */
  maxBatches: number;
  /** Which split (default `val`). */
  split?: Split;
}

/**
 * The validation loss of a mixture (`sources` from {@link validationSources}): per source the
 * {@link validationLoss} of its first `maxBatches` batches, read in order (the same blocks every time,
 * so losses compare across steps, runs and resumptions), then the mean weighted by the mixture.
 * `tokens` and `batches` are totals over the sources.
 *
 * @example
 * ```ts ignore
 * const r = await mixtureValidationLoss(model, validationSources(specs), { seqLen: 128, batchSize: 8, maxBatches: 10 });
 * ```
 */
export async function mixtureValidationLoss(
  model: Model,
  sources: readonly DataSpec[],
  opts: MixtureValidationOptions,
): Promise<ValidationResult> {
  let loss = 0, tokens = 0, batches = 0;
  for (const src of sources) {
    const r = await validationLoss(
      model,
      iterateBatches(src, {
        seqLen: opts.seqLen,
        batchSize: opts.batchSize,
        split: opts.split,
        maxBlocks: opts.maxBatches * opts.batchSize,
      }),
    );
    loss += src.weight * r.loss;
    tokens += r.tokens;
    batches += r.batches;
  }
  return { loss, tokens, batches };
}
