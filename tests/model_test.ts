// The model against PyTorch/transformers (fixtures of tests/fixtures/model/make_fixtures.py): loss,
// logits and every parameter gradient of random tiny GQA Llamas, on every backend; then properties
// that need no reference (gradient accumulation, the inference path, the KV cache, initialisation).
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { loadHfCheckpoint, openSafetensors } from "@tinyllama-ts/checkpoint";
import { Model, paramSpecs, PRESETS } from "@tinyllama-ts/model";
import { BACKENDS, expected, FIXTURES, relError } from "./_harness.ts";

const LOSS_TOL = 1e-4;
const GRAD_TOL = 1e-4;

for (const backend of BACKENDS) {
  for (const name of ["gqa_a", "gqa_b"]) {
    backend.test(`model ${backend.name}: ${name} loss, logits and every gradient match PyTorch`, async () => {
      const exp = await expected(name);
      const { model } = await loadHfCheckpoint(`${FIXTURES}${name}`, await backend.create());
      const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
      const r = await model.forward(ids, targets, { batch: 2, logits: true });
      assert.equal(r.tokens, 29); // 32 positions, 3 ignored
      assert.ok(Math.abs(r.loss! - exp.loss) < LOSS_TOL, `loss ${r.loss} vs ${exp.loss}`);
      model.backward();
      const ref = await openSafetensors(`${FIXTURES}${name}/grads.safetensors`);
      try {
        assert.ok(relError(r.logits!, await ref.read("logits")) < 1e-5);
        assert.deepEqual(ref.names().filter((n) => n !== "logits").sort(), [...model.names].sort());
        for (let i = 0; i < model.names.length; i++) {
          const err = relError(await model.readGrad(i), await ref.read(model.names[i]));
          assert.ok(err < GRAD_TOL, `${model.names[i]}: gradient error ${err}`);
        }
      } finally {
        ref.close();
        model.backend.destroy();
      }
    });
  }

  backend.test(`model ${backend.name}: mqa_tied (one KV head, tied head) loss matches PyTorch`, async () => {
    const exp = await expected("mqa_tied");
    const { model } = await loadHfCheckpoint(`${FIXTURES}mqa_tied`, await backend.create());
    const r = await model.forward(new Int32Array(exp.input_ids.flat()), new Int32Array(exp.targets.flat()), {
      batch: 2,
    });
    assert.ok(Math.abs(r.loss! - exp.loss) < LOSS_TOL, `loss ${r.loss} vs ${exp.loss}`);
    model.backend.destroy();
  });

  backend.test(`model ${backend.name}: micro-batches with lossScale accumulate to PyTorch's gradient`, async () => {
    const exp = await expected("gqa_b");
    const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_b`, await backend.create());
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    // Dirty the gradients first: zeroGrad must clear them.
    await model.forward(ids, targets, { batch: 2 });
    model.backward();
    model.zeroGrad();
    for (const g of model.grads) assert.ok((await model.backend.read(g)).every((x) => x === 0));
    // Each row is a micro-batch whose loss is its own mean; scaled by its share of the 29 targets,
    // the accumulated gradients are those of the full batch's mean.
    const counts = exp.targets.map((row) => row.filter((t) => t >= 0).length);
    const total = counts[0] + counts[1], T = exp.input_ids[0].length;
    let weighted = 0;
    for (let r = 0; r < 2; r++) {
      const rows = (a: Int32Array) => a.slice(r * T, (r + 1) * T);
      const out = await model.forward(rows(ids), rows(targets), { lossScale: counts[r] / total });
      assert.equal(out.tokens, counts[r]);
      weighted += out.loss! * counts[r] / total;
      model.backward();
    }
    assert.ok(Math.abs(weighted - exp.loss) < LOSS_TOL);
    const ref = await openSafetensors(`${FIXTURES}gqa_b/grads.safetensors`);
    try {
      for (let i = 0; i < model.names.length; i++) {
        const err = relError(await model.readGrad(i), await ref.read(model.names[i]));
        assert.ok(err < GRAD_TOL, `${model.names[i]}: gradient error ${err}`);
      }
    } finally {
      ref.close();
      model.backend.destroy();
    }
  });

  backend.test(`model ${backend.name}: inference path, KV cache and batch rows agree with the training path`, async () => {
    const exp = await expected("gqa_a");
    const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_a`, await backend.create());
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    const V = model.config.vocab_size, T = 16;
    const train = await model.forward(ids, targets, { batch: 2, logits: true });
    const infer = await model.forward(ids, targets, { batch: 2, logits: true, grad: false });
    assert.ok(Math.abs(train.loss! - infer.loss!) < 1e-6);
    assert.ok(relError(infer.logits!, train.logits!) < 1e-6);
    assert.throws(() => model.backward(), /needs a forward/);
    // Prefill 5 positions of both rows, then one position at a time: each step's logits are the full
    // forward's logits at that position.
    const cache = model.createCache(2, T);
    const rowSlice = (from: number, to: number) =>
      Int32Array.from([...ids.slice(from, to), ...ids.slice(T + from, T + to)]);
    let got = await model.forwardCached(rowSlice(0, 5), cache);
    for (let pos = 4; pos < T; pos++) {
      for (let r = 0; r < 2; r++) {
        const want = train.logits!.subarray((r * T + pos) * V, (r * T + pos + 1) * V);
        assert.ok(relError(got.subarray(r * V, (r + 1) * V), want) < 1e-5, `row ${r} position ${pos}`);
      }
      if (pos + 1 < T) got = await model.forwardCached(rowSlice(pos + 1, pos + 2), cache);
    }
    assert.equal(cache.length, T);
    await assert.rejects(() => model.forwardCached(rowSlice(0, 1), cache), /KV cache holds 16 positions/);
    model.freeCache(cache);
    model.backend.destroy();
  });
}

