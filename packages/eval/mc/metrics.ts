/**
 * lm-evaluation-harness's multiple-choice metrics from the log-likelihoods of an item's choices.
 *
 * @module
 */
import { pyLen } from "./_python_str.ts";

/** Predictions and scores of one item. */
export interface ItemResult {
  /** One per choice. */
  loglikelihoods: number[];
  /** The choice of highest log-likelihood. */
  pred: number;
  /** The choice of highest log-likelihood per character of its text (lm-eval's `acc_norm`). */
  pred_norm: number;
  /** The choice of highest log-likelihood per UTF-8 byte of its text (lm-eval's `acc_bytes`). */
  pred_bytes: number;
  label: number;
  acc: number;
  acc_norm: number;
  acc_bytes: number;
}

/**
 * `numpy.argmax`: the first index of the maximum, and the first NaN if there is one (NumPy treats
 * NaN as the largest value; a 0/0 ratio of an empty choice gives one).
 *
 * @example
 * ```ts
 * import { argmax } from "./metrics.ts";
 * argmax([-3, -1, -1]); // 1
 * argmax([-3, NaN, 0]); // 1
 * ```
 */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i])) return i;
    if (xs[i] > xs[best]) best = i;
  }
  return best;
}

const utf8 = new TextEncoder();

/**
 * Scores one item as lm-eval's `process_results` does for `multiple_choice`: `acc` compares raw
 * log-likelihoods; `acc_norm` divides each by the length of the choice's text in characters (code
 * points, Python's `len`) and `acc_bytes` by its length in UTF-8 bytes. `normTexts` are lm-eval's
 * `doc_to_choice` strings: the choices without the space that joins them to the context (for
 * WinoGrande, the option-filled contexts).
 *
 * @example
 * ```ts
 * import { scoreItem } from "./metrics.ts";
 * const r = scoreItem([-4, -6], ["no", "yes!"], 1);
 * // r.pred === 0 (−4 > −6), r.pred_norm === 1 (−6/4 > −4/2), r.acc === 0, r.acc_norm === 1
 * ```
 */
export function scoreItem(
  loglikelihoods: ArrayLike<number>,
  normTexts: readonly string[],
  label: number,
): ItemResult {
  const lls = Array.from(loglikelihoods);
  if (lls.length !== normTexts.length) {
    throw new RangeError(`${lls.length} log-likelihoods for ${normTexts.length} choices`);
  }
  const pred = argmax(lls);
  const pred_norm = argmax(lls.map((ll, i) => ll / pyLen(normTexts[i])));
  const pred_bytes = argmax(lls.map((ll, i) => ll / utf8.encode(normTexts[i]).length));
  return {
    loglikelihoods: lls,
    pred,
    pred_norm,
    pred_bytes,
    label,
    acc: pred === label ? 1 : 0,
    acc_norm: pred_norm === label ? 1 : 0,
    acc_bytes: pred_bytes === label ? 1 : 0,
  };
}

/** The means over items. */
export interface Summary {
  acc: number;
  acc_norm: number;
  acc_bytes: number;
  n: number;
}

/**
 * Means of the per-item scores.
 *
 * @example
 * ```ts
 * import { scoreItem, summarize } from "./metrics.ts";
 * summarize([scoreItem([-1, -2], ["a", "b"], 0), scoreItem([-1, -2], ["a", "b"], 1)]).acc; // 0.5
 * ```
 */
export function summarize(results: readonly ItemResult[]): Summary {
  const n = results.length;
  const mean = (f: (r: ItemResult) => number) => n === 0 ? NaN : results.reduce((s, r) => s + f(r), 0) / n;
  return {
    acc: mean((r) => r.acc),
    acc_norm: mean((r) => r.acc_norm),
    acc_bytes: mean((r) => r.acc_bytes),
    n,
  };
}
