/**
 * Activation recomputation (`Model.recompute`): the backward runs each block's forward again from its
 * kept input, so the gradients are bit for bit those without it, on every backend.
 */
import assert from "node:assert/strict";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import type { Backend } from "@tinyllama-ts/backend";
import { BACKENDS, expected, FIXTURES } from "./_harness.ts";

const e = await expected("gqa_b");
const ids = Int32Array.from(e.input_ids.flat()), targets = Int32Array.from(e.targets.flat());

/** Loss and every gradient of two accumulated micro-batches (the second reuses the activations). */
async function lossAndGrads(be: Backend, recompute: boolean) {
  const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_b`, be);
  try {
    model.recompute = recompute;
    model.zeroGrad();
    const losses = [];
    for (const scale of [0.5, 0.25]) {
      losses.push((await model.forward(ids, targets, { batch: 2, lossScale: scale })).loss);
      model.backward();
    }
    const grads = [];
    for (let i = 0; i < model.names.length; i++) grads.push(await model.readGrad(i));
    return { losses, grads };
  } finally {
    model.destroy();
  }
}

for (const b of BACKENDS) {
  b.test(`recompute (${b.name}): the gradients are bit for bit those without recomputation`, async () => {
    const be = await b.create();
    try {
      const kept = await lossAndGrads(be, false), again = await lossAndGrads(be, true);
      assert.deepEqual(again.losses, kept.losses);
      again.grads.forEach((g, i) => assert.deepEqual(g, kept.grads[i], `gradient ${i}`));
      assert.ok(kept.grads.some((g) => g.some((x) => x !== 0)));
    } finally {
      be.destroy();
    }
  });
}