Deno.test("model: init is seeded, HF's std 0.02 or TinyLlama's scheme, norms at one", () => {
  const config = { ...PRESETS["micro-4l-4k"], n_layer: 2 };
  const be = new ReferenceBackend();
  const stats = (m: Model, i: number) => {
    const x = be.f64(m.params[i]);
    let s = 0, s2 = 0;
    for (const v of x) s += v, s2 += v * v;
    return { mean: s / x.length, std: Math.sqrt(s2 / x.length - (s / x.length) ** 2), first: x[0] };
  };
  const a = new Model(be, config), b = new Model(be, config), c = new Model(be, config);
  a.init(7);
  b.init(7);
  c.init(8);
  for (let i = 0; i < a.names.length; i++) {
    assert.deepEqual(be.f64(a.params[i]), be.f64(b.params[i]), a.names[i]);
    const st = stats(a, i);
    if (a.names[i].endsWith("norm.weight")) {
      assert.ok(be.f64(a.params[i]).every((v) => v === 1));
    } else {
      assert.notEqual(st.first, stats(c, i).first);
      assert.ok(Math.abs(st.std - 0.02) < 0.02 * 0.05, `${a.names[i]} std ${st.std}`);
      assert.ok(Math.abs(st.mean) < 0.02 * 0.05);
    }
  }
  const t = new Model(be, config);
  t.init(7, "tinyllama");
  const C = config.n_embd;
  for (let i = 0; i < t.names.length; i++) {
    if (t.names[i].endsWith("norm.weight")) continue;
    const residual = /(o_proj|down_proj)\.weight$/.test(t.names[i]);
    const want = residual ? 1 / Math.sqrt(C) / config.n_layer : Math.sqrt(2 / 5 / C);
    assert.ok(Math.abs(stats(t, i).std - want) < want * 0.05, `${t.names[i]}: ${stats(t, i).std} vs ${want}`);
  }
});

Deno.test("model: parameter layout is Hugging Face's names and shapes", () => {
  const specs = paramSpecs(PRESETS["tinyllama-1.1b"]);
  assert.equal(specs.length, 2 + 22 * 9 + 1);
  const total = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  assert.equal(total, 1_100_048_384); // TinyLlama-1.1B's published parameter count
  assert.deepEqual(specs.find((s) => s.name === "model.layers.21.self_attn.k_proj.weight")?.shape, [
    256,
    2048,
  ]);
  assert.deepEqual(specs.find((s) => s.name === "model.layers.0.mlp.down_proj.weight")?.shape, [2048, 5632]);
});

Deno.test("model: bad inputs are one-line user errors", async () => {
  const be = new ReferenceBackend();
  const model = new Model(be, { ...PRESETS["micro-4l-4k"], n_layer: 1, block_size: 8 });
  const err = (re: RegExp) => (e: unknown) => isUserError(e) && re.test((e as Error).message);
  await assert.rejects(
    () => model.forward(new Int32Array([1, 4096]), null),
    err(/input id 4096 at position 1/),
  );
  await assert.rejects(
    () => model.forward(new Int32Array(9), null),
    err(/sequence length 9 exceeds block_size 8/),
  );
  await assert.rejects(
    () => model.forward(new Int32Array(3), null, { batch: 2 }),
    err(/do not split into 2 rows/),
  );
  await assert.rejects(
    () => model.forward(new Int32Array(2), new Int32Array([0, 5000])),
    err(/target id 5000 at position 1/),
  );
  const r = await model.forward(new Int32Array(2), new Int32Array([-1, -100]));
  assert.ok(Number.isNaN(r.loss) && r.tokens === 0);
  assert.throws(() => model.createCache(1, 9), err(/exceed the model's block_size 8/));
});
