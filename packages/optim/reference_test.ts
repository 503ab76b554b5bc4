import assert from "node:assert/strict";
import { adamwReference, clipGradNormReference } from "./reference.ts";

interface AdamWFixture {
  hparams: { beta1: number; beta2: number; eps: number; weight_decay: number; grad_clip: number };
  lrs: number[];
  init: number[][];
  grads: number[][][];
  cases: Record<string, {
    weight_decay_mask: boolean[];
    after: { grad_norm: number; params: number[][]; m: number[][]; v: number[][] }[];
  }>;
}

const fixture: AdamWFixture = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/trainer/adamw.json", import.meta.url)),
);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const [name, c] of Object.entries(fixture.cases)) {
  Deno.test(`adamwReference + clipGradNormReference follow torch (float64) step by step: ${name}`, () => {
    const hp = fixture.hparams;
    const params = fixture.init.map((p) => Float64Array.from(p));
    const m = params.map((p) => new Float64Array(p.length));
    const v = params.map((p) => new Float64Array(p.length));
    assert.equal(c.after.length, 4);
    for (let s = 0; s < c.after.length; s++) {
      const grads = fixture.grads[s].map((g) => Float64Array.from(g));
      const norm = clipGradNormReference(grads, hp.grad_clip);
      assert.ok(Math.abs(norm - c.after[s].grad_norm) < 1e-12, `step ${s} norm ${norm}`);
      adamwReference(params, grads, m, v, {
        lr: fixture.lrs[s],
        beta1: hp.beta1,
        beta2: hp.beta2,
        eps: hp.eps,
        weightDecay: hp.weight_decay,
        step: s + 1,
      }, c.weight_decay_mask);
      for (let t = 0; t < params.length; t++) {
        assert.ok(maxAbsDiff(params[t], c.after[s].params[t]) < 1e-12, `step ${s} param ${t}`);
        assert.ok(maxAbsDiff(m[t], c.after[s].m[t]) < 1e-12, `step ${s} m ${t}`);
        assert.ok(maxAbsDiff(v[t], c.after[s].v[t]) < 1e-12, `step ${s} v ${t}`);
      }
    }
  });
}

Deno.test("the fixture exercises clipping, a zero learning rate and the decay mask", () => {
  const all = fixture.cases.decay_all.after, masked = fixture.cases.decay_mask.after;
  assert.ok(all.every((a) => a.grad_norm > fixture.hparams.grad_clip));
  assert.equal(fixture.lrs[0], 0);
  // The exempt tensor ends elsewhere than the decayed one; the others agree.
  assert.ok(maxAbsDiff(all[3].params[1], masked[3].params[1]) > 1e-4);
  assert.ok(maxAbsDiff(all[3].params[0], masked[3].params[0]) < 1e-15);
});

Deno.test("clipGradNormReference leaves a small gradient as it is", () => {
  const g = [new Float64Array([0.3]), new Float64Array([0.4])];
  assert.equal(clipGradNormReference(g, 1), 0.5);
  assert.equal(g[0][0], 0.3);
  assert.equal(g[1][0], 0.4);
});
