// The optimizer step against PyTorch: from the same random tiny Llama (GQA 4/2) and the same batches, 10
// steps of our AdamW + global-norm clipping + TinyLlama's schedule give the per-step losses that
// torch.optim.AdamW + clip_grad_norm_ gave (tests/fixtures/trainer/make_trajectory.py), with the global
// batch in one micro-batch and in two.
import assert from "node:assert/strict";
import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { cosineLr, Optimizer } from "@tinyllama-ts/optim";
import { optimizerStep } from "./step.ts";

const FIXTURES = new URL("../../tests/fixtures/trainer/", import.meta.url).pathname;
const fx = JSON.parse(await Deno.readTextFile(`${FIXTURES}/trajectory.json`));
const HP = fx.hparams;

/** Runs the fixture's 10 steps; returns per-step losses and gradient norms. */
async function trajectory(be: Backend, micro: number) {
  const { model } = await loadHfCheckpoint(`${FIXTURES}/tiny_gqa`, be);
  const grads = model.grads;
  const opt = new Optimizer(
    be,
    model.names.map((name, i) => ({ name, shape: model.shapes[i], param: model.params[i], grad: grads[i] })),
    { beta1: HP.beta1, beta2: HP.beta2, eps: HP.eps, weightDecay: HP.weight_decay, gradClip: HP.grad_clip },
  );
  const schedule = { lr: HP.lr, minLr: HP.min_lr, warmupSteps: HP.warmup_steps, maxSteps: HP.max_steps };
  const T = fx.seq_len, accum = fx.global_batch_size / micro;
  const losses: number[] = [], norms: number[] = [];
  for (let step = 0; step < fx.steps; step++) {
    const rows: number[][] = fx.batches[step];
    let next = 0;
    const nextBatch = () => {
      const chunk = rows.slice(next, next += micro);
      return {
        inputs: Int32Array.from(chunk.flatMap((r) => r.slice(0, T))),
        targets: Int32Array.from(chunk.flatMap((r) => r.slice(1))),
        batchSize: micro,
        seqLen: T,
      };
    };
    const r = await optimizerStep(model, opt, nextBatch, accum, cosineLr(step, schedule));
    assert.equal(r.applied, true);
    assert.equal(next, fx.global_batch_size, "every row of the global batch is used once");
    losses.push(r.loss);
    norms.push(r.gradNorm);
  }
  opt.free();
  model.destroy();
  return { losses, norms };
}

const wasmProbe = await createBackend("wasm");
wasmProbe.destroy();
const BACKENDS: [string, () => Backend][] = [
  ["reference", () => new ReferenceBackend()],
  ["wasm", () => new (wasmProbe.constructor as new () => Backend)()],
];

for (const [name, make] of BACKENDS) {
  for (const [caseName, c] of Object.entries(fx.cases) as [string, Record<string, number[] | number>][]) {
    Deno.test(`10 optimizer steps on ${name} follow torch.optim.AdamW + clip_grad_norm_ (${caseName})`, async () => {
      const be = make();
      const { losses, norms } = await trajectory(be, c.micro_batch_size as number);
      be.destroy();
      const want = c.losses as number[], wantNorms = c.grad_norms as number[];
      const diffs = losses.map((l, i) => Math.abs(l - want[i]));
      const maxDiff = Math.max(...diffs);
      console.log(
        `${name} ${caseName}: max |loss - torch| ${maxDiff.toExponential(2)}, step-0 norm ${norms[0]} vs ${
          wantNorms[0]
        }`,
      );
      assert.ok(maxDiff <= 3e-4, `losses ${losses} vs ${want}`);
      assert.ok(
        Math.abs(norms[0] - wantNorms[0]) <= 1e-3 * wantNorms[0],
        `step-0 norm ${norms[0]} vs ${wantNorms[0]}`,
      );
      if (name === "reference") {
        // float64 end to end, except that per-position losses are read back as float32: the float64
        // PyTorch run to that rounding.
        const d64 = Math.max(...losses.map((l, i) => Math.abs(l - (c.losses_float64 as number[])[i])));
        console.log(`reference ${caseName}: max |loss - torch float64| ${d64.toExponential(2)}`);
        assert.ok(d64 <= 1e-7, `float64 losses differ by ${d64}`);
      }
      // The run moved: the final loss is well below the first (so the comparison is not of a frozen model).
      assert.ok(losses[9] < losses[0] - 0.5, `losses ${losses}`);
    });
  }
}
