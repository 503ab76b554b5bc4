import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { type AdamWConfig, Optimizer, type ParamSlot } from "./optimizer.ts";
import { adamwReference, clipGradNormReference } from "./reference.ts";

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

/** The reference backend (float64, exact) and the WASM backend (float32). */
const BACKENDS: { name: string; make: () => Backend; exact: boolean }[] = [
  { name: "reference", make: () => new ReferenceBackend(), exact: true },
];
const wasm = await createBackend("wasm");
wasm.destroy();
BACKENDS.push({ name: "wasm", make: () => new (wasm.constructor as new () => Backend)(), exact: false });

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

for (const { name, make, exact } of BACKENDS) {
  for (const [caseName, c] of Object.entries(fixture.cases) as [string, { weight_decay_mask: boolean[] }][]) {
    Deno.test(`Optimizer on ${name}: clip + AdamW equal the float64 reference (${caseName})`, async () => {
      const be = make();
      // Names chosen so that "exclude norms and embeddings" exempts exactly what the fixture's mask does.
      const names = caseName === "decay_mask"
        ? ["model.layers.0.mlp.up_proj.weight", "model.embed_tokens.weight", "lm_head.weight"]
        : undefined;
      const slots = slotsOn(be, names);
      const decayAll = caseName === "decay_all";
      const opt = new Optimizer(be, slots, { ...CONFIG, decayNormsAndEmbeddings: decayAll });
      assert.deepEqual(opt.weightDecayMask, c.weight_decay_mask);
      // The reference starts from the same float32-rounded values the backend holds.
      const params = fixture.init.map((p: number[]) => Float64Array.from(Float32Array.from(p)));
      const m = params.map((p: Float64Array) => new Float64Array(p.length));
      const v = params.map((p: Float64Array) => new Float64Array(p.length));
      for (let s = 0; s < 4; s++) {
        const grads = fixture.grads[s].map((g: number[]) => Float64Array.from(Float32Array.from(g)));
        slots.forEach((slot, i) => be.write(slot.grad, Float32Array.from(grads[i])));
        const expectedNorm = clipGradNormReference(grads, CONFIG.gradClip);
        adamwReference(params, grads, m, v, {
          lr: fixture.lrs[s],
          ...CONFIG,
          step: s + 1,
        }, c.weight_decay_mask);
        const r = await opt.update(fixture.lrs[s]);
        assert.equal(r.applied, true);
        assert.ok(
          Math.abs(r.gradNorm - expectedNorm) <= 1e-6 * expectedNorm,
          `step ${s}: norm ${r.gradNorm}`,
        );
        assert.equal(opt.stepCount, s + 1);
        const got = exact && be instanceof ReferenceBackend
          ? slots.map((slot) => Float64Array.from(be.f64(slot.param)))
          : await readAll(be, slots);
        for (let t = 0; t < 3; t++) {
          const tol = exact ? 1e-12 : 2e-6;
          assert.ok(
            maxAbsDiff(got[t], params[t]) <= tol,
            `step ${s} tensor ${t}: ${maxAbsDiff(got[t], params[t])}`,
          );
        }
      }
      opt.free();
      be.destroy();
    });
  }

  Deno.test(`Optimizer on ${name}: a non-finite gradient norm changes nothing`, async () => {
    for (const bad of [NaN, Infinity]) {
      const be = make();
      const slots = slotsOn(be);
      const opt = new Optimizer(be, slots, CONFIG);
      const before = await readAll(be, slots);
      const g = new Float32Array(12).fill(0.5);
      g[7] = bad;
      be.write(slots[1].grad, g);
      const r = await opt.update(0.1);
      assert.equal(r.applied, false);
      assert.ok(!Number.isFinite(r.gradNorm));
      assert.equal(opt.stepCount, 0);
      assert.deepEqual(await readAll(be, slots), before);
      be.destroy();
    }
  });
}

async function assertUserError(p: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(
    p,
    (e: unknown) => isUserError(e) && pattern.test((e as Error).message) && !/\n/.test((e as Error).message),
  );
}

Deno.test("Optimizer rejects bad hyper-parameters and learning rates in one line", async () => {
  const be = new ReferenceBackend();
  for (
    const [bad, pattern] of [
      [{ beta1: 1 }, /beta1/],
      [{ beta2: -0.1 }, /beta2/],
      [{ eps: 0 }, /eps/],
      [{ weightDecay: -1 }, /weight decay/],
      [{ gradClip: NaN }, /grad clip/],
    ] as const
  ) {
    assert.throws(
      () => new Optimizer(be, slotsOn(be), { ...CONFIG, ...bad }),
      (e) => isUserError(e) && pattern.test((e as Error).message),
    );
  }
  const opt = new Optimizer(be, slotsOn(be), CONFIG);
  await assertUserError(opt.update(-1e-3), /learning rate must be ≥ 0, got -0.001/);
});
