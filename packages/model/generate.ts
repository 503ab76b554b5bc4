/**
 * Text generation with a KV cache: the prompt runs through the model once, then one position per new
 * token. The next token is the argmax (temperature 0) or a draw, from a seeded generator, from the
 * distribution that transformers' warpers leave: logits divided by the temperature, then top-k, then
 * top-p (nucleus), in that order.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * import { generate } from "@tinyllama-ts/model";
 * const { model } = await loadHfCheckpoint("tests/fixtures/model/gqa_b", new ReferenceBackend());
 * const ids = await generate(model, [1, 17, 42], { maxNewTokens: 8 }); // greedy
 * const sampled = await generate(model, [1, 17, 42], { maxNewTokens: 8, temperature: 0.8, topK: 50, seed: 7 });
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { Model } from "./model.ts";
import { Random } from "@tinyllama-ts/random";

/** How the next token is chosen. */
export interface SamplingOptions {
  /** 0 (default) picks the most likely token; otherwise the logits are divided by it and sampled. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the most likely tokens whose probabilities sum to at least `topP` (1 or absent: all). */
  topP?: number;
}

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate (at most; generation stops early at a stop id). */
  maxNewTokens: number;
  /** Seed of the sampling generator (default 0); unused when greedy. */
  seed?: number;
  /** Stop after emitting one of these (it is included in the output), e.g. the EOS id. */
  stopIds?: readonly number[];
  /** Called with each new token as it is chosen (streaming). */
  onToken?: (id: number) => void | Promise<void>;
}

/**
 * Continues `promptIds` (one sequence) and returns the new ids. The prompt and the new tokens must fit
 * the model's `block_size`.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * import { generate } from "@tinyllama-ts/model";
 * const { model } = await loadHfCheckpoint("tests/fixtures/model/gqa_a", new ReferenceBackend());
 * console.log(await generate(model, [1, 6, 34], { maxNewTokens: 4, stopIds: [2] }));
 * ```
 */
export async function generate(
  model: Model,
  promptIds: ArrayLike<number>,
  opts: GenerateOptions,
): Promise<number[]> {
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new UserError(`max new tokens must be a non-negative integer, got ${maxNewTokens}`);
  }
  checkSampling(opts);
  if (promptIds.length === 0) throw new UserError("the prompt is empty");
  const blockSize = model.config.block_size;
  if (promptIds.length + maxNewTokens > blockSize) {
    throw new UserError(
      `prompt (${promptIds.length} tokens) + max new tokens (${maxNewTokens}) exceed the block size ${blockSize}`,
    );
  }
  if (maxNewTokens === 0) return [];
  const rng = new Random(opts.seed ?? 0);
  const stop = new Set(opts.stopIds ?? []);
  const cache = model.createCache(1, promptIds.length + maxNewTokens - 1);
  const out: number[] = [];
  try {
    let logits = await model.forwardCached(Int32Array.from(promptIds), cache);
    for (let i = 0; i < maxNewTokens; i++) {
      const next = nextToken(logits, opts, rng);
      out.push(next);
      await opts.onToken?.(next);
      if (stop.has(next) || i === maxNewTokens - 1) break;
      logits = await model.forwardCached(Int32Array.of(next), cache);
    }
  } finally {
    model.freeCache(cache);
  }
  return out;
}

/**
 * The next token from one row of logits: the argmax when the temperature is 0 (first of equal
 * maxima), else a draw from {@link samplingProbs}.
 *
 * @example
 * ```ts
 * import { nextToken } from "@tinyllama-ts/model";
 * console.log(nextToken(new Float32Array([0.1, 2, -1]), { temperature: 0 })); // 1
 * ```
 */
export function nextToken(
  logits: Float32Array,
  opts: SamplingOptions,
  rng: { uniform(): number } = new Random(0),
): number {
  if (!opts.temperature) return argmax(logits);
  const probs = samplingProbs(logits, opts);
  const u = rng.uniform();
  let acc = 0, last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    acc += probs[i];
    last = i;
    if (u < acc) return i;
  }
  return last; // rounding left acc a hair under 1
}

/**
 * The distribution a draw comes from: softmax of `logits / temperature` after top-k, then top-p
 * filtering, computed in f64 as transformers' `TemperatureLogitsWarper`, `TopKLogitsWarper` and
 * `TopPLogitsWarper` do (top-k keeps ties with the k-th value; top-p drops the least likely tokens
 * whose total probability is at most `1 − topP`, always keeping the most likely one).
 *
 * @example
 * ```ts
 * import { samplingProbs } from "@tinyllama-ts/model";
 * console.log(samplingProbs(new Float32Array([2, 1, 0]), { temperature: 1, topK: 2 })); // ≈ [0.73, 0.27, 0]
 * ```
 */
export function samplingProbs(logits: Float32Array, opts: SamplingOptions): Float64Array {
  checkSampling(opts);
  const v = logits.length, temp = opts.temperature || 1;
  const s = new Float64Array(v);
  for (let i = 0; i < v; i++) s[i] = logits[i] / temp;
  const topK = opts.topK ?? 0;
  if (topK > 0 && topK < v) {
    const kth = Float64Array.from(s).sort().reverse()[topK - 1];
    for (let i = 0; i < v; i++) if (s[i] < kth) s[i] = -Infinity;
  }
  let p = softmax(s);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    const order = Array.from({ length: v }, (_, i) => i).sort((a, b) => s[a] - s[b] || a - b);
    let cum = 0;
    for (let j = 0; j < v - 1; j++) {
      cum += p[order[j]];
      if (cum <= 1 - topP) s[order[j]] = -Infinity;
    }
    p = softmax(s);
  }
  return p;
}

function softmax(s: Float64Array): Float64Array {
  let max = -Infinity;
  for (const x of s) max = Math.max(max, x);
  const p = new Float64Array(s.length);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += p[i] = Math.exp(s[i] - max);
  for (let i = 0; i < s.length; i++) p[i] /= sum;
  return p;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function checkSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) {
    throw new UserError(`temperature must be a finite number ≥ 0, got ${o.temperature}`);
  }
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) {
    throw new UserError(`top-k must be a non-negative integer, got ${o.topK}`);
  }
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) {
    throw new UserError(`top-p must be in (0, 1], got ${o.topP}`);
  }
}
