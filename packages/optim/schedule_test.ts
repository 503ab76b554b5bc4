import assert from "node:assert/strict";
import { cosineLr } from "./schedule.ts";

const trajectory = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/trainer/trajectory.json", import.meta.url)),
);

Deno.test("cosineLr matches the schedule of the PyTorch fixture at every step", () => {
  const hp = trajectory.hparams;
  const s = { lr: hp.lr, minLr: hp.min_lr, warmupSteps: hp.warmup_steps, maxSteps: hp.max_steps };
  const lrs: number[] = trajectory.cases.micro_eq_global.lrs;
  assert.equal(lrs.length, 10);
  for (let step = 0; step < lrs.length; step++) {
    assert.ok(Math.abs(cosineLr(step, s) - lrs[step]) <= 1e-18, `step ${step}`);
  }
});

Deno.test("cosineLr: warmup from 0, peak at the end of warmup, minLr at and past maxSteps", () => {
  const s = { lr: 4e-4, minLr: 4e-5, warmupSteps: 2000, maxSteps: 12000 };
  assert.equal(cosineLr(0, s), 0);
  assert.equal(cosineLr(500, s), 1e-4);
  assert.equal(cosineLr(2000, s), 4e-4);
  // Half-way through the decay the cosine term is ½: the mean of lr and minLr.
  assert.ok(Math.abs(cosineLr(7000, s) - 2.2e-4) < 1e-15);
  assert.ok(Math.abs(cosineLr(12000, s) - 4e-5) < 1e-15);
  assert.equal(cosineLr(12001, s), 4e-5);
  assert.equal(cosineLr(1e9, s), 4e-5);
  for (let step = 2000; step < 12000; step += 97) {
    assert.ok(cosineLr(step + 1, s) < cosineLr(step, s), `decreasing at ${step}`);
  }
});

Deno.test("cosineLr without decay span or warmup", () => {
  assert.equal(cosineLr(5, { lr: 1, minLr: 0.1, warmupSteps: 10, maxSteps: 10 }), 0.5);
  assert.equal(cosineLr(10, { lr: 1, minLr: 0.1, warmupSteps: 10, maxSteps: 10 }), 1);
  assert.equal(cosineLr(11, { lr: 1, minLr: 0.1, warmupSteps: 10, maxSteps: 10 }), 0.1);
  assert.equal(cosineLr(0, { lr: 1, minLr: 0.1, warmupSteps: 0, maxSteps: 10 }), 1);
});
