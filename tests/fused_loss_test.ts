/**
 * The training forward's fused head and loss (`Model` runs the head's matmul, the cross-entropy and
 * the head's backward over blocks of rows, through `Backend.view`) against the unfused path (all
 * `B·T × V` logits at once, taken when the logits are asked for), on every backend: the same loss and
 * gradients within f32 rounding for blocks that cut the rows anywhere, and bit for bit with one block.
 */
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import type { Backend } from "@tinyllama-ts/backend";
import { Model } from "@tinyllama-ts/model";
import { BACKENDS, expected, FIXTURES, relError } from "./_harness.ts";

const e = await expected("gqa_a");
const ids = Int32Array.from(e.input_ids.flat()), targets = Int32Array.from(e.targets.flat());

/** Loss and every gradient after one forward and backward. */
async function lossAndGrads(be: Backend, fused: boolean, lossChunkRows?: number) {
  const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_a`, be);
  try {
    const m = lossChunkRows === undefined ? model : withChunk(model, lossChunkRows);
    m.zeroGrad();
    const r = await m.forward(ids, targets, { batch: 2, logits: !fused, lossScale: 0.5 });
    m.backward();
    const grads = [];
    for (let i = 0; i < m.names.length; i++) grads.push(await m.readGrad(i));
    if (m !== model) m.destroy();
    return { loss: r.loss!, grads };
  } finally {
    model.destroy();
  }
}

/** A copy of `model` (same backend and weights) whose fused loss runs blocks of `rows` rows. */
function withChunk(model: Model, rows: number): Model {
  const copy = new Model(model.backend, model.config, { lossChunkRows: rows });
  for (let i = 0; i < model.params.length; i++) {
    model.backend.copy(copy.params[i], model.params[i], model.params[i].size);
  }
  return copy;
}

for (const b of BACKENDS) {
  b.test(`fused loss (${b.name}): the same loss and gradients as all logits at once`, async () => {
    const be = await b.create();
    try {
      const whole = await lossAndGrads(be, false);
      const tol = b.name === "reference" ? 1e-12 : 1e-5;
      // 32 rows in blocks of 5 (the last block short), 16 (the batch rows) and 32 (one block).
      for (const rows of [5, 16]) {
        const fused = await lossAndGrads(be, true, rows);
        assert.ok(Math.abs(fused.loss - whole.loss) <= tol * whole.loss, `loss, blocks of ${rows}`);
        fused.grads.forEach((g, i) => {
          const err = relError(g, whole.grads[i]);
          assert.ok(err <= tol, `gradient ${i} in blocks of ${rows}: ${err}`);
        });
      }
      // One block: the very ops of the unfused path on the same rows.
      const one = await lossAndGrads(be, true, 32);
      assert.equal(one.loss, whole.loss);
      one.grads.forEach((g, i) => assert.deepEqual(g, whole.grads[i], `gradient ${i}`));
    } finally {
      be.destroy();
    }
  });
}

for (const b of BACKENDS) {
  b.test(`view (${b.name}): a range of a tensor, read and written in place; out of range is an error`, async () => {
    const be = await b.create();
    try {
      const t = be.alloc(10), v = be.view(t, 3, 4);
      be.write(t, Float32Array.from({ length: 10 }, (_, i) => i));
      assert.deepEqual(await be.read(v), new Float32Array([3, 4, 5, 6]));
      be.write(v, new Float32Array([-1, -2]), 1);
      assert.deepEqual(await be.read(t), new Float32Array([0, 1, 2, 3, -1, -2, 6, 7, 8, 9]));
      const ids = be.alloc(6, "i32"), idv = be.view(ids, 2, 3);
      be.write(idv, new Int32Array([7, 8, 9]));
      assert.deepEqual(await be.read(ids), new Int32Array([0, 0, 7, 8, 9, 0]));
      assert.throws(() => be.view(t, 8, 3), isUserError);
      assert.throws(() => be.view(t, -1, 2), isUserError);
    } finally {
      be.destroy();
    }
  });
}
