// The whole model on WebGPU through a training run: the 10-step trajectory of tests/fixtures/trainer
// (AdamW + global-norm clipping + TinyLlama's schedule) within 3e-4 of the committed PyTorch losses,
// with the global batch in one micro-batch and in two. (Loss, logits and gradients against PyTorch,
// micro-batch accumulation and the KV cache run on WebGPU with every other backend in model_test.ts.)
import assert from "node:assert/strict";
import { cosineLr, Optimizer } from "@tinyllama-ts/optim";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import type { Model } from "@tinyllama-ts/model";
import type { WebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { gpuTestRegistrar, tryWebGpu } from "../packages/backend-webgpu/_webgpu/test_gpu.ts";

const TRAJECTORY_TOL = 3e-4;

const gpu = await tryWebGpu();
const gpuTest = gpuTestRegistrar<WebGpuBackend>(gpu);

/** Loads a fixture on `be`, runs `fn`, frees the model's tensors (the device stays for the next test). */
async function withModel(be: WebGpuBackend, dir: string, fn: (m: Model) => Promise<void>): Promise<void> {
  const { model } = await loadHfCheckpoint(dir, be);
  try {
    await fn(model);
  } finally {
    model.destroy();
  }
}

const TRAJECTORY = new URL("./fixtures/trainer/", import.meta.url).pathname;
const fx = JSON.parse(await Deno.readTextFile(`${TRAJECTORY}trajectory.json`));

/** The fixture's 10 steps (zero, accumulate micro-batches, clip, AdamW at the cosine lr); the losses. */
async function trajectory(be: WebGpuBackend, micro: number): Promise<number[]> {
  const hp = fx.hparams;
  const losses: number[] = [];
  await withModel(be, `${TRAJECTORY}tiny_gqa`, async (model) => {
    const grads = model.grads;
    const opt = new Optimizer(
      be,
      model.names.map((name, i) => ({
        name,
        shape: model.shapes[i],
        param: model.params[i],
        grad: grads[i],
      })),
      { beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, weightDecay: hp.weight_decay, gradClip: hp.grad_clip },
    );
    const schedule = { lr: hp.lr, minLr: hp.min_lr, warmupSteps: hp.warmup_steps, maxSteps: hp.max_steps };
    const T = fx.seq_len, accumulation = fx.global_batch_size / micro;
    for (let step = 0; step < fx.steps; step++) {
      const rows: number[][] = fx.batches[step];
      model.zeroGrad();
      let loss = 0;
      for (let a = 0; a < accumulation; a++) {
        const chunk = rows.slice(a * micro, (a + 1) * micro);
        const inputs = Int32Array.from(chunk.flatMap((r) => r.slice(0, T)));
        const targets = Int32Array.from(chunk.flatMap((r) => r.slice(1)));
        const r = await model.forward(inputs, targets, { batch: micro, lossScale: 1 / accumulation });
        model.backward();
        loss += r.loss! / accumulation;
      }
      const { applied } = await opt.update(cosineLr(step, schedule));
      assert.ok(applied);
      losses.push(loss);
    }
    opt.free();
  });
  return losses;
}

for (
  const [caseName, c] of Object.entries(fx.cases) as [
    string,
    { micro_batch_size: number; losses: number[] },
  ][]
) {
  gpuTest(`model webgpu: 10 training steps follow PyTorch's losses within 3e-4 (${caseName})`, async (be) => {
    const losses = await trajectory(be, c.micro_batch_size);
    const maxDiff = Math.max(...losses.map((l, i) => Math.abs(l - c.losses[i])));
    console.log(`  ${caseName}: max |loss − torch| ${maxDiff.toExponential(2)} over ${losses.length} steps`);
    assert.ok(maxDiff <= TRAJECTORY_TOL, `losses ${losses} vs ${c.losses}`);
    assert.ok(losses[9] < losses[0] - 0.5, `the run did not move: ${losses}`);
  });
}
