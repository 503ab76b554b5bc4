import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { normalizeWeights, parseDataSpec } from "./data_spec.ts";

Deno.test("parseDataSpec: DIR, DIR:WEIGHT, prefixes", () => {
  assert.deepEqual(parseDataSpec("data/slim"), { dir: "data/slim", weight: 1 });
  assert.deepEqual(parseDataSpec("data/slim/:0.693584"), { dir: "data/slim", weight: 0.693584 });
  assert.deepEqual(parseDataSpec("/abs/code:3"), { dir: "/abs/code", weight: 3 });
  assert.deepEqual(parseDataSpec("d:1e-1"), { dir: "d", weight: 0.1 });
  assert.deepEqual(parseDataSpec("/data/slim_star/train_slim*:0.693584"), {
    dir: "/data/slim_star",
    weight: 0.693584,
    prefix: "train_slim",
  });
  assert.deepEqual(parseDataSpec("train_star*"), { dir: ".", weight: 1, prefix: "train_star" });
});

Deno.test("parseDataSpec: bad values are one-line errors naming the flag", () => {
  for (
    const [text, pattern] of [
      ["d:abc", /--data d:abc: weight "abc" is not a number/],
      ["d:0", /^--data d:0: weight must be a number > 0, got "0"$/],
      ["d:1e999", /^--data d:1e999: weight must be a number > 0, got "1e999"$/],
      ["d:-1", /weight "-1" is not a number/],
      [":0.5", /missing directory/],
      ["a*b/c", /only a trailing \*/],
    ] as const
  ) {
    assert.throws(
      () => parseDataSpec(text),
      (e) => isUserError(e) && pattern.test((e as Error).message),
      text,
    );
  }
});

Deno.test("normalizeWeights: TinyLlama's weights and 7:3", () => {
  const w = normalizeWeights([0.693584, 0.306416]);
  assert.ok(Math.abs(w[0] - 0.693584) < 1e-12 && Math.abs(w[1] - 0.306416) < 1e-12);
  assert.deepEqual(normalizeWeights([7, 3]), [0.7, 0.3]);
  assert.throws(() => normalizeWeights([1, 0]), isUserError);
});
