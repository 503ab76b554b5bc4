/**
 * Batched log-likelihoods of tokenized requests under any next-token model.
 *
 * @module
 */
import type { TokenizedRequest } from "./request.ts";

/**
 * A causal language model seen from the scorer: it reads a batch of equal-length rows and gives the
 * log-probability of each wanted next token. Rows are right-padded, so a model whose position `i`
 * sees only positions `≤ i` (every causal model) scores the real tokens exactly as unpadded.
 */
export interface NextTokenModel {
  /** The longest row the model reads (its context length). */
  readonly maxLength: number;
  /**
   * For `inputs` of `batch` rows of `inputs.length / batch` tokens, and `targets` of the same shape,
   * `out[i] = log p(targets[i] | the row's inputs up to and including position i)`, for every `i`
   * with `targets[i] >= 0` (the value elsewhere is unspecified).
   */
  logProbs(inputs: Int32Array, targets: Int32Array, batch: number): Promise<Float64Array>;
}

/** Options of {@link scoreRequests}. */
export interface ScoreOptions {
  /** Most tokens (rows × padded length) per forward; at least one row always goes. Default 2048. */
  batchTokens?: number;
  /** Called after each forward with the number of requests scored so far. */
  onProgress?: (done: number) => void;
}

/**
 * `Σ log p(continuation | context)` for each request, accumulated in f64. The model reads
 * `context + continuation` without its last token, cut from the left to `maxLength` tokens, as
 * lm-evaluation-harness does; a continuation longer than `maxLength` is an error. Requests go in
 * batches of similar length, longest first, so padding stays small and a batch too big for memory
 * fails at once.
 *
 * @example
 * ```ts
 * import { scoreRequests } from "./score.ts";
 * // A model that gives every token of a 4-token vocabulary probability 1/4.
 * const uniform = { maxLength: 8, logProbs: (x: Int32Array) => Promise.resolve(new Float64Array(x.length).fill(-Math.log(4))) };
 * const [ll] = await scoreRequests([{ context: [1, 2], continuation: [3, 0] }], uniform);
 * // ll === 2 * -Math.log(4)
 * ```
 */
export async function scoreRequests(
  requests: readonly TokenizedRequest[],
  model: NextTokenModel,
  opts: ScoreOptions = {},
): Promise<Float64Array> {
  const budget = opts.batchTokens ?? 2048;
  const maxLen = model.maxLength;
  const rows = requests.map((r, index) => {
    if (r.context.length === 0) throw new Error(`request ${index}: the context has no tokens (not even BOS)`);
    if (r.continuation.length > maxLen) {
      throw new RangeError(
        `request ${index}: continuation of ${r.continuation.length} tokens exceeds the model's context ${maxLen}`,
      );
    }
    const all = [...r.context, ...r.continuation];
    const input = all.slice(-(maxLen + 1)).slice(0, -1);
    return { index, input, cont: r.continuation };
  });
  const out = new Float64Array(requests.length);
  // Empty continuations score 0 without a forward.
  const pending = rows.filter((r) => r.cont.length > 0);
  pending.sort((a, b) => b.input.length - a.input.length || a.index - b.index);
  let done = requests.length - pending.length;
  for (let start = 0; start < pending.length;) {
    const t = pending[start].input.length;
    const n = Math.max(1, Math.min(pending.length - start, Math.floor(budget / t)));
    const batch = pending.slice(start, start + n);
    const inputs = new Int32Array(n * t);
    const targets = new Int32Array(n * t).fill(-1);
    batch.forEach((r, b) => {
      inputs.set(r.input, b * t);
      // Position p predicts token p + 1 of context + continuation: the continuation's tokens are
      // predicted by the row's last `cont.length` positions.
      const first = b * t + r.input.length - r.cont.length;
      targets.set(r.cont, first);
    });
    const lp = await model.logProbs(inputs, targets, n);
    batch.forEach((r, b) => {
      const first = b * t + r.input.length - r.cont.length;
      let sum = 0;
      for (let i = 0; i < r.cont.length; i++) sum += lp[first + i];
      out[r.index] = sum;
    });
    start += n;
    done += n;
    opts.onProgress?.(done);
  }
  return out;
}
