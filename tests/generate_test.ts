// Generation against transformers: greedy ids of `model.generate` (fixtures), the sampling distribution
// of its temperature / top-k / top-p warpers (sampling.json), and the seeded sampler's frequencies.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { generate, nextToken, samplingProbs } from "@tinyllama-ts/model";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { Random } from "@tinyllama-ts/random";
import { BACKENDS, expected, FIXTURES } from "./_harness.ts";

for (const backend of BACKENDS) {
  backend.test(`generate ${backend.name}: greedy ids equal transformers' generate`, async () => {
    for (const name of ["gqa_a", "gqa_b", "mqa_tied"]) {
      const exp = await expected(name);
      const be = await backend.create();
      const { model } = await loadHfCheckpoint(`${FIXTURES}${name}`, be);
      const ids = await generate(model, exp.prompt_ids, { maxNewTokens: exp.greedy_ids.length });
      assert.deepEqual(ids, exp.greedy_ids, name);
      // Streaming sees the same ids; a stop id ends generation after emitting it.
      const seen: number[] = [];
      const stopAt = exp.greedy_ids[3];
      const stopped = await generate(model, exp.prompt_ids, {
        maxNewTokens: exp.greedy_ids.length,
        stopIds: [stopAt],
        onToken: (id) => void seen.push(id),
      });
      assert.deepEqual(stopped, exp.greedy_ids.slice(0, exp.greedy_ids.indexOf(stopAt) + 1));
      assert.deepEqual(seen, stopped);
      be.destroy();
    }
  });
}

Deno.test("generate: sampling distribution equals transformers' warpers", async () => {
  const fx = JSON.parse(await Deno.readTextFile(`${FIXTURES}sampling.json`));
  const logits = new Float32Array(fx.logits);
  const sizes = [];
  for (const c of fx.cases) {
    const p = samplingProbs(logits, { temperature: c.temperature, topK: c.top_k, topP: c.top_p });
    let err = 0;
    for (let i = 0; i < p.length; i++) {
      err = Math.max(err, Math.abs(p[i] - c.probs[i]));
      assert.equal(p[i] === 0, c.probs[i] === 0, `support of ${JSON.stringify(c)} at ${i}`);
    }
    assert.ok(err < 1e-6, `${JSON.stringify({ ...c, probs: undefined })}: error ${err}`);
    sizes.push(p.filter((x) => x > 0).length);
  }
  assert.deepEqual(sizes.map((n) => n > 1), [true, true, true, true, true, false]); // cases keep >1 token but the last
});

Deno.test("generate: seeded sampling draws tokens with the filtered probabilities", () => {
  const logits = new Float32Array([2, 1.5, 1, 0.5, 0, -1, -3]);
  const opts = { temperature: 0.9, topK: 5, topP: 0.95 };
  const p = samplingProbs(logits, opts);
  const rng = new Random(3);
  const n = 40_000, counts = new Array(p.length).fill(0);
  for (let i = 0; i < n; i++) counts[nextToken(logits, opts, rng)]++;
  for (let i = 0; i < p.length; i++) {
    const sd = Math.sqrt(p[i] * (1 - p[i]) / n);
    assert.ok(Math.abs(counts[i] / n - p[i]) <= 5 * sd + 1e-12, `token ${i}: ${counts[i] / n} vs ${p[i]}`);
  }
  assert.equal(counts[5] + counts[6], 0); // outside top-k
  assert.equal(nextToken(logits, { temperature: 0 }), 0);
});

Deno.test("generate: the same seed gives the same text, another seed another", async () => {
  const exp = await expected("gqa_b");
  const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_b`, await BACKENDS[1].create());
  const run = (seed: number) => generate(model, exp.prompt_ids, { maxNewTokens: 24, temperature: 1.5, seed });
  const a = await run(1), b = await run(1), c = await run(2);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  model.backend.destroy();
});

Deno.test("generate: bad options are one-line user errors", async () => {
  const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_b`, await BACKENDS[0].create());
  const err = (re: RegExp) => (e: unknown) => isUserError(e) && re.test((e as Error).message);
  await assert.rejects(() => generate(model, [1, 2], { maxNewTokens: 63 }), err(/exceed the block size 64/));
  await assert.rejects(() => generate(model, [], { maxNewTokens: 3 }), err(/prompt is empty/));
  await assert.rejects(() => generate(model, [1, 96], { maxNewTokens: 3 }), err(/input id 96 at position 1/));
  await assert.rejects(() => generate(model, [1], { maxNewTokens: 3, temperature: -1 }), err(/temperature/));
  await assert.rejects(
    () => generate(model, [1], { maxNewTokens: 3, temperature: 1, topP: 0 }),
    err(/top-p/),
  );
  await assert.rejects(
    () => generate(model, [1], { maxNewTokens: 3, temperature: 1, topK: 1.5 }),
    err(/top-k/),
  );
  assert.deepEqual(await generate(model, [1], { maxNewTokens: 0 }), []);
});
