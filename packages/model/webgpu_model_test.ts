// The whole model on WebGPU against PyTorch: loss, logits and every gradient of the tiny HF fixtures,
// micro-batch accumulation, the KV-cache inference path, and the 10-step training trajectory of
// tests/fixtures/trainer (AdamW + global-norm clipping + TinyLlama's schedule) within 3e-4 of the
// committed PyTorch losses, with the global batch in one micro-batch and in two.
import assert from "node:assert/strict";
import { cosineLr, Optimizer } from "@tinyllama-ts/optim";
import { loadHfCheckpoint } from "./hf.ts";
import type { Model } from "./model.ts";
import type { WebGpuBackend } from "./webgpu_backend.ts";
import { expected, FIXTURES, maxRelError } from "./_model_testing.ts";
import { openSafetensors } from "./safetensors.ts";
import { gpuTestRegistrar, tryWebGpu } from "./_webgpu/test_gpu.ts";

const LOSS_TOL = 1e-4;
const GRAD_TOL = 1e-4;
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

for (const name of ["gqa_a", "gqa_b"]) {
  gpuTest(`model webgpu: ${name} loss, logits and every gradient match PyTorch`, async (be) => {
    const exp = await expected(name);
    await withModel(be, `${FIXTURES}${name}`, async (model) => {
      const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
      const r = await model.forward(ids, targets, { batch: 2, logits: true });
      assert.equal(r.tokens, 29);
      assert.ok(Math.abs(r.loss! - exp.loss) < LOSS_TOL, `loss ${r.loss} vs ${exp.loss}`);
      model.backward();
      const ref = await openSafetensors(`${FIXTURES}${name}/grads.safetensors`);
      try {
        const logitsErr = maxRelError(r.logits!, await ref.read("logits"));
        assert.ok(logitsErr < 1e-5, `logits error ${logitsErr}`);
        let worst = 0;
        for (let i = 0; i < model.names.length; i++) {
          const err = maxRelError(await model.readGrad(i), await ref.read(model.names[i]));
          worst = Math.max(worst, err);
          assert.ok(err < GRAD_TOL, `${model.names[i]}: gradient error ${err}`);
        }
        console.log(
          `  ${name}: |loss − torch| ${Math.abs(r.loss! - exp.loss).toExponential(1)}, logits ${
            logitsErr.toExponential(1)
          }, worst gradient ${worst.toExponential(1)}`,
        );
      } finally {
        ref.close();
      }
    });
  });
}

gpuTest("model webgpu: micro-batches with lossScale accumulate to PyTorch's gradient", async (be) => {
  const exp = await expected("gqa_b");
  await withModel(be, `${FIXTURES}gqa_b`, async (model) => {
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    await model.forward(ids, targets, { batch: 2 });
    model.backward();
    model.zeroGrad();
    for (const g of model.grads) assert.ok((await be.read(g)).every((x) => x === 0));
    const counts = exp.targets.map((row) => row.filter((t) => t >= 0).length);
    const total = counts[0] + counts[1], T = exp.input_ids[0].length;
    for (let r = 0; r < 2; r++) {
      const rows = (a: Int32Array) => a.slice(r * T, (r + 1) * T);
      await model.forward(rows(ids), rows(targets), { lossScale: counts[r] / total });
      model.backward();
    }
    const ref = await openSafetensors(`${FIXTURES}gqa_b/grads.safetensors`);
    try {
      for (let i = 0; i < model.names.length; i++) {
        const err = maxRelError(await model.readGrad(i), await ref.read(model.names[i]));
        assert.ok(err < GRAD_TOL, `${model.names[i]}: gradient error ${err}`);
      }
    } finally {
      ref.close();
    }
  });
});

gpuTest("model webgpu: KV-cache decoding gives the training path's logits", async (be) => {
  const exp = await expected("gqa_a");
  await withModel(be, `${FIXTURES}gqa_a`, async (model) => {
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    const V = model.config.vocab_size, T = 16;
    const train = await model.forward(ids, targets, { batch: 2, logits: true, grad: false });
    const cache = model.createCache(2, T);
    const rowSlice = (from: number, to: number) =>
      Int32Array.from([...ids.slice(from, to), ...ids.slice(T + from, T + to)]);
    let got = await model.forwardCached(rowSlice(0, 5), cache);
    for (let pos = 4; pos < T; pos++) {
      for (let r = 0; r < 2; r++) {
        const want = train.logits!.subarray((r * T + pos) * V, (r * T + pos + 1) * V);
        assert.ok(maxRelError(got.subarray(r * V, (r + 1) * V), want) < 1e-5, `row ${r} position ${pos}`);
      }
      if (pos + 1 < T) got = await model.forwardCached(rowSlice(pos + 1, pos + 2), cache);
    }
    model.freeCache(cache);
  });
});

const TRAJECTORY = new URL("../../tests/fixtures/trainer/", import.meta.url).pathname;
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
