/**
 * The bridge from a loaded {@link Model} to the scorer's {@link NextTokenModel}.
 *
 * @module
 */
import type { Model } from "@tinyllama-ts/model";
import type { NextTokenModel } from "./score.ts";

/**
 * Wraps a model: one inference forward per batch for the logits, then `log_softmax` at the wanted
 * positions, computed in f64 from the f32 logits (max-shifted log-sum-exp over the vocabulary).
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * import { nextTokenModel } from "./model_scorer.ts";
 * const { model } = await loadHfCheckpoint("tests/fixtures/eval/model", new ReferenceBackend());
 * const lp = await nextTokenModel(model).logProbs(new Int32Array([1, 5]), new Int32Array([5, -1]), 1);
 * ```
 */
export function nextTokenModel(model: Model): NextTokenModel {
  const v = model.config.vocab_size;
  return {
    maxLength: model.config.block_size,
    async logProbs(inputs: Int32Array, targets: Int32Array, batch: number): Promise<Float64Array> {
      const { logits } = await model.forward(inputs, null, { batch, logits: true, grad: false });
      const out = new Float64Array(inputs.length).fill(NaN);
      for (let i = 0; i < inputs.length; i++) {
        const target = targets[i];
        if (target < 0) continue;
        if (target >= v) throw new RangeError(`target id ${target} is outside the vocabulary ${v}`);
        const row = logits!.subarray(i * v, (i + 1) * v);
        let max = -Infinity;
        for (let j = 0; j < v; j++) if (row[j] > max) max = row[j];
        let sum = 0;
        for (let j = 0; j < v; j++) sum += Math.exp(row[j] - max);
        out[i] = row[target] - max - Math.log(sum);
      }
      return out;
    },
  };
}
