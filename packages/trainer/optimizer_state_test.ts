// optimizer.safetensors: AdamW's moments and step written by the checkpoint and read back.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { type AdamWConfig, Optimizer, type ParamSlot } from "@tinyllama-ts/optim";
import { loadOptimizerState, saveOptimizerState } from "./optimizer_state.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/trainer/adamw.json", import.meta.url)),
);
const SHAPES = [[5], [3, 4], [7]];
const HP = fixture.hparams;
const CONFIG: AdamWConfig = {
  beta1: HP.beta1,
  beta2: HP.beta2,
  eps: HP.eps,
  weightDecay: HP.weight_decay,
  gradClip: HP.grad_clip,
};

const BACKENDS: { name: string; make: () => Promise<Backend> }[] = [
  { name: "reference", make: () => Promise.resolve(new ReferenceBackend()) },
  { name: "wasm", make: () => createBackend("wasm") },
];

function slotsOn(
  be: Backend,
  names = ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "norm.weight"],
) {
  return SHAPES.map((shape, i): ParamSlot => {
    const n = shape.reduce((a, b) => a * b, 1);
    const param = be.alloc(n), grad = be.alloc(n);
    be.write(param, Float32Array.from(fixture.init[i]));
    return { name: names[i], shape, param, grad };
  });
}

async function readAll(be: Backend, ts: ParamSlot[]): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const s of ts) out.push(Float64Array.from(await be.read(s.param)));
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= d)) d = e;
  }
  return d;
}

async function assertUserError(p: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(
    p,
    (e: unknown) => isUserError(e) && pattern.test((e as Error).message) && !/\n/.test((e as Error).message),
  );
}

for (const { name, make } of BACKENDS) {
  Deno.test(`optimizer state on ${name}: saved after 2 steps and loaded continues like 4 steps`, async () => {
    const dir = await Deno.makeTempDir();
    const run = async (split: boolean) => {
      const be = await make();
      const slots = slotsOn(be);
      let opt = new Optimizer(be, slots, CONFIG);
      for (let s = 0; s < 4; s++) {
        if (split && s === 2) {
          await saveOptimizerState(opt, `${dir}/state.safetensors`);
          opt.free();
          opt = new Optimizer(be, slots, CONFIG);
          await loadOptimizerState(opt, `${dir}/state.safetensors`);
          assert.equal(opt.stepCount, 2);
        }
        slots.forEach((slot, i) => be.write(slot.grad, Float32Array.from(fixture.grads[s][i])));
        await opt.update(fixture.lrs[s]);
      }
      return await readAll(be, slots);
    };
    const straight = await run(false), resumed = await run(true);
    for (let t = 0; t < 3; t++) {
      // Moments are stored in float32: exact on float32 backends, float32 rounding on the f64 reference.
      const tol = name === "reference" ? 1e-6 : 0;
      assert.ok(maxAbsDiff(resumed[t], straight[t]) <= tol, `tensor ${t}`);
    }
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("loadOptimizerState rejects truncated, foreign, mismatched and missing files in one line", async () => {
  const dir = await Deno.makeTempDir();
  const be = new ReferenceBackend();
  const opt = new Optimizer(be, slotsOn(be), CONFIG);
  await saveOptimizerState(opt, `${dir}/ok.safetensors`);
  const bytes = await Deno.readFile(`${dir}/ok.safetensors`);
  await Deno.writeFile(`${dir}/trunc.safetensors`, bytes.subarray(0, bytes.length - 10));
  await assertUserError(loadOptimizerState(opt, `${dir}/trunc.safetensors`), /trunc\.safetensors: truncated/);
  await Deno.writeFile(`${dir}/tiny.safetensors`, bytes.subarray(0, 5));
  await assertUserError(
    loadOptimizerState(opt, `${dir}/tiny.safetensors`),
    /tiny\.safetensors: not a safetensors file/,
  );
  await assertUserError(loadOptimizerState(opt, `${dir}/none.safetensors`), /not found/);
  const hf = new URL("../../tests/fixtures/trainer/tiny_gqa/model.safetensors", import.meta.url).pathname;
  await assertUserError(loadOptimizerState(opt, hf), /not an optimizer state/);
  // The same names with another shape.
  const other = new Optimizer(be, [{ ...slotsOn(be)[0], shape: [5, 1] }, ...slotsOn(be).slice(1)], CONFIG);
  await assertUserError(
    loadOptimizerState(other, `${dir}/ok.safetensors`),
    /has shape \[5\], the model needs \[5,1\]/,
  );
  const fewer = new Optimizer(be, slotsOn(be).slice(0, 2), CONFIG);
  await assertUserError(
    loadOptimizerState(fewer, `${dir}/ok.safetensors`),
    /unexpected tensor "m.norm.weight"/,
  );
  const renamed = new Optimizer(be, slotsOn(be, ["a", "b", "c"]), CONFIG);
  await assertUserError(loadOptimizerState(renamed, `${dir}/ok.safetensors`), /missing tensor "m.a"/);
  await Deno.remove(dir, { recursive: true });
});
