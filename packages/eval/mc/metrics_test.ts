import assert from "node:assert/strict";
import { argmax, scoreItem, summarize } from "./metrics.ts";

Deno.test("argmax is NumPy's: first maximum, a NaN wins", () => {
  assert.equal(argmax([-3, -1, -1]), 1);
  assert.equal(argmax([-1]), 0);
  assert.equal(argmax([-3, NaN, 0, NaN]), 1);
  assert.equal(argmax([-Infinity, -Infinity]), 0);
});

Deno.test("acc takes the raw maximum, acc_norm divides by characters, acc_bytes by UTF-8 bytes", () => {
  // "🦙" is 1 character and 4 bytes, "ab" 2 and 2, "é" 1 and 2.
  //   loglik     / chars    / bytes
  //   -2.0 🦙    -2.0       -0.5
  //   -3.0 ab    -1.5       -1.5
  //   -1.8 é     -1.8       -0.9
  const r = scoreItem([-2, -3, -1.8], ["🦙", "ab", "é"], 0);
  assert.equal(r.pred, 2);
  assert.equal(r.pred_norm, 1);
  assert.equal(r.pred_bytes, 0);
  assert.deepEqual([r.acc, r.acc_norm, r.acc_bytes], [0, 0, 1]);
  assert.deepEqual(r.loglikelihoods, [-2, -3, -1.8]);
  // WinoGrande-style norm texts (the filled contexts) are just strings as well.
  const w = scoreItem(new Float64Array([-10, -10.5]), ["The cat", "The mouse"], 1);
  assert.deepEqual([w.pred, w.pred_norm], [0, 1]);
  assert.throws(() => scoreItem([-1], ["a", "b"], 0), RangeError);
});

Deno.test("an empty choice text divides by zero as NumPy does", () => {
  // -1/0 = -inf loses; 0/0 = NaN wins (np.argmax returns the first NaN).
  assert.equal(scoreItem([-1, -5], ["", "abcde"], 1).pred_norm, 1);
  assert.equal(scoreItem([-5, 0], ["abcde", ""], 1).pred_norm, 1);
});

Deno.test("summarize takes the means", () => {
  const items = [
    scoreItem([-2, -3, -1.8], ["🦙", "ab", "é"], 0), // acc 0, norm 0, bytes 1
    scoreItem([-1, -2], ["x", "y"], 0), // all 1
    scoreItem([-1, -2], ["x", "y"], 1), // all 0
    scoreItem([-4, -6], ["no", "yes!"], 1), // acc 0, norm 1, bytes 1
  ];
  assert.deepEqual(summarize(items), { acc: 0.25, acc_norm: 0.5, acc_bytes: 0.75, n: 4 });
});
