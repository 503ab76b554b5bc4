/**
 * The memory plan (`memoryPlan`) against what the WebGPU backend allocates for a model, its AdamW
 * moments and one forward and backward, over small configs, micro-batches, sequence lengths and with
 * or without recomputation: within 5%. And the plan's own arithmetic: its parts, the largest
 * micro-batch that fits.
 */
import assert from "node:assert/strict";
import { createWebGpuBackend, type WebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { maxMicroBatch, memoryPlan, Model, PRESETS } from "@tinyllama-ts/model";
import { Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { BACKENDS } from "./_harness.ts";

const webgpu = BACKENDS.find((b) => b.name === "webgpu")!;

webgpu.test("memory plan: within 5% of what the WebGPU backend allocates", async () => {
  const be = await createWebGpuBackend() as WebGpuBackend;
  try {
    const cases = [
      { config: PRESETS["micro-4l-4k"], microBatch: 2, seqLen: 64, recompute: false },
      { config: PRESETS["micro-4l-4k"], microBatch: 4, seqLen: 128, recompute: true },
      { config: PRESETS["tiny-6l-4k"], microBatch: 2, seqLen: 64, recompute: false },
      { config: PRESETS["tiny-6l-4k"], microBatch: 3, seqLen: 32, recompute: true },
    ];
    for (const { config, microBatch, seqLen, recompute } of cases) {
      const before = be.allocatedBytes;
      const model = new Model(be, config);
      model.recompute = recompute;
      model.init(1);
      const opt = new Optimizer(be, paramSlots(model), {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0.1,
        gradClip: 1,
      });
      const n = microBatch * seqLen;
      const ids = Int32Array.from({ length: n }, (_, i) => (i * 31) % config.vocab_size);
      await model.forward(ids, ids, { batch: microBatch });
      model.backward();
      const used = be.allocatedBytes - before;
      const plan = memoryPlan(config, { microBatch, seqLen, recompute }).total;
      const what = `${config.name} b${microBatch} t${seqLen}${recompute ? " recompute" : ""}`;
      assert.ok(Math.abs(used - plan) <= 0.05 * plan, `${what}: allocated ${used} B, planned ${plan} B`);
      opt.free();
      model.destroy();
    }
  } finally {
    be.destroy();
  }
});

Deno.test("memory plan: parts, recomputation and the largest micro-batch", () => {
  const c = PRESETS["tinyllama-1.1b"];
  const plain = memoryPlan(c, { microBatch: 8, seqLen: 2048 });
  const again = memoryPlan(c, { microBatch: 8, seqLen: 2048, recompute: true });
  assert.equal(plain.parameters, 4 * 1_100_048_384);
  assert.equal(plain.moments, 2 * plain.parameters);
  assert.equal(plain.logits, 256 * 32000 * 4); // one block of the fused loss, not 16384 × 32000
  assert.ok(again.activations < plain.activations / 4);
  const parts = ["parameters", "gradients", "moments", "activations", "logits", "workspace"] as const;
  assert.equal(plain.total, parts.reduce((a, k) => a + plain[k], 0));
  for (const recompute of [false, true]) {
    const b = maxMicroBatch(c, { seqLen: 2048, memoryBytes: 80e9, recompute });
    assert.ok(memoryPlan(c, { microBatch: b, seqLen: 2048, recompute }).total <= 80e9);
    assert.ok(memoryPlan(c, { microBatch: b + 1, seqLen: 2048, recompute }).total > 80e9);
  }
  assert.equal(maxMicroBatch(c, { seqLen: 2048, memoryBytes: 1e9 }), 0);
});
